"""Files shipped inside the package (digitdnn/assets/): the default model, its sidecar and the pen digits.

Found with importlib.resources, so the same code finds them in a source checkout and in an installed wheel.
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path


def bundled_path(*parts: str) -> Path:
    """digitdnn/assets/<parts> as a file-system path."""
    return package_path("assets", *parts)


def package_path(*parts: str) -> Path:
    """digitdnn/<parts> as a file-system path (the package must be installed as files, not zipped)."""
    found = resources.files("digitdnn").joinpath(*parts)
    if not isinstance(found, os.PathLike):
        raise RuntimeError(f"digitdnn is installed where its files have no path ({found}); reinstall it unzipped")
    return Path(os.fspath(found))

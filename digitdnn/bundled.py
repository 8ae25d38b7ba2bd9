"""Files shipped inside the package (digitdnn/assets/): the default model, its sidecar and the pen digits.

Found with importlib.resources, so the same code finds them in a source checkout and in an installed wheel.
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path


def bundled_path(*parts: str) -> Path:
    """digitdnn/assets/<parts> as a file-system path (the package is installed as files, not zipped)."""
    return Path(os.fspath(resources.files("digitdnn").joinpath("assets", *parts)))

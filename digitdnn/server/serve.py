"""`digitdnn serve`: run the page (digitdnn/ui/page.py) with `streamlit run`, from a source checkout or an install.

The server settings of the checkout's .streamlit/config.toml are passed as flags, so an installed package,
started from any folder, serves the page the same way (tests/test_serve.py checks that the two agree).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from digitdnn.data.bundled import package_path

DEFAULT_PORT = 8501
# The settings for serving a class (see .streamlit/config.toml for why each is chosen).
SERVER_SETTINGS = {
    "browser.gatherUsageStats": False,
    "server.enableXsrfProtection": True,
    "server.fileWatcherType": "none",
    "server.maxUploadSize": 64,
    "runner.postScriptGC": False,
    "client.showErrorDetails": "none",
    "client.toolbarMode": "minimal",
}


def page_path() -> Path:
    """The page's script inside the package."""
    return package_path("ui", "page.py")


def streamlit_command(port: int = DEFAULT_PORT, address: str | None = None) -> list[str]:
    """The `python -m streamlit run` command line that serves the page on `port` (and `address`, if given)."""
    command = [sys.executable, "-m", "streamlit", "run", str(page_path()), "--server.headless", "true",
               "--server.port", str(port)]
    if address:
        command += ["--server.address", address]
    for name, value in SERVER_SETTINGS.items():
        command += [f"--{name}", str(value).lower() if isinstance(value, bool) else str(value)]
    return command


def serve(port: int = DEFAULT_PORT, address: str | None = None) -> int:
    """Serve the page until stopped; returns Streamlit's exit status.

    On POSIX this process becomes the Streamlit server (exec), so a signal sent to it (Ctrl-C, a service
    manager's SIGTERM) reaches the server itself and no orphan is left.
    """
    command = streamlit_command(port, address)
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execv(command[0], command)
    return subprocess.call(command)

"""`digitdnn serve`: run the page (digitdnn/ui/page.py) with `streamlit run`, from a source checkout or an install.

The server settings of the checkout's .streamlit/config.toml are passed as flags, so an installed package,
started from any folder, serves the page the same way (tests/test_serve.py checks that the two agree).
It listens on this machine's loopback address (127.0.0.1) unless told another: serving a class is the explicit
choice of `--address 0.0.0.0` (every address of the machine, as `make serve` does).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from digitdnn.data.bundled import package_path

DEFAULT_PORT = 8501
DEFAULT_ADDRESS = "127.0.0.1"  # this machine only
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


def streamlit_command(port: int = DEFAULT_PORT, address: str = DEFAULT_ADDRESS) -> list[str]:
    """The `python -m streamlit run` command line that serves the page on `port` at `address`."""
    command = [sys.executable, "-m", "streamlit", "run", str(page_path()), "--server.headless", "true",
               "--server.port", str(port), "--server.address", address]
    for name, value in SERVER_SETTINGS.items():
        command += [f"--{name}", str(value).lower() if isinstance(value, bool) else str(value)]
    return command


def serve(port: int = DEFAULT_PORT, address: str = DEFAULT_ADDRESS) -> int:
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

"""`digitdnn serve`: the command line it runs, and that it serves with the checkout's .streamlit/config.toml settings.

The installed package really serving the page is tests/test_install.py.
"""
import tomllib

import pytest

from digitdnn.cli import build_parser
from digitdnn.server import serve
from testkit import ROOT


def test_serve_passes_the_same_settings_as_the_checkouts_streamlit_config():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    flattened = {f"{section}.{name}": value for section, values in config.items() for name, value in values.items()}
    assert flattened == serve.SERVER_SETTINGS


def test_serve_runs_the_packaged_page_with_every_setting_as_a_flag():
    command = serve.streamlit_command(port=8600, address="127.0.0.1")
    page = serve.page_path()
    assert page.is_file() and page.parent == ROOT / "digitdnn" / "ui"
    assert command[1:5] == ["-m", "streamlit", "run", str(page)]
    flags = dict(zip(command[5::2], command[6::2], strict=True))
    assert flags["--server.port"] == "8600" and flags["--server.address"] == "127.0.0.1"
    assert flags["--server.headless"] == "true" and flags["--server.enableXsrfProtection"] == "true"
    assert flags["--client.showErrorDetails"] == "none" and flags["--server.maxUploadSize"] == "64"
    assert "--server.address" not in serve.streamlit_command(port=8600)


@pytest.mark.parametrize("port", ["0", "65536", "http"])
def test_serve_refuses_a_port_out_of_range(port, capsys):
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["serve", "--port", port])
    assert stop.value.code == 2 and "--port" in capsys.readouterr().err


def test_serve_defaults_to_port_8501_on_every_address():
    args = build_parser().parse_args(["serve"])
    assert (args.port, args.address) == (8501, None)

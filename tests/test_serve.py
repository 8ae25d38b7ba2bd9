"""`digitdnn serve`: the command line it runs, that it serves with the checkout's .streamlit/config.toml settings,
and that those settings are safe for a class and known to Streamlit.

The installed package really serving the page is tests/test_install.py.
"""
import tomllib

import pytest

from digitdnn.cli import build_parser
from digitdnn.server import serve
from digitdnn.storage import models as store
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


@pytest.mark.parametrize("port", ["0", "65536", "http"])
def test_serve_refuses_a_port_out_of_range(port, capsys):
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["serve", "--port", port])
    assert stop.value.code == 2 and "--port" in capsys.readouterr().err


def test_serve_listens_on_this_machine_only_unless_told_to_serve_a_class(monkeypatch):
    commands = []
    monkeypatch.setattr(serve.os, "execv", lambda path, command: commands.append(command))
    monkeypatch.setattr(serve.subprocess, "call", lambda command: commands.append(command) or 0)
    for argv, address in ((["serve"], "127.0.0.1"), (["serve", "--address", "0.0.0.0"], "0.0.0.0")):
        commands.clear()
        args = build_parser().parse_args(argv)
        assert args.port == 8501 and args.run(args) == 0
        flags = [dict(zip(command[5::2], command[6::2], strict=True)) for command in commands]
        assert flags and all(f["--server.address"] == address for f in flags), (argv, commands)


def test_streamlit_config_is_safe_for_a_class():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"]["maxUploadSize"] * 2**20 == store.MAX_UPLOAD_BYTES
    assert config["client"]["showErrorDetails"] == "none"  # no message, type or traceback for visitors
    assert config["browser"]["gatherUsageStats"] is False


def test_streamlit_accepts_the_config_values():
    from streamlit import config as st_config

    allowed = {option.value for option in st_config.ShowErrorDetailsConfigOptions}
    assert "none" in allowed
    for key in ("server.enableXsrfProtection", "server.maxUploadSize", "client.showErrorDetails",
                "browser.gatherUsageStats"):
        assert key in st_config._config_options_template, key

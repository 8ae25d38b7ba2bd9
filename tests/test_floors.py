"""The dependency floors in pyproject.toml really work: the page and `digitdnn evaluate` with the lowest allowed
Streamlit and Keras.

A fresh virtual environment reuses this one's packages (tests/venvs.py) and pip installs exactly the floor versions
of Streamlit and Keras into it from the package index (a few MB; nothing when the floor is what is installed here).
There the page renders, opens a tab that is made only when open (st.tabs with on_change), and the default model is
loaded and scored. The whole suite was also run at these floors by hand (docs/development.md, "Dependency floors").
"""
import re
import tomllib

import pytest
from packaging.version import Version
from venvs import clean_environment, fresh_environment, run

from testkit import ROOT

PAGE_SMOKE = """
import sys
import keras, streamlit
from streamlit.testing.v1 import AppTest

at = AppTest.from_file(sys.argv[1], default_timeout=120).run()
assert not at.exception, at.exception
assert any("Draw a digit" in t.value for t in at.title), "no prediction panel"
at.session_state["tab"] = "Mistakes"
at.run()
assert not at.exception, at.exception
assert any("params" in chart.proto.spec for chart in at.get("vega_lite_chart")), "no confusion matrix"
print(streamlit.__version__, keras.__version__)
"""


def floor(package: str) -> str:
    """The lowest version pyproject.toml allows for `package`."""
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (version,) = [m.group(1) for d in dependencies if (m := re.fullmatch(rf"{package}>=([\d.]+),.*", d))]
    return version


@pytest.fixture(scope="module")
def at_the_floors(tmp_path_factory):
    """(bin folder, environment running the checkout) of a fresh environment with the floor Streamlit and Keras."""
    folder = tmp_path_factory.mktemp("floors")
    env = clean_environment(PYTHONPATH=str(ROOT), DIGITDNN_DATA_LIMIT="2000,500",
                            DIGITDNN_MODELS_DIR=str(folder / "models"))
    bin_dir = fresh_environment(folder)
    run([bin_dir / "python", "-m", "pip", "install", "--quiet", f"streamlit=={floor('streamlit')}",
         f"keras=={floor('keras')}"], cwd=folder, env=env)
    return bin_dir, env


def test_the_page_renders_and_opens_a_lazy_tab_with_the_floor_versions(at_the_floors, tmp_path):
    bin_dir, env = at_the_floors
    script = tmp_path / "page_smoke.py"
    script.write_text(PAGE_SMOKE)
    versions = run([bin_dir / "python", script, ROOT / "app.py"], cwd=ROOT, env=env).split()
    assert [Version(v) for v in versions] == [Version(floor("streamlit")), Version(floor("keras"))]


def test_digitdnn_evaluate_loads_and_scores_the_default_model_with_the_floor_keras(at_the_floors):
    bin_dir, env = at_the_floors
    out = run([bin_dir / "python", "-m", "digitdnn", "evaluate"], cwd=ROOT, env=env)
    assert float(re.search(r"test accuracy (0\.\d+)", out).group(1)) > 0.98, out


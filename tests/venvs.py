"""Fresh virtual environments that reuse this one's installed packages (TensorFlow is hundreds of MB).

A .pth file puts this environment's site-packages after the new one's own, so what pip installs into the new one
wins, and everything else comes from here. The editable install of the checkout is not visible there (.pth files
of an added folder are not run): `import digitdnn` finds only what was installed into the new environment, or the
checkout when PYTHONPATH names it.
"""
import os
import site
import subprocess
import sys
from pathlib import Path


def run(command, cwd, env, timeout=300) -> str:
    """Run `command`; its stdout, or an AssertionError with its output if it failed."""
    done = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def clean_environment(**extra: str) -> dict:
    """os.environ without PYTHONPATH and DIGITDNN_DEFAULT_MODEL, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DIGITDNN_DEFAULT_MODEL")}
    env.update(TF_CPP_MIN_LOG_LEVEL="2", **extra)
    return env


def fresh_environment(folder: Path) -> Path:
    """A new virtual environment in folder/venv that sees this one's packages after its own; its bin folder."""
    venv = folder / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=folder, env=None)
    (own,) = (venv / "lib").glob("python3*/site-packages")
    (own / "reuse-installed-dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return venv / "bin"

"""The command-line binary the Python results are held against."""

import os
import subprocess
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def roofsim_bin() -> Path:
    """``$ROOFSIM_BIN``, or the repository's debug build (built here when missing)."""
    if "ROOFSIM_BIN" in os.environ:
        return Path(os.environ["ROOFSIM_BIN"])
    subprocess.run(["cargo", "build", "--quiet"], cwd=REPOSITORY, check=True)
    return REPOSITORY / "target" / "debug" / "roofsim"


@pytest.fixture
def cli(roofsim_bin, tmp_path):
    """Runs ``roofsim ARGS --out DIR`` (without ``--out`` when ``out=False``, for a command
    that names its one file) from the repository's folder: (stdout, DIR)."""

    def run(*args: str, out: bool = True):
        folder = tmp_path / "cli"
        done = subprocess.run(
            [str(roofsim_bin), *args, *(["--out", str(folder)] if out else [])],
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout, folder

    return run

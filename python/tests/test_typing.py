"""The package's types as a type checker reads them: the user guide's Python example and the
package itself pass `mypy --strict`; a workload option of the wrong type or a misspelt one
fails it, naming the option."""

import re
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
CONFIG = REPOSITORY / "python" / "pyproject.toml"


def mypy(*targets: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", "/dev/null"]
        + ["--config-file", str(CONFIG), *targets],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
    )


def test_the_guides_example_and_the_package_type_check(tmp_path):
    readme = (REPOSITORY / "docs" / "src" / "python.md").read_text()
    example = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    assert "roofsim.simulate(" in example
    (tmp_path / "example.py").write_text(example)
    for targets in [(str(tmp_path / "example.py"),), ("-p", "roofsim")]:
        done = mypy(*targets)
        assert done.returncode == 0, done.stdout


def test_a_wrong_workload_option_fails_the_type_check(tmp_path):
    (tmp_path / "wrong.py").write_text(
        "import roofsim\n"
        'roofsim.simulate(cameras="3")\n'
        "roofsim.analyze(language_token=48)\n"
    )
    done = mypy(str(tmp_path / "wrong.py"))
    assert done.returncode == 1, done.stdout
    assert 'Argument "cameras" to "simulate" has incompatible type "str"' in done.stdout
    assert 'Unexpected keyword argument "language_token" for "analyze"' in done.stdout


def test_help_lists_every_workload_option():
    import roofsim

    for job in (roofsim.roofline, roofsim.simulate, roofsim.analyze, roofsim.sweep):
        for option in roofsim.WORKLOAD_OPTIONS:
            assert f"``{option}``" in (job.__doc__ or ""), (job.__name__, option)
    assert "prefill" in roofsim.WORKLOAD_OPTIONS and len(roofsim.WORKLOAD_OPTIONS) == 13

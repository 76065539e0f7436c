"""The Python package runs the command line's jobs: same numbers, same errors."""

import _thread
import json
import signal
import subprocess
import threading
from pathlib import Path

import pytest

import roofsim
from conftest import REPOSITORY

FOCUSED = dict(cameras=1, vision_layers=2, text_layers=2)
FOCUSED_ARGS = ["--cameras", "1", "--vision-layers", "2", "--text-layers", "2"]


def test_simulate_returns_the_command_lines_files_and_numbers(cli):
    result = roofsim.simulate(**FOCUSED)
    text, out = cli("simulate", *FOCUSED_ARGS)
    assert result.text == text
    expected = {path.name: path.read_bytes() for path in out.iterdir()}
    assert result.files == expected
    # The tables are the CSV files as numbers: every cell of the command line's file.
    kernels = result.tables["kernels"]
    lines = (out / "kernels.csv").read_text().splitlines()
    assert len(kernels) == len(lines) - 1
    header = lines[0].split(",")
    for row, line in zip(kernels, lines[1:]):
        assert list(row) == header
        for value, cell in zip(row.values(), line.split(",")):
            assert (value is None and cell == "") or str(value) == cell or float(cell) == value
    assert result.summary == json.loads((out / "summary.json").read_text())
    cycles = sum(row["cycles"] * 1 for row in kernels)
    assert cycles > 0 and isinstance(kernels[0]["cycles"], int)
    assert {row["bottleneck"] for row in kernels} <= {
        "compute", "hbm_bandwidth", "hbm_latency", "buffer_capacity", "vector_unit",
        "dependency", "starved", "backpressure", "sync", "control",
    }


def test_roofline_takes_list_options(cli):
    result = roofsim.roofline(precision=["int4", "fp16"], cameras=2, fuse="qkv")
    text, out = cli("roofline", "--precision", "int4,fp16", "--cameras", "2", "--fuse", "qkv")
    assert result.text == text
    assert result.files["roofline.csv"] == (out / "roofline.csv").read_bytes()
    assert [row["precision"] for row in result.tables["roofline"][:1]] == ["int4"]
    assert {row["precision"] for row in result.tables["roofline"]} == {"int4", "fp16"}
    assert any(row["kernel"] == "qkv_proj" for row in result.tables["roofline"])


def test_a_design_given_as_text_runs_like_its_file(tmp_path):
    design_path = REPOSITORY / "configs" / "designs" / "u280-int4.toml"
    from_text = roofsim.simulate(design=design_path.read_text(), **FOCUSED)
    from_path = roofsim.simulate(design=design_path, **FOCUSED)
    assert from_text.tables == from_path.tables
    assert from_text.summary["total"] == from_path.summary["total"]


def test_shipped_configs_by_name_from_any_folder(tmp_path, monkeypatch):
    design_path = REPOSITORY / "configs" / "designs" / "u280-int4.toml"
    from_path = roofsim.simulate(design=design_path, **FOCUSED)
    monkeypatch.chdir(tmp_path)
    by_name = roofsim.simulate(design="u280-int4", **FOCUSED)
    assert by_name.tables == from_path.tables
    with pytest.raises(roofsim.ConfigError, match=r"nor a shipped design by that name; did you mean"):
        roofsim.simulate(design="u280-int5", **FOCUSED)


#: A sweep of four points over one vision kernel, small enough for every test.
SMALL_SWEEP = (
    'encoders = ["vision"]\n'
    'kernels = ["vision/fc2"]\n'
    "[axes]\n"
    "array_count = [2, 3]\n"
    'array_shape = ["32x32", "64x64"]\n'
)


def test_sweep_rows_equal_the_command_lines(cli, tmp_path):
    spec_path = tmp_path / "spec.toml"
    spec_path.write_text(SMALL_SWEEP)
    result = roofsim.sweep(SMALL_SWEEP, cameras=1, vision_layers=1, jobs=1)
    _, out = cli("sweep", "--sweep", str(spec_path), "--cameras", "1", "--vision-layers", "1")
    assert result.files["sweep.csv"] == (out / "sweep.csv").read_bytes()
    assert len(result.tables["sweep"]) == 4
    # best.toml's first line names the sweep file: here a temporary one.
    best = result.files["best.toml"].split(b"\n", 1)
    expected = (out / "best.toml").read_bytes().split(b"\n", 1)
    assert best[0].startswith(b"# Best point 3 of ") and best[0].endswith(b"batch 1).")
    assert best[1] == expected[1]


def test_search_equals_the_command_line(cli, tmp_path):
    spec_path = tmp_path / "space.toml"
    spec_path.write_text(SMALL_SWEEP + 'dataflow = ["os", "ws"]\n')
    result = roofsim.search(
        SMALL_SWEEP + 'dataflow = ["os", "ws"]\n', budget=3, seed=1, fix=["dataflow=os"],
        cameras=1, vision_layers=1, jobs=1,
    )
    _, out = cli(
        "search", "--space", str(spec_path), "--budget", "3", "--seed", "1", "--fix",
        "dataflow=os", "--cameras", "1", "--vision-layers", "1",
    )
    assert result.files["search.csv"] == (out / "search.csv").read_bytes()
    assert len(result.tables["search"]) == 3
    assert {row["dataflow"] for row in result.tables["search"]} == {"os"}
    assert "limit: " in result.text
    with pytest.raises(roofsim.ConfigError, match="--budget"):
        roofsim.search(SMALL_SWEEP, budget=0)


def test_system_equals_the_command_line(cli):
    result = roofsim.system("smolvla-2x-u280", pipeline="full", **FOCUSED)
    _, out = cli("system", "--system", "smolvla-2x-u280", "--pipeline", "full", *FOCUSED_ARGS)
    assert result.files["boards.csv"] == (out / "boards.csv").read_bytes()
    assert [row["board"] for row in result.tables["boards"]] == ["vision", "language"]
    assert result.tables["links"][0]["bytes_per_observation"] == 64 * 960
    scaling = roofsim.system("smolvla-2x-u280-data", boards=[1, 2], pipeline="full", **FOCUSED)
    assert [row["rate_speedup"] for row in scaling.tables["scaling"]] == [1.0, 2.0]
    with pytest.raises(roofsim.ConfigError, match="--boards"):
        roofsim.system("smolvla-2x-u280", boards=[2], **FOCUSED)


def test_probe_equals_the_command_line(cli):
    result = roofsim.probe(memory="dram", pattern="sequential", burst_bytes=64, channels=1)
    _, out = cli(
        "probe", "hbm", "--memory", "dram", "--pattern", "sequential", "--burst-bytes", "64",
        "--channels", "1",
    )
    assert result.files["probe.csv"] == (out / "probe.csv").read_bytes()
    assert [row["burst_bytes"] for row in result.tables["probe"]] == [64]


def test_lower_equals_the_command_line(cli, tmp_path):
    """One kernel's graph and a layer's, byte for byte as ``roofsim lower`` writes them."""
    for layer in (False, True):
        result = roofsim.lower(
            "vision/fc1_gelu", design="u280-int8-mlp-stream", vision_layers=1, layer=layer,
            out=tmp_path / f"layer-{layer}",
        )
        flags = ["--layer"] if layer else []
        dot = tmp_path / f"cli-{layer}.dot"
        text, _ = cli(
            "lower", "--kernel", "vision/fc1_gelu", "--design", "u280-int8-mlp-stream",
            "--vision-layers", "1", *flags, "--dot", str(dot), out=False,
        )
        assert result.files["graph.dot"] == dot.read_bytes()
        assert (tmp_path / f"layer-{layer}" / "graph.dot").read_bytes() == dot.read_bytes()
        assert result.text == text
    assert "fifo" in roofsim.lower("vision/fc2", design="u280-int8-mlp-stream", layer=True,
                                   vision_layers=1).files["graph.dot"].decode()
    with pytest.raises(roofsim.ConfigError):
        roofsim.lower("vision/no_such_kernel", vision_layers=1)


def test_merged_shards_equal_one_sweep(tmp_path):
    # One spec file for all: the picture's title names it.
    spec_path = tmp_path / "spec.toml"
    spec_path.write_text(SMALL_SWEEP)
    whole = roofsim.sweep(spec_path, cameras=1, vision_layers=1, jobs=1)
    for shard in range(2):
        roofsim.sweep(
            spec_path, cameras=1, vision_layers=1, jobs=1, shard=f"{shard}/2",
            out=tmp_path / f"shard-{shard}",
        )
    merged = roofsim.merge([tmp_path / f"shard-{shard}" / "sweep.csv" for shard in range(2)])
    assert merged.files["sweep.csv"] == whole.files["sweep.csv"]
    assert merged.files["pareto.svg"] == whole.files["pareto.svg"]


def test_out_keeps_the_files(tmp_path):
    result = roofsim.analyze(**FOCUSED, out=tmp_path / "analysis")
    assert result.out == tmp_path / "analysis"
    assert sorted(path.name for path in result.out.iterdir()) == sorted(result.files)
    assert "roofline" in result.tables and "kernels" in result.tables
    assert result.text.endswith(f"report: {tmp_path / 'analysis' / 'report.html'}\n")


def test_errors_are_the_command_lines_one_line(roofsim_bin, tmp_path):
    with pytest.raises(roofsim.ConfigError) as error:
        roofsim.simulate(cameras=0)
    done = subprocess.run(
        [str(roofsim_bin), "simulate", "--cameras", "0", "--out", str(tmp_path / "x")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr == f"error: {error.value}\n"
    assert not (tmp_path / "x").exists()
    # A text config is named as such, with the field at fault.
    with pytest.raises(roofsim.ConfigError, match=r"^<design text>: field `arrays`"):
        roofsim.simulate(design="[arrays]\ncount = 2\n")
    with pytest.raises(roofsim.ConfigError, match="no-such-file.json: no such file, nor a shipped model"):
        roofsim.roofline(model="no-such-file.json")
    with pytest.raises(roofsim.ConfigError, match="--cameras"):
        roofsim.simulate(cameras="many")
    with pytest.raises(TypeError):
        roofsim.simulate(design=42)
    assert issubclass(roofsim.ConfigError, roofsim.RoofsimError)
    # They present themselves as the package's, in tracebacks and reprs.
    assert roofsim.ConfigError.__module__ == "roofsim"
    assert repr(roofsim.ConfigError("x")) == "ConfigError('x')"
    assert str(roofsim.RoofsimError) == "<class 'roofsim.RoofsimError'>"


def test_to_pandas():
    pandas = pytest.importorskip("pandas")
    result = roofsim.simulate(**FOCUSED)
    frame = result.to_pandas()
    assert isinstance(frame, pandas.DataFrame)
    assert len(frame) == len(result.tables["kernels"])
    assert frame["cycles"].sum() == sum(row["cycles"] for row in result.tables["kernels"])
    with pytest.raises(KeyError, match="no table 'sweep'"):
        result.to_pandas("sweep")


def test_the_full_pipeline_and_its_switches(cli):
    result = roofsim.simulate(pipeline="full", cross_kv_once=True, **FOCUSED)
    text, out = cli("simulate", "--pipeline", "full", "--cross-kv-once", *FOCUSED_ARGS)
    assert result.text == text
    assert result.summary == json.loads((out / "summary.json").read_text())
    step = result.summary["robot_step"]
    assert step["latency_ms"] == pytest.approx(step["encoders_ms"] + step["expert_ms"])
    assert {row["encoder"] for row in result.tables["kernels"]} >= {"text", "expert"}
    with pytest.raises(TypeError, match="unexpected keyword arguments \\['camera'\\]"):
        roofsim.simulate(camera=1)


def test_decode_from_python(cli):
    args = dict(model=str(REPOSITORY / "configs/models/gpt2-medium.config.json"), policy="none")
    result = roofsim.simulate(
        **args, language_tokens=15, state_tokens=0, text_layers=2, decode=2
    )
    text, out = cli(
        "simulate", "--model", args["model"], "--policy", "none", "--language-tokens", "15",
        "--state-tokens", "0", "--text-layers", "2", "--decode", "2",
    )
    assert result.text == text
    assert result.summary["decode"] == json.loads((out / "summary.json").read_text())["decode"]
    assert len(result.summary["decode"]["token_ms"]) == 2


def test_ctrl_c_stops_a_sweep_and_keeps_its_finished_rows(tmp_path):
    """Ctrl-C during a job raises KeyboardInterrupt once the job stops (before its next
    point), not when it ends: the sweep.csv holds the finished rows, as after a Ctrl-C of
    the command line, and the next job runs normally."""
    spec = (
        'encoders = ["vision"]\n'
        "[axes]\n"
        "tm = { start = 16, end = 1024, step = 16 }\n"
        "tn = [64, 128, 256, 512, 768, 1024]\n"
        "tk = [64, 128, 256, 512, 768, 1024]\n"
    )
    spec_path = tmp_path / "spec.toml"
    spec_path.write_text(spec)
    out = tmp_path / "out"
    points = 64 * 6 * 6
    stop = threading.Event()

    def interrupt_once_rows_are_written():
        # Ctrl-C once the job has finished a few points, however fast the machine is.
        csv = out / "sweep.csv"
        while not stop.wait(0.01):
            if csv.exists() and len(csv.read_text().splitlines()) > 4:
                _thread.interrupt_main()
                return

    # Python's own Ctrl-C handler, as in a terminal: a process started in the background
    # inherits SIGINT ignored, and then interrupt_main() does nothing.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    watcher = threading.Thread(target=interrupt_once_rows_are_written)
    watcher.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            roofsim.sweep(spec_path, out=out, jobs=1, cameras=1, vision_layers=1)
    finally:
        stop.set()
        watcher.join()
        signal.signal(signal.SIGINT, previous)
    rows = (out / "sweep.csv").read_text().splitlines()[1:]
    assert 4 <= len(rows) < points
    assert not (out / "report.html").exists()
    assert roofsim.roofline(precision="int8", cameras=1).text


def test_random_calls_raise_only_roofsim_or_type_errors():
    """A seeded fuzz of the Python calls: random option values (out of range, wrong types,
    junk text, newlines), random config names and texts. Each call returns a result or
    raises ``RoofsimError`` or ``TypeError``, never a panic (``PanicException`` is a
    ``BaseException``, which this test does not catch)."""
    import random

    rng = random.Random(20261206)
    values = [0, 1, 2, -1, 3, 64, 513, 10**6, 2**64, "x", "", "3\n4", 1.5, None, True, [1, 2]]
    configs = ["u280-int4", "u280-int5", "no/such.toml", "[arrays]\ncount = 2\n", "{", "=", ""]
    outcomes = {"ok": 0, "refused": 0}
    for _ in range(120):
        job = rng.choice([roofsim.roofline, roofsim.simulate])
        options = dict(vision_layers=1, text_layers=1, cameras=1)
        for name in rng.sample(list(roofsim.WORKLOAD_OPTIONS), rng.randint(1, 3)):
            options[name] = rng.choice(values)
        if job is roofsim.simulate and rng.random() < 0.5:
            options["design"] = rng.choice(configs)
        try:
            job(**options)
            outcomes["ok"] += 1
        except (roofsim.RoofsimError, TypeError) as error:
            assert "\n" not in str(error), str(error)
            outcomes["refused"] += 1
    assert outcomes["ok"] > 0 and outcomes["refused"] > 0, outcomes

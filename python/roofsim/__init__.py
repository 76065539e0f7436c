"""roofsim from Python: the command line's jobs, returning plain Python objects.

Each function runs the same job as the ``roofsim`` command of its name, with the same options
(``language_tokens=48`` is ``--language-tokens 48``; a list is comma-separated; ``True``
turns a flag on), the same validation and the same one-line errors, raised as
:class:`ConfigError`. The result holds what the command prints (``text``), every CSV it
writes as a list of row dicts (``tables``, numbers as ``int`` or ``float``), every JSON file
parsed (``summary`` is ``summary.json``) and the raw bytes of every file (``files``: the SVG
pictures, ``report.html``, ``best.toml``).

Every function also takes the workload options of :class:`WorkloadOptions` as keywords,
typed (``cameras``, ``language_tokens``, ``batch``, ``pipeline``, ``decode``, ``prefill``...;
``help()`` of each function lists them all).

A config argument (``model``, ``policy``, ``platform``, ``design``, a sweep's ``spec``, a
search's ``space``, a ``system``) is a path, the name of a config that ships with roofsim
(``design="u280-int4"``, ``model="llama-2-7b"``: ``roofsim list`` prints them), or the file's
text itself (TOML or JSON: any string holding a line break, ``{`` or ``=`` that is not an
existing file's name). Errors in such a text name it ``<design text>``.

Without ``out``, the job writes into a temporary folder that is removed afterwards; with it,
the files stay there, as the command line leaves them.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Sequence,
    TypedDict,
    TypeVar,
    Union,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

from ._native import ConfigError, RoofsimError, __version__
from ._native import run as _run

__all__ = [
    "WORKLOAD_OPTIONS",
    "WorkloadOptions",
    "ConfigError",
    "Result",
    "RoofsimError",
    "__version__",
    "analyze",
    "lower",
    "merge",
    "probe",
    "roofline",
    "simulate",
    "sweep",
]

#: A config file's path, or its text.
Config = Union[str, "os.PathLike[str]"]
#: One or several values of a list option (``precision``, ``kernels``, ``fuse``).
Values = Union[str, Sequence[str]]
_F = TypeVar("_F", bound=Callable[..., Any])
#: A table row: column to cell, each an ``int``, ``float``, ``str`` or ``None`` (an empty
#: cell); typed ``Any`` so that rows sort and compare by a column without casts.
Row = Dict[str, Any]

class WorkloadOptions(TypedDict, total=False):
    """The workload options every function takes as keywords, as the command line's input
    flags (``language_tokens=48`` is ``--language-tokens 48``); an option not given takes the
    command line's default."""

    #: Camera images per observation [the policy's, 3].
    cameras: int
    #: Language tokens (padded) [the policy's, 48].
    language_tokens: int
    #: State tokens [1].
    state_tokens: int
    #: Text layers to run [the policy's, 16].
    text_layers: int
    #: Vision layers to run, for focused runs [all of the model's].
    vision_layers: int
    #: Observations processed together (weights read once per batch) [1].
    batch: int
    #: Fused kernels: ``gemm-act``, ``qkv``, ``attention``, ``all``, ``none`` (not for a sweep).
    fuse: Values
    #: ``"encoders"`` (the VLM's prefix) or ``"full"`` (the whole robot step).
    pipeline: str
    #: Full pipeline: project the expert's cross-attention K/V once per observation.
    cross_kv_once: bool
    #: Full pipeline: of the last text layer compute only the K/V the expert reads.
    trim_last_text_layer: bool
    #: Run the vision tower and connector once per camera, as the reference code does.
    per_camera_vision: bool
    #: Tokens to generate after the prefix [0].
    decode: int
    #: ``"parallel"`` or ``"token-serial"`` (the prompt one token at a time).
    prefill: str


#: The names of :class:`WorkloadOptions`, in the command line's order.
WORKLOAD_OPTIONS = tuple(WorkloadOptions.__annotations__)

_WORKLOAD_HELP = """

Workload options (keywords, as the command line's input flags; see
:class:`WorkloadOptions`): """ + ", ".join(f"``{name}``" for name in WORKLOAD_OPTIONS) + "."


def _documents_workload_options(function: _F) -> _F:
    """Appends the workload options to a job's docstring, so ``help()`` lists them."""
    function.__doc__ = (function.__doc__ or "") + _WORKLOAD_HELP
    return function


_SUFFIXES = {
    "model": ".json",
    "policy": ".json",
    "platform": ".toml",
    "design": ".toml",
    "sweep": ".toml",
    "space": ".toml",
    "system": ".toml",
}


class Result:
    """What a job produced.

    Attributes:
        text: what the command line prints on standard output.
        files: every file the job wrote, by name, as bytes.
        tables: every CSV file by its stem (``kernels``, ``channels``, ``engines``,
            ``roofline``, ``sweep``...), as a list of rows, each a dict from column to value.
        json: every JSON file by its stem (``summary``, ``sweep.meta``), parsed.
        out: the folder the files are in, when the call named one.
    """

    def __init__(self, text: str, files: Dict[str, bytes], out: Optional[Path]) -> None:
        self.text = text
        self.files = files
        self.out = out
        self.tables: Dict[str, List[Row]] = {
            name[: -len(".csv")]: _rows(data)
            for name, data in files.items()
            if name.endswith(".csv")
        }
        self.json: Dict[str, Any] = {
            name[: -len(".json")]: json.loads(data)
            for name, data in files.items()
            if name.endswith(".json")
        }

    @property
    def summary(self) -> Dict[str, Any]:
        """``summary.json`` of a simulation: totals per encoder, engines, attribution (empty
        for a job that writes none, such as ``roofline``)."""
        summary: Dict[str, Any] = self.json.get("summary", {})
        return summary

    def to_pandas(self, table: str = "kernels") -> "Any":
        """The table as a ``pandas.DataFrame`` (needs pandas installed)."""
        try:
            import pandas
        except ImportError as error:
            raise ImportError("to_pandas needs pandas: pip install pandas") from error
        if table not in self.tables:
            raise KeyError(f"no table {table!r}; this result has {sorted(self.tables)}")
        return pandas.DataFrame(self.tables[table])

    def __repr__(self) -> str:
        tables = ", ".join(f"{name}: {len(rows)} rows" for name, rows in self.tables.items())
        return f"<roofsim.Result {tables or 'no tables'}; files {sorted(self.files)}>"


@_documents_workload_options
def roofline(
    model: Optional[Config] = None,
    policy: Optional[Config] = None,
    platform: Optional[Config] = None,
    *,
    precision: Optional[Values] = None,
    out: Optional[Union[str, "os.PathLike[str]"]] = None,
    **inputs: Unpack[WorkloadOptions],
) -> Result:
    """``roofsim roofline``: every kernel under the platform's roofline at each precision.

    ``tables["roofline"]`` has a row per kernel instance and precision; ``files`` holds the
    vision and text roofline SVGs.
    """
    configs = {"model": model, "policy": policy, "platform": platform}
    options = dict(
        precision=precision,
    )
    return _job("roofline", configs, options, inputs, out)


@_documents_workload_options
def simulate(
    model: Optional[Config] = None,
    policy: Optional[Config] = None,
    platform: Optional[Config] = None,
    design: Optional[Config] = None,
    *,
    kernels: Optional[Values] = None,
    ideal_memory: bool = False,
    clock_from_model: bool = False,
    max_events: Optional[int] = None,
    gemm: Optional[str] = None,
    array: Optional[str] = None,
    dataflow: Optional[str] = None,
    trace: bool = False,
    trace_format: Optional[str] = None,
    out: Optional[Union[str, "os.PathLike[str]"]] = None,
    **inputs: Unpack[WorkloadOptions],
) -> Result:
    """``roofsim simulate``: the design's cycle-level simulation of the encoders.

    ``tables`` holds ``kernels`` (a row per kernel: cycles, bottleneck, the cycles of each
    cause), ``channels`` and ``engines``; ``summary`` the totals; ``files`` the pictures and
    ``report.html``. ``gemm="1024x1024x2048"`` simulates one GEMM on one array instead.
    """
    configs = {"model": model, "policy": policy, "platform": platform, "design": design}
    options = dict(
        kernels=kernels,
        ideal_memory=ideal_memory,
        clock_from_model=clock_from_model,
        max_events=max_events,
        gemm=gemm,
        array=array,
        dataflow=dataflow,
        trace=trace,
        trace_format=trace_format,
    )
    return _job("simulate", configs, options, inputs, out)


@_documents_workload_options
def analyze(
    model: Optional[Config] = None,
    policy: Optional[Config] = None,
    platform: Optional[Config] = None,
    design: Optional[Config] = None,
    *,
    precision: Optional[Values] = None,
    clock_from_model: bool = False,
    max_events: Optional[int] = None,
    out: Optional[Union[str, "os.PathLike[str]"]] = None,
    **inputs: Unpack[WorkloadOptions],
) -> Result:
    """``roofsim analyze``: the roofline and the simulation in one result (both tables,
    ``summary`` and a ``report.html`` holding both)."""
    configs = {"model": model, "policy": policy, "platform": platform, "design": design}
    options = dict(
        precision=precision,
        clock_from_model=clock_from_model,
        max_events=max_events,
    )
    return _job("analyze", configs, options, inputs, out)


@_documents_workload_options
def sweep(
    spec: Config,
    model: Optional[Config] = None,
    policy: Optional[Config] = None,
    platform: Optional[Config] = None,
    *,
    jobs: Optional[int] = None,
    shard: Optional[str] = None,
    prescreen: Optional[int] = None,
    resume: bool = False,
    verify: Optional[int] = None,
    max_events: Optional[int] = None,
    out: Optional[Union[str, "os.PathLike[str]"]] = None,
    **inputs: Unpack[WorkloadOptions],
) -> Result:
    """``roofsim sweep``: a design space (the sweep TOML ``spec``), every point simulated.

    ``tables["sweep"]`` has a row per point; ``files`` holds ``pareto.svg`` and
    ``best.toml``. ``resume`` continues an interrupted sweep in ``out``. ``verify=K`` runs
    the K fastest Pareto points again on the bank-level HBM (``tables["verify"]``).
    """
    configs = {"sweep": spec, "model": model, "policy": policy, "platform": platform}
    options = dict(
        jobs=jobs,
        shard=shard,
        prescreen=prescreen,
        resume=resume,
        verify=verify,
        max_events=max_events,
    )
    return _job("sweep", configs, options, inputs, out)


@_documents_workload_options
def search(
    space: Config,
    model: Optional[Config] = None,
    policy: Optional[Config] = None,
    platform: Optional[Config] = None,
    *,
    budget: Optional[int] = None,
    seed: Optional[int] = None,
    fix: Sequence[str] = (),
    objective: Optional[str] = None,
    jobs: Optional[int] = None,
    resume: bool = False,
    max_events: Optional[int] = None,
    out: Optional[Union[str, "os.PathLike[str]"]] = None,
    **inputs: Unpack[WorkloadOptions],
) -> Result:
    """``roofsim search``: the best design of a space (a sweep TOML's axes and constraints,
    ``space``) within ``budget`` simulations [96], the same for the same ``seed`` [0].

    ``fix`` pins axes (``["precision=int8"]``); ``objective`` is ``"latency"`` (ms per
    step), ``"throughput"`` (ms per observation) or ``"energy"`` (mJ per observation). ``tables["search"]`` has a row per simulated
    design in the order simulated; ``files`` holds ``best.toml`` and ``pareto.svg``;
    ``text`` states the DSP-bound limit and the best design's step by cause. ``resume``
    continues an interrupted search in ``out``.
    """
    configs = {"space": space, "model": model, "policy": policy, "platform": platform}
    options = dict(
        budget=budget,
        seed=seed,
        fix=list(fix) or None,
        objective=objective,
        jobs=jobs,
        resume=resume,
        max_events=max_events,
    )
    return _job("search", configs, options, inputs, out)


@_documents_workload_options
def system(
    system: Config,
    model: Optional[Config] = None,
    policy: Optional[Config] = None,
    *,
    boards: Sequence[int] = (),
    max_events: Optional[int] = None,
    out: Optional[Union[str, "os.PathLike[str]"]] = None,
    **inputs: Unpack[WorkloadOptions],
) -> Result:
    """``roofsim system``: several boards (a system TOML: boards, a pipeline, data or tensor
    partition, links) run on the workload.

    ``tables["boards"]`` and ``tables["links"]`` have a row per board and link; ``text``
    states the first observation's time, the rate once full and what bounds it. ``boards``
    (``[1, 2, 4, 8]``) runs a data or tensor partition at each board count instead:
    ``tables["scaling"]``.
    """
    configs = {"system": system, "model": model, "policy": policy}
    options = dict(boards=list(boards) or None, max_events=max_events)
    return _job("system", configs, options, inputs, out)


@_documents_workload_options
def lower(
    kernel: str,
    model: Optional[Config] = None,
    policy: Optional[Config] = None,
    platform: Optional[Config] = None,
    design: Optional[Config] = None,
    *,
    layer: bool = False,
    out: Optional[Union[str, "os.PathLike[str]"]] = None,
    **inputs: Unpack[WorkloadOptions],
) -> Result:
    """``roofsim lower``: the tile dataflow graph of one kernel (``"vision/qkv_proj"``), or
    with ``layer=True`` of its whole layer with the links the design gives, as Graphviz DOT.

    ``files["graph.dot"]`` holds the graph (``out/graph.dot`` when ``out`` names a folder);
    ``text`` its node, edge and byte counts.
    """
    configs = {"model": model, "policy": policy, "platform": platform, "design": design}
    options = dict(kernel=kernel, layer=layer)
    return _job("lower", configs, options, inputs, out, written_to="graph.dot")


def probe(
    target: str = "hbm",
    design: Optional[Config] = None,
    platform: Optional[Config] = None,
    *,
    memory: Optional[str] = None,
    pattern: Optional[str] = None,
    burst_bytes: Optional[int] = None,
    stride_bytes: Optional[int] = None,
    working_set_bytes: Optional[int] = None,
    channels: Optional[int] = None,
    outstanding: Optional[int] = None,
    write_share: Optional[float] = None,
    switch_distance: Optional[int] = None,
    hls: bool = False,
    idle_latency: bool = False,
    out: Optional[Union[str, "os.PathLike[str]"]] = None,
) -> Result:
    """``roofsim probe hbm``: an HBM model benchmarked like Shuhai, bandwidth and latency per
    access pattern (``memory="fast"`` or ``"dram"``; the design's by default).

    ``tables["probe"]`` has a row per probe; ``files`` holds ``probe.svg``.
    """
    configs = {"design": design, "platform": platform}
    options = dict(
        memory=memory,
        pattern=pattern,
        burst_bytes=burst_bytes,
        stride_bytes=stride_bytes,
        working_set_bytes=working_set_bytes,
        channels=channels,
        outstanding=outstanding,
        write_share=write_share,
        switch_distance=switch_distance,
        hls=hls,
        idle_latency=idle_latency,
    )
    return _job(f"probe {target}", configs, options, {}, out)


def merge(
    shards: Sequence[Union[str, "os.PathLike[str]"]],
    out: Optional[Union[str, "os.PathLike[str]"]] = None,
) -> Result:
    """``roofsim merge``: the ``sweep.csv`` files of a sweep's shards merged into one result
    (``sweep.csv``, ``pareto.svg``, ``best.toml``), as one run would have written it."""
    return _job("merge", {}, {}, {}, out, operands=[os.fspath(shard) for shard in shards])


def _job(
    command: str,
    configs: Mapping[str, Optional[Config]],
    options: Mapping[str, Any],
    inputs: Mapping[str, Any],
    out: Optional[Union[str, "os.PathLike[str]"]],
    operands: Sequence[str] = (),
    written_to: Optional[str] = None,
) -> Result:
    """Runs ``roofsim COMMAND`` with the configs (paths or texts), options and workload
    options as flags, into ``out`` (a temporary folder when ``None``): with ``--out``, or,
    for a command that writes one file (``lower``), ``--dot out/WRITTEN_TO``."""
    unknown = sorted(set(inputs) - set(WORKLOAD_OPTIONS))
    if unknown:
        raise TypeError(
            f"{command}() got unexpected keyword arguments {unknown}; the workload options "
            f"are {list(WORKLOAD_OPTIONS)}"
        )
    with tempfile.TemporaryDirectory(prefix="roofsim-") as scratch:
        args = command.split()
        texts: Dict[str, str] = {}
        for name, value in configs.items():
            if value is None:
                continue
            path = _config_path(name, value, Path(scratch))
            if path != value:
                texts[path] = f"<{name} text>"
            args += [f"--{name}", path]
        args += _flags({**inputs, **options})
        folder = Path(out) if out is not None else Path(scratch) / "out"
        if written_to is None:
            args += ["--out", str(folder), *operands]
        else:
            args += ["--dot", str(folder / written_to), *operands]
        try:
            text, written = _run(args)
        except RoofsimError as error:
            message = str(error)
            for path, label in texts.items():
                message = message.replace(path, label)
            raise type(error)(message) from None
        files = {Path(path).name: Path(path).read_bytes() for path in written}
    return Result(text, files, folder if out is not None else None)


def _config_path(name: str, value: Config, scratch: Path) -> str:
    """The path to pass for a config: the path given, or a file holding the text given."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a path or the file's text, not {type(value).__name__}")
    is_text = "\n" in value or "{" in value or "=" in value
    if is_text and not os.path.exists(value):
        path = scratch / f"{name}{_SUFFIXES[name]}"
        path.write_text(value, encoding="utf-8")
        return str(path)
    return value


def _flags(options: Mapping[str, Any]) -> List[str]:
    """Keyword options as the command line's flags."""
    args: List[str] = []
    for key, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            args.append(flag)
        elif isinstance(value, (list, tuple)):
            args += [flag, ",".join(str(item) for item in value)]
        else:
            args += [flag, str(value)]
    return args


def _rows(data: bytes) -> List[Row]:
    reader = csv.DictReader(io.StringIO(data.decode("utf-8")))
    return [{column: _value(cell) for column, cell in row.items()} for row in reader]


def _value(cell: str) -> Union[int, float, str, None]:
    """A CSV cell as the number it writes, or the text; empty cells are ``None``."""
    if cell == "":
        return None
    for kind in (int, float):
        try:
            return kind(cell)
        except ValueError:
            pass
    return cell

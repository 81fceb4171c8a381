"""The library's front door: typed functions for every command, for notebooks and scripts.

Each function takes a spec as a bundled name (``"resnet50"``), a family name (``"resnet"``), a path to
a YAML file, YAML text (any string with a newline) or a dict, with keyword arguments named after the
command-line options (``params`` for ``--set``, ``input_shape`` for ``--input``, ``batch``), and returns
a frozen dataclass with the fields of the command's JSON output, ``to_dict()``, ``to_json()`` (text),
a short ``repr`` and an HTML summary table for notebooks (``_repr_html_``). Errors are the CLI's:
:class:`~rescomp.errors.SpecError` for a mistake in the spec or the arguments,
:class:`~rescomp.extras.MissingPackage` for an optional package that is not installed.

docs/api.md shows each function with examples that the test suite runs.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from rescomp.errors import Loc, SpecError, UsageError
from rescomp.ir import Graph
from rescomp.lower import Overrides
from rescomp.spec.load import build_graph

#: a spec: a bundled or family name, a YAML path, YAML text (with a newline) or the spec as a dict
SpecLike = str | Path | Mapping[str, Any]
#: an input shape without the batch: (3, 224, 224) or "3x224x224"
ShapeLike = Sequence[int] | str

_WHERE = Loc("<api>")


# ---------------------------------------------------------------- specs and graphs


def _overrides(params: Mapping[str, Any] | None, input_shape: ShapeLike | None, batch: int | None) -> Overrides:
    if params is not None and not isinstance(params, Mapping):
        raise SpecError("params must be a mapping of parameter names to values", _WHERE, hint="params={'n': 9}")
    shape: tuple[int, ...] | None = None
    if isinstance(input_shape, str):
        from rescomp.cli.options import parse_overrides

        parsed = parse_overrides(None, input_shape, None).input
        shape = parsed[0] if parsed else None
    elif input_shape is not None:
        if not isinstance(input_shape, (list, tuple)) or not all(
            isinstance(d, int) and not isinstance(d, bool) for d in input_shape
        ):
            raise SpecError(
                f"input_shape must be a list of integers or a string like '3x224x224', got {input_shape!r}",
                _WHERE,
                hint="input_shape=(3, 224, 224)",
            )
        shape = tuple(input_shape)
    return Overrides(
        {str(k): (v, _WHERE) for k, v in (params or {}).items()},
        (shape, _WHERE) if shape is not None else None,
        (batch, _WHERE) if batch is not None else None,
    )


def _source(spec: SpecLike) -> Any:
    """What :func:`~rescomp.spec.load.build_graph` takes: a name or path as it is, a parsed Spec for
    YAML text or a dict."""
    from rescomp.spec.load import load_spec_text

    if isinstance(spec, Mapping):
        import yaml

        try:
            text = yaml.safe_dump(dict(spec), sort_keys=False, default_flow_style=False, allow_unicode=True)
        except yaml.YAMLError as exc:
            raise SpecError(f"the spec dict cannot be written as YAML: {exc}", Loc("<dict>")) from None
        return load_spec_text(text, "<dict>")
    if isinstance(spec, str) and "\n" in spec:
        return load_spec_text(spec, "<string>")
    if isinstance(spec, str | Path):
        return spec
    raise SpecError(
        f"a spec is a name, a path, YAML text or a dict, not {type(spec).__name__}",
        _WHERE,
        hint="rescomp.analyze('resnet50')",
    )


def graph(
    spec: SpecLike,
    params: Mapping[str, Any] | None = None,
    *,
    input_shape: ShapeLike | None = None,
    batch: int | None = None,
) -> Graph:
    """The linted IR of a spec, with parameter overrides (``params`` is ``--set``)."""
    return build_graph(_source(spec), _overrides(params, input_shape, batch))


def _title(name: str, params: Mapping[str, Any] | None) -> str:
    from rescomp.cli.options import titled

    return titled(name, _overrides(params, None, None))


# ---------------------------------------------------------------- results


def _table_html(title: str, rows: Iterable[Sequence[str]], header: Sequence[str] = ("", "")) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td style="text-align:{"left" if i == 0 else "right"}">{html.escape(str(c))}</td>'
            for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><caption style='text-align:left'><b>{html.escape(title)}</b></caption>{head}{body}</table>"


class _Result:
    """to_dict, to_json and the notebook's HTML for every result."""

    def to_dict(self) -> dict[str, Any]:
        """The result as the command's JSON data (plain dicts, lists, numbers and strings)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self) if not f.name.startswith("_")}  # type: ignore[arg-type]

    def to_json(self, indent: int | None = 2) -> str:
        """The result as JSON text, as the command's ``--json`` prints it."""
        return json.dumps(self.to_dict(), indent=indent) + "\n"

    def _summary(self) -> tuple[str, list[tuple[str, str]]]:
        raise NotImplementedError

    def _repr_html_(self) -> str:
        title, rows = self._summary()
        return _table_html(title, rows)


def _plain(value: Any) -> Any:
    if isinstance(value, _Result):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _si(n: float) -> str:
    for div, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.2f} {prefix}"
    return f"{n:g}"


def _shape(s: Sequence[int]) -> str:
    return "x".join(map(str, s))


@dataclass(frozen=True, repr=False)
class LayerResult(_Result):
    """One layer of an analysis (an entry of ``layers`` in ``rescomp analyze --json``)."""

    name: str
    op: str
    output: tuple[int, ...]
    params: int
    buffers: int
    macs: int
    flops: int
    receptive_field: int
    arithmetic_intensity: float
    roofline_us: dict[str, float]

    def __repr__(self) -> str:
        return (
            f"LayerResult({self.name!r}, op={self.op!r}, output={self.output}, "
            f"params={self.params:,}, macs={self.macs:,})"
        )

    def _summary(self) -> tuple[str, list[tuple[str, str]]]:
        return self.name, [("op", self.op), ("output", _shape(self.output)), ("params", f"{self.params:,}")]


@dataclass(frozen=True, repr=False)
class StageResult(_Result):
    """Totals of one top-level part of the model (an entry of ``stages``)."""

    name: str
    output: tuple[int, ...]
    layers: int
    params: int
    macs: int
    flops: int
    receptive_field: int

    def __repr__(self) -> str:
        return f"StageResult({self.name!r}, layers={self.layers}, params={self.params:,}, macs={self.macs:,})"

    def _summary(self) -> tuple[str, list[tuple[str, str]]]:
        return self.name, [("output", _shape(self.output)), ("params", f"{self.params:,}"), ("MACs", f"{self.macs:,}")]


@dataclass(frozen=True, repr=False)
class AnalysisResult(_Result):
    """What :func:`analyze` finds: the fields of a model in ``rescomp analyze --json`` (schema
    ``rescomp.analysis/1``). Shapes include the batch. ``to_json()`` is the whole document, as
    ``rescomp analyze --json`` prints it; ``to_dict()`` is this model's entry."""

    name: str
    settings: dict[str, Any]
    dtype: str
    input: tuple[int, ...]
    output: tuple[int, ...]
    depth: int
    params: int
    buffers: int
    macs: int
    flops: int
    weights_bytes: int
    weights_bytes_by_dtype: dict[str, int]
    activation_bytes_total: int
    activation_bytes_peak: int
    activation_peak_at: str
    receptive_field: int
    roofline: dict[str, Any]
    stages: tuple[StageResult, ...]
    layers: tuple[LayerResult, ...]
    #: the heading shown for it (its name with the parameters set, ``resnet50 (width_per_group=128)``)
    title: str = ""
    _analysis: Any = field(default=None, compare=False)

    @classmethod
    def from_analysis(cls, a: Any, title: str = "") -> AnalysisResult:
        """From the passes' :class:`~rescomp.passes.Analysis`."""
        data = a.to_json()
        return cls(
            name=data["name"],
            settings=data["settings"],
            dtype=data["dtype"],
            input=tuple(a.input),
            output=tuple(a.output),
            depth=data["depth"],
            params=data["params"],
            buffers=data["buffers"],
            macs=data["macs"],
            flops=data["flops"],
            weights_bytes=data["weights_bytes"],
            weights_bytes_by_dtype=data["weights_bytes_by_dtype"],
            activation_bytes_total=data["activation_bytes_total"],
            activation_bytes_peak=data["activation_bytes_peak"],
            activation_peak_at=data["activation_peak_at"],
            receptive_field=data["receptive_field"],
            roofline=data["roofline"],
            stages=tuple(StageResult(**{**s, "output": tuple(s["output"])}) for s in data["stages"]),
            layers=tuple(LayerResult(**{**x, "output": tuple(x["output"])}) for x in data["layers"]),
            title=title or data["name"],
            _analysis=a,
        )

    @property
    def batch(self) -> int:
        return self.input[0]

    @property
    def analysis(self) -> Any:
        """The underlying :class:`rescomp.passes.Analysis` (for the report and backend functions)."""
        return self._analysis

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        del out["title"]
        return out

    def to_json(self, indent: int | None = 2) -> str:
        """The ``rescomp.analysis/1`` document of this model: byte for byte what ``rescomp analyze
        --json`` prints (``indent`` other than 2 re-indents it)."""
        import io

        from rescomp.passes.analyze import write_document

        if self._analysis is None or indent != 2:
            from rescomp.passes.analyze import CONVENTIONS, SCHEMA

            doc = {"schema": SCHEMA, "conventions": CONVENTIONS, "models": [self.to_dict()]}
            return json.dumps(doc, indent=indent) + "\n"
        buf = io.StringIO()
        write_document([self._analysis], buf)
        return buf.getvalue()

    def __repr__(self) -> str:
        return (
            f"AnalysisResult({self.title!r}, params={self.params:,}, macs={self.macs:,}, flops={self.flops:,}, "
            f"depth={self.depth}, input={self.input}, output={self.output}, {len(self.layers)} layers)"
        )

    def _summary(self) -> tuple[str, list[tuple[str, str]]]:
        return self.title, [
            ("input", _shape(self.input)),
            ("output", _shape(self.output)),
            ("depth (conv+fc on longest path)", str(self.depth)),
            ("params", f"{self.params:,} ({_si(self.params)})"),
            ("MACs", f"{self.macs:,} ({_si(self.macs)})"),
            ("FLOPs", f"{self.flops:,} ({_si(self.flops)})"),
            ("weights", f"{self.weights_bytes / 2**20:,.1f} MiB {self.dtype}"),
            ("activations, peak live", f"{self.activation_bytes_peak / 2**20:,.1f} MiB"),
            ("receptive field", f"{self.receptive_field} rows"),
            ("layers", f"{len(self.layers):,} in {len(self.stages)} stages"),
        ]

    def _repr_html_(self) -> str:
        title, rows = self._summary()
        stages = [
            (
                s.name,
                _shape(s.output),
                f"{s.params:,}",
                f"{s.macs:,}",
                f"{s.macs / self.macs:.1%}" if self.macs else "-",
            )
            for s in self.stages
        ]
        return (
            _table_html(title, rows, ("metric", "value"))
            + "<br>"
            + _table_html("by stage", stages, ("stage", "output", "params", "MACs", "MACs %"))
        )


def analyze(
    spec: SpecLike,
    params: Mapping[str, Any] | None = None,
    *,
    input_shape: ShapeLike | None = None,
    batch: int | None = None,
) -> AnalysisResult:
    """Parameters, MACs, FLOPs, memory and depth of a spec, from the spec alone (``rescomp analyze``)."""
    from rescomp.passes import analyze as run

    a = run(graph(spec, params, input_shape=input_shape, batch=batch))
    return AnalysisResult.from_analysis(a, _title(a.name, params))


@dataclass(frozen=True, repr=False)
class EmitResult(_Result):
    """The PyTorch source of a spec (``rescomp emit``): one file that imports only torch."""

    name: str
    class_name: str
    source: str
    path: str | None = None

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        where = f", written to {self.path!r}" if self.path else ""
        return f"EmitResult({self.name!r}, class {self.class_name}, {self.source.count(chr(10))} lines{where})"

    def _summary(self) -> tuple[str, list[tuple[str, str]]]:
        rows = [("class", self.class_name), ("lines", str(self.source.count("\n")))]
        return self.name, rows + ([("written to", self.path)] if self.path else [])


def emit(
    spec: SpecLike,
    params: Mapping[str, Any] | None = None,
    *,
    input_shape: ShapeLike | None = None,
    batch: int | None = None,
    output: str | Path | None = None,
) -> EmitResult:
    """The spec as a self-contained PyTorch module (``rescomp emit``); with ``output``, also written
    to that file (atomically; missing folders are made)."""
    from rescomp.backends.torch_source import emit_source

    g = graph(spec, params, input_shape=input_shape, batch=batch)
    source = emit_source(g, origin=str(spec) if isinstance(spec, str | Path) and "\n" not in str(spec) else "")
    if output is not None:
        from rescomp.fsutil import output_path, write_atomic

        write_atomic(output_path(str(output), "output"), source.text, create=True)
    return EmitResult(g.name, source.class_name, source.text, None if output is None else str(output))


def to_source(spec: SpecLike, params: Mapping[str, Any] | None = None, **kwargs: Any) -> str:
    """The PyTorch source that ``rescomp emit`` writes for this spec."""
    from rescomp.backends.torch_source import emit_source

    return emit_source(graph(spec, params, **kwargs)).text


def to_torch(spec: SpecLike, params: Mapping[str, Any] | None = None, *, seed: int | None = None, **kwargs: Any) -> Any:
    """The spec as a ``torch.nn.Module``, built by executing exactly the source of :func:`to_source`."""
    from rescomp.backends.torch_module import instantiate
    from rescomp.backends.torch_source import emit_source

    return instantiate(emit_source(graph(spec, params, **kwargs)), seed)


@dataclass(frozen=True, repr=False)
class BuildResult(_Result):
    """What :func:`build` wrote (``rescomp build``): file name -> SHA-256, and a one-line summary."""

    name: str
    target: str
    output: str
    files: dict[str, str]
    summary: str

    def __repr__(self) -> str:
        return f"BuildResult({self.name!r}, target={self.target!r}, output={self.output!r}, files={sorted(self.files)})"

    def _summary(self) -> tuple[str, list[tuple[str, str]]]:
        rows = [("target", self.target), ("folder", self.output), ("summary", self.summary)]
        return self.name, rows + [(f, sha[:16] + "…") for f, sha in sorted(self.files.items())]


def build(
    spec: SpecLike,
    output: str | Path,
    *,
    target: str = "torch",
    params: Mapping[str, Any] | None = None,
    input_shape: ShapeLike | None = None,
    seed: int = 0,
    weights: str | Path | None = None,
    precision: str = "fp32",
    opset: int | None = None,
    fold_bn: bool = True,
    batch: str = "1:8:32",
    workspace: int = 4096,
    device: str = "cpu",
) -> BuildResult:
    """Deployable artifacts for a target, with a build.json manifest (``rescomp build``). ``batch`` is
    the tensorrt profile / aoti dynamic range MIN:OPT:MAX, ``workspace`` the TensorRT limit in MiB."""
    from rescomp.backends.build import TARGETS, BuildOptions
    from rescomp.backends.build import build as run
    from rescomp.extras import needs
    from rescomp.fsutil import output_path

    if target not in TARGETS:
        raise UsageError(f"error: unknown target '{target}' (hint: choose one of {', '.join(TARGETS)})")
    if device not in ("cpu", "cuda"):
        raise UsageError(f"error: unknown device '{device}' (hint: cpu or cuda)")
    g = graph(spec, params, input_shape=input_shape)
    folder = output_path(str(output), "output")
    opts = BuildOptions(
        target=target,
        seed=seed,
        weights=None if weights is None else Path(weights),
        precision=precision,
        opset=opset,
        fold_bn=fold_bn,
        profile=batch,
        workspace_mib=workspace,
        device=device,
        origin=str(spec) if isinstance(spec, str | Path) and "\n" not in str(spec) else "",
    )
    extra = {"torch": "torch", "onnx": "onnx", "tensorrt": "tensorrt", "aoti": "torch"}[target]
    with needs(extra, f"building for {target}"):
        made = run(g, folder, opts)
    return BuildResult(g.name, target, str(folder), dict(made.files), made.summary)


@dataclass(frozen=True, repr=False)
class BudgetResult(_Result):
    """One budget: the model's value against the limit."""

    key: str
    label: str
    value: int
    limit: int
    passed: bool
    over: float | None

    def __repr__(self) -> str:
        return f"BudgetResult({self.label}: {self.value:,} {'<=' if self.passed else '>'} {self.limit:,})"

    def _summary(self) -> tuple[str, list[tuple[str, str]]]:
        return self.label, [("value", f"{self.value:,}"), ("limit", f"{self.limit:,}")]


@dataclass(frozen=True, repr=False)
class CheckResult(_Result):
    """Budgets against one model (``rescomp check --json``, schema ``rescomp.check/1``). True when every
    budget holds."""

    name: str
    passed: bool
    budgets: tuple[BudgetResult, ...]
    schema: str = "rescomp.check/1"

    def __bool__(self) -> bool:
        return self.passed

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "name": self.name, "passed": self.passed, "budgets": _plain(self.budgets)}

    def to_markdown(self) -> str:
        """The Markdown table ``rescomp check --markdown`` prints (for a CI job summary)."""
        from rescomp.reports.compare import BudgetResult as Row
        from rescomp.reports.compare import check_markdown

        return check_markdown(self.name, [Row(b.key, b.label, b.value, b.limit) for b in self.budgets])

    def __repr__(self) -> str:
        broken = [b.label for b in self.budgets if not b.passed]
        verdict = "within budget" if self.passed else f"over budget: {', '.join(broken)}"
        return f"CheckResult({self.name!r}, {verdict})"

    def _summary(self) -> tuple[str, list[tuple[str, str]]]:
        rows = [
            (
                b.label,
                f"{b.value:,} {'<=' if b.passed else '>'} {b.limit:,}" + ("" if b.passed else f" (+{b.over:.1%})"),
            )
            for b in self.budgets
        ]
        return f"{self.name}: {'within budget' if self.passed else 'over budget'}", rows


def _model(source: SpecLike | AnalysisResult, overrides: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A model dictionary and its title from an analysis result, an analysis JSON file or a spec."""
    from rescomp.reports.compare import is_analysis_file, load_model

    if isinstance(source, AnalysisResult):
        return source.to_dict(), source.title
    if isinstance(source, str | Path) and "\n" not in str(source) and is_analysis_file(str(source)):
        if any(v is not None and v != {} for v in overrides.values()):
            raise UsageError(f"error: {source} is an analysis JSON file; params, input_shape and batch apply to specs")
        model = load_model(str(source), None)
        return model, model["name"]
    result = analyze(source, **overrides)
    return result.to_dict(), result.title


def check(
    spec: SpecLike | AnalysisResult,
    *,
    max_params: int | str | None = None,
    max_macs: int | str | None = None,
    max_flops: int | str | None = None,
    max_activation_bytes: int | str | None = None,
    max_weights_bytes: int | str | None = None,
    params: Mapping[str, Any] | None = None,
    input_shape: ShapeLike | None = None,
    batch: int | None = None,
) -> CheckResult:
    """Budgets (``rescomp check``): numbers or strings with k M G T / Ki Mi Gi suffixes (``"4.1G"``).
    ``spec`` may also be an analysis JSON file or an :class:`AnalysisResult`. Never raises for a broken
    budget: the result says (``passed``, ``bool(result)``)."""
    from rescomp.reports.compare import Budget, evaluate_budgets

    wanted = [
        ("max_params", max_params, "params", "parameters"),
        ("max_macs", max_macs, "macs", "MACs"),
        ("max_flops", max_flops, "flops", "FLOPs"),
        ("max_activation_bytes", max_activation_bytes, "activation_bytes_peak", "peak activation bytes"),
        ("max_weights_bytes", max_weights_bytes, "weights_bytes", "weight bytes"),
    ]
    budgets = [Budget(key, label, _limit(value, opt)) for opt, value, key, label in wanted if value is not None]
    if not budgets:
        raise UsageError("error: give at least one budget (hint: max_params='25M', max_macs='4.1G')")
    model, title = _model(spec, {"params": params, "input_shape": input_shape, "batch": batch})
    results = evaluate_budgets(model, budgets)
    rows = tuple(BudgetResult(**r.to_dict()) for r in results)
    return CheckResult(title, all(r.passed for r in results), rows)


def _limit(value: int | str, option: str) -> int:
    from rescomp.reports.compare import parse_size

    if isinstance(value, bool) or not isinstance(value, int | str):
        raise UsageError(f"error: {option} must be a number or a string such as '25M', not {type(value).__name__}")
    return parse_size(str(value), option)


@dataclass(frozen=True, repr=False)
class DiffResult(_Result):
    """What changed from A to B (``rescomp diff --json``, schema ``rescomp.diff/1``): each total and each
    stage's MACs and params as ``{"a", "b", "change", "relative"}``."""

    a: str
    b: str
    totals: dict[str, dict[str, Any]]
    stages: tuple[dict[str, Any], ...]
    schema: str = "rescomp.diff/1"
    _models: tuple[dict[str, Any], dict[str, Any]] | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "a": self.a, "b": self.b, "totals": self.totals, "stages": list(self.stages)}

    def rows(self) -> tuple[list[str], list[list[str]]]:
        """The table ``rescomp diff`` prints: header and rows of text."""
        from rescomp.reports.compare import diff_rows

        assert self._models is not None
        header, rows = diff_rows(*self._models)
        header[1:3] = [f"A: {self.a}", f"B: {self.b}"]
        return header, rows

    def to_markdown(self) -> str:
        """The Markdown table ``rescomp diff --markdown`` prints."""
        from rescomp.reports.document import Table
        from rescomp.reports.markdown import table

        header, rows = self.rows()
        return "\n".join(table(Table(header, rows, "lrrrr"))) + "\n"

    def __repr__(self) -> str:
        macs, params = self.totals["macs"], self.totals["params"]
        return f"DiffResult({self.a!r} -> {self.b!r}, MACs {macs['change']:+,}, params {params['change']:+,})"

    def _summary(self) -> tuple[str, list[tuple[str, str]]]:
        return f"{self.a} -> {self.b}", [tuple(r) for r in self.rows()[1]]  # type: ignore[misc]

    def _repr_html_(self) -> str:
        header, rows = self.rows()
        return _table_html(f"{self.a} -> {self.b}", rows, header)


def diff(
    a: SpecLike | AnalysisResult,
    b: SpecLike | AnalysisResult,
    *,
    params: Mapping[str, Any] | None = None,
    input_shape: ShapeLike | None = None,
    batch: int | None = None,
) -> DiffResult:
    """What changed from A to B (``rescomp diff``). Each may be a spec, an analysis JSON file or an
    :class:`AnalysisResult`; ``params`` apply to the specs that declare them."""
    from rescomp.reports.compare import diff_json

    models, titles = [], []
    for source in (a, b):
        mine = params
        if params and not isinstance(source, AnalysisResult):
            declared = _declared(source)
            mine = {k: v for k, v in params.items() if declared is None or k in declared}
        model, title = _model(source, {"params": mine or None, "input_shape": input_shape, "batch": batch})
        models.append(model)
        titles.append(title)
    if params:
        for key in params:
            if not any(key in (_declared(s) or ()) for s in (a, b) if not isinstance(s, AnalysisResult)):
                raise SpecError(f"no spec given declares the parameter '{key}'", _WHERE)
    doc = diff_json(models[0], models[1], (titles[0], titles[1]))
    return DiffResult(doc["a"], doc["b"], doc["totals"], tuple(doc["stages"]), _models=(models[0], models[1]))


def _declared(source: SpecLike) -> set[str] | None:
    """The parameters a spec declares and does not fix; None for an analysis JSON file."""
    from rescomp.reports.compare import is_analysis_file
    from rescomp.spec.load import load_spec

    src = _source(source)
    if isinstance(src, str | Path):
        if is_analysis_file(str(src)):
            return None
        spec, fixed = load_spec(src)
        return set(spec.params) - set(fixed)
    return set(src.params)


@dataclass(frozen=True, repr=False)
class ReportResult(_Result):
    """The report files written (``rescomp report``), by name, into ``output``."""

    output: str
    files: tuple[str, ...]

    def __repr__(self) -> str:
        return f"ReportResult({self.output!r}, {len(self.files)} files)"

    def _summary(self) -> tuple[str, list[tuple[str, str]]]:
        return f"report in {self.output}", [(f, "") for f in self.files]


def report(
    *specs: SpecLike,
    output: str | Path = "reports",
    library: bool = False,
    params: Mapping[str, Any] | None = None,
    input_shape: ShapeLike | None = None,
    batch: int | None = None,
) -> ReportResult:
    """Markdown, HTML, JSON and SVG reports per model (``rescomp report``); ``library=True`` adds every
    bundled spec, the library charts, README.md (the paper reproduction) and index.html."""
    from rescomp.extras import needs
    from rescomp.fsutil import output_path, preflight, write_files
    from rescomp.passes import analyze as run
    from rescomp.reports import library_files, model_files

    if not specs and not library:
        raise UsageError("error: give one or more specs, or library=True")
    if library and not specs and (params or input_shape is not None or batch is not None):
        raise UsageError(
            "error: params, input_shape and batch apply to the specs given; "
            "library=True reports each at its own settings"
        )
    folder = output_path(str(output), "output")
    preflight(folder, [], create=True)
    files: dict[str, bytes] = {}
    with needs("reports", "rescomp.report"):
        if library:
            files.update(library_files())
        for spec in specs:
            g = graph(spec, params, input_shape=input_shape, batch=batch)
            a = run(g)
            made = model_files(g, a, str(spec) if isinstance(spec, str | Path) else "", _title(g.name, params))
            clash = sorted(set(made) & set(files))
            if clash and any(files[n] != made[n] for n in clash):
                raise SpecError(
                    f"report file '{clash[0]}' would be written twice with other contents", Loc(str(folder))
                )
            files.update(made)
    write_files(folder, files, create=True)
    return ReportResult(str(folder), tuple(sorted(files)))


@dataclass(frozen=True, repr=False)
class ToolCheck(_Result):
    """One counter's total, explained term by term from rescomp's census (``residual`` must be 0)."""

    tool: str
    total: int | None
    explained: int
    residual: int | None
    terms: dict[str, int]
    explanation: str
    note: str

    def __repr__(self) -> str:
        if self.total is None:
            return f"ToolCheck({self.tool!r}, {self.note})"
        return f"ToolCheck({self.tool!r}, total={self.total:,}, residual={self.residual:,})"

    def _summary(self) -> tuple[str, list[tuple[str, str]]]:
        return self.tool, [("total", f"{self.total:,}" if self.total is not None else "-"), ("note", self.note)]


@dataclass(frozen=True, repr=False)
class CrosscheckResult(_Result):
    """The FLOP counters on the emitted module (``rescomp crosscheck --json``, schema
    ``rescomp.crosscheck/1``)."""

    name: str
    macs: int
    tools: tuple[ToolCheck, ...]
    schema: str = "rescomp.crosscheck/1"

    @property
    def explained(self) -> bool:
        """True when every counter that ran has a zero residual."""
        return not any(t.residual for t in self.tools if t.residual is not None)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "name": self.name, "macs": self.macs, "tools": _plain(self.tools)}

    def __repr__(self) -> str:
        ran = [t.tool for t in self.tools if t.total is not None]
        return f"CrosscheckResult({self.name!r}, macs={self.macs:,}, ran={ran}, explained={self.explained})"

    def _summary(self) -> tuple[str, list[tuple[str, str]]]:
        return f"{self.name}: rescomp MACs {self.macs:,}", [
            (t.tool, f"{t.total:,} (residual {t.residual:,})" if t.total is not None else t.note) for t in self.tools
        ]


DEFAULT_TOOLS = ("flopcounter", "fvcore", "ptflops", "ptflops-aten", "thop", "torchinfo")


def crosscheck(
    spec: SpecLike,
    *,
    tools: Sequence[str] | str = DEFAULT_TOOLS,
    params: Mapping[str, Any] | None = None,
    input_shape: ShapeLike | None = None,
    batch: int | None = None,
) -> CrosscheckResult:
    """Run each installed FLOP counter on the emitted module and explain its total from rescomp's census
    (``rescomp crosscheck``). A counter that is not installed gets a note, not a total."""
    from rescomp.crosscheck import FORMULAS
    from rescomp.crosscheck import crosscheck as run
    from rescomp.extras import needs
    from rescomp.passes import analyze as analyze_graph

    wanted = [t.strip() for t in (tools.split(",") if isinstance(tools, str) else tools) if t.strip()]
    unknown = [t for t in wanted if t not in FORMULAS]
    if unknown:
        raise UsageError(f"error: unknown tool '{unknown[0]}' (hint: {', '.join(FORMULAS)})")
    g = graph(spec, params, input_shape=input_shape, batch=batch)
    a = analyze_graph(g)
    with needs("crosscheck", "rescomp.crosscheck"):
        results = run(g, a, wanted)
    checks = tuple(
        ToolCheck(r.tool, r.total, r.predicted, r.residual, dict(r.terms), r.explanation(), r.note) for r in results
    )
    return CrosscheckResult(a.name, a.macs, checks)


__all__ = [
    "AnalysisResult",
    "BudgetResult",
    "BuildResult",
    "CheckResult",
    "CrosscheckResult",
    "DiffResult",
    "EmitResult",
    "LayerResult",
    "ReportResult",
    "SpecLike",
    "StageResult",
    "ToolCheck",
    "analyze",
    "build",
    "check",
    "crosscheck",
    "diff",
    "emit",
    "graph",
    "report",
    "to_source",
    "to_torch",
]

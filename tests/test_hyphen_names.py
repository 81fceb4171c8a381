"""Layer names with hyphens (torchvision's RegNet: ``trunk_output.block1.block1-0.proj.0.weight``).

A layer name part is identifier characters joined by single hyphens; '.' stays the path separator,
keywords and ``input`` stay refused, and names that expressions read (parameters, vars, a repeat's
index, block definitions) stay identifiers. A hyphenated name must survive every rendering: the
analysis and its JSON, the emitted torch module (``add_module("b-0", ...)`` and
``getattr(self, "b-0")`` where the container is not a chain, an ``OrderedDict`` key where it is; its
forward() variables legal identifiers), the weights (safetensors keys), ONNX export and onnxruntime,
the graph drawing (DOT quoting) and the HTML report.
"""

from __future__ import annotations

import html as html_text
import json
from pathlib import Path
from typing import Any

import pytest

from rescomp.errors import SpecError
from rescomp.ir import Graph, lint
from rescomp.passes import analyze
from rescomp.spec.load import build_graph, load_spec_text

#: a hyphenated seq, hyphenated blocks inside it (named through ${...}), a hyphenated op, a
#: non-chain block whose members are hyphenated (emitted with add_module/getattr), and inputs that
#: name hyphenated layers
TINY = """
name: tiny-hyphen
input: [3, 16, 16]
defaults: {conv: {bias: false}}
blocks:
  branchy:
    residual: false
    params: {width: null}
    layers:
      - {seq: left-path, inputs: input, layers: [{op: conv, out: width, kernel: 1}, {op: bn}]}
      - {op: conv, name: right-conv, out: width, kernel: 3, inputs: input}
      - {op: add, name: sum-all, inputs: [left-path, right-conv]}
      - {op: relu, name: act-out}
  basic:
    params: {width: null, stride: 1}
    layers:
      - {op: conv, name: conv-a, out: width, stride: stride}
      - {op: bn, name: bn-a}
    post: [{op: relu}]
layers:
  - {seq: stem-0, layers: [{op: conv, out: 8, stride: 2}, {op: bn}, {op: relu}]}
  - seq: trunk
    layers:
      - repeat: 2
        index: i
        layers:
          - {block: basic, name: "block1-${i}", width: 8 * (i + 1), stride: "2 if i == 1 else 1"}
  - {block: branchy, name: mix-1, width: 16}
  - {op: adaptive_avgpool, name: pool-out}
  - {op: flatten}
  - {op: linear, name: fc-head, out: 5}
"""


def tiny() -> Graph:
    return build_graph(load_spec_text(TINY))


def test_hyphenated_names_lower_and_analyse() -> None:
    g = tiny()
    lint(g)
    names = [n.name for n in g]
    for name in (
        "stem-0.0",
        "trunk.block1-0.conv-a",
        "trunk.block1-1.downsample.0",
        "mix-1.left-path.0",
        "mix-1.right-conv",
        "mix-1.sum-all",
        "fc-head",
    ):
        assert name in names, name
    a = analyze(g)
    assert a.output == (1, 5)
    from rescomp.passes import to_document

    doc = json.loads(json.dumps(to_document([a])))
    layers = {x["name"] for x in doc["models"][0]["layers"]}
    assert {"trunk.block1-1.conv-a", "mix-1.act-out"} <= layers


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("a--b", "name 'a--b' is not a valid layer name"),
        ("a-", "name 'a-' is not a valid layer name"),
        ("-a", "name '-a' is not a valid layer name"),
        ("1-a", "name '1-a' is not a valid layer name"),
        ("a.b", "name 'a.b' is not a valid layer name"),
        ("a b", "name 'a b' is not a valid layer name"),
        ("class", "name 'class' is not a valid layer name"),
        ("input", "'input' is reserved"),
    ],
)
def test_bad_layer_names_are_located_errors(name: str, message: str) -> None:
    text = f"name: t\ninput: [3, 8, 8]\nlayers:\n  - {{op: relu, name: '{name}'}}\n"
    with pytest.raises(SpecError) as err:
        build_graph(load_spec_text(text))
    assert message in str(err.value)
    assert err.value.loc is not None and (err.value.loc.line, err.value.loc.col) == (4, 22)


def test_an_interpolated_name_may_hold_hyphens_but_not_end_with_one() -> None:
    text = "name: t\ninput: [3, 8, 8]\nlayers:\n  - {repeat: 2, index: i, layers: [{op: relu, name: 'r${i}-'}]}\n"
    with pytest.raises(SpecError, match="name 'r\\$\\{i\\}-' gives 'r0-', which is not a valid layer name"):
        build_graph(load_spec_text(text))
    g = build_graph(load_spec_text(text.replace("'r${i}-'", "'r-${i}'")))
    assert [n.name for n in g if n.op == "relu"] == ["r-0", "r-1"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: t\nparams: {a-b: 1}\ninput: [3, 8, 8]\nlayers: [{op: relu}]\n", "name 'a-b' is not a valid identifier"),
        ("name: t\nvars: {a-b: 1}\ninput: [3, 8, 8]\nlayers: [{op: relu}]\n", "name 'a-b' is not a valid identifier"),
        (
            "name: t\ninput: [3, 8, 8]\nlayers: [{repeat: 2, index: i-j, layers: [{op: relu}]}]\n",
            "name 'i-j' is not a valid identifier",
        ),
        (
            "name: t\ninput: [3, 8, 8]\nblocks: {b-1: {layers: [{op: relu}]}}\nlayers: [{block: b-1}]\n",
            "name 'b-1' is not a valid identifier",
        ),
    ],
)
def test_names_that_expressions_read_stay_identifiers(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        build_graph(load_spec_text(text))


def test_the_schema_accepts_what_the_loader_accepts() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    yaml = pytest.importorskip("yaml")
    from rescomp.spec.schema import spec_schema

    validator = jsonschema.Draft202012Validator(spec_schema())
    assert list(validator.iter_errors(yaml.safe_load(TINY))) == []
    bad = yaml.safe_load(TINY.replace("fc-head", "fc--head"))
    assert list(validator.iter_errors(bad)) != []
    bad = yaml.safe_load(TINY.replace("index: i", "index: i-x"))
    assert list(validator.iter_errors(bad)) != []


def test_module_attribute_names() -> None:
    from rescomp.backends.names import check_attribute

    assert check_attribute("block1-0") == "block1-0"
    for bad in ("a.b", "a--b", "b-", "class", "_private", "forward"):
        with pytest.raises(SpecError):
            check_attribute(bad)


def test_emitted_module_loads_and_runs_with_hyphenated_members() -> None:
    torch = pytest.importorskip("torch")
    from rescomp.backends.torch_module import instantiate
    from rescomp.backends.torch_source import emit_source
    from rescomp.backends.weights import expected_state

    g = tiny()
    source = emit_source(g)
    compile(source.text, source.filename, "exec")
    assert 'self.add_module("left-path", ' in source.text  # a member of a block that is not a chain
    assert 'getattr(self, "left-path")(x)' in source.text
    assert '"block1-0"' in source.text  # a key of the seq's OrderedDict
    model = instantiate(source, seed=0).eval()
    state = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert state == expected_state(g)
    assert "trunk.block1-0.conv-a.weight" in state and "mix-1.left-path.0.weight" in state
    with torch.no_grad():
        y = model(torch.zeros(2, 3, 16, 16))
    assert tuple(y.shape) == (2, 5)
    model.load_state_dict(model.state_dict(), strict=True)


def test_build_onnx_and_weights_round_trip(tmp_path: Path, cli: Any) -> None:
    np = pytest.importorskip("numpy")
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    torch = pytest.importorskip("torch")
    from rescomp.backends.onnx_export import check_onnx, export_onnx
    from rescomp.backends.torch_module import instantiate
    from rescomp.backends.torch_source import emit_source
    from rescomp.backends.weights import read_state
    from tests.test_onnx import randomized_state

    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    built = cli("build", str(spec), "--target", "torch", "-o", str(tmp_path / "torch"))
    assert built.code == 0, built.err
    saved = read_state(tmp_path / "torch" / "model.safetensors")  # safetensors keys keep the hyphens
    assert "trunk.block1-1.downsample.0.weight" in saved
    onnx_built = cli(
        "build", str(spec), "--target", "onnx", "--weights", str(tmp_path / "torch" / "model.safetensors"),
        "-o", str(tmp_path / "onnx"),
    )  # fmt: skip
    assert onnx_built.code == 0, onnx_built.err

    g = tiny()
    state = randomized_state(g)
    model = instantiate(emit_source(g)).eval()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    x = np.random.default_rng(0).standard_normal((2, 3, 16, 16)).astype(np.float32)
    with torch.no_grad():
        reference = model(torch.from_numpy(x)).numpy()
    for fold in (True, False):
        exported = export_onnx(g, state, fold_bn=fold)
        check_onnx(exported.model, g)
        owners = {n.name.split("/")[0] for n in exported.model.graph.node}
        assert "mix-1.right-conv" in owners and "trunk.block1-0.conv-a" in owners
        session = ort.InferenceSession(exported.model.SerializeToString(), providers=["CPUExecutionProvider"])
        out = session.run(None, {"input": x})[0]
        assert float(np.abs(out - reference).max() / np.abs(reference).max()) <= 1e-4, fold


def test_graph_drawing_and_reports_quote_hyphenated_names() -> None:
    from rescomp.reports import model_files
    from rescomp.reports.graph_svg import dot_source

    g = tiny()
    a = analyze(g)
    dot = dot_source(g, a)
    assert '"mix-1.right-conv"' in dot  # quoted: '-' is not a DOT identifier character
    files = model_files(g, a, "tiny.yaml")
    svg = html_text.unescape(files["tiny-hyphen.graph.svg"].decode())  # Graphviz writes '-' as &#45;
    assert ">mix-1.right-conv<" in svg
    html = files["tiny-hyphen.html"].decode()
    assert "<html" in html.lower()
    doc = json.loads(files["tiny-hyphen.json"])
    assert any(x["name"] == "mix-1.sum-all" for x in doc["models"][0]["layers"])


#: parameter layers (a layer scale) with a positional and a hyphenated name: registered with
#: register_parameter, not add_module (review finding: the module's constructor raised)
PARAMETERS = """
name: scales
input: [3, 8, 8]
layers:
  - seq: body
    layers:
      - {op: conv, out: 4}
      - {op: scale, init: 0.5}
      - {op: scale, name: ls-1, init: 2.0}
  - {op: adaptive_avgpool}
  - {op: flatten}
  - {op: linear, out: 3}
"""


def test_parameter_layers_with_positional_and_hyphenated_names() -> None:
    torch = pytest.importorskip("torch")
    np = pytest.importorskip("numpy")
    ort = pytest.importorskip("onnxruntime")
    from rescomp.backends.onnx_export import export_onnx
    from rescomp.backends.torch_module import instantiate
    from rescomp.backends.torch_source import emit_source

    g = build_graph(load_spec_text(PARAMETERS))
    source = emit_source(g)
    assert 'self.register_parameter("1", layer_scale(4, 0.5))' in source.text
    assert 'self.register_parameter("ls-1", layer_scale(4, 2.0))' in source.text
    model = instantiate(source, 0).eval()
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    assert state["body.1"].shape == (4, 1, 1) and state["body.ls-1"].shape == (4, 1, 1)
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = model(x).numpy()
    onnx_model = export_onnx(g, state).model
    got = ort.InferenceSession(onnx_model.SerializeToString()).run(None, {"input": x.numpy()})[0]
    assert np.abs(got - want).max() <= 1e-5


def test_a_parameter_layer_named_output_is_a_located_onnx_error() -> None:
    pytest.importorskip("onnx")
    np = pytest.importorskip("numpy")
    from rescomp.backends.onnx_export import export_onnx
    from rescomp.backends.weights import expected_state

    text = "name: o\ninput: [3, 4, 4]\nlayers:\n  - {op: conv, out: 2}\n  - {op: scale, name: output}\n"
    g = build_graph(load_spec_text(text))
    weights = {k: np.ones(s, dtype=np.float32) for k, s in expected_state(g).items()}
    with pytest.raises(SpecError, match="cannot be exported to ONNX") as err:
        export_onnx(g, weights)
    assert err.value.loc is not None and err.value.loc.line == 5

"""benchmarks/gpu_resnet50.py: the dry run on the CPU goes through the same code paths as the GPU run
(every variant, the budget, the results file row by row); its TensorRT variant runs on the recording
fake of the TensorRT API."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu_resnet50.py"
VARIANTS = [
    "eager fp32 (reference)",
    "eager fp16 channels_last",
    "eager bf16 channels_last",
    "TensorRT fp16 (rescomp build)",
    "torch.compile fp16 + CUDA graphs",
    "torch.compile fp16, no CUDA graphs",
    "AOTInductor fp16 (rescomp build)",
    "TensorRT bf16 (rescomp build)",
]


def _script() -> Any:
    spec = importlib.util.spec_from_file_location("gpu_resnet50", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_resnet50"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]


def _table(text: str) -> tuple[list[str], list[list[str]]]:
    """The one Markdown table of a results file: its header and rows, checked for shape."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| variant |"))
    assert lines[start - 1] == "" and re.fullmatch(r"\|( --- \|)+", lines[start + 1]), lines[start - 1 : start + 2]
    head = [c.strip() for c in lines[start].strip("|").split(" | ")]
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            assert line == "", f"the table must end with a blank line, not {line!r}"
            break
        cells = _cells(line)
        assert len(cells) == len(head), line
        rows.append(cells)
    assert "<!--" not in text
    return head, rows


def _run(tmp_path: Path, *args: str, timeout: int = 600) -> tuple[subprocess.CompletedProcess[str], str]:
    out = tmp_path / "results.md"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--dry-run", "--out", str(out), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
    )
    return proc, out.read_text() if out.exists() else ""


@pytest.mark.slow
def test_dry_run(tmp_path: Path) -> None:
    proc, text = _run(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert text and proc.stdout == text  # every row went to the file and to stdout
    for item in ("- date: ", "- settings: torch.backends.cuda.matmul.allow_tf32=False", "cudnn.benchmark=True"):
        assert item in text
    head, rows = _table(text)
    assert head[:4] == ["variant", "batch", "setup s", "median ms"] and "max rel err vs eager fp32" in head
    by = {(r[0], r[1]): dict(zip(head, r, strict=True)) for r in rows}
    assert sorted({r[0] for r in rows}, key=VARIANTS.index) == VARIANTS
    from rescomp.backends.tensorrt_build import probe_host

    trt_missing = bool(probe_host().missing)
    for name in VARIANTS:
        for batch in ("1", "2", "4"):
            row = by[(name, batch)]
            if name.startswith("TensorRT") and trt_missing:
                assert row["note"].startswith("skipped: ") and row["median ms"] == "-", row
                continue
            assert not row["note"].startswith(("failed", "skipped")), row
            assert float(row["median ms"]) > 0 and float(row["IQR ms"]) >= 0
            if name.startswith("eager fp32"):
                assert row["max rel err vs eager fp32"] == "reference"
            else:
                limit = 2e-2 if "bf16" in name else 2e-3
                assert float(row["max rel err vs eager fp32"]) <= limit, row
                assert row["top-1 agree"].endswith("%")
    assert re.search(r"\nTotal wall time \d+ s, 24 rows\.\n$", text)


def test_budget_spent_stops_cleanly(tmp_path: Path) -> None:
    """A budget already spent when the work starts: the alarm interrupts, the file says where, the
    Markdown stays valid, exit code 2."""
    proc, text = _run(tmp_path, "--budget", "1", timeout=300)
    assert proc.returncode == 2, proc.stderr[-3000:]
    _table(text)
    assert re.search(r"\n\*\*Time budget of 1 s spent during .+\.\*\*\n", text), text[-500:]
    assert "Traceback" not in proc.stderr


def test_tensorrt_variant_on_the_fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rescomp.backends import tensorrt_build as trt_b
    from tests.fake_tensorrt import FakeTensorRT
    from tests.test_tensorrt import GPU, _exact

    gpu = _script()
    fake = FakeTensorRT(compute=_exact("resnet_cifar", {"n": 1}))
    monkeypatch.setitem(sys.modules, "tensorrt", fake.module)
    monkeypatch.setattr(trt_b, "cuda_ops", lambda: fake.cuda)
    monkeypatch.setattr(trt_b, "probe_host", lambda: trt_b.Host(**{**GPU.__dict__, "missing": []}))
    settings = gpu.parse_args(["--dry-run", "--out", str(tmp_path / "r.md")])
    import rescomp
    from rescomp.backends.aoti_build import typed_module
    from rescomp.backends.torch_source import emit_source
    from rescomp.backends.weights import seeded_state

    graph = rescomp.graph("resnet_cifar", {"n": 1})
    ctx = gpu.Context(settings, graph, emit_source(graph), seeded_state(graph, 0), (3, 32, 32), 1)
    reference = typed_module(ctx.source, ctx.state, "fp32")
    for b in settings.batches:
        ctx.inputs[b] = torch.randn(b, 3, 32, 32)
        with torch.no_grad():
            ctx.refs[b] = reference(ctx.inputs[b])
    results = gpu.Results(tmp_path / "r.md")
    variant = gpu.Variant("TensorRT fp16 (rescomp build)", "tensorrt", gpu.make_tensorrt("fp16"))
    gpu.run_variant(variant, ctx, results, gpu.Doing(tmp_path / "doing.txt"))
    rows = [_cells(line) for line in (tmp_path / "r.md").read_text().splitlines()]
    assert [r[1] for r in rows] == ["1", "2", "4"] and all(len(r) == len(gpu.COLUMNS) for r in rows)
    for r in rows:
        assert float(r[3]) > 0 and float(r[9]) < 1e-6 and r[10] == "100.0%", r
    assert fake.count("build") == 1 and fake.count("deserialize") == 1  # one engine for the profile 1:2:4
    assert dict(fake.calls)["profile"] == ("input", [1, 3, 32, 32], [2, 3, 32, 32], [4, 3, 32, 32])
    assert all(set(w) <= {("execute", 4242)} for w in fake.cuda.windows)
    # bf16 on a Turing GPU is a skipped row, not a failure
    t4 = trt_b.Host(tensorrt="10.13.0", gpu="Tesla T4", capability="7.5", free_memory=14 << 30, total_memory=15 << 30)
    monkeypatch.setattr(trt_b, "probe_host", lambda: t4)
    gpu.run_variant(
        gpu.Variant("TensorRT bf16", "tensorrt", gpu.make_tensorrt("bf16")), ctx, results, gpu.Doing(tmp_path / "d")
    )
    assert (tmp_path / "r.md").read_text().count("skipped: bf16 needs a GPU of compute capability 8.0") == 3


def test_watchdog_ends_a_process_stuck_past_the_budget(tmp_path: Path) -> None:
    """The watchdog is a separate process: it stops the benchmark even inside a call that never gives
    Python control back, and says at the end of the results what was running."""
    gpu = _script()
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        results = tmp_path / "r.md"
        results.write_text("| a | b |\n")
        doing = gpu.Doing(tmp_path / "doing.txt", "TensorRT fp16 (setup)")
        dog = gpu.start_watchdog(results, __import__("time").time() + 0.5, doing, pid=victim.pid)
        assert victim.wait(timeout=30) != 0 and dog.wait(timeout=30) == 3
        assert "\n\n**Stopped by the watchdog " in results.read_text()
        assert "TensorRT fp16 (setup) did not return within the budget" in results.read_text()
    finally:
        victim.kill()
    # a benchmark that ends first leaves the watchdog nothing to do
    quick = subprocess.Popen([sys.executable, "-c", "pass"])
    quick.wait()
    dog = gpu.start_watchdog(None, __import__("time").time() + 60, doing, pid=quick.pid)
    assert dog.wait(timeout=30) == 0

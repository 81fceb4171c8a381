"""Adaptive average pooling's FLOP count is closed-form: no loop over the output size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rescomp.ops.adaptive_avgpool import _adaptive_spans


def spans_by_loop(n: int, m: int) -> int:
    """torch's windows, one by one: window i of m over n inputs is [floor(i*n/m), ceil((i+1)*n/m))."""
    return sum(-(-((i + 1) * n) // m) - (i * n) // m for i in range(m))


def test_closed_form_equals_the_loop() -> None:
    for n in range(1, 61):
        for m in range(1, 61):
            assert _adaptive_spans(n, m) == spans_by_loop(n, m), (n, m)


def test_closed_form_equals_torch_windows() -> None:
    """Measure torch's window lengths: pooling one-hot rows gives 1/len inside window i, 0 outside."""
    torch = pytest.importorskip("torch")
    for n in range(1, 41):
        eye = torch.eye(n, dtype=torch.float64).reshape(n, 1, n)  # batch j is the one-hot of position j
        for m in range(1, 41):
            pooled = torch.nn.functional.adaptive_avg_pool1d(eye, m)[:, 0, :]  # (position j, window i)
            lengths = [round(1 / float(pooled[:, i].max())) for i in range(m)]
            assert sum(lengths) == _adaptive_spans(n, m), (n, m)


HUGE = """name: t
input: [3, 32, 32]
layers:
  - {op: adaptive_avgpool, size: 1000000000000}
  - {op: adaptive_avgpool}
  - {op: flatten}
  - {op: linear, out: 10}
"""


def test_huge_output_size_answers_at_once(tmp_path: Path) -> None:
    """An output size of 10^12 used to loop 10^12 times (a hang); now it is an exact answer at once, or a
    located error should a size limit refuse it. A subprocess with a timeout makes a hang a failure."""
    spec = tmp_path / "huge.yaml"
    spec.write_text(HUGE)
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    code = "import sys; from rescomp.cli.main import main; sys.argv = ['rescomp', *sys.argv[1:]]; main()"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, "analyze", str(spec), "--json", "--per-layer"],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
            cwd=tmp_path,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("rescomp analyze did not answer within 30 s")
    assert "Traceback" not in proc.stderr, proc.stderr
    if proc.returncode != 0:  # a size limit may refuse it: then exit 1 with the layer's line
        assert proc.returncode == 1 and "huge.yaml:4:" in proc.stderr, proc.stderr
        return
    (model,) = json.loads(proc.stdout)["models"]
    big = 10**12
    up, down = (layer for layer in model["layers"] if layer["op"] == "adaptive_avgpool")
    assert up["output"] == [1, 3, big, big]
    assert up["flops"] == 3 * (32 + big - 32) ** 2  # spans along each axis: n + m - gcd(n, m)
    assert down["flops"] == 3 * big * big  # from 10^12 to 1: every element once
    assert model["output"] == [1, 10]

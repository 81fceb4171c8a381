"""fp16 ONNX against fp32 ONNX in onnxruntime (CPU): the error statistics docs/backends.md quotes.

Usage:  .venv/bin/python benchmarks/precision_error.py
Seeded (untrained) weights with randomised BN statistics, batch 2 of standard-normal input.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import rescomp
from rescomp.backends.onnx_export import export_onnx
from rescomp.backends.tensorrt_build import error_stats
from tests.test_onnx import ort_output, randomized_state


def main() -> None:
    print(f"Date: {dt.date.today().isoformat()}; `python benchmarks/precision_error.py`\n")
    print("| spec | max abs error / max abs fp32 | mean abs error | p99 abs error | top-1 agreement |")
    print("| --- | --- | --- | --- | --- |")
    for name in ["resnet_cifar", "preact_resnet_cifar", "resnet18", "resnet50"]:
        graph = rescomp.graph(name)
        state = randomized_state(graph)
        x = np.random.default_rng(3).standard_normal((2, *rescomp.analyze(name).input[1:])).astype(np.float32)
        fp32 = ort_output(export_onnx(graph, state).model, x)
        fp16 = ort_output(export_onnx(graph, state, precision="fp16").model, x)
        s = error_stats(fp32, fp16)
        print(f"| {name} | {s['max_rel']:.1e} | {s['mean_abs']:.1e} | {s['p99_abs']:.1e} | {s['top1_agreement']:.0%} |")


if __name__ == "__main__":
    main()

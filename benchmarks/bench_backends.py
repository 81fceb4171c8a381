"""Benchmark: ResNet-50 on the CPU at batch 1 and 8, eager PyTorch vs onnxruntime vs AOTInductor,
through `rescomp bench`. Writes benchmarks/results/backends_cpu.md with the machine and the date.

Usage:  .venv/bin/python benchmarks/bench_backends.py [--runs 20] [--spec resnet50]
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
from pathlib import Path

from measure import machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="resnet50")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "backends_cpu.md")
    args = parser.parse_args()
    exe = Path(sys.executable).parent / "rescomp"
    import onnxruntime
    import torch

    parts = [
        f"Command: `python benchmarks/bench_backends.py --spec {args.spec} --runs {args.runs}`, which runs "
        f"`rescomp bench {args.spec} --target eager,onnx,aoti --batch B --runs {args.runs} --markdown`  ",
        f"Machine: {machine()}; torch {torch.__version__}, onnxruntime {onnxruntime.__version__}  ",
        f"Date: {dt.date.today().isoformat()}. Seeded fp32 weights, the same random input for every target; "
        "each backend uses its default CPU threading.",
        "",
    ]
    for batch in (1, 8):
        cmd = [
            str(exe),
            "bench",
            args.spec,
            "--target",
            "eager,onnx,aoti",
            "--batch",
            str(batch),
            "--runs",
            str(args.runs),
            "--markdown",
        ]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        parts += [out.strip(), ""]
    text = "\n".join(parts)
    sys.stdout.write(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()

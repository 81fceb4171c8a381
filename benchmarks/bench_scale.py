"""Scale: a residual net of N basic blocks (100 to 35,000: the node limit), analysed by `rescomp analyze --json`.

Usage:  .venv/bin/python benchmarks/bench_scale.py [--runs 3] [--out benchmarks/results/scale.md]
Whole-process wall time and peak RSS (fresh process, os.wait4), and in-process time from spec text
to numbers; medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from measure import publish, run_fresh

SPEC = """name: chain{n}
input: [3, 32, 32]
defaults: {{conv: {{bias: false}}}}
blocks:
  basic:
    params: {{width: null, stride: 1}}
    layers:
      - {{op: conv, out: width, stride: stride}}
      - {{op: bn}}
      - {{op: relu}}
      - {{op: conv, out: width}}
      - {{op: bn}}
    post: [{{op: relu}}]
layers:
  - {{op: conv, out: 16}}
  - {{stage: layer1, block: basic, repeat: {n}, width: 16}}
  - {{op: adaptive_avgpool}}
  - {{op: flatten}}
  - {{op: linear, out: 10}}
"""


def spec_text(n: int) -> str:
    return SPEC.format(n=n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    exe = Path(sys.executable).parent / "rescomp"
    from rescomp.passes import analyze
    from rescomp.spec.load import build_graph, load_spec_text

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (100, 1000, 10000, 35000):  # 35,000 blocks: 245,005 nodes, just under the limit
            path = Path(tmp) / f"chain{n}.yaml"
            path.write_text(spec_text(n))
            procs = []
            for _ in range(args.runs):
                run = run_fresh([str(exe), "analyze", str(path), "--json"])
                assert run is not None and run.code == 0
                procs.append((run.wall_s, run.rss_mib))
            inproc = []
            for _ in range(args.runs):
                start = time.perf_counter()
                result = analyze(build_graph(load_spec_text(spec_text(n))))
                inproc.append(time.perf_counter() - start)
            rows.append(
                f"| {n:,} | {len(result.layers):,} | {statistics.median(p[0] for p in procs):.2f} s | "
                f"{statistics.median(p[1] for p in procs):.0f} MiB | {statistics.median(inproc):.3f} s |"
            )
    publish(
        f"python benchmarks/bench_scale.py --runs {args.runs}",
        "medians.",
        "| blocks | IR nodes | whole process (`analyze --json`) | peak RSS | in-process spec→numbers |",
        rows,
        args.out,
    )


if __name__ == "__main__":
    main()

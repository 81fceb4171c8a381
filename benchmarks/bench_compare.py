"""Compare two rescomp installations on the same analysis cases: a regression check for a change.

Usage:  python benchmarks/bench_compare.py --before OLD_VENV --after NEW_VENV [--runs 7] [--out FILE]
Each case runs interleaved (before, after, before, ...) so both see the same machine load. Whole
process: `rescomp analyze CASE --json` in a fresh process (wall time, peak RSS); in process: spec
text to numbers (`build_graph` + `analyze`) timed inside a fresh interpreter of that venv. Medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from bench_scale import spec_text
from measure import publish, run_fresh

CASES = {
    "resnet50": ["resnet50"],
    "resnet152": ["resnet152"],
    "resnet_cifar n=200": ["resnet_cifar", "--set", "n=200"],
    "chain1000": ["@chain1000"],
    "chain10000": ["@chain10000"],
}

IN_PROCESS = """
import sys, time
from rescomp.lower import Overrides
from rescomp.errors import Loc
from rescomp.passes import analyze
from rescomp.spec.load import build_graph
args = sys.argv[1:]
sets = {}
if len(args) == 3:
    k, v = args[2].split("=")
    sets[k] = (int(v), Loc("<bench>"))
analyze(build_graph(args[0], Overrides(sets)))  # warm: imports and caches
start = time.perf_counter()
analyze(build_graph(args[0], Overrides(sets)))
print(time.perf_counter() - start)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="venv of the baseline")
    parser.add_argument("--after", type=Path, required=True, help="venv of the change")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    venvs = {"before": args.before, "after": args.after}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, case in CASES.items():
            if case[0].startswith("@chain"):
                n = int(case[0][len("@chain") :])
                path = Path(tmp) / f"chain{n}.yaml"
                path.write_text(spec_text(n))
                case = [str(path)]
            whole: dict[str, list[tuple[float, float]]] = {k: [] for k in venvs}
            inproc: dict[str, list[float]] = {k: [] for k in venvs}
            for _ in range(args.runs):
                for key, venv in venvs.items():
                    run = run_fresh([str(venv / "bin" / "rescomp"), "analyze", *case, "--json"])
                    assert run is not None and run.code == 0, run
                    whole[key].append((run.wall_s, run.rss_mib))
                    timed = run_fresh([str(venv / "bin" / "python"), "-c", IN_PROCESS, *case])
                    assert timed is not None and timed.code == 0, timed
                    inproc[key].append(float(timed.stdout))
            w = {k: statistics.median(x[0] for x in v) for k, v in whole.items()}
            r = {k: statistics.median(x[1] for x in v) for k, v in whole.items()}
            i = {k: statistics.median(v) for k, v in inproc.items()}
            rows.append(
                f"| {label} | {w['before']:.3f} s | {w['after']:.3f} s | {w['after'] / w['before'] - 1:+.1%} | "
                f"{r['before']:.0f} / {r['after']:.0f} MiB | {i['before'] * 1000:.1f} ms | "
                f"{i['after'] * 1000:.1f} ms | {i['after'] / i['before'] - 1:+.1%} |"
            )
            print(rows[-1], file=sys.stderr)
    publish(
        f"python benchmarks/bench_compare.py --before {args.before} --after {args.after} --runs {args.runs}",
        "medians, runs interleaved.",
        "| case | whole process before | after | change | peak RSS before / after | in process before | after "
        "| change |",
        rows,
        args.out,
    )


if __name__ == "__main__":
    main()

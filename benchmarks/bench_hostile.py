"""Hostile inputs: time and peak memory of `rescomp analyze` on expansion bombs and absurd sizes.

Usage:  .venv/bin/python benchmarks/bench_hostile.py [--out benchmarks/results/hostile.md]
Each case runs in a fresh process (peak RSS from os.wait4); every case must end with a clear error
(exit 1) or an answer (exit 0), fast, with bounded memory.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from measure import publish, run_fresh


def cases() -> dict[str, str]:
    laughs = ["name: bomb", "input: [3, 32, 32]", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    laughs += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    laughs.append("layers: [{op: relu}]")
    merge = ["name: merge", "input: [3, 32, 32]", "m0: &m0 {k0: 1, k1: 2, k2: 3, k3: 4}"]
    merge += [
        f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], x{i}: [*m{i - 1}, *m{i - 1}, *m{i - 1}]}}" for i in range(1, 24)
    ]
    merge.append("layers: [{op: relu}]")
    return {
        "billion laughs (10^10 values by aliases)": "\n".join(laughs) + "\n",
        "merge-key and alias bomb (3^23 values)": "\n".join(merge) + "\n",
        "nesting 10,000 deep": "name: deep\ninput: [3, 8, 8]\nlayers: " + "[" * 10000 + "]" * 10000 + "\n",
        "10^12 output channels": "name: wide\ninput: [3, 32, 32]\nlayers:\n  - {op: conv, out: 1000000000000}\n",
        "10^9-pixel input": "name: px\ninput: [3, 31623, 31623]\nlayers:\n  - {op: conv, out: 16}\n",
        "10^6 repeats": "name: rep\ninput: [3, 8, 8]\nlayers:\n  - {repeat: 1000000, layers: [{op: relu}]}\n",
        "exponent tower 10**10**10": "name: pow\ninput: [3, 8, 8]\nlayers:\n  - {op: conv, out: '10**10**10'}\n",
        "100 kB expression": "name: expr\ninput: [3, 8, 8]\nlayers:\n  - {op: conv, out: '" + "1+" * 50000 + "1'}\n",
        # issue 12: the attacker's list (layer 0 of BASE replaced)
        "round(10**18, -10**18)": _base('{op: conv, out: "round(10**18, -10**18)"}'),
        "'%3900000000d' % 1": _base("{op: conv, out: \"'%3900000000d' % 1\"}"),
        "([1]*10000)*10000": _base('{op: conv, out: "len(([1]*10000)*10000)"}'),
        "1e18 ** 64": _base('{op: conv, out: "int(1e18 ** 64)"}'),
        "-'a'": _base("{op: conv, out: \"-'a'\"}"),
        "literal of 5,000 nines": _base("{op: conv, out: " + "9" * 5000 + "}"),
        "YAML base-60 literal": _base("{op: conv, out: 1:00:00:00:00:00:00:00:00:00:00:00}"),
        "adaptive_avgpool size 10^12": _base("{op: adaptive_avgpool, size: 1000000000000}"),
        "100,000 unnamed layers in a repeat": _base("{repeat: 100000, layers: [{op: relu}]}"),
        "nested repeat 1000 of 1000": _base("{repeat: 1000, layers: [{repeat: 1000, layers: [{op: relu}]}]}"),
        "plain file of 150,000 layers": "name: flat\ninput: [3, 8, 8]\nlayers:\n" + "  - {op: relu}\n" * 150000,
        "9 MiB file": "name: big\ninput: [3, 8, 8]\nlayers: [{op: relu}]\n" + "#" * (9 << 20) + "\n",
    }


BASE = """name: t
input: [3, 32, 32]
layers:
  - {layer}
  - {{op: adaptive_avgpool}}
  - {{op: flatten}}
  - {{op: linear, out: 10}}
"""


def _base(layer: str) -> str:
    return BASE.format(layer=layer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    exe = Path(sys.executable).parent / "rescomp"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        fifo = Path(tmp) / "fifo.yaml"
        os.mkfifo(fifo)
        specials = {"/dev/zero as the spec": Path("/dev/zero"), "a FIFO as the spec": fifo}
        for label, text in [*cases().items(), *specials.items()]:
            spec = Path(tmp) / "case.yaml"
            if isinstance(text, Path):
                spec = text
            else:
                spec.write_text(text)
            run = run_fresh([str(exe), "analyze", str(spec), "--json"], timeout=60)
            if run is None:
                rows.append(f"| {label} | - | over 60 s | - | killed |")
                continue
            assert run is not None
            err = run.stderr.strip().replace(str(spec), spec.name if isinstance(text, Path) else "case.yaml")
            outcome = err.splitlines()[0][:110] if err else "answer"
            rows.append(f"| {label} | {run.code} | {run.wall_s:.2f} s | {run.rss_mib:.0f} MiB | {outcome} |")
    publish(
        "python benchmarks/bench_hostile.py",
        "whole `rescomp analyze --json` process per case.",
        "| case | exit | time | peak RSS | outcome |",
        rows,
        args.out,
    )


if __name__ == "__main__":
    main()

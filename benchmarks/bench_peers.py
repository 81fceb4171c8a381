"""rescomp against the counters people use today: fvcore, ptflops (both backends), thop, torchinfo and
torch's FlopCounterMode, on the same architectures.

Usage:  .venv/bin/python benchmarks/bench_peers.py [--runs 5] [--timeout 60] [--out benchmarks/results/peers.md]

For each case and tool, in a fresh process each run:
- whole process: wall time and peak RSS (os.wait4) of `rescomp analyze SPEC --json`, or of a Python
  process that imports torch and the tool, builds the network and counts it;
- in process, definition to numbers: rescomp loads the spec, builds the IR and runs the passes; a peer
  builds the module and runs its counting call (imports excluded on both sides).
Peers count rescomp's emitted module (`rescomp emit`), which CI proves equal to torchvision's networks.
Medians; a tool that exceeds --timeout on a case is reported as such.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_scale import spec_text
from measure import machine, run_fresh

TOOLS = {
    "FlopCounterMode": (
        "from torch.utils.flop_counter import FlopCounterMode",
        "with FlopCounterMode(display=False) as c:\n    m(x)\nvalue = c.get_total_flops()",
    ),
    "fvcore": (
        "from fvcore.nn import FlopCountAnalysis",
        "a = FlopCountAnalysis(m, x)\na.unsupported_ops_warnings(False)\na.uncalled_modules_warnings(False)\n"
        "value = a.total()",
    ),
    "ptflops (pytorch)": (
        "from ptflops import get_model_complexity_info",
        "value, _ = get_model_complexity_info(m, tuple(x.shape[1:]), as_strings=False, "
        "print_per_layer_stat=False, verbose=False, backend='pytorch')",
    ),
    "ptflops (aten)": (
        "from ptflops import get_model_complexity_info",
        "value, _ = get_model_complexity_info(m, tuple(x.shape[1:]), as_strings=False, "
        "print_per_layer_stat=False, verbose=False, backend='aten')",
    ),
    "thop": ("from thop import profile", "value, _ = profile(m, inputs=(x,), verbose=False)"),
    "torchinfo": ("from torchinfo import summary", "value = summary(m, input_data=x, verbose=0).total_mult_adds"),
}

PEER = """import json, sys, time, warnings
warnings.filterwarnings("ignore")
import torch
{imports}
sys.path.insert(0, {folder!r})
import model as generated
torch.set_grad_enabled(False)
start = time.perf_counter()
m = generated.{cls}().eval()
x = torch.zeros({shape})
{count}
print(json.dumps({{"inproc": time.perf_counter() - start, "value": int(value)}}))
"""

RESCOMP = """import json, sys, time
from rescomp.passes import analyze
from rescomp.spec.load import build_graph
from rescomp.lower import Overrides
from rescomp.errors import Loc
start = time.perf_counter()
a = analyze(build_graph({spec!r}, Overrides({params!r})))
print(json.dumps({{"inproc": time.perf_counter() - start, "value": a.macs}}))
"""


def measure(cmd: list[str], runs: int, timeout: float) -> dict[str, float] | None:
    """Medians over ``runs`` fresh processes; None on a timeout, {"failed": 1} if the command fails. The
    command prints one JSON line {"inproc": seconds, "value": total} (rescomp's CLI prints its document)."""
    walls, rss, inproc, value = [], [], [], 0.0
    for _ in range(runs):
        run = run_fresh(cmd, timeout)
        if run is None:
            return None
        if run.code != 0:
            return {"failed": 1.0}
        walls.append(run.wall_s)
        rss.append(run.rss_mib)
        last = run.stdout.strip().splitlines()[-1] if '"inproc"' in run.stdout else '{"inproc": 0.0, "value": 0}'
        result = json.loads(last)
        inproc.append(result["inproc"])
        value = result["value"]
    return {
        "wall": statistics.median(walls),
        "rss": statistics.median(rss),
        "inproc": statistics.median(inproc),
        "value": value,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--cases", default="resnet50,resnet152,resnet_cifar_n200,chain10000")
    args = parser.parse_args()
    exe = Path(sys.executable).parent / "rescomp"
    py = sys.executable
    lines = [
        f"Command: `python benchmarks/bench_peers.py --runs {args.runs} --timeout {args.timeout:g}`  ",
        f"Machine: {machine()}  ",
        f"Date: {dt.date.today().isoformat()}; medians of {args.runs} fresh processes per cell. Whole process = "
        "interpreter start, imports, build, count; in process = build (or load the spec) and count. "
        "rescomp's figure is MACs; the peers' own totals are in the last column.",
        "",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        cases = {
            "resnet50": ("resnet50", [], (1, 3, 224, 224)),
            "resnet152": ("resnet152", [], (1, 3, 224, 224)),
            "resnet_cifar_n200": ("resnet_cifar", ["--set", "n=200"], (1, 3, 32, 32)),
            "chain10000": (str(Path(tmp) / "chain10000.yaml"), [], (1, 3, 32, 32)),
        }
        (Path(tmp) / "chain10000.yaml").write_text(spec_text(10000))
        for case in args.cases.split(","):
            spec, sets, shape = cases[case]
            folder = Path(tmp) / case
            folder.mkdir()
            subprocess.run(
                [str(exe), "emit", spec, *sets, "-o", str(folder / "model.py")], check=True, capture_output=True
            )
            cls = [
                line.split()[1].split("(")[0]
                for line in (folder / "model.py").read_text().splitlines()
                if line.startswith("class ")
            ][-1]
            params = {k: (int(v), None) for k, v in (s.split("=") for s in sets[1::2])}
            results = {}
            whole = measure([str(exe), "analyze", spec, *sets, "--json"], args.runs, args.timeout)
            inner = measure([py, "-c", RESCOMP.format(spec=spec, params=params)], args.runs, args.timeout)
            assert whole and inner
            results["rescomp"] = {**whole, "inproc": inner["inproc"], "value": inner["value"]}
            for tool, (imports, count) in TOOLS.items():
                script = PEER.format(imports=imports, folder=str(folder), cls=cls, shape=shape, count=count)
                results[tool] = measure([py, "-c", script], args.runs, args.timeout)
            ok = {t: r for t, r in results.items() if t != "rescomp" and r and "wall" in r}
            fastest_wall = min(ok.values(), key=lambda r: r["wall"]) if ok else None
            fastest_in = min(ok.values(), key=lambda r: r["inproc"]) if ok else None
            least_rss = min(ok.values(), key=lambda r: r["rss"]) if ok else None
            me = results["rescomp"]
            shown = " ".join(["rescomp analyze", spec if case != "chain10000" else "chain10000.yaml", *sets])
            lines += [
                f"**{case}** (`{shown}`)",
                "",
                "| tool | whole process | peak RSS | in process | total it reports |",
                "| --- | ---: | ---: | ---: | ---: |",
            ]
            for tool, r in results.items():
                if r is None:
                    lines.append(f"| {tool} | timeout (> {args.timeout:g} s) | | | |")
                elif "wall" not in r:
                    lines.append(f"| {tool} | failed | | | |")
                else:
                    lines.append(
                        f"| {tool} | {r['wall']:.2f} s | {r['rss']:.0f} MiB | {r['inproc'] * 1000:.1f} ms | "
                        f"{int(r['value']):,} |"
                    )
            if fastest_wall and fastest_in and least_rss:
                lines += [
                    "",
                    f"rescomp vs the best peer: whole process {fastest_wall['wall'] / me['wall']:.1f}x faster, "
                    f"peak RSS {least_rss['rss'] / me['rss']:.1f}x smaller, in process "
                    f"{fastest_in['inproc'] / me['inproc']:.1f}x faster.",
                    "",
                ]
            print("\n".join(lines[-14:]), flush=True)
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()

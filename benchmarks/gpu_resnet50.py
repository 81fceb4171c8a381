"""GPU benchmark: ResNet-50 inference on one CUDA device, one command, safe to run blind in a 10-minute window.

    pip install -e '.[tensorrt]'          # with a CUDA build of torch; '.[onnx]' where TensorRT is missing
    python benchmarks/gpu_resnet50.py     # writes benchmarks/results/gpu_resnet50.md row by row
    python benchmarks/gpu_resnet50.py --dry-run   # the same code paths on the CPU, a small net, 1-2 minutes

Variants, each at batch 1, the profile's optimum (32) and its maximum (256), in this order:
eager fp32 (TF32 off: the reference), eager fp16 and bf16 (channels_last), TensorRT fp16 (rescomp's
ONNX and builder, one engine for the profile 1:32:256), torch.compile fp16 with CUDA graphs
(mode="reduce-overhead") and without (the default mode), AOTInductor fp16 (rescomp build's package,
dynamic batch 1..256) and TensorRT bf16 (SM 8.0+). Every variant takes the same fp32 NCHW batch on the
GPU and returns fp32 logits: casts and layout changes are inside the timed call, as they are inside
the TensorRT engine. Each row has its parity against eager fp32 on the same input (max |error| over
max |reference|, top-1 agreement), its setup time (build or compile, plus the first call at that batch,
which holds torch.compile's recompiles, CUDA graph recording and cuDNN's autotuning), and the timing
of rescomp bench: adaptive run count, median, IQR and p90, CUDA events; TensorRT's runner times
execute_async_v3 alone, on its own stream.

Safe to run blind: every variant runs in its own try and each row is appended to the results file
(flushed and fsynced) as it finishes, so a crash or a kill keeps every finished row. The time budget
(--budget, default 480 s from the start of the process) counts compile and build time: a variant is
skipped when less time is left than it needs to start, an alarm interrupts the one running at the
deadline, and a watchdog process ends this one 60 s after it, whatever it is doing (a C++ call that
holds the GIL included). TF32 and cuDNN settings
are set explicitly and written at the top with the GPU, driver, versions and date.

Nothing here has been run on a GPU by the project unless benchmarks/results/ holds its output.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

T_START = time.monotonic()
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # rescomp from this checkout, installed or not

import torch  # noqa: E402

DENSE_FP16_TFLOPS = {"H200": 989.4, "H100": 989.4, "A100": 312.0, "L40S": 362.05, "A10": 125.0}  # datasheets
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "gpu_resnet50.md"
GRACE_S = 60  # the watchdog ends the process this long after the budget
#: seconds a variant needs to start: build or compile (guesses; a variant is skipped with less left)
NEEDS_S = {"eager": 5, "compile": 60, "aoti": 90, "tensorrt": 60}
COLUMNS = [
    "variant",
    "batch",
    "setup s",
    "median ms",
    "IQR ms",
    "p90 ms",
    "runs",
    "images/s",
    "% of FP16 ceiling",
    "max rel err vs eager fp32",
    "top-1 agree",
    "note",
]


class BudgetExceeded(BaseException):
    """Raised by the alarm in whatever the main thread is running when the budget is spent (a
    BaseException, like KeyboardInterrupt, so that no library's ``except Exception`` swallows it)."""


@dataclass
class Settings:
    spec: str
    params: dict[str, Any]
    batches: list[int]
    device: str
    budget_s: float
    min_time_s: float
    max_time_s: float
    warmup: int
    out: Path | None
    dry_run: bool
    only: list[str] | None = None  # substrings of the variant names to run


@dataclass
class Context:
    """What every variant needs: the network, its weights, the inputs and the reference outputs."""

    settings: Settings
    graph: Any
    source: Any
    state: dict[str, Any]
    chw: tuple[int, ...]
    macs: int
    inputs: dict[int, torch.Tensor] = field(default_factory=dict)
    refs: dict[int, torch.Tensor] = field(default_factory=dict)
    tmp: Path = Path(".")
    timing_cache: bytes | None = None

    @property
    def device(self) -> str:
        return self.settings.device

    @property
    def profile(self) -> tuple[int, int, int]:
        b = self.settings.batches
        return min(b), (b[1] if len(b) > 2 else max(b)), max(b)

    def deadline(self) -> float:
        return T_START + self.settings.budget_s

    def left(self) -> float:
        return self.deadline() - time.monotonic()


# --- the results file --------------------------------------------------------------------------------


class Results:
    """The Markdown results: the header once, then each row appended, flushed and fsynced as it comes."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.rows = 0
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")

    def write(self, text: str) -> None:
        with self.lock:
            sys.stdout.write(text)
            sys.stdout.flush()
            if self.path is not None:
                with open(self.path, "a") as fh:
                    fh.write(text)
                    fh.flush()
                    os.fsync(fh.fileno())

    def row(self, cells: list[str]) -> None:
        assert len(cells) == len(COLUMNS), cells
        self.rows += 1
        self.write("| " + " | ".join(cell_text(c) for c in cells) + " |\n")


def cell_text(text: str) -> str:
    """One table cell: one line, pipes escaped, at most 300 characters."""
    one = " ".join(str(text).split()).replace("|", "\\|")
    return one if len(one) <= 300 else one[:297] + "..."


def empty_row(name: str, batch: int | str, note: str) -> list[str]:
    return [name, str(batch), *["-"] * (len(COLUMNS) - 3), note]


# --- the host ----------------------------------------------------------------------------------------


def apply_torch_settings() -> dict[str, Any]:
    """TF32 off (the fp32 reference is true fp32), cuDNN autotuning on; returned as recorded."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.deterministic = False
    torch.set_float32_matmul_precision("highest")
    return {
        "torch.backends.cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "torch.backends.cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
        "torch.backends.cudnn.benchmark": torch.backends.cudnn.benchmark,
        "torch.backends.cudnn.deterministic": torch.backends.cudnn.deterministic,
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
    }


def driver_version() -> str:
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unknown (nvidia-smi: {type(exc).__name__})"
    return done.stdout.strip().splitlines()[0] if done.returncode == 0 and done.stdout.strip() else "unknown"


def header(settings: Settings, recorded: dict[str, Any], macs: int) -> str:
    from rescomp import __version__
    from rescomp.backends import tensorrt_build as trt_b
    from rescomp.backends.bench import _versions

    versions = _versions()
    host = trt_b.probe_host()
    lines = [f"# {settings.spec} inference{' (dry run on the CPU)' if settings.dry_run else ''}", ""]
    lines.append(f"- date: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}")
    lines.append(f"- command: `{shlex.join([sys.executable.rsplit('/', 1)[-1], *sys.argv])}`")
    if settings.device == "cuda":
        props = torch.cuda.get_device_properties(0)
        lines.append(
            f"- GPU: {props.name}, compute capability {props.major}.{props.minor}, "
            f"{props.total_memory / 2**30:.1f} GiB; driver {driver_version()}"
        )
        lines.append(f"- CUDA (torch) {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")
    else:
        lines.append(f"- no GPU: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    trt_text = host.tensorrt if host.tensorrt and not host.missing else "; ".join(host.missing) or "not importable"
    lines.append(
        f"- rescomp {__version__}, torch {torch.__version__}, TensorRT {trt_text}, onnx {versions['onnx']}, "
        f"onnxruntime {versions['onnxruntime'] or versions['onnxruntime-gpu']}, Python {platform.python_version()}"
    )
    lines.append("- settings: " + ", ".join(f"{k}={v}" for k, v in recorded.items()))
    ceiling = ceiling_images_per_s(torch.cuda.get_device_name(0), macs) if settings.device == "cuda" else None
    params = ", ".join(f"{k}={v}" for k, v in settings.params.items())
    lines.append(
        f"- model: rescomp spec {settings.spec}{f' ({params})' if params else ''}, seeded weights, "
        f"{macs:,} MACs per image; FP16 dense ceiling "
        + (f"{ceiling:,.0f} images/s" if ceiling else "unknown for this device")
    )
    lines.append(
        f"- budget {settings.budget_s:.0f} s from process start (compile and build included), adaptive timing: "
        f"{settings.warmup} warm-up calls, then at least 10 samples and {settings.min_time_s} s, at most "
        f"{settings.max_time_s} s per row"
    )
    lines += ["", "| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    return "\n".join(lines) + "\n"


def ceiling_images_per_s(name: str, macs: int) -> float | None:
    for key, tflops in DENSE_FP16_TFLOPS.items():
        if key in name:
            return tflops * 1e12 / (2 * macs)
    return None


# --- the variants ------------------------------------------------------------------------------------


@dataclass
class Variant:
    name: str
    kind: str  # a key of NEEDS_S
    make: Callable[[Context], Any]  # returns a callable x -> fp32 output, maybe with .prepared(x)


def typed(ctx: Context, precision: str, channels_last: bool) -> Callable[[torch.Tensor], torch.Tensor]:
    """rescomp's module in ``precision`` (casts inside: fp32 in, fp32 out), optionally channels_last."""
    from rescomp.backends.aoti_build import typed_module

    model = typed_module(ctx.source, ctx.state, precision, ctx.device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)

        def run_cl(x: torch.Tensor) -> torch.Tensor:
            return model(x.contiguous(memory_format=torch.channels_last))

        return run_cl
    return model


def make_eager(precision: str, channels_last: bool) -> Callable[[Context], Any]:
    return lambda ctx: typed(ctx, precision, channels_last)


def make_compiled(mode: str | None) -> Callable[[Context], Any]:
    def make(ctx: Context) -> Any:
        fn = torch.compile(typed(ctx, "fp16", channels_last=True), mode=mode)
        if mode != "reduce-overhead":
            return fn

        def run_graphs(x: torch.Tensor) -> torch.Tensor:
            torch.compiler.cudagraph_mark_step_begin()  # each call is a new step: earlier outputs may be reused
            return fn(x)

        return run_graphs

    return make


def make_aoti(ctx: Context) -> Any:
    from rescomp.backends.aoti_build import compile_aoti, load_aoti

    _, opt, hi = ctx.profile
    path = ctx.tmp / "model.pt2"
    path.write_bytes(
        compile_aoti(ctx.source, ctx.state, ctx.chw, max_batch=hi, opt_batch=opt, device=ctx.device, precision="fp16")
    )
    return load_aoti(path)


class TensorRTVariant:
    """rescomp's engine through its runner: parity through set_input/execute/output, timing through
    rescomp.backends.bench.tensorrt_prepared (execute_async_v3 alone, on the runner's stream)."""

    def __init__(self, runner: Any) -> None:
        self.runner = runner

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.runner.set_input(x)
        self.runner.execute()
        return torch.as_tensor(self.runner.output_tensor())

    def prepared(self, x: torch.Tensor) -> Any:
        from rescomp.backends.bench import tensorrt_prepared

        return tensorrt_prepared(self.runner, x)


class Skip(Exception):
    """A variant this host cannot run: a row that says why, not a failure."""


def make_tensorrt(precision: str) -> Callable[[Context], Any]:
    def make(ctx: Context) -> Any:
        from rescomp.backends import tensorrt_build as trt_b
        from rescomp.errors import BackendFailed

        host = trt_b.probe_host()
        if host.missing:
            raise Skip("; ".join(host.missing))
        try:
            from rescomp.backends.onnx_export import export_onnx
        except ImportError as exc:
            raise Skip(f"{exc.name} is not installed (pip install -e '.[tensorrt]')") from None
        try:
            trt_b.check_host(host, precision, trt_b.DEFAULT_WORKSPACE)
        except BackendFailed as exc:
            if "compute capability" in exc.message:  # bf16 before Ampere: not this GPU's to run
                raise Skip(exc.message) from None
            raise
        lo, opt, hi = ctx.profile
        onnx_bytes = export_onnx(ctx.graph, ctx.state, precision=precision).model.SerializeToString()
        r = trt_b.recipe("model.onnx", "model.engine", precision, trt_b.Profile(lo, opt, hi), list(ctx.chw))
        engine, ctx.timing_cache = trt_b.build_engine(onnx_bytes, r, ctx.graph, ctx.timing_cache)
        return TensorRTVariant(trt_b.EngineRunner(engine))

    return make


def variants() -> list[Variant]:
    return [
        Variant("eager fp32 (reference)", "eager", make_eager("fp32", channels_last=False)),
        Variant("eager fp16 channels_last", "eager", make_eager("fp16", channels_last=True)),
        Variant("eager bf16 channels_last", "eager", make_eager("bf16", channels_last=True)),
        Variant("TensorRT fp16 (rescomp build)", "tensorrt", make_tensorrt("fp16")),
        Variant("torch.compile fp16 + CUDA graphs", "compile", make_compiled("reduce-overhead")),
        Variant("torch.compile fp16, no CUDA graphs", "compile", make_compiled(None)),
        Variant("AOTInductor fp16 (rescomp build)", "aoti", make_aoti),
        Variant("TensorRT bf16 (rescomp build)", "tensorrt", make_tensorrt("bf16")),
    ]


# --- running them ------------------------------------------------------------------------------------


def parity(ref: torch.Tensor, out: torch.Tensor) -> tuple[str, str]:
    out, ref = out.detach().float().to(ref.device), ref.float()
    if out.shape != ref.shape:
        return f"shape {tuple(out.shape)} != {tuple(ref.shape)}", "-"
    scale = ref.abs().max().item() or 1.0
    rel = (out - ref).abs().max().item() / scale
    top1 = (out.argmax(1) == ref.argmax(1)).float().mean().item()
    return f"{rel:.2e}", f"{top1:.1%}"


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def one_line_error(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@contextlib.contextmanager
def alarm_at(deadline: float) -> Iterator[None]:
    """Raise BudgetExceeded in the main thread at ``deadline`` (time.monotonic)."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def ring(signum: int, frame: Any) -> None:
        raise BudgetExceeded

    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, max(0.01, deadline - time.monotonic()))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class Doing:
    """What the main thread is doing, kept in a file the watchdog process reads when it has to step in."""

    def __init__(self, path: Path, text: str = "start-up") -> None:
        self.path = path
        self.set(text)

    def set(self, text: str) -> None:
        self.now = text
        self.path.write_text(text)


WATCHDOG = r"""
import os, signal, sys, time
pid, at, results, doing, start = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5])
while time.time() < at:
    time.sleep(min(1.0, max(0.0, at - time.time())))
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(0)  # the benchmark ended by itself
try:
    with open(doing) as fh:
        what = " ".join(fh.read().split()) or "the benchmark"
except OSError:
    what = "the benchmark"
note = (f"\n**Stopped by the watchdog {time.time() - start:.0f} s after the start: {what} did not return "
        "within the budget and its grace period.**\n")
sys.stderr.write(note)
if results:
    with open(results, "a") as fh:
        fh.write(note)
for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 0.0)):
    try:
        os.kill(pid, sig)
    except OSError:
        break
    end = time.time() + wait
    while time.time() < end:
        time.sleep(0.1)
        try:
            os.kill(pid, 0)
        except OSError:
            sys.exit(3)
sys.exit(3)
"""


def start_watchdog(results: Path | None, at: float, doing: Doing, pid: int | None = None) -> subprocess.Popen[bytes]:
    """A separate process that ends ``pid`` (this one) at ``at`` (time.time()), whatever it is doing
    (a C++ call that holds the GIL included), after writing what it was doing to the results."""
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            WATCHDOG,
            str(pid or os.getpid()),
            str(at),
            str(results or ""),
            str(doing.path),
            str(time.time() - (time.monotonic() - T_START)),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )


def run_variant(v: Variant, ctx: Context, results: Results, doing: Doing) -> None:
    from rescomp.backends.bench import Prepared, _timed_block, measure

    s = ctx.settings
    need = NEEDS_S[v.kind]
    if ctx.left() < need:
        for b in s.batches:
            results.row(empty_row(v.name, b, f"skipped: time budget ({ctx.left():.0f} s left, needs ~{need} s)"))
        return
    doing.set(f"{v.name} (setup)")
    t0 = time.monotonic()
    try:
        fn = v.make(ctx)
    except Skip as exc:
        for b in s.batches:
            results.row(empty_row(v.name, b, f"skipped: {exc}"))
        return
    except BudgetExceeded:
        raise
    except Exception as exc:
        results.row(empty_row(v.name, "all", f"failed in setup: {one_line_error(exc)}"))
        if os.environ.get("RESCOMP_DEBUG"):
            traceback.print_exc()
        return
    setup = time.monotonic() - t0
    ceiling = ceiling_images_per_s(torch.cuda.get_device_name(0), ctx.macs) if ctx.device == "cuda" else None
    try:
        for b in s.batches:
            doing.set(f"{v.name} at batch {b}")
            if ctx.left() <= 0:
                results.row(empty_row(v.name, b, "skipped: time budget"))
                continue
            x, ref = ctx.inputs[b], ctx.refs.get(b)
            try:
                t1 = time.monotonic()
                with torch.inference_mode():
                    out = fn(x)
                    sync(ctx.device)
                    first = time.monotonic() - t1
                    if v.name.startswith("eager fp32"):
                        err, top1 = "reference", "-"
                    elif ref is None:
                        err, top1 = "no reference: eager fp32 failed at this batch", "-"
                    else:
                        err, top1 = parity(ref, out)
                    del out
                    if hasattr(fn, "prepared"):
                        prepared = fn.prepared(x)
                    else:

                        def call(fn: Any = fn, x: torch.Tensor = x) -> Any:
                            return fn(x)

                        prepared = Prepared(call, _timed_block(call, ctx.device))
                    timing = measure(
                        prepared.call,
                        prepared.block,
                        warmup=s.warmup,
                        min_time=s.min_time_s,
                        max_time=s.max_time_s,
                    )
            except BudgetExceeded:
                raise
            except torch.cuda.OutOfMemoryError as exc:
                results.row(empty_row(v.name, b, f"failed: out of GPU memory ({one_line_error(exc)[:120]})"))
                torch.cuda.empty_cache()
                continue
            except Exception as exc:
                results.row(empty_row(v.name, b, f"failed: {one_line_error(exc)}"))
                if os.environ.get("RESCOMP_DEBUG"):
                    traceback.print_exc()
                continue
            med = timing.median_ms
            ips = b / (med / 1000)
            results.row(
                [
                    v.name,
                    str(b),
                    f"{setup + first:.1f}",
                    f"{med:.3f}",
                    f"{timing.quantile(0.75) - timing.quantile(0.25):.3f}",
                    f"{timing.quantile(0.9):.3f}",
                    f"{len(timing.samples_ms)}" + (f" x{timing.block}" if timing.block > 1 else ""),
                    f"{ips:,.0f}",
                    f"{ips / ceiling:.1%}" if ceiling else "-",
                    err,
                    top1,
                    "",
                ]
            )
            setup = 0.0  # the setup counts once, in the first batch's row
    finally:
        del fn
        gc.collect()
        if ctx.device == "cuda":
            torch.cuda.empty_cache()


def parse_args(argv: list[str] | None) -> Settings:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, help=f"results file (default {DEFAULT_OUT.relative_to(ROOT)})")
    parser.add_argument("--budget", type=float, help="seconds from process start (default 480; dry run 600)")
    parser.add_argument("--batches", help="batch 1, the profile's optimum and its maximum (default 1,32,256)")
    parser.add_argument("--only", help="comma-separated substrings of the variant names to run")
    parser.add_argument("--dry-run", action="store_true", help="the same code paths on the CPU with a small net")
    args = parser.parse_args(argv)
    dry = bool(args.dry_run)
    batches_text = args.batches or ("1,2,4" if dry else "1,32,256")
    try:
        batches = [int(b) for b in batches_text.split(",")]
    except ValueError:
        parser.error(f"--batches: cannot read '{batches_text}' (write e.g. 1,32,256)")
    if not batches or min(batches) < 1 or batches != sorted(set(batches)):
        parser.error(f"--batches: '{batches_text}' must be increasing positive sizes, e.g. 1,32,256")
    settings = Settings(
        spec="resnet_cifar" if dry else "resnet50",
        params={"n": 1} if dry else {},
        batches=batches,
        device="cpu" if dry else "cuda",
        budget_s=args.budget or (600.0 if dry else 480.0),
        min_time_s=0.05 if dry else 0.5,
        max_time_s=0.5 if dry else 3.0,
        warmup=1 if dry else 5,
        out=args.out if args.out is not None else (None if dry else DEFAULT_OUT),
        dry_run=dry,
        only=[o.strip() for o in args.only.split(",")] if args.only else None,
    )
    return settings


def main(argv: list[str] | None = None) -> int:
    s = parse_args(argv)
    if s.device == "cuda" and not torch.cuda.is_available():
        sys.stderr.write(
            f"error: no CUDA device (torch {torch.__version__}, torch.cuda.is_available() is False) "
            "(hint: run on a GPU host with a CUDA build of torch, or pass --dry-run)\n"
        )
        return 3
    import rescomp
    from rescomp.backends.torch_source import emit_source
    from rescomp.backends.weights import seeded_state
    from rescomp.passes import analyze

    recorded = apply_torch_settings()
    graph = rescomp.graph(s.spec, s.params)
    macs = analyze(graph).macs
    ctx = Context(s, graph, emit_source(graph), seeded_state(graph, 0), tuple(graph.shape(graph.input)[1:]), macs)
    results = Results(s.out)
    try:
        top = header(s, recorded, macs)
    except Exception as exc:  # the rows matter more than the header: keep going with what is known
        top = (
            f"# {s.spec} inference\n\n- header incomplete: {one_line_error(exc)}\n- settings: {recorded}\n\n"
            + "| "
            + " | ".join(COLUMNS)
            + " |\n|"
            + " --- |" * len(COLUMNS)
            + "\n"
        )
    results.write(top)
    status = 0
    with tempfile.TemporaryDirectory() as tmp:
        ctx.tmp = Path(tmp)
        doing = Doing(ctx.tmp / "doing.txt")
        watchdog = start_watchdog(s.out, time.time() + ctx.left() + GRACE_S, doing)
        try:
            with alarm_at(ctx.deadline()):
                gen = torch.Generator().manual_seed(0)
                for b in s.batches:
                    ctx.inputs[b] = torch.randn(b, *ctx.chw, generator=gen).to(s.device)
                doing.set("the fp32 reference")
                reference = typed(ctx, "fp32", channels_last=False)
                with torch.inference_mode():
                    for b in s.batches:
                        try:
                            ctx.refs[b] = reference(ctx.inputs[b]).float().clone()
                        except torch.cuda.OutOfMemoryError:
                            torch.cuda.empty_cache()  # that batch's rows say there is no reference
                del reference
                for v in variants():
                    if s.only and not any(o in v.name for o in s.only):
                        continue
                    run_variant(v, ctx, results, doing)
        except BudgetExceeded:
            results.write(f"\n**Time budget of {s.budget_s:.0f} s spent during {cell_text(doing.now)}.**\n")
            status = 2
        except KeyboardInterrupt:
            results.write(f"\n**Interrupted during {cell_text(doing.now)}.**\n")
            status = 130
        finally:
            watchdog.terminate()
            watchdog.wait()
    results.write(f"\nTotal wall time {time.monotonic() - T_START:.0f} s, {results.rows} rows.\n")
    return status


if __name__ == "__main__":
    sys.exit(main())

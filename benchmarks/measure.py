"""What every benchmark here shares: run a command in a fresh process and read its wall time, peak RSS
(os.wait4), exit code and output; and describe the machine."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Run:
    wall_s: float
    rss_mib: float
    code: int
    stdout: str
    stderr: str


def run_fresh(cmd: list[str], timeout: float | None = None) -> Run | None:
    """Run ``cmd`` once; None if it exceeds ``timeout`` seconds (it is then killed). Output goes to
    temporary files, not pipes, so a child that writes a lot never stalls on a full pipe.

    Peak RSS comes from GNU time (``/usr/bin/time -f %M``), a tiny parent: ``os.wait4``'s
    ``ru_maxrss`` also counts the memory of the forked copy of *this* process that the child exec'd
    from (Linux folds the old mm's high-water mark in at exec), which inflated small figures by
    however large the benchmark script had grown. Without GNU time, ``wait4`` is the fallback.
    """
    gnu_time = Path("/usr/bin/time")
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
        tempfile.NamedTemporaryFile("r", suffix=".rss") as rss,
    ):
        argv = [str(gnu_time), "-f", "%M", "-o", rss.name, *cmd] if gnu_time.is_file() else cmd
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, text=True)
        while True:
            pid, status, usage = os.wait4(proc.pid, 0 if timeout is None else os.WNOHANG)
            if pid:
                break
            if timeout is not None and time.perf_counter() - start > timeout:
                proc.kill()
                os.wait4(proc.pid, 0)
                return None
            time.sleep(0.005)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        lines = Path(rss.name).read_text().split() if gnu_time.is_file() else []
        kib = int(lines[-1]) if lines and lines[-1].isdigit() else usage.ru_maxrss  # both in KiB
        return Run(wall, kib / 1024, os.waitstatus_to_exitcode(status), out.read(), err.read())


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def publish(command: str, note: str, header: str, rows: list[str], out: Path | None) -> str:
    """A result file: the command, the machine, the date with ``note``, then a Markdown table (``header``
    is its first line; alignment follows from the column count). Printed, and written to ``out``."""
    columns = header.count("|") - 1
    text = "\n".join(
        [
            f"Command: `{command}`  ",
            f"Machine: {machine()}  ",
            f"Date: {dt.date.today().isoformat()}; {note}",
            "",
            header,
            "|" + " --- |" * columns,
            *rows,
            "",
        ]
    )
    sys.stdout.write(text)
    if out:
        out.write_text(text)
    return text

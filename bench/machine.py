"""What the benchmarks share: logging, percentiles, and how busy the machine is (Linux)."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import FrameType


def on_sigterm(signum: int, _frame: FrameType | None) -> None:
    # Turn SIGTERM into an exception so that every ``finally`` (server, temp files) runs.
    raise SystemExit(128 + signum)


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def percentile(ordered: Sequence[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def machine_cpu_s() -> float | None:
    """Busy CPU seconds of all CPUs since boot (Linux), or None."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    values = [int(v) for v in first[1:9]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_s() -> float | None:
    """CPU seconds of PostgreSQL on this machine (Linux), or None.

    Every live ``postgres`` process, plus what the postmaster's exited children (short-lived
    backends) used, so that connections opened and closed during the phase are counted too.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    stats: dict[int, list[str]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            stats[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
    ticks = 0
    for fields in stats.values():
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
        if int(fields[1]) not in stats:  # the postmaster: add its reaped children
            ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def measure_background_load(seconds: float = 2.0) -> float | None:
    """How many CPU cores the machine keeps busy before the benchmark starts."""
    first = machine_cpu_s()
    time.sleep(seconds)
    last = machine_cpu_s()
    return None if first is None or last is None else (last - first) / seconds


# Above this many busy cores before a run, its figures are flagged as noisy.
BUSY_WARNING_CORES = 0.25


def chosen_backends(raw: str) -> list[str] | None:
    """The backends named in ``--backends`` ("sqlite,postgres"); None (after saying why)
    when a name is unknown or none is given."""
    names = [name.strip().lower() for name in raw.split(",") if name.strip()]
    unknown = set(names) - {"sqlite", "postgres"}
    if unknown or not names:
        print(f"error: unknown backends {sorted(unknown)}; use sqlite,postgres", file=sys.stderr)
        return None
    return names


def warn_if_busy(effect: str) -> float | None:
    """Measure the background load and warn when it will distort the figures (``effect``
    says how, e.g. "the latencies will be higher")."""
    background = measure_background_load()
    if background is not None and background > BUSY_WARNING_CORES:
        print(
            f"WARNING: {background:.2f} CPU cores are already busy before the run; "
            f"{effect} and noisier than on a quiet machine.",
            flush=True,
        )
    return background


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, for the result tables."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"

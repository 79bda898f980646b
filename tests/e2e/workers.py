"""Start and stop worker processes for multi-process tests (shared by the mail crash test)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class WorkerProcess:
    """One ``python -m tests.e2e.worker_main`` process and its log file."""

    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def worker_id_suffix(self) -> str:
        """The end of the worker id this process claims jobs with (``hostname:pid``)."""
        return f":{self.pid}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill_hard(self) -> None:
        """``kill -9``: no cleanup, claims stay behind until their lease expires."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout_s: float = 20.0) -> int:
        """SIGTERM, then wait for the worker to finish the jobs in hand and exit."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise AssertionError(
                f"worker did not stop in {timeout_s} s:\n{self.output()}"
            ) from None


@dataclass
class WorkerPool:
    """Every worker a test started; all are stopped (or killed) when the test ends."""

    env: dict[str, str]
    log_dir: Path
    started: list[WorkerProcess] = field(default_factory=list)

    def start(
        self,
        *,
        handler_module: str | None = None,
        concurrency: int = 16,
        batch: int = 100,
        lease_s: float = 60.0,
        poll_s: float = 0.2,
        extra_env: dict[str, str] | None = None,
    ) -> WorkerProcess:
        """Start a worker; ``handler_module=None`` runs opsdesk's default handlers."""
        args = [
            sys.executable,
            "-m",
            "tests.e2e.worker_main",
            f"--concurrency={concurrency}",
            f"--batch={batch}",
            f"--lease-s={lease_s}",
            f"--poll-s={poll_s}",
        ]
        if handler_module is not None:
            args.append(f"--handlers={handler_module}")
        log = self.log_dir / f"worker-{len(self.started)}.log"
        env = {**self.env, **(extra_env or {})}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        with log.open("wb") as out:
            process = subprocess.Popen(
                args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        worker = WorkerProcess(process=process, log=log)
        self.started.append(worker)
        return worker

    def close(self) -> None:
        for worker in self.started:
            if worker.process.poll() is None:
                worker.process.kill()
                worker.process.wait(timeout=10)


@contextmanager
def worker_pool(database_url: str, log_dir: Path, **env: str) -> Iterator[WorkerPool]:
    """Workers against ``database_url`` (OPSDESK_DATABASE_URL) with extra OPSDESK_* ``env``."""
    base = {**os.environ, "OPSDESK_DATABASE_URL": database_url, "OPSDESK_DATA_DIR": str(log_dir)}
    pool = WorkerPool(env={**base, **env}, log_dir=log_dir)
    try:
        yield pool
    finally:
        pool.close()


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout_s: float,
    what: str,
    workers: list[WorkerProcess] | None = None,
) -> None:
    """Poll ``condition`` until true; fail with the workers' logs after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        for worker in workers or []:
            code = worker.process.poll()
            if code is not None and code != -signal.SIGKILL:
                raise AssertionError(f"a worker exited with {code}:\n{worker.output()}")
        time.sleep(0.1)
    logs = "\n".join(worker.output()[-3000:] for worker in workers or [])
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}\n{logs}")

"""A real ``opsdesk serve`` whose PostgreSQL goes away and comes back (issue 24, item 3).

The test makes a throw-away PostgreSQL cluster of its own (initdb on a free port in a
temporary folder), never touching the shared server, stops it with ``pg_ctl stop -m
immediate`` while one keep-alive connection keeps asking, and starts it again: every
answer in between is a JSON 503 with ``Retry-After`` on that same connection, and the
service recovers by itself.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import OPSDESK, _free_port, _wait_healthy

pytestmark = pytest.mark.e2e

POSTGRES_BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
WAIT_S = 60.0


@dataclass
class Cluster:
    """One PostgreSQL cluster in a folder of its own, run as the ``postgres`` user when we
    are root (initdb refuses to run as root)."""

    bin_dir: Path
    folder: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _command(self, program: str, *args: str) -> list[str]:
        command = [str(self.bin_dir / program), *args]
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command

    def pg_ctl(self, *args: str) -> list[str]:
        return self._command("pg_ctl", "-D", str(self.folder / "data"), *args)

    def init(self) -> None:
        initdb = self._command(
            "initdb", "-D", str(self.folder / "data"), "-A", "trust", "-U", "postgres", "--no-sync"
        )
        subprocess.run(initdb, check=True, capture_output=True, timeout=120)

    def start_command(self) -> list[str]:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        return self.pg_ctl("start", "-w", "-o", options, "-l", str(self.folder / "postgres.log"))

    def start(self) -> None:
        subprocess.run(self.start_command(), check=True, capture_output=True, timeout=120)

    def stop_command(self) -> list[str]:
        return self.pg_ctl("stop", "-m", "immediate", "-w")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if not POSTGRES_BINARIES:
        pytest.skip("PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are not installed")
    folder = Path(tempfile.mkdtemp(prefix="opsdesk-outage-"))
    if os.geteuid() == 0:
        shutil.chown(folder, user="postgres")
    made = Cluster(bin_dir=Path(POSTGRES_BINARIES[-1]), folder=folder, port=_free_port())
    try:
        made.init()
        made.start()
        yield made
    finally:
        subprocess.run(made.stop_command(), capture_output=True, timeout=60, check=False)
        shutil.rmtree(folder, ignore_errors=True)


def opsdesk(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        [str(OPSDESK), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"opsdesk {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout.strip()


@pytest.fixture
def served(cluster: Cluster, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``opsdesk serve`` on the cluster (worker included): its address and an API token."""
    env = {**os.environ, "OPSDESK_DATA_DIR": str(tmp_path), "OPSDESK_DATABASE_URL": cluster.url}
    opsdesk(["db", "upgrade"], env)
    opsdesk(["users", "create", "tech@outage.test", "--role", "technician"], env)
    token = opsdesk(["tokens", "create", "tech@outage.test"], env)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [str(OPSDESK), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_healthy(url, process, log)
            yield url, token
            assert process.poll() is None, f"opsdesk serve died:\n{log.read_text()}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def local_port(response: httpx.Response) -> int:
    """The client side port of the connection that carried ``response``."""
    port: int = response.extensions["network_stream"].get_extra_info("client_addr")[1]
    return port


def while_running(
    command: list[str], http: httpx.Client, done: Callable[[httpx.Response], bool]
) -> httpx.Response:
    """Run ``command`` while asking ``/healthz`` every 0.2 s (the connection is never idle
    long enough for the server to close it), until ``done`` holds for an answer."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + WAIT_S
    try:
        while time.monotonic() < deadline:
            health = http.get("/healthz")
            if done(health):
                return health
            time.sleep(0.2)
        pytest.fail(f"{' '.join(command)}: /healthz never changed (last: {health.status_code})")
    finally:
        assert process.wait(timeout=WAIT_S) == 0


def test_a_database_outage_is_503_on_the_same_connection_and_recovers(
    cluster: Cluster, served: tuple[str, str]
) -> None:
    url, token = served
    bearer = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    with httpx.Client(base_url=url, limits=limits, timeout=30) as http:
        created = http.post("/api/v1/incidents", json={"title": "before"}, headers=bearer)
        assert created.status_code == 201, created.text
        connection = local_port(created)

        down = while_running(cluster.stop_command(), http, lambda r: r.status_code == 503)
        assert down.headers["retry-after"] == "5"
        answers = [
            http.get("/api/v1/incidents", headers=bearer),
            http.post("/api/v1/incidents", json={"title": "during"}, headers=bearer),
            http.post("/v2/incidents/list", json={}, headers={"X-Auth-Token": token}),
            http.get("/healthz"),
        ]
        for answer in answers:
            assert answer.status_code == 503, answer.text
            assert answer.headers["retry-after"] == "5"
            assert answer.headers["content-type"].startswith("application/json")
            assert local_port(answer) == connection, "the connection was dropped"
        assert answers[0].json()["error"]["code"] == "database_unavailable"
        assert answers[1].json()["error"]["code"] == "database_unavailable"
        assert answers[2].json()["error_code"] == "GOM.10000503"
        assert answers[3].json()["database"] == "unreachable"

        up = while_running(cluster.start_command(), http, lambda r: r.status_code == 200)
        assert local_port(up) == connection
        listing = http.get("/api/v1/incidents", headers=bearer)
        assert listing.status_code == 200, listing.text
        assert [item["title"] for item in listing.json()["items"]] == ["before"]
        after = http.post("/api/v1/incidents", json={"title": "after"}, headers=bearer)
        assert after.status_code == 201, after.text
        assert local_port(after) == connection

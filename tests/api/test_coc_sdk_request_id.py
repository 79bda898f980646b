"""The official COC SDK, unchanged, against a real ``opsdesk serve``: the exception of a
failing call carries that call's request id, the one the server's log line names."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from huaweicloudsdkcoc.v1 import (
    CocClient,
    ListIncidentsRequest,
    ListTicketParamsWithPageV2,
    ShowCocIncidentDetailRequest,
)
from huaweicloudsdkcore.auth.credentials import GlobalCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException

STARTUP_TIMEOUT_S = 30.0


@dataclass
class Server:
    url: str
    log: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _opsdesk(*args: str) -> list[str]:
    return [sys.executable, "-m", "opsdesk", *args]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("opsdesk-sdk")
    env = {
        **os.environ,
        "OPSDESK_DATA_DIR": str(data_dir),
        "OPSDESK_DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'opsdesk.db'}",
        "OPSDESK_RUN_WORKER": "false",
    }
    upgraded = subprocess.run(
        _opsdesk("db", "upgrade"), env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert upgraded.returncode == 0, upgraded.stderr
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = data_dir / "serve.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            _opsdesk("serve", "--port", str(port), "--access-log"),
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            assert process.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2):  # noqa: S310
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield Server(url=url, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _client(server: Server) -> CocClient:
    # A global service's credentials; the domain id given, so the SDK asks IAM for nothing.
    credentials = GlobalCredentials("A" * 20, "S" * 40, "0" * 32)
    builder = CocClient.new_builder().with_credentials(credentials)
    return builder.with_endpoints([server.url]).build()


def _logged_line(server: Server, request_id: str) -> str:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [line for line in server.log.read_text().splitlines() if f"[{request_id}]" in line]
        if lines:
            return lines[0]
        time.sleep(0.1)
    pytest.fail(f"no log line names {request_id}:\n{server.log.read_text()}")


def test_the_sdk_exception_carries_the_request_id_of_the_failing_call(server: Server) -> None:
    client = _client(server)
    # An access key opsdesk does not know: every call fails with 401 (whatever the code).
    with pytest.raises(ClientRequestException) as listing:
        client.list_incidents(
            ListIncidentsRequest(body=ListTicketParamsWithPageV2(page=1, per_page=10))
        )
    with pytest.raises(ClientRequestException) as detail:
        client.show_coc_incident_detail(ShowCocIncidentDetailRequest(incident_num="IM1"))
    first, second = listing.value, detail.value
    assert (first.status_code, second.status_code) == (401, 401)
    assert re.fullmatch(r"[0-9a-f]{32}", first.request_id or ""), first
    assert second.request_id != first.request_id
    assert '"POST /v2/incidents/list HTTP/1.1" 401' in _logged_line(server, first.request_id)
    assert '"GET /v1/external/incident/IM1 HTTP/1.1" 401' in _logged_line(server, second.request_id)

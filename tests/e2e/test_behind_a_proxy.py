"""A real ``opsdesk serve`` behind a (pretend) TLS proxy: forwarded client address and HSTS."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import OPSDESK, _free_port, _run, _wait_healthy

PROXIED_CLIENT = "203.0.113.5"


def _token(env: dict[str, str]) -> str:
    result = subprocess.run(
        [str(OPSDESK), "tokens", "create", "admin@example.com"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """Two servers on one database: one trusting the local proxy, one trusting nobody."""
    data_dir = tmp_path_factory.mktemp("opsdesk-proxy")
    env = {
        **os.environ,
        "OPSDESK_DATA_DIR": str(data_dir),
        "OPSDESK_DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'opsdesk.db'}",
        "OPSDESK_COOKIE_SECURE": "true",
        "OPSDESK_RUN_WORKER": "false",
    }
    _run(["db", "upgrade"], env)
    _run(["demo", "load"], env)
    token = _token(env)
    processes: list[subprocess.Popen[bytes]] = []
    urls = []
    try:
        for trusted in ("127.0.0.1", ""):
            port = _free_port()
            log = data_dir / f"serve-{port}.log"
            with log.open("wb") as log_file:
                process = subprocess.Popen(
                    [str(OPSDESK), "serve", "--port", str(port), "--forwarded-allow-ips", trusted],
                    env=env,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                )
            processes.append(process)
            url = f"http://127.0.0.1:{port}"
            _wait_healthy(url, process, log)
            urls.append(url)
        yield urls[0], urls[1], token
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


def _failed_password_check(base_url: str, token: str) -> None:
    answer = httpx.post(
        f"{base_url}/api/v1/me/password",
        json={"current_password": "not-the-password", "new_password": "whatever-password"},
        headers={
            "Authorization": f"Bearer {token}",
            "X-Forwarded-For": PROXIED_CLIENT,
            "X-Forwarded-Proto": "https",
        },
    )
    assert answer.status_code == 422
    assert answer.headers["strict-transport-security"] == "max-age=31536000"


def _last_failure_address(base_url: str, token: str) -> str:
    events = httpx.get(
        f"{base_url}/api/v1/admin/auth-events",
        params={"kind": "sign_in_failed", "per_page": 1},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    address: str = events["items"][0]["client_address"]
    return address


def test_the_trusted_proxy_names_the_client_and_an_untrusted_one_does_not(
    served: tuple[str, str, str], tmp_path: Path
) -> None:
    trusting, distrusting, token = served
    _failed_password_check(trusting, token)
    assert _last_failure_address(trusting, token) == PROXIED_CLIENT
    _failed_password_check(distrusting, token)
    assert _last_failure_address(distrusting, token) == "127.0.0.1"

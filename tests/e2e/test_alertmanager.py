"""The real Prometheus Alertmanager (Debian's package) delivers to opsdesk's webhook receiver.

Both are real processes: ``opsdesk serve`` on a fresh SQLite file, and
``prometheus-alertmanager`` with a temporary configuration whose webhook receiver is opsdesk.
Alerts are posted to Alertmanager's own API v2; opsdesk must open the incident, and note the
alert resolved when Alertmanager sends the resolution.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from opsdesk.alerts.fingerprints import label_fingerprint
from tests.e2e.conftest import OPSDESK, _free_port, _wait_healthy

ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not Path(ALERTMANAGER).exists(),
        reason="prometheus-alertmanager not installed (apt-get install prometheus-alertmanager)",
    ),
]
WAIT_S = 45.0


def _cli(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        [str(OPSDESK), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"opsdesk {' '.join(args)}:\n{result.stderr}"
    return result.stdout.strip()


def _request(url: str, *, body: Any = None, token: str | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")  # noqa: S310
    request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        raw = response.read()
    return json.loads(raw) if raw else None


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def opsdesk(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """(base url, admin token, Alertmanager integration key) of a running opsdesk."""
    env = {
        **os.environ,
        "OPSDESK_DATA_DIR": str(tmp_path),
        "OPSDESK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'opsdesk.db'}",
    }
    _cli(["db", "upgrade"], env)
    _cli(["users", "create", "root@example.com", "--role", "admin"], env)
    token = _cli(["tokens", "create", "root@example.com"], env)
    key = _cli(["integrations", "create", "Prometheus", "--kind", "alertmanager"], env)
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
            yield url, token, key
        finally:
            _stop(process)


@pytest.fixture
def alertmanager(tmp_path: Path, opsdesk: tuple[str, str, str]) -> Iterator[str]:
    base, _token, key = opsdesk
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        "route:\n"
        "  receiver: opsdesk\n"
        "  group_by: ['alertname']\n"
        "  group_wait: 1s\n"
        "  group_interval: 1s\n"
        "  repeat_interval: 1h\n"
        "receivers:\n"
        "  - name: opsdesk\n"
        "    webhook_configs:\n"
        f"      - url: '{base}/api/v1/alerts/alertmanager/{key}'\n"
        "        send_resolved: true\n"
    )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "alertmanager.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [
                ALERTMANAGER,
                f"--config.file={config}",
                f"--storage.path={tmp_path / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    pytest.fail(f"alertmanager exited:\n{log.read_text()}")
                try:
                    with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:  # noqa: S310
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"alertmanager not ready:\n{log.read_text()}")
                time.sleep(0.2)
            yield url
        finally:
            _stop(process)


def _wait_for(check: Any, what: str, log: Path) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}; alertmanager log:\n{log.read_text()}")


def _rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_alertmanager_delivers_firing_and_resolved(
    tmp_path: Path, opsdesk: tuple[str, str, str], alertmanager: str
) -> None:
    base, token, _key = opsdesk
    started = datetime.now(UTC) - timedelta(minutes=1)
    alert = {
        "labels": {"alertname": "DiskFull", "severity": "critical", "instance": "db1:9100"},
        "annotations": {"summary": "Disk full on db1"},
        "startsAt": _rfc3339(started),
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=disk",
    }
    _request(f"{alertmanager}/api/v2/alerts", body=[alert])
    log = tmp_path / "alertmanager.log"

    def opened() -> Any:
        groups = _request(f"{base}/api/v1/alert-groups", token=token)
        return groups[0] if groups and groups[0]["incident"] else None

    group = _wait_for(opened, "the incident from Alertmanager", log)
    assert group["title"] == "Disk full on db1" and group["firing"] == 1
    incident = _request(f"{base}/api/v1/incidents/{group['incident']}", token=token)
    assert incident["title"] == "Disk full on db1"
    assert incident["level"] == "level_20"

    ended = alert | {"endsAt": _rfc3339(datetime.now(UTC) - timedelta(seconds=1))}
    _request(f"{alertmanager}/api/v2/alerts", body=[ended])

    def resolved() -> Any:
        detail = _request(f"{base}/api/v1/alert-groups/{group['id']}", token=token)
        return detail if detail["alerts"][0]["status"] == "resolved" else None

    detail = _wait_for(resolved, "the resolution from Alertmanager", log)
    assert detail["firing"] == 0
    # Alertmanager's own fingerprint is the dedup key, and ours computes the same one.
    assert detail["alerts"][0]["dedup_key"] == label_fingerprint(alert["labels"])
    assert detail["alerts"][0]["link"].startswith("http://prometheus.example:9090/graph")
    groups = _request(f"{base}/api/v1/alert-groups", token=token)
    assert len(groups) == 1  # the resolution was noted on the same group, no new incident

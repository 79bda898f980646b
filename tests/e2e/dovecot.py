"""A throw-away Dovecot IMAP server: its own config, maildir and port, plaintext on localhost."""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DOVECOT = Path("/usr/sbin/dovecot")
USER = "desk"
PASSWORD = "imap-test-password"


@dataclass(frozen=True)
class ImapServer:
    host: str
    port: int
    user: str
    password: str
    root: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _config(root: Path, port: int, uid: int, gid: int) -> str:
    return f"""
base_dir = {root}/run
state_dir = {root}/state
instance_name = opsdesk-test-{port}
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
first_valid_uid = {uid}
default_login_user = dovenull
default_internal_user = dovecot
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def _wait_for_auth(port: int, deadline: float) -> None:
    """The port opens before the auth process is up; a login then fails "temporarily"."""
    while True:
        try:
            with imaplib.IMAP4("127.0.0.1", port) as client:
                client.login(USER, PASSWORD)
                client.logout()
                return
        except imaplib.IMAP4.error:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@contextmanager
def dovecot(root: Path) -> Iterator[ImapServer]:
    """Run Dovecot as a foreground child until the block ends."""
    # Dovecot will not serve mail as root; the mailbox belongs to "nobody".
    nobody = pwd.getpwnam("nobody")
    uid, gid = (os.getuid(), os.getgid()) if os.getuid() else (nobody.pw_uid, nobody.pw_gid)
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    for sub in ("mail", "home", "state"):
        (root / sub).mkdir()
        os.chown(root / sub, uid, gid)
    port = _free_port()
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    config = root / "dovecot.conf"
    config.write_text(_config(root, port, uid, gid))
    process = subprocess.Popen(
        [str(DOVECOT), "-F", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                stderr = process.stderr.read().decode() if process.stderr else ""
                log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                raise RuntimeError(f"dovecot exited: {stderr}\n{log}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("dovecot did not listen") from None
                time.sleep(0.1)
        _wait_for_auth(port, deadline)
        yield ImapServer("127.0.0.1", port, USER, PASSWORD, root)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()
        shutil.rmtree(root / "run", ignore_errors=True)

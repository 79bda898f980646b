"""Deployment settings read from ``OPSDESK_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything an operator sets at deployment time; tunables live in the database."""

    model_config = SettingsConfigDict(env_prefix="OPSDESK_", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="Files: SQLite DB, attachments, keys")
    database_url: str = Field(default="", description="SQLAlchemy URL; default SQLite in data_dir")
    secret_key: str = Field(default="", description="Signs session cookies; generated if empty")
    cookie_secure: bool = Field(
        default=False, description="Send the session cookie over HTTPS only"
    )
    session_max_age_s: int = Field(
        default=12 * 3600, ge=60, description="A web session ends this long after sign-in"
    )
    session_idle_s: int = Field(
        default=2 * 3600, ge=60, description="A web session ends after this long unused"
    )
    signin_free_failures: int = Field(
        default=5, ge=1, description="Failed passwords per account before sign-in is throttled"
    )
    signin_free_failures_per_address: int = Field(
        default=20, ge=1, description="Failed passwords per client address before throttling"
    )
    signin_first_delay_s: float = Field(
        default=15, gt=0, description="First wait when throttled; doubles with each failure"
    )
    signin_max_delay_s: float = Field(default=900, gt=0, description="Longest sign-in wait")
    signin_forget_s: float = Field(
        default=3600, gt=0, description="Failures are forgotten after this long without one"
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Proxies whose X-Forwarded-For/-Proto serve trusts (comma list, * or empty)",
    )
    clock_skew_s: int = Field(default=300, ge=0, description="Tolerated future fault times")
    run_worker: bool = Field(default=True, description="Run a background worker inside serve")
    db_pool_size: int = Field(default=20, ge=1, le=200)
    reopen_window_days: float = Field(
        default=14, ge=0, description="How long a resolved or completed incident may be reopened"
    )
    unmerge_window_hours: float = Field(
        default=72, ge=0, description="How long a merge of incidents may be undone"
    )
    suggest_embeddings: bool = Field(
        default=True,
        description="Fuse sentence embeddings into suggestions when the ai extra is installed",
    )
    auto_complete_days: float = Field(
        default=7, ge=0, description="Resolved incidents not confirmed in this time complete"
    )
    lifecycle_sweep_s: float = Field(
        default=60, gt=0, description="How often serve completes and resumes what is due"
    )
    sla_sweep_s: float = Field(
        default=30, gt=0, description="How often the worker escalates SLA thresholds that came"
    )
    confirm_reminder_days: float = Field(
        default=3,
        ge=0,
        description="Remind the reporter to confirm a resolution after this long; 0: never",
    )
    jobs_keep_days: float = Field(
        default=7, gt=0, description="How long finished jobs stay in the jobs table"
    )
    auth_events_keep_days: float = Field(
        default=365, gt=0, description="How long sign-in and other auth events are kept"
    )
    attachment_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    attachment_max_count: int = Field(default=10, ge=0)
    max_json_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest JSON or form request body; larger ones are refused with 413",
    )
    # Outgoing mail (notify/mail.py); the password is a SecretStr so it is never printed.
    smtp_host: str = Field(default="localhost", description="SMTP server for outgoing mail")
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user: str = Field(default="", description="SMTP login; empty: no authentication")
    smtp_password: SecretStr = Field(default=SecretStr(""))
    smtp_tls: Literal["none", "starttls", "tls"] = Field(default="none")
    smtp_timeout_s: float = Field(default=30, gt=0)
    smtp_connections: int = Field(
        default=4, ge=1, le=64, description="SMTP connections each worker keeps open"
    )
    mail_from: str = Field(default="opsdesk@localhost", description="From of every mail sent")
    public_url: str = Field(default="http://localhost:8000", description="Links in mails")
    webhook_timeout_s: float = Field(default=10, gt=0)
    # Inbound mail (intake/email): the SMTP listener, the MTA pipe and the IMAP poller.
    mail_unknown_senders: Literal["create", "refuse"] = Field(
        default="create",
        description="Mail from an unknown address: create an end-user contact, or refuse politely",
    )
    mail_reopen_on_reply: bool = Field(
        default=True, description="A reporter's reply to a resolved incident reopens it"
    )
    mail_rate_limit: int = Field(
        default=20, ge=0, description="Mails one sender may send per window before hold; 0: off"
    )
    mail_rate_window_minutes: float = Field(default=10, gt=0, description="The rate limit window")
    mail_max_bytes: int = Field(
        default=40 * 1024 * 1024, ge=1024, description="Largest mail the SMTP listener accepts"
    )
    imap_host: str = Field(default="", description="IMAP server to poll; empty: no polling")
    imap_port: int = Field(default=993, ge=1, le=65535)
    imap_user: str = Field(default="")
    imap_password: SecretStr = Field(default=SecretStr(""))
    imap_tls: Literal["none", "starttls", "tls"] = Field(default="tls")
    imap_folder: str = Field(default="INBOX", description="Folder read for new mail")
    imap_done_folder: str = Field(
        default="", description="Move processed mail here; empty: mark it seen instead"
    )
    imap_interval_s: float = Field(default=60, gt=0, description="How often the worker polls")
    # Post-incident reviews (reviews/): which incidents need one, who reviews and approves.
    pir_required_levels: str = Field(
        default="P1,P2", description="Levels whose resolve creates a required review"
    )
    pir_for_major: bool = Field(default=True, description="Every major incident needs a review")
    pir_reviewer_role: Literal["technician", "incident_manager", "admin"] = Field(
        default="incident_manager", description="Assistant director: least role (no list)"
    )
    pir_reviewers: str = Field(
        default="", description="Assistant directors: user ids or emails, comma-separated"
    )
    pir_approver_role: Literal["technician", "incident_manager", "admin"] = Field(
        default="admin", description="Director: least role (no list)"
    )
    pir_approvers: str = Field(
        default="", description="Directors: user ids or emails, comma-separated"
    )
    pir_pdf_font: str = Field(
        default="/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        description="A TrueType font for PDF exports (Unicode); missing: Helvetica, Latin-1",
    )

    # Major incidents (reviews/major*.py, docs/major-incidents.md).
    major_auto_levels: str = Field(
        default="P1",
        pattern=r"^\s*((?i:P[1-5]|level_[1-5]0)\s*(,\s*(?i:P[1-5]|level_[1-5]0)\s*)*)?$",
        description="Levels that declare a major incident by themselves (comma list; empty: none)",
    )
    major_critical_applications: str = Field(
        default="",
        max_length=4000,
        description="Application keys whose service interruption declares a major incident",
    )
    major_alert_storm: int = Field(
        default=50, ge=0, description="Alerts in one group that declare its incident major; 0: off"
    )
    major_update_minutes: str = Field(
        default="P1=15,P2=30,*=60",
        pattern=r"^\s*(((?i:P[1-5]|level_[1-5]0)|\*)\s*=\s*\d+\s*"
        r"(,\s*((?i:P[1-5]|level_[1-5]0)|\*)\s*=\s*\d+\s*)*)?$",
        description="Remind the incident manager when no update was posted for N minutes, "
        "per level (P1=15,P2=30,*=60; 0: never)",
    )
    major_manager_shift: str = Field(
        default="",
        pattern=r"^([\w.-]+/[\w.-]+)?$",
        description="scene/role whose person on duty manages a rule-declared major incident",
    )
    major_comms_shift: str = Field(
        default="",
        pattern=r"^([\w.-]+/[\w.-]+)?$",
        description="scene/role whose person on duty leads communications of a major incident",
    )
    major_sweep_s: float = Field(
        default=60, gt=0, description="How often the worker checks alert storms and reminders"
    )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'opsdesk.db').as_posix()}"

    def resolved_secret_key(self) -> str:
        """The configured key, else one generated once and kept in the data directory."""
        if self.secret_key:
            return self.secret_key
        key_file = self.data_dir / "secret_key"
        if key_file.exists():
            return key_file.read_text().strip()
        import secrets

        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        key_file.write_text(key)
        key_file.chmod(0o600)
        return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


class SettingsError(Exception):
    """Some ``OPSDESK_*`` variables are invalid; ``lines`` says which, one line each."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("; ".join(lines))
        self.lines = lines


def load_settings() -> Settings:
    """``get_settings()``, with a validation error turned into short lines for people."""
    try:
        return get_settings()
    except ValidationError as exc:
        raise SettingsError([_explain(error) for error in exc.errors()]) from None


_SECRET_FIELDS = frozenset({"secret_key", "smtp_password", "database_url"})
_ALLOWED_BY_TYPE = {
    "bool_parsing": "true, false, yes, no, on, off, 1, 0",
    "bool_type": "true, false, yes, no, on, off, 1, 0",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "path_type": "a file system path",
}


def _explain(error: Any) -> str:
    name = str(error["loc"][0]) if error["loc"] else "?"
    variable = f"OPSDESK_{name.upper()}"
    given = error.get("input")
    # The database URL may carry a password: name the variable, never echo it.
    shown = "(hidden)" if name in _SECRET_FIELDS else repr(str(given))
    return f"invalid setting {variable}={shown}: allowed: {_allowed(name, error)}"


def _allowed(name: str, error: Any) -> str:
    field = Settings.model_fields.get(name)
    if field is not None and get_origin(field.annotation) is Literal:
        return ", ".join(str(choice) for choice in get_args(field.annotation))
    if error["type"] in _ALLOWED_BY_TYPE:
        return _ALLOWED_BY_TYPE[error["type"]]
    return str(error["msg"]).removeprefix("Input should be ").removeprefix("Value error, ")

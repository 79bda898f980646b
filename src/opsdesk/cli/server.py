"""Setting up and running a desk: the database schema, the demo data, the web server and the
worker."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from opsdesk.cli.common import deployment_settings, fail, in_transaction

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
# `serve` and `worker` are top-level commands: the package registers them on its root app.

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def serve_log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging set-up, with the request id (``-`` outside a request) on every line:
    opsdesk's own, the server's and the access log's."""
    request_id = {"()": "opsdesk.core.request_id.RequestIdFilter"}
    line = "%(asctime)s %(levelname)s [%(request_id)s]"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": request_id},
        "formatters": {
            "default": {
                "()": "uvicorn.logging.DefaultFormatter",
                "fmt": f"{line} %(name)s: %(message)s",
                "use_colors": False,
            },
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": f'{line} %(client_addr)s - "%(request_line)s" %(status_code)s',
                "use_colors": False,
            },
        },
        "handlers": {
            name: {
                "formatter": name,
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "filters": ["request_id"],
            }
            for name in ("default", "access")
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level.upper(), "propagate": False},
            # Its own switch (--access-log), whatever the level.
            "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
            "opsdesk": {"handlers": ["default"], "level": level.upper(), "propagate": False},
        },
    }


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Reverse proxies trusted for X-Forwarded-For/-Proto (comma list or *; "
            "empty: none). Default: OPSDESK_FORWARDED_ALLOW_IPS, else 127.0.0.1"
        ),
    ] = None,
    log_level: Annotated[
        str, typer.Option(help=f"Least level logged: {', '.join(LOG_LEVELS)}")
    ] = "warning",
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="One line per request")
    ] = False,
) -> None:
    """Serve the web UI and the APIs. Every log line names its request's X-Request-Id."""
    import uvicorn

    trusted = (
        forwarded_allow_ips
        if forwarded_allow_ips is not None
        else deployment_settings().forwarded_allow_ips
    ).strip()
    level = log_level.lower()
    if level not in LOG_LEVELS:
        raise fail(f"--log-level: {log_level!r} is not one of {', '.join(LOG_LEVELS)}")
    typer.echo(f"opsdesk on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    uvicorn.run(
        "opsdesk.app:serving_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # The client address (sign-in throttling, auth events) is the proxy's own unless the
        # proxy is trusted to say whom it forwards for.
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        log_config=serve_log_config(level),
        access_log=access_log,
    )


def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Jobs run at the same time")] = 16,
    batch: Annotated[int, typer.Option(min=1, help="Jobs claimed per round")] = 100,
    once: Annotated[bool, typer.Option("--once", help="Run one batch, then exit")] = False,
) -> None:
    """Run background jobs until SIGTERM or Ctrl-C (jobs in hand are finished first)."""
    import logging

    from opsdesk.core.errors import OpsdeskError
    from opsdesk.worker.process import run_worker_process

    # Log to this command's stderr only while it runs (not a global logging set-up).
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("opsdesk")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        claimed = asyncio.run(
            run_worker_process(
                deployment_settings(), concurrency=concurrency, batch=batch, once=once
            )
        )
    except OpsdeskError as exc:
        raise fail(exc.message) from None
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    if once:
        typer.echo(f"{claimed} jobs run")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the schema to the newest revision and add missing default reference data."""
    from opsdesk.bootstrap import prepare_database

    url = deployment_settings().resolved_database_url()
    try:
        prepared = prepare_database(url)
    except Exception as exc:
        raise fail(f"could not upgrade the database: {exc}") from None
    typer.echo(prepared.summary())


@demo_app.command("load")
def demo_load() -> None:
    """Load demo users and incidents once (does nothing if they are already there)."""
    from opsdesk.core.clock import SystemClock
    from opsdesk.demo.data import DEMO_USERS, load_demo

    loaded = in_transaction(lambda session: load_demo(session=session, clock=SystemClock()))
    if not loaded:
        typer.echo("demo data already loaded")
        return
    typer.echo("demo data loaded; sign in as one of:")
    for user in DEMO_USERS:
        typer.echo(f"  {user.email:<22} {user.password:<14} {user.role.value}")

"""The ``opsdesk`` command: serve, worker, db, demo, users, tokens, access keys, incidents,
shifts, mail, integrations.

One module per concept: server.py (set up and run a desk: db, demo, serve, worker),
access.py (users, tokens, access keys), desk.py (incidents, shifts), channels.py (mail,
integrations); common.py holds what they share. Imports of the application (SQLAlchemy,
FastAPI, the feature packages) happen inside the commands that need them, so
``opsdesk --help`` and the small commands start quickly.
"""

from __future__ import annotations

import typer

from opsdesk.cli import access, channels, desk, server
from opsdesk.cli.common import deployment_settings

app = typer.Typer(help="opsdesk: incident management.", no_args_is_help=True)


@app.callback()
def _check_settings() -> None:
    """Every command checks the settings first, so a bad one never ends in a traceback."""
    deployment_settings()


app.command()(server.serve)
app.command()(server.worker)
app.add_typer(server.db_app, name="db")
app.add_typer(server.demo_app, name="demo")
app.add_typer(access.users_app, name="users")
app.add_typer(access.tokens_app, name="tokens")
app.add_typer(access.access_keys_app, name="access-keys")
app.add_typer(desk.incidents_app, name="incidents")
app.add_typer(desk.shifts_app, name="shifts")
app.add_typer(channels.mail_app, name="mail")
app.add_typer(channels.integrations_app, name="integrations")

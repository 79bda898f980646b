"""``python -m opsdesk``: the same as the ``opsdesk`` command."""

from opsdesk.cli import app

app(prog_name="opsdesk")

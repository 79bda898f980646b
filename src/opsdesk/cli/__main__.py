"""``python -m opsdesk.cli``: the same as the ``opsdesk`` command."""

from opsdesk.cli import app

app(prog_name="opsdesk")

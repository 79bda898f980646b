"""``opsdesk serve``'s logging options are checked before anything starts."""

from __future__ import annotations

from typer.testing import CliRunner

from opsdesk.cli import app
from opsdesk.cli.server import serve_log_config


def test_an_unknown_log_level_is_refused_naming_the_option() -> None:
    result = CliRunner().invoke(app, ["serve", "--log-level", "loud"])
    assert result.exit_code == 1
    assert "--log-level: 'loud' is not one of critical, error, warning, info, debug" in (
        result.output
    )


def test_every_serve_log_line_names_the_request() -> None:
    config = serve_log_config("info")
    formats = [formatter["fmt"] for formatter in config["formatters"].values()]
    assert all("[%(request_id)s]" in fmt for fmt in formats)
    assert all(handler["filters"] == ["request_id"] for handler in config["handlers"].values())
    assert config["loggers"]["opsdesk"]["level"] == "INFO"

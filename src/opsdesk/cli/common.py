"""What every ``opsdesk`` command shares: the settings, one unit of work, a failure message."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from opsdesk.core.settings import Settings

T = TypeVar("T")


def fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


def deployment_settings() -> Settings:
    """The deployment settings; an invalid one ends the command with a one-line message each."""
    from opsdesk.core.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        for line in exc.lines:
            typer.echo(f"opsdesk: {line}", err=True)
        raise typer.Exit(code=2) from None


def in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run one unit of work against the configured database and commit it."""

    from opsdesk.core.database import Database
    from opsdesk.core.errors import OpsdeskError

    async def run() -> T:
        db = Database(deployment_settings().resolved_database_url())
        try:
            async with db.write() as session:
                return await work(session)
        finally:
            await db.dispose()

    try:
        return asyncio.run(run())
    except OpsdeskError as exc:
        raise fail(exc.message) from None

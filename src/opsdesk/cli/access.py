"""Who may use the desk: users, API tokens and access keys."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from opsdesk.auth.roles import Role
from opsdesk.cli.common import deployment_settings, fail, in_transaction

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

users_app = typer.Typer(help="Users.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens.", no_args_is_help=True)
access_keys_app = typer.Typer(
    help="Access keys (AK/SK) for requests signed as Huawei Cloud's SDKs sign them.",
    no_args_is_help=True,
)


def _read_password(password_stdin: bool) -> str | None:
    if not password_stdin:
        return None
    password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        raise fail("the password must be at least 8 characters")
    return password


@users_app.command("create")
def users_create(
    email: str,
    role: Annotated[Role, typer.Option(help="end_user, technician, incident_manager or admin")] = (
        Role.END_USER
    ),
    name: Annotated[str | None, typer.Option(help="Display name")] = None,
    organisation: Annotated[
        str | None, typer.Option(help="The user's organisation (SLA policies may match it)")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
) -> None:
    """Create a user; prints the new user's id."""
    from pydantic import ValidationError

    from opsdesk.auth import service as auth_service
    from opsdesk.auth.schemas import UserCreate
    from opsdesk.core.clock import SystemClock

    password = _read_password(password_stdin)
    try:
        data = UserCreate(
            email=email, role=role, name=name, password=password, organisation=organisation
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise fail(f"{field}: {first['msg']}") from None
    user = in_transaction(
        lambda session: auth_service.create_user(
            session=session, data=data, now=SystemClock().now()
        )
    )
    typer.echo(user.id)


@users_app.command("list")
def users_list() -> None:
    """List users: id, email, role, active."""

    async def work(session: AsyncSession) -> list[str]:
        from sqlalchemy import select

        from opsdesk.auth.models import User

        rows = await session.scalars(select(User).order_by(User.email))
        return [
            f"{u.id}  {u.email:<30} {u.role:<17} {'active' if u.active else 'inactive'}"
            for u in rows
        ]

    for line in in_transaction(work):
        typer.echo(line)


@tokens_app.command("create")
def tokens_create(
    email: str,
    name: Annotated[str, typer.Option(help="A label to recognise the token by")] = "cli",
) -> None:
    """Create an API token for a user; prints only the token."""
    from opsdesk.auth import service as auth_service
    from opsdesk.core.clock import SystemClock

    async def work(session: AsyncSession) -> str:
        user = await auth_service.get_user_by_email(session=session, email=email)
        _row, token = await auth_service.create_token(
            session=session, user_id=user.id, name=name, now=SystemClock().now()
        )
        return token

    typer.echo(in_transaction(work))


@access_keys_app.command("create")
def access_keys_create(
    email: str,
    name: Annotated[str, typer.Option(help="A label to recognise the key by")] = "cli",
) -> None:
    """Create an access key: prints the access key id, then the secret key (shown once)."""
    from opsdesk.auth import access_keys
    from opsdesk.auth import service as auth_service
    from opsdesk.auth.secret_box import SecretBox
    from opsdesk.core.clock import SystemClock

    box = SecretBox(deployment_settings().resolved_secret_key())

    async def work(session: AsyncSession) -> tuple[str, str]:
        user = await auth_service.get_user_by_email(session=session, email=email)
        row, secret = await access_keys.create_access_key(
            session=session, user_id=user.id, name=name, now=SystemClock().now(), box=box
        )
        return row.id, secret

    access_key_id, secret = in_transaction(work)
    typer.echo(access_key_id)
    typer.echo(secret)


@access_keys_app.command("list")
def access_keys_list(email: str) -> None:
    """A user's access keys: id, name, created, last used, revoked (never the secret)."""
    from opsdesk.auth import access_keys
    from opsdesk.auth import service as auth_service

    async def work(session: AsyncSession) -> list[str]:
        user = await auth_service.get_user_by_email(session=session, email=email)
        rows = await access_keys.list_access_keys(session=session, user_id=user.id)
        return [
            "\t".join(
                (
                    row.id,
                    row.name,
                    row.created_at.isoformat(),
                    row.last_used_at.isoformat() if row.last_used_at else "never used",
                    f"revoked {row.revoked_at.isoformat()}" if row.revoked_at else "active",
                )
            )
            for row in rows
        ]

    for line in in_transaction(work):
        typer.echo(line)


@access_keys_app.command("revoke")
def access_keys_revoke(access_key_id: str) -> None:
    """Revoke an access key: requests signed with it are refused from now on."""
    from opsdesk.auth import access_keys
    from opsdesk.auth import service as auth_service
    from opsdesk.auth.models import AccessKey
    from opsdesk.core.clock import SystemClock
    from opsdesk.core.errors import NotFound

    async def work(session: AsyncSession) -> str:
        row = await session.get(AccessKey, access_key_id)
        if row is None:
            raise NotFound(f"no access key {access_key_id}", field="access_key_id")
        user = await auth_service.get_user(session=session, user_id=row.user_id)
        revoked = await access_keys.revoke_access_key(
            session=session,
            caller=auth_service.caller_of(user),
            access_key_id=access_key_id,
            now=SystemClock().now(),
        )
        return f"revoked {revoked.id}"

    typer.echo(in_transaction(work))

"""Demo data for the suggestions: a few published articles (public and staff-only) that the
demo's incidents resemble, and one report an article ended ("this solved it")."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.knowledge import deflections
from opsdesk.knowledge.models import Article

DEMO_ARTICLES = (
    (
        "VPN says 'authentication failed' when connecting from home",
        "The VPN client refuses the sign-in after a password change: it still sends the "
        "password saved in the client.",
        "Open the VPN client, choose Settings > Clear saved credentials, then connect and sign "
        "in with your current password.",
        ["vpn", "authentication", "remote access"],
        "public",
    ),
    (
        "Printer prints blank pages",
        "Jobs come out as empty pages when the toner cartridge is empty and the low-toner "
        "warning is switched off.",
        "Open the printer's front panel, check the toner level and replace the cartridge; "
        "facilities keep spares on every floor.",
        ["printer", "toner", "blank pages"],
        "public",
    ),
    (
        "Shared mailbox not receiving mail",
        "A mail flow rule or a full mailbox quota stops delivery to a shared mailbox.",
        "Check the mail flow rules for the mailbox in the admin centre and its quota; release "
        "queued mail from the queue viewer.",
        ["shared mailbox", "mail flow", "exchange"],
        "staff",
    ),
)


async def load_suggestions_demo(
    *, session: AsyncSession, author_id: str, end_user: Caller, now: datetime
) -> None:
    ids = []
    for title, body, workaround, keywords, visibility in DEMO_ARTICLES:
        article = Article(
            title=title,
            body=body,
            workaround=workaround,
            keywords=keywords,
            status="published",
            visibility=visibility,
            author_id=author_id,
            created_at=now - timedelta(days=30),
            updated_at=now - timedelta(days=30),
            published_at=now - timedelta(days=30),
        )
        session.add(article)
        await session.flush()
        ids.append(article.id)
    await deflections.deflect(
        session=session,
        caller=end_user,
        article_id=ids[1],
        text="The printer only gives me empty pages",
        now=now - timedelta(hours=2),
    )

"""Demo knowledge base: articles in every status, for staff and for end users, one written
from the printer incident's solution, with versions and readers' votes."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.knowledge import articles, usage
from opsdesk.knowledge.article_states import ArticleStep
from opsdesk.knowledge.schemas import ArticleCreate, ArticleUpdate

# (title, body, workaround, visibility, category, application, keywords, last step)
ARTICLES: tuple[tuple[str, str, str, str, str, str, list[str], str], ...] = (
    (
        "VPN says 'authentication failed' after a password change",
        "The VPN client refuses to connect with 'authentication failed', usually the morning "
        "after the Windows password was changed or expired.",
        "Sign out of Windows and back in once with the new password, then open the VPN client "
        "and choose 'Forget saved credentials' before connecting again.",
        "public",
        "inc_type_p_network_issues",
        "app_network",
        ["vpn", "password", "authentication"],
        "publish",
    ),
    (
        "Shared mailbox receives no mail: a transport rule holds it",
        "A shared mailbox stops receiving external mail while internal mail still arrives.",
        "Check the transport rules for one that quarantines mail to the mailbox; disable it and "
        "release the quarantined messages. Nothing is lost, the messages wait in quarantine.",
        "staff",
        "inc_type_p_config_issues",
        "app_email",
        ["mailbox", "transport rule", "quarantine"],
        "publish",
    ),
    (
        "Outlook keeps asking for the password",
        "Outlook shows the sign-in window again and again, even with the right password.",
        "Close Outlook, open Credential Manager, remove the entries that start with "
        "'MicrosoftOffice', then start Outlook and sign in once.",
        "public",
        "inc_type_p_config_issues",
        "app_email",
        ["outlook", "password", "credentials"],
        "publish",
    ),
    (
        "Checkout API returns HTTP 500 after a deploy",
        "A spike of HTTP 500 on the checkout API within minutes of a deploy of the checkout "
        "service.",
        "Roll back to the previous release with the deploy pipeline's 'rollback' job, then "
        "open a problem record for the failing change.",
        "staff",
        "inc_type_p_function_issues",
        "app_website",
        ["checkout", "http 500", "rollback"],
        "submit",
    ),
    (
        "How to map a network drive",
        "You need the team share as a drive letter in Explorer.",
        "In Explorer choose 'This PC', then 'Map network drive', pick a letter and enter the "
        "share path your team uses, e.g. \\\\files\\team.",
        "public",
        "inc_type_p_config_issues",
        "app_workplace",
        ["drive", "share", "explorer"],
        "",
    ),
    (
        "VPN client 4.x: import the old profile",
        "The 4.x client needs the profile imported by hand.",
        "Import vpn-profile.xml from the intranet page. (Client 4.x is no longer supported.)",
        "public",
        "inc_type_p_network_issues",
        "app_network",
        ["vpn", "profile"],
        "retire",
    ),
    (
        "Wi-Fi drops on floor 3",
        "Laptops lose the Wi-Fi every few minutes near the meeting rooms on floor 3.",
        "Forget the 'corp' network and connect to 'corp-5g'; report the room if it persists.",
        "public",
        "inc_type_p_network_issues",
        "app_network",
        ["wifi", "wireless", "floor 3"],
        "publish",
    ),
)

STEPS = {
    "": (),
    "submit": (ArticleStep.SUBMIT,),
    "publish": (ArticleStep.SUBMIT, ArticleStep.PUBLISH),
    "retire": (ArticleStep.SUBMIT, ArticleStep.PUBLISH, ArticleStep.RETIRE),
}


async def load_demo_knowledge(
    *,
    session: AsyncSession,
    tech: Caller,
    manager: Caller,
    readers: list[Caller],
    printer: str,
    now: datetime,
) -> None:
    """About eight articles; the first is drafted from the printer incident's solution."""
    start = now - timedelta(hours=18)
    article, _incident = await articles.create_from_incident(
        session=session, caller=tech, number=printer, now=start
    )
    await articles.update_article(
        session=session,
        caller=tech,
        article_id=article.id,
        data=ArticleUpdate(
            title="Printer prints blank pages: toner empty, warning off",
            visibility="public",
            keywords=["printer", "blank pages", "toner"],
            note="Made readable for end users",
        ),
        now=start + timedelta(minutes=5),
    )
    for step, who in ((ArticleStep.SUBMIT, tech), (ArticleStep.PUBLISH, manager)):
        await articles.take_step(
            session=session,
            caller=who,
            article_id=article.id,
            step=step,
            comment="",
            now=start + timedelta(minutes=10),
        )
    ids = [article.id]
    for index, (title, body, workaround, visibility, category, app, words, last) in enumerate(
        ARTICLES
    ):
        at = start + timedelta(minutes=20 + index)
        created = await articles.create_article(
            session=session,
            caller=tech,
            data=ArticleCreate(
                title=title,
                body=body,
                workaround=workaround,
                visibility=visibility,
                category=category,
                application=app,
                keywords=words,
            ),
            now=at,
        )
        for step in STEPS[last]:
            await articles.take_step(
                session=session,
                caller=tech if step == ArticleStep.SUBMIT else manager,
                article_id=created.id,
                step=step,
                comment="",
                now=at + timedelta(minutes=1),
            )
        ids.append(created.id)
    # The Wi-Fi article was corrected twice: versions 2 and 3.
    wifi = ids[-1]
    for minutes, note, workaround in (
        (40, "Named the 5 GHz network", "Forget 'corp' and connect to 'corp-5g' instead."),
        (
            50,
            "Say where to report",
            "Forget the 'corp' network and connect to 'corp-5g'. If it still drops, report "
            "the room number in a new incident.",
        ),
    ):
        await articles.update_article(
            session=session,
            caller=manager,
            article_id=wifi,
            data=ArticleUpdate(workaround=workaround, note=note),
            now=start + timedelta(minutes=minutes),
        )
    # Readers' votes on the published articles for end users.
    for article_id, votes in ((ids[0], (True, True)), (ids[1], (True, False)), (wifi, (True,))):
        for reader, helped in zip(readers, votes, strict=False):
            await usage.give_feedback(
                session=session,
                caller=reader,
                article_id=article_id,
                helped=helped,
                now=start + timedelta(hours=1),
            )

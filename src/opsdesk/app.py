"""The application factory: one ASGI app serving the native API, the COC API and the web pages."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.middleware.sessions import SessionMiddleware
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from opsdesk import __version__
from opsdesk.api import (
    account,
    actions,
    alerts,
    assignment,
    attachments,
    auth_events,
    catalog,
    collaboration,
    health,
    inbound_mail,
    incidents,
    jobs,
    notifications,
    pagerduty,
    sla,
    tasks,
    users,
    work_orders,
)
from opsdesk.api import articles as api_articles
from opsdesk.api import links as api_links
from opsdesk.api import major as api_major
from opsdesk.api import pir as api_pir
from opsdesk.api import relations as api_relations
from opsdesk.api import status as api_status
from opsdesk.api import suggestions as api_suggestions
from opsdesk.api import views as api_views
from opsdesk.api.body_limits import BodyLimits
from opsdesk.api.coc import alarms as coc_alarms
from opsdesk.api.coc import attachments as coc_attachments
from opsdesk.api.coc import handling as coc_handling
from opsdesk.api.coc import histories as coc_histories
from opsdesk.api.coc import incidents as coc_incidents
from opsdesk.api.coc import war_rooms as coc_war_rooms
from opsdesk.api.docs import install_docs
from opsdesk.api.error_boundary import ErrorBoundary
from opsdesk.api.errors import install_error_handlers
from opsdesk.api.nul_guard import NulGuard
from opsdesk.api.request_id import RequestIdMiddleware
from opsdesk.api.session_touch import SessionTouch
from opsdesk.api.surrogate_guard import SurrogateGuard
from opsdesk.api.transport import StrictTransportSecurity
from opsdesk.core.clock import Clock, SystemClock
from opsdesk.core.database import Database
from opsdesk.core.request_id import install_log_record_factory
from opsdesk.core.settings import Settings, get_settings
from opsdesk.incidents.sweeper import incident_rules_from
from opsdesk.web import access_keys as web_access_keys
from opsdesk.web import account as web_account
from opsdesk.web import alerts as web_alerts
from opsdesk.web import auth_events as web_auth_events
from opsdesk.web import desk as web_desk
from opsdesk.web import inbound_mail as web_inbound_mail
from opsdesk.web import incident_edit as web_incident_edit
from opsdesk.web import incident_page as web_incident_page
from opsdesk.web import jobs as web_jobs
from opsdesk.web import knowledge as web_knowledge
from opsdesk.web import knowledge_incident as web_knowledge_incident
from opsdesk.web import links as web_links
from opsdesk.web import live as web_live
from opsdesk.web import pir as web_pir
from opsdesk.web import relations_merge as web_relations_merge
from opsdesk.web import routes as web_routes
from opsdesk.web import status_page as web_status_page
from opsdesk.web import status_updates as web_status_updates
from opsdesk.web import suggestions as web_suggestions
from opsdesk.web import task_page as web_task_page
from opsdesk.web import teams as web_teams
from opsdesk.web import war_rooms as web_war_rooms
from opsdesk.web import work as web_work
from opsdesk.web.admin.routers import ADMIN_ROUTERS
from opsdesk.worker.handlers import default_handlers
from opsdesk.worker.process import InProcessWorker
from opsdesk.worker.runner import Worker

SESSION_COOKIE = "opsdesk_session"


class OpsdeskApp(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        # Outermost, outside Starlette's error middleware: a 500 carries X-Request-Id too.
        return RequestIdMiddleware(super().build_middleware_stack())


def create_app(
    settings: Settings | None = None,
    *,
    db: Database | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    database = db or Database(settings.resolved_database_url(), pool_size=settings.db_pool_size)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        in_process: InProcessWorker | None = None
        if settings.run_worker:
            # Jobs (lifecycle sweep, notifications, webhooks) run beside the app by default;
            # `opsdesk worker` processes may run too, on any machine.
            in_process = InProcessWorker(
                Worker(
                    db=database,
                    clock=app.state.clock,
                    handlers=default_handlers(settings),
                    settings=settings,
                )
            )
            in_process.start()
        app.state.worker = in_process
        if getattr(app.state, "freeze_gc", False):
            # Everything built so far (routes, models, compiled templates) lives as long as the
            # process: out of the collector's sight, a full collection scans only what
            # requests made, a few ms instead of a 100+ ms pause in every request in flight.
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            if in_process is not None:
                await in_process.shutdown()
            if db is None:
                await database.dispose()

    install_log_record_factory()
    app = OpsdeskApp(
        title="opsdesk",
        version=__version__,
        summary="Incident management: native REST API",
        lifespan=lifespan,
        # /docs and /redoc come from install_docs: served from an installed package, no CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = database
    app.state.clock = clock or SystemClock()
    app.state.incident_rules = incident_rules_from(settings)
    app.add_middleware(SessionTouch)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.resolved_secret_key(),
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_max_age_s,
        same_site="lax",
        https_only=settings.cookie_secure,
    )
    # Inside the NUL guard (middleware added later runs first), so its checks come first.
    app.add_middleware(SurrogateGuard)
    app.add_middleware(NulGuard)
    if settings.cookie_secure:
        app.add_middleware(StrictTransportSecurity)
    # Outside NulGuard, which reads bodies: the limit bounds what it reads.
    app.add_middleware(
        BodyLimits,
        max_body_bytes=settings.max_json_bytes,
        max_upload_bytes=settings.attachment_max_bytes + settings.max_json_bytes,
    )
    # Outermost (added last): whatever escapes the other middleware still becomes an answer.
    app.add_middleware(ErrorBoundary)
    install_error_handlers(app)
    install_docs(app)
    # First: routes are matched in order, and the alert receivers are the hot path.
    app.include_router(pagerduty.router)
    app.include_router(alerts.router)
    app.include_router(health.router)
    app.include_router(users.router)
    app.include_router(account.router)
    app.include_router(auth_events.router)
    app.include_router(incidents.router)
    app.include_router(actions.router)
    app.include_router(attachments.router)
    app.include_router(collaboration.router)
    app.include_router(tasks.router)
    app.include_router(work_orders.incident_router)
    app.include_router(work_orders.router)
    app.include_router(api_articles.router)
    app.include_router(api_articles.incident_router)
    app.include_router(api_links.router)
    app.include_router(api_relations.router)
    app.include_router(api_suggestions.router)
    app.include_router(assignment.router)
    app.include_router(jobs.router)
    app.include_router(inbound_mail.router)
    app.include_router(inbound_mail.incident_router)
    app.include_router(notifications.router)
    app.include_router(sla.router)
    app.include_router(coc_incidents.router)
    app.include_router(coc_histories.router)
    app.include_router(coc_handling.router)
    app.include_router(coc_attachments.router)
    app.include_router(api_views.router)
    app.include_router(coc_alarms.router)
    for status_router in api_status.routers:
        app.include_router(status_router)
    app.include_router(api_pir.router)
    app.include_router(coc_war_rooms.router)
    app.include_router(api_major.router)
    for router in catalog.routers:
        app.include_router(router)
    app.include_router(web_status_page.router)
    app.include_router(web_suggestions.router)
    app.include_router(web_routes.router)
    app.include_router(web_incident_page.router)
    app.include_router(web_relations_merge.router)
    app.include_router(web_incident_edit.router)
    app.include_router(web_links.router)
    app.include_router(web_teams.router)
    app.include_router(web_work.router)
    app.include_router(web_task_page.router)
    app.include_router(web_status_updates.router)
    app.include_router(web_pir.router)
    app.include_router(web_knowledge.router)
    app.include_router(web_knowledge_incident.router)
    app.include_router(web_war_rooms.router)
    app.include_router(web_jobs.router)
    app.include_router(web_inbound_mail.router)
    app.include_router(web_alerts.router)
    app.include_router(web_account.router)
    app.include_router(web_auth_events.router)
    app.include_router(web_access_keys.router)
    for admin_router in ADMIN_ROUTERS:
        app.include_router(admin_router)
    app.include_router(web_desk.router)
    app.include_router(web_live.router)
    app.mount(
        "/static",
        StaticFiles(directory=Path(__file__).resolve().parent / "web" / "static"),
        name="static",
    )
    return app


def serving_app() -> FastAPI:
    """The app as ``opsdesk serve`` runs it: one per server process, which it owns (so it may
    freeze the garbage collector's view of everything built at start-up; tests make many apps
    in one process and must not)."""
    app = create_app()
    app.state.freeze_gc = True
    return app

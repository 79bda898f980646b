"""A crawler walks the web console as each demo user and as nobody: no page is a server error.

It loads the demo into a fresh database, signs in through the real sign-in form and follows
every same-site ``<a href>`` breadth-first from ``/`` and every page without path parameters,
with a bound per role and per route shape so fifty incident pages do not crowd out the rest.
Every other role also replays what the admin's crawl reached, so an unlinked page is tried too:
only an admin gets an /admin page, an end user never gets a staff page, and someone signed out
gets nothing but the sign-in redirect or a public page.

SQLite only: the crawl only reads (GETs) the demo data, and the pages' queries are the ones the
per-module tests already run on both backends; one backend finds a template or a route that
breaks, and a second full crawl would double a slow test for nothing.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, urldefrag, urlsplit

import httpx
import pytest

from opsdesk.app import create_app
from opsdesk.bootstrap import prepare_database
from opsdesk.core.clock import SystemClock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from opsdesk.demo.data import load_demo

BASE = "http://testserver"
MAX_URLS = 400
MAX_PER_SHAPE = 5
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

# Every page without path parameters (read from the routers): the crawl starts from all of
# them, so a staff page the end user is never shown a link to is still tried.
SEEDS = (
    "/",
    "/login",
    "/incidents",
    "/incidents/new",
    "/knowledge",
    "/knowledge/new",
    "/account",
    "/status",
    "/status/feed.atom",
    "/teams",
    "/dashboard",
    "/my-work",
    "/queue",
    "/work-orders",
    "/war-rooms",
    "/reviews",
    "/alerts",
    "/admin",
    "/admin/users",
    "/admin/technicians",
    "/admin/workgroups",
    "/admin/reference",
    "/admin/rules",
    "/admin/priority-matrix",
    "/admin/shifts",
    "/admin/sla",
    "/admin/status",
    "/admin/notifications",
    "/admin/integrations",
    "/admin/jobs",
    "/admin/inbound-mail",
    "/admin/access-keys",
    "/admin/auth-events",
)

# Pages only staff may see (the routers check `caller.is_staff` or a higher role).
STAFF_ONLY = re.compile(
    r"^/(admin|teams|dashboard|my-work|queue|work-orders|war-rooms|alerts)(/|$)"
    r"|^/reviews/?$"
    r"|^/incidents/[^/]+/(tasks|split)(/|$)"
)
# The console's admin pages are the admin's alone (a mail's raw bytes, linked from there, are
# for all staff: tests/api/test_inbound_mail_admin.py).
ADMIN_ONLY = re.compile(r"^/admin(/|$)")
# What someone signed out may see without being sent to sign in.
PUBLIC = re.compile(r"^/(login|status|static|docs|docs-assets|redoc|openapi\.json)(/|$|\.)")
SKIP = re.compile(r"(^|/)(logout|sign-?out)(/|$)")
NUMBERISH = re.compile(r"\d")

ADMIN = ("admin@example.com", "demo-admin")
ACCOUNTS = {
    "anonymous": None,
    "admin": ADMIN,
    "manager": ("manager@example.com", "demo-manager"),
    "technician": ("tech@example.com", "demo-tech"),
    "end_user": ("user@example.com", "demo-user"),
}


async def _load_demo(url: str) -> None:
    db = Database(url)
    try:
        async with db.write() as session:
            await load_demo(session=session, clock=SystemClock())
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    data_dir = tmp_path_factory.mktemp("crawl")
    url = f"sqlite+aiosqlite:///{data_dir / 'opsdesk.db'}"
    prepare_database(url)
    asyncio.run(_load_demo(url))
    return url


@pytest.fixture
async def http(database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    db = Database(database_url)
    settings = Settings(data_dir=tmp_path, database_url=database_url, secret_key="test-key")
    app = create_app(settings, db=db)
    # A crash must come back as the 500 a browser sees, so the crawl can list them all.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            yield client
    finally:
        await db.dispose()


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def _same_site(href: str, page: str) -> str | None:
    """The local path and query a link points to, or None when it leaves the site."""
    url = str(httpx.URL(BASE + page).join(urldefrag(href.strip())[0]))
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}" != BASE:
        return None
    local = parts.path + (f"?{parts.query}" if parts.query else "")
    return None if SKIP.search(parts.path) else local


def _shape(url: str) -> str:
    parts = urlsplit(url)
    path = "/".join("{id}" if NUMBERISH.search(s) else s for s in parts.path.split("/"))
    keys = sorted({key for key, _ in parse_qsl(parts.query, keep_blank_values=True)})
    return path + ("?" + "&".join(keys) if keys else "")


@dataclass
class Crawl:
    statuses: dict[str, int] = field(default_factory=dict)
    locations: dict[str, str] = field(default_factory=dict)
    html: set[str] = field(default_factory=set)


async def _crawl(http: httpx.AsyncClient, seeds: list[str], *, bound: int = MAX_URLS) -> Crawl:
    crawl = Crawl()
    queue: deque[str] = deque(seeds)
    seen: set[str] = set(seeds)
    shapes: Counter[str] = Counter(_shape(url) for url in SEEDS)
    while queue and len(crawl.statuses) < bound:
        url = queue.popleft()
        response = await http.get(url)
        crawl.statuses[url] = response.status_code
        found: list[str] = []
        if response.is_redirect:
            crawl.locations[url] = response.headers["location"]
            found.append(response.headers["location"])
        elif response.headers.get("content-type", "").startswith("text/html"):
            crawl.html.add(url)
            parser = _Links()
            parser.feed(response.text)
            found.extend(parser.hrefs)
        for href in found:
            target = _same_site(href, urlsplit(url).path)
            if target is None or target in seen or shapes[_shape(target)] >= MAX_PER_SHAPE:
                continue
            seen.add(target)
            shapes[_shape(target)] += 1
            queue.append(target)
    return crawl


async def _sign_in(http: httpx.AsyncClient, email: str, password: str) -> None:
    page = await http.get("/login")
    match = CSRF.search(page.text)
    assert match is not None, "no CSRF token on the sign-in page"
    form = {"email": email, "password": password, "csrf_token": match.group(1)}
    response = await http.post("/login", data=form)
    assert response.status_code == 303, (email, response.status_code)


@pytest.mark.parametrize("who", list(ACCOUNTS))
async def test_no_page_is_a_server_error_or_shown_to_who_may_not_see_it(
    http: httpx.AsyncClient, who: str
) -> None:
    seeds = list(SEEDS)
    if who != "admin":
        # What the admin reaches is tried too: a page nobody links for this role must still
        # refuse it when its address is typed in.
        await _sign_in(http, *ADMIN)
        reached = await _crawl(http, seeds)
        http.cookies.clear()
        seeds += [url for url in reached.statuses if url not in SEEDS]
    account = ACCOUNTS[who]
    if account is not None:
        await _sign_in(http, *account)
    crawl = await _crawl(http, seeds, bound=len(seeds) + MAX_URLS)

    assert len(crawl.statuses) >= len(seeds)
    errors = {url: status for url, status in crawl.statuses.items() if status >= 500}
    assert errors == {}, f"{who}: server errors"
    if who == "end_user":
        leaks = {
            url: status
            for url, status in crawl.statuses.items()
            if status == 200 and STAFF_ONLY.search(urlsplit(url).path)
        }
        assert leaks == {}, "end user sees staff pages"
    if who != "admin":
        admin_pages = {
            url: status
            for url, status in crawl.statuses.items()
            if status == 200 and ADMIN_ONLY.search(urlsplit(url).path)
        }
        assert admin_pages == {}, f"{who} sees admin pages"
    if who == "anonymous":
        shown = {
            url: (status, crawl.locations.get(url, ""))
            for url, status in crawl.statuses.items()
            if not PUBLIC.search(urlsplit(url).path) and status < 300
        }
        assert shown == {}, "signed out, yet shown a private page"
        # A redirect elsewhere is crawled too, so it must end at the sign-in page.
        assert any(url.startswith("/login?next=") for url in crawl.statuses)
    else:
        # Signed in, the crawl reached more than the seeds: the links were followed.
        assert len(crawl.html) > 10

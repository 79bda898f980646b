"""/docs and /redoc load every script and stylesheet from this server, none from a CDN."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest


class _Assets(HTMLParser):
    """The URLs a page loads: script sources, stylesheets and icons."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.icons: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script" and named.get("src"):
            self.scripts.append(str(named["src"]))
        if tag == "link" and named.get("href"):
            rel = named.get("rel") or ""
            (self.styles if "stylesheet" in rel else self.icons).append(str(named["href"]))


@pytest.mark.parametrize(("page", "scripts"), [("/docs", 1), ("/redoc", 1)])
async def test_docs_pages_load_only_local_assets(
    client: httpx.AsyncClient, page: str, scripts: int
) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    html = response.text
    assert re.findall(r"https?://", html) == []  # not a CDN, not a web font
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assets = _Assets()
    assets.feed(html)
    assert len(assets.scripts) == scripts
    if page == "/docs":
        assert len(assets.styles) == 1
    for url in assets.scripts + assets.styles + assets.icons:
        assert url.startswith("/docs-assets/"), url
        fetched = await client.get(url)
        assert fetched.status_code == 200, url
        assert len(fetched.content) > 1000, url
    for url in assets.scripts:
        assert "javascript" in (await client.get(url)).headers["content-type"]
    for url in assets.styles:
        assert (await client.get(url)).headers["content-type"].startswith("text/css")
    openapi = await client.get("/openapi.json")
    assert "/api/v1/incidents" in openapi.json()["paths"]
    assert "/docs-assets" not in str(openapi.json()["paths"])

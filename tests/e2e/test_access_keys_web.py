"""An administrator makes an access key on the admin page; the official COC SDK, unchanged,
uses it against the real server; revoking it on the page stops the SDK."""

from __future__ import annotations

import re

import pytest
from huaweicloudsdkcoc import v1 as coc
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from playwright.sync_api import Page, expect

from tests.e2e.test_web import sign_in

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore:datetime.datetime.utcnow:DeprecationWarning"),
]
SCREENSHOT = "/tmp/opsdesk-access-keys.png"


def list_tickets(base_url: str, access_key_id: str, secret_key: str) -> int:
    client = (
        coc.CocClient.new_builder()
        .with_credentials(BasicCredentials(access_key_id, secret_key, "0" * 32))
        .with_endpoints([base_url])
        .build()
    )
    answer = client.list_incident_simple_tickets(
        coc.ListIncidentSimpleTicketsRequest(offset=1, limit=5)
    )
    return int(answer.data["total"])


def test_an_admin_creates_a_key_the_sdk_uses_it_and_revoking_stops_it(
    page: Page, base_url: str
) -> None:
    sign_in(page, "admin@example.com", "demo-admin")
    page.get_by_role("link", name="Admin", exact=True).click()
    page.get_by_role("link", name="Access keys").click()
    expect(page.get_by_role("heading", name="Access keys", exact=True)).to_be_visible()
    page.get_by_label("User's email").fill("tech@example.com")
    page.get_by_label("Name").fill("e2e sdk")
    page.get_by_role("button", name="Create access key").click()
    access_key_id = page.locator("#created-access-key").inner_text()
    secret_key = page.locator("#created-secret-key").inner_text()
    assert re.fullmatch(r"[A-Z0-9]{20}", access_key_id)
    assert re.fullmatch(r"[A-Za-z0-9]{40}", secret_key)
    page.screenshot(path=SCREENSHOT, full_page=True)
    assert list_tickets(base_url, access_key_id, secret_key) > 0
    page.goto("/admin/access-keys")
    expect(page.get_by_text(secret_key)).to_have_count(0)
    row = page.locator(f"#key-{access_key_id}")
    expect(row).to_contain_text("e2e sdk")
    expect(row).not_to_contain_text("never")  # the SDK's call was recorded as its last use
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text(f"Access key {access_key_id} is revoked.")).to_be_visible()
    with pytest.raises(ClientRequestException) as refused:
        list_tickets(base_url, access_key_id, secret_key)
    assert refused.value.status_code == 401
    assert refused.value.error_msg == f"the access key {access_key_id} is revoked"

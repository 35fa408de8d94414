"""Browser journey (L1 → L4 → L6 → L7): a lead posted through the signed API shows up on the
assigned rep's phone, the rep acknowledges it, and the timeline shows the times."""

from __future__ import annotations

import json
import urllib.request

import pytest
from playwright.sync_api import expect

from leads.models import Lead, LeadStatus
from salesops.integrations.webhooks import signature_headers
from tests.leads.conftest import INTAKE_SECRET, with_consent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_args(browser_context_args):
    """Reps work on phones, in Chinese."""
    return {**browser_context_args, "viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}


def _post_lead(base_url: str, payload: dict) -> dict:
    payload = with_consent("/api/v1/leads", payload)  # P1: the website sends the person's consent
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(f"{base_url}/api/v1/leads", data=body, method="POST", headers={"Content-Type": "application/json", **signature_headers(INTAKE_SECRET, body)})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return json.loads(response.read())


def test_api_lead_reaches_the_rep_who_acknowledges_it(live_server, login_page, alice, settings):
    settings.LEAD_INTAKE_SECRETS = [INTAKE_SECRET]
    answer = _post_lead(live_server.url, {"name": "王主任", "phone": "138 0000 1111", "product_model": "AK-HIP-01", "hospital": "浙江省人民医院", "hospital_grade": "三甲", "source": "官网"})
    assert answer["assignee"]["id"] == alice.pk and answer["status"] == "assigned"

    page = login_page(alice)
    page.goto(f"{live_server.url}/leads/")
    item = page.locator(f'li[data-lead="{answer["id"]}"]')
    expect(item).to_contain_text("王主任")
    expect(item).to_contain_text("已分配")
    # The in-app notification is waiting too (badge in the navigation, refreshed by htmx).
    expect(page.locator("nav.nav .badge").first).to_have_text("1")

    item.get_by_role("button", name="接收").click()
    page.wait_for_url(f"{live_server.url}/leads/{answer['id']}/")
    expect(page.locator(".msg.success")).to_contain_text("已接收")
    milestones = page.locator("ol.milestones")
    expect(milestones).to_contain_text("进线")
    expect(milestones).to_contain_text("分配")
    expect(milestones).to_contain_text("接收")
    lead = Lead.objects.get(pk=answer["id"])
    assert lead.status == LeadStatus.ACKNOWLEDGED and lead.acknowledged_via == "button"
    local = lead.acknowledged_at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    expect(page.locator("ul.timeline")).to_contain_text(local.strftime("%H:%M:%S"))
    expect(page.locator("ul.timeline")).to_contain_text("艾丽 已接收")

    # Logging the first call of 2 minutes makes it the first effective contact, shown in place (htmx).
    # Once acknowledged, the contact form is already open: the next step is to call.
    page.locator("#lead-live input[name=minutes]").fill("2")
    page.locator("#lead-live form[action$='/contacts/'] button[type=submit]").click()
    expect(page.locator("ol.milestones")).to_contain_text("首次有效联系")
    expect(page.locator("ul.timeline li.effective")).to_contain_text("电话 2 分 0 秒")
    lead.refresh_from_db()
    assert lead.first_effective_contact_at is not None and lead.status == LeadStatus.CONTACTED

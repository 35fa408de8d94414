"""Browser journey (P2, P3): a supervisor sees a lead's number masked, reveals it deliberately, and
the data-protection officer finds that reveal in the access log in admin."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from leads.models import Lead, LeadStatus
from salesops.models import AccessLog

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_supervisor_reveals_a_number_and_the_access_log_shows_it(login_page, live_server, page, alice, carol, olga):
    """P2/P3: carol sees 139****0015 on alice's lead, presses 显示完整号码, sees 139 5710 0015 in place;
    olga (data protection) opens 个人信息访问日志 in admin and finds carol's reveal of that lead."""
    lead = Lead.objects.create(contact_name="郑主任", phone="+8613957100015", source="website", status=LeadStatus.ASSIGNED,
                               assignee=alice, assigned_at=timezone.now(), consent_basis="notice", consent_notice_version="v1",
                               consent_given_at=timezone.now(), consent_channel="website")
    login_page(carol)
    page.goto(f"{live_server.url}/leads/{lead.pk}/")
    phone = page.locator("#lead-phone")
    expect(phone).to_contain_text("139****0015")
    assert "5710" not in phone.inner_text()
    phone.get_by_role("button", name="显示完整号码").click()
    expect(page.locator("#lead-phone")).to_contain_text("139 5710 0015")
    assert page.url.endswith(f"/leads/{lead.pk}/")  # swapped in place (htmx), no navigation
    assert AccessLog.objects.filter(action="reveal", user=carol, subject_id=str(lead.pk)).count() == 1

    page.context.clear_cookies()
    login_page(olga)
    page.goto(f"{live_server.url}/admin/salesops/accesslog/?action__exact=reveal")
    row = page.locator("#result_list tbody tr").first
    expect(row).to_contain_text("carol")
    expect(row).to_contain_text(str(lead.pk))
    expect(row).to_contain_text("显示完整号码")

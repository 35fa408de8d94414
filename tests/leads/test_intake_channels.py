"""L1 (embeddable public form), L2 (WeChat paste) and L3 (phone normalisation + dedupe window)."""

from __future__ import annotations

import pytest
import time_machine
from django.core.exceptions import ValidationError

from leads.intake import normalize_phone, parse_wechat_text
from tests.factories import consented_intake
from leads.models import Lead, LeadRepeat, LeadSource, LeadStatus
from leads.services import lead_intake
from salesops.models import Activity, ActivityKind

pytestmark = pytest.mark.django_db


# --- L3: normalisation and dedupe ----------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ["13800001111", "138 0000 1111", "138-0000-1111", "+86 138 0000 1111", "0086 13800001111", "8613800001111", "１３８００００１１１１"],
)
def test_cn_mobile_numbers_normalise_to_one_e164(raw):
    """L3: every usual writing of the same mobile is the same number."""
    assert normalize_phone(raw) == "+8613800001111"


def test_landlines_normalise_and_foreign_or_junk_numbers_are_rejected():
    """L1/L3: a 区号 landline is fine; a US number, too few digits or letters are not."""
    assert normalize_phone("0571-87654321") == "+8657187654321"
    for raw in ("+1 650 253 0000", "12345", "1380000111a", ""):
        with pytest.raises(ValidationError):
            normalize_phone(raw)


def _intake(phone="13800001111", **extra):
    return lead_intake(data=consented_intake(contact_name=extra.pop("name", "王主任"), phone=normalize_phone(phone), **extra))


def test_same_phone_within_window_is_a_repeat_contact_not_a_second_lead(alice):
    """L3: the same customer again within the window joins the existing lead as a repeat contact;
    the assignee hears about it."""
    with time_machine.travel("2026-11-01 10:00 +0800", tick=False):
        first = _intake("138 0000 1111", source=LeadSource.WEBSITE)
    with time_machine.travel("2026-11-20 10:00 +0800", tick=False):
        again = _intake("+86 13800001111", name="王主任（再次）", source=LeadSource.EXHIBITION)
    assert again.duplicate and not again.created and again.lead == first.lead
    assert Lead.objects.count() == 1
    first.lead.refresh_from_db()
    assert first.lead.repeat_count == 1
    repeat = LeadRepeat.objects.get()
    assert (repeat.contact_name, repeat.source) == ("王主任（再次）", LeadSource.EXHIBITION)
    assert alice.notifications.filter(title__startswith="客户再次咨询").exists()


def test_same_phone_after_the_window_is_a_new_lead_on_the_same_customer(alice, hospital_3a):
    """L3: outside the window (30 days by default) it is a new lead, attached to the known customer."""
    with time_machine.travel("2026-09-01 10:00 +0800", tick=False):
        first = _intake(hospital=hospital_3a, hospital_name=hospital_3a.name, hospital_grade="3A")
    with time_machine.travel("2026-11-01 10:00 +0800", tick=False):
        later = _intake()
    assert later.created and later.lead != first.lead
    assert later.lead.customer == first.lead.customer and later.lead.hospital == hospital_3a


def test_api_replies_200_duplicate_for_a_repeat(post_lead, alice):
    """L3 through HTTP: a second submission (new webhook-id) of the same phone answers 200 duplicate."""
    from .conftest import lead_payload

    created = post_lead(lead_payload(hospital=""))
    repeat = post_lead(lead_payload(hospital="", phone="+86-138-0000-1111"))
    assert (created.status_code, repeat.status_code) == (201, 200)
    assert repeat.json()["duplicate"] is True and repeat.json()["id"] == created.json()["id"]


# --- L2: WeChat paste ----------------------------------------------------------------------------

PASTE = """【线索响应】王主任 13800001111 AK-HIP-01 官网
[线索响应] 李医生 +86 139 0000 2222 SP-PED-01 展会
【线索响应】　张 主任　１３７００００３３３３　AK-HIP-01　转介绍
【线索响应】赵主任 12345 AK-HIP-01 官网
随便聊聊 13800001111
【线索响应】钱主任 13600004444

【线索响应】浙江省人民医院骨科孙主任 13500005555 XX-999 朋友圈
"""


def test_wechat_lines_parse_including_malformed_ones(hip, pedicle, hospital_3a):
    """L2: full-width/half-width brackets and spaces; each line is a lead or a line-level error."""
    lines = parse_wechat_text(PASTE)
    assert [line.number for line in lines] == [1, 2, 3, 4, 5, 6, 8]  # the blank line is skipped
    ok = {line.number: line.data for line in lines if line.ok}
    assert set(ok) == {1, 2, 3, 8}
    assert (ok[1].contact_name, ok[1].phone, ok[1].product, ok[1].source) == ("王主任", "+8613800001111", hip, LeadSource.WEBSITE)
    assert (ok[2].phone, ok[2].product, ok[2].source) == ("+8613900002222", pedicle, LeadSource.EXHIBITION)
    assert (ok[3].contact_name, ok[3].phone, ok[3].source) == ("张 主任", "+8613700003333", LeadSource.REFERRAL)
    # A known hospital inside the customer name is recognised; unknown model/source are warnings.
    assert ok[8].hospital == hospital_3a and ok[8].hospital_grade == "3A"
    assert ok[8].source == LeadSource.OTHER and len(ok[8].warnings) == 2
    errors = {line.number: " ".join(line.errors) for line in lines if not line.ok}
    assert "电话" in errors[4] and "12345" in errors[4]
    assert "格式" in errors[5]
    assert "意向型号" in errors[6] and "来源渠道" in errors[6]


def test_paste_preview_is_an_htmx_fragment_and_creates_nothing(client, alice, hip, pedicle):
    """L2: 预览 shows every line's outcome without creating anything."""
    client.force_login(alice)
    response = client.post("/leads/paste/", {"text": PASTE, "action": "preview"}, headers={"HX-Request": "true"})
    page = response.content.decode()
    assert response.status_code == 200 and "<html" not in page
    assert 'data-line="4"' in page and "不是有效的中国大陆电话号码" in page
    assert not Lead.objects.exists()


def test_paste_confirm_creates_valid_lines_and_keeps_the_bad_ones(client, alice, bob, hip, pedicle):
    """L2: confirm creates every valid line (the pasting rep introduced them: ledger row each) and
    puts the bad lines back in the box to fix; nothing valid is lost."""
    client.force_login(alice)
    response = client.post("/leads/paste/", {"text": PASTE, "action": "confirm"})
    page = response.content.decode()
    assert response.status_code == 200
    leads = Lead.objects.order_by("pk")
    assert leads.count() == 4
    assert all(lead.introduced_by == alice and lead.status == LeadStatus.ASSIGNED for lead in leads)
    introduced = Activity.objects.filter(kind=ActivityKind.LEAD_INTRODUCED)
    assert introduced.count() == 4 and {a.rep for a in introduced} == {alice}
    assert introduced.first().facts["source"] in LeadSource.values
    assert "【线索响应】赵主任 12345 AK-HIP-01 官网" in page and "随便聊聊" in page
    assert "已创建 4 条线索" in page
    # Pasting the same lines again only adds repeat contacts.
    client.post("/leads/paste/", {"text": PASTE, "action": "confirm"})
    assert Lead.objects.count() == 4 and LeadRepeat.objects.count() == 4


def test_paste_page_needs_a_login(client):
    assert client.get("/leads/paste/").status_code == 302


# --- L1: the embeddable public form ----------------------------------------------------------------


def test_public_form_is_frameable_by_the_company_site(client, settings):
    """L1: no X-Frame-Options, and a CSP whose frame-ancestors allow the configured website while
    the rest of the site keeps frame-ancestors 'none'."""
    response = client.get("/leads/form/")
    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    policy = response["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in policy and "'none'" not in policy.split("frame-ancestors")[1].split(";")[0]
    assert 'name="website"' in response.content.decode()  # the honeypot
    other = client.get("/accounts/login/")
    assert other["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in other["Content-Security-Policy"]


def test_public_form_creates_an_assigned_lead(client, alice):
    """L1: a visitor's submission is a lead (source 官网表单), assigned like an API lead."""
    response = client.post("/leads/form/", {"consent": "on", "name": "周主任", "phone": "13800006666", "hospital": "某某医院", "hospital_grade": "2A", "product_model": "AK-HIP-01", "note": "请联系"})
    assert response.status_code == 200 and "提交成功" in response.content.decode()
    lead = Lead.objects.get()
    assert (lead.source, lead.phone, lead.hospital_grade, lead.assignee) == (LeadSource.WEB_FORM, "+8613800006666", "2A", alice)


def test_public_form_errors_name_the_field(client, alice):
    """L1: a bad phone is answered next to the field, 400, nothing created."""
    response = client.post("/leads/form/", {"consent": "on", "name": "周主任", "phone": "123"})
    assert response.status_code == 400
    assert 'data-error-for="phone"' in response.content.decode()
    assert not Lead.objects.exists()


def test_honeypot_submissions_create_nothing(client, alice):
    """L1: bots fill the hidden field; they see a success page and nothing is created."""
    response = client.post("/leads/form/", {"consent": "on", "name": "bot", "phone": "13800007777", "website": "http://spam.example"})
    assert response.status_code == 200 and "提交成功" in response.content.decode()
    assert not Lead.objects.exists()


def test_public_form_is_rate_limited_per_ip(client, settings, alice):
    """L1: more than LEAD_FORM_RATE_LIMIT submissions from one IP in the window → 429."""
    settings.LEAD_FORM_RATE_LIMIT = (2, 600)
    with time_machine.travel("2026-11-27 09:00:00 +0800", tick=False):
        codes = [client.post("/leads/form/", {"consent": "on", "name": f"客户{i}", "phone": f"1380000{i:04d}"}, REMOTE_ADDR="203.0.113.9").status_code for i in range(3)]
        other_ip = client.post("/leads/form/", {"consent": "on", "name": "别人", "phone": "13900008888"}, REMOTE_ADDR="203.0.113.10").status_code
    assert codes == [200, 200, 429] and other_ip == 200
    assert Lead.objects.count() == 3


def test_public_form_is_not_dedupe_exempt(client, alice):
    """L3: the form goes through the same dedupe as the API."""
    client.post("/leads/form/", {"consent": "on", "name": "周主任", "phone": "13800006666"})
    client.post("/leads/form/", {"consent": "on", "name": "周主任", "phone": "138 0000 6666"})
    assert Lead.objects.count() == 1 and LeadRepeat.objects.count() == 1


def test_dedupe_window_comes_from_the_live_rules(alice, olga):
    """L3: the window is configurable (rules version): with 1 day, two days later is a new lead."""
    from leads.services import rules_create_draft, rules_publish

    rules_publish(rules=rules_create_draft(by=olga, weight_grade=30, weight_product_line=40, weight_workload=30, ack_timeout_minutes=3, dedupe_window_days=1), by=olga)
    with time_machine.travel("2026-11-01 10:00 +0800", tick=False):
        _intake()
    with time_machine.travel("2026-11-03 10:00 +0800", tick=False):
        assert _intake().created

"""C1 pages: the quote builder with htmx line editing, history, access per role (A3)."""

from decimal import Decimal

import pytest

from leads.cash.models import Quote, QuoteLine
from salesops.ledger import activity_append
from salesops.models import ActivityKind

from .helpers import make_quote

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


def test_a_rep_creates_a_quote_for_a_visible_customer_only(client, alice, customer_a, customer_b):
    client.force_login(alice)
    page = client.get("/cash/quotes/new/").content.decode()
    assert customer_a.name in page and customer_b.name not in page
    response = client.post("/cash/quotes/new/", {"customer": customer_b.pk})
    assert response.status_code == 200 and not Quote.objects.exists()
    response = client.post("/cash/quotes/new/", {"customer": customer_a.pk, "note": "年度集采"})
    quote = Quote.objects.get()
    assert response["Location"] == f"/cash/quotes/{quote.pk}/"
    assert (quote.rep, quote.customer, quote.latest_version().note) == (alice, customer_a, "年度集采")


def test_htmx_add_line_returns_the_lines_fragment_with_totals(client, alice, customer_a, hip):
    """C1 htmx: adding a product answers with the lines fragment only, totals recomputed."""
    quote, _version = make_quote(customer_a, alice, [])
    client.force_login(alice)
    response = client.post(f"/cash/quotes/{quote.pk}/lines/", {"product": hip.pk, "quantity": 2, "discount_percent": "0", "tax_rate_percent": "13.00"}, headers=HX)
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body and 'id="quote-lines"' in body
    assert "64,636.00" in body and "AK-HIP-01" in body
    assert response["Vary"] and "HX-Request" in response["Vary"]


def test_htmx_line_edit_and_delete(client, alice, customer_a, hip, screw):
    quote, version = make_quote(customer_a, alice, [(hip, 1, "0"), (screw, 1, "0")])
    line = version.lines.get(product=hip)
    client.force_login(alice)
    body = client.post(
        f"/cash/quotes/{quote.pk}/lines/{line.pk}/", {"quantity": 3, "discount_percent": "5", "tax_rate_percent": "13.00"}, headers=HX
    ).content.decode()
    line.refresh_from_db()
    assert (line.quantity, line.line_subtotal) == (3, Decimal("81510.00"))
    assert "<html" not in body and "92,106.30" in body
    body = client.post(f"/cash/quotes/{quote.pk}/lines/{line.pk}/delete/", headers=HX).content.decode()
    assert "<html" not in body and not QuoteLine.objects.filter(pk=line.pk).exists()


def test_a_bad_value_is_shown_beside_its_line(client, alice, customer_a, hip):
    quote, version = make_quote(customer_a, alice, [(hip, 1, "0")])
    line = version.lines.get()
    client.force_login(alice)
    body = client.post(f"/cash/quotes/{quote.pk}/lines/{line.pk}/", {"quantity": 0, "discount_percent": "0", "tax_rate_percent": "13.00"}, headers=HX).content.decode()
    assert "数量" in body and "errorlist" in body
    line.refresh_from_db()
    assert line.quantity == 1


def test_without_javascript_the_forms_post_and_redirect(client, alice, customer_a, hip):
    quote, _version = make_quote(customer_a, alice, [])
    client.force_login(alice)
    response = client.post(f"/cash/quotes/{quote.pk}/lines/", {"product": hip.pk, "quantity": 1, "tax_rate_percent": "13.00"})
    assert response.status_code == 302 and response["Location"].endswith("#lines")
    response = client.post(f"/cash/quotes/{quote.pk}/send/")
    assert response.status_code == 302
    assert quote.latest_version().status == "sent"


def test_a_rep_cannot_see_another_teams_quotes(client, alice, charlie, dave, customer_a, hip):
    """C1/A3 (done-when): charlie (team B) and dave (supervisor B) get 404 on every quote URL."""
    quote, version = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
    line = version.lines.get()
    urls_get = ["", "v1/", "v1/pdf/", "diff/?a=1&b=1", "confirm/", "lost/"]
    urls_post = ["lines/", f"lines/{line.pk}/", f"lines/{line.pk}/delete/", "send/", "revise/", "reject/", "approval/", "meta/"]
    for user in (charlie, dave):
        client.force_login(user)
        assert quote.number not in client.get("/cash/").content.decode()
        for url in urls_get:
            assert client.get(f"/cash/quotes/{quote.pk}/{url}").status_code == 404, url
        for url in urls_post:
            assert client.post(f"/cash/quotes/{quote.pk}/{url}").status_code == 404, url


def test_a_teammate_who_worked_the_customer_sees_but_cannot_change(client, alice, bob, customer_a, hip):
    """A3: bob called the customer (collaborated) → sees the quote; changing it is 403."""
    quote, _version = make_quote(customer_a, alice, [(hip, 1, "0")])
    client.force_login(bob)
    assert client.get(f"/cash/quotes/{quote.pk}/").status_code == 404
    activity_append(rep=bob, kind=ActivityKind.CALL, customer=customer_a)
    assert client.get(f"/cash/quotes/{quote.pk}/").status_code == 200
    assert client.post(f"/cash/quotes/{quote.pk}/send/").status_code == 403


def test_supervisor_sees_the_team_and_director_sees_all(client, alice, charlie, carol, diana, customer_a, customer_b, hip):
    qa, _ = make_quote(customer_a, alice, [(hip, 1, "0")])
    qb, _ = make_quote(customer_b, charlie, [(hip, 1, "0")])
    client.force_login(carol)
    page = client.get("/cash/").content.decode()
    assert qa.number in page and qb.number not in page
    client.force_login(diana)
    page = client.get("/cash/").content.decode()
    assert qa.number in page and qb.number in page


def test_quote_list_runs_in_constant_queries(client, django_assert_max_num_queries, alice, customer_a, hip):
    for _ in range(8):
        make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
    client.force_login(alice)
    with django_assert_max_num_queries(12):
        page = client.get("/cash/").content.decode()
    assert page.count("v1") >= 8


def test_the_quote_page_shows_the_field_history(client, alice, customer_a, hip):
    """A2: the version's changes (who, before → after) are on the record page."""
    quote, _version = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
    client.force_login(alice)
    page = client.get(f"/cash/quotes/{quote.pk}/").content.decode()
    assert "字段变更留痕" in page and "已发送" in page


def test_navigation_per_role(client, alice, carol, olga):
    client.force_login(alice)
    nav = client.get("/").content.decode()
    assert "/cash/" in nav and "/cash/deals/" in nav and "/cash/review/" not in nav and "/cash/statements/" not in nav
    client.force_login(carol)
    nav = client.get("/").content.decode()
    assert "/cash/approvals/" in nav and "/cash/review/" in nav and "/cash/statements/" not in nav
    client.force_login(olga)
    assert "/cash/statements/" in client.get("/").content.decode()


def test_admin_pages_for_ops(client, olga, account):
    """A4: ops edit the settings and bank accounts (with presets) in admin."""
    client.force_login(olga)
    for url in ("/admin/cash/cashsettings/", "/admin/cash/bankaccount/add/", f"/admin/cash/bankaccount/{account.pk}/change/", "/admin/cash/lostreason/", "/admin/cash/payeralias/", "/admin/cash/deal/", "/admin/cash/statementrow/"):
        assert client.get(url).status_code == 200, url
    response = client.post(
        "/admin/cash/bankaccount/add/",
        {"name": "招行一般户", "bank": "cmb_corporate", "account_number": "5719", "column_map": "", "active": "on"},
    )
    assert response.status_code == 302
    from leads.cash.models import BankAccount

    assert BankAccount.objects.get(name="招行一般户").column_map["money_in"] == "贷方金额"
    response = client.post(
        "/admin/cash/bankaccount/add/",
        {"name": "坏映射", "bank": "custom", "column_map": '{"amount_mode": "split"}', "active": "on"},
    )
    assert response.status_code == 200 and "缺少 date" in response.content.decode()


def test_date_inputs_render_iso_dates_the_browser_accepts(client, alice, customer_a, hip):
    """An <input type=date> only takes YYYY-MM-DD; the zh-hans default (YYYY/MM/DD) would blank it."""
    from datetime import timedelta

    from django.utils import timezone

    quote, _version = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
    client.force_login(alice)
    due = (timezone.localdate() + timedelta(days=90)).isoformat()
    assert f'value="{due}"' in client.get(f"/cash/quotes/{quote.pk}/confirm/").content.decode()

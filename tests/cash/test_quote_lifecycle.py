"""C4: the quote lifecycle through the pages, as the real personas — revise (as the quote's own rep)
at current list prices from any sent/rejected/expired version, the latest sent version stays
actionable while a draft exists, drafts can be discarded, and one states table drives services,
views, templates and docs/cash.md."""

from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo
from pathlib import Path

import pytest
import time_machine
from django.core.exceptions import ValidationError

from leads.cash import lifecycle, quotes
from leads.cash.lifecycle import TRANSITIONS, QuoteAction
from leads.cash.models import Deal, DealStatus, QuoteStatus
from salesops.ledger import activity_append
from salesops.models import ActivityKind

from .helpers import make_quote

SHANGHAI = ZoneInfo("Asia/Shanghai")

pytestmark = pytest.mark.django_db


def _status(quote) -> dict[int, str]:
    return {v.version: v.status for v in quote.versions.all()}


def test_revise_as_the_quotes_own_rep_makes_v2_at_current_prices(client, alice, customer_a, hip, screw):
    """C4 (the 500): alice posts 修改报价 on her sent quote → v2 draft at today's list price; the
    diff page shows old → new price."""
    quote, v1 = make_quote(customer_a, alice, [(hip, 2, "5"), (screw, 1, "0")], send=True)
    hip.list_price = Decimal("30000.00")
    hip.save()
    client.force_login(alice)
    response = client.post(f"/cash/quotes/{quote.pk}/revise/")
    assert response.status_code == 302 and response["Location"] == f"/cash/quotes/{quote.pk}/"
    v2 = quote.versions.get(version=2)
    assert v2.status == QuoteStatus.DRAFT and v2.revised_from == v1 and v2.created_by == alice
    lines = {line.product_model: line for line in v2.lines.all()}
    assert lines["AK-HIP-01"].unit_price == Decimal("30000.00") and lines["AK-HIP-01"].quantity == 2
    assert lines["AK-HIP-01"].discount_percent == Decimal("5.00")
    assert lines["SP-PED-01"].unit_price == Decimal("9800.00")
    # 2 × 30,000 × 0.95 = 57,000 + 13 % = 64,410; 9,800 + 13 % = 11,074
    assert v2.total == Decimal("75484.00")
    v1.refresh_from_db()
    assert v1.status == QuoteStatus.SENT and v1.lines.get(product=hip).unit_price == Decimal("28600.00")
    diff = client.get(f"/cash/quotes/{quote.pk}/diff/").content.decode()
    assert "28,600.00 → </span>30,000.00" in diff


def test_revise_as_a_teammate_who_is_not_the_rep_is_refused(client, alice, bob, carol, customer_a, hip):
    """C4 + A3: bob (worked the customer, sees the quote, not his) gets 403; carol, the supervisor, may."""
    quote, _v1 = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
    activity_append(rep=bob, kind=ActivityKind.CALL, customer=customer_a)
    client.force_login(bob)
    assert client.post(f"/cash/quotes/{quote.pk}/revise/").status_code == 403
    assert quote.versions.count() == 1
    client.force_login(carol)
    assert client.post(f"/cash/quotes/{quote.pk}/revise/").status_code == 302
    assert quote.versions.count() == 2


def test_revise_from_a_rejected_or_expired_version(client, alice, customer_a, hip):
    """C4: rejected and expired versions are revisable; the page names the source version."""
    quote, v1 = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
    client.force_login(alice)
    assert client.post(f"/cash/quotes/{quote.pk}/reject/").status_code == 302
    client.post(f"/cash/quotes/{quote.pk}/revise/", {"from": "1"})
    assert _status(quote) == {1: QuoteStatus.REJECTED, 2: QuoteStatus.DRAFT}
    client.post(f"/cash/quotes/{quote.pk}/send/")
    v2 = quote.versions.get(version=2)
    # A sent version is frozen (T7): let its validity run out instead of editing it.
    with time_machine.travel(datetime.combine(v2.valid_until + timedelta(days=1), time(12), tzinfo=SHANGHAI), tick=False):
        quotes.quote_versions_expire()
    client.post(f"/cash/quotes/{quote.pk}/revise/", {"from": "2"})
    assert _status(quote) == {1: QuoteStatus.REJECTED, 2: QuoteStatus.EXPIRED, 3: QuoteStatus.DRAFT}
    assert quote.versions.get(version=3).revised_from.version == 2


def test_a_revise_while_a_draft_is_open_returns_the_draft(client, alice, customer_a, hip):
    quote, _v1 = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
    client.force_login(alice)
    client.post(f"/cash/quotes/{quote.pk}/revise/")
    client.post(f"/cash/quotes/{quote.pk}/revise/")
    assert quote.versions.count() == 2


def test_a_bad_source_version_is_a_message_not_a_500(client, alice, customer_a, hip):
    quote, _v1 = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
    client.force_login(alice)
    for value in ("9", "x", "1; drop"):
        response = client.post(f"/cash/quotes/{quote.pk}/revise/", {"from": value}, follow=True)
        assert response.status_code == 200 and "不存在" in response.content.decode()
    assert quote.versions.count() == 1


def test_the_sent_version_can_be_confirmed_while_a_draft_exists(client, alice, customer_a, hip):
    """C4: v1 sent, v2 draft → the customer confirms v1: the deal is won on v1, v2 is closed with
    the reason."""
    quote, v1 = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
    client.force_login(alice)
    client.post(f"/cash/quotes/{quote.pk}/revise/")
    page = client.get(f"/cash/quotes/{quote.pk}/").content.decode()
    assert 'data-action="confirm"' in page and "客户已确认 v1" in page and 'data-action="discard"' in page
    response = client.post(f"/cash/quotes/{quote.pk}/confirm/", {"instalments": 1, "first_due": "2027-01-31", "months_apart": 1})
    deal = Deal.objects.get()
    assert response.status_code == 302 and deal.quote_version == v1 and deal.status == DealStatus.WON
    v2 = quote.versions.get(version=2)
    assert _status(quote) == {1: QuoteStatus.CONFIRMED, 2: QuoteStatus.DISCARDED}
    assert v2.discarded_at and "v1" in v2.closed_reason


def test_the_sent_version_can_be_rejected_while_a_draft_exists_and_the_draft_stays(client, alice, customer_a, hip):
    """C4: rejecting v1 keeps the v2 draft (it is usually the answer to the rejection)."""
    quote, _v1 = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
    client.force_login(alice)
    client.post(f"/cash/quotes/{quote.pk}/revise/")
    client.post(f"/cash/quotes/{quote.pk}/reject/")
    assert _status(quote) == {1: QuoteStatus.REJECTED, 2: QuoteStatus.DRAFT}


def test_the_sent_version_can_be_marked_lost_while_a_draft_exists(client, alice, customer_a, hip):
    """C4: lost on v1 with a reason → a lost deal on v1; the draft is closed."""
    quote, v1 = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
    client.force_login(alice)
    client.post(f"/cash/quotes/{quote.pk}/revise/")
    response = client.post(f"/cash/quotes/{quote.pk}/lost/", {"detail": "预算取消"})
    assert response.status_code == 302
    deal = Deal.objects.get()
    assert (deal.status, deal.quote_version, deal.lost_reason) == (DealStatus.LOST, v1, "预算取消")
    assert _status(quote) == {1: QuoteStatus.REJECTED, 2: QuoteStatus.DISCARDED}
    assert "丢单" in quote.versions.get(version=2).closed_reason
    # Nothing more is offered on a closed quote.
    page = client.get(f"/cash/quotes/{quote.pk}/").content.decode()
    assert "data-action=" not in page
    assert client.post(f"/cash/quotes/{quote.pk}/lost/", {"detail": "again"}).status_code in (302, 400)
    assert Deal.objects.count() == 1


def test_a_draft_can_be_discarded_with_a_reason(client, alice, customer_a, hip):
    """C4: discard keeps the draft, read-only, with who/why/when; a discard without reason is refused."""
    quote, _v1 = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
    client.force_login(alice)
    client.post(f"/cash/quotes/{quote.pk}/revise/")
    response = client.post(f"/cash/quotes/{quote.pk}/discard/", {"reason": ""}, follow=True)
    assert "请填写作废原因" in response.content.decode()
    assert quote.versions.get(version=2).status == QuoteStatus.DRAFT
    client.post(f"/cash/quotes/{quote.pk}/discard/", {"reason": "客户要求按原价"})
    v2 = quote.versions.get(version=2)
    assert (v2.status, v2.closed_reason) == (QuoteStatus.DISCARDED, "客户要求按原价")
    # v1 is still the live offer, and a new revision is v3.
    client.post(f"/cash/quotes/{quote.pk}/revise/")
    assert _status(quote) == {1: QuoteStatus.SENT, 2: QuoteStatus.DISCARDED, 3: QuoteStatus.DRAFT}
    with pytest.raises(ValidationError):
        quotes.quote_line_add(version=v2, product=hip, by=alice)


def test_sending_v2_supersedes_v1_and_only_v2_is_confirmable(client, alice, customer_a, hip):
    quote, _v1 = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
    client.force_login(alice)
    client.post(f"/cash/quotes/{quote.pk}/revise/")
    client.post(f"/cash/quotes/{quote.pk}/send/")
    assert _status(quote) == {1: QuoteStatus.SUPERSEDED, 2: QuoteStatus.SENT}
    page = client.get(f"/cash/quotes/{quote.pk}/").content.decode()
    assert "客户已确认 v2" in page and "客户已确认 v1" not in page


def test_other_personas_cannot_move_the_quote(client, alice, charlie, dave, customer_a, hip):
    """A3: another team's rep and supervisor get 404 on every move."""
    quote, _v1 = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
    for user in (charlie, dave):
        client.force_login(user)
        for action in ("revise", "send", "reject", "discard", "confirm", "lost"):
            assert client.post(f"/cash/quotes/{quote.pk}/{action}/").status_code == 404
    assert _status(quote) == {1: QuoteStatus.SENT}


def test_moves_not_in_the_table_are_refused_by_the_service(alice, customer_a, hip):
    """C4: the services check the table — a confirmed version cannot be rejected, a draft cannot be
    confirmed, a superseded one cannot be revised."""
    quote, v1 = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
    draft = quotes.quote_revise(quote=quote, by=alice)
    with pytest.raises(ValidationError):
        quotes.quote_version_confirm(version=draft, by=alice)
    quotes.quote_version_send(version=draft, by=alice)
    v1.refresh_from_db()
    assert v1.status == QuoteStatus.SUPERSEDED
    with pytest.raises(ValidationError):
        quotes.quote_revise(quote=quote, by=alice, source=v1)
    quotes.quote_version_confirm(version=draft, by=alice)
    with pytest.raises(ValidationError):
        quotes.quote_version_reject(version=draft, by=alice)


def test_the_states_table_in_docs_matches_the_code():
    """C4: docs/cash.md prints the same table as leads/cash/lifecycle.TRANSITIONS."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "cash.md").read_text(encoding="utf-8")
    rows = {
        tuple(cell.strip().strip("`") for cell in line.strip().strip("|").split("|")[:3])
        for line in doc.splitlines()
        if line.startswith("| `")
    }
    expected = {(state, action, new_state) for state, action, new_state, _by_person in lifecycle.table_rows()}
    assert expected <= rows, expected - rows
    assert set(TRANSITIONS) == set(QuoteStatus.values)
    assert set(lifecycle.USER_ACTIONS) <= set(QuoteAction.values)

"""C1: versions v1, v2 … never overwritten; sending freezes; status draft → sent → confirmed /
rejected / expired with times; the yellow light reads sent versions older than 72 h."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_q.models import Schedule

from leads.cash import quotes
from leads.cash.models import QuoteStatus, QuoteVersion
from leads.cash.quotes import QuoteFrozen
from leads.cash.tasks import expire_quotes
from salesops.models import Activity, ActivityKind

from .helpers import make_quote

pytestmark = pytest.mark.django_db


def test_sending_freezes_the_version(alice, customer_a, hip, screw):
    """C1: a sent version cannot change — not a line, not a quantity, not the validity."""
    _quote, version = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
    line = version.lines.get()
    with pytest.raises(QuoteFrozen):
        quotes.quote_line_update(line=line, by=alice, quantity=5, discount_percent=Decimal("0"), tax_rate_percent=Decimal("13"))
    with pytest.raises(QuoteFrozen):
        quotes.quote_line_add(version=version, product=screw, by=alice)
    with pytest.raises(QuoteFrozen):
        quotes.quote_line_remove(line=line, by=alice)
    with pytest.raises(QuoteFrozen):
        quotes.quote_version_update(version=version, by=alice, valid_until=timezone.localdate())
    line.refresh_from_db()
    assert line.quantity == 1 and version.lines.count() == 1


def test_a_posted_change_to_a_sent_version_is_refused_and_nothing_changes(client, alice, customer_a, hip):
    """C1: through the page too (the htmx fragment shows the reason)."""
    quote, version = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
    line = version.lines.get()
    client.force_login(alice)
    response = client.post(
        f"/cash/quotes/{quote.pk}/lines/{line.pk}/",
        {"quantity": 9, "discount_percent": "0", "tax_rate_percent": "13.00"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "不能修改" in response.content.decode()
    line.refresh_from_db()
    assert line.quantity == 1


def test_editing_a_sent_quote_makes_the_next_draft_version(alice, customer_a, hip, screw):
    """C1: v2 is a draft copy of v1; v1 stays readable and sent until v2 is sent, then superseded."""
    quote, v1 = make_quote(customer_a, alice, [(hip, 2, "0")], send=True)
    v2 = quotes.quote_revise(quote=quote, by=alice)
    assert (v2.version, v2.status) == (2, QuoteStatus.DRAFT)
    assert [(line.product_model, line.quantity) for line in v2.lines.all()] == [("AK-HIP-01", 2)]
    assert v2.total == v1.total
    quotes.quote_line_add(version=v2, product=screw, by=alice)
    quotes.quote_line_update(line=v2.lines.get(product=hip), by=alice, quantity=1, discount_percent=Decimal("5"), tax_rate_percent=Decimal("13"))
    v1.refresh_from_db()
    assert v1.status == QuoteStatus.SENT and v1.lines.get().quantity == 2
    assert quotes.quote_revise(quote=quote, by=alice).pk == v2.pk  # an open draft is reused
    quotes.quote_version_send(version=v2, by=alice)
    v1.refresh_from_db()
    assert v1.status == QuoteStatus.SUPERSEDED and v1.superseded_at is not None
    assert list(quote.versions.order_by("version").values_list("version", flat=True)) == [1, 2]


def test_earlier_versions_are_readable_and_diffable_side_by_side(client, alice, customer_a, hip, screw):
    """C1: the history page shows v1 as it was; the diff marks changed and added lines."""
    quote, v1 = make_quote(customer_a, alice, [(hip, 2, "0")], send=True)
    v2 = quotes.quote_revise(quote=quote, by=alice)
    quotes.quote_line_update(line=v2.lines.get(), by=alice, quantity=3, discount_percent=Decimal("0"), tax_rate_percent=Decimal("13"))
    quotes.quote_line_add(version=v2, product=screw, by=alice)
    diff = quotes.version_diff(v1, QuoteVersion.objects.get(pk=v2.pk))
    assert {row["model"]: row["state"] for row in diff["rows"]} == {"AK-HIP-01": "changed", "SP-PED-01": "added"}
    assert diff["rows"][0]["changed"] == {"quantity", "line_total"}
    client.force_login(alice)
    page = client.get(f"/cash/quotes/{quote.pk}/v1/").content.decode()
    assert "历史版本 v1" in page and "64,636.00" in page
    page = client.get(f"/cash/quotes/{quote.pk}/diff/?a=1&b=2").content.decode()
    assert 'data-state="added"' in page and 'data-state="changed"' in page
    assert client.get(f"/cash/quotes/{quote.pk}/diff/?a=1&b=7").status_code == 404


def test_status_changes_carry_their_times(alice, customer_a, hip):
    """C1: sent_at, confirmed_at, rejected_at are stamped when they happen."""
    with time_machine.travel("2026-11-02 09:00 +08:00", tick=False):
        quote, version = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
    with time_machine.travel("2026-11-03 15:30 +08:00", tick=False):
        quotes.quote_version_reject(version=version, by=alice)
    version.refresh_from_db()
    assert timezone.localtime(version.sent_at).isoformat() == "2026-11-02T09:00:00+08:00"
    assert timezone.localtime(version.rejected_at).isoformat() == "2026-11-03T15:30:00+08:00"
    with time_machine.travel("2026-11-04 10:00 +08:00", tick=False):
        v2 = quotes.quote_revise(quote=quote, by=alice)
        quotes.quote_version_send(version=v2, by=alice)
    with time_machine.travel("2026-11-05 11:00 +08:00", tick=False):
        quotes.quote_version_confirm(version=v2, by=alice)
    v2.refresh_from_db()
    assert v2.status == QuoteStatus.CONFIRMED
    assert timezone.localtime(v2.confirmed_at).isoformat() == "2026-11-05T11:00:00+08:00"
    with pytest.raises(ValidationError):
        quotes.quote_revise(quote=quote, by=alice)


def test_sent_and_confirmed_quotes_append_to_the_ledger(alice, customer_a, hip):
    """C1 + contracts: quote_sent {total, version} and quote_confirmed {total} for the quote rep."""
    _quote, version = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
    quotes.quote_version_confirm(version=version, by=alice)
    sent = Activity.objects.get(kind=ActivityKind.QUOTE_SENT)
    confirmed = Activity.objects.get(kind=ActivityKind.QUOTE_CONFIRMED)
    assert (sent.rep, sent.customer, sent.subject) == (alice, customer_a, version)
    assert sent.facts == {"total": "32318.00", "version": 1}
    assert confirmed.facts == {"total": "32318.00"} and confirmed.rep == alice


def test_quotes_past_validity_expire_daily(alice, customer_a, hip):
    """C1: the daily schedule expires sent versions past their validity; they cannot be confirmed."""
    with time_machine.travel("2026-11-01 10:00 +08:00", tick=False):
        _quote, version = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
    assert version.valid_until.isoformat() == "2026-12-01"
    with time_machine.travel("2026-12-01 23:00 +08:00", tick=False):
        assert expire_quotes() == 0
    with time_machine.travel("2026-12-02 00:10 +08:00", tick=False):
        with pytest.raises(ValidationError) as error:
            quotes.quote_version_confirm(version=version, by=alice)
        assert "有效期" in str(error.value)
        assert expire_quotes() == 1
        assert expire_quotes() == 0  # a second run changes nothing
    version.refresh_from_db()
    assert version.status == QuoteStatus.EXPIRED and version.expired_at is not None
    assert Schedule.objects.filter(name="cash.expire_quotes", func="leads.cash.tasks.expire_quotes").exists()


def test_yellow_light_counts_sent_versions_waiting_more_than_72_hours(alice, customer_a, hip):
    """D1 yellow light (fed by C1): sent, unconfirmed, sent_at older than 72 h."""
    with time_machine.travel("2026-11-02 09:00 +08:00", tick=False):
        _q, old = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
        _q, confirmed = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
        quotes.quote_version_confirm(version=confirmed, by=alice)
    with time_machine.travel("2026-11-04 12:00 +08:00", tick=False):
        _q, fresh = make_quote(customer_a, alice, [(hip, 1, "0")], send=True)
    with time_machine.travel("2026-11-05 09:30 +08:00", tick=False):
        waiting = QuoteVersion.objects.awaiting_confirmation()
        assert list(waiting) == [old]
        assert old.hours_waiting() == pytest.approx(72.5)


def test_a_quote_without_lines_cannot_be_sent(alice, customer_a):
    _quote, version = make_quote(customer_a, alice, [])
    with pytest.raises(ValidationError) as error:
        quotes.quote_version_send(version=version, by=alice)
    assert "没有明细" in str(error.value)


def test_quote_numbers_count_up_per_month(alice, customer_a):
    with time_machine.travel("2026-11-30 23:00 +08:00", tick=False):
        first = quotes.quote_create(customer=customer_a, by=alice)
        second = quotes.quote_create(customer=customer_a, by=alice)
    with time_machine.travel("2026-12-01 08:00 +08:00", tick=False):
        third = quotes.quote_create(customer=customer_a, by=alice)
    assert [first.number, second.number, third.number] == ["QT202611-0001", "QT202611-0002", "QT202612-0001"]
    assert timezone.now() - timedelta(days=1) < timezone.now()

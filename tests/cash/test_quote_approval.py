"""C1: a discount above the configurable limit needs a supervisor's approval before sending; the
approval is an `approval` activity with the APPROVER as rep (evidence-backed, KPI 2)."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from leads.cash import quotes
from leads.cash.models import ApprovalStatus, CashSettings, DiscountApproval, QuoteStatus
from salesops.models import Activity, ActivityKind, Notification

from .helpers import make_quote

pytestmark = pytest.mark.django_db


def _over_limit_quote(alice, customer_a, hip, discount="12"):
    return make_quote(customer_a, alice, [(hip, 1, discount)])


def test_discount_above_the_limit_blocks_sending(alice, customer_a, hip):
    """C1: 12 % against the default 10 % line: sending is refused with the numbers."""
    _quote, version = _over_limit_quote(alice, customer_a, hip)
    with pytest.raises(ValidationError) as error:
        quotes.quote_version_send(version=version, by=alice)
    assert "12.00%" in str(error.value) and "10.00%" in str(error.value)


def test_the_limit_is_configured_by_ops(alice, customer_a, hip):
    """C1/A4: raising the limit in settings lets the same quote go out without approval."""
    settings = CashSettings.load()
    settings.discount_limit_percent = Decimal("15")
    settings.save()
    _quote, version = _over_limit_quote(alice, customer_a, hip)
    quotes.quote_version_send(version=version, by=alice)
    assert version.__class__.objects.get(pk=version.pk).status == QuoteStatus.SENT


def test_supervisor_approval_unlocks_sending_and_is_an_activity_of_the_approver(client, alice, carol, customer_a, hip):
    """C1: request → carol is notified → carol approves → `approval` activity with carol as rep."""
    quote, version = _over_limit_quote(alice, customer_a, hip)
    client.force_login(alice)
    client.post(f"/cash/quotes/{quote.pk}/approval/", {"reason": "招标限价"})
    approval = DiscountApproval.objects.get(version=version)
    assert (approval.status, approval.discount_percent, approval.reason) == (ApprovalStatus.PENDING, Decimal("12.00"), "招标限价")
    assert Notification.objects.filter(recipient=carol, title__contains=quote.number).exists()

    client.force_login(carol)
    assert quote.number in client.get("/cash/approvals/").content.decode()
    client.post(f"/cash/approvals/{approval.pk}/decide/", {"decision": "approve", "note": "同意"})
    approval.refresh_from_db()
    assert (approval.status, approval.decided_by) == (ApprovalStatus.APPROVED, carol)
    activity = Activity.objects.get(kind=ActivityKind.APPROVAL)
    assert (activity.rep, activity.customer, activity.subject) == (carol, customer_a, approval)
    assert activity.facts == {"quote_version_id": version.pk, "discount_percent": "12.00"}
    assert activity.is_evidence_backed
    assert Notification.objects.filter(recipient=alice, title__contains="折扣已批准").exists()

    quotes.quote_version_send(version=version, by=alice)
    version.refresh_from_db()
    assert version.status == QuoteStatus.SENT


def test_raising_the_discount_after_approval_needs_a_new_approval(alice, carol, customer_a, hip):
    _quote, version = _over_limit_quote(alice, customer_a, hip)
    approval = quotes.discount_approval_request(version=version, by=alice)
    quotes.discount_approval_decide(approval=approval, approve=True, by=carol)
    quotes.quote_line_update(line=version.lines.get(), by=alice, quantity=1, discount_percent=Decimal("15"), tax_rate_percent=Decimal("13"))
    assert quotes.needs_approval(version)
    with pytest.raises(ValidationError):
        quotes.quote_version_send(version=version, by=alice)


def test_a_rejected_approval_keeps_the_quote_blocked_and_writes_no_activity(alice, carol, customer_a, hip):
    _quote, version = _over_limit_quote(alice, customer_a, hip)
    approval = quotes.discount_approval_request(version=version, by=alice)
    quotes.discount_approval_decide(approval=approval, approve=False, by=carol, note="价格太低")
    assert not Activity.objects.filter(kind=ActivityKind.APPROVAL).exists()
    assert quotes.needs_approval(version)


def test_only_the_teams_supervisor_or_director_decides(client, alice, bob, carol, dave, diana, customer_a, hip):
    """C1/A3: the rep and a teammate get 403; another team's supervisor does not even see it (404)."""
    quote, version = _over_limit_quote(alice, customer_a, hip)
    approval = quotes.discount_approval_request(version=version, by=alice)
    url = f"/cash/approvals/{approval.pk}/decide/"
    client.force_login(alice)
    assert client.post(url, {"decision": "approve"}).status_code == 403
    client.force_login(dave)
    assert client.post(url, {"decision": "approve"}).status_code == 404
    assert client.get("/cash/approvals/").content.decode().count(quote.number) == 0
    client.force_login(bob)
    assert client.post(url, {"decision": "approve"}).status_code == 404
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    client.force_login(diana)
    client.post(url, {"decision": "approve"})
    approval.refresh_from_db()
    assert (approval.status, approval.decided_by) == (ApprovalStatus.APPROVED, diana)


def test_nobody_approves_their_own_request(carol, customer_a, hip):
    _quote, version = make_quote(customer_a, carol, [(hip, 1, "20")])
    approval = quotes.discount_approval_request(version=version, by=carol)
    with pytest.raises(ValidationError):
        quotes.discount_approval_decide(approval=approval, approve=True, by=carol)


def test_approval_badge_counts_pending_for_the_supervisor(client, alice, carol, customer_a, hip):
    _quote, version = _over_limit_quote(alice, customer_a, hip)
    quotes.discount_approval_request(version=version, by=alice)
    client.force_login(carol)
    assert client.get("/cash/approvals/badge/").content == b"1"
    client.force_login(alice)
    assert client.get("/cash/approvals/badge/").content == b""

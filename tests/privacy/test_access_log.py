"""P3 Access log: every view of a person's data appends a row (who, what, when, from where); the
log is append-only, read-only in admin for the data-protection role, kept for a set period."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from salesops.models import AccessLog, RecordIsAppendOnly
from salesops.privacy import access_log_purge, log_access

pytestmark = pytest.mark.django_db


def test_lead_and_customer_pages_are_logged(client, alice, lead, customer):
    """P3 opening a lead page and a customer page writes a view row each, with the IP."""
    client.force_login(alice)
    client.get(reverse("leads:detail", args=[lead.pk]), REMOTE_ADDR="203.0.113.5")
    client.get(reverse("customers:detail", args=[customer.pk]), REMOTE_ADDR="203.0.113.5")
    rows = list(AccessLog.objects.order_by("pk").values_list("user__username", "action", "subject_type__model", "subject_id", "ip"))
    assert rows == [("alice", "view", "lead", str(lead.pk), "203.0.113.5"), ("alice", "view", "customer", str(customer.pk), "203.0.113.5")]


def test_a_refused_page_is_not_a_view(client, charlie, lead):
    """P3 a 404 for someone who may not see the lead shows nothing, so logs nothing."""
    client.force_login(charlie)
    assert client.get(reverse("leads:detail", args=[lead.pk])).status_code == 404
    assert not AccessLog.objects.exists()


def test_evidence_download_is_logged(client, alice, world):
    """P3 downloading an evidence file (a photo shows a person) is logged as a download."""
    from ..visits.conftest import add_photo

    evidence = add_photo(world["task"])
    client.force_login(alice)
    assert client.get(reverse("visits:evidence_file", args=[evidence.pk])).status_code == 200
    assert AccessLog.objects.filter(action="download", subject_type__model="evidence", subject_id=str(evidence.pk)).count() == 1


def test_log_is_append_only(alice, lead):
    """P3 a row cannot be changed or deleted — not by save(), delete(), nor a queryset."""
    log_access(alice, lead, "view")
    row = AccessLog.objects.get()
    row.action = "reveal"
    with pytest.raises(RecordIsAppendOnly):
        row.save()
    with pytest.raises(RecordIsAppendOnly):
        row.delete()
    with pytest.raises(RecordIsAppendOnly):
        AccessLog.objects.update(action="reveal")
    with pytest.raises(RecordIsAppendOnly):
        AccessLog.objects.all().delete()
    assert AccessLog.objects.get().action == "view"


def test_admin_log_is_read_only_and_for_the_data_protection_role(client, olga, carol, alice, lead):
    """P3 the data-protection group may search the log in admin; nobody can add, change or delete
    rows there; staff without the role do not see it."""
    log_access(alice, lead, "view")
    log_access(carol, lead, "reveal")
    carol.is_staff = True
    carol.save()
    client.force_login(carol)
    assert client.get(reverse("admin:salesops_accesslog_changelist")).status_code == 403
    carol.groups.add(Group.objects.get(name="数据保护"))
    response = client.get(reverse("admin:salesops_accesslog_changelist"), {"q": "carol", "action__exact": "reveal"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
    row = AccessLog.objects.get(action="reveal")
    assert client.post(reverse("admin:salesops_accesslog_change", args=[row.pk]), {"action": "view"}).status_code == 403
    assert client.post(reverse("admin:salesops_accesslog_delete", args=[row.pk]), {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:salesops_accesslog_add")).status_code == 403
    assert AccessLog.objects.filter(action="reveal").count() == 1


def test_retention_purges_only_rows_past_the_period(settings, alice, lead):
    """P3 rows older than PRIVACY_ACCESS_LOG_RETENTION_DAYS (default 3 years) are purged by the daily job."""
    settings.PRIVACY_ACCESS_LOG_RETENTION_DAYS = 365
    with time_machine.travel(timezone.now() - timedelta(days=400)):
        log_access(alice, lead, "view")
    with time_machine.travel(timezone.now() - timedelta(days=300)):
        log_access(alice, lead, "reveal")
    assert access_log_purge() == 1
    assert list(AccessLog.objects.values_list("action", flat=True)) == ["reveal"]

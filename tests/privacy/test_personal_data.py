"""P4 Rights of the person: export everything held on one person (command and admin action) and
erase them — pseudonymised in live rows and history, business records and totals kept."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum
from django.urls import reverse

from leads.cash.models import Deal
from leads.models import Lead
from salesops.models import AccessLog, Contact, ErasureRecord, Notification
from visits.models import Evidence

from .conftest import NATIONAL, PHONE, SPACED

pytestmark = pytest.mark.django_db


def _export(tmp_path, *args) -> dict:
    out = tmp_path / "person.json"
    call_command("personal_data", "export", *args, "--out", str(out), "--operator", "olga")
    return json.loads(out.read_text(encoding="utf-8"))


def test_export_by_phone_holds_the_person_in_every_model(tmp_path, client, alice, olga, world, lead, contact):
    """P4 `personal_data export --phone` gives the lead and its history, the contact and its history,
    the visit with them, the needs captured there, the customer, and the access log — as JSON."""
    client.force_login(alice)
    client.get(reverse("leads:detail", args=[lead.pk]))
    document = _export(tmp_path, "--phone", "139-5710-0015")
    records = document["records"]
    assert {"leads.Lead", "leads.HistoricalLead", "salesops.Contact", "salesops.HistoricalContact", "visits.VisitTask", "visits.Need"} <= set(records)
    assert records["leads.Lead"][0]["phone"] == PHONE and records["leads.Lead"][0]["consent_notice_version"] == "v1"
    assert len(records["leads.HistoricalLead"]) == 2
    assert records["salesops.Contact"][0]["name"] == "郑主任"
    assert records["visits.VisitTask"][0]["contact_id"] == contact.pk
    assert len(records["visits.Need"]) == len(world["needs"])
    assert document["related"]["salesops.Customer"][0]["id"] == contact.customer_id
    assert any(row["subject_id"] == str(lead.pk) and row["action"] == "view" for row in document["access_logs"])
    # the export itself is an access of the person's data
    assert AccessLog.objects.filter(action="export", user=olga, subject_type__model="lead").count() == 1


def test_export_by_contact_id(tmp_path, olga, world, contact, lead):
    """P4 `--contact ID` finds the contact and, through their number, their leads too."""
    records = _export(tmp_path, "--contact", str(contact.pk))["records"]
    assert records["salesops.Contact"][0]["id"] == contact.pk
    assert records["leads.Lead"][0]["id"] == lead.pk


def test_admin_action_exports_the_same(client, olga, world, lead):
    """P4 the 导出个人信息 admin action downloads the same document."""
    client.force_login(olga)
    response = client.post(reverse("admin:leads_lead_changelist"), {"action": "export_personal_data", "_selected_action": [lead.pk]})
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    documents = json.loads(response.content)
    assert documents[0]["records"]["leads.Lead"][0]["id"] == lead.pk
    assert "visits.Need" in documents[0]["records"]


def _tables_with(needles: list[str]) -> list[str]:
    """Every text column of every table, read through the database's own catalogue."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            for column in connection.introspection.get_table_description(cursor, table):
                try:
                    kind = connection.introspection.get_field_type(column.type_code, column) if column.type_code is not None else None
                except KeyError:
                    kind = None  # untyped (SQLite FTS5 columns): text as far as we know — scan it
                if kind is not None and kind not in (
                    "CharField", "TextField", "JSONField", "GenericIPAddressField", "SlugField", "EmailField", "URLField",
                ):
                    continue
                name = connection.ops.quote_name(column.name)
                for needle in needles:
                    cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)} WHERE CAST({name} AS TEXT) LIKE %s", [f"%{needle}%"])
                    if cursor.fetchone()[0]:
                        found.append(f"{table}.{column.name} ∋ {needle}")
    return found


def _totals():
    from scoring.models import Contribution

    return (
        Deal.objects.aggregate(total=Sum("amount"))["total"],
        Contribution.objects.aggregate(total=Sum("points"))["total"],
        sorted(Evidence.objects.values_list("sha256", flat=True)),
    )


def test_erasure_leaves_no_trace_of_the_number_and_keeps_the_business(olga, alice, world, lead, contact):
    """P4 after `personal_data erase` the number is in no table — live rows, history rows, the
    outbox, anything — while deals, points and evidence hashes are unchanged and the erasure is recorded."""
    from ..visits.conftest import add_photo

    add_photo(world["task"])
    assert _tables_with([NATIONAL, SPACED])  # the scan sees the number before
    before = _totals()
    call_command("personal_data", "erase", "--phone", SPACED, "--yes", "--operator", "olga")
    assert _tables_with([NATIONAL, SPACED, "139-5710-0015"]) == []
    assert _totals() == before
    lead.refresh_from_db()
    contact.refresh_from_db()
    assert lead.phone.startswith("ERASED-") and lead.contact_name.startswith("已匿名") and lead.pseudonymised_at
    assert contact.name.startswith("已匿名") and Deal.objects.filter(pk=world["deal"].pk).exists()
    assert not Lead.history.filter(contact_name="郑主任").exists() and not Contact.history.filter(name="郑主任").exists()
    assert "郑主任" not in Notification.objects.get(dedupe_key=f"privacy-test-{lead.pk}").body
    record = ErasureRecord.objects.get()
    assert record.by == olga and record.counts["leads.Lead"] == 1 and NATIONAL not in json.dumps(record.counts)


def test_erase_needs_confirmation(world):
    """P4 erasure cannot be undone: without --yes nothing happens."""
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("personal_data", "erase", "--phone", PHONE)
    assert Lead.objects.filter(phone=PHONE).exists()


def test_bad_phone_is_a_clear_error(world):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="不是有效的电话"):
        call_command("personal_data", "export", "--phone", "12")

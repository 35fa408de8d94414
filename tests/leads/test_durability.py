"""R1 — a valid lead is kept whatever fails after it: fault injection at the database.

A trigger refuses every insert into one table (the outbox, then the assignment decisions): the
lead survives as `new`, the API still answers 201 and the public form its success page; once the
trigger is gone, the sweep assigns it. A locked database answers 503 + Retry-After in JSON.
Works on SQLite and, with DATABASE_URL=postgres://…, on PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager

import pytest
from django.db import connection

from leads.models import AssignmentDecision, Lead, LeadStatus
from leads.services import leads_sweep
from salesops.models import Notification

from .conftest import lead_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready(alice, hip, hospital_3a, joint):
    alice.rep.product_lines.set([joint])
    return alice


@contextmanager
def refusing_inserts(table: str):
    """A real database trigger that aborts every INSERT into `table`."""
    name = f"refuse_{table}"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'fault injection: {table} refuses writes'; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(f"CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()")
        else:
            cursor.execute(f"CREATE TRIGGER {name} BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'fault injection: {table} refuses writes'); END")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER {name} ON {table}" if connection.vendor == "postgresql" else f"DROP TRIGGER {name}")


FAULTS = [Notification._meta.db_table, AssignmentDecision._meta.db_table]


@pytest.mark.parametrize("table", FAULTS)
def test_api_keeps_the_lead_when_a_later_write_is_refused_and_the_sweep_assigns_it(table, post_lead, ready):
    """R1: outbox / decision table refusing inserts → 201 status new, the lead is kept; the sweep
    assigns it once the table accepts writes again."""
    with refusing_inserts(table):
        response = post_lead(lead_payload(phone="13800001111"))
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["status"] == "new" and body["assignee"] is None and body["duplicate"] is False
        lead = Lead.objects.get(pk=body["id"])
        assert (lead.status, lead.assignee_id, lead.assigned_at) == (LeadStatus.NEW, None, None)
        assert not AssignmentDecision.objects.exists() and not Notification.objects.exists()
        # The sweep while the fault lasts fails for this lead but does not crash.
        assert leads_sweep()["assigned"] == 0
    assert leads_sweep()["assigned"] == 1
    lead.refresh_from_db()
    assert lead.status == LeadStatus.ASSIGNED and lead.assignee_id == ready.pk
    assert AssignmentDecision.objects.get(lead=lead).chosen_id == ready.pk
    assert Notification.objects.filter(recipient=ready, payload__lead_id=lead.pk).exists()
    # The history tells what happened: created assigned, put back to new, assigned by the sweep.
    assert [row.status for row in lead.history.order_by("history_id")][-1] == LeadStatus.ASSIGNED


@pytest.mark.parametrize("table", FAULTS)
def test_public_form_shows_success_and_keeps_the_lead_when_a_later_write_is_refused(table, client, ready):
    """R1: the public form has no retry, so the visitor sees success and the lead is kept."""
    with refusing_inserts(table):
        response = client.post("/leads/form/", {"consent": "on", "name": "周主任", "phone": "13800006666", "hospital": "浙江省人民医院", "product_model": "AK-HIP-01"})
    assert response.status_code == 200 and response.context["done"] is True
    lead = Lead.objects.get(phone="+8613800006666")
    assert lead.status == LeadStatus.NEW and lead.assignee_id is None
    assert leads_sweep()["assigned"] == 1


def test_a_bug_in_the_decision_keeps_the_lead_new(post_lead, ready, monkeypatch):
    """R1: a crash in the scoring code (not the database) still keeps the lead for the sweep."""
    import leads.services as services

    def broken(*args, **kwargs):
        raise ZeroDivisionError("scoring bug")

    monkeypatch.setattr(services.assignment, "decide", broken)
    response = post_lead(lead_payload())
    assert response.status_code == 201 and response.json()["status"] == "new"
    monkeypatch.undo()
    assert leads_sweep()["assigned"] == 1


@contextmanager
def database_locked_by_another_process():
    """Another connection holds the write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: the rules
    row and the lead table); this connection gives up after 200 ms instead of 20 s."""
    connection.ensure_connection()
    settings_dict = connection.settings_dict
    if connection.vendor == "postgresql":
        import psycopg

        other = psycopg.connect(
            host=settings_dict["HOST"] or None, port=settings_dict["PORT"] or None, user=settings_dict["USER"],
            password=settings_dict["PASSWORD"], dbname=settings_dict["NAME"], autocommit=False,
        )
        other.execute("LOCK TABLE leads_assignmentrules IN ACCESS EXCLUSIVE MODE")
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
    else:
        other = sqlite3.connect(settings_dict["NAME"], isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        connection.connection.execute("PRAGMA busy_timeout = 200")
    try:
        yield
    finally:
        other.rollback()
        other.close()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '10s'")


@pytest.mark.django_db(transaction=True)
def test_locked_database_answers_json_503_with_retry_after(post_lead, ready):
    """R1: a database held by another writer is a JSON 503 + Retry-After, never an HTML 500;
    the same request (same webhook-id) succeeds once the lock is gone."""
    from leads.models import AssignmentRules

    AssignmentRules.live()
    with database_locked_by_another_process():
        response = post_lead(lead_payload(), msg_id="msg_locked_1")
    assert response.status_code == 503, response.content
    assert response["Content-Type"].startswith("application/json") and int(response["Retry-After"]) > 0
    assert "database" in response.json()["errors"]
    assert not Lead.objects.exists()
    retried = post_lead(lead_payload(), msg_id="msg_locked_1")
    assert retried.status_code == 201 and Lead.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_locked_database_keeps_the_public_form_filled_in_with_503(client, ready):
    """R1: the form visitor gets a Chinese retry message with what they typed, not a 500."""
    from leads.models import AssignmentRules

    AssignmentRules.live()
    with database_locked_by_another_process():
        response = client.post("/leads/form/", {"consent": "on", "name": "周主任", "phone": "13800006666"})
    assert response.status_code == 503 and response["Retry-After"]
    html = response.content.decode()
    assert "系统繁忙" in html and "13800006666" in html

"""The privacy world (P1–P5): one person — 郑主任, mobile 139 5710 0015 — as a website lead of
alice's, as a contact at alice's customer with a visit and needs on record, with notifications,
ledger rows and history about them. Personas as everywhere: alice owns, bob is her teammate,
carol supervises them, charlie is an outsider, diana directs, olga runs ops."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from leads.models import Lead, LeadStatus
from salesops.models import ContactTitle
from salesops.notifications import notification_enqueue

from ..factories import ContactFactory, CustomerFactory
from ..leads.conftest import _fresh_cache, intake_secret, post_lead  # noqa: F401 — the signed API fixtures

PHONE = "+8613957100015"
NATIONAL = "13957100015"
SPACED = "139 5710 0015"
MASKED = "139****0015"


@pytest.fixture
def customer(alice):
    return CustomerFactory(owner=alice, phone="+8657187654321")


@pytest.fixture
def contact(customer):
    return ContactFactory(customer=customer, name="郑主任", title=ContactTitle.DIRECTOR, phone=PHONE)


@pytest.fixture
def lead(alice, customer):
    now = timezone.now()
    lead = Lead.objects.create(
        customer=customer, contact_name="郑主任", phone=PHONE, source="website", status=LeadStatus.ASSIGNED,
        assignee=alice, assigned_at=now, note=f"请回电 {SPACED}", consent_basis="notice", consent_notice_version="v1",
        consent_given_at=now, consent_channel="website",
    )
    lead.note = f"请回电 {SPACED}，下午方便"  # a second history row
    lead.save()
    return lead


@pytest.fixture
def world(alice, customer, contact, lead):
    """Everything held on the person, written through the services where one exists."""
    from visits import services
    from visits.library import MEDICAL_CODE, install_library
    from visits.models import ModuleKind, TemplateModule, VisitTemplate

    from ..visits.conftest import add_needs

    library = {t.code: t for t in install_library(VisitTemplate, TemplateModule)}
    task = services.visit_task_create(
        rep=alice, customer=customer, template=library[MEDICAL_CODE], due_date=timezone.localdate(), contact=contact, by=alice
    )
    needs = add_needs(task)
    notification_enqueue(recipient=alice, title="新线索：郑主任", body=f"客户：郑主任 {SPACED}", url="/leads/", channel="in_app",
                         payload={"lead_id": lead.pk, "callee": PHONE}, dedupe_key=f"privacy-test-{lead.pk}")
    from leads.cash.models import Deal

    deal = Deal.objects.create(customer=customer, hospital=customer.hospital, owner=alice, amount=Decimal("128000.00"), product_summary="AK-HIP-01")
    return {"task": task, "needs": needs, "deal": deal, "module": ModuleKind.NEEDS}

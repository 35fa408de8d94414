"""Issue 12, attack "a rep types a call to look fast" (T8): what a rep types is self-reported;
the call robot's callback, a phone-system record or visit evidence (a completed visit to the lead's
customer) is verified. KPI 1 shows both figures side by side, the director — and only the
director — chooses in the page which one the KPI and its alarm use (history-tracked), and the
lead timeline marks every contact event and shows the first verified contact as its own step.

alice rep (team A), carol supervisor A, diana director, olga ops.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from dashboards.kpis import Scope, lead_minutes, measure
from dashboards.models import Kpi, Threshold
from leads.models import ContactKind, Lead, LeadStatus
from leads.services import contact_attempt_record
from salesops.models import ContactTitle
from salesops.services import contact_title_verify
from visits import services as visit_services
from visits.library import DEAN_CODE, install_evidence_policy, install_library
from visits.models import EvidencePolicy, ModuleKind, TemplateModule, VisitTemplate

from ..factories import ContactFactory, CustomerFactory
from ..visits.factories import photo_upload, wav_upload

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=SHANGHAI)  # a Wednesday afternoon


@pytest.fixture
def at_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def customer(alice):
    return CustomerFactory(owner=alice, name="浙江省人民医院 骨科")


@pytest.fixture
def lead(at_now, alice, customer):
    """Assigned to alice three hours ago; alice typed a 2-minute call 30 minutes after."""
    started = at_now - timedelta(hours=3)
    lead = Lead.objects.create(
        contact_name="刘女士", phone="+8613800002222", customer=customer, assignee=alice, created_at=started,
        assigned_at=started, first_assigned_at=started, status=LeadStatus.ASSIGNED,
    )  # fmt: skip
    contact_attempt_record(lead=lead, kind=ContactKind.CALL, by=alice, duration_seconds=120, occurred_at=started + timedelta(minutes=30))
    return lead


def complete_a_dean_visit(rep, customer, carol):
    """A complete 院长拜访包 visit (door-plate photo, three needs, voice memo) through the services."""
    install_evidence_policy(EvidencePolicy)
    install_library(VisitTemplate, TemplateModule)
    dean = contact_title_verify(contact=ContactFactory(customer=customer, name="李院长", title=ContactTitle.DEAN), title=ContactTitle.DEAN, by=carol)
    task = visit_services.visit_task_create(
        rep=rep, customer=customer, template=VisitTemplate.objects.get(code=DEAN_CODE), contact=dean, due_date=timezone.localdate(), by=rep
    )

    def module(kind):
        return task.template.modules.filter(kind=kind).order_by("-required", "position").first()

    visit_services.evidence_add(task=task, module=module(ModuleKind.PHOTO), upload=photo_upload(seed="t8-door"), by=rep)
    needs = module(ModuleKind.NEEDS)
    visit_services.needs_capture(task=task, module=needs, items=[(choice, "") for choice in needs.choices[:3]], by=rep)
    visit_services.evidence_add(task=task, module=module(ModuleKind.VOICE_MEMO), upload=wav_upload(), by=rep)
    return visit_services.visit_complete(task=task, by=rep)


def span():
    return [(NOW - timedelta(days=1), NOW + timedelta(days=1))]


def test_a_typed_call_counts_only_on_the_self_reported_basis(lead):
    """T8: the typed call answers the lead in 30 minutes on the inclusive basis; on the verified
    basis the lead is still running (180 minutes, not contacted)."""
    assert lead_minutes(span(), Scope.company(), now=NOW) == {(None, 0): [(30.0, True)]}
    assert lead_minutes(span(), Scope.company(), now=NOW, contact_basis="verified") == {(None, 0): [(180.0, False)]}


def test_visit_evidence_for_the_leads_customer_is_verified_contact(client, lead, alice, carol, customer):
    """T8: a completed visit with its evidence to the lead's customer is verified contact — on the
    verified KPI basis and on the timeline (its own event marked 已核实, and the 首次核实联系 step);
    a visit to another customer is not."""
    complete_a_dean_visit(alice, CustomerFactory(owner=alice), carol)
    assert lead_minutes(span(), Scope.company(), now=NOW, contact_basis="verified")[(None, 0)] == [(180.0, False)]
    with time_machine.travel(NOW - timedelta(hours=1), tick=False):
        complete_a_dean_visit(alice, customer, carol)
    assert lead_minutes(span(), Scope.company(), now=NOW, contact_basis="verified") == {(None, 0): [(120.0, True)]}

    client.force_login(carol)
    page = client.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    assert "自报" in page  # the typed call keeps its mark
    assert "完成拜访" in page and "已核实" in page  # the visit, marked verified
    assert "首次核实联系" in page and "首次有效联系" in page


def test_the_kpi_page_shows_both_bases_and_only_the_director_chooses(client, lead, alice, carol, diana, olga):
    """T8: KPI 1 on the page shows both figures (含自报 30 min, 仅已核实 180 min running) and
    which one is in use; carol (supervisor), olga (ops) and alice (rep) cannot change it through
    the page; diana does, the change is in the threshold's history with her name, and KPI 1
    (the card and the alarm's measure) then uses the verified basis. A bad value is a message."""
    url = reverse("dashboards:kpis") + "?period=week"
    client.force_login(diana)
    page = client.get(url).content.decode()
    bases = dict(re.findall(r'data-basis="(\w+)".*?<dd>(.*?)</dd>', page, re.S))
    assert set(bases) == {"all", "verified"}
    assert "30" in bases["all"] and "180" in bases["verified"]
    assert 'name="contact_basis"' in page

    for user in (carol, olga, alice):
        client.force_login(user)
        if user != alice:
            assert 'name="contact_basis"' not in client.get(url).content.decode()
        assert client.post(reverse("dashboards:kpi_contact_basis"), {"contact_basis": "verified"}).status_code == 403
    assert Threshold.for_kpi(Kpi.LEAD_TIMELINESS).contact_basis == "all"

    client.force_login(diana)
    bad = client.post(reverse("dashboards:kpi_contact_basis"), {"contact_basis": "whatever"}, follow=True)
    assert bad.status_code == 200 and "请选择“全部（含销售自报）”或“仅已核实”" in bad.content.decode()
    assert Threshold.for_kpi(Kpi.LEAD_TIMELINESS).contact_basis == "all"
    response = client.post(reverse("dashboards:kpi_contact_basis"), {"contact_basis": "verified", "period": "week"})
    assert response.status_code == 302
    threshold = Threshold.objects.get(kpi=Kpi.LEAD_TIMELINESS)
    assert threshold.contact_basis == "verified"
    assert threshold.history.first().history_user == diana

    cell = measure(Kpi.LEAD_TIMELINESS, span(), Scope.company(), threshold=Threshold.for_kpi(Kpi.LEAD_TIMELINESS), now=NOW)[None][0]
    assert (cell.value, cell.detail["running"]) == (180.0, 1)
    page = client.get(url).content.decode()
    in_use = re.search(r'data-basis="(\w+)" aria-current="true"', page)
    assert in_use and in_use.group(1) == "verified"

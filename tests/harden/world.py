"""A small but complete company for the URL walk (R4): one of every object a page can show, built
through the real services so the crawl finds real ids behind every URL pattern."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from dashboards.models import Intervention, TvScreen
from leads.intake import LeadIntakeForm
from leads.services import lead_intake
from salesops.models import Notification

from ..cash.helpers import make_quote, make_won_deal
from ..cash.statement_files import Line, corporate_csv
from ..factories import ContactFactory, CustomerFactory, HospitalFactory, ProductFactory, ProductLineFactory
from ..visits.factories import photo_upload, wav_upload


def build_world(*, alice, bob, carol, charlie, dave, diana, olga, client) -> dict:
    from leads.cash.bankfiles import PRESETS
    from leads.cash.models import BankAccount
    from visits import services as visit_services
    from visits.library import MEDICAL_CODE, install_library
    from visits.models import ModuleKind, TemplateModule, VisitTemplate

    line = ProductLineFactory(code="joint", name="关节类")
    product = ProductFactory(model_number="AK-HIP-01", line=line)
    hospital = HospitalFactory(name="浙江省人民医院")
    customer = CustomerFactory(owner=alice, hospital=hospital)
    ContactFactory(customer=customer, name="王主任")
    customer_b = CustomerFactory(owner=charlie)

    form = LeadIntakeForm(
        data={"name": "王主任", "phone": "13800001111", "product_model": "AK-HIP-01", "hospital": hospital.name,
              "hospital_grade": "3A", "source": "website", "note": "想了解髋关节",
              "consent": {"version": "v1", "given_at": timezone.now().isoformat(), "channel": "website"}}  # P1
    )
    assert form.is_valid(), form.errors
    lead = lead_intake(data=form.intake_data()).lead

    quote, _version = make_quote(customer, alice, [(product, 1, "0")], send=True)
    deal = make_won_deal(customer, alice, product)
    make_won_deal(customer_b, charlie, product)

    account = BankAccount.objects.create(name="工行基本户", bank="generic", account_number="1202026009200123456",
                                         column_map=PRESETS["generic"]["map"])
    today = timezone.localdate()
    csv = corporate_csv([Line(booked_on=today, credit=Decimal("6400.00"), payer=customer.hospital.name, reference="F1")])
    client.force_login(olga)
    client.post("/cash/statements/", {"account": account.pk, "file": SimpleUploadedFile("工行.csv", csv)})
    client.logout()

    library = {t.code: t for t in install_library(VisitTemplate, TemplateModule)}
    task = visit_services.visit_task_create(rep=alice, customer=customer, template=library[MEDICAL_CODE], due_date=today, by=alice)
    photo_module = task.template.modules.get(kind=ModuleKind.PHOTO, required=True)
    visit_services.evidence_add(task=task, module=photo_module, upload=photo_upload(), by=alice)
    voice = task.template.modules.filter(kind=ModuleKind.VOICE_MEMO).first()
    if voice is not None:
        visit_services.evidence_add(task=task, module=voice, upload=wav_upload(), by=alice)

    screen = TvScreen.objects.create(name="晨会室", location="3 楼", token="fuzz-screen-token")
    Intervention.objects.create(
        kind=Intervention._meta.get_field("kind").choices[0][0], kpi=Intervention._meta.get_field("kpi").choices[0][0],
        occurrence_key="fuzz-1", team=carol.rep.team, subject_rep=alice, owner=carol, title="复核", why="测试",
        period_start=today - timedelta(days=3), period_end=today, due_on=today + timedelta(days=3),
    )
    from dashboards.reports import report_generate

    report_generate(kind="daily", day=today - timedelta(days=1), by=diana)
    assert Notification.objects.exists()
    return {"lead": lead, "quote": quote, "deal": deal, "task": task, "screen": screen}

"""U3 on a phone viewport: a visit captured without signal (Playwright's offline mode) is queued
in IndexedDB and shown as 待上传, then uploaded in order when the network returns — with the
time it was captured, not the time it arrived."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from visits import services
from visits.library import MEDICAL_CODE, install_library
from visits.models import CaptureReceipt, Evidence, ModuleKind, TemplateModule, VisitTemplate
from visits.samples import make_pdf, make_photo

from ..factories import CustomerFactory
from .test_visits_journey import HOSPITAL, PHONE, chinese, login, one_request_at_a_time  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("one_request_at_a_time")]


def test_a_visit_captured_offline_is_uploaded_in_order_when_back_online(page, live_server, alice, password):
    """U3"""
    medical = {t.code: t for t in install_library(VisitTemplate, TemplateModule)}[MEDICAL_CODE]
    task = services.visit_task_create(rep=alice, customer=CustomerFactory(owner=alice), template=medical, due_date=timezone.localdate(), by=alice)
    modules = {m.kind: m for m in medical.modules.all()}
    chinese(page.context, live_server)
    page.set_viewport_size(PHONE)
    login(page, live_server, alice, password)
    page.context.grant_permissions(["geolocation"], origin=live_server.url)
    page.context.set_geolocation(HOSPITAL)
    page.goto(f"{live_server.url}{reverse('visits:task_detail', args=[task.pk])}")
    page.wait_for_load_state("networkidle")

    before = timezone.now()
    page.context.set_offline(True)
    page.locator("#notes textarea[name=competitor_news]").fill("某品牌降价5%")
    photo_module = page.locator(f"#module-{modules[ModuleKind.PHOTO].pk}")
    photo = make_photo(seed="basement", taken_at=timezone.localtime().replace(tzinfo=None), gps=(HOSPITAL["latitude"], HOSPITAL["longitude"]))
    photo_module.locator("input[type=file]").set_input_files(files=[{"name": "IMG_1.JPG", "mimeType": "image/jpeg", "buffer": photo}])
    photo_module.locator(".capture-queue li").filter(has_text="待上传").wait_for()
    second = make_photo(seed="basement-2", taken_at=timezone.localtime().replace(tzinfo=None), gps=(HOSPITAL["latitude"], HOSPITAL["longitude"]))
    photo_module.locator("input[type=file]").set_input_files(files=[{"name": "IMG_2.JPG", "mimeType": "image/jpeg", "buffer": second}])
    pdf_module = page.locator(f"#module-{modules[ModuleKind.SIGNED_DOCUMENT].pk}")
    pdf_module.locator("input[type=file]").set_input_files(files=[{"name": "确认书.pdf", "mimeType": "application/pdf", "buffer": make_pdf(seed="offline")}])
    needs = modules[ModuleKind.NEEDS]
    needs_form = page.locator(f"#module-{needs.pk} form.needs-form")
    for index, choice in enumerate(needs.choices[:3], start=1):
        needs_form.locator(f"select[name=choice_{index}]").select_option(choice)
    needs_form.get_by_role("button", name="保存需求").click()
    page.locator(f"#module-{needs.pk} .capture-queue li").filter(has_text="待上传").wait_for()
    page.wait_for_function("window.salesopsCapture.queue().then((items) => items.length === 5)")
    assert page.locator("#capture-queue-summary").is_visible()
    captured_until = timezone.now()
    # Nothing reached the server, and the typed text is still there.
    assert not Evidence.objects.filter(task=task).exists() and not task.needs.exists()
    assert page.locator("#notes textarea[name=competitor_news]").input_value() == "某品牌降价5%"

    page.context.set_offline(False)
    page.wait_for_function("window.salesopsCapture.queue().then((items) => items.length === 0)", timeout=45000)
    page.locator(f"#module-{needs.pk} .result").wait_for()
    assert page.locator(".capture-queue li").count() == 0

    evidence = list(Evidence.objects.filter(task=task).order_by("pk"))
    assert [item.kind for item in evidence] == [ModuleKind.PHOTO, ModuleKind.PHOTO, ModuleKind.SIGNED_DOCUMENT]  # in order
    assert evidence[0].supersedes is None and evidence[1].supersedes is None  # two photos, one module
    for item in evidence:
        assert before <= item.captured_at <= captured_until < item.uploaded_at
    receipts = list(CaptureReceipt.objects.filter(task=task).order_by("received_at", "pk"))
    assert sorted(r.action for r in receipts) == ["evidence", "evidence", "evidence", "needs", "notes"]
    assert [r.captured_at for r in receipts] == sorted(r.captured_at for r in receipts)  # sent in the order captured
    assert all(r.latitude is not None for r in receipts)
    assert all(before <= need.captured_at <= captured_until for need in task.needs.all())
    task.refresh_from_db()
    assert task.competitor_news == "某品牌降价5%" and not task.missing_modules()

"""Browser journey (V2–V4, V7, V8, U2) on a phone-sized screen: the rep opens the task from its QR
URL and, on that one screen, types the notes, takes the door-plate photo, adds the signed PDF and
the 3 needs and completes — in ≤ 8 taps, without a page load; the supervisor opens the evidence."""

from __future__ import annotations

import hashlib
import threading

import pytest
from django.urls import reverse
from django.utils import timezone

from salesops.models import Activity, ActivityKind
from visits import qr, services
from visits.library import MEDICAL_CODE, install_library
from visits.models import ModuleKind, TaskStatus, TemplateModule, VisitTask, VisitTemplate
from visits.samples import make_pdf, make_photo

from ..factories import CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("one_request_at_a_time")]
PHONE = {"width": 390, "height": 844}
HOSPITAL = {"latitude": 30.2574, "longitude": 120.1703}  # tests/factories.py hospital, ~50 m away


@pytest.fixture
def one_request_at_a_time(live_server):
    """With in-memory SQLite, Django's live server shares ONE database connection between its
    request threads. A page that loads thumbnails, a QR code and htmx badges at once then
    interleaves transactions on that connection (a session row can vanish). Serialise Django's
    handling of requests for these journeys; the browser still opens several connections."""
    httpd = live_server.thread.httpd
    application = httpd.get_app()
    lock = threading.Lock()

    def serialised(environ, start_response):
        with lock:
            response = application(environ, start_response)
            if hasattr(response, "file_to_stream"):
                return response  # a file: no database work is left
            body = b"".join(response)  # streamed content is produced here, still under the lock
            response.close()  # request_finished, as the server would have sent it
            return [body]

    httpd.set_app(serialised)
    yield
    httpd.set_app(application)


def chinese(context, live_server) -> None:
    """The reps' language, whatever the test browser's Accept-Language says."""
    context.add_cookies([{"name": "salesops_language", "value": "zh-hans", "url": live_server.url}])


def login(page, live_server, user, password) -> None:
    """Log in through the form and wait until the login's own navigation has finished."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "/accounts/login/" not in page.url
    # The page's own htmx requests (nav badges) finish before the test navigates on: the live
    # server shares one SQLite connection between its threads.
    page.wait_for_load_state("networkidle")


def test_rep_completes_a_visit_from_the_qr_code_and_the_supervisor_opens_the_evidence(page, live_server, settings, alice, carol, password):
    """V2–V4, V7, V8, U2: a full visit in ≤ 8 taps without a page load."""
    settings.SITE_URL = live_server.url
    settings.VISITS_PHOTO_MAX_EDGE = 1280
    medical = {t.code: t for t in install_library(VisitTemplate, TemplateModule)}[MEDICAL_CODE]
    customer = CustomerFactory(owner=alice, name="浙江省人民医院 关节外科")
    task = services.visit_task_create(rep=alice, customer=customer, template=medical, due_date=timezone.localdate(), by=alice)
    modules = {m.kind: m for m in medical.modules.all()}

    chinese(page.context, live_server)
    page.set_viewport_size(PHONE)
    login(page, live_server, alice, password)
    page.context.grant_permissions(["geolocation"], origin=live_server.url)
    page.context.set_geolocation(HOSPITAL)
    csp_violations: list[str] = []
    page.on("console", lambda message: csp_violations.append(message.text) if "Content Security Policy" in message.text else None)

    # V2: the QR code's URL opens the task.
    page.goto(qr.task_url(task))
    page.wait_for_url(f"{live_server.url}{reverse('visits:task_detail', args=[task.pk])}")
    assert page.locator("h1").inner_text() == "浙江省人民医院 关节外科"

    # U2: the whole visit on one screen, every module saved in place: count the taps, and no page
    # load may happen (a marker set on the window survives, no navigation is seen).
    page.wait_for_load_state("networkidle")
    page.evaluate("window.__sameDocument = 'yes'")
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    taps = 0

    notes = page.locator("#notes")
    notes.locator("textarea[name=demand_changes]").fill("新增两台关节手术")  # tap 1: typed before the photo
    taps += 1

    # V3: the photo input opens the rear camera on a phone; here a file stands in for the shot. It is
    # uploaded as soon as it is picked (compressed on the phone, EXIF kept, with a progress bar).
    photo_module = page.locator(f"#module-{modules[ModuleKind.PHOTO].pk}")
    camera = photo_module.locator("input[type=file]")
    assert camera.get_attribute("capture") == "environment" and camera.get_attribute("accept") == "image/*"
    photo_form = photo_module.locator("form.upload-form")
    assert photo_form.get_attribute("data-max-edge") == "1280" and photo_form.locator("progress.upload-progress").count() == 1
    photo = make_photo(seed="journey", taken_at=timezone.localtime().replace(tzinfo=None), gps=(HOSPITAL["latitude"], HOSPITAL["longitude"]), size=(2400, 1800), quality=95)
    camera.set_input_files(files=[{"name": "IMG_0420.JPG", "mimeType": "image/jpeg", "buffer": photo}])  # tap 2
    taps += 1
    page.locator(f"#module-{modules[ModuleKind.PHOTO].pk} .result").filter(has_text="科室门牌照片 已上传").wait_for()
    # The lock updated live, and the text typed before the upload is still there.
    assert "科室门牌照片" not in page.locator("#lock .missing-list").inner_text()
    assert notes.locator("textarea[name=demand_changes]").input_value() == "新增两台关节手术"

    pdf_form = page.locator(f"#module-{modules[ModuleKind.SIGNED_DOCUMENT].pk} form.upload-form")
    pdf = make_pdf(hospital="浙江省人民医院", department="关节外科", signer="王主任", when=timezone.localtime())
    pdf_form.locator("input[type=file]").set_input_files(files=[{"name": "确认书.pdf", "mimeType": "application/pdf", "buffer": pdf}])  # tap 3
    taps += 1
    page.locator(f"#module-{modules[ModuleKind.SIGNED_DOCUMENT].pk} .result").wait_for()

    needs = modules[ModuleKind.NEEDS]
    needs_form = page.locator(f"#module-{needs.pk} form.needs-form")
    for index, choice in enumerate((needs.choices[0], needs.choices[2], needs.choices[5]), start=1):
        needs_form.locator(f"select[name=choice_{index}]").select_option(choice)  # taps 4–6
        taps += 1
    assert needs_form.locator("input[name=text_2]").get_attribute("maxlength") == "10"
    needs_form.get_by_role("button", name="保存需求").click()  # tap 7
    taps += 1
    page.locator("#lock").filter(has_text="必填证据已齐").wait_for()
    page.locator("#notes .result").filter(has_text="拜访记录已保存").wait_for()  # saved when the rep moved on

    page.locator("#complete-button").click()  # tap 8
    taps += 1
    page.locator("#lock").filter(has_text="已完成").wait_for()
    assert taps <= 8
    assert navigations == [] and page.evaluate("window.__sameDocument") == "yes"
    task.refresh_from_db()
    assert task.status == TaskStatus.COMPLETED and task.demand_changes == "新增两台关节手术"
    assert task.checkin_distance_m is not None and task.checkin_distance_m < 200  # the first capture started it, with the position
    stored = task.evidence.get(kind=ModuleKind.PHOTO)
    assert max(stored.width, stored.height) <= 1280 < 2400  # compressed on the phone
    assert stored.taken_at is not None and stored.gps_latitude is not None  # EXIF kept through the canvas
    assert stored.watermarked and stored.captured_at is not None
    assert Activity.objects.get(kind=ActivityKind.VISIT_COMPLETED).facts["onsite"] is True
    assert csp_violations == []

    # V8: the supervisor, on a laptop, opens the team's visit and the original photo in one click.
    page.wait_for_load_state("networkidle")
    page.context.clear_cookies()
    chinese(page.context, live_server)
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, live_server, carol, password)
    page.goto(f"{live_server.url}{reverse('visits:task_list')}")
    with page.expect_navigation():
        page.get_by_role("link", name="浙江省人民医院 关节外科").click()
    thumbnail = page.locator(f"#module-{modules[ModuleKind.PHOTO].pk} img.thumb")
    thumbnail.wait_for()
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", thumbnail.element_handle())
    with page.expect_popup() as popup_info:
        page.get_by_role("link", name="查看原图").click()
    original = popup_info.value
    original.wait_for_load_state()
    assert original.url.endswith(reverse("visits:evidence_file", args=[task.evidence.get(kind=ModuleKind.PHOTO).pk]))
    response = original.reload()  # the browser's own request, with the supervisor's session
    assert response.status == 200 and response.headers["content-type"] == "image/jpeg"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert hashlib.sha256(response.body()).hexdigest() == task.evidence.get(kind=ModuleKind.PHOTO).sha256
    page.get_by_text("EXIF 与校验").first.click()
    assert "距医院" in page.locator(f"#module-{modules[ModuleKind.PHOTO].pk} .exif").inner_text()
    assert page.get_by_role("link", name="打开 PDF").count() == 1


def test_voice_memo_is_recorded_in_the_browser_and_uploaded(browser_type, browser_type_launch_args, live_server, alice, password):
    """V3: 录音 records with MediaRecorder (capture.js) and uploads the memo; the server sniffs the
    WebM/Opus bytes and files it as a voice memo. Chromium's fake microphone stands in for a phone's."""
    medical = {t.code: t for t in install_library(VisitTemplate, TemplateModule)}[MEDICAL_CODE]
    task = services.visit_task_create(rep=alice, customer=CustomerFactory(owner=alice), template=medical, due_date=timezone.localdate(), by=alice)
    memo_module = medical.modules.get(kind=ModuleKind.VOICE_MEMO)
    args = {**browser_type_launch_args, "args": [*browser_type_launch_args["args"], "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]}
    browser = browser_type.launch(**args)
    try:
        context = browser.new_context(viewport=PHONE)
        context.grant_permissions(["microphone"], origin=live_server.url)
        chinese(context, live_server)
        page = context.new_page()
        login(page, live_server, alice, password)
        page.goto(f"{live_server.url}{reverse('visits:task_detail', args=[task.pk])}")
        record = page.locator(f"#module-{memo_module.pk} .record-button")
        record.click()
        # The recorder shows its running time; wait until a second of audio exists.
        page.locator(f"#module-{memo_module.pk} .record-status").filter(has_text="录音中 0:01").wait_for()
        record.click()  # U3: queued in IndexedDB, uploaded in place, kept until the server answers
        page.locator(f"#module-{memo_module.pk} audio").wait_for()
        assert page.evaluate("window.salesopsCapture.queue().then((items) => items.length)") == 0
    finally:
        browser.close()
    memo = task.evidence.get(module=memo_module)
    assert memo.content_type in ("audio/webm", "audio/ogg", "audio/mp4") and memo.size > 1000
    assert Activity.objects.filter(kind=ActivityKind.VOICE_MEMO, subject_id=str(memo.pk)).exists()

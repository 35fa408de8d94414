"""U2/U3: the one capture screen (saves in place, several photos, watermarked copy, original
byte-identical) and offline captures replayed by their key (stored once, capture time kept)."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone
from PIL import Image, ImageStat

from visits import services
from visits.models import CaptureReceipt, Evidence, ModuleKind, Need, TaskStatus

from .conftest import fill_required, module_of
from .factories import photo_upload

HX = {"HX-Request": "true"}


def upload_url(task, kind=ModuleKind.PHOTO):
    return reverse("visits:evidence_upload", args=[task.pk, module_of(task, kind).pk])


def photo_bytes(seed="door"):
    return photo_upload(seed).read()


def post_photo(client, task, data, **fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(upload_url(task), {"file": SimpleUploadedFile("IMG.jpg", data, "image/jpeg"), **fields}, headers=HX)


def test_htmx_upload_answers_the_module_fragment_with_the_lock_out_of_band(client, alice, task):
    """U2: a photo saves in place: the answer is the module's card with its result, and the lock
    and status (hx-swap-oob) — never a whole page or a redirect."""
    client.force_login(alice)
    response = post_photo(client, task, photo_bytes())
    body = response.content.decode()
    photo = module_of(task, ModuleKind.PHOTO)
    assert response.status_code == 200 and "<html" not in body
    assert f'id="module-{photo.pk}"' in body and "科室门牌照片 已上传" in body
    assert 'id="lock"' in body and 'hx-swap-oob="true"' in body and 'id="task-status"' in body
    lock = body[body.index('id="lock"'):]
    assert "科室门牌照片" not in lock.split("</section>")[0] and "核心需求" in lock.split("</section>")[0]


def test_htmx_errors_name_the_field_and_keep_the_page(client, alice, task):
    """U2: a rejected file answers 400 with the module's fragment and the reason next to it."""
    client.force_login(alice)
    response = post_photo(client, task, b"%PDF-1.4 not a photo")
    assert response.status_code == 400 and "<html" not in response.content.decode()
    assert "这不是照片" in response.content.decode()


def test_needs_and_notes_save_in_place(client, alice, task):
    """U2: the needs and the notes answer with their own fragment, the typed values kept."""
    client.force_login(alice)
    module = module_of(task, ModuleKind.NEEDS)
    data = {"choice_1": module.choices[0], "choice_2": module.choices[1], "choice_3": module.choices[2], "text_1": "年增三成"}
    response = client.post(reverse("visits:needs_save", args=[task.pk, module.pk]), data, headers=HX)
    assert response.status_code == 200 and "核心需求已保存" in response.content.decode() and "<html" not in response.content.decode()
    notes = {"demand_changes": "新增两台", "competitor_news": "某品牌降价", "next_action": "送样"}
    response = client.post(reverse("visits:task_notes", args=[task.pk]), notes, headers=HX)
    body = response.content.decode()
    assert response.status_code == 200 and 'id="notes"' in body and "某品牌降价" in body and "拜访记录已保存" in body


def test_complete_in_place_and_locked_answer(client, alice, task):
    """U2/V4: 完成 answers in place: 409 with the missing items while locked, then 已完成."""
    client.force_login(alice)
    response = client.post(reverse("visits:task_complete", args=[task.pk]), headers=HX)
    assert response.status_code == 409 and "动作锁" in response.content.decode()
    fill_required(task)
    response = client.post(reverse("visits:task_complete", args=[task.pk]), headers=HX)
    assert response.status_code == 200 and "已完成" in response.content.decode()
    task.refresh_from_db()
    assert task.status == TaskStatus.COMPLETED


def test_original_stays_byte_identical_and_the_watermark_is_a_derived_copy(client, alice, task):
    """U2: the stored original's SHA-256 is the uploaded bytes'; the watermarked copy differs and
    is served through the same access door."""
    client.force_login(alice)
    data = photo_bytes("original")
    assert post_photo(client, task, data).status_code == 200
    evidence = Evidence.objects.get(task=task)
    with evidence.file.open("rb") as handle:
        stored = handle.read()
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(data).hexdigest() == evidence.sha256
    assert evidence.watermarked
    with evidence.watermarked.open("rb") as handle:
        marked = handle.read()
    assert marked != data and Image.open(io.BytesIO(marked)).format == "JPEG"
    # The band at the bottom is darker than the same place in the original.
    original_image = Image.open(io.BytesIO(data)).convert("L").resize((160, 120))
    marked_image = Image.open(io.BytesIO(marked)).convert("L").resize((160, 120))
    band = (0, 110, 160, 120)
    assert ImageStat.Stat(marked_image.crop(band)).mean[0] < ImageStat.Stat(original_image.crop(band)).mean[0]
    response = client.get(reverse("visits:evidence_watermarked", args=[evidence.pk]))
    assert response.status_code == 200 and b"".join(response.streaming_content) == marked


def test_outsider_cannot_open_the_watermarked_copy(client, dave, task):
    """U2: the derived copy is evidence too: a guessed id is a 404."""
    evidence = services.evidence_add(task=task, module=module_of(task, ModuleKind.PHOTO), upload=photo_upload("x"), by=task.rep)
    client.force_login(dave)
    assert client.get(reverse("visits:evidence_watermarked", args=[evidence.pk])).status_code == 404


def test_several_photos_per_photo_module(client, alice, carol, task):
    """U2: a second photo is added to the module's set (not a correction); a correction names the
    photo it replaces, which stays listed; a corrected photo cannot be corrected twice."""
    client.force_login(alice)
    post_photo(client, task, photo_bytes("one"), additional="True")
    post_photo(client, task, photo_bytes("two"), additional="True")
    first, second = Evidence.objects.filter(task=task).order_by("version")
    assert (first.supersedes, second.supersedes) == (None, None)
    response = post_photo(client, task, photo_bytes("fix"), replaces=first.pk, correction_note="拍歪了")
    assert response.status_code == 200
    third = Evidence.objects.get(task=task, version=3)
    assert third.supersedes == first
    client.force_login(carol)
    page = client.get(reverse("visits:task_detail", args=[task.pk])).content.decode()
    assert all(f'id="evidence-{item.pk}"' in page for item in (first, second, third))
    assert "已被更正" in page and "2 张" in page
    with pytest.raises(ValidationError):
        services.evidence_add(task=task, module=first.module, upload=photo_upload("again"), by=alice, replaces=first)
    with pytest.raises(ValidationError):  # only photo modules take several files
        services.evidence_add(task=task, module=module_of(task, ModuleKind.SIGNED_DOCUMENT), upload=photo_upload("p"), by=alice, additional=True)


def test_a_replayed_capture_key_stores_the_evidence_once(client, alice, task):
    """U3: the phone retries until it hears back; the same key answers the same result and
    stores nothing new (evidence, activity, receipt)."""
    client.force_login(alice)
    data = photo_bytes("replay")
    fields = {"capture_key": "k-0001-abcdef", "captured_at": timezone.now().isoformat()}
    first = post_photo(client, task, data, **fields)
    second = post_photo(client, task, data, **fields)
    assert first.status_code == second.status_code == 200
    assert Evidence.objects.filter(task=task).count() == 1 and CaptureReceipt.objects.count() == 1
    evidence = Evidence.objects.get(task=task)
    assert f'id="evidence-{evidence.pk}"' in second.content.decode()
    assert CaptureReceipt.objects.get().evidence == evidence
    # JSON clients hear the same id again.
    again = client.post(upload_url(task), {"file": photo_upload("replay"), **fields}, headers={"Accept": "application/json"})
    assert again.status_code == 201 and again.json()["id"] == evidence.pk


def test_replayed_needs_and_notes_are_stored_once(client, alice, task):
    """U3: needs and notes queued offline are idempotent by key as well."""
    client.force_login(alice)
    module = module_of(task, ModuleKind.NEEDS)
    data = {"choice_1": module.choices[0], "choice_2": module.choices[1], "choice_3": module.choices[2], "capture_key": "needs-key-1"}
    for _ in range(2):
        assert client.post(reverse("visits:needs_save", args=[task.pk, module.pk]), data, headers=HX).status_code == 200
    assert set(Need.objects.filter(task=task).values_list("version", flat=True)) == {1}
    notes = {"demand_changes": "A", "competitor_news": "B", "next_action": "C", "capture_key": "notes-key-1"}
    for _ in range(2):
        assert client.post(reverse("visits:task_notes", args=[task.pk]), notes, headers=HX).status_code == 200
    assert task.history.filter(demand_changes="A").count() == 1


def test_someone_elses_key_is_refused(alice, task, carol):
    """U3: a key belongs to its user and task (the service checks, whichever door)."""
    services.evidence_add(task=task, module=module_of(task, ModuleKind.PHOTO), upload=photo_upload("a"), by=alice, capture=services.Capture(key="shared-key-1"))
    with pytest.raises(PermissionDenied):
        services.capture_replay(key="shared-key-1", by=carol, task=task)


def test_capture_time_is_kept_and_flagged_when_far_from_the_upload(client, alice, task, settings):
    """U3: an offline capture keeps the phone's time; beyond the threshold it is flagged."""
    settings.VISITS_CAPTURE_DELAY_FLAG_MINUTES = 60
    client.force_login(alice)
    captured = timezone.now().replace(microsecond=0)
    with time_machine.travel(captured + timedelta(hours=3)):
        post_photo(client, task, photo_bytes("late"), capture_key="late-key-01", captured_at=captured.isoformat())
    late = Evidence.objects.get(task=task)
    assert late.captured_at == captured and late.uploaded_at - late.captured_at >= timedelta(hours=3)
    assert any(flag["code"] == "late_upload" for flag in late.flags)
    assert CaptureReceipt.objects.get(key="late-key-01").delayed is True
    with time_machine.travel(captured + timedelta(minutes=10)):
        post_photo(client, task, photo_bytes("soon"), capture_key="soon-key-01", captured_at=captured.isoformat(), additional="True")
    soon = Evidence.objects.get(task=task, version=2)
    assert soon.captured_at == captured and not any(flag["code"] == "late_upload" for flag in soon.flags)


def test_a_capture_time_in_the_future_is_not_believed(alice, task):
    """U3: a phone clock ahead of the server is replaced by the upload time, and flagged."""
    future = timezone.now() + timedelta(days=1)
    evidence = services.evidence_add(
        task=task, module=module_of(task, ModuleKind.PHOTO), upload=photo_upload("f"), by=alice, capture=services.Capture(key="future-key", captured_at=future)
    )
    assert evidence.captured_at <= timezone.now() and any(flag["code"] == "capture_time_future" for flag in evidence.flags)


def test_bad_capture_fields_are_answered_naming_the_field(client, alice, task):
    """U3: a malformed key or time is a 400 that names it, and nothing is stored."""
    client.force_login(alice)
    response = post_photo(client, task, photo_bytes(), capture_key="x")
    assert response.status_code == 400 and "capture_key" in response.content.decode()
    response = post_photo(client, task, photo_bytes(), capture_key="good-key-123", captured_at="yesterday")
    assert response.status_code == 400 and "captured_at" in response.content.decode()
    assert not Evidence.objects.filter(task=task).exists()


def test_first_capture_starts_the_visit_with_the_phones_position(client, alice, task):
    """U2: one tap fewer — the first capture on a planned visit starts it where the phone is."""
    client.force_login(alice)
    post_photo(client, task, photo_bytes(), capture_key="start-key-1", latitude="30.2575", longitude="120.1705")
    task.refresh_from_db()
    assert task.status == TaskStatus.IN_PROGRESS and task.checkin_distance_m is not None and task.checkin_distance_m < 200


def test_receipts_are_write_once(alice, task):
    """U3: a receipt is history: never changed, never deleted."""
    services.evidence_add(task=task, module=module_of(task, ModuleKind.PHOTO), upload=photo_upload("w"), by=alice, capture=services.Capture(key="write-once-1"))
    receipt = CaptureReceipt.objects.get()
    with pytest.raises(Exception):
        receipt.save()
    with pytest.raises(Exception):
        CaptureReceipt.objects.all().delete()
    assert receipt.history.count() == 1


def test_service_worker_is_served_from_the_root_scope_and_the_manifest_installs(client):
    """U3: the worker's scope is the whole site; the manifest names the start page and icons."""
    response = client.get("/sw.js")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/javascript")
    assert response["Service-Worker-Allowed"] == "/" and "caches.open" in response.content.decode()
    manifest = json.loads(client.get("/manifest.webmanifest").content)
    assert manifest["start_url"] == reverse("visits:workbench") and manifest["display"] == "standalone" and manifest["icons"]


def test_capture_page_passes_compression_settings(client, alice, task, settings):
    """U2: long edge and quality come from settings, as data- attributes."""
    settings.VISITS_PHOTO_MAX_EDGE, settings.VISITS_PHOTO_QUALITY = 1000, 0.7
    client.force_login(alice)
    page = client.get(reverse("visits:task_detail", args=[task.pk])).content.decode()
    assert 'data-max-edge="1000"' in page and 'data-quality="0.70"' in page and 'rel="manifest"' in page

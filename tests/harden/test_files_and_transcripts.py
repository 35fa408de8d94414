"""R10 evidence files move into place only when their row commits and are hash-checked when
served; R11 speech-to-text failures are recorded attempts, empty text fails, a manual transcript
is never overwritten by a late worker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from salesops.models import Notification
from visits import services, storage
from visits.library import MEDICAL_CODE, install_library
from visits.models import Evidence, ModuleKind, TemplateModule, TranscriptStatus, VisitTask, VisitTemplate, VoiceTranscript

from ..factories import CustomerFactory
from ..visits.factories import photo_upload, wav_upload


@pytest.fixture
def task(alice):
    library = {t.code: t for t in install_library(VisitTemplate, TemplateModule)}
    customer = CustomerFactory(owner=alice)
    return services.visit_task_create(rep=alice, customer=customer, template=library[MEDICAL_CODE], due_date=timezone.localdate(), by=alice)


def _module(task, kind):
    return task.template.modules.filter(kind=kind).order_by("-required").first()


def _files(root) -> list[Path]:
    return sorted(p for p in Path(root).rglob("*") if p.is_file())


@pytest.mark.django_db
def test_file_is_in_place_only_after_commit(task, alice, _media_root, django_capture_on_commit_callbacks):
    """R10 Before the commit the row's file does not exist under its name; after it does."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        evidence = services.evidence_add(task=task, module=_module(task, ModuleKind.PHOTO), upload=photo_upload(), by=alice)
        assert not Path(_media_root, evidence.file.name).exists()
        assert len(list(storage.incoming_dir().glob("*.part"))) == 3  # photo + thumbnail + watermarked copy (U2), aside
    for callback in callbacks:
        callback()
    assert Path(_media_root, evidence.file.name).read_bytes()[:2] == b"\xff\xd8"
    assert list(storage.incoming_dir().glob("*.part")) == []


@pytest.mark.django_db(transaction=True)
def test_rollback_leaves_no_file(task, alice, _media_root):
    """R10 The record's transaction rolls back after the upload: no file under any evidence name,
    and the part files are gone after the sweep (the evidence_add failure path removes its own)."""

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with transaction.atomic():
            services.evidence_add(task=task, module=_module(task, ModuleKind.PHOTO), upload=photo_upload(), by=alice)
            raise Boom
    assert Evidence.objects.count() == 0
    assert [p for p in _files(_media_root) if storage.INCOMING not in p.parts] == []
    assert storage.incoming_sweep(older_than_seconds=0) == 3  # photo, thumbnail, watermarked copy
    assert _files(_media_root) == []


@pytest.mark.django_db
def test_full_disk_leaves_nothing(task, alice, _media_root, monkeypatch):
    """R10 A write that fails half-way (disk full) leaves neither a row nor a truncated file."""
    real_open = open

    def full_disk_open(path, mode="r", *args, **kwargs):
        handle = real_open(path, mode, *args, **kwargs)
        if str(path).endswith(".part") and "w" in mode:
            original = handle.write

            def write(data):
                original(data[: len(data) // 2])
                raise OSError(28, "No space left on device")

            handle.write = write
        return handle

    monkeypatch.setattr("builtins.open", full_disk_open)
    with pytest.raises(OSError):
        services.evidence_add(task=task, module=_module(task, ModuleKind.PHOTO), upload=photo_upload(), by=alice)
    monkeypatch.undo()
    assert Evidence.objects.count() == 0
    assert _files(_media_root) == []


@pytest.mark.django_db
def test_changed_file_is_refused_and_ops_alerted(client, task, alice, olga, _media_root, django_capture_on_commit_callbacks):
    """R10 Serving re-hashes: a changed original answers 409 with a Chinese message, ops get an
    outbox notification; an intact file is served byte for byte."""
    with django_capture_on_commit_callbacks(execute=True):
        evidence = services.evidence_add(task=task, module=_module(task, ModuleKind.PHOTO), upload=photo_upload(), by=alice)
    client.force_login(alice)
    url = reverse("visits:evidence_file", args=[evidence.pk])
    intact = client.get(url)
    assert intact.status_code == 200
    path = Path(_media_root, evidence.file.name)
    assert b"".join(intact.streaming_content) == path.read_bytes()
    with open(path, "r+b") as handle:
        handle.seek(100)
        handle.write(b"tampered")
    refused = client.get(url)
    assert refused.status_code == 409
    assert "SHA-256" in refused.content.decode() and "运营已收到通知" in refused.content.decode()
    alert = Notification.objects.get(recipient=olga)
    assert f"证据 #{evidence.pk}" in alert.title and evidence.sha256 in alert.body
    client.get(url)
    assert Notification.objects.filter(recipient=olga).count() == 1  # once per evidence and hash


@pytest.mark.django_db
def test_weekly_verification_is_scheduled_and_alerts(task, alice, olga, _media_root, django_capture_on_commit_callbacks):
    """R10 verify_evidence runs weekly in qcluster and alerts ops on a missing or changed file."""
    from django_q.models import Schedule

    schedule = Schedule.objects.filter(func="visits.storage.verify_evidence_task").first()
    if schedule is not None:  # created by the migration (absent under --nomigrations)
        assert schedule.schedule_type == Schedule.WEEKLY
    with django_capture_on_commit_callbacks(execute=True):
        evidence = services.evidence_add(task=task, module=_module(task, ModuleKind.PHOTO), upload=photo_upload(), by=alice)
    assert storage.verify_evidence_task().endswith(": 0 problem(s)")
    os.remove(Path(_media_root, evidence.file.name))
    assert storage.verify_evidence_task().endswith(": 1 problem(s)")
    assert "文件缺失" in Notification.objects.get(recipient=olga).body


# --- R11 speech-to-text ----------------------------------------------------------------------


@pytest.fixture
def memo(task, alice, settings, httpserver, django_capture_on_commit_callbacks):
    settings.ASR_URL = httpserver.url_for("/")
    settings.ASR_TIMEOUT_SECONDS = 5
    httpserver.expect_request("/v1/audio/transcriptions").respond_with_json({"error": "warming up"}, status=503)
    with django_capture_on_commit_callbacks(execute=True):  # the first attempt runs inline (sync queue)
        evidence = services.evidence_add(task=task, module=_module(task, ModuleKind.VOICE_MEMO), upload=wav_upload(), by=alice)
    httpserver.clear()
    return evidence


def _attempt(memo):
    transcript = VoiceTranscript.objects.get(evidence=memo)
    transcript.next_attempt_at = None
    transcript.save()
    return services.transcript_attempt(evidence_id=memo.pk)


@pytest.mark.django_db
def test_incomplete_read_is_a_recorded_attempt_with_backoff(memo, httpserver):
    """R11 A reply cut off mid-body (IncompleteRead) is a failed attempt with reason and back-off."""
    from werkzeug import Response

    def cut_off(request):
        response = Response(b'{"text": "abc', status=200, content_type="application/json")
        response.headers["Content-Length"] = "500"
        return response

    httpserver.expect_request("/v1/audio/transcriptions").respond_with_handler(cut_off)
    transcript = _attempt(memo)
    assert transcript.status == TranscriptStatus.RETRYING
    assert transcript.attempts == 2
    assert "IncompleteRead" in transcript.last_error or "Incomplete" in transcript.attempt_log[-1]["detail"]
    assert transcript.next_attempt_at > timezone.now()


@pytest.mark.django_db
def test_empty_text_is_a_failure(memo, httpserver):
    """R11 {"text": ""} is not a transcript: the attempt fails and is retried."""
    httpserver.expect_request("/v1/audio/transcriptions").respond_with_json({"text": "  "})
    transcript = _attempt(memo)
    assert transcript.status == TranscriptStatus.RETRYING and transcript.text == ""
    assert "空" in transcript.last_error


@pytest.mark.django_db
def test_late_worker_does_not_overwrite_a_manual_transcript(memo, alice, httpserver, monkeypatch):
    """R11 The person saves a transcript while the machine is still working: the machine's late
    answer is logged as an attempt and the person's text stays."""
    httpserver.expect_request("/v1/audio/transcriptions").respond_with_json({"text": "机器转写"})
    real = services._transcript_record_attempt

    def manual_first(transcript_id, **kwargs):
        services.transcript_save_manual(evidence=memo, text="人工转写：需要 3 套髋关节", by=alice)
        return real(transcript_id, **kwargs)

    monkeypatch.setattr(services, "_transcript_record_attempt", manual_first)
    transcript = _attempt(memo)
    transcript.refresh_from_db()
    assert transcript.text == "人工转写：需要 3 套髋关节" and transcript.status == TranscriptStatus.DONE
    assert transcript.edited_by == alice
    assert "未覆盖" in transcript.attempt_log[-1]["detail"]


@pytest.mark.django_db
def test_success_stores_the_text(memo, httpserver):
    """R11 (control) a real answer is stored."""
    httpserver.expect_request("/v1/audio/transcriptions").respond_with_json({"text": "需要两套"})
    transcript = _attempt(memo)
    assert transcript.status == TranscriptStatus.DONE and transcript.text == "需要两套"

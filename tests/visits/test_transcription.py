"""V3 语音备忘转文字 — one interface: manual by default, the OpenAI-compatible HTTP backend when
ASR_URL is set. Runs as a django-q2 task, retries with the attempts shown, never loses audio.
Tests talk to a real local HTTP server (pytest-httpserver)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from werkzeug import Response

from salesops.integrations.asr import HttpTranscriber, ManualTranscriber, TranscriptionError, get_transcriber
from salesops.models import Activity, ActivityKind
from visits import services, tasks
from visits.models import ModuleKind, TranscriptStatus

from .conftest import module_of
from .factories import data_file, upload

pytestmark = pytest.mark.django_db
WAV = "zh_aishell1_BAC009S0724W0121.wav"
REFERENCE = "广州市房地产中介协会分析"


def add_memo(task):
    return services.evidence_add(task=task, module=module_of(task, ModuleKind.VOICE_MEMO), upload=upload("memo.wav", data_file(WAV)), by=task.rep)


def test_manual_is_the_default(task, settings):
    settings.ASR_URL = ""
    assert isinstance(get_transcriber(), ManualTranscriber)
    evidence = add_memo(task)
    assert evidence.transcript.status == TranscriptStatus.MANUAL
    assert Activity.objects.get(kind=ActivityKind.VOICE_MEMO).subject == evidence


def test_manual_transcript_by_the_rep(client, alice, task, settings):
    settings.ASR_URL = ""
    evidence = add_memo(task)
    client.force_login(alice)
    response = client.post(reverse("visits:transcript_save", args=[evidence.pk]), {"text": "客户希望下月试用"})
    assert response.status_code == 302
    evidence.transcript.refresh_from_db()
    assert evidence.transcript.text == "客户希望下月试用" and evidence.transcript.status == TranscriptStatus.DONE


def test_http_backend_sends_the_openai_compatible_multipart(httpserver):
    """The request: POST /v1/audio/transcriptions with file, model, language=zh."""
    seen = {}

    def handler(request):
        seen["form"] = dict(request.form)
        seen["file"] = request.files["file"].read()
        seen["auth"] = request.headers.get("Authorization")
        return Response('{"text": "%s"}' % REFERENCE, content_type="application/json")

    httpserver.expect_request("/v1/audio/transcriptions", method="POST").respond_with_handler(handler)
    backend = HttpTranscriber(base_url=httpserver.url_for("/"), model="whisper-large-v3", api_key="k-1")
    text = backend.transcribe(audio=data_file(WAV), filename="memo.wav", content_type="audio/wav")
    assert text == REFERENCE
    assert seen["form"]["model"] == "whisper-large-v3" and seen["form"]["language"] == "zh"
    assert seen["form"]["response_format"] == "json"
    assert seen["file"] == data_file(WAV) and seen["auth"] == "Bearer k-1"


def test_http_backend_errors_are_transcription_errors(httpserver):
    httpserver.expect_request("/v1/audio/transcriptions").respond_with_data("busy", status=503)
    with pytest.raises(TranscriptionError, match="HTTP 503"):
        HttpTranscriber(base_url=httpserver.url_for("/")).transcribe(audio=b"x", filename="a.wav", content_type="audio/wav")
    httpserver.clear()
    httpserver.expect_request("/v1/audio/transcriptions").respond_with_json({"unexpected": True})
    with pytest.raises(TranscriptionError, match="unexpected reply"):
        HttpTranscriber(base_url=httpserver.url_for("/")).transcribe(audio=b"x", filename="a.wav", content_type="audio/wav")


def test_transcript_arrives_through_the_http_backend(task, settings, httpserver, django_capture_on_commit_callbacks):
    """V3: with ASR_URL set, the upload enqueues a task (run inline under test) that stores the text."""
    settings.ASR_URL = httpserver.url_for("/")
    httpserver.expect_request("/v1/audio/transcriptions", method="POST").respond_with_json({"text": REFERENCE})
    with django_capture_on_commit_callbacks(execute=True):
        evidence = add_memo(task)
    evidence.transcript.refresh_from_db()
    assert evidence.transcript.status == TranscriptStatus.DONE
    assert evidence.transcript.text == REFERENCE and evidence.transcript.backend == "http"
    assert evidence.transcript.attempts == 1


def test_failure_is_retried_shown_and_the_audio_is_kept(client, carol, task, settings, httpserver, django_capture_on_commit_callbacks):
    """A 500 is logged and retried later by the schedule; the second try succeeds; the audio file
    is byte-identical throughout."""
    settings.ASR_URL = httpserver.url_for("/")
    httpserver.expect_ordered_request("/v1/audio/transcriptions").respond_with_data("model loading", status=500)
    httpserver.expect_ordered_request("/v1/audio/transcriptions").respond_with_json({"text": REFERENCE})
    with django_capture_on_commit_callbacks(execute=True):
        evidence = add_memo(task)
    transcript = evidence.transcript
    transcript.refresh_from_db()
    assert transcript.status == TranscriptStatus.RETRYING and transcript.attempts == 1
    assert "HTTP 500" in transcript.last_error and transcript.next_attempt_at > timezone.now()
    client.force_login(carol)
    page = client.get(reverse("visits:task_detail", args=[task.pk])).content.decode()
    assert "失败，等待重试" in page and "HTTP 500" in page and "已尝试 1 次" in page
    assert tasks.retry_due_transcriptions() == 0  # not due yet
    with time_machine.travel(timezone.now() + timedelta(minutes=3)):
        assert tasks.retry_due_transcriptions() == 1
    transcript.refresh_from_db()
    assert transcript.status == TranscriptStatus.DONE and transcript.text == REFERENCE and transcript.attempts == 2
    assert [entry["ok"] for entry in transcript.attempt_log] == [False, True]
    with evidence.file.open("rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == evidence.sha256 == hashlib.sha256(data_file(WAV)).hexdigest()


def test_gives_up_after_max_attempts_and_falls_back_to_manual(task, settings, httpserver, django_capture_on_commit_callbacks):
    settings.ASR_URL = httpserver.url_for("/")
    settings.VISITS_ASR_MAX_ATTEMPTS = 2
    httpserver.expect_request("/v1/audio/transcriptions").respond_with_data("down", status=502)
    with django_capture_on_commit_callbacks(execute=True):
        evidence = add_memo(task)
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        tasks.retry_due_transcriptions()
    evidence.transcript.refresh_from_db()
    assert evidence.transcript.status == TranscriptStatus.FAILED and evidence.transcript.attempts == 2
    services.transcript_save_manual(evidence=evidence, text="手工补录", by=task.rep)
    evidence.transcript.refresh_from_db()
    assert evidence.transcript.status == TranscriptStatus.DONE


def test_running_the_task_twice_does_not_call_twice(task, settings, httpserver, django_capture_on_commit_callbacks):
    """Tasks may run twice: a finished transcript is left alone."""
    settings.ASR_URL = httpserver.url_for("/")
    httpserver.expect_request("/v1/audio/transcriptions").respond_with_json({"text": REFERENCE})
    with django_capture_on_commit_callbacks(execute=True):
        evidence = add_memo(task)
    assert tasks.transcribe_voice_memo(evidence.pk) == TranscriptStatus.DONE
    assert len(httpserver.log) == 1


def test_retry_schedule_is_installed_by_migration():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="visits.retry_transcriptions")
    assert schedule.func == "visits.tasks.retry_due_transcriptions" and schedule.minutes == 1

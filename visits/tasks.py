"""Background tasks of visits (run by qcluster). They take ids and call a service; running one
twice is harmless."""

from __future__ import annotations

from django.utils import timezone


def transcribe_voice_memo(evidence_id: int) -> str:
    from .services import transcript_attempt

    transcript = transcript_attempt(evidence_id=evidence_id)
    return transcript.status if transcript else "missing"


def retry_due_transcriptions() -> int:
    """Scheduled every minute (`visits.retry_transcriptions`): re-enqueue memos whose retry time
    has come, and pending ones whose worker died before finishing (the claim expired)."""
    from .models import TranscriptStatus, VoiceTranscript
    from .services import enqueue_transcription

    due = VoiceTranscript.objects.filter(
        status__in=(TranscriptStatus.PENDING, TranscriptStatus.RETRYING), next_attempt_at__lte=timezone.now()
    ).values_list("evidence_id", flat=True)
    stuck = VoiceTranscript.objects.filter(status=TranscriptStatus.PENDING, next_attempt_at__isnull=True).values_list(
        "evidence_id", flat=True
    )
    ids = sorted(set(due) | set(stuck))
    for evidence_id in ids:
        enqueue_transcription(evidence_id)
    return len(ids)

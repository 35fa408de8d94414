"""Speech to text (语音备忘转文字) behind one interface.

- `ManualTranscriber` (default): no outside system; a person types the transcript.
- `HttpTranscriber`: the OpenAI-compatible `POST {ASR_URL}/v1/audio/transcriptions` that
  self-hosted servers speak (faster-whisper-server, FunASR, vLLM, whisper.cpp): multipart fields
  `file`, `model`, `language=zh`, `response_format=json` → `{"text": "…"}`.

`get_transcriber()` picks the HTTP backend when `settings.ASR_URL` is set. Callers handle
`TranscriptionError` (retry later; the audio is never touched here).
"""

from __future__ import annotations

import http.client
import json
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings


class TranscriptionError(Exception):
    """The backend did not produce a transcript this time (network, HTTP status, bad reply)."""


class Transcriber(Protocol):
    name: str
    automatic: bool

    def transcribe(self, *, audio: bytes, filename: str, content_type: str) -> str: ...


class ManualTranscriber:
    """The local default: nothing to call; the memo waits for a typed transcript."""

    name = "manual"
    automatic = False

    def transcribe(self, *, audio: bytes, filename: str, content_type: str) -> str:
        raise TranscriptionError("manual transcription: no automatic backend is configured")


def _multipart(fields: dict[str, str], file_field: str, filename: str, content_type: str, payload: bytes) -> tuple[bytes, str]:
    boundary = f"salesops-{secrets.token_hex(12)}"
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    safe_name = filename.replace('"', "").replace("\r", "").replace("\n", "") or "audio"
    parts.append(
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{safe_name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        + payload
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


@dataclass
class HttpTranscriber:
    base_url: str
    model: str = "whisper-1"
    api_key: str = ""
    language: str = "zh"
    timeout: float = 60.0
    name: str = "http"
    automatic: bool = True

    @property
    def endpoint(self) -> str:
        base = self.base_url.rstrip("/")
        return base if base.endswith("/v1/audio/transcriptions") else f"{base}/v1/audio/transcriptions"

    def transcribe(self, *, audio: bytes, filename: str, content_type: str) -> str:
        body, multipart_type = _multipart(
            {"model": self.model, "language": self.language, "response_format": "json"},
            "file",
            filename,
            content_type,
            audio,
        )
        request = urllib.request.Request(self.endpoint, data=body, method="POST")
        request.add_header("Content-Type", multipart_type)
        request.add_header("Accept", "application/json")
        if self.api_key:
            request.add_header("Authorization", f"Bearer {self.api_key}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - configured URL
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode(errors="replace")
            raise TranscriptionError(f"HTTP {exc.code}: {detail}") from exc
        except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException) as exc:
            # HTTPException covers IncompleteRead and RemoteDisconnected: a cut-off reply is a failure.
            raise TranscriptionError(f"{exc.__class__.__name__}: {exc}") from exc
        try:
            text = json.loads(raw)["text"]
        except (ValueError, KeyError, TypeError) as exc:
            raise TranscriptionError(f"unexpected reply: {raw[:200]!r}") from exc
        if not isinstance(text, str):
            raise TranscriptionError(f"unexpected reply: {raw[:200]!r}")
        if not text.strip():
            raise TranscriptionError("empty transcript (转写结果为空)")
        return text.strip()


def get_transcriber() -> Transcriber:
    url = getattr(settings, "ASR_URL", "") or ""
    if not url:
        return ManualTranscriber()
    return HttpTranscriber(
        base_url=url,
        model=getattr(settings, "ASR_MODEL", "whisper-1") or "whisper-1",
        api_key=getattr(settings, "ASR_API_KEY", "") or "",
        timeout=float(getattr(settings, "ASR_TIMEOUT_SECONDS", 60)),
    )

"""Evidence files on disk: written aside, moved into place when their row commits (R10).

A file written straight to its final name survives a rolled-back transaction (an orphan) and a
full disk leaves a truncated file under a name a row may point at. Here the bytes go to
`MEDIA_ROOT/.incoming/<uuid>.part` (flushed and fsynced), the row gets the final name, and
`transaction.on_commit` renames the part file into place (an atomic rename on one file system).
A rollback never runs the rename; the part file is removed right away when the failure is seen,
and `incoming_sweep` (scheduled) removes any left by a process that died in between.

Serving re-hashes the file: a mismatch with the stored SHA-256 is refused and reported to ops.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connection, transaction

log = logging.getLogger(__name__)

INCOMING = ".incoming"


_pending = threading.local()  # final name → part file, for the transaction that staged it


def _staged() -> dict[str, Path]:
    if not hasattr(_pending, "names"):
        _pending.names = {}
    return _pending.names


class StagingFileSystemStorage(FileSystemStorage):
    """The media storage. Like an uncommitted row, a staged file is visible to the transaction that
    wrote it (its name resolves to the part file while that transaction is open) and to nobody
    else until the commit moves it into place."""

    def path(self, name: str) -> str:
        part = _staged().get(name) if connection.in_atomic_block else None
        if part is not None and part.exists():
            return str(part)
        return super().path(name)

    def final_path(self, name: str) -> str:
        return super().path(name)


def _local() -> bool:
    try:
        default_storage.path("x")
    except NotImplementedError:
        return False
    return True


def incoming_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / INCOMING


@dataclass
class Staged:
    name: str  # the final storage name the row records
    part: Path | None  # the part file waiting for the commit (None: stored directly)

    def discard(self) -> None:
        _staged().pop(self.name, None)
        if self.part is not None:
            self.part.unlink(missing_ok=True)
        else:
            default_storage.delete(self.name)


def stage(name: str, data: bytes) -> Staged:
    """Write `data` aside for `name` and move it into place when the current transaction commits.

    Raises OSError (a full disk, say) with nothing left behind.
    """
    if not _local():  # remote storage: its own upload is atomic per object
        return Staged(default_storage.save(name, _content(data)), None)
    final = default_storage.get_available_name(name)
    folder = incoming_dir()
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f"{uuid.uuid4().hex}.part"
    try:
        with open(part, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    staged = Staged(final, part)
    _staged()[final] = part
    transaction.on_commit(lambda: _move_into_place(staged))
    return staged


def _content(data: bytes):
    from django.core.files.base import ContentFile

    return ContentFile(data)


def _move_into_place(staged: Staged) -> None:
    _staged().pop(staged.name, None)
    final_path = getattr(default_storage, "final_path", default_storage.path)
    target = Path(final_path(staged.name))
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged.part, target)


def incoming_sweep(older_than_seconds: int = 3600) -> int:
    """Remove part files older than `older_than_seconds` (their transaction is long over)."""
    folder = incoming_dir()
    if not folder.is_dir():
        return 0
    removed = 0
    cutoff = time.time() - older_than_seconds
    for part in folder.glob("*.part"):
        try:
            if part.stat().st_mtime <= cutoff:
                part.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def file_sha256(field_file) -> str | None:
    """The SHA-256 of a stored file, or None when it is missing or unreadable."""
    digest = hashlib.sha256()
    try:
        with field_file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1024 * 1024), b""):
                digest.update(chunk)
    except (FileNotFoundError, OSError, ValueError):
        return None
    finally:
        try:
            field_file.close()
        except Exception:  # noqa: BLE001 - closing a file that never opened
            pass
    return digest.hexdigest()


def integrity_alert(evidence, actual: str | None, *, where: str) -> None:
    """Tell every ops user (in-app outbox row, once per evidence and observed hash)."""
    from django.contrib.auth import get_user_model

    from salesops.models import Role
    from salesops.notifications import notification_enqueue

    log.error("evidence %s file %s: stored sha256 %s, now %s (%s)", evidence.pk, evidence.file.name, evidence.sha256, actual, where)
    title = f"证据文件校验失败：证据 #{evidence.pk}"
    body = (
        f"文件 {evidence.file.name} 的 SHA-256 与登记值不一致（登记 {evidence.sha256}，"
        f"现在 {actual or '文件缺失'}）。发现于：{where}。请检查存储与备份。"
    )
    users = get_user_model().objects.filter(is_active=True).filter(rep__role=Role.OPS) | get_user_model().objects.filter(
        is_active=True, is_superuser=True
    )
    for user in users.distinct().order_by("pk"):
        notification_enqueue(
            recipient=user, title=title, body=body, url=f"/admin/visits/evidence/{evidence.pk}/change/",
            dedupe_key=f"evidence-integrity:{evidence.pk}:{actual or 'missing'}:{user.pk}",
        )


def verify_evidence_task() -> str:
    """Weekly (django-q Schedule): re-hash every evidence file and alert ops on each problem."""
    from .models import Evidence

    checked = problems = 0
    seen: dict[str, str | None] = {}
    for evidence in Evidence.objects.order_by("pk").only("pk", "file", "sha256").iterator(chunk_size=2000):
        checked += 1
        name = evidence.file.name
        if name not in seen:
            seen[name] = file_sha256(evidence.file)
        if seen[name] != evidence.sha256:
            problems += 1
            integrity_alert(evidence, seen[name], where="每周校验")
    incoming_sweep()
    return f"checked {checked} evidence rows: {problems} problem(s)"

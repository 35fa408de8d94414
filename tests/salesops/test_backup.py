"""O5 — backup → restore round trip on the suite's database (SQLite, or PostgreSQL when
DATABASE_URL names it: pg_dump/pg_restore), media included, and a tampered archive refused."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from salesops.models import Hospital

from ..factories import HospitalFactory


def _backup(tmp_path) -> Path:
    out = io.StringIO()
    call_command("backup", "--dest", str(tmp_path / "backups"), stdout=out)
    archives = sorted((tmp_path / "backups").glob("salesops-backup-*.tar"))
    assert len(archives) == 1, out.getvalue()
    return archives[0]


def _rewrite(archive: Path, target: Path, change) -> Path:
    """Copy `archive` to `target`, passing every member's bytes through change(name, data)."""
    with tarfile.open(archive) as source, tarfile.open(target, "w") as out:
        for member in source.getmembers():
            data = change(member.name, source.extractfile(member).read())
            member.size = len(data)
            out.addfile(member, io.BytesIO(data))
    return target


@pytest.mark.django_db(transaction=True)
def test_backup_restore_round_trip_database_and_media(tmp_path, settings):
    """O5: what was there at backup time is back after restore — rows and media bytes; later
    changes are gone; the manifest lists every file with its SHA-256."""
    kept = HospitalFactory(name="备份医院甲")
    evidence = Path(settings.MEDIA_ROOT) / "evidence" / "2026" / "photo.jpg"
    evidence.parent.mkdir(parents=True)
    evidence.write_bytes(b"\xff\xd8original photo bytes")
    archive = _backup(tmp_path)
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert manifest["files"]["media/evidence/2026/photo.jpg"]["sha256"] == hashlib.sha256(b"\xff\xd8original photo bytes").hexdigest()

    Hospital.objects.filter(pk=kept.pk).delete()
    HospitalFactory(name="备份之后才有的医院")
    evidence.write_bytes(b"overwritten")

    with pytest.raises(CommandError, match="--yes"):
        call_command("restore", str(archive))
    call_command("restore", str(archive), "--yes", stdout=io.StringIO())

    assert list(Hospital.objects.values_list("name", flat=True)) == ["备份医院甲"]
    assert evidence.read_bytes() == b"\xff\xd8original photo bytes"


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_tampered_archives(tmp_path, settings):
    """O5: a changed file, a re-hashed (forged) manifest, an extra file and a missing file are each
    refused before anything is touched, with a message naming the problem."""
    HospitalFactory(name="原始医院")
    media = Path(settings.MEDIA_ROOT) / "quotes" / "q1.pdf"
    media.parent.mkdir(parents=True)
    media.write_bytes(b"%PDF-1.7 original")
    archive = _backup(tmp_path)

    changed = _rewrite(archive, tmp_path / "changed.tar", lambda n, d: b"%PDF-1.7 forged" if n == "media/quotes/q1.pdf" else d)

    def rehash(name, data):
        if name == "media/quotes/q1.pdf":
            return b"%PDF-1.7 forged"
        if name == "manifest.json":
            manifest = json.loads(data)
            manifest["files"]["media/quotes/q1.pdf"]["sha256"] = hashlib.sha256(b"%PDF-1.7 forged").hexdigest()
            return json.dumps(manifest).encode()
        return data

    forged = _rewrite(archive, tmp_path / "forged.tar", rehash)
    HospitalFactory(name="恢复前新增")
    for bad, message in ((changed, "q1.pdf 的 SHA-256"), (forged, "签名不符")):
        with pytest.raises(CommandError, match=message):
            call_command("restore", str(bad), "--yes")
        with pytest.raises(CommandError, match=message):
            call_command("restore", str(bad), "--verify-only")
    with open(tmp_path / "garbage.tar", "wb") as handle:
        handle.write(b"not a tar file")
    with pytest.raises(CommandError, match="无法读取"):
        call_command("restore", str(tmp_path / "garbage.tar"), "--yes")
    # Nothing was restored by the refused attempts.
    assert set(Hospital.objects.values_list("name", flat=True)) == {"原始医院", "恢复前新增"}
    assert media.read_bytes() == b"%PDF-1.7 original"
    out = io.StringIO()
    call_command("restore", str(archive), "--verify-only", stdout=out)
    assert "SHA-256 全部一致" in out.getvalue()

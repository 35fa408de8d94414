"""V5 — evidence cannot be deleted or silently replaced; corrections are versions; SHA-256 kept
and re-checked by `manage.py verify_evidence`. Every version appends one ledger activity."""

from __future__ import annotations

import hashlib

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from salesops.models import Activity, ActivityKind
from visits.models import Evidence, EvidenceIsImmutable, Need

from .conftest import add_needs, add_pdf, add_photo

pytestmark = pytest.mark.django_db


def test_evidence_cannot_be_deleted_or_updated(task):
    """V5: not the instance, not a queryset, not through save()."""
    evidence = add_photo(task)
    with pytest.raises(EvidenceIsImmutable):
        evidence.delete()
    with pytest.raises(EvidenceIsImmutable):
        Evidence.objects.filter(pk=evidence.pk).delete()
    with pytest.raises(EvidenceIsImmutable):
        Evidence.objects.filter(pk=evidence.pk).update(sha256="0" * 64)
    evidence.label = "换一个"
    with pytest.raises(EvidenceIsImmutable):
        evidence.save()
    needs = add_needs(task)
    with pytest.raises(EvidenceIsImmutable):
        needs[0].delete()
    with pytest.raises(EvidenceIsImmutable):
        Need.objects.filter(task=task).delete()
    assert Evidence.objects.filter(pk=evidence.pk, label="科室门牌照片").exists()


def test_admin_offers_no_delete_and_no_change(client, olga, task):
    """V5: ops staff can read evidence in admin but not delete or edit it."""
    evidence = add_photo(task)
    client.force_login(olga)
    assert client.get(f"/admin/visits/evidence/{evidence.pk}/delete/").status_code == 403
    listing = client.get("/admin/visits/evidence/").content.decode()
    assert "delete_selected" not in listing
    client.post(f"/admin/visits/evidence/{evidence.pk}/change/", {"label": "篡改"})
    assert Evidence.objects.get(pk=evidence.pk).label == "科室门牌照片"
    assert client.get(f"/admin/visits/visittask/{task.pk}/delete/").status_code == 403


def test_correction_is_a_new_version_and_the_old_one_stays_visible(client, alice, carol, task):
    """V5: uploading again creates v2 pointing at v1; both are listed on the page."""
    first = add_photo(task, seed="v1")
    second = add_photo(task, seed="v2")
    assert (first.version, second.version) == (1, 2) and second.supersedes == first
    assert task.current_evidence()[first.module_id] == second
    client.force_login(carol)
    page = client.get(reverse("visits:task_detail", args=[task.pk])).content.decode()
    assert f'id="evidence-{first.pk}"' in page and f'id="evidence-{second.pk}"' in page and "已被更正" in page
    assert first.sha256 in page and second.sha256 in page


def test_sha256_of_the_stored_file_is_kept(task):
    evidence = add_pdf(task)
    with evidence.file.open("rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == evidence.sha256
    assert len(evidence.sha256) == 64


def test_every_evidence_version_appends_one_activity(task):
    """V5 + contracts: photo, signature (the signed PDF) and needs each append; versions too."""
    first = add_photo(task, seed="a")
    second = add_photo(task, seed="b")
    pdf = add_pdf(task)
    add_needs(task)
    photo_rows = Activity.objects.filter(kind=ActivityKind.PHOTO).order_by("pk")
    assert [row.subject for row in photo_rows] == [first, second]
    assert photo_rows[0].facts == {"task_id": task.pk, "label": "科室门牌照片", "version": 1, "evidence_id": first.pk}
    assert Activity.objects.get(kind=ActivityKind.SIGNATURE).subject == pdf
    needs = Activity.objects.get(kind=ActivityKind.NEEDS_CAPTURED)
    assert needs.subject == task and needs.facts["count"] == 3 and len(needs.facts["needs"]) == 3
    assert Activity.objects.evidence_backed().filter(rep=task.rep).count() == 3
    assert {row.customer_id for row in Activity.objects.all()} == {task.customer_id}


def test_verify_evidence_reports_ok(task, capsys):
    add_photo(task)
    add_pdf(task)
    call_command("verify_evidence")
    assert "0 problem(s)" in capsys.readouterr().out


def test_verify_evidence_finds_a_tampered_and_a_missing_file(task, capsys):
    """V5: a changed file and a removed file are reported; the command exits non-zero."""
    photo = add_photo(task)
    pdf = add_pdf(task)
    with open(photo.file.path, "r+b") as handle:
        handle.seek(200)
        handle.write(b"tampered")
    import os

    os.remove(pdf.file.path)
    with pytest.raises(CommandError) as failed:
        call_command("verify_evidence")
    assert failed.value.returncode == 1
    output = capsys.readouterr().out
    assert f"MISMATCH evidence {photo.pk}" in output and f"MISSING  evidence {pdf.pk}" in output


def test_admin_pages_render_for_ops(client, olga, task, medical):
    """A4: ops staff read templates, tasks, evidence, needs and transcripts in admin."""
    evidence = add_photo(task)
    add_needs(task)
    client.force_login(olga)
    for url in (
        "/admin/visits/visittemplate/",
        f"/admin/visits/visittemplate/{medical.pk}/change/",
        "/admin/visits/visittask/",
        f"/admin/visits/visittask/{task.pk}/change/",
        "/admin/visits/visittask/add/",
        "/admin/visits/evidence/",
        f"/admin/visits/evidence/{evidence.pk}/change/",
        "/admin/visits/need/",
        "/admin/visits/voicetranscript/",
    ):
        assert client.get(url).status_code == 200, url

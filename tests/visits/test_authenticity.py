"""V6 — EXIF time and GPS checked against the visit and the hospital; repeats flagged. Flags
inform the supervisor and never block the rep."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone as dt_timezone
from decimal import Decimal

import pytest
from django.utils import timezone
from PIL import Image

from salesops.models import CoordinateSystem
from visits import geo, media, services
from visits.models import ModuleKind, TaskStatus
from visits.samples import make_photo

from ..factories import CustomerFactory, HospitalFactory
from .conftest import add_needs, add_pdf, add_photo, module_of
from .factories import NEAR_HOSPITAL, data_file, upload

pytestmark = pytest.mark.django_db


def codes(evidence) -> list[str]:
    return [flag["code"] for flag in evidence.flags]


def test_photo_taken_far_away_and_long_ago_is_flagged_but_accepted(task):
    """V6: the Nikon GPS sample (Italy, 2008) is far from the Hangzhou hospital and years old —
    flagged, stored, and the task can still complete."""
    evidence = services.evidence_add(task=task, module=module_of(task, ModuleKind.PHOTO), upload=upload("IMG.jpg", data_file("gps_DSCN0010.jpg")), by=task.rep)
    assert "far_from_hospital" in codes(evidence) and "taken_before_visit" in codes(evidence)
    assert evidence.flagged
    assert evidence.distance_m > 9_000_000
    # EXIF time is local (Asia/Shanghai): 2008:10:22 16:28:39 → 08:28:39 UTC.
    assert evidence.taken_at == datetime(2008, 10, 22, 8, 28, 39, tzinfo=dt_timezone.utc)
    assert float(evidence.gps_latitude) == pytest.approx(43.467448, abs=1e-5)
    add_pdf(task)
    add_needs(task)
    services.visit_complete(task=task, by=task.rep)
    task.refresh_from_db()
    assert task.status == TaskStatus.COMPLETED


def test_fresh_photo_at_the_hospital_has_no_warning(task):
    """V6: taken now, 60 m from the hospital → no warning flags."""
    evidence = add_photo(task, seed="fresh", gps=NEAR_HOSPITAL)
    assert codes(evidence) == [] and not evidence.flagged
    assert evidence.distance_m < 100


def test_exif_time_is_read_as_shanghai_local_time(task):
    """V6: a photo stamped 09:00 (no zone) taken 'now' in Shanghai is not 8 hours old."""
    now = timezone.localtime()
    evidence = add_photo(task, seed="local", taken_at=now - timedelta(minutes=5))
    assert timezone.localtime(evidence.taken_at).strftime("%H:%M") == (now - timedelta(minutes=5)).strftime("%H:%M")
    assert "taken_before_visit" not in codes(evidence)


def test_missing_metadata_is_unknown_not_fake(task):
    """V6: a JPEG without EXIF gets info notes, no warning."""
    evidence = services.evidence_add(task=task, module=module_of(task, ModuleKind.PHOTO), upload=upload("x.jpg", data_file("noexif.jpg")), by=task.rep)
    assert set(codes(evidence)) == {"no_exif_time", "no_gps"}
    assert {flag["level"] for flag in evidence.flags} == {"info"} and not evidence.flagged


def test_reused_photo_by_another_rep_is_flagged(task, bob, medical):
    """V6: bob submits alice's earlier photo (same bytes) on his own visit → flagged with who/when."""
    # One capture time for both: the EXIF time is part of the bytes, and "now" may tick between uploads.
    taken_at = timezone.localtime() - timedelta(minutes=10)
    add_photo(task, seed="shared-door", taken_at=taken_at)
    other = services.visit_task_create(rep=bob, customer=CustomerFactory(owner=bob), template=medical, due_date=timezone.localdate(), by=bob)
    repeat = add_photo(other, seed="shared-door", taken_at=taken_at)
    assert "repeat_photo" in codes(repeat)
    flag = next(f for f in repeat.flags if f["code"] == "repeat_photo")
    assert "艾丽" in flag["message"] and "完全相同" in flag["message"] and flag["task_id"] == task.pk


def test_recompressed_copy_is_caught_by_the_perceptual_hash(task, bob, medical):
    """V6: a resized, re-compressed copy (different bytes) still matches by pHash."""
    original = make_photo(seed="door-7", taken_at=timezone.localtime().replace(tzinfo=None), gps=NEAR_HOSPITAL)
    services.evidence_add(task=task, module=module_of(task, ModuleKind.PHOTO), upload=upload("a.jpg", original), by=task.rep)
    smaller = io.BytesIO()
    Image.open(io.BytesIO(original)).resize((640, 480)).save(smaller, "JPEG", quality=60)
    other = services.visit_task_create(rep=bob, customer=CustomerFactory(owner=bob), template=medical, due_date=timezone.localdate(), by=bob)
    repeat = services.evidence_add(task=other, module=module_of(other, ModuleKind.PHOTO), upload=upload("b.jpg", smaller.getvalue()), by=bob)
    flag = next(f for f in repeat.flags if f["code"] == "repeat_photo")
    assert "高度相似" in flag["message"] and flag["hamming"] <= 72


def test_different_photos_do_not_match(task, bob, medical):
    add_photo(task, seed="door-a")
    other = services.visit_task_create(rep=bob, customer=CustomerFactory(owner=bob), template=medical, due_date=timezone.localdate(), by=bob)
    assert "repeat_photo" not in codes(add_photo(other, seed="door-b"))


def test_correction_in_the_same_task_is_not_a_repeat(task):
    add_photo(task, seed="same")
    second = add_photo(task, seed="same")
    assert second.version == 2 and "repeat_photo" not in codes(second)


def test_perceptual_hashes_are_stable_under_rotation_metadata():
    """pHash of an image and of its EXIF-rotated twin read upright are the same."""
    upright = media.inspect_photo(data_file("orientation_landscape_6.jpg"))
    assert (upright.width, upright.height) == (600, 450)  # displayed size after orientation 6
    assert len(upright.phash) == 16 and len(upright.dhash) == 16


def test_gcj02_and_bd09_are_converted_before_measuring():
    """V6: an Amap (GCJ-02) or Baidu (BD-09) hospital position is ~500 m off in WGS-84."""
    wgs = (30.257000, 120.170000)
    gcj = geo.wgs84_to_gcj02(*wgs)
    bd = geo.gcj02_to_bd09(*gcj)
    assert 200 < geo.haversine_m(*wgs, *gcj) < 800
    assert geo.haversine_m(*wgs, *geo.gcj02_to_wgs84(*gcj)) < 1
    assert geo.haversine_m(*wgs, *geo.to_wgs84(*bd, "bd09")) < 1
    hospital = HospitalFactory(latitude=Decimal(f"{gcj[0]:.6f}"), longitude=Decimal(f"{gcj[1]:.6f}"), coordinate_system=CoordinateSystem.GCJ02)
    assert geo.distance_to_hospital_m(hospital, *wgs) <= 1


def test_photo_at_a_gcj02_hospital_is_not_flagged_far(alice, medical):
    """V6: the same place in GCJ-02 must not look 500 m away."""
    gcj = geo.wgs84_to_gcj02(*NEAR_HOSPITAL)
    hospital = HospitalFactory(latitude=Decimal(f"{gcj[0]:.6f}"), longitude=Decimal(f"{gcj[1]:.6f}"), coordinate_system=CoordinateSystem.GCJ02)
    customer = CustomerFactory(owner=alice, department__hospital=hospital)
    task = services.visit_task_create(rep=alice, customer=customer, template=medical, due_date=timezone.localdate(), by=alice)
    evidence = add_photo(task, seed="gcj", gps=NEAR_HOSPITAL)
    assert evidence.distance_m <= 5 and "far_from_hospital" not in codes(evidence)


def test_malformed_gps_is_unknown():
    facts, taken_at, gps = media.read_exif(Image.open(io.BytesIO(make_photo(seed="x", taken_at=None, gps=None))))
    assert gps is None and taken_at is None
    assert media.parse_exif_datetime("0000:00:00 00:00:00") is None
    assert media.parse_exif_datetime("2026:11:27 09:00:00", "+09:00").utcoffset() == timedelta(hours=9)


def test_pixel_limit_is_configurable(task, settings):
    """V3: the pixel bound is ours, not only Pillow's (which allows ~178 MP)."""
    settings.VISITS_MAX_IMAGE_PIXELS = 100_000
    with pytest.raises(media.FileRejected) as refused:
        add_photo(task, seed="big")
    assert "800×600" in refused.value.message

"""Authenticity checks of a photo (V6): when and where it was taken, and whether it was seen
before. Flags inform the supervisor; they never block the rep. Missing metadata is "unknown",
not "fake" (level "info"); a contradiction is a "warning".
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from .geo import distance_to_hospital_m
from .media import Inspected, hamming
from .models import Evidence, ModuleKind, VisitTask


def _setting(name: str, default):
    return getattr(settings, name, default)


def flag(code: str, message: str, level: str = "warning", **extra) -> dict:
    return {"code": code, "level": level, "message": message, **extra}


def _local(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def time_flags(*, taken_at: datetime | None, visit_time: datetime, uploaded_at: datetime) -> list[dict]:
    if taken_at is None:
        return [flag("no_exif_time", _("照片没有拍摄时间（EXIF），无法核对"), level="info")]
    max_age = timedelta(hours=_setting("VISITS_MAX_PHOTO_AGE_HOURS", 12))
    if visit_time - taken_at > max_age:
        gap = visit_time - taken_at
        span = _("%d 天") % gap.days if gap.days >= 1 else _("%d 小时") % (gap.seconds // 3600)
        return [
            flag(
                "taken_before_visit",
                _("拍摄时间 %(taken)s，早于拜访 %(span)s") % {"taken": _local(taken_at), "span": span},
                taken_at=taken_at.isoformat(),
            )
        ]
    if taken_at - uploaded_at > timedelta(minutes=_setting("VISITS_CLOCK_SKEW_MINUTES", 30)):
        return [flag("taken_after_upload", _("拍摄时间 %(taken)s 晚于上传时间，相机时钟可能不准") % {"taken": _local(taken_at)})]
    return []


def place_flags(*, gps: tuple[float, float] | None, hospital, exif: dict) -> tuple[list[dict], int | None]:
    if gps is None:
        message = _("照片的 GPS 信息无法解析") if exif.get("gps_malformed") else _("照片没有 GPS 位置")
        return [flag("no_gps", message, level="info")], None
    distance = distance_to_hospital_m(hospital, *gps)
    if distance is None:
        return [flag("hospital_without_location", _("医院没有坐标，无法核对拍摄地点"), level="info")], None
    if distance > _setting("VISITS_MAX_PHOTO_DISTANCE_M", 1000):
        shown = f"{distance / 1000:.1f} km" if distance >= 1000 else f"{distance} m"
        return [flag("far_from_hospital", _("拍摄地点距 %(hospital)s %(distance)s") % {"hospital": hospital.name, "distance": shown}, distance_m=distance)], distance
    return [], distance


def repeat_flags(*, task: VisitTask, sha256: str, phash: str, phash_wide: str = "") -> list[dict]:
    """A repeat of any earlier photo, by any rep, on any other visit (F4): identical bytes (indexed
    SHA-256), or a 256-bit perceptual hash within `VISITS_PHASH_WIDE_MAX_DISTANCE` bits — a
    re-saved, resized, cropped (5 %), slightly rotated (2°) or padded copy — found through the
    in-memory index (`visits.photo_index`), whose cost does not grow with database scans."""
    earlier = Evidence.objects.filter(kind=ModuleKind.PHOTO).exclude(task=task)
    same_file = earlier.filter(sha256=sha256).select_related("task__rep", "task__customer").order_by("uploaded_at").first()
    if same_file:
        return [repeat_flag(same_file, _("与 %(rep)s %(when)s 在 %(customer)s 上传的照片完全相同"), 0)]
    if not phash_wide:
        return []
    from . import photo_index

    limit = _setting("VISITS_PHASH_WIDE_MAX_DISTANCE", 72)
    candidates = photo_index.lookup(phash_wide, exclude_task=task.pk, limit=limit)
    if not candidates:
        return []
    stored = dict(earlier.filter(pk__in=[c.evidence_id for c in candidates]).values_list("pk", "phash_wide"))
    for candidate in candidates:  # confirmed against the database: a stale index cannot invent a match
        if candidate.evidence_id in stored and hamming(phash_wide, stored[candidate.evidence_id]) == candidate.distance:
            match = Evidence.objects.select_related("task__rep", "task__customer").get(pk=candidate.evidence_id)
            return [repeat_flag(match, _("与 %(rep)s %(when)s 在 %(customer)s 上传的照片高度相似"), candidate.distance)]
    return []


def repeat_flag(match: Evidence, template: str, distance: int) -> dict:
    rep = match.task.rep
    return flag(
        "repeat_photo",
        template % {"rep": rep.get_full_name() or rep.username, "when": _local(match.uploaded_at), "customer": match.task.customer.name},
        evidence_id=match.pk,
        task_id=match.task_id,
        hamming=distance,
    )


def photo_flags(*, task: VisitTask, inspected: Inspected, uploaded_at: datetime) -> tuple[list[dict], int | None]:
    visit_time = task.started_at or uploaded_at
    flags = time_flags(taken_at=inspected.taken_at, visit_time=visit_time, uploaded_at=uploaded_at)
    place, distance = place_flags(gps=inspected.gps, hospital=task.customer.hospital, exif=inspected.exif)
    flags += place
    flags += repeat_flags(task=task, sha256=inspected.sha256, phash=inspected.phash, phash_wide=inspected.phash_wide)
    return flags, distance


def warnings_of(flags: list[dict]) -> list[dict]:
    return [item for item in flags if item.get("level") == "warning"]

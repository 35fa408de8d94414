"""Visits figures: accepting and processing a 5 MB phone photo (SHA-256, full decode check, EXIF,
perceptual hashes, thumbnail, repeat scan, storage, ledger), by step and end to end."""

from __future__ import annotations

import hashlib
import io
import statistics
import time
from pathlib import Path

ROUNDS = 7
DATA = Path(__file__).resolve().parents[1] / "visits" / "data"


def _timed(function, rounds: int = ROUNDS) -> tuple[float, float, object]:
    timings, result = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        result = function()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[-1], result


def photo_index_at_scale(report, count: int = 1_000_000) -> None:
    """F4: the reuse lookup over 1,000,000 stored 256-bit hashes (the in-process index that
    `repeat_flags` uses; filled from the database once per process, then incrementally)."""
    import random

    from visits import photo_index

    report.section(f"visits: photo reuse lookup at {count:,} stored photos")
    rng = random.Random(5)
    index = photo_index.PhotoIndex()
    rows = [(i, i, f"{rng.getrandbits(256):064x}") for i in range(1, count + 1)]
    started = time.perf_counter()
    for start in range(0, count, photo_index.CHUNK):
        index.add(rows[start : start + photo_index.CHUNK])
    report.line("fill the index (cold start of a worker)", f"{(time.perf_counter() - started):.1f} s", f"{index.hashes.nbytes / 1024 / 1024:.0f} MB of hashes")
    target = rows[count // 2][2]
    near = f"{int(target, 16) ^ 0xFF00FF:064x}"  # 16 bits away
    median, worst, found = _timed(lambda: index.nearest(near, exclude_task=None, limit=72), rounds=15)
    assert found and found[0].evidence_id == count // 2 + 1
    report.line("lookup: XOR + popcount over every hash, nearest within 72 bits", f"{median:.1f} ms", f"max {worst:.1f}; budget 100 ms")


def run(report) -> None:
    photo_index_at_scale(report)
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client
    from django.utils import timezone
    from PIL import Image

    from salesops.models import Customer, Department, Hospital, Rep, Role, Team
    from visits import media, services
    from visits.library import MEDICAL_CODE, install_library
    from visits.models import Evidence, ModuleKind, TemplateModule, VisitTemplate
    from visits.samples import make_photo

    report.section("visits: a 5 MB phone photo")
    # 12 MP (4032×3024, an iPhone's size) of camera-like noise with EXIF time and GPS: ≈ 5 MB.
    photo = make_photo(
        seed="bench", size=(4032, 3024), quality=62, noise=True, taken_at=timezone.localtime().replace(tzinfo=None), gps=(30.2575, 120.1705)
    )
    report.line("photo", f"{len(photo) / 1024 / 1024:.2f} MB", "4032×3024 JPEG with EXIF DateTimeOriginal + GPS")

    median, worst, _ = _timed(lambda: hashlib.sha256(photo).hexdigest())
    report.line("SHA-256", f"{median:.1f} ms", f"max {worst:.1f}")
    median, worst, _ = _timed(lambda: media.open_image(photo))
    report.line("open + verify + decode at full size", f"{median:.1f} ms", f"max {worst:.1f}")
    median, worst, image = _timed(lambda: media.open_image(photo, draft_to=media.THUMBNAIL_SIZE))
    report.line("open + verify + decode every byte at 1/4 scale (used)", f"{median:.1f} ms", f"max {worst:.1f}")
    median, worst, _ = _timed(lambda: media.read_exif(image))
    report.line("EXIF time + GPS", f"{median:.2f} ms", f"max {worst:.2f}")
    median, worst, _ = _timed(lambda: (media.perceptual_hash(image), media.difference_hash(image)))
    report.line("pHash + dHash", f"{median:.1f} ms", f"max {worst:.1f}")

    def thumbnail():
        copy = image.copy()
        copy.thumbnail(media.THUMBNAIL_SIZE, Image.Resampling.BILINEAR, reducing_gap=2.0)
        buffer = io.BytesIO()
        copy.save(buffer, "JPEG", quality=80)
        return buffer

    median, worst, _ = _timed(thumbnail)
    report.line("640 px thumbnail", f"{median:.1f} ms", f"max {worst:.1f}")
    median, worst, _ = _timed(lambda: media.inspect_photo(photo))
    report.line("inspect_photo (all of the above)", f"{median:.1f} ms", f"max {worst:.1f}")
    heif = (DATA / "HMD_Nokia_8.3_5G_hdr.heif").read_bytes()
    median, worst, _ = _timed(lambda: media.inspect_photo(heif), rounds=3)
    report.line("inspect_photo, HEIF 4608×3456 (0.8 MB)", f"{median:.1f} ms", f"max {worst:.1f}")

    # End to end through the service and over HTTP, with earlier photos in the database.
    User = get_user_model()
    templates = {t.code: t for t in install_library(VisitTemplate, TemplateModule)}
    team, _ = Team.objects.get_or_create(name="基准组")
    user, _ = User.objects.get_or_create(username="bench-visits")
    Rep.objects.get_or_create(user=user, defaults={"role": Role.REP, "team": team})
    hospital, _ = Hospital.objects.get_or_create(
        name="基准医院", defaults={"grade": "3A", "city": "杭州", "latitude": "30.257000", "longitude": "120.170000"}
    )
    department, _ = Department.objects.get_or_create(hospital=hospital, name="骨科")
    module = templates[MEDICAL_CODE].modules.get(kind=ModuleKind.PHOTO)
    earlier = 2000
    customers = [
        Customer.objects.get_or_create(hospital=hospital, name=f"基准医院 骨科{i}", defaults={"department": department, "owner": user})[0]
        for i in range(ROUNDS * 2 + 2)
    ]
    seed_task = services.visit_task_create(rep=user, customer=customers[-1], template=templates[MEDICAL_CODE], due_date=timezone.localdate(), by=user)
    seed_evidence = services.evidence_add(task=seed_task, module=module, upload=SimpleUploadedFile("a.jpg", make_photo(seed="x")), by=user)
    import random

    rng = random.Random(1)
    rows = [
        Evidence(**{f.attname: getattr(seed_evidence, f.attname) for f in Evidence._meta.concrete_fields if f.attname not in ("id", "version", "supersedes_id", "phash")},
                 version=i + 2, phash=f"{rng.getrandbits(64):016x}")
        for i in range(earlier)
    ]
    Evidence.objects.bulk_create(rows, batch_size=1000)
    report.line("earlier photos in the database (distinct pHashes)", f"{earlier + 1}")

    tasks = iter(
        services.visit_task_create(rep=user, customer=customer, template=templates[MEDICAL_CODE], due_date=timezone.localdate(), by=user)
        for customer in customers[: ROUNDS * 2]
    )

    def through_service():
        task = next(tasks)
        return services.evidence_add(task=task, module=module, upload=SimpleUploadedFile("IMG_0001.jpg", photo, "image/jpeg"), by=user)

    median, worst, _ = _timed(through_service)
    report.line("evidence_add (validate, measure, repeat scan, store, ledger)", f"{median:.0f} ms", f"max {worst:.0f}")

    client = Client()
    client.force_login(user)

    def over_http():
        task = next(tasks)
        response = client.post(
            f"/visits/tasks/{task.pk}/modules/{module.pk}/upload/", {"file": SimpleUploadedFile("IMG_0002.jpg", photo, "image/jpeg")}
        )
        assert response.status_code == 302, response.status_code
        return response

    median, worst, _ = _timed(over_http)
    report.line("POST upload over HTTP (multipart parse + the above)", f"{median:.0f} ms", f"max {worst:.0f}")

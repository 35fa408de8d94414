"""Visit factories and real files for tests (generated with Pillow / reportlab, or copied samples)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from visits.models import VisitTask
from visits.samples import make_pdf, make_photo, make_wav

from ..factories import CustomerFactory, UserFactory

DATA = Path(__file__).parent / "data"
# The test hospital (tests/factories.py HospitalFactory): 30.257, 120.170 in WGS-84.
NEAR_HOSPITAL = (30.2575, 120.1705)


def data_file(name: str) -> bytes:
    return (DATA / name).read_bytes()


def upload(name: str, data: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def photo_upload(seed="door", *, taken_at: datetime | None = None, gps=NEAR_HOSPITAL, name="IMG_0001.jpg") -> SimpleUploadedFile:
    taken_at = taken_at or timezone.localtime()
    return upload(name, make_photo(seed=seed, taken_at=taken_at.replace(tzinfo=None), gps=gps), "image/jpeg")


def pdf_upload(seed="sign", name="确认书.pdf") -> SimpleUploadedFile:
    return upload(name, make_pdf(hospital="测试医院", department="骨科", signer="王主任", when=timezone.localtime(), seed=seed), "application/pdf")


def wav_upload(name="memo.wav") -> SimpleUploadedFile:
    return upload(name, make_wav(seconds=0.5), "audio/wav")


class VisitTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VisitTask

    rep = factory.SubFactory(UserFactory)
    customer = factory.SubFactory(CustomerFactory)
    template = None
    due_date = factory.LazyFunction(timezone.localdate)

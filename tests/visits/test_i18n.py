"""UI language: Chinese by default, English available — the visits pages and refusals too."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from visits.models import ModuleKind

from .conftest import module_of
from .factories import upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _back_to_chinese():
    yield
    translation.activate(settings.LANGUAGE_CODE)


def _english(client) -> None:
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})


def test_task_page_and_lock_in_english(client, alice, task):
    client.force_login(alice)
    _english(client)
    body = client.post(reverse("visits:task_complete", args=[task.pk])).content.decode()
    assert "Action lock:" in body and "Complete visit" in body


def test_refusal_in_english(client, alice, task):
    client.force_login(alice)
    _english(client)
    response = client.post(reverse("visits:evidence_upload", args=[task.pk, module_of(task, ModuleKind.PHOTO).pk]), {"file": upload("x.jpg", b"MZ" + b"\x00" * 300)})
    assert "This is not a photo (found: a Windows program)" in response.content.decode()


def test_chinese_is_the_default(client, alice, task):
    client.force_login(alice)
    assert "工作台" in client.get(reverse("visits:workbench")).content.decode()

"""V8 — supervisor drill-down (穿透式查看): the original photo, the signed PDF, the audio and its
transcript, EXIF and flags, in one click; files only through access-checked views."""

from __future__ import annotations

import pytest
from django.urls import reverse

from visits import services
from visits.models import ModuleKind

from .conftest import add_needs, add_pdf, module_of
from .factories import data_file, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def visited(task, settings):
    settings.ASR_URL = ""
    photo = services.evidence_add(task=task, module=module_of(task, ModuleKind.PHOTO), upload=upload("门牌.jpg", data_file("gps_DSCN0010.jpg")), by=task.rep)
    pdf = add_pdf(task)
    add_needs(task)
    memo = services.evidence_add(
        task=task, module=module_of(task, ModuleKind.VOICE_MEMO), upload=upload("memo.wav", data_file("zh_aishell1_BAC009S0724W0121.wav")), by=task.rep
    )
    services.transcript_save_manual(evidence=memo, text="广州市房地产中介协会分析", by=task.rep)
    return {"task": task, "photo": photo, "pdf": pdf, "memo": memo}


def test_supervisor_sees_everything_on_one_page(client, carol, visited):
    """V8: from the team list, one click opens photo, PDF, audio + transcript, EXIF and flags."""
    client.force_login(carol)
    listing = client.get(reverse("visits:task_list")).content.decode()
    detail_url = reverse("visits:task_detail", args=[visited["task"].pk])
    assert detail_url in listing and "⚠ 1" in listing
    body = client.get(detail_url).content.decode()
    for item in ("photo", "pdf", "memo"):
        assert reverse("visits:evidence_file", args=[visited[item].pk]) in body
    assert reverse("visits:evidence_thumbnail", args=[visited["photo"].pk]) in body
    assert "<audio" in body and "广州市房地产中介协会分析" in body
    assert "2008-10-22 16:28:39" in body and "NIKON" in body.upper()  # EXIF time (local) and camera
    assert "拍摄地点距" in body and "早于拜访" in body  # the flags
    assert visited["photo"].sha256 in body


def test_flags_are_for_supervisors_not_shown_to_the_rep(client, alice, visited):
    client.force_login(alice)
    body = client.get(reverse("visits:task_detail", args=[visited["task"].pk])).content.decode()
    assert "拍摄地点距" not in body


def test_original_file_is_served_byte_for_byte_with_safe_headers(client, carol, visited):
    """V8: the original, through an access-checked view: nosniff, Content-Disposition, private."""
    client.force_login(carol)
    response = client.get(reverse("visits:evidence_file", args=[visited["photo"].pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data_file("gps_DSCN0010.jpg")
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline; filename*=UTF-8''")
    assert "private" in response["Cache-Control"]
    assert "sandbox" in response["Content-Security-Policy"] and "script-src" not in response["Content-Security-Policy"]
    download = client.get(reverse("visits:evidence_file", args=[visited["pdf"].pk]), {"download": "1"})
    assert download["Content-Disposition"].startswith("attachment;") and download["Content-Type"] == "application/pdf"
    audio = client.get(reverse("visits:evidence_file", args=[visited["memo"].pk]))
    assert audio["Content-Type"] == "audio/wav"


@pytest.mark.parametrize("outsider", ["charlie", "dave", "bob"])
def test_outsiders_get_404_for_files_and_pages(client, request, visited, outsider):
    """V8/A3: a rep from another team, another team's supervisor, even a teammate rep: 404."""
    client.force_login(request.getfixturevalue(outsider))
    for item in ("photo", "pdf", "memo"):
        assert client.get(reverse("visits:evidence_file", args=[visited[item].pk])).status_code == 404
    assert client.get(reverse("visits:evidence_thumbnail", args=[visited["photo"].pk])).status_code == 404
    assert client.get(reverse("visits:task_detail", args=[visited["task"].pk])).status_code == 404
    assert client.post(reverse("visits:transcript_save", args=[visited["memo"].pk]), {"text": "x"}).status_code == 404


def test_director_sees_any_team(client, diana, visited):
    client.force_login(diana)
    assert client.get(reverse("visits:evidence_file", args=[visited["photo"].pk])).status_code == 200


def test_anonymous_is_sent_to_login(client, visited):
    response = client.get(reverse("visits:evidence_file", args=[visited["photo"].pk]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_media_is_not_public(client, carol, visited):
    """Evidence is never under a public URL."""
    client.force_login(carol)
    assert client.get("/media/" + visited["photo"].file.name).status_code == 404


def test_team_list_filters_flagged_and_is_constant_in_queries(client, carol, visited, django_assert_max_num_queries):
    client.force_login(carol)
    body = client.get(reverse("visits:task_list"), {"flagged": "1"}).content.decode()
    assert visited["task"].customer.name in body
    with django_assert_max_num_queries(15):
        client.get(reverse("visits:task_list"))


def test_supervisor_cancels_a_task(client, carol, task):
    client.force_login(carol)
    client.post(reverse("visits:task_cancel", args=[task.pk]), {"reason": "客户停诊"})
    task.refresh_from_db()
    assert task.status == "cancelled" and task.cancelled_reason == "客户停诊"


def test_task_page_queries_do_not_grow_with_evidence(client, carol, task, django_assert_max_num_queries):
    """V8: the drill-down page is a fixed number of queries however many versions exist."""
    from .conftest import add_photo

    add_photo(task, seed="one")
    client.force_login(carol)
    url = reverse("visits:task_detail", args=[task.pk])
    with django_assert_max_num_queries(40) as first:
        client.get(url)
    for seed in ("two", "three", "four"):
        add_photo(task, seed=seed)
    add_pdf(task)
    with django_assert_max_num_queries(len(first.captured_queries) + 1):
        client.get(url)

"""R4 Large WeChat pastes are confirmed as a background job with progress; the limit is stated."""

from __future__ import annotations

import pytest
from django.urls import reverse

from leads.models import Lead, PasteJob, PasteJobStatus
from leads.paste_jobs import paste_job_run

from ..factories import ProductFactory


def _paste(n: int, start: int = 0) -> str:
    return "\n".join(f"【线索响应】客户{i} 139{i:08d} AK-HIP-01 官网" for i in range(start, start + n))


@pytest.fixture
def product(db):
    return ProductFactory(model_number="AK-HIP-01")


@pytest.mark.django_db
def test_large_paste_runs_as_a_job_with_progress(client, alice, product, settings, django_capture_on_commit_callbacks):
    """R4 60 lines: confirm answers at once with a job page; the job creates every lead once."""
    settings.LEAD_PASTE_SYNC_LINES = 20
    client.force_login(alice)
    text = _paste(60) + "\n【线索响应】坏行 12 AK-HIP-01 官网"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("leads:paste"), {"text": text, "action": "confirm"})
    assert response.status_code == 302
    job = PasteJob.objects.get()
    assert job.total == 60 and job.status == PasteJobStatus.QUEUED and Lead.objects.count() == 0
    waiting = client.get(response["Location"], headers={"HX-Request": "true"})
    assert 'hx-trigger="every 1s"' in waiting.content.decode() and "<html" not in waiting.content.decode()
    assert "0 / 60" in waiting.content.decode()
    for callback in callbacks:
        callback()  # the queue runs the task inline (sync in tests)
    job.refresh_from_db()
    assert job.status == PasteJobStatus.DONE and job.processed == 60 and job.created_count == 60
    assert Lead.objects.count() == 60
    assert paste_job_run(job.pk) == "nothing to do"  # a second run creates nothing
    assert Lead.objects.count() == 60
    done = client.get(response["Location"])
    assert "60 / 60" in done.content.decode() and "every 1s" not in done.content.decode()


@pytest.mark.django_db
def test_job_resumes_where_it_stopped(alice, product):
    """R4 A worker killed half-way: the rerun continues at the first uncounted line, no duplicates."""
    from leads.intake import parse_wechat_text
    from leads.paste_jobs import paste_job_start

    job = paste_job_start(lines=[line for line in parse_wechat_text(_paste(30)) if line.ok], by=alice)
    job.processed = 10  # as if the first ten had been committed with their counter
    job.save()
    paste_job_run(job.pk)
    job.refresh_from_db()
    assert job.processed == 30 and Lead.objects.count() == 20


@pytest.mark.django_db
def test_other_people_cannot_see_a_job(client, alice, bob, product):
    """R4 (access) the job page is the submitter's."""
    from leads.intake import parse_wechat_text
    from leads.paste_jobs import paste_job_start

    job = paste_job_start(lines=[line for line in parse_wechat_text(_paste(2)) if line.ok], by=alice)
    client.force_login(bob)
    assert client.get(reverse("leads:paste_job", args=[job.pk])).status_code == 404


@pytest.mark.django_db
def test_over_long_paste_preview_shows_the_error_and_the_page_states_the_limit(client, alice):
    """R4 A paste over 100,000 characters: the htmx preview shows why (it used to be empty)."""
    client.force_login(alice)
    page = client.get(reverse("leads:paste"))
    assert "100,000" in page.content.decode()
    response = client.post(reverse("leads:paste"), {"text": "x" * 100_001, "action": "preview"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert 'id="preview"' in body and "100000" in body.replace(",", "")

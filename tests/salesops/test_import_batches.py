"""F5 — a big import streams: rows are checked, staged and created in batches, yet a confirm stays
all-or-nothing across batches, and the background tasks outlive the queue's default timeout.
The batch size is made tiny here so a five-row file spans three batches."""

from __future__ import annotations

import pytest
from django.conf import settings

from salesops import imports
from salesops.models import Contact, Customer, Department, ImportRow, ImportStatus

from ..factories import CustomerFactory

ROWS = [
    ["浙江省人民医院 骨科", "浙江省人民医院", "骨科", "王建国", "主任", "13812345678", "alice"],
    ["浙江省人民医院 脊柱外科", "浙江省人民医院", "脊柱外科", "李华", "院长", "0571-87654321", "alice"],
    ["浙江省人民医院 创伤骨科", "浙江省人民医院", "创伤骨科", "", "", "", "bob"],
    ["浙江省人民医院 关节外科", "浙江省人民医院", "关节外科", "赵六", "医生", "13912345678", "alice"],
    ["浙江省人民医院 康复科", "浙江省人民医院", "康复科", "", "", "13712345678", "bob"],
]


@pytest.fixture(autouse=True)
def _tiny_batches(monkeypatch):
    monkeypatch.setattr(imports, "STAGE_BATCH", 2)


def test_rows_are_staged_one_per_line_across_batches(upload, carol, alice, bob, people_hospital):
    """F5: the parse stages every line (no list of the whole file on the job); a duplicate in a
    later batch is still found, naming the first line."""
    _response, job = upload(carol, [*ROWS, ROWS[0]])
    job.refresh_from_db()
    assert (job.status, job.total_rows, job.error_count) == (ImportStatus.PREVIEW, 6, 1)
    assert list(ImportRow.objects.filter(job=job).values_list("line", flat=True)) == [2, 3, 4, 5, 6, 7]
    assert job.error_rows == [{"line": 7, "values": job.error_rows[0]["values"], "errors": [{"field": "name", "code": "duplicate_in_file", "params": {"line": 2}}]}]


def test_a_row_that_turns_bad_in_the_last_batch_rolls_back_the_batches_already_created(client, upload, carol, alice, bob, people_hospital):
    """F5 + A1: batches 1–2 are created before batch 3 finds a customer created meanwhile; the
    confirm still writes nothing (one transaction) and the preview names the line."""
    _response, job = upload(carol, ROWS)
    job.refresh_from_db()
    assert job.can_confirm
    CustomerFactory(hospital=people_hospital, name="浙江省人民医院 康复科")
    before = Customer.objects.count()
    response = client.post(f"/imports/job/{job.pk}/confirm/", follow=True)
    page = response.content.decode()
    assert "有 1 行有错误，未导入任何数据" in page
    assert Customer.objects.count() == before and Contact.objects.count() == 0
    assert not Department.objects.filter(name__in=["脊柱外科", "创伤骨科"]).exists()
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEW and job.error_count == 1
    assert [(row["line"], row["errors"][0]["code"]) for row in job.error_rows] == [(6, "customer_exists")]
    assert "第 6 行 · 客户名称" in client.get(f"/imports/job/{job.pk}/").content.decode()


def test_a_clean_import_in_batches_creates_every_row_with_history(client, upload, carol, alice, bob, people_hospital):
    """F5 + A2: every batch is created with one history row each, by the person who confirmed."""
    _response, job = upload(carol, ROWS)
    response = client.post(f"/imports/job/{job.pk}/confirm/", follow=True)
    assert "已导入 5 条客户" in response.content.decode()
    created = Customer.objects.filter(hospital=people_hospital)
    assert created.count() == 5 and Contact.objects.count() == 3
    assert {row.history_user_id for customer in created for row in customer.history.all()} == {carol.pk}
    assert Department.objects.filter(hospital=people_hospital, name="关节外科").count() == 1
    job.refresh_from_db()
    assert (job.status, job.created_count, job.confirmed_by) == (ImportStatus.DONE, 5, carol)


def test_import_tasks_get_a_timeout_above_the_clusters_and_below_its_retry(monkeypatch, upload, carol, alice, bob, people_hospital):
    """F5: a 200,000-row parse or confirm takes minutes; the queue's default timeout (120 s) would
    kill it, and a `retry` shorter than the task would hand it to a second worker."""
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *args, **kwargs: queued.append((func, args, kwargs)))
    _response, job = upload(carol, ROWS)
    imports._enqueue_apply(job.pk)
    assert [(func.rsplit(".", 1)[1], kwargs["timeout"]) for func, _args, kwargs in queued] == [
        ("import_parse_task", imports.IMPORT_TASK_TIMEOUT),
        ("import_apply_task", imports.IMPORT_TASK_TIMEOUT),
    ]
    assert settings.Q_CLUSTER["timeout"] < imports.IMPORT_TASK_TIMEOUT < settings.Q_CLUSTER["retry"]

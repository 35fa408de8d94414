"""L5 — a REAL `manage.py qcluster` process delivers an outbox row (not the inline sync mode the
rest of the suite uses). The worker and the test share the database (see shared_db.py); WeCom's
group robot is a local HTTP server; the wait is bounded and polls, it never sleeps blindly."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest
from django_q.brokers.orm import ORM
from django_q.tasks import async_task

from salesops.models import Channel, Notification, NotificationStatus

from .shared_db import PYTHON, ROOT, child_env, read_back

pytestmark = pytest.mark.django_db(transaction=True)


def _wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)  # polling interval, bounded by the deadline
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def test_real_qcluster_worker_delivers_an_outbox_row(alice, httpserver, tmp_path):
    """L5: enqueue through the broker, start qcluster, see WeCom's robot receive the message and
    the row turn `delivered` with its attempt logged; SIGTERM stops the worker cleanly."""
    httpserver.expect_request("/cgi-bin/webhook/send", method="POST", query_string={"key": "WORKER-KEY"}).respond_with_json({"errcode": 0, "errmsg": "ok"})
    # The row as notification_enqueue writes it; its inline delivery (the suite's sync mode) is
    # skipped on purpose: this task goes through the ORM broker to the real worker.
    notification = Notification.objects.create(recipient=alice, title="新线索：worker", body="客户：王主任", channel=Channel.WECOM_ROBOT, dedupe_key="worker-test")
    async_task("salesops.tasks.deliver_notification", notification.pk, sync=False, broker=ORM(list_key="salesops"))
    env = child_env(tmp_path, WECOM_API_BASE=httpserver.url_for("").rstrip("/"), WECOM_ROBOT_KEY="WORKER-KEY", Q_WORKERS="1")
    worker = subprocess.Popen([PYTHON, "manage.py", "qcluster"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(lambda: len(httpserver.log) >= 1, 120, "the worker's request to the group robot")
        status = _wait_for(
            lambda: (rows := read_back(env, "SELECT status FROM salesops_notification WHERE id = ?", (notification.pk,))) and rows[0][0] == NotificationStatus.DELIVERED and rows[0][0],
            30,
            "the row to be marked delivered",
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            output, _unused = worker.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _unused = worker.communicate()
    assert status == NotificationStatus.DELIVERED
    request = httpserver.log[0][0]
    assert json.loads(request.data)["msgtype"] == "markdown"
    attempts = read_back(env, "SELECT attempt_number, ok FROM salesops_notificationattempt WHERE notification_id = ?", (notification.pk,))
    assert [(number, bool(ok)) for number, ok in attempts] == [(1, True)]
    assert worker.returncode is not None, output[-2000:]

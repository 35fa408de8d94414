"""R3 — channel isolation with real qcluster processes (`make bench BENCH_ARGS=bench_channels`).

A local socket server accepts WeCom connections and never answers. 1,000 WeCom rows are queued on
the delivery cluster ahead of 20 e-mails; 60 leads are overdue. Two real `manage.py qcluster`
processes run: the main cluster (escalation, sweeps) and the delivery cluster (4 workers). Measured:
e-mail queue-to-delivered median/max, how many WeCom calls were made before the breaker opened, and
the time from queuing the escalation sweep to all 60 leads escalated. Bounded: gives up after 120 s.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BACKLOG, EMAILS, LEADS = 1000, 20, 60


def _start_cluster(name: str | None, env: dict, log_path: str) -> subprocess.Popen:
    child_env = dict(env)
    if name:
        child_env["Q_CLUSTER_NAME"] = name
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=child_env, stdout=open(log_path, "w"), stderr=subprocess.STDOUT, start_new_session=True
    )


def run(report) -> None:
    from django.conf import settings
    from django.db import connections
    from django.utils import timezone

    from tests.factories import consented_intake
    from leads.models import Lead
    from leads.services import lead_intake
    from salesops import delivery
    from salesops.models import Channel, ChannelCircuit, Notification, NotificationStatus, Role
    from tests.factories import RepFactory, TeamFactory, UserFactory
    from tests.leads.test_channel_isolation import HangingServer

    from django_q.tasks import async_task

    from django_q.conf import Conf

    Conf.SYNC = False  # this bench queues for the real clusters below, never inline
    report.section("R3 channel isolation — hung WeCom, 1,000-row backlog, real qcluster processes")
    if connections["default"].vendor != "sqlite" and not os.environ.get("DATABASE_URL"):
        return
    server = HangingServer()
    team = TeamFactory(name="隔离压测组")
    supervisor = RepFactory(user=UserFactory(username="iso-sup", email="sup@example.com"), role=Role.SUPERVISOR, team=team, wecom_userid="sup-wx")
    team.supervisor = supervisor.user
    team.save()
    rep = RepFactory(user=UserFactory(username="iso-rep"), team=team, capacity=500, wecom_userid="rep-wx")
    env = dict(os.environ)
    env.update(
        Q_SYNC="0", WECOM_CORP_ID="ww-bench", WECOM_CORP_SECRET="bench", WECOM_AGENT_ID="1000002", WECOM_API_BASE=server.url,
        HTTP_TIMEOUT_SECONDS="2", PYTHONPATH=str(ROOT),
    )
    # Overdue leads (assigned 4 minutes ago), their notifications on the in-app channel only.
    past = timezone.now() - timedelta(minutes=4)
    leads = [lead_intake(data=consented_intake(contact_name=f"隔离{i}", phone=f"+86139000066{i:02d}"), now=past).lead for i in range(LEADS)]
    rep.user.email = "rep@example.com"  # after the intakes: this process sends inline (Q_SYNC)
    rep.user.save()
    now = timezone.now()
    Notification.objects.bulk_create(
        Notification(recipient=rep.user, channel=Channel.WECOM_APP, title=f"积压{i}", body="客户：王主任", dedupe_key=f"bench-wx-{i}", next_attempt_at=now, enqueued_at=now)
        for i in range(BACKLOG)
    )
    Notification.objects.bulk_create(
        Notification(recipient=rep.user, channel=Channel.EMAIL, title=f"邮件{i}", body="客户：王主任", dedupe_key=f"bench-mail-{i}", next_attempt_at=now, enqueued_at=now)
        for i in range(EMAILS)
    )
    wecom_ids = list(Notification.objects.filter(dedupe_key__startswith="bench-wx-").values_list("pk", flat=True))
    email_ids = list(Notification.objects.filter(dedupe_key__startswith="bench-mail-").values_list("pk", flat=True))
    workdir = os.path.dirname(os.environ.get("SQLITE_PATH", "/tmp/x"))
    # Start the three clusters and wait until they run (a probe e-mail), then queue the backlog.
    probe = Notification.objects.create(recipient=rep.user, channel=Channel.EMAIL, title="probe", dedupe_key="bench-probe")
    delivery.schedule(probe.pk, Channel.EMAIL)
    processes = [
        _start_cluster(None, env, os.path.join(workdir, "qcluster-main.log")),
        _start_cluster(settings.Q_DELIVERY_CLUSTER, env, os.path.join(workdir, "qcluster-delivery.log")),
        _start_cluster(settings.Q_WECOM_CLUSTER, env, os.path.join(workdir, "qcluster-wecom.log")),
    ]
    started = time.monotonic()
    while time.monotonic() - started < 90 and not Notification.objects.filter(pk=probe.pk, status=NotificationStatus.DELIVERED).exists():
        time.sleep(0.5)
    backlog_started = time.monotonic()
    for pk in wecom_ids:
        delivery.schedule(pk, Channel.WECOM_APP)
    # Latency counts from queueing the e-mails / the sweep, right behind the whole WeCom backlog.
    queued_at = time.monotonic()
    now = timezone.now()
    for pk in email_ids:
        delivery.schedule(pk, Channel.EMAIL)
    async_task("leads.tasks.sweep", sync=False)
    escalated_after = None
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if escalated_after is None and Lead.objects.filter(pk__in=[lead.pk for lead in leads], escalated_at__isnull=False).count() == LEADS:
                escalated_after = time.monotonic() - queued_at
            if escalated_after is not None and Notification.objects.filter(pk__in=email_ids, status=NotificationStatus.DELIVERED).count() == EMAILS:
                break
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        server.close()
    delivered = list(Notification.objects.filter(pk__in=email_ids, status=NotificationStatus.DELIVERED).values_list("delivered_at", flat=True))
    seconds = sorted((at - now).total_seconds() for at in delivered)
    report.line("e-mails delivered behind the hung backlog", f"{len(seconds)}/{EMAILS}")
    if seconds:
        report.line("e-mail queued (behind the backlog) → delivered, median / max", f"{statistics.median(seconds):.2f} / {seconds[-1]:.2f} s", "target median ≤ 5 s")
    report.line("queueing the 1,000-row WeCom backlog took", f"{queued_at - backlog_started:.1f} s")
    report.line("WeCom connections made (breaker threshold 5)", str(len(server.connections)))
    circuit = ChannelCircuit.objects.filter(channel=Channel.WECOM_APP).first()
    report.line("WeCom circuit", circuit.state if circuit else "—")
    report.line("WeCom rows still waiting (nothing lost)", str(Notification.objects.filter(pk__in=wecom_ids, status__in=delivery.DUE_STATUSES).count()))
    report.line("60 overdue leads: sweep queued → all escalated", f"{escalated_after:.1f} s" if escalated_after is not None else "not within 120 s", "main cluster, not behind deliveries")

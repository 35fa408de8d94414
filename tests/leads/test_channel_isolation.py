"""R3 — channels are isolated: a hung WeCom (a local socket server that accepts and never answers)
with a 1,000-row backlog delays neither e-mail nor escalation; the circuit breaker opens after N
consecutive timeouts and probes after its cool-down; the sweep never queues a row twice.

Real threads, real sockets, real database rows; time moves with time-machine where it can."""

from __future__ import annotations

import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connections
from django.utils import timezone

from tests.factories import consented_intake
from leads.models import Lead
from leads.services import lead_intake, leads_sweep
from salesops import delivery
from salesops.models import Channel, ChannelCircuit, CircuitState, Notification, NotificationAttempt, NotificationStatus

BACKLOG = 1000


class HangingServer:
    """Accepts TCP connections and never answers (a WeCom that hangs)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.connections: list[socket.socket] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                continue
            self.connections.append(conn)

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(2)
        for conn in self.connections:
            conn.close()
        self.sock.close()


@pytest.fixture
def hanging_wecom(settings):
    server = HangingServer()
    settings.WECOM_CORP_ID, settings.WECOM_CORP_SECRET, settings.WECOM_AGENT_ID = "ww-corp", "app-secret", "1000002"
    settings.WECOM_API_BASE = server.url
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DELIVERY_CHANNELS = {Channel.WECOM_APP: {"timeout": 0.5}}
    settings.CIRCUIT_FAILURE_THRESHOLD = 3
    yield server
    server.close()


def _rows(recipient, channel: str, count: int, prefix: str) -> list[int]:
    now = timezone.now()
    Notification.objects.bulk_create(
        Notification(recipient=recipient, channel=channel, title=f"{prefix}{i}", body="客户：王主任", dedupe_key=f"{prefix}{i}", next_attempt_at=now)
        for i in range(count)
    )
    return list(Notification.objects.filter(dedupe_key__startswith=prefix).order_by("pk").values_list("pk", flat=True))


def _run_queue(ids: list[int], workers: int) -> dict[int, float]:
    """A delivery cluster of `workers` processes draining a FIFO queue; returns id → seconds from start."""
    started = time.monotonic()
    finished: dict[int, float] = {}
    queue = iter(ids)
    lock = threading.Lock()

    def worker() -> None:
        try:
            while True:
                with lock:
                    notification_id = next(queue, None)
                if notification_id is None:
                    return
                delivery.deliver(notification_id)
                finished[notification_id] = time.monotonic() - started
        finally:
            connections.close_all()

    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(worker) for _ in range(workers)]:
            future.result()
    return finished


@pytest.mark.django_db(transaction=True)
def test_hung_wecom_with_1000_backlog_does_not_delay_email(hanging_wecom, alice):
    """R3: 1,000 WeCom rows queued before 20 e-mails, WeCom hanging: WeCom has its own queue, so the
    e-mails are delivered at once (median ≤ 5 s); after 3 timeouts the WeCom circuit opens and the
    rest of its backlog costs a query or two each; no WeCom row is lost or burns its attempts."""
    alice.rep.wecom_userid = "alice-wx"
    alice.rep.save()
    alice.email = "alice@example.com"
    alice.save()
    wecom_ids = _rows(alice, Channel.WECOM_APP, BACKLOG, "wx-")
    email_ids = _rows(alice, Channel.EMAIL, 20, "mail-")
    # Each row goes to the queue its channel is routed to (cluster_for); each queue has its own
    # workers, as the qcluster processes of `make serve` do.
    queues: dict[str | None, list[int]] = {}
    for pk in wecom_ids:
        queues.setdefault(delivery.cluster_for(Channel.WECOM_APP), []).append(pk)
    for pk in email_ids:
        queues.setdefault(delivery.cluster_for(Channel.EMAIL), []).append(pk)
    assert len(queues) == 2  # the e-mails are not behind the WeCom backlog
    finished: dict[int, float] = {}
    with ThreadPoolExecutor(len(queues)) as pool:
        for result in pool.map(lambda ids: _run_queue(ids, workers=2), queues.values()):
            finished.update(result)

    email_seconds = [finished[pk] for pk in email_ids]
    assert statistics.median(email_seconds) <= 5.0, email_seconds
    assert Notification.objects.filter(pk__in=email_ids, status=NotificationStatus.DELIVERED).count() == 20
    assert len(mail.outbox) == 20
    # The breaker opened after the threshold: only a handful of connections ever reached WeCom.
    assert ChannelCircuit.objects.get(channel=Channel.WECOM_APP).state == CircuitState.OPEN
    timeouts = NotificationAttempt.objects.filter(notification__channel=Channel.WECOM_APP, error_code="timeout").count()
    assert 3 <= timeouts <= 3 + delivery.channel_policy(Channel.WECOM_APP)["concurrency"]
    assert len(hanging_wecom.connections) <= timeouts
    # Nothing lost: every WeCom row still waits to be sent, none failed for good.
    assert Notification.objects.filter(pk__in=wecom_ids, status__in=delivery.DUE_STATUSES).count() == BACKLOG
    print(f"\nR3 e-mail behind a hung WeCom + {BACKLOG} backlog: median {statistics.median(email_seconds):.2f}s, max {max(email_seconds):.2f}s, WeCom timeouts {timeouts}")


@pytest.mark.django_db(transaction=True)
def test_escalation_is_not_queued_behind_deliveries_and_fires_within_4_minutes(hanging_wecom, alice, carol, settings):
    """R3: with WeCom hung and a 1,000-row backlog, 60 leads assigned at T0 are all escalated by the
    sweep at T0 + 3 min (deadline 4 min); escalation work runs on the main cluster, deliveries on
    their own, and the escalation writes outbox rows without waiting for any channel."""
    alice.rep.wecom_userid = "alice-wx"
    alice.rep.capacity = 100
    alice.rep.save()
    carol.rep.wecom_userid = "carol-wx"
    carol.rep.save()
    _rows(alice, Channel.WECOM_APP, BACKLOG, "wx-")
    ChannelCircuit.objects.create(channel=Channel.WECOM_APP, state=CircuitState.OPEN, opened_at=timezone.now() + timedelta(hours=1))
    t0 = timezone.now()
    with time_machine.travel(t0, tick=False):
        leads = [lead_intake(data=consented_intake(contact_name=f"客户{i}", phone=f"+86138000055{i:02d}")).lead for i in range(60)]
    assert all(lead.assignee_id == alice.pk for lead in leads)
    with time_machine.travel(t0 + timedelta(minutes=3, seconds=1), tick=True):
        started = time.monotonic()
        assert leads_sweep()["escalated"] == 60
        took = time.monotonic() - started
    escalated = Lead.objects.filter(pk__in=[lead.pk for lead in leads])
    assert all(lead.escalated_at - lead.assigned_at <= timedelta(minutes=4) for lead in escalated)
    assert Notification.objects.filter(recipient=carol, channel=Channel.WECOM_APP, dedupe_key__contains=":esc").count() == 60
    assert took < 60, took
    # Where the work runs: deliveries on their own cluster, escalation schedules on the main one.
    assert delivery.delivery_cluster() == settings.Q_DELIVERY_CLUSTER
    assert settings.Q_CLUSTER["ALT_CLUSTERS"][settings.Q_DELIVERY_CLUSTER]["scheduler"] is False
    from django_q.models import Schedule

    assert not Schedule.objects.filter(func="leads.tasks.escalate_lead").exclude(cluster__isnull=True).exists()


@pytest.mark.django_db
def test_delivery_tasks_go_to_the_delivery_cluster(monkeypatch, settings):
    """R3: every delivery task names the delivery cluster (its own queue), never the main one."""
    calls = []
    monkeypatch.setattr(delivery, "async_task", lambda *args, **kwargs: calls.append(kwargs["cluster"]))
    for channel in (Channel.EMAIL, Channel.CALL_ROBOT, Channel.WECOM_APP, Channel.WECOM_ROBOT):
        delivery.schedule(1, channel)
    assert calls == [settings.Q_DELIVERY_CLUSTER] * 2 + [settings.Q_WECOM_CLUSTER] * 2
    assert settings.Q_CLUSTER["name"] not in calls and settings.Q_DELIVERY_CLUSTER != settings.Q_WECOM_CLUSTER


@pytest.mark.django_db
def test_circuit_opens_after_threshold_then_one_probe_after_cooldown(settings, httpserver, alice):
    """R3: N consecutive channel failures open the circuit; during the cool-down nothing is sent;
    after it exactly one probe goes out; its success closes the circuit."""
    settings.WECOM_CORP_ID, settings.WECOM_CORP_SECRET, settings.WECOM_AGENT_ID = "ww-corp", "app-secret", "1000002"
    settings.WECOM_API_BASE = httpserver.url_for("").rstrip("/")
    settings.CIRCUIT_FAILURE_THRESHOLD, settings.CIRCUIT_COOLDOWN_SECONDS = 2, 60
    alice.rep.wecom_userid = "alice-wx"
    alice.rep.save()
    httpserver.expect_request("/cgi-bin/gettoken").respond_with_json({"errcode": 0, "access_token": "T", "expires_in": 7200})
    httpserver.expect_request("/cgi-bin/message/send").respond_with_data("down", status=502)
    ids = _rows(alice, Channel.WECOM_APP, 4, "cb-")
    t0 = timezone.now()
    with time_machine.travel(t0, tick=False):
        assert [delivery.deliver(pk) for pk in ids[:2]] == ["pending", "pending"]
        assert ChannelCircuit.objects.get().state == CircuitState.OPEN
        assert delivery.deliver(ids[2]) == "circuit open"
        assert delivery.deliver_due() == 0  # the sweep queues nothing on an open channel
    sends = lambda: len([r for r, _ in httpserver.log if r.path == "/cgi-bin/message/send"])  # noqa: E731
    assert sends() == 2
    httpserver.clear_all_handlers()
    httpserver.expect_request("/cgi-bin/gettoken").respond_with_json({"errcode": 0, "access_token": "T", "expires_in": 7200})
    httpserver.expect_request("/cgi-bin/message/send").respond_with_json({"errcode": 0, "errmsg": "ok", "msgid": "M"})
    with time_machine.travel(t0 + timedelta(seconds=61), tick=False):
        assert delivery.circuit_allows(Channel.WECOM_APP, timezone.now()) is True  # this caller holds the probe
        assert delivery.circuit_allows(Channel.WECOM_APP, timezone.now()) is False  # nobody else
        assert delivery.deliver(ids[3]) == "circuit open"
    ChannelCircuit.objects.update(probe_started_at=None, state=CircuitState.OPEN)
    with time_machine.travel(t0 + timedelta(seconds=62), tick=False):
        assert delivery.deliver(ids[3]) == NotificationStatus.DELIVERED
    circuit = ChannelCircuit.objects.get()
    assert circuit.state == CircuitState.CLOSED and circuit.consecutive_failures == 0
    states = list(circuit.history.order_by("history_id").values_list("state", flat=True))
    assert states[0] == "closed" and states[1] == "open" and "half_open" in states and states[-1] == "closed"


@pytest.mark.django_db
def test_recipient_errors_do_not_open_the_circuit(settings, alice):
    """R3: a rep without a WeCom id fails their row, not the channel for everyone."""
    settings.WECOM_CORP_ID, settings.WECOM_CORP_SECRET, settings.WECOM_AGENT_ID = "ww-corp", "app-secret", "1000002"
    settings.CIRCUIT_FAILURE_THRESHOLD = 1
    alice.rep.wecom_userid = ""
    alice.rep.save()
    ids = _rows(alice, Channel.WECOM_APP, 3, "norecipient-")
    assert [delivery.deliver(pk) for pk in ids] == [NotificationStatus.FAILED] * 3
    assert not ChannelCircuit.objects.filter(state=CircuitState.OPEN).exists()


@pytest.mark.django_db
def test_sweep_never_queues_a_row_twice(monkeypatch, alice):
    """R3: a row queued by its writer or by a sweep is not queued again while its task is waiting;
    once the task has run (or the marker is stale: a lost task) it can be queued again."""
    queued = []
    monkeypatch.setattr(delivery, "schedule", lambda pk, channel=None: queued.append(pk))
    ids = _rows(alice, Channel.EMAIL, 5, "sweep-")
    assert delivery.deliver_due() == 5
    assert delivery.deliver_due() == 0 and delivery.deliver_due() == 0
    assert sorted(queued) == ids
    with time_machine.travel(timezone.now() + delivery.requeue_after() + timedelta(seconds=1)):
        assert delivery.deliver_due() == 5  # the tasks were lost: queued again, once
        assert delivery.deliver_due() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_queue_each_row_once(monkeypatch, alice):
    """R3: two sweeps racing (two schedulers, an overlap) queue each due row exactly once."""
    queued = []
    monkeypatch.setattr(delivery, "schedule", lambda pk, channel=None: queued.append(pk))
    ids = _rows(alice, Channel.EMAIL, 60, "race-")

    def sweep() -> int:
        try:
            return delivery.deliver_due()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(2) as pool:
        counts = list(pool.map(lambda _i: sweep(), range(2)))
    assert sum(counts) == 60 and sorted(queued) == ids

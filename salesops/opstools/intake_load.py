"""Fire signed `POST /api/v1/leads` requests from N concurrent clients against a running server.

Used by the load bench (`tests/bench/load_intake.py`, `make bench`) and by the production smoke test
in CI (`python -m salesops.opstools.smoke`). Loopback only: the target must be 127.0.0.1/localhost.
Plain `http.client` so that no third-party HTTP package is needed and every request is a real one.
"""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from salesops.integrations.webhooks import signature_headers

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Result:
    status: int
    seconds: float
    lead_id: int | None
    phone: str
    error: str = ""


@dataclass
class Run:
    clients: int
    wall_seconds: float
    results: list[Result] = field(default_factory=list)

    @property
    def ok(self) -> list[Result]:
        return [r for r in self.results if 200 <= r.status < 300]

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if not 200 <= r.status < 300]

    def rate(self) -> float:
        return len(self.ok) / self.wall_seconds if self.wall_seconds else 0.0

    def percentile(self, q: float) -> float:
        values = sorted(r.seconds for r in self.ok)
        if not values:
            return float("nan")
        return values[min(len(values) - 1, max(0, int(round(q * len(values))) - 1))]

    def p50(self) -> float:
        return statistics.median(r.seconds for r in self.ok) if self.ok else float("nan")


def check_loopback(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    if parts.hostname not in LOOPBACK:
        raise SystemExit(f"refusing to load-test {base_url}: loopback (127.0.0.1/localhost) only")
    return parts.hostname, parts.port or 80


def post_intake(host: str, port: int, secret: str, payload: dict, *, forwarded_https: bool = True, timeout: float = 60) -> Result:
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "Host": "127.0.0.1", **signature_headers(secret, body)}
    if forwarded_https:  # as the load balancer would say; production redirects plain http
        headers["X-Forwarded-Proto"] = "https"
    started = time.perf_counter()
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("POST", "/api/v1/leads", body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        status = response.status
    except OSError as exc:
        return Result(0, time.perf_counter() - started, None, payload["phone"], f"{exc.__class__.__name__}: {exc}")
    finally:
        connection.close()
    elapsed = time.perf_counter() - started
    lead_id, error = None, ""
    try:
        answer = json.loads(data)
        lead_id = answer.get("id") if isinstance(answer, dict) else None
    except ValueError:
        error = data[:200].decode(errors="replace")
    if not 200 <= status < 300 and not error:
        error = data[:300].decode(errors="replace")
    return Result(status, elapsed, lead_id, payload["phone"], error)


def payload_for(client: int, number: int, run_tag: int, products: list[str], hospitals: list[str]) -> dict:
    # A unique, valid CN mobile per request so that no intake is a duplicate (L3 dedupe).
    phone = f"+86139{run_tag % 10}{client % 100:02d}{number % 100000:05d}"
    payload = {"name": f"压测客户{client}-{number}", "phone": phone, "source": "website",
               # P1: the website sends the consent the person gave to the privacy notice
               "consent": {"version": "v1", "given_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()), "channel": "website"}}
    if products:
        payload["product_model"] = products[(client + number) % len(products)]
    if hospitals:
        payload["hospital"] = hospitals[(client * 7 + number) % len(hospitals)]
    return payload


def fire(
    base_url: str,
    secret: str,
    clients: int,
    *,
    seconds: float | None = None,
    per_client: int | None = None,
    run_tag: int = 0,
    products: list[str] | None = None,
    hospitals: list[str] | None = None,
) -> Run:
    """`clients` threads post back to back, each until `seconds` passed or `per_client` were sent."""
    if (seconds is None) == (per_client is None):
        raise ValueError("give seconds or per_client")
    host, port = check_loopback(base_url)
    results: list[Result] = []
    lock = threading.Lock()
    start_gate = threading.Barrier(clients + 1)
    deadline_holder: list[float] = []

    def worker(client: int) -> None:
        start_gate.wait()
        number = 0
        own = []
        while True:
            if per_client is not None and number >= per_client:
                break
            if seconds is not None and time.perf_counter() >= deadline_holder[0]:
                break
            own.append(post_intake(host, port, secret, payload_for(client, number, run_tag, products or [], hospitals or [])))
            number += 1
        with lock:
            results.extend(own)

    threads = [threading.Thread(target=worker, args=(index,), daemon=True) for index in range(clients)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    deadline_holder.append(started + (seconds or 0))
    start_gate.wait()
    for thread in threads:
        thread.join()
    return Run(clients=clients, wall_seconds=time.perf_counter() - started, results=results)

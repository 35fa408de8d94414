"""R4 No 500 on bad input anywhere: a deterministic walk over every URL pattern of the project.

1. Crawl: every persona opens every parameterless page and follows the links it is shown, so each
   URL pattern gets filled with real ids (ones that persona may see).
2. Every pattern is also filled with hostile path values (0, a 23-digit id, "፩", NUL, 3,000 chars).
3. Every URL gets GET and POST requests whose parameters — every name the code reads from
   `request.GET`/`request.POST` plus every field of every form the crawl saw — all carry one hostile
   value at a time (non-ASCII digits, huge numbers, impossible dates, NUL, markup, 1 MB text, …).
4. No answer may be a 5xx; a 4xx must carry a message.

The admin is walked as ops (its change lists and change pages with hostile ids and filters).
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.exceptions import Resolver404

from .world import build_world

ROOT = Path(__file__).resolve().parents[2]
APPS = ("salesops", "leads", "visits", "scoring", "dashboards")

# One hostile value per request, given to every parameter at once.
HOSTILE_VALUES = [
    "፩",  # Ethiopic digit one: isdigit() is True, int() raises
    "١٢",  # Arabic-Indic twelve
    "12345678901234567890123",  # 23 digits: OverflowError in SQLite
    "2026-13-45",
    "a\x00b",
    "<b>x",
    "1e309",
    "x" * 20_000,  # × every parameter name at once; the 1 MB text goes to one form field at a time
]
ONE_FIELD_VALUES = ["፩", "12345678901234567890123", "2026-13-45", "a\x00b", "x" * 1_000_000]
HOSTILE_INT_PATH = ["0", "12345678901234567890123"]
HOSTILE_STR_PATH = ["፩", "١٢", "a\x00b", "<b>x", "x" * 3000]
PERSONAS = ("alice", "carol", "charlie", "dave", "diana", "olga", None)


def _source_param_names() -> set[str]:
    """Every name the code reads from request.GET / request.POST / request.FILES."""
    names: set[str] = set()
    pattern = re.compile(r"""(?:GET|POST|FILES)(?:\.get|\.getlist|\.__getitem__)?\(?\[?\s*["']([\w\-]+)["']""")
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            names.update(pattern.findall(path.read_text(encoding="utf-8")))
    return names


class _PageParser(HTMLParser):
    """Links and forms of a page (method, action, field names and default values)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.forms: list[dict] = []
        self._form: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        for attr in ("hx-get", "hx-post"):
            if attrs.get(attr):
                self.links.append(attrs[attr])
        if tag == "form":
            self._form = {"method": (attrs.get("method") or "get").lower(), "action": attrs.get("action") or "", "fields": {}}
            self.forms.append(self._form)
        elif tag in ("input", "select", "textarea", "button") and attrs.get("name") and self._form is not None:
            self._form["fields"].setdefault(attrs["name"], attrs.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


def _kinds(pattern) -> dict[str, str]:
    converters = getattr(pattern, "converters", None) or {}
    kinds = {name: "int" if converter.regex == "[0-9]+" else "str" for name, converter in converters.items()}
    for name in getattr(pattern, "regex").groupindex:
        kinds.setdefault(name, "str")
    return kinds


def _patterns(resolver=None, prefix_ns: str = "", kinds: dict | None = None) -> list[tuple[str, dict[str, str]]]:
    """(namespaced name, {kwarg: "int" | "str"}) for every named URL of the project."""
    resolver = resolver or get_resolver()
    kinds = kinds or {}
    found = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = f"{prefix_ns}{entry.namespace}:" if entry.namespace else prefix_ns
            found.extend(_patterns(entry, ns, {**kinds, **_kinds(entry.pattern)}))
        elif isinstance(entry, URLPattern) and entry.name:
            found.append((prefix_ns + entry.name, {**kinds, **_kinds(entry.pattern)}))
    return found


def _reverse(name: str, kwargs: dict) -> str | None:
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return None


def _url_name(path: str) -> str | None:
    try:
        match = resolve(urlsplit(path).path)
    except Resolver404:
        return None
    return match.view_name


class Walk:
    def __init__(self, users: dict) -> None:
        self.users = users
        self.clients: dict = {}
        for key in PERSONAS:
            client = Client()
            if key:
                client.force_login(users[key])
            self.clients[key] = client
        self.real_urls: dict[str, set[str]] = defaultdict(set)
        self.shown_to: dict[str, list] = defaultdict(list)  # url name → personas who got a 200
        self.forms: dict[tuple[str, str | None], list[dict]] = defaultdict(list)
        self.field_names: set[str] = set()
        self.failures: list[str] = []
        self.requests = 0
        self.started = time.monotonic()

    def request(self, who, method: str, path: str, data=None, **extra):
        client = self.clients[who]
        self.requests += 1
        if self.requests % 500 == 0:
            print(f"  {self.requests} requests, {time.monotonic() - self.started:.0f} s", flush=True)
        try:
            response = getattr(client, method)(path, data=data or {}, **extra)
        except Exception as exc:  # the test client re-raises a view's exception: that is a 500
            self.failures.append(f"{who} {method.upper()} {path[:120]} {self._short(data)} → exception {type(exc).__name__}: {str(exc)[:200]}")
            return None
        if response.status_code >= 500:
            self.failures.append(f"{who} {method.upper()} {path[:120]} {self._short(data)} → {response.status_code}")
        elif 400 <= response.status_code < 500 and response.status_code != 405:
            body = b"".join(response.streaming_content) if response.streaming else response.content
            if not body.strip():
                self.failures.append(f"{who} {method.upper()} {path[:120]} {self._short(data)} → {response.status_code} without a message")
        return response

    @staticmethod
    def _short(data) -> str:
        if not data:
            return ""
        sample = next(iter(data.values())) if isinstance(data, dict) else data
        return repr(sample[:30] if isinstance(sample, str) else sample)

    def crawl(self, who, start: list[str], depth: int = 2) -> None:
        seen_names: set[str] = set()
        frontier = list(start)
        for _level in range(depth + 1):
            next_frontier = []
            for path in frontier:
                name = _url_name(path)
                if name is None or name in seen_names or name.startswith("admin:") or name == "logout":
                    continue
                seen_names.add(name)
                self.real_urls[name].add(path)
                response = self.request(who, "get", path)
                if response is not None and response.status_code == 200:
                    self.shown_to[name].append(who)
                if response is None or response.status_code != 200 or "html" not in response.get("Content-Type", ""):
                    continue
                parser = _PageParser()
                parser.feed(response.content.decode("utf-8", "replace"))
                for form in parser.forms:
                    self.field_names.update(form["fields"])
                    self.forms[(name, who)].append(form)
                for link in parser.links:
                    parts = urlsplit(link)
                    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
                        continue
                    next_frontier.append(parts.path)
            frontier = next_frontier


def _fill(name: str, kinds: dict[str, str], real: set[str]) -> tuple[list[str], list[str]]:
    """(real URLs, URLs with hostile path values) for one pattern."""
    if not kinds:
        url = _reverse(name, {})
        return ([url] if url else []), []
    hostile = []
    for value in HOSTILE_INT_PATH + HOSTILE_STR_PATH:
        kind = "int" if value in HOSTILE_INT_PATH else "str"
        if kind not in kinds.values():
            continue
        url = _reverse(name, {param: (value if param_kind == kind else "1") for param, param_kind in kinds.items()})
        if url and url not in hostile:
            hostile.append(url)
    real_urls = sorted(real)[:1] or [_reverse(name, {param: "1" for param in kinds})]
    return [url for url in real_urls if url], hostile


def _rotated(names: list[str], offset: int) -> dict[str, str]:
    """Parameter i gets hostile value (i + offset): over len(HOSTILE_VALUES) offsets every
    parameter has had every value, in as many requests as there are values."""
    return {name: HOSTILE_VALUES[(index + offset) % len(HOSTILE_VALUES)] for index, name in enumerate(names)}


@pytest.fixture
def world(db, alice, bob, carol, charlie, dave, diana, olga, settings, django_capture_on_commit_callbacks):
    settings.LEAD_FORM_RATE_LIMIT = (100000, 60)
    with django_capture_on_commit_callbacks(execute=True):
        built = build_world(alice=alice, bob=bob, carol=carol, charlie=charlie, dave=dave, diana=diana, olga=olga, client=Client())
    return {"alice": alice, "bob": bob, "carol": carol, "charlie": charlie, "dave": dave, "diana": diana, "olga": olga, **built}


@pytest.mark.django_db
def test_every_url_answers_hostile_input_without_a_500(world, settings):
    """R4 Every URL pattern × persona × hostile path/query/form value: no 5xx, every 4xx has a message."""
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    started = time.monotonic()
    walk = Walk(world)
    patterns = [(name, kinds) for name, kinds in _patterns() if not name.startswith("admin:")]
    plain = [url for name, kinds in patterns if not kinds and (url := _reverse(name, {}))]
    for who in PERSONAS:
        walk.crawl(who, plain)
    names = _source_param_names() | walk.field_names
    names.discard("csrfmiddlewaretoken")

    names = sorted(names)
    covered = set()
    for name, kinds in patterns:
        real, hostile_paths = _fill(name, kinds, walk.real_urls.get(name, set()))
        assert real, f"cannot build a URL for {name}"
        covered.add(name)
        # Two personas that are shown the page (a supervisor and a rep for POST-only endpoints),
        # each sending every hostile value to every parameter.
        shown = [who for who in ("carol", "alice", "diana", "olga") if who in walk.shown_to.get(name, ())]
        sweepers = list(dict.fromkeys((shown or ["carol", "alice"])[:2]))
        for url in real:
            for who in sweepers:
                for step in range(len(HOSTILE_VALUES)):
                    walk.request(who, "get", url, _rotated(names, step))
                    walk.request(who, "post", url, _rotated(names, step))
        for url in hostile_paths:
            for who in (sweepers[0], None):
                walk.request(who, "get", url)
                walk.request(who, "post", url, _rotated(names, 0))
    # Forms as their pages render them (once per form): every field hostile, then one at a time.
    done_forms = set()
    for (name, who), forms in walk.forms.items():
        for form in forms:
            action = form["action"] or next(iter(sorted(walk.real_urls[name])))
            key = (action, tuple(sorted(form["fields"])))
            if key in done_forms:
                continue
            done_forms.add(key)
            method = "post" if form["method"] == "post" else "get"
            for value in HOSTILE_VALUES:
                walk.request(who, method, action, {field: value for field in form["fields"]})
            for field in form["fields"]:
                for value in ONE_FIELD_VALUES:
                    walk.request(who, method, action, {**form["fields"], field: value})

    missing = {name for name, _ in patterns} - covered
    assert not missing
    assert len(walk.real_urls) > 40, sorted(walk.real_urls)  # the crawl reached the pages behind ids
    elapsed = time.monotonic() - started
    print(f"\nR4 walk: {len(patterns)} URL patterns, {walk.requests} requests, {elapsed:.1f} s")
    assert not walk.failures, "\n".join(sorted(set(walk.failures))[:80])


@pytest.mark.django_db
def test_admin_answers_hostile_ids_and_filters_without_a_500(world, settings):
    """R4 The admin (ops) with hostile object ids and change-list filters: no 5xx."""
    walk = Walk(world)
    for name, kinds in _patterns():
        if not name.startswith("admin:") or not name.endswith(("_changelist", "_change", "_history")):
            continue
        for value in ("1", "፩", "12345678901234567890123", "a\x00b"):
            url = _reverse(name, {param: value for param in kinds})
            if url is None:
                continue
            query = {"q": value, "o": value, "p": value, "e": value} if name.endswith("_changelist") else {}
            walk.request("olga", "get", url, query)
    assert walk.requests > 100
    assert not walk.failures, "\n".join(sorted(set(walk.failures))[:80])

"""Crawl every page reachable from the navigation as one signed-in user (D5, O6).

Starts at `/` (whose navigation lists the role's pages) — and `/admin/` for staff — and follows
same-origin links breadth-first: `<a href>` and htmx `hx-get` fragments, GET only. Bounded: at most
`max_pages` pages per role, at most `per_pattern` URLs per path shape (`/customers/17/` and
`/customers/18/` are one shape) and `per_query` query-string variants per path, so a list with
thousands of rows or admin filters cannot eat the budget. Pages answering 5xx are failures; 4xx
are recorded (a link the user was shown should not be forbidden either).

Two transports: Django's test client (the suite) and real HTTP to a running server (CI smoke):

    python -m salesops.opstools.crawl http://127.0.0.1:8000 director:PASSWORD ops:PASSWORD …
"""

from __future__ import annotations

import argparse
import http.client
import re
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlencode, urljoin, urlsplit

# Never followed: they change the session or the language, or leave the site's HTML.
SKIP_PREFIXES = ("/accounts/logout", "/admin/logout", "/i18n/", "/static/", "/accounts/wecom/")
SKIP_SUFFIXES = ()
HTML_TYPES = ("text/html",)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            if "download" in values:
                return
            self.links.append(values["href"])
        if values.get("hx-get"):
            self.links.append(values["hx-get"])


def links_in(html: str) -> list[str]:
    parser = _Links()
    try:
        parser.feed(html)
    except Exception:  # noqa: BLE001 - a broken page is reported by its status, not by the parser
        pass
    return parser.links


def shape(path: str) -> str:
    return re.sub(r"/[0-9a-f]{8,}(?=/|$)", "/<token>", re.sub(r"/\d+(?=/|$)", "/<n>", path))


@dataclass
class Page:
    url: str
    status: int
    seconds: float
    referrer: str
    error: str = ""


@dataclass
class CrawlResult:
    role: str
    pages: list[Page] = field(default_factory=list)
    truncated: bool = False

    @property
    def server_errors(self) -> list[Page]:
        return [p for p in self.pages if p.status >= 500 or p.status == 0]

    @property
    def client_errors(self) -> list[Page]:
        return [p for p in self.pages if 400 <= p.status < 500]

    def summary(self) -> str:
        slow = max(self.pages, key=lambda p: p.seconds, default=None)
        text = (f"{self.role}: {len(self.pages)} pages, {len(self.server_errors)} × 5xx, {len(self.client_errors)} × 4xx"
                + (" (stopped at the page limit)" if self.truncated else ""))
        if slow:
            text += f"; slowest {slow.url} {slow.seconds * 1000:.0f} ms"
        return text


def crawl(fetch, role: str, starts: list[str], *, max_pages: int = 400, per_pattern: int = 5, per_query: int = 3) -> CrawlResult:
    """`fetch(url) -> (status, content_type, text)`; `url` is a path with query string."""
    result = CrawlResult(role)
    seen: set[str] = set()
    per_shape: dict[str, int] = {}
    per_path: dict[str, int] = {}
    queue: deque[tuple[str, str]] = deque((start, "(start)") for start in starts)

    def admit(url: str) -> bool:
        parts = urlsplit(url)
        if url in seen or parts.path.startswith(SKIP_PREFIXES):
            return False
        counter, key, limit = (per_path, parts.path, per_query) if parts.query else (per_shape, shape(parts.path), per_pattern)
        if counter.get(key, 0) >= limit:
            return False
        counter[key] = counter.get(key, 0) + 1
        seen.add(url)
        return True

    pending: deque[tuple[str, str]] = deque()
    for url, ref in queue:
        if admit(url):
            pending.append((url, ref))
    while pending:
        if len(result.pages) >= max_pages:
            result.truncated = True
            break
        url, referrer = pending.popleft()
        started = time.perf_counter()
        try:
            status, content_type, text = fetch(url)
            error = ""
        except Exception as exc:  # noqa: BLE001 - a transport error is a failed page, not a crashed crawl
            status, content_type, text, error = 0, "", "", f"{exc.__class__.__name__}: {exc}"
        page = Page(url, status, time.perf_counter() - started, referrer, error)
        result.pages.append(page)
        if status >= 500 and not error:
            page.error = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text))[:200]
        if status != 200 or not content_type.startswith(HTML_TYPES):
            continue
        for href in links_in(text):
            target, _fragment = urldefrag(urljoin(url, href.strip()))
            parts = urlsplit(target)
            if parts.scheme or parts.netloc or not parts.path.startswith("/"):
                continue  # urljoin against a path keeps same-origin links scheme-less
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if admit(target):
                pending.append((target, url))
    return result


def default_starts(is_staff: bool) -> list[str]:
    return ["/", "/admin/"] if is_staff else ["/"]


# --- transports -----------------------------------------------------------------------------------


def django_client_fetcher(client):
    """For the suite: a logged-in `django.test.Client(raise_request_exception=False)`."""

    def fetch(url: str):
        response = client.get(url, follow=True)
        content_type = response.get("Content-Type", "")
        text = response.content.decode(errors="replace") if content_type.startswith(HTML_TYPES) and not response.streaming else ""
        return response.status_code, content_type, text

    return fetch


class HttpSession:
    """Real HTTP to a server behind a (pretended) TLS-terminating proxy: `X-Forwarded-Proto: https`,
    cookies kept by hand (they are `Secure`), redirects followed within the site."""

    def __init__(self, base_url: str, timeout: float = 30) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.origin = f"https://{parts.hostname}:{self.port}"
        self.timeout = timeout
        self.cookies: dict[str, str] = {}

    def request(self, method: str, url: str, body: bytes | None = None, headers: dict | None = None, redirects: int = 5):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        all_headers = {"Host": f"{self.host}:{self.port}", "X-Forwarded-Proto": "https", "Accept-Language": "zh-CN", **(headers or {})}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            connection.request(method, url, body=body, headers=all_headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                cookie_value = rest.split(";", 1)[0]
                if cookie_value in ("", '""') or "max-age=0" in value.lower():
                    self.cookies.pop(name.strip(), None)
                else:
                    self.cookies[name.strip()] = cookie_value
        location = response.getheader("Location")
        if response.status in (301, 302, 303, 307, 308) and location and redirects > 0:
            target = urlsplit(urljoin(url, location))
            if target.netloc and target.hostname != self.host:
                return response.status, response.getheader("Content-Type", ""), data
            path = target.path + (f"?{target.query}" if target.query else "")
            return self.request("GET", path, redirects=redirects - 1)
        return response.status, response.getheader("Content-Type", ""), data

    def fetch(self, url: str):
        status, content_type, data = self.request("GET", url)
        return status, content_type or "", data.decode(errors="replace") if content_type and content_type.startswith(HTML_TYPES) else ""

    def login(self, username: str, password: str) -> None:
        status, _, data = self.request("GET", "/accounts/login/")
        match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', data)
        if status != 200 or not match:
            raise RuntimeError(f"login page answered {status}")
        body = urlencode({"csrfmiddlewaretoken": match.group(1).decode(), "username": username, "password": password}).encode()
        status, _, data = self.request("POST", "/accounts/login/", body, {
            "Content-Type": "application/x-www-form-urlencoded", "Origin": self.origin, "Referer": self.origin + "/accounts/login/"})
        if "sessionid" not in self.cookies:
            raise RuntimeError(f"login as {username} failed (status {status})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="crawl a running SalesOps as each user; non-zero exit on any 5xx")
    parser.add_argument("base_url")
    parser.add_argument("users", nargs="+", help="username:password; a user whose name starts with 'ops' also crawls /admin/")
    parser.add_argument("--max-pages", type=int, default=400)
    args = parser.parse_args(argv)
    failed = False
    for spec in args.users:
        username, _, password = spec.partition(":")
        session = HttpSession(args.base_url)
        session.login(username, password)
        result = crawl(session.fetch, username, default_starts(username.startswith(("ops", "admin"))), max_pages=args.max_pages)
        print(result.summary(), flush=True)
        for page in result.server_errors:
            failed = True
            print(f"  {page.status} {page.url} (linked from {page.referrer}) {page.error}", flush=True)
        for page in result.client_errors[:20]:
            print(f"  {page.status} {page.url} (linked from {page.referrer})", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""D5/O6 — every page reachable from the navigation opens for director, supervisor, rep and ops with
DEBUG off: a crawl with Django's test client over the demo company (seed_demo, history shortened to
a few weeks so the test stays quick). Any 5xx fails the test with the URL and the page that linked it."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from salesops.opstools.crawl import crawl, default_starts, django_client_fetcher, shape

ROLES = {"director": "director", "supervisor": "sup1", "rep": "rep01", "ops": "ops"}
# Detail pages that must be reached (from lists and the dashboards), not just the lists.
MUST_REACH = {
    "director": ["/customers/<n>/", "/leads/<n>/", "/visits/tasks/<n>/", "/cash/quotes/<n>/"],
    "ops": ["/admin/", "/customers/<n>/"],
}


@pytest.fixture
def small_demo(db, settings, monkeypatch):
    import leads.demo
    import visits.demo

    monkeypatch.setattr(leads.demo, "DAYS", 20)
    monkeypatch.setattr(visits.demo, "DAYS", 14)
    call_command("seed_demo", stdout=open("/dev/null", "w"))


def test_every_navigation_page_opens_for_every_role_with_debug_off(small_demo, settings):
    """D5 O6: crawl as director, supervisor, rep and ops (ops also /admin/): no 5xx anywhere; detail
    pages of customers, leads, visits and quotes are among the pages opened."""
    settings.DEBUG = False
    User = get_user_model()
    failures, summaries = [], []
    for role, username in ROLES.items():
        user = User.objects.get(username=username)
        client = Client(raise_request_exception=False)
        client.force_login(user)
        result = crawl(django_client_fetcher(client), role, default_starts(user.is_staff), max_pages=250, per_pattern=3, per_query=2)
        summaries.append(result.summary())
        assert len(result.pages) > 10, result.summary()  # the crawl really followed the navigation
        shapes = {shape(page.url.split("?")[0]) for page in result.pages if page.status == 200}
        for expected in MUST_REACH.get(role, []):
            assert expected in shapes, f"{role} never reached {expected}: {sorted(shapes)}"
        failures += [f"{role}: {page.status} {page.url} (from {page.referrer}) {page.error}" for page in result.server_errors]
    assert not failures, "\n".join(failures + summaries)

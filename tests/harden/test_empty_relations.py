"""U8 No page can 500 on an empty relation: every owner, assignee, creator, uploader … that may be
empty is cleared, then every page of the project (and the admin) is opened by every persona."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import models

from .test_fuzz_urls import PERSONAS, Walk, _fill, _patterns, _reverse
from .test_fuzz_urls import world  # noqa: F401 - the fixture

PROJECT_APPS = ("salesops", "leads", "cash", "visits", "scoring", "dashboards")


def _clear_people() -> list[str]:
    """Set every nullable foreign key to a user to NULL, on every business row and its history.
    (A test-only shortcut: QuerySet.update writes no history, which is what we want here —
    the pages must cope with rows as an admin or an erasure may leave them.)"""
    cleared = []
    user_model = get_user_model()
    for model in apps.get_models():
        if model._meta.app_label not in PROJECT_APPS or model._meta.proxy:
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, models.ForeignKey) and field.related_model is user_model and field.null:
                if model._base_manager.exclude(**{field.name: None}).update(**{field.name: None}):
                    cleared.append(f"{model.__name__}.{field.name}")
    return cleared


@pytest.mark.django_db
def test_every_page_renders_with_owners_assignees_and_creators_cleared(world, settings):
    """U8 Customer owner, lead assignee, uploader, decider … all cleared: no page answers 5xx."""
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    cleared = _clear_people()
    assert "Customer.owner" in cleared and "Lead.assignee" in cleared, cleared
    walk = Walk(world)
    patterns = [(name, kinds) for name, kinds in _patterns() if not name.startswith("admin:")]
    plain = [url for name, kinds in patterns if not kinds and (url := _reverse(name, {}))]
    for who in PERSONAS:
        walk.crawl(who, plain, depth=3)
    for name, kinds in patterns:
        real, _hostile = _fill(name, kinds, walk.real_urls.get(name, set()))
        for url in real:
            for who in PERSONAS:
                walk.request(who, "get", url)
    # The pages the issue names, opened by the rep who lost them and by the supervisor.
    for url in ("/customers/", f"/customers/{world['lead'].pk and world['deal'].customer_id}/", "/hospitals/"):
        for who in ("alice", "carol", "diana"):
            walk.request(who, "get", url)
    assert walk.requests > 300
    assert not walk.failures, "\n".join(sorted(set(walk.failures))[:80])


@pytest.mark.django_db
def test_admin_pages_render_with_people_cleared(world, settings):
    """U8 The admin's change lists, change pages and history pages with every person cleared."""
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    _clear_people()
    walk = Walk(world)
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        changelist = _reverse(f"admin:{info[0]}_{info[1]}_changelist", {})
        if changelist is None:
            continue
        walk.request("olga", "get", changelist)
        first = model._base_manager.order_by("pk").first()
        if first is None:
            continue
        for suffix in ("change", "history"):
            url = _reverse(f"admin:{info[0]}_{info[1]}_{suffix}", {"object_id": first.pk})
            if url:
                walk.request("olga", "get", url)
    assert walk.requests > 50
    assert not walk.failures, "\n".join(sorted(set(walk.failures))[:80])

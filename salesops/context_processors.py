"""Navigation per role. Each app may have a `nav.py` with `items(user) -> list[NavItem]`;
the base template shows them in app order, so no app edits another app's menu."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module

from django.urls import NoReverseMatch, reverse

from .access import role_of

NAV_APPS = ("salesops", "leads", "leads.cash", "visits", "scoring", "dashboards")


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    order: int = 100
    badge_url_name: str = ""  # an htmx fragment that renders a count


def _items_for(user) -> list[dict]:
    items = []
    for app in NAV_APPS:
        try:
            module = import_module(f"{app}.nav")
        except ModuleNotFoundError:
            continue
        for item in module.items(user):
            try:
                url = reverse(item.url_name)
            except NoReverseMatch:
                continue
            badge = ""
            if item.badge_url_name:
                try:
                    badge = reverse(item.badge_url_name)
                except NoReverseMatch:
                    badge = ""
            items.append({"label": item.label, "url": url, "order": item.order, "badge_url": badge})
    return sorted(items, key=lambda entry: entry["order"])


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "user_role": None}
    return {"nav_items": _items_for(user), "user_role": role_of(user)}

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
            items.append({"label": item.label, "url": url, "order": item.order, "badge_url": badge, "name": item.url_name})
    return sorted(items, key=lambda entry: entry["order"])


# U1: the 4–5 destinations a role uses every day, in the phone's bottom tab bar and the laptop's
# top bar; everything else of `nav_items` sits one tap away in the "更多" sheet.
TABS = {
    "rep": ("home", "leads:mine", "visits:workbench", "visits:task_list", "leads:inbox"),
    "supervisor": ("home", "leads:team", "visits:task_list", "scoring:reviews", "cash:approval_list"),
    "director": ("home", "dashboards:kpis", "leads:team", "dashboards:interventions", "cash:deal_list"),
    "ops": ("home", "imports:list", "leads:team", "leads:rules", "dashboards:kpis"),
}


def split_tabs(items: list[dict], role: str | None) -> tuple[list[dict], list[dict]]:
    wanted = TABS.get(str(role or ""), ("home",))
    by_name = {item["name"]: item for item in items}
    tabs = [by_name[name] for name in wanted if name in by_name]
    return tabs, [item for item in items if item not in tabs]


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "nav_tabs": [], "nav_more": [], "user_role": None}
    role = role_of(user)
    items = _items_for(user)
    tabs, more = split_tabs(items, role)
    return {"nav_items": items, "nav_tabs": tabs, "nav_more": more, "user_role": role}

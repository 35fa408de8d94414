"""Small presentation helpers for KPI values and health states."""

from __future__ import annotations

from django import template
from django.utils.translation import get_language, ngettext

from dashboards.models import Health
from salesops.templatetags.people import person

register = template.Library()

HEALTH_CLASS = {Health.HEALTHY: "success", Health.WATCH: "warning", Health.ALERT: "danger", Health.NO_DATA: ""}


@register.filter
def health_label(health: str) -> str:
    try:
        return str(Health(health).label)
    except ValueError:
        return ""


@register.filter
def health_class(health: str) -> str:
    return HEALTH_CLASS.get(health, "")


@register.filter
def kpi_number(value) -> str:
    """1.0 → 1, 4.25 → 4.25, None → —"""
    if value is None or value == "":
        return "—"
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return str(value)


@register.filter
def minutes(duration) -> str:
    if duration is None:
        return "—"
    return f"{duration.total_seconds() / 60:.0f}"


@register.filter
def rmb_short(amount) -> str:
    """¥28.6万 for the TV (read from 5 m); smaller amounts in full: ¥9,800."""
    if amount is None or amount == "":
        return "—"
    value = float(amount)
    if abs(value) >= 10000:
        if not (get_language() or "zh").startswith("zh"):
            # 万 (10,000) is a Chinese unit: English readers get k / M.
            if abs(value) >= 1_000_000:
                return f"¥{value / 1_000_000:,.1f}M".replace(".0M", "M")
            return f"¥{value / 1000:,.0f}k"
        return f"¥{value / 10000:,.1f}万".replace(".0万", "万")
    return f"¥{value:,.0f}"


@register.filter
def hours_since(moment, now) -> str:
    """"93 小时" — the lights' rules are in hours (48 h, 72 h), so are their items."""
    if not moment or not now:
        return "—"
    hours = int((now - moment).total_seconds() // 3600)
    return ngettext("%(n)s 小时", "%(n)s 小时", hours) % {"n": hours}


# The one display-name rule (U8, A6), re-exported so `{% load dashboards %}` keeps it.
register.filter("person", person)

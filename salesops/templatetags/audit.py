"""{% history_table obj %} — who, when, field, before → after (A2). Read-only by construction."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

from salesops.audit import history_rows

register = template.Library()


@register.inclusion_tag("salesops/_history.html")
def history_table(obj, limit: int = 100) -> dict:
    return {"rows": history_rows(obj, limit=limit)}

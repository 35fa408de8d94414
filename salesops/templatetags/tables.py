"""List helpers for templates (U6), a template builtin: sortable headers, paging and export links
that keep the current filters.

    <th>{% sort_link "name" _("客户名称") sort %}</th>
    <a href="{% export_url %}">导出 Excel</a>   ·   <a href="{% page_url page.next_page_number %}">
"""

from __future__ import annotations

from django import template
from django.utils.html import format_html

register = template.Library()


def _query(context, **changes) -> str:
    request = context.get("request")
    params = request.GET.copy() if request is not None else None
    if params is None:
        return ""
    for key, value in changes.items():
        params.pop(key, None)
        if value not in (None, ""):
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.simple_tag(takes_context=True)
def sort_link(context, key: str, label, state) -> str:
    """A header that sorts by `key`; a second click reverses; the current one shows ▲/▼."""
    current = getattr(state, "key", None) == key
    descending = bool(getattr(state, "descending", False))
    target = f"-{key}" if current and not descending else key
    arrow = ("▼" if descending else "▲") if current else ""
    aria = ("descending" if descending else "ascending") if current else "none"
    return format_html('<a class="sort" href="{}" data-sort="{}" aria-sort="{}">{}{}</a>',
                       _query(context, sort=target, page=None, export=None), key, aria, label, arrow)


@register.simple_tag(takes_context=True)
def export_url(context) -> str:
    return _query(context, export="xlsx", page=None)


@register.simple_tag(takes_context=True)
def page_url(context, number) -> str:
    return _query(context, page=number, export=None)

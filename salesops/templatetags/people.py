"""`{{ customer.owner|person }}` — a user's display name, "—" for nobody (U8). Loaded as a
template builtin (settings.TEMPLATES), so every template has it without `{% load %}`.

`{{ a.owner.get_full_name|default:a.owner.username }}` raised on a cleared owner (a filter
*argument* that cannot be resolved is an error, not ""), which made pages answer 500."""

from __future__ import annotations

from django import template

from salesops.people import EMPTY, person_name

register = template.Library()


@register.filter
def person(user, fallback: str = EMPTY) -> str:
    return person_name(user, fallback)


@register.filter
def dash(value, fallback: str = EMPTY):
    """None and "" shown as "—" (0 stays 0)."""
    return fallback if value is None or value == "" else value

"""`{{ lead.phone|mask_phone }}` and `{% phone_for lead.phone owner_id %}` (P2): the one masking rule."""

from __future__ import annotations

from django import template

from salesops import privacy

register = template.Library()


@register.filter
def mask_phone(value) -> str:
    return privacy.mask_phone(value)


@register.filter
def mask_phones(value) -> str:
    return privacy.mask_phones(value)


@register.simple_tag(takes_context=True)
def phone_for(context, phone, owner_id=None) -> str:
    """Full number for the record's owner and the policy's roles; masked for everyone else."""
    request = context.get("request")
    return privacy.phone_for(getattr(request, "user", None), phone, owner_id)

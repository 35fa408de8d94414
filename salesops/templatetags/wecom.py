"""{% wecom_login_url next as url %} — the WeCom login link, or "" when WeCom is not configured."""

from __future__ import annotations

from urllib.parse import urlencode

from django import template
from django.urls import reverse

from salesops.integrations import wecom_oauth

register = template.Library()


@register.simple_tag
def wecom_login_url(next_url: str = "") -> str:
    if not wecom_oauth.configured():
        return ""
    url = reverse("wecom_login")
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url

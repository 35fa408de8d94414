"""Chinese unless the person chose English (REQUIREMENTS: "Simplified Chinese by default").

Django's LocaleMiddleware would otherwise follow the browser's Accept-Language, so a phone or a
wall-TV browser set to English would get English — and, while some apps are not translated yet,
a page mixing both. The explicit choice (the language switcher's cookie) still wins. Install it
right before `django.middleware.locale.LocaleMiddleware`.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class ChineseByDefaultMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)

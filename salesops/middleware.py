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


# Seconds a client should wait before resending when the database is busy.
DATABASE_BUSY_RETRY_AFTER = 5


def database_busy_response(request: HttpRequest) -> HttpResponse:
    """R1: a locked or timed-out database is a 503 the client can retry, never an HTML 500 —
    JSON with Retry-After for the API, a short Chinese page elsewhere."""
    from django.http import JsonResponse
    from django.utils.translation import gettext as _

    message = _("系统繁忙（数据库暂时被占用），请 %(s)s 秒后重试") % {"s": DATABASE_BUSY_RETRY_AFTER}
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"errors": {"database": [message]}}, status=503, json_dumps_params={"ensure_ascii": False})
    else:
        from django.utils.html import escape

        response = HttpResponse(
            f'<!doctype html><html lang="zh-hans"><meta charset="utf-8"><title>503</title><p>{escape(message)}</p></html>',
            status=503,
        )
    response["Retry-After"] = str(DATABASE_BUSY_RETRY_AFTER)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseBusyMiddleware:
    """Turns `OperationalError` (SQLite "database is locked", PostgreSQL lock_timeout /
    statement_timeout) raised by any view into a 503 with Retry-After (R1)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from django.db import OperationalError

        if isinstance(exception, OperationalError):
            import logging

            logging.getLogger(__name__).warning("database busy on %s: %s", request.path, exception)
            return database_busy_response(request)
        return None


FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class RejectNulCharactersMiddleware:
    """A NUL character in the path, a query parameter or a posted form field is never a real
    input, and PostgreSQL refuses it in every text column: answer 400 naming the problem (R4)
    instead of letting it reach a query and come back as a 500. Forms already refuse it in their
    fields; this covers the raw parameters, URL segments and admin object ids that skip forms."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._has_nul(request):
            from django.http import HttpResponseBadRequest
            from django.utils.translation import gettext as _

            return HttpResponseBadRequest(
                _("请求中含有不可见的空字符（NUL），已拒绝。请检查网址或表单内容后重试。"), content_type="text/plain; charset=utf-8"
            )
        return self.get_response(request)

    @staticmethod
    def _has_nul(request: HttpRequest) -> bool:
        if "\x00" in request.path:
            return True
        if any("\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists()):
            return True
        if request.method == "POST" and request.content_type in FORM_CONTENT_TYPES:
            return any("\x00" in key or any("\x00" in value for value in values) for key, values in request.POST.lists())
        return False

"""The one door to visit records (A3, V8): 404 outside the user's scope, 403 for someone who may
see but not change. Views never look visits up any other way."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from salesops.access import team_ids_of, sees_everything

from .models import Evidence, VisitTask, VisitTemplate

TASK_RELATED = ("rep", "rep__rep", "customer", "customer__hospital", "contact", "template")


def _task_queryset(user):
    return VisitTask.objects.visible_to(user).select_related(*TASK_RELATED)


def get_task_for_user(request: HttpRequest, pk, write: bool = False) -> VisitTask:
    """write=True: capturing evidence and filling the visit belong to the task's rep only."""
    try:
        task = _task_queryset(request.user).get(pk=pk)
    except (VisitTask.DoesNotExist, ValueError, TypeError):
        raise Http404("visit task")
    if write and task.rep_id != request.user.pk:
        raise PermissionDenied
    return task


def get_task_by_token_for_user(request: HttpRequest, token: str) -> VisitTask:
    """The QR code's target: the token alone is never enough — the user must also see the task."""
    try:
        return _task_queryset(request.user).get(token=str(token)[:64])
    except VisitTask.DoesNotExist:
        raise Http404("visit task")


def get_evidence_for_user(request: HttpRequest, pk) -> Evidence:
    try:
        return Evidence.objects.visible_to(request.user).select_related("task", "task__rep", "task__customer").get(pk=pk)
    except (Evidence.DoesNotExist, ValueError, TypeError):
        raise Http404("evidence")


def get_template_for_user(request: HttpRequest, pk, write: bool = False) -> VisitTemplate:
    try:
        template = VisitTemplate.objects.usable_by(request.user).get(pk=pk)
    except (VisitTemplate.DoesNotExist, ValueError, TypeError):
        raise Http404("visit template")
    if write and (template.is_library or not (sees_everything(request.user) or template.team_id in team_ids_of(request.user))):
        raise PermissionDenied
    return template

"""The one door to leads for views (A3): 404 outside scope, 403 may see but not change."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from salesops.access import is_manager

from .models import Lead


def can_change_lead(user, lead: Lead) -> bool:
    """The assignee works the lead; managers who can see it may act on it too."""
    return lead.assignee_id == user.pk or is_manager(user)


def get_lead_for_user(request: HttpRequest, pk, write: bool = False) -> Lead:
    try:
        lead = (
            Lead.objects.visible_to(request.user)
            .select_related("assignee", "assignee__rep", "introduced_by", "customer", "hospital", "product", "product__line")
            .get(pk=pk)
        )
    except (Lead.DoesNotExist, ValueError, TypeError):
        raise Http404("lead")
    if write and not can_change_lead(request.user, lead):
        raise PermissionDenied
    return lead

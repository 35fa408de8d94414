"""The one door to leads for views (A3): 404 outside scope, 403 may see but not change."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from salesops.access import role_of, sees_everything, team_ids_of
from salesops.models import Role

from .models import Lead


def can_change_lead(user, lead: Lead) -> bool:
    """R8: the assignee works the lead; a director or ops any lead; a supervisor only leads of
    their own teams (assigned to one of their reps, or still in the unassigned pool) — seeing a
    lead because one of their reps introduced it to another team does not let them change it.
    The services check this too, so no door (view, form, admin action) walks around it."""
    if not getattr(user, "is_authenticated", False):
        return False
    if lead.assignee_id == user.pk or sees_everything(user):
        return True
    if role_of(user) != Role.SUPERVISOR:
        return False
    if lead.assignee_id is None:
        return True
    assignee_rep = getattr(lead.assignee, "rep", None)
    return bool(assignee_rep and assignee_rep.team_id in team_ids_of(user))


def may_hand_to(user, to_user) -> bool:
    """R8: a supervisor reassigns only to reps of their own teams."""
    if sees_everything(user):
        return True
    rep = getattr(to_user, "rep", None)
    return bool(rep and rep.team_id in team_ids_of(user))


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

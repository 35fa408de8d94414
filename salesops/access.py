"""Who may see what (A3). One door per app: views look objects up through these helpers only.

rep         own and collaborated customers (collaborated = has an activity on the customer)
supervisor  the teams they supervise (and their own team)
director    everything
ops         everything in admin; in the app like a director
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from .models import Customer, Role

User = get_user_model()


def role_of(user) -> str | None:
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return Role.DIRECTOR
    rep = getattr(user, "rep", None)
    return rep.role if rep else None


def is_manager(user) -> bool:
    """Supervisors, directors and ops see beyond their own records."""
    return role_of(user) in (Role.SUPERVISOR, Role.DIRECTOR, Role.OPS)


def sees_everything(user) -> bool:
    return role_of(user) in (Role.DIRECTOR, Role.OPS)


def team_ids_of(user) -> list[int]:
    """Teams whose records this user may see as a supervisor (empty for reps; unused for directors)."""
    rep = getattr(user, "rep", None)
    if rep is None:
        return []
    # K1: read once per request (the user object lives as long as the request); a list page asks
    # for the scope and for the reassignable reps.
    cached = getattr(user, "_team_ids_of", None)
    if cached is not None and cached[0] == (rep.role, rep.team_id):
        return list(cached[1])
    ids = set(user.supervised_teams.values_list("pk", flat=True))
    if rep.role == Role.SUPERVISOR and rep.team_id:
        ids.add(rep.team_id)
    user._team_ids_of = ((rep.role, rep.team_id), sorted(ids))
    return sorted(ids)


def users_visible_to(user) -> QuerySet:
    """The people whose work this user may see: self; a supervisor's team; everyone for a director."""
    if sees_everything(user):
        return User.objects.all()
    if role_of(user) == Role.SUPERVISOR:
        return User.objects.filter(rep__team__in=team_ids_of(user)) | User.objects.filter(pk=user.pk)
    return User.objects.filter(pk=user.pk)


def can_see_user(viewer, other) -> bool:
    return users_visible_to(viewer).filter(pk=other.pk).exists()


def get_customer_for_user(request: HttpRequest, pk, write: bool = False) -> Customer:
    """404 if the user may not see the customer; 403 if they may see but not change it."""
    try:
        customer = Customer.objects.visible_to(request.user).select_related("hospital", "department", "owner").get(pk=pk)
    except (Customer.DoesNotExist, ValueError, TypeError):
        raise Http404("customer")
    if write and not (is_manager(request.user) or customer.owner_id == request.user.pk):
        raise PermissionDenied
    return customer

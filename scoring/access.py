"""Who may see which scoring records (A3). The one door of this app: views look things up here.

points and statements  a rep their own; a supervisor their team's; director/ops everyone (else 404)
a bonus split          its share holders and the deal owner; supervisors of any of them; director
approving/correcting   the supervisor of the deal owner's team, or a director — holding no share in
                       it, never ops (T6; else 403)
the collaboration board every signed-in user (S4); drilling into a customer works for the board's
                       top-10 customers and for customers the user may see anyway
an activity (proof)    whoever may see its customer or the rep who did it
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest

from salesops.access import role_of, sees_everything, team_ids_of, users_visible_to
from salesops.models import Activity, Customer, Role

from .models import BonusSplit

User = get_user_model()


def get_person_for_user(request: HttpRequest, user_id) -> "User":
    """The rep whose points or statement the request may read."""
    try:
        return users_visible_to(request.user).select_related("rep").get(pk=user_id)
    except (User.DoesNotExist, ValueError, TypeError):
        raise Http404("person")


def splits_visible_to(user) -> QuerySet:
    splits = BonusSplit.objects.all()
    if sees_everything(user):
        return splits
    mine = Q(shares__rep=user) | Q(deal__owner=user)
    if role_of(user) == Role.SUPERVISOR:
        teams = team_ids_of(user)
        mine |= Q(shares__rep__rep__team__in=teams) | Q(deal__owner__rep__team__in=teams)
    return splits.filter(pk__in=splits.filter(mine).values("pk"))


def may_decide_split(user, split: BonusSplit) -> bool:
    """T6: a supervisor of the owner's team or a director holding no share in it; never ops."""
    from .services import split_approval_refusal

    return split_approval_refusal(user, split) is None


def get_split_for_user(request: HttpRequest, pk, write: bool = False) -> BonusSplit:
    try:
        split = (
            splits_visible_to(request.user)
            .select_related("deal", "deal__customer", "deal__hospital", "deal__owner", "deal__owner__rep", "policy")
            .get(pk=pk)
        )
    except (BonusSplit.DoesNotExist, ValueError, TypeError):
        raise Http404("split")
    if write and not may_decide_split(request.user, split):
        raise PermissionDenied
    return split


def get_activity_for_user(request: HttpRequest, pk) -> Activity:
    user = request.user
    try:
        activity = Activity.objects.select_related("rep", "customer", "customer__hospital", "team").get(pk=pk)
    except (Activity.DoesNotExist, ValueError, TypeError):
        raise Http404("activity")
    if activity.rep_id == user.pk or sees_everything(user):
        return activity
    if activity.customer_id and Customer.objects.visible_to(user).filter(pk=activity.customer_id).exists():
        return activity
    if users_visible_to(user).filter(pk=activity.rep_id).exists():
        return activity
    raise Http404("activity")


def get_board_customer_for_user(request: HttpRequest, pk, board_customer_ids: list[int]) -> Customer:
    """A customer to drill into from the board: one the board shows, or one the user may see."""
    try:
        customer = Customer.objects.select_related("hospital").get(pk=pk)
    except (Customer.DoesNotExist, ValueError, TypeError):
        raise Http404("customer")
    if customer.pk in board_customer_ids or Customer.objects.visible_to(request.user).filter(pk=pk).exists():
        return customer
    raise Http404("customer")

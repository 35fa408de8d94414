"""The one door of lead-to-cash (A3). Views look records up only through these helpers.

quotes, deals, receivables  visible exactly when the customer is (`Customer.objects.visible_to`):
                            rep — own and collaborated customers; supervisor — the team's; director all.
                            Changing a quote: its rep or a manager who sees it. Recording a
                            payment on a deal: its owner, a rep involved in it, or a manager.
discount approvals          decided by the supervisor of the quote rep's team, or a director/ops.
bank statements             finance (director, ops) upload and see every row; a supervisor sees
                            and confirms rows whose proposals point at the team's receivables.
Anything outside scope is a 404 (files included); seen-but-not-changeable is a 403.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404, HttpRequest

from salesops.access import is_manager, role_of, sees_everything, team_ids_of
from salesops.models import Role

from .models import BankStatement, Deal, DiscountApproval, MatchAllocation, Quote, Receivable, StatementRow


def _get(queryset: QuerySet, pk):
    try:
        return queryset.get(pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise Http404(queryset.model._meta.model_name)


def can_change_quote(user, quote: Quote) -> bool:
    return quote.rep_id == user.pk or is_manager(user)


def get_quote_for_user(request: HttpRequest, pk, write: bool = False) -> Quote:
    quote = _get(Quote.objects.visible_to(request.user).select_related("customer__hospital", "rep__rep__team"), pk)
    if write and not can_change_quote(request.user, quote):
        raise PermissionDenied
    return quote


def can_decide_approval(user, approval: DiscountApproval) -> bool:
    if approval.requested_by_id == user.pk:
        return False
    if sees_everything(user):
        return True
    if role_of(user) != Role.SUPERVISOR:
        return False
    rep = getattr(approval.version.quote.rep, "rep", None)
    return bool(rep and rep.team_id in team_ids_of(user))


def get_approval_for_user(request: HttpRequest, pk, write: bool = False) -> DiscountApproval:
    visible_quotes = Quote.objects.visible_to(request.user).values("pk")
    approval = _get(
        DiscountApproval.objects.filter(version__quote__in=visible_quotes).select_related(
            "version__quote__rep__rep", "version__quote__customer", "requested_by"
        ),
        pk,
    )
    if write and not can_decide_approval(request.user, approval):
        raise PermissionDenied
    return approval


def approvals_to_decide(user) -> QuerySet:
    """Pending approvals this user may decide."""
    from .models import ApprovalStatus

    pending = DiscountApproval.objects.filter(status=ApprovalStatus.PENDING).exclude(requested_by=user)
    if sees_everything(user):
        return pending
    if role_of(user) != Role.SUPERVISOR:
        return pending.none()
    return pending.filter(version__quote__rep__rep__team__in=team_ids_of(user))


def can_change_deal(user, deal: Deal) -> bool:
    return deal.owner_id == user.pk or is_manager(user) or deal.reps.filter(pk=user.pk).exists()


def get_deal_for_user(request: HttpRequest, pk, write: bool = False) -> Deal:
    deal = _get(
        Deal.objects.visible_to(request.user).select_related("customer", "hospital", "owner__rep__team", "quote_version__quote"),
        pk,
    )
    if write and not can_change_deal(request.user, deal):
        raise PermissionDenied
    return deal


def is_finance(user) -> bool:
    """Finance work (uploading statements, every row) is for directors and ops staff."""
    return sees_everything(user)


def can_reverse_payments(user) -> bool:
    """C5: finance (directors, ops) or a supervisor reverses a payment — never a rep."""
    return is_manager(user)


def can_review_statements(user) -> bool:
    return is_manager(user)


def statement_rows_for(user) -> QuerySet:
    """Rows a user may review: all for finance; for a supervisor, rows with a proposal on a
    receivable the supervisor can see; none for reps."""
    rows = StatementRow.objects.all()
    if is_finance(user):
        return rows
    if not can_review_statements(user):
        return rows.none()
    visible = Receivable.objects.visible_to(user).values("pk")
    on_visible = MatchAllocation.objects.filter(proposal__row=OuterRef("pk"), receivable__in=visible)
    return rows.filter(Exists(on_visible))


def get_statement_row_for_user(request: HttpRequest, pk) -> StatementRow:
    return _get(statement_rows_for(request.user).select_related("statement", "account", "decided_by"), pk)


def get_statement_for_user(request: HttpRequest, pk) -> BankStatement:
    if not is_finance(request.user):
        raise Http404("statement")
    return _get(BankStatement.objects.select_related("account", "uploaded_by"), pk)

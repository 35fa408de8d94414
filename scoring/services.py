"""Scoring workflows: publishing rule versions, deriving points, creating, approving and correcting
bonus splits. Views, the admin, the sweep task and the demo seed all go through these."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, Min, OuterRef, Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from leads.cash.models import Deal, DealStatus, Receivable
from salesops.access import role_of, team_ids_of
from salesops.lib.money import to_cents
from salesops.models import Role
from salesops.notifications import notification_enqueue

from .derivation import insert_contributions, points_derive, points_sweep, reversals_due
from .models import (
    Behaviour,
    BonusPolicy,
    BonusShare,
    BonusSplit,
    Contribution,
    ContributionReview,
    ContributionRule,
    PoolBasis,
    ReviewStatus,
    ScoringSettings,
    SplitStage,
    SplitStatus,
)
from .splits import Claimant, largest_remainder_split


# --- Rules (S1) ------------------------------------------------------------------------------


def rule_publish(*, behaviour: str, points: int, effective_from: datetime | None = None, note: str = "", by=None) -> ContributionRule:
    """A new version of a behaviour's points, in force from `effective_from` (default: now).
    Earlier actions keep the points they earned; `clean()` refuses a date before a scored action."""
    rule = ContributionRule(behaviour=behaviour, points=points, effective_from=effective_from or timezone.now(), note=note)
    rule.full_clean()
    if by is not None:
        rule._history_user = by
    rule.save()
    return rule


# --- Splits (S3) -----------------------------------------------------------------------------


def split_window(deal: Deal, window_days: int) -> tuple[datetime, datetime]:
    """Points count when they occurred in (closed_at − window_days, closed_at]."""
    return deal.closed_at - timedelta(days=window_days), deal.closed_at


def deal_is_settled(deal: Deal) -> bool:
    receivables = Receivable.objects.filter(deal=deal)
    return receivables.exists() and not receivables.filter(paid_amount__lt=F("amount")).exists()


def split_stage_for(deal: Deal, now: datetime | None = None) -> tuple[str, datetime]:
    """T4: (stage, until when 回款推动 counts). Final once the receivables are settled, or at the
    cut-off after close; provisional before that."""
    now = now or timezone.now()
    cutoff = deal.closed_at + timedelta(days=ScoringSettings.load().split_final_after_days)
    if deal_is_settled(deal):
        return SplitStage.FINAL_SETTLED, min(now, cutoff)
    if now >= cutoff:
        return SplitStage.FINAL_CUTOFF, cutoff
    return SplitStage.PROVISIONAL, now


def counted_contributions(deal: Deal, start: datetime, end: datetime, payments_until: datetime):
    """What a deal's split counts: the customer's points in the window (reversals go with the row
    they reverse), plus the 回款推动 for this deal's own money — which arrives after close (T4)."""
    in_window = Q(reverses__isnull=True, occurred_at__gt=start, occurred_at__lte=end) | Q(
        reverses__isnull=False, reverses__occurred_at__gt=start, reverses__occurred_at__lte=end
    )
    window_points = ~Q(behaviour=Behaviour.PAYMENT_PUSH) & in_window
    own_money = Q(behaviour=Behaviour.PAYMENT_PUSH, deal=deal, occurred_at__lte=payments_until)
    return Contribution.objects.payable().filter(customer_id=deal.customer_id).filter(window_points | own_money)


def pool_for(deal: Deal, basis: str, rate_percent: Decimal | None, fixed_amount: Decimal | None) -> Decimal:
    if basis == PoolBasis.FIXED:
        return to_cents(fixed_amount)
    return to_cents(deal.amount * rate_percent / Decimal(100))


def _build_split(
    *,
    deal: Deal,
    policy: BonusPolicy,
    basis: str,
    rate_percent: Decimal | None,
    pool: Decimal,
    window_days: int,
    corrects=None,
    reason="",
    by=None,
) -> BonusSplit:
    start, end = split_window(deal, window_days)
    stage, payments_until = split_stage_for(deal)
    counted = counted_contributions(deal, start, end, payments_until)
    per_rep = list(
        counted.values("rep_id")
        .annotate(points=Sum("points"), first_at=Min("occurred_at"))
        .filter(points__gt=0)
        .order_by("rep_id")
    )
    total = sum(row["points"] for row in per_rep)
    split = BonusSplit(
        deal=deal,
        corrects=corrects,
        policy=policy,
        basis=basis,
        rate_percent=rate_percent if basis == PoolBasis.RATE else None,
        deal_amount=deal.amount,
        pool=pool,
        window_days=window_days,
        window_start=start,
        window_end=end,
        total_points=total,
        fell_back_to_owner=total == 0,
        stage=stage,
        reason=reason,
        created_by=by,
    )
    split.full_clean(exclude=["deal", "corrects", "policy", "created_by"])
    if by is not None:
        split._history_user = by
    split.save()
    if total == 0:
        shares = [
            BonusShare(split=split, rep_id=deal.owner_id, points=0, exact_quota=pool, amount=pool, rank=1)
        ]
    else:
        claimants = [Claimant(row["rep_id"], row["points"], row["first_at"]) for row in per_rep]
        first_at = {row["rep_id"]: row["first_at"] for row in per_rep}
        shares = [
            BonusShare(
                split=split,
                rep_id=allocation.key,
                points=allocation.points,
                exact_quota=allocation.exact_quota,
                amount=allocation.amount,
                remainder_cent=allocation.remainder_cent,
                rank=allocation.rank,
                first_contribution_at=first_at[allocation.key],
            )
            for allocation in largest_remainder_split(pool, claimants)
        ]
    bulk_create_with_history(shares, BonusShare, default_user=by)
    split.contributions.set(list(counted.values_list("pk", flat=True)))
    return split


def split_create_for_deal(*, deal: Deal, by=None) -> BonusSplit | None:
    """The deal's original split (created once; a second call returns the existing chain's head).
    None for a deal that is not won or that no bonus policy covers."""
    existing = BonusSplit.objects.current().filter(deal=deal).first()
    if existing is not None:
        return existing
    if deal.status != DealStatus.WON:
        return None
    policy = BonusPolicy.in_force_at(deal.closed_at)
    if policy is None:
        return None
    try:
        with transaction.atomic():
            return _build_split(
                deal=deal,
                policy=policy,
                basis=policy.basis,
                rate_percent=policy.rate_percent,
                pool=pool_for(deal, policy.basis, policy.rate_percent, policy.fixed_amount),
                window_days=policy.window_days,
                by=by,
            )
    except IntegrityError:
        # Another sweep created it a moment ago; theirs is the split.
        return BonusSplit.objects.current().get(deal=deal)


def deals_awaiting_split():
    return Deal.objects.filter(status=DealStatus.WON).exclude(Exists(BonusSplit.objects.filter(deal=OuterRef("pk"))))


def splits_create_missing() -> int:
    """One split per newly won deal (idempotent: a deal with any split is skipped)."""
    created = 0
    for deal in deals_awaiting_split().order_by("closed_at", "pk"):
        if split_create_for_deal(deal=deal) is not None:
            created += 1
    return created


def splits_finalize_due(now: datetime | None = None) -> int:
    """T4: a provisional split whose deal is now settled (or past the cut-off) gets its final
    version — a new entry in the chain, counting the 回款推动 that brought the money in."""
    now = now or timezone.now()
    cutoff_days = ScoringSettings.load().split_final_after_days
    open_receivable = Receivable.objects.filter(deal=OuterRef("deal"), paid_amount__lt=F("amount"))
    any_receivable = Receivable.objects.filter(deal=OuterRef("deal"))
    due = (
        BonusSplit.objects.current()
        .filter(stage=SplitStage.PROVISIONAL)
        .filter(
            (Exists(any_receivable) & ~Exists(open_receivable)) | Q(deal__closed_at__lte=now - timedelta(days=cutoff_days))
        )
        .order_by("pk")
    )
    made = 0
    for split in due:
        try:
            split_correct(split=split, reason=_("回款结清或到达截止日：生成终版分配"), by=None, final=True)
            made += 1
        except (ValidationError, IntegrityError):
            continue  # another sweep got there first
    return made


def split_approval_refusal(user, split: BonusSplit) -> str | None:
    """T6: why `user` may not approve `split` (None when they may). Nobody approves a split in
    which they hold a share; a supervisor's own share goes to a director; ops never approve."""
    rep = getattr(user, "rep", None)
    if rep is not None and rep.role == Role.OPS:
        return _("运营不能审批奖金分配。")
    role = role_of(user)
    if role not in (Role.SUPERVISOR, Role.DIRECTOR):
        return _("只有主管或总监可以审批奖金分配。")
    if split.shares.filter(rep=user).exists() or split.deal.owner_id == user.pk:
        return _("你在这笔分配中有份额，不能自己审批，请由总监审批。")
    if role == Role.SUPERVISOR:
        owner_team = getattr(getattr(split.deal.owner, "rep", None), "team_id", None)
        if owner_team is None or owner_team not in team_ids_of(user):
            return _("只有负责人所在团队的主管或总监可以审批。")
    return None


def _require_current(split: BonusSplit) -> None:
    if BonusSplit.objects.filter(corrects=split).exists():
        raise ValidationError(_("该分配已被更正，请在最新的分配上操作。"))


@transaction.atomic
def split_approve(*, split: BonusSplit, by, notify: bool = True) -> BonusSplit:
    """Freeze the split: from now on it never changes (a correction is a new split)."""
    split = BonusSplit.objects.select_for_update(of=("self",)).select_related("deal__owner__rep").get(pk=split.pk)
    _require_current(split)
    refusal = split_approval_refusal(by, split)
    if refusal:
        raise PermissionDenied(refusal)
    if split.status == SplitStatus.APPROVED:
        raise ValidationError(_("该分配已审批，不能重复审批。"))
    split.status = SplitStatus.APPROVED
    split.approved_by = by
    split.approved_at = timezone.now()
    split._history_user = by
    split.save(update_fields=["status", "approved_by", "approved_at"])
    if notify:
        url = reverse("scoring:split_detail", args=[split.pk])
        for share in split.shares.select_related("rep"):
            notification_enqueue(
                recipient=share.rep,
                title=_("奖金分配已审批：%(customer)s ¥%(amount)s")
                % {"customer": split.deal.customer.name, "amount": share.amount},
                body=_("你的贡献值 %(points)s 分，分得 ¥%(amount)s。") % {"points": share.points, "amount": share.amount},
                url=url,
                dedupe_key=f"scoring.split.{split.pk}.approved.{share.rep_id}",
            )
    return split


@transaction.atomic
def split_correct(*, split: BonusSplit, reason: str, by, pool: Decimal | None = None, final: bool = False) -> BonusSplit:
    """A new split that replaces `split` in its deal's chain, recomputed from today's points and
    today's deal amount with the numbers the split was made with (rate or fixed pool, window) —
    or with a corrected pool when one is given. The old split stays exactly as it was — approved
    ones included — and the new one needs approval again."""
    split = BonusSplit.objects.select_for_update().get(pk=split.pk)
    _require_current(split)
    if by is not None and not final:
        refusal = split_approval_refusal(by, split)
        if refusal:
            raise PermissionDenied(refusal)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("请填写更正原因。")})
    if pool is not None:
        pool = Decimal(pool)
        if pool < 0 or pool != to_cents(pool):
            raise ValidationError({"pool": _("奖金池必须是不小于 0 的金额，精确到分。")})
    deal = Deal.objects.get(pk=split.deal_id)
    if pool is None:
        pool = pool_for(deal, split.basis, split.rate_percent, split.pool)
    return _build_split(
        deal=deal,
        policy=split.policy,
        basis=split.basis,
        rate_percent=split.rate_percent,
        pool=pool,
        window_days=split.window_days,
        corrects=split,
        reason=reason,
        by=by,
    )


# --- The sweep ------------------------------------------------------------------------------


def scoring_sweep(*, since: datetime | None = None) -> dict[str, int]:
    """What the every-minute schedule runs: score new proofs, then split newly won deals (after
    the points, so a deal's split counts everything already in the ledger)."""
    return {
        # K4: the schedule's sweep (no `since`) reads from its cursor; recompute reads its window.
        "contributions": points_derive(since=since) if since is not None else points_sweep(),
        "splits": splits_create_missing(),
        "final_splits": splits_finalize_due(),
    }


# --- Review of held points (T2) ---------------------------------------------------------------


def reviews_visible_to(user):
    """The review queue: a supervisor sees their teams' held points; a director everyone's."""
    reviews = ContributionReview.objects.select_related(
        "contribution", "contribution__rep", "contribution__customer", "contribution__activity", "decided_by"
    )
    role = role_of(user)
    if role == Role.DIRECTOR and getattr(getattr(user, "rep", None), "role", None) != Role.OPS:
        return reviews
    if role == Role.SUPERVISOR:
        teams = team_ids_of(user)
        return reviews.filter(
            Q(contribution__team__in=teams) | Q(contribution__rep__rep__team__in=teams)
        ).exclude(contribution__rep=user)
    return reviews.none()


@transaction.atomic
def contribution_review_decide(*, review: ContributionReview, accept: bool, reason: str, by) -> ContributionReview:
    """Accept (the held points count) or reject (a negative counter-entry is appended, T5). The
    reason is required either way; the decision is final and history-tracked."""
    review = ContributionReview.objects.select_for_update(of=("self",)).select_related("contribution").get(pk=review.pk)
    if not reviews_visible_to(by).filter(pk=review.pk).exists():
        raise PermissionDenied(_("只有该销售所在团队的主管或总监可以审核。"))
    if review.status != ReviewStatus.PENDING:
        raise ValidationError(_("这条贡献值已经审核过了。"))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("请填写审核意见。")})
    if len(reason) > 300:
        raise ValidationError({"reason": _("审核意见最多 300 字。")})
    review.status = ReviewStatus.ACCEPTED if accept else ReviewStatus.REJECTED
    review.reason = reason
    review.decided_by = by
    review.decided_at = timezone.now()
    review._history_user = by
    review.save(update_fields=["status", "reason", "decided_by", "decided_at"])
    if not accept:
        insert_contributions([row for row in reversals_due() if row.reverses_id == review.contribution_id])
    return review

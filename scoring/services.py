"""Scoring workflows: publishing rule versions, deriving points, creating, approving and correcting
bonus splits. Views, the admin, the sweep task and the demo seed all go through these."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, Min, OuterRef, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from leads.cash.models import Deal, DealStatus
from salesops.lib.money import to_cents
from salesops.notifications import notification_enqueue

from .derivation import points_derive
from .models import (
    BonusPolicy,
    BonusShare,
    BonusSplit,
    Contribution,
    ContributionRule,
    PoolBasis,
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
    counted = Contribution.objects.filter(
        customer_id=deal.customer_id, occurred_at__gt=start, occurred_at__lte=end, points__gt=0
    )
    per_rep = list(
        counted.values("rep_id").annotate(points=Sum("points"), first_at=Min("occurred_at")).order_by("rep_id")
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


def _require_current(split: BonusSplit) -> None:
    if BonusSplit.objects.filter(corrects=split).exists():
        raise ValidationError(_("该分配已被更正，请在最新的分配上操作。"))


@transaction.atomic
def split_approve(*, split: BonusSplit, by, notify: bool = True) -> BonusSplit:
    """Freeze the split: from now on it never changes (a correction is a new split)."""
    split = BonusSplit.objects.select_for_update().get(pk=split.pk)
    _require_current(split)
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
def split_correct(*, split: BonusSplit, reason: str, by, pool: Decimal | None = None) -> BonusSplit:
    """A new split that replaces `split` in its deal's chain, recomputed from today's points and
    today's deal amount with the numbers the split was made with (rate or fixed pool, window) —
    or with a corrected pool when one is given. The old split stays exactly as it was — approved
    ones included — and the new one needs approval again."""
    split = BonusSplit.objects.select_for_update().get(pk=split.pk)
    _require_current(split)
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
    return {"contributions": points_derive(since=since), "splits": splits_create_missing()}

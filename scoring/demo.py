"""Demo data for scoring (A5): points for everything the other apps' seeds put in the ledger, a
split for every won deal, most older splits approved by the owner's supervisor.

Nothing here invents activity: points only ever come from the ledger (S2). On a thin ledger this
simply derives less. Deterministic (choices keyed by the deal) and idempotent (derivation and
split creation skip what exists; an approved split is never touched again).
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.utils import timezone

from .defaults import install_defaults
from .models import BonusPolicy, BonusSplit, ContributionRule, SplitStatus
from .services import scoring_sweep, split_approval_refusal, split_approve

APPROVE_AFTER_DAYS = 14  # splits of deals closed longer ago than this are usually approved by now
APPROVED_SHARE = 0.85


def seed(ctx) -> None:
    install_defaults(ContributionRule, BonusPolicy)
    result = scoring_sweep()
    cutoff = timezone.now() - timedelta(days=APPROVE_AFTER_DAYS)
    approved = 0
    drafts = (
        BonusSplit.objects.current()
        .filter(status=SplitStatus.DRAFT, deal__closed_at__lt=cutoff)
        .select_related("deal", "deal__owner__rep__team__supervisor")
        .order_by("deal__closed_at", "pk")
    )
    for split in drafts:
        if random.Random(f"scoring-approve-{split.deal_id}").random() >= APPROVED_SHARE:
            continue
        team = getattr(getattr(split.deal.owner, "rep", None), "team", None)
        approver = (team.supervisor if team else None) or ctx.director
        if approver is not None and split_approval_refusal(approver, split):
            approver = ctx.director  # T6: a supervisor holding a share leaves it to the director
        if approver is None or split_approval_refusal(approver, split):
            continue
        split_approve(split=split, by=approver, notify=False)
        approved += 1
    ctx.say(
        f"贡献值：新增 {result['contributions']} 条；奖金分配：新增 {result['splits']} 条，"
        f"审批 {approved} 条（共 {BonusSplit.objects.current().count()} 条）"
    )

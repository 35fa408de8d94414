"""The quote version lifecycle (C4) as ONE table: services check a move here before making it, views
pick the version an action applies to here, and templates show a button only when the table allows
the move. docs/cash.md prints the same table (a test keeps the two in step).

    state        move       → state        who
    draft        send       → sent         rep / manager (discount approval first if over the line)
    draft        discard    → discarded    rep / manager, with a reason
    draft        close      → discarded    system: the quote was confirmed or lost meanwhile
    sent         confirm    → confirmed    rep / manager (the won deal and its plan come with it)
    sent         reject     → rejected     rep / manager
    sent         lose       → rejected     rep / manager (a lost deal with its reason)
    sent         revise     → sent         rep / manager: the next draft at current list prices
    sent         supersede  → superseded   system: a later version was sent
    sent         expire     → expired      system: daily, past its validity
    rejected     revise     → rejected     (next draft)
    rejected     lose       → rejected     (a lost deal)
    expired      revise     → expired      (next draft)
    expired      lose       → expired      (a lost deal)
    confirmed, superseded, discarded: final.

A sent version stays actionable while a draft exists: confirming or losing it closes the draft
with a reason; rejecting it keeps the draft (it usually is the answer to the rejection).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import QuoteStatus as S


class QuoteAction(models.TextChoices):
    SEND = "send", gettext_lazy("发送报价")
    DISCARD = "discard", gettext_lazy("作废草稿")
    CLOSE = "close", gettext_lazy("关闭草稿")
    CONFIRM = "confirm", gettext_lazy("客户确认")
    REJECT = "reject", gettext_lazy("客户拒绝")
    LOSE = "lose", gettext_lazy("记为丢单")
    REVISE = "revise", gettext_lazy("生成新版本")
    SUPERSEDE = "supersede", gettext_lazy("被新版本取代")
    EXPIRE = "expire", gettext_lazy("过期")


A = QuoteAction

TRANSITIONS: dict[str, dict[str, str]] = {
    S.DRAFT: {A.SEND: S.SENT, A.DISCARD: S.DISCARDED, A.CLOSE: S.DISCARDED},
    S.SENT: {
        A.CONFIRM: S.CONFIRMED,
        A.REJECT: S.REJECTED,
        A.LOSE: S.REJECTED,
        A.REVISE: S.SENT,
        A.SUPERSEDE: S.SUPERSEDED,
        A.EXPIRE: S.EXPIRED,
    },
    S.REJECTED: {A.REVISE: S.REJECTED, A.LOSE: S.REJECTED},
    S.EXPIRED: {A.REVISE: S.EXPIRED, A.LOSE: S.EXPIRED},
    S.CONFIRMED: {},
    S.SUPERSEDED: {},
    S.DISCARDED: {},
}

# Moves a person makes from the page; the rest are made by the system.
USER_ACTIONS = (A.SEND, A.DISCARD, A.CONFIRM, A.REJECT, A.LOSE, A.REVISE)


def allowed(status: str, action: str) -> bool:
    return action in TRANSITIONS.get(status, {})


def target(version, action: str) -> str:
    """The state `action` moves `version` to, or a ValidationError naming both."""
    try:
        return TRANSITIONS[version.status][action]
    except KeyError:
        raise ValidationError(
            _("报价 v%(n)d 当前为「%(status)s」，不能%(action)s。")
            % {"n": version.version, "status": version.get_status_display(), "action": QuoteAction(action).label}
        ) from None


def move(version, action: str, at, *, reason: str = "") -> None:
    """Apply the move to `version` in memory and save it (status + the time it happened)."""
    new_status = target(version, action)
    if new_status == version.status:
        return
    version.status = new_status
    stamp = {
        S.SENT: "sent_at",
        S.CONFIRMED: "confirmed_at",
        S.REJECTED: "rejected_at",
        S.EXPIRED: "expired_at",
        S.SUPERSEDED: "superseded_at",
        S.DISCARDED: "discarded_at",
    }[new_status]
    setattr(version, stamp, at)
    fields = ["status", stamp]
    if reason:
        version.closed_reason = reason[:200]
        fields.append("closed_reason")
    version.save(update_fields=fields)


def version_for(versions, action: str):
    """The version a page action applies to, from the quote's versions (any order): the open draft
    for send/discard, the latest sent version for confirm/reject, the latest version that allows
    the move for lose/revise. None when no version allows it."""
    ordered = sorted(versions, key=lambda v: -v.version)
    if action in (A.SEND, A.DISCARD):
        candidates = [v for v in ordered if v.status == S.DRAFT]
    elif action in (A.CONFIRM, A.REJECT):
        candidates = [v for v in ordered if v.status == S.SENT]
    else:
        candidates = [v for v in ordered if v.status not in (S.DRAFT, S.DISCARDED)][:1]
    candidates = [v for v in candidates if allowed(v.status, action)]
    return candidates[0] if candidates else None


def actions_for(versions, *, closed: bool = False) -> dict[str, object]:
    """{action: version} for every page action currently possible on the quote. While a draft is
    open, revise is not offered (the draft is the revision). `closed`: the quote already has a deal
    (won or lost) — nothing more happens to it."""
    if closed or any(v.status == S.CONFIRMED for v in versions):
        return {}
    available = {action: version_for(versions, action) for action in USER_ACTIONS}
    if available.get(A.SEND) is not None:
        available[A.REVISE] = None
    return {action: version for action, version in available.items() if version is not None}


def table_rows() -> list[tuple[str, str, str, bool]]:
    """(state, move, new state, made by a person) — the table docs/cash.md prints."""
    return [
        (state, action, new_state, action in USER_ACTIONS)
        for state, moves in TRANSITIONS.items()
        for action, new_state in moves.items()
    ]

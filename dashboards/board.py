"""今日战报 (D1): the data of the wall-TV board's three zones.

Each zone is a fixed, small number of aggregate queries (ticker 1, ranking 2, alerts 6) whatever
the size of the ledger: counting and ranking run in SQL, on indexed ranges ("today", "open",
"sent"), and only the few rows shown are fetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Sum
from django.db.models.functions import Coalesce

from leads.cash.models import Deal, DealStatus, QuoteStatus, QuoteVersion
from leads.models import OPEN_LEAD_STATUSES, Lead, LeadStatus
from salesops.models import Activity, Rep, Role

from .kpis import EVIDENCE_KIND_VALUES
from .periods import day_start, local_date

ZONES = ("ticker", "ranking", "alerts")
# Red covers every lead still being worked: a lead contacted once and then abandoned (status
# "contacted", not converted nor closed) is as much a dropped ball as one never touched.
RED_STATUSES = (*OPEN_LEAD_STATUSES, LeadStatus.CONTACTED)


def fingerprint(*parts) -> str:
    """A short digest of exactly what a zone shows (ids, states, displayed ages): board.js skips a
    swap only when it is unchanged, so a replaced row is always swapped in (D9)."""
    import hashlib

    return hashlib.sha1(repr(parts).encode()).hexdigest()[:16]

RED_AFTER = timedelta(hours=48)
YELLOW_AFTER = timedelta(hours=72)
GREEN_PROGRESS = Decimal("0.90")


def refresh_seconds() -> int:
    return int(getattr(settings, "DASHBOARDS_BOARD_REFRESH_SECONDS", 15))


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def ticker(now: datetime) -> dict:
    """The latest won deals: hospital, product models, amount."""
    deals = list(
        Deal.objects.filter(status=DealStatus.WON, closed_at__lte=now)
        .select_related("hospital", "owner")
        .only("pk", "amount", "product_summary", "closed_at", "hospital__name", "owner__first_name", "owner__last_name", "owner__username")
        .order_by("-closed_at", "-pk")[: _setting("DASHBOARDS_TICKER_SIZE", 10)]
    )
    return {
        "deals": deals,
        # Unchanged data keeps the scrolling strip running instead of restarting it (board.js).
        "fingerprint": fingerprint([(deal.pk, str(deal.amount), deal.product_summary, deal.closed_at.isoformat()) for deal in deals]),
        "seconds_per_loop": max(20, 7 * len(deals)),
    }


@dataclass
class RankRow:
    rank: int
    rep_id: int
    name: str
    team: str
    count: int
    share: float  # of the leader's count, for the bar


@dataclass
class TeamRow:
    team_id: int | None
    name: str
    total: int
    active_reps: int
    members: int

    @property
    def per_rep(self) -> float | None:
        return round(self.total / self.members, 1) if self.members else None


def ranking(now: datetime) -> dict:
    """Each person's count of evidence-backed actions today (Asia/Shanghai), ranked, with the teams'
    totals. Today's rows are found through the (kind, occurred_at) index."""
    start = day_start(local_date(now))
    rows = list(
        Activity.objects.filter(kind__in=EVIDENCE_KIND_VALUES, occurred_at__gte=start, occurred_at__lt=start + timedelta(days=1))
        .values("rep_id", "rep__first_name", "rep__last_name", "rep__username", "team_id", "team__name")
        .annotate(n=Count("id"))
        .order_by("-n", "rep__username")
    )
    members = {
        row["team_id"]: (row["team__name"], row["n"])
        for row in Rep.objects.filter(role=Role.REP, team__isnull=False).values("team_id", "team__name").annotate(n=Count("id")).order_by()
    }
    leader = rows[0]["n"] if rows else 0
    ranked: list[RankRow] = []
    previous, rank = None, 0
    teams: dict = {team_id: TeamRow(team_id, name, 0, 0, size) for team_id, (name, size) in members.items()}
    for position, row in enumerate(rows, start=1):
        if row["n"] != previous:  # ties share a rank (1, 2, 2, 4)
            rank, previous = position, row["n"]
        name = f"{row['rep__last_name']}{row['rep__first_name']}".strip() or row["rep__username"]
        ranked.append(RankRow(rank, row["rep_id"], name, row["team__name"] or "", row["n"], row["n"] / leader if leader else 0))
        team = teams.setdefault(row["team_id"], TeamRow(row["team_id"], row["team__name"] or "—", 0, 0, 0))
        team.total += row["n"]
        team.active_reps += 1
    size = _setting("DASHBOARDS_RANKING_SIZE", 14)
    team_rows = sorted(teams.values(), key=lambda t: (-t.total, t.name))
    day = local_date(now)
    shown = ranked[:size]
    return {
        "rows": shown,
        "more": max(0, len(ranked) - size),
        "teams": team_rows,
        "total": sum(row.count for row in ranked),
        "day": day,
        "fingerprint": fingerprint(
            day.isoformat(),
            [(r.rank, r.rep_id, r.name, r.team, r.count) for r in shown],
            [(t.team_id, t.name, t.total, t.active_reps, t.members) for t in team_rows],
            max(0, len(ranked) - size),
        ),
    }


def red_leads(now: datetime):
    """Leads still being worked (new, assigned, acknowledged, contacted) not followed up for more
    than 48 h: coalesce(last_contact_at, assigned_at).

    One SELECT per open status, glued with UNION ALL: with "status IN (…)" SQLite's planner
    (which cannot tell that open leads are rare) scans the whole table; per status it walks the
    (status, …) index."""
    parts = [
        Lead.objects.filter(status=status)
        .annotate(last_touch=Coalesce("last_contact_at", "assigned_at"))
        .filter(last_touch__lt=now - RED_AFTER)
        .values_list("pk", "last_touch")
        .order_by()
        for status in RED_STATUSES
    ]
    return parts[0].union(*parts[1:], all=True).order_by()


def yellow_quotes(now: datetime):
    """Quote versions sent and neither confirmed nor rejected for more than 72 h."""
    return QuoteVersion.objects.filter(status=QuoteStatus.SENT, sent_at__lt=now - YELLOW_AFTER)


def green_deals(now: datetime):
    """Won deals whose receivables are paid ≥ 90 % (sum paid / sum due), closed within the board's
    horizon (`DASHBOARDS_GREEN_WINDOW_DAYS`, default 180; 0 = all time), newest first."""
    deals = Deal.objects.filter(status=DealStatus.WON)
    window = _setting("DASHBOARDS_GREEN_WINDOW_DAYS", 180)
    if window:
        deals = deals.filter(closed_at__gte=now - timedelta(days=window))
    money = DecimalField(max_digits=16, decimal_places=2)
    # paid/due >= 0.9  ⇔  10·paid − 9·due >= 0. Integer factors keep it exact in PostgreSQL's numeric;
    # SQLite stores decimals as binary floats, and half a tenth of a cent absorbs their rounding
    # (real differences are multiples of one cent).
    return (
        deals.annotate(due=Sum("receivables__amount"), paid=Sum("receivables__paid_amount"))
        .annotate(margin=ExpressionWrapper(F("paid") * 10 - F("due") * 9, output_field=money))
        .filter(due__gt=0, margin__gte=Decimal("-0.001"))
        .order_by("-closed_at", "-pk")
    )


def alerts(now: datetime) -> dict:
    """The three lights: counts and the top items, six queries whatever the data."""
    top = _setting("DASHBOARDS_ALERT_TOP", 3)
    red_rows = sorted(red_leads(now), key=lambda row: (row[1], row[0]))
    red_top = Lead.objects.select_related("assignee", "hospital").in_bulk([pk for pk, _touch in red_rows[:top]])
    touched = dict(red_rows[:top])
    red_leads_top = []
    for pk, _touch in red_rows[:top]:
        lead = red_top[pk]
        lead.last_touch = touched[pk]
        red_leads_top.append(lead)
    yellow = yellow_quotes(now)
    green = green_deals(now)
    # Only the ids cross into Python (no decimal conversion for hundreds of rows); the few shown
    # are loaded with their sums.
    green_ids = list(green.values_list("pk", flat=True))
    green_top = list(green.filter(pk__in=green_ids[:top]).select_related("hospital"))
    for deal in green_top:
        deal.progress = int(deal.paid / deal.due * 100)
    yellow_top = list(yellow.select_related("quote__customer", "quote__rep").order_by("sent_at", "pk")[:top])
    yellow_count = yellow.count()

    def hours(moment) -> int:
        return int((now - moment).total_seconds() // 3600) if moment else -1

    return {
        "fingerprint": fingerprint(
            local_date(now).isoformat(),
            (len(red_rows), yellow_count, len(green_ids)),
            [(lead.pk, lead.status, lead.assignee_id, hours(lead.last_touch)) for lead in red_leads_top],
            [(v.pk, v.status, str(v.total), hours(v.sent_at)) for v in yellow_top],
            [(deal.pk, deal.progress, str(deal.amount)) for deal in green_top],
        ),
        "red_count": len(red_rows),
        "red_top": red_leads_top,
        "yellow_count": yellow_count,
        "yellow_top": yellow_top,
        "green_count": len(green_ids),
        "green_top": green_top,
    }


def zone_context(zone: str, now: datetime) -> dict:
    return {"ticker": ticker, "ranking": ranking, "alerts": alerts}[zone](now)

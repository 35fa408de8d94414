"""Read models for the scoring pages. Every page aggregates in SQL with a fixed number of queries,
whatever the number of contributions it summarises (STYLE habit 5)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Min, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, ExtractHour, ExtractIsoWeekDay
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from salesops.models import Customer

from .models import Behaviour, BonusShare, BonusSplit, Contribution, ContributionReason, ReviewStatus
from .periods import Period

BEHAVIOURS = Behaviour.choices  # labels stay lazy: rendered in the request's language
# One colour per behaviour (the legend, the timeline marks and the PDF share them).
BEHAVIOUR_COLOURS = {
    Behaviour.LEAD_INTRODUCED: "#1f6feb",
    Behaviour.NEEDS_DIAGNOSIS: "#8250df",
    Behaviour.SOLUTION_DEMO: "#e36209",
    Behaviour.DEAN_VISIT: "#d93025",
    Behaviour.PAYMENT_PUSH: "#1e9e53",
}
WEEKDAYS = [_("周一"), _("周二"), _("周三"), _("周四"), _("周五"), _("周六"), _("周日")]


def person_name(first: str, last: str, username: str) -> str:
    """Chinese order: 王伟 (surname first); falls back to the login name."""
    return f"{last or ''}{first or ''}".strip() or username


def display_name(user) -> str:
    return person_name(user.first_name, user.last_name, user.username)


# --- 我的贡献值 and the team overview -------------------------------------------------------------


@dataclass
class PointsRow:
    key: int
    name: str
    month: int = 0
    quarter: int = 0
    actions: int = 0
    by_behaviour: dict = field(default_factory=dict)  # behaviour → {"month": n, "quarter": n}

    def cells(self) -> list[dict]:
        return [
            {"behaviour": b, "label": label, **self.by_behaviour.get(b, {"month": 0, "quarter": 0})}
            for b, label in BEHAVIOURS
        ]


def _pivot(rows, key: str, name) -> list[PointsRow]:
    table: dict[int, PointsRow] = {}
    for row in rows:
        entry = table.setdefault(row[key], PointsRow(row[key], name(row)))
        entry.month += row["month"]
        entry.quarter += row["quarter"]
        entry.actions += row["actions"]
        entry.by_behaviour[row["behaviour"]] = {"month": row["month"], "quarter": row["quarter"]}
    return sorted(table.values(), key=lambda entry: (-entry.quarter, -entry.month, entry.name))


def _month_and_quarter(queryset: QuerySet, month: Period, quarter: Period, *group) -> QuerySet:
    return (
        queryset.between(quarter.start, quarter.end)
        .values(*group, "behaviour")
        .annotate(
            quarter=Sum("points"),
            month=Coalesce(Sum("points", filter=Q(occurred_at__gte=month.start, occurred_at__lt=month.end)), 0),
            actions=Count("pk"),
        )
        .order_by()
    )


def behaviour_totals(rows: list[PointsRow]) -> list[dict]:
    totals = {b: {"behaviour": b, "label": label, "month": 0, "quarter": 0} for b, label in BEHAVIOURS}
    for row in rows:
        for behaviour, values in row.by_behaviour.items():
            totals[behaviour]["month"] += values["month"]
            totals[behaviour]["quarter"] += values["quarter"]
    return list(totals.values())


def points_summary(person, month: Period, quarter: Period) -> dict:
    """A rep's points this month and quarter, per customer and behaviour, and the latest actions."""
    rows = _month_and_quarter(
        Contribution.objects.payable().filter(rep=person), month, quarter, "customer_id", "customer__name"
    )
    customers = _pivot(rows, "customer_id", lambda row: row["customer__name"])
    recent = Contribution.objects.payable().filter(rep=person).select_related("customer", "activity")[:20]
    return {
        "customers": customers,
        "behaviour_totals": behaviour_totals(customers),
        "month_total": sum(row.month for row in customers),
        "quarter_total": sum(row.quarter for row in customers),
        "recent": recent,
    }


def team_summary(people: QuerySet, month: Period, quarter: Period) -> dict:
    """Points per person (month and quarter, per behaviour) for a supervisor's or director's view."""
    people = list(people.select_related("rep", "rep__team").order_by("rep__team__name", "username"))
    rows = _month_and_quarter(
        Contribution.objects.payable().filter(rep__in=[person.pk for person in people]), month, quarter, "rep_id"
    )
    by_person = {row.key: row for row in _pivot(rows, "rep_id", lambda row: "")}
    result = []
    for person in people:
        entry = by_person.get(person.pk) or PointsRow(person.pk, "")
        entry.name = display_name(person)
        entry.team = getattr(getattr(person, "rep", None), "team", None)
        result.append(entry)
    result.sort(key=lambda entry: (-entry.quarter, -entry.month, entry.name))
    return {
        "people": result,
        "behaviour_totals": behaviour_totals(result),
        "month_total": sum(row.month for row in result),
        "quarter_total": sum(row.quarter for row in result),
    }


# --- 协作看板 (S4) -------------------------------------------------------------------------------

def top_customers(quarter: Period, limit: int = 10) -> list[dict]:
    """Grouped by the id alone (no join over the quarter's rows); the names of the ten come after."""
    top = list(
        Contribution.objects.payable().between(quarter.start, quarter.end)
        .values("customer_id")
        .annotate(points=Sum("points"), reps=Count("rep_id", distinct=True), actions=Count("pk"))
        .order_by("-points", "customer_id")[:limit]
    )
    names = {
        row["pk"]: row
        for row in Customer.objects.filter(pk__in=[row["customer_id"] for row in top]).values("pk", "name", "hospital__name")
    }
    for row in top:
        row["customer__name"] = names[row["customer_id"]]["name"]
        row["customer__hospital__name"] = names[row["customer_id"]]["hospital__name"]
    return top


HEAT_LEVELS = 5
DAY_HOURS = range(8, 21)  # always shown; earlier/later hours appear when someone worked then


def heat_level(points: int, maximum: int) -> int:
    """0 (blank) or 1–5: the cell's shade as a CSS class (a class, not an inline style, per cell)."""
    if not points or not maximum:
        return 0
    return min(HEAT_LEVELS, 1 + int(HEAT_LEVELS * points / (maximum + 1)))


def board_data(quarter: Period) -> dict:
    """This quarter's top-10 customers by points, each as a rep × behaviour heat map and a rep ×
    hour-of-day grid (Beijing time), plus a weekday × hour heat map over all ten. Four aggregate
    queries. Cells carry no URL: the tables carry their keys (customer, rep, behaviour, hour,
    weekday) and one drill endpoint takes them (static/scoring/board.js) — D11, ≤ 60 KB."""
    top = top_customers(quarter)
    ids = [row["customer_id"] for row in top]
    in_board = Contribution.objects.payable().between(quarter.start, quarter.end).filter(customer_id__in=ids)
    cells = (
        in_board.values("customer_id", "rep_id", "rep__first_name", "rep__last_name", "rep__username", "behaviour")
        .annotate(points=Sum("points"), actions=Count("pk"), first_at=Min("occurred_at"))
        .order_by()
    )
    hours = (
        in_board.annotate(hour=ExtractHour("occurred_at"))
        .values("customer_id", "rep_id", "hour")
        .annotate(points=Sum("points"))
        .order_by()
    )
    week = (
        in_board.annotate(weekday=ExtractIsoWeekDay("occurred_at"), hour=ExtractHour("occurred_at"))
        .values("weekday", "hour")
        .annotate(points=Sum("points"), actions=Count("pk"))
        .order_by()
    )
    base = reverse("scoring:board_drill")
    customers = {
        row["customer_id"]: {
            "id": row["customer_id"],
            "rank": rank,
            "name": row["customer__name"],
            "hospital": row["customer__hospital__name"],
            "points": row["points"],
            "reps": row["reps"],
            "actions": row["actions"],
            "people": {},
            "by_hour": {},
        }
        for rank, row in enumerate(top, start=1)
    }
    for row in cells:
        customer = customers[row["customer_id"]]
        person = customer["people"].setdefault(
            row["rep_id"],
            {
                "id": row["rep_id"],
                "name": person_name(row["rep__first_name"], row["rep__last_name"], row["rep__username"]),
                "total": 0,
                "first_at": row["first_at"],
                "by_behaviour": {},
            },
        )
        person["total"] += row["points"]
        person["first_at"] = min(person["first_at"], row["first_at"])
        person["by_behaviour"][row["behaviour"]] = row["points"]
    for row in hours:
        customers[row["customer_id"]]["by_hour"][(row["rep_id"], row["hour"])] = row["points"]

    board = []
    for customer in customers.values():
        people = sorted(customer["people"].values(), key=lambda p: (-p["total"], p["first_at"], p["id"]))
        maximum = max((points for p in people for points in p["by_behaviour"].values()), default=0)
        by_hour = customer["by_hour"]
        hour_max = max(by_hour.values(), default=0)
        columns = sorted(set(DAY_HOURS) | {hour for _rep, hour in by_hour})
        for person in people:
            person["cells"] = [
                (points, heat_level(points, maximum))
                for points in (person["by_behaviour"].get(behaviour, 0) for behaviour, _label in BEHAVIOURS)
            ]
            person["hours"] = [
                (points, heat_level(points, hour_max)) for points in (by_hour.get((person["id"], hour), 0) for hour in columns)
            ]
        customer["rows"] = people
        customer["hour_columns"] = columns
        customer["url"] = f"{base}?quarter={quarter.key}&customer={customer['id']}"
        board.append(customer)

    week_max = max((row["points"] for row in week), default=0)
    week_cells = {(row["weekday"], row["hour"]): row["points"] for row in week}
    week_grid = [
        {
            "weekday": weekday,
            "label": WEEKDAYS[weekday - 1],
            "cells": [
                (points, heat_level(points, week_max)) for points in (week_cells.get((weekday, hour), 0) for hour in range(24))
            ],
        }
        for weekday in range(1, 8)
    ]
    return {
        "customers": board,
        "week_grid": week_grid,
        "hours": list(range(24)),
        "behaviours": legend(),
        "drill_base": f"{base}?quarter={quarter.key}",
    }


def legend() -> list[dict]:
    return [{"behaviour": b, "label": label, "colour": BEHAVIOUR_COLOURS[b]} for b, label in BEHAVIOURS]


# --- Statements (S3) -----------------------------------------------------------------------------


def current_shares(person, period: Period) -> QuerySet:
    return (
        BonusShare.objects.filter(
            rep=person,
            split__correction__isnull=True,
            split__deal__closed_at__gte=period.start,
            split__deal__closed_at__lt=period.end,
        )
        .select_related(
            "split", "split__deal", "split__deal__customer", "split__deal__hospital", "split__deal__owner", "split__corrects"
        )
        .order_by("split__deal__closed_at", "split_id")
    )


def counted_actions(split_ids: list[int], person=None) -> dict[int, list[Contribution]]:
    """The contributions each split counted (optionally one person's), oldest first."""
    through = BonusSplit.contributions.through.objects.filter(bonussplit_id__in=split_ids)
    if person is not None:
        through = through.filter(contribution__rep=person)
    through = through.select_related(
        "contribution", "contribution__activity", "contribution__rep", "contribution__customer"
    ).order_by("contribution__occurred_at", "contribution_id")
    grouped: dict[int, list[Contribution]] = defaultdict(list)
    for link in through:
        grouped[link.bonussplit_id].append(link.contribution)
    return grouped


def statement(person, period: Period) -> dict:
    """A rep's bonus statement for a quarter: each current split they share in, what they got and
    which of their actions earned it."""
    shares = list(current_shares(person, period))
    actions = counted_actions([share.split_id for share in shares], person)
    lines = [{"share": share, "split": share.split, "actions": actions.get(share.split_id, [])} for share in shares]
    approved = sum((share.amount for share in shares if share.split.is_frozen), Decimal("0.00"))
    total = sum((share.amount for share in shares), Decimal("0.00"))
    return {
        "lines": lines,
        "total": total,
        "approved_total": approved,
        "pending_total": total - approved,
        "exceptions": point_exceptions(person, period),
    }


def point_exceptions(person, period: Period, limit: int = 200) -> list[Contribution]:
    """T2/T5 on the statement: the person's actions this quarter that did not simply score —
    held for review, capped by a cooldown, or reversed — each with its reason."""
    rows = list(
        Contribution.objects.between(period.start, period.end)
        .filter(rep=person)
        .filter(Q(held=True) | ~Q(reason=""))
        .select_related("customer", "activity", "review", "reverses")
        .order_by("occurred_at", "pk")[:limit]
    )
    for row in rows:
        row.explanation = explain(row)
    return rows


def explain(row: Contribution) -> str:
    """The reason a row is shown, in the reader's language (notes are stored as data)."""
    if row.reason == ContributionReason.CAPPED:
        days, _sep, when = row.note.partition("|")
        return _("冷却期 %(days)s 天内已计过一次（%(when)s），本次不计分") % {"days": days, "when": when}
    if row.reason:
        label = ContributionReason(row.reason).label
        return f"{label}：{row.note}" if row.note else str(label)
    review = getattr(row, "review", None)
    if review is not None and review.status == ReviewStatus.PENDING:
        return _("证据有真实性警示（%(flags)s），待主管审核后计入") % {"flags": "、".join(review.flags) or "—"}
    if review is not None:
        return _("审核%(status)s：%(reason)s") % {"status": review.get_status_display(), "reason": review.reason}
    return _("待审核")

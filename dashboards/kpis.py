"""The three process-health KPIs (D2, D7) — THE one module of their definitions. The KPI page,
the TV board, the anomaly rules, the reports and the suggestions all measure through `measure()`;
docs/dashboards.md ("KPI definitions") explains each with worked examples.

- 线索转化时效 (lead timeliness): over ALL leads whose FIRST assignment falls in the period, the
  median minutes from the first assignment to the first effective contact; a lead never contacted
  counts as still running, at "now − first assignment" (a team that contacts nobody has the worst
  value, not no value). A reassignment does not restart the clock. Beside it: the share of those
  leads contacted within the healthy line (120 min).
- 动作饱满度 (action fullness): evidence-backed actions (`EVIDENCE_KINDS`) by reps ÷ rep-working-days,
  where each working day (Chinese calendar with 调休) counts the reps employed on it (start and
  leave dates on the rep). Only completed days count, except "today" on its own.
- 协同密度 (collaboration density): for each customer with a won deal in the period, the number of
  distinct reps who EARNED POINTS (scoring `Contribution`, sum > 0) on it in the `lookback_days`
  before the close; averaged. An acknowledgement or a look at the record earns nothing.

Every measurement takes a list of time spans (days, working days, weeks …) and returns one cell per
span and per group key (the company, each team or each rep) from ONE query per KPI: the number of
queries never depends on the number of rows, spans or groups. Medians are taken in Python over the
fetched durations, which is the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import statistics
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.db.models import Case, Count, F, IntegerField, Q, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from leads.cash.models import Deal, DealStatus
from leads.models import Lead
from salesops.models import EVIDENCE_KINDS, Activity, Rep, Role
from scoring.models import ReviewStatus

from .models import Kpi, Threshold
from .periods import Period, day_start, local_date, today
from .workdays import working_days

EVIDENCE_KIND_VALUES = sorted(str(kind) for kind in EVIDENCE_KINDS)
Span = tuple[datetime, datetime]

# Settled KPI cells and per-deal facts are cached. On Redis (production) that is the default
# cache; the in-process default (locmem) keeps only 300 entries, fewer than a year of deals, so
# the KPIs get an in-process cache of their own there.
_local_cache = LocMemCache("dashboards-kpis", {"OPTIONS": {"MAX_ENTRIES": 50_000}})


def kpi_cache():
    default = caches["default"]
    return _local_cache if isinstance(default, LocMemCache) else default


@dataclass(frozen=True)
class Scope:
    """Whose KPI: the whole company, one team, or one rep (a user id)."""

    level: str  # company | team | rep
    team_id: int | None = None
    rep_id: int | None = None
    label: str = ""

    @classmethod
    def company(cls, label: str = "") -> "Scope":
        return cls("company", label=label)

    @classmethod
    def team(cls, team_id: int, label: str = "") -> "Scope":
        return cls("team", team_id=team_id, label=label)

    @classmethod
    def rep(cls, rep_id: int, label: str = "") -> "Scope":
        return cls("rep", rep_id=rep_id, label=label)

    def query(self) -> dict:
        if self.level == "team":
            return {"team": self.team_id}
        if self.level == "rep":
            return {"rep": self.rep_id}
        return {}


@dataclass
class Cell:
    value: float | None = None
    n: int = 0  # sample size: contacted leads, actions, closed customers
    detail: dict = field(default_factory=dict)


def _index(spans: list[Span]):
    starts = [start for start, _end in spans]

    def locate(moment: datetime) -> int | None:
        position = bisect_right(starts, moment) - 1
        if position >= 0 and moment < spans[position][1]:
            return position
        return None

    return locate


def _live_spans(spans: list[Span]) -> list[tuple[int, Span]]:
    return [(i, span) for i, span in enumerate(spans) if span[0] < span[1]]


def bucket_expression(field_name: str, live: list[tuple[int, Span]]):
    """SQL that maps a timestamp to the index of the span holding it (-1 in a gap), as a balanced
    tree of CASEs: log2(spans) comparisons a row, so 300 working days cost 9, not 600."""

    def build(lo: int, hi: int):
        if hi - lo == 1:
            index, (start, end) = live[lo]
            inside = When(**{f"{field_name}__gte": start, f"{field_name}__lt": end}, then=Value(index))
            return Case(inside, default=Value(-1), output_field=IntegerField())
        middle = (lo + hi) // 2
        below = When(**{f"{field_name}__lt": live[middle][1][0]}, then=build(lo, middle))
        return Case(below, default=build(middle, hi), output_field=IntegerField())

    return build(0, len(live))


# --- KPI 1: lead conversion timeliness -------------------------------------------------------

# The clock starts at the first assignment; rows created before that field existed (bulk loads)
# fall back to assigned_at.
CLOCK_START = Coalesce("first_assigned_at", "assigned_at")


def timeliness_leads(scope: Scope, start: datetime, end: datetime, contact_basis: str = "all"):
    """The leads KPI 1 counts: first assigned in [start, end), of the scope (current assignee).
    `contact_at` is the first effective contact on the director's chosen basis (T8): "all" includes
    self-reported contact, "verified" only contact proven by the call robot, a phone-system record
    or visit evidence (a completed visit to the lead's customer)."""
    leads = Lead.objects.annotate(clock_start=CLOCK_START).filter(clock_start__gte=start, clock_start__lt=end, assignee__isnull=False)
    if contact_basis == "verified":
        from leads.models import first_verified_contact

        leads = leads.annotate(contact_at=first_verified_contact())
    else:
        leads = leads.annotate(contact_at=F("first_effective_contact_at"))
    if scope.level == "team":
        leads = leads.filter(assignee__rep__team_id=scope.team_id)
    elif scope.level == "rep":
        leads = leads.filter(assignee_id=scope.rep_id)
    return leads


def lead_minutes(
    spans: list[Span], scope: Scope, group: str | None = None, now: datetime | None = None, contact_basis: str = "all"
) -> dict:
    """{(group key, span index): [(minutes, contacted), …]} for every lead first assigned in each
    span; a lead not contacted (yet) is still running: minutes up to `now`."""
    live = _live_spans(spans)
    if not live:
        return {}
    now = now or timezone.now()
    leads = timeliness_leads(scope, min(s for _i, (s, _e) in live), max(e for _i, (_s, e) in live), contact_basis)
    key_field = {"team": "assignee__rep__team_id", "rep": "assignee_id"}.get(group or "")
    fields = ["clock_start", "contact_at"] + ([key_field] if key_field else [])
    locate = _index(spans)
    minutes: dict = defaultdict(list)
    for row in leads.values_list(*fields).order_by():
        started, contacted_at = row[0], row[1]
        position = locate(started)
        if position is None:
            continue
        stop = max(contacted_at, started) if contacted_at else max(now, started)
        key = row[2] if key_field else None
        minutes[(key, position)].append(((stop - started).total_seconds() / 60, contacted_at is not None))
    return minutes


def _timeliness_cell(values: list[tuple[float, bool]], target_minutes: float) -> Cell:
    """Median over all leads (running ones included) and the share contacted within the target."""
    if not values:
        return Cell(detail={"contacted": 0, "running": 0, "within_target": 0, "share_within_target": None})
    within = sum(1 for minutes, contacted in values if contacted and minutes <= target_minutes)
    contacted = sum(1 for _m, was_contacted in values if was_contacted)
    return Cell(
        round(statistics.median(minutes for minutes, _c in values), 1),
        len(values),
        {
            "contacted": contacted,
            "running": len(values) - contacted,
            "within_target": within,
            "share_within_target": round(100 * within / len(values), 1),
        },
    )


# --- KPI 2: action fullness --------------------------------------------------------------------


def clip_to_completed_days(spans: list[Span], now: datetime | None = None) -> list[Span]:
    """Action fullness counts completed days only (a half-finished day would drag the average),
    except a span that is exactly today, which shows "so far"."""
    now = now or timezone.now()
    start_of_today = day_start(local_date(now))
    clipped = []
    for start, end in spans:
        if start == start_of_today and end == start_of_today + timedelta(days=1):
            clipped.append((start, min(end, now)))
        else:
            clipped.append((start, min(end, start_of_today)))
    return clipped


def evidence_actions(scope: Scope, start: datetime, end: datetime):
    """The evidence-backed actions KPI 2 counts: by reps (role rep), of the scope, in [start, end)."""
    actions = Activity.objects.filter(kind__in=EVIDENCE_KIND_VALUES, occurred_at__gte=start, occurred_at__lt=end)
    if scope.level == "rep":
        return actions.filter(rep_id=scope.rep_id)
    # An id list, not a join to the profiles: per row, a lookup in a small set is half the cost.
    actions = actions.filter(rep_id__in=list(Rep.objects.filter(role=Role.REP).values_list("user_id", flat=True)))
    if scope.level == "team":
        actions = actions.filter(team_id=scope.team_id)
    return actions


def evidence_counts(spans: list[Span], scope: Scope, group: str | None = None) -> dict:
    """{(group key, span index): count} of evidence-backed actions by reps, bucketed in SQL."""
    live = _live_spans(spans)
    if not live:
        return {}
    actions = evidence_actions(scope, min(s for _i, (s, _e) in live), max(e for _i, (_s, e) in live))
    bucket = bucket_expression("occurred_at", live)
    key_field = {"team": "team_id", "rep": "rep_id"}.get(group or "")
    fields = ["bucket"] + ([key_field] if key_field else [])
    rows = actions.annotate(bucket=bucket).values(*fields).annotate(n=Count("id")).order_by()
    counts: dict = {}
    for row in rows:
        if row["bucket"] >= 0:
            counts[(row.get(key_field) if key_field else None, row["bucket"])] = row["n"]
    return counts


def span_working_days(spans: list[Span]) -> list[list[date]]:
    """The working days inside each span (a span that ends during a day — today "so far" — still
    covers that day). One query for the overrides of the whole range."""
    live = _live_spans(spans)
    if not live:
        return [[] for _span in spans]
    first = local_date(min(s for _i, (s, _e) in live))
    last = local_date(max(e for _i, (_s, e) in live) - timedelta(microseconds=1))
    days = working_days(first, last + timedelta(days=1))
    result = []
    for start, end in spans:
        if start >= end:
            result.append([])
            continue
        span_first, span_last = local_date(start), local_date(end - timedelta(microseconds=1))
        result.append([day for day in days if span_first <= day <= span_last])
    return result


def working_day_counts(spans: list[Span]) -> list[int]:
    return [len(days) for days in span_working_days(spans)]


def rep_days(days_per_span: list[list[date]], scope: Scope, group: str | None = None) -> dict:
    """{(group key, span index): rep-working-days} — the denominator of "per rep per working day":
    each working day counts the reps (role rep) employed on it (started_on ≤ day ≤ left_on), in
    their current team. One small query (the rep profiles)."""
    reps = Rep.objects.filter(role=Role.REP)
    if scope.level == "team":
        reps = reps.filter(team_id=scope.team_id)
    elif scope.level == "rep":
        reps = reps.filter(user_id=scope.rep_id)
    rows = list(reps.values_list("user_id", "team_id", "started_on", "left_on").order_by())
    if scope.level == "rep" and not rows:  # a person without a rep profile: every working day counts
        rows = [(scope.rep_id, None, None, None)]
    result: dict = defaultdict(int)
    for user_id, team_id, started_on, left_on in rows:
        key = {"team": team_id, "rep": user_id}.get(group or "")
        for index, days in enumerate(days_per_span):
            if started_on is None and left_on is None:
                result[(key, index)] += len(days)
            else:
                result[(key, index)] += sum(
                    1 for day in days if (started_on is None or started_on <= day) and (left_on is None or day <= left_on)
                )
    return result


def employed_reps_on(day: date) -> set[int]:
    """User ids of the reps employed on `day` (D8: no rule judges a day outside a rep's dates)."""
    return {
        user_id
        for user_id, started_on, left_on in Rep.objects.filter(role=Role.REP).values_list("user_id", "started_on", "left_on")
        if (started_on is None or started_on <= day) and (left_on is None or day <= left_on)
    }


# --- KPI 3: collaboration density ------------------------------------------------------------


# Contributions are appended as their activities are scored, so once a deal is a couple of days
# old the set of reps who earned points on its customer before the close no longer changes: it is
# kept in the cache.
INVOLVEMENT_SETTLED_AFTER = timedelta(days=2)
INVOLVEMENT_CACHE_SECONDS = 7 * 24 * 3600
IN_LIST_LIMIT = 900  # above this, select the deals by their range instead of listing ids


def _involvement_key(deal_id: int, customer_id: int, closed_at: datetime, lookback_days: int) -> str:
    return f"dashboards:earned2:{deal_id}:{customer_id}:{closed_at.timestamp():.6f}:{lookback_days}"


def deal_involvement(deal_rows: list, deals, lookback_days: int) -> dict[int, set]:
    """{deal id: ids of everyone who EARNED POINTS on its customer (sum of `Contribution.points`
    > 0) in the lookback before the close}.

    Driven from the deals (index range on contribution (customer, occurred_at) per deal), one query
    for whatever the cache does not hold."""
    keys = {row[0]: _involvement_key(row[0], row[1], row[2], lookback_days) for row in deal_rows}
    cached = kpi_cache().get_many(list(keys.values()))
    result = {deal_id: set(cached[key]) for deal_id, key in keys.items() if key in cached}
    missing = [deal_id for deal_id in keys if deal_id not in result]
    if not missing:
        return result
    source = deals.filter(pk__in=missing) if len(missing) <= IN_LIST_LIMIT else deals
    pairs = (
        source.filter(
            # Payable points only (scoring's T2 rule): a row held for review nobody decided yet is
            # not earned; a rejected one nets to zero with its counter-entry (sum > 0 below).
            Q(customer__contributions__held=False)
            | Q(customer__contributions__review__status__in=[ReviewStatus.ACCEPTED, ReviewStatus.REJECTED]),
            customer__contributions__occurred_at__lte=F("closed_at"),
            customer__contributions__occurred_at__gte=F("closed_at") - timedelta(days=lookback_days),
        )
        .values_list("pk", "customer__contributions__rep_id")
        .annotate(points=Sum("customer__contributions__points"))
        .filter(points__gt=0)
        .order_by()
    )
    found: dict[int, set] = defaultdict(set)
    for deal_id, rep_id, _points in pairs:
        found[deal_id].add(rep_id)
    settled_before = timezone.now() - INVOLVEMENT_SETTLED_AFTER
    to_cache = {}
    for deal_id, customer_id, closed_at, *_rest in deal_rows:
        if deal_id in result:
            continue
        result[deal_id] = found.get(deal_id, set())
        if closed_at < settled_before:
            to_cache[keys[deal_id]] = sorted(result[deal_id])
    if to_cache:
        kpi_cache().set_many(to_cache, INVOLVEMENT_CACHE_SECONDS)
    return result


def closed_customers(spans: list[Span], scope: Scope, group: str | None = None, lookback_days: int = 180) -> dict:
    """{(group key, span index): {customer id: {rep ids}}} for won deals closed in each span."""
    live = _live_spans(spans)
    if not live:
        return {}
    first, last = min(s for _i, (s, _e) in live), max(e for _i, (_s, e) in live)
    deals = Deal.objects.filter(status=DealStatus.WON, closed_at__gte=first, closed_at__lt=last)
    if scope.level == "team":
        deals = deals.filter(owner__rep__team_id=scope.team_id)
    deal_rows = list(deals.values_list("pk", "customer_id", "closed_at", "owner__rep__team_id").order_by())
    if not deal_rows:
        return {}
    involvement = deal_involvement(deal_rows, deals, lookback_days)
    # Reps only (a supervisor approving a discount is not one more rep on the customer): filtered
    # here, one small query, rather than joined onto every activity row.
    reps_only = set(Rep.objects.filter(role=Role.REP).values_list("user_id", flat=True))
    locate = _index(spans)
    result: dict = defaultdict(lambda: defaultdict(set))
    for deal_id, customer_id, closed_at, owner_team_id in deal_rows:
        position = locate(closed_at)
        if position is None:
            continue
        reps = involvement.get(deal_id, set()) & reps_only
        if scope.level == "rep" and scope.rep_id not in reps:
            continue
        if group == "team":
            keys = [owner_team_id]
        elif group == "rep":
            keys = list(reps)
        else:
            keys = [None]
        for key in keys:
            result[(key, position)][customer_id] |= reps
    return result


def _density_cell(customers: dict) -> Cell:
    if not customers:
        return Cell()
    sizes = [len(reps) for reps in customers.values()]
    return Cell(round(sum(sizes) / len(sizes), 2), len(sizes))


# --- One entry point ---------------------------------------------------------------------------


# A span that ended this long ago is settled (late appends are rare beyond it): its cells are
# cached for a few hours, so a year of monthly trend is computed once, not on every page view.
SETTLED_AFTER = timedelta(days=2)
KPI_CACHE_SECONDS = 6 * 3600


def measure(
    kpi: str,
    spans: list[Span],
    scope: Scope,
    group: str | None = None,
    *,
    threshold: Threshold | None = None,
    keys: list | None = None,
    now: datetime | None = None,
) -> dict:
    """{group key: [Cell per span]} — `keys` lists the groups that must appear even without data
    (a rep with no action has a 0, not a gap). Settled spans come from the cache when they can;
    the others are computed together, in one query per KPI."""
    keys = list(keys) if keys is not None else [None]
    now = now or timezone.now()
    if kpi in (Kpi.COLLABORATION_DENSITY, Kpi.LEAD_TIMELINESS):
        threshold = threshold or Threshold.for_kpi(kpi)
    variant = {
        Kpi.COLLABORATION_DENSITY: lambda: threshold.lookback_days,
        Kpi.LEAD_TIMELINESS: lambda: f"{threshold.healthy_value}-{getattr(threshold, 'contact_basis', 'all')}",
    }.get(kpi, str)()
    settled_before = day_start(local_date(now)) - SETTLED_AFTER

    def cache_key(span: Span) -> str:
        return f"dashboards:kpi:{kpi}:{scope.level}:{scope.team_id}:{scope.rep_id}:{group}:{variant}:{span[0].timestamp():.0f}:{span[1].timestamp():.0f}"

    settled = {i: cache_key(span) for i, span in enumerate(spans) if span[0] < span[1] <= settled_before}
    found = kpi_cache().get_many(list(settled.values())) if settled else {}
    hits = {i: found[k] for i, k in settled.items() if k in found and all(key in found[k] for key in keys)}
    todo = [(span[0], span[0]) if i in hits else span for i, span in enumerate(spans)]
    wanted = list(set(keys) | {key for cells in hits.values() for key in cells})
    fresh = _measure(kpi, todo, scope, group, threshold, wanted, now) if len(hits) < len(spans) else {}
    all_keys = set(wanted) | set(fresh)
    # A group that had no row when a span was cached (and was not asked for) reads "no data" there.
    result = {
        key: [(hits[i].get(key) or Cell()) if i in hits else fresh[key][i] for i in range(len(spans))]
        for key in all_keys
    }
    # A span with a lead still running (never contacted) moves with `now`: it is not settled.
    to_cache = {
        k: {key: result[key][i] for key in all_keys}
        for i, k in settled.items()
        if i not in hits and not any(result[key][i].detail.get("running") for key in all_keys)
    }
    if to_cache:
        kpi_cache().set_many(to_cache, KPI_CACHE_SECONDS)
    return result


def _measure(kpi: str, spans: list[Span], scope: Scope, group: str | None, threshold, keys: list, now: datetime) -> dict:
    result: dict = {}
    if kpi == Kpi.LEAD_TIMELINESS:
        threshold = threshold or Threshold.for_kpi(kpi)
        minutes = lead_minutes(spans, scope, group, now, contact_basis=getattr(threshold, "contact_basis", "all"))
        target = float(threshold.healthy_value)
        for key in set(keys) | {k for k, _i in minutes}:
            result[key] = [_timeliness_cell(minutes.get((key, i), []), target) for i in range(len(spans))]
    elif kpi == Kpi.ACTION_FULLNESS:
        clipped = clip_to_completed_days(spans, now)
        counts = evidence_counts(clipped, scope, group)
        days_per_span = span_working_days(clipped)
        denominators = rep_days(days_per_span, scope, group)
        for key in set(keys) | {k for k, _i in counts}:
            cells = []
            for i, days in enumerate(days_per_span):
                total = counts.get((key, i), 0)
                people_days = denominators.get((key, i), 0)
                value = round(total / people_days, 2) if people_days else None
                detail = {"working_days": len(days), "rep_days": people_days, "reps": round(people_days / len(days), 2) if days else 0}
                cells.append(Cell(value, total, detail))
            result[key] = cells
    elif kpi == Kpi.COLLABORATION_DENSITY:
        customers = closed_customers(spans, scope, group, threshold.lookback_days)
        for key in set(keys) | {k for k, _i in customers}:
            result[key] = [_density_cell(customers.get((key, i), {})) for i in range(len(spans))]
    else:
        raise ValueError(kpi)
    return result


@dataclass
class KpiCard:
    kpi: str
    threshold: Threshold
    period: Period
    current: Cell
    trend: list[tuple[Period, Cell]]

    @property
    def health(self) -> str:
        return self.threshold.health(self.current.value)

    @property
    def label(self) -> str:
        return str(Kpi(self.kpi).label)


def timeliness_by_basis(scope: Scope, period: Period, threshold: Threshold) -> list[tuple[str, str, "Cell", bool]]:
    """T8: KPI 1 of `period` on both contact bases — [(basis, label, Cell, in use)] — so the
    director sees what self-reported contact adds before choosing the basis the KPI uses."""
    from copy import copy

    from .models import CONTACT_BASIS_CHOICES

    rows = []
    for basis, label in CONTACT_BASIS_CHOICES:
        variant = copy(threshold)
        variant.contact_basis = basis
        cell = measure(Kpi.LEAD_TIMELINESS, [period.span], scope, threshold=variant)[None][0]
        rows.append((basis, str(label), cell, basis == threshold.contact_basis))
    return rows


def kpi_cards(scope: Scope, period: Period, thresholds: dict[str, Threshold] | None = None) -> list[KpiCard]:
    """The three KPIs of `scope` for `period`, each with its trend (the period is the last point)."""
    thresholds = thresholds or Threshold.all_by_kpi()
    periods = period.trend()
    spans = [p.span for p in periods]
    cards = []
    for kpi in Kpi.values:
        cells = measure(kpi, spans, scope, threshold=thresholds[kpi])[None]
        cards.append(KpiCard(kpi, thresholds[kpi], period, cells[-1], list(zip(periods, cells))))
    return cards


def kpi_breakdown(
    scope: Scope, period: Period, group: str, keys: list, thresholds: dict[str, Threshold] | None = None
) -> dict[str, dict]:
    """{kpi: {group key: Cell}} for `period`, one row per key in `keys` (teams or reps)."""
    thresholds = thresholds or Threshold.all_by_kpi()
    result = {}
    for kpi in Kpi.values:
        cells = measure(kpi, [period.span], scope, group, threshold=thresholds[kpi], keys=keys)
        result[kpi] = {key: cells[key][0] for key in keys}
    return result


def evidence_start() -> date | None:
    """The first day the ledger holds an evidence-backed action: before it, "no action" means
    "not using the system yet", not "idle"."""
    # One index seek per kind: "ORDER BY occurred_at" over an IN list would sort every evidence row.
    firsts = [
        Activity.objects.filter(kind=kind).order_by("occurred_at").values_list("occurred_at", flat=True).first()
        for kind in EVIDENCE_KIND_VALUES
    ]
    firsts = [moment for moment in firsts if moment is not None]
    return local_date(min(firsts)) if firsts else None


def today_period(kind: str = "day") -> Period:
    return Period.containing(kind, today())

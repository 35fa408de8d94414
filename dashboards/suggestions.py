"""一键优化建议 (D3): the KPI's SOP and training video (admin-editable per KPI), and a snapshot of
how the best team on that KPI works, generated from the data of the last 30 completed days."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Count
from django.utils.translation import gettext_lazy

from salesops.models import Activity, ActivityKind, Role, Team

from .kpis import EVIDENCE_KIND_VALUES, Scope, measure
from .models import HIGHER_IS_BETTER, Kpi, Threshold
from .periods import day_start, today


@dataclass
class Habit:
    label: str
    team_value: str
    company_value: str


@dataclass
class BestTeamSnapshot:
    kpi: str
    team: Team
    value: float
    company_value: float | None
    days: int
    habits: list[Habit] = field(default_factory=list)
    evidence_mix: list[tuple[str, int, int]] = field(default_factory=list)  # (label, count, percent)
    ranking: list[tuple[str, float]] = field(default_factory=list)


def _fmt(value: float | None, unit: str) -> str:
    return "—" if value is None else f"{value:g} {unit}"


SAMPLE_UNITS = {
    Kpi.LEAD_TIMELINESS: gettext_lazy("条线索"),
    Kpi.ACTION_FULLNESS: gettext_lazy("人·工作日"),
    Kpi.COLLABORATION_DENSITY: gettext_lazy("个成交客户"),
}


def sample_size(kpi: str, cell) -> int:
    """What "enough data" means per KPI: leads, rep-working-days, closed customers."""
    if kpi == Kpi.ACTION_FULLNESS:
        return int(cell.detail.get("rep_days", 0))
    return cell.n


def best_team_snapshot(kpi: str, thresholds: dict[str, Threshold] | None = None) -> BestTeamSnapshot | None:
    """The team with the best value of `kpi` over the window, with its three KPI numbers against the
    company's and its typical evidence. None when no team has at least `Threshold.min_sample`."""
    thresholds = thresholds or Threshold.all_by_kpi()
    days = int(getattr(settings, "DASHBOARDS_SUGGESTION_DAYS", 30))
    end = day_start(today())
    span = [(end - timedelta(days=days), end)]
    teams = {team.pk: team for team in Team.objects.select_related("supervisor")}
    if not teams:
        return None
    by_team = {k: measure(k, span, Scope.company(), "team", threshold=thresholds[k], keys=list(teams)) for k in Kpi.values}
    company = {k: measure(k, span, Scope.company(), threshold=thresholds[k])[None][0].value for k in Kpi.values}
    # D10: a team qualifies only with enough sample (one lead is not a best practice).
    minimum = thresholds[kpi].min_sample
    candidates = [
        (cells[0].value, team_id)
        for team_id, cells in by_team[kpi].items()
        if team_id in teams and cells[0].value is not None and sample_size(kpi, cells[0]) >= minimum
    ]
    if not candidates:
        return None
    higher = HIGHER_IS_BETTER[Kpi(kpi)]
    candidates.sort(key=lambda pair: (-pair[0] if higher else pair[0], teams[pair[1]].name))
    value, team_id = candidates[0]
    team = teams[team_id]
    habits = [
        Habit(
            str(Kpi(k).label),
            _fmt(by_team[k][team_id][0].value, thresholds[k].unit),
            _fmt(company[k], thresholds[k].unit),
        )
        for k in Kpi.values
    ]
    kinds = (
        Activity.objects.filter(
            team_id=team_id, kind__in=EVIDENCE_KIND_VALUES, occurred_at__gte=span[0][0], occurred_at__lt=span[0][1], rep__rep__role=Role.REP
        )
        .values("kind")
        .annotate(n=Count("id"))
        .order_by("-n", "kind")
    )
    kinds = list(kinds)
    total = sum(row["n"] for row in kinds) or 1
    mix = [(str(ActivityKind(row["kind"]).label), row["n"], round(100 * row["n"] / total)) for row in kinds[:4]]
    return BestTeamSnapshot(
        kpi=kpi,
        team=team,
        value=value,
        company_value=company[kpi],
        days=days,
        habits=habits,
        evidence_mix=mix,
        ranking=[(teams[t].name, v) for v, t in candidates],
    )

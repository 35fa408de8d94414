"""Who may see which KPIs, interventions and reports (A3). One door per kind of thing:

- KPIs: the director (and ops) everything; a supervisor their teams and their reps; a rep only their
  own KPI row. Asking for anything else is a 404, like a guessed id.
- Interventions: the owner, the supervisor of the team concerned, the director. Closing: the owner
  or the director (others who may see it get 403).
- Reports: the director (the whole report) and supervisors (their teams' part); reps get 404.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _

from salesops.access import role_of, sees_everything, team_ids_of
from salesops.models import Rep, Role, Team

from .kpis import Scope
from .models import Intervention, ReportSnapshot
from .services import can_close_intervention

User = get_user_model()


@dataclass
class KpiAccess:
    scope: Scope
    group: str | None  # the breakdown below the scope: "team", "rep" or None
    roster: list = field(default_factory=list)  # [(key, label)] rows of the breakdown
    teams: list = field(default_factory=list)  # teams the viewer may switch to
    team: Team | None = None


def _int_param(request: HttpRequest, name: str) -> int | None:
    raw = request.GET.get(name, "")
    if raw in ("", None):
        return None
    try:
        return int(raw)
    except ValueError:
        raise Http404(name)


def _team_roster(team_id: int) -> list:
    reps = Rep.objects.filter(team_id=team_id, role=Role.REP).select_related("user").order_by("user__username")
    return [(rep.user_id, rep.display_name) for rep in reps]


def kpi_access(request: HttpRequest) -> KpiAccess:
    """Resolve ?team= / ?rep= against the viewer's role; 404 outside their scope."""
    user = request.user
    role = role_of(user)
    team_id, rep_id = _int_param(request, "team"), _int_param(request, "rep")
    if role is None:
        raise Http404("no sales profile")
    if role == Role.REP:
        if team_id is not None or (rep_id is not None and rep_id != user.pk):
            raise Http404("rep sees only their own row")
        return KpiAccess(Scope.rep(user.pk, user.get_full_name() or user.username), None)

    allowed_teams = Team.objects.all() if sees_everything(user) else Team.objects.filter(pk__in=team_ids_of(user))
    teams = list(allowed_teams.order_by("name"))
    if rep_id is not None:
        rep = Rep.objects.select_related("user", "team").filter(user_id=rep_id).first()
        if rep is None or not (sees_everything(user) or rep.team_id in {t.pk for t in teams}):
            raise Http404("rep outside scope")
        return KpiAccess(Scope.rep(rep.user_id, rep.display_name), None, teams=teams, team=rep.team)
    if team_id is None and not sees_everything(user):
        if not teams:
            raise Http404("supervisor without team")
        team_id = teams[0].pk
    if team_id is not None:
        team = next((t for t in teams if t.pk == team_id), None)
        if team is None:
            raise Http404("team outside scope")
        return KpiAccess(Scope.team(team.pk, team.name), "rep", _team_roster(team.pk), teams, team)
    return KpiAccess(Scope.company(_("全公司")), "team", [(t.pk, t.name) for t in teams], teams)


def interventions_visible_to(user) -> QuerySet:
    base = Intervention.objects.select_related("owner", "team", "subject_rep")
    if sees_everything(user):
        return base
    if role_of(user) == Role.SUPERVISOR:
        return base.filter(Q(owner=user) | Q(team_id__in=team_ids_of(user)))
    if role_of(user) is None:
        return base.none()
    return base.filter(owner=user)


def get_intervention_for_user(request: HttpRequest, pk, write: bool = False) -> Intervention:
    """404 if the user may not see it; 403 if they may see but not close it."""
    from django.core.exceptions import PermissionDenied

    try:
        intervention = interventions_visible_to(request.user).get(pk=pk)
    except (Intervention.DoesNotExist, ValueError, TypeError):
        raise Http404("intervention")
    if write and not can_close_intervention(request.user, intervention):
        raise PermissionDenied
    return intervention


def report_team_ids(user) -> list[int] | None:
    """None: the whole report (director/ops); a list: a supervisor's teams; 404 for everyone else."""
    if sees_everything(user):
        return None
    if role_of(user) == Role.SUPERVISOR:
        return team_ids_of(user)
    raise Http404("reports are for supervisors and the director")


def get_report_for_user(request: HttpRequest, pk) -> tuple[ReportSnapshot, list[int] | None]:
    team_ids = report_team_ids(request.user)
    try:
        return ReportSnapshot.objects.get(pk=pk), team_ids
    except (ReportSnapshot.DoesNotExist, ValueError, TypeError):
        raise Http404("report")

"""The director's daily and weekly report (D4), generated instead of chased.

Per team and per rep: leads assigned and their first-contact times, visits, evidence actions,
quotes sent, deals won, payments pushed, the KPI status and the open interventions. The numbers are
aggregated in SQL (one grouped query per source), stored as a `ReportSnapshot` with its PDF and
announced through the outbox to the director (whole company) and each supervisor (their team).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Count, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leads.cash.models import Deal, DealStatus, Payment
from leads.models import Lead
from salesops.lib import pdf
from salesops.models import EVIDENCE_KINDS, Activity, ActivityKind, Rep, Role, Team

from .kpis import Scope, measure
from .models import Health, Intervention, Kpi, ReportKind, ReportSnapshot, Threshold
from .periods import day_start, local_tz
from .services import directors, notify

COUNTED_KINDS = {
    "visits": [ActivityKind.VISIT_COMPLETED],
    "evidence": sorted(EVIDENCE_KINDS),
    "quotes": [ActivityKind.QUOTE_SENT],
    "calls": [ActivityKind.CALL],
}


def report_period(kind: str, day: date) -> tuple[date, date]:
    """(first day, last day) of the report containing `day`: the day, or its ISO week."""
    if kind == ReportKind.DAILY:
        return day, day
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


def _blank() -> dict:
    return {
        "leads": 0,
        "contacted": 0,
        "first_contact_median": None,
        "calls": 0,
        "visits": 0,
        "evidence": 0,
        "quotes": 0,
        "deals": 0,
        "deal_amount": "0.00",
        "payments": 0,
        "payment_amount": "0.00",
    }


def _money(value) -> str:
    return f"{(value or Decimal('0')).quantize(Decimal('0.01'))}"


def report_data(kind: str, first_day: date, last_day: date) -> dict:
    start, end = day_start(first_day), day_start(last_day + timedelta(days=1))
    reps = list(Rep.objects.filter(role=Role.REP).select_related("user", "team").order_by("team__name", "user__username"))
    teams = list(Team.objects.select_related("supervisor").order_by("name"))
    per_rep: dict[int, dict] = defaultdict(_blank)

    kind_to_field = {str(k): name for name, kinds in COUNTED_KINDS.items() for k in kinds}
    for row in (
        Activity.objects.filter(occurred_at__gte=start, occurred_at__lt=end, kind__in=list(kind_to_field))
        .values("rep_id", "kind")
        .annotate(n=Count("id"))
        .order_by()
    ):
        per_rep[row["rep_id"]][kind_to_field[row["kind"]]] += row["n"]
    # Money recorded by ANYONE counts (D10): a deal owned by a supervisor, a payment finance
    # recorded — every person with an amount gets a row (see `_people` below), nothing is dropped.
    for row in (
        Deal.objects.filter(status=DealStatus.WON, closed_at__gte=start, closed_at__lt=end)
        .values("owner_id")
        .annotate(n=Count("id"), amount=Sum("amount"))
        .order_by()
    ):
        per_rep[row["owner_id"]]["deals"] = row["n"]
        per_rep[row["owner_id"]]["deal_amount"] = _money(row["amount"])
    for row in (
        Payment.objects.filter(received_on__gte=first_day, received_on__lte=last_day)
        .annotate(pusher=Coalesce("pushed_by_id", "recorded_by_id"))
        .values("pusher")
        .annotate(n=Count("id"), amount=Sum("amount"))
        .order_by()
    ):
        per_rep[row["pusher"]]["payments"] = row["n"]
        per_rep[row["pusher"]]["payment_amount"] = _money(row["amount"])

    thresholds = Threshold.all_by_kpi()
    span = [(start, end)]
    team_ids = [team.pk for team in teams]
    rep_ids = [rep.user_id for rep in reps]
    team_kpis = {k: measure(k, span, Scope.company(), "team", threshold=thresholds[k], keys=team_ids) for k in Kpi.values}
    rep_kpis = {k: measure(k, span, Scope.company(), "rep", threshold=thresholds[k], keys=rep_ids) for k in Kpi.values}
    company_kpis = {k: measure(k, span, Scope.company(), threshold=thresholds[k])[None][0] for k in Kpi.values}

    # Leads, contacted and the median come from the KPI definitions (D7), not a second formula.
    for rep_id, cells in rep_kpis[Kpi.LEAD_TIMELINESS].items():
        if rep_id is not None and cells[0].n:
            per_rep[rep_id].update(_lead_fields(cells[0]))

    def kpi_status(cells_by_kpi, key) -> dict:
        result = {}
        for k in Kpi.values:
            cell = cells_by_kpi[k][key][0] if key is not None else cells_by_kpi[k]
            result[k] = {"value": cell.value, "health": thresholds[k].health(cell.value), "n": cell.n}
        return result

    interventions = defaultdict(list)
    for item in Intervention.objects.open().select_related("owner").order_by("due_on", "pk"):
        interventions[item.team_id].append(
            {
                "id": item.pk,
                "title": item.title,
                "owner": item.owner.get_full_name() or item.owner.username,
                "due_on": item.due_on.isoformat(),
                "overdue": item.due_on < last_day + timedelta(days=1),
            }
        )

    def team_block(team: Team | None, members: list[Rep], others: list) -> dict:
        rows = []
        totals = _blank()
        people = [(rep.user_id, rep.display_name, True) for rep in members] + others
        for user_id, name, is_rep in people:
            values = dict(per_rep.get(user_id) or _blank())
            rows.append({"id": user_id, "name": name, **values, "kpis": kpi_status(rep_kpis, user_id) if is_rep else {}, "rep": is_rep})
            for field_name in ("calls", "visits", "evidence", "quotes", "deals", "payments"):
                totals[field_name] += values[field_name]
            for field_name in ("deal_amount", "payment_amount"):
                totals[field_name] = _money(Decimal(totals[field_name]) + Decimal(values[field_name]))
        if team is not None:
            totals.update(_lead_fields(team_kpis[Kpi.LEAD_TIMELINESS][team.pk][0]))
        else:
            for field_name in ("leads", "contacted"):
                totals[field_name] = sum(row[field_name] for row in rows)
        return {
            "id": team.pk if team else None,
            "name": team.name if team else _("未分组"),
            "supervisor": (team.supervisor.get_full_name() or team.supervisor.username) if team and team.supervisor else "",
            "totals": totals,
            "kpis": kpi_status(team_kpis, team.pk) if team else {},
            "reps": rows,
            "interventions": interventions.get(team.pk if team else None, []),
        }

    members_of: dict = defaultdict(list)
    for rep in reps:
        members_of[rep.team_id].append(rep)
    others_of = _others(per_rep, {rep.user_id for rep in reps})
    blocks = [team_block(team, members_of.get(team.pk, []), others_of.get(team.pk, [])) for team in teams]
    if members_of.get(None) or others_of.get(None):
        blocks.append(team_block(None, members_of.get(None, []), others_of.get(None, [])))
    company_totals = _blank()
    for block in blocks:
        for field_name in ("calls", "visits", "evidence", "quotes", "deals", "payments"):
            company_totals[field_name] += block["totals"][field_name]
        for field_name in ("deal_amount", "payment_amount"):
            company_totals[field_name] = _money(Decimal(company_totals[field_name]) + Decimal(block["totals"][field_name]))
    company_totals.update(_lead_fields(company_kpis[Kpi.LEAD_TIMELINESS]))
    return {
        "kind": kind,
        "period_start": first_day.isoformat(),
        "period_end": last_day.isoformat(),
        # Asia/Shanghai, as every time a reader sees (D10); the offset is kept in the string.
        "generated_at": timezone.localtime(timezone.now(), local_tz()).isoformat(),
        "company": {"totals": company_totals, "kpis": kpi_status(company_kpis, None)},
        "teams": blocks,
        "open_interventions": sum(len(v) for v in interventions.values()),
    }


def _lead_fields(cell) -> dict:
    """KPI 1's cell (D7) as the report's columns: leads first assigned, contacted, median minutes
    (never-contacted leads count as running)."""
    return {"leads": cell.n, "contacted": cell.detail.get("contacted", 0), "first_contact_median": cell.value}


def _others(per_rep: dict, rep_ids: set) -> dict:
    """{team id: [(user id, name, False)]} — supervisors, directors, finance … who recorded money or
    work in the period, in their team's block (no team: the "未分组" block)."""
    ids = [user_id for user_id, values in per_rep.items() if user_id is not None and user_id not in rep_ids and values != _blank()]
    if not ids:
        return {}
    from django.contrib.auth import get_user_model

    result: dict = defaultdict(list)
    for user in get_user_model().objects.filter(pk__in=ids).select_related("rep").order_by("username"):
        profile = getattr(user, "rep", None)
        role = profile.get_role_display() if profile else _("财务/其他")
        name = f"{user.get_full_name() or user.username}（{role}）"
        result[profile.team_id if profile else None].append((user.pk, name, False))
    return result


def visible_part(data: dict, team_ids: list[int] | None) -> dict:
    """The report as one viewer may see it: the director everything, a supervisor their teams."""
    if team_ids is None:
        return data
    return {**data, "teams": [block for block in data["teams"] if block["id"] in team_ids], "company": None}


HEALTH_MARK = {Health.HEALTHY: "✓", Health.WATCH: "△", Health.ALERT: "✗", Health.NO_DATA: "—"}
KPI_SHORT = {Kpi.LEAD_TIMELINESS: gettext_lazy("时效(分)"), Kpi.ACTION_FULLNESS: gettext_lazy("饱满度"), Kpi.COLLABORATION_DENSITY: gettext_lazy("协同")}


def _kpi_text(status: dict) -> str:
    if not status:
        return ""
    parts = []
    for k in Kpi.values:
        item = status.get(k) or {}
        value = item.get("value")
        parts.append(f"{KPI_SHORT[Kpi(k)]} {'—' if value is None else f'{value:g}'}{HEALTH_MARK.get(item.get('health'), '')}")
    return " / ".join(parts)


def shanghai_time(iso: str) -> str:
    """"2026-03-11 07:00" in Asia/Shanghai, also for snapshots stored before with a UTC offset."""
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return str(iso or "")[:16]
    if moment.tzinfo is not None:
        moment = moment.astimezone(local_tz())
    return f"{moment:%Y-%m-%d %H:%M}"


def report_pdf(data: dict) -> bytes:
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, Paragraph, Spacer

    s = pdf.styles()
    kind_label = str(ReportKind(data["kind"]).label)
    period = data["period_start"] if data["period_start"] == data["period_end"] else f"{data['period_start']} ～ {data['period_end']}"
    title = _("销售%(kind)s %(period)s") % {"kind": kind_label, "period": period}
    story = [Paragraph(title, s["title"]), Paragraph(_("生成时间：%s（北京时间）") % shanghai_time(data["generated_at"]), s["small"])]
    headers = ["", _("线索"), _("已联系"), _("首联中位(分)"), _("拜访"), _("留痕动作"), _("报价"), _("成交"), _("成交额"), _("回款"), _("回款额")]
    summary = [[_("团队"), *headers[1:], "KPI"]]
    for block in data["teams"]:
        t = block["totals"]
        summary.append([block["name"], t["leads"], t["contacted"], t["first_contact_median"] or "—", t["visits"], t["evidence"], t["quotes"], t["deals"], t["deal_amount"], t["payments"], t["payment_amount"], _kpi_text(block["kpis"])])
    if data.get("company"):
        t = data["company"]["totals"]
        summary.append([_("全公司"), t["leads"], t["contacted"], t["first_contact_median"] or "—", t["visits"], t["evidence"], t["quotes"], t["deals"], t["deal_amount"], t["payments"], t["payment_amount"], _kpi_text(data["company"]["kpis"])])
    small = s["small"]
    as_cells = lambda rows: [[Paragraph(str(cell), small) for cell in row] for row in rows]  # noqa: E731
    widths = [22 * mm, 10 * mm, 11 * mm, 15 * mm, 10 * mm, 13 * mm, 10 * mm, 10 * mm, 19 * mm, 10 * mm, 19 * mm, 31 * mm]
    story += [Spacer(1, 4 * mm), Paragraph(_("团队汇总"), s["h2"]), pdf.table(as_cells(summary), col_widths=widths)]
    for block in data["teams"]:
        story += [PageBreak(), Paragraph(f"{block['name']}　{_('主管')}：{block['supervisor'] or '—'}", s["h2"])]
        rows = [[_("销售"), *headers[1:], "KPI"]]
        for rep in block["reps"]:
            rows.append([rep["name"], rep["leads"], rep["contacted"], rep["first_contact_median"] or "—", rep["visits"], rep["evidence"], rep["quotes"], rep["deals"], rep["deal_amount"], rep["payments"], rep["payment_amount"], _kpi_text(rep["kpis"])])
        story.append(pdf.table(as_cells(rows), col_widths=widths))
        if block["interventions"]:
            story += [Spacer(1, 3 * mm), Paragraph(_("未关闭的干预任务"), s["h2"])]
            items = [[_("任务"), _("负责人"), _("期限")]] + [[i["title"], i["owner"], i["due_on"]] for i in block["interventions"]]
            story.append(pdf.table(as_cells(items), col_widths=[120 * mm, 30 * mm, 30 * mm]))
    return pdf.render(story, title=title)


def report_generate(*, kind: str, day: date, by=None) -> ReportSnapshot:
    """Generate (or regenerate) the report containing `day`, store it and announce it once."""
    first_day, last_day = report_period(kind, day)
    data = report_data(kind, first_day, last_day)
    content = report_pdf(data)
    with transaction.atomic():
        snapshot = ReportSnapshot.objects.select_for_update().filter(kind=kind, period_start=first_day).first()
        if snapshot is None:
            snapshot = ReportSnapshot(kind=kind, period_start=first_day)
        snapshot.period_end = last_day
        snapshot.data = data
        snapshot.generated_at = timezone.now()
        snapshot.generated_by = by
        snapshot._history_user = by
        old_name = snapshot.pdf.name if snapshot.pdf else ""
        snapshot.pdf.save(f"{kind}-{first_day:%Y%m%d}.pdf", ContentFile(content), save=False)
        snapshot.full_clean()
        snapshot.save()
        if old_name and old_name != snapshot.pdf.name:
            snapshot.pdf.storage.delete(old_name)
        url = reverse("dashboards:report", args=[snapshot.pk])
        title = str(snapshot)
        for director in directors():
            notify(
                recipient=director,
                title=_("%(report)s已生成") % {"report": title},
                body=_("全公司：线索 %(leads)s，留痕动作 %(evidence)s，成交 %(deals)s 单，回款 %(payments)s 笔；未关闭干预任务 %(open)s 个。")
                % {**data["company"]["totals"], "open": data["open_interventions"]},
                url=url,
                dedupe_key=f"dashboards:report:{kind}:{first_day.isoformat()}:{director.pk}",
                payload={"report_id": snapshot.pk},
            )
        teams = {team.pk: team for team in Team.objects.select_related("supervisor")}
        for block in data["teams"]:
            team = teams.get(block["id"])
            if team is None or team.supervisor is None:
                continue
            notify(
                recipient=team.supervisor,
                title=_("%(report)s已生成（%(team)s）") % {"report": title, "team": team.name},
                body=_("%(team)s：线索 %(leads)s，留痕动作 %(evidence)s，成交 %(deals)s 单；未关闭干预任务 %(open)s 个。")
                % {**block["totals"], "team": team.name, "open": len(block["interventions"])},
                url=url,
                dedupe_key=f"dashboards:report:{kind}:{first_day.isoformat()}:{team.supervisor.pk}:{team.pk}",
                payload={"report_id": snapshot.pk, "team_id": team.pk},
            )
    return snapshot

"""Demo data for dashboards (A5), run last by `seed_demo`: a TV screen with its printed URL, the
KPI thresholds with SOP and training links, the anomaly rules replayed over the demo history (so
interventions exist on first start, older ones closed with a note), and the latest reports.

Nothing here invents activity: every number comes from what the other seeds wrote. On a thin
history it simply finds fewer anomalies. Deterministic and idempotent: the screen, thresholds and
reports are created once; anomalies are keyed per occurrence; only tasks still open are closed.
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.conf import settings

from salesops.models import Activity

from .anomalies import evaluate_anomalies
from .models import Intervention, InterventionStatus, Kpi, ReportKind, ReportSnapshot, Threshold, TvScreen
from .periods import local_date, today
from .reports import report_generate, report_period
from .services import intervention_close

SCREEN_NAME = "晨会大屏"
GUIDES = {
    Kpi.LEAD_TIMELINESS: (
        "线索响应 SOP：3 分钟接收、2 小时内有效联系",
        "https://wiki.example.com/sop/lead-response",
        "培训视频：首次电话的 5 个要点",
        "https://learn.example.com/videos/first-call",
    ),
    Kpi.ACTION_FULLNESS: (
        "拜访留痕 SOP：门牌照片、试用确认书、三项需求",
        "https://wiki.example.com/sop/visit-evidence",
        "培训视频：一次完整的医院拜访",
        "https://learn.example.com/videos/hospital-visit",
    ),
    Kpi.COLLABORATION_DENSITY: (
        "协同作战 SOP：关键客户的多人分工",
        "https://wiki.example.com/sop/team-selling",
        "培训视频：交叉带教怎么做",
        "https://learn.example.com/videos/cross-training",
    ),
}
CLOSING_NOTES = {
    "review_assignment": "已与运营复核分配规则：调整了待办上限并补充了在岗销售，次周时效回到 2 小时内。",
    "care_task": "已一对一沟通：近期在跑招标资料，已安排同组同事协助拜访，留痕动作恢复。",
    "cross_training": "已制定交叉带教计划：资深销售每周带新人共同拜访 2 家重点客户。",
}
CLOSE_AFTER_DAYS = 21  # tasks due longer ago than this were handled by their owners


def seed(ctx) -> None:
    rng = random.Random(f"{ctx.rng.random()}-dashboards")
    screen = TvScreen.objects.filter(name=SCREEN_NAME).first()
    if screen is None:
        # R12: the token is the screen's only credential, so even the demo's is random per install
        # (the model's default, secrets.token_urlsafe) — never derived from the public demo seed.
        rng.getrandbits(128)  # keep the demo's later random draws exactly as before
        screen = TvScreen.objects.create(name=SCREEN_NAME, location="杭州总部 3 楼晨会室")

    for kpi, (sop_title, sop_url, video_title, video_url) in GUIDES.items():
        threshold = Threshold.for_kpi(kpi)
        if not threshold.sop_url and not threshold.training_video_url:
            threshold.sop_title, threshold.sop_url = sop_title, sop_url
            threshold.training_video_title, threshold.training_video_url = video_title, video_url
            threshold.save()

    first = Activity.objects.order_by("occurred_at").values_list("occurred_at", flat=True).first()
    yesterday = today() - timedelta(days=1)
    opened = []
    if first is not None:
        history_days = max(1, (yesterday - local_date(first)).days + 1)
        opened = evaluate_anomalies(as_of=yesterday, history_days=history_days)

    closed = 0
    cutoff = today() - timedelta(days=CLOSE_AFTER_DAYS)
    for item in Intervention.objects.filter(status=InterventionStatus.OPEN, due_on__lt=cutoff).select_related("owner").order_by("pk"):
        intervention_close(intervention=item, note=CLOSING_NOTES[item.kind], by=item.owner)
        closed += 1

    reports = 0
    for kind, day in ((ReportKind.DAILY, yesterday), (ReportKind.WEEKLY, yesterday - timedelta(days=yesterday.weekday() + 1))):
        if not ReportSnapshot.objects.filter(kind=kind, period_start=report_period(kind, day)[0]).exists():
            report_generate(kind=kind, day=day)
            reports += 1

    by_kind = {kind: Intervention.objects.filter(kind=kind).count() for kind in CLOSING_NOTES}
    ctx.say(
        f"看板：今日战报大屏（免登录）{getattr(settings, 'SITE_URL', '')}{screen.get_absolute_url()}"
    )
    ctx.say(
        f"看板：新增干预任务 {len(opened)} 个（复核分配规则 {by_kind['review_assignment']}，关怀任务 {by_kind['care_task']}，"
        f"交叉带教 {by_kind['cross_training']}；关闭 {closed} 个），新生成报表 {reports} 份"
    )

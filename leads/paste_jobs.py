"""Large WeChat pastes are confirmed as a background job with progress (R4).

Confirming 500 pasted lines in the request committed them and then died (the worker was killed
while queueing deliveries) — the person saw a 500 and did not know what had been created. Above
`LEAD_PASTE_SYNC_LINES` valid lines the page stores a `PasteJob` and a qcluster task creates the
leads one line per transaction, counting progress in the same transaction: a task that runs twice
or dies half-way resumes at the first line not yet counted and never creates a line twice.
The page polls the job (htmx, every second; a plain link without JavaScript).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


def sync_line_limit() -> int:
    return int(getattr(settings, "LEAD_PASTE_SYNC_LINES", 20))


class PasteJobStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("创建中")
    DONE = "done", _("已完成")


class PasteJob(models.Model):
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("提交人"))
    text = models.TextField(_("待创建的行"))  # only the lines that previewed without errors
    status = models.CharField(_("状态"), max_length=8, choices=PasteJobStatus.choices, default=PasteJobStatus.QUEUED)
    total = models.PositiveIntegerField(_("行数"), default=0)
    processed = models.PositiveIntegerField(_("已处理"), default=0)
    created_count = models.PositiveIntegerField(_("新线索"), default=0)
    merged_count = models.PositiveIntegerField(_("并入已有线索"), default=0)
    lead_ids = models.JSONField(_("线索"), default=list, blank=True)
    failures = models.JSONField(_("失败的行"), default=list, blank=True)
    created_at = models.DateTimeField(_("提交时间"), default=timezone.now)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["text", "processed", "lead_ids", "created_count", "merged_count"])

    class Meta:
        app_label = "leads"
        ordering = ["-created_at"]
        verbose_name = verbose_name_plural = _("微信录入任务")

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, round(100 * self.processed / self.total))

    @property
    def finished(self) -> bool:
        return self.status == PasteJobStatus.DONE


def paste_job_start(*, lines: list, by) -> PasteJob:
    """Store the valid lines and queue the job after commit (the page shows its progress)."""
    job = PasteJob(created_by=by, text="\n".join(line.raw for line in lines), total=len(lines))
    job._history_user = by
    job.save()
    transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_id: int) -> None:
    from django_q.tasks import async_task

    async_task("leads.paste_jobs.paste_job_run", job_id, task_name=f"paste-{job_id}-{timezone.now():%H%M%S%f}")


def paste_job_run(job_id: int) -> str:
    """The task: create each remaining line in its own transaction with the progress counter."""
    from .intake import parse_wechat_text
    from .services import lead_intake

    job = PasteJob.objects.filter(pk=job_id).exclude(status=PasteJobStatus.DONE).first()
    if job is None:
        return "nothing to do"
    if job.status == PasteJobStatus.QUEUED:
        job.status = PasteJobStatus.RUNNING
        job.save(update_fields=["status"])
    lines = [line for line in parse_wechat_text(job.text, max_lines=job.total + 1) if line.ok]
    while True:
        with transaction.atomic():
            job = PasteJob.objects.select_for_update().get(pk=job_id)
            if job.processed >= len(lines):
                break
            line = lines[job.processed]
            try:
                with transaction.atomic():
                    result = lead_intake(data=line.data, by=job.created_by)
            except Exception as exc:  # noqa: BLE001 - one bad line must not stop the others
                job.failures = [*job.failures, {"line": line.raw[:300], "error": f"{exc.__class__.__name__}: {exc}"[:300]}]
            else:
                job.lead_ids = [*job.lead_ids, result.lead.pk]
                if result.created:
                    job.created_count += 1
                else:
                    job.merged_count += 1
            job.processed += 1
            job.skip_history_when_saving = True  # progress is not an audited change
            job.save(update_fields=["processed", "lead_ids", "created_count", "merged_count", "failures"])
    job.status, job.finished_at = PasteJobStatus.DONE, timezone.now()
    job.__dict__.pop("skip_history_when_saving", None)
    job.save(update_fields=["status", "finished_at", "failures"])
    return f"paste job {job_id}: {job.created_count} new, {job.merged_count} merged, {len(job.failures)} failed"

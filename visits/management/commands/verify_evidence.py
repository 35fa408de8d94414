"""python manage.py verify_evidence — re-hash every stored evidence file (V5).

Prints each mismatch (changed or missing file) and exits with status 1 when there is any, so a
cron job or CI step notices tampering. Files shared by several rows are hashed once.
"""

from __future__ import annotations

import hashlib

from django.core.management.base import BaseCommand, CommandError

from visits.models import Evidence


def file_sha256(field_file) -> str:
    digest = hashlib.sha256()
    with field_file.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Command(BaseCommand):
    help = "重新计算所有拜访证据文件的 SHA-256，报告不一致或缺失的文件（有问题时退出码为 1）。"

    def add_arguments(self, parser):
        parser.add_argument("--since", help="只检查此日期（YYYY-MM-DD）之后上传的证据")

    def handle(self, *args, since=None, **options):
        rows = Evidence.objects.order_by("pk")
        if since:
            rows = rows.filter(uploaded_at__date__gte=since)
        seen: dict[str, str | None] = {}
        checked = problems = 0
        for evidence in rows.only("pk", "file", "sha256", "label", "version", "task_id").iterator(chunk_size=2000):
            checked += 1
            name = evidence.file.name
            if name not in seen:
                try:
                    seen[name] = file_sha256(evidence.file)
                except (FileNotFoundError, OSError):
                    seen[name] = None
            actual = seen[name]
            if actual is None:
                problems += 1
                self.stdout.write(f"MISSING  evidence {evidence.pk} (task {evidence.task_id}, {evidence.label} v{evidence.version}): {name}")
            elif actual != evidence.sha256:
                problems += 1
                self.stdout.write(
                    f"MISMATCH evidence {evidence.pk} (task {evidence.task_id}, {evidence.label} v{evidence.version}): {name} "
                    f"stored {evidence.sha256} now {actual}"
                )
        summary = f"checked {checked} evidence rows ({len(seen)} files): {problems} problem(s)"
        if problems:
            raise CommandError(summary, returncode=1)
        self.stdout.write(self.style.SUCCESS(summary))

"""python manage.py backup [--dest DIR] [--keep N] — database + media + SHA-256 manifest (O5)."""

from __future__ import annotations

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from salesops.opstools.backup import BackupError, create_backup, prune


class Command(BaseCommand):
    help = "备份数据库（SQLite 在线备份 / PostgreSQL pg_dump）和附件目录，附 SHA-256 清单。"

    def add_arguments(self, parser):
        parser.add_argument("--dest", default=os.environ.get("BACKUP_DIR", "backups"), help="folder for the archive (default: $BACKUP_DIR or ./backups)")
        parser.add_argument("--keep", type=int, default=int(os.environ.get("BACKUP_KEEP", "0")), help="keep only the newest N archives in --dest (0: keep all)")

    def handle(self, *args, dest: str, keep: int, **options):
        try:
            archive = create_backup(Path(dest))
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        size = archive.stat().st_size
        self.stdout.write(self.style.SUCCESS(f"备份完成：{archive}（{size / 1024 / 1024:.1f} MB）"))
        for old in prune(Path(dest), keep):
            self.stdout.write(f"已删除旧备份：{old}")

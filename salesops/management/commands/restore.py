"""python manage.py restore ARCHIVE --yes — verify the manifest, then replace database and media (O5)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from salesops.opstools.backup import BackupError, restore_backup, verify_archive


class Command(BaseCommand):
    help = "从备份恢复：先核对签名与每个文件的 SHA-256，全部无误后替换数据库并写回附件。"

    def add_arguments(self, parser):
        parser.add_argument("archive")
        parser.add_argument("--yes", action="store_true", help="confirm: the current database is replaced")
        parser.add_argument("--verify-only", action="store_true", help="check the archive, change nothing")
        parser.add_argument("--trust-unsigned", action="store_true", help="accept a manifest signed under another SECRET_KEY (SHA-256 sums are still checked)")

    def handle(self, *args, archive: str, yes: bool, verify_only: bool, trust_unsigned: bool, **options):
        path = Path(archive)
        try:
            if verify_only:
                import tempfile

                with tempfile.TemporaryDirectory(prefix="salesops-verify-") as tmp:
                    manifest = verify_archive(path, Path(tmp), trust_unsigned=trust_unsigned)
                self.stdout.write(self.style.SUCCESS(f"备份完好：{len(manifest['files'])} 个文件，SHA-256 全部一致。"))
                return
            if not yes:
                raise CommandError("恢复会替换当前数据库和附件。确认请加 --yes（先用 --verify-only 可只做检查）。")
            result = restore_backup(path, trust_unsigned=trust_unsigned)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(
            f"恢复完成：{result['vendor']} 数据库（备份于 {result['created_at']}），{result['media_files']} 个附件。"
            "请运行 python manage.py migrate（备份若早于当前代码）。"
        ))

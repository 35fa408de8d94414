"""`python manage.py import_statement FILE --account ACC [--user USERNAME]` (F1): upload a bank export
for an account and import it now, exactly as the upload page does (layout detection, line errors,
dedupe, matching). Exit 0 when imported, 2 when refused (the reason is printed)."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError

from leads.cash import statements
from leads.cash.bankfiles import StatementFileError
from leads.cash.layouts import account_named
from leads.cash.models import StatementStatus


class Command(BaseCommand):
    help = "Import a bank statement export into an account."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file")
        parser.add_argument("--account", required=True)
        parser.add_argument("--user", help="who imports (default: the first active superuser)")

    def handle(self, *args, **options) -> None:
        path = Path(options["file"])
        try:
            data = path.read_bytes()
            account = account_named(options["account"])
        except (OSError, StatementFileError) as exc:
            raise CommandError(str(exc)) from exc
        User = get_user_model()
        users = User.objects.filter(is_active=True)
        user = users.filter(username=options["user"]).first() if options.get("user") else users.filter(is_superuser=True).order_by("pk").first()
        if user is None:
            raise CommandError("找不到导入人：请用 --user 指定一个有效的用户名。")
        try:
            statement = statements.statement_upload(account=account, uploaded_file=SimpleUploadedFile(path.name, data), by=user)
        except ValidationError as exc:
            raise CommandError("；".join(exc.messages)) from exc
        statement = statements.statement_import(statement.pk)
        if statement.status != StatementStatus.DONE:
            self.stderr.write(statement.error)
            for error in statement.line_errors[:50]:
                self.stderr.write(f"第 {error['line']} 行「{error['column']}」：{error['message']}（{error['value']}）")
            raise SystemExit(2)
        self.stdout.write(
            f"已导入「{statement.original_name}」（{statement.layout}）：数据行 {statement.total_rows}，新增 {statement.new_rows}，重复 {statement.duplicate_rows}，匹配建议 {statement.proposals}"
        )

"""`python manage.py parse_statement FILE [--account ACC] --json` (F1): read a bank export the way the
import does and print what it found, for ops and scripts. Nothing is written.

JSON: {"layout": …, "rows": [{"date", "amount", "payer", "account", "memo", "reference"}],
"errors": [{"line", "message"}]}; `amount` is signed from the account holder's side (money in > 0).
Exit 0 when every data row parsed, 2 otherwise (line errors, unknown layout, unreadable file)."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from leads.cash import layouts
from leads.cash.bankfiles import StatementFileError, UnknownLayout, parse_statement


def error_text(error: dict) -> str:
    return f"「{error['column']}」{error['message']}" + (f"（{error['value']}）" if error.get("value") else "")


class Command(BaseCommand):
    help = "Parse a bank statement export and print the rows (nothing is imported)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file")
        parser.add_argument("--account", help="bank account name (its saved column map is tried first)")
        parser.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args, **options) -> None:
        path = Path(options["file"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"无法读取文件「{path}」：{exc}") from exc
        account = layouts.account_named(options.get("account"))
        payload = {"layout": None, "rows": [], "errors": []}
        try:
            result = parse_statement(data, path.name, account.column_map if account else None, account.name if account else "", layouts.known_layouts())
        except UnknownLayout as exc:
            payload["errors"] = [{"line": exc.header_line, "message": str(exc)}]
            payload["header"] = exc.header
        except StatementFileError as exc:
            payload["errors"] = [{"line": 0, "message": str(exc)}]
        else:
            payload["layout"] = result.layout
            payload["rows"] = [
                {
                    "date": row.booked_on.isoformat(),
                    "amount": f"{row.amount:.2f}",
                    "payer": row.payer_name,
                    "account": row.payer_account,
                    "memo": row.memo,
                    "reference": row.reference,
                }
                for row in result.rows
            ]
            payload["errors"] = [{"line": error["line"], "message": error_text(error)} for error in result.errors]
        if options["json"]:
            self.stdout.write(json.dumps(payload, ensure_ascii=False, indent=1))
        else:
            self.stdout.write(f"layout: {payload['layout']}  rows: {len(payload['rows'])}  errors: {len(payload['errors'])}")
            for row in payload["rows"]:
                self.stdout.write(f"{row['date']}  {row['amount']:>14}  {row['payer']}  {row['memo']}")
            for error in payload["errors"]:
                self.stderr.write(f"第 {error['line']} 行：{error['message']}")
        if payload["errors"]:
            raise SystemExit(2)

"""Statement layouts clerks map once (F1): the saved column maps, found by header fingerprint, and
the service that saves a mapping for an account and its header, then re-queues the statement."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from .bankfiles import StatementFileError, UnknownLayout, parse_statement, validate_column_map
from .models import BankAccount, BankStatement, StatementLayout, StatementStatus

MAPPABLE_FIELDS = ("date", "time", "money_in", "money_out", "amount", "direction", "description", "balance", "payer_name", "payer_account", "memo", "reference", "currency")


def known_layouts() -> dict[str, dict]:
    """Header fingerprint → column map, for every layout a clerk saved (a few dozen rows at most)."""
    return {fingerprint: {**column_map, "name": name} for fingerprint, column_map, name in StatementLayout.objects.values_list("fingerprint", "column_map", "name")}


def account_named(name: str | None) -> BankAccount | None:
    if not name:
        return None
    account = BankAccount.objects.filter(name=name).first() or BankAccount.objects.filter(account_number=name).first()
    if account is None:
        raise StatementFileError(_("没有名为「%(name)s」的银行账户，请先在后台添加。") % {"name": name})
    return account


def statement_bytes(statement: BankStatement) -> bytes:
    with statement.file.open("rb") as handle:
        return handle.read()


def unknown_layout_of(statement: BankStatement) -> UnknownLayout | None:
    """The detected header and sample rows of a statement whose layout nothing matched."""
    try:
        parse_statement(statement_bytes(statement), statement.original_name, None, statement.account.name, known_layouts())
    except UnknownLayout as unknown:
        return unknown
    except (StatementFileError, OSError):
        return None
    return None


def column_map_from_choices(header: list[str], choices: dict) -> dict:
    """The form's picks (column positions) → a column map naming headers, validated."""
    def name(position) -> str:
        try:
            return header[int(position)]
        except (TypeError, ValueError, IndexError):
            return ""

    column_map: dict = {"amount_mode": choices.get("amount_mode") or "split"}
    for key in MAPPABLE_FIELDS:
        value = choices.get(key)
        if key == "memo":
            names = [name(position) for position in (value or []) if name(position)]
            if names:
                column_map["memo"] = names
        elif value not in (None, ""):
            if name(value):
                column_map[key] = name(value)
    for key in ("in_values", "out_values"):
        words = [word.strip() for word in str(choices.get(key) or "").replace("，", ",").split(",") if word.strip()]
        if words:
            column_map[key] = words
    if choices.get("negate"):
        column_map["negate"] = True
    validate_column_map(column_map)
    return column_map


@transaction.atomic
def layout_save(*, statement: BankStatement, name: str, column_map: dict, by) -> StatementLayout:
    """Save the mapping for the statement's header fingerprint and for its account, and import the
    statement again with it."""
    unknown = unknown_layout_of(statement)
    if unknown is None or not unknown.fingerprint:
        raise ValidationError(_("这份文件的格式已经可以识别，无需再设置列映射。"))
    validate_column_map(column_map)
    layout = StatementLayout.objects.filter(fingerprint=unknown.fingerprint).first() or StatementLayout(fingerprint=unknown.fingerprint)
    layout.name, layout.header, layout.column_map = name[:80], unknown.header, column_map
    layout.account, layout.created_by = statement.account, by
    layout.full_clean()
    layout.save()
    account = statement.account
    account.column_map = {**column_map, "name": layout.name}
    account.save(update_fields=["column_map"])
    statement.status, statement.error, statement.line_errors = StatementStatus.QUEUED, "", []
    statement.save(update_fields=["status", "error", "line_errors"])
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task("leads.cash.tasks.statement_import_task", statement.pk, task_name=f"cash-statement-{statement.pk}"))
    return layout

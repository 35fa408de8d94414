"""Bank-statement import and confirmation (C3).

Upload → a `BankStatement` row and a django-q2 task (`leads.cash.tasks.statement_import_task`) after
commit. The task reads the file with the account's column map and imports it atomically: if any
data line has an error, nothing is written and the statement lists every line error; otherwise all
new rows are written and matched in one transaction. Rows already imported from an overlapping
export are skipped (dedupe key per account).

Nothing is applied without a person: `statement_row_confirm` records the payments.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.db.models import Sum
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from .bankfiles import ParsedRow, StatementFileError, UnknownLayout, parse_statement
from .deals import payment_record
from .layouts import known_layouts
from .matching import Matcher, _account_key, normalise_name
from .models import (
    BankAccount,
    BankStatement,
    MatchAllocation,
    MatchProposal,
    PayerAlias,
    ProposalStatus,
    Receivable,
    RowStatus,
    StatementRow,
    StatementStatus,
)

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
STALE_CLAIM = timezone.timedelta(minutes=15)
BATCH = 500


def dedupe_key(account_id: int, row: ParsedRow, occurrence: int) -> str:
    """(account, date, amount, balance, reference) + the occurrence of that tuple in the file, so two
    genuinely identical lines in one export both count, and re-importing either export adds none."""
    balance = str(row.balance) if row.balance is not None else row.balance_text
    raw = f"{account_id}|{row.booked_on.isoformat()}|{row.amount}|{balance}|{row.reference}|{occurrence}"
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def statement_upload(*, account: BankAccount, uploaded_file, by) -> BankStatement:
    """Store the file and queue its import after commit."""
    name = getattr(uploaded_file, "name", "") or "statement"
    if not account.active:
        raise ValidationError({"account": _("账户已停用")})
    size = getattr(uploaded_file, "size", None)
    if not size:
        raise ValidationError({"file": _("文件「%(name)s」是空的") % {"name": name}})
    if size > MAX_UPLOAD_BYTES:
        raise ValidationError({"file": _("文件「%(name)s」超过 10 MB") % {"name": name}})
    digest = hashlib.sha256()
    for chunk in uploaded_file.chunks():
        digest.update(chunk)
    uploaded_file.seek(0)
    statement = BankStatement(account=account, original_name=name[:255], uploaded_by=by, sha256=digest.hexdigest())
    statement.file.save(name, uploaded_file, save=False)
    statement.save()
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task("leads.cash.tasks.statement_import_task", statement.pk, task_name=f"cash-statement-{statement.pk}"))
    return statement


def _claim(statement_id: int) -> BankStatement | None:
    """Take the statement for processing; None when another run has it or it is finished."""
    with transaction.atomic():
        statement = BankStatement.objects.select_for_update().filter(pk=statement_id).first()
        if statement is None:
            return None
        stale = statement.status == StatementStatus.PROCESSING and statement.started_at and statement.started_at < timezone.now() - STALE_CLAIM
        if statement.status != StatementStatus.QUEUED and not stale:
            return None
        statement.status, statement.started_at = StatementStatus.PROCESSING, timezone.now()
        statement.save(update_fields=["status", "started_at"])
        return statement


def _fail(statement: BankStatement, message: str, line_errors: list[dict] | None = None) -> BankStatement:
    statement.status, statement.error = StatementStatus.FAILED, message
    statement.line_errors = line_errors or []
    statement.finished_at = timezone.now()
    statement.save(update_fields=["status", "error", "line_errors", "finished_at"])
    return statement


def statement_import(statement_id: int) -> BankStatement | None:
    """Parse, dedupe, write and match one uploaded statement. Safe to run twice."""
    statement = _claim(statement_id)
    if statement is None:
        return BankStatement.objects.filter(pk=statement_id).first()
    account = statement.account
    try:
        with statement.file.open("rb") as handle:
            data = handle.read()
        parsed = parse_statement(data, statement.original_name, account.column_map, account.name, known_layouts())
    except UnknownLayout as exc:
        _fail(statement, str(exc))
        statement.status = StatementStatus.NEEDS_LAYOUT
        statement.save(update_fields=["status"])
        return statement
    except StatementFileError as exc:
        return _fail(statement, str(exc))
    except OSError as exc:
        return _fail(statement, _("文件「%(name)s」无法读取：%(error)s") % {"name": statement.original_name, "error": exc})
    statement.encoding, statement.header_line, statement.layout = parsed.encoding, parsed.header_line, parsed.layout[:80]
    if parsed.errors:
        first = parsed.errors[0]
        message = _("文件「%(name)s」有 %(n)d 行无法识别，整份文件未导入（第 %(line)d 行「%(column)s」：%(message)s「%(value)s」）。") % {
            "name": statement.original_name,
            "n": len({error["line"] for error in parsed.errors}),
            "line": first["line"],
            "column": first["column"],
            "message": first["message"],
            "value": first["value"],
        }
        statement.save(update_fields=["encoding", "header_line", "layout"])
        return _fail(statement, message, parsed.errors)
    with transaction.atomic():
        _write_rows(statement, parsed.rows, parsed.skipped)
    return statement


def _write_rows(statement: BankStatement, parsed_rows: list[ParsedRow], skipped: int) -> None:
    account = statement.account
    seen: Counter = Counter()
    keyed = []
    for row in parsed_rows:
        identity = (row.booked_on, row.amount, row.balance if row.balance is not None else row.balance_text, row.reference)
        seen[identity] += 1
        keyed.append((dedupe_key(account.pk, row, seen[identity]), row))
    keys = [key for key, _row in keyed]
    existing: set[str] = set()
    for start in range(0, len(keys), BATCH):
        existing.update(
            StatementRow.objects.filter(account=account, dedupe_key__in=keys[start : start + BATCH]).values_list("dedupe_key", flat=True)
        )
    matcher = Matcher.load()
    new_rows, proposals_per_row = [], []
    for key, row in keyed:
        if key in existing:
            continue
        proposals = matcher.propose(
            amount=row.amount, booked_on=row.booked_on, payer_name=row.payer_name, memo=row.memo, reference=row.reference, payer_account=row.payer_account
        )
        if row.amount <= 0:
            status = RowStatus.OUTGOING
        elif proposals and proposals[0].confidence == "high":
            status = RowStatus.PROPOSED
        else:
            status = RowStatus.REVIEW
        new_rows.append(
            StatementRow(
                statement=statement,
                account=account,
                line_number=row.line,
                booked_on=row.booked_on,
                booked_time=row.booked_time,
                amount=row.amount,
                balance=row.balance,
                balance_text=row.balance_text,
                reference=row.reference,
                payer_name=row.payer_name,
                payer_account=row.payer_account,
                payer_key=normalise_name(row.payer_name)[:200],
                memo=row.memo,
                dedupe_key=key,
                status=status,
            )
        )
        proposals_per_row.append(proposals)
    created = bulk_create_with_history(new_rows, StatementRow, batch_size=BATCH) if new_rows else []
    proposal_objects, allocation_specs = [], []
    for row, proposals in zip(created, proposals_per_row):
        for rank, proposal in enumerate(proposals, start=1):
            proposal_objects.append(
                MatchProposal(
                    row=row,
                    rank=rank,
                    kind=proposal.kind,
                    confidence=proposal.confidence,
                    score=proposal.score,
                    reasons=proposal.reasons,
                )
            )
            allocation_specs.append(proposal.allocations)
    saved = bulk_create_with_history(proposal_objects, MatchProposal, batch_size=BATCH) if proposal_objects else []
    allocations = [
        MatchAllocation(proposal=proposal, receivable_id=receivable_id, amount=amount)
        for proposal, specs in zip(saved, allocation_specs)
        for receivable_id, amount in specs
    ]
    if allocations:
        bulk_create_with_history(allocations, MatchAllocation, batch_size=BATCH)
    statement.total_rows = len(parsed_rows)
    statement.new_rows = len(created)
    statement.duplicate_rows = len(parsed_rows) - len(created)
    statement.skipped_rows = skipped
    statement.proposals = len(saved)
    statement.status, statement.error, statement.line_errors = StatementStatus.DONE, "", []
    statement.finished_at = timezone.now()
    statement.save()


# --- A person decides -----------------------------------------------------------------------------


OPEN_STATUSES = (RowStatus.PROPOSED, RowStatus.REVIEW, RowStatus.PARTIAL)


def _open_row(row: StatementRow) -> StatementRow:
    row = StatementRow.objects.select_for_update().get(pk=row.pk)
    if row.status not in OPEN_STATUSES or row.remainder <= 0:
        raise ValidationError(_("这笔流水已处理（%(status)s）") % {"status": row.get_status_display()})
    return row


def _status_after(row: StatementRow) -> str:
    """Open while a remainder is left; otherwise matched, refunded or not ours."""
    if row.remainder > 0:
        return RowStatus.PARTIAL if (row.allocated_amount or row.closed_amount) else RowStatus.REVIEW
    if row.closed_amount and row.closed_as == RowStatus.REFUNDED:
        return RowStatus.REFUNDED
    if row.closed_amount and not row.allocated_amount:
        return RowStatus.IGNORED
    return RowStatus.MATCHED


def statement_row_recount(*, row: StatementRow, at=None) -> StatementRow:
    """Allocated = the net of the row's payments (a reversal gives its part back to the remainder)."""
    row = StatementRow.objects.select_for_update().get(pk=row.pk)
    row.allocated_amount = row.payments.aggregate(total=Sum("amount"))["total"] or Decimal("0")
    row.status = _status_after(row)
    row.save(update_fields=["allocated_amount", "status"])
    return row


def payer_alias_learn(*, row: StatementRow, hospital_id: int) -> None:
    """Every confirmed match teaches the payer name (and its account) for next time; a name or an
    account already known for another hospital is left alone (ops decide in admin)."""
    account = _account_key(row.payer_account)
    alias = PayerAlias.objects.filter(payer_key=row.payer_key).first() if row.payer_key else None
    if row.payer_key and alias is None:
        alias = PayerAlias.objects.create(payer_name=row.payer_name, payer_account=account, hospital_id=hospital_id, learned=True)
    elif alias is not None and alias.hospital_id == hospital_id and account and not alias.payer_account:
        alias.payer_account = account
        alias.save(update_fields=["payer_account"])
    if account and not PayerAlias.objects.filter(payer_account=account).exists():
        # The same account under a differently spelled name is still that hospital's account.
        if alias is None or alias.hospital_id != hospital_id or (alias.payer_account and alias.payer_account != account):
            name = f"{row.payer_name or _('账户')} #{account}"
            PayerAlias.objects.create(payer_name=name[:200], payer_account=account, hospital_id=hospital_id, learned=True)


@transaction.atomic
def statement_row_confirm(*, row: StatementRow, allocations: list[tuple[Receivable, Decimal]], by, pushed_by=None, proposal: MatchProposal | None = None) -> list:
    """Record one payment per allocation from this bank row (C5: part of the row may stay open; its
    remainder shows until it is allocated, refunded or marked not ours). Allocations may not exceed
    the remainder or any instalment's outstanding amount. The pusher defaults to the deal owner,
    named by the person confirming — unless that is the owner themself (T4: nobody names themself)."""
    row = _open_row(row)
    allocations = [(receivable, amount) for receivable, amount in allocations if amount]
    if not allocations:
        raise ValidationError(_("请至少选择一笔应收并填写金额"))
    total = sum((amount for _receivable, amount in allocations), Decimal("0"))
    if total > row.remainder:
        raise ValidationError(_("分配合计 %(total)s 超过流水未分配金额 %(amount)s") % {"total": total, "amount": row.remainder})
    payments = []
    reference = row.reference or _("银行流水 %(date)s %(payer)s") % {"date": row.booked_on, "payer": row.payer_name}
    for receivable, amount in allocations:
        owner = receivable.deal.owner
        pusher = pushed_by or (owner if owner.pk != by.pk else None)
        payments.append(
            payment_record(
                receivable=receivable,
                amount=amount,
                received_on=row.booked_on,
                by=by,
                pushed_by=pusher,
                reference=reference,
                statement_row=row,
            )
        )
    row = statement_row_recount(row=row)
    row.decided_by, row.decided_at = by, timezone.now()
    row.save(update_fields=["decided_by", "decided_at"])
    for other in row.match_proposals.filter(status=ProposalStatus.OPEN):
        other.status = ProposalStatus.CONFIRMED if proposal and other.pk == proposal.pk else ProposalStatus.DISMISSED
        other.save(update_fields=["status"])
    hospitals = {receivable.deal.hospital_id for receivable, _amount in allocations}
    if len(hospitals) == 1:
        payer_alias_learn(row=row, hospital_id=hospitals.pop())
    return payments


def match_proposal_confirm(*, proposal: MatchProposal, by, pushed_by=None) -> list:
    allocations = [(allocation.receivable, allocation.amount) for allocation in proposal.allocations.select_related("receivable__deal")]
    return statement_row_confirm(row=proposal.row, allocations=allocations, by=by, pushed_by=pushed_by, proposal=proposal)


def _close_remainder(row: StatementRow, by, reason: str, closed_as: str) -> StatementRow:
    row.closed_amount += row.remainder
    row.closed_as, row.closed_reason = closed_as, (reason or "").strip()[:200]
    row.status = _status_after(row)
    row.decided_by, row.decided_at = by, timezone.now()
    row.save(update_fields=["closed_amount", "closed_as", "closed_reason", "status", "decided_by", "decided_at"])
    for proposal in row.match_proposals.filter(status=ProposalStatus.OPEN):
        proposal.status = ProposalStatus.DISMISSED
        proposal.save(update_fields=["status"])
    return row


@transaction.atomic
def statement_row_ignore(*, row: StatementRow, by, reason: str = "") -> StatementRow:
    """The (remaining) money is not ours to book: interest, a transfer between our accounts, a
    payment meant for someone else. Kept, with who decided and why."""
    return _close_remainder(_open_row(row), by, reason, RowStatus.IGNORED)


@transaction.atomic
def statement_row_refund(*, row: StatementRow, by, reason: str) -> StatementRow:
    """The remainder was paid back to the payer (an overpayment)."""
    if not (reason or "").strip():
        raise ValidationError({"reason": _("请填写退回说明（如退款流水号）")})
    return _close_remainder(_open_row(row), by, reason, RowStatus.REFUNDED)

"""C3: uploading statements — a django-q2 task imports them atomically (line-level errors, nothing
half-imported) and deduplicates rows across overlapping exports."""

from datetime import date
from decimal import Decimal

import pytest

from leads.cash.bankfiles import PRESETS
from leads.cash.models import BankAccount, RowStatus, StatementRow, StatementStatus
from leads.cash.statements import statement_import
from leads.cash.tasks import statement_import_task

from .helpers import DATA
from .statement_files import Line, corporate_csv

pytestmark = pytest.mark.django_db


def lines(*days):
    return [
        Line(date(2026, 11, day), credit=Decimal(1000 + day), balance=f"{100000 + day:,}.00", payer="浙江省人民医院", reference=f"ICBC202611{day:02d}")
        for day in days
    ]


def test_a_gbk_csv_with_a_preamble_imports(upload, olga, account):
    """C3 (done-when): the GBK export with preamble and totals lines becomes statement rows."""
    statement = upload(olga, account, "工行对公11月.csv", corporate_csv(lines(3, 4, 5), encoding="gbk"))
    assert statement.status == StatementStatus.DONE, statement.error
    assert (statement.encoding, statement.header_line, statement.total_rows, statement.new_rows, statement.skipped_rows) == ("gbk", 5, 3, 3, 2)
    row = StatementRow.objects.get(booked_on=date(2026, 11, 3))
    assert (row.amount, row.payer_name, row.reference, row.account, row.statement) == (Decimal("1003.00"), "浙江省人民医院", "ICBC20261103", account, statement)
    assert row.status == RowStatus.REVIEW  # nothing owed yet: waits for a person


def test_a_re_imported_overlapping_statement_adds_no_duplicates(upload, olga, account):
    """C3 (done-when): 3–6 Nov after 1–4 Nov adds only the 5th and 6th."""
    upload(olga, account, "第一次.csv", corporate_csv(lines(1, 2, 3, 4)))
    second = upload(olga, account, "第二次.csv", corporate_csv(lines(3, 4, 5, 6), encoding="utf-8"))
    assert (second.total_rows, second.new_rows, second.duplicate_rows) == (4, 2, 2)
    assert StatementRow.objects.count() == 6
    third = upload(olga, account, "第一次.csv", corporate_csv(lines(1, 2, 3, 4)))
    assert (third.new_rows, third.duplicate_rows) == (0, 4)


def test_two_identical_lines_in_one_export_both_count_and_still_dedupe(upload, olga):
    """C3: BOC's credit bill has two identical 70.48 lines on 24 Dec: both are real; a re-export adds none."""
    account = BankAccount.objects.create(
        name="中行卡",
        bank="custom",
        column_map={"date": "交易日", "amount_mode": "split", "money_in": "存入", "money_out": "支出", "memo": ["交易描述"]},
    )
    data = (DATA / "boc_credit_example-boc-records.csv").read_bytes()
    first = upload(olga, account, "boc.csv", data)
    assert (first.status, first.new_rows) == (StatementStatus.DONE, 14)
    assert StatementRow.objects.filter(amount=Decimal("70.48")).count() == 2
    assert upload(olga, account, "boc-again.csv", data).new_rows == 0


def test_the_icbc_sample_imports_with_masked_balances(upload, olga):
    account = BankAccount.objects.create(name="工行个人", bank="icbc_personal", column_map=PRESETS["icbc_personal"]["map"])
    statement = upload(olga, account, "icbc.csv", (DATA / "icbc_debit-v2_example-icbc-debit-v2-records.csv").read_bytes())
    assert (statement.status, statement.new_rows, statement.skipped_rows) == (StatementStatus.DONE, 11, 2)
    assert set(StatementRow.objects.values_list("balance_text", flat=True)) == {"xx,yyyy.zz"}
    assert StatementRow.objects.filter(status=RowStatus.OUTGOING).count() == 6  # 5 incoming


def test_one_bad_line_imports_nothing_and_lists_every_error(client, upload, olga, account):
    """C3: atomic — a bad amount on one line and a bad date on another: no rows at all, both errors shown."""
    good = corporate_csv(lines(1, 2), encoding="utf-8").decode()
    bad = good.replace(" 1,001.00\t", "一千零一").replace(" 2026-11-02\t", "2026-13-45")
    statement = upload(olga, account, "坏文件.csv", bad.encode("gbk"))
    assert statement.status == StatementStatus.FAILED
    assert StatementRow.objects.count() == 0
    assert [(e["line"], e["column"], e["value"]) for e in statement.line_errors] == [(6, "贷方金额", "一千零一"), (7, "交易日期", "2026-13-45")]
    assert "坏文件.csv" in statement.error and "整份文件未导入" in statement.error
    page = client.get(f"/cash/statements/{statement.pk}/").content.decode()
    assert "一千零一" in page and "2026-13-45" in page
    assert upload(olga, account, "改好的.csv", good.encode("gbk")).new_rows == 2


def test_a_file_the_map_does_not_fit_is_recognised_by_its_header(client, upload, olga, account):
    """F1: a CMB export on an account mapped for the generic layout is read with the CMB preset;
    the sample's broken running balance makes line errors, listed on the page."""
    statement = upload(olga, account, "招行.csv", (DATA / "cmb_debit_example-cmb-records.csv").read_bytes())
    assert (statement.status, statement.layout) == (StatementStatus.FAILED, "cmb_personal")
    assert "招行.csv" in statement.error and "余额不连续" in statement.error
    assert [error["line"] for error in statement.line_errors] == [4, 5, 6]


def test_an_unknown_layout_waits_for_a_column_map(client, upload, olga, account):
    """F1: a header no preset knows: the statement waits for the mapping form, the page links to it."""
    statement = upload(olga, account, "某行.csv", "记账日,收款金额,付款金额,交易对手\n2026-11-03,100.00,,医院\n".encode())
    assert statement.status == StatementStatus.NEEDS_LAYOUT and "某行.csv" in statement.error
    page = client.get(f"/cash/statements/{statement.pk}/").content.decode()
    assert f"/cash/statements/{statement.pk}/layout/" in page
    form = client.get(f"/cash/statements/{statement.pk}/layout/").content.decode()
    assert "收款金额" in form and "交易对手" in form


def test_not_a_statement_at_all(upload, olga, account):
    statement = upload(olga, account, "photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert statement.status == StatementStatus.FAILED and "photo.csv" in statement.error


def test_the_task_may_run_twice(upload, olga, account):
    """Habit 10: a second run of the task finds the statement done and writes nothing."""
    statement = upload(olga, account, "a.csv", corporate_csv(lines(1, 2)))
    assert statement_import_task(statement.pk) == StatementStatus.DONE
    assert statement_import(statement.pk).new_rows == 2
    assert StatementRow.objects.count() == 2


def test_an_empty_upload_is_refused_on_the_form(client, olga, account):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(olga)
    response = client.post("/cash/statements/", {"account": account.pk, "file": SimpleUploadedFile("empty.csv", b"")})
    assert response.status_code == 400 and "空" in response.content.decode()


def test_only_finance_uploads_and_sees_statements(client, upload, alice, carol, olga, diana, account):
    """A3: reps get 404; a supervisor is sent to the review queue; director and ops see files."""
    statement = upload(olga, account, "a.csv", corporate_csv(lines(1)))
    client.force_login(alice)
    assert client.get("/cash/statements/").status_code == 404
    assert client.get(f"/cash/statements/{statement.pk}/").status_code == 404
    client.force_login(carol)
    assert client.get("/cash/statements/")["Location"] == "/cash/review/"
    assert client.get(f"/cash/statements/{statement.pk}/").status_code == 404
    client.force_login(diana)
    assert client.get(f"/cash/statements/{statement.pk}/").status_code == 200


def test_the_status_fragment_polls_until_done(client, olga, account):
    """C3 htmx: a queued statement's status block polls itself; the fragment has no page around it."""
    from django.core.files.base import ContentFile

    from leads.cash.models import BankStatement

    statement = BankStatement(account=account, original_name="q.csv", uploaded_by=olga)
    statement.file.save("q.csv", ContentFile(corporate_csv(lines(1))), save=True)
    client.force_login(olga)
    body = client.get(f"/cash/statements/{statement.pk}/", headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in body and 'hx-trigger="every 2s"' in body and "排队中" in body
    statement_import(statement.pk)
    body = client.get(f"/cash/statements/{statement.pk}/", headers={"HX-Request": "true"}).content.decode()
    assert "every 2s" not in body and "已导入" in body

"""A1 — Excel import of customers and hospitals: preview with per-row errors, nothing half-imported."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models.signals import post_save
from openpyxl import load_workbook

from salesops.imports import import_parse, normalise_phone
from salesops.models import Contact, Customer, Department, Hospital, ImportJob, ImportStatus

from ..factories import CustomerFactory
from .xlsx import CUSTOMER_HEADERS, HOSPITAL_HEADERS, XLSX_TYPE, xlsx_bytes, xlsx_upload

GOOD_ROWS = [
    ["浙江省人民医院 骨科", "浙江省人民医院", "骨科", "王建国", "主任", "13812345678", "alice"],
    ["浙江省人民医院 脊柱外科", "浙江省人民医院", "脊柱外科", "李华", "院长", "0571-87654321", "bob"],
    ["浙江省人民医院 创伤骨科", "浙江省人民医院", "", "", "", "", "alice"],
]


def _page(client, job) -> str:
    return client.get(f"/imports/job/{job.pk}/").content.decode()


def test_import_with_one_bad_row_imports_nothing_and_reports_the_row(client, upload, carol, alice, bob, people_hospital):
    """A1: one bad row → the preview names its Excel line and field, confirming is refused, nothing is written."""
    rows = [*GOOD_ROWS[:2], ["浙江省人民医院 关节外科", "浙江省人民医院", "关节外科", "赵六", "主任", "12345", "alice"]]
    response, job = upload(carol, rows)
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEW
    assert (job.total_rows, job.error_count) == (3, 1)
    assert job.error_rows[0]["line"] == 4  # header on line 1, third data row on line 4
    assert job.error_rows[0]["errors"] == [{"field": "phone", "code": "bad_phone", "params": {"value": "12345"}}]
    page = _page(client, job)
    assert "第 4 行 · 电话" in page and "「12345」不是有效的电话" in page
    assert "只要有一行有错误，就不能确认，也不会写入任何数据" in page

    response = client.post(f"/imports/job/{job.pk}/confirm/", follow=True)
    assert "有 1 行有错误，未导入任何数据" in response.content.decode()
    assert Customer.objects.count() == 0 and Contact.objects.count() == 0
    assert Department.objects.filter(name="关节外科").count() == 0
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEW


def test_clean_import_creates_all_rows_with_history(client, upload, carol, alice, bob, people_hospital):
    """A1 + A2: every row is created in one go; each record has a creation history row by the confirmer."""
    _response, job = upload(carol, GOOD_ROWS)
    job.refresh_from_db()
    assert job.can_confirm
    response = client.post(f"/imports/job/{job.pk}/confirm/", follow=True)
    assert "已导入 3 条客户" in response.content.decode()

    customers = {customer.name: customer for customer in Customer.objects.select_related("department", "owner")}
    assert set(customers) == {row[0] for row in GOOD_ROWS}
    spine = customers["浙江省人民医院 脊柱外科"]
    assert spine.owner == bob and spine.department.name == "脊柱外科" and spine.phone == "+8657187654321"
    assert customers["浙江省人民医院 骨科"].department.name == "骨科"  # the existing department is reused
    assert Department.objects.filter(hospital=people_hospital, name="骨科").count() == 1
    assert customers["浙江省人民医院 创伤骨科"].department is None
    contact = Contact.objects.get(name="李华")
    assert (contact.title, contact.phone, contact.customer) == ("院长", "+8657187654321", spine)
    # P1: an imported list's people were collected by the list's source; the basis is kept.
    assert contact.consent_basis == "import" and contact.consent_recorded_at is not None
    assert Contact.objects.count() == 2

    history = Customer.history.filter(history_type="+")
    assert history.count() == 3
    assert {record.history_user for record in history} == {carol}
    assert all(record.history_change_reason == "Excel 导入：客户.xlsx" for record in history)
    assert Contact.history.filter(history_user=carol).count() == 2
    assert Department.history.filter(history_user=carol, name="脊柱外科").exists()
    job.refresh_from_db()
    assert (job.status, job.created_count, job.confirmed_by) == (ImportStatus.DONE, 3, carol)
    # A second confirm (double click) creates nothing more.
    response = client.post(f"/imports/job/{job.pk}/confirm/", follow=True)
    assert "不能再确认" in response.content.decode()
    assert Customer.objects.count() == 3


def test_duplicates_within_the_file_and_against_the_database_are_row_errors(client, upload, carol, alice, people_hospital):
    """A1: a repeated row points at the first one; a customer that already exists is named."""
    CustomerFactory(hospital=people_hospital, department=None, name="浙江省人民医院 骨科", owner=alice)
    rows = [
        ["浙江省人民医院 骨科", "浙江省人民医院", "骨科", "", "", "", "alice"],
        ["浙江省人民医院 关节外科", "浙江省人民医院", "", "", "", "", "alice"],
        ["浙江省人民医院  关节外科", " 浙江省人民医院", "", "", "", "", "alice"],  # the same, spaced differently
    ]
    _response, job = upload(carol, rows)
    job.refresh_from_db()
    errors = {row["line"]: row["errors"] for row in job.error_rows}
    assert errors == {
        2: [{"field": "name", "code": "customer_exists", "params": {"value": "浙江省人民医院 骨科"}}],
        4: [{"field": "name", "code": "duplicate_in_file", "params": {"line": 3}}],
    }
    page = _page(client, job)
    assert "与第 3 行重复" in page and "该医院已有客户「浙江省人民医院 骨科」" in page


def test_every_kind_of_row_error_names_its_field(client, upload, carol, alice, charlie, people_hospital):
    """A1: unknown hospital (with a suggestion), unknown owner, owner outside the team, missing
    required value, bad title — each on its own line and field."""
    rows = [
        ["A", "浙江省人民医", "", "", "", "", "alice"],
        ["B", "不存在的医院", "", "", "", "", "alice"],
        ["C", "浙江省人民医院", "", "", "", "", "nobody"],
        ["D", "浙江省人民医院", "", "", "", "", "charlie"],
        ["", "浙江省人民医院", "", "", "", "", ""],
        ["F", "浙江省人民医院", "", "钱七", "教授", "", "alice"],
        ["G", "浙江省人民医院", "", "", "主任", "13812345678", "alice"],
    ]
    _response, job = upload(carol, rows)
    job.refresh_from_db()
    found = {(row["line"], error["field"], error["code"]) for row in job.rows for error in row["errors"]}
    assert found == {
        (2, "hospital", "unknown_hospital_hint"),
        (3, "hospital", "unknown_hospital"),
        (4, "owner", "unknown_owner"),
        (5, "owner", "owner_out_of_scope"),
        (6, "name", "required"),
        (6, "owner", "required"),
        (7, "title", "bad_title"),
        (8, "contact", "contact_required"),
    }
    page = _page(client, job)
    assert "系统中没有医院「浙江省人民医」，是否为「浙江省人民医院」？" in page
    assert "「charlie」不在你的团队" in page
    assert "没有账号为「nobody」的销售" in page


def test_confirm_checks_again_against_the_database(client, upload, carol, alice, people_hospital):
    """A1: data may change between preview and confirm; the confirm re-checks and writes nothing."""
    _response, job = upload(carol, GOOD_ROWS[:1] + GOOD_ROWS[2:])
    job.refresh_from_db()
    assert job.can_confirm
    CustomerFactory(hospital=people_hospital, department=None, name="浙江省人民医院 创伤骨科", owner=alice)
    response = client.post(f"/imports/job/{job.pk}/confirm/", follow=True)
    body = response.content.decode()
    assert "有 1 行有错误，未导入任何数据" in body and "第 3 行 · 客户名称" in body
    assert Customer.objects.count() == 1
    job.refresh_from_db()
    assert (job.status, job.error_count) == (ImportStatus.PREVIEW, 1)


def test_progress_is_reported_while_parsing(client, carol, alice, people_hospital, upload):
    """A1: processed_rows moves while a large file is parsed; the page polls the #job fragment."""
    seen: list[tuple[int, int]] = []

    def record(sender, instance, update_fields=None, **kwargs):
        if update_fields and "processed_rows" in update_fields:
            seen.append((instance.processed_rows, instance.total_rows))

    rows = [[f"客户{i}", "浙江省人民医院", "骨科", "", "", "", "alice"] for i in range(450)]
    post_save.connect(record, sender=ImportJob)
    try:
        _response, job = upload(carol, rows)
    finally:
        post_save.disconnect(record, sender=ImportJob)
    assert [done for done, _total in seen] == [100, 200, 300, 400]
    assert all(total == 450 for _done, total in seen)
    # Progress ticks are not business changes: only upload and parse-finished are in history.
    assert job.history.count() == 2

    parsing = ImportJob.objects.create(kind="customers", original_name="大文件.xlsx", uploaded_by=carol, total_rows=400, processed_rows=100)
    client.force_login(carol)
    fragment = client.get(f"/imports/job/{parsing.pk}/", headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in fragment
    assert 'hx-trigger="every 1s"' in fragment and 'aria-valuenow="25"' in fragment and "100 / 400" in fragment
    full = _page(client, parsing)
    assert '<meta http-equiv="refresh" content="2">' in full  # without JavaScript the page reloads itself
    job.refresh_from_db()
    done = client.get(f"/imports/job/{job.pk}/", headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in done and "确认导入全部 450 行" in done


def test_cancel_writes_nothing_and_stops_the_job(client, upload, carol, alice, people_hospital):
    """A1: a cancelled import cannot be confirmed afterwards."""
    _response, job = upload(carol, GOOD_ROWS[:1])
    response = client.post(f"/imports/job/{job.pk}/cancel/", follow=True)
    assert "已取消导入" in response.content.decode()
    job.refresh_from_db()
    assert job.status == ImportStatus.CANCELLED
    client.post(f"/imports/job/{job.pk}/confirm/")
    assert Customer.objects.count() == 0


def test_a_job_cancelled_while_parsing_stays_cancelled(carol, people_hospital, alice):
    """A1: the person's cancel wins over a parse task that finishes afterwards."""
    job = ImportJob(kind="customers", original_name="客户.xlsx", uploaded_by=carol, status=ImportStatus.CANCELLED)
    job.file.save("客户.xlsx", io.BytesIO(xlsx_bytes(CUSTOMER_HEADERS, GOOD_ROWS)), save=False)
    job.save()
    import_parse(job.pk)
    job.refresh_from_db()
    assert job.status == ImportStatus.CANCELLED and job.rows == []


def test_rep_cannot_reach_import_pages(client, upload, alice, carol, people_hospital):
    """A1 + A3: reps get 403 on the import pages and 404 on someone else's job."""
    _response, job = upload(carol, GOOD_ROWS[:1])
    client.force_login(alice)
    assert client.get("/imports/").status_code == 403
    assert client.get("/imports/customers/new/").status_code == 403
    assert client.post("/imports/customers/new/", {"file": xlsx_upload(CUSTOMER_HEADERS, GOOD_ROWS)}).status_code == 403
    assert client.get("/imports/customers/template.xlsx").status_code == 403
    assert client.get(f"/imports/job/{job.pk}/").status_code == 404
    assert client.post(f"/imports/job/{job.pk}/confirm/").status_code == 404
    assert client.post(f"/imports/job/{job.pk}/cancel/").status_code == 404
    assert ImportJob.objects.count() == 1 and Customer.objects.count() == 0


def test_supervisors_import_customers_but_not_hospitals_and_not_others_jobs(client, upload, carol, dave, alice, people_hospital):
    """A1 + A3: hospitals are imported by the director or ops; a supervisor sees only their own jobs."""
    client.force_login(carol)
    assert client.get("/imports/hospitals/new/").status_code == 403
    assert client.get("/imports/nonsense/new/").status_code == 404
    _response, job = upload(carol, GOOD_ROWS[:1])
    client.force_login(dave)
    assert client.get(f"/imports/job/{job.pk}/").status_code == 404
    assert "客户.xlsx" not in client.get("/imports/").content.decode()


def test_hospital_import_checks_grade_and_coordinates(client, upload, diana):
    """A1: hospitals — bad grade, non-numeric, swapped, half-given coordinates and an unknown
    coordinate system are row errors; the corrected file imports with history."""
    rows = [
        ["湖州市第一人民医院", "三乙", "湖州", "", "", "", ""],
        ["湖州市中心医院", "三甲", "湖州", "", "三十", "120.1", ""],
        ["湖州市妇幼保健院", "二甲", "湖州", "", "120.08", "30.89", ""],
        ["长兴县人民医院", "二甲", "湖州", "", "30.9", "", ""],
        ["德清县人民医院", "二甲", "湖州", "", "30.54", "119.97", "北斗"],
    ]
    _response, job = upload(diana, rows, kind="hospitals", headers=HOSPITAL_HEADERS, name="医院.xlsx")
    job.refresh_from_db()
    found = {(row["line"], error["field"], error["code"]) for row in job.rows for error in row["errors"]}
    assert found == {
        (2, "grade", "bad_grade"),
        (3, "latitude", "bad_number"),
        (4, "latitude", "coordinates_swapped"),
        (5, "longitude", "coordinates_pair"),
        (6, "coordinate_system", "bad_coordinate_system"),
    }
    assert "纬度和经度可能填反了" in _page(client, job)

    good = [
        ["湖州市第一人民医院", "三级甲等", "湖州", "吴兴区广场后路158号", "30.8930", "120.0868", "GCJ-02"],
        ["长兴县人民医院", "二甲", "湖州", "", "", "", ""],
        ["湖州康复医院", "民营", "湖州", "", "30.87", "120.1", "百度"],
    ]
    _response, job = upload(diana, good, kind="hospitals", headers=HOSPITAL_HEADERS, name="医院.xlsx")
    response = client.post(f"/imports/job/{job.pk}/confirm/", follow=True)
    assert "已导入 3 条医院" in response.content.decode()
    first = Hospital.objects.get(name="湖州市第一人民医院")
    assert (first.grade, first.latitude, first.longitude, first.coordinate_system) == ("3A", Decimal("30.893000"), Decimal("120.086800"), "gcj02")
    assert Hospital.objects.get(name="湖州康复医院").coordinate_system == "bd09"
    assert Hospital.objects.get(name="长兴县人民医院").latitude is None
    assert Hospital.history.filter(history_type="+", history_user=diana).count() == 3
    # The same file again: every row is now a duplicate of the database.
    _response, again = upload(diana, good, kind="hospitals", headers=HOSPITAL_HEADERS, name="医院.xlsx")
    again.refresh_from_db()
    assert again.error_count == 3 and not again.can_confirm


def test_template_download_round_trips(client, upload, carol, olga, alice, people_hospital):
    """A1: the downloadable template has the expected headers and, once filled in, imports."""
    client.force_login(carol)
    response = client.get("/imports/customers/template.xlsx")
    assert response.status_code == 200 and response["Content-Type"] == XLSX_TYPE
    assert "attachment" in response["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(response.content))
    sheet = workbook.worksheets[0]
    assert [cell.value for cell in sheet[1]] == CUSTOMER_HEADERS
    assert "说明" in workbook.sheetnames
    sheet.append(GOOD_ROWS[0])
    filled = io.BytesIO()
    workbook.save(filled)
    _response, job = upload(carol, [], file=SimpleUploadedFile("模板.xlsx", filled.getvalue(), content_type=XLSX_TYPE))
    job.refresh_from_db()
    assert job.can_confirm and job.total_rows == 1

    client.force_login(olga)
    hospitals = load_workbook(io.BytesIO(client.get("/imports/hospitals/template.xlsx").content)).worksheets[0]
    assert [cell.value for cell in hospitals[1]] == HOSPITAL_HEADERS


def test_a_file_that_is_not_a_table_is_refused_with_its_name(client, carol):
    """A1/F6: bad input is answered with a message naming the file and what to do; no job is created.
    (A CSV is a table now — F5 — but one without the required columns is refused by name.)"""
    client.force_login(carol)
    csv = SimpleUploadedFile("客户表.csv", "客户名称,医院\n骨科,浙江省人民医院\n".encode(), content_type="text/csv")
    response = client.post("/imports/customers/new/", {"file": csv})
    assert response.status_code == 400
    assert "文件「客户表.csv」缺少必需的列：负责人" in response.content.decode()
    old = SimpleUploadedFile("客户表.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512)
    assert "文件「客户表.xls」的内容已损坏" in client.post("/imports/customers/new/", {"file": old}).content.decode()
    broken = SimpleUploadedFile("坏文件.xlsx", b"PK\x03\x04 not really a zip", content_type=XLSX_TYPE)
    assert "文件「坏文件.xlsx」已损坏（压缩结构无法读取），请在 Excel 中重新保存后上传" in client.post("/imports/customers/new/", {"file": broken}).content.decode()
    assert ImportJob.objects.count() == 0


def test_missing_columns_are_named_and_headers_match_tolerantly(client, upload, carol, alice, people_hospital):
    """A1: missing required columns are named; headers forgive spaces, full-width letters, "*" and notes."""
    response, job = upload(carol, [["骨科", "浙江省人民医院"]], headers=["客户名称", "科室"])
    assert job is None and response.status_code == 400
    assert "缺少必需的列：医院、负责人" in response.content.decode()

    headers = [" 客户 名称 ", "医院*", "科室", "联系人", "职务", "电　话", "负责人（账号）", "备注"]
    rows = [["浙江省人民医院 骨科", "浙江省人民医院", "骨科", "王五", "主任", "１３８１２３４５６７８", "alice", "随便"]]
    _response, job = upload(carol, rows, headers=headers, title_rows=[["2026 年客户清单"]])
    job.refresh_from_db()
    assert job.error_count == 0 and job.rows[0]["line"] == 3
    client.post(f"/imports/job/{job.pk}/confirm/")
    assert Customer.objects.get().phone == "+8613812345678"


def test_empty_sheet_is_refused(client, carol):
    client.force_login(carol)
    response = client.post("/imports/customers/new/", {"file": xlsx_upload(CUSTOMER_HEADERS, [], name="空.xlsx")})
    assert "文件「空.xlsx」在表头下没有数据行" in response.content.decode()


@pytest.mark.parametrize(
    "text,expected",
    [
        ("13812345678", "+8613812345678"),
        ("+86 138 1234 5678", "+8613812345678"),
        ("0571-87654321", "+8657187654321"),
        ("(010)12345678", "+861012345678"),
        ("１３９１２３４５６７８", "+8613912345678"),
        ("87654321", None),  # a landline without its area code
        ("12345678901", None),  # 1[3-9] only
        ("400-123-4567", None),  # not a person's or a department's number
        ("电话", None),
    ],
)
def test_phone_numbers_are_checked_as_chinese_numbers(text, expected):
    """A1: CN mobile 1[3-9]xxxxxxxxx or a landline with its area code, stored as E.164."""
    assert normalise_phone(text) == expected


def test_import_list_shows_jobs_and_upload_links(client, upload, carol, diana, alice, people_hospital):
    _response, job = upload(carol, GOOD_ROWS[:1])
    client.force_login(carol)
    page = client.get("/imports/").content.decode()
    assert "/imports/customers/new/" in page and "/imports/hospitals/new/" not in page
    assert f"/imports/job/{job.pk}/" in page
    client.force_login(diana)
    page = client.get("/imports/").content.decode()
    assert "/imports/hospitals/new/" in page and f"/imports/job/{job.pk}/" in page


def test_posting_without_a_file_names_the_missing_field(client, carol):
    client.force_login(carol)
    response = client.post("/imports/customers/new/", {})
    assert response.status_code == 400 and "这个字段是必填项" in response.content.decode()

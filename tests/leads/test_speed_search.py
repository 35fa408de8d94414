"""K2: one search function over leads, customers and hospitals — name, phone, hospital — that finds
Chinese substrings through an index: SQLite FTS5 (trigram) kept in step by triggers, PostgreSQL
pg_trgm. The same tests run on both backends (CI runs the suite on each)."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from leads.intake import IntakeData
from leads.models import Lead
from leads.services import lead_intake
from salesops.models import Customer, Hospital
from salesops.search import search

from ..factories import consented_intake, CustomerFactory, HospitalFactory

pytestmark = pytest.mark.django_db


def _ids(model, query: str) -> set[int]:
    return set(search(model, query).values_list("pk", flat=True))


def test_chinese_substrings_find_leads_by_name_hospital_and_phone(alice):
    """K2: any part of a Chinese name or hospital (3+ characters is an index lookup; 1–2 work too),
    or digits of the phone, finds the lead; Latin letters ignore case."""
    wang = lead_intake(data=consented_intake(contact_name="王建国主任", phone="+8613800001111", hospital_name="浙江省人民医院")).lead
    li = lead_intake(data=consented_intake(contact_name="李雷 Lee", phone="+8613900002222", hospital_name="杭州市第一人民医院")).lead
    assert _ids(Lead, "建国主") == {wang.pk}
    assert _ids(Lead, "人民医院") == {wang.pk, li.pk}
    assert _ids(Lead, "浙江省人民") == {wang.pk}
    assert _ids(Lead, "王") == {wang.pk}  # shorter than a trigram still answers
    assert _ids(Lead, "00001111") == {wang.pk}
    assert _ids(Lead, "lee") == {li.pk}
    assert _ids(Lead, "上海") == set() and _ids(Lead, "") == set()
    assert _ids(Lead, '"%_\\') == set()  # quotes and LIKE wildcards are text, not syntax
    assert _ids(Lead, "建国\x00主任") == set() and _ids(Lead, "\x00") == set()  # a NUL is no FTS syntax error


def test_the_index_follows_updates_deletes_and_bulk_writes():
    """K2: the search table is kept in step by the database, whichever door wrote the row."""
    lead = lead_intake(data=consented_intake(contact_name="张三丰", phone="+8613800003333")).lead
    lead.contact_name = "张无忌"
    lead.save(update_fields=["contact_name"])
    assert _ids(Lead, "张三丰") == set() and _ids(Lead, "张无忌") == {lead.pk}
    Lead.objects.filter(pk=lead.pk).update(hospital_name="武当山医院")
    assert _ids(Lead, "武当山") == {lead.pk}
    bulk = Lead.objects.bulk_create([Lead(contact_name=f"赵敏{index}号", phone=f"+86137000000{index:02d}") for index in range(3)])
    assert _ids(Lead, "赵敏") == {row.pk for row in bulk}
    Lead.objects.filter(contact_name__startswith="赵敏").delete()
    assert _ids(Lead, "赵敏") == set()


def test_customers_and_hospitals_are_searched_by_the_same_function(client, diana):
    """K2: customers by name or phone, hospitals by name, city or address; the customer and
    hospital list pages use it."""
    hospital = HospitalFactory(name="温州医科大学附属第一医院", city="温州", address="南白象街道")
    other = HospitalFactory(name="宁波市医疗中心李惠利医院", city="宁波")
    customer = CustomerFactory(hospital=hospital, name="温医附一 骨科", phone="057788069999", owner=diana)
    CustomerFactory(hospital=other, name="李惠利 关节外科", owner=diana)
    assert _ids(Hospital, "医科大学") == {hospital.pk}
    assert _ids(Hospital, "南白象") == {hospital.pk}
    assert _ids(Customer, "附一 骨") == {customer.pk}
    assert _ids(Customer, "88069999") == {customer.pk}
    client.force_login(diana)
    page = client.get("/customers/", {"q": "医科大学"}).content.decode()
    assert "温医附一 骨科" in page and "李惠利 关节外科" not in page
    page = client.get("/hospitals/", {"q": "李惠利"}).content.decode()
    assert "宁波市医疗中心李惠利医院" in page and "温州医科大学附属第一医院" not in page


def test_lead_list_search_uses_the_index(client, carol, alice):
    """K2: the lead list's search box goes through the search function (no LIKE scan of the lead
    table), and the scope still applies."""
    lead = lead_intake(data=consented_intake(contact_name="欧阳锋", phone="+8613800004444", hospital_name="白驼山庄医院")).lead
    client.force_login(carol)
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        page = client.get("/leads/team/", {"q": "白驼山", "state": "all"}).content.decode()
    assert f'data-lead="{lead.pk}"' in page
    sql = " ".join(query["sql"] for query in queries.captured_queries)
    assert ("MATCH" in sql) if connection.vendor == "sqlite" else ("ILIKE" in sql)
    assert not re.search(r"(?<!I)LIKE %白驼山%", sql.replace("'", ""))  # no plain LIKE scan (PostgreSQL's ILIKE is the trigram index)


def test_search_index_survives_a_table_rebuild():
    """K2: SQLite drops a table's triggers when a migration rebuilds it; `migrate` puts them back
    and re-reads the table, so search keeps following writes."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite table rebuilds only")
    from salesops.search import ensure_search_index

    with connection.cursor() as cursor:
        cursor.execute('DROP TRIGGER "leads_lead_search_ai"')
    missed = lead_intake(data=consented_intake(contact_name="慕容复", phone="+8613800005555")).lead
    assert _ids(Lead, "慕容复") == set()
    ensure_search_index(connection)
    assert _ids(Lead, "慕容复") == {missed.pk}

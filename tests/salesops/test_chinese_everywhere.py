"""U8 Chinese everywhere: Django's own strings, history with labels and local time, no raw None."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db.models.fields import BLANK_CHOICE_LABEL
from django.template import Context, Template
from django.utils import translation

from salesops.models import Customer, Hospital, HospitalGrade

from ..factories import CustomerFactory, HospitalFactory


def test_django_blank_choice_is_chinese():
    """U8 Django 6.1's "- Select an option -" reads in Chinese (project locale override)."""
    with translation.override("zh-hans"):
        assert str(BLANK_CHOICE_LABEL) == "- 请选择 -"
    with translation.override("en"):
        assert str(BLANK_CHOICE_LABEL) == "- Select an option -"


def test_person_filter_shows_a_dash_for_nobody(alice):
    """U8 One display-name rule: a cleared owner is "—", never a 500."""
    template = Template("{{ a.owner|person }}|{{ b.owner|person }}|{{ b.owner|person:'' }}")
    text = template.render(Context({"a": {"owner": alice}, "b": {"owner": None}}))
    assert text == "艾丽|—|"


@pytest.mark.django_db
def test_history_shows_choice_labels_local_time_names_and_dashes(client, carol, alice):
    """U8 The history table: 三甲 → 二甲 (not 3A → 2A), owner by name, None as —, Shanghai time."""
    with time_machine.travel(datetime(2026, 3, 2, 1, 30, tzinfo=ZoneInfo("UTC")), tick=False):
        hospital = HospitalFactory(grade=HospitalGrade.GRADE_3A)
        customer = CustomerFactory(owner=None, hospital=hospital, department__hospital=hospital)
        hospital.grade = HospitalGrade.GRADE_2A
        hospital.save()
        customer.owner = alice
        customer.save()
    client.force_login(carol)
    page = client.get(f"/hospitals/{hospital.pk}/").content.decode()
    assert "三甲" in page and "二甲" in page
    assert '<td class="before">3A</td>' not in page
    assert "2026-03-02 09:30" in page and "2026-03-02 01:30" not in page  # Asia/Shanghai, not UTC
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert '<td class="before">—</td><td class="after">艾丽</td>' in page
    assert "None" not in page


@pytest.mark.django_db
def test_admin_names_history_in_chinese_and_shows_labels(client, olga):
    """U8 The admin: "医院（历史）", not "historical 医院"; its change column shows labels."""
    hospital = HospitalFactory(grade=HospitalGrade.GRADE_3A)
    hospital.grade = HospitalGrade.GRADE_2A
    hospital.save()
    assert str(Hospital.history.model._meta.verbose_name) == "医院（历史）"
    client.force_login(olga)
    index = client.get("/admin/").content.decode()
    assert "产品线（历史）" in index
    assert not re.search(r">[^<]*istorical", index)  # no visible "Historical …" (URLs keep the model name)
    history = client.get(f"/admin/salesops/hospital/{hospital.pk}/history/").content.decode()
    assert "三甲" in history and "二甲" in history
    assert " as of " not in history
    assert str(Customer.history.model._meta.verbose_name_plural).endswith("（历史）")

"""V7 — the rep's 工作台: today's tasks; 开始拜访 pre-fills customer, last follow-up date and the
nearest hospital from the phone's position; the rep fills only 3 fields plus the evidence."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from salesops.ledger import activity_append
from salesops.models import ActivityKind
from visits import services
from visits.models import TaskStatus, VisitTask

from ..factories import CustomerFactory, DepartmentFactory, HospitalFactory

pytestmark = pytest.mark.django_db


def plan(rep, customer, template, days=0):
    return services.visit_task_create(rep=rep, customer=customer, template=template, due_date=timezone.localdate() + timedelta(days=days), by=rep)


def test_workbench_lists_todays_and_overdue_tasks_only_mine(client, alice, bob, medical):
    """V7: today's and overdue open tasks; not tomorrow's, not a teammate's."""
    today = plan(alice, CustomerFactory(owner=alice, name="今天的客户"), medical)
    overdue = plan(alice, CustomerFactory(owner=alice, name="逾期的客户"), medical, days=-2)
    plan(alice, CustomerFactory(owner=alice, name="明天的客户"), medical, days=1)
    plan(bob, CustomerFactory(owner=bob, name="鲍勃的客户"), medical)
    client.force_login(alice)
    body = client.get(reverse("visits:workbench")).content.decode()
    assert today.customer.name in body and overdue.customer.name in body and "逾期" in body
    assert "明天的客户" not in body and "鲍勃的客户" not in body
    assert "开始拜访" in body and "科室门牌照片" in body  # what is still missing


def test_workbench_queries_do_not_grow_with_tasks(client, alice, medical, django_assert_max_num_queries):
    for _ in range(3):
        plan(alice, CustomerFactory(owner=alice), medical)
    client.force_login(alice)
    with django_assert_max_num_queries(20) as few:
        client.get(reverse("visits:workbench"))
    for _ in range(12):
        plan(alice, CustomerFactory(owner=alice), medical)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("visits:workbench"))


def test_start_records_position_and_distance(client, alice, task):
    """V7: 开始拜访 sends the phone's position; the server stores it and the distance (onsite)."""
    client.force_login(alice)
    response = client.post(reverse("visits:task_start", args=[task.pk]), {"latitude": "30.2575", "longitude": "120.1705"})
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.status == TaskStatus.IN_PROGRESS and task.started_at is not None
    assert task.checkin_distance_m < 100 and task.onsite


def test_start_without_position_still_starts(client, alice, task):
    client.force_login(alice)
    client.post(reverse("visits:task_start", args=[task.pk]), {"latitude": "", "longitude": ""})
    task.refresh_from_db()
    assert task.status == TaskStatus.IN_PROGRESS and task.checkin_distance_m is None and not task.onsite


def test_adhoc_start_prefills_nearest_hospital_and_last_followup(client, alice, medical):
    """V7: from the phone's GPS the server finds the nearest hospital among my customers and shows
    its customers with the last follow-up date."""
    near = HospitalFactory(name="浙江省人民医院", latitude="30.273000", longitude="120.160000")
    far = HospitalFactory(name="温州市中心医院", latitude="27.994300", longitude="120.699400")
    mine = CustomerFactory(owner=alice, department=DepartmentFactory(hospital=near, name="关节外科"))
    CustomerFactory(owner=alice, department=DepartmentFactory(hospital=far, name="骨科"))
    with_time = timezone.now() - timedelta(days=9)
    activity_append(rep=alice, kind=ActivityKind.CALL, customer=mine, occurred_at=with_time, facts={})
    client.force_login(alice)
    response = client.get(reverse("visits:start"), {"latitude": "30.2731", "longitude": "120.1601"})
    body = response.content.decode()
    assert "浙江省人民医院" in body and mine.name in body
    assert timezone.localtime(with_time).strftime("%Y-%m-%d") in body
    assert f'<option value="{mine.pk}" selected>' in body
    fragment = client.get(reverse("visits:start"), {"latitude": "30.2731", "longitude": "120.1601"}, headers={"HX-Request": "true"})
    assert "<html" not in fragment.content.decode() and "浙江省人民医院" in fragment.content.decode()


def test_adhoc_start_creates_and_starts_the_visit(client, alice, customer, medical):
    client.force_login(alice)
    response = client.post(
        reverse("visits:start"), {"customer": customer.pk, "template": medical.pk, "latitude": "30.2575", "longitude": "120.1705"}
    )
    task = VisitTask.objects.get(rep=alice, customer=customer)
    assert response.status_code == 302 and response["Location"] == reverse("visits:task_detail", args=[task.pk])
    assert task.status == TaskStatus.IN_PROGRESS and task.onsite and task.due_date == timezone.localdate()


def test_adhoc_start_is_refused_while_locked(client, alice, customer, medical, task):
    """V4 through V7: 开始拜访 on a customer with a locked task names what is missing."""
    client.force_login(alice)
    response = client.post(reverse("visits:start"), {"customer": customer.pk, "template": medical.pk})
    assert response.status_code == 400 and "动作锁" in response.content.decode()


def test_rep_fills_only_three_fields(client, alice, task):
    """V7: 需求变化, 竞品动态, 下一步动作 — status or owner posted with them are ignored."""
    client.force_login(alice)
    response = client.post(
        reverse("visits:task_notes", args=[task.pk]),
        {"demand_changes": "新增两台关节手术", "competitor_news": "某品牌降价5%", "next_action": "下周送样", "status": "completed", "rep": 999},
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.demand_changes, task.competitor_news, task.next_action) == ("新增两台关节手术", "某品牌降价5%", "下周送样")
    assert task.status == TaskStatus.PLANNED and task.rep == alice


def test_task_page_prefills_customer_and_last_followup(client, alice, task):
    activity_append(rep=alice, kind=ActivityKind.CALL, customer=task.customer, occurred_at=timezone.now() - timedelta(days=3), facts={})
    client.force_login(alice)
    body = client.get(reverse("visits:task_detail", args=[task.pk])).content.decode()
    assert task.customer.name in body and "上次跟进" in body
    assert (timezone.localdate() - timedelta(days=3)).strftime("%Y-%m-%d") in body
    assert 'capture="environment"' in body and 'accept="image/*"' in body


def test_modules_fragment_for_htmx(client, alice, task):
    client.force_login(alice)
    response = client.get(reverse("visits:task_detail", args=[task.pk]), headers={"HX-Request": "true"})
    body = response.content.decode()
    assert "<html" not in body and 'id="modules"' in body and "动作锁" in body

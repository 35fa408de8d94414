"""V4 — the action lock (动作锁): no evidence, no 完成, no next task; enforced on the server."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from salesops.models import Activity, ActivityKind
from visits import services
from visits.models import ModuleKind, TaskStatus, VisitTask

from .conftest import add_needs, add_pdf, add_photo, fill_required

pytestmark = pytest.mark.django_db


def test_visit_cannot_complete_without_door_plate_photo(task):
    """V4: the service refuses and names the missing module."""
    add_pdf(task)
    add_needs(task)
    with pytest.raises(services.ActionLocked) as refused:
        services.visit_complete(task=task, by=task.rep)
    assert [module.label for module in refused.value.missing] == ["科室门牌照片"]
    assert "科室门牌照片" in refused.value.messages[0]
    task.refresh_from_db()
    assert task.status != TaskStatus.COMPLETED
    assert not Activity.objects.filter(kind=ActivityKind.VISIT_COMPLETED).exists()


def test_empty_task_lists_every_required_module_but_not_the_optional_memo(task):
    """V3/V4: photo, signed PDF and 3 needs are required; the voice memo is optional."""
    assert [module.label for module in task.missing_modules()] == ["科室门牌照片", "《产品试用确认书》", "核心需求"]


def test_two_needs_are_not_three(task):
    """V3/V4: exactly 3 needs; a 2-need capture is refused and the lock stays."""
    module = task.template.modules.get(kind=ModuleKind.NEEDS)
    with pytest.raises(ValidationError) as refused:
        services.needs_capture(task=task, module=module, items=[(module.choices[0], ""), (module.choices[1], "")], by=task.rep)
    assert "正好 3 条" in " ".join(refused.value.messages)
    assert "核心需求" in [m.label for m in task.missing_modules()]


def test_complete_with_all_evidence_appends_visit_completed_facts(task, dean, solution_demo):
    """V4 + contracts (T1, T3): completion appends visit_completed with needs_count, template, the
    verified contact title only, onsite, and the evidence it rests on."""
    task.contact = dean
    task.save()
    services.visit_start(task=task, by=task.rep, latitude="30.2571", longitude="120.1702")
    fill_required(task)
    services.visit_complete(task=task, by=task.rep)
    task.refresh_from_db()
    assert task.status == TaskStatus.COMPLETED and task.completed_at
    activity = Activity.objects.get(kind=ActivityKind.VISIT_COMPLETED)
    assert activity.rep == task.rep and activity.customer == task.customer and activity.subject == task
    facts = activity.facts
    assert {key: facts[key] for key in ("task_id", "needs_count", "template_code", "is_solution_demo", "onsite")} == {
        "task_id": task.pk,
        "needs_count": 3,
        "template_code": "medical-visit",
        "is_solution_demo": False,
        "onsite": True,
    }
    # T3: the rep's 院长 is a claim until ops or a supervisor verifies the title.
    assert facts["contact_title"] == "" and facts["contact_title_claimed"] == "院长" and facts["contact_id"] == dean.pk
    assert facts["evidence_ids"] and isinstance(facts["flagged"], bool)


def test_http_complete_is_refused_with_missing_items_listed(client, alice, task):
    """V4: posting straight to the complete URL (no page) is refused with 409 and the list."""
    add_photo(task)
    client.force_login(alice)
    response = client.post(reverse("visits:task_complete", args=[task.pk]))
    assert response.status_code == 409
    body = response.content.decode()
    assert "《产品试用确认书》" in body and "核心需求" in body and "动作锁" in body
    assert VisitTask.objects.get(pk=task.pk).status == TaskStatus.PLANNED


def test_json_api_complete_is_refused_then_accepted(client, alice, task):
    """V4: the JSON API goes through the same service."""
    client.force_login(alice)
    url = reverse("visits:api_task_complete", args=[task.pk])
    refused = client.post(url, HTTP_ACCEPT="application/json")
    assert refused.status_code == 409
    assert [item["label"] for item in refused.json()["missing"]] == ["科室门牌照片", "《产品试用确认书》", "核心需求"]
    fill_required(task)
    accepted = client.post(url)
    assert accepted.status_code == 200 and accepted.json()["status"] == "completed" and accepted.json()["missing"] == []


def test_supervisor_cannot_complete_through_the_page(client, carol, task):
    """V4/A3: capture and completion belong to the task's rep: a supervisor gets 403."""
    fill_required(task)
    client.force_login(carol)
    assert client.post(reverse("visits:task_complete", args=[task.pk])).status_code == 403


def test_admin_action_respects_the_lock(client, olga, task):
    """V4: the admin 标记完成 action goes through visit_complete and reports the lock."""
    client.force_login(olga)
    response = client.post(
        "/admin/visits/visittask/", {"action": "complete_tasks", "_selected_action": [task.pk]}, follow=True
    )
    assert "动作锁" in response.content.decode()
    assert VisitTask.objects.get(pk=task.pk).status == TaskStatus.PLANNED


def _admin_change_data(task, **overrides):
    data = {
        "rep": task.rep_id,
        "customer": task.customer_id,
        "contact": "",
        "template": task.template_id,
        "due_date": task.due_date.isoformat(),
        "status": task.status,
        "demand_changes": "",
        "competitor_news": "",
        "next_action": "",
        "cancelled_reason": "",
    }
    data.update(overrides)
    return data


def test_admin_change_form_cannot_set_completed_while_locked(client, olga, task):
    """V4: changing status to 完成 in the admin form is refused while evidence is missing …"""
    client.force_login(olga)
    url = f"/admin/visits/visittask/{task.pk}/change/"
    response = client.post(url, _admin_change_data(task, status="completed"))
    assert response.status_code == 200 and "动作锁" in response.content.decode()
    assert VisitTask.objects.get(pk=task.pk).status == TaskStatus.PLANNED


def test_admin_change_form_completes_through_the_service(client, olga, task):
    """… and once evidence is complete the form completes through visit_complete (ledger row)."""
    fill_required(task)
    client.force_login(olga)
    response = client.post(f"/admin/visits/visittask/{task.pk}/change/", _admin_change_data(task, status="completed"))
    assert response.status_code == 302
    assert VisitTask.objects.get(pk=task.pk).status == TaskStatus.COMPLETED
    assert Activity.objects.filter(kind=ActivityKind.VISIT_COMPLETED, subject_id=str(task.pk)).exists()


def test_no_next_task_while_one_is_locked(alice, customer, medical, task):
    """V4: no new task for that rep and customer while one is locked — service level."""
    add_photo(task)
    with pytest.raises(services.ActionLocked) as refused:
        services.visit_task_create(rep=alice, customer=customer, template=medical, due_date=timezone.localdate(), by=alice)
    assert "《产品试用确认书》" in refused.value.messages[0] and "核心需求" in refused.value.messages[0]
    assert VisitTask.objects.filter(rep=alice, customer=customer).count() == 1


def test_next_task_refused_over_http_and_in_admin(client, alice, olga, customer, medical, task):
    """V4: the same refusal through the page form and the admin add form."""
    client.force_login(alice)
    response = client.post(
        reverse("visits:task_create"),
        {"rep": alice.pk, "customer": customer.pk, "template": medical.pk, "due_date": timezone.localdate().isoformat()},
    )
    assert response.status_code == 400 and "动作锁" in response.content.decode()
    client.force_login(olga)
    response = client.post(
        "/admin/visits/visittask/add/",
        {"rep": alice.pk, "customer": customer.pk, "template": medical.pk, "due_date": timezone.localdate().isoformat(), "status": "planned"},
    )
    assert response.status_code == 200 and "动作锁" in response.content.decode()
    assert VisitTask.objects.filter(rep=alice, customer=customer).count() == 1


def test_next_task_allowed_after_completion(alice, customer, medical, task):
    """V4: once completed, the next visit can be planned; another rep is never blocked by alice's lock."""
    fill_required(task)
    services.visit_complete(task=task, by=alice)
    nxt = services.visit_task_create(rep=alice, customer=customer, template=medical, due_date=timezone.localdate(), by=alice)
    assert nxt.pk != task.pk and nxt.token != task.token


def test_complete_evidence_but_not_closed_still_blocks_the_next_task(alice, customer, medical, task):
    """V4: an open task with all evidence asks the rep to press 完成 first (one open visit per customer)."""
    fill_required(task)
    with pytest.raises(ValidationError) as refused:
        services.visit_task_create(rep=alice, customer=customer, template=medical, due_date=timezone.localdate(), by=alice)
    assert "请先点“完成”" in refused.value.messages[0]


def test_page_shows_what_is_missing(client, alice, task):
    """V4: the task page lists the missing modules."""
    client.force_login(alice)
    body = client.get(reverse("visits:task_detail", args=[task.pk])).content.decode()
    assert "动作锁" in body
    for label in ("科室门牌照片", "《产品试用确认书》", "核心需求"):
        assert label in body

"""V2 — a visit task has a unique, unguessable QR code that opens the task on the phone."""

from __future__ import annotations

import pytest
import segno
from django.urls import reverse
from django.utils import timezone

from visits import qr, services

from ..factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_tokens_are_unique_and_unguessable(alice, medical):
    tasks = [
        services.visit_task_create(rep=alice, customer=CustomerFactory(owner=alice), template=medical, due_date=timezone.localdate(), by=alice)
        for _ in range(5)
    ]
    tokens = {task.token for task in tasks}
    assert len(tokens) == 5 and all(len(token) >= 32 for token in tokens)


def test_qr_encodes_the_task_url(settings, task):
    """V2: the code carries SITE_URL + /visits/t/<token>/."""
    settings.SITE_URL = "https://salesops.example"
    assert qr.task_url(task) == f"https://salesops.example/visits/t/{task.token}/"
    assert segno.make(qr.task_url(task), error="m").matrix == qr._code(task).matrix


def test_qr_svg_and_png_are_served_to_the_rep(client, alice, task):
    client.force_login(alice)
    svg = client.get(reverse("visits:task_qr", args=[task.pk, "svg"]))
    png = client.get(reverse("visits:task_qr", args=[task.pk, "png"]))
    assert svg["Content-Type"] == "image/svg+xml" and b"<svg" in svg.content
    assert png["Content-Type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get(reverse("visits:task_qr", args=[task.pk, "gif"])).status_code == 404


def test_scanning_opens_the_task(client, alice, task):
    """V2: the QR URL redirects the logged-in rep to the task page."""
    client.force_login(alice)
    response = client.get(reverse("visits:by_token", args=[task.token]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("visits:task_detail", args=[task.pk])
    assert task.customer.name in response.content.decode()


def test_scanning_asks_for_login_first(client, task):
    response = client.get(reverse("visits:by_token", args=[task.token]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_token_alone_is_not_enough(client, charlie, task):
    """V2/A3: a rep of another team who got hold of the code gets 404; so does a wrong token."""
    client.force_login(charlie)
    assert client.get(reverse("visits:by_token", args=[task.token])).status_code == 404
    assert client.get(reverse("visits:task_qr", args=[task.pk, "png"])).status_code == 404
    client.force_login(task.rep)
    assert client.get(reverse("visits:by_token", args=["not-a-token"])).status_code == 404


def test_printable_pack_lists_the_days_tasks(client, carol, task):
    """V2: the supervisor prints a page of QR codes for the day."""
    client.force_login(carol)
    body = client.get(reverse("visits:qr_pack"), {"date": task.due_date.isoformat()}).content.decode()
    assert task.customer.name in body and "<svg" in body and "qr-card" in body


def test_supervisor_plans_a_task_for_a_team_member(client, carol, alice, customer, medical, dean):
    client.force_login(carol)
    response = client.post(
        reverse("visits:task_create"),
        {"rep": alice.pk, "customer": customer.pk, "contact": dean.pk, "template": medical.pk, "due_date": timezone.localdate().isoformat()},
    )
    assert response.status_code == 302
    task = alice.visit_tasks.get()
    assert task.created_by == carol and task.contact == dean


def test_supervisor_cannot_plan_for_another_team(dave, alice, customer, medical):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.visit_task_create(rep=alice, customer=customer, template=medical, due_date=timezone.localdate(), by=dave)

"""A4 — ops run the system from Django admin: people with their sales profile, master data with
search, filters and history, and the way into the Excel import."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from simple_history.admin import SimpleHistoryAdmin

from salesops.forms import RepAdminForm
from salesops.models import Rep, Role

from ..factories import CustomerFactory, HospitalFactory, ProductLineFactory

User = get_user_model()
# Append-only by construction (see test_audit.APPEND_ONLY): readable in admin, never changed.
APPEND_ONLY = {"Activity", "AccessLog", "ErasureRecord"}


def test_every_salesops_model_admin_has_search_filters_and_history():
    """A4 + A2: every registered salesops model can be searched and filtered, and shows its history."""
    missing = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label != "salesops":
            continue
        name = model.__name__
        if not model_admin.search_fields or not model_admin.list_filter:
            missing.append(f"{name}: search/filters")
        if not name.startswith("Historical") and name not in APPEND_ONLY and not isinstance(model_admin, SimpleHistoryAdmin):
            missing.append(f"{name}: history")
    assert missing == []
    assert User in admin.site._registry and admin.site._registry[User].search_fields


def test_user_admin_shows_the_rep_profile_with_grade_checkboxes(client, olga, alice):
    """A4: one page for the person and their profile; grades served are check boxes."""
    client.force_login(olga)
    page = client.get(f"/admin/auth/user/{alice.pk}/change/").content.decode()
    assert 'name="rep-0-grades_served"' in page and 'type="checkbox"' in page
    assert 'value="3A"' in page and "三甲" in page
    listing = client.get("/admin/auth/user/", {"rep__role__exact": Role.SUPERVISOR}).content.decode()
    assert "carol" in listing and "alice" not in listing
    assert "alice" in client.get("/admin/auth/user/", {"q": alice.rep.wecom_userid}).content.decode()


def test_rep_grades_are_saved_from_checkboxes_with_history(client, olga, alice):
    """A4 + A2: checking 民营 and unchecking 二甲 stores the list and a history row by the ops user."""
    line = ProductLineFactory()
    rep = alice.rep
    client.force_login(olga)
    response = client.post(
        f"/admin/salesops/rep/{rep.pk}/change/",
        {
            "user": alice.pk,
            "role": Role.REP,
            "team": rep.team_id,
            "product_lines": [line.pk],
            "grades_served": ["private", "3A"],
            "capacity": 12,
            "on_duty": "on",
            "wecom_userid": "alice-wx",
            "phone": "13800000001",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    rep.refresh_from_db()
    assert rep.grades_served == ["3A", "private"]
    assert rep.capacity == 12 and list(rep.product_lines.all()) == [line]
    assert rep.history.first().history_user == olga


def test_rep_admin_form_refuses_an_unknown_grade(alice):
    form = RepAdminForm(instance=alice.rep, data={"role": Role.REP, "grades_served": ["5A"], "capacity": 5, "user": alice.pk})
    assert not form.is_valid()
    assert "grades_served" in form.errors


def test_admin_changelists_link_to_the_excel_import(client, olga):
    """A4 + A1: ops start an import from the customers and hospitals lists."""
    CustomerFactory()
    client.force_login(olga)
    assert "/imports/customers/new/" in client.get("/admin/salesops/customer/").content.decode()
    assert "/imports/hospitals/new/" in client.get("/admin/salesops/hospital/").content.decode()
    jobs = client.get("/admin/salesops/importjob/").content.decode()
    assert "/imports/customers/new/" in jobs and "/imports/hospitals/new/" in jobs


@pytest.mark.parametrize("path", ["/admin/salesops/hospital/", "/admin/salesops/productline/", "/admin/salesops/importjob/"])
def test_admin_search_and_filter_pages_answer(client, olga, path):
    HospitalFactory(name="舟山医院")
    client.force_login(olga)
    assert client.get(path, {"q": "舟山"}).status_code == 200


def test_hospital_history_is_visible_in_admin(client, olga):
    """A2: the same trail in admin, with the person who changed it."""
    hospital = HospitalFactory(city="杭州")
    hospital.city = "宁波"
    hospital._history_user = olga
    hospital.save()
    client.force_login(olga)
    page = client.get(f"/admin/salesops/hospital/{hospital.pk}/history/").content.decode()
    assert "宁波" in page and "olga" in page
    assert Rep.objects.filter(user=olga).exists()

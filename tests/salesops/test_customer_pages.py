"""A2 + A3 — customer and hospital pages: contacts, activities, an edit form whose changes land in
the visible audit trail, and hospital pages with departments and history."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from salesops.ledger import activity_append
from salesops.models import ActivityKind, Customer
from salesops.services import customer_update

from ..factories import ContactFactory, CustomerFactory, DepartmentFactory, HospitalFactory


@pytest.fixture
def alice_customer(alice):
    customer = CustomerFactory(owner=alice, name="浙江省人民医院 骨科")
    ContactFactory(customer=customer, name="王主任", title="主任")
    return customer


def test_customer_page_shows_contacts_activities_and_edit_link_for_the_owner(client, alice, alice_customer):
    """A3: the owner sees the record with its contacts and ledger entries, and may edit it."""
    activity_append(rep=alice, kind=ActivityKind.CALL, customer=alice_customer, facts={"duration_seconds": 75})
    client.force_login(alice)
    page = client.get(f"/customers/{alice_customer.pk}/").content.decode()
    assert "王主任" in page and "电话" in page and "字段变更留痕" in page
    assert f"/customers/{alice_customer.pk}/edit/" in page
    assert f"/hospitals/{alice_customer.hospital_id}/" in page


def test_owner_edits_customer_and_the_change_is_in_the_history_block(client, alice, alice_customer):
    """A2: an edit from the product UI records who changed which field, before and after."""
    client.force_login(alice)
    response = client.post(
        f"/customers/{alice_customer.pk}/edit/",
        {"name": "浙江省人民医院 关节骨科", "department": "", "phone": "0571 8765 4321", "notes": "周三上午查房"},
    )
    assert response.status_code == 302
    alice_customer.refresh_from_db()
    assert (alice_customer.name, alice_customer.phone, alice_customer.notes) == ("浙江省人民医院 关节骨科", "+8657187654321", "周三上午查房")
    assert alice_customer.owner == alice  # a rep cannot reassign (the field is not even offered)
    latest = alice_customer.history.first()
    assert latest.history_user == alice and latest.history_type == "~"
    page = client.get(f"/customers/{alice_customer.pk}/").content.decode()
    assert "浙江省人民医院 骨科" in page and "浙江省人民医院 关节骨科" in page and "艾丽" in page


def test_a_collaborator_may_read_but_not_edit_and_an_outsider_gets_404(client, bob, charlie, alice_customer):
    """A3: see-but-not-change is 403; not-see is 404."""
    activity_append(rep=bob, kind=ActivityKind.CALL, customer=alice_customer, facts={"duration_seconds": 90})
    client.force_login(bob)
    assert client.get(f"/customers/{alice_customer.pk}/").status_code == 200
    assert client.get(f"/customers/{alice_customer.pk}/edit/").status_code == 403
    assert client.post(f"/customers/{alice_customer.pk}/edit/", {"name": "改名"}).status_code == 403
    client.force_login(charlie)
    assert client.get(f"/customers/{alice_customer.pk}/edit/").status_code == 404
    alice_customer.refresh_from_db()
    assert alice_customer.name == "浙江省人民医院 骨科"


def test_supervisor_reassigns_within_the_team_only(client, carol, bob, charlie, alice_customer):
    """A3: a supervisor may hand the customer to a teammate, not to another team's rep."""
    client.force_login(carol)
    data = {"name": alice_customer.name, "department": alice_customer.department_id, "phone": "", "notes": ""}
    response = client.post(f"/customers/{alice_customer.pk}/edit/", {**data, "owner": charlie.pk})
    assert response.status_code == 400 and "owner" in response.context["form"].errors
    response = client.post(f"/customers/{alice_customer.pk}/edit/", {**data, "owner": bob.pk})
    assert response.status_code == 302
    alice_customer.refresh_from_db()
    assert alice_customer.owner == bob and alice_customer.history.first().history_user == carol


def test_edit_errors_name_the_field_and_change_nothing(client, alice, alice_customer):
    """Bad input is answered next to the field: a bad phone, a name already used in the hospital."""
    CustomerFactory(hospital=alice_customer.hospital, department=None, name="浙江省人民医院 脊柱外科", owner=alice)
    client.force_login(alice)
    response = client.post(f"/customers/{alice_customer.pk}/edit/", {"name": alice_customer.name, "phone": "12345"})
    assert response.status_code == 400 and "「12345」不是有效的电话号码" in response.content.decode()
    response = client.post(f"/customers/{alice_customer.pk}/edit/", {"name": "浙江省人民医院 脊柱外科", "phone": ""})
    assert response.status_code == 400
    assert response.context["form"].non_field_errors()
    alice_customer.refresh_from_db()
    assert alice_customer.name == "浙江省人民医院 骨科" and alice_customer.history.count() == 1


def test_customer_update_service_rules(alice, bob, carol, alice_customer):
    """A2: no change, no history row; a rep cannot reassign; a department of another hospital is refused."""
    assert customer_update(customer=alice_customer, data={"name": alice_customer.name}, by=alice) == []
    assert alice_customer.history.count() == 1
    with pytest.raises(PermissionDenied):
        customer_update(customer=alice_customer, data={"owner": bob}, by=alice)
    with pytest.raises(PermissionDenied):
        customer_update(customer=alice_customer, data={"notes": "x"}, by=bob)
    with pytest.raises(ValidationError):
        customer_update(customer=alice_customer, data={"department": DepartmentFactory()}, by=carol)
    assert customer_update(customer=alice_customer, data={"notes": "新备注"}, by=carol) == ["notes"]
    assert Customer.history.filter(id=alice_customer.pk, history_user=carol).count() == 1


def test_hospital_page_shows_departments_visible_customers_and_history(client, alice, charlie, olga, alice_customer):
    """A2 + A3: departments and history for everyone; only the customers the reader may see."""
    hospital = alice_customer.hospital
    other = CustomerFactory(department=DepartmentFactory(hospital=hospital, name="脊柱外科"), owner=charlie, name="脊柱外科客户")
    hospital.address = "上城区上塘路158号"
    hospital._history_user = olga
    hospital.save()
    client.force_login(alice)
    page = client.get(f"/hospitals/{hospital.pk}/").content.decode()
    assert "脊柱外科" in page and alice_customer.name in page and other.name not in page
    assert "字段变更留痕" in page and "上城区上塘路158号" in page and "欧运营" in page
    assert client.get("/hospitals/999999/").status_code == 404


def test_hospital_list_searches_and_filters_by_grade(client, alice):
    HospitalFactory(name="温州医科大学附属第一医院", city="温州", grade="3A")
    HospitalFactory(name="温州博爱医院", city="温州", grade="private")
    client.force_login(alice)
    page = client.get("/hospitals/", {"q": "温州", "grade": "private"}).content.decode()
    assert "温州博爱医院" in page and "温州医科大学附属第一医院" not in page

"""A3 — object-level access through the test client, with personas."""

import pytest

from salesops.ledger import activity_append
from salesops.models import ActivityKind, Customer

from ..factories import CustomerFactory


@pytest.fixture
def alice_customer(alice):
    return CustomerFactory(owner=alice)


@pytest.fixture
def charlie_customer(charlie):
    return CustomerFactory(owner=charlie)


def test_rep_gets_404_on_another_teams_customer(client, alice, charlie_customer):
    """A3: a rep who guesses an id sees a 404."""
    client.force_login(alice)
    response = client.get(f"/customers/{charlie_customer.pk}/")
    assert response.status_code == 404


def test_rep_sees_own_customer(client, alice, alice_customer):
    """A3"""
    client.force_login(alice)
    response = client.get(f"/customers/{alice_customer.pk}/")
    assert response.status_code == 200
    assert alice_customer.name in response.content.decode()


def test_rep_sees_customer_they_collaborated_on(client, bob, alice_customer):
    """A3: collaborated customers (an activity on them) are visible to the collaborator."""
    client.force_login(bob)
    assert client.get(f"/customers/{alice_customer.pk}/").status_code == 404
    activity_append(rep=bob, kind=ActivityKind.CALL, customer=alice_customer, facts={"duration_seconds": 90})
    assert client.get(f"/customers/{alice_customer.pk}/").status_code == 200


def test_supervisor_sees_their_team_only(client, carol, alice_customer, charlie_customer):
    """A3: a supervisor sees their team's customers and not another team's."""
    client.force_login(carol)
    assert client.get(f"/customers/{alice_customer.pk}/").status_code == 200
    assert client.get(f"/customers/{charlie_customer.pk}/").status_code == 404
    listing = client.get("/customers/").content.decode()
    assert alice_customer.name in listing
    assert charlie_customer.name not in listing


def test_director_sees_everything(client, diana, alice_customer, charlie_customer):
    """A3"""
    client.force_login(diana)
    assert set(Customer.objects.visible_to(diana)) == {alice_customer, charlie_customer}
    assert client.get(f"/customers/{charlie_customer.pk}/").status_code == 200


def test_anonymous_is_sent_to_login(client, alice_customer):
    """A3"""
    response = client.get(f"/customers/{alice_customer.pk}/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_customer_list_query_count_is_constant(client, alice, django_assert_max_num_queries):
    """A3: the scoped list does not run a query per row."""
    for _ in range(30):
        CustomerFactory(owner=alice)
    client.force_login(alice)
    with django_assert_max_num_queries(12):
        assert client.get("/customers/").status_code == 200

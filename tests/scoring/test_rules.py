"""S1 — five behaviours with default points, editable by ops; a change applies from its date
forward and never rewrites points already earned."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from scoring.defaults import BEGINNING
from scoring.models import Behaviour, BonusSplit, Contribution, ContributionRule, RuleIsFrozen
from scoring.services import rule_publish, scoring_sweep

from .factories import lead, visit, won_deal


def test_five_behaviours_ship_with_the_default_points():
    """S1: 线索引入 +10, 需求诊断 +15, 方案演示 +20, 院长级拜访 +25, 回款推动 +30."""
    assert {rule.get_behaviour_display(): rule.points for rule in ContributionRule.objects.all()} == {
        "线索引入": 10,
        "需求诊断": 15,
        "方案演示": 20,
        "院长级拜访": 25,
        "回款推动": 30,
    }


def test_a_rule_change_applies_only_forward(alice, bob, customer, olga):
    """S1: points earned before the change keep the old value; actions from its date earn the new."""
    change_at = timezone.now() - timedelta(days=5)
    before = visit(rep=alice, customer=customer, at=change_at - timedelta(days=1), is_solution_demo=True)
    scoring_sweep()
    with time_machine.travel(change_at, tick=False):
        new_rule = rule_publish(behaviour=Behaviour.SOLUTION_DEMO, points=35, note="2026 方案演示加码", by=olga)
    after = visit(rep=bob, customer=customer, at=change_at + timedelta(hours=1), is_solution_demo=True)
    scoring_sweep()
    earned = {row.activity_id: (row.points, row.rule_id) for row in Contribution.objects.all()}
    assert earned[before.pk][0] == 20
    assert earned[after.pk] == (35, new_rule.pk)
    assert ContributionRule.objects.filter(behaviour=Behaviour.SOLUTION_DEMO).count() == 2


def test_a_new_version_cannot_start_before_an_action_that_already_scored(alice, customer):
    """S1: backdating a version over earned points is refused, naming the effective date."""
    lead(rep=alice, customer=customer, at=timezone.now() - timedelta(days=2))
    scoring_sweep()
    with pytest.raises(ValidationError) as error:
        rule_publish(behaviour=Behaviour.LEAD_INTRODUCED, points=50, effective_from=timezone.now() - timedelta(days=3))
    assert "effective_from" in error.value.message_dict
    # Starting after the last scored action is fine.
    rule_publish(behaviour=Behaviour.LEAD_INTRODUCED, points=50, effective_from=timezone.now() - timedelta(days=1))


def test_a_rule_with_earned_points_is_never_edited_in_place(alice, customer):
    """S1: the model refuses to change a rule that points were earned under."""
    lead(rep=alice, customer=customer)
    scoring_sweep()
    rule = ContributionRule.objects.get(behaviour=Behaviour.LEAD_INTRODUCED)
    rule.points = 99
    with pytest.raises(RuleIsFrozen):
        rule.save()
    rule.refresh_from_db()
    assert rule.points == 10
    rule.note = rule.note  # saving without a change is harmless
    rule.save()


def _admin_post(rule: ContributionRule, **changes) -> dict:
    local = timezone.localtime(changes.pop("effective_from", rule.effective_from))
    data = {
        "behaviour": rule.behaviour,
        "points": rule.points,
        "effective_from_0": f"{local:%Y-%m-%d}",
        "effective_from_1": f"{local:%H:%M:%S}",
        "note": rule.note,
    }
    data.update(changes)
    return data


def test_admin_edit_of_an_earned_rule_publishes_a_new_version(client, olga, alice, customer):
    """S1, A4: ops change the points in admin; the old row stays as it was and a new version
    takes effect from now, so earned points are untouched."""
    lead(rep=alice, customer=customer, at=timezone.now() - timedelta(days=1))
    scoring_sweep()
    rule = ContributionRule.objects.get(behaviour=Behaviour.LEAD_INTRODUCED)
    client.force_login(olga)
    url = f"/admin/scoring/contributionrule/{rule.pk}/change/"
    response = client.post(url, _admin_post(rule, points=12), follow=True)
    assert response.status_code == 200
    assert "已发布新版本" in response.content.decode()
    rule.refresh_from_db()
    assert (rule.points, rule.effective_from) == (10, BEGINNING)
    newest = ContributionRule.objects.filter(behaviour=Behaviour.LEAD_INTRODUCED).order_by("-effective_from").first()
    assert newest.pk != rule.pk and newest.points == 12
    assert newest.effective_from >= timezone.now() - timedelta(minutes=1)
    assert list(Contribution.objects.values_list("points", flat=True)) == [10]
    lead(rep=alice, customer=customer, at=timezone.now() + timedelta(seconds=5))
    scoring_sweep()
    assert sorted(Contribution.objects.values_list("points", flat=True)) == [10, 12]


def test_admin_edit_of_an_unearned_rule_changes_it_in_place(client, olga):
    """S1, A4: a version nobody has earned under yet may simply be corrected."""
    rule = ContributionRule.objects.get(behaviour=Behaviour.DEAN_VISIT)
    client.force_login(olga)
    response = client.post(f"/admin/scoring/contributionrule/{rule.pk}/change/", _admin_post(rule, points=28))
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.points == 28
    assert ContributionRule.objects.filter(behaviour=Behaviour.DEAN_VISIT).count() == 1
    assert rule.history.filter(history_type="~", history_user=olga, points=28).exists()  # A2: audit trail


def test_admin_refuses_a_backdated_new_rule(client, olga, alice, customer):
    """S1, A4: adding a version that starts before earned points shows a form error."""
    lead(rep=alice, customer=customer, at=timezone.now() - timedelta(days=2))
    scoring_sweep()
    client.force_login(olga)
    past = timezone.localtime(timezone.now() - timedelta(days=3))
    response = client.post(
        "/admin/scoring/contributionrule/add/",
        {
            "behaviour": Behaviour.LEAD_INTRODUCED,
            "points": 40,
            "effective_from_0": f"{past:%Y-%m-%d}",
            "effective_from_1": f"{past:%H:%M:%S}",
            "note": "",
        },
    )
    assert response.status_code == 200
    assert "只能向后生效" in response.content.decode()
    assert ContributionRule.objects.filter(behaviour=Behaviour.LEAD_INTRODUCED).count() == 1


def test_admin_cannot_delete_an_earned_rule(client, olga, alice, customer):
    """S1: the rule behind earned points stays."""
    lead(rep=alice, customer=customer)
    scoring_sweep()
    rule = ContributionRule.objects.get(behaviour=Behaviour.LEAD_INTRODUCED)
    client.force_login(olga)
    assert client.post(f"/admin/scoring/contributionrule/{rule.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ContributionRule.objects.filter(pk=rule.pk).exists()


def test_ops_admin_pages_for_scoring_load(client, olga, alice, customer):
    """A4: ops read contributions and splits and edit rules and the bonus policy in admin;
    contributions and splits are read-only there (points are never typed in)."""
    lead(rep=alice, customer=customer)
    won_deal(customer=customer, owner=alice)
    scoring_sweep()
    split = BonusSplit.objects.get()
    client.force_login(olga)
    for url in (
        "/admin/scoring/contributionrule/",
        "/admin/scoring/contributionrule/add/",
        "/admin/scoring/bonuspolicy/",
        "/admin/scoring/bonuspolicy/add/",
        "/admin/scoring/contribution/",
        "/admin/scoring/bonussplit/",
        f"/admin/scoring/bonussplit/{split.pk}/change/",
        f"/admin/scoring/bonussplit/{split.pk}/history/",
    ):
        assert client.get(url).status_code == 200, url
    assert client.get("/admin/scoring/contribution/add/").status_code == 403
    assert client.get("/admin/scoring/bonussplit/add/").status_code == 403

"""L8 — rule simulation: replay the last N leads under draft weights, side by side with the live
rules (per-rep load, grade and product-line match rate, changed assignments), then publish."""

from __future__ import annotations

import pytest

from tests.factories import consented_intake
from leads.models import AssignmentRules, RulesStatus
from leads.services import lead_intake, rules_create_draft, rules_publish
from leads.simulation import simulate

from ..factories import RepFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(hip, joint, spine, hospital_3a):
    line_rep = RepFactory(user=UserFactory(username="line", first_name="产品线"), grades_served=["private"], capacity=50)
    line_rep.product_lines.set([joint])
    grade_rep = RepFactory(user=UserFactory(username="grade", first_name="三甲"), grades_served=["3A"], capacity=50)
    grade_rep.product_lines.set([spine])
    for index in range(6):
        lead_intake(data=consented_intake(contact_name=f"客户{index}", phone=f"+86138000011{index:02d}", product=hip, product_model=hip.model_number, hospital=hospital_3a, hospital_name=hospital_3a.name, hospital_grade="3A"))
    return line_rep.user, grade_rep.user


def _draft(by, grade, line, load, **second_wave):
    """A weights-only draft unless told otherwise (no customer-ownership routing)."""
    second_wave.setdefault("owner_policy", "off")
    return rules_create_draft(
        by=by, weight_grade=grade, weight_product_line=line, weight_workload=load, ack_timeout_minutes=3, dedupe_window_days=30, **second_wave
    )


def test_replay_shows_how_a_draft_would_have_assigned(history, olga):
    """L8: under live weights (30/40/30) the hip leads go to the joint rep (until load evens out);
    a grade-heavy draft gives them all to the 三甲 rep; both runs start from the same loads."""
    line_user, grade_user = history
    result = simulate(_draft(olga, 90, 5, 5), n=6)
    assert result.n == 6
    assert result.draft.per_rep[grade_user.pk] == 6
    assert result.live.per_rep[line_user.pk] >= 3
    assert result.draft.grade_match_rate == 1.0 and result.draft.line_match_rate == 0.0
    assert result.live.line_match_rate > 0
    assert result.changed_count == result.live.per_rep[line_user.pk]
    assert {row["name"] for row in result.rep_rows} == {"产品线", "三甲"}


def test_simulating_the_live_rules_changes_nothing(history):
    result = simulate(AssignmentRules.live(), n=6)
    assert result.changed_count == 0 and result.live.per_rep == result.draft.per_rep


def test_simulation_page_and_publish(client, history, olga, carol):
    """L8: supervisors see the comparison; only ops/director publish; publishing makes it live."""
    draft = _draft(olga, 90, 5, 5)
    client.force_login(carol)
    page = client.get(f"/leads/rules/{draft.pk}/simulate/?n=6").content.decode()
    assert 'id="sim-live"' in page and 'id="sim-draft"' in page and "分配变化" in page
    assert f"/leads/rules/{draft.pk}/publish/" not in page
    assert client.post(f"/leads/rules/{draft.pk}/publish/").status_code == 403
    client.force_login(olga)
    assert f"/leads/rules/{draft.pk}/publish/" in client.get(f"/leads/rules/{draft.pk}/simulate/").content.decode()
    assert client.post(f"/leads/rules/{draft.pk}/publish/").status_code == 302
    draft.refresh_from_db()
    assert draft.status == RulesStatus.LIVE and draft.published_by == olga


def test_rules_page_creates_drafts_for_ops_only(client, olga, carol, alice):
    """L4/A4: ops edit weights as a new draft version; supervisors read; reps are kept out."""
    client.force_login(alice)
    assert client.get("/leads/rules/").status_code == 403
    client.force_login(carol)
    assert client.get("/leads/rules/").status_code == 200
    assert client.post("/leads/rules/", {"weight_grade": 50}).status_code == 403
    client.force_login(olga)
    response = client.post("/leads/rules/", {"weight_grade": 50, "weight_product_line": 30, "weight_workload": 20, "weight_territory": 40, "owner_policy": "when_eligible", "tie_band": "2.0", "ack_timeout_minutes": 5, "dedupe_window_days": 14, "note": "重等级"})
    draft = AssignmentRules.objects.get(note="重等级")
    assert response.status_code == 302 and response["Location"] == f"/leads/rules/{draft.pk}/simulate/"
    assert draft.status == RulesStatus.DRAFT and draft.version == 2
    bad = client.post("/leads/rules/", {"weight_grade": 0, "weight_product_line": 0, "weight_workload": 0, "weight_territory": 0, "owner_policy": "off", "tie_band": "0", "ack_timeout_minutes": 3, "dedupe_window_days": 30})
    assert bad.status_code == 200 and "权重不能全为 0" in bad.content.decode()


def test_admin_shows_rules_and_publishes_a_draft(client, olga):
    """A4: the rules are editable in admin; live versions are read-only there."""
    draft = _draft(olga, 20, 20, 60)
    client.force_login(olga)
    assert client.get("/admin/leads/assignmentrules/").status_code == 200
    response = client.post("/admin/leads/assignmentrules/", {"action": "publish", "_selected_action": [draft.pk]})
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == RulesStatus.LIVE
    page = client.get(f"/admin/leads/assignmentrules/{draft.pk}/change/").content.decode()
    assert 'name="weight_grade"' not in page  # live: read-only


def test_replay_uses_territories_and_leave_as_they_were_and_counts_removed_ties(client, olga, carol, alice, bob, charlie, team_a, team_b):
    """L8/L10/L11: two past leads from 宁波 are replayed in the world of their time: 宁波 was 杭州一组's
    territory then (today 宁波一组's), and alice was on leave for the first one (the leave was
    deleted since). Under the first-wave rules both leads are exact ties; the new rules leave one
    (alice and bob within the band) — one tie removed, shown on the page."""
    import time_machine
    from datetime import timedelta

    from django.utils import timezone

    from leads.models import Lead, Leave, Territory, TerritoryArea

    now = timezone.now()
    first, second = now - timedelta(days=2), now - timedelta(days=1)
    with time_machine.travel(now - timedelta(days=3), tick=False):
        territory = Territory.objects.create(name="宁波", team=team_a)
        TerritoryArea.objects.create(territory=territory, city="宁波")
        leave = Leave.objects.create(user=alice, starts_at=first - timedelta(hours=1), ends_at=first + timedelta(hours=1))
    for index, moment in enumerate((first, second)):
        Lead.objects.create(contact_name=f"客户{index}", phone=f"+86138000031{index:02d}", hospital_name="宁波市某某医院", hospital_grade="3A", created_at=moment)
    territory.team = team_b
    territory.save()
    leave.delete()

    legacy = rules_publish(rules=_draft(olga, 30, 40, 30, weight_territory=0, tie_band=0), by=olga)
    new = _draft(olga, 30, 40, 30, weight_territory=40, tie_band=2, owner_policy="when_eligible")
    result = simulate(new, n=2, live=legacy)
    first_lead, second_lead = Lead.objects.order_by("created_at")
    assert result.draft.chosen[first_lead.pk] == bob.pk  # territory 杭州一组 then; alice on leave then
    assert result.draft.chosen[second_lead.pk] == alice.pk  # today's world would give both to charlie
    assert result.draft.territory_match_rate == 1.0
    assert (result.live.ties, result.draft.ties, result.ties_removed) == (2, 1, 1)
    client.force_login(carol)
    page = client.get(f"/leads/rules/{new.pk}/simulate/?n=2").content.decode()
    assert f"v{new.version} 比生效中的 v{legacy.version} 减少 1 条同分轮转" in page

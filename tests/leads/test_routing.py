"""L9–L12 — routing that knows the territory: account owners first, territories as a weighted
dimension, availability read fresh (working hours incl. 调休, leave, on-duty), nobody eligible →
unassigned + supervisor alerted, ties within a score band rotated by least-recently-assigned, and
manual reassignment that warns before handing a lead to someone who cannot take it."""

from __future__ import annotations

import io
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone
from openpyxl import Workbook

from leads import assignment
from tests.factories import consented_intake
from leads.models import (
    AssignmentDecision,
    AssignmentRules,
    DayRule,
    DecisionBasis,
    DecisionKind,
    Leave,
    Lead,
    LeadStatus,
    Territory,
    TerritoryArea,
    WorkSchedule,
)
from leads.services import LeadActionError, ReassignNeedsOverride, lead_intake, lead_reassign, leads_sweep, rules_create_draft, rules_publish
from salesops.models import Notification, Rep

from ..factories import CustomerFactory, DepartmentFactory, HospitalFactory, RepFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _intake(phone: str, hospital=None, **extra):
    if hospital is not None:
        extra |= {"hospital": hospital, "hospital_name": hospital.name, "hospital_grade": hospital.grade}
    return lead_intake(data=consented_intake(contact_name="王主任", phone=phone, source="website", **extra))


def _territory(name: str, team, *, city: str = "", district: str = "", hospital=None) -> Territory:
    territory, _ = Territory.objects.get_or_create(name=name, defaults={"team": team})
    TerritoryArea.objects.create(territory=territory, city=city, district=district, hospital=hospital)
    return territory


def _publish(olga, **fields) -> AssignmentRules:
    base = {"weight_grade": 30, "weight_product_line": 40, "weight_workload": 30, "ack_timeout_minutes": 3, "dedupe_window_days": 30}
    return rules_publish(rules=rules_create_draft(by=olga, **(base | fields)), by=olga)


@pytest.fixture
def ningbo():
    return HospitalFactory(name="宁波市第一医院", city="宁波", address="浙江省宁波市海曙区中山路1号")


@pytest.fixture
def owned(ningbo, alice):
    """骨科 of a 宁波 hospital, owned by alice (杭州一组)."""
    return CustomerFactory(department=DepartmentFactory(hospital=ningbo, name="骨科"), owner=alice)


# --- L9 account ownership first -----------------------------------------------------------------


def test_lead_for_an_owned_customer_goes_to_its_owner_and_the_decision_says_so(owned, ningbo, alice, bob, charlie, team_b):
    """L9: the hospital lies in 宁波一组's territory (charlie scores best), but the customer is
    alice's: the lead goes to alice, and the stored decision names the owner and why."""
    _territory("宁波", team_b, city="宁波")
    result = _intake("+8613800002001", ningbo)
    assert result.lead.assignee == alice
    decision = result.decision
    assert decision.basis == DecisionBasis.OWNER
    assert "客户负责人" in decision.reason and "艾丽" in decision.reason
    assert decision.context["owner"] == {"id": alice.pk, "name": "艾丽", "team_id": alice.rep.team_id, "source": "customer"}
    assert decision.candidates[0]["user_id"] == alice.pk
    by_id = {row["user_id"]: row for row in decision.candidates}
    assert by_id[charlie.pk]["score"] > by_id[alice.pk]["score"]  # ownership, not the score, decided


def test_owner_on_leave_hands_the_lead_to_the_owners_team(owned, ningbo, alice, bob, charlie, team_b):
    """L9: owner not eligible → the best of the owner's team (bob), not the territory team."""
    _territory("宁波", team_b, city="宁波")
    now = timezone.now()
    Leave.objects.create(user=alice, starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=2))
    result = _intake("+8613800002002", ningbo)
    assert result.lead.assignee == bob
    assert result.decision.basis == DecisionBasis.OWNER_TEAM and "休假" in result.decision.reason


def test_owner_policy_always_and_off(olga, owned, ningbo, alice, bob, charlie, team_b):
    """L9: 'always' gives the owner the lead even off duty; 'off' ignores ownership (territory wins)."""
    _territory("宁波", team_b, city="宁波")
    Rep.objects.filter(user=alice).update(on_duty=False)
    _publish(olga, owner_policy="always")
    forced = _intake("+8613800002003", ningbo)
    assert forced.lead.assignee == alice and forced.decision.basis == DecisionBasis.OWNER_FORCED
    assert forced.decision.candidates[0]["skipped"] == "off_duty"
    _publish(olga, owner_policy="off")
    plain = _intake("+8613800002004", ningbo)
    assert plain.lead.assignee == charlie and plain.decision.basis == DecisionBasis.SCORE


def test_hospital_owner_when_the_department_has_none(ningbo, alice, bob, charlie):
    """L9: a lead for a department nobody owns goes to the one active owner of the hospital's other
    customers; an owner who left the company is no owner."""
    CustomerFactory(department=DepartmentFactory(hospital=ningbo, name="关节外科"), owner=alice)
    CustomerFactory(department=DepartmentFactory(hospital=ningbo, name="骨科"), owner=None)
    result = _intake("+8613800002005", ningbo)
    assert result.lead.assignee == alice and result.decision.context["owner"]["source"] == "hospital"
    alice.is_active = False
    alice.save()
    assert _intake("+8613800002006", ningbo).decision.context.get("owner") is None


# --- L10 territories ------------------------------------------------------------------------------


def test_territory_separates_reps_instead_of_tying_them(ningbo, alice, bob, charlie, team_b):
    """L10: same grade, line and load — without territories all three tie; with 宁波 in 宁波一组's
    territory charlie scores 1 on territory, alice and bob 0, and nobody is tied with him."""
    tied = _intake("+8613800002010", ningbo).decision
    assert tied.tie_size == 3
    _territory("宁波", team_b, city="宁波")
    result = _intake("+8613800002011", HospitalFactory(name="宁波市第二医院", city="宁波", address="浙江省宁波市江北区"))
    assert result.lead.assignee == charlie
    fits = {row["user_id"]: row["territory_fit"] for row in result.decision.candidates}
    assert fits == {charlie.pk: 1.0, alice.pk: 0.0, bob.pk: 0.0}
    assert result.decision.tie_size == 1 and result.decision.context["territory"]["name"] == "宁波"


def test_most_specific_area_wins_hospital_then_district_then_city(olga, team_a, team_b, alice, charlie):
    """L10: a hospital named in a territory beats its district, which beats its city; a free-text
    hospital name is placed by the city it mentions."""
    _publish(olga, owner_policy="off")  # the first lead makes its assignee the new customer's owner
    _territory("杭州全市", team_a, city="杭州")
    _territory("杭州西湖", team_b, city="杭州", district="西湖")
    west_lake = HospitalFactory(name="西湖医院", city="杭州", address="浙江省杭州市西湖区文三路1号")
    downtown = HospitalFactory(name="上城医院", city="杭州", address="浙江省杭州市上城区解放路1号")
    assert _intake("+8613800002020", west_lake).lead.assignee == charlie
    assert _intake("+8613800002021", downtown).lead.assignee == alice
    _territory("重点医院", team_a, hospital=west_lake)
    assert _intake("+8613800002022", west_lake).lead.assignee == alice
    typed = _intake("+8613800002023", hospital_name="杭州市西湖区某某骨科医院")
    assert typed.lead.hospital is None and typed.lead.assignee == charlie


def test_territory_admin_keeps_history_and_imports_excel(client, olga, team_a, team_b):
    """L10/A4: ops manage territories in admin (history kept) and import them from Excel: a file
    with a bad line imports nothing and names the line; a good one imports, and again changes nothing."""
    HospitalFactory(name="宁波市第一医院", city="宁波")
    client.force_login(olga)
    assert client.get("/admin/leads/territory/").status_code == 200
    assert "Excel 导入辖区" in client.get("/admin/leads/territory/").content.decode()

    def upload(rows):
        book = Workbook()
        book.active.append(["辖区", "团队", "城市", "区县", "医院"])
        for row in rows:
            book.active.append(row)
        buffer = io.BytesIO()
        book.save(buffer)
        buffer.seek(0)
        buffer.name = "辖区.xlsx"
        return client.post("/admin/leads/territory/import/", {"file": buffer})

    bad = upload([["杭州", "杭州一组", "杭州", "", ""], ["宁波", "不存在的组", "宁波", "", ""], ["宁波医院", "宁波一组", "", "", "没有这家医院"]])
    page = bad.content.decode()
    assert bad.status_code == 400 and "第 3 行" in page and "不存在的组" in page and "第 4 行" in page and "没有这家医院" in page
    assert not Territory.objects.exists()
    good = [["杭州", "杭州一组", "杭州市", "", ""], ["宁波", "宁波一组", "宁波", "", ""], ["宁波", "宁波一组", "", "", "宁波市第一医院"]]
    assert upload(good).status_code == 302
    assert Territory.objects.get(name="杭州").team == team_a
    assert set(TerritoryArea.objects.values_list("city", flat=True)) == {"杭州", "宁波", ""}
    assert upload(good).status_code == 302 and TerritoryArea.objects.count() == 3
    territory = Territory.objects.get(name="宁波")
    response = client.post(f"/admin/leads/territory/{territory.pk}/change/", {
        "name": "宁波", "team": team_a.pk, "active": "on", "note": "",
        "areas-TOTAL_FORMS": 0, "areas-INITIAL_FORMS": 0, "areas-MIN_NUM_FORMS": 0, "areas-MAX_NUM_FORMS": 1000,
    })
    assert response.status_code == 302
    assert [row.team_id for row in territory.history.order_by("history_date")] == [team_b.pk, team_a.pk]
    assert territory.history.first().history_user == olga


# --- L11 availability -------------------------------------------------------------------------------


def test_on_duty_is_read_fresh_not_from_a_per_process_cache(alice, bob):
    """L11: another process switches alice off duty (a plain UPDATE: no signal reaches this
    process); the very next decision here skips her."""
    assert {_intake(f"+86138000020{i}0").lead.assignee for i in range(2)} == {alice, bob}
    Rep.objects.filter(user=alice).update(on_duty=False)  # as another process's write would look
    assert [_intake(f"+86138000021{i}0").lead.assignee for i in range(3)] == [bob, bob, bob]


def test_leave_skips_the_rep_and_is_counted(alice, bob):
    """L11: a rep on leave takes no leads while it lasts; the decision counts the skip."""
    now = timezone.now()
    Leave.objects.create(user=alice, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1))
    result = _intake("+8613800002030")
    assert result.lead.assignee == bob and result.decision.skipped["on_leave"] == 1
    with time_machine.travel(now + timedelta(hours=2)):
        assert AssignmentDecision.objects.get(lead=_intake("+8613800002031").lead).skipped["on_leave"] == 0


def test_working_hours_follow_the_chinese_calendar_with_tiaoxiu(team_a, alice, bob, charlie, team_b):
    """L11: team A works 法定工作日 08:30–18:00 (incl. 调休 Saturdays), charlie's own schedule is every
    day. Evenings and holidays go to charlie; a 调休 Saturday (WorkdayOverride) is a working day,
    a weekday holiday is not."""
    from dashboards.models import WorkdayOverride

    WorkSchedule.objects.create(team=team_a, day_rule=DayRule.WORKDAYS, start_time=time(8, 30), end_time=time(18, 0))
    WorkSchedule.objects.create(user=charlie, day_rule=DayRule.EVERY_DAY, start_time=time(0, 0), end_time=time(23, 59))
    WorkdayOverride.objects.create(day=datetime(2027, 3, 6).date(), is_workday=True, note="调休上班")  # a Saturday
    WorkdayOverride.objects.create(day=datetime(2027, 3, 9).date(), is_workday=False, note="假日")  # a Tuesday
    cases = [
        (datetime(2027, 3, 8, 10, 0), {alice, bob, charlie}),  # Monday morning
        (datetime(2027, 3, 8, 19, 0), {charlie}),  # Monday evening
        (datetime(2027, 3, 6, 10, 0), {alice, bob, charlie}),  # 调休 Saturday
        (datetime(2027, 3, 7, 10, 0), {charlie}),  # ordinary Sunday
        (datetime(2027, 3, 9, 10, 0), {charlie}),  # holiday Tuesday
    ]
    for index, (moment, expected) in enumerate(cases):
        with time_machine.travel(moment.replace(tzinfo=SHANGHAI), tick=False):
            result = _intake(f"+86138000030{index:02d}")
            eligible = {row["user_id"] for row in result.decision.candidates}
            assert eligible == {user.pk for user in expected}, moment
            assert result.decision.skipped["off_hours"] == 3 - len(expected), moment


def test_nobody_eligible_stays_unassigned_is_marked_and_the_supervisor_is_alerted_once(owned, ningbo, alice, bob, carol, diana):
    """L11: everyone off duty or on leave → the lead stays new and unassigned, says why, and the
    owner team's supervisor (carol) gets an alert at once; the sweep retries without re-alerting;
    with no team to point at, the directors are alerted."""
    now = timezone.now()
    Rep.objects.filter(user=bob).update(on_duty=False)
    Leave.objects.create(user=alice, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1))
    result = _intake("+8613800002040", ningbo)
    lead = Lead.objects.get(pk=result.lead.pk)
    assert lead.assignee is None and lead.status == LeadStatus.NEW
    assert lead.unassigned_reason == "无人可接：不在岗 1 人，休假 1 人"
    assert result.decision.basis == DecisionBasis.NOBODY and result.decision.chosen is None
    alerts = Notification.objects.filter(recipient=carol, dedupe_key__startswith=f"lead:{lead.pk}:nobody:")
    assert alerts.count() >= 1 and "无人可接" in alerts.first().title
    leads_sweep(now=now + timedelta(minutes=1))
    leads_sweep(now=now + timedelta(minutes=2))
    assert Notification.objects.filter(dedupe_key__startswith=f"lead:{lead.pk}:nobody:").count() == alerts.count()
    orphan = _intake("+8613800002041")  # no customer, no territory: nobody to point at but the director
    assert Notification.objects.filter(recipient=diana, dedupe_key__startswith=f"lead:{orphan.lead.pk}:nobody:").exists()


def test_the_escalation_clock_starts_at_assignment_not_at_intake(alice, carol):
    """L11: a lead nobody could take at 10:00 is assigned by the sweep at 10:30 when alice comes
    back; it is overdue only 3 minutes after 10:30, not after 10:00."""
    start = datetime(2027, 3, 8, 10, 0, tzinfo=SHANGHAI)
    Leave.objects.create(user=alice, starts_at=start - timedelta(hours=1), ends_at=start + timedelta(minutes=30))
    with time_machine.travel(start, tick=False):
        lead = _intake("+8613800002050").lead
    assert lead.assignee is None
    with time_machine.travel(start + timedelta(minutes=30), tick=False):
        assert leads_sweep()["assigned"] == 1
    lead.refresh_from_db()
    assert lead.assignee == alice and lead.assigned_at == start + timedelta(minutes=30) and lead.unassigned_reason == ""
    with time_machine.travel(start + timedelta(minutes=32), tick=False):
        assert leads_sweep()["escalated"] == 0
    with time_machine.travel(start + timedelta(minutes=34), tick=False):
        assert leads_sweep()["escalated"] == 1


# --- L12 fairness ---------------------------------------------------------------------------------


def test_ties_within_the_band_rotate_by_least_recently_assigned_not_by_id():
    """L12: three reps created in id order r1 < r2 < r3, last assigned in REVERSE order (r3 longest
    ago). r3 also has one more open lead, so its score is a little lower — but within the band.
    The rotation picks r3; "lowest id wins" would pick r1, "highest score wins" r1 or r2."""
    team = TeamFactory()
    reps = [RepFactory(user=UserFactory(username=f"r{i}"), team=team, capacity=20).user for i in (1, 2, 3)]
    assert reps[0].pk < reps[1].pk < reps[2].pk
    base = timezone.now() - timedelta(days=1)
    for rep, hours_ago in zip(reps, (1, 2, 3)):  # r1 most recently, r3 longest ago
        Lead.objects.create(contact_name="old", phone=f"+861390000{rep.pk:04d}", assignee=rep, status=LeadStatus.CLOSED,
                            assigned_at=base - timedelta(hours=hours_ago))
    Lead.objects.create(contact_name="open", phone="+8613900009999", assignee=reps[2], status=LeadStatus.ASSIGNED, assigned_at=base - timedelta(days=3))
    # No hospital (only its grade): no customer is created, so no owner takes over the next leads.
    result = _intake("+8613800002060", hospital_grade="3A")
    scores = {row["user_id"]: row["score"] for row in result.decision.candidates}
    assert scores[reps[2].pk] < scores[reps[0].pk] and scores[reps[0].pk] - scores[reps[2].pk] <= 2.0
    assert result.lead.assignee == reps[2] and result.decision.tie_size == 3
    # Then r2 (waited longer than r1), then r1.
    assert [_intake(f"+86138000020{i}1", hospital_grade="3A").lead.assignee for i in (7, 8)] == [reps[1], reps[0]]


def test_outside_the_band_the_better_score_wins_even_if_never_assigned():
    """L12 (pure engine): a rep more than the band below the best is not in the rotation."""
    weights = assignment.Weights(30, 40, 30, 0, band=2.0)
    best = assignment.Candidate(2, "best", None, frozenset({"3A"}), frozenset({7}), 10, True, 0)
    worse = assignment.Candidate(1, "worse", None, frozenset({"2A"}), frozenset({7}), 10, True, 0)
    decision = assignment.decide([worse, best], assignment.LeadFacts("3A", 7), weights, lambda ids: {2: timezone.now()})
    assert decision.chosen_id == 2 and decision.tie_size == 1
    banded = assignment.Weights(30, 40, 30, 0, band=40.0)
    decision = assignment.decide([worse, best], assignment.LeadFacts("3A", 7), banded, lambda ids: {2: timezone.now()})
    assert decision.chosen_id == 1 and decision.tie_size == 2  # never assigned first within the band


def test_reassignment_warns_on_unavailable_targets_and_needs_a_reason_to_override(client, carol, alice, bob):
    """L12: handing a lead to someone off duty, on leave or full is refused with the warning; the
    supervisor may insist by ticking 仍然改派 with a reason, which the decision records."""
    lead = _intake("+8613800002070").lead
    target = bob if lead.assignee == alice else alice
    Rep.objects.filter(user=target).update(on_duty=False, capacity=1)
    Lead.objects.create(contact_name="x", phone="+8613900008888", assignee=target, status=LeadStatus.ASSIGNED)
    with pytest.raises(ReassignNeedsOverride) as refused:
        lead_reassign(lead=lead, to_user=target, by=carol, reason="客户指定")
    assert any("不在岗" in w for w in refused.value.warnings) and any("待办已满（1/1）" in w for w in refused.value.warnings)
    with pytest.raises(LeadActionError):
        lead_reassign(lead=lead, to_user=target, by=carol, reason="  ", override=True)
    client.force_login(carol)
    client.post(f"/leads/{lead.pk}/reassign/", {"to": target.pk, "reason": "客户指定"})
    lead.refresh_from_db()
    assert lead.assignee != target and not AssignmentDecision.objects.filter(lead=lead, kind=DecisionKind.MANUAL).exists()
    page = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "不在岗" in page and "仍然改派" in page
    client.post(f"/leads/{lead.pk}/reassign/", {"to": target.pk, "reason": "客户指定找 TA", "override": "1"})
    lead.refresh_from_db()
    manual = AssignmentDecision.objects.get(lead=lead, kind=DecisionKind.MANUAL)
    assert lead.assignee == target and manual.reason == "客户指定找 TA" and len(manual.context["override"]) == 2


def test_why_this_rep_names_the_owner_and_territory_in_both_languages(client, owned, ningbo, alice, carol, team_b):
    """L9/L10 on the lead page ("为什么分配给 TA"): basis, reason, territory, fits per dimension —
    in Chinese by default and in English after switching."""
    _territory("宁波", team_b, city="宁波")
    lead = _intake("+8613800002080", ningbo).lead
    client.force_login(carol)
    page = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "客户负责人 艾丽 可接，按客户归属分配" in page and "医院所在辖区：宁波" in page and "辖区匹配" in page
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "Account owner" in page and "Hospital's territory: 宁波" in page and "Territory fit" in page


def test_a_rep_who_left_or_has_not_started_takes_no_leads(alice, bob):
    """L11 with the employment dates (D8): after the last day (离职日期) or before the first day
    (入职日期) a rep counts as off duty, even with the on-duty switch still on."""
    today = timezone.localdate()
    Rep.objects.filter(user=alice).update(left_on=today - timedelta(days=1))
    Rep.objects.filter(user=bob).update(started_on=today + timedelta(days=7))
    result = _intake("+8613800002090")
    assert result.lead.assignee is None and result.decision.skipped["off_duty"] == 2
    Rep.objects.filter(user=bob).update(started_on=today)
    assert _intake("+8613800002091").lead.assignee == bob

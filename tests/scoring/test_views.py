"""Scoring pages through the test client with personas: 我的贡献值 (S1/S2), statements and splits
(S3, A3), the collaboration board (S4)."""

from __future__ import annotations

import re

import subprocess
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test.utils import CaptureQueriesContext
from django.db import connection
from django.utils import timezone

from scoring.models import BonusPolicy, BonusSplit, PoolBasis, SplitStatus
from scoring.services import scoring_sweep

from ..factories import CustomerFactory, RepFactory, UserFactory
from .factories import lead, payment, visit, won_deal

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 5, 20, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def worked_deal(frozen_now, alice, bob, customer):
    """alice and bob worked one customer; the deal closed yesterday with a ¥10,000.00 pool."""
    BonusPolicy.objects.create(
        name="固定", basis=PoolBasis.FIXED, fixed_amount=Decimal("10000.00"), window_days=90, effective_from=NOW - timedelta(days=60)
    )
    lead(rep=alice, customer=customer, at=NOW - timedelta(days=20))  # 10
    visit(rep=bob, customer=customer, at=NOW - timedelta(days=10, hours=3), needs_count=3, contact_title="院长")  # 15 + 25
    deal = won_deal(customer=customer, owner=alice, closed_at=NOW - timedelta(days=1))
    scoring_sweep()
    return BonusSplit.objects.get(deal=deal)


# --- 我的贡献值 -------------------------------------------------------------------------------


def test_my_points_show_this_month_and_quarter_per_customer_and_behaviour(client, frozen_now, alice, customer):
    """S1, S2: points this month and this quarter, per customer and behaviour."""
    other = CustomerFactory(owner=alice, name="宁波市第一医院 关节外科")
    lead(rep=alice, customer=customer, at=NOW - timedelta(days=3))  # May: month + quarter
    visit(rep=alice, customer=customer, at=datetime(2026, 4, 10, 15, tzinfo=SHANGHAI), is_solution_demo=True)  # April
    payment(rep=alice, customer=other, at=datetime(2026, 5, 2, 9, tzinfo=SHANGHAI))  # May
    lead(rep=alice, customer=other, at=datetime(2026, 3, 30, 9, tzinfo=SHANGHAI))  # last quarter
    scoring_sweep()
    client.force_login(alice)
    response = client.get("/scoring/")
    page = response.content.decode()
    assert response.context["month_total"] == 40
    assert response.context["quarter_total"] == 60
    rows = {row.name: row for row in response.context["customers"]}
    assert (rows[customer.name].quarter, rows[customer.name].month) == (30, 10)
    assert rows[customer.name].by_behaviour["solution_demo"] == {"month": 0, "quarter": 20}
    assert (rows[other.name].quarter, rows[other.name].month) == (30, 30)
    assert "我的贡献值" in page and "2026年第2季度" in page and "2026年5月" in page
    assert "方案演示" in page and "依据：拜访完成" in page


def test_a_rep_cannot_read_someone_elses_points(client, alice, bob, carol, charlie):
    """A3: reps see their own points; supervisors their team's; 404 otherwise."""
    client.force_login(alice)
    assert client.get(f"/scoring/people/{bob.pk}/").status_code == 404
    assert client.get("/scoring/team/").status_code == 404
    client.force_login(carol)
    assert client.get(f"/scoring/people/{alice.pk}/").status_code == 200
    assert client.get(f"/scoring/people/{charlie.pk}/").status_code == 404


def test_team_page_lists_the_supervisors_reps_only(client, frozen_now, alice, bob, carol, charlie, customer):
    """S1, A3: a supervisor sees the team's points per rep; another team's reps are not listed."""
    lead(rep=alice, customer=customer, at=NOW - timedelta(days=1))
    lead(rep=charlie, customer=CustomerFactory(owner=charlie), at=NOW - timedelta(days=1))
    scoring_sweep()
    client.force_login(carol)
    response = client.get("/scoring/team/")
    people = {row.name: row.quarter for row in response.context["people"]}
    assert people == {"艾丽": 10, "鲍勃": 0}


# --- Statements and splits (S3) --------------------------------------------------------------------


def test_both_reps_see_their_share_and_why(client, worked_deal, alice, bob):
    """S3: each rep's statement shows their share and the actions that earned it."""
    client.force_login(bob)
    page = client.get("/scoring/statement/").content.decode()
    assert "¥8,000.00" in page and "需求诊断" in page and "院长级拜访" in page and "40 / 总分 50" in page
    client.force_login(alice)
    page = client.get("/scoring/statement/").content.decode()
    assert "¥2,000.00" in page and "线索引入" in page and "院长级拜访" not in page


def test_statement_access(client, worked_deal, alice, bob, carol, dave, diana):
    """A3: a rep sees only their own statement; the supervisor the team's; the director all."""
    client.force_login(alice)
    assert client.get(f"/scoring/statement/{bob.pk}/").status_code == 404
    assert client.get(f"/scoring/statement/{bob.pk}/pdf/").status_code == 404
    client.force_login(dave)
    assert client.get(f"/scoring/statement/{bob.pk}/").status_code == 404
    client.force_login(carol)
    assert "¥8,000.00" in client.get(f"/scoring/statement/{bob.pk}/").content.decode()
    client.force_login(diana)
    assert client.get(f"/scoring/statement/{bob.pk}/").status_code == 200


def test_statement_pdf_has_extractable_chinese(client, worked_deal, bob):
    """S3: the statement downloads as a PDF whose Chinese text a machine can read."""
    client.force_login(bob)
    response = client.get(f"/scoring/statement/{bob.pk}/pdf/?quarter=2026-Q2")
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    text = subprocess.run(["pdftotext", "-", "-"], input=response.content, capture_output=True, check=True).stdout.decode()
    compact = "".join(text.split())
    for expected in ("奖金分配单", "鲍勃", "2026年第2季度", "¥8,000.00", "需求诊断", "院长级拜访", "人民币捌仟元整"):
        assert expected in compact, expected


def test_split_page_access_and_approval(client, worked_deal, alice, bob, carol, charlie, dave):
    """S3, A3: share holders and their supervisor see the split; outsiders get 404; only the
    supervisor approves (a rep gets 403); approval freezes it."""
    url = f"/scoring/splits/{worked_deal.pk}/"
    client.force_login(charlie)
    assert client.get(url).status_code == 404
    client.force_login(dave)
    assert client.get(url).status_code == 404
    client.force_login(bob)
    page = client.get(url).content.decode()
    assert "¥8,000.00" in page and "审批并冻结" not in page
    assert client.post(f"{url}approve/").status_code == 403
    client.force_login(carol)
    assert "审批并冻结" in client.get(url).content.decode()
    response = client.post(f"{url}approve/", follow=True)
    assert "已审批，分配已冻结" in response.content.decode()
    worked_deal.refresh_from_db()
    assert worked_deal.status == SplitStatus.APPROVED and worked_deal.approved_by == carol
    assert "字段变更留痕" in response.content.decode()  # A2: the split's history is on its page


def test_correction_form_names_the_missing_reason(client, worked_deal, carol):
    """S3: a correction without a reason is answered with the field's error, not a 500."""
    client.force_login(carol)
    response = client.post(f"/scoring/splits/{worked_deal.pk}/correct/", {"reason": "", "pool": ""})
    assert response.status_code == 400
    assert "这个字段是必填项" in response.content.decode()
    response = client.post(f"/scoring/splits/{worked_deal.pk}/correct/", {"reason": "奖金池调整", "pool": "9000.00"})
    correction = BonusSplit.objects.get(corrects=worked_deal)
    assert response.status_code == 302 and response["Location"] == f"/scoring/splits/{correction.pk}/"
    assert correction.pool == Decimal("9000.00")


def test_split_list_shows_visible_current_splits(client, worked_deal, carol, charlie):
    """S3, A3: the supervisor's list has the team's splits; another team's rep sees none."""
    client.force_login(carol)
    assert f"#{worked_deal.pk}" in client.get("/scoring/splits/?status=draft").content.decode()
    client.force_login(charlie)
    assert not re.search(rf"#{worked_deal.pk}(?![0-9A-Za-z])", client.get("/scoring/splits/").content.decode())  # not "#175cd3"


def test_activity_page_explains_the_points_and_is_scoped(client, worked_deal, bob, charlie):
    """S2, A3: a proof's page shows its facts and the points it earned; outsiders get 404."""
    contribution = worked_deal.contributions.filter(rep=bob).first()
    url = f"/scoring/activities/{contribution.activity_id}/"
    client.force_login(bob)
    page = client.get(url).content.decode()
    assert "需求诊断" in page and "院长级拜访" in page and "contact_title" in page and f"#{worked_deal.pk}" in page
    client.force_login(charlie)
    assert client.get(url).status_code == 404


# --- 协作看板 (S4) ----------------------------------------------------------------------------------


def test_board_is_visible_to_all_reps_with_heat_map_and_hourly_timeline(client, worked_deal, charlie, customer):
    """S4/D11: any rep — even from another team — sees the top customers, who contributed at which
    stage (rep × behaviour) and at which hour of the day (rep × hour, Beijing time, server-side
    cells). No cell carries its own URL: the tables carry the keys for the one drill endpoint."""
    from scoring.queries import BEHAVIOURS

    client.force_login(charlie)
    response = client.get("/scoring/board/")
    page = response.content.decode()
    top = response.context["customers"]
    assert [entry["name"] for entry in top] == [customer.name]
    labels = [str(label) for _b, label in BEHAVIOURS]
    cells = {(row["name"], label): cell[0] for row in top[0]["rows"] for label, cell in zip(labels, row["cells"])}
    assert cells[("鲍勃", "院长级拜访")] == 25 and cells[("艾丽", "线索引入")] == 10 and cells[("艾丽", "回款推动")] == 0
    visit_hour = timezone.localtime(NOW - timedelta(days=10, hours=3)).hour
    bob_row = next(row for row in top[0]["rows"] if row["name"] == "鲍勃")
    hours = dict(zip(top[0]["hour_columns"], (points for points, _level in bob_row["hours"])))
    assert hours[visit_hour] == 40  # one visit proved 需求诊断 +15 and 院长级拜访 +25 in that hour
    assert "<svg" not in page and f'data-k="hour" data-v="{visit_hour}"' in page
    assert f'data-rep={bob_row["id"]}' in page and "/scoring/board/drill/?quarter=" in page
    assert page.count("/scoring/board/drill/") <= 4 * len(top) + 1  # tables and customer links, not cells
    assert "scoring/board" in page and "board.js" in page


def test_top_ten_by_points_this_quarter(client, frozen_now, alice):
    """S4: the ten customers with the most points this quarter, highest first."""
    customers = [CustomerFactory(owner=alice) for _ in range(12)]
    for index, customer in enumerate(customers):
        for _ in range(index + 1):
            lead(rep=alice, customer=customer, at=NOW - timedelta(days=2))
    lead(rep=alice, customer=customers[0], at=datetime(2026, 3, 1, tzinfo=SHANGHAI))  # last quarter
    scoring_sweep()
    client.force_login(alice)
    top = client.get("/scoring/board/").context["customers"]
    assert [entry["id"] for entry in top] == [customer.pk for customer in reversed(customers)][:10]
    assert top[0]["points"] == 120


def test_board_drill_down_fragment_lists_the_actions(client, worked_deal, charlie, bob, customer):
    """S4: a heat-map cell drills down to its actions; under htmx only the fragment comes back."""
    client.force_login(charlie)
    url = f"/scoring/board/drill/?quarter=2026-Q2&customer={customer.pk}&rep={bob.pk}&behaviour=dean_visit"
    response = client.get(url, headers={"HX-Request": "true"})
    page = response.content.decode()
    assert response.status_code == 200 and "<html" not in page
    assert "鲍勃" in page and "院长级拜访" in page and "+25" in page and "1 个动作，25 分" in page
    assert "HX-Request" in response["Vary"]
    full = client.get(url).content.decode()
    assert "<html" in full and "返回协作看板" in full


def test_board_drill_down_by_hour_of_day_and_weekday(client, worked_deal, alice):
    """S4: the hour-of-day × weekday grid drills down to the actions of that hour."""
    moment = timezone.localtime(NOW - timedelta(days=10, hours=3))
    client.force_login(alice)
    page = client.get(
        f"/scoring/board/drill/?quarter=2026-Q2&weekday={moment.isoweekday()}&hour={moment.hour}",
        headers={"HX-Request": "true"},
    ).content.decode()
    assert "2 个动作，40 分" in page


def test_board_drill_down_rejects_bad_filters_and_hidden_customers(client, worked_deal, charlie):
    """S4, A3: a bad filter is a 400 naming the field; a customer off the board and outside the
    rep's scope is a 404."""
    client.force_login(charlie)
    response = client.get("/scoring/board/drill/?hour=25")
    assert response.status_code == 400 and "hour" in response.content.decode()
    hidden = CustomerFactory()
    assert client.get(f"/scoring/board/drill/?customer={hidden.pk}").status_code == 404


def test_board_with_an_unknown_quarter_says_so(client, alice):
    """S4: bad input is answered, not a 500."""
    client.force_login(alice)
    response = client.get("/scoring/board/?quarter=2026-Q9", follow=True)
    assert response.status_code == 200 and "无法识别的季度" in response.content.decode()


def _board_data(size: int, frozen_at) -> None:
    reps = [RepFactory(user=UserFactory()).user for _ in range(2 + size // 10)]
    for index in range(size):
        customer = CustomerFactory(owner=reps[0]) if index % 5 == 0 or index == 0 else None
        target = customer or _board_data.last
        _board_data.last = target
        rep = reps[index % len(reps)]
        at = frozen_at - timedelta(days=index % 40, hours=index % 24)
        if index % 3 == 0:
            lead(rep=rep, customer=target, at=at)
        else:
            visit(rep=rep, customer=target, at=at, needs_count=3 + index % 2, is_solution_demo=index % 2 == 0, contact_title="院长")
    scoring_sweep()


def test_board_query_count_does_not_grow_with_the_number_of_activities(client, frozen_now, alice, django_assert_max_num_queries):
    """S4: the board aggregates in SQL — the same number of queries for 10 and for 120 activities."""
    client.force_login(alice)
    counts = []
    for size in (10, 110):
        _board_data(size, NOW)
        with django_assert_max_num_queries(14):
            with CaptureQueriesContext(connection) as queries:
                response = client.get("/scoring/board/")
        assert response.status_code == 200
        counts.append(len(queries))
    assert len(client.get("/scoring/board/").context["customers"]) == 10
    assert counts[0] == counts[1]


def test_pages_query_counts_are_constant(client, worked_deal, bob, carol, django_assert_max_num_queries):
    """S1, S3: 我的贡献值, the statement and the team page do not run a query per row."""
    client.force_login(bob)
    with django_assert_max_num_queries(12):
        client.get("/scoring/")
    with django_assert_max_num_queries(12):
        client.get("/scoring/statement/")
    client.force_login(carol)
    with django_assert_max_num_queries(14):
        client.get("/scoring/team/")


def test_navigation_offers_the_scoring_pages(client, alice, carol):
    """S4: 我的贡献值 and 协作看板 are in every rep's navigation; supervisors also get the team view."""
    client.force_login(alice)
    page = client.get("/scoring/").content.decode()
    assert 'href="/scoring/board/"' in page and "我的贡献值" in page and 'href="/scoring/team/"' not in page
    client.force_login(carol)
    assert 'href="/scoring/team/"' in client.get("/scoring/").content.decode()

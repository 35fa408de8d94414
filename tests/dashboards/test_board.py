"""D1 — 今日战报: the wall-TV board, its three zones, its lights at their boundaries, its token."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboards import board
from leads.cash.models import DealStatus, QuoteStatus
from leads.models import LeadStatus
from salesops.models import ActivityKind

from ..factories import CustomerFactory, RepFactory
from .conftest import at
from .factories import act, make_deal, make_lead, make_quote_version

pytestmark = pytest.mark.django_db
NOW = at("2026-03-10", 9, 30)
HX = {"HX-Request": "true"}


def _travel():
    return time_machine.travel(NOW, tick=False)


# --- the lights at their boundaries ------------------------------------------------------------


def test_red_light_counts_leads_not_followed_up_for_more_than_48_hours(alice):
    """D1/D9 red: any lead still being worked (incl. contacted) whose coalesce(last_contact_at,
    assigned_at) is older than 48 h — 48 h 01 m counts, 47 h 59 m not."""
    with _travel():
        counted = make_lead(assignee=alice, assigned_at=NOW - timedelta(days=5), last_contact_at=NOW - timedelta(hours=48, minutes=1))
        make_lead(assignee=alice, assigned_at=NOW - timedelta(days=5), last_contact_at=NOW - timedelta(hours=47, minutes=59))
        never_contacted = make_lead(assignee=alice, status=LeadStatus.ACKNOWLEDGED, assigned_at=NOW - timedelta(hours=48, minutes=1))
        make_lead(assignee=alice, assigned_at=NOW - timedelta(hours=47, minutes=59))
        # D9: contacted once, then abandoned — still being worked, so red too.
        abandoned = make_lead(assignee=alice, status=LeadStatus.CONTACTED, assigned_at=NOW - timedelta(days=9), last_contact_at=NOW - timedelta(days=8))
        # Closed or converted, or never assigned: not the red light's business.
        make_lead(assignee=alice, status=LeadStatus.CLOSED, assigned_at=NOW - timedelta(days=9))
        make_lead(assignee=alice, status=LeadStatus.CONVERTED, assigned_at=NOW - timedelta(days=9))
        make_lead(status=LeadStatus.NEW, assigned_at=None)
        data = board.alerts(NOW)
    assert data["red_count"] == 3
    assert {lead.pk for lead in data["red_top"]} == {counted.pk, never_contacted.pk, abandoned.pk}


def test_red_light_moves_with_the_clock(alice):
    """D1 red: the same lead turns red once 48 h have passed — time moved with time-machine."""
    make_lead(assignee=alice, assigned_at=NOW, last_contact_at=NOW)
    with time_machine.travel(NOW + timedelta(hours=47, minutes=59), tick=False):
        from django.utils import timezone

        assert board.alerts(timezone.now())["red_count"] == 0
    with time_machine.travel(NOW + timedelta(hours=48, minutes=1), tick=False):
        assert board.alerts(timezone.now())["red_count"] == 1


def test_yellow_light_counts_quotes_sent_and_unconfirmed_for_more_than_72_hours(alice):
    """D1 yellow: status sent and sent_at older than 72 h — 72:01 counts, 71:59 not."""
    with _travel():
        late = make_quote_version(rep=alice, sent_at=NOW - timedelta(hours=72, minutes=1))
        make_quote_version(rep=alice, sent_at=NOW - timedelta(hours=71, minutes=59))
        make_quote_version(rep=alice, status=QuoteStatus.CONFIRMED, sent_at=NOW - timedelta(days=10))
        make_quote_version(rep=alice, status=QuoteStatus.REJECTED, sent_at=NOW - timedelta(days=10))
        make_quote_version(rep=alice, status=QuoteStatus.DRAFT, sent_at=None)
        data = board.alerts(NOW)
    assert data["yellow_count"] == 1
    assert [version.pk for version in data["yellow_top"]] == [late.pk]


def test_green_light_counts_won_deals_paid_at_least_90_percent(alice):
    """D1 green: sum(paid)/sum(due) over the receivables ≥ 90 % — 90.00 % counts, 89.99 % not."""
    with _travel():
        exactly = make_deal(owner=alice, amount="100000.00", paid="90000.00", closed_at=NOW - timedelta(days=30))
        make_deal(owner=alice, amount="100000.00", paid="89990.00", closed_at=NOW - timedelta(days=30))
        # Two instalments: 1111.05 + 0 of 1234.50 is exactly 90 % (a float would get this wrong).
        split = make_deal(owner=alice, amount="1234.50", receivables=[("1111.05", "1111.05"), ("123.45", "0.00")], closed_at=NOW - timedelta(days=3))
        make_deal(owner=alice, amount="1234.50", receivables=[("1111.05", "1110.93"), ("123.45", "0.00")], closed_at=NOW - timedelta(days=3))
        fully = make_deal(owner=alice, amount="5000.00", paid="5000.00", closed_at=NOW - timedelta(days=1))
        make_deal(owner=alice, amount="5000.00", paid="5000.00", status=DealStatus.LOST, closed_at=NOW - timedelta(days=1))
        make_deal(owner=alice, amount="5000.00", receivables=[], closed_at=NOW - timedelta(days=1))  # nothing due yet
        data = board.alerts(NOW)
    assert data["green_count"] == 3
    assert {deal.pk for deal in data["green_top"]} == {exactly.pk, split.pk, fully.pk}
    assert {deal.progress for deal in data["green_top"]} == {90, 100}


# --- ranking and ticker -------------------------------------------------------------------------


def test_ranking_counts_todays_evidence_actions_in_shanghai_and_sums_teams(alice, bob, charlie):
    """D1: each rep's count today (Asia/Shanghai) of evidence-backed actions, ranked, with team totals."""
    with _travel():
        act(alice, at("2026-03-10", 0, 1), n=3)  # 16:01 UTC the day before: still today in Shanghai
        act(alice, at("2026-03-10", 8), kind=ActivityKind.SIGNATURE)
        act(alice, at("2026-03-09", 23, 59), n=5)  # yesterday
        act(bob, at("2026-03-10", 8), kind=ActivityKind.DOCUMENT, n=2)
        act(bob, at("2026-03-10", 8), kind=ActivityKind.CALL, n=9)  # not evidence-backed
        act(charlie, at("2026-03-10", 9), kind=ActivityKind.APPROVAL, n=4)
        data = board.ranking(NOW)
    assert [(row.name, row.count, row.rank) for row in data["rows"]] == [("艾丽", 4, 1), ("查理", 4, 1), ("鲍勃", 2, 3)]
    teams = {team.name: (team.total, team.active_reps, team.members) for team in data["teams"]}
    assert teams == {"杭州一组": (6, 2, 2), "宁波一组": (4, 1, 1)}
    assert data["total"] == 10


def test_ticker_shows_latest_won_deals_with_hospital_products_and_amount(alice):
    """D1: the ticker lists won deals, newest first: hospital, product models, amount."""
    customer = CustomerFactory(department__hospital__name="浙江省人民医院")
    with _travel():
        make_deal(owner=alice, amount="5000.00", closed_at=NOW - timedelta(days=2))
        make_deal(owner=alice, customer=customer, amount="286000.00", closed_at=NOW - timedelta(hours=1), product_summary="AK-HIP-01 ×10")
        make_deal(owner=alice, amount="9999.00", status=DealStatus.LOST, closed_at=NOW)
        data = board.ticker(NOW)
    assert [deal.amount for deal in data["deals"]] == [286000, 5000]
    assert data["deals"][0].hospital.name == "浙江省人民医院"


def test_board_page_shows_all_three_zones(client, alice):
    """D1: the page (logged in) renders the ticker, the ranking and the three lights."""
    customer = CustomerFactory(department__hospital__name="温州市中心医院")
    with _travel():
        make_deal(owner=alice, customer=customer, amount="286000.00", closed_at=NOW - timedelta(hours=1), product_summary="AK-KNEE-01 ×4")
        act(alice, NOW - timedelta(hours=1), n=2)
        client.force_login(alice)
        page = client.get("/board/").content.decode()
    assert "今日战报" in page and "温州市中心医院" in page and "AK-KNEE-01 ×4" in page and "¥28.6万" in page
    assert 'id="zone-ranking"' in page and "艾丽" in page
    for light in ("red", "yellow", "green"):
        assert f'data-light="{light}"' in page


def test_board_refreshes_every_15_seconds_by_default_and_the_interval_is_a_setting(client, alice, settings):
    """D1: three zones poll with htmx every 15 s; DASHBOARDS_BOARD_REFRESH_SECONDS changes it."""
    client.force_login(alice)
    page = client.get("/board/").content.decode()
    assert page.count('hx-trigger="every 15s"') == 3
    settings.DASHBOARDS_BOARD_REFRESH_SECONDS = 4
    page = client.get("/board/").content.decode()
    assert page.count('hx-trigger="every 4s"') == 3


def test_board_keeps_last_data_via_a_nonced_static_script_without_inline_handlers(client, alice):
    """D1: the stale-data logic lives in static/dashboards/board.js, loaded with the CSP nonce;
    no inline event handler anywhere (the CSP forbids them)."""
    client.force_login(alice)
    response = client.get("/board/")
    page = response.content.decode()
    nonce = re.search(r'<script src="[^"]*dashboards/board\.js" nonce="([^"]+)"', page)
    assert nonce and nonce.group(1) in response["Content-Security-Policy"]
    assert not re.search(r"\son[a-z]+\s*=", page)
    assert "数据更新于" in page


@pytest.mark.parametrize("zone", board.ZONES)
def test_each_zone_fragment_renders_without_the_page(client, alice, zone):
    """D1: the htmx path returns the zone only (no <html), from the page's own template."""
    client.force_login(alice)
    response = client.get(f"/board/?zone={zone}", headers=HX)
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body and "zone-body" in body
    assert response["Vary"] and "HX-Request" in response["Vary"]


def test_board_needs_a_login_or_a_token(client):
    response = client.get("/board/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- the TV token ----------------------------------------------------------------------------------


def test_tv_token_shows_board_without_login(client, screen, alice):
    """D1: the per-screen token URL (and ?token=) shows the board with no login."""
    act(alice, NOW, n=1)
    response = client.get(f"/board/{screen.token}/")
    assert response.status_code == 200 and "今日战报" in response.content.decode()
    assert response["Referrer-Policy"] == "no-referrer"
    assert client.get(f"/board/?token={screen.token}").status_code == 200
    for zone in board.ZONES:
        fragment = client.get(f"/board/{screen.token}/?zone={zone}", headers=HX)
        assert fragment.status_code == 200 and "<html" not in fragment.content.decode()
    # Its zones poll the token URL, not the login-only one.
    assert f'hx-get="/board/{screen.token}/?zone=ticker"' in response.content.decode()


def test_tv_board_speaks_the_screens_language_not_the_tvs_browser(client, screen, alice):
    """D1: a TV browser set to English still shows the screen's language (Chinese by default),
    and the lights' items say their age in hours, like their rules."""
    with _travel():
        make_lead(assignee=alice, assigned_at=NOW - timedelta(hours=93, minutes=20))
        page = client.get(f"/board/{screen.token}/", headers={"Accept-Language": "en-US,en;q=0.9"}).content.decode()
    assert '<html lang="zh-hans">' in page and "线索超 48 小时未跟进" in page and "93 小时" in page
    assert "Team" not in page


def test_tv_token_exposes_nothing_else(client, screen):
    """D1: the token logs nobody in: every other page still asks for a login."""
    client.get(f"/board/{screen.token}/")
    assert "_auth_user_id" not in client.session
    for url in ("/", "/kpis/", "/interventions/", "/reports/", "/customers/", "/leads/", "/scoring/", "/admin/"):
        for candidate in (url, f"{url}?token={screen.token}"):
            response = client.get(candidate)
            assert response.status_code in (302, 404), candidate
            if response.status_code == 302:
                assert "login" in response["Location"], candidate
    page = client.get(f"/board/{screen.token}/").content.decode()
    assert 'class="nav"' not in page  # no navigation to anywhere else


def test_revoked_or_unknown_token_is_404(client, screen):
    """D1: revoking in admin kills the URL at once."""
    from dashboards.services import tvscreen_revoke, tvscreen_rotate

    old = screen.token
    tvscreen_revoke(screen=screen)
    assert client.get(f"/board/{old}/").status_code == 404
    assert client.get(f"/board/{old}/?zone=alerts", headers=HX).status_code == 404
    assert client.get(f"/board/?token={old}").status_code == 404
    assert client.get("/board/not-a-token/").status_code == 404
    tvscreen_rotate(screen=screen)
    assert screen.token != old
    assert client.get(f"/board/{old}/").status_code == 404
    assert client.get(f"/board/{screen.token}/").status_code == 200


def test_admin_revokes_a_screen(client, olga, screen):
    """D1/A4: ops revoke a screen's token from admin (and the list shows the URL)."""
    client.force_login(olga)
    listing = client.get("/admin/dashboards/tvscreen/").content.decode()
    assert screen.token in listing
    client.post("/admin/dashboards/tvscreen/", {"action": "revoke", "_selected_action": [screen.pk]})
    screen.refresh_from_db()
    assert screen.revoked_at is not None
    client.logout()
    assert client.get(f"/board/{screen.token}/").status_code == 404


# --- constant queries -----------------------------------------------------------------------------


def _grow(reps, count: int, start: int) -> None:
    for index in range(count):
        rep = reps[index % len(reps)]
        customer = CustomerFactory()
        make_lead(assignee=rep, customer=customer, assigned_at=NOW - timedelta(days=3 + index % 4))
        make_quote_version(rep=rep, customer=customer, sent_at=NOW - timedelta(days=4 + index % 3))
        make_deal(owner=rep, customer=customer, paid="95000.00", closed_at=NOW - timedelta(hours=2 + index))
        act(rep, NOW - timedelta(minutes=10 + index), n=2, customer=customer)


@pytest.mark.parametrize("zone", board.ZONES)
def test_each_fragment_query_count_is_constant_as_data_grows(client, screen, zone, team_a, django_assert_max_num_queries):
    """D1: a zone's query count does not grow with the rows it summarises."""
    reps = [RepFactory(team=team_a).user for _ in range(3)]

    def count_queries() -> int:
        with _travel(), CaptureQueriesContext(connection) as captured:
            response = client.get(f"/board/{screen.token}/?zone={zone}", headers=HX)
        assert response.status_code == 200
        return len(captured)

    _grow(reps, 2, 0)
    small = count_queries()
    _grow(reps + [RepFactory(team=team_a).user for _ in range(4)], 12, 2)
    large = count_queries()
    assert small == large
    with _travel(), django_assert_max_num_queries({"ticker": 2, "ranking": 3, "alerts": 7}[zone]):
        client.get(f"/board/{screen.token}/?zone={zone}", headers=HX)


# --- D9: never a stale row ------------------------------------------------------------------------


def _fingerprint(html: str) -> str:
    return re.search(r'data-fingerprint="([^"]*)"', html).group(1)


def test_a_replaced_red_lead_is_swapped_in_although_the_count_is_the_same(client, alice, screen, settings):
    """D9: one red lead followed up, another turns red — same count, new fingerprint, new row."""
    settings.DASHBOARDS_ALERT_TOP = 1
    first = make_lead(assignee=alice, assigned_at=NOW - timedelta(days=3), contact_name="甲医院线索")
    second = make_lead(assignee=alice, assigned_at=NOW - timedelta(hours=47), contact_name="乙医院线索")
    url = f"/board/{screen.token}/?zone=alerts"
    with _travel():
        before = client.get(url, headers=HX).content.decode()
    first.last_contact_at, first.status = NOW, LeadStatus.CONTACTED
    first.save()
    with time_machine.travel(NOW + timedelta(hours=2), tick=False):
        after = client.get(url, headers=HX).content.decode()
    assert board.alerts(NOW + timedelta(hours=2))["red_top"][0].pk == second.pk
    assert '<span class="light-count">1</span>' in before and '<span class="light-count">1</span>' in after
    assert _fingerprint(before) != _fingerprint(after)
    assert second.hospital.name in after and first.hospital.name not in after.split('data-light="yellow"')[0]


def test_a_red_leads_age_moving_changes_the_fingerprint(client, alice, screen):
    """D9: the rows show ages in hours; a new hour is a new picture, so it is swapped in."""
    make_lead(assignee=alice, assigned_at=NOW - timedelta(days=3))
    url = f"/board/{screen.token}/?zone=alerts"
    with _travel():
        one = _fingerprint(client.get(url, headers=HX).content.decode())
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        two = _fingerprint(client.get(url, headers=HX).content.decode())
    assert one != two


def test_board_left_open_for_24_hours_shows_todays_data(client, alice, bob, screen):
    """D9: the page loaded yesterday keeps polling; today's poll carries today's date (the header
    follows it, board.js) and today's ranking, not yesterday's."""
    act(alice, NOW - timedelta(minutes=5), n=3)
    with _travel():
        page = client.get(f"/board/{screen.token}/").content.decode()
    assert 'id="board-date">2026-03-10' in page
    with time_machine.travel(NOW + timedelta(hours=24), tick=False):
        act(bob, NOW + timedelta(hours=23, minutes=50), n=1)
        fragment = client.get(f"/board/{screen.token}/?zone=ranking", headers=HX).content.decode()
    assert 'data-date="2026-03-11' in fragment
    assert '<span class="total">1</span>' in fragment and "鲍勃" in fragment and "艾丽" not in fragment
    assert _fingerprint(fragment) != _fingerprint(page.split('id="zone-ranking"')[1])
    script = (Path(__file__).resolve().parents[2] / "static/dashboards/board.js").read_text()
    assert "board-date" in script and "data-date" in script

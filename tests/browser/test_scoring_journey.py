"""Browser journey (S3, S4): two reps work one customer, the deal closes, each logs in on a phone
and sees their share of the bonus and why; the collaboration board shows both of them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from scoring.defaults import install_defaults
from scoring.models import BonusPolicy, ContributionRule
from scoring.services import scoring_sweep
from tests.factories import CustomerFactory
from tests.scoring.factories import lead, visit, won_deal

from .nav import open_nav

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def browser_context_args(browser_context_args):
    """Reps' phones are set to Chinese."""
    return {**browser_context_args, "locale": "zh-CN"}


def test_two_reps_work_a_customer_and_both_see_their_share_and_why(login_page, live_server, page, alice, bob):
    """S3, S4: alice introduces the lead (10), bob diagnoses needs and demonstrates (15 + 20); the
    ¥500,000 deal's 2 % pool of ¥10,000.00 splits 2,222.22 / 7,777.78 and each sees why."""
    install_defaults(ContributionRule, BonusPolicy)
    customer = CustomerFactory(owner=alice, name="温州医科大学附属第一医院 关节外科")
    now = timezone.now()
    lead(rep=alice, customer=customer, at=now - timedelta(days=12))
    visit(rep=bob, customer=customer, at=now - timedelta(days=4), needs_count=3, is_solution_demo=True)
    won_deal(customer=customer, owner=alice, amount="500000.00", closed_at=now - timedelta(hours=2))
    scoring_sweep()

    page.set_viewport_size(PHONE)
    login_page(alice)
    open_nav(page, "奖金分配")
    page.wait_for_url(f"{live_server.url}/scoring/statement/")
    card = page.locator("section.statement-line")
    assert card.locator(".share-amount").inner_text() == "¥2,222.22"
    assert "线索引入" in card.inner_text() and "方案演示" not in card.inner_text()

    page.context.clear_cookies()
    login_page(bob)
    open_nav(page, "奖金分配")
    card = page.locator("section.statement-line")
    assert card.locator(".share-amount").inner_text() == "¥7,777.78"
    assert "35 / 总分 45" in card.inner_text() and "含尾差 1 分" in card.inner_text()
    card.get_by_role("link", name="依据：拜访完成").first.click()
    page.wait_for_url(f"{live_server.url}/scoring/activities/**")
    earned = page.locator("#earned").inner_text()
    assert "需求诊断" in earned and "+15" in earned and "方案演示" in earned and "+20" in earned

    open_nav(page, "协作看板")
    board = page.locator(f"#customer-{customer.pk}")
    assert "艾丽" in board.inner_text() and "鲍勃" in board.inner_text()
    # The heat map fits a phone: the table is no wider than its card, so nothing scrolls sideways.
    assert board.locator("table.heat:not(.hours)").bounding_box()["width"] <= board.bounding_box()["width"] - 20
    bob_row = board.locator("table.heat:not(.hours) tbody tr", has=page.locator("th", has_text="鲍勃"))
    cell = bob_row.locator("td").nth(2)  # the 方案演示 column; a cell carries no link, board.js drills by its keys
    assert cell.inner_text().strip() == "20"
    cell.click()
    drill = board.locator(".drill-panel")
    drill.get_by_text("1 个动作，20 分").wait_for()
    assert "方案演示" in drill.inner_text()

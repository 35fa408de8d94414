"""Browser journeys (T2, T4, T5): the rep reads on their phone why some actions did not pay; the
supervisor works the review queue on a laptop and rejects a flagged visit with a reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from scoring.defaults import install_defaults
from scoring.models import BonusPolicy, Contribution, ContributionReason, ContributionRule, ReviewStatus
from scoring.services import scoring_sweep
from tests.factories import CustomerFactory
from tests.scoring.factories import lead, visit, won_deal

from .nav import open_nav

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 900}


def test_rep_statement_says_which_actions_did_not_pay_and_that_the_split_is_provisional(login_page, live_server, page, alice, carol):
    """T2, T4: alice's second needs diagnosis within the cooldown is capped and a flagged visit
    waits for review; her statement (phone) shows both with their reasons, and that the split of a
    deal whose money has not come in yet is provisional."""
    install_defaults(ContributionRule, BonusPolicy)
    customer = CustomerFactory(owner=alice, name="宁波市第一医院 骨科")
    now = timezone.now()
    lead(rep=alice, customer=customer, at=now - timedelta(days=6))
    visit(rep=alice, customer=customer, at=now - timedelta(days=3), needs_count=3)
    visit(rep=alice, customer=customer, at=now - timedelta(days=2), needs_count=3)
    visit(rep=alice, customer=customer, at=now - timedelta(days=1), is_solution_demo=True, flagged=True, flags=["repeat_photo"])
    won_deal(customer=customer, owner=alice, amount="200000.00", closed_at=now - timedelta(hours=2))
    scoring_sweep()

    page.set_viewport_size(PHONE)
    login_page(alice)
    open_nav(page, "奖金分配")
    page.wait_for_url(f"{live_server.url}/scoring/statement/")
    line = page.locator("section.statement-line")
    assert "25 / 总分 25" in line.inner_text()
    assert "暂定" in line.locator(".split-stage").inner_text()
    exceptions = page.locator("#point-exceptions")
    capped = exceptions.locator("li.exception-capped")
    assert "需求诊断" in capped.inner_text() and "冷却期 7 天内已计过一次" in capped.inner_text()
    held = exceptions.locator("li.exception-held")
    assert "方案演示" in held.inner_text() and "待主管审核" in held.inner_text() and "repeat_photo" in held.inner_text()


def test_supervisor_rejects_a_flagged_visit_with_a_reason_in_the_review_queue(login_page, live_server, page, alice, carol):
    """T2, T5: carol opens 证据审核 from the navigation, tries to reject without a reason (the
    browser asks for one), gives one and rejects: the item moves to 最近的审核 and a negative
    contribution is appended for alice."""
    install_defaults(ContributionRule, BonusPolicy)
    customer = CustomerFactory(owner=alice, name="温州市中心医院 关节外科")
    visit(rep=alice, customer=customer, at=timezone.now() - timedelta(hours=3), is_solution_demo=True, flagged=True,
          flags=["repeat_photo", "far_from_hospital"])  # fmt: skip
    scoring_sweep()

    page.set_viewport_size(LAPTOP)
    login_page(carol)
    open_nav(page, "证据审核")
    page.wait_for_url(f"{live_server.url}/scoring/reviews/")
    item = page.locator("#pending-reviews article.review")
    assert "艾丽" in item.inner_text() and "方案演示" in item.inner_text() and "far_from_hospital" in item.inner_text()
    item.get_by_role("button", name="驳回").click()
    assert page.url.endswith("/scoring/reviews/")  # the required reason stopped the post
    item.locator("input[name=reason]").fill("照片与上周另一家医院的拜访相同")
    with page.expect_navigation():
        item.get_by_role("button", name="驳回").click()
    assert "已驳回" in page.locator("#decided-reviews").inner_text()
    assert "没有待审核的贡献值" in page.locator("#pending-reviews").inner_text()
    reversal = Contribution.objects.get(reason=ContributionReason.EVIDENCE_REJECTED)
    assert reversal.points == -20 and reversal.reverses.review.status == ReviewStatus.REJECTED
    assert reversal.reverses.review.reason == "照片与上周另一家医院的拜访相同"

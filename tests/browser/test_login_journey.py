"""Browser journey: login and the home page in Chinese (Playwright + Debian chromium)."""

import pytest

from .nav import open_nav

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_rep_logs_in_and_sees_chinese_home(login_page, alice, live_server):
    """A3: a rep logs in through the form and lands on the Chinese home page with navigation."""
    page = login_page(alice)
    assert page.locator("h1").inner_text().startswith("你好")
    assert page.locator("nav.nav").get_by_text("客户").count() == 1
    open_nav(page, "客户")
    page.wait_for_url(f"{live_server.url}/customers/")
    assert page.locator("h1").inner_text() == "客户"


def test_wrong_password_is_answered_in_chinese(page, live_server, alice):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    assert "用户名或密码错误" in page.content()

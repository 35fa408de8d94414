"""R5 Accounts: lockout per account and per IP with back-off, password reset by e-mail, Chinese
error pages, Permissions-Policy, no-store on personal-data pages, HSTS preload only when asked."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ..factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def _login(client: Client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


@pytest.mark.django_db
def test_right_password_after_five_wrong_ones_is_refused(alice, settings):
    """R5 After AXES_FAILURE_LIMIT wrong passwords the right one does not log in (429, Chinese)."""
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, "alice", "wrong-password").status_code == 200
    assert _login(client, "alice", "wrong-password").status_code == 429  # the limit-th failure locks
    response = _login(client, "alice", PASSWORD)
    assert response.status_code == 429
    assert "登录已暂时锁定" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_lockout_is_per_account_across_addresses_and_per_address_across_accounts(alice, bob, carol, settings):
    """R5 Changing IP does not unlock an account; spraying accounts from one IP locks the IP."""
    for n in range(settings.AXES_FAILURE_LIMIT):
        _login(Client(), "alice", "wrong", ip=f"10.0.1.{n}")
    assert _login(Client(), "alice", PASSWORD, ip="10.0.9.9").status_code == 429
    for n in range(settings.AXES_FAILURE_LIMIT):
        _login(Client(), f"nobody{n}", "wrong", ip="10.0.2.1")
    assert _login(Client(), "bob", PASSWORD, ip="10.0.2.1").status_code == 429
    assert _login(Client(), "carol", PASSWORD, ip="10.0.3.1").status_code == 302  # others unaffected


@pytest.mark.django_db
def test_lockout_expires_and_backs_off(alice, settings):
    """R5 The first lockout lasts 15 minutes; the next one within a day lasts twice as long."""
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        for _ in range(settings.AXES_FAILURE_LIMIT):
            _login(Client(), "alice", "wrong")
        traveller.shift(timedelta(minutes=16))
        assert _login(Client(), "alice", PASSWORD).status_code == 302  # first lockout over
        for _ in range(settings.AXES_FAILURE_LIMIT):
            _login(Client(), "alice", "wrong")
        traveller.shift(timedelta(minutes=16))
        # second lockout: 30 minutes (and a try during a lockout starts the wait again)
        assert _login(Client(), "alice", PASSWORD).status_code == 429
        traveller.shift(timedelta(minutes=31))
        assert _login(Client(), "alice", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_password_reset_by_email_sets_a_new_password(alice, settings):
    """R5 The reset form mails a one-time link; the link sets a new password; reused it is refused."""
    alice.email = "alice@example.com"
    alice.save()
    client = Client()
    page = client.get(reverse("password_reset"))
    assert "重设密码" in page.content.decode()
    response = client.post(reverse("password_reset"), {"email": "alice@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and "重设密码" in mail.outbox[0].subject
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert "设置新密码" in form.content.decode()
    done = client.post(form.redirect_chain[-1][0], {"new_password1": "Neues-Passwort-2026", "new_password2": "Neues-Passwort-2026"})
    assert done.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("Neues-Passwort-2026")
    assert "已过期" in Client().get(link, follow=True).content.decode()
    # the change is history (R9), labelled, without the hash
    last = alice.history.order_by("-history_id").first()
    assert last.history_change_reason == "修改密码"
    assert not hasattr(last, "password")


@pytest.mark.django_db
def test_unknown_email_gets_the_same_answer(settings):
    """R5 The reset form does not tell which e-mail addresses have accounts."""
    response = Client().post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302 and len(mail.outbox) == 0


@pytest.mark.django_db
def test_error_pages_are_chinese_with_debug_off(alice, settings):
    """R5 404 / 403 / 500 pages are our Chinese templates (DEBUG off)."""
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    not_found = client.get("/no-such-page/")
    assert not_found.status_code == 404 and "页面不存在" in not_found.content.decode()
    forbidden = client.get(reverse("leads:team"))
    assert forbidden.status_code == 403 and "没有权限" in forbidden.content.decode()
    from django.template.loader import render_to_string

    assert "系统出错" in render_to_string("500.html")
    assert "请求有误" in render_to_string("400.html")


@pytest.mark.django_db
def test_security_headers(alice, settings):
    """R5 Permissions-Policy everywhere; personal-data pages are `private, no-store`."""
    client = Client()
    login_page = client.get(reverse("login"))
    assert "camera=(self)" in login_page["Permissions-Policy"]
    client.force_login(alice)
    for name in ("leads:mine", "customers:list", "visits:workbench", "cash:quote_list"):
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        assert response["Cache-Control"] == "private, no-store", name


def test_hsts_preload_only_when_configured():
    """R5 Production settings: no preload by default, preload when SECURE_HSTS_PRELOAD=1."""
    code = "from django.conf import settings; print(settings.SECURE_HSTS_PRELOAD, settings.SECURE_HSTS_SECONDS)"
    base = {"DJANGO_SETTINGS_MODULE": "salesops.settings", "SECRET_KEY": "x" * 60, "DEBUG": "0", "PATH": "/usr/bin:/bin"}
    run = lambda extra: subprocess.run(  # noqa: E731
        [sys.executable, "-c", f"import django; django.setup(); {code}"], env={**base, **extra}, cwd=ROOT,
        capture_output=True, text=True, check=True,
    ).stdout.split()
    assert run({})[0] == "False"
    assert run({"SECURE_HSTS_PRELOAD": "1"})[0] == "True"

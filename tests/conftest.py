"""Shared fixtures. Personas (healthchecks style):

alice    rep in team A            bob      rep in team A (alice's teammate)
carol    supervisor of team A     charlie  rep in team B (an outsider to team A)
dave     supervisor of team B     diana    director (sees everything)
olga     ops staff (admin)
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from salesops.models import Role

from .factories import PASSWORD, RepFactory, TeamFactory, UserFactory

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API + the ORM in one test


@pytest.fixture(autouse=True)
def _media_root(settings):
    """Every test writes uploaded files into its own throwaway folder."""
    path = tempfile.mkdtemp(prefix="salesops-media-")
    settings.MEDIA_ROOT = path
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(autouse=True)
def _chinese_by_default():
    """Every test starts in Chinese: a language activated by an earlier request must not leak."""
    from django.utils import translation

    with translation.override("zh-hans"):
        yield


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def team_a(db):
    return TeamFactory(name="杭州一组")


@pytest.fixture
def team_b(db):
    return TeamFactory(name="宁波一组")


@pytest.fixture
def carol(team_a):
    rep = RepFactory(user=UserFactory(username="carol", first_name="陈主管"), role=Role.SUPERVISOR, team=team_a)
    team_a.supervisor = rep.user
    team_a.save()
    return rep.user


@pytest.fixture
def dave(team_b):
    rep = RepFactory(user=UserFactory(username="dave", first_name="丁主管"), role=Role.SUPERVISOR, team=team_b)
    team_b.supervisor = rep.user
    team_b.save()
    return rep.user


@pytest.fixture
def alice(team_a, carol):
    return RepFactory(user=UserFactory(username="alice", first_name="艾丽"), team=team_a).user


@pytest.fixture
def bob(team_a, carol):
    return RepFactory(user=UserFactory(username="bob", first_name="鲍勃"), team=team_a).user


@pytest.fixture
def charlie(team_b, dave):
    return RepFactory(user=UserFactory(username="charlie", first_name="查理"), team=team_b).user


@pytest.fixture
def diana(db):
    return RepFactory(user=UserFactory(username="diana", first_name="戴总监"), role=Role.DIRECTOR, team=None).user


@pytest.fixture
def olga(db):
    user = UserFactory(username="olga", first_name="欧运营", is_staff=True, is_superuser=True)
    RepFactory(user=user, role=Role.OPS, team=None)
    return user


@pytest.fixture(scope="session")
def browser_type_launch_args():
    """Playwright uses Debian's chromium; its own browser download cannot run here."""
    return {
        "executable_path": os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
        ],
    }


@pytest.fixture
def login_page(live_server, page):
    """Log `user` in through the real login form and return the page."""

    def _login(user, password: str = PASSWORD):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", password)
        with page.expect_navigation():
            page.click("button[type=submit]")
        return page

    return _login

"""A3 — WeCom OAuth2 login, against a real local HTTP server standing in for qyapi.weixin.qq.com."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache

pytestmark = pytest.mark.django_db

TOKEN_QUERY = {"corpid": "ww-corp", "corpsecret": "app-secret"}


@pytest.fixture
def wecom(settings, httpserver):
    settings.WECOM_CORP_ID = "ww-corp"
    settings.WECOM_CORP_SECRET = "app-secret"
    settings.WECOM_AGENT_ID = "1000002"
    settings.WECOM_API_BASE = httpserver.url_for("/").rstrip("/")
    cache.clear()  # the access token is cached per corp and API base
    yield httpserver
    cache.clear()


def _start(client, next_url: str = "/customers/") -> str:
    response = client.get("/accounts/wecom/login/", {"next": next_url})
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == "https://open.weixin.qq.com/connect/oauth2/authorize"
    assert location.fragment == "wechat_redirect"
    query = parse_qs(location.query)
    assert query["appid"] == ["ww-corp"] and query["agentid"] == ["1000002"] and query["scope"] == ["snsapi_base"]
    assert query["redirect_uri"] == ["http://testserver/accounts/wecom/callback/"]
    return query["state"][0]


def _token(server, token: str = "TOKEN-1") -> None:
    server.expect_ordered_request("/cgi-bin/gettoken", query_string=TOKEN_QUERY).respond_with_json(
        {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}
    )


def test_wecom_login_signs_in_the_rep_with_that_userid(client, wecom, alice):
    """A3: the code from WeCom is swapped for the userid, which maps to Rep.wecom_userid."""
    alice.rep.wecom_userid = "ZhangSan"
    alice.rep.save()
    state = _start(client)
    _token(wecom)
    wecom.expect_ordered_request(
        "/cgi-bin/auth/getuserinfo", query_string={"access_token": "TOKEN-1", "code": "CODE-1"}
    ).respond_with_json({"errcode": 0, "errmsg": "ok", "userid": "ZhangSan", "user_ticket": "T"})
    response = client.get("/accounts/wecom/callback/", {"code": "CODE-1", "state": state})
    assert response.status_code == 302 and response["Location"] == "/customers/"
    assert int(client.session["_auth_user_id"]) == alice.pk
    wecom.check_assertions()
    # The state is single-use: replaying the callback is refused.
    client.logout()
    replay = client.get("/accounts/wecom/callback/", {"code": "CODE-1", "state": state})
    assert replay.status_code == 400 and "_auth_user_id" not in client.session


def test_an_errcode_from_wecom_is_reported_and_nobody_is_signed_in(client, wecom, alice):
    """A3: errcode 40029 (invalid code) ends on the login page naming the code."""
    state = _start(client)
    _token(wecom)
    wecom.expect_ordered_request("/cgi-bin/auth/getuserinfo").respond_with_json({"errcode": 40029, "errmsg": "invalid code"})
    response = client.get("/accounts/wecom/callback/", {"code": "stale", "state": state})
    assert response.status_code == 502
    assert "企业微信登录失败（40029）" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_bad_corp_secret_is_reported(client, wecom):
    """A3: gettoken's own errcode (40001 invalid secret) is checked too."""
    state = _start(client)
    wecom.expect_ordered_request("/cgi-bin/gettoken").respond_with_json({"errcode": 40001, "errmsg": "invalid credential"})
    response = client.get("/accounts/wecom/callback/", {"code": "CODE", "state": state})
    assert response.status_code == 502 and "（40001）" in response.content.decode()


def test_an_expired_token_is_fetched_again_once(client, wecom, alice):
    """A3: 42001 from getuserinfo → a fresh token → success."""
    alice.rep.wecom_userid = "alice-wx"
    alice.rep.save()
    cache.clear()
    state = _start(client, next_url="")
    _token(wecom, "OLD")
    wecom.expect_ordered_request("/cgi-bin/auth/getuserinfo", query_string={"access_token": "OLD", "code": "C"}).respond_with_json(
        {"errcode": 42001, "errmsg": "access_token expired"}
    )
    _token(wecom, "NEW")
    wecom.expect_ordered_request("/cgi-bin/auth/getuserinfo", query_string={"access_token": "NEW", "code": "C"}).respond_with_json(
        {"errcode": 0, "userid": "alice-wx"}
    )
    response = client.get("/accounts/wecom/callback/", {"code": "C", "state": state})
    assert response.status_code == 302 and response["Location"] == "/"
    wecom.check_assertions()


def test_an_unknown_member_or_an_outsider_is_not_signed_in(client, wecom, alice):
    """A3: a WeCom userid without a SalesOps profile, or an outsider with only an openid, is refused."""
    state = _start(client)
    _token(wecom)
    wecom.expect_ordered_request("/cgi-bin/auth/getuserinfo").respond_with_json({"errcode": 0, "userid": "stranger"})
    response = client.get("/accounts/wecom/callback/", {"code": "C", "state": state})
    assert response.status_code == 403 and "「stranger」没有唯一对应的 SalesOps 账号" in response.content.decode()

    state = _start(client)
    wecom.expect_ordered_request("/cgi-bin/auth/getuserinfo").respond_with_json({"errcode": 0, "openid": "o-123"})
    response = client.get("/accounts/wecom/callback/", {"code": "C", "state": state})
    assert response.status_code == 502 and "not_member" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_forged_state_is_refused_without_calling_wecom(client, wecom):
    """A3: a callback whose state is not the one we issued never reaches WeCom."""
    _start(client)
    response = client.get("/accounts/wecom/callback/", {"code": "C", "state": "forged"})
    assert response.status_code == 400 and "来源不明" in response.content.decode()
    assert len(wecom.log) == 0


def test_an_outside_next_url_is_dropped(client, wecom):
    _start(client, next_url="https://evil.example/steal")
    assert client.session["wecom_oauth"]["next"] == ""


def test_the_button_shows_only_when_configured(client, settings, wecom):
    """A3: the login page offers WeCom login only when the corp is configured."""
    assert "/accounts/wecom/login/" in client.get("/accounts/login/?next=/customers/").content.decode()
    settings.WECOM_CORP_SECRET = ""
    assert "企业微信登录" not in client.get("/accounts/login/").content.decode()
    assert client.get("/accounts/wecom/login/").status_code == 404

"""WeCom (企业微信) OAuth2 web login: a member opens SalesOps inside WeCom and is signed in as the
user whose `Rep.wecom_userid` matches.

1. `authorize_url()` sends the browser to open.weixin.qq.com with a one-time `state`.
2. WeCom sends it back to our callback with `code` and the same `state`.
3. `userid_for_code()` swaps the code for the member's `userid`:
   GET {WECOM_API_BASE}/cgi-bin/auth/getuserinfo?access_token=…&code=…
   with the app's access token (GET /cgi-bin/gettoken, cached; see integrations/wecom.py).

WeCom answers HTTP 200 with an `errcode`; any non-zero code is an error (40029 invalid code,
40001/40013 bad secret or corp id …). An expired token (42001/40014) is fetched again once.
Someone outside the corp gets an `openid` and no `userid`: that is refused.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings

from . import get_json, raise_for_http_status
from .wecom import TOKEN_INVALID_CODES, WeComApp, WeComError, check

AUTHORIZE_URL = "https://open.weixin.qq.com/connect/oauth2/authorize"


def _setting(name: str) -> str:
    return str(getattr(settings, name, "") or "")


def configured() -> bool:
    return bool(_setting("WECOM_CORP_ID") and _setting("WECOM_CORP_SECRET") and _setting("WECOM_AGENT_ID"))


def authorize_url(*, redirect_uri: str, state: str) -> str:
    query = urlencode(
        {
            "appid": _setting("WECOM_CORP_ID"),
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": "snsapi_base",
            "state": state,
            "agentid": _setting("WECOM_AGENT_ID"),
        }
    )
    # WeCom requires the fragment; parameter order as documented.
    return f"{AUTHORIZE_URL}?{query}#wechat_redirect"


def _app() -> WeComApp:
    if not configured():
        raise WeComError("WeCom login not configured (WECOM_CORP_ID / WECOM_CORP_SECRET / WECOM_AGENT_ID)", code="not_configured")
    base = _setting("WECOM_API_BASE") or "https://qyapi.weixin.qq.com"
    return WeComApp(_setting("WECOM_CORP_ID"), _setting("WECOM_CORP_SECRET"), _setting("WECOM_AGENT_ID"), base=base)


def userid_for_code(code: str) -> str:
    """The WeCom member id behind a one-time login code; WeComError (with `.code`) otherwise."""
    app = _app()
    answer: dict = {}
    for attempt in (1, 2):
        token = app.access_token(refresh=attempt == 2)
        status, answer = get_json(f"{app.base}/cgi-bin/auth/getuserinfo?{urlencode({'access_token': token, 'code': code})}")
        raise_for_http_status(status, answer, "auth/getuserinfo")
        if attempt == 1 and isinstance(answer, dict) and answer.get("errcode") in TOKEN_INVALID_CODES:
            app.forget_token()
            continue
        check(answer, "auth/getuserinfo")
        break
    userid = answer.get("userid") or answer.get("UserId") or ""
    if not userid:
        raise WeComError("auth/getuserinfo: not a member of this corp (openid only)", retryable=False, code="not_member")
    return str(userid)

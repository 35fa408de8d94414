"""WeCom (企业微信): app messages (textcard) and the group robot.

WeCom answers HTTP 200 for almost everything; success or failure is `errcode` in the body, so every
answer goes through `check()`. The access token is cached until shortly before it expires (fetching
it is itself rate limited) and fetched again once when WeCom says it is invalid (40014) or expired
(42001). Rate limits (per member 30 messages a minute / 1000 an hour, per robot 20 a minute) are
enforced by the outbox before it calls `send_*`, because WeCom drops the excess silently.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache

from . import IntegrationError, get_json, post_json, raise_for_http_status

TOKEN_INVALID_CODES = frozenset({40014, 42001})
# Errors that repeating the same request cannot fix: every recipient invalid, bad user id,
# bad robot key, the app may not message this user.
PERMANENT_CODES = frozenset({81013, 40003, 93000, 60011, 81011})
TOKEN_MARGIN_SECONDS = 300

# Vendor limits (developer.work.weixin.qq.com); the outbox paces itself below them.
APP_MESSAGES_PER_MEMBER_PER_MINUTE = 30
APP_MESSAGES_PER_MEMBER_PER_HOUR = 1000
ROBOT_MESSAGES_PER_MINUTE = 20

TEXTCARD_TITLE_BYTES = 128
TEXTCARD_DESCRIPTION_BYTES = 512
ROBOT_MARKDOWN_BYTES = 4096
ROBOT_TEXT_BYTES = 2048


class WeComError(IntegrationError):
    pass


def truncate_bytes(text: str, limit: int) -> str:
    """WeCom counts UTF-8 bytes; cut on a character boundary and mark the cut."""
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[: max(0, limit - 3)].decode("utf-8", "ignore") + "…"


def check(answer: dict, what: str) -> dict:
    """Raise WeComError unless `errcode` is 0."""
    if not isinstance(answer, dict) or "errcode" not in answer:
        raise WeComError(f"{what}: unexpected answer {str(answer)[:200]}", code="bad_answer")
    code = answer.get("errcode")
    if code == 0:
        return answer
    try:
        numeric = int(code)
    except (TypeError, ValueError):
        numeric = None
    raise WeComError(
        f"{what}: errcode {code} {answer.get('errmsg', '')}".strip(),
        retryable=numeric not in PERMANENT_CODES,
        code=code,
    )


def app_configured() -> bool:
    return bool(settings.WECOM_CORP_ID and settings.WECOM_CORP_SECRET and settings.WECOM_AGENT_ID)


def robot_configured() -> bool:
    return bool(settings.WECOM_ROBOT_KEY)


def _base() -> str:
    return settings.WECOM_API_BASE.rstrip("/")


class WeComApp:
    """One self-built WeCom app (corp id + secret + agent id)."""

    def __init__(self, corp_id: str, secret: str, agent_id: str | int, base: str | None = None) -> None:
        self.corp_id, self.secret, self.agent_id = corp_id, secret, int(agent_id)
        self.base = (base or _base()).rstrip("/")
        digest = hashlib.sha256(f"{self.base}|{corp_id}|{secret}".encode()).hexdigest()[:16]
        self.cache_key = f"wecom:token:{digest}"

    @classmethod
    def from_settings(cls) -> "WeComApp":
        if not app_configured():
            raise WeComError("WeCom app not configured (WECOM_CORP_ID / WECOM_CORP_SECRET / WECOM_AGENT_ID)", code="not_configured")
        return cls(settings.WECOM_CORP_ID, settings.WECOM_CORP_SECRET, settings.WECOM_AGENT_ID)

    def access_token(self, *, refresh: bool = False) -> str:
        if not refresh:
            token = cache.get(self.cache_key)
            if token:
                return token
        query = urlencode({"corpid": self.corp_id, "corpsecret": self.secret})
        status, answer = get_json(f"{self.base}/cgi-bin/gettoken?{query}")
        raise_for_http_status(status, answer, "gettoken")
        answer = check(answer, "gettoken")
        token = answer.get("access_token") or ""
        if not token:
            raise WeComError("gettoken: no access_token in answer", code="bad_answer")
        lifetime = int(answer.get("expires_in") or 7200)
        cache.set(self.cache_key, token, max(60, lifetime - TOKEN_MARGIN_SECONDS))
        return token

    def forget_token(self) -> None:
        cache.delete(self.cache_key)

    def _post(self, path: str, payload: dict, what: str) -> dict:
        for attempt in (1, 2):
            token = self.access_token(refresh=attempt == 2)
            status, answer = post_json(f"{self.base}{path}?{urlencode({'access_token': token})}", payload)
            raise_for_http_status(status, answer, what)
            if attempt == 1 and isinstance(answer, dict) and answer.get("errcode") in TOKEN_INVALID_CODES:
                self.forget_token()
                continue
            return check(answer, what)
        raise AssertionError("unreachable")  # pragma: no cover

    def send_textcard(self, *, touser: str, title: str, description: str, url: str, btntxt: str = "详情") -> str:
        """Send a text card to one member; returns WeCom's msgid."""
        payload = {
            "touser": touser,
            "msgtype": "textcard",
            "agentid": self.agent_id,
            "textcard": {
                "title": truncate_bytes(title, TEXTCARD_TITLE_BYTES),
                "description": truncate_bytes(description, TEXTCARD_DESCRIPTION_BYTES),
                "url": url,
                "btntxt": btntxt[:4],
            },
            # A retry after a timeout we did not see the answer to must not show the card twice.
            "enable_duplicate_check": 1,
            "duplicate_check_interval": 1800,
        }
        answer = self._post("/cgi-bin/message/send", payload, "message/send")
        invalid = [user for user in (answer.get("invaliduser") or "").split("|") if user]
        if touser in invalid:
            raise WeComError(f"message/send: invalid user {touser}", retryable=False, code=81013)
        return str(answer.get("msgid") or "")


def robot_send(payload: dict, *, key: str | None = None) -> None:
    """Post one message (`{"msgtype": "markdown", ...}` or text) to a group robot webhook."""
    key = key or settings.WECOM_ROBOT_KEY
    if not key:
        raise WeComError("WeCom group robot not configured (WECOM_ROBOT_KEY)", code="not_configured")
    status, answer = post_json(f"{_base()}/cgi-bin/webhook/send?{urlencode({'key': key})}", payload)
    raise_for_http_status(status, answer, "webhook/send")
    check(answer, "webhook/send")


def robot_markdown(content: str) -> dict:
    return {"msgtype": "markdown", "markdown": {"content": truncate_bytes(content, ROBOT_MARKDOWN_BYTES)}}


def robot_text(content: str, *, mentioned_mobile_list: list[str] | None = None) -> dict:
    text = {"content": truncate_bytes(content, ROBOT_TEXT_BYTES)}
    if mentioned_mobile_list:
        text["mentioned_mobile_list"] = mentioned_mobile_list
    return {"msgtype": "text", "text": text}

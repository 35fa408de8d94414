"""Base UI and health: Chinese by default, CSRF header for htmx, a CSP, /healthz."""

import pytest


def test_home_is_chinese_with_csrf_header_and_csp(client, alice):
    """A3/base UI: the page is zh-hans, carries the htmx CSRF header and a nonce'd CSP."""
    client.force_login(alice)
    response = client.get("/")
    body = response.content.decode()
    assert '<html lang="zh-hans">' in body
    assert "hx-headers='{\"X-CSRFToken\"" in body
    assert "首页" in body
    assert "script-src 'self' 'nonce-" in response["Content-Security-Policy"]


def test_english_is_available(client, alice):
    client.force_login(alice)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert '<html lang="en">' in client.get("/").content.decode()


@pytest.mark.django_db
def test_healthz_ok(client):
    """ARCHITECTURE public contract: 200 when database and broker answer."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_healthz_503_when_broker_is_down(client, settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "redis": "redis://127.0.0.1:1/0"}
    settings.Q_CLUSTER.pop("orm", None)
    from django_q.conf import Conf

    old = Conf.DJANGO_REDIS, Conf.REDIS, Conf.ORM
    Conf.ORM, Conf.REDIS, Conf.DJANGO_REDIS = None, {"host": "127.0.0.1", "port": 1, "socket_connect_timeout": 0.2}, None
    try:
        response = client.get("/healthz")
    finally:
        Conf.DJANGO_REDIS, Conf.REDIS, Conf.ORM = old
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "ok"

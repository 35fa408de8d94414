"""UI language: Simplified Chinese by default, English available (REQUIREMENTS, STYLE habit 7)."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from ..factories import HospitalFactory
from .xlsx import xlsx_upload

CJK = re.compile(r"[\u4e00-\u9fff]")


def _visible_text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def _english(client) -> None:
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})


def test_login_page_is_english_after_switching(client, db):
    """The login page has no Chinese left in English (the language picker names 简体中文 itself)."""
    _english(client)
    html = client.get("/accounts/login/").content.decode()
    assert '<html lang="en">' in html and "Sign in to SalesOps" in html and "User name" in html
    assert CJK.findall(_visible_text(html).replace("简体中文", "")) == []


def test_home_page_is_english_after_switching(client, alice):
    client.force_login(alice)
    assert "你好，艾丽" in client.get("/").content.decode()
    _english(client)
    html = client.get("/").content.decode()
    assert "Hello, 艾丽" in html and ">Home<" in html and "Sign out" in html and "Switch" in html
    assert "My recent activities" in html and "你好" not in html
    assert "<h1>Customers</h1>" in client.get("/customers/").content.decode()


def test_import_errors_are_shown_in_the_readers_language(client, upload, carol, alice):
    """A1: row errors are stored as codes, so the preview reads in the viewer's language."""
    HospitalFactory(name="浙江省人民医院")
    _response, job = upload(carol, [["骨科", "浙江省人民医院", "", "", "", "12345", "alice"]])
    _english(client)
    html = client.get(f"/imports/job/{job.pk}/").content.decode()
    assert "Line 2 · Phone" in html and "“12345” is not a valid phone number" in html
    assert "if any row has an error, the import cannot be confirmed and nothing is written" in html


def test_upload_refusal_is_in_english_too(client, carol):
    client.force_login(carol)
    _english(client)
    file = xlsx_upload(["客户名称"], [["x"]], name="list.xlsx")
    html = client.post("/imports/customers/new/", {"file": file}).content.decode()
    assert "The file “list.xlsx” lacks required columns: 医院、负责人" in html


def test_compiled_catalogue_is_committed_next_to_its_source():
    """The .mo is what Django reads; it must exist and be newer than or as new as the .po edits."""
    folder = Path(settings.LOCALE_PATHS[0]) / "en" / "LC_MESSAGES"
    po, mo = folder / "django.po", folder / "django.mo"
    assert po.exists() and mo.exists()
    assert 'msgstr ""\n\n' not in po.read_text(encoding="utf-8").split("\n\n", 1)[1] + "\n"
    assert "#, fuzzy" not in po.read_text(encoding="utf-8")


def test_an_english_browser_still_gets_chinese_until_the_person_switches(client, alice, settings):
    """Chinese by default: the browser's Accept-Language does not switch the UI, the switcher does."""
    middleware = list(settings.MIDDLEWARE)
    if "salesops.middleware.ChineseByDefaultMiddleware" not in middleware:
        middleware.insert(middleware.index("django.middleware.locale.LocaleMiddleware"), "salesops.middleware.ChineseByDefaultMiddleware")
        settings.MIDDLEWARE = middleware
    client.force_login(alice)
    html = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"}).content.decode()
    assert '<html lang="zh-hans">' in html and "你好，艾丽" in html
    _english(client)
    assert "Hello, 艾丽" in client.get("/", headers={"Accept-Language": "zh-CN"}).content.decode()

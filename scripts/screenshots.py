"""`make screenshots`: the main screens per role at 390×844 (phone) and 1440×900 (laptop), so the
next person can see the product without running it (issue 19).

Seeds the demo company into a throw-away SQLite database, starts the dev server on a free port,
signs in as each role through the login form and saves PNGs to docs/screenshots/ (or OUT=…).
Needs Playwright (requirements-dev) and a Chromium (CHROMIUM=/usr/bin/chromium by default)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(os.environ.get("OUT", ROOT / "docs" / "screenshots"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PASSWORD = "salesops-demo"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1440, "height": 900}}

# (role, login, [(name, path)]) — the screens each role lives in.
SCREENS = [
    ("rep", "rep01", [("home", "/"), ("leads", "/leads/"), ("workbench", "/visits/"), ("visits", "/visits/tasks/"),
                      ("customers", "/customers/"), ("quotes", "/cash/"), ("points", "/scoring/mine/"), ("more", "/#more")]),
    ("supervisor", "sup1", [("home", "/"), ("team-leads", "/leads/team/"), ("team-visits", "/visits/tasks/"),
                            ("reviews", "/scoring/reviews/"), ("approvals", "/cash/approvals/"), ("search", "/search/?q=医院")]),
    ("director", "director", [("home", "/"), ("kpis", "/dashboards/kpis/"), ("deals", "/cash/deals/"),
                              ("interventions", "/dashboards/interventions/"), ("board", "/dashboards/board/")]),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - our own local server
            return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.5)
    raise SystemExit(f"server at {url} did not start")


def main() -> int:
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="salesops-shots-"))
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}", "MEDIA_ROOT": str(work / "media"),
           "SALESOPS_CAPTURE_LOGIN_FAILURES": "0"}
    python = sys.executable
    manage = [python, str(ROOT / "manage.py")]
    print("seeding the demo company into", work, flush=True)
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], check=True, env=env, cwd=ROOT)
    subprocess.run([*manage, "seed_demo"], check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([*manage, "runserver", f"127.0.0.1:{port}", "--noreload"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(f"{base}/healthz")
        OUT.mkdir(parents=True, exist_ok=True)
        for old in OUT.glob("*.png"):
            old.unlink()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            for role, login, screens in SCREENS:
                for size, viewport in VIEWPORTS.items():
                    context = browser.new_context(viewport=viewport, locale="zh-CN", device_scale_factor=1)
                    page = context.new_page()
                    page.goto(f"{base}/accounts/login/")
                    page.fill("input[name=username]", login)
                    page.fill("input[name=password]", PASSWORD)
                    page.click("button[type=submit]")
                    page.wait_for_url(f"{base}/")
                    for name, path in screens:
                        page.goto(base + path.replace("#more", ""))
                        page.wait_for_load_state("networkidle")
                        if path.endswith("#more"):
                            page.locator("nav.appnav details.more > summary").click()
                        target = OUT / f"{role}-{name}-{size}.png"
                        page.screenshot(path=str(target), full_page=False)
                        print(" ", target.relative_to(ROOT) if target.is_relative_to(ROOT) else target, flush=True)
                    context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    total = sum(p.stat().st_size for p in OUT.glob("*.png"))
    print(f"{len(list(OUT.glob('*.png')))} screenshots, {total / 1024 / 1024:.1f} MB in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

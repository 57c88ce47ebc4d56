"""Browser fixtures: a live server on its own fresh database, chromium, and the checks
every page gets (axe-core accessibility, no console errors, no CSP violations).

The live server runs a separate app (not the rolled-back test app of tests/conftest.py):
the browser talks to it over HTTP from another thread, so its data is really committed.
The database is shared by every e2e test of the run, so each test makes its own people
with unique e-mails and codes.
"""
from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
from flask import Flask
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, expect, sync_playwright
from werkzeug.serving import make_server

from lms import create_app
from lms.auth.passwords import hash_password
from lms.cli import upgrade_database
from lms.db import db, sqlite_write_intent
from lms.org import services
from lms.org.models import Role
from tests.conftest import app_settings, fresh_database

ROOT = Path(__file__).resolve().parents[2]
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic",
                 "--no-first-run"]
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
TRANSLATIONS = ROOT / "lms" / "translations"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/e2e is a browser journey: mark it `e2e` (`-m "not e2e"` skips)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


# ---------------------------------------------------------------- the live server

@dataclass
class Seed:
    """What every journey can rely on; ids of units made once for the whole run."""

    ministry_id: int
    department_id: int  # "Cục Lãnh sự", code CLS
    division_id: int  # a division under CLS, code CLS-HC
    department_name: str = "Cục Lãnh sự"
    department_name_en: str = "Consular Department"  # what English pages show
    department_code: str = "CLS"
    division_code: str = "CLS-HC"


@dataclass
class LiveServer:
    url: str
    app: Flask
    seed: Seed
    db_kind: str

    def create_admin(self, password: str, name: str = "Trần Minh Quân") -> dict[str, str]:
        """A new administrator with a known password (unique e-mail and code per call)."""
        token = secrets.token_hex(3)
        email = f"admin.{token}@mofa.example"
        code = f"AD{token.upper()}"
        with self.app.app_context():
            session = db.session
            person = services.create_person(session, None, services.PersonData(
                employee_code=code, full_name=name, email=email,
                unit_id=self.seed.ministry_id, position="Chuyên viên CNTT"),
                password_hash=hash_password(password), must_change_password=False)
            services.grant_role(session, None, person, Role.ADMIN.value, None)
            session.commit()
        return {"email": email, "code": code, "name": name, "password": password}


def _ensure_catalogs() -> None:
    """`make translations` compiles the catalogs; do it here too when a .mo is missing/stale."""
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            subprocess.run([str(Path(sys.executable).with_name("pybabel")), "-q", "compile",
                            "-d", str(TRANSLATIONS)], check=True)
            return


def _seed(app: Flask) -> Seed:
    with app.app_context():
        session = db.session
        ministry = services.create_unit(session, None, services.UnitData(
            code="BNG", name="Bộ Ngoại giao", name_en="Ministry of Foreign Affairs",
            kind="ministry"))
        department = services.create_unit(session, None, services.UnitData(
            code="CLS", name="Cục Lãnh sự", name_en="Consular Department", kind="department",
            parent_id=ministry.id))
        division = services.create_unit(session, None, services.UnitData(
            code="CLS-HC", name="Phòng Hành chính – Tổng hợp", name_en="Administration Division",
            kind="division", parent_id=department.id))
        mission = services.create_unit(session, None, services.UnitData(
            code="DSQ-PARIS", name="Đại sứ quán Việt Nam tại Cộng hòa Pháp",
            name_en="Embassy of Viet Nam in France", kind="mission", parent_id=ministry.id,
            timezone="Europe/Paris"))
        services.create_unit(session, None, services.UnitData(
            code="TTBC", name="Trung tâm Báo chí", name_en="Press Centre", kind="department",
            parent_id=ministry.id))
        # A few colleagues so the lists and the tree are not empty.
        for n, (name, unit) in enumerate([
            ("Phạm Thị Thanh Hà", department), ("Nguyễn Thị Hồng Nhung", division),
            ("Lê Văn Đức", mission), ("Hoàng Đức Thắng", ministry),
        ], start=1):
            services.create_person(session, None, services.PersonData(
                employee_code=f"SEED{n:03d}", full_name=name, email=f"seed{n}@mofa.example",
                unit_id=unit.id, position="Chuyên viên"))
        session.commit()
        return Seed(ministry_id=ministry.id, department_id=department.id,
                    division_id=division.id)


@pytest.fixture(autouse=True)
def setup_writes_wait_their_turn() -> Iterator[None]:
    """Tests write their setup data while the live server may still be answering the
    previous page's background requests: on SQLite they begin with BEGIN IMMEDIATE, as the
    app's own writes do, instead of failing with "database is locked"."""
    token = sqlite_write_intent.set(True)
    yield
    sqlite_write_intent.reset(token)


@pytest.fixture(scope="session")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, Seed]]:
    _ensure_catalogs()
    with fresh_database("e2e") as url:
        app = create_app(app_settings(url, str(tmp_path_factory.mktemp("e2e-instance"))))
        with app.app_context():
            upgrade_database()
        seed = _seed(app)
        try:
            yield app, seed
        finally:
            with app.app_context():
                db.engine.dispose()


@pytest.fixture(scope="session")
def live_server_info(live_app: tuple[Flask, Seed]) -> Iterator[LiveServer]:
    app, seed = live_app
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="lms-live-server", daemon=True)
    thread.start()
    kind = "postgresql" if app.config["DATABASE_URL"].startswith("postgresql") else "sqlite"
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app, seed=seed,
                         db_kind=kind)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(live_server_info: LiveServer) -> str:
    """The base URL of the running app, e.g. http://127.0.0.1:41234."""
    return live_server_info.url


# ---------------------------------------------------------------- the browser

@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    pw = sync_playwright().start()
    try:
        yield pw
    finally:
        pw.stop()


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    # Debian's chromium: never `playwright install`.
    chromium = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield chromium
    finally:
        chromium.close()


# Console errors (CSP violations are reported there too) and page errors, per page.
_PROBLEMS: dict[Page, list[str]] = {}
_ALLOWED: dict[Page, list[re.Pattern[str]]] = {}


def _on_console(page: Page, message: ConsoleMessage) -> None:
    if message.type != "error":
        return
    if any(p.search(message.text) for p in _ALLOWED.get(page, [])):
        return
    location = message.location or {}
    _PROBLEMS.setdefault(page, []).append(
        f"console error on {page.url}: {message.text} ({location.get('url', '')}"
        f":{location.get('lineNumber', '')})")


@pytest.fixture()
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    """A page in a brand-new browser context: each test has its own cookies."""
    context = browser.new_context(base_url=live_server, locale="vi-VN",
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    new_page = context.new_page()
    _PROBLEMS[new_page] = []
    new_page.on("console", lambda message: _on_console(new_page, message))
    new_page.on("pageerror", lambda error: _PROBLEMS[new_page].append(
        f"uncaught error on {new_page.url}: {error}"))
    try:
        yield new_page
        assert_no_console_errors(new_page)
    finally:
        _PROBLEMS.pop(new_page, None)
        _ALLOWED.pop(new_page, None)
        context.close()


def allow_console_error(page: Page, pattern: str) -> None:
    """An expected console error, e.g. the 401 status of a deliberately failed sign-in."""
    _ALLOWED.setdefault(page, []).append(re.compile(pattern))


def clear_allowed_console_errors(page: Page) -> None:
    _ALLOWED.pop(page, None)


def assert_no_console_errors(page: Page) -> None:
    problems = _PROBLEMS.get(page, [])
    if problems:
        found = list(problems)
        problems.clear()
        pytest.fail("The browser reported errors:\n  " + "\n  ".join(found), pytrace=False)


# ---------------------------------------------------------------- accessibility

_AXE_SOURCE: str | None = None


def _axe_source() -> str:
    global _AXE_SOURCE
    if _AXE_SOURCE is None:
        if not AXE_JS.exists():
            pytest.fail(f"{AXE_JS} is missing: run `npm ci` (or `make browser-deps`)")
        _AXE_SOURCE = AXE_JS.read_text(encoding="utf-8")
    return _AXE_SOURCE


def format_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"[{v['id']}] ({v.get('impact')}) {v['help']} — {v.get('helpUrl', '')}")
        for node in v.get("nodes", [])[:10]:
            target = " ".join(json.dumps(t, ensure_ascii=False) if not isinstance(t, str) else t
                              for t in node.get("target", []))
            lines.append(f"    at {target}")
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            if summary:
                lines.append(f"       {summary[:300]}")
        if len(v.get("nodes", [])) > 10:
            lines.append(f"    … and {len(v['nodes']) - 10} more")
    return "\n".join(lines)


def check_accessibility(page: Page, context: str = "") -> None:
    """Run axe-core (WCAG 2.0/2.1 A and AA) on the page; fail listing every violation.

    axe is injected with page.evaluate (DevTools), which the page's CSP does not govern:
    the CSP itself stays on, so inline-script mistakes in the app still show up.
    Console errors and CSP violations seen so far on this page fail the test too.
    """
    page.wait_for_load_state("load")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())
    result = page.evaluate(
        """async (tags) => {
            const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                helpUrl: v.helpUrl, nodes: v.nodes.map(n => ({target: n.target,
                failureSummary: n.failureSummary}))}));
        }""",
        AXE_TAGS,
    )
    where = f"{context} ({page.url})" if context else page.url
    assert_no_console_errors(page)
    if result:
        pytest.fail(f"axe found {len(result)} accessibility violation(s) on {where}:\n"
                    + format_violations(result), pytrace=False)


def screenshot(page: Page, name: str, db_kind: str) -> Path:
    """A full-page PNG in test-artifacts/ (gitignored), e.g. org-tree-vi-sqlite.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}-{db_kind}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture()
def server(live_server_info: LiveServer) -> LiveServer:
    return live_server_info


def sign_in(page: Page, email: str, password: str) -> None:
    """Sign in as someone else. The current page is left first: a lesson page's last
    background request could otherwise bring the previous session's cookie back after it
    was cleared."""
    page.goto("/movement")
    page.wait_for_load_state("networkidle")
    page.context.clear_cookies()
    page.goto("/login")
    page.locator("#login").fill(email)
    page.locator("#password").fill(password)
    page.locator("main form button[type=submit]").click()
    expect(page.locator("nav.site-nav")).to_be_visible()

"""The administrator's first day, in a real browser.

Admin signs in → imports the staff CSV (preview, then apply with a temporary password)
→ finds a new person with an accent-free search → makes them head of a department →
signs out; the new unit head signs in, must change the temporary password, lands on a
home page showing their unit, and the temporary password no longer works.

Every page visited is checked with axe-core (WCAG 2.1 A/AA) and for console errors.
Selectors use ids and names, not wording: the Vietnamese catalog is still being written.
"""
from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import (
    LiveServer,
    allow_console_error,
    check_accessibility,
    clear_allowed_console_errors,
    screenshot,
)

pytestmark = pytest.mark.e2e

ADMIN_PASSWORD = "QuanTri-2025-e2e"
TEMPORARY_PASSWORD = "TamThoi-2025x"
NEW_PASSWORD = "SonMoi-2025-riengtu"


def sign_in(page: Page, login: str, password: str) -> None:
    page.goto("/login")
    page.locator("#login").fill(login)
    page.locator("#password").fill(password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state("load")


def sign_out(page: Page) -> None:
    page.locator("nav.site-nav form[action$='/logout'] button").click()
    expect(page).to_have_url(re.compile(r"/login$"))


def stat_values(page: Page) -> list[int]:
    return [int(v) for v in page.locator("main .grid .stat__value").all_inner_texts()]


def write_staff_csv(folder: Path, token: str, seed_codes: tuple[str, str]) -> tuple[Path, dict]:
    """The HR list as Excel exports it: UTF-8 with BOM, Vietnamese headers and names."""
    department, division = seed_codes
    son = {"code": f"BTS{token}", "name": "Bùi Thanh Sơn", "email": f"bui.thanh.son.{token}@mofa.example"}
    rows = [
        (son["code"], son["name"], son["email"], department, "Phó Cục trưởng"),
        (f"NTH{token}", "Nguyễn Thị Hồng Nhung", f"nhung.nth.{token}@mofa.example", division,
         "Chuyên viên"),
        (f"DQV{token}", "Đặng Quốc Việt", f"viet.dq.{token}@mofa.example", department,
         "Chuyên viên chính"),
    ]
    lines = ["Mã cán bộ,Họ và tên,Email,Mã đơn vị,Chức vụ"] + [",".join(r) for r in rows]
    path = folder / f"danh-sach-can-bo-{token}.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8-sig"))
    return path, son


def test_admin_imports_staff_and_a_new_unit_head_takes_over(page: Page, server: LiveServer,
                                                           tmp_path: Path) -> None:
    seed = server.seed
    admin = server.create_admin(ADMIN_PASSWORD)
    token = secrets.token_hex(3).upper()
    csv_path, son = write_staff_csv(tmp_path, token, (seed.department_code, seed.division_code))

    # -- the admin signs in (the interface starts in Vietnamese)
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    check_accessibility(page, "sign-in page")
    sign_in(page, admin["email"], ADMIN_PASSWORD)
    expect(page).to_have_url(f"{server.url}/")
    expect(page.locator("main h1")).to_contain_text(admin["name"])
    check_accessibility(page, "admin home page")

    page.goto("/org/units")
    expect(page.locator("ul.tree")).to_contain_text(seed.department_name)
    check_accessibility(page, "organisation tree (vi)")
    screenshot(page, "org-tree-vi", server.db_kind)

    page.goto("/org/people")
    expect(page.locator("main table")).to_be_visible()
    check_accessibility(page, "people list (vi)")
    screenshot(page, "people-vi", server.db_kind)

    # -- import: upload, dry-run preview
    page.goto("/org/import")
    check_accessibility(page, "import upload page")
    page.locator("input[type=file]").set_input_files(str(csv_path))
    page.locator("main form[enctype='multipart/form-data'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/org/import/\d+$"))
    preview_url = page.url
    assert stat_values(page) == [3, 0, 0, 0], "3 new, 0 to update, 0 unchanged, 0 problems"
    expect(page.locator("main table tbody tr")).to_have_count(3)
    expect(page.locator("main table tbody tr.row--new")).to_have_count(3)
    expect(page.locator("main table tbody tr.row--error")).to_have_count(0)
    expect(page.locator("main table")).to_contain_text("Bùi Thanh Sơn")
    expect(page.locator("main table")).to_contain_text("Nguyễn Thị Hồng Nhung")
    check_accessibility(page, "import preview (vi)")
    screenshot(page, "import-preview-vi", server.db_kind)

    # -- switch to English once, with the header button; the preview is shown again
    page.locator("form.lang-switch button").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(preview_url)
    expect(page.locator("main h1")).to_contain_text("Preview of")
    check_accessibility(page, "import preview (en)")
    screenshot(page, "import-preview-en", server.db_kind)

    # nothing was written by the preview
    page.goto(f"/org/people?q={son['code']}")
    expect(page.locator("main table")).to_have_count(0)
    page.goto(preview_url)

    # -- apply with a temporary password
    page.locator("#temporary_password").fill(TEMPORARY_PASSWORD)
    page.locator("main form[method=post]:not(.lang-switch) button[type=submit]").click()
    expect(page).to_have_url(preview_url)
    expect(page.locator(".flash--success").first).to_contain_text(re.compile(r"\b3\b"))
    expect(page.locator("#temporary_password")).to_have_count(0)
    check_accessibility(page, "import preview after applying (en)")

    # -- find the new person with an accent-free search
    page.goto("/org/people")
    page.locator("#q").fill("bui thanh son")
    page.locator("form[role=search] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/org/people\?.*q=bui\+thanh\+son"))
    row = page.locator("main table tbody tr", has_text=son["code"])
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Bùi Thanh Sơn")
    expect(row).to_contain_text(seed.department_name_en)
    check_accessibility(page, "people search results (en)")
    row.get_by_role("link", name="Bùi Thanh Sơn").click()
    expect(page).to_have_url(re.compile(r"/org/people/\d+$"))
    expect(page.locator("main h1")).to_contain_text("Bùi Thanh Sơn")
    check_accessibility(page, "person page (en)")

    # -- grant "unit head" scoped to the department
    page.locator("#role").select_option("unit_head")
    page.locator("#unit_id").select_option(str(seed.department_id))
    page.locator("form[action$='/roles'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/org/people/\d+#roles$"))
    expect(page.locator(".flash--success")).to_be_visible()
    expect(page.locator("#roles ul")).to_contain_text(seed.department_name_en)
    check_accessibility(page, "person page after granting the role (en)")

    # -- the tree and the people list again, in English
    page.goto("/org/units")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    check_accessibility(page, "organisation tree (en)")
    screenshot(page, "org-tree-en", server.db_kind)
    page.goto("/org/people")
    expect(page.locator("main table")).to_contain_text("Bùi Thanh Sơn")
    check_accessibility(page, "people list (en)")
    screenshot(page, "people-en", server.db_kind)
    sign_out(page)
    check_accessibility(page, "sign-in page after signing out (en)")

    # -- the new unit head signs in with the temporary password and must change it
    sign_in(page, son["email"], TEMPORARY_PASSWORD)
    expect(page).to_have_url(f"{server.url}/account/password")
    expect(page.locator("html")).to_have_attribute("lang", "vi")  # their own language
    expect(page.locator("nav.site-nav")).to_have_count(0)
    check_accessibility(page, "forced password change")
    page.goto("/org/people")  # nothing else opens before the password is changed
    expect(page).to_have_url(f"{server.url}/account/password")
    page.locator("#current_password").fill(TEMPORARY_PASSWORD)
    page.locator("#new_password").fill(NEW_PASSWORD)
    page.locator("#confirm_password").fill(NEW_PASSWORD)
    page.locator("main form button[type=submit]").click()

    # -- home page with their unit's section
    expect(page).to_have_url(f"{server.url}/")
    section = page.locator(f"main section[aria-labelledby='head-{seed.department_id}']")
    expect(section).to_be_visible()
    expect(section.locator("h2")).to_contain_text(seed.department_name)
    expect(section.locator(".stat__value").first).to_have_text(re.compile(r"^[1-9]\d*$"))
    check_accessibility(page, "unit head's home page")

    page.goto("/account")
    expect(page.locator("main")).to_contain_text(son["code"])
    check_accessibility(page, "account page")

    # a unit head sees the people of their department (and only there)
    page.goto("/org/people")
    expect(page.locator("main table")).to_contain_text("Đặng Quốc Việt")
    expect(page.locator("main table")).not_to_contain_text(admin["name"])
    check_accessibility(page, "people list seen by the unit head")

    # -- the temporary password no longer works; the new one does
    sign_out(page)
    allow_console_error(page, r"status of 401")
    sign_in(page, son["email"], TEMPORARY_PASSWORD)
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("main .alert[role=alert]")).to_be_visible()
    check_accessibility(page, "failed sign-in")
    clear_allowed_console_errors(page)
    sign_in(page, son["code"], NEW_PASSWORD)
    expect(page).to_have_url(f"{server.url}/")


def test_people_list_fits_a_phone(page: Page, server: LiveServer) -> None:
    admin = server.create_admin(ADMIN_PASSWORD, name="Nguyễn Thị Phương Thảo")
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, admin["code"], ADMIN_PASSWORD)
    expect(page).to_have_url(f"{server.url}/")
    page.goto("/org/people")
    expect(page.locator("main table")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px screen: it scrolls sideways"
    check_accessibility(page, "people list at 390×844")
    screenshot(page, "people-mobile-vi", server.db_kind)

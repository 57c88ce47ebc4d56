"""A trainer writes a course, in a real browser.

Trainer signs in → creates a course → adds a module → uploads a PNG → writes a lesson that
shows the image → previews it (the image is really displayed) → saves → publishes →
opens the course as a learner sees it.

Every authoring page visited is checked with axe-core (WCAG 2.1 A/AA) and for console
errors (the Content-Security-Policy forbids inline scripts and styles: a violation shows
up there). Selectors use ids and names, not wording.
"""
from __future__ import annotations

import re
import secrets
import struct
import zlib
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from lms.auth.passwords import hash_password
from lms.db import db
from lms.org import services
from lms.org.models import Role
from tests.e2e.conftest import LiveServer, check_accessibility, screenshot

pytestmark = pytest.mark.e2e

PASSWORD = "GiangVien-2025-e2e"


def create_trainer(server: LiveServer) -> dict[str, str]:
    token = secrets.token_hex(3)
    email, name = f"trainer.{token}@mofa.example", "Lê Thị Thu Trang"
    with server.app.app_context():
        person = services.create_person(db.session, None, services.PersonData(
            employee_code=f"GV{token.upper()}", full_name=name, email=email,
            unit_id=server.seed.department_id, position="Giảng viên"),
            password_hash=hash_password(PASSWORD), must_change_password=False)
        services.grant_role(db.session, None, person, Role.TRAINER.value, None)
        db.session.commit()
    return {"email": email, "name": name}


def diagram_png(width: int = 360, height: int = 160) -> bytes:
    """A real PNG: a red banner with a yellow band, big enough to see in a screenshot."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = []
    for y in range(height):
        colour = b"\xff\xd8\x4d" if height // 3 <= y < 2 * height // 3 else b"\xa3\x1d\x24"
        rows.append(b"\x00" + colour * width)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


def sign_in(page: Page, login: str, password: str) -> None:
    page.goto("/login")
    page.locator("#login").fill(login)
    page.locator("#password").fill(password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state("load")


def test_trainer_writes_previews_and_publishes_a_course(page: Page, server: LiveServer,
                                                        tmp_path: Path) -> None:
    trainer = create_trainer(server)
    slug = f"an-toan-thong-tin-{secrets.token_hex(3)}"
    title = "An toàn thông tin trong công việc"
    image = tmp_path / "so-do-mang.png"
    image.write_bytes(diagram_png())

    sign_in(page, trainer["email"], PASSWORD)
    expect(page).to_have_url(f"{server.url}/")

    # -- the list of courses, then a new one
    page.goto("/author/courses")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    check_accessibility(page, "course list")
    page.locator("main a[href$='/author/courses/new']").click()
    expect(page).to_have_url(re.compile(r"/author/courses/new$"))
    check_accessibility(page, "new course form")
    page.locator("main form button[type=submit]").click()  # empty: the title is missing
    expect(page.locator("#title-error")).to_be_visible()
    check_accessibility(page, "new course form with an error")
    page.locator("#title").fill(title)
    page.locator("#slug").fill(slug)
    page.locator("#topic").select_option("security")
    page.locator("#summary").fill("Những thói quen an toàn khi làm việc với máy tính và thư điện tử.")
    page.locator("#outcomes").fill("Tạo và quản lý mật khẩu mạnh\nNhận biết thư lừa đảo")
    page.locator("#estimated_minutes").fill("45")
    page.locator("#validity_months").fill("12")
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/author/courses/\d+#structure$"))
    course_url = page.url.split("#")[0]
    expect(page.locator("main h1")).to_contain_text(title)
    expect(page.locator(".flash--success")).to_be_visible()
    check_accessibility(page, "empty course editor")

    # publishing an empty course explains why it cannot be done
    page.locator("form[action$='/status/published'] button").click()
    expect(page.locator(".flash--error")).to_be_visible()
    expect(page.locator("main h1 .badge--draft")).to_be_visible()

    # -- a module and an image
    page.locator("#module-title").fill("Mật khẩu và xác thực hai lớp")
    page.locator("form.add-module button[type=submit]").click()
    expect(page.locator("section.module h3")).to_contain_text("Mật khẩu và xác thực hai lớp")
    page.locator("#file").set_input_files(str(image))
    page.locator("form.upload button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"#files$"))
    expect(page.locator("#files table")).to_contain_text("so-do-mang.png")
    expect(page.locator("#files code.snippet")).to_contain_text("(media/so-do-mang.png)")
    check_accessibility(page, "course editor with a module and a file")

    # -- a lesson that shows the image, previewed before saving
    page.locator("section.module a[href$='/lessons/new']").click()
    expect(page).to_have_url(re.compile(r"/author/modules/\d+/lessons/new$"))
    check_accessibility(page, "new lesson form")
    page.locator("#title").fill("Mật khẩu mạnh")
    page.locator("#estimated_minutes").fill("10")
    page.locator("#body").fill(
        "## Vì sao cần mật khẩu mạnh?\n\n"
        "Một mật khẩu **dài** khó đoán hơn nhiều so với một mật khẩu *phức tạp* nhưng ngắn.\n\n"
        "![Sơ đồ mạng của đơn vị](media/so-do-mang.png)\n\n"
        "- Dùng cụm từ từ bốn từ trở lên\n- Không dùng lại mật khẩu\n- Bật xác thực hai lớp\n\n"
        "<script>alert('xss')</script>\n\n"
        "Xem thêm: [Cổng Dịch vụ công quốc gia](https://dichvucong.gov.vn)")
    page.locator("button[name=preview]").click()
    preview = page.locator("#preview .preview__body")
    expect(preview.locator("h3")).to_contain_text("Vì sao cần mật khẩu mạnh?")
    picture = preview.locator("img[alt='Sơ đồ mạng của đơn vị']")
    expect(picture).to_be_visible()
    expect(picture).to_have_attribute("src", re.compile(r"^/media/\d+/so-do-mang\.png\?v="))
    page.wait_for_function(
        "() => { const i = document.querySelector('#preview img');"
        " return i && i.complete && i.naturalWidth === 360; }")
    expect(preview.locator("script")).to_have_count(0)
    expect(preview).to_contain_text("<script>alert('xss')</script>")  # shown as text
    expect(page.locator("#body")).to_have_value(re.compile(r"media/so-do-mang\.png"))
    check_accessibility(page, "lesson editor with preview")
    screenshot(page, "author-lesson-preview-vi", server.db_kind)

    page.locator("button[name=save]").click()
    expect(page).to_have_url(re.compile(r"/author/lessons/\d+$"))
    expect(page.locator(".flash--success")).to_be_visible()
    expect(page.locator("main h1")).to_contain_text("Mật khẩu mạnh")
    check_accessibility(page, "saved lesson")
    screenshot(page, "author-lesson-saved-vi", server.db_kind)

    # -- publish
    page.goto(course_url)
    expect(page.locator("table.lessons")).to_contain_text("Mật khẩu mạnh")
    page.locator("form[action$='/status/published'] button").click()
    expect(page.locator("main h1 .badge--published")).to_be_visible()
    expect(page.locator(".flash--success")).to_be_visible()
    check_accessibility(page, "published course editor")
    screenshot(page, "author-course-editor-vi", server.db_kind)

    page.goto("/author/courses")
    row = page.locator("main table tbody tr", has_text=slug)  # the title may be shared, the slug is not
    expect(row.locator(".badge--published")).to_be_visible()
    check_accessibility(page, "course list with the published course")
    screenshot(page, "author-courses-vi", server.db_kind)

    # -- the editor fits a phone
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(course_url)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the course editor is {width}px wide on a 390px screen"
    check_accessibility(page, "course editor at 390×844")
    screenshot(page, "author-course-editor-mobile-vi", server.db_kind)
    page.set_viewport_size({"width": 1280, "height": 900})

    # -- as learners see it
    page.goto(course_url)
    page.locator(f"main a[href='/courses/{slug}']").click()
    expect(page).to_have_url(f"{server.url}/courses/{slug}")
    expect(page.locator("main h1")).to_contain_text(title)
    expect(page.locator("main")).to_contain_text("Mật khẩu mạnh")

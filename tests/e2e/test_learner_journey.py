"""A learner takes a real course, in a real browser.

Learner signs in → finds the course in the catalog → enrols → reads the lessons, clicking
"I've finished this lesson" (the video lesson completes itself when the video ends) →
the course completes → My learning shows it completed.

The course is the demo information-security package from seeds/courses, imported through
the same importer as `lms import-course`. Every page is checked with axe-core.
"""
from __future__ import annotations

import dataclasses
import re
import secrets
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from lms.auth.passwords import hash_password
from lms.courses import packages
from lms.courses.models import Course
from lms.db import db
from lms.org import services
from tests.e2e.conftest import LiveServer, check_accessibility, screenshot

pytestmark = pytest.mark.e2e

PASSWORD = "HocVien-2025-e2e"
PACKAGE = Path(__file__).resolve().parents[2] / "seeds" / "courses" / "an-toan-thong-tin"


def security_course(server: LiveServer) -> tuple[str, str]:
    """The real course, imported once per test run (slug, title)."""
    with server.app.app_context():
        course = db.session.scalar(select(Course).where(Course.slug == PACKAGE.name))
        if course is None:
            content = packages.read_package(PACKAGE, server.app.config["MAX_PACKAGE_BYTES"])
            # Lessons only: this journey is about reading; the quiz journey takes quizzes
            # (test_quiz_journey.py), and a required quiz would hold the completion back.
            content = dataclasses.replace(content, has_quizzes=False, questions=(), quizzes=())
            course = packages.import_package(db.session, None, content).course
            db.session.commit()
        return course.slug, course.title


def create_learner(server: LiveServer) -> str:
    token = secrets.token_hex(3)
    email = f"hocvien.{token}@mofa.example"
    with server.app.app_context():
        services.create_person(db.session, None, services.PersonData(
            employee_code=f"HV{token.upper()}", full_name="Nguyễn Thị Hồng Nhung", email=email,
            unit_id=server.seed.division_id, position="Chuyên viên"),
            password_hash=hash_password(PASSWORD), must_change_password=False)
        db.session.commit()
    return email


def test_learner_enrols_reads_every_lesson_and_completes_the_course(page: Page,
                                                                     server: LiveServer) -> None:
    slug, title = security_course(server)
    email = create_learner(server)
    page.goto("/login")
    page.locator("#login").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()

    # -- find the course (accent-free search) and enrol
    page.goto("/courses?q=an+toan+thong+tin&topic=security")
    check_accessibility(page, "catalog")
    page.locator(f"main a[href='/courses/{slug}']").first.click()
    expect(page.locator("main h1")).to_have_text(title)
    check_accessibility(page, "course page before enrolling")
    page.locator(f"form[action='/courses/{slug}/enrol'] button").click()
    expect(page).to_have_url(re.compile(rf"/courses/{slug}/lessons/[a-z0-9-]+$"))

    # -- every lesson in order; the video lesson finishes itself when the video ends
    seen_video = False
    for step in range(40):
        check_accessibility(page, f"lesson {step + 1}")
        video = page.locator("video[data-complete-form]")
        if video.count():
            seen_video = True
            screenshot(page, "lesson-video", server.db_kind)
            before = page.url
            # Jump to the last half-second and play: the page's own script submits the
            # "finished" form on the video's "ended" event.
            page.evaluate("""() => { const v = document.querySelector('video[data-complete-form]');
                v.muted = true; v.currentTime = Math.max(0, v.duration - 0.5); v.play(); }""")
            page.wait_for_url(lambda url, left=before: url != left, timeout=20_000)
        else:
            finish = page.locator("#complete-lesson button[type=submit]")
            if finish.count() == 0:
                break
            finish.click()
        if re.search(rf"/courses/{slug}$", page.url):
            break
    else:
        pytest.fail("the course never completed")
    assert seen_video, "the course's video lesson was not reached"

    # -- the course page congratulates, My learning lists the course as completed
    expect(page).to_have_url(re.compile(rf"/courses/{slug}$"))
    expect(page.locator(".flash--success")).to_contain_text(title)
    check_accessibility(page, "course page after completion")
    page.goto("/learning")
    completed = page.locator("section[aria-labelledby='completed-title']")
    expect(completed).to_contain_text(title)
    expect(completed.locator("progress")).to_have_attribute("value", "100")
    check_accessibility(page, "my learning")
    screenshot(page, "my-learning-completed", server.db_kind)

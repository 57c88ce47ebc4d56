"""Trainers write courses in the browser: details, modules, lessons, files, publishing.

The pages are read in English (the person's language is switched once after signing in),
so the assertions do not depend on the Vietnamese catalog.
"""
from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from lms.courses import authoring, services
from lms.courses.models import Course, Enrolment, Lesson, MediaFile, Module
from lms.org.models import Role
from tests.conftest import login

WEBM = b"\x1a\x45\xdf\xa3" + b"0" * 100
XSS_BODY = "\n\n".join([
    "# Tiêu đề",
    "<script>alert(1)</script>",
    "[x](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(2)">bấm</a>',
    "[y](JaVaScRiPt:alert(3))",
    "![z](javascript:alert(4))",
    "<iframe src=https://evil.example></iframe>",
    "**đậm** và [trang hợp lệ](https://dichvucong.gov.vn)",
])


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    """A real (tiny, red) PNG image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + b"\xcc\x22\x22" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture(autouse=True)
def media_folder(app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "MEDIA_PATH", str(tmp_path / "media"))
    return tmp_path / "media"


def sign_in(client, person):
    """Sign in and read the pages in English."""
    login(client, person.email)
    client.form("/language/en", {"next": "/"})
    return client


@pytest.fixture()
def trainer(factory):
    return factory.person(email="trainer@mofa.example", roles=((Role.TRAINER.value, None),))


@pytest.fixture()
def author(client, trainer):
    return sign_in(client, trainer)


def text(response) -> str:
    return response.get_data(as_text=True)


def course_form(**changes):
    data = {"title": "An toàn thông tin trong công việc", "slug": "an-toan-thong-tin",
            "language": "vi", "topic": "security",
            "summary": "Những thói quen an toàn khi làm việc trên máy tính.",
            "outcomes": "Tạo mật khẩu mạnh\n\nNhận biết thư lừa đảo\n",
            "estimated_minutes": "60", "certificate_enabled": "y", "validity_months": "12"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def lesson_form(**changes):
    data = {"title": "Mật khẩu mạnh", "key": "", "kind": "text", "body": "Dùng **cụm từ dài**.",
            "url": "", "media_id": "", "is_required": "y", "estimated_minutes": "10", "save": "1"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def create_course(client, dbs, **changes) -> Course:
    response = client.form("/author/courses/new", course_form(**changes))
    assert response.status_code == 302, text(response)
    return dbs.scalar(select(Course).where(Course.slug == (changes.get("slug") or "an-toan-thong-tin")))


def add_module(client, dbs, course, title) -> Module:
    response = client.form(f"/author/courses/{course.id}/modules", {"module-title": title})
    assert response.status_code == 302, text(response)
    return dbs.scalar(select(Module).where(Module.course_id == course.id, Module.title == title))


def add_lesson(client, dbs, module, **changes) -> Lesson:
    response = client.form(f"/author/modules/{module.id}/lessons/new", lesson_form(**changes))
    assert response.status_code == 302, text(response)
    return dbs.scalar(select(Lesson).where(Lesson.module_id == module.id)
                      .order_by(Lesson.id.desc()).limit(1))


def upload(client, course, name, content, **kwargs):
    return client.form(f"/author/courses/{course.id}/media",
                       {"file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data", **kwargs)


def build_course(dbs, title="Khóa học mẫu", slug="khoa-hoc-mau", lessons=1) -> Course:
    course = authoring.create_course(dbs, None, authoring.CourseData(slug=slug, title=title))
    module = authoring.add_module(dbs, None, course, "Phần 1")
    for n in range(lessons):
        authoring.add_lesson(dbs, None, module, authoring.LessonData(title=f"Bài {n + 1}"))
    return course


class Tags(HTMLParser):
    """Every tag and attribute of an HTML fragment, as a browser would parse it."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def preview_of(html: str) -> str:
    match = re.search(r'<div class="lesson__body preview__body">(.*?)</div>\s*</section>', html, re.S)
    assert match, "no preview on the page"
    return match.group(1)


# ---------------------------------------------------------------- the trainer's story

def test_trainer_builds_a_course_with_modules_lessons_and_files(author, dbs):
    page = text(author.get("/author/courses"))
    assert "New course" in page
    course = create_course(author, dbs)
    assert course.status == "draft" and course.outcome_list == [
        "Tạo mật khẩu mạnh", "Nhận biết thư lừa đảo"]
    assert course.validity_months == 12 and course.certificate_enabled

    basics = add_module(author, dbs, course, "Mật khẩu và xác thực")
    media_module = add_module(author, dbs, course, "Hình ảnh và video")
    text_lesson = add_lesson(author, dbs, basics)
    link = add_lesson(author, dbs, basics, title="Cổng Dịch vụ công", kind="link",
                      url="https://dichvucong.gov.vn", is_required=None, estimated_minutes="5")
    assert (link.kind, link.url, link.is_required) == ("link", "https://dichvucong.gov.vn", False)

    response = upload(author, course, "gioi-thieu.webm", WEBM, follow_redirects=True)
    assert "gioi-thieu.webm was uploaded" in text(response)
    video = dbs.scalar(select(MediaFile).where(MediaFile.filename == "gioi-thieu.webm"))
    assert video.content_type == "video/webm" and video.size == len(WEBM)
    video_lesson = add_lesson(author, dbs, media_module, title="Video giới thiệu", kind="video",
                              media_id=str(video.id), complete_on_video_end="y")
    assert video_lesson.media_id == video.id and video_lesson.complete_on_video_end

    upload(author, course, "so-do mang.png", png_bytes())
    image = dbs.scalar(select(MediaFile).where(MediaFile.course_id == course.id,
                                               MediaFile.content_type == "image/png"))
    assert image.filename == "so-do-mang.png"
    pictured = add_lesson(author, dbs, media_module, title="Sơ đồ mạng",
                          body=f"Xem hình:\n\n![Sơ đồ]({'media/' + image.filename})")

    page = text(author.get(f"/author/courses/{course.id}"))
    for shown in ("Mật khẩu và xác thực", "Hình ảnh và video", "Mật khẩu mạnh",
                  "Cổng Dịch vụ công", "Video giới thiệu", "Sơ đồ mạng", "video/webm",
                  "![description](media/so-do-mang.png)", "/courses/an-toan-thong-tin"):
        assert shown in page, shown

    lesson_page = text(author.get(f"/author/lessons/{pictured.id}"))
    assert "media/so-do-mang.png" in lesson_page  # in the text being edited
    assert [lesson.title for lesson in dbs.scalars(
        select(Lesson).where(Lesson.module_id == basics.id).order_by(Lesson.position))] == [
        text_lesson.title, link.title]


def test_the_course_list_shows_status_lessons_and_language(author, dbs):
    build_course(dbs, title="Chữ ký số", slug="chu-ky-so", lessons=3)
    published = build_course(dbs, title="Cổng thông tin", slug="cong-thong-tin", lessons=1)
    authoring.set_course_status(dbs, None, published, "published")
    page = text(author.get("/author/courses"))
    assert "Chữ ký số" in page and "Cổng thông tin" in page
    assert 'badge--draft">Draft' in page and 'badge--published">Published' in page
    assert re.search(r'<td data-label="Lessons" class="num">3</td>', page)
    assert "Tiếng Việt" in page


def test_editing_course_details(author, dbs):
    course = create_course(author, dbs)
    response = author.form(f"/author/courses/{course.id}", course_form(
        title="An toàn thông tin (2025)", validity_months="", certificate_enabled=None),
        follow_redirects=True)
    assert "The course details were saved." in text(response)
    dbs.refresh(course)
    assert course.title == "An toàn thông tin (2025)"
    assert course.validity_months is None and not course.certificate_enabled


def test_course_form_problems_are_shown_next_to_their_fields(author, dbs):
    build_course(dbs, slug="da-co")
    cases = [
        ({"title": ""}, "title", "Enter a title."),
        ({"slug": "Có Dấu!"}, "slug", "The short name may use a–z, 0–9 and hyphens"),
        ({"slug": "da-co"}, "slug", "Another course already uses the short name da-co."),
        ({"estimated_minutes": "mot gio"}, "estimated_minutes", "Enter a whole number."),
        ({"estimated_minutes": "0"}, "estimated_minutes", "Between 1 and 6000 minutes."),
        ({"validity_months": "500"}, "validity_months", "Between 1 and 120 months, or empty."),
        ({"topic": "hacking"}, "topic", "Unknown topic."),
        ({"language": "fr"}, "language", "Unknown language."),
    ]
    for change, field, message in cases:
        response = author.form("/author/courses/new", course_form(**change))
        page = text(response)
        assert response.status_code == 200, change
        error = re.search(rf'<p class="error-text" id="{field}-error">([^<]*)</p>', page)
        assert error and message in error.group(1), (change, page[:0])
        assert f'aria-describedby="{field}-error' in page or f'{field}-error"' in page
    assert dbs.scalar(select(Course).where(Course.slug == "an-toan-thong-tin")) is None


def test_modules_are_renamed_reordered_archived_and_restored(author, dbs):
    course = create_course(author, dbs)
    first, second, third = (add_module(author, dbs, course, t) for t in ("Một", "Hai", "Ba"))

    def order():
        dbs.expire_all()
        return [m.title for m in dbs.scalars(select(Module).where(Module.course_id == course.id)
                                             .order_by(Module.position))]

    author.form(f"/author/modules/{third.id}/move/up")
    assert order() == ["Một", "Ba", "Hai"]
    author.form(f"/author/modules/{first.id}/move/up")  # already first: nothing moves
    author.form(f"/author/modules/{first.id}/move/down")
    assert order() == ["Ba", "Một", "Hai"]

    response = author.form(f"/author/modules/{second.id}/rename", {f"m{second.id}-title": "  Hai   mới "},
                           follow_redirects=True)
    assert "The module was renamed to Hai mới." in text(response)
    response = author.form(f"/author/modules/{second.id}/rename", {f"m{second.id}-title": ""},
                           follow_redirects=True)
    assert "Enter a title." in text(response)
    assert order() == ["Ba", "Một", "Hai mới"]

    response = author.form(f"/author/modules/{first.id}/archive", follow_redirects=True)
    assert "was archived" in text(response) and "module--archived" in text(response)
    dbs.refresh(first)
    assert first.is_archived
    author.form(f"/author/modules/{first.id}/restore")
    dbs.refresh(first)
    assert not first.is_archived

    response = author.form(f"/author/courses/{course.id}/modules", {"module-title": "   "})
    assert response.status_code == 200 and 'id="module-title-error"' in text(response)


def test_lessons_are_reordered_archived_restored_and_moved(author, dbs):
    course = create_course(author, dbs)
    one, two = add_module(author, dbs, course, "Một"), add_module(author, dbs, course, "Hai")
    a = add_lesson(author, dbs, one, title="Bài A")
    b = add_lesson(author, dbs, one, title="Bài B")
    c = add_lesson(author, dbs, one, title="Bài C")

    def titles(module):
        dbs.expire_all()
        return [lesson.title for lesson in dbs.scalars(
            select(Lesson).where(Lesson.module_id == module.id).order_by(Lesson.position))]

    author.form(f"/author/lessons/{c.id}/move/up")
    assert titles(one) == ["Bài A", "Bài C", "Bài B"]
    response = author.form(f"/author/lessons/{a.id}/move/down", {"next": "lesson"})
    assert response.location.endswith(f"/author/lessons/{a.id}")
    assert titles(one) == ["Bài C", "Bài A", "Bài B"]

    response = author.form(f"/author/lessons/{b.id}/archive", follow_redirects=True)
    page = text(response)
    assert "was archived" in page and 'class="row--archived"' in page
    assert "Restore the lesson Bài B" in page
    author.form(f"/author/lessons/{b.id}/restore")
    dbs.refresh(b)
    assert not b.is_archived

    response = author.form(f"/author/lessons/{a.id}/module", {"module_id": str(two.id)},
                           follow_redirects=True)
    assert "The lesson was moved to the module Hai." in text(response)
    assert titles(one) == ["Bài C", "Bài B"] and titles(two) == ["Bài A"]

    other = build_course(dbs, slug="khoa-khac")
    response = author.form(f"/author/lessons/{a.id}/module",
                           {"module_id": str(other.modules[0].id)}, follow_redirects=True)
    assert "A lesson can only move to a module of the same course." in text(response)
    response = author.form(f"/author/lessons/{a.id}/module", {"module_id": "abc"},
                           follow_redirects=True)
    assert "Choose a module of this course." in text(response)
    assert titles(two) == ["Bài A"]


def test_editing_a_lesson_and_its_problems(author, dbs):
    course = create_course(author, dbs)
    module = add_module(author, dbs, course, "Một")
    lesson = add_lesson(author, dbs, module, key="mat-khau")
    page = text(author.get(f"/author/lessons/{lesson.id}"))
    assert 'value="mat-khau"' in page and "Dùng **cụm từ dài**." in page

    response = author.form(f"/author/lessons/{lesson.id}", lesson_form(
        title="Mật khẩu thật mạnh", key="mat-khau", is_required=None, estimated_minutes="15"),
        follow_redirects=True)
    assert "The lesson Mật khẩu thật mạnh was saved." in text(response)
    dbs.refresh(lesson)
    assert (lesson.title, lesson.is_required, lesson.estimated_minutes) == (
        "Mật khẩu thật mạnh", False, 15)

    add_lesson(author, dbs, module, title="Khác", key="khac")
    cases = [
        ({"kind": "link", "url": "ftp://x"}, "url", "A link lesson needs an address"),
        ({"kind": "video"}, "media_id", "A video lesson needs a video file"),
        ({"kind": "file"}, "media_id", "A file lesson needs a file of this course."),
        ({"media_id": "999999"}, "media_id", "Choose a file of this course."),
        ({"media_id": "xyz"}, "media_id", "Choose a file of this course."),
        ({"key": "khac"}, "key", "Another lesson of this course already uses the key khac."),
        ({"kind": "quiz"}, "kind", "Unknown kind of lesson."),
        ({"title": ""}, "title", "Enter a title."),
        ({"estimated_minutes": "601"}, "estimated_minutes", "Between 1 and 600 minutes."),
        ({"estimated_minutes": ""}, "estimated_minutes", "Enter the estimated time in minutes."),
    ]
    for change, field, message in cases:
        response = author.form(f"/author/lessons/{lesson.id}", lesson_form(**change))
        assert response.status_code == 200, change
        error = re.search(rf'<p class="error-text" id="{field}-error">([^<]*)</p>', text(response))
        assert error and message in error.group(1), change
    dbs.refresh(lesson)
    assert lesson.title == "Mật khẩu thật mạnh" and lesson.kind == "text"


def test_preview_renders_safe_markdown_without_saving(author, dbs):
    course = create_course(author, dbs)
    module = add_module(author, dbs, course, "Một")
    upload(author, course, "hinh.png", png_bytes())
    image = dbs.scalar(select(MediaFile).where(MediaFile.course_id == course.id))
    body = XSS_BODY + "\n\n![Hình minh họa](media/hinh.png)\n\n![mất](media/khong-co.png)"

    response = author.form(f"/author/modules/{module.id}/lessons/new",
                           lesson_form(body=body, save=None, preview="1"))
    assert response.status_code == 200
    page = text(response)
    assert dbs.scalar(select(Lesson).where(Lesson.module_id == module.id)) is None  # not saved
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the text is kept in the form
    fragment = preview_of(page)
    parser = Tags()
    parser.feed(fragment)
    tags = {tag for tag, _attrs in parser.tags}
    assert not tags & {"script", "iframe", "object", "embed", "style"}, tags
    for tag, attrs in parser.tags:
        assert not [a for a in attrs if a.startswith("on") or a == "style"], (tag, attrs)
        for name in ("href", "src"):
            assert not (attrs.get(name) or "").strip().lower().startswith(("javascript", "data")), attrs
    assert "<h2>Tiêu đề</h2>" in fragment and "<strong>đậm</strong>" in fragment
    assert '<a href="https://dichvucong.gov.vn" rel="noopener noreferrer">' in fragment
    images = [attrs for tag, attrs in parser.tags if tag == "img"]
    assert {"alt": "Hình minh họa",
            "src": f"/media/{image.id}/hinh.png?v={image.sha256[:12]}"} in images
    assert any(i["src"] == "#missing-media" for i in images)

    lesson = add_lesson(author, dbs, module, body="cũ")
    response = author.form(f"/author/lessons/{lesson.id}",
                           lesson_form(body="<script>alert(1)</script> mới", save=None,
                                       preview="1"))
    assert "<script>" not in preview_of(text(response))
    dbs.refresh(lesson)
    assert lesson.body == "cũ"


def test_publishing_unpublishing_and_archiving(author, dbs):
    course = create_course(author, dbs)
    response = author.form(f"/author/courses/{course.id}/status/published", follow_redirects=True)
    assert "Add at least one lesson before publishing the course." in text(response)
    dbs.refresh(course)
    assert course.status == "draft"

    module = add_module(author, dbs, course, "Một")
    add_lesson(author, dbs, module)
    response = author.form(f"/author/courses/{course.id}/status/published", follow_redirects=True)
    assert "is published" in text(response) and "Unpublish (back to draft)" in text(response)
    dbs.refresh(course)
    assert course.status == "published" and course.published_at is not None

    author.form(f"/author/courses/{course.id}/status/draft")
    dbs.refresh(course)
    assert course.status == "draft"
    response = author.form(f"/author/courses/{course.id}/status/archived", follow_redirects=True)
    assert "is archived" in text(response)
    dbs.refresh(course)
    assert course.status == "archived"
    assert author.form(f"/author/courses/{course.id}/status/deleted").status_code == 404


def test_editing_a_published_course_keeps_completed_enrolments_completed(author, dbs, factory):
    course = build_course(dbs, lessons=2)
    authoring.set_course_status(dbs, None, course, "published")
    done, halfway = factory.person(), factory.person()
    lessons = list(dbs.scalars(select(Lesson).where(Lesson.course_id == course.id)))
    services.enrol(dbs, done, course)
    for lesson in lessons:
        services.complete_lesson(dbs, done, lesson)
    services.complete_lesson(dbs, halfway, lessons[0])
    dbs.commit()

    add_lesson(author, dbs, course.modules[0], title="Bài bắt buộc mới")
    enrolments = {e.user_id: e for e in dbs.scalars(select(Enrolment).execution_options(
        populate_existing=True))}
    assert enrolments[done.id].is_completed and enrolments[done.id].progress_pct == 100
    assert enrolments[halfway.id].status == "in_progress"
    assert enrolments[halfway.id].progress_pct == 33


def test_the_course_editor_runs_a_fixed_number_of_queries(author, dbs, count_queries):
    small = build_course(dbs, slug="nho", lessons=1)
    big = build_course(dbs, slug="lon", lessons=4)
    for n in range(3):
        module = authoring.add_module(dbs, None, big, f"Phần {n + 2}")
        authoring.add_lesson(dbs, None, module, authoring.LessonData(title=f"Bài thêm {n}"))
    dbs.commit()
    author.get(f"/author/courses/{small.id}")  # warm up caches
    with count_queries() as few:
        author.get(f"/author/courses/{small.id}")
    with count_queries() as many:
        assert author.get(f"/author/courses/{big.id}").status_code == 200
    assert len(many) == len(few)


# ---------------------------------------------------------------- files

def test_uploads_of_the_wrong_type_or_content_are_refused(author, dbs, media_folder):
    course = create_course(author, dbs)
    cases = [
        ("setup.exe", b"MZ\x90\x00", "Files of this type cannot be uploaded."),
        ("logo.svg", b"<svg onload='alert(1)'/>", "Files of this type cannot be uploaded."),
        ("anh.png", b"this is just text", "does not match its .png name"),
        ("video.mp4", b"not a video at all", "does not match its .mp4 name"),
        ("rong.png", b"", "The file is empty."),
        ("no-extension", b"\x89PNG\r\n\x1a\n", "needs a name with an extension"),
    ]
    for name, content, message in cases:
        response = upload(author, course, name, content, follow_redirects=True)
        assert response.status_code == 200
        assert message in text(response), name
        assert f"{name} was not uploaded" in text(response)
    assert dbs.scalar(select(MediaFile).where(MediaFile.course_id == course.id)) is None
    stored = [p for p in media_folder.rglob("*") if p.is_file()] if media_folder.exists() else []
    assert stored == []


def test_uploads_over_the_size_limit_are_refused(author, dbs, app, monkeypatch):
    course = create_course(author, dbs)
    monkeypatch.setitem(app.config, "MAX_MEDIA_BYTES", 1024)
    response = upload(author, course, "lon.png", png_bytes(64, 64) + b"\x00" * 2048,
                      follow_redirects=True)
    assert "is larger than" in text(response)
    assert dbs.scalar(select(MediaFile).where(MediaFile.course_id == course.id)) is None


def test_videos_may_exceed_the_request_limit_on_the_upload_page_only(author, dbs, app,
                                                                      monkeypatch):
    course = create_course(author, dbs)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 4096)
    monkeypatch.setitem(app.config, "MAX_VIDEO_BYTES", 64 * 1024)
    big_video = b"\x1a\x45\xdf\xa3" + b"0" * 20_000
    response = upload(author, course, "dai.webm", big_video, follow_redirects=True)
    assert "dai.webm was uploaded" in text(response)
    assert dbs.scalar(select(MediaFile.size).where(MediaFile.filename == "dai.webm")) == 20_004
    # anywhere else the site-wide limit stands
    response = author.form(f"/author/courses/{course.id}", course_form(summary="x" * 20_000))
    assert response.status_code == 413
    # and on the upload page the video limit does
    response = upload(author, course, "qua-dai.webm", b"\x1a\x45\xdf\xa3" + b"0" * 70_000,
                      follow_redirects=True)
    assert "is larger than" in text(response)


def test_a_file_with_the_same_name_is_replaced(author, dbs):
    course = create_course(author, dbs)
    upload(author, course, "hinh.png", png_bytes(2, 2))
    upload(author, course, "hinh.png", png_bytes(3, 3))
    files = dbs.scalars(select(MediaFile).where(MediaFile.course_id == course.id)).all()
    assert len(files) == 1 and files[0].size == len(png_bytes(3, 3))


def test_an_upload_without_a_file_says_so(author, dbs):
    course = create_course(author, dbs)
    response = author.form(f"/author/courses/{course.id}/media", {}, follow_redirects=True)
    assert "Choose a file to upload." in text(response)


# ---------------------------------------------------------------- packages

def export_zip(client, course) -> bytes:
    response = client.get(f"/author/courses/{course.id}/package")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert f"{course.slug}.zip" in response.headers["Content-Disposition"]
    data = response.get_data()
    response.close()
    return data


def import_zip(client, data: bytes, name: str = "goi.zip"):
    return client.form("/author/courses/import", {"package": (io.BytesIO(data), name)},
                       content_type="multipart/form-data", follow_redirects=True)


def test_a_course_goes_out_as_a_package_and_comes_back_in(author, dbs):
    course = create_course(author, dbs)
    module = add_module(author, dbs, course, "Mật khẩu")
    upload(author, course, "hinh.png", png_bytes())
    add_lesson(author, dbs, module, key="mat-khau", body="![Hình](media/hinh.png)")
    data = export_zip(author, course)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        manifest = archive.read("an-toan-thong-tin/course.yaml").decode()
    assert {"an-toan-thong-tin/course.yaml", "an-toan-thong-tin/media/hinh.png"} <= names
    assert "key: mat-khau" in manifest

    # the same package again updates the course in place
    response = import_zip(author, data)
    assert "was updated from the package" in text(response)
    assert dbs.scalar(select(func.count()).select_from(Course)) == 1

    # under another short name it becomes a new course, with its files
    copy = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(copy, "w") as target:
        for name in source.namelist():
            content = source.read(name)
            if name.endswith("course.yaml"):
                content = content.replace(b"slug: an-toan-thong-tin", b"slug: ban-sao")
            target.writestr(name.replace("an-toan-thong-tin/", "ban-sao/"), content)
    response = import_zip(author, copy.getvalue())
    assert "was imported" in text(response)
    twin = dbs.scalar(select(Course).where(Course.slug == "ban-sao"))
    assert twin is not None and twin.status == "draft"
    assert dbs.scalar(select(MediaFile.filename).where(MediaFile.course_id == twin.id)) == "hinh.png"
    assert response.request.path == f"/author/courses/{twin.id}"


def test_a_broken_package_is_refused_with_a_reason(author, dbs):
    response = import_zip(author, b"this is not a zip")
    assert "The package was not imported:" in text(response)
    assert "damaged" in text(response)
    response = author.form("/author/courses/import", {}, follow_redirects=True)
    assert "Choose a file to upload." in text(response)
    assert dbs.scalar(select(func.count()).select_from(Course)) == 0


# ---------------------------------------------------------------- who may author

def author_pages(dbs):
    """Every authoring URL, with the method to call it."""
    course = build_course(dbs)
    module = course.modules[0]
    lesson = module.lessons[0]
    media = authoring.add_media(dbs, None, course, io.BytesIO(png_bytes()), "hinh.png")
    other = authoring.add_module(dbs, None, course, "Phần 2")
    dbs.commit()
    return [
        ("GET", "/author/courses", {}),
        ("GET", "/author/courses/new", {}),
        ("POST", "/author/courses/new", course_form(slug="khoa-moi")),
        ("GET", f"/author/courses/{course.id}", {}),
        ("POST", f"/author/courses/{course.id}", course_form(slug=course.slug)),
        ("POST", f"/author/courses/{course.id}/status/published", {}),
        ("POST", f"/author/courses/{course.id}/status/archived", {}),
        ("POST", f"/author/courses/{course.id}/modules", {"module-title": "Mới"}),
        ("POST", f"/author/modules/{module.id}/rename", {f"m{module.id}-title": "Mới"}),
        ("POST", f"/author/modules/{module.id}/archive", {}),
        ("POST", f"/author/modules/{module.id}/restore", {}),
        ("POST", f"/author/modules/{module.id}/move/down", {}),
        ("GET", f"/author/modules/{module.id}/lessons/new", {}),
        ("POST", f"/author/modules/{module.id}/lessons/new", lesson_form()),
        ("GET", f"/author/lessons/{lesson.id}", {}),
        ("POST", f"/author/lessons/{lesson.id}", lesson_form()),
        ("POST", f"/author/lessons/{lesson.id}", lesson_form(save=None, preview="1")),
        ("POST", f"/author/lessons/{lesson.id}/archive", {}),
        ("POST", f"/author/lessons/{lesson.id}/restore", {}),
        ("POST", f"/author/lessons/{lesson.id}/move/up", {}),
        ("POST", f"/author/lessons/{lesson.id}/module", {"module_id": str(other.id)}),
        ("POST", f"/author/courses/{course.id}/media",
         {"file": (io.BytesIO(png_bytes()), "moi.png")}),
        ("GET", f"/author/courses/{course.id}/package", {}),
        ("POST", "/author/courses/import", {"package": (io.BytesIO(b"PK\x03\x04"), "a.zip")}),
    ], media


@pytest.mark.parametrize("who", ["learner", "unit_head", "mentor"])
def test_people_who_are_not_trainers_get_403_on_every_authoring_page(who, client, dbs, factory):
    pages, _media = author_pages(dbs)
    unit = factory.unit()
    person = {"learner": lambda: factory.person(email="x@mofa.example"),
              "unit_head": lambda: factory.unit_head(unit, email="x@mofa.example"),
              "mentor": lambda: factory.person(email="x@mofa.example",
                                               roles=((Role.MENTOR.value, unit),))}[who]()
    sign_in(client, person)
    for method, url, data in pages:
        if method == "GET":
            response = client.get(url)
        else:
            response = client.form(url, data, content_type="multipart/form-data")
        assert response.status_code == 403, (method, url, response.status_code)
    assert dbs.scalar(select(Course).where(Course.slug == "khoa-moi")) is None


def test_signed_out_visitors_are_sent_to_sign_in(client, dbs):
    pages, _media = author_pages(dbs)
    for method, url, _data in pages:
        if method == "GET":
            response = client.get(url)
            assert response.status_code == 302 and "/login" in response.location, url


def test_an_admin_can_author(client, dbs, factory):
    admin = factory.admin(email="admin@mofa.example")
    sign_in(client, admin)
    assert client.get("/author/courses").status_code == 200
    course = create_course(client, dbs, slug="khoa-cua-admin")
    assert course is not None and course.created_by_id == admin.id
    module = add_module(client, dbs, course, "Một")
    add_lesson(client, dbs, module)
    assert client.get(f"/author/courses/{course.id}").status_code == 200


def test_every_authoring_page_answers_a_trainer(author, dbs):
    pages, _media = author_pages(dbs)
    for method, url, data in pages:
        if method == "GET":
            response = author.get(url)
            assert response.status_code == 200, url
            response.close()  # the package download is a file
        else:
            response = author.form(url, data, content_type="multipart/form-data")
            assert response.status_code in (200, 302), (url, response.status_code)


def test_posts_without_the_csrf_token_are_refused(author, dbs):
    pages, _media = author_pages(dbs)
    for method, url, data in pages:
        if method == "POST":
            response = author.post(url, data=data, content_type="multipart/form-data")
            assert response.status_code == 400, url
    assert dbs.scalar(select(Course).where(Course.slug == "khoa-moi")) is None
    assert dbs.scalar(select(MediaFile).where(MediaFile.filename == "moi.png")) is None


def test_unknown_objects_are_404(author):
    for url in ("/author/courses/999999", "/author/lessons/999999",
                "/author/modules/999999/lessons/new"):
        assert author.get(url).status_code == 404, url
    assert author.form("/author/modules/999999/archive").status_code == 404


def test_authoring_pages_speak_vietnamese_first(client, trainer, dbs):
    login(client, trainer.email)
    course = build_course(dbs)
    page = text(client.get(f"/author/courses/{course.id}"))
    assert '<html lang="vi">' in page

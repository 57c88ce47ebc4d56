"""Course packages (docs/course-package.md): a course as a folder or .zip, imported whole
or not at all, updated in place by slug without losing anyone's progress, and exported
byte for byte the same each time.

Packages are built in tmp_path the way a trainer writes one: course.yaml, Markdown in
lessons/, a tiny PNG, a PDF and a small WebM in media/.
"""
from __future__ import annotations

import base64
import dataclasses
import io
import os
import zipfile
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from flask import Flask
from flask_babel import force_locale
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms.audit.models import AuditEvent
from lms.cli import cli as lms_cli
from lms.courses import authoring, packages
from lms.courses import media as media_storage
from lms.courses.models import Course, Enrolment, EnrolmentStatus, Lesson, LessonProgress, MediaFile, Module
from lms.courses.packages import PackageError, export_package, import_package, read_package
from lms.courses.services import complete_lesson, enrol
from lms.errors import DomainError

MB = 1024 * 1024
MAX_BYTES = 64 * MB
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA"
                       "60e6kgAAAABJRU5ErkJggg==")
WEBM = b"\x1a\x45\xdf\xa3" + bytes(range(60))
PDF = b"%PDF-1.4\n% tai lieu huong dan\n%%EOF\n"
SLUG = "an-toan-thong-tin"
TABLES = (Course, Module, Lesson, MediaFile, LessonProgress, AuditEvent)


def manifest(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "format": 1,
        "slug": SLUG,
        "language": "vi",
        "title": "An toàn thông tin trong công việc",
        "summary": "Khoá học ngắn về an toàn thông tin.\nDành cho mọi cán bộ.\n",
        "outcomes": ["Tạo và quản lý mật khẩu mạnh", "Nhận biết thư lừa đảo"],
        "topic": "security",
        "estimated_minutes": 90,
        "certificate": True,
        "validity_months": 12,
        "modules": [
            {"title": "Mật khẩu và xác thực hai lớp", "lessons": [
                {"key": "mat-khau-manh", "title": "Mật khẩu mạnh", "kind": "text",
                 "file": "lessons/01-mat-khau-manh.md", "minutes": 10, "required": True},
                {"key": "video-gioi-thieu", "title": "Video giới thiệu", "kind": "video",
                 "media": "media/gioi-thieu.webm", "complete_on_video_end": True,
                 "file": "lessons/02-video.md", "minutes": 3},
            ]},
            {"title": "Tài liệu và dịch vụ công", "lessons": [
                {"key": "tai-lieu-huong-dan", "title": "Tài liệu hướng dẫn", "kind": "file",
                 "media": "media/huong-dan.pdf", "minutes": 5},
                {"key": "cong-dich-vu-cong", "title": "Cổng Dịch vụ công quốc gia",
                 "kind": "link", "url": "https://dichvucong.gov.vn", "minutes": 5,
                 "required": False},
            ]},
        ],
    }
    data.update(changes)
    return data


def package_files() -> dict[str, bytes]:
    return {
        "lessons/01-mat-khau-manh.md": (
            "## Mật khẩu mạnh\n\nDùng ít nhất 12 ký tự.\n\n![Sơ đồ](media/so-do.png)\n"
        ).encode(),
        "lessons/02-video.md": "Xem video rồi làm bài tập.\n".encode(),
        "media/so-do.png": PNG,
        "media/gioi-thieu.webm": WEBM,
        "media/huong-dan.pdf": PDF,
    }


def write_package(folder: Path, data: dict[str, Any] | None = None,
                  files: dict[str, bytes] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "course.yaml").write_text(
        yaml.safe_dump(manifest() if data is None else data, allow_unicode=True, sort_keys=False),
        encoding="utf-8")
    for path, content in (package_files() if files is None else files).items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(content)
    return folder


def zip_bytes(members: dict[str, bytes], top: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(top + name, content)
    return buffer.getvalue()


def package_members(data: dict[str, Any] | None = None) -> dict[str, bytes]:
    return {"course.yaml": yaml.safe_dump(manifest() if data is None else data,
                                          allow_unicode=True).encode(), **package_files()}


def count_rows(dbs: Session) -> dict[str, int]:
    dbs.expire_all()
    return {model.__name__: dbs.scalar(select(func.count()).select_from(model)) for model in TABLES}


def course_by_slug(dbs: Session, slug: str = SLUG) -> Course:
    return dbs.scalar(select(Course).where(Course.slug == slug))


def snapshot(dbs: Session, course: Course) -> dict[str, Any]:
    """What a learner and a trainer see of a course (active modules and lessons, files)."""
    dbs.expire_all()
    media = {m.id: m for m in dbs.scalars(select(MediaFile).where(MediaFile.course_id == course.id))}
    modules = []
    for module in dbs.scalars(select(Module).where(Module.course_id == course.id,
                                                   Module.is_archived.is_(False))
                              .order_by(Module.position)):
        lessons = [
            (lesson.key, lesson.title, lesson.kind, lesson.body, lesson.url, lesson.is_required,
             lesson.estimated_minutes, lesson.complete_on_video_end,
             media[lesson.media_id].filename if lesson.media_id else None)
            for lesson in dbs.scalars(select(Lesson).where(Lesson.module_id == module.id,
                                                           Lesson.is_archived.is_(False))
                                      .order_by(Lesson.position))]
        modules.append((module.title, lessons))
    return {
        "course": (course.title, course.summary, course.outcomes, course.topic, course.language,
                   course.estimated_minutes, course.certificate_enabled, course.validity_months,
                   course.status),
        "modules": modules,
        "media": sorted((m.filename, m.sha256, m.size, m.content_type) for m in media.values()),
    }


@pytest.fixture(autouse=True)
def media_folder(app: Flask, tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "media-store"
    monkeypatch.setitem(app.config, "MEDIA_PATH", str(folder))
    return folder


@pytest.fixture()
def trainer(factory):
    return factory.person(name="Lê Thu Hương", roles=(("trainer", None),))


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    return write_package(tmp_path / SLUG)


def load(dbs: Session, actor: Any, source: Any, max_bytes: int = MAX_BYTES):
    return import_package(dbs, actor, read_package(source, max_bytes))


# ---------------------------------------------------------------- importing a new course

def test_a_package_folder_becomes_a_draft_course_with_its_lessons_and_files(dbs, trainer, folder):
    result = load(dbs, trainer, folder)

    course = result.course
    assert result.created and (result.lessons_added, result.lessons_archived) == (4, 0)
    assert result.files_stored == 3
    assert (course.slug, course.title, course.topic, course.language) == (
        SLUG, "An toàn thông tin trong công việc", "security", "vi")
    assert course.outcome_list == ["Tạo và quản lý mật khẩu mạnh", "Nhận biết thư lừa đảo"]
    assert (course.estimated_minutes, course.certificate_enabled, course.validity_months) == (
        90, True, 12)
    assert course.status == "draft" and course.created_by_id == trainer.id
    view = snapshot(dbs, course)
    assert [title for title, _ in view["modules"]] == [
        "Mật khẩu và xác thực hai lớp", "Tài liệu và dịch vụ công"]
    first, video = view["modules"][0][1]
    assert first[:4] == ("mat-khau-manh", "Mật khẩu mạnh", "text",
                         package_files()["lessons/01-mat-khau-manh.md"].decode())
    assert video[2] == "video" and video[7:] == (True, "gioi-thieu.webm")
    file_lesson, link = view["modules"][1][1]
    assert file_lesson[8] == "huong-dan.pdf"
    assert (link[4], link[5]) == ("https://dichvucong.gov.vn", False)
    stored = {name: (size, ctype) for name, _sha, size, ctype in view["media"]}
    assert stored == {"gioi-thieu.webm": (len(WEBM), "video/webm"),
                      "huong-dan.pdf": (len(PDF), "application/pdf"),
                      "so-do.png": (len(PNG), "image/png")}
    for _name, sha, _size, _ctype in view["media"]:
        assert media_storage.path_for(sha).is_file()
    event = dbs.scalar(select(AuditEvent).where(AuditEvent.action == "course.imported"))
    assert event.actor_id == trainer.id and event.target_id == course.id
    assert (event.details["created"], event.details["added"]) == (True, 4)


def test_status_published_publishes_a_new_course(dbs, trainer, tmp_path):
    result = load(dbs, trainer, write_package(tmp_path / "p", manifest(status="published")))

    assert result.course.status == "published" and result.course.published_at is not None


@pytest.mark.parametrize("top", ["", f"{SLUG}/"], ids=["at-the-root", "in-one-folder"])
def test_a_zip_imports_like_the_folder_from_bytes_or_a_file(dbs, trainer, tmp_path, folder, top):
    from_folder = snapshot(dbs, load(dbs, trainer, folder).course)
    data = zip_bytes(package_members(manifest(slug="ban-zip")), top=top)
    (tmp_path / "goi.zip").write_bytes(zip_bytes(package_members(manifest(slug="ban-tep")), top))

    from_bytes = snapshot(dbs, load(dbs, trainer, data).course)
    from_file = snapshot(dbs, load(dbs, trainer, tmp_path / "goi.zip").course)

    assert from_bytes == from_file == from_folder


def test_a_zip_made_on_a_mac_with_its_extra_folder_is_accepted(dbs, trainer):
    members = {f"{SLUG}/{name}": content for name, content in package_members().items()}
    members["__MACOSX/an-toan-thong-tin/._course.yaml"] = b"\x00\x05\x16\x07"

    assert load(dbs, trainer, zip_bytes(members)).lessons_added == 4


# ---------------------------------------------------------------- export and round trip

def test_export_then_import_as_another_course_gives_the_same_course(dbs, trainer, folder):
    original = load(dbs, trainer, folder).course

    exported = export_package(dbs, original)
    copy = import_package(dbs, trainer, dataclasses.replace(
        read_package(exported, MAX_BYTES), slug="ban-sao"))

    assert copy.created and copy.course.id != original.id
    assert snapshot(dbs, copy.course) == snapshot(dbs, original)
    with zipfile.ZipFile(io.BytesIO(exported)) as one, \
            zipfile.ZipFile(io.BytesIO(export_package(dbs, copy.course))) as other:
        assert [n.replace(SLUG, "ban-sao", 1) for n in one.namelist()] == other.namelist()
        for name in one.namelist():  # only the slug differs
            assert one.read(name).replace(f"slug: {SLUG}".encode(), b"slug: ban-sao") == other.read(
                name.replace(SLUG, "ban-sao", 1))


def test_a_file_name_with_vietnamese_letters_survives_the_round_trip(dbs, trainer, tmp_path):
    files = package_files()
    files["media/sơ-đồ.png"] = files.pop("media/so-do.png")
    files["lessons/01-mat-khau-manh.md"] = "![Sơ đồ](media/sơ-đồ.png)\n".encode()
    course = load(dbs, trainer, write_package(tmp_path / "goi", files=files)).course

    exported = export_package(dbs, course)
    again = load(dbs, trainer, exported)

    assert f"{SLUG}/media/sơ-đồ.png" in zipfile.ZipFile(io.BytesIO(exported)).namelist()
    assert (again.lessons_unchanged, again.files_stored) == (4, 0)


def test_exporting_twice_gives_identical_bytes(dbs, trainer, folder):
    course = load(dbs, trainer, folder).course

    first = export_package(dbs, course)
    second = export_package(dbs, course)

    assert first == second
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        names = archive.namelist()
        assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in archive.infolist())
        text = archive.read(f"{SLUG}/course.yaml").decode()
    assert names == [f"{SLUG}/course.yaml", f"{SLUG}/lessons/01-mat-khau-manh.md",
                     f"{SLUG}/lessons/02-video-gioi-thieu.md", f"{SLUG}/media/gioi-thieu.webm",
                     f"{SLUG}/media/huong-dan.pdf", f"{SLUG}/media/so-do.png"]
    assert "title: An toàn thông tin trong công việc" in text  # readable, not \u escapes
    assert "summary: |" in text


def test_an_export_reimported_over_its_course_changes_nothing(dbs, trainer, folder):
    course = load(dbs, trainer, folder).course
    before = snapshot(dbs, course)
    rows = count_rows(dbs)

    again = load(dbs, trainer, export_package(dbs, course))

    assert not again.created and again.course.id == course.id
    assert (again.lessons_added, again.lessons_updated, again.lessons_archived,
            again.lessons_unchanged, again.files_stored) == (0, 0, 0, 4, 0)
    assert snapshot(dbs, course) == before
    assert {k: v for k, v in count_rows(dbs).items() if k != "AuditEvent"} == {
        k: v for k, v in rows.items() if k != "AuditEvent"}


def test_export_to_a_folder_reads_back_as_the_same_package(dbs, trainer, folder, tmp_path):
    course = load(dbs, trainer, folder).course
    target = tmp_path / "xuat"

    packages.export_to_folder(dbs, course, target)

    assert (target / "course.yaml").is_file() and (target / "media" / "so-do.png").read_bytes() == PNG
    again = read_package(target, MAX_BYTES)
    assert again == read_package(export_package(dbs, course), MAX_BYTES)
    assert [lesson.key for lesson in again.lessons] == [
        "mat-khau-manh", "video-gioi-thieu", "tai-lieu-huong-dan", "cong-dich-vu-cong"]


def test_exporting_again_into_the_folder_removes_what_the_course_no_longer_has(
        dbs, trainer, folder, tmp_path):
    course = load(dbs, trainer, folder).course
    target = tmp_path / "xuat"
    packages.export_to_folder(dbs, course, target)
    lesson = dbs.scalar(select(Lesson).where(Lesson.key == "mat-khau-manh"))
    authoring.set_lesson_archived(dbs, trainer, lesson, True)

    packages.export_to_folder(dbs, course, target)

    assert sorted(p.name for p in (target / "lessons").iterdir()) == ["01-video-gioi-thieu.md"]
    assert "mat-khau-manh" not in (target / "course.yaml").read_text(encoding="utf-8")


def test_export_refuses_a_folder_that_is_not_a_package(dbs, trainer, folder, tmp_path):
    course = load(dbs, trainer, folder).course
    (tmp_path / "khac").mkdir()
    (tmp_path / "khac" / "ghi-chu.txt").write_text("của tôi")

    with pytest.raises(PackageError, match="not empty"), force_locale("en"):
        packages.export_to_folder(dbs, course, tmp_path / "khac")
    assert (tmp_path / "khac" / "ghi-chu.txt").exists()


# ---------------------------------------------------------------- updating in place

def test_reimporting_a_changed_package_updates_the_course_and_keeps_progress(
        dbs, trainer, factory, tmp_path):
    course = load(dbs, trainer, write_package(tmp_path / "v1", manifest(status="published"))).course
    lessons = {lesson.key: lesson for lesson in dbs.scalars(select(Lesson))}
    finished, halfway = factory.person(), factory.person()
    for person in (finished, halfway):
        enrol(dbs, person, course)
    for key in ("mat-khau-manh", "video-gioi-thieu", "tai-lieu-huong-dan"):
        complete_lesson(dbs, finished, lessons[key])
    complete_lesson(dbs, halfway, lessons["tai-lieu-huong-dan"])
    assert dbs.scalar(select(Enrolment).where(Enrolment.user_id == finished.id)).is_completed

    v2 = manifest(status="published")
    first, second = v2["modules"]
    first["title"] = "Mật khẩu"
    first["lessons"][0]["title"] = "Mật khẩu thật mạnh"                  # renamed
    first["lessons"].append(second["lessons"].pop())                    # moved to module 1
    second["lessons"] = [{"key": "xac-thuc-hai-lop", "title": "Xác thực hai lớp",  # new
                          "kind": "text", "file": "lessons/03-xac-thuc.md", "minutes": 8}]
    files = package_files()                                             # huong-dan: removed
    files["lessons/03-xac-thuc.md"] = "## Bật xác thực hai lớp\n".encode()
    result = load(dbs, trainer, write_package(tmp_path / "v2", v2, files))

    assert (result.created, result.course.id) == (False, course.id)
    assert (result.lessons_added, result.lessons_updated, result.lessons_archived,
            result.lessons_unchanged) == (1, 2, 1, 1)
    dbs.expire_all()
    now = {lesson.key: lesson for lesson in dbs.scalars(select(Lesson))}
    assert {key: now[key].id for key in lessons} == {key: lesson.id for key, lesson in lessons.items()}
    assert now["tai-lieu-huong-dan"].is_archived
    assert now["mat-khau-manh"].title == "Mật khẩu thật mạnh"
    view = snapshot(dbs, course)
    assert [(title, [lesson[0] for lesson in items]) for title, items in view["modules"]] == [
        ("Mật khẩu", ["mat-khau-manh", "video-gioi-thieu", "cong-dich-vu-cong"]),
        ("Tài liệu và dịch vụ công", ["xac-thuc-hai-lop"])]
    # Learners keep what they did; the finished course stays finished.
    done = dbs.scalar(select(Enrolment).where(Enrolment.user_id == finished.id))
    assert done.status == EnrolmentStatus.COMPLETED.value
    assert dbs.scalar(select(func.count()).select_from(LessonProgress).where(
        LessonProgress.lesson_id == now["tai-lieu-huong-dan"].id)) == 2
    # The open enrolment is recomputed on the new structure: 0 of 3 required lessons done.
    open_one = dbs.scalar(select(Enrolment).where(Enrolment.user_id == halfway.id))
    assert (open_one.status, open_one.progress_pct) == ("in_progress", 0)
    assert course.status == "published"


def test_a_lesson_back_in_the_package_is_restored_with_its_progress(dbs, trainer, factory,
                                                                     tmp_path):
    course = load(dbs, trainer, write_package(tmp_path / "v1", manifest(status="published"))).course
    learner = factory.person()
    enrol(dbs, learner, course)
    pdf_lesson = dbs.scalar(select(Lesson).where(Lesson.key == "tai-lieu-huong-dan"))
    complete_lesson(dbs, learner, pdf_lesson)
    without = manifest()
    without["modules"][1]["lessons"].pop(0)
    load(dbs, trainer, write_package(tmp_path / "v2", without))
    assert pdf_lesson.is_archived

    result = load(dbs, trainer, write_package(tmp_path / "v3"))

    assert (result.lessons_added, result.lessons_updated) == (0, 1)
    dbs.refresh(pdf_lesson)
    assert not pdf_lesson.is_archived
    assert dbs.scalar(select(LessonProgress).where(LessonProgress.lesson_id == pdf_lesson.id))


def test_modules_are_matched_by_position_and_extra_ones_archived(dbs, trainer, tmp_path):
    course = load(dbs, trainer, write_package(tmp_path / "v1")).course
    one_module = manifest()
    one_module["modules"] = [{"title": "Tất cả trong một", "lessons": [
        lesson for module in one_module["modules"] for lesson in module["lessons"]]}]

    result = load(dbs, trainer, write_package(tmp_path / "v2", one_module))

    modules = dbs.scalars(select(Module).where(Module.course_id == course.id)
                          .order_by(Module.position)).all()
    assert [(m.title, m.is_archived) for m in modules] == [
        ("Tất cả trong một", False), ("Tài liệu và dịch vụ công", True)]
    assert result.lessons_archived == 0 and result.lessons_updated == 2
    assert len(snapshot(dbs, course)["modules"][0][1]) == 4


def test_an_enrolment_is_judged_on_the_final_structure_only(dbs, trainer, factory, tmp_path):
    """Made optional first, then a new required lesson added: judged one step at a time, the
    learner would have completed the course half-way through the import, for good."""
    v1 = manifest(status="published")
    v1["modules"] = [{"title": "Một", "lessons": [
        {"key": "bai-a", "title": "Bài A", "kind": "link", "url": "https://a.example", "minutes": 2},
        {"key": "bai-b", "title": "Bài B", "kind": "link", "url": "https://b.example", "minutes": 2},
    ]}]
    course = load(dbs, trainer, write_package(tmp_path / "v1", v1, {})).course
    learner = factory.person()
    enrol(dbs, learner, course)
    complete_lesson(dbs, learner, dbs.scalar(select(Lesson).where(Lesson.key == "bai-a")))
    v2 = manifest()
    v2["modules"] = [{"title": "Một", "lessons": [
        *v1["modules"][0]["lessons"][:1],
        {**v1["modules"][0]["lessons"][1], "required": False},
        {"key": "bai-c", "title": "Bài C", "kind": "link", "url": "https://c.example", "minutes": 2},
    ]}]

    load(dbs, trainer, write_package(tmp_path / "v2", v2, {}))

    enrolment = dbs.scalar(select(Enrolment).where(Enrolment.user_id == learner.id))
    dbs.refresh(enrolment)
    assert (enrolment.status, enrolment.progress_pct) == ("in_progress", 50)


def test_text_typed_in_the_browser_with_crlf_counts_as_unchanged(dbs, trainer, folder):
    course = load(dbs, trainer, folder).course
    lesson = dbs.scalar(select(Lesson).where(Lesson.key == "video-gioi-thieu"))
    authoring.update_lesson(dbs, trainer, lesson, authoring.LessonData(
        title=lesson.title, kind=lesson.kind, body="Dòng một\r\nDòng hai\r\n",
        media_id=lesson.media_id, complete_on_video_end=True, estimated_minutes=3))

    again = load(dbs, trainer, export_package(dbs, course))

    assert (again.lessons_updated, again.lessons_unchanged) == (0, 4)


def test_a_published_course_stays_published_when_the_package_says_draft(dbs, trainer, tmp_path):
    course = load(dbs, trainer, write_package(tmp_path / "v1", manifest(status="published"))).course

    load(dbs, trainer, write_package(tmp_path / "v2", manifest(title="Tên mới")))

    assert (course.status, course.title) == ("published", "Tên mới")


def test_a_file_with_the_same_name_replaces_the_old_one(dbs, trainer, tmp_path):
    course = load(dbs, trainer, write_package(tmp_path / "v1")).course
    old = dbs.scalar(select(MediaFile).where(MediaFile.filename == "huong-dan.pdf"))
    files = package_files()
    files["media/huong-dan.pdf"] = PDF + b"% ban moi\n"

    result = load(dbs, trainer, write_package(tmp_path / "v2", files=files))

    assert result.files_stored == 1
    dbs.refresh(old)
    assert old.size == len(files["media/huong-dan.pdf"])
    assert dbs.scalar(select(func.count()).select_from(MediaFile).where(
        MediaFile.course_id == course.id)) == 3


def test_a_failure_half_way_through_leaves_nothing(dbs, trainer, tmp_path, monkeypatch):
    course = load(dbs, trainer, write_package(tmp_path / "v1")).course
    before, rows = snapshot(dbs, course), count_rows(dbs)
    changed = manifest(title="Tên khác")
    changed["modules"][0]["lessons"].append(
        {"key": "bai-moi", "title": "Bài mới", "kind": "link", "url": "https://a.example",
         "minutes": 2})
    changed["modules"].append({"title": "Phần ba", "lessons": [
        {"key": "bai-ba", "title": "Bài ba", "kind": "link", "url": "https://b.example",
         "minutes": 2}]})
    real_add = authoring.add_lesson
    calls = []

    def failing_add(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise DomainError("the disk is full")
        return real_add(*args, **kwargs)
    monkeypatch.setattr(authoring, "add_lesson", failing_add)

    with pytest.raises(DomainError, match="disk is full"):
        load(dbs, trainer, write_package(tmp_path / "v2", changed))

    assert count_rows(dbs) == rows
    assert snapshot(dbs, course) == before


# ---------------------------------------------------------------- refused packages

def _zip_info(name: str, **attrs: Any) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    for key, value in attrs.items():
        setattr(info, key, value)
    return info


def zip_with(extra: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in package_members().items():
            archive.writestr(name, content)
        for info, content in extra:
            archive.writestr(info, content)
    return buffer.getvalue()


def understated_size() -> bytes:
    """A member whose central directory claims 10 bytes for 64 KB of data."""
    data = zip_with([("media/bang.txt", b"0" * 65536)])
    at = data.rindex(b"media/bang.txt") - 46  # its central directory record
    assert data[at:at + 4] == b"PK\x01\x02"
    return data[:at + 24] + (10).to_bytes(4, "little") + data[at + 28:]


def edit(change: Callable[[dict[str, Any], dict[str, bytes]], None]) -> Callable[[Path], Path]:
    def build(tmp_path: Path) -> Path:
        data, files = manifest(), package_files()
        change(data, files)
        return write_package(tmp_path / "goi", data, files)
    return build


def with_yaml(text: str | None) -> Callable[[Path], Path]:
    """A package whose course.yaml is this text (None: no course.yaml at all)."""
    def build(tmp_path: Path) -> Path:
        package = write_package(tmp_path / "goi")
        if text is None:
            (package / "course.yaml").unlink()
        else:
            (package / "course.yaml").write_text(text, encoding="utf-8")
        return package
    return build


def lesson(data: dict[str, Any], key: str) -> dict[str, Any]:
    return next(item for module in data["modules"] for item in module["lessons"]
                if item["key"] == key)


def outside_link(tmp_path: Path) -> Path:
    secret = tmp_path / "bi-mat.md"
    secret.write_text("mật khẩu của máy chủ", encoding="utf-8")
    package = write_package(tmp_path / "goi")
    (package / "lessons" / "01-mat-khau-manh.md").unlink()
    (package / "lessons" / "01-mat-khau-manh.md").symlink_to(secret)
    return package


REFUSED: dict[str, tuple[Callable[[Path], Any], str]] = {
    "no course.yaml": (with_yaml(None), "The package has no course.yaml at its top level."),
    "invalid YAML": (with_yaml("format: 1\nslug: [a, b\n"), "course.yaml is not valid YAML (line 3"),
    "a field given twice": (with_yaml("format: 1\nslug: a-b-c\nslug: d-e-f\n"),
                            "the field slug is given twice"),
    "not a mapping": (with_yaml("- format: 1\n"), "course.yaml must be a set of fields"),
    "minutes as text": (
        edit(lambda d, f: d.update(estimated_minutes="90")),
        'course.yaml: estimated_minutes must be a whole number, not "90".'),
    "a lesson without minutes": (
        edit(lambda d, f: lesson(d, "mat-khau-manh").pop("minutes")),
        "course.yaml, lesson mat-khau-manh: the field minutes is missing."),
    "unknown topic": (
        edit(lambda d, f: d.update(topic="cooking")),
        'course.yaml: topic must be one of security, documents, portal, data, public_services, '
        'tools, other, not "cooking".'),
    "unknown language": (edit(lambda d, f: d.update(language="fr")), "language must be one of vi, en"),
    "unknown field": (
        edit(lambda d, f: lesson(d, "mat-khau-manh").update(requried=False)),
        "course.yaml, lesson mat-khau-manh: unknown field requried."),
    "format 2": (edit(lambda d, f: d.update(format=2)), "format 2 is not known here"),
    "bad slug": (edit(lambda d, f: d.update(slug="An Toàn")), 'slug "An Toàn" may use only'),
    "bad key": (
        edit(lambda d, f: lesson(d, "mat-khau-manh").update(key="Mat_Khau")),
        'course.yaml, module 1, lesson 1: key "Mat_Khau" may use only'),
    "duplicate key": (
        edit(lambda d, f: lesson(d, "cong-dich-vu-cong").update(key="mat-khau-manh")),
        "two lessons have the key mat-khau-manh"),
    "unknown kind": (edit(lambda d, f: lesson(d, "mat-khau-manh").update(kind="quiz")),
                     "lesson mat-khau-manh: kind must be one of text, video, file, link"),
    "link without url": (
        edit(lambda d, f: lesson(d, "cong-dich-vu-cong").pop("url")),
        "course.yaml, lesson cong-dich-vu-cong: the field url is missing."),
    "javascript url": (
        edit(lambda d, f: lesson(d, "cong-dich-vu-cong").update(url="javascript:alert(1)")),
        "url must start with https:// or http://"),
    "missing lesson file": (
        edit(lambda d, f: f.pop("lessons/02-video.md")),
        "course.yaml, lesson video-gioi-thieu: the file lessons/02-video.md is not in the package."),
    "missing media file": (
        edit(lambda d, f: f.pop("media/huong-dan.pdf")),
        "course.yaml, lesson tai-lieu-huong-dan: the file media/huong-dan.pdf is not in the package."),
    "image missing from the Markdown": (
        edit(lambda d, f: f.pop("media/so-do.png")),
        "lessons/01-mat-khau-manh.md refers to media/so-do.png, which is not in the package."),
    "video lesson with a PDF": (
        edit(lambda d, f: lesson(d, "video-gioi-thieu").update(media="media/huong-dan.pdf")),
        "a video lesson needs an .mp4 or .webm file, not media/huong-dan.pdf"),
    "disallowed media type": (
        edit(lambda d, f: f.update({"media/cai-dat.exe": b"MZ\x90\x00"})),
        "media/cai-dat.exe: files of this type cannot be imported."),
    "content not matching its name": (
        edit(lambda d, f: f.update({"media/so-do.png": b"<script>alert(1)</script>"})),
        "media/so-do.png: the content does not match its .png name."),
    "a media name to rename": (
        edit(lambda d, f: f.update({"media/sơ đồ.png": PNG})),
        "media/sơ đồ.png: rename the file to media/sơ-đồ.png"),
    "non-UTF-8 Markdown": (
        edit(lambda d, f: f.update({"lessons/02-video.md": "Xin chào\nDòng hai".encode("cp1252")})),
        "lessons/02-video.md is not UTF-8 text (line 1); save it as UTF-8."),
    "path outside in course.yaml": (
        edit(lambda d, f: lesson(d, "mat-khau-manh").update(file="../../etc/passwd")),
        'lesson mat-khau-manh: file "../../etc/passwd" points outside the package'),
    "absolute path in course.yaml": (
        edit(lambda d, f: lesson(d, "mat-khau-manh").update(file="/etc/passwd")),
        'lesson mat-khau-manh: file "/etc/passwd" points outside the package'),
    "symlink out of the folder": (
        outside_link, "lessons/01-mat-khau-manh.md points outside the package folder."),
    "zip with ../../etc/passwd": (
        lambda p: zip_with([("../../etc/passwd", b"root:x:0:0")]),
        "The .zip holds ../../etc/passwd, which points outside the package."),
    "zip with an absolute path": (
        lambda p: zip_with([(_zip_info("/etc/passwd"), b"root:x:0:0")]),
        "The .zip holds /etc/passwd, which points outside the package."),
    "zip with backslashes": (
        lambda p: zip_with([("media\\..\\..\\evil.png", PNG)]),
        "points outside the package"),
    "zip with a symlink": (
        lambda p: zip_with([(_zip_info("media/link.png", create_system=3,
                                       external_attr=0o120777 << 16), b"/etc/passwd")]),
        "The .zip holds media/link.png, a symbolic link"),
    "zip bomb": (
        lambda p: zip_with([("media/bom.txt", bytes(20 * MB))]),
        "The package unpacks to 20 MB, more than the 1 MB allowed."),
    "zip lying about a size": (
        lambda p: understated_size(), "media/bang.txt cannot be read: the package is damaged"),
    "zip with too many files": (
        lambda p: zip_with([(f"lessons/thua-{n}.md", b"") for n in range(5000)]),
        "a package may hold at most 5000"),
    "not a zip": (lambda p: b"%PDF-1.4 not a zip", "not a .zip course package"),
    "published without lessons": (
        edit(lambda d, f: d.update(status="published", modules=[{"title": "Trống"}])),
        "a published course needs at least one lesson"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_bad_package_is_refused_whole_with_a_clear_message(dbs, trainer, tmp_path, case):
    build, message = REFUSED[case]
    source = build(tmp_path)
    before = count_rows(dbs)

    with pytest.raises(PackageError) as refused, force_locale("en"):
        load(dbs, trainer, source, max_bytes=1 * MB)

    assert message in str(refused.value.message)
    assert count_rows(dbs) == before


def test_a_bad_package_does_not_touch_the_course_it_would_update(dbs, trainer, tmp_path):
    course = load(dbs, trainer, write_package(tmp_path / "v1")).course
    before, rows = snapshot(dbs, course), count_rows(dbs)
    files = package_files()
    files["lessons/02-video.md"] = b"\xff\xfe hong"

    with pytest.raises(PackageError, match="not UTF-8"), force_locale("en"):
        load(dbs, trainer, write_package(tmp_path / "v2", manifest(title="Khác"), files))

    assert count_rows(dbs) == rows and snapshot(dbs, course) == before


def test_markdown_from_windows_is_read_with_its_bom_and_line_ends(dbs, trainer, tmp_path):
    files = package_files()
    files["lessons/02-video.md"] = "\ufeffDòng một\r\nDòng hai\r\n".encode()

    course = load(dbs, trainer, write_package(tmp_path / "goi", files=files)).course

    video = dbs.scalar(select(Lesson).where(Lesson.course_id == course.id,
                                            Lesson.key == "video-gioi-thieu"))
    assert video.body == "Dòng một\nDòng hai\n"


# ---------------------------------------------------------------- the commands

def test_import_course_reads_a_folder_then_a_zip_of_the_next_version(lms, look, tmp_path):
    first = lms("import-course", write_package(tmp_path / "v1"))
    changed = manifest()
    changed["modules"][1]["lessons"].pop(0)
    (tmp_path / "v2.zip").write_bytes(zip_bytes(package_members(changed), top=f"{SLUG}/"))
    second = lms("import-course", tmp_path / "v2.zip")

    assert first.exit_code == 0, first.output
    assert (f"Course {SLUG} created (draft): 4 lessons added, 0 updated, 0 archived, "
            "0 unchanged; 3 files stored.") in first.output
    assert second.exit_code == 0, second.output
    assert (f"Course {SLUG} updated (draft): 0 lessons added, 0 updated, 1 archived, "
            "3 unchanged; 0 files stored.") in second.output
    session = look()
    assert session.scalar(select(func.count()).select_from(Lesson).where(
        Lesson.is_archived.is_(True))) == 1
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "course.imported"))


def test_export_course_writes_a_zip_or_a_folder_that_imports_again(lms, look, tmp_path):
    assert lms("import-course", write_package(tmp_path / "goc")).exit_code == 0

    to_zip = lms("export-course", SLUG, tmp_path / "ra" / "khoa-hoc.zip")
    to_folder = lms("export-course", SLUG, tmp_path / "thu-muc")

    assert to_zip.exit_code == 0, to_zip.output
    assert f"Course {SLUG} exported to" in to_zip.output and "(6 files)" in to_zip.output
    assert to_folder.exit_code == 0, to_folder.output
    assert [p.name for p in (tmp_path / "ra").iterdir()] == ["khoa-hoc.zip"]  # no temp left
    with zipfile.ZipFile(tmp_path / "ra" / "khoa-hoc.zip") as archive:
        assert archive.read(f"{SLUG}/media/so-do.png") == PNG
    assert (tmp_path / "thu-muc" / "lessons" / "02-video-gioi-thieu.md").is_file()
    for source in (tmp_path / "ra" / "khoa-hoc.zip", tmp_path / "thu-muc"):
        again = lms("import-course", source)
        assert again.exit_code == 0, again.output
        assert "0 lessons added, 0 updated, 0 archived, 4 unchanged" in again.output
    assert look().scalar(select(func.count()).select_from(Course)) == 1


def test_import_course_refuses_a_bad_package_and_writes_nothing(lms, look, tmp_path):
    before = count_rows(look())
    files = package_files()
    del files["media/gioi-thieu.webm"]

    result = lms("import-course", write_package(tmp_path / "goi", files=files))

    assert result.exit_code != 0
    assert "Error: " in result.output and "Nothing was imported." in result.output
    assert "video-gioi-thieu" in result.output and "media/gioi-thieu.webm" in result.output
    assert count_rows(look()) == before


def test_import_course_refuses_a_zip_escaping_its_folder(lms, look, tmp_path):
    (tmp_path / "xau.zip").write_bytes(zip_with([("../../etc/passwd", b"root")]))

    result = lms("import-course", tmp_path / "xau.zip")

    assert result.exit_code != 0 and "ra ngoài gói" in result.output  # the CLI speaks Vietnamese
    assert look().scalar(select(func.count()).select_from(Course)) == 0


def test_export_course_of_an_unknown_slug_fails(lms, tmp_path):
    result = lms("export-course", "khong-co", tmp_path / "x.zip")

    assert result.exit_code != 0 and "No course has the slug khong-co." in result.output
    assert not (tmp_path / "x.zip").exists()


@pytest.mark.parametrize("command,expected", [
    ("import-course", ("PATH", "course.yaml", "archived")),
    ("export-course", ("SLUG", "PATH", ".zip", "folder")),
])
def test_the_package_commands_explain_themselves(app, monkeypatch, command, expected):
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")

    result = app.test_cli_runner().invoke(lms_cli, [command, "--help"])

    assert result.exit_code == 0, result.output
    for word in expected:
        assert word in result.output, word


def test_the_commands_are_listed(app, monkeypatch):
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")

    result = app.test_cli_runner().invoke(lms_cli, ["--help"])

    assert "import-course" in result.output and "export-course" in result.output


def test_no_stray_upload_is_left_in_the_media_folder_when_a_file_is_refused(
        dbs, trainer, tmp_path, media_folder):
    files = package_files()
    files["media/so-do.png"] = b"not a png"

    with pytest.raises(PackageError):
        load(dbs, trainer, write_package(tmp_path / "goi", files=files))

    assert not media_folder.exists() or not any(
        name.startswith(".upload-") for name in os.listdir(media_folder))

"""Exporting a course to a .zip or a folder, byte-for-byte reproducible."""

import io
import shutil
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Callable, ContextManager, Iterator

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms.courses import media as media_storage
from lms.courses.models import Course, CourseStatus, Lesson, LessonKind, MediaFile, Module
from lms.courses.packages.constants import CHUNK, FORMAT, MANIFEST, ZIP_TIME
from lms.courses.packages.content import PackageError
from lms.courses.packages.manifest import dump_yaml
from lms.quizzes import packaging as quiz_packaging

# ---------------------------------------------------------------- exporting

Opener = Callable[[], ContextManager[BinaryIO]]


@contextmanager
def _bytes_opener(data: bytes) -> Iterator[BinaryIO]:
    yield io.BytesIO(data)


@contextmanager
def _stored_opener(path: Path) -> Iterator[BinaryIO]:
    with open(path, "rb") as stream:
        yield stream


def _package_files(dbs: Session, course: Course) -> list[tuple[str, Opener, bool]]:
    """Every file of the course's package: (path, how to read it, worth compressing)."""
    modules = list(dbs.scalars(select(Module).where(
        Module.course_id == course.id, Module.is_archived.is_(False))
        .order_by(Module.position, Module.id)))
    lessons = list(dbs.scalars(select(Lesson).where(
        Lesson.course_id == course.id, Lesson.is_archived.is_(False))
        .order_by(Lesson.position, Lesson.id)))
    media = list(dbs.scalars(select(MediaFile).where(MediaFile.course_id == course.id)
                             .order_by(MediaFile.filename)))
    names = {m.id: m.filename for m in media}
    count = sum(1 for lesson in lessons if any(m.id == lesson.module_id for m in modules))
    width = max(2, len(str(count)))
    files: list[tuple[str, Opener, bool]] = []
    listed_modules, number = [], 0
    for module in modules:
        listed = []
        for lesson in (each for each in lessons if each.module_id == module.id):
            number += 1
            entry: dict[str, Any] = {"key": lesson.key, "title": lesson.title, "kind": lesson.kind}
            if lesson.url:
                entry["url"] = lesson.url
            if lesson.media_id in names:
                entry["media"] = f"media/{names[lesson.media_id]}"
            if lesson.kind == LessonKind.VIDEO.value:
                entry["complete_on_video_end"] = lesson.complete_on_video_end
            if lesson.body or lesson.kind == LessonKind.TEXT.value:
                entry["file"] = path = f"lessons/{number:0{width}d}-{lesson.key}.md"
                files.append((path, lambda body=lesson.body: _bytes_opener(body.encode()), True))
            entry["minutes"] = lesson.estimated_minutes
            entry["required"] = lesson.is_required
            listed.append(entry)
        listed_modules.append({"title": module.title, "lessons": listed})
    for item in media:
        stored = media_storage.path_for(item.sha256)
        if not stored.is_file():
            raise PackageError(_("The stored copy of %(name)s is missing from the media folder; "
                                 "upload the file again before exporting.", name=item.filename))
        files.append((f"media/{item.filename}", lambda stored=stored: _stored_opener(stored),
                      media_storage.kind_of(item.content_type) not in ("image", "video")))
    manifest: dict[str, Any] = {
        "format": FORMAT, "slug": course.slug, "language": course.language,
        "title": course.title, "summary": course.summary, "outcomes": course.outcome_list,
        "topic": course.topic, "estimated_minutes": course.estimated_minutes,
        "certificate": course.certificate_enabled}
    if course.validity_months is not None:
        manifest["validity_months"] = course.validity_months
    manifest["status"] = (CourseStatus.PUBLISHED.value if course.is_published
                          else CourseStatus.DRAFT.value)
    manifest["modules"] = listed_modules
    text = dump_yaml(manifest, "Course package, format 1: see docs/course-package.md")
    files.insert(0, (MANIFEST, lambda: _bytes_opener(text.encode()), True))
    quizzes = quiz_packaging.quiz_file(dbs, course)
    if quizzes is not None:
        files.insert(1, (quiz_packaging.QUIZ_FILE, lambda: _bytes_opener(quizzes.encode()), True))
    return files


def write_package(dbs: Session, course: Course, target: BinaryIO) -> int:
    """Write the course's package as a .zip (files inside a ``<slug>/`` folder) to a seekable
    binary stream; the same course gives the same bytes. Returns how many files it holds."""
    files = _package_files(dbs, course)
    with zipfile.ZipFile(target, "w") as archive:
        for path, opener, compress in files:
            info = zipfile.ZipInfo(f"{course.slug}/{path}", date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            with opener() as stream, archive.open(info, "w") as out:
                shutil.copyfileobj(stream, out, CHUNK)
    return len(files)


def export_package(dbs: Session, course: Course) -> bytes:
    """The course's package as .zip bytes (archived modules and lessons left out)."""
    buffer = io.BytesIO()
    write_package(dbs, course, buffer)
    return buffer.getvalue()


def export_to_folder(dbs: Session, course: Course, folder: Path) -> int:
    """Write the course's package into a folder (created if needed). A folder holding an
    earlier export is brought up to date: its lessons/*.md and media/* files that are no
    longer part of the course are removed (and its quizzes.yaml when the course has no
    quizzes or questions any more). Returns how many files were written."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise PackageError(_("%(path)s is a file, not a folder.", path=str(folder)))
    if folder.is_dir() and any(folder.iterdir()) and not (folder / MANIFEST).is_file():
        raise PackageError(_("%(path)s is not empty and holds no course package; choose a new or "
                             "empty folder.", path=str(folder)))
    files = _package_files(dbs, course)
    written = set()
    for path, opener, _compress in files:
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        with opener() as stream, open(target, "wb") as out:
            shutil.copyfileobj(stream, out, CHUNK)
        written.add(path)
    for sub, pattern in (("lessons", "*.md"), ("media", "*")):
        for stale in sorted((folder / sub).glob(pattern)):
            if stale.is_file() and f"{sub}/{stale.name}" not in written:
                stale.unlink()
    stale_quizzes = folder / quiz_packaging.QUIZ_FILE
    if quiz_packaging.QUIZ_FILE not in written and stale_quizzes.is_file():
        stale_quizzes.unlink()  # an earlier export's quizzes would come back on import
    return len(files)

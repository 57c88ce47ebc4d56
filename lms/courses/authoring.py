"""Authoring: what trainers do to courses, modules, lessons and their files.

Editing a published course never breaks learners' progress: lessons are archived, not
deleted, completed enrolments stay completed, and open ones are recomputed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, BinaryIO

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms.audit.services import record
from lms.courses import media as media_storage
from lms.courses.models import TOPICS, Course, CourseStatus, Lesson, LessonKind, MediaFile, Module
from lms.courses.services import recompute_course
from lms.db import utcnow
from lms.errors import DomainError
from lms.i18n import LANGUAGES
from lms.text import clean, fold

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,78}[a-z0-9]$")


def slugify(text: str, limit: int = 80) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", fold(text)).strip("-")
    return slug[:limit].strip("-") or "course"


# ---------------------------------------------------------------- courses

@dataclass
class CourseData:
    slug: str
    title: str
    summary: str = ""
    outcomes: str = ""
    topic: str = "other"
    language: str = "vi"
    estimated_minutes: int = 30
    certificate_enabled: bool = True
    validity_months: int | None = None


def _check_course(dbs: Session, data: CourseData, course: Course | None = None) -> CourseData:
    data = CourseData(
        slug=(data.slug or slugify(data.title)).strip().lower(), title=clean(data.title),
        summary=(data.summary or "").strip(), outcomes="\n".join(
            clean(line) for line in (data.outcomes or "").splitlines() if clean(line)),
        topic=data.topic, language=data.language, estimated_minutes=data.estimated_minutes,
        certificate_enabled=bool(data.certificate_enabled), validity_months=data.validity_months)
    if not data.title:
        raise DomainError(_("A course needs a title."), field="title")
    if len(data.title) > 255:
        raise DomainError(_("The title must be at most %(n)d characters.", n=255), field="title")
    if not SLUG_RE.match(data.slug):
        raise DomainError(_("The short name may use a–z, 0–9 and hyphens (3 to 80 characters)."),
                          field="slug")
    if data.topic not in TOPICS:
        raise DomainError(_("Unknown topic."), field="topic")
    if data.language not in LANGUAGES:
        raise DomainError(_("Unknown language."), field="language")
    if not 1 <= (data.estimated_minutes or 0) <= 6000:
        raise DomainError(_("The estimated time must be between 1 and 6000 minutes."),
                          field="estimated_minutes")
    if data.validity_months is not None and not 1 <= data.validity_months <= 120:
        raise DomainError(_("Validity must be between 1 and 120 months, or empty."),
                          field="validity_months")
    clash = dbs.scalar(select(Course.id).where(Course.slug == data.slug))
    if clash is not None and (course is None or clash != course.id):
        raise DomainError(_("Another course already uses the short name %(slug)s.", slug=data.slug),
                          field="slug")
    return data


def _course_search_text(course: Course) -> str:
    return fold(f"{course.title} {course.summary} {course.outcomes}")[:1000]


def create_course(dbs: Session, actor: Any, data: CourseData) -> Course:
    data = _check_course(dbs, data)
    course = Course(**vars(data), status=CourseStatus.DRAFT.value,
                    created_by_id=getattr(actor, "id", None))
    course.search_text = _course_search_text(course)
    dbs.add(course)
    dbs.flush()
    record(dbs, actor, "course.created", course, label=course.title, slug=course.slug)
    return course


def update_course(dbs: Session, actor: Any, course: Course, data: CourseData) -> list[str]:
    """Apply changes to a course's description; returns the names of the fields changed."""
    data = _check_course(dbs, data, course)
    changed = [k for k, v in vars(data).items() if getattr(course, k) != v]
    for key in changed:
        setattr(course, key, getattr(data, key))
    course.search_text = _course_search_text(course)
    dbs.flush()
    if changed:
        record(dbs, actor, "course.updated", course, label=course.title, fields=changed)
    return changed


def set_course_status(dbs: Session, actor: Any, course: Course, status: str) -> None:
    if status not in {s.value for s in CourseStatus}:
        raise DomainError(_("Unknown status."))
    if status == CourseStatus.PUBLISHED.value and not active_lessons(dbs, course.id):
        raise DomainError(_("Add at least one lesson before publishing the course."))
    if status == course.status:
        return
    course.status = status
    if status == CourseStatus.PUBLISHED.value and course.published_at is None:
        course.published_at = utcnow()
    dbs.flush()
    record(dbs, actor, f"course.{status}", course, label=course.title)
    if course.is_published:  # edits made while it was a draft count from now on
        recompute_course(dbs, course)


def active_lessons(dbs: Session, course_id: int) -> list[Lesson]:
    return list(dbs.scalars(
        select(Lesson).join(Module, Module.id == Lesson.module_id)
        .where(Lesson.course_id == course_id, Lesson.is_archived.is_(False),
               Module.is_archived.is_(False))
        .order_by(Module.position, Lesson.position)))


def _structure_changed(dbs: Session, course: Course, recompute: bool = True) -> None:
    """Learners' progress follows the course's structure. Several edits in one go (a package
    import) pass ``recompute=False`` and recompute once on the final structure, so no
    enrolment is judged on a half-edited course."""
    course.updated_at = utcnow()
    if recompute and course.is_published:
        recompute_course(dbs, course)


# ---------------------------------------------------------------- modules

def _next_position(dbs: Session, column: Any, *where: Any) -> int:
    return (dbs.scalar(select(func.max(column)).where(*where)) or 0) + 1


def _module_title(title: str) -> str:
    title = clean(title)
    if not title:
        raise DomainError(_("A module needs a title."), field="title")
    if len(title) > 255:
        raise DomainError(_("The title must be at most %(n)d characters.", n=255), field="title")
    return title


def add_module(dbs: Session, actor: Any, course: Course, title: str) -> Module:
    title = _module_title(title)
    module = Module(course_id=course.id, title=title,
                    position=_next_position(dbs, Module.position, Module.course_id == course.id))
    dbs.add(module)
    dbs.flush()
    record(dbs, actor, "module.created", course, label=course.title, module=title)
    return module


def rename_module(dbs: Session, actor: Any, module: Module, title: str) -> None:
    title = _module_title(title)
    if title == module.title:
        return
    old, module.title = module.title, title
    module.course.updated_at = utcnow()
    dbs.flush()
    record(dbs, actor, "module.renamed", module.course, label=module.course.title,
           old=old, module=title)


def set_module_archived(dbs: Session, actor: Any, module: Module, archived: bool, *,
                        recompute: bool = True) -> None:
    module.is_archived = archived
    dbs.flush()
    record(dbs, actor, "module.archived" if archived else "module.restored", module.course,
           label=module.course.title, module=module.title)
    _structure_changed(dbs, module.course, recompute)


def move_module(dbs: Session, actor: Any, module: Module, direction: int) -> None:
    """Swap a module with its neighbour (direction -1: up, +1: down)."""
    siblings = list(dbs.scalars(select(Module).where(
        Module.course_id == module.course_id).order_by(Module.position, Module.id)))
    _swap(siblings, module, direction)
    module.course.updated_at = utcnow()
    dbs.flush()
    record(dbs, actor, "module.moved", module.course, label=module.course.title,
           module=module.title, direction=direction)


def _swap(items: list, item: Any, direction: int) -> None:
    for position, each in enumerate(items, start=1):
        each.position = position
    index = items.index(item)
    other = index + direction
    if 0 <= other < len(items):
        items[index].position, items[other].position = items[other].position, items[index].position


# ---------------------------------------------------------------- lessons

@dataclass
class LessonData:
    title: str
    kind: str = LessonKind.TEXT.value
    body: str = ""
    url: str = ""
    media_id: int | None = None
    is_required: bool = True
    complete_on_video_end: bool = False
    estimated_minutes: int = 5
    key: str = ""


def _check_lesson(dbs: Session, course: Course, data: LessonData,
                  lesson: Lesson | None = None) -> LessonData:
    """Validate a lesson; a key derived from the title is made unique, a typed key must be."""
    key_typed = bool(data.key)
    data.title = clean(data.title)
    data.url = (data.url or "").strip()
    if not data.title:
        raise DomainError(_("A lesson needs a title."), field="title")
    if len(data.title) > 255:
        raise DomainError(_("The title must be at most %(n)d characters.", n=255), field="title")
    if len(data.url) > 1000:
        raise DomainError(_("The address must be at most %(n)d characters.", n=1000), field="url")
    if data.kind not in {k.value for k in LessonKind}:
        raise DomainError(_("Unknown kind of lesson."), field="kind")
    if not 1 <= (data.estimated_minutes or 0) <= 600:
        raise DomainError(_("The estimated time must be between 1 and 600 minutes."),
                          field="estimated_minutes")
    if data.kind == LessonKind.LINK.value and not re.match(r"^https?://[^\s]+$", data.url):
        raise DomainError(_("A link lesson needs an address starting with https:// or http://."),
                          field="url")
    media = dbs.get(MediaFile, data.media_id) if data.media_id else None
    if data.media_id and (media is None or media.course_id != course.id):
        raise DomainError(_("Choose a file of this course."), field="media_id")
    if data.kind == LessonKind.VIDEO.value and (media is None or
                                                media_storage.kind_of(media.content_type) != "video"):
        raise DomainError(_("A video lesson needs a video file (.mp4 or .webm) of this course."),
                          field="media_id")
    if data.kind == LessonKind.FILE.value and media is None:
        raise DomainError(_("A file lesson needs a file of this course."), field="media_id")
    if data.kind != LessonKind.VIDEO.value:
        data.complete_on_video_end = False
    data.key = slugify(data.key or data.title, limit=80)
    clash = dbs.scalar(select(Lesson.id).where(Lesson.course_id == course.id, Lesson.key == data.key))
    if clash is not None and (lesson is None or clash != lesson.id):
        if lesson is None and not key_typed:
            data.key = _free_key(dbs, course.id, data.key)
        else:
            raise DomainError(_("Another lesson of this course already uses the key %(key)s.",
                                key=data.key), field="key")
    return data


def _free_key(dbs: Session, course_id: int, base: str) -> str:
    taken = set(dbs.scalars(select(Lesson.key).where(Lesson.course_id == course_id)))
    n = 2
    while f"{base[:75]}-{n}" in taken:
        n += 1
    return f"{base[:75]}-{n}"


def add_lesson(dbs: Session, actor: Any, module: Module, data: LessonData, *,
               recompute: bool = True) -> Lesson:
    course = module.course
    data = _check_lesson(dbs, course, data)
    lesson = Lesson(
        course_id=course.id, module_id=module.id, key=data.key, title=data.title, kind=data.kind,
        body=data.body, url=data.url, media_id=data.media_id, is_required=data.is_required,
        complete_on_video_end=data.complete_on_video_end,
        estimated_minutes=data.estimated_minutes,
        position=_next_position(dbs, Lesson.position, Lesson.module_id == module.id))
    dbs.add(lesson)
    dbs.flush()
    record(dbs, actor, "lesson.created", course, label=course.title, lesson=lesson.title)
    _structure_changed(dbs, course, recompute)
    return lesson


def update_lesson(dbs: Session, actor: Any, lesson: Lesson, data: LessonData, *,
                  recompute: bool = True) -> None:
    course = lesson.module.course
    data.key = data.key or lesson.key
    data = _check_lesson(dbs, course, data, lesson)
    requirement_changed = lesson.is_required != data.is_required
    for field in ("key", "title", "kind", "body", "url", "media_id", "is_required",
                  "complete_on_video_end", "estimated_minutes"):
        setattr(lesson, field, getattr(data, field))
    dbs.flush()
    record(dbs, actor, "lesson.updated", course, label=course.title, lesson=lesson.title)
    if requirement_changed:
        _structure_changed(dbs, course, recompute)


def set_lesson_archived(dbs: Session, actor: Any, lesson: Lesson, archived: bool, *,
                        recompute: bool = True) -> None:
    lesson.is_archived = archived
    dbs.flush()
    course = lesson.module.course
    record(dbs, actor, "lesson.archived" if archived else "lesson.restored", course,
           label=course.title, lesson=lesson.title)
    _structure_changed(dbs, course, recompute)


def move_lesson(dbs: Session, actor: Any, lesson: Lesson, direction: int) -> None:
    siblings = list(dbs.scalars(select(Lesson).where(
        Lesson.module_id == lesson.module_id).order_by(Lesson.position, Lesson.id)))
    _swap(siblings, lesson, direction)
    course = lesson.module.course
    course.updated_at = utcnow()
    dbs.flush()
    record(dbs, actor, "lesson.moved", course, label=course.title, lesson=lesson.title,
           direction=direction)


def move_lesson_to_module(dbs: Session, actor: Any, lesson: Lesson, module: Module) -> None:
    """Move a lesson to the end of another module of its course (an archived module takes
    the lesson out of the course's requirements, so progress is recomputed)."""
    if module.course_id != lesson.course_id:
        raise DomainError(_("A lesson can only move to a module of the same course."))
    lesson.module_id = module.id
    lesson.position = _next_position(dbs, Lesson.position, Lesson.module_id == module.id)
    dbs.flush()
    dbs.refresh(lesson, ["module"])
    course = module.course
    record(dbs, actor, "lesson.moved", course, label=course.title, lesson=lesson.title,
           module=module.title)
    _structure_changed(dbs, course)


# ---------------------------------------------------------------- files

def add_media(dbs: Session, actor: Any, course: Course, stream: BinaryIO, filename: str) -> MediaFile:
    """Store an uploaded file for a course; a file of the same name is replaced."""
    stored = media_storage.store(stream, filename)
    media = dbs.scalar(select(MediaFile).where(
        MediaFile.course_id == course.id, MediaFile.filename == stored.filename))
    if media is None:
        media = MediaFile(course_id=course.id, filename=stored.filename)
        dbs.add(media)
    media.content_type, media.size, media.sha256 = stored.content_type, stored.size, stored.sha256
    media.uploaded_by_id = getattr(actor, "id", None)
    dbs.flush()
    record(dbs, actor, "media.uploaded", course, label=course.title, file=stored.filename,
           size=stored.size)
    return media

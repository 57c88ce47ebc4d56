"""Importing a package: create the course or update it in place, all or nothing."""

from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms.audit.services import record
from lms.courses import authoring
from lms.courses import media as media_storage
from lms.courses.models import Course, CourseStatus, Lesson, LessonKind, MediaFile, Module
from lms.courses.packages.content import PackageContent, PackageError, PackageLesson
from lms.courses.packages.sources import READ_ERRORS
from lms.courses.services import recompute_course
from lms.db import utcnow
from lms.quizzes import packaging as quiz_packaging
from lms.text import clean

# ---------------------------------------------------------------- importing

@dataclass
class ImportResult:
    course: Course
    created: bool
    lessons_added: int = 0
    lessons_updated: int = 0
    lessons_archived: int = 0
    lessons_unchanged: int = 0
    files_stored: int = 0
    modules_changed: int = 0
    fields_changed: list[str] = field(default_factory=list)
    questions_added: int = 0
    questions_updated: int = 0
    questions_archived: int = 0
    questions_unchanged: int = 0
    quizzes_added: int = 0
    quizzes_updated: int = 0
    quizzes_archived: int = 0
    quizzes_unchanged: int = 0

    @property
    def changed_anything(self) -> bool:
        return bool(self.created or self.lessons_added or self.lessons_updated
                    or self.lessons_archived or self.files_stored or self.modules_changed
                    or self.fields_changed or self.questions_added or self.questions_updated
                    or self.questions_archived or self.quizzes_added or self.quizzes_updated
                    or self.quizzes_archived)

    @property
    def has_quiz_changes(self) -> bool:
        return any((self.questions_added, self.questions_updated, self.questions_archived,
                    self.questions_unchanged, self.quizzes_added, self.quizzes_updated,
                    self.quizzes_archived, self.quizzes_unchanged))

    def quiz_summary(self) -> str:
        """The questions' and quizzes' counts, for the import page and ``lms import-course``."""
        return _("%(added)d questions added, %(updated)d updated, %(archived)d archived, "
                 "%(unchanged)d unchanged; %(quizzes_added)d quizzes added, %(quizzes_updated)d "
                 "updated, %(quizzes_archived)d archived, %(quizzes_unchanged)d unchanged.",
                 added=self.questions_added, updated=self.questions_updated,
                 archived=self.questions_archived, unchanged=self.questions_unchanged,
                 quizzes_added=self.quizzes_added, quizzes_updated=self.quizzes_updated,
                 quizzes_archived=self.quizzes_archived, quizzes_unchanged=self.quizzes_unchanged)


def _import_media(dbs: Session, actor: Any, course: Course, content: PackageContent,
                  result: ImportResult) -> dict[str, int]:
    existing = {m.filename: m for m in dbs.scalars(
        select(MediaFile).where(MediaFile.course_id == course.id))}
    ids: dict[str, int] = {}
    for item in content.media:
        current = existing.get(item.filename)
        if (current is not None and current.sha256 == item.sha256
                and media_storage.path_for(item.sha256).is_file()):
            ids[item.filename] = current.id
            continue
        try:
            with item.open() as stream:
                stored = authoring.add_media(dbs, actor, course, stream, item.filename)
        except READ_ERRORS as exc:
            raise PackageError(_("media/%(name)s cannot be read: the package is damaged.",
                                 name=item.filename)) from exc
        if stored.sha256 != item.sha256:
            raise PackageError(_("media/%(name)s changed while the package was being imported; "
                                 "import it again.", name=item.filename))
        ids[item.filename] = stored.id
        result.files_stored += 1
    return ids


def _lesson_data(item: PackageLesson, media_ids: dict[str, int]) -> authoring.LessonData:
    return authoring.LessonData(
        key=item.key, title=item.title, kind=item.kind, body=item.body, url=item.url,
        media_id=media_ids[item.media] if item.media else None, is_required=item.required,
        complete_on_video_end=item.complete_on_video_end, estimated_minutes=item.minutes)


def _differs(lesson: Lesson, data: authoring.LessonData) -> bool:
    on_video_end = data.complete_on_video_end and data.kind == LessonKind.VIDEO.value
    body = lesson.body.replace("\r\n", "\n")  # typed in a browser (CRLF) or read from a file (LF)
    return (lesson.title, lesson.kind, body, lesson.url, lesson.media_id, lesson.is_required,
            lesson.complete_on_video_end, lesson.estimated_minutes) != (
        clean(data.title), data.kind, data.body, data.url.strip(), data.media_id,
        data.is_required, on_video_end, data.estimated_minutes)


def _import_structure(dbs: Session, actor: Any, course: Course, content: PackageContent,
                      media_ids: dict[str, int], result: ImportResult) -> None:
    modules = list(dbs.scalars(select(Module).where(Module.course_id == course.id)
                               .order_by(Module.is_archived, Module.position, Module.id)))
    lessons = list(dbs.scalars(select(Lesson).where(Lesson.course_id == course.id)
                               .order_by(Lesson.position, Lesson.id)))
    by_key = {lesson.key: lesson for lesson in lessons}
    # Each module's active lessons before the import, to tell which ones moved.
    module_keys: dict[int, list[str]] = {}
    for lesson in lessons:
        if not lesson.is_archived:
            module_keys.setdefault(lesson.module_id, []).append(lesson.key)
    before = {key: (module_id, keys) for module_id, keys in module_keys.items() for key in keys}

    placed: list[Module] = []
    for index, spec in enumerate(content.modules):
        if index < len(modules):
            module = modules[index]
            if module.title != clean(spec.title):
                authoring.rename_module(dbs, actor, module, spec.title)
                result.modules_changed += 1
            if module.is_archived:
                authoring.set_module_archived(dbs, actor, module, False, recompute=False)
                result.modules_changed += 1
        else:
            module = authoring.add_module(dbs, actor, course, spec.title)
            result.modules_changed += 1
        placed.append(module)
    extra = modules[len(content.modules):]
    for module in extra:
        if not module.is_archived:
            authoring.set_module_archived(dbs, actor, module, True, recompute=False)
            result.modules_changed += 1

    order: dict[int, list[Lesson]] = {}
    for module, spec in zip(placed, content.modules, strict=True):
        keys = [item.key for item in spec.lessons]
        for item in spec.lessons:
            data = _lesson_data(item, media_ids)
            lesson = by_key.get(item.key)
            if lesson is None:
                lesson = authoring.add_lesson(dbs, actor, module, data, recompute=False)
                result.lessons_added += 1
            else:
                old_module, old_keys = before.get(item.key, (None, []))
                kept_before = [k for k in old_keys if k in keys]
                kept_now = [k for k in keys if k in old_keys]
                moved = old_module != module.id or (
                    kept_before.index(item.key) != kept_now.index(item.key))
                changed = _differs(lesson, data)
                if lesson.module_id != module.id:
                    lesson.module = module
                    dbs.flush()
                if changed:
                    authoring.update_lesson(dbs, actor, lesson, data, recompute=False)
                if lesson.is_archived:
                    authoring.set_lesson_archived(dbs, actor, lesson, False, recompute=False)
                if moved or changed:
                    result.lessons_updated += 1
                else:
                    result.lessons_unchanged += 1
            order.setdefault(module.id, []).append(lesson)

    wanted = {item.key for item in content.lessons}
    for lesson in lessons:
        if lesson.key not in wanted and not lesson.is_archived:
            authoring.set_lesson_archived(dbs, actor, lesson, True, recompute=False)
            result.lessons_archived += 1

    for position, module in enumerate(placed + extra, start=1):
        module.position = position
        listed = order.get(module.id, [])
        rest = [lesson for lesson in lessons
                if lesson.module_id == module.id and lesson.key not in wanted]
        for lesson_position, lesson in enumerate(listed + rest, start=1):
            lesson.position = lesson_position
    dbs.flush()


def import_package(dbs: Session, actor: Any, content: PackageContent) -> ImportResult:
    """Create the course of a package, or update the course with its slug in place.

    All or nothing (one savepoint). Modules are matched by position (renamed, added, and
    extra ones archived), lessons by key (updated and moved, added, and those no longer in
    the package archived, never deleted, so learners keep their progress; archived lessons
    that are back are restored); media files are stored by name (the same name replaces).
    With a quizzes.yaml, the question bank and quizzes follow it the same way (questions
    matched by name, quizzes by key, the rest archived: lms.quizzes.packaging); without
    one, the course's bank and quizzes are left as they are.
    A new course is published when the package says ``status: published``; an existing one
    keeps its status. Open enrolments of a published course are recomputed once, at the end.
    """
    with dbs.begin_nested():
        course = dbs.scalar(select(Course).where(Course.slug == content.slug))
        created = course is None
        data = authoring.CourseData(
            slug=content.slug, title=content.title, summary=content.summary,
            outcomes="\n".join(content.outcomes), topic=content.topic, language=content.language,
            estimated_minutes=content.estimated_minutes, certificate_enabled=content.certificate,
            validity_months=content.validity_months)
        fields: list[str] = []
        if created:
            course = authoring.create_course(dbs, actor, data)
        else:
            fields = authoring.update_course(dbs, actor, course, data)
        result = ImportResult(course=course, created=created, fields_changed=fields)
        media_ids = _import_media(dbs, actor, course, content, result)
        _import_structure(dbs, actor, course, content, media_ids, result)
        if content.has_quizzes:
            quiz_packaging.import_quizzes(dbs, actor, course, content.questions, content.quizzes,
                                          result)
        if not result.changed_anything:
            return result  # the same package again: nothing to write, nothing to record
        course.updated_at = utcnow()
        dbs.flush()
        if created and content.status == CourseStatus.PUBLISHED.value:
            authoring.set_course_status(dbs, actor, course, CourseStatus.PUBLISHED.value)
        elif course.is_published:  # once, on the final structure
            recompute_course(dbs, course)
        record(dbs, actor, "course.imported", course, label=course.title, slug=course.slug,
               created=created, added=result.lessons_added, updated=result.lessons_updated,
               archived=result.lessons_archived, files=result.files_stored,
               questions_added=result.questions_added, questions_updated=result.questions_updated,
               questions_archived=result.questions_archived, quizzes_added=result.quizzes_added,
               quizzes_updated=result.quizzes_updated, quizzes_archived=result.quizzes_archived)
        dbs.flush()
    return result

"""Reading a package: everything is checked before anything is written."""

from pathlib import Path
from typing import Any
from urllib.parse import unquote

from flask_babel import gettext as _
from markdown_it import MarkdownIt

from lms.courses import authoring
from lms.courses import media as media_storage
from lms.courses.models import TOPICS, CourseStatus, LessonKind
from lms.courses.packages.constants import (
    COURSE_FIELDS,
    FORMAT,
    KEY_RE,
    KINDS,
    LANGUAGES,
    LESSON_FIELDS,
    MAX_LESSON_BYTES,
    MODULE_FIELDS,
    STATUSES,
    URL_RE,
)
from lms.courses.packages.content import (
    PackageContent,
    PackageError,
    PackageLesson,
    PackageMedia,
    PackageModule,
)
from lms.courses.packages.manifest import Fields, load_manifest, show_value
from lms.courses.packages.sources import FolderSource, ZipSource, open_source, scan, size_text
from lms.errors import DomainError
from lms.quizzes import packaging as quiz_packaging
from lms.text import clean

# ---------------------------------------------------------------- reading a package

_markdown = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def _media_references(body: str) -> set[str]:
    """The ``media/<name>`` images and links of a lesson, as the lesson page resolves them."""
    found: set[str] = set()

    def walk(tokens: list) -> None:
        for token in tokens:
            for attr in ("src", "href"):
                value = token.attrGet(attr)
                if isinstance(value, str) and value.startswith("media/"):
                    found.add(unquote(value[len("media/"):]))  # the parser %-encodes non-ASCII
            if token.children:
                walk(token.children)
    walk(_markdown.parse(body or ""))
    return found


def _list_media(source: FolderSource | ZipSource) -> dict[str, media_storage.FileType]:
    """The files under media/ by name, with their type (checked by name only: cheap)."""
    files: dict[str, media_storage.FileType] = {}
    for path in source.media_paths():
        name = path[len("media/"):]
        if name.startswith("."):  # .DS_Store, .gitkeep
            continue
        if "/" in name:
            raise PackageError(_("%(path)s: media/ may hold files only, not folders.", path=path))
        try:
            safe = media_storage.safe_filename(name)
        except DomainError:
            safe = ""
        if safe != name:
            raise PackageError(_("%(path)s: rename the file to %(name)s (letters, digits, hyphens, "
                                 "underscores and an extension).", path=path,
                                 name=f"media/{safe}" if safe else "media/name.ext"))
        try:
            file_type = media_storage.file_type_for(name)
        except DomainError as exc:
            raise PackageError(_("%(path)s: files of this type cannot be imported. Allowed: "
                                 "%(types)s.", path=path,
                                 types=", ".join(sorted(media_storage.FILE_TYPES)))) from exc
        files[name] = file_type
    return files


def _check_media(source: FolderSource | ZipSource,
                 types: dict[str, media_storage.FileType]) -> tuple[PackageMedia, ...]:
    """Read every media file through: size limit, content matching the name, sha256."""
    files = []
    for name, file_type in sorted(types.items()):
        path = f"media/{name}"
        _data, size, sha, head = scan(source, path, media_storage.size_limit(file_type.kind),
                                       keep=False)
        if size == 0:
            raise PackageError(_("%(path)s is empty.", path=path))
        if file_type.magic and not any(head[file_type.magic_offset:].startswith(m)
                                       for m in file_type.magic):
            raise PackageError(_("%(path)s: the content does not match its .%(ext)s name.",
                                 path=path, ext=file_type.extension))
        files.append(PackageMedia(filename=name, size=size, sha256=sha, kind=file_type.kind,
                                  opener=lambda path=path: source.open(path)))
    return tuple(files)


def _read_body(source: FolderSource | ZipSource, path: str, where: str) -> str:
    if not path.endswith(".md"):
        raise PackageError(_("%(where)s: file must be a Markdown file (.md), not %(path)s.",
                             where=where, path=path))
    if source.size(path) is None:
        raise PackageError(_("%(where)s: the file %(path)s is not in the package.", where=where,
                             path=path))
    raw, _size, _sha, _head = scan(source, path, MAX_LESSON_BYTES, keep=True)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PackageError(_("%(path)s is not UTF-8 text (line %(line)d); save it as UTF-8.",
                             path=path, line=raw[:exc.start].count(b"\n") + 1)) from exc
    return text.replace("\r\n", "\n")


def _read_lesson(source: FolderSource | ZipSource, raw: Any, where: str,
                 media: dict[str, media_storage.FileType]) -> PackageLesson:
    given = raw.get("key") if isinstance(raw, dict) else None
    if isinstance(given, str) and KEY_RE.match(given) and len(given) <= 80:
        where = _("course.yaml, lesson %(key)s", key=given)
    fields = Fields(raw, where, LESSON_FIELDS)
    key = fields.text("key", max_length=80)
    if not KEY_RE.match(key):
        raise PackageError(_("%(where)s: key %(value)s may use only a–z, 0–9 and single hyphens.",
                             where=where, value=show_value(key)))
    title = fields.text("title")
    if not clean(title):
        raise PackageError(_("%(where)s: title is empty.", where=where))
    kind = fields.choice("kind", KINDS)
    url = fields.text("url", required=kind == LessonKind.LINK.value, max_length=1000).strip()
    if url and not URL_RE.match(url):
        raise PackageError(_("%(where)s: url must start with https:// or http://, not %(value)s.",
                             where=where, value=show_value(url)))
    media_path = fields.path("media")
    media_name = None
    if media_path is not None:
        if not media_path.startswith("media/") or "/" in media_path[len("media/"):]:
            raise PackageError(_("%(where)s: media must be a file directly in media/, such as "
                                 "media/video.webm, not %(value)s.", where=where,
                                 value=show_value(media_path)))
        media_name = media_path[len("media/"):]
        if media_name not in media:
            raise PackageError(_("%(where)s: the file %(path)s is not in the package.",
                                 where=where, path=media_path))
    if kind in (LessonKind.VIDEO.value, LessonKind.FILE.value) and media_name is None:
        raise PackageError(_("%(where)s: a %(kind)s lesson needs media: the file under media/.",
                             where=where, kind=kind))
    if kind == LessonKind.VIDEO.value and media[media_name].kind != "video":
        raise PackageError(_("%(where)s: a video lesson needs an .mp4 or .webm file, not %(path)s.",
                             where=where, path=media_path))
    on_video_end = fields.flag("complete_on_video_end", default=False)
    if on_video_end and kind != LessonKind.VIDEO.value:
        raise PackageError(_("%(where)s: complete_on_video_end is only for video lessons.",
                             where=where))
    file_path = fields.path("file")
    if file_path is None and kind == LessonKind.TEXT.value:
        raise PackageError(_("%(where)s: a text lesson needs file: its Markdown, such as "
                             "lessons/01-%(key)s.md.", where=where, key=key))
    body = _read_body(source, file_path, where) if file_path else ""
    missing = sorted(_media_references(body) - set(media))
    if missing:
        raise PackageError(_("%(where)s: %(path)s refers to media/%(name)s, which is not in the "
                             "package.", where=where, path=file_path, name=missing[0]))
    return PackageLesson(
        key=key, title=title, kind=kind, body=body, url=url, media=media_name,
        required=fields.flag("required", default=True), complete_on_video_end=on_video_end,
        minutes=fields.whole("minutes", 1, 600))


def read_package(source: str | Path | bytes, max_bytes: int) -> PackageContent:
    """Read and check a whole package (a folder, a .zip file, or .zip bytes); writes nothing.

    Raises PackageError naming the first problem: a missing or invalid course.yaml, a field
    of the wrong type or value, a duplicate lesson key, a lesson file or media file missing
    or of a refused type, text that is not UTF-8, a path or .zip member that points
    outside the package, or a problem in quizzes.yaml (lms.quizzes.packaging); .zip files
    past ``max_bytes`` unpacked or ``MAX_MEMBERS`` files are refused before anything in them
    is read. Needs the app (the file size limits are settings).
    """
    package = open_source(source, max_bytes)
    data = load_manifest(package)
    top = Fields(data, "course.yaml", COURSE_FIELDS)
    version = data.get("format")
    if version != FORMAT or isinstance(version, bool):
        if version is None:
            raise PackageError(_("course.yaml: the field format is missing (write format: 1)."))
        raise PackageError(_("course.yaml: format %(value)s is not known here; this server reads "
                             "format 1.", value=show_value(version)))
    slug = top.text("slug", max_length=80)
    if not authoring.SLUG_RE.match(slug):
        raise PackageError(_("course.yaml: slug %(value)s may use only a–z, 0–9 and hyphens "
                             "(3 to 80 characters).", value=show_value(slug)))
    title = top.text("title")
    outcomes = []
    for number, outcome in enumerate(top.items("outcomes", required=False), start=1):
        if not isinstance(outcome, str) or not clean(outcome):
            raise PackageError(_("course.yaml: outcome %(number)d must be a sentence of text, not "
                                 "%(value)s.", number=number, value=show_value(outcome)))
        outcomes.append(clean(outcome))
    common = dict(
        slug=slug, title=title, language=top.choice("language", LANGUAGES),
        topic=top.choice("topic", TOPICS), estimated_minutes=top.whole("estimated_minutes", 1, 6000),
        certificate=top.flag("certificate", required=True),
        summary=top.text("summary", required=False, max_length=10000).strip(),
        outcomes=tuple(outcomes), validity_months=top.whole("validity_months", 1, 120,
                                                            required=False),
        status=top.choice("status", STATUSES, required=False, default=CourseStatus.DRAFT.value))
    raw_modules = top.items("modules")
    if not raw_modules:
        raise PackageError(_("course.yaml: modules is empty; a course needs at least one module."))

    media_types = _list_media(package)
    modules, keys = [], set()
    for number, raw_module in enumerate(raw_modules, start=1):
        fields = Fields(raw_module, _("course.yaml, module %(number)d", number=number),
                         MODULE_FIELDS)
        module_title = fields.text("title")
        lessons = []
        for place, raw_lesson in enumerate(fields.items("lessons", required=False), start=1):
            where = _("course.yaml, module %(module)d, lesson %(number)d", module=number,
                      number=place)
            key = raw_lesson.get("key") if isinstance(raw_lesson, dict) else None
            if isinstance(key, str) and key in keys:
                raise PackageError(_("course.yaml: two lessons have the key %(key)s; each lesson "
                                     "needs its own key.", key=key))
            lesson = _read_lesson(package, raw_lesson, where, media_types)
            keys.add(lesson.key)
            lessons.append(lesson)
        modules.append(PackageModule(title=module_title, lessons=tuple(lessons)))
    if common["status"] == CourseStatus.PUBLISHED.value and not keys:
        raise PackageError(_("course.yaml: a published course needs at least one lesson."))
    if isinstance(package, FolderSource):
        total = sum(package.size(f"media/{name}") or 0 for name in media_types) + sum(
            len(lesson.body.encode()) for module in modules for lesson in module.lessons)
        if total > max_bytes:
            raise PackageError(_("The package holds %(size)s, more than the %(limit)s allowed.",
                                 size=size_text(total), limit=size_text(max_bytes)))
    quizzes = quiz_packaging.read_quizzes(package)
    return PackageContent(**common, modules=tuple(modules),
                          media=_check_media(package, media_types),
                          has_quizzes=quizzes is not None,
                          questions=quizzes.questions if quizzes else (),
                          quizzes=quizzes.quizzes if quizzes else ())

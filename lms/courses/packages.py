"""Course packages: a course as a folder, or a .zip, of course.yaml, lessons/*.md and media/*.

``read_package`` reads and checks a whole package and writes nothing; ``import_package``
creates the course, or updates the course with the same slug in place, all or nothing;
``export_package`` / ``write_package`` / ``export_to_folder`` write one. The format is
docs/course-package.md, plus an optional top-level ``status: draft | published`` that a
newly created course takes (an existing course keeps its status).
"""
from __future__ import annotations

import hashlib
import io
import posixpath
import re
import shutil
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, ContextManager, Iterator
from urllib.parse import unquote

import yaml
from flask_babel import gettext as _
from markdown_it import MarkdownIt
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms.audit.services import record
from lms.courses import authoring
from lms.courses import media as media_storage
from lms.courses.models import TOPICS, Course, CourseStatus, Lesson, LessonKind, MediaFile, Module
from lms.courses.services import recompute_course
from lms.db import utcnow
from lms.errors import DomainError
from lms.text import clean

FORMAT = 1
MANIFEST = "course.yaml"
MAX_MEMBERS = 5000
MAX_MANIFEST_BYTES = 1024 * 1024
MAX_LESSON_BYTES = 2 * 1024 * 1024
CHUNK = 1024 * 1024
LANGUAGES = ("vi", "en")
KINDS = tuple(k.value for k in LessonKind)
STATUSES = (CourseStatus.DRAFT.value, CourseStatus.PUBLISHED.value)
KEY_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
URL_RE = re.compile(r"^https?://[^\s]+$")
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
COURSE_FIELDS = ("format", "slug", "language", "title", "summary", "outcomes", "topic",
                 "estimated_minutes", "certificate", "validity_months", "status", "modules")
MODULE_FIELDS = ("title", "lessons")
LESSON_FIELDS = ("key", "title", "kind", "url", "media", "complete_on_video_end", "file",
                 "minutes", "required")


class PackageError(DomainError):
    """The package cannot be read, imported or exported; the message names the file,
    field or lesson at fault."""


# ---------------------------------------------------------------- what a package holds

@dataclass(frozen=True)
class PackageLesson:
    key: str
    title: str
    kind: str
    body: str = ""
    url: str = ""
    media: str | None = None  # a file name in media/
    required: bool = True
    complete_on_video_end: bool = False
    minutes: int = 5


@dataclass(frozen=True)
class PackageModule:
    title: str
    lessons: tuple[PackageLesson, ...] = ()


@dataclass(frozen=True)
class PackageMedia:
    """A file under media/, checked (type, content, size) and hashed; ``open()`` reads it again."""

    filename: str
    size: int
    sha256: str
    kind: str
    opener: Callable[[], ContextManager[BinaryIO]] = field(repr=False, compare=False)

    def open(self) -> ContextManager[BinaryIO]:
        return self.opener()


@dataclass(frozen=True)
class PackageContent:
    slug: str
    title: str
    language: str
    topic: str
    estimated_minutes: int
    certificate: bool
    summary: str = ""
    outcomes: tuple[str, ...] = ()
    validity_months: int | None = None
    status: str = CourseStatus.DRAFT.value
    modules: tuple[PackageModule, ...] = ()
    media: tuple[PackageMedia, ...] = ()

    @property
    def lessons(self) -> list[PackageLesson]:
        return [lesson for module in self.modules for lesson in module.lessons]


# ---------------------------------------------------------------- where the files come from

READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError)


def _size_text(size: int) -> str:
    return f"{size / 1024:.0f} KB" if size < 1024 * 1024 else f"{size / (1024 * 1024):.0f} MB"


def _unsafe_name(name: str) -> bool:
    normal = name.replace("\\", "/")
    return (normal.startswith("/") or bool(re.match(r"^[A-Za-z]:", normal)) or "\x00" in name
            or ".." in normal.split("/"))


class _FolderSource:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, path: str) -> Path:
        target = (self.root / path).resolve()
        if not target.is_relative_to(self.root):
            raise PackageError(_("%(path)s points outside the package folder.", path=path))
        return target

    def size(self, path: str) -> int | None:
        target = self._path(path)
        return target.stat().st_size if target.is_file() else None

    def media_paths(self) -> list[str]:
        folder = self._path("media")
        if not folder.is_dir():
            return []
        return sorted(f"media/{entry.name}" + ("/" if entry.is_dir() else "")
                      for entry in folder.iterdir())

    @contextmanager
    def open(self, path: str) -> Iterator[BinaryIO]:
        with open(self._path(path), "rb") as stream:
            yield stream


class _ZipSource:
    """A .zip checked member by member before anything in it is read."""

    def __init__(self, opener: Callable[[], zipfile.ZipFile], max_bytes: int) -> None:
        self._opener = opener
        try:
            with opener() as archive:
                infos = archive.infolist()
        except READ_ERRORS as exc:
            raise PackageError(_("The file is not a .zip course package, or it is damaged.")) from exc
        if len(infos) > MAX_MEMBERS:
            raise PackageError(_("The .zip holds %(count)d files; a package may hold at most "
                                 "%(limit)d.", count=len(infos), limit=MAX_MEMBERS))
        members: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            if _unsafe_name(info.filename) or _unsafe_name(info.orig_filename):
                raise PackageError(_("The .zip holds %(path)s, which points outside the package.",
                                     path=info.orig_filename.replace("\x00", "")))
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise PackageError(_("The .zip holds %(path)s, a symbolic link; packages may hold "
                                     "only files and folders.", path=info.filename))
            if info.flag_bits & 0x1:
                raise PackageError(_("The .zip holds %(path)s, which is encrypted; packages cannot "
                                     "have passwords.", path=info.filename))
            if info.is_dir():
                continue
            name = info.filename.replace("\\", "/")
            if name in members:
                raise PackageError(_("The .zip holds %(path)s twice.", path=name))
            members[name] = info
            total += info.file_size
        if total > max_bytes:
            raise PackageError(_("The package unpacks to %(size)s, more than the %(limit)s allowed.",
                                 size=_size_text(total), limit=_size_text(max_bytes)))
        prefix = ""
        if MANIFEST not in members:  # accept one top-level folder (<slug>/course.yaml)
            tops = {name.split("/", 1)[0] for name in members if not name.startswith("__MACOSX/")}
            if len(tops) == 1 and f"{next(iter(tops))}/{MANIFEST}" in members:
                prefix = f"{next(iter(tops))}/"
        self.members = {name[len(prefix):]: info for name, info in members.items()
                        if name.startswith(prefix)}

    def size(self, path: str) -> int | None:
        info = self.members.get(path)
        return info.file_size if info else None

    def media_paths(self) -> list[str]:
        return sorted(name for name in self.members if name.startswith("media/"))

    @contextmanager
    def open(self, path: str) -> Iterator[BinaryIO]:
        with self._opener() as archive, archive.open(self.members[path]) as stream:
            yield stream


def _source(source: str | Path | bytes, max_bytes: int) -> _FolderSource | _ZipSource:
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
        if len(data) > max_bytes:
            raise PackageError(_("The package is larger than %(limit)s.", limit=_size_text(max_bytes)))
        return _ZipSource(lambda: zipfile.ZipFile(io.BytesIO(data)), max_bytes)
    path = Path(source)
    if path.is_dir():
        return _FolderSource(path)
    if not path.is_file():
        raise PackageError(_("%(path)s is neither a package folder nor a .zip file.", path=str(path)))
    if path.stat().st_size > max_bytes:
        raise PackageError(_("The package is larger than %(limit)s.", limit=_size_text(max_bytes)))
    return _ZipSource(lambda: zipfile.ZipFile(path), max_bytes)


def _scan(source: _FolderSource | _ZipSource, path: str, limit: int,
          keep: bool) -> tuple[bytes, int, str, bytes]:
    """Read a file through (content if ``keep``, size, sha256, first bytes), refusing it
    past ``limit`` bytes, whatever its header claims."""
    digest, size, head, parts = hashlib.sha256(), 0, b"", []
    try:
        with source.open(path) as stream:
            while chunk := stream.read(CHUNK):
                head = head or chunk[:64]
                size += len(chunk)
                if size > limit:
                    raise PackageError(_("%(path)s is larger than %(limit)s.", path=path,
                                         limit=_size_text(limit)))
                digest.update(chunk)
                if keep:
                    parts.append(chunk)
    except READ_ERRORS as exc:
        raise PackageError(_("%(path)s cannot be read: the package is damaged or unreadable.",
                             path=path)) from exc
    return b"".join(parts), size, digest.hexdigest(), head


# ---------------------------------------------------------------- course.yaml

class _Loader(yaml.SafeLoader):
    """safe_load that refuses a field given twice (YAML would silently keep the last)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> dict:
        seen = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the field {key} is given twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return _("a set of fields")
    if isinstance(value, list):
        return _("a list")
    text = f'"{value}"' if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "…"


class _Fields:
    """Typed reads from one mapping of course.yaml; every error says where the field is."""

    def __init__(self, raw: Any, where: str, known: tuple[str, ...]) -> None:
        self.where = where
        if not isinstance(raw, dict):
            raise PackageError(_("%(where)s must be a set of fields (name: value), not %(value)s.",
                                 where=where, value=_show(raw)))
        unknown = sorted(str(name) for name in raw if name not in known)
        if unknown:
            raise PackageError(_("%(where)s: unknown field %(field)s.", where=where, field=unknown[0]))
        self.raw = raw

    def _wrong(self, name: str, expected: str) -> PackageError:
        return PackageError(_("%(where)s: %(field)s must be %(expected)s, not %(value)s.",
                              where=self.where, field=name, expected=expected,
                              value=_show(self.raw[name])))

    def _get(self, name: str, required: bool) -> Any:
        value = self.raw.get(name)
        if value is None and required:
            raise PackageError(_("%(where)s: the field %(field)s is missing.", where=self.where,
                                 field=name))
        return value

    def text(self, name: str, *, required: bool = True, max_length: int = 255) -> str:
        value = self._get(name, required)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self._wrong(name, _("text (put it in quotes)"))
        if required and not value.strip():
            raise PackageError(_("%(where)s: %(field)s is empty.", where=self.where, field=name))
        if len(value) > max_length:
            raise PackageError(_("%(where)s: %(field)s is longer than %(limit)d characters.",
                                 where=self.where, field=name, limit=max_length))
        return value

    def whole(self, name: str, low: int, high: int, *, required: bool = True) -> int | None:
        value = self._get(name, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong(name, _("a whole number"))
        if not low <= value <= high:
            raise PackageError(_("%(where)s: %(field)s must be between %(low)d and %(high)d, "
                                 "not %(value)d.", where=self.where, field=name, low=low,
                                 high=high, value=value))
        return value

    def flag(self, name: str, *, required: bool = False, default: bool = True) -> bool:
        value = self._get(name, required)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._wrong(name, _("true or false"))
        return value

    def choice(self, name: str, choices: tuple[str, ...], *, required: bool = True,
               default: str = "") -> str:
        value = self._get(name, required)
        if value is None:
            return default
        if not isinstance(value, str) or value not in choices:
            raise PackageError(_("%(where)s: %(field)s must be one of %(choices)s, not %(value)s.",
                                 where=self.where, field=name, choices=", ".join(choices),
                                 value=_show(value)))
        return value

    def items(self, name: str, *, required: bool = True) -> list:
        value = self._get(name, required)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._wrong(name, _("a list"))
        return value

    def path(self, name: str) -> str | None:
        value = self.text(name, required=False, max_length=255)
        if not value:
            return None
        if "\\" in value or _unsafe_name(value):
            raise PackageError(_("%(where)s: %(field)s %(value)s points outside the package; "
                                 "write a path inside it with /, such as lessons/01-intro.md.",
                                 where=self.where, field=name, value=_show(value)))
        normal = posixpath.normpath(value)
        if normal in (".", ""):
            raise self._wrong(name, _("a file in the package"))
        return normal


def _load_manifest(source: _FolderSource | _ZipSource) -> dict:
    if source.size(MANIFEST) is None:
        raise PackageError(_("The package has no course.yaml at its top level."))
    raw, _size, _sha, _head = _scan(source, MANIFEST, MAX_MANIFEST_BYTES, keep=True)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PackageError(_("course.yaml is not UTF-8 text (line %(line)d); save it as UTF-8.",
                             line=raw[:exc.start].count(b"\n") + 1)) from exc
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise PackageError(_("course.yaml is not valid YAML (line %(line)s: %(problem)s).",
                             line=mark.line + 1 if mark else "?", problem=problem)) from exc
    if not isinstance(data, dict):
        raise PackageError(_("course.yaml must be a set of fields (format, slug, title, …)."))
    return data


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


def _list_media(source: _FolderSource | _ZipSource) -> dict[str, media_storage.FileType]:
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


def _check_media(source: _FolderSource | _ZipSource,
                 types: dict[str, media_storage.FileType]) -> tuple[PackageMedia, ...]:
    """Read every media file through: size limit, content matching the name, sha256."""
    files = []
    for name, file_type in sorted(types.items()):
        path = f"media/{name}"
        _data, size, sha, head = _scan(source, path, media_storage.size_limit(file_type.kind),
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


def _read_body(source: _FolderSource | _ZipSource, path: str, where: str) -> str:
    if not path.endswith(".md"):
        raise PackageError(_("%(where)s: file must be a Markdown file (.md), not %(path)s.",
                             where=where, path=path))
    if source.size(path) is None:
        raise PackageError(_("%(where)s: the file %(path)s is not in the package.", where=where,
                             path=path))
    raw, _size, _sha, _head = _scan(source, path, MAX_LESSON_BYTES, keep=True)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PackageError(_("%(path)s is not UTF-8 text (line %(line)d); save it as UTF-8.",
                             path=path, line=raw[:exc.start].count(b"\n") + 1)) from exc
    return text.replace("\r\n", "\n")


def _read_lesson(source: _FolderSource | _ZipSource, raw: Any, where: str,
                 media: dict[str, media_storage.FileType]) -> PackageLesson:
    given = raw.get("key") if isinstance(raw, dict) else None
    if isinstance(given, str) and KEY_RE.match(given) and len(given) <= 80:
        where = _("course.yaml, lesson %(key)s", key=given)
    fields = _Fields(raw, where, LESSON_FIELDS)
    key = fields.text("key", max_length=80)
    if not KEY_RE.match(key):
        raise PackageError(_("%(where)s: key %(value)s may use only a–z, 0–9 and single hyphens.",
                             where=where, value=_show(key)))
    title = fields.text("title")
    if not clean(title):
        raise PackageError(_("%(where)s: title is empty.", where=where))
    kind = fields.choice("kind", KINDS)
    url = fields.text("url", required=kind == LessonKind.LINK.value, max_length=1000).strip()
    if url and not URL_RE.match(url):
        raise PackageError(_("%(where)s: url must start with https:// or http://, not %(value)s.",
                             where=where, value=_show(url)))
    media_path = fields.path("media")
    media_name = None
    if media_path is not None:
        if not media_path.startswith("media/") or "/" in media_path[len("media/"):]:
            raise PackageError(_("%(where)s: media must be a file directly in media/, such as "
                                 "media/video.webm, not %(value)s.", where=where,
                                 value=_show(media_path)))
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
    or of a refused type, text that is not UTF-8, or a path or .zip member that points
    outside the package; .zip files past ``max_bytes`` unpacked or ``MAX_MEMBERS`` files
    are refused before anything in them is read. Needs the app (the file size limits are
    settings).
    """
    package = _source(source, max_bytes)
    data = _load_manifest(package)
    top = _Fields(data, "course.yaml", COURSE_FIELDS)
    version = data.get("format")
    if version != FORMAT or isinstance(version, bool):
        if version is None:
            raise PackageError(_("course.yaml: the field format is missing (write format: 1)."))
        raise PackageError(_("course.yaml: format %(value)s is not known here; this server reads "
                             "format 1.", value=_show(version)))
    slug = top.text("slug", max_length=80)
    if not authoring.SLUG_RE.match(slug):
        raise PackageError(_("course.yaml: slug %(value)s may use only a–z, 0–9 and hyphens "
                             "(3 to 80 characters).", value=_show(slug)))
    title = top.text("title")
    outcomes = []
    for number, outcome in enumerate(top.items("outcomes", required=False), start=1):
        if not isinstance(outcome, str) or not clean(outcome):
            raise PackageError(_("course.yaml: outcome %(number)d must be a sentence of text, not "
                                 "%(value)s.", number=number, value=_show(outcome)))
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
        fields = _Fields(raw_module, _("course.yaml, module %(number)d", number=number),
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
    if isinstance(package, _FolderSource):
        total = sum(package.size(f"media/{name}") or 0 for name in media_types) + sum(
            len(lesson.body.encode()) for module in modules for lesson in module.lessons)
        if total > max_bytes:
            raise PackageError(_("The package holds %(size)s, more than the %(limit)s allowed.",
                                 size=_size_text(total), limit=_size_text(max_bytes)))
    return PackageContent(**common, modules=tuple(modules),
                          media=_check_media(package, media_types))


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

    @property
    def changed_anything(self) -> bool:
        return bool(self.created or self.lessons_added or self.lessons_updated
                    or self.lessons_archived or self.files_stored or self.modules_changed
                    or self.fields_changed)


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
               archived=result.lessons_archived, files=result.files_stored)
        dbs.flush()
    return result


# ---------------------------------------------------------------- exporting

class _Dumper(yaml.SafeDumper):
    """Block lists indented under their field, and several-line text as ``|`` blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)


def _represent_text(dumper: yaml.SafeDumper, value: str) -> Any:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _represent_text)

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
    text = "# Course package, format 1: see docs/course-package.md\n" + yaml.dump(
        manifest, Dumper=_Dumper, allow_unicode=True, sort_keys=False, default_flow_style=False,
        width=100)
    files.insert(0, (MANIFEST, lambda: _bytes_opener(text.encode()), True))
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
    longer part of the course are removed. Returns how many files were written."""
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
    return len(files)

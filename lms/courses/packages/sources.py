"""Where a package's files come from: a folder or a .zip, read safely."""

import hashlib
import io
import re
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from flask_babel import gettext as _

from lms.courses.packages.constants import CHUNK, MANIFEST, MAX_MEMBERS
from lms.courses.packages.content import PackageError

# ---------------------------------------------------------------- where the files come from

READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError)


def size_text(size: int) -> str:
    return f"{size / 1024:.0f} KB" if size < 1024 * 1024 else f"{size / (1024 * 1024):.0f} MB"


def unsafe_name(name: str) -> bool:
    normal = name.replace("\\", "/")
    return (normal.startswith("/") or bool(re.match(r"^[A-Za-z]:", normal)) or "\x00" in name
            or ".." in normal.split("/"))


class FolderSource:
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


class ZipSource:
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
            if unsafe_name(info.filename) or unsafe_name(info.orig_filename):
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
                                 size=size_text(total), limit=size_text(max_bytes)))
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


def open_source(source: str | Path | bytes, max_bytes: int) -> FolderSource | ZipSource:
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
        if len(data) > max_bytes:
            raise PackageError(_("The package is larger than %(limit)s.", limit=size_text(max_bytes)))
        return ZipSource(lambda: zipfile.ZipFile(io.BytesIO(data)), max_bytes)
    path = Path(source)
    if path.is_dir():
        return FolderSource(path)
    if not path.is_file():
        raise PackageError(_("%(path)s is neither a package folder nor a .zip file.", path=str(path)))
    if path.stat().st_size > max_bytes:
        raise PackageError(_("The package is larger than %(limit)s.", limit=size_text(max_bytes)))
    return ZipSource(lambda: zipfile.ZipFile(path), max_bytes)


def scan(source: FolderSource | ZipSource, path: str, limit: int,
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
                                         limit=size_text(limit)))
                digest.update(chunk)
                if keep:
                    parts.append(chunk)
    except READ_ERRORS as exc:
        raise PackageError(_("%(path)s cannot be read: the package is damaged or unreadable.",
                             path=path)) from exc
    return b"".join(parts), size, digest.hexdigest(), head

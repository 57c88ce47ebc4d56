"""Course files: checked by type and size, stored once by content outside the package.

Files live under LMS_MEDIA_PATH (default instance/media) as ``ab/abcdef…`` (their
sha256); the database row keeps the name the course uses, the type and the size.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from flask_babel import gettext as _

from lms.errors import DomainError

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class FileType:
    extension: str
    content_type: str
    kind: str  # image | video | file
    magic: tuple[bytes, ...] = ()  # accepted leading bytes (empty: text, not checked)
    magic_offset: int = 0


FILE_TYPES = {t.extension: t for t in [
    FileType("png", "image/png", "image", (b"\x89PNG\r\n\x1a\n",)),
    FileType("jpg", "image/jpeg", "image", (b"\xff\xd8\xff",)),
    FileType("jpeg", "image/jpeg", "image", (b"\xff\xd8\xff",)),
    FileType("gif", "image/gif", "image", (b"GIF87a", b"GIF89a")),
    FileType("webp", "image/webp", "image", (b"RIFF",)),
    FileType("mp4", "video/mp4", "video", (b"ftyp",), 4),
    FileType("webm", "video/webm", "video", (b"\x1a\x45\xdf\xa3",)),
    FileType("pdf", "application/pdf", "file", (b"%PDF-",)),
    FileType("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             "file", (b"PK\x03\x04",)),
    FileType("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "file", (b"PK\x03\x04",)),
    FileType("pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation",
             "file", (b"PK\x03\x04",)),
    FileType("odt", "application/vnd.oasis.opendocument.text", "file", (b"PK\x03\x04",)),
    FileType("zip", "application/zip", "file", (b"PK\x03\x04",)),
    FileType("txt", "text/plain; charset=utf-8", "file"),
    FileType("csv", "text/csv; charset=utf-8", "file"),
]}


def media_root() -> Path:
    return Path(current_app.config["MEDIA_PATH"])


def size_limit(kind: str) -> int:
    return current_app.config["MAX_VIDEO_BYTES" if kind == "video" else "MAX_MEDIA_BYTES"]


def file_type_for(filename: str) -> FileType:
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    file_type = FILE_TYPES.get(extension)
    if file_type is None:
        raise DomainError(_("Files of this type cannot be uploaded. Allowed: %(types)s.",
                            types=", ".join(sorted(FILE_TYPES))))
    return file_type


def safe_filename(filename: str) -> str:
    """A plain file name: no folders, no leading dots, no characters that need escaping."""
    name = os.path.basename((filename or "").replace("\\", "/")).strip().lstrip(".")
    keep = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name)
    keep = "-".join(part for part in keep.split("-") if part)
    if not keep or "." not in keep:
        raise DomainError(_("The file needs a name with an extension, such as picture.png."))
    return keep[-200:]


@dataclass(frozen=True)
class StoredFile:
    filename: str
    content_type: str
    kind: str
    size: int
    sha256: str


def store(stream: BinaryIO, filename: str) -> StoredFile:
    """Check a file's type and size and store it by content; nothing is kept if it is refused."""
    name = safe_filename(filename)
    file_type = file_type_for(name)
    limit = size_limit(file_type.kind)
    root = media_root()
    root.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with tempfile.NamedTemporaryFile(dir=root, delete=False, prefix=".upload-") as tmp:
        try:
            head = b""
            while chunk := stream.read(CHUNK):
                if not head:
                    head = chunk[:64]
                size += len(chunk)
                if size > limit:
                    raise DomainError(_("The file is larger than %(mb)d MB.", mb=limit // CHUNK))
                digest.update(chunk)
                tmp.write(chunk)
            if size == 0:
                raise DomainError(_("The file is empty."))
            if file_type.magic and not any(
                    head[file_type.magic_offset:].startswith(m) for m in file_type.magic):
                raise DomainError(_("The file's content does not match its .%(ext)s name.",
                                    ext=file_type.extension))
            tmp.flush()
            os.fsync(tmp.fileno())
        except BaseException:
            tmp.close()
            os.unlink(tmp.name)
            raise
    sha = digest.hexdigest()
    target = path_for(sha)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        os.unlink(tmp.name)
    else:
        os.replace(tmp.name, target)
    return StoredFile(filename=name, content_type=file_type.content_type, kind=file_type.kind,
                      size=size, sha256=sha)


def path_for(sha256: str) -> Path:
    return media_root() / sha256[:2] / sha256


def kind_of(content_type: str) -> str:
    if content_type.startswith("image/"):
        return "image"
    if content_type.startswith("video/"):
        return "video"
    return "file"

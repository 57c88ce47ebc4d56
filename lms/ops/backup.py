"""Backups: one ``.tar.gz`` holding the database, the uploaded files and the instance secrets.

Layout of an archive::

    manifest.json              what is inside (see ``Manifest``), written last
    database/lms.sqlite3       SQLite: a copy made with the online backup API
    database/lms.pgdump        PostgreSQL: ``pg_dump --format=custom``
    media/ab/abcdef…           course files (LMS_MEDIA_PATH)
    instance/certificates/…    certificate PDFs, logos and seals
    instance/decisions/…       assignment decision PDFs
    instance/secret_key        the session signing key (when generated, not set by env)
    instance/credential_key*.pem  the keys that sign certificate credentials
    keys/N-name.pem            key files the settings name outside the instance folder

The archive therefore holds secrets: keep it as carefully as the database itself.

Both kinds of database are copied from one consistent moment while the platform runs:
SQLite through its online backup API (the write-ahead log included), PostgreSQL with
``pg_dump`` reading a snapshot exported by the transaction that also counts the rows, so the
manifest's row counts describe exactly the dump. The archive is written under a temporary
name and renamed when complete: a file with the final name is always a whole backup.

``restore`` checks every file against the manifest before touching anything, refuses a
database that holds data unless told to replace it, restores the database and the files, and
compares the restored row counts with the manifest.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import IO, Any, Iterator

from flask import Flask
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/lms.sqlite3"
PG_MEMBER = "database/lms.pgdump"
# Instance folder entries that belong in a backup (the database, backups and media are
# handled on their own): stored files by content, and the keys the platform signs with.
INSTANCE_FOLDERS = ("certificates", "decisions")
INSTANCE_FILE_PATTERNS = ("secret_key", "credential_key*.pem")
AREAS = ("database", "media", "instance", "keys")
# Tables whose rows do not make a database "hold data" (a freshly upgraded, empty schema).
BOOKKEEPING_TABLES = frozenset({"alembic_version"})
CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup or a restore cannot go on; the message says why and what to do."""


@dataclass
class FileEntry:
    path: str            # name inside the archive
    sha256: str
    size: int
    source: str | None = None  # keys/ only: where the file was (and is put back)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "sha256": self.sha256, "size": self.size}
        if self.source:
            data["source"] = self.source
        return data


@dataclass
class Manifest:
    created_at: str
    app_version: str
    alembic_revision: str | None
    database_kind: str
    row_counts: dict[str, int]
    files: list[FileEntry] = field(default_factory=list)
    format: int = FORMAT

    @property
    def database_member(self) -> str:
        return SQLITE_MEMBER if self.database_kind == "sqlite" else PG_MEMBER

    def as_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "created_at": self.created_at,
            "app_version": self.app_version,
            "alembic_revision": self.alembic_revision,
            "database": {"kind": self.database_kind, "file": self.database_member},
            "row_counts": dict(sorted(self.row_counts.items())),
            "files": [entry.as_json() for entry in self.files],
        }

    @classmethod
    def from_json(cls, data: Any) -> Manifest:
        try:
            if data["format"] != FORMAT:
                raise BackupError(f"The archive's format {data['format']} is not one this "
                                  f"version reads (format {FORMAT}).")
            files = [FileEntry(str(f["path"]), str(f["sha256"]), int(f["size"]), f.get("source"))
                     for f in data["files"]]
            manifest = cls(
                created_at=str(data["created_at"]), app_version=str(data["app_version"]),
                alembic_revision=data["alembic_revision"], database_kind=data["database"]["kind"],
                row_counts={str(k): int(v) for k, v in data["row_counts"].items()}, files=files)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BackupError(f"The archive's manifest.json is incomplete ({exc!r}).") from exc
        if manifest.database_kind not in ("sqlite", "postgresql"):
            raise BackupError(f"The archive holds an unknown kind of database "
                              f"({manifest.database_kind!r}).")
        for entry in manifest.files:
            _check_member_name(entry.path)
        return manifest

    @property
    def total_rows(self) -> int:
        return sum(self.row_counts.values())

    @property
    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.files)


@dataclass
class BackupResult:
    path: Path
    manifest: Manifest

    def summary(self) -> str:
        m = self.manifest
        return (f"{m.database_kind} database at revision {m.alembic_revision or 'none'}: "
                f"{m.total_rows} rows in {len(m.row_counts)} tables; {len(m.files)} files "
                f"({_size(m.total_bytes)} before compression, archive {_size(self.path.stat().st_size)}).")


@dataclass
class RestoreResult:
    manifest: Manifest
    row_counts: dict[str, int]
    files_restored: int
    revision: str | None
    head: str | None

    @property
    def mismatches(self) -> list[tuple[str, int | None, int | None]]:
        """(table, rows in the manifest, rows restored) for every table that differs."""
        tables = sorted(set(self.manifest.row_counts) | set(self.row_counts))
        return [(t, self.manifest.row_counts.get(t), self.row_counts.get(t)) for t in tables
                if self.manifest.row_counts.get(t) != self.row_counts.get(t)]


# ---------------------------------------------------------------- helpers

def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lms")
    except PackageNotFoundError:
        return "unknown"


def database_kind(url: str | URL) -> str:
    backend = make_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"Backups support SQLite and PostgreSQL, not {backend}.")
    return backend


def sqlite_path(url: str | URL) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError("LMS_DATABASE_URL must name an SQLite file (sqlite:////path/lms.db).")
    return Path(database).resolve()


def _script_directory() -> Any:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from lms.cli import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg)


def code_head() -> str | None:
    """The newest migration this version of the code knows."""
    return _script_directory().get_current_head()


def known_revisions() -> set[str]:
    return {script.revision for script in _script_directory().walk_revisions()}


def table_names(connection: Connection) -> list[str]:
    return sorted(inspect(connection).get_table_names())


def row_counts(connection: Connection) -> dict[str, int]:
    """Rows per table of the connection's database (its default schema)."""
    preparer = connection.dialect.identifier_preparer
    return {name: int(connection.execute(text(f"SELECT count(*) FROM {preparer.quote(name)}"))
                      .scalar_one()) for name in table_names(connection)}


def alembic_revision(connection: Connection) -> str | None:
    if "alembic_version" not in inspect(connection).get_table_names():
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def holds_data(counts: dict[str, int]) -> bool:
    return any(n for table, n in counts.items() if table not in BOOKKEEPING_TABLES)


def _check_member_name(name: str) -> None:
    path = PurePosixPath(name)
    if (path.is_absolute() or ".." in path.parts or not path.parts or path.parts[0] not in AREAS
            or len(path.parts) < 2 or name != path.as_posix()):
        raise BackupError(f"The archive names a file it may not restore: {name!r}.")


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _HashingReader:
    """Reads a file for tarfile while hashing exactly the bytes that go into the archive."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        self.digest.update(data)
        self.size += len(data)
        return data


# ---------------------------------------------------------------- what a backup holds

def _stored_files(root: Path) -> Iterator[Path]:
    """Regular files under ``root`` in a stable order, leaving out unfinished uploads
    (``.tmp-*``, ``.upload-*``: every hidden name)."""
    if not root.is_dir():
        return
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(folder) / name
            if not name.startswith(".") and path.is_file() and not path.is_symlink():
                yield path


def configured_key_files(app: Flask) -> list[Path]:
    """The key files LMS_CREDENTIAL_KEY_FILE and LMS_CREDENTIAL_RETIRED_KEY_FILES name."""
    names = [app.config.get("CREDENTIAL_KEY_FILE") or ""]
    names += (app.config.get("CREDENTIAL_RETIRED_KEY_FILES") or "").split(",")
    return [Path(name.strip()).resolve() for name in names if name.strip()]


def files_to_back_up(app: Flask) -> list[tuple[str, Path, str | None]]:
    """(name in the archive, file, original location for keys/) of every file to keep."""
    instance = Path(app.instance_path).resolve()
    media = Path(app.config["MEDIA_PATH"]).resolve()
    items: list[tuple[str, Path, str | None]] = []
    seen: set[Path] = set()

    def add(name: str, path: Path, source: str | None = None) -> None:
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            items.append((name, path, source))

    for path in _stored_files(media):
        add(f"media/{path.relative_to(media).as_posix()}", path)
    for folder in INSTANCE_FOLDERS:
        for path in _stored_files(instance / folder):
            add(f"instance/{path.relative_to(instance).as_posix()}", path)
    for pattern in INSTANCE_FILE_PATTERNS:
        for path in sorted(instance.glob(pattern)):
            if path.is_file():
                add(f"instance/{path.name}", path)
    for n, path in enumerate(configured_key_files(app)):
        if not path.is_file():
            continue
        if path.is_relative_to(instance):
            add(f"instance/{path.relative_to(instance).as_posix()}", path)
        else:
            add(f"keys/{n}-{path.name}", path, str(path))
    return items


# ---------------------------------------------------------------- taking a backup

def default_archive_name(now: datetime) -> str:
    return f"lms-backup-{now.astimezone(timezone.utc):%Y-%m-%dT%H%MZ}.tar.gz"


def _archive_path(app: Flask, output: Path | None, now: datetime) -> Path:
    if output is None or output.is_dir():
        folder = output or Path(app.config["BACKUP_PATH"])
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = folder / default_archive_name(now)
        n = 2
        while target.exists():  # a second backup within the same minute
            target = folder / default_archive_name(now).replace(".tar.gz", f"-{n}.tar.gz")
            n += 1
        return target.resolve()
    output.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return output.resolve()


def _dump_sqlite(url: str, target: Path, busy_timeout_ms: int) -> tuple[dict[str, int], str | None]:
    """Copy the live SQLite database (committed WAL content included) into ``target``."""
    source_path = sqlite_path(url)
    if not source_path.is_file():
        raise BackupError(f"The SQLite database {source_path} does not exist.")
    source = sqlite3.connect(f"file:{source_path}?mode=rw", uri=True,
                             timeout=busy_timeout_ms / 1000)
    try:
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            copy.close()
    finally:
        source.close()
    engine = create_engine(f"sqlite:///{target}", poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return row_counts(connection), alembic_revision(connection)
    finally:
        engine.dispose()


_PG_QUOTE = str.maketrans({"\\": "\\\\", "'": "\\'"})


def pg_connection(url: str | URL) -> tuple[str, dict[str, str]]:
    """libpq connection string (no password) and environment (PGPASSWORD) for the PG tools."""
    url = make_url(url)
    params: dict[str, str] = {}
    if url.host:
        params["host"] = url.host
    if url.port:
        params["port"] = str(url.port)
    if url.username:
        params["user"] = url.username
    if url.database:
        params["dbname"] = url.database
    for key, value in url.query.items():
        params[key] = value[-1] if isinstance(value, tuple) else value
    conninfo = " ".join(f"{key}='{str(value).translate(_PG_QUOTE)}'" for key, value in params.items())
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    return conninfo, env


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} was not found on PATH: install the PostgreSQL client tools "
                          f"(e.g. apt-get install postgresql-client) of the server's version.")
    return path


def _run_pg_tool(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(args, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed (exit {result.returncode}): "
                          f"{result.stderr.strip()[-2000:]}")


def _dump_postgresql(engine: Any, url: str, target: Path) -> tuple[dict[str, int], str | None]:
    """pg_dump of one snapshot; the rows are counted in that same snapshot."""
    pg_dump = _pg_tool("pg_dump")
    conninfo, env = pg_connection(url)
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
        with connection.begin():
            snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            counts, revision = row_counts(connection), alembic_revision(connection)
            _run_pg_tool([pg_dump, "--format=custom", "--no-password", f"--snapshot={snapshot}",
                          f"--file={target}", f"--dbname={conninfo}"], env)
    return counts, revision


def _add_file(archive: tarfile.TarFile, name: str, path: Path) -> FileEntry:
    with path.open("rb") as fh:
        stat = os.fstat(fh.fileno())
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = stat.st_size, int(stat.st_mtime), stat.st_mode & 0o777
        reader = _HashingReader(fh)
        archive.addfile(info, reader)  # type: ignore[arg-type]
    return FileEntry(name, reader.digest.hexdigest(), reader.size)


def create_backup(app: Flask, output: Path | None = None, now: datetime | None = None) -> BackupResult:
    """Write one archive (database, files, manifest) and return where it is."""
    from lms.db import db

    now = now or datetime.now(timezone.utc)
    url = app.config["DATABASE_URL"]
    kind = database_kind(url)
    target = _archive_path(app, output, now)
    with tempfile.TemporaryDirectory(prefix=".lms-backup-", dir=target.parent) as work:
        dump = Path(work) / ("lms.sqlite3" if kind == "sqlite" else "lms.pgdump")
        with app.app_context():
            if kind == "sqlite":
                counts, revision = _dump_sqlite(url, dump, app.config["SQLITE_BUSY_TIMEOUT_MS"])
            else:
                counts, revision = _dump_postgresql(db.engine, url, dump)
        manifest = Manifest(created_at=now.astimezone(timezone.utc).isoformat(timespec="seconds"),
                            app_version=app_version(), alembic_revision=revision,
                            database_kind=kind, row_counts=counts)
        partial = Path(work) / (target.name + ".part")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
                manifest.files.append(_add_file(archive, manifest.database_member, dump))
                for name, path, source in files_to_back_up(app):
                    entry = _add_file(archive, name, path)
                    entry.source = source
                    manifest.files.append(entry)
                body = json.dumps(manifest.as_json(), indent=2, ensure_ascii=False).encode("utf-8")
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = len(body), int(now.timestamp()), 0o600
                archive.addfile(info, _BytesReader(body))  # type: ignore[arg-type]
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, target)  # same folder: a whole archive appears, or none
        _fsync_dir(target.parent)
    result = BackupResult(target, manifest)
    log.info("backup written to %s: %s", target, result.summary())
    return result


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self.data, self.position = data, 0

    def read(self, n: int = -1) -> bytes:
        end = len(self.data) if n < 0 else self.position + n
        chunk = self.data[self.position:end]
        self.position += len(chunk)
        return chunk


# ---------------------------------------------------------------- checking an archive

def _open_archive(path: Path) -> tarfile.TarFile:
    if not path.exists():
        raise BackupError(f"There is no archive at {path}.")
    if not path.is_file():
        raise BackupError(f"{path} is not a file.")
    try:
        return tarfile.open(path, mode="r:gz")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise BackupError(f"{path} is not a readable lms backup (a .tar.gz): {exc}.") from exc


def verify_archive(path: Path) -> Manifest:
    """Read the whole archive: its manifest, and every file's size and sha256 against it."""
    found: dict[str, tuple[str, int]] = {}
    manifest_data: bytes | None = None
    archive = _open_archive(path)
    try:
        with archive:
            for member in archive:
                if member.isdir():
                    continue
                if not member.isfile():
                    raise BackupError(f"The archive holds {member.name!r}, which is not a plain "
                                      f"file: it is not an lms backup.")
                fh = archive.extractfile(member)
                assert fh is not None
                if member.name == MANIFEST:
                    manifest_data = fh.read()
                    continue
                digest, size = hashlib.sha256(), 0
                while chunk := fh.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                found[member.name] = (digest.hexdigest(), size)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise BackupError(f"The archive {path} is damaged (truncated or altered): {exc}.") from exc
    if manifest_data is None:
        raise BackupError(f"{path} has no manifest.json: it is not an lms backup, or it is "
                          f"incomplete.")
    try:
        manifest = Manifest.from_json(json.loads(manifest_data.decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupError(f"The manifest.json of {path} cannot be read: {exc}.") from exc
    except BackupError as exc:
        raise BackupError(f"{path}: {exc}") from exc
    problems = []
    listed = {entry.path for entry in manifest.files}
    if manifest.database_member not in listed:
        problems.append(f"{manifest.database_member}: listed nowhere in the manifest")
    for entry in manifest.files:
        if entry.path not in found:
            problems.append(f"{entry.path}: missing")
        elif found[entry.path] != (entry.sha256, entry.size):
            problems.append(f"{entry.path}: content differs from the manifest (sha256/size)")
    problems += [f"{name}: not in the manifest" for name in sorted(set(found) - listed)]
    if problems:
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise BackupError(f"The archive {path} failed its check, nothing was restored: {shown}.")
    return manifest


# ---------------------------------------------------------------- restoring

def target_for(app: Flask, entry: FileEntry) -> Path:
    """Where a file of the archive goes back to under the current settings."""
    area, _, rest = entry.path.partition("/")
    if area == "media":
        return Path(app.config["MEDIA_PATH"]) / rest
    if area == "instance":
        return Path(app.instance_path) / rest
    if area == "keys":
        # Only back to a path the current settings name: a manifest never chooses where to
        # write. A key file the settings no longer name is kept aside in the instance folder.
        configured = {str(path) for path in configured_key_files(app)}
        if entry.source and str(Path(entry.source).resolve()) in configured:
            return Path(entry.source)
        return Path(app.instance_path) / "restored-keys" / PurePosixPath(rest).name
    raise BackupError(f"The archive names a file it may not restore: {entry.path!r}.")


def current_counts(app: Flask) -> dict[str, int]:
    from lms.db import db

    with app.app_context():
        url = app.config["DATABASE_URL"]
        if database_kind(url) == "sqlite" and not sqlite_path(url).exists():
            return {}
        with db.engine.connect() as connection:
            return row_counts(connection)


def _restore_sqlite(app: Flask, archive: tarfile.TarFile, manifest: Manifest) -> None:
    """Put the archived file in place of the database file: one rename, no app running."""
    from lms.db import db

    target = sqlite_path(app.config["DATABASE_URL"])
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.restore-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            source = archive.extractfile(manifest.database_member)
            assert source is not None
            shutil.copyfileobj(source, out, CHUNK)
            out.flush()
            os.fsync(out.fileno())
        check = sqlite3.connect(tmp)
        try:
            verdict = check.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            check.close()
        if verdict != "ok":
            raise BackupError(f"The archived SQLite database fails its integrity check: {verdict}.")
        with app.app_context():
            db.engine.dispose()  # this process's connections would keep the old file open
        # The old database's write-ahead log must not be replayed into the restored file.
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _restore_postgresql(app: Flask, archive: tarfile.TarFile, manifest: Manifest) -> None:
    from lms.db import db

    pg_restore = _pg_tool("pg_restore")
    conninfo, env = pg_connection(app.config["DATABASE_URL"])
    with tempfile.TemporaryDirectory(prefix="lms-restore-") as work:
        dump = Path(work) / "lms.pgdump"
        source = archive.extractfile(manifest.database_member)
        assert source is not None
        with dump.open("wb") as out:
            shutil.copyfileobj(source, out, CHUNK)
        with app.app_context():
            db.engine.dispose()  # no idle connection of ours in the way of DROP TABLE
        _run_pg_tool([pg_restore, "--clean", "--if-exists", "--no-owner", "--single-transaction",
                      "--exit-on-error", "--no-password", f"--dbname={conninfo}", str(dump)], env)


def _restore_file(archive: tarfile.TarFile, entry: FileEntry, target: Path) -> None:
    member = archive.getmember(entry.path)
    source = archive.extractfile(member)
    assert source is not None
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-restore-")
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != entry.sha256:
            raise BackupError(f"{entry.path} changed while it was restored.")
        os.chmod(tmp_name, member.mode & 0o777 or 0o600)
        os.replace(tmp_name, target)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


def restore_backup(app: Flask, path: Path, replace: bool = False) -> RestoreResult:
    """Check ``path``, then restore its database and files into the app's settings."""
    from lms.db import db

    manifest = verify_archive(path)
    kind = database_kind(app.config["DATABASE_URL"])
    if manifest.database_kind != kind:
        raise BackupError(f"The archive holds a {manifest.database_kind} database but "
                          f"LMS_DATABASE_URL points at {kind}: restore it into the same kind.")
    if manifest.alembic_revision and manifest.alembic_revision not in known_revisions():
        raise BackupError(f"The archive's schema (revision {manifest.alembic_revision}, made by "
                          f"version {manifest.app_version}) is newer than this version knows: "
                          f"install that version to restore it.")
    existing = current_counts(app)
    if holds_data(existing) and not replace:
        rows = sum(n for table, n in existing.items() if table not in BOOKKEEPING_TABLES)
        raise BackupError(f"The database already holds data ({rows} rows): "
                          f"nothing was restored. Run again with --yes to replace it.")
    archive = _open_archive(path)
    with archive:
        if kind == "sqlite":
            _restore_sqlite(app, archive, manifest)
        else:
            _restore_postgresql(app, archive, manifest)
        restored = 0
        for entry in manifest.files:
            if entry.path == manifest.database_member:
                continue
            _restore_file(archive, entry, target_for(app, entry))
            restored += 1
    with app.app_context():
        with db.engine.connect() as connection:
            counts, revision = row_counts(connection), alembic_revision(connection)
    result = RestoreResult(manifest, counts, restored, revision, code_head())
    log.info("backup %s restored (%s database, revision %s, %d files)", path, kind, revision,
             restored)
    return result

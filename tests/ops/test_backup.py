"""The restore drill: a platform with people, a course with a file and a certificate is backed
up with `lms backup`, the database and files are wiped (a new empty database, empty folders),
and `lms restore` brings back the same rows and the same files. A damaged archive, or a
database that already holds data, is refused without touching anything.

Runs on the test backend (SQLite, or PostgreSQL with LMS_TEST_DATABASE_URL), each platform on
its own fresh database with its own instance and media folders, committing for real.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from lms import create_app
from lms.certificates import keys, storage
from lms.certificates.models import Certificate
from lms.cli import cli as lms_cli
from lms.cli import upgrade_database
from lms.courses import authoring
from lms.courses.models import MediaFile
from lms.db import db
from lms.ops.backup import MANIFEST, row_counts
from lms.org import services as org
from lms.org.models import Role, User
from tests.certificates.support import complete
from tests.conftest import app_settings, fresh_database

NAME = "Nguyễn Thị Hồng Nhung"
UNIT = "Cục Lãnh sự"
PICTURE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
ARCHIVE_NAME = re.compile(r"^lms-backup-\d{4}-\d\d-\d\dT\d{4}Z(-\d+)?\.tar\.gz$")


def make_app(url: str, folder: Path) -> Flask:
    settings = app_settings(url, str(folder / "instance"))
    settings.update(MEDIA_PATH=str(folder / "media"), BACKUP_PATH=str(folder / "backups"))
    return create_app(settings)


@contextmanager
def platform(name: str, tmp_path_factory) -> Iterator[Flask]:
    """An app on a new empty database with empty folders (nothing migrated)."""
    with fresh_database(name) as url:
        app = make_app(url, tmp_path_factory.mktemp(name))
        try:
            yield app
        finally:
            with app.app_context():
                db.engine.dispose()


def run(app: Flask, *args: object):
    return app.test_cli_runner().invoke(lms_cli, [str(a) for a in args])


def counts(app: Flask) -> dict[str, int]:
    with app.app_context(), db.engine.connect() as connection:
        return row_counts(connection)


def stored_files(app: Flask) -> dict[str, str]:
    """sha256 of every media file and instance file, by place."""
    found = {}
    for area, root in (("media", Path(app.config["MEDIA_PATH"])), ("instance", Path(app.instance_path))):
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix != ".db" and "-wal" not in path.name \
                    and "-shm" not in path.name:
                found[f"{area}/{path.relative_to(root).as_posix()}"] = \
                    hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Iterator[Flask]:
    with platform("opssource", tmp_path_factory) as app:
        Path(app.instance_path, "secret_key").write_text("k" * 64)  # as generated on first run
        with app.app_context(), app.test_request_context():
            upgrade_database()
            dbs = db.session
            root = org.create_unit(dbs, None, org.UnitData(
                code="BNG", name="Bộ Ngoại giao", name_en="Ministry of Foreign Affairs",
                kind="ministry"))
            unit = org.create_unit(dbs, None, org.UnitData(
                code="CLS", name=UNIT, kind="department", parent_id=root.id))
            learner = org.create_person(dbs, None, org.PersonData(
                employee_code="NV001", full_name=NAME, email="nhung@mofa.example",
                unit_id=unit.id))
            head = org.create_person(dbs, None, org.PersonData(
                employee_code="NV002", full_name="Đặng Quốc Việt", email="viet@mofa.example",
                unit_id=unit.id))
            org.grant_role(dbs, None, head, Role.UNIT_HEAD.value, unit.id)
            course = authoring.create_course(dbs, None, authoring.CourseData(
                slug="an-toan", title="An toàn thông tin", summary="Tóm tắt.", topic="security"))
            module = authoring.add_module(dbs, None, course, "Chương 1")
            for n in (1, 2):
                authoring.add_lesson(dbs, None, module, authoring.LessonData(
                    title=f"Bài {n}", body="## Nội dung\n\n![](media/so-do.png)"))
            authoring.add_media(dbs, None, course, io.BytesIO(PICTURE), "so-do.png")
            authoring.set_course_status(dbs, None, course, "published")
            dbs.refresh(course)
            complete(dbs, learner, course)  # issues the certificate and stores its PDF
            keys.key_ring(app)              # the credential key, as made on first use
            dbs.commit()
        yield app


@pytest.fixture(scope="module")
def archive(source) -> Path:
    result = run(source, "backup")
    assert result.exit_code == 0, result.output
    path = Path(result.output.splitlines()[0])
    assert path.parent == Path(source.config["BACKUP_PATH"]).resolve()
    assert ARCHIVE_NAME.match(path.name)
    assert os.stat(path).st_mode & 0o077 == 0  # it holds the keys: the owner's only
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no partial file left
    return path


def manifest_of(path: Path) -> dict:
    with tarfile.open(path, "r:gz") as tar:
        return json.load(tar.extractfile(MANIFEST))


def rewrite(path: Path, target: Path, change) -> Path:
    """A copy of the archive with ``change(name, data) -> data`` applied to every member
    (None: the member is left out)."""
    with tarfile.open(path, "r:gz") as src, tarfile.open(target, "w:gz") as out:
        for member in src:
            data = change(member.name, src.extractfile(member).read())
            if data is None:
                continue
            member.size = len(data)
            out.addfile(member, io.BytesIO(data))
    return target


def test_the_manifest_describes_the_database_and_every_file(source, archive):
    manifest = manifest_of(archive)
    assert manifest["row_counts"] == counts(source)
    assert manifest["database"]["kind"] == db_kind(source)
    assert manifest["alembic_revision"] and manifest["app_version"] and manifest["created_at"]
    files = {f["path"]: f for f in manifest["files"]}
    assert manifest["database"]["file"] in files
    on_disk = stored_files(source)
    assert {p: f["sha256"] for p, f in files.items() if p != manifest["database"]["file"]} == on_disk
    assert {"instance/secret_key", "instance/credential_key.pem"} <= set(files)
    assert any(p.startswith("media/") for p in files)
    assert any(p.startswith("instance/certificates/") for p in files)


def db_kind(app: Flask) -> str:
    return "sqlite" if app.config["DATABASE_URL"].startswith("sqlite") else "postgresql"


def test_restore_drill_brings_back_the_same_rows_and_files(source, archive, tmp_path_factory):
    with platform("opsdrill", tmp_path_factory) as target:
        result = run(target, "restore", archive)
        assert result.exit_code == 0, result.output
        assert counts(target) == counts(source)
        assert stored_files(target) == stored_files(source)
        with target.app_context():
            dbs = db.session
            person = dbs.scalar(select(User).where(User.employee_code == "NV001"))
            assert (person.full_name, person.email) == (NAME, "nhung@mofa.example")
            certificate = dbs.scalar(select(Certificate))
            assert (certificate.full_name, certificate.unit_name) == (NAME, UNIT)
            with target.test_request_context():
                pdf = storage.read_bytes(certificate.pdf_sha256)
            assert pdf is not None and hashlib.sha256(pdf).hexdigest() == certificate.pdf_sha256
            media = dbs.scalar(select(MediaFile))
            assert media.sha256 == hashlib.sha256(PICTURE).hexdigest()
            code = certificate.code
        # The restored platform works: the certificate verifies on the public page.
        assert target.test_client().get(f"/verify/{code}").status_code == 200


def test_a_database_that_holds_data_is_replaced_only_with_yes(source, archive, tmp_path_factory):
    with platform("opsreplace", tmp_path_factory) as target:
        assert run(target, "restore", archive).exit_code == 0
        with target.app_context(), target.test_request_context():
            unit = db.session.scalar(select(User.unit_id).where(User.employee_code == "NV001"))
            org.create_person(db.session, None, org.PersonData(
                employee_code="NV999", full_name="Người Mới", email="moi@mofa.example",
                unit_id=unit))
            db.session.commit()
        after_change = counts(target)

        refused = run(target, "restore", archive)
        assert refused.exit_code != 0
        assert counts(target) == after_change

        replaced = run(target, "restore", archive, "--yes")
        assert replaced.exit_code == 0, replaced.output
        assert counts(target) == counts(source)
        with target.app_context():
            assert db.session.scalar(select(User).where(User.employee_code == "NV999")) is None


def test_a_damaged_archive_is_refused_and_nothing_is_touched(archive, tmp_path, tmp_path_factory):
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    media_name = next(f["path"] for f in manifest_of(archive)["files"] if f["path"].startswith("media/"))
    altered = rewrite(archive, tmp_path / "altered.tar.gz",
                      lambda name, data: data[:-1] + b"!" if name == media_name else data)
    no_manifest = rewrite(archive, tmp_path / "nomanifest.tar.gz",
                          lambda name, data: None if name == MANIFEST else data)
    empty_manifest = rewrite(archive, tmp_path / "emptymanifest.tar.gz",
                             lambda name, data: b"{}" if name == MANIFEST else data)
    with platform("opsdamaged", tmp_path_factory) as target:
        for bad in (truncated, altered, no_manifest, empty_manifest, tmp_path / "missing.tar.gz"):
            result = run(target, "restore", bad)
            assert result.exit_code != 0, bad
            assert str(bad) in result.output
        assert media_name in run(target, "restore", altered).output
        assert sum(counts(target).values()) == 0
        assert stored_files(target) == {}


def test_row_counts_that_differ_from_the_manifest_fail_the_restore(archive, tmp_path, tmp_path_factory):
    def claim_one_more_user(name: str, data: bytes) -> bytes:
        if name != MANIFEST:
            return data
        manifest = json.loads(data)
        manifest["row_counts"]["users"] += 1
        return json.dumps(manifest).encode()

    wrong = rewrite(archive, tmp_path / "wrong.tar.gz", claim_one_more_user)
    with platform("opscounts", tmp_path_factory) as target:
        result = run(target, "restore", wrong)
        assert result.exit_code != 0
        assert "users" in result.output


def test_backup_to_a_chosen_file(source, tmp_path):
    target = tmp_path / "nightly" / "copy.tar.gz"
    result = run(source, "backup", "--output", target)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == str(target.resolve())
    assert manifest_of(target)["row_counts"] == counts(source)


def test_a_key_file_goes_back_only_where_the_settings_name_it(tmp_path):
    from types import SimpleNamespace

    from lms.ops.backup import FileEntry, target_for

    key = tmp_path / "etc" / "credential_key.pem"
    app = SimpleNamespace(instance_path=str(tmp_path / "instance"), config={
        "MEDIA_PATH": str(tmp_path / "media"), "CREDENTIAL_KEY_FILE": str(key),
        "CREDENTIAL_RETIRED_KEY_FILES": ""})
    named = FileEntry("keys/0-credential_key.pem", "0" * 64, 1, str(key))
    elsewhere = FileEntry("keys/1-old.pem", "0" * 64, 1, "/etc/cron.d/old.pem")
    assert target_for(app, named) == key
    assert target_for(app, elsewhere) == tmp_path / "instance" / "restored-keys" / "1-old.pem"
    assert target_for(app, FileEntry("media/ab/abc", "0" * 64, 1)) == tmp_path / "media" / "ab" / "abc"

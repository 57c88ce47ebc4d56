"""Test fixtures.

The database is migrated once per run (SQLite by default, PostgreSQL when
LMS_TEST_DATABASE_URL is set: a fresh database is created and dropped). Every test
runs inside a transaction that is rolled back, so tests never see each other's data.
"""
from __future__ import annotations

import contextvars
import os
import re
import secrets
from contextlib import contextmanager
from typing import Any, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from lms import create_app
from lms.auth.passwords import hash_password
from lms.cli import upgrade_database
from lms.db import db
from lms.extensions import limiter
from lms.org import services
from lms.org.models import Role, Unit, User

PASSWORD = "matkhau-2025"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@contextmanager
def fresh_database(name_hint: str) -> Iterator[str]:
    """A brand-new empty database URL: SQLite file by default, else a new PostgreSQL database."""
    base_url = os.environ.get("LMS_TEST_DATABASE_URL")
    if not base_url:
        folder = os.environ.get("LMS_TEST_TMP") or "/tmp"
        path = os.path.join(folder, f"lms-{name_hint}-{secrets.token_hex(4)}.db")
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)
        return
    url = make_url(base_url)
    name = f"lms_{name_hint}_{secrets.token_hex(4)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def app_settings(database_url: str, instance: str) -> dict[str, Any]:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": instance,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_KIB": 1024,
        "LOGIN_RATE_LIMIT": "1000 per minute",
        "LOG_LEVEL": "WARNING",
        "MOVEMENT_CACHE_SECONDS": 0,   # each test sees its own figures on the public page
    }


@pytest.fixture(scope="session")
def app(tmp_path_factory) -> Iterator[Flask]:
    with fresh_database("test") as url:
        application = create_app(app_settings(url, str(tmp_path_factory.mktemp("instance"))))
        with application.app_context():
            upgrade_database()
        yield application
        with application.app_context():
            db.engine.dispose()


@pytest.fixture()
def connection(app: Flask):
    """One connection in an outer transaction; every session of the test joins it."""
    engine = app.extensions["lms.db"].kw["bind"]
    conn = engine.connect()
    outer = conn.begin()
    original = app.extensions["lms.db"]
    app.extensions["lms.db"] = sessionmaker(bind=conn, expire_on_commit=False,
                                            join_transaction_mode="create_savepoint")
    limiter.reset()
    try:
        yield conn
    finally:
        app.extensions["lms.db"] = original
        outer.rollback()
        conn.close()


@pytest.fixture()
def dbs(app: Flask, connection) -> Iterator[Session]:
    """The test's own session, inside a request context (services need config and gettext)."""
    session = Session(bind=connection, expire_on_commit=False,
                      join_transaction_mode="create_savepoint")
    with app.test_request_context():
        yield session
    session.close()


class Client(FlaskClient):
    """A test client that sends the CSRF token with its forms, like a browser would."""

    csrf_token: str | None = None

    def open(self, *args: Any, **kwargs: Any):
        # Each request runs in an empty context, as in production: the test's own pushed
        # context (see ``dbs``) must not lend its ``g`` (cached user, CSRF token) to requests.
        return contextvars.Context().run(super().open, *args, **kwargs)

    def refresh_csrf(self, page: str = "/login") -> str:
        match = CSRF_RE.search(self.get(page).get_data(as_text=True))
        assert match, f"no CSRF token on {page}"
        self.csrf_token = match.group(1)
        return self.csrf_token

    def form(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any):
        if self.csrf_token is None:
            self.refresh_csrf()
        payload = {"csrf_token": self.csrf_token, **(data or {})}
        return self.post(url, data=payload, **kwargs)


@pytest.fixture()
def client(app: Flask, connection) -> Client:
    app.test_client_class = Client
    return app.test_client()


@pytest.fixture()
def make_client(app: Flask, connection):
    """More browsers for the same test (e.g. one person on two devices)."""
    def make() -> Client:
        app.test_client_class = Client
        return app.test_client()
    return make


def login(client: Client, login_id: str, password: str = PASSWORD, follow: bool = False):
    """Sign in, as from a fresh browser (whoever this client was signed in as before)."""
    client.delete_cookie(client.application.config["SESSION_COOKIE_NAME"])
    client.refresh_csrf("/login")
    response = client.form("/login", {"login": login_id, "password": password},
                           follow_redirects=follow)
    if response.status_code in (200, 302) and "/login" not in (response.location or ""):
        client.refresh_csrf("/account/password")
    return response


class Factory:
    """Builds test data through the services, like the application does."""

    def __init__(self, session: Session) -> None:
        self.dbs = session
        self._n = 0
        self._hash: str | None = None

    def _next(self) -> int:
        self._n += 1
        return self._n

    @property
    def root(self) -> Unit:
        from sqlalchemy import select

        root = self.dbs.scalar(select(Unit).where(Unit.parent_id.is_(None)))
        if root is None:
            root = services.create_unit(self.dbs, None, services.UnitData(
                code="BNG", name="Bộ Ngoại giao", name_en="Ministry of Foreign Affairs",
                kind="ministry"))
        return root

    def unit(self, name: str | None = None, parent: Unit | None = None, code: str | None = None,
             kind: str = "department", timezone: str = "Asia/Ho_Chi_Minh") -> Unit:
        n = self._next()
        return services.create_unit(self.dbs, None, services.UnitData(
            code=code or f"U{n}", name=name or f"Đơn vị {n}", kind=kind,
            parent_id=(parent or self.root).id, timezone=timezone))

    def person(self, name: str | None = None, unit: Unit | None = None, email: str | None = None,
               code: str | None = None, roles: tuple[tuple[str, Unit | None], ...] = (),
               password: str | None = PASSWORD, must_change_password: bool = False,
               position: str = "Chuyên viên") -> User:
        n = self._next()
        if password == PASSWORD:
            self._hash = self._hash or hash_password(PASSWORD)
            password_hash = self._hash
        else:
            password_hash = hash_password(password) if password else None
        person = services.create_person(self.dbs, None, services.PersonData(
            employee_code=code or f"T{n:05d}", full_name=name or f"Cán Bộ Thử {n}",
            email=email or f"user{n}@mofa.example", unit_id=(unit or self.root).id,
            position=position), password_hash=password_hash,
            must_change_password=must_change_password)
        for role, scope in roles:
            services.grant_role(self.dbs, None, person, role, scope.id if scope else None)
        return person

    def course(self, title: str = "An toàn thông tin", lessons: int = 3, modules: int = 1,
               publish: bool = True, slug: str | None = None, **fields: Any):
        """A course with ``modules`` modules of ``lessons`` text lessons each."""
        from lms.courses import authoring

        n = self._next()
        course = authoring.create_course(self.dbs, None, authoring.CourseData(
            slug=slug or f"khoa-hoc-{n}", title=title, summary="Tóm tắt khoá học.",
            outcomes="Biết đặt mật khẩu mạnh", topic=fields.pop("topic", "security"), **fields))
        for m in range(modules):
            module = authoring.add_module(self.dbs, None, course, f"Chương {m + 1}")
            for i in range(lessons):
                authoring.add_lesson(self.dbs, None, module, authoring.LessonData(
                    title=f"Bài {m + 1}.{i + 1}", body=f"## Nội dung\n\nBài học số {i + 1}."))
        if publish:
            authoring.set_course_status(self.dbs, None, course, "published")
        self.dbs.refresh(course)
        return course

    def quiz(self, course, questions: int = 4, draw: int | None = None, **settings: Any):
        """A quiz of ``course`` drawing ``draw`` (default all) of ``questions`` single-choice
        questions (the right answer is the first choice, "Đúng {i}")."""
        from lms.quizzes import bank
        from lms.quizzes.spec import Choice, QuestionSpec, QuestionType

        for i in range(questions):
            bank.save_question(self.dbs, course, QuestionSpec(
                type=QuestionType.SINGLE, name=f"q{i + 1}", category="Chung",
                stem=f"Câu hỏi {i + 1}?", choices=(Choice(f"Đúng {i + 1}", 1.0), Choice(
                    f"Sai {i + 1}", 0.0, "Chưa đúng."), Choice(f"Sai nữa {i + 1}", 0.0))))
        settings.setdefault("title", "Bài kiểm tra")
        quiz = bank.save_quiz(self.dbs, course, bank.QuizData(**settings))
        bank.add_slot(self.dbs, quiz, category=bank.category_named(self.dbs, course, "Chung"),
                      draw_count=draw or questions)
        return quiz

    def assignment(self, course=None, unit: Unit | None = None, kind: str = "unit",
                   due_in_days: int = 30, actor: Any = None, **fields: Any):
        """An assignment by decision of ``course`` (or ``path_id=``) to ``unit``'s subtree
        (or another target ``kind``), started yesterday."""
        from datetime import date, timedelta

        from lms.assignments import services as assigning
        from lms.db import utcnow

        n = self._next()
        now = utcnow()
        data = assigning.AssignmentData(
            title=fields.pop("title", f"Bồi dưỡng kỹ năng số {n}"),
            decision_number=fields.pop("decision_number", f"{1600 + n}/QĐ-BNG"),
            decision_date=fields.pop("decision_date", date.today()),
            start_at=fields.pop("start_at", now - timedelta(days=1)),
            due_at=fields.pop("due_at", now + timedelta(days=due_in_days)),
            target_kind=kind, course_id=course.id if course is not None else None,
            target_unit_id=(unit or (self.root if kind == "unit" else None)).id
            if (unit is not None or kind == "unit") else None, **fields)
        return assigning.create_assignment(self.dbs, actor, data)

    def mentor(self, unit: Unit | None = None, **kwargs: Any) -> User:
        """A person holding the mentor role on ``unit`` (placed there too)."""
        unit = unit or self.root
        return self.person(unit=unit, roles=((Role.MENTOR.value, unit),), **kwargs)

    def pair(self, mentor: User, mentee: User):
        from lms.mentoring import services as mentoring

        return mentoring.pair(self.dbs, None, mentor, mentee, notice=False)

    def admin(self, **kwargs: Any) -> User:
        return self.person(roles=((Role.ADMIN.value, None),), **kwargs)

    def unit_head(self, unit: Unit, **kwargs: Any) -> User:
        return self.person(unit=unit, roles=((Role.UNIT_HEAD.value, unit),), **kwargs)


@pytest.fixture()
def factory(dbs: Session) -> Factory:
    return Factory(dbs)


@pytest.fixture()
def count_queries(app: Flask, connection):
    """Counts the SQL statements run inside the ``with`` block."""
    @contextmanager
    def counter() -> Iterator[list[str]]:
        statements: list[str] = []

        def before(conn, cursor, statement, *args):
            if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
                statements.append(statement)

        event.listen(connection, "before_cursor_execute", before)
        try:
            yield statements
        finally:
            event.remove(connection, "before_cursor_execute", before)
    return counter


@pytest.fixture()
def lms(app: Flask, connection):
    """Run `lms ARGS…` against the test's transaction, outside any request, as in a terminal."""
    from flask import has_request_context

    from lms.cli import cli as lms_cli

    runner = app.test_cli_runner()

    def run(*args: Any, input: str | None = None):
        assert not has_request_context()
        return runner.invoke(lms_cli, [str(arg) for arg in args], input=input)
    return run


@pytest.fixture()
def look(connection):
    """A fresh session to look at what a command or request wrote."""
    sessions: list[Session] = []

    def new() -> Session:
        sessions.append(Session(bind=connection, join_transaction_mode="create_savepoint"))
        return sessions[-1]
    yield new
    for session in reversed(sessions):  # each holds a savepoint inside the previous one
        session.close()

"""Shared by the bench scripts: the bench app, its settings and database URLs.

The bench is not part of the installed package (no ``__init__.py`` here on purpose:
``bench`` is a namespace package, so the wheel's package list stays as it is).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

from flask import Blueprint, Flask, render_template
from flask_login import login_required

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
DEFAULT_OUT = Path(tempfile.gettempdir()) / "lms-bench"

#: Bench databases only. A fixed key keeps the pre-made session cookies valid in every
#: process (the generator, the cookie maker, each gunicorn worker). LMS_SECRET_KEY wins.
BENCH_SECRET_KEY = "lms-bench-only-not-a-production-secret-0123456789"

#: The password of every generated account (for looking around by hand).
BENCH_PASSWORD = "hocvuso-bench-2025"


def sqlalchemy_url(url: str) -> str:
    """Accept postgresql:// or postgres:// and use the psycopg 3 driver the app ships with."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def is_postgres(url: str) -> bool:
    return sqlalchemy_url(url).startswith("postgresql")


def libpq_url(url: str) -> str:
    """The same database as a libpq URI for psycopg.connect()."""
    from sqlalchemy.engine import make_url

    return make_url(sqlalchemy_url(url)).set(drivername="postgresql").render_as_string(
        hide_password=False)


def sqlite_path(url: str) -> Path:
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:":
        raise SystemExit("give a file for SQLite, e.g. sqlite:////tmp/lms_bench.db")
    return Path(database)


def recreate_database(url: str) -> None:
    """Drop and create a bench database (PostgreSQL) or delete its file (SQLite).

    Refuses any database whose name lacks "bench", so a slip cannot wipe real data.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    database = make_url(url).database or ""
    if "bench" not in database:
        raise SystemExit("the database name must contain 'bench' (it is dropped and created)")
    if is_postgres(url):
        admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{database}"'))
        admin.dispose()
    else:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(database + suffix).unlink(missing_ok=True)


def bench_environ(database_url: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """LMS_* settings for every bench process (gunicorn workers included)."""
    env = dict(os.environ if base is None else base)
    env["LMS_DATABASE_URL"] = sqlalchemy_url(database_url)
    env.setdefault("LMS_SECRET_KEY", BENCH_SECRET_KEY)
    env.setdefault("LMS_INSTANCE_PATH", str(DEFAULT_OUT / "instance"))
    env.setdefault("LMS_LOG_LEVEL", "WARNING")
    return env


def use_bench_environ(database_url: str) -> None:
    """Put the bench settings into this process's environment (before create_app)."""
    os.environ.update(bench_environ(database_url))


bp = Blueprint("bench", __name__, template_folder="templates")


@bp.route("/_bench/bare")
@login_required
def bare():
    """The baseline: base.html with a static paragraph, no database work of its own
    (loading the signed-in user, as for every page, still happens)."""
    return render_template("bench/bare.html")


def make_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The real application plus the one bench-only route."""
    from lms import create_app

    app = create_app(config)
    app.register_blueprint(bp)
    if os.environ.get(GRADE_LOG_VARIABLE):
        record_gradings(Path(os.environ[GRADE_LOG_VARIABLE]))
    return app


#: When set, the bench app appends the id of every attempt it grades to this file.
GRADE_LOG_VARIABLE = "LMS_BENCH_GRADE_LOG"


def record_gradings(path: Path) -> None:
    """Append to ``path`` one line per committed grading of an attempt, so a benchmark can
    count how often each attempt was graded (a second grading leaves the score unchanged,
    so the rows alone cannot show it). Only committed transactions count."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from lms.quizzes import attempts

    if getattr(attempts, "_bench_recording", False):
        return
    attempts._bench_recording = True
    grade_attempt = attempts.grade_attempt

    def recorded(dbs, attempt) -> None:
        grade_attempt(dbs, attempt)
        if attempt.status == "submitted":
            dbs.info.setdefault("bench_graded", []).append(attempt.id)

    attempts.grade_attempt = recorded

    @event.listens_for(Session, "after_commit")
    def _write(session) -> None:
        graded = session.info.pop("bench_graded", None)
        if graded:
            with path.open("a") as out:  # one short append per commit: whole lines
                out.write("".join(f"{i}\n" for i in graded))

    @event.listens_for(Session, "after_rollback")
    def _forget(session) -> None:
        session.info.pop("bench_graded", None)


def quiz_course(dbs: Any, slug: str, title: str, lesson_body: str, bank_size: int,
                drawn: int, choices: int) -> Any:
    """A published one-lesson course with ``bank_size`` single-choice questions (the first
    choice right) and a one-page quiz drawing ``drawn`` of them (unlimited attempts, 60 min);
    returns the quiz. Shared by the quiz and the mixed-load benchmarks."""
    from lms.courses import authoring
    from lms.quizzes import bank
    from lms.quizzes.spec import Choice, QuestionSpec, QuestionType

    course = authoring.create_course(dbs, None, authoring.CourseData(
        slug=slug, title=title, topic="security"))
    module = authoring.add_module(dbs, None, course, "Chương 1")
    authoring.add_lesson(dbs, None, module, authoring.LessonData(title="Bài 1", body=lesson_body))
    authoring.set_course_status(dbs, None, course, "published")
    for i in range(bank_size):
        bank.save_question(dbs, course, QuestionSpec(
            type=QuestionType.SINGLE, name=f"q{i:02d}", category="Chung",
            stem=f"Câu hỏi số {i + 1}: đâu là cách làm đúng khi nhận thư điện tử lạ?",
            choices=tuple(Choice(f"Phương án {c + 1}", 1.0 if c == 0 else 0.0, f"Giải thích {c + 1}")
                          for c in range(choices))))
    quiz = bank.save_quiz(dbs, course, bank.QuizData(
        title="Bài kiểm tra", key="bai-kiem-tra", attempts_allowed=0, time_limit_minutes=60,
        layout="one_page", pass_mark=50))
    bank.add_slot(dbs, quiz, category=bank.category_named(dbs, course, "Chung"), draw_count=drawn)
    return quiz


def write_section(path: Path, start: str, end: str, heading: str, section: str,
                  after: str | None = None) -> None:
    """Put ``section`` (which begins with ``start`` and ends with ``end``) into the report:
    in place of the previous run's, else after the marker ``after``, else at the end under
    ``heading``."""
    text = path.read_text()
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + section + rest.split(end, 1)[1]
    elif after and after in text:
        text = text.replace(after, after + "\n\n" + section, 1)
    else:
        text = text.rstrip("\n") + f"\n\n## {heading}\n\n" + section + "\n"
    path.write_text(text)

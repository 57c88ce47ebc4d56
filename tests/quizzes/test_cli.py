"""`lms import-gift COURSE FILE [--category NAME]`: all or nothing, problems by line."""
from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms.cli import cli as lms_cli
from lms.quizzes.models import Question, QuestionCategory, QuestionVersion
from tests.conftest import Factory

MOODLE_GIFT = Path(__file__).resolve().parents[2].parent / "shared/interop/moodle-gift"
SLUG = "an-toan-thong-tin"
GOOD = """\
$CATEGORY: Mật khẩu

::mk-dai:: Mật khẩu nào mạnh nhất? {
  =Một cụm từ dài dễ nhớ # Đúng.
  ~123456 # Quá dễ đoán.
}

::chia-se:: Có nên chia sẻ mật khẩu? {F}

$CATEGORY: Thư điện tử

::lua-dao:: Thư lạ yêu cầu mật khẩu là thư gì? {=lừa đảo =thư lừa đảo}
"""
NO_CATEGORY = "::thu-do:: Thủ đô của Việt Nam? {=Hà Nội}\n\n::so:: Hai cộng hai? {#4}\n"


@pytest.fixture()
def course(app: Flask, connection) -> int:
    """A course made with the factory in its own (closed) request context."""
    session = Session(bind=connection, expire_on_commit=False,
                      join_transaction_mode="create_savepoint")
    with app.test_request_context():
        course = Factory(session).course(slug=SLUG, lessons=1)
    session.commit()
    session.close()
    return course.id


def write(tmp_path: Path, content: str | bytes, name: str = "cau-hoi.gift.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def names(session: Session, course_id: int) -> set[str]:
    return set(session.scalars(select(Question.name).where(Question.course_id == course_id)))


def test_import_gift_adds_the_questions_and_prints_the_counts(lms, look, course, tmp_path):
    result = lms("import-gift", SLUG, write(tmp_path, GOOD))

    assert result.exit_code == 0, result.output
    assert "3 added, 0 updated, 0 unchanged" in result.output
    session = look()
    assert names(session, course) == {"mk-dai", "chia-se", "lua-dao"}
    assert set(session.scalars(select(QuestionCategory.name))) == {"Mật khẩu", "Thư điện tử"}


def test_importing_again_changes_nothing_and_a_changed_question_gets_a_version(
        lms, look, course, tmp_path):
    path = write(tmp_path, GOOD)
    assert lms("import-gift", SLUG, path).exit_code == 0

    again = lms("import-gift", SLUG, path)
    changed = lms("import-gift", SLUG, write(tmp_path, GOOD.replace("{F}", "{T}"), "v2.txt"))

    assert "0 added, 0 updated, 3 unchanged" in again.output
    assert "0 added, 1 updated, 2 unchanged" in changed.output
    session = look()
    versions = session.scalar(select(func.max(QuestionVersion.number)).join(Question).where(
        Question.name == "chia-se"))
    assert versions == 2


def test_the_category_option_is_used_for_questions_without_one(lms, look, course, tmp_path):
    result = lms("import-gift", SLUG, write(tmp_path, NO_CATEGORY), "--category", "Kiến thức chung")

    assert result.exit_code == 0, result.output
    assert set(look().scalars(select(QuestionCategory.name))) == {"Kiến thức chung"}


@pytest.mark.skipif(not MOODLE_GIFT.exists(), reason="the shared Moodle GIFT fixtures are absent")
def test_a_file_with_unsupported_questions_is_refused_whole_with_line_numbers(
        lms, look, course, tmp_path):
    path = MOODLE_GIFT / "questions.gift.txt"

    result = lms("import-gift", SLUG, path)

    assert result.exit_code != 0
    assert "Nothing was imported." in result.output
    assert f"{path}:2: " in result.output  # the essay question at the top
    assert result.output.count(f"{path}:") >= 2
    assert names(look(), course) == set()


def test_a_file_that_is_not_utf8_is_refused(lms, look, course, tmp_path):
    result = lms("import-gift", SLUG, write(tmp_path, "::a:: Câu? {T}\n".encode("cp1258")))

    assert result.exit_code != 0 and "UTF-8" in result.output and "Nothing was imported." in result.output
    assert names(look(), course) == set()


def test_a_bad_question_in_a_good_file_refuses_all_of_it(lms, look, course, tmp_path):
    # the right choices add up to 60%, not 100%: a learner could never get full marks
    bad = GOOD + "\n::hong:: Chọn hai? {~%30%A ~%30%B ~C}\n"
    line = bad.splitlines().index("::hong:: Chọn hai? {~%30%A ~%30%B ~C}") + 1

    result = lms("import-gift", SLUG, write(tmp_path, bad))

    assert result.exit_code != 0
    assert f":{line}: hong" in result.output, result.output
    assert names(look(), course) == set()


def test_an_unknown_course_or_file_is_an_error(lms, course, tmp_path):
    unknown = lms("import-gift", "khong-co", write(tmp_path, GOOD))
    missing = lms("import-gift", SLUG, tmp_path / "khong-co.txt")

    assert unknown.exit_code != 0 and "No course has the slug khong-co." in unknown.output
    assert missing.exit_code != 0


def test_the_command_explains_itself(app, monkeypatch):
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")
    result = app.test_cli_runner().invoke(lms_cli, ["import-gift", "--help"])
    assert result.exit_code == 0
    for word in ("COURSE_SLUG", "FILE", "--category", "line", "nothing"):
        assert word in result.output, word
    listed = app.test_cli_runner().invoke(lms_cli, ["--help"])
    assert "import-gift" in listed.output


def test_close_expired_attempts_submits_what_was_saved_once(app, connection, lms, look):
    from datetime import timedelta

    from lms.db import utcnow
    from lms.quizzes import attempts as engine
    from lms.quizzes.models import Attempt

    session = Session(bind=connection, expire_on_commit=False,
                      join_transaction_mode="create_savepoint")
    with app.test_request_context():
        factory = Factory(session)
        course = factory.course(slug="het-gio", lessons=1)
        quiz = factory.quiz(course, questions=2, time_limit_minutes=5)
        learner = factory.person()
        attempt = engine.start_attempt(session, quiz, learner, now=utcnow() - timedelta(minutes=30))
        engine.save_answers(session, attempt, {a.position: a.display.index(0) for a in attempt.answers},
                            now=utcnow() - timedelta(minutes=29))
    session.commit()
    session.close()

    first, second = lms("close-expired-attempts"), lms("close-expired-attempts")

    assert first.exit_code == 0 and "1 expired attempt(s) submitted" in first.output
    assert "0 expired attempt(s) submitted" in second.output
    closed = look().get(Attempt, attempt.id)
    assert (closed.status, closed.auto_submitted, closed.score) == ("submitted", True, 2)

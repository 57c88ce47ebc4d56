"""quizzes.yaml in course packages (docs/course-package.md): a course's question bank and
quizzes travel with it, are checked whole before anything is written, update in place
(questions by name, quizzes by key, the rest archived, never deleted) and export back to
the same specs and settings.

Packages are written in tmp_path the way a trainer writes one: course.yaml with a link
lesson (no files needed) and a quizzes.yaml with every question type.
"""
from __future__ import annotations

import dataclasses
import io
import math
import zipfile
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from flask import Flask
from flask_babel import force_locale
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms.audit.models import AuditEvent
from lms.courses import packages
from lms.courses.models import Course, Enrolment, EnrolmentStatus, Lesson
from lms.courses.packages import PackageError, export_package, import_package, read_package
from lms.courses.services import complete_lesson, enrol
from lms.org.models import User
from lms.quizzes import bank
from lms.quizzes.attempts import start_attempt, submit_attempt
from lms.quizzes.models import (
    Attempt,
    AttemptAnswer,
    Question,
    QuestionCategory,
    QuestionVersion,
    Quiz,
    QuizSlot,
)
from lms.quizzes.packaging import MAX_QUIZ_BYTES, QUIZ_FILE, PackageQuiz, PackageSlot
from lms.quizzes.spec import Choice, NumericAnswer, QuestionSpec, QuestionType

MB = 1024 * 1024
MAX_BYTES = 64 * MB
SLUG = "an-toan-thong-tin"
SEEDS = Path(__file__).resolve().parents[2] / "seeds" / "courses"
TABLES = (Course, Question, QuestionVersion, QuestionCategory, Quiz, QuizSlot, AuditEvent)
PASSWORDS, SCAMS = "Mật khẩu", "Nhận diện lừa đảo"


def course_yaml(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "format": 1, "slug": SLUG, "language": "vi", "title": "An toàn thông tin",
        "topic": "security", "estimated_minutes": 30, "certificate": True,
        "modules": [{"title": "Dịch vụ công", "lessons": [
            {"key": "cong-dich-vu-cong", "title": "Cổng Dịch vụ công quốc gia", "kind": "link",
             "url": "https://dichvucong.gov.vn", "minutes": 5}]}],
    }
    data.update(changes)
    return data


def questions() -> list[dict[str, Any]]:
    """One question of each of the seven types, in two categories."""
    return [
        {"name": "mk-01", "category": PASSWORDS, "type": "single",
         "stem": "Mật khẩu nào dưới đây mạnh nhất?",
         "general_feedback": "Cụm mật khẩu dài, ghép từ ngẫu nhiên.\nDễ nhớ, khó đoán.",
         "choices": [{"text": "may-thuoc-cam-song-82", "fraction": 1, "feedback": "Đúng."},
                     {"text": "Abc@12345", "fraction": 0, "feedback": "Mẫu quen thuộc."},
                     {"text": "Hanoi2025!", "fraction": 0}]},
        {"name": "mk-02", "category": PASSWORDS, "type": "multiple", "points": 2,
         "stem": "Những yếu tố nào thuộc nhóm “điều bạn có”?",
         "choices": [{"text": "Điện thoại có ứng dụng xác thực", "fraction": 0.5},
                     {"text": "Khóa bảo mật", "fraction": 0.5},
                     {"text": "Mật khẩu", "fraction": -0.5, "feedback": "Điều bạn biết."}]},
        {"name": "mk-03", "category": PASSWORDS, "type": "truefalse",
         "stem": "Có thể đọc mã OTP cho người xưng là cán bộ kỹ thuật.", "correct": False,
         "feedback_true": "Sai: đây là thủ đoạn lừa đảo.", "feedback_false": "Đúng."},
        {"name": "mk-04", "category": PASSWORDS, "type": "numeric",
         "stem": "Mật khẩu phải dài ít nhất bao nhiêu ký tự?",
         "numeric": [{"value": 12, "fraction": 1, "feedback": "Đúng."},
                     {"value": 10, "tolerance": 1, "fraction": 0.5}]},
        {"name": "ld-01", "category": SCAMS, "type": "shortanswer",
         "stem": "Tên cổng dịch vụ công quốc gia là gì (viết tắt)?",
         "choices": [{"text": "DVCQG", "fraction": 1}, {"text": "Dịch vụ công", "fraction": 0.5}],
         "accent_insensitive": True, "case_sensitive": False},
        {"name": "ld-02", "category": SCAMS, "type": "matching", "stem": "Ghép dấu hiệu với loại.",
         "stem_format": "markdown",
         "pairs": [{"left": "Tên miền lạ", "right": "Giả mạo"},
                   {"left": "Yêu cầu chuyển tiền gấp", "right": "Lừa đảo"},
                   {"left": "", "right": "An toàn"}]},
        {"name": "ld-03", "category": SCAMS, "type": "ordering",
         "stem": "Sắp xếp các bước khi nhận thư đáng ngờ.",
         "order": ["Không bấm vào liên kết", "Báo bộ phận CNTT", "Xóa thư"]},
    ]


def quiz(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": "kiem-tra-cuoi-khoa", "title": "Bài kiểm tra cuối khóa",
        "description": "Cần đạt 80% để hoàn thành khóa học.\nĐược làm tối đa 3 lần.",
        "pass_mark": 80, "attempts": 3, "time_limit_minutes": 20, "shuffle_questions": True,
        "shuffle_choices": False, "grading": "last", "review": "answers", "required": True,
        "layout": "one_page",
        "slots": [{"question": "mk-01"}, {"category": PASSWORDS, "draw": 2},
                  {"category": SCAMS, "draw": 3}],
    }
    data.update(changes)
    return data


def quizzes_yaml(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"format": 1, "questions": questions(), "quizzes": [quiz()]}
    data.update(changes)
    return data


def write_package(folder: Path, quizzes: dict[str, Any] | str | bytes | None = None,
                  course: dict[str, Any] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "course.yaml").write_text(yaml.safe_dump(course or course_yaml(), allow_unicode=True,
                                                       sort_keys=False), encoding="utf-8")
    if quizzes is None:
        quizzes = quizzes_yaml()
    if isinstance(quizzes, dict):
        quizzes = yaml.safe_dump(quizzes, allow_unicode=True, sort_keys=False)
    if isinstance(quizzes, str):
        quizzes = quizzes.encode()
    (folder / QUIZ_FILE).write_bytes(quizzes)
    return folder


def load(dbs: Session, actor: Any, source: Any, **changes: Any) -> packages.ImportResult:
    content = read_package(source, MAX_BYTES)
    return import_package(dbs, actor, dataclasses.replace(content, **changes) if changes else content)


def count_rows(dbs: Session) -> dict[str, int]:
    dbs.expire_all()
    return {model.__name__: dbs.scalar(select(func.count()).select_from(model)) for model in TABLES}


def questions_of(dbs: Session, course: Course) -> dict[str, Question]:
    dbs.expire_all()
    return {q.name: q for q in dbs.scalars(select(Question).where(Question.course_id == course.id))}


def quizzes_of(dbs: Session, course: Course) -> dict[str, Quiz]:
    return {q.key: q for q in dbs.scalars(select(Quiz).where(Quiz.course_id == course.id))}


def quiz_view(quiz: Quiz) -> tuple:
    """A quiz's settings and slots, by names (comparable across courses)."""
    return (quiz.key, quiz.title, quiz.description, quiz.pass_mark, quiz.attempts_allowed,
            quiz.time_limit_minutes, quiz.shuffle_questions, quiz.shuffle_choices, quiz.grading,
            quiz.review, quiz.layout, quiz.is_required, quiz.is_archived, quiz.position,
            [(s.question.name if s.question else None, s.category.name if s.category else None,
              s.draw_count) for s in quiz.slots])


def bank_view(dbs: Session, course: Course) -> tuple:
    dbs.expire_all()
    return (bank.bank_specs(dbs, course.id),
            sorted(quiz_view(q) for q in quizzes_of(dbs, course).values() if not q.is_archived))


@pytest.fixture(autouse=True)
def media_folder(app: Flask, tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "media-store"
    monkeypatch.setitem(app.config, "MEDIA_PATH", str(folder))
    return folder


@pytest.fixture()
def context(app: Flask):
    """Reading needs the app's settings and gettext, as in a request."""
    with app.test_request_context():
        yield app


@pytest.fixture()
def trainer(factory):
    return factory.person(name="Lê Thu Hương", roles=(("trainer", None),))


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    return write_package(tmp_path / SLUG)


# ---------------------------------------------------------------- reading and importing

def test_a_package_reads_its_questions_and_quizzes(context, folder):
    content = read_package(folder, MAX_BYTES)

    assert content.has_quizzes
    assert [(s.name, s.category, s.type) for s in content.questions] == [
        ("mk-01", PASSWORDS, QuestionType.SINGLE), ("mk-02", PASSWORDS, QuestionType.MULTIPLE),
        ("mk-03", PASSWORDS, QuestionType.TRUE_FALSE), ("mk-04", PASSWORDS, QuestionType.NUMERIC),
        ("ld-01", SCAMS, QuestionType.SHORT_ANSWER), ("ld-02", SCAMS, QuestionType.MATCHING),
        ("ld-03", SCAMS, QuestionType.ORDERING)]
    single, multiple, truefalse, numeric, short, matching, ordering = content.questions
    assert [c.fraction for c in single.choices] == [1.0, 0.0, 0.0]
    assert single.general_feedback == "Cụm mật khẩu dài, ghép từ ngẫu nhiên.\nDễ nhớ, khó đoán."
    assert multiple.points == 2 and truefalse.correct is False
    assert [(a.value, a.tolerance) for a in numeric.numeric] == [(12, 0), (10, 1)]
    assert short.accent_insensitive and matching.stem_format == "markdown"
    assert ordering.order == ("Không bấm vào liên kết", "Báo bộ phận CNTT", "Xóa thư")
    assert content.quizzes == (PackageQuiz(
        key="kiem-tra-cuoi-khoa", title="Bài kiểm tra cuối khóa",
        description="Cần đạt 80% để hoàn thành khóa học.\nĐược làm tối đa 3 lần.", pass_mark=80,
        attempts=3, time_limit_minutes=20, shuffle_questions=True, shuffle_choices=False,
        grading="last", review="answers", required=True, layout="one_page",
        slots=(PackageSlot(question="mk-01"), PackageSlot(category=PASSWORDS, draw=2),
               PackageSlot(category=SCAMS, draw=3))),)
    assert content.quizzes[0].question_count == 6


def test_quiz_settings_left_out_take_the_defaults(context, tmp_path):
    package = write_package(tmp_path / "goi", quizzes_yaml(quizzes=[
        {"key": "on-tap", "title": "Ôn tập", "slots": [{"category": SCAMS}]}]))

    (only,) = read_package(package, MAX_BYTES).quizzes

    assert only == PackageQuiz(key="on-tap", title="Ôn tập", slots=(PackageSlot(category=SCAMS),))
    assert (only.pass_mark, only.attempts, only.time_limit_minutes, only.grading, only.review,
            only.layout, only.required) == (80, 0, None, "highest", "feedback", "per_page", True)


def test_a_package_without_quizzes_yaml_reads_as_before(context, tmp_path):
    package = write_package(tmp_path / "goi")
    (package / QUIZ_FILE).unlink()

    content = read_package(package, MAX_BYTES)

    assert (content.has_quizzes, content.questions, content.quizzes) == (False, (), ())


def test_importing_creates_the_bank_and_the_quiz(dbs, trainer, folder):
    result = load(dbs, trainer, folder)

    course = result.course
    assert (result.questions_added, result.questions_updated, result.questions_archived,
            result.quizzes_added) == (7, 0, 0, 1)
    bank_questions = questions_of(dbs, course)
    assert sorted(bank_questions) == ["ld-01", "ld-02", "ld-03", "mk-01", "mk-02", "mk-03", "mk-04"]
    assert {q.current_version for q in bank_questions.values()} == {1}
    assert {q.category.name for q in bank_questions.values()} == {PASSWORDS, SCAMS}
    assert [s.name for s in bank.bank_specs(dbs, course.id)] == [
        "mk-01", "mk-02", "mk-03", "mk-04", "ld-01", "ld-02", "ld-03"]
    (final,) = quizzes_of(dbs, course).values()
    assert quiz_view(final) == (
        "kiem-tra-cuoi-khoa", "Bài kiểm tra cuối khóa",
        "Cần đạt 80% để hoàn thành khóa học.\nĐược làm tối đa 3 lần.", 80, 3, 20, True, False,
        "last", "answers", "one_page", True, False, 1,
        [("mk-01", None, 1), (None, PASSWORDS, 2), (None, SCAMS, 3)])
    assert bank.quiz_problems(dbs, final) == [] and bank.question_count(final) == 6
    event = dbs.scalar(select(AuditEvent).where(AuditEvent.action == "course.imported"))
    assert (event.details["questions_added"], event.details["quizzes_added"]) == (7, 1)
    with force_locale("en"):
        assert result.quiz_summary() == (
            "7 questions added, 0 updated, 0 archived, 0 unchanged; 1 quizzes added, 0 updated, "
            "0 archived, 0 unchanged.")


def test_a_learner_can_take_an_imported_quiz(dbs, trainer, factory, tmp_path):
    course = load(dbs, trainer, write_package(
        tmp_path / "goi", course=course_yaml(status="published"))).course
    learner = factory.person()
    final = next(iter(quizzes_of(dbs, course).values()))

    attempt = start_attempt(dbs, final, learner)

    assert len(attempt.answers) == 6
    assert "mk-01" in {answer.question.name for answer in attempt.answers}


def test_a_package_in_a_zip_carries_its_quizzes_too(dbs, trainer, folder):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            archive.write(path, f"{SLUG}/{path.relative_to(folder).as_posix()}")

    result = load(dbs, trainer, buffer.getvalue())

    assert (result.questions_added, result.quizzes_added) == (7, 1)


# ---------------------------------------------------------------- importing again

def test_the_same_package_again_changes_nothing_and_records_nothing(dbs, trainer, folder):
    course = load(dbs, trainer, folder).course
    before, rows = bank_view(dbs, course), count_rows(dbs)

    again = load(dbs, trainer, folder)

    assert not again.changed_anything
    assert (again.questions_unchanged, again.quizzes_unchanged) == (7, 1)
    assert (again.questions_added, again.questions_updated, again.questions_archived,
            again.quizzes_added, again.quizzes_updated, again.quizzes_archived) == (0,) * 6
    assert bank_view(dbs, course) == before and count_rows(dbs) == rows


def test_a_new_version_of_the_package_updates_adds_and_archives(dbs, trainer, tmp_path):
    course = load(dbs, trainer, write_package(tmp_path / "v1")).course
    learner_quiz = quizzes_of(dbs, course)["kiem-tra-cuoi-khoa"]
    changed = questions()
    changed[0]["stem"] = "Mật khẩu nào mạnh nhất trong các mật khẩu sau?"   # mk-01: new version
    changed[2]["category"] = SCAMS                                          # mk-03 moves
    del changed[3]                                                          # mk-04 leaves
    changed.append({"name": "ld-04", "category": SCAMS, "type": "truefalse", "correct": True,
                    "stem": "Nên kiểm tra tên miền trước khi bấm."})
    second = quiz(key="on-tap", title="Ôn tập", required=False, slots=[{"category": SCAMS}])
    data = quizzes_yaml(questions=changed, quizzes=[
        second, quiz(pass_mark=70, slots=[{"category": PASSWORDS, "draw": 2}])])

    result = load(dbs, trainer, write_package(tmp_path / "v2", data))

    assert (result.questions_added, result.questions_updated, result.questions_archived,
            result.questions_unchanged) == (1, 2, 1, 4)
    assert (result.quizzes_added, result.quizzes_updated, result.quizzes_archived,
            result.quizzes_unchanged) == (1, 1, 0, 0)
    bank_questions = questions_of(dbs, course)
    assert {name: (q.current_version, q.is_archived) for name, q in bank_questions.items()} == {
        "mk-01": (2, False), "mk-02": (1, False), "mk-03": (2, False), "mk-04": (1, True),
        "ld-01": (1, False), "ld-02": (1, False), "ld-03": (1, False), "ld-04": (1, False)}
    assert bank_questions["mk-03"].category.name == SCAMS
    old_version = dbs.scalar(select(QuestionVersion).where(
        QuestionVersion.question_id == bank_questions["mk-01"].id, QuestionVersion.number == 1))
    assert old_version.spec["stem"] == "Mật khẩu nào dưới đây mạnh nhất?"  # kept for attempts
    quizzes = quizzes_of(dbs, course)
    assert quizzes["kiem-tra-cuoi-khoa"].id == learner_quiz.id
    assert quiz_view(quizzes["on-tap"])[11:] == (False, False, 1, [(None, SCAMS, 1)])
    assert quiz_view(quizzes["kiem-tra-cuoi-khoa"])[3] == 70
    assert quiz_view(quizzes["kiem-tra-cuoi-khoa"])[12:] == (False, 2, [(None, PASSWORDS, 2)])


def test_a_quiz_left_out_is_archived_and_comes_back_when_listed_again(dbs, trainer, tmp_path):
    course = load(dbs, trainer, write_package(tmp_path / "v1")).course

    gone = load(dbs, trainer, write_package(tmp_path / "v2", quizzes_yaml(quizzes=[])))
    back = load(dbs, trainer, write_package(tmp_path / "v3"))

    assert (gone.quizzes_archived, gone.questions_unchanged) == (1, 7)
    assert (back.quizzes_updated, back.quizzes_added) == (1, 0)
    (final,) = quizzes_of(dbs, course).values()
    assert not final.is_archived and len(final.slots) == 3


def test_questions_left_out_are_archived_not_deleted_and_attempts_keep_them(
        dbs, trainer, factory, tmp_path):
    course = load(dbs, trainer, write_package(
        tmp_path / "v1", course=course_yaml(status="published"))).course
    learner = factory.person()
    attempt = start_attempt(dbs, quizzes_of(dbs, course)["kiem-tra-cuoi-khoa"], learner)
    submit_attempt(dbs, attempt)
    shown = {answer.question_id for answer in attempt.answers}

    result = load(dbs, trainer, write_package(tmp_path / "v2", quizzes_yaml(
        questions=questions()[:1], quizzes=[quiz(slots=[{"question": "mk-01"}])])))

    assert (result.questions_archived, result.questions_unchanged, result.quizzes_updated) == (6, 1, 1)
    assert all(q.is_archived for name, q in questions_of(dbs, course).items() if name != "mk-01")
    dbs.expire_all()
    kept = dbs.get(Attempt, attempt.id)
    assert {answer.question_id for answer in kept.answers} == shown
    assert dbs.scalar(select(func.count()).select_from(AttemptAnswer)
                      .where(AttemptAnswer.attempt_id == attempt.id)) == 6

    restored = load(dbs, trainer, write_package(tmp_path / "v3"))

    assert (restored.questions_updated, restored.questions_unchanged) == (6, 1)
    assert not any(q.is_archived for q in questions_of(dbs, course).values())
    assert {q.current_version for q in questions_of(dbs, course).values()} == {1}


def test_a_package_without_quizzes_yaml_leaves_the_bank_and_quizzes_alone(dbs, trainer, tmp_path):
    course = load(dbs, trainer, write_package(tmp_path / "v1")).course
    before = bank_view(dbs, course)
    package = write_package(tmp_path / "v2", course=course_yaml(title="An toàn thông tin số"))
    (package / QUIZ_FILE).unlink()

    result = load(dbs, trainer, package)

    assert result.fields_changed and result.quizzes_archived == result.questions_archived == 0
    assert bank_view(dbs, course) == before


def test_a_new_required_quiz_holds_back_completion_of_a_published_course(
        dbs, trainer, factory, tmp_path):
    package = write_package(tmp_path / "v1", course=course_yaml(status="published"))
    (package / QUIZ_FILE).unlink()
    course = load(dbs, trainer, package).course
    learner = factory.person()
    enrolment = enrol(dbs, learner, course)
    other = factory.person()
    enrol(dbs, other, course)

    load(dbs, trainer, write_package(tmp_path / "v2", course=course_yaml(status="published")))
    lesson = dbs.scalar(select(Lesson).where(Lesson.course_id == course.id))
    complete_lesson(dbs, learner, lesson)

    dbs.refresh(enrolment)
    assert enrolment.status != EnrolmentStatus.COMPLETED.value
    assert dbs.scalar(select(func.count()).select_from(Enrolment)
                      .where(Enrolment.status == EnrolmentStatus.COMPLETED.value)) == 0


# ---------------------------------------------------------------- refusals

def edit(change: Callable[[dict[str, Any]], Any]) -> Callable[[Path], Path]:
    def build(tmp_path: Path) -> Path:
        data = quizzes_yaml()
        change(data)
        return write_package(tmp_path / "goi", data)
    return build


def raw(text: str | bytes) -> Callable[[Path], Path]:
    return lambda tmp_path: write_package(tmp_path / "goi", text)


def question(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(item for item in data["questions"] if item["name"] == name)


def the_quiz(data: dict[str, Any]) -> dict[str, Any]:
    return data["quizzes"][0]


REFUSED: dict[str, tuple[Callable[[Path], Path], str]] = {
    "invalid YAML": (raw("format: 1\nquestions: [a, b\n"), "quizzes.yaml is not valid YAML (line 3"),
    "a field given twice": (raw("format: 1\nquizzes: []\nquizzes: []\n"),
                            "the field quizzes is given twice"),
    "not a mapping": (raw("- format: 1\n"), "quizzes.yaml must be a set of fields"),
    "empty file": (raw(""), "quizzes.yaml must be a set of fields"),
    "not UTF-8": (raw("format: 1\nquestions:\n  - stem: Xin chào\n".encode("cp1252")),
                  "quizzes.yaml is not UTF-8 text (line 3); save it as UTF-8."),
    "too large": (raw(b"format: 1\n" + b"#" * (MAX_QUIZ_BYTES + 10) + b"\n"),
                  "quizzes.yaml is larger than 2 MB."),
    "format missing": (edit(lambda d: d.pop("format")),
                       "quizzes.yaml: the field format is missing (write format: 1)."),
    "format 2": (edit(lambda d: d.update(format=2)),
                 "quizzes.yaml: format 2 is not known here; this server reads format 1."),
    "unknown top field": (edit(lambda d: d.update(categories=[])),
                          "quizzes.yaml: unknown field categories."),
    "questions not a list": (edit(lambda d: d.update(questions="mk-01")),
                             'quizzes.yaml: questions must be a list, not "mk-01".'),
    "a question that is not a mapping": (
        edit(lambda d: d["questions"].append("mk-09")),
        'quizzes.yaml, question 8 must be a set of fields (name: value), not "mk-09".'),
    "question without a name": (
        edit(lambda d: question(d, "mk-02").pop("name")),
        "quizzes.yaml, question 2: the field name is missing."),
    "bad question name": (
        edit(lambda d: question(d, "mk-02").update(name="Mật khẩu 2")),
        'quizzes.yaml, question 2: name "Mật khẩu 2" may use only a–z, 0–9 and hyphens'),
    "question without a category": (
        edit(lambda d: question(d, "mk-02").pop("category")),
        "quizzes.yaml, question mk-02: the field category is missing."),
    "category as a list": (
        edit(lambda d: question(d, "mk-02").update(category=["a"])),
        "quizzes.yaml, question mk-02: category must be text (the category's name), not a list."),
    "unknown type": (
        edit(lambda d: question(d, "mk-02").update(type="essay")),
        "quizzes.yaml, question mk-02: type must be one of single, multiple, truefalse, "
        'shortanswer, numeric, matching, ordering, not "essay".'),
    "unknown question field": (
        edit(lambda d: question(d, "mk-02").update(stemm="…")),
        "quizzes.yaml, question mk-02: Unknown question field: stemm."),
    "a field of another type": (
        edit(lambda d: question(d, "mk-01").update(pairs=[{"left": "a", "right": "b"}])),
        "quizzes.yaml, question mk-01: the field pairs does not belong to a single question."),
    "a misspelt choice field": (
        edit(lambda d: question(d, "mk-01")["choices"][1].update(fraktion=1)),
        "quizzes.yaml, question mk-01: choices entry 2 has an unknown field fraktion."),
    "true or false as text": (
        edit(lambda d: question(d, "mk-03").update(correct="no")),
        'quizzes.yaml, question mk-03: correct must be true or false, not "no".'),
    "unknown stem format": (
        edit(lambda d: question(d, "mk-03").update(stem_format="latex")),
        "quizzes.yaml, question mk-03: stem_format must be one of plain, markdown, html, moodle"),
    "no right choice": (
        edit(lambda d: question(d, "mk-01")["choices"][0].update(fraction=0.5)),
        "quizzes.yaml, question mk-01: A single-choice question needs one choice worth 100%."),
    "empty stem": (
        edit(lambda d: question(d, "ld-03").update(stem="  ")),
        "quizzes.yaml, question ld-03: The question text is empty."),
    "one pair to match": (
        edit(lambda d: question(d, "ld-02").update(pairs=[{"left": "a", "right": "b"}])),
        "quizzes.yaml, question ld-02: A matching question needs at least two pairs."),
    "a fraction as a word": (
        edit(lambda d: question(d, "mk-02")["choices"][0].update(fraction="half")),
        "quizzes.yaml, question mk-02: fraction must be a number."),
    "duplicate question name": (
        edit(lambda d: question(d, "ld-03").update(name="mk-01")),
        "quizzes.yaml: two questions are named mk-01; each question needs its own name."),
    "duplicate quiz key": (
        edit(lambda d: d["quizzes"].append(quiz(title="Khác"))),
        "quizzes.yaml: two quizzes have the key kiem-tra-cuoi-khoa; each quiz needs its own key."),
    "unknown quiz field": (
        edit(lambda d: the_quiz(d).update(pas_mark=80)),
        "quizzes.yaml, quiz kiem-tra-cuoi-khoa: unknown field pas_mark."),
    "bad quiz key": (
        edit(lambda d: the_quiz(d).update(key="Kiểm tra")),
        'quizzes.yaml, quiz 1: key "Kiểm tra" may use only a–z, 0–9 and hyphens (3 to 80'),
    "quiz without a title": (
        edit(lambda d: the_quiz(d).pop("title")),
        "quizzes.yaml, quiz kiem-tra-cuoi-khoa: the field title is missing."),
    "pass mark over 100": (
        edit(lambda d: the_quiz(d).update(pass_mark=120)),
        "quizzes.yaml, quiz kiem-tra-cuoi-khoa: pass_mark must be between 0 and 100, not 120."),
    "time limit as text": (
        edit(lambda d: the_quiz(d).update(time_limit_minutes="20 phút")),
        'quiz kiem-tra-cuoi-khoa: time_limit_minutes must be a whole number, not "20 phút".'),
    "unknown grading": (
        edit(lambda d: the_quiz(d).update(grading="average")),
        'quiz kiem-tra-cuoi-khoa: grading must be one of highest, last, not "average".'),
    "unknown review": (
        edit(lambda d: the_quiz(d).update(review="all")),
        'review must be one of score, answers, feedback, not "all".'),
    "unknown layout": (
        edit(lambda d: the_quiz(d).update(layout="grid")),
        'layout must be one of per_page, one_page, not "grid".'),
    "required as text": (
        edit(lambda d: the_quiz(d).update(required="yes")),
        'quiz kiem-tra-cuoi-khoa: required must be true or false, not "yes".'),
    "quiz without slots": (
        edit(lambda d: the_quiz(d).pop("slots")),
        "quizzes.yaml, quiz kiem-tra-cuoi-khoa: the field slots is missing."),
    "unknown slot field": (
        edit(lambda d: the_quiz(d)["slots"].append({"category": SCAMS, "count": 1})),
        "quizzes.yaml, quiz kiem-tra-cuoi-khoa, slot 4: unknown field count."),
    "slot naming an unknown question": (
        edit(lambda d: the_quiz(d)["slots"].append({"question": "mk-99"})),
        'quizzes.yaml, quiz kiem-tra-cuoi-khoa, slot 4: there is no question named "mk-99" in '
        "quizzes.yaml."),
    "slot naming an unknown category": (
        edit(lambda d: the_quiz(d)["slots"].append({"category": "Mạng xã hội", "draw": 1})),
        'quizzes.yaml, quiz kiem-tra-cuoi-khoa, slot 4: no question of quizzes.yaml is in the '
        'category "Mạng xã hội".'),
    "slot with both": (
        edit(lambda d: the_quiz(d)["slots"].append({"question": "mk-02", "category": SCAMS})),
        "slot 4: give either question (a question's name) or category (a category to draw "
        "from), not both."),
    "slot with neither": (
        edit(lambda d: the_quiz(d)["slots"].append({"draw": 2})),
        "slot 4: give question (a question's name) or category (a category to draw from)."),
    "draw on a question slot": (
        edit(lambda d: the_quiz(d)["slots"].append({"question": "mk-02", "draw": 2})),
        "slot 4: draw is only for a category; a question slot holds that one question."),
    "draw of zero": (
        edit(lambda d: the_quiz(d)["slots"][1].update(draw=0)),
        "slot 2: draw must be between 1 and 200, not 0."),
    "a question twice": (
        edit(lambda d: the_quiz(d)["slots"].append({"question": "mk-01"})),
        "quizzes.yaml, quiz kiem-tra-cuoi-khoa: the question mk-01 is in the quiz twice."),
    "drawing more than the category holds": (
        edit(lambda d: the_quiz(d)["slots"][1].update(draw=4)),
        f"quizzes.yaml, quiz kiem-tra-cuoi-khoa: the category {PASSWORDS} has 3 question(s) to "
        "draw from (not counting the quiz's fixed questions), the quiz draws 4."),
    "two slots drawing more than the category holds together": (
        edit(lambda d: the_quiz(d)["slots"].append({"category": SCAMS, "draw": 1})),
        f"the category {SCAMS} has 3 question(s) to draw from (not counting the quiz's fixed "
        "questions), the quiz draws 4."),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_bad_quizzes_yaml_is_refused_whole_with_a_clear_message(dbs, trainer, tmp_path, case):
    build, message = REFUSED[case]
    source = build(tmp_path)
    before = count_rows(dbs)

    with pytest.raises(PackageError) as refused, force_locale("en"):
        load(dbs, trainer, source)

    assert message in str(refused.value.message)
    assert count_rows(dbs) == before


def test_a_bad_quizzes_yaml_does_not_touch_the_course_it_would_update(dbs, trainer, tmp_path):
    course = load(dbs, trainer, write_package(tmp_path / "v1")).course
    before, rows = bank_view(dbs, course), count_rows(dbs)
    data = quizzes_yaml()
    question(data, "mk-01")["stem"] = "Câu hỏi đã sửa"
    question(data, "ld-03")["order"] = ["Chỉ một bước"]

    with pytest.raises(PackageError, match="ld-03"), force_locale("en"):
        load(dbs, trainer, write_package(tmp_path / "v2", data, course_yaml(title="Khác")))

    assert bank_view(dbs, course) == before and count_rows(dbs) == rows
    assert dbs.get(Course, course.id).title == "An toàn thông tin"


# ---------------------------------------------------------------- exporting

def exported_quizzes(data: bytes, slug: str = SLUG) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(f"{slug}/{QUIZ_FILE}").decode()


def test_export_then_import_as_another_course_gives_the_same_bank_and_quizzes(
        dbs, trainer, folder):
    original = load(dbs, trainer, folder).course

    exported = export_package(dbs, original)
    copied = load(dbs, trainer, exported, slug="ban-sao")

    assert copied.created and (copied.questions_added, copied.quizzes_added) == (7, 1)
    assert bank_view(dbs, copied.course) == bank_view(dbs, original)
    assert exported_quizzes(export_package(dbs, copied.course), "ban-sao") == exported_quizzes(exported)


def test_an_export_reimported_over_its_course_changes_nothing(dbs, trainer, folder):
    course = load(dbs, trainer, folder).course
    rows = count_rows(dbs)

    again = load(dbs, trainer, export_package(dbs, course))

    assert not again.changed_anything and (again.questions_unchanged, again.quizzes_unchanged) == (7, 1)
    assert count_rows(dbs) == rows


def test_the_exported_quizzes_yaml_is_readable_and_the_same_each_time(dbs, trainer, folder):
    course = load(dbs, trainer, folder).course

    first, second = export_package(dbs, course), export_package(dbs, course)

    assert first == second
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert archive.namelist()[:2] == [f"{SLUG}/course.yaml", f"{SLUG}/{QUIZ_FILE}"]
    text = exported_quizzes(first)
    assert text.startswith("# Questions and quizzes of the course: see docs/course-package.md\n")
    assert "stem: Mật khẩu nào dưới đây mạnh nhất?" in text          # UTF-8, not \u escapes
    assert "    general_feedback: |-\n      Cụm mật khẩu dài" in text    # several lines: a block
    assert "- name: mk-01\n    category: Mật khẩu\n    type: single\n" in text
    assert "fraction: 1\n" in text and "fraction: 1.0" not in text
    assert "- {category: Mật khẩu, draw: 2}" in text and "- {question: mk-01}" in text


def test_archived_questions_and_quizzes_are_left_out_of_the_export(dbs, trainer, folder):
    course = load(dbs, trainer, folder).course
    extra = bank.save_quiz(dbs, course, bank.QuizData(title="Bài cũ", key="bai-cu"))
    bank.set_quiz_archived(dbs, extra, True)
    bank.set_archived(dbs, questions_of(dbs, course)["ld-03"], True)
    final = quizzes_of(dbs, course)["kiem-tra-cuoi-khoa"]
    bank.remove_slot(dbs, final.slots[2])
    bank.add_slot(dbs, final, category=bank.category_named(dbs, course, SCAMS), draw_count=2)

    content = read_package(export_package(dbs, course), MAX_BYTES)

    assert [s.name for s in content.questions] == ["mk-01", "mk-02", "mk-03", "mk-04", "ld-01", "ld-02"]
    assert [q.key for q in content.quizzes] == ["kiem-tra-cuoi-khoa"]


def test_a_course_without_questions_exports_no_quizzes_yaml(dbs, trainer, tmp_path):
    package = write_package(tmp_path / "goi")
    (package / QUIZ_FILE).unlink()
    course = load(dbs, trainer, package).course

    with zipfile.ZipFile(io.BytesIO(export_package(dbs, course))) as archive:
        assert f"{SLUG}/{QUIZ_FILE}" not in archive.namelist()


def test_exporting_again_into_a_folder_drops_a_quizzes_yaml_the_course_no_longer_has(
        dbs, trainer, folder, tmp_path):
    course = load(dbs, trainer, folder).course
    target = tmp_path / "xuat"
    packages.export_to_folder(dbs, course, target)
    assert read_package(target, MAX_BYTES).questions == read_package(folder, MAX_BYTES).questions
    for quiz_row in quizzes_of(dbs, course).values():
        bank.set_quiz_archived(dbs, quiz_row, True)
    for question_row in questions_of(dbs, course).values():
        bank.set_archived(dbs, question_row, True)

    packages.export_to_folder(dbs, course, target)

    assert not (target / QUIZ_FILE).exists()


def test_an_export_that_would_not_import_again_is_refused_with_the_reason(dbs, trainer, folder):
    course = load(dbs, trainer, folder).course
    bank.set_archived(dbs, questions_of(dbs, course)["mk-01"], True)

    with pytest.raises(PackageError) as refused, force_locale("en"):
        export_package(dbs, course)

    assert str(refused.value.message) == (
        "The quiz Bài kiểm tra cuối khóa uses the archived question mk-01: restore the question "
        "or take it out of the quiz before exporting.")
    bank.set_archived(dbs, questions_of(dbs, course)["mk-01"], False)
    bank.set_archived(dbs, questions_of(dbs, course)["mk-02"], True)
    bank.set_archived(dbs, questions_of(dbs, course)["mk-03"], True)

    with pytest.raises(PackageError) as refused, force_locale("en"):
        export_package(dbs, course)

    assert str(refused.value.message) == (
        "The course's quizzes cannot be exported as they are: quizzes.yaml, quiz "
        f"kiem-tra-cuoi-khoa: the category {PASSWORDS} has 1 question(s) to draw from (not "
        "counting the quiz's fixed questions), the quiz draws 2.")


def test_questions_written_in_the_browser_or_from_gift_round_trip_with_all_their_fields(
        dbs, trainer, factory):
    course = factory.course(publish=False, slug=SLUG)
    for spec in (
        QuestionSpec(type=QuestionType.NUMERIC, name="so-do", category="Tính toán", points=2.5,
                     stem="Bao nhiêu?", numeric=(NumericAnswer(3.5, 0.1, 1.0, "Đúng."),
                                                 NumericAnswer(3, 0, 0.5),
                                                 NumericAnswer(0, math.inf, 0, "Ngoài khoảng."))),
        QuestionSpec(type=QuestionType.SINGLE, name="html", category="Tính toán",
                     stem_format="html", stem="<p>Chọn <b>đúng</b></p>",
                     choices=(Choice("Một", 1.0), Choice("Hai", 0.0))),
        QuestionSpec(type=QuestionType.SHORT_ANSWER, category="Chung", stem="Thủ đô?",
                     choices=(Choice("Hà Nội", 1.0), Choice("*", 0.0, "Chưa đúng.")),
                     case_sensitive=True),
    ):
        bank.save_question(dbs, course, spec)
    before = bank_view(dbs, course)

    copied = load(dbs, trainer, export_package(dbs, course), slug="ban-sao")

    assert bank_view(dbs, copied.course) == before
    assert [s.name for s in before[0]] == ["thu-do", "html", "so-do"]


# ---------------------------------------------------------------- the seeded courses

SEEDED = sorted(p for p in SEEDS.iterdir() if (p / "course.yaml").is_file())


@pytest.mark.parametrize("folder", SEEDED, ids=[p.name for p in SEEDED])
def test_each_seeded_course_has_a_real_quiz_drawn_from_a_larger_bank(context, folder):
    assert (folder / QUIZ_FILE).is_file(), f"{folder.name} has no {QUIZ_FILE}"

    content = read_package(folder, context.config["MAX_PACKAGE_BYTES"])

    assert content.quizzes
    for each in content.quizzes:
        size = each.question_count
        pool = {s.name for s in content.questions
                if s.name in {slot.question for slot in each.slots}
                or s.category in {slot.category for slot in each.slots}}
        assert 10 <= size <= 20, (each.key, size)
        assert len(pool) >= 1.5 * size, (each.key, len(pool), size)
        kinds = {s.type for s in content.questions if s.name in pool}
        assert len(kinds) >= 4, (each.key, kinds)


def test_the_vietnamese_and_english_seeded_quizzes_match(context):
    english = {p.name[:-3]: p for p in SEEDED if p.name.endswith("-en")}
    assert english
    limit = context.config["MAX_PACKAGE_BYTES"]
    for slug, folder in english.items():
        vi, en = read_package(SEEDS / slug, limit), read_package(folder, limit)
        assert [(s.name, s.type) for s in vi.questions] == [(s.name, s.type) for s in en.questions]
        assert [(q.key, q.question_count) for q in vi.quizzes] == [
            (q.key, q.question_count) for q in en.quizzes]


def test_loading_the_seeded_courses_twice_adds_no_version_and_no_quiz(dbs):
    from lms.seeds.learning import load_courses

    first = load_courses(dbs)
    rows = count_rows(dbs)

    again = load_courses(dbs)

    assert [c.id for c in again] == [c.id for c in first]
    assert count_rows(dbs) == rows
    assert rows["Quiz"] == len(first) and rows["Question"] >= 20 * len(first)
    for course in first:
        (final,) = quizzes_of(dbs, course).values()
        assert bank.quiz_problems(dbs, final) == []


def test_demo_people_who_completed_a_course_passed_its_quiz(dbs, factory):
    from lms.seeds.learning import LEARNER_EMAIL, load_courses, spread_progress

    load_courses(dbs)
    for _n in range(12):
        factory.person()
    factory.person(email=LEARNER_EMAIL)

    assert spread_progress(dbs, seed=7) > 0

    completed = dbs.execute(select(Enrolment.user_id, Enrolment.course_id).where(
        Enrolment.status == EnrolmentStatus.COMPLETED.value)).all()
    assert completed
    passed = set(dbs.execute(select(Attempt.user_id, Quiz.course_id)
                             .join(Quiz, Quiz.id == Attempt.quiz_id)
                             .where(Attempt.passed.is_(True))).all())
    assert set(completed) <= passed
    assert dbs.scalar(select(func.count()).select_from(Attempt)
                      .where(Attempt.status == "open")) == 0
    learner = dbs.scalar(select(User).where(User.email == LEARNER_EMAIL))
    assert dbs.scalar(select(func.count()).select_from(Enrolment).where(
        Enrolment.user_id == learner.id,
        Enrolment.status == EnrolmentStatus.COMPLETED.value)) == 1


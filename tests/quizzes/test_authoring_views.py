"""Trainers keep a question bank, import and export GIFT, build quizzes, look at every
attempt, regrade and read item statistics in the browser; trainers and unit heads give a
person extra attempts, a reset or more time.

The pages are read in English (the person's language is switched after signing in), so
the assertions do not depend on the Vietnamese catalog.
"""
from __future__ import annotations

import io
import random
import re
from datetime import datetime, timedelta, timezone
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lms.quizzes import attempts as engine
from lms.quizzes import bank
from lms.quizzes.models import (
    Attempt,
    AttemptAnswer,
    Question,
    QuestionCategory,
    QuestionVersion,
    Quiz,
    QuizGrant,
    QuizSlot,
)
from lms.quizzes.spec import Choice, QuestionSpec, QuestionType
from tests.conftest import login

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
MOODLE_GIFT = Path(__file__).resolve().parents[2].parent / "shared/interop/moodle-gift"
GOOD_GIFT = """\
// Câu hỏi về an toàn thông tin
$CATEGORY: Mật khẩu

::mk-dai:: Mật khẩu nào mạnh nhất? {
  =Một cụm từ dài dễ nhớ # Đúng: càng dài càng khó đoán.
  ~123456 # Quá dễ đoán.
  ~Ngày sinh của bạn
}

::mk-chia-se:: Có nên chia sẻ mật khẩu với đồng nghiệp không? {FALSE}

$CATEGORY: Thư điện tử

::thu-lua-dao:: Thủ đô của Việt Nam là gì? {=Hà Nội =Ha Noi}

::so-ky-tu:: Một mật khẩu an toàn cần tối thiểu bao nhiêu ký tự? {#12:2}
"""


def sign_in(client, person):
    """Sign in and read the pages in English."""
    login(client, person.email)
    client.form("/language/en", {"next": "/"})
    return client


def text(response) -> str:
    return unescape(response.get_data(as_text=True))


@pytest.fixture()
def trainer(factory):
    return factory.person(name="Lê Thu Hương", email="trainer@mofa.example",
                          roles=(("trainer", None),))


@pytest.fixture()
def author(client, trainer):
    return sign_in(client, trainer)


@pytest.fixture()
def course(factory):
    return factory.course(lessons=1)


def question_data(kind: str, **changes) -> dict:
    """The form as a trainer fills it for a question of each type."""
    data = {"category_id": "", "new_category": "Mật khẩu", "name": "", "points": "1",
            "stem": "Câu hỏi thử?", "general_feedback": "Xem lại bài 2.", "save": "1"}
    data.update({
        "single": {"stem": "Mật khẩu nào mạnh nhất?",
                   "choices-0-text": "Một cụm từ dài", "choices-0-credit": "100",
                   "choices-0-feedback": "Đúng.", "choices-1-text": "123456",
                   "choices-1-credit": "", "choices-1-feedback": "Quá dễ đoán.",
                   "choices-2-text": "Ngày sinh", "choices-2-credit": "0",
                   "choices-3-text": "", "choices-3-credit": "", "choices-3-feedback": ""},
        "multiple": {"stem": "Những thói quen nào an toàn?",
                     "choices-0-text": "Khoá màn hình", "choices-0-credit": "50",
                     "choices-1-text": "Bật xác thực hai lớp", "choices-1-credit": "50",
                     "choices-2-text": "Dán mật khẩu lên màn hình", "choices-2-credit": "-100"},
        "truefalse": {"stem": "Nên chia sẻ mật khẩu với đồng nghiệp.", "correct": "false",
                      "feedback_true": "Không bao giờ.", "feedback_false": "Đúng vậy."},
        "shortanswer": {"stem": "Thủ đô của Việt Nam?", "choices-0-text": "Hà Nội",
                        "choices-0-credit": "", "choices-1-text": "Hanoi",
                        "choices-1-credit": "50", "accent_insensitive": "y"},
        "numeric": {"stem": "Mật khẩu cần tối thiểu bao nhiêu ký tự?",
                    "numeric-0-value": "12", "numeric-0-tolerance": "", "numeric-0-credit": "",
                    "numeric-1-value": "10", "numeric-1-tolerance": "1",
                    "numeric-1-credit": "50", "numeric-1-feedback": "Gần đúng."},
        "matching": {"stem": "Ghép dịch vụ với công dụng.",
                     "pairs-0-left": "Gmail", "pairs-0-right": "Thư điện tử",
                     "pairs-1-left": "Zalo", "pairs-1-right": "Nhắn tin",
                     "pairs-2-left": "", "pairs-2-right": "Bản đồ"},
        "ordering": {"stem": "Sắp xếp các bước đăng nhập.", "order-0": "Mở trình duyệt",
                     "order-1": "", "order-2": "Nhập địa chỉ", "order-3": "Đăng nhập"},
    }[kind])
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def new_question(client, course, kind: str, **changes):
    return client.form(f"/author/courses/{course.id}/questions/new?type={kind}",
                       question_data(kind, **changes))


def latest_question(dbs, course) -> Question | None:
    return dbs.scalar(select(Question).where(Question.course_id == course.id)
                      .order_by(Question.id.desc()).limit(1))


def spec_of(dbs, question) -> dict:
    dbs.expire_all()
    return dbs.scalar(select(QuestionVersion.spec).where(
        QuestionVersion.question_id == question.id,
        QuestionVersion.number == question.current_version))


def count(dbs, model) -> int:
    return dbs.scalar(select(func.count()).select_from(model))


def plain_quiz(dbs, course, trainer=None, questions: int = 3, **settings) -> Quiz:
    """A quiz of fixed single-choice questions shown in order, choices unshuffled (so the
    display position of a choice is its index: answers are known in advance)."""
    for i in range(questions):
        bank.save_question(dbs, course, QuestionSpec(
            type=QuestionType.SINGLE, name=f"cau-{i + 1}", category="Chung",
            stem=f"Câu hỏi số {i + 1}?",
            choices=(Choice(f"Đúng {i + 1}", 1.0), Choice(f"Sai {i + 1}", 0.0))))
    settings.setdefault("title", "Kiểm tra cuối khoá")
    settings.setdefault("pass_mark", 60)
    quiz = bank.save_quiz(dbs, course, bank.QuizData(
        shuffle_questions=False, shuffle_choices=False, **settings))
    for i in range(questions):
        question = dbs.scalar(select(Question).where(Question.course_id == course.id,
                                                     Question.name == f"cau-{i + 1}"))
        bank.add_slot(dbs, quiz, question=question)
    return quiz


def take(dbs, quiz, person, answers: list[int], at: datetime = T0, submit: bool = True) -> Attempt:
    """``person`` answers each question with the choice index given (0 = right)."""
    attempt = engine.start_attempt(dbs, quiz, person, now=at, rng=random.Random(7))
    engine.save_answers(dbs, attempt, {i + 1: str(a) for i, a in enumerate(answers)},
                        now=at + timedelta(seconds=30))
    if submit:
        engine.submit_attempt(dbs, attempt, now=at + timedelta(minutes=5))
    return attempt


# ---------------------------------------------------------------- who may see these pages

def author_pages(dbs, factory, course):
    quiz = plain_quiz(dbs, course)
    learner = factory.person(name="Phạm Văn Học")
    attempt = take(dbs, quiz, learner, [0, 0, 1])
    question = latest_question(dbs, course)
    slot = quiz.slots[0]
    return [
        ("GET", f"/author/courses/{course.id}/questions", {}),
        ("GET", f"/author/courses/{course.id}/questions/new", {}),
        ("GET", f"/author/courses/{course.id}/questions/new?type=single", {}),
        ("POST", f"/author/courses/{course.id}/questions/new?type=single", question_data("single")),
        ("GET", f"/author/questions/{question.id}", {}),
        ("POST", f"/author/questions/{question.id}", question_data("single")),
        ("POST", f"/author/questions/{question.id}/archive", {}),
        ("POST", f"/author/questions/{question.id}/restore", {}),
        ("GET", f"/author/courses/{course.id}/questions/import", {}),
        ("POST", f"/author/courses/{course.id}/questions/import", {"text": GOOD_GIFT}),
        ("GET", f"/author/courses/{course.id}/questions/export.gift", {}),
        ("GET", f"/author/courses/{course.id}/quizzes", {}),
        ("GET", f"/author/courses/{course.id}/quizzes/new", {}),
        ("POST", f"/author/courses/{course.id}/quizzes/new", quiz_data(title="Bài mới")),
        ("GET", f"/author/quizzes/{quiz.id}", {}),
        ("POST", f"/author/quizzes/{quiz.id}", quiz_data(title="Đổi tên")),
        ("POST", f"/author/quizzes/{quiz.id}/archive", {}),
        ("POST", f"/author/quizzes/{quiz.id}/restore", {}),
        ("POST", f"/author/quizzes/{quiz.id}/slots/fixed", {"fixed-question_id": str(question.id)}),
        ("POST", f"/author/slots/{slot.id}/move/down", {}),
        ("POST", f"/author/slots/{slot.id}/remove", {}),
        ("GET", f"/author/quizzes/{quiz.id}/attempts", {}),
        ("GET", f"/author/attempts/{attempt.id}", {}),
        ("POST", f"/author/quizzes/{quiz.id}/regrade", {}),
        ("GET", f"/author/quizzes/{quiz.id}/statistics", {}),
    ], quiz


def quiz_data(**changes) -> dict:
    data = {"title": "Kiểm tra an toàn thông tin", "key": "", "description": "Mười câu hỏi.",
            "pass_mark": "80", "attempts_allowed": "2", "time_limit_minutes": "15",
            "shuffle_questions": "y", "shuffle_choices": "y", "grading": "highest",
            "review": "feedback", "layout": "per_page", "is_required": "y"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize("who", ["learner", "unit_head", "mentor"])
def test_people_who_are_not_trainers_get_403_on_every_authoring_page(who, client, dbs, factory,
                                                                     course):
    pages, quiz = author_pages(dbs, factory, course)
    unit = factory.unit()
    person = {"learner": lambda: factory.person(email="x@mofa.example"),
              "unit_head": lambda: factory.unit_head(unit, email="x@mofa.example"),
              "mentor": lambda: factory.person(email="x@mofa.example",
                                               roles=(("mentor", unit),))}[who]()
    questions_before, versions_before = count(dbs, Question), count(dbs, QuestionVersion)
    sign_in(client, person)
    for method, url, data in pages:
        response = client.get(url) if method == "GET" else client.form(url, data)
        assert response.status_code == 403, (method, url, response.status_code)
    assert (count(dbs, Question), count(dbs, QuestionVersion)) == (questions_before, versions_before)
    assert count(dbs, Quiz) == 1 and len(quiz.slots) == 3


def test_signed_out_visitors_are_sent_to_sign_in(client, dbs, factory, course):
    pages, _quiz = author_pages(dbs, factory, course)
    for method, url, _data in pages:
        if method == "GET":
            response = client.get(url)
            assert response.status_code == 302 and "/login" in response.location, url


def test_every_authoring_page_answers_a_trainer(author, dbs, factory, course):
    pages, _quiz = author_pages(dbs, factory, course)
    for method, url, data in pages:
        response = author.get(url) if method == "GET" else author.form(url, data)
        assert response.status_code in ((200,) if method == "GET" else (200, 302)), (url, text(response))


def test_an_admin_may_manage_quizzes(client, dbs, factory, course):
    sign_in(client, factory.admin(email="admin@mofa.example"))
    assert client.get(f"/author/courses/{course.id}/questions").status_code == 200


def test_posts_without_the_csrf_token_are_refused(author, dbs, factory, course):
    pages, _quiz = author_pages(dbs, factory, course)
    before = count(dbs, QuestionVersion)
    for method, url, data in pages:
        if method == "POST":
            assert author.post(url, data=data).status_code == 400, url
    assert count(dbs, QuestionVersion) == before


def test_unknown_objects_are_404(author):
    for url in ("/author/courses/999999/questions", "/author/questions/999999",
                "/author/quizzes/999999", "/author/quizzes/999999/attempts",
                "/author/attempts/999999", "/author/quizzes/999999/statistics",
                "/author/courses/999999/questions/export.gift"):
        assert author.get(url).status_code == 404, url
    assert author.form("/author/slots/999999/remove").status_code == 404


# ---------------------------------------------------------------- questions

EXPECTED = {
    "single": lambda s: [c["fraction"] for c in s["choices"]] == [1.0, 0.0, 0.0]
    and s["choices"][1]["feedback"] == "Quá dễ đoán.",
    "multiple": lambda s: [c["fraction"] for c in s["choices"]] == [0.5, 0.5, -1.0],
    "truefalse": lambda s: s["correct"] is False and s["feedback_true"] == "Không bao giờ.",
    "shortanswer": lambda s: [(c["text"], c["fraction"]) for c in s["choices"]]
    == [("Hà Nội", 1.0), ("Hanoi", 0.5)] and s["accent_insensitive"] and not s["case_sensitive"],
    "numeric": lambda s: s["numeric"] == [{"value": 12.0, "fraction": 1.0},
                                          {"value": 10.0, "tolerance": 1.0, "fraction": 0.5,
                                           "feedback": "Gần đúng."}],
    "matching": lambda s: s["pairs"] == [{"left": "Gmail", "right": "Thư điện tử"},
                                         {"left": "Zalo", "right": "Nhắn tin"},
                                         {"left": "", "right": "Bản đồ"}],
    "ordering": lambda s: s["order"] == ["Mở trình duyệt", "Nhập địa chỉ", "Đăng nhập"],
}


PREFILLED = {  # what the edit form shows of each question
    "single": [r'value="Một cụm từ dài"', r'value="Quá dễ đoán."'],
    "multiple": [r'value="-100"', r'value="50"'],
    "truefalse": [r'checked[^>]*value="false"', r'value="Không bao giờ."'],
    "shortanswer": [r'value="Hanoi"', r'checked id="accent_insensitive"'],
    "numeric": [r'value="12"', r'value="Gần đúng."'],
    "matching": [r'value="Bản đồ"', r'value="Zalo"'],
    "ordering": [r'value="Nhập địa chỉ"'],
}


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_a_trainer_writes_a_question_of_each_type(author, dbs, course, kind):
    form_page = text(author.get(f"/author/courses/{course.id}/questions/new?type={kind}"))
    assert 'name="stem"' in form_page

    response = new_question(author, course, kind)

    assert response.status_code == 302, text(response)
    question = latest_question(dbs, course)
    spec = spec_of(dbs, question)
    assert question.type == kind and question.current_version == 1
    assert question.category.name == "Mật khẩu"
    assert spec["general_feedback"] == "Xem lại bài 2."
    assert EXPECTED[kind](spec), spec
    page = text(author.get(response.location))
    assert "Version 1; past attempts keep the version they answered." in page
    assert "Right answer:" in page  # the trainer's preview marks it
    for pattern in PREFILLED[kind]:
        assert re.search(pattern, page), pattern


def test_the_question_name_is_made_from_the_text_or_given(author, dbs, course):
    assert new_question(author, course, "truefalse", name="Mk-Chia-Se").status_code == 302
    assert latest_question(dbs, course).name == "mk-chia-se"
    assert new_question(author, course, "truefalse", stem="Nên đổi mật khẩu định kỳ?").status_code == 302
    assert latest_question(dbs, course).name == "nen-doi-mat-khau-dinh-ky"


@pytest.mark.parametrize("kind,changes,message", [
    ("single", {"choices-0-credit": "0"}, "Mark at least one choice as right."),
    ("single", {"choices-0-credit": "nhiều"}, "Credit is a percentage"),
    ("multiple", {"choices-1-credit": "20"}, "must add up to 100%"),
    ("single", {"stem": "   "}, "The question text is empty."),
    ("truefalse", {"correct": None}, "Say whether the statement is true or false."),
    ("numeric", {"numeric-0-value": "mười hai"}, "must be a number"),
    ("matching", {"pairs-1-left": ""}, "at least two pairs"),
    ("ordering", {"order-2": "", "order-3": ""}, "at least two non-empty items"),
    ("single", {"points": "0"}, "Points must be more than 0"),
    ("single", {"name": "Tên có dấu!"}, "a–z, 0–9 and hyphens"),
])
def test_a_question_a_learner_could_not_answer_is_refused_with_the_reason(
        author, dbs, course, kind, changes, message):
    response = new_question(author, course, kind, **changes)

    assert response.status_code == 200
    page = text(response)
    assert 'id="question-problem"' in page and message in page, page
    assert count(dbs, Question) == 0
    assert count(dbs, QuestionCategory) == 0  # the new category was not kept either


def test_a_taken_name_is_refused(author, dbs, course):
    assert new_question(author, course, "single", name="mk-01").status_code == 302
    response = new_question(author, course, "truefalse", name="mk-01")
    assert "A question named mk-01 already exists in this course." in text(response)
    assert count(dbs, Question) == 1


def test_preview_shows_the_question_with_its_right_answer_and_saves_nothing(author, dbs, course):
    response = new_question(author, course, "single", save=None, preview="1",
                            stem="Dòng một\n\n<b>không</b> phải HTML")

    page = text(response)
    assert response.status_code == 200 and "Not saved yet." in page
    preview = page[page.index('id="preview"'):]
    raw = response.get_data(as_text=True)
    raw_preview = raw[raw.index('id="preview"'):]
    assert "<p>Dòng một</p>" in raw_preview and "&lt;b&gt;không&lt;/b&gt;" in raw_preview
    assert "<b>không</b>" not in raw_preview
    assert re.search(r'class="is-right">.*?Right answer:.*?Một cụm từ dài', preview, re.S)
    assert count(dbs, Question) == 0


def test_editing_a_question_adds_a_version_and_past_attempts_keep_theirs(
        author, dbs, factory, course):
    quiz = plain_quiz(dbs, course, questions=2)
    learner = factory.person()
    attempt = take(dbs, quiz, learner, [1, 0])  # the first answer is wrong: 1 of 2
    question = dbs.scalar(select(Question).where(Question.name == "cau-1"))
    old_version = attempt.answers[0].version_id

    form = text(author.get(f"/author/questions/{question.id}"))
    assert 'value="Đúng 1"' in form and "Version 1;" in form
    response = author.form(f"/author/questions/{question.id}", {
        "category_id": str(question.category_id), "new_category": "", "points": "1",
        "stem": "Câu hỏi số 1 (đã sửa)?", "general_feedback": "",
        "choices-0-text": "Đúng 1", "choices-0-credit": "100",
        "choices-1-text": "Sai 1", "choices-1-credit": "100", "save": "1"})

    assert response.status_code == 302
    dbs.expire_all()
    assert question.current_version == 2
    assert spec_of(dbs, question)["stem"] == "Câu hỏi số 1 (đã sửa)?"
    answer = dbs.get(AttemptAnswer, attempt.answers[0].id)
    assert answer.version_id == old_version and answer.score == 0
    page = text(author.get(f"/author/questions/{question.id}"))
    assert "The question was saved as version 2." in page
    assert "Version 2; past attempts keep the version they answered." in page


def test_saving_an_unchanged_question_keeps_its_version(author, dbs, course):
    new_question(author, course, "ordering")
    question = latest_question(dbs, course)
    form = text(author.get(f"/author/questions/{question.id}"))
    assert 'value="Nhập địa chỉ"' in form

    response = author.form(f"/author/questions/{question.id}", {
        "category_id": str(question.category_id), "points": "1",
        "stem": "Sắp xếp các bước đăng nhập.", "general_feedback": "Xem lại bài 2.",
        "order-0": "Mở trình duyệt", "order-1": "Nhập địa chỉ", "order-2": "Đăng nhập",
        "order-3": "", "save": "1"}, follow_redirects=True)

    assert "Nothing changed: the question stays at version 1." in text(response)
    dbs.expire_all()
    assert question.current_version == 1


def test_text_typed_in_the_browser_with_crlf_is_kept_with_lf(author, dbs, course):
    assert new_question(author, course, "truefalse", stem="Đoạn một.\r\n\r\nĐoạn hai.",
                        general_feedback="Dòng 1\r\nDòng 2").status_code == 302
    question = latest_question(dbs, course)
    spec = spec_of(dbs, question)
    assert spec["stem"] == "Đoạn một.\n\nĐoạn hai." and spec["general_feedback"] == "Dòng 1\nDòng 2"
    page = author.get(f"/author/questions/{question.id}").get_data(as_text=True)
    assert "<p>Đoạn một.</p><p>Đoạn hai.</p>" in page


def test_an_edit_can_move_a_question_to_a_new_category(author, dbs, course):
    new_question(author, course, "truefalse")
    question = latest_question(dbs, course)
    data = question_data("truefalse", category_id=str(question.category_id),
                         new_category="Thư điện tử")
    assert author.form(f"/author/questions/{question.id}", data).status_code == 302
    dbs.expire_all()
    assert question.category.name == "Thư điện tử"
    assert spec_of(dbs, question)["category"] == "Thư điện tử"


def test_the_bank_lists_filters_searches_archives_and_restores(author, dbs, course):
    new_question(author, course, "single", name="mk-manh")
    new_question(author, course, "truefalse", name="mk-chia-se", new_category="Chia sẻ")
    new_question(author, course, "numeric", name="so-ky-tu")
    chia_se = dbs.scalar(select(QuestionCategory).where(QuestionCategory.name == "Chia sẻ"))
    url = f"/author/courses/{course.id}/questions"

    page = text(author.get(url))
    assert all(name in page for name in ("mk-manh", "mk-chia-se", "so-ky-tu"))
    assert "Single choice" in page and "True/false" in page and "Numeric" in page
    assert "Mật khẩu nào mạnh nhất?" in page  # the text's excerpt
    assert "3 questions found" in page and "(2 questions)" in page and "(1 question)" in page

    only = text(author.get(f"{url}?category={chia_se.id}"))
    assert "mk-chia-se" in only and "mk-manh" not in only
    searched = text(author.get(f"{url}?q=MAT+KHAU+manh"))  # accents and case do not matter
    assert "mk-manh" in searched and "so-ky-tu" not in searched
    assert "so-ky-tu" in text(author.get(f"{url}?q=toi+thieu"))

    question = dbs.scalar(select(Question).where(Question.name == "mk-manh"))
    archiving = author.form(f"/author/questions/{question.id}/archive", follow_redirects=True)
    assert "The question mk-manh was archived" in text(archiving)
    assert "mk-manh" not in text(author.get(url))
    archived = author.get(f"{url}?archived=y").get_data(as_text=True)
    assert "mk-manh" in archived and "badge--archived" in archived
    assert author.form(f"/author/questions/{question.id}/restore").status_code == 302
    dbs.expire_all()
    assert question.is_archived is False


def test_the_bank_page_runs_a_fixed_number_of_queries(author, dbs, course, count_queries):
    def queries() -> int:
        with count_queries() as statements:
            assert author.get(f"/author/courses/{course.id}/questions").status_code == 200
        return len(statements)

    for n in range(2):
        new_question(author, course, "single", name=f"a-{n}")
    few = queries()
    for n in range(12):
        new_question(author, course, "matching", name=f"b-{n}", new_category=f"Nhóm {n % 3}")
    assert queries() == few


# ---------------------------------------------------------------- GIFT

def test_a_good_gift_file_is_imported_from_the_page(author, dbs, course):
    response = author.form(f"/author/courses/{course.id}/questions/import",
                           {"file": (io.BytesIO(GOOD_GIFT.encode("utf-8-sig")), "cau-hoi.txt"),
                            "text": "", "category": ""},
                           content_type="multipart/form-data", follow_redirects=True)

    page = text(response)
    assert "GIFT import: 4 question(s) added, 0 updated, 0 unchanged." in page
    names = set(dbs.scalars(select(Question.name).where(Question.course_id == course.id)))
    assert names == {"mk-dai", "mk-chia-se", "thu-lua-dao", "so-ky-tu"}
    categories = set(dbs.scalars(select(QuestionCategory.name)))
    assert categories == {"Mật khẩu", "Thư điện tử"}

    again = author.form(f"/author/courses/{course.id}/questions/import",
                        {"text": GOOD_GIFT, "category": ""}, follow_redirects=True)
    assert "0 question(s) added, 0 updated, 4 unchanged." in text(again)


def test_pasted_gift_uses_the_default_category_for_questions_without_one(author, dbs, course):
    response = author.form(f"/author/courses/{course.id}/questions/import", {
        "text": "::q1:: Trời xanh? {T}\n\n::q2:: Hai cộng hai bằng mấy? {#4}\n",
        "category": "Kiến thức chung"})
    assert response.status_code == 302
    assert set(dbs.scalars(select(QuestionCategory.name))) == {"Kiến thức chung"}


@pytest.mark.skipif(not MOODLE_GIFT.exists(), reason="the shared Moodle GIFT fixtures are absent")
def test_a_gift_file_with_unsupported_questions_imports_nothing_and_lists_every_problem(
        author, dbs, course):
    data = (MOODLE_GIFT / "questions.gift.txt").read_bytes()

    response = author.form(f"/author/courses/{course.id}/questions/import",
                           {"file": (io.BytesIO(data), "questions.gift.txt"), "text": ""},
                           content_type="multipart/form-data")

    page = text(response)
    assert response.status_code == 200 and "Nothing was imported" in page
    problems = re.findall(r"<li>line (\d+): ", page)
    assert len(problems) >= 2 and problems == sorted(problems, key=int)
    assert "line 2: " in page  # the essay question at the top of the file
    assert count(dbs, Question) == 0 and count(dbs, QuestionCategory) == 0


def test_an_empty_import_says_what_is_missing(author, dbs, course):
    response = author.form(f"/author/courses/{course.id}/questions/import", {"text": " "})
    assert "Choose a GIFT file or paste GIFT text." in text(response)
    broken = author.form(f"/author/courses/{course.id}/questions/import",
                         {"file": (io.BytesIO("::a:: Câu? {T}".encode("cp1258")), "a.txt")},
                         content_type="multipart/form-data")
    assert "not UTF-8" in text(broken) and count(dbs, Question) == 0


def test_the_gift_export_imports_again_as_the_same_questions(author, dbs, factory, course):
    for kind in ("single", "multiple", "truefalse", "shortanswer", "numeric", "matching"):
        assert new_question(author, course, kind, name=f"cau-{kind}", points="1").status_code == 302

    response = author.get(f"/author/courses/{course.id}/questions/export.gift")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    exported = response.get_data()
    assert "Mật khẩu nào mạnh nhất?" in exported.decode("utf-8")
    other = factory.course(title="Bản sao", lessons=1)
    imported = author.form(f"/author/courses/{other.id}/questions/import",
                           {"file": (io.BytesIO(exported), f"{course.slug}.gift.txt")},
                           content_type="multipart/form-data", follow_redirects=True)
    assert "6 question(s) added" in text(imported)
    dbs.expire_all()
    original = [_comparable(s) for s in bank.bank_specs(dbs, course.id)]
    copied = [_comparable(s) for s in bank.bank_specs(dbs, other.id)]
    assert copied == original


def _comparable(spec: QuestionSpec) -> QuestionSpec:
    from dataclasses import replace
    # GIFT does not carry case/accent settings: they come back as the defaults.
    return replace(spec, accent_insensitive=False, case_sensitive=False)


# ---------------------------------------------------------------- quizzes

def test_a_trainer_creates_a_quiz_and_builds_its_slots(author, dbs, course):
    for n in range(3):
        new_question(author, course, "single", name=f"mk-{n}")
    new_question(author, course, "truefalse", name="co-dinh", new_category="Khác")
    category = dbs.scalar(select(QuestionCategory).where(QuestionCategory.name == "Mật khẩu"))
    fixed = dbs.scalar(select(Question).where(Question.name == "co-dinh"))

    response = author.form(f"/author/courses/{course.id}/quizzes/new",
                           quiz_data(time_limit_minutes=""))
    assert response.status_code == 302, text(response)
    quiz = dbs.scalar(select(Quiz).where(Quiz.course_id == course.id))
    assert (quiz.key, quiz.attempts_allowed, quiz.time_limit_minutes, quiz.is_required) == (
        "kiem-tra-an-toan-thong-tin", 2, None, True)
    page = text(author.get(response.location))
    assert "Learners cannot start this quiz yet:" in page and "The quiz has no questions yet." in page

    too_many = author.form(f"/author/quizzes/{quiz.id}/slots/draw",
                           {"draw-category_id": str(category.id), "draw-draw_count": "5"},
                           follow_redirects=True)
    assert "Category Mật khẩu has 3 question(s) to draw from, the quiz draws 5." in text(too_many)
    slot = dbs.scalar(select(QuizSlot).where(QuizSlot.quiz_id == quiz.id))
    assert author.form(f"/author/slots/{slot.id}/remove").status_code == 302
    author.form(f"/author/quizzes/{quiz.id}/slots/draw",
                {"draw-category_id": str(category.id), "draw-draw_count": "2"})
    author.form(f"/author/quizzes/{quiz.id}/slots/fixed", {"fixed-question_id": str(fixed.id)})

    page = text(author.get(f"/author/quizzes/{quiz.id}"))
    assert "Each attempt shows 3 questions." in page
    assert "Learners cannot start" not in page
    dbs.expire_all()
    slots = dbs.scalars(select(QuizSlot).where(QuizSlot.quiz_id == quiz.id)
                        .order_by(QuizSlot.position)).all()
    assert [(s.category_id, s.question_id, s.draw_count) for s in slots] == [
        (category.id, None, 2), (None, fixed.id, 1)]
    assert author.form(f"/author/slots/{slots[1].id}/move/up").status_code == 302
    dbs.expire_all()
    assert [s.id for s in dbs.scalars(select(QuizSlot).where(QuizSlot.quiz_id == quiz.id)
                                       .order_by(QuizSlot.position))] == [slots[1].id, slots[0].id]
    listing = text(author.get(f"/author/courses/{course.id}/quizzes"))
    assert "Kiểm tra an toàn thông tin" in listing and "80%" in listing


def test_quiz_settings_are_changed_and_checked(author, dbs, course):
    quiz = plain_quiz(dbs, course)
    response = author.form(f"/author/quizzes/{quiz.id}", quiz_data(
        title="Kiểm tra lại", key="kiem-tra-lai", attempts_allowed="0", grading="last",
        review="score", layout="one_page", shuffle_choices=None, is_required=None))
    assert response.status_code == 302
    dbs.expire_all()
    assert (quiz.title, quiz.key, quiz.attempts_allowed, quiz.grading, quiz.review, quiz.layout,
            quiz.shuffle_choices, quiz.is_required) == (
        "Kiểm tra lại", "kiem-tra-lai", 0, "last", "score", "one_page", False, False)

    bank.save_quiz(dbs, course, bank.QuizData(title="Bài khác", key="bai-khac"))
    clash = author.form(f"/author/quizzes/{quiz.id}", quiz_data(key="bai-khac"))
    assert "Another quiz of this course uses that short name." in text(clash)
    bad = author.form(f"/author/quizzes/{quiz.id}", quiz_data(pass_mark="120", time_limit_minutes="0"))
    page = text(bad)
    assert "From 0 to 100." in page and "From 1 to 600 minutes" in page
    dbs.expire_all()
    assert quiz.key == "kiem-tra-lai" and quiz.pass_mark == 80


def test_a_quiz_is_archived_and_restored(author, dbs, course):
    quiz = plain_quiz(dbs, course)
    author.form(f"/author/quizzes/{quiz.id}/archive")
    dbs.expire_all()
    assert quiz.is_archived
    author.form(f"/author/quizzes/{quiz.id}/restore")
    dbs.expire_all()
    assert not quiz.is_archived


def test_a_slot_from_another_course_is_refused(author, dbs, factory, course):
    quiz = plain_quiz(dbs, course)
    other = factory.course(title="Khác", lessons=1)
    foreign = bank.save_question(dbs, other, QuestionSpec(
        type=QuestionType.TRUE_FALSE, stem="Đúng?", correct=True, category="Chung"))
    response = author.form(f"/author/quizzes/{quiz.id}/slots/fixed",
                           {"fixed-question_id": str(foreign.id)}, follow_redirects=True)
    assert "That question bank belongs to another course." in text(response)
    assert len(dbs.scalars(select(QuizSlot).where(QuizSlot.quiz_id == quiz.id)).all()) == 3


# ---------------------------------------------------------------- attempts

def test_the_attempts_list_shows_every_attempt_with_neutral_flags(author, dbs, factory, course):
    quiz = plain_quiz(dbs, course, attempts_allowed=0)
    unit = factory.unit(name="Vụ Hợp tác quốc tế")
    an = factory.person(name="Nguyễn Văn An", unit=unit)
    binh = factory.person(name="Trần Thị Bình")
    cuong = factory.person(name="Lê Minh Cường")
    first = engine.start_attempt(dbs, quiz, an, now=T0)
    engine.mark_shown(dbs, first, [1, 2, 3], now=T0)
    engine.record_signal(dbs, first, "blur", now=T0)
    engine.record_signal(dbs, first, "blur", now=T0)
    engine.record_signal(dbs, first, "paste", 2, now=T0)
    engine.save_answers(dbs, first, {1: "0", 2: "0"}, now=T0 + timedelta(seconds=1))  # fast
    engine.save_answers(dbs, first, {3: "0"}, now=T0 + timedelta(seconds=40))
    engine.submit_attempt(dbs, first, now=T0 + timedelta(minutes=3, seconds=5))
    take(dbs, quiz, binh, [1, 1, 1], at=T0 + timedelta(hours=1))
    take(dbs, quiz, cuong, [0, 0, 0], at=T0 + timedelta(hours=2), submit=False)
    url = f"/author/quizzes/{quiz.id}/attempts"

    page = text(author.get(url))

    assert "3 attempts found" in page
    assert "Flags are signals, not proof; they are never applied as penalties." in page
    row = page[page.index("Nguyễn Văn An"):page.index('id="regrade-title"')]  # the oldest: last
    assert "Vụ Hợp tác quốc tế" in row and "100%" in row and "passed" in row
    assert "left the page ×2" in row and "pasted ×1" in row and "fast ×2" in row
    assert "3 min 05 s" in row
    assert "in progress" in page and "not passed" in page
    assert f"/quizzes/{quiz.id}/people/{an.id}/remediation" in page

    passed = text(author.get(f"{url}?status=passed"))
    assert "Nguyễn Văn An" in passed and "Trần Thị Bình" not in passed
    failed = text(author.get(f"{url}?status=failed"))
    assert "Trần Thị Bình" in failed and "Nguyễn Văn An" not in failed
    assert "Lê Minh Cường" in text(author.get(f"{url}?status=open"))
    searched = text(author.get(f"{url}?q=binh"))
    assert "1 attempt found" in searched and "Trần Thị Bình" in searched


def test_the_attempts_list_is_paginated(author, dbs, factory, course, app, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 2)
    quiz = plain_quiz(dbs, course)
    for n in range(5):
        take(dbs, quiz, factory.person(name=f"Người Thứ {n}"), [0, 0, 0],
             at=T0 + timedelta(minutes=n))
    page = text(author.get(f"/author/quizzes/{quiz.id}/attempts?page=3"))
    assert "Showing 5–5 of 5" in page and "Người Thứ 0" in page


def test_the_attempts_page_runs_a_fixed_number_of_queries(author, dbs, factory, course,
                                                          count_queries):
    quiz = plain_quiz(dbs, course, attempts_allowed=0)
    url = f"/author/quizzes/{quiz.id}/attempts"

    def queries() -> int:
        with count_queries() as statements:
            assert author.get(url).status_code == 200
        return len(statements)

    for n in range(2):
        take(dbs, quiz, factory.person(), [0, 1, 0], at=T0 + timedelta(minutes=n))
    few = queries()
    for n in range(10):
        take(dbs, quiz, factory.person(unit=factory.unit()), [0, 0, 0],
             at=T0 + timedelta(hours=1, minutes=n))
    assert queries() == few


def test_the_attempt_page_shows_each_response_the_key_and_the_flags(author, dbs, factory, course):
    quiz = plain_quiz(dbs, course)
    learner = factory.person(name="Đỗ Thị Lan")
    attempt = engine.start_attempt(dbs, quiz, learner, now=T0)
    engine.mark_shown(dbs, attempt, [1, 2, 3], now=T0)
    engine.record_signal(dbs, attempt, "paste", 1, now=T0)
    engine.save_answers(dbs, attempt, {1: "1", 2: "0"}, now=T0 + timedelta(seconds=2))
    engine.submit_attempt(dbs, attempt, now=T0 + timedelta(minutes=1))

    page = text(author.get(f"/author/attempts/{attempt.id}"))

    first = page[page.index('id="answer-1"'):page.index('id="answer-2"')]
    assert "Sai 1" in first and "Đúng 1" in first and "0 / 1" in first and "Wrong" in first
    assert "pasted" in first and "fast" in first
    third = page[page.index('id="answer-3"'):]
    assert "(no answer)" in third and "Not answered" in third
    assert "Đỗ Thị Lan" in page and "33.33%" in page
    assert f"/quizzes/{quiz.id}/people/{learner.id}/remediation" in page


def test_regrading_from_the_attempts_page_uses_the_fixed_key(author, dbs, factory, course):
    quiz = plain_quiz(dbs, course, pass_mark=80)
    learners = [factory.person() for _ in range(2)]
    attempts = [take(dbs, quiz, person, [1, 0, 0]) for person in learners]
    assert all(a.percent == pytest.approx(66.67) and not a.passed for a in attempts)
    question = dbs.scalar(select(Question).where(Question.name == "cau-1"))
    bank.save_question(dbs, course, QuestionSpec(
        type=QuestionType.SINGLE, stem="Câu hỏi số 1?", category="Chung",
        choices=(Choice("Đúng 1", 1.0), Choice("Sai 1", 1.0))), question=question)

    response = author.form(f"/author/quizzes/{quiz.id}/regrade", follow_redirects=True)

    assert "2 answer(s) changed in 2 attempt(s); 2 attempt(s) now pass." in text(response)
    dbs.expire_all()
    assert [dbs.get(Attempt, a.id).percent for a in attempts] == [100, 100]


def test_the_statistics_page_shows_facility_discrimination_and_choices(author, dbs, factory, course):
    quiz = plain_quiz(dbs, course)
    for answers in ([0, 0, 0], [0, 0, 1], [0, 1, 1], [1, 1, 1]):
        take(dbs, quiz, factory.person(), answers)

    page = text(author.get(f"/author/quizzes/{quiz.id}/statistics"))

    assert "From 4 submitted attempts." in page
    first = dbs.scalar(select(Question).where(Question.name == "cau-1"))
    # facility 3/4; discrimination: item [1,1,1,0] against the rest [2,1,0,0] -> r = 0.52
    row = page[page.index(f'id="item-{first.id}"'):]
    row = row[:row.index("</tr>")]
    assert "75%" in row and "0.52" in row
    assert 'value="75"' in row and "3 (75%)" in row and "1 (25%)" in row
    assert "average share of the points" in page and "separates" in page


# ---------------------------------------------------------------- remediation

@pytest.fixture()
def out_of_attempts(dbs, factory, course):
    """A learner in a division of a department who used both attempts and failed."""
    department = factory.unit(name="Cục Lãnh sự")
    division = factory.unit(name="Phòng Hộ chiếu", parent=department)
    learner = factory.person(name="Vũ Thị Mai", unit=division, email="mai@mofa.example")
    quiz = plain_quiz(dbs, course, attempts_allowed=2, time_limit_minutes=10)
    take(dbs, quiz, learner, [1, 1, 1])
    take(dbs, quiz, learner, [1, 1, 0], at=T0 + timedelta(days=1))
    return quiz, learner, department


def remediation_url(quiz, person, kind: str = "") -> str:
    return f"/quizzes/{quiz.id}/people/{person.id}/remediation" + (f"/{kind}" if kind else "")


def test_a_trainer_grants_extra_attempts_resets_and_extends_the_time(
        author, dbs, out_of_attempts, trainer):
    quiz, learner, _department = out_of_attempts
    page = text(author.get(remediation_url(quiz, learner)))
    assert "2 of 2" in page and "no attempts left" in page and "Nothing granted yet." in page

    granted = author.form(remediation_url(quiz, learner, "extra_attempts"),
                          {"attempts-amount": "1", "attempts-reason": "Ốm trong tuần thi"},
                          follow_redirects=True)
    assert "Vũ Thị Mai was given 1 more attempt." in text(granted)
    assert engine.quiz_state(dbs, quiz, learner.id).remaining == 1
    author.form(remediation_url(quiz, learner, "extra_time"),
                {"time-amount": "20", "time-reason": "Hỗ trợ người khiếm thị"})
    author.form(remediation_url(quiz, learner, "reset"), {"reset-reason": "Học lại từ đầu"})

    state = engine.quiz_state(dbs, quiz, learner.id)
    assert (state.used, state.allowed, state.extra_minutes, len(state.attempts)) == (0, 2, 20, 2)
    page = text(author.get(remediation_url(quiz, learner)))
    assert "Ốm trong tuần thi" in page and "1 extra attempt" in page
    assert "20 extra minutes" in page and "Reset after attempt 2" in page
    assert page.count("Lê Thu Hương") >= 3
    grants = dbs.scalars(select(QuizGrant).where(QuizGrant.user_id == learner.id)).all()
    assert {g.granted_by_id for g in grants} == {trainer.id}


def test_a_unit_head_above_the_person_can_grant(client, dbs, factory, out_of_attempts):
    quiz, learner, department = out_of_attempts
    head = factory.unit_head(department, name="Phạm Thị Thanh Hà", email="head@mofa.example")
    sign_in(client, head)

    learning = text(client.get(f"/learning/people/{learner.id}"))
    assert f"/courses/{quiz.course_id}/people/{learner.id}/quizzes" in learning
    listing = text(client.get(f"/courses/{quiz.course_id}/people/{learner.id}/quizzes"))
    assert remediation_url(quiz, learner) in listing and "Kiểm tra cuối khoá" in listing
    page = text(client.get(remediation_url(quiz, learner)))
    assert "/author/attempts/" not in page  # heads see the history, not the trainers' pages
    response = client.form(remediation_url(quiz, learner, "extra_attempts"),
                           {"attempts-amount": "2", "attempts-reason": "Đi công tác"})

    assert response.status_code == 302
    assert engine.quiz_state(dbs, quiz, learner.id).remaining == 2


@pytest.mark.parametrize("who", ["other_head", "learner_themselves", "colleague", "mentor"])
def test_others_may_not_remediate(client, dbs, factory, out_of_attempts, who):
    quiz, learner, _department = out_of_attempts
    other = factory.unit(name="Vụ Châu Âu")
    person = {
        "other_head": lambda: factory.unit_head(other, email="x@mofa.example"),
        "learner_themselves": lambda: learner,
        "colleague": lambda: factory.person(unit=learner.unit, email="x@mofa.example"),
        "mentor": lambda: factory.person(email="x@mofa.example", roles=(("mentor", other),)),
    }[who]()
    sign_in(client, person)

    for url in (remediation_url(quiz, learner),
                f"/courses/{quiz.course_id}/people/{learner.id}/quizzes"):
        assert client.get(url).status_code in (403, 404), url
    for kind, data in (("extra_attempts", {"attempts-amount": "3", "attempts-reason": "Tự cho mình"}),
                       ("reset", {"reset-reason": "Tự cho mình"}),
                       ("extra_time", {"time-amount": "30", "time-reason": "Tự cho mình"})):
        assert client.form(remediation_url(quiz, learner, kind), data).status_code in (403, 404)
    assert count(dbs, QuizGrant) == 0
    assert engine.quiz_state(dbs, quiz, learner.id).out_of_attempts


def test_remediation_needs_a_reason_and_a_sensible_amount(author, dbs, out_of_attempts):
    quiz, learner, _department = out_of_attempts

    empty = text(author.form(remediation_url(quiz, learner, "reset"), {"reset-reason": "  "}))
    short = text(author.form(remediation_url(quiz, learner, "extra_attempts"),
                             {"attempts-amount": "1", "attempts-reason": "vì"}))
    many = text(author.form(remediation_url(quiz, learner, "extra_attempts"),
                            {"attempts-amount": "11", "attempts-reason": "Lý do đầy đủ"}))
    long_time = text(author.form(remediation_url(quiz, learner, "extra_time"),
                                 {"time-amount": "601", "time-reason": "Lý do đầy đủ"}))

    assert "Give a reason." in empty
    assert "Give a reason (at least 5 characters)." in short
    assert "From 1 to 10." in many and "From 1 to 600 minutes." in long_time
    assert count(dbs, QuizGrant) == 0


def test_remediation_of_unknown_people_or_quizzes_is_404(author, dbs, out_of_attempts):
    quiz, learner, _department = out_of_attempts
    assert author.get(f"/quizzes/{quiz.id}/people/999999/remediation").status_code == 404
    assert author.get(f"/quizzes/999999/people/{learner.id}/remediation").status_code == 404


def test_the_course_authoring_page_links_to_the_bank(author, course):
    page = text(author.get(f"/author/courses/{course.id}"))
    assert f"/author/courses/{course.id}/questions" in page

"""GIFT import/export: Moodle's own fixtures, a corpus of tricky text, round-trips."""
from __future__ import annotations

import math
import random
import unicodedata
from pathlib import Path

import pytest

from lms.quizzes.gift import GiftProblem, parse_gift, write_gift
from lms.quizzes.spec import Choice, MatchPair, NumericAnswer, QuestionSpec, QuestionType

# shared/ sits beside the checkout (here and in CI).
FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "interop" / "moodle-gift"
T = QuestionType

pytestmark = pytest.mark.skipif(not FIXTURES.exists(), reason="Moodle fixtures missing")

ACTIVITY_PAIRS = (
    MatchPair("An activity supporting asynchronous discussions.", "Forum"),
    MatchPair("A teacher asks a question and specifies a choice of multiple responses.",
              "Choice"),
    MatchPair("A bank of record entries which participants can add to.", "Database"),
    MatchPair("A collection of web pages that anyone can add to or edit.", "Wiki"),
    MatchPair("", "Chat"),
)


def parse_file(name: str):
    return parse_gift((FIXTURES / name).read_bytes())


# ------------------------------------------------------------------ Moodle fixtures

def test_moodle_questions_fixture():
    result = parse_file("questions.gift.txt")
    assert result.questions == [
        QuestionSpec(T.MATCHING, "Match the <b>activity</b> to the description.",
                     name="Moodle activities", stem_format="html", pairs=ACTIVITY_PAIRS),
        QuestionSpec(T.SINGLE, "What's between orange and green in the spectrum?", name="Q2",
                     choices=(Choice("yellow", 1.0, "right; good!"),
                              Choice("red", 0.0, "wrong, it's yellow"),
                              Choice("blue", 0.0, "wrong, it's yellow"))),
        QuestionSpec(T.MULTIPLE, "What's between orange and green in the spectrum?",
                     name="colours",
                     choices=(Choice("yellow", 0.5, "right; good!"),
                              Choice("red", -1.0, "wrong"),
                              Choice("off-beige", 0.5, "right; good!"),
                              Choice("blue", -1.0, "wrong"))),
        # {#3:2~#Completely wrong}: 3 ± 2, plus Moodle's "*" catch-all for other numbers.
        QuestionSpec(T.NUMERIC, "What is a number from 1 to 5?", name="Q5",
                     numeric=(NumericAnswer(3.0, 2.0, 1.0, ""),
                              NumericAnswer(0.0, math.inf, 0.0, "Completely wrong"))),
        QuestionSpec(T.SHORT_ANSWER, "Which is the best animal?", name="Shortanswer",
                     choices=(Choice("Frog", 1.0, "Good!"),
                              Choice("Cat", 0.5, "What is it with Moodlers and cats?"),
                              Choice("*", 0.0, "Completely wrong"))),
        # FALSE#wrong#right: "right" is shown for the right answer (false).
        QuestionSpec(T.TRUE_FALSE, "42 is the Absolute Answer to everything.", name="Q1",
                     correct=False, feedback_true="42 is the Ultimate Answer.",
                     feedback_false="You gave the right answer.",
                     general_feedback="This is, of course, a Hitchiker's Guide to the "
                                      "Galaxy reference."),
        QuestionSpec(T.TRUE_FALSE, "TSL is blablabla.", name="2-08 TSL", correct=True),
        QuestionSpec(T.TRUE_FALSE, "TSL is blablabla.", name="2-08 TSL", correct=True),
    ]
    lines = [p.line for p in result.problems]
    assert lines == [2, 31, 41]
    assert "Essay" in result.problems[0].message
    # The `";` junk after the closing brace is ignored and reported, not put in the stem.
    assert '";' in result.problems[1].message and "Q5" in result.problems[1].message
    assert '";' in result.problems[2].message and "Q1" in result.problems[2].message


def test_moodle_category_fixture():
    result = parse_file("questions_in_category.gift.txt")
    assert result.problems == []
    cat = "Default for New Features"
    assert result.questions == [
        QuestionSpec(T.MATCHING, "Match the activity to the description.",
                     name="Moodle activities", stem_format="html", category=cat,
                     pairs=ACTIVITY_PAIRS),
        QuestionSpec(T.SINGLE,
                     '<a href="http://demo.moodle.net/file.php/5/media/bonjour.mp3">Listen '
                     "to this greeting:</a><br /><br />What language is being spoken?",
                     name="Greeting", stem_format="html", category=cat,
                     choices=(Choice("English", 0.0, "Sorry, listen again."),
                              Choice("French", 1.0, "Yes, well done!"),
                              Choice("German", 0.0, "Sorry, listen again."),
                              Choice("Spanish", 0.0, "Sorry, listen again."))),
        QuestionSpec(T.SHORT_ANSWER, "Anyone who uses Moodle is a ...", name="Moodle user",
                     stem_format="html", category=cat, choices=(Choice("Moodler", 1.0),)),
        QuestionSpec(T.TRUE_FALSE,
                     'Moodle is an acronym for <span style="font-style: italic;">Modular '
                     "Object-Oriented Dynamic Learning Environment</span>.",
                     name="Moodle acronym", stem_format="html", category=cat, correct=True),
    ]


def test_windows_1252_fixture_is_refused():
    result = parse_file("questions_encoding_windows-1252.gift.txt")
    assert result.questions == []
    assert len(result.problems) == 1
    assert result.problems[0].line == 15
    assert "not UTF-8" in result.problems[0].message
    assert "UTF-8" in result.problems[0].message.split("Save")[1]


def test_windows_1252_read_as_text_has_no_mojibake():
    # Decoded correctly by the caller, the same file imports its category and reports
    # the two essays; the matching left text keeps its "ö".
    text = (FIXTURES / "questions_encoding_windows-1252.gift.txt").read_bytes().decode("cp1252")
    result = parse_gift(text)
    assert [p.line for p in result.problems] == [6, 10]
    (q,) = result.questions
    assert q.category == "Default for LTTEST"
    assert q.pairs[0] == MatchPair("<p>aödf<br></p>", "asdf")


# ------------------------------------------------------------------ tricky corpus

def one(text: str | bytes) -> QuestionSpec:
    result = parse_gift(text)
    assert result.problems == []
    (q,) = result.questions
    return q


def test_vietnamese_passes_through_nfc():
    q = one("Thủ đô của Việt Nam là gì? {=Hà Nội ~Huế ~Đà Nẵng}".encode())
    assert q == QuestionSpec(T.SINGLE, "Thủ đô của Việt Nam là gì?",
                             choices=(Choice("Hà Nội", 1.0), Choice("Huế"),
                                      Choice("Đà Nẵng")))
    decomposed = unicodedata.normalize("NFD", "Thủ đô của Việt Nam là gì? {=Hà Nội}")
    q = one(decomposed)
    assert q.stem == "Thủ đô của Việt Nam là gì?" and q.choices[0].text == "Hà Nội"
    assert q.type == T.SHORT_ANSWER


def test_utf8_bom_and_crlf():
    data = "\ufeff// c\r\n::A::Hà Nội?\r\n{\r\n=có\r\n~không\r\n}\r\n\r\n::B::x{T}\r\n"
    result = parse_gift(data.encode())
    assert result.problems == []
    assert [q.name for q in result.questions] == ["A", "B"]
    assert result.questions[0].choices == (Choice("có", 1.0), Choice("không"))


def test_escapes_everywhere():
    q = one(r"::a\:\:b\{c\}:: 1 \= 1\~ \#x \{y\} back\\slash\nnext {"
            "\n=ans \\= \\~ \\# \\{ \\} \\: \\\\ #fb \\# \\= \\~ \\\\"
            "\n~other\\nline"
            "\n####gen \\{\\}"
            "\n}")
    assert q.name == "a::b{c}"
    assert q.stem == "1 = 1~ #x {y} back\\slash\nnext"
    assert q.choices == (Choice("ans = ~ # { } : \\", 1.0, "fb # = ~ \\"),
                         Choice("other\nline", 0.0))
    assert q.general_feedback == "gen {}"


def test_unknown_backslash_is_kept():
    assert one(r"C:\temp {=a\b}").choices[0].text == "a\\b"


def test_feedback_containing_arrow_is_not_matching():
    q = one("Best? {=Frog#yes -> frog ~Cat#no -> cat}")
    assert q.type == T.SINGLE and q.choices[0].feedback == "yes -> frog"
    q = one("Name it {=Frog#yes -> right =Toad#ok -> close}")
    assert q.type == T.SHORT_ANSWER and q.choices[1].feedback == "ok -> close"


def test_percent_signs_in_text():
    q = one("Giảm 50% còn bao nhiêu? 100% {=%100%50% ~%-50%20% giảm#sai 10%}")
    assert q.stem == "Giảm 50% còn bao nhiêu? 100%"
    assert q.type == T.MULTIPLE
    assert q.choices == (Choice("50%", 1.0), Choice("20% giảm", -0.5, "sai 10%"))


def test_blank_lines_comments_and_categories():
    text = """// top comment
$CATEGORY: $course$/top/Bảo mật/Mật khẩu

// a comment
::One:: First?
{T}
// between

// more
::Two:: Second?{F}

$CATEGORY: Khác
::Three:: Third
is multi-line {=yes}

::Four:: x {=y}
"""
    result = parse_gift(text)
    assert result.problems == []
    got = [(q.name, q.category, q.stem) for q in result.questions]
    assert got == [("One", "Bảo mật/Mật khẩu", "First?"),
                   ("Two", "Bảo mật/Mật khẩu", "Second?"),
                   ("Three", "Khác", "Third\nis multi-line"),
                   ("Four", "Khác", "x")]


def test_format_markers():
    q = one("::n::[markdown]**bold** {=[html]<b>a</b>#[moodle]fb ~[plain]b}")
    assert q.stem_format == "markdown" and q.stem == "**bold**"
    assert q.choices == (Choice("<b>a</b>", 1.0, "fb"), Choice("b"))


def test_true_false_variants_and_feedback():
    assert one("x{T}").correct is True
    assert one("x{TRUE}").correct is True
    assert one("x{F}").correct is False
    assert one("x{FALSE}").correct is False
    q = one("x{TRUE#no, it is true#yes}")
    assert (q.feedback_true, q.feedback_false) == ("yes", "no, it is true")


def test_numeric_forms():
    assert one("n{#3:2}").numeric == (NumericAnswer(3.0, 2.0),)
    assert one("n{#1..5}").numeric == (NumericAnswer(3.0, 2.0),)
    assert one("n{#-2.5}").numeric == (NumericAnswer(-2.5, 0.0),)
    q = one("n{# =3:0#exact =%50%3:1#close ~#wrong}")
    assert q.numeric == (NumericAnswer(3.0, 0.0, 1.0, "exact"),
                         NumericAnswer(3.0, 1.0, 0.5, "close"),
                         NumericAnswer(0.0, math.inf, 0.0, "wrong"))


def test_fill_in_the_blank():
    q = one("Moodle costs {~lots of money =nothing ~a small amount} to download.")
    assert q.stem == "Moodle costs _____ to download."
    assert q.type == T.SINGLE
    q = one("Thủ đô là {=Hà Nội}.")
    assert q.stem == "Thủ đô là _____."


def test_unsupported_are_reported_and_others_continue():
    text = """::E:: essay {}

::D:: just a description

::ok1:: fine {T}

::N:: number? {#abc}

::W:: weight {~%x%a =b}

::M:: two {T} blocks {F}

::ok2:: fine {=a ~b}
"""
    result = parse_gift(text)
    assert [q.name for q in result.questions] == ["ok1", "ok2"]
    assert [p.line for p in result.problems] == [1, 3, 7, 9, 11]
    messages = [p.message for p in result.problems]
    assert "Essay" in messages[0]
    assert "Description" in messages[1]
    assert "abc" in messages[2] and "not a number" in messages[2]
    assert "%x%" in messages[3]
    assert "more than one answer block" in messages[4]
    assert all(isinstance(p, GiftProblem) for p in result.problems)


def test_mixed_matching_and_answers_is_reported():
    result = parse_gift("q {=a -> b =c}\n\nq2 {#1..}")
    assert result.questions == []
    assert "mixes matching" in result.problems[0].message
    assert result.problems[1].line == 3 and "'' is not a number" in result.problems[1].message


def test_unclosed_block():
    result = parse_gift("q {=a\n\nnext {T}")
    assert [q.stem for q in result.questions] == ["next"]
    assert result.problems[0].line == 1 and "closed" in result.problems[0].message


def test_invalid_utf8_bytes_never_mojibake():
    result = parse_gift("::q:: Hà Nội? {T}".encode("cp1258", errors="replace") + b"\xff")
    assert result.questions == []
    assert "not UTF-8" in result.problems[0].message


# ------------------------------------------------------------------ writing / round-trip

def test_write_fixture_round_trip():
    for name in ("questions.gift.txt", "questions_in_category.gift.txt"):
        qs = parse_file(name).questions
        assert parse_gift(write_gift(qs)) .questions == qs


def test_write_categories_and_ordering():
    qs = [QuestionSpec(T.TRUE_FALSE, "a", correct=True, category="X/Y"),
          QuestionSpec(T.TRUE_FALSE, "b", correct=False, category="X/Y"),
          QuestionSpec(T.ORDERING, "o", order=("1", "2"), category="X/Y"),
          QuestionSpec(T.TRUE_FALSE, "c", correct=False, category="")]
    text = write_gift(qs)
    assert text.count("$CATEGORY:") == 2
    result = parse_gift(text)
    assert result.problems == []
    assert result.questions == [qs[0], qs[1], qs[3]]


ALPHABET = ("abcxyz ABC 0123 ~=#{}:\\/->%[]$*_.,;\"'\n\t"
            "ăâđêôơưàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ"
            "ĂÂĐÊÔƠƯ日本語中文😀ß\u0301\u0323\u00a0")


def rand_text(rng: random.Random, empty_ok: bool = False, no_arrow: bool = False) -> str:
    while True:
        s = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 14)))
        if rng.random() < 0.2:
            s = rng.choice(["[html]", "[plain]", "//", "::", "%50%", "$CATEGORY: "]) + s
        s = unicodedata.normalize("NFC", s.strip()).strip()
        if no_arrow:
            s = s.replace("->", "-")
        if s or empty_ok:
            return s


def rand_question(rng: random.Random, qtype: QuestionType) -> QuestionSpec:
    base = dict(stem=rand_text(rng, empty_ok=True), name=rand_text(rng, empty_ok=True),
                stem_format=rng.choice(["plain", "html", "markdown", "moodle"]),
                general_feedback=rand_text(rng, empty_ok=True),
                category=rng.choice(["", "Bảo mật/Mật khẩu", "Default", "a b/c"]))
    fb = lambda: rand_text(rng, empty_ok=True)  # noqa: E731
    if qtype == T.SINGLE:
        n = rng.randint(2, 5)
        right = rng.randrange(n)
        choices = tuple(Choice(rand_text(rng), 1.0 if i == right else 0.0, fb())
                        for i in range(n))
        return QuestionSpec(qtype, choices=choices, **base)
    if qtype == T.MULTIPLE:
        fracs = [1.0, 0.5, 1 / 3, 0.25, 0.0, -0.5, -1.0, 0.1, -0.125]
        choices = tuple(Choice(rand_text(rng), rng.choice(fracs), fb())
                        for _ in range(rng.randint(1, 5)))
        choices = (Choice(rand_text(rng), 0.5, fb()),) + choices
        return QuestionSpec(qtype, choices=choices, **base)
    if qtype == T.SHORT_ANSWER:
        choices = tuple(Choice(rand_text(rng, no_arrow=True),
                               rng.choice([1.0, 0.5, 0.0, 0.9]), fb())
                        for _ in range(rng.randint(1, 4)))
        return QuestionSpec(qtype, choices=choices, **base)
    if qtype == T.TRUE_FALSE:
        return QuestionSpec(qtype, correct=rng.random() < 0.5, feedback_true=fb(),
                            feedback_false=fb(), **base)
    if qtype == T.NUMERIC:
        answers = [NumericAnswer(rng.choice([3.0, -2.5, 1e-7, 123456.789, rng.uniform(-1e6, 1e6)]),
                                 rng.choice([0.0, 0.5, 2.0, rng.random()]),
                                 rng.choice([1.0, 0.5, 1 / 3, 0.0]), fb())
                   for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.5:
            answers.append(NumericAnswer(0.0, math.inf, 0.0, fb()))
        return QuestionSpec(qtype, numeric=tuple(answers), **base)
    if qtype == T.MATCHING:
        pairs = [MatchPair(rand_text(rng, no_arrow=True).lstrip("%").strip() or "L",
                           rand_text(rng)) for _ in range(rng.randint(1, 4))]
        if rng.random() < 0.5:
            pairs.append(MatchPair("", rand_text(rng)))
        return QuestionSpec(qtype, pairs=tuple(pairs), **base)
    raise AssertionError(qtype)


EXPRESSIBLE = [T.SINGLE, T.MULTIPLE, T.SHORT_ANSWER, T.TRUE_FALSE, T.NUMERIC, T.MATCHING]


@pytest.mark.parametrize("qtype", EXPRESSIBLE)
@pytest.mark.parametrize("seed", range(40))
def test_round_trip_random(qtype, seed):
    rng = random.Random(f"{qtype.value}-{seed}")
    qs = [rand_question(rng, qtype) for _ in range(3)]
    text = write_gift(qs)
    result = parse_gift(text.encode())
    assert result.problems == [], text
    assert result.questions == qs, text


@pytest.mark.parametrize("seed", range(20))
def test_round_trip_mixed_with_crlf(seed):
    rng = random.Random(seed)
    qs = [rand_question(rng, rng.choice(EXPRESSIBLE)) for _ in range(8)]
    text = write_gift(qs).replace("\n", "\r\n")
    result = parse_gift(text.encode("utf-8-sig"))
    assert result.problems == [], text
    assert result.questions == qs, text


def test_moodle_numeric_catch_all_feedback_reaches_the_learner():
    from lms.quizzes.grading import grade

    data = (FIXTURES / "questions.gift.txt").read_bytes()
    q5 = next(q for q in parse_gift(data).questions if q.name == "Q5")
    assert grade(q5, "4,5").state == "correct"
    wrong = grade(q5, "9")
    assert wrong.state == "wrong" and "Completely wrong" in wrong.feedback

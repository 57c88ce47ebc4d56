"""Pure grading: no database, no app."""
from __future__ import annotations

import dataclasses
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lms.quizzes.grading import Grade, correct_response, grade, max_score
from lms.quizzes.spec import Choice, MatchPair, NumericAnswer, QuestionSpec, QuestionType

T = QuestionType


def single(**kw) -> QuestionSpec:
    base = dict(
        type=T.SINGLE,
        stem="Thủ đô của Việt Nam?",
        choices=(
            Choice("Hà Nội", 1.0, "Đúng rồi"),
            Choice("Huế", 0.5, "Cố đô"),
            Choice("Sài Gòn", -0.5, "Sai"),
        ),
        general_feedback="Hà Nội là thủ đô từ 1976.",
    )
    base.update(kw)
    return QuestionSpec(**base)


def multiple(choices=None, **kw) -> QuestionSpec:
    choices = choices or (
        Choice("A", 0.5, "fa"),
        Choice("B", 0.5, "fb"),
        Choice("C", -0.5, "fc"),
        Choice("D", -0.5, "fd"),
    )
    return QuestionSpec(type=T.MULTIPLE, stem="Pick", choices=choices, **kw)


def short(**kw) -> QuestionSpec:
    base = dict(
        type=T.SHORT_ANSWER,
        stem="Thủ đô?",
        choices=(Choice("Hà Nội", 1.0, "Chính xác"), Choice("Thăng Long", 0.5, "Tên cũ")),
    )
    base.update(kw)
    return QuestionSpec(**base)


def numeric(*answers: NumericAnswer, **kw) -> QuestionSpec:
    answers = answers or (NumericAnswer(3.5, 0.0, 1.0, "ok"),)
    return QuestionSpec(type=T.NUMERIC, stem="n?", numeric=answers, **kw)


def matching(**kw) -> QuestionSpec:
    base = dict(
        type=T.MATCHING,
        stem="Ghép",
        pairs=(
            MatchPair("Hà Nội", "Miền Bắc"),
            MatchPair("", "Nước ngoài"),  # distractor: not an index
            MatchPair("Huế", "Miền Trung"),
            MatchPair("Cần Thơ", "Miền Nam"),
            MatchPair("Sài Gòn", "Miền Nam"),
        ),
    )
    base.update(kw)
    return QuestionSpec(**base)


def ordering(**kw) -> QuestionSpec:
    base = dict(type=T.ORDERING, stem="Sắp xếp", order=("một", "hai", "ba", "bốn"))
    base.update(kw)
    return QuestionSpec(**base)


def truefalse(**kw) -> QuestionSpec:
    base = dict(type=T.TRUE_FALSE, stem="Đúng?", correct=True, feedback_true="ft", feedback_false="ff")
    base.update(kw)
    return QuestionSpec(**base)


# --------------------------------------------------------------------------- Grade


def test_grade_is_frozen():
    g = grade(single(), 0)
    assert isinstance(g, Grade)
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.score = 5  # type: ignore[misc]


# --------------------------------------------------------------------------- single


def test_single_right_choice_with_feedback_then_general():
    g = grade(single(), 0)
    assert (g.score, g.fraction, g.state) == (1.0, 1.0, "correct")
    assert g.feedback == ("Đúng rồi", "Hà Nội là thủ đô từ 1976.")


def test_single_partial_choice():
    g = grade(single(), 1)
    assert (g.score, g.fraction, g.state) == (0.5, 0.5, "partial")
    assert g.feedback[0] == "Cố đô"


def test_single_negative_fraction_floored_at_zero():
    g = grade(single(), 2)
    assert (g.score, g.fraction, g.state) == (0.0, 0.0, "wrong")
    assert g.feedback == ("Sai", "Hà Nội là thủ đô từ 1976.")


def test_single_unanswered_gets_only_general_feedback():
    g = grade(single(), None)
    assert (g.score, g.state) == (0.0, "unanswered")
    assert g.feedback == ("Hà Nội là thủ đô từ 1976.",)


@pytest.mark.parametrize("bad", [3, -1, 99, "0", 0.0, True, [0], {"a": 1}])
def test_single_bad_shapes_are_wrong(bad):
    g = grade(single(), bad)
    assert (g.score, g.state) == (0.0, "wrong")


def test_single_points_scaling():
    spec = single(points=2.5)
    assert grade(spec, 0).score == 2.5
    assert grade(spec, 1).score == 1.25
    assert max_score(spec) == 2.5


# --------------------------------------------------------------------------- multiple


def test_multiple_all_right_is_full_credit():
    g = grade(multiple(), [0, 1])
    assert (g.score, g.fraction, g.state) == (1.0, 1.0, "correct")
    assert g.feedback == ("fa", "fb")


def test_multiple_partial():
    g = grade(multiple(), [1])
    assert (g.fraction, g.state) == (0.5, "partial")


def test_multiple_ticking_everything_is_not_full_credit():
    g = grade(multiple(), [0, 1, 2, 3])
    assert g.fraction == 0.0
    assert g.state == "wrong"


def test_multiple_negative_marks_floored_at_zero():
    g = grade(multiple(), [2, 3])
    assert (g.score, g.fraction, g.state) == (0.0, 0.0, "wrong")


def test_multiple_right_plus_one_wrong():
    assert grade(multiple(), [0, 1, 2]).fraction == 0.5


def test_multiple_without_negative_fractions_penalises_wrong_picks():
    spec = multiple(
        choices=(Choice("A", 0.5), Choice("B", 0.5), Choice("C", 0.0), Choice("D", 0.0))
    )
    assert grade(spec, [0, 1]).fraction == 1.0
    # each wrong pick costs 1 / number of right choices = 0.5
    assert grade(spec, [0, 1, 2]).fraction == 0.5
    assert grade(spec, [0, 1, 2, 3]).fraction == 0.0
    assert grade(spec, [0, 1, 2, 3]).state == "wrong"
    three = multiple(choices=(Choice("A", 1 / 3), Choice("B", 1 / 3), Choice("C", 1 / 3), Choice("D")))
    assert grade(three, [0, 1, 2]).state == "correct"
    assert grade(three, [0, 1, 2, 3]).fraction == pytest.approx(2 / 3, abs=1e-6)


def test_multiple_empty_is_unanswered():
    assert grade(multiple(), []).state == "unanswered"
    assert grade(multiple(), set()).state == "unanswered"
    assert grade(multiple(), None).state == "unanswered"


def test_multiple_duplicates_count_once():
    assert grade(multiple(), [0, 0, 0]).fraction == 0.5


@pytest.mark.parametrize("bad", [[0, 7], [-1], ["0", 1], "01", 0, {0: True}, [True], [0.0]])
def test_multiple_bad_shapes_are_wrong(bad):
    g = grade(multiple(), bad)
    assert (g.score, g.state) == (0.0, "wrong")


def test_multiple_points_scaling():
    spec = multiple(points=2.5)
    assert grade(spec, (0,)).score == 1.25
    assert grade(spec, {0, 1}).score == 2.5


# --------------------------------------------------------------------------- true/false


def test_truefalse():
    spec = truefalse(general_feedback="g")
    assert grade(spec, True) == Grade(1.0, 1.0, "correct", ("ft", "g"))
    assert grade(spec, False) == Grade(0.0, 0.0, "wrong", ("ff", "g"))
    assert grade(spec, None) == Grade(0.0, 0.0, "unanswered", ("g",))
    assert grade(truefalse(correct=False), False).state == "correct"


@pytest.mark.parametrize("bad", [1, 0, "true", "", [], 1.0])
def test_truefalse_bad_shapes_are_wrong(bad):
    assert grade(truefalse(), bad).state == "wrong"


# --------------------------------------------------------------------------- short answer


def test_shortanswer_composed_and_decomposed_match():
    decomposed = unicodedata.normalize("NFD", "Hà Nội")
    assert decomposed != "Hà Nội"
    assert grade(short(), decomposed).state == "correct"
    spec = short(choices=(Choice(decomposed, 1.0),))
    assert grade(spec, "Hà Nội").state == "correct"


def test_shortanswer_whitespace_and_case():
    g = grade(short(), "  hà   NỘI ")
    assert (g.state, g.feedback) == ("correct", ("Chính xác",))


def test_shortanswer_case_sensitive():
    spec = short(case_sensitive=True)
    assert grade(spec, "hà nội").state == "wrong"
    assert grade(spec, "Hà Nội").state == "correct"


def test_shortanswer_accents_only_when_flag_set():
    assert grade(short(), "Ha Noi").state == "wrong"
    assert grade(short(accent_insensitive=True), "Ha Noi").state == "correct"
    assert grade(short(accent_insensitive=True), "ha noi").state == "correct"
    d = short(choices=(Choice("Đà Nẵng", 1.0),), accent_insensitive=True)
    assert grade(d, "da nang").state == "correct"
    both = short(accent_insensitive=True, case_sensitive=True)
    assert grade(both, "Ha Noi").state == "correct"
    assert grade(both, "ha noi").state == "wrong"


def test_shortanswer_partial_answer():
    g = grade(short(points=2.5), "thăng long")
    assert (g.score, g.fraction, g.state) == (1.25, 0.5, "partial")


def test_shortanswer_wildcard_catches_anything_else_but_best_wins():
    spec = short(choices=(Choice("Hà Nội", 1.0, "ok"), Choice("*", 0.0, "Xem lại bài 1")))
    g = grade(spec, "Paris")
    assert (g.score, g.state, g.feedback) == (0.0, "wrong", ("Xem lại bài 1",))
    assert grade(spec, "hà nội").feedback == ("ok",)
    wild_first = short(choices=(Choice("*", 0.0, "x"), Choice("Hà Nội", 1.0, "ok")))
    assert grade(wild_first, "Hà Nội").state == "correct"


def test_shortanswer_empty_is_unanswered():
    assert grade(short(), "").state == "unanswered"
    assert grade(short(), "   \t").state == "unanswered"
    assert grade(short(), None).state == "unanswered"


@pytest.mark.parametrize("bad", [3, ["Hà Nội"], b"Ha Noi", {"x": 1}])
def test_shortanswer_bad_shapes_are_wrong(bad):
    assert grade(short(), bad).state == "wrong"


def test_shortanswer_negative_fraction_floored():
    spec = short(choices=(Choice("Huế", -1.0, "no"),))
    assert (grade(spec, "Huế").score, grade(spec, "Huế").state) == (0.0, "wrong")


# --------------------------------------------------------------------------- numeric


@pytest.mark.parametrize("text", ["3.5", "3,5", " 3,5 ", 3.5, "+3.5", "35e-1"])
def test_numeric_accepts_formats(text):
    assert grade(numeric(), text).state == "correct"


def test_numeric_integers_negative_and_exponent():
    assert grade(numeric(NumericAnswer(3)), "3").state == "correct"
    assert grade(numeric(NumericAnswer(3)), " 3 ").state == "correct"
    assert grade(numeric(NumericAnswer(3)), 3).state == "correct"
    assert grade(numeric(NumericAnswer(-2)), "-2").state == "correct"
    assert grade(numeric(NumericAnswer(1000)), "1e3").state == "correct"


def test_numeric_tolerance_edges_are_inclusive():
    spec = numeric(NumericAnswer(10, 0.5))
    assert grade(spec, "10.5").state == "correct"
    assert grade(spec, "9.5").state == "correct"
    assert grade(spec, "10.50001").state == "wrong"
    assert grade(spec, "9,49").state == "wrong"
    tenth = numeric(NumericAnswer(1.0, 0.1))
    assert grade(tenth, "1.1").state == "correct"  # 1.1 - 1.0 > 0.1 in binary floats
    assert grade(tenth, "0.9").state == "correct"


def test_numeric_float_error_with_zero_tolerance():
    spec = numeric(NumericAnswer(0.3, 0.0))
    assert 0.1 + 0.2 != 0.3
    assert grade(spec, 0.1 + 0.2).state == "correct"
    assert grade(spec, "0.3000001").state == "wrong"


def test_numeric_best_fraction_wins():
    spec = numeric(
        NumericAnswer(3.14, 0.5, 0.5, "gần đúng"),
        NumericAnswer(3.14159, 0.001, 1.0, "chính xác"),
        points=2.5,
    )
    g = grade(spec, "3,1416")
    assert (g.score, g.state, g.feedback) == (2.5, "correct", ("chính xác",))
    g = grade(spec, "3")
    assert (g.score, g.state, g.feedback) == (1.25, "partial", ("gần đúng",))


@pytest.mark.parametrize(
    "garbage",
    ["three", "3.5abc", "1,2,3", "1.000,5", "nan", "inf", "1_0", "--3", ".", "1e400", 10**400,
     True, [3.5], {}],
)
def test_numeric_garbage_is_wrong(garbage):
    g = grade(numeric(), garbage)
    assert (g.score, g.state) == (0.0, "wrong")


def test_numeric_empty_is_unanswered():
    assert grade(numeric(), "").state == "unanswered"
    assert grade(numeric(), "  ").state == "unanswered"
    assert grade(numeric(), None).state == "unanswered"


# --------------------------------------------------------------------------- matching


def test_matching_full_and_partial():
    spec = matching(points=2.5)
    right = {0: "Miền Bắc", 1: "Miền Trung", 2: "Miền Nam", 3: "Miền Nam"}
    assert grade(spec, right).state == "correct"
    assert grade(spec, right).score == 2.5
    g = grade(spec, {0: "Miền Bắc", 1: "Miền Nam", 2: "Nước ngoài"})
    assert (g.fraction, g.state, g.score) == (0.25, "partial", 0.625)


def test_matching_compares_after_nfc_and_strip():
    g = grade(matching(), {0: "  " + unicodedata.normalize("NFD", "Miền Bắc") + " "})
    assert g.fraction == 0.25


def test_matching_empty_is_unanswered():
    assert grade(matching(), {}).state == "unanswered"
    assert grade(matching(), None).state == "unanswered"


def test_matching_bad_keys_and_values_earn_nothing():
    g = grade(matching(), {9: "Miền Bắc", -1: "Miền Bắc", "x": "Miền Bắc", 1: 5, 0: None})
    assert (g.score, g.state) == (0.0, "wrong")
    assert grade(matching(), ["Miền Bắc"]).state == "wrong"
    assert grade(matching(), {"0": "Miền Bắc"}).fraction == 0.25  # form posts give string keys


# --------------------------------------------------------------------------- ordering


def test_ordering_full_by_text_and_by_index():
    assert grade(ordering(), ["một", "hai", "ba", "bốn"]).state == "correct"
    assert grade(ordering(), (0, 1, 2, 3)).state == "correct"
    assert grade(ordering(points=2.5), [" một", "hai ", 2, 3]).score == 2.5


def test_ordering_partial_counts_absolute_positions():
    g = grade(ordering(), ["một", "hai", "bốn", "ba"])
    assert (g.fraction, g.state) == (0.5, "partial")
    # everything shifted by one: no item in its absolute position
    assert grade(ordering(), ["bốn", "một", "hai", "ba"]).fraction == 0.0
    # short response: missing positions earn nothing, extra ones are ignored
    assert grade(ordering(), ["một"]).fraction == 0.25
    assert grade(ordering(), ["một", "hai", "ba", "bốn", "năm"]).fraction == 1.0


def test_ordering_decomposed_text_matches():
    nfd = [unicodedata.normalize("NFD", t) for t in ("một", "hai", "ba", "bốn")]
    assert grade(ordering(), nfd).state == "correct"


def test_ordering_empty_is_unanswered():
    assert grade(ordering(), []).state == "unanswered"
    assert grade(ordering(), None).state == "unanswered"


def test_ordering_bad_items():
    assert grade(ordering(), [9, -1, 2, None]).fraction == 0.25  # only index 2 at position 2
    assert grade(ordering(), "một hai ba bốn").state == "wrong"
    assert grade(ordering(), 3).state == "wrong"
    assert grade(ordering(), {"một": 0}).state == "wrong"


# --------------------------------------------------------------------------- reviews


ALL_SPECS = [
    single(),
    multiple(),
    truefalse(),
    truefalse(correct=False),
    short(),
    short(accent_insensitive=True, case_sensitive=True),
    numeric(NumericAnswer(3.14, 0.5, 0.5), NumericAnswer(3.14159, 0.001, 1.0)),
    matching(),
    ordering(),
]


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s.type.value)
def test_correct_response_earns_full_credit(spec):
    g = grade(spec, correct_response(spec))
    assert (g.score, g.state) == (max_score(spec), "correct")


def test_correct_response_shapes():
    assert correct_response(single()) == 0
    assert correct_response(multiple()) == (0, 1)
    assert correct_response(short()) == "Hà Nội"
    assert correct_response(matching())[3] == "Miền Nam"
    assert correct_response(ordering()) == ("một", "hai", "ba", "bốn")
    assert correct_response(single(choices=())) is None
    assert correct_response(short(choices=(Choice("*", 0.0),))) is None


def test_max_score():
    assert max_score(single(points=2.5)) == 2.5
    assert max_score(single(points=-1)) == 0.0


# --------------------------------------------------------------------------- property


SPEC_BUILDERS = {
    T.SINGLE: single,
    T.MULTIPLE: multiple,
    T.TRUE_FALSE: truefalse,
    T.SHORT_ANSWER: short,
    T.NUMERIC: numeric,
    T.MATCHING: matching,
    T.ORDERING: ordering,
}

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["Hà Nội", "3,5", "*", "một", "Miền Nam", "1e400", "-0"]),
)
responses = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.tuples(inner, inner),
        st.frozensets(st.integers(-3, 8), max_size=6),
        st.dictionaries(st.one_of(st.integers(-2, 6), st.text(max_size=3)), inner, max_size=5),
    ),
    max_leaves=12,
)
fractions = st.floats(-1, 1)


@st.composite
def specs(draw):
    kind = draw(st.sampled_from(list(T)))
    points = draw(st.floats(0, 100, allow_nan=False))
    spec = SPEC_BUILDERS[kind](points=points)
    if kind in (T.SINGLE, T.MULTIPLE, T.SHORT_ANSWER):
        texts = st.one_of(st.text(max_size=6), st.just("*"))
        choices = draw(st.lists(st.builds(Choice, texts, fractions), max_size=5))
        spec = dataclasses.replace(spec, choices=tuple(choices))
    elif kind is T.NUMERIC:
        nums = st.floats(-1e6, 1e6)
        answers = draw(st.lists(st.builds(NumericAnswer, nums, st.floats(0, 10), fractions), max_size=3))
        spec = dataclasses.replace(spec, numeric=tuple(answers))
    elif kind is T.MATCHING:
        pairs = draw(st.lists(st.builds(MatchPair, st.text(max_size=4), st.text(max_size=4)), max_size=5))
        spec = dataclasses.replace(spec, pairs=tuple(pairs))
    elif kind is T.ORDERING:
        spec = dataclasses.replace(spec, order=tuple(draw(st.lists(st.text(max_size=4), max_size=5))))
    return spec


@settings(max_examples=400, deadline=None)
@given(spec=specs(), response=responses)
def test_score_always_within_points(spec, response):
    g = grade(spec, response)
    assert 0.0 <= g.score <= spec.points
    assert 0.0 <= g.fraction <= 1.0
    assert g.state in {"correct", "partial", "wrong", "unanswered"}
    assert all(isinstance(f, str) for f in g.feedback)

"""Pure grading: a :class:`QuestionSpec` and a learner's response in, a :class:`Grade` out.

No database and no Flask: the attempt code stores responses and calls :func:`grade`.
A badly shaped response (a string where an index is expected, an index out of range, a
dict where a list is expected ...) never raises: it is graded as wrong.

Response shapes by question type:

* ``single``      - ``int`` index of the picked choice, or ``None``.
* ``multiple``    - a collection of ``int`` indices (list, tuple, set); empty = unanswered.
* ``truefalse``   - ``bool`` or ``None``.
* ``shortanswer`` - ``str``; empty or white space only = unanswered.
* ``numeric``     - ``str`` ("3,5" with a Vietnamese decimal comma is fine) or a number.
* ``matching``    - ``dict`` {left index (into the non-distractor pairs, in order): right text}.
* ``ordering``    - sequence of item texts (or indices into ``spec.order``) in the learner's order.
"""
from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Real
from typing import Any

from lms.quizzes.spec import Choice, QuestionSpec, QuestionType
from lms.text import clean, fold, nfc

CORRECT = "correct"
PARTIAL = "partial"
WRONG = "wrong"
UNANSWERED = "unanswered"

_EPS = 1e-9
_WILDCARD = "*"
_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


@dataclass(frozen=True)
class Grade:
    """The outcome of grading one response.

    ``score`` is in ``[0, spec.points]`` (rounded to 4 decimals), ``fraction`` in ``[0, 1]``;
    ``feedback`` holds the feedback of what was picked/matched, then the general feedback.
    """
    score: float
    fraction: float
    state: str  # "correct" | "partial" | "wrong" | "unanswered"
    feedback: tuple[str, ...] = ()


# --------------------------------------------------------------------------- public API


def max_score(spec: QuestionSpec) -> float:
    """The question's points (never negative), rounded to 4 decimals: the top of ``Grade.score``."""
    return _points(spec)


def grade(spec: QuestionSpec, response: Any) -> Grade:
    """Grade ``response`` against ``spec``; never raises on a bad response shape."""
    grader = _GRADERS.get(_type(spec))
    if grader is None:
        return _make(spec, 0.0, WRONG, ())
    try:
        return grader(spec, response)
    except (TypeError, ValueError, IndexError, KeyError, AttributeError, OverflowError):
        # Defensive: a shape we did not foresee is wrong, not a server error.
        return _make(spec, 0.0, WRONG, ())


def correct_response(spec: QuestionSpec) -> Any:
    """The canonical right response, in the same shape :func:`grade` takes (for reviews).

    ``None`` when the spec has nothing that could be right (e.g. no choices).
    """
    kind = _type(spec)
    if kind is QuestionType.SINGLE:
        best = _best_index(spec.choices)
        return best
    if kind is QuestionType.MULTIPLE:
        return tuple(i for i, c in enumerate(spec.choices) if _frac(c.fraction) > 0)
    if kind is QuestionType.TRUE_FALSE:
        return spec.correct
    if kind is QuestionType.SHORT_ANSWER:
        candidates = [c for c in spec.choices if c.text.strip() != _WILDCARD]
        best = _best_index(tuple(candidates))
        return None if best is None else candidates[best].text
    if kind is QuestionType.NUMERIC:
        if not spec.numeric:
            return None
        best = max(spec.numeric, key=lambda a: _frac(a.fraction))
        return None if _frac(best.fraction) <= 0 else float(best.value)
    if kind is QuestionType.MATCHING:
        return {i: p.right for i, p in enumerate(_lefts(spec))}
    if kind is QuestionType.ORDERING:
        return tuple(spec.order)
    return None


# --------------------------------------------------------------------------- helpers


def _type(spec: QuestionSpec) -> QuestionType | None:
    try:
        return QuestionType(spec.type)
    except ValueError:
        return None


def _points(spec: QuestionSpec) -> float:
    try:
        points = float(spec.points)
    except (TypeError, ValueError):
        return 0.0
    if not math.isfinite(points) or points <= 0:
        return 0.0
    return round(points, 4)


def _raw_points(spec: QuestionSpec) -> float:
    try:
        points = float(spec.points)
    except (TypeError, ValueError):
        return 0.0
    return points if math.isfinite(points) and points > 0 else 0.0


def _frac(value: Any) -> float:
    """A spec fraction as a float in [-1, 1] (NaN and garbage count as 0)."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return 0.0
    if math.isnan(f):
        return 0.0
    return max(-1.0, min(1.0, f))


def _is_index(value: Any, size: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < size


def _best_index(choices: tuple[Choice, ...]) -> int | None:
    best: int | None = None
    for i, c in enumerate(choices):
        if _frac(c.fraction) > 0 and (best is None or _frac(c.fraction) > _frac(choices[best].fraction)):
            best = i
    return best


def _make(spec: QuestionSpec, fraction: float, state: str | None, picked: tuple[str, ...]) -> Grade:
    """Clamp, round and attach feedback; ``state=None`` derives it from the fraction."""
    if math.isnan(fraction):
        fraction = 0.0
    fraction = max(0.0, min(1.0, fraction))
    if fraction >= 1.0 - _EPS:
        fraction = 1.0
    elif fraction <= _EPS:
        fraction = 0.0
    fraction = round(fraction, 6)
    if state is None:
        state = CORRECT if fraction == 1.0 else PARTIAL if fraction > 0 else WRONG
    points = _points(spec)
    # Never above the spec's own points, even when rounding to 4 decimals would go over.
    score = min(points, _raw_points(spec), max(0.0, round(points * fraction, 4)))
    feedback = tuple(f for f in (*picked, spec.general_feedback) if f)
    return Grade(score=score, fraction=fraction, state=state, feedback=feedback)


def _unanswered(spec: QuestionSpec) -> Grade:
    return _make(spec, 0.0, UNANSWERED, ())


def _strip_accents(text: str) -> str:
    """Drop Vietnamese diacritics but keep the case (for case-sensitive, accent-insensitive)."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _norm_answer(text: str, spec: QuestionSpec) -> str:
    """NFC, strip, collapse inner white space, casefold (unless case-sensitive), fold accents."""
    text = clean(text)
    if spec.accent_insensitive:
        text = _strip_accents(text) if spec.case_sensitive else fold(text)
    if not spec.case_sensitive:
        text = text.casefold()
    return nfc(text)


def _parse_number(response: Any) -> float | None:
    """A finite float from "3", " 3,5 ", "-2", "1e3" or a number; ``None`` if it is not one."""
    if isinstance(response, bool):
        return None
    if isinstance(response, Real):
        value = float(response)
    elif isinstance(response, str):
        text = response.strip().replace("\u2212", "-")  # a typographic minus sign
        if text.count(",") == 1 and "." not in text:
            text = text.replace(",", ".")  # Vietnamese decimal comma
        if not _NUMBER_RE.fullmatch(text):
            return None
        value = float(text)
    else:
        return None
    return value if math.isfinite(value) else None


def _within(given: float, value: float, tolerance: float) -> bool:
    """``|value - given| <= tolerance`` inclusive, forgiving binary float error (0.1 + 0.2 vs 0.3)."""
    slack = _EPS * max(abs(given), abs(value), tolerance) + 1e-12
    return abs(value - given) <= tolerance + slack


def _lefts(spec: QuestionSpec):
    """The non-distractor pairs, in spec order: what matching indices point into."""
    return tuple(p for p in spec.pairs if p.left.strip())


# --------------------------------------------------------------------------- graders


def _grade_single(spec: QuestionSpec, response: Any) -> Grade:
    if response is None:
        return _unanswered(spec)
    if not _is_index(response, len(spec.choices)):
        return _make(spec, 0.0, WRONG, ())
    choice = spec.choices[response]
    return _make(spec, max(0.0, _frac(choice.fraction)), None, (choice.feedback,))


def _grade_multiple(spec: QuestionSpec, response: Any) -> Grade:
    """Sum the picked fractions, floor 0, cap 1.

    When the spec gives no negative fraction to any wrong choice, each wrong pick costs
    ``1 / number of right choices`` so that ticking everything cannot earn full credit.
    A response holding anything but valid indices is wrong as a whole.
    """
    if response is None:
        return _unanswered(spec)
    if isinstance(response, (str, bytes, Mapping)) or not hasattr(response, "__iter__"):
        return _make(spec, 0.0, WRONG, ())
    picked = list(response)
    if not picked:
        return _unanswered(spec)
    size = len(spec.choices)
    if not all(_is_index(i, size) for i in picked):
        return _make(spec, 0.0, WRONG, ())
    indices = sorted(set(picked))
    fractions = [_frac(c.fraction) for c in spec.choices]
    right = sum(1 for f in fractions if f > 0)
    auto_penalty = -1.0 / right if right and not any(f < 0 for f in fractions) else 0.0
    total = sum(fractions[i] if fractions[i] != 0 else auto_penalty for i in indices)
    feedback = tuple(spec.choices[i].feedback for i in indices)
    return _make(spec, max(0.0, min(1.0, total)), None, feedback)


def _grade_truefalse(spec: QuestionSpec, response: Any) -> Grade:
    if response is None:
        return _unanswered(spec)
    if not isinstance(response, bool):
        return _make(spec, 0.0, WRONG, ())
    feedback = spec.feedback_true if response else spec.feedback_false
    right = spec.correct is not None and response is bool(spec.correct)
    return _make(spec, 1.0 if right else 0.0, None, (feedback,))


def _grade_shortanswer(spec: QuestionSpec, response: Any) -> Grade:
    """The best-fraction accepted answer that matches wins; a ``*`` answer matches anything."""
    if response is None or (isinstance(response, str) and not response.strip()):
        return _unanswered(spec)
    if not isinstance(response, str):
        return _make(spec, 0.0, WRONG, ())
    given = _norm_answer(response, spec)
    best: Choice | None = None
    for choice in spec.choices:
        wildcard = choice.text.strip() == _WILDCARD
        if not wildcard and _norm_answer(choice.text, spec) != given:
            continue
        if best is None or _frac(choice.fraction) > _frac(best.fraction):
            best = choice
    if best is None:
        return _make(spec, 0.0, WRONG, ())
    return _make(spec, max(0.0, _frac(best.fraction)), None, (best.feedback,))


def _grade_numeric(spec: QuestionSpec, response: Any) -> Grade:
    """Best fraction among the answers with ``|value - given| <= tolerance``; text is wrong."""
    if response is None or (isinstance(response, str) and not response.strip()):
        return _unanswered(spec)
    given = _parse_number(response)
    if given is None:
        return _make(spec, 0.0, WRONG, ())
    best = None
    for answer in spec.numeric:
        try:
            value, tolerance = float(answer.value), abs(float(answer.tolerance))
        except (TypeError, ValueError):
            continue
        # An infinite tolerance is GIFT's "any other number" answer (its feedback shows).
        if not math.isfinite(value) or math.isnan(tolerance):
            continue
        if not _within(given, value, tolerance):
            continue
        if best is None or _frac(answer.fraction) > _frac(best.fraction):
            best = answer
    if best is None:
        return _make(spec, 0.0, WRONG, ())
    return _make(spec, max(0.0, _frac(best.fraction)), None, (best.feedback,))


def _grade_matching(spec: QuestionSpec, response: Any) -> Grade:
    """Share of the lefts whose chosen right text equals the pair's (after NFC, strip).

    Keys are ints (digit strings are accepted too); unknown keys and non-text values earn nothing.
    """
    if response is None:
        return _unanswered(spec)
    if not isinstance(response, Mapping):
        return _make(spec, 0.0, WRONG, ())
    if not response:
        return _unanswered(spec)
    lefts = _lefts(spec)
    if not lefts:
        return _make(spec, 0.0, WRONG, ())
    chosen: dict[int, str] = {}
    for key, value in response.items():
        if isinstance(key, str) and key.strip().isdigit() and key.strip().isascii():
            key = int(key.strip())
        if _is_index(key, len(lefts)) and isinstance(value, str):
            chosen[key] = value
    right = sum(1 for i, text in chosen.items() if clean(text) == clean(lefts[i].right))
    return _make(spec, right / len(lefts), None, ())


def _grade_ordering(spec: QuestionSpec, response: Any) -> Grade:
    """Absolute-position rule: fraction = (items at the same position as in ``spec.order``)
    / (number of items). Items may be given as texts (compared after NFC/strip) or as
    indices into ``spec.order``; extra trailing items are ignored, missing ones earn nothing,
    and an element that is neither a known index nor text earns nothing for its position.
    """
    if response is None:
        return _unanswered(spec)
    if isinstance(response, (str, bytes, Mapping, set, frozenset)) or not hasattr(response, "__iter__"):
        return _make(spec, 0.0, WRONG, ())
    items = list(response)
    if not items:
        return _unanswered(spec)
    order = tuple(spec.order)
    if not order:
        return _make(spec, 0.0, WRONG, ())
    right = 0
    for position, item in enumerate(items[: len(order)]):
        if _is_index(item, len(order)):
            text = order[item]
        elif isinstance(item, str):
            text = item
        else:
            continue
        if clean(text) == clean(order[position]):
            right += 1
    return _make(spec, right / len(order), None, ())


_GRADERS = {
    QuestionType.SINGLE: _grade_single,
    QuestionType.MULTIPLE: _grade_multiple,
    QuestionType.TRUE_FALSE: _grade_truefalse,
    QuestionType.SHORT_ANSWER: _grade_shortanswer,
    QuestionType.NUMERIC: _grade_numeric,
    QuestionType.MATCHING: _grade_matching,
    QuestionType.ORDERING: _grade_ordering,
}

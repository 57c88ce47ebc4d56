"""Question specs as plain dicts (JSON in the database, YAML in course packages), and the
checks that make a spec usable: a question a learner could never get right is refused.

The dict shape (keys left out take the spec defaults)::

    {"type": "single", "name": "mk-01", "category": "Mật khẩu", "points": 1,
     "stem": "…", "stem_format": "plain", "general_feedback": "…",
     "choices": [{"text": "…", "fraction": 1, "feedback": "…"}, …],   # single/multiple/shortanswer
     "numeric": [{"value": 3.5, "tolerance": 0.1, "fraction": 1, "feedback": "…"}],
     "pairs": [{"left": "…", "right": "…"}],                           # matching
     "order": ["first", "second", …],                                  # ordering
     "correct": true, "feedback_true": "…", "feedback_false": "…",     # truefalse
     "accent_insensitive": false, "case_sensitive": false}             # shortanswer
"""
from __future__ import annotations

import math
from typing import Any

from flask_babel import gettext as _

from lms.quizzes.spec import Choice, MatchPair, NumericAnswer, QuestionSpec, QuestionType
from lms.text import clean, nfc

_FIELDS = {"type", "name", "category", "points", "stem", "stem_format", "general_feedback",
           "choices", "numeric", "pairs", "order", "correct", "feedback_true", "feedback_false",
           "accent_insensitive", "case_sensitive"}


class SpecError(ValueError):
    """A question that cannot be stored; the message is for the person who wrote it."""


def spec_to_dict(spec: QuestionSpec) -> dict[str, Any]:
    kind = QuestionType(spec.type)
    out: dict[str, Any] = {"type": kind.value, "stem": spec.stem}
    if spec.name:
        out["name"] = spec.name
    if spec.category:
        out["category"] = spec.category
    if spec.points != 1.0:
        out["points"] = spec.points
    if spec.stem_format != "plain":
        out["stem_format"] = spec.stem_format
    if spec.general_feedback:
        out["general_feedback"] = spec.general_feedback
    if kind in (QuestionType.SINGLE, QuestionType.MULTIPLE, QuestionType.SHORT_ANSWER):
        out["choices"] = [_drop_empty({"text": c.text, "fraction": c.fraction, "feedback": c.feedback})
                          for c in spec.choices]
    if kind is QuestionType.SHORT_ANSWER:
        out["accent_insensitive"] = spec.accent_insensitive
        out["case_sensitive"] = spec.case_sensitive
    if kind is QuestionType.NUMERIC:
        out["numeric"] = [_numeric_entry(a) for a in spec.numeric]
    if kind is QuestionType.MATCHING:
        out["pairs"] = [{"left": p.left, "right": p.right} for p in spec.pairs]
    if kind is QuestionType.ORDERING:
        out["order"] = list(spec.order)
    if kind is QuestionType.TRUE_FALSE:
        out["correct"] = bool(spec.correct)
        if spec.feedback_true:
            out["feedback_true"] = spec.feedback_true
        if spec.feedback_false:
            out["feedback_false"] = spec.feedback_false
    return out


def _numeric_entry(answer: NumericAnswer) -> dict[str, Any]:
    if not math.isfinite(answer.tolerance):  # GIFT's "any other number" (JSON has no Infinity)
        return _drop_empty({"any": True, "fraction": answer.fraction, "feedback": answer.feedback})
    return _drop_empty({"value": answer.value, "tolerance": answer.tolerance,
                        "fraction": answer.fraction, "feedback": answer.feedback})


def _drop_empty(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if v not in ("", None) and not (k == "tolerance" and v == 0)}


def spec_from_dict(data: Any) -> QuestionSpec:
    """Build and check a spec; raises :class:`SpecError` naming the first problem."""
    if not isinstance(data, dict):
        raise SpecError(_("A question must be a mapping of fields."))
    unknown = sorted(set(map(str, data)) - _FIELDS)
    if unknown:
        raise SpecError(_("Unknown question field: %(field)s.", field=unknown[0]))
    try:
        kind = QuestionType(data.get("type"))
    except ValueError:
        raise SpecError(_("Unknown question type: %(type)s.", type=data.get("type"))) from None
    spec = QuestionSpec(
        type=kind,
        stem=_text(data.get("stem")),
        name=clean(_text(data.get("name"))),
        category=clean(_text(data.get("category"))),
        points=_number(data.get("points", 1), _("points")),
        stem_format=_text(data.get("stem_format")) or "plain",
        general_feedback=_text(data.get("general_feedback")),
        choices=tuple(Choice(text=_text(c.get("text")),
                             fraction=_number(c.get("fraction", 0), _("fraction")),
                             feedback=_text(c.get("feedback")))
                      for c in _mappings(data.get("choices"), "choices")),
        numeric=tuple(_numeric_answer(a) for a in _mappings(data.get("numeric"), "numeric")),
        pairs=tuple(MatchPair(left=_text(p.get("left")), right=_text(p.get("right")))
                    for p in _mappings(data.get("pairs"), "pairs")),
        order=tuple(_text(item) for item in _list(data.get("order"), "order")),
        correct=None if data.get("correct") is None else bool(data.get("correct")),
        feedback_true=_text(data.get("feedback_true")),
        feedback_false=_text(data.get("feedback_false")),
        accent_insensitive=bool(data.get("accent_insensitive", False)),
        case_sensitive=bool(data.get("case_sensitive", False)),
    )
    check_spec(spec)
    return spec


def check_spec(spec: QuestionSpec) -> None:
    """Raise :class:`SpecError` when a learner could not answer the question sensibly."""
    kind = QuestionType(spec.type)
    if not spec.stem.strip():
        raise SpecError(_("The question text is empty."))
    if not (0 < spec.points <= 1000):
        raise SpecError(_("Points must be more than 0 and at most 1000."))
    if kind in (QuestionType.SINGLE, QuestionType.MULTIPLE):
        texts = [clean(c.text) for c in spec.choices]
        if len(texts) < 2:
            raise SpecError(_("A choice question needs at least two choices."))
        if any(not t for t in texts):
            raise SpecError(_("A choice is empty."))
        if len(set(texts)) != len(texts):
            raise SpecError(_("Two choices have the same text."))
        if not any(c.fraction > 0 for c in spec.choices):
            raise SpecError(_("Mark at least one choice as right."))
        if any(not -1 <= c.fraction <= 1 for c in spec.choices):
            raise SpecError(_("A choice's credit must be between -100% and 100%."))
    if kind is QuestionType.SINGLE and max(c.fraction for c in spec.choices) < 1:
        raise SpecError(_("A single-choice question needs one choice worth 100%."))
    if kind is QuestionType.MULTIPLE and sum(c.fraction for c in spec.choices if c.fraction > 0) < 0.999:
        raise SpecError(_("The right choices of a multiple-choice question must add up to 100%."))
    if kind is QuestionType.SHORT_ANSWER:
        if not any(c.fraction > 0 and c.text.strip() for c in spec.choices):
            raise SpecError(_("A short-answer question needs at least one accepted answer."))
    if kind is QuestionType.NUMERIC:
        if not any(a.fraction > 0 and math.isfinite(a.tolerance) for a in spec.numeric):
            raise SpecError(_("A numeric question needs at least one right value."))
    if kind is QuestionType.MATCHING:
        lefts = [p for p in spec.pairs if p.left.strip()]
        if len(lefts) < 2:
            raise SpecError(_("A matching question needs at least two pairs."))
        if any(not p.right.strip() for p in spec.pairs):
            raise SpecError(_("Every pair needs an answer on the right."))
        if len({clean(p.left) for p in lefts}) != len(lefts):
            raise SpecError(_("Two pairs have the same item on the left."))
    if kind is QuestionType.ORDERING:
        items = [clean(item) for item in spec.order]
        if len(items) < 2 or any(not item for item in items):
            raise SpecError(_("An ordering question needs at least two non-empty items."))
        if len(set(items)) != len(items):
            raise SpecError(_("Two items to order have the same text."))
    if kind is QuestionType.TRUE_FALSE and spec.correct is None:
        raise SpecError(_("Say whether the statement is true or false."))


def _numeric_answer(entry: dict) -> NumericAnswer:
    if entry.get("any"):
        return NumericAnswer(value=0.0, tolerance=math.inf,
                             fraction=_number(entry.get("fraction", 0), _("fraction")),
                             feedback=_text(entry.get("feedback")))
    return NumericAnswer(value=_number(entry.get("value"), _("value")),
                         tolerance=abs(_number(entry.get("tolerance", 0), _("tolerance"))),
                         fraction=_number(entry.get("fraction", 1), _("fraction")),
                         feedback=_text(entry.get("feedback")))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise SpecError(_("A text field has a value that is not text."))
    return nfc(str(value).strip())


def _number(value: Any, label: str) -> float:
    if isinstance(value, bool):
        raise SpecError(_("%(field)s must be a number.", field=label))
    try:
        number = float(str(value).replace(",", ".")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise SpecError(_("%(field)s must be a number.", field=label)) from None
    if math.isnan(number):
        raise SpecError(_("%(field)s must be a number.", field=label))
    return number


def _list(value: Any, name: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise SpecError(_("%(field)s must be a list.", field=name))
    return value


def _mappings(value: Any, name: str) -> list[dict]:
    items = _list(value, name)
    if not all(isinstance(item, dict) for item in items):
        raise SpecError(_("Each entry of %(field)s must be a mapping.", field=name))
    return items

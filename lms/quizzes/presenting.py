"""What a page shows of a drawn question: plain values for templates.

:func:`present` is all a learner's page gets while the attempt is open: the stem, the
options in this learner's display order, and their own saved response, never a fraction,
a feedback or an accepted answer. Options are addressed by display position, so even the
form values say nothing about the key. :func:`reviewed` adds the verdicts and, per the
quiz's review setting, the right answers and feedback, after submission only.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import nh3
from flask_babel import gettext as _
from markupsafe import Markup

from lms.courses.content import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, URL_SCHEMES, render_markdown
from lms.quizzes.attempts import feedback_for, grading_response
from lms.quizzes.grading import correct_response
from lms.quizzes.models import AttemptAnswer, ReviewMode
from lms.quizzes.spec import QuestionSpec, QuestionType
from lms.quizzes.specio import spec_from_dict


def render_text(text: str, fmt: str = "plain") -> Markup:
    """Question text as safe HTML: Markdown rendered, HTML (from GIFT) sanitised."""
    if fmt == "markdown":
        return render_markdown(text)
    if fmt in ("html", "moodle"):
        return Markup(nh3.clean(text, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                                url_schemes=URL_SCHEMES, link_rel="noopener noreferrer"))
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    return Markup("".join(
        "<p>" + html.escape(p.strip()).replace("\n", "<br>") + "</p>" for p in paragraphs))


@dataclass
class Option:
    value: int          # display position: what the form sends
    text: str
    selected: bool = False
    right: bool | None = None       # review only


@dataclass
class Shown:
    """One question as a page shows it."""
    position: int
    type: str
    stem: Markup
    points: float
    options: list[Option] = field(default_factory=list)       # single, multiple, ordering
    lefts: list[tuple[int, str, int | None]] = field(default_factory=list)  # matching: (index, text, chosen)
    text: str = ""                  # shortanswer / numeric: the saved text
    truth: bool | None = None       # truefalse: the saved answer
    answered: bool = False
    # Review only:
    state: str | None = None
    score: float | None = None
    right_answer: str | None = None
    feedback: tuple[str, ...] = ()


def present(answer: AttemptAnswer, spec: QuestionSpec | None = None) -> Shown:
    spec = spec or spec_from_dict(answer.version.spec)
    kind = QuestionType(spec.type)
    response = answer.response
    shown = Shown(position=answer.position, type=kind.value,
                  stem=render_text(spec.stem, spec.stem_format), points=answer.max_score,
                  answered=response is not None)
    if kind in (QuestionType.SINGLE, QuestionType.MULTIPLE):
        picked = set(response if isinstance(response, list) else [response])
        shown.options = [Option(position, spec.choices[index].text, index in picked)
                         for position, index in enumerate(answer.display)]
    elif kind is QuestionType.ORDERING:
        current = response if isinstance(response, list) else answer.display
        position_of = {index: position for position, index in enumerate(answer.display)}
        shown.options = [Option(position_of[index], spec.order[index]) for index in current]
    elif kind is QuestionType.MATCHING:
        chosen = response if isinstance(response, dict) else {}
        lefts = [p for p in spec.pairs if p.left.strip()]
        rights = list(answer.display)
        shown.options = [Option(position, text) for position, text in enumerate(rights)]
        shown.lefts = [(index, pair.left,
                        rights.index(chosen[str(index)]) if chosen.get(str(index)) in rights else None)
                       for index, pair in enumerate(lefts)]
    elif kind is QuestionType.TRUE_FALSE:
        shown.truth = response if isinstance(response, bool) else None
    else:
        shown.text = response if isinstance(response, str) else ""
    return shown


def reviewed(answer: AttemptAnswer, review: str) -> Shown:
    """The question after submission: verdicts from ``answers`` up, key and feedback at ``feedback``."""
    spec = spec_from_dict(answer.version.spec)
    shown = present(answer, spec)
    if review == ReviewMode.SCORE.value:
        return shown
    shown.state, shown.score = answer.state, answer.score
    if review != ReviewMode.FEEDBACK.value:
        return shown
    shown.feedback = feedback_for(spec, answer)
    shown.right_answer = describe_right_answer(spec)
    kind = QuestionType(spec.type)
    if kind in (QuestionType.SINGLE, QuestionType.MULTIPLE):
        for option in shown.options:
            index = answer.display[option.value]
            option.right = spec.choices[index].fraction > 0
    return shown


def describe_right_answer(spec: QuestionSpec) -> str:
    """The right answer in words (for the full-feedback review and trainers' pages)."""
    right = correct_response(spec)
    kind = QuestionType(spec.type)
    if right is None:
        return ""
    if kind is QuestionType.SINGLE:
        return spec.choices[right].text
    if kind is QuestionType.MULTIPLE:
        return "; ".join(spec.choices[i].text for i in right)
    if kind is QuestionType.TRUE_FALSE:
        return _("True") if right else _("False")
    if kind is QuestionType.NUMERIC:
        best = max((a for a in spec.numeric if a.fraction > 0), key=lambda a: a.fraction)
        value = f"{best.value:g}"
        return f"{value} ± {best.tolerance:g}" if best.tolerance else value
    if kind is QuestionType.MATCHING:
        return "; ".join(f"{p.left} → {p.right}" for p in spec.pairs if p.left.strip())
    if kind is QuestionType.ORDERING:
        return " → ".join(spec.order)
    return str(right)


def response_text(spec: QuestionSpec, response: Any) -> str:
    """A stored response in words (trainers' attempt pages)."""
    response = grading_response(spec, response)
    if response is None:
        return ""
    kind = QuestionType(spec.type)
    try:
        if kind is QuestionType.SINGLE:
            return spec.choices[response].text
        if kind is QuestionType.MULTIPLE:
            return "; ".join(spec.choices[i].text for i in response)
        if kind is QuestionType.TRUE_FALSE:
            return _("True") if response else _("False")
        if kind is QuestionType.MATCHING:
            lefts = [p for p in spec.pairs if p.left.strip()]
            return "; ".join(f"{lefts[k].left} → {v}" for k, v in sorted(response.items()))
        if kind is QuestionType.ORDERING:
            return " → ".join(spec.order[i] for i in response)
    except (IndexError, KeyError, TypeError):
        return ""
    return str(response)

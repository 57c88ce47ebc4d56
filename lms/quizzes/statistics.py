"""Item statistics of a quiz, aggregated by the database in a constant number of queries.

* facility: the mean share of the points earned on the question (0..1; low = hard);
* discrimination: Pearson's correlation between the item's score and the rest of the
  attempt's score (near 0 or negative: the item does not separate who knows from who does not);
* choice distribution: how often each choice (or whole response) was given.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms.quizzes.models import Attempt, AttemptAnswer, AttemptStatus, Question, QuestionVersion
from lms.quizzes.spec import QuestionType
from lms.quizzes.specio import spec_from_dict

#: Thresholds under which a question is pointed out to the trainer.
LOW_DISCRIMINATION = 0.2
EXTREME_FACILITY = (0.1, 0.95)
MIN_RESPONSES = 10


@dataclass
class ChoiceCount:
    label: str
    count: int
    right: bool = False


@dataclass
class ItemStats:
    question_id: int
    name: str
    type: str
    stem: str
    responses: int
    facility: float | None
    discrimination: float | None
    choices: list[ChoiceCount] = field(default_factory=list)

    @property
    def needs_review(self) -> bool:
        if self.responses < MIN_RESPONSES or self.facility is None:
            return False
        low, high = EXTREME_FACILITY
        return (self.facility < low or self.facility > high
                or (self.discrimination is not None and self.discrimination < LOW_DISCRIMINATION))


def item_statistics(dbs: Session, quiz_id: int) -> tuple[int, list[ItemStats]]:
    """(number of graded attempts, statistics per question) - three queries whatever the size."""
    x = func.coalesce(AttemptAnswer.fraction, 0.0)
    rest = Attempt.score - func.coalesce(AttemptAnswer.score, 0.0)
    graded = (Attempt.quiz_id == quiz_id) & (Attempt.status == AttemptStatus.SUBMITTED.value)
    sums = dbs.execute(
        select(AttemptAnswer.question_id, func.count(), func.sum(x), func.sum(x * x),
               func.sum(rest), func.sum(rest * rest), func.sum(x * rest))
        .join(Attempt, Attempt.id == AttemptAnswer.attempt_id)
        .where(graded).group_by(AttemptAnswer.question_id)).all()
    distribution = dbs.execute(
        select(AttemptAnswer.question_id, AttemptAnswer.response_key, func.count())
        .join(Attempt, Attempt.id == AttemptAnswer.attempt_id)
        .where(graded).group_by(AttemptAnswer.question_id, AttemptAnswer.response_key)).all()
    questions = {q.id: (q, spec) for q, spec in dbs.execute(
        select(Question, QuestionVersion.spec)
        .join(QuestionVersion, (QuestionVersion.question_id == Question.id)
              & (QuestionVersion.number == Question.current_version))
        .where(Question.id.in_([row[0] for row in sums])))}
    counts: dict[int, dict[str | None, int]] = {}
    for question_id, key, count in distribution:
        counts.setdefault(question_id, {})[key] = count
    attempts = dbs.scalar(select(func.count()).select_from(Attempt).where(graded)) if sums else 0
    items = []
    for question_id, n, sx, sxx, sy, syy, sxy in sums:
        question, data = questions[question_id]
        spec = spec_from_dict(data)
        items.append(ItemStats(
            question_id=question_id, name=question.name, type=question.type, stem=spec.stem,
            responses=n, facility=(sx or 0) / n if n else None,
            discrimination=_pearson(n, sx or 0, sxx or 0, sy or 0, syy or 0, sxy or 0),
            choices=_choices(spec, counts.get(question_id, {}))))
    items.sort(key=lambda item: (item.facility is None, item.facility or 0))
    return attempts, items


def _pearson(n: int, sx: float, sxx: float, sy: float, syy: float, sxy: float) -> float | None:
    if n < 2:
        return None
    var_x, var_y = n * sxx - sx * sx, n * syy - sy * sy
    if var_x <= 1e-12 or var_y <= 1e-12:
        return None
    return max(-1.0, min(1.0, (n * sxy - sx * sy) / math.sqrt(var_x * var_y)))


def _choices(spec, counts: dict[str | None, int]) -> list[ChoiceCount]:
    """Per choice for choice questions (a multiple-choice response counts for each pick);
    the most frequent whole responses for the other types."""
    from flask_babel import gettext as _
    kind = QuestionType(spec.type)
    blank = ChoiceCount(_("(no answer)"), counts.get(None, 0))
    if kind in (QuestionType.SINGLE, QuestionType.MULTIPLE):
        per_choice = [0] * len(spec.choices)
        for key, count in counts.items():
            for part in (key or "").split(","):
                if part.isdigit() and int(part) < len(per_choice):
                    per_choice[int(part)] += count
        rows = [ChoiceCount(c.text, per_choice[i], c.fraction > 0) for i, c in enumerate(spec.choices)]
        return rows + ([blank] if blank.count else [])
    if kind is QuestionType.TRUE_FALSE:
        return [ChoiceCount(_("True"), counts.get("true", 0), spec.correct is True),
                ChoiceCount(_("False"), counts.get("false", 0), spec.correct is False)] + (
            [blank] if blank.count else [])
    top = sorted(((k, c) for k, c in counts.items() if k is not None), key=lambda kc: -kc[1])[:8]
    return [ChoiceCount(_label(spec, key), count) for key, count in top] + ([blank] if blank.count else [])


def _label(spec, key: str) -> str:
    kind = QuestionType(spec.type)
    if kind is QuestionType.ORDERING:
        try:
            return " → ".join(spec.order[int(i)] for i in key.split(","))
        except (ValueError, IndexError):
            return key
    return key

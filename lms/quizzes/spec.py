"""Questions as plain values: what the bank stores in a question version, what GIFT reads
and writes, and what grading takes. No database, no Flask."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field


class QuestionType(str, enum.Enum):
    SINGLE = "single"          # one right choice
    MULTIPLE = "multiple"      # several right choices, partial credit, wrong picks negative
    TRUE_FALSE = "truefalse"
    SHORT_ANSWER = "shortanswer"
    NUMERIC = "numeric"
    MATCHING = "matching"
    ORDERING = "ordering"


@dataclass(frozen=True)
class Choice:
    """A choice of a single/multiple question, or an accepted short answer.

    ``fraction`` is the share of the question's points it earns: 1.0 right, 0 wrong,
    negative for a wrong pick in a multiple-choice question (-1.0 .. 1.0).
    """
    text: str
    fraction: float = 0.0
    feedback: str = ""


@dataclass(frozen=True)
class NumericAnswer:
    value: float
    tolerance: float = 0.0
    fraction: float = 1.0
    feedback: str = ""


@dataclass(frozen=True)
class MatchPair:
    """A left item and its right answer; a pair with an empty left is a distractor answer."""
    left: str
    right: str


@dataclass(frozen=True)
class QuestionSpec:
    type: QuestionType
    stem: str
    name: str = ""
    stem_format: str = "plain"   # plain | markdown | html | moodle (as GIFT marks it)
    points: float = 1.0
    general_feedback: str = ""
    category: str = ""           # "Bảo mật/Mật khẩu" style path, as GIFT's $CATEGORY
    choices: tuple[Choice, ...] = ()              # single, multiple, shortanswer
    numeric: tuple[NumericAnswer, ...] = ()       # numeric
    pairs: tuple[MatchPair, ...] = ()             # matching
    order: tuple[str, ...] = ()                   # ordering: items in the right order
    correct: bool | None = None                   # truefalse
    feedback_true: str = ""                       # truefalse: shown when "true" was answered
    feedback_false: str = ""
    accent_insensitive: bool = False              # shortanswer: "Ha Noi" matches "Hà Nội"
    case_sensitive: bool = False                  # shortanswer
    extra: dict = field(default_factory=dict, compare=False, hash=False)

"""The completion rule, as a pure function: no database, no Flask.

A course is complete when every required lesson is done and every extra requirement
(required quizzes, added by the quiz issue) is met. Progress counts both.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    complete: bool

    @property
    def percent(self) -> int:
        if self.total == 0:
            return 100 if self.complete else 0
        return 100 if self.complete else min(99, (100 * self.done) // self.total)


def evaluate(required_lessons: Iterable[int], done_lessons: Iterable[int],
             extra_requirements: Iterable[bool] = ()) -> Progress:
    """Progress of one learner in one course.

    ``extra_requirements`` holds one bool per other required item (e.g. a required quiz:
    passed or not). A course with nothing required at all is never complete by itself.
    """
    required = set(required_lessons)
    done = required & set(done_lessons)
    extras = list(extra_requirements)
    total = len(required) + len(extras)
    met = len(done) + sum(1 for ok in extras if ok)
    complete = total > 0 and met == total
    return Progress(done=met, total=total, complete=complete)

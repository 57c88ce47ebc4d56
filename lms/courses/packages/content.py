"""What a course package holds, once read and checked."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, Callable, ContextManager

from lms.courses.models import CourseStatus
from lms.errors import DomainError

if TYPE_CHECKING:
    from lms.quizzes.packaging import PackageQuiz
    from lms.quizzes.spec import QuestionSpec


class PackageError(DomainError):
    """The package cannot be read, imported or exported; the message names the file,
    field or lesson at fault."""


# ---------------------------------------------------------------- what a package holds

@dataclass(frozen=True)
class PackageLesson:
    key: str
    title: str
    kind: str
    body: str = ""
    url: str = ""
    media: str | None = None  # a file name in media/
    required: bool = True
    complete_on_video_end: bool = False
    minutes: int = 5


@dataclass(frozen=True)
class PackageModule:
    title: str
    lessons: tuple[PackageLesson, ...] = ()


@dataclass(frozen=True)
class PackageMedia:
    """A file under media/, checked (type, content, size) and hashed; ``open()`` reads it again."""

    filename: str
    size: int
    sha256: str
    kind: str
    opener: Callable[[], ContextManager[BinaryIO]] = field(repr=False, compare=False)

    def open(self) -> ContextManager[BinaryIO]:
        return self.opener()


@dataclass(frozen=True)
class PackageContent:
    slug: str
    title: str
    language: str
    topic: str
    estimated_minutes: int
    certificate: bool
    summary: str = ""
    outcomes: tuple[str, ...] = ()
    validity_months: int | None = None
    status: str = CourseStatus.DRAFT.value
    modules: tuple[PackageModule, ...] = ()
    media: tuple[PackageMedia, ...] = ()
    # quizzes.yaml (lms.quizzes.packaging): the question bank and the quizzes. A package
    # without the file (has_quizzes False) leaves the course's bank and quizzes as they are.
    has_quizzes: bool = False
    questions: tuple[QuestionSpec, ...] = ()
    quizzes: tuple[PackageQuiz, ...] = ()

    @property
    def lessons(self) -> list[PackageLesson]:
        return [lesson for module in self.modules for lesson in module.lessons]

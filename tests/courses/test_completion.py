"""The completion rule on its own: no database, no Flask."""
from lms.courses.completion import evaluate


def test_all_required_lessons_done_completes_the_course():
    progress = evaluate([1, 2, 3], [1, 2, 3])
    assert progress.complete and progress.percent == 100


def test_optional_or_unknown_lessons_do_not_count():
    progress = evaluate([1, 2], [1, 7, 8])
    assert not progress.complete and progress.percent == 50


def test_progress_never_shows_100_before_completion():
    progress = evaluate(list(range(1, 201)), list(range(1, 200)))
    assert not progress.complete and progress.percent == 99


def test_required_quizzes_must_be_passed_too():
    assert not evaluate([1], [1], [False]).complete
    assert evaluate([1], [1], [True]).complete
    assert evaluate([1, 2], [1], [True]).percent == 66


def test_a_course_with_nothing_required_never_completes_by_itself():
    progress = evaluate([], [])
    assert not progress.complete and progress.percent == 0

"""Who needs help, by clear rules and a clock the tests move; working days; escalation.

A mentor sees a mentee flagged when they are overdue, inactive for N days while assigned
training is open, failed the same quiz twice, or asked for help and are still waiting.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from lms.courses import services as learning
from lms.mentoring import help as helping
from lms.mentoring.models import HelpRecipient
from lms.mentoring.needs import Need, needs_of
from lms.mentoring.permissions import can_view_help_request, current_mentees
from lms.mentoring.queries import mentor_overview
from lms.mentoring.workdays import add_working_days
from lms.notify.models import Notification
from lms.quizzes import attempts as engine

HANOI = "Asia/Ho_Chi_Minh"
TWO_DAYS = helping.Escalation(working_days=2)


def at(text: str, tz: str = HANOI) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)


# ---------------------------------------------------------------- working days

def test_two_working_days_skip_the_weekend_in_the_units_timezone():
    friday_3pm = at("2026-11-27 15:00")
    assert add_working_days(friday_3pm, 2, HANOI) == at("2026-12-01 15:00")   # Tuesday
    assert add_working_days(at("2026-11-24 09:00"), 2, HANOI) == at("2026-11-26 09:00")
    # Asked on a Saturday: the count starts on Monday morning.
    assert add_working_days(at("2026-11-28 10:00"), 2, HANOI) == at("2026-12-02 00:00")


def test_holidays_and_the_missions_own_clock_count():
    # 23:30 on Friday in Paris is already Saturday in Hanoi: each unit counts on its own clock.
    paris_friday = at("2026-11-27 23:30", "Europe/Paris")
    assert add_working_days(paris_friday, 2, "Europe/Paris") == at("2026-12-01 23:30", "Europe/Paris")
    national_day = {datetime(2026, 9, 2).date()}
    assert add_working_days(at("2026-09-01 10:00"), 2, HANOI, national_day) == at("2026-09-04 10:00")


# ---------------------------------------------------------------- the needs-help rules

@pytest.fixture()
def team(factory, dbs):
    unit = factory.unit("Phòng Tin học")
    mentor = factory.mentor(unit, name="Đặng Quốc Việt")
    mentees = [factory.person(unit=unit, name=n) for n in ("Nguyễn Thị Hồng Nhung",
                                                            "Bùi Thanh Sơn", "Lê Văn Tám")]
    for person in mentees:
        factory.pair(mentor, person)
    course = factory.course(lessons=2)
    return unit, mentor, mentees, course


def needs(dbs, mentor, now, days=14):
    return needs_of(dbs, current_mentees(mentor.id), now, days)


def test_overdue_and_inactive_follow_the_clock(dbs, factory, team):
    unit, mentor, (nhung, son, tam), course = team
    factory.assignment(course, unit=unit, due_in_days=20)
    now = learning.enrolment_for(dbs, nhung.id, course.id).enrolled_at
    # Sơn studied on day 10; the others never opened the course.
    learning.enrolment_for(dbs, son.id, course.id).last_activity_at = now + timedelta(days=10)
    dbs.flush()
    assert needs(dbs, mentor, now + timedelta(days=1)) == {}
    later = needs(dbs, mentor, now + timedelta(days=15))
    assert later == {nhung.id: {Need.INACTIVE}, tam.id: {Need.INACTIVE}}
    overdue = needs(dbs, mentor, now + timedelta(days=21))
    assert Need.OVERDUE in overdue[nhung.id] and Need.OVERDUE in overdue[tam.id]
    # With a shorter threshold, inactivity shows earlier.
    assert needs(dbs, mentor, now + timedelta(days=4), days=3)[tam.id] == {Need.INACTIVE}


def test_completed_training_is_neither_overdue_nor_inactive(dbs, factory, team):
    unit, mentor, (nhung, _son, _tam), course = team
    factory.assignment(course, unit=unit, due_in_days=5)
    for lesson in course.modules[0].lessons:
        learning.complete_lesson(dbs, nhung, lesson)
    assert nhung.id not in needs(dbs, mentor, datetime.now(timezone.utc) + timedelta(days=60))


def test_failing_the_same_quiz_twice_until_passed(dbs, factory, team):
    _unit, mentor, (nhung, _son, _tam), course = team
    quiz = factory.quiz(course, questions=2, attempts_allowed=0)

    def take(right: bool):
        attempt = engine.start_attempt(dbs, quiz, nhung)
        engine.save_answers(dbs, attempt, {
            a.position: a.display.index(0 if right else 1) for a in attempt.answers})
        engine.submit_attempt(dbs, attempt)
        return attempt

    take(False)
    assert Need.FAILED_TWICE not in needs(dbs, mentor, datetime.now(timezone.utc)).get(nhung.id, set())
    take(False)
    assert Need.FAILED_TWICE in needs(dbs, mentor, datetime.now(timezone.utc))[nhung.id]
    take(True)
    assert Need.FAILED_TWICE not in needs(dbs, mentor, datetime.now(timezone.utc)).get(nhung.id, set())


def test_asking_for_help_flags_waiting_until_a_mentor_answers(dbs, factory, team):
    _unit, mentor, (nhung, son, _tam), course = team
    lesson = course.modules[0].lessons[0]
    now = at("2026-11-24 09:00")
    request = helping.ask_for_help(dbs, nhung, "Tôi không ký số được văn bản.", TWO_DAYS,
                                   lesson=lesson, now=now)
    assert needs(dbs, mentor, now + timedelta(minutes=1))[nhung.id] == {Need.WAITING}
    overview = mentor_overview(dbs, mentor, now + timedelta(minutes=1), 14)
    assert overview.mentees[0].person.id == nhung.id       # the one waiting is on top
    assert [r.id for r in overview.requests] == [request.id]
    helping.reply(dbs, mentor, request, "Chị thử cắm lại USB token nhé.", TWO_DAYS,
                  now=now + timedelta(hours=1))
    assert nhung.id not in needs(dbs, mentor, now + timedelta(hours=2))
    helping.reply(dbs, nhung, request, "Vẫn chưa được ạ.", TWO_DAYS, now=now + timedelta(hours=3))
    assert needs(dbs, mentor, now + timedelta(hours=4))[nhung.id] == {Need.WAITING}
    helping.mark_solved(dbs, nhung, request, now=now + timedelta(hours=5))
    assert nhung.id not in needs(dbs, mentor, now + timedelta(hours=6))
    assert not can_view_help_request(dbs, son, request)


# ---------------------------------------------------------------- escalation

def test_a_request_waiting_two_working_days_goes_to_the_units_other_mentors_once(dbs, factory):
    unit = factory.unit("Vụ Thông tin Báo chí")
    mentor = factory.mentor(unit)
    other = factory.mentor(unit)
    learner = factory.person(unit=unit)
    factory.pair(mentor, learner)
    course = factory.course(lessons=1)
    friday = at("2026-11-27 15:00")
    request = helping.ask_for_help(dbs, learner, "Làm sao nộp hồ sơ trực tuyến?", TWO_DAYS,
                                   lesson=course.modules[0].lessons[0], now=friday)
    assert not can_view_help_request(dbs, other, request)
    assert helping.escalate_due(dbs, at("2026-12-01 14:59")) == 0     # Tuesday, a minute early
    assert helping.escalate_due(dbs, at("2026-12-01 15:00")) == 1
    assert helping.escalate_due(dbs, at("2026-12-02 15:00")) == 0     # once
    assert can_view_help_request(dbs, other, request)
    assert dbs.scalars(select(HelpRecipient.user_id)).all() == [other.id]
    sent = dbs.scalars(select(Notification.user_id).where(
        Notification.kind == "help_escalated")).all()
    assert sent == [other.id]


def test_an_answered_request_does_not_escalate(dbs, factory):
    unit = factory.unit()
    mentor, other = factory.mentor(unit), factory.mentor(unit)
    learner = factory.person(unit=unit)
    factory.pair(mentor, learner)
    course = factory.course(lessons=1)
    now = at("2026-11-24 09:00")
    request = helping.ask_for_help(dbs, learner, "Câu hỏi", TWO_DAYS,
                                   lesson=course.modules[0].lessons[0], now=now)
    helping.reply(dbs, mentor, request, "Trả lời", TWO_DAYS, now=now + timedelta(hours=1))
    assert helping.escalate_due(dbs, now + timedelta(days=10)) == 0
    assert not can_view_help_request(dbs, other, request)


def test_without_a_mentor_the_question_goes_to_the_units_mentors(dbs, factory):
    department = factory.unit("Cục Lãnh sự")
    division = factory.unit("Phòng Hộ chiếu", parent=department)
    dept_mentor = factory.mentor(department)
    learner = factory.person(unit=division)
    course = factory.course(lessons=1)
    request = helping.ask_for_help(dbs, learner, "Xin hỗ trợ", TWO_DAYS,
                                   lesson=course.modules[0].lessons[0])
    assert request.mentor_id is None
    assert can_view_help_request(dbs, dept_mentor, request)
    lonely = factory.person(unit=factory.unit("Đơn vị chưa có người hỗ trợ"))
    with pytest.raises(helping.MentoringError):
        helping.ask_for_help(dbs, lonely, "Xin hỗ trợ", TWO_DAYS,
                             lesson=course.modules[0].lessons[0])


def test_holidays_are_read_from_the_environment(tmp_path):
    from lms.config import ConfigError, load_config

    env = {"LMS_INSTANCE_PATH": str(tmp_path), "LMS_HOLIDAYS": "2026-09-02, 2027-02-16"}
    assert load_config(env)["HOLIDAYS"] == {datetime(2026, 9, 2).date(),
                                            datetime(2027, 2, 16).date()}
    with pytest.raises(ConfigError, match="LMS_HOLIDAYS"):
        load_config({**env, "LMS_HOLIDAYS": "02/09/2026"})


def test_the_escalation_command_and_task_escalate_once(app, lms, look):
    from lms.scheduler import run_now
    from tests.conftest import Factory

    session = look()
    with app.app_context():
        factory = Factory(session)
        unit = factory.unit()
        mentor, other = factory.mentor(unit), factory.mentor(unit)
        learner = factory.person(unit=unit)
        factory.pair(mentor, learner)
        course = factory.course(lessons=1)
        long_ago = datetime.now(timezone.utc) - timedelta(days=10)
        request = helping.ask_for_help(session, learner, "Xin hỗ trợ ký số", TWO_DAYS,
                                       lesson=course.modules[0].lessons[0], now=long_ago)
        session.flush()
    result = lms("escalate-help")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1 ")
    # The scheduler's run of the same work: nothing more to do.
    assert run_now(app, "mentoring.escalate_help").result == "0 escalated"
    assert lms("escalate-help").output.startswith("0 ")
    assert look().scalars(select(HelpRecipient.user_id).where(
        HelpRecipient.request_id == request.id)).all() == [other.id]


def test_a_question_keeps_its_lines_and_is_stored_composed(dbs, factory, team):
    import unicodedata

    _unit, _mentor, (nhung, _son, _tam), course = team
    decomposed = unicodedata.normalize("NFD", "Bước 1: mở văn bản   \r\nBước 2: ký số")
    request = helping.ask_for_help(dbs, nhung, decomposed, TWO_DAYS,
                                   lesson=course.modules[0].lessons[0])
    assert request.messages[0].body == "Bước 1: mở văn bản\nBước 2: ký số"
    with pytest.raises(helping.MentoringError):
        helping.reply(dbs, nhung, request, "  \n  ", TWO_DAYS)

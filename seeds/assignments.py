"""Demo training by decision, mentors, concurrent posts and month-end snapshots, so that the
unit dashboards, the "who is behind" lists, the public movement page and the snapshot
comparisons show something real at once.

- A few concurrent posts (kiêm nhiệm) between units.
- Three assignments by decision, made through ``lms.assignments.services.create_assignment``:
  the ministry-wide Decision No. 1637/QĐ-BNG (information security, due in three weeks),
  the Consular Department head's decision on the document management system (due a week
  ago: whoever has not finished is overdue) and the IT Department head's decision on the
  LGSP data platform (started a few weeks ago).
- Progress on the training they assign, through the learning and quiz services (lessons
  done, the final quiz passed), spread over the months since each decision: by unit, some
  people finished early, some late, some are half-way, some have not begun.
- Mentors (the people the demo gives the mentor role): everyone in the departments that have
  mentors is paired with one, balanced by load; the demo learner with the demo mentor
  (``lms.seeds.mentoring``, which also adds help requests and coaching sessions).
- The last four month ends' snapshots; as the figures are computed "as of" each date from
  the timestamps, they climb from month to month.

Everything is idempotent: an assignment whose decision number exists is left alone (and its
people's progress too), existing posts, mentorships and snapshots are found again.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lms.assignments.models import Assignment, TargetKind
from lms.assignments.services import AssignmentData, create_assignment
from lms.courses.models import Course, Enrolment, EnrolmentStatus, LessonProgress
from lms.courses.queries import course_outline
from lms.courses.services import refresh_enrolment
from lms.db import utcnow
from lms.org.models import ConcurrentPost, Unit, User
from lms.org.services import add_concurrent_post
from lms.quizzes.models import Quiz
from lms.reports.models import SnapshotKind
from lms.reports.services import end_of_day, last_month_end, take_snapshot
from lms.seeds.demo import DOMAIN, NAMED, ROOT_CODE

ADMIN_EMAIL = f"admin@{DOMAIN}"
LEARNER_EMAIL = f"learner@{DOMAIN}"
MONTH_ENDS = 4


@dataclass(frozen=True)
class _Decision:
    number: str
    title: str
    course: str            # slug
    unit: str              # the target unit's code (its whole subtree)
    actor: str             # who assigns: the admin or the unit's head
    start_before: int      # days before the oldest snapshot's month end (negative: after)
    due_in: int            # days from now (negative: already past)
    pace: float            # how many of the people it enrols finish, roughly


DECISIONS = (
    _Decision("1637/QĐ-BNG", "Bồi dưỡng kỹ năng an toàn thông tin cho cán bộ, công chức toàn Bộ "
              "(phong trào \"Bình dân học vụ số\")", "an-toan-thong-tin", ROOT_CODE, ADMIN_EMAIL,
              start_before=20, due_in=21, pace=0.62),
    _Decision("215/QĐ-CLS", "Sử dụng Hệ thống quản lý văn bản và điều hành, ký số văn bản điện tử",
              "van-ban-dien-tu", "CLS", f"head.consular@{DOMAIN}",
              start_before=-50, due_in=-8, pace=0.7),
    _Decision("98/QĐ-CYCNTT", "Khai thác Nền tảng tích hợp, chia sẻ dữ liệu của Bộ (LGSP)",
              "lgsp-chia-se-du-lieu", "CYCNTT", f"head.it@{DOMAIN}",
              start_before=-85, due_in=30, pace=0.45),
)

# (home unit, preferred positions, unit of the concurrent post, the post)
POSTS = (
    ("CYCNTT-HTUD", ("Chuyên viên CNTT",), "VPB-HCVT", "Cán bộ hỗ trợ chuyển đổi số"),
    ("CYCNTT-ANM", ("Chuyên viên CNTT", "Chuyên viên"), "CLS-HC", "Cán bộ hỗ trợ công nghệ thông tin"),
    ("TCCB-DTBD", ("Chuyên viên chính", "Chuyên viên"), "HVNG-QLDT", "Phó Trưởng phòng (kiêm nhiệm)"),
    ("TTBC-TTDT", ("Chuyên viên", "Chuyên viên chính"), "VPB-TH", "Biên tập viên Cổng thông tin"),
)


def seed_assignments(dbs: Session, seed: int = 1637) -> None:
    """Posts, assignments with their progress, mentorships, then the month-end snapshots.

    Flushes, never commits; run it with certificate issuing deferred (``issuing_deferred``):
    the completions it makes are certified afterwards with the rest of the demo's.
    """
    if dbs.scalar(select(Unit.id).where(Unit.code == ROOT_CODE)) is None:
        return
    rng = random.Random(seed)
    now = utcnow()
    month_ends = _month_ends(now)
    _keep_the_expired_certificate_example(dbs)
    _add_posts(dbs)
    for decision in DECISIONS:
        _assign(dbs, rng, decision, month_ends[0], now)
    _pair_mentors(dbs, rng, now)
    dbs.flush()
    for month_end in month_ends:
        take_snapshot(dbs, month_end, SnapshotKind.MONTH_END.value, now=now)


def _month_ends(now: datetime) -> list[date]:
    """The last ``MONTH_ENDS`` month ends (Hanoi dates), oldest first."""
    ends = [last_month_end(now)]
    while len(ends) < MONTH_ENDS:
        ends.append(ends[-1].replace(day=1) - timedelta(days=1))
    return ends[::-1]


def _keep_the_expired_certificate_example(dbs: Session) -> None:
    """The certificates demo shows an expired certificate: a completion, 14 months ago, of the
    security course by someone not enrolled in it. Decision 1637 enrols everyone in that
    course, so that completion is made first."""
    from lms.seeds.certificates import _expired

    _expired(dbs)


# ---------------------------------------------------------------- concurrent posts

def _add_posts(dbs: Session) -> None:
    units = {u.code: u for u in dbs.scalars(select(Unit))}
    admin = dbs.scalar(select(User).where(User.email == ADMIN_EMAIL))
    demo_logins = {named.login for named in NAMED if named.login}
    for home_code, positions, post_code, post in POSTS:
        home, there = units.get(home_code), units.get(post_code)
        if home is None or there is None:
            continue
        if dbs.scalar(select(ConcurrentPost.id).join(User, User.id == ConcurrentPost.user_id).where(
                User.unit_id == home.id, ConcurrentPost.unit_id == there.id)):
            continue
        staff = dbs.scalars(select(User).where(
            User.unit_id == home.id, User.is_active.is_(True), User.email.not_in(demo_logins))
            .order_by(User.employee_code)).all()
        person = next((p for position in positions for p in staff if p.position == position), None)
        if person is not None:
            add_concurrent_post(dbs, admin, person, there.id, post)


# ---------------------------------------------------------------- assignments and progress

def _assign(dbs: Session, rng: random.Random, decision: _Decision, oldest_month_end: date,
            now: datetime) -> None:
    if dbs.scalar(select(Assignment.id).where(Assignment.decision_number == decision.number)):
        return
    course = dbs.scalar(select(Course).where(Course.slug == decision.course))
    unit = dbs.scalar(select(Unit).where(Unit.code == decision.unit))
    actor = dbs.scalar(select(User).where(User.email == decision.actor))
    if course is None or unit is None or not course.is_published:
        return
    start = end_of_day(oldest_month_end) - timedelta(days=decision.start_before)
    start = start.replace(hour=8, minute=0, second=0, microsecond=0)
    assignment = create_assignment(dbs, actor, AssignmentData(
        title=decision.title, decision_number=decision.number,
        decision_date=(start - timedelta(days=4)).date(), start_at=start,
        due_at=(now + timedelta(days=decision.due_in)).replace(hour=16, minute=59, second=0,
                                                               microsecond=0),
        target_kind=TargetKind.UNIT.value, course_id=course.id, target_unit_id=unit.id),
        now=start)
    # Whoever had enrolled on their own since was in fact enrolled by the decision, at its start.
    dbs.execute(update(Enrolment).where(Enrolment.assignment_id == assignment.id,
                                        Enrolment.enrolled_at > start)
                .values(enrolled_at=start).execution_options(synchronize_session=False))
    _spread(dbs, rng, assignment, course, decision.pace, now)


def _spread(dbs: Session, rng: random.Random, assignment: Assignment, course: Course, pace: float,
            now: datetime) -> None:
    """Progress on the enrolments the assignment made, spread between its start and now."""
    lessons = [lesson for lesson in course_outline(dbs, course, None).lessons if lesson.is_required]
    quizzes = list(dbs.scalars(select(Quiz).where(
        Quiz.course_id == course.id, Quiz.is_required.is_(True), Quiz.is_archived.is_(False))
        .order_by(Quiz.position)))
    learner = dbs.scalar(select(User.id).where(User.email == LEARNER_EMAIL))
    rows = dbs.execute(select(Enrolment, User).join(User, User.id == Enrolment.user_id).where(
        Enrolment.assignment_id == assignment.id, Enrolment.status == EnrolmentStatus.NOT_STARTED.value,
        Enrolment.user_id != (learner or -1)).order_by(User.employee_code)
        .execution_options(populate_existing=True)).all()   # as the set-based updates left them
    # A unit's zeal sets how far its people got (some units keen, some behind).
    zeal = {unit_id: rng.choice((0.6, 0.8, 1.0, 1.15, 1.3)) for unit_id in
            sorted({person.unit_id for _e, person in rows})}
    start = assignment.start_at
    for enrolment, person in rows:
        roll = rng.random()
        finish = min(0.95, pace * zeal[person.unit_id])
        if roll < finish:
            share = 1.0
        elif roll < finish + 0.12:
            share = rng.uniform(0.2, 0.8)
        else:
            continue
        begin = max(enrolment.enrolled_at + timedelta(hours=1),
                    start + (now - start) * rng.uniform(0.02, 0.9 if share == 1.0 else 0.97))
        _progress(dbs, rng, enrolment, person, lessons, quizzes, share, begin, now)


def _progress(dbs: Session, rng: random.Random, enrolment: Enrolment, person: User, lessons: list,
              quizzes: list[Quiz], share: float, begin: datetime, now: datetime) -> None:
    """Lessons done (and, when all are, the required quizzes passed) from ``begin`` on."""
    from lms.seeds.learning import _pass_quiz  # the demo's way of passing a quiz

    done = lessons[: max(1, round(share * len(lessons)))]
    latest = now - timedelta(hours=2)
    moment = min(latest, begin)
    moments = []
    for _lesson in done:
        moment = min(latest, moment + timedelta(minutes=rng.randint(6, 60 * 20)))
        moments.append(moment)
    if len(done) == len(lessons):
        # Quizzes before the lesson records, so the completion is recorded at its own time.
        for quiz in quizzes:
            moment = _pass_quiz(dbs, rng, person, quiz, min(latest, moment + timedelta(minutes=20)))
    dbs.add_all(LessonProgress(user_id=person.id, lesson_id=lesson.id, course_id=enrolment.course_id,
                               completed_at=at) for lesson, at in zip(done, moments, strict=True))
    enrolment.status = EnrolmentStatus.IN_PROGRESS.value
    enrolment.started_at = min(begin, latest)
    enrolment.last_lesson_id = done[-1].id
    enrolment.last_activity_at = moment
    dbs.flush()
    refresh_enrolment(dbs, enrolment, at=moment)


# ---------------------------------------------------------------- mentors

def _pair_mentors(dbs: Session, rng: random.Random, now: datetime) -> None:
    """Everyone in the departments that have mentors gets one, balanced by load through the
    bulk pairing service; the demo learner gets the demo mentor (``lms.seeds.mentoring``)."""
    from lms.seeds.mentoring import pair_mentors

    pair_mentors(dbs, rng, now)

"""Demo mentoring: every member of staff of the departments that have mentors gets one,
shared out by load; a few help requests with short threads; coaching sessions logged in the
last months; a nudge to the demo learner.

- Pairing goes through the bulk pairing service, balanced by load: first each division
  that has its own mentors (its people to its mentors), then each department as a whole
  (the people placed in the department itself and in divisions without mentors, to all the
  department's mentors). The demo learner is paired with the demo mentor first, so the
  mentor's page shows a familiar face.
- Help requests go through ``lms.mentoring.help`` (ask, reply, mark solved, escalate) with
  their own moments: one waiting for an answer (the demo mentor's), one answered and still
  open (the demo learner's), three solved, one of which was escalated to another mentor of
  the unit after two working days.
- Coaching sessions go through ``lms.mentoring.coaching.log_session``.

Pairings, and the notifications they send, are dated back to when they "began", months
ago. Everything is deterministic (seeded random) and safe to run again: a bulk pairing
finds everyone paired, a thread is found by its learner and place, a mentor who has logged
sessions is left alone.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from lms.courses.models import Course, Lesson
from lms.db import utcnow
from lms.mentoring import help as helping
from lms.mentoring.coaching import SessionData, log_session
from lms.mentoring.models import CoachingSession, HelpRecipient, HelpRequest, Mentorship
from lms.mentoring.nudges import send_nudge
from lms.mentoring.services import (
    MentoringError,
    apply_bulk_pairing,
    current_mentorship,
    pair,
    plan_bulk_pairing,
)
from lms.notify.models import Notification
from lms.org.models import Role, RoleGrant, Unit, UnitKind, User
from lms.seeds.demo import DOMAIN

ADMIN_EMAIL = f"admin@{DOMAIN}"
MENTOR_EMAIL = f"mentor@{DOMAIN}"
LEARNER_EMAIL = f"learner@{DOMAIN}"
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
PAIRING_NOTICES = ("mentor_assigned", "mentees_assigned")
TOP_KINDS = (UnitKind.DEPARTMENT.value, UnitKind.INSTITUTE.value)


# ---------------------------------------------------------------- pairing

def pair_mentors(dbs: Session, rng: random.Random, now: datetime) -> None:
    """Give every active person of the departments (and institutes) that have mentors a
    mentor, balanced by load; the demo learner gets the demo mentor."""
    admin = dbs.scalar(select(User).where(User.email == ADMIN_EMAIL))
    if admin is None:
        return
    since = now
    learner = dbs.scalar(select(User).where(User.email == LEARNER_EMAIL))
    mentor = dbs.scalar(select(User).where(User.email == MENTOR_EMAIL))
    if learner is not None and mentor is not None and current_mentorship(dbs, learner.id) is None:
        pair(dbs, admin, mentor, learner, at=_morning(now - timedelta(days=130), rng))
    for unit in _units_to_pair(dbs):
        try:
            if plan_bulk_pairing(dbs, unit, include_subunits=True).pairs:
                apply_bulk_pairing(dbs, admin, unit, include_subunits=True)
        except MentoringError:   # its mentors have all left: nobody to pair them with
            continue
    _date_back(dbs, rng, since, now)


def _units_to_pair(dbs: Session) -> list[Unit]:
    """Each department's divisions that have their own mentors, then the department."""
    holders = select(RoleGrant.unit_id).where(RoleGrant.role == Role.MENTOR.value)
    with_mentors = set(dbs.scalars(select(Unit.id).where(Unit.id.in_(holders))))
    units = dbs.scalars(select(Unit).where(Unit.is_active.is_(True)).order_by(Unit.code)).all()
    ordered: list[Unit] = []
    for top in (u for u in units if u.kind in TOP_KINDS and u.depth == 1):
        below = [u for u in units if u.path.startswith(top.path) and u.id != top.id]
        if top.id not in with_mentors and not any(u.id in with_mentors for u in below):
            continue
        ordered += [u for u in below if u.id in with_mentors] + [top]
    return ordered


def _date_back(dbs: Session, rng: random.Random, since: datetime, now: datetime) -> None:
    """Pairings made by this run began 3 weeks to 5 months ago; their notices were sent
    (and read) then."""
    fresh = dbs.scalars(select(Mentorship.id).where(Mentorship.started_at >= since,
                                                    Mentorship.ended_at.is_(None))
                        .order_by(Mentorship.id)).all()
    if fresh:
        dbs.execute(update(Mentorship), [
            {"id": pairing_id, "started_at": _morning(now - timedelta(days=rng.randint(20, 150)),
                                                      rng)}
            for pairing_id in fresh])
    began: dict[int, datetime] = {}
    first_mentee: dict[int, datetime] = {}
    for mentor_id, mentee_id, started in dbs.execute(
            select(Mentorship.mentor_id, Mentorship.mentee_id, Mentorship.started_at)
            .where(Mentorship.ended_at.is_(None))):
        began[mentee_id] = started
        first_mentee[mentor_id] = min(started, first_mentee.get(mentor_id, started))
    notices = []
    for notice_id, user_id, kind in dbs.execute(
            select(Notification.id, Notification.user_id, Notification.kind)
            .where(Notification.kind.in_(PAIRING_NOTICES), Notification.created_at >= since)):
        at = (began if kind == "mentor_assigned" else first_mentee).get(user_id)
        if at is not None:
            notices.append({"id": notice_id, "created_at": at, "read_at": at + timedelta(hours=3)})
    if notices:
        dbs.execute(update(Notification), notices)


def _morning(day: datetime, rng: random.Random) -> datetime:
    """Between 8:00 and 11:00 in Hanoi on that day."""
    local = day.astimezone(HANOI).date()
    moment = datetime.combine(local, time(8, 0), HANOI) + timedelta(minutes=rng.randint(0, 180))
    return moment.astimezone(timezone.utc)


# ---------------------------------------------------------------- help requests

@dataclass(frozen=True)
class _Message:
    who: str        # learner | mentor | other (a mentor the request was escalated to)
    after: timedelta
    text: str


@dataclass(frozen=True)
class _Thread:
    learner: str    # learner (the demo learner) | mentee (another of the demo mentor's) |
                    # consular (someone of the Consular Department) | escalated
    course: str     # slug
    lesson: str     # title
    asked: timedelta  # how long ago
    messages: tuple[_Message, ...]
    solved_after: timedelta | None = None
    escalate: bool = False


H = timedelta(hours=1)
D = timedelta(days=1)

THREADS = (
    _Thread("learner", "an-toan-thong-tin", "Xác thực hai lớp", 24 * D, (
        _Message("learner", 0 * H, "Anh Việt ơi, em đã bật xác thực hai lớp cho hộp thư công vụ, "
                 "nhưng đổi sang điện thoại mới thì không nhận được mã nữa. Em phải làm thế nào ạ?"),
        _Message("mentor", 1.5 * H, "Chào Nhung, em đăng nhập bằng một trong các mã dự phòng đã "
                 "lưu khi bật xác thực hai lớp, rồi vào mục Bảo mật tài khoản: gỡ điện thoại cũ, "
                 "thêm điện thoại mới và quét lại mã QR. Nếu không còn mã dự phòng, em gửi yêu "
                 "cầu cho Phòng Hạ tầng và Ứng dụng CNTT để được xác minh và đặt lại nhé."),
        _Message("learner", 3 * H, "Em đăng nhập được bằng mã dự phòng rồi, đã thêm điện thoại mới "
                 "và in lại bộ mã dự phòng. Em cảm ơn anh!"),
    ), solved_after=3.2 * H),
    _Thread("consular", "dich-vu-cong-vneid", "Đăng nhập cổng dịch vụ công bằng VNeID", 11 * D, (
        _Message("learner", 0 * H, "Công dân gọi hỏi vì sao không đăng nhập được Cổng Dịch vụ công "
                 "quốc gia bằng VNeID, máy báo tài khoản chưa định danh mức 2. Em nên hướng dẫn "
                 "thế nào ạ?"),
        _Message("mentor", 2 * H, "Tài khoản VNeID mức 1 chỉ dùng được một số dịch vụ. Công dân "
                 "mang căn cước đến công an cấp xã để kích hoạt định danh mức 2; người ở nước "
                 "ngoài làm tại cơ quan đại diện có triển khai. Lên mức 2 rồi đăng nhập lại Cổng "
                 "là được. Bài 2.1 của khoá học có ảnh chụp từng bước để gửi cho công dân."),
        _Message("learner", 2.5 * H, "Dạ em hiểu rồi, em sẽ gửi hướng dẫn này cho cả tổ tiếp dân. "
                 "Em cảm ơn ạ."),
    ), solved_after=2.6 * H),
    _Thread("escalated", "an-toan-thong-tin", "Mật khẩu mạnh và trình quản lý mật khẩu", 8 * D, (
        _Message("learner", 0 * H, "Tài khoản Hệ thống quản lý văn bản và điều hành của em bị khoá "
                 "sau khi nhập sai mật khẩu ba lần. Em cần làm gì để mở lại ạ? Em đang có văn bản "
                 "phải xử lý trong tuần."),
        _Message("other", 1.2 * H, "Tài khoản tự mở sau 30 phút; nếu cần gấp thì gửi yêu cầu mở "
                 "khoá qua Phòng Hạ tầng và Ứng dụng CNTT. Vào được rồi thì đổi ngay mật khẩu mới "
                 "từ 12 ký tự trở lên và lưu trong trình quản lý mật khẩu để không phải nhớ."),
        _Message("learner", 2 * H, "Em vào lại được rồi và đã đổi mật khẩu. Em cảm ơn ạ!"),
    ), solved_after=2.1 * H, escalate=True),
    _Thread("learner", "van-ban-dien-tu", "Chữ ký số", 1 * D, (
        _Message("learner", 0 * H, "Em trình ký văn bản đi trên Hệ thống quản lý văn bản, nhưng "
                 "bấm Ký số thì báo \"Không tìm thấy chứng thư số\". USB token em vẫn cắm trên "
                 "máy ạ."),
        _Message("mentor", 1.3 * H, "Em kiểm tra giúp anh: phần mềm ký số đã chạy chưa (biểu tượng "
                 "ở góc phải thanh tác vụ)? Nếu chưa, em mở lại phần mềm rồi rút USB token ra cắm "
                 "lại, dùng Chrome hoặc Edge bản mới nhất. Vẫn chưa được thì em nhắn, anh qua "
                 "phòng hỗ trợ trực tiếp."),
    )),
    _Thread("mentee", "lgsp-chia-se-du-lieu", "Quy trình đề nghị khai thác dữ liệu", 3 * H, (
        _Message("learner", 0 * H, "Anh ơi, phòng em cần lấy dữ liệu hộ chiếu từ Cục Lãnh sự qua "
                 "LGSP để đối chiếu. Phiếu đề nghị khai thác dữ liệu thì trình ai ký duyệt trước, "
                 "và gửi qua Hệ thống quản lý văn bản hay qua thư điện tử ạ?"),
    )),
)


def seed_help_requests(dbs: Session, now: datetime) -> None:
    """The demo threads, each asked, answered and solved at its own moment."""
    escalation = helping.Escalation.from_config(current_app.config)
    learners = _thread_learners(dbs)
    first_new = dbs.scalar(select(func.max(Notification.id))) or 0
    for thread in THREADS:
        learner = learners.get(thread.learner)
        lesson = dbs.scalar(select(Lesson).join(Course, Course.id == Lesson.course_id)
                            .where(Course.slug == thread.course, Lesson.title == thread.lesson))
        if learner is None or lesson is None:
            continue
        _, place = helping.place_of(dbs, lesson=lesson)
        if dbs.scalar(select(HelpRequest.id).where(HelpRequest.learner_id == learner.id,
                                                   HelpRequest.place == place[:520])):
            continue
        _play(dbs, thread, learner, lesson, escalation, _asked_at(now, thread.asked), now)
    # Notifications about threads of more than two days ago have been read since.
    read = [{"id": notice_id, "read_at": created + H} for notice_id, created in dbs.execute(
        select(Notification.id, Notification.created_at).where(
            Notification.id > first_new, Notification.created_at < now - 2 * D))]
    if read:
        dbs.execute(update(Notification), read)


def _asked_at(now: datetime, ago: timedelta) -> datetime:
    """``ago`` before now; a question of a day or more ago was asked at 9:10 Hanoi time."""
    if ago < D:
        return now - ago
    day = (now - ago).astimezone(HANOI).date()
    return datetime.combine(day, time(9, 10), HANOI).astimezone(timezone.utc)


def _play(dbs: Session, thread: _Thread, learner: User, lesson: Lesson,
          escalation: helping.Escalation, asked: datetime, now: datetime) -> None:
    first, *rest = thread.messages
    request = helping.ask_for_help(dbs, learner, first.text, escalation, lesson=lesson, now=asked)
    start, due = asked, request.escalate_at
    span = max([m.after for m in thread.messages] + [thread.solved_after or timedelta(0)])
    if thread.escalate and due is not None and due + span < now:   # (not with long holidays)
        start = due
        helping.escalate_due(dbs, now=start)
    for message in rest:
        author = _author(dbs, request, message.who, learner)
        if author is not None:
            helping.reply(dbs, author, request, message.text, escalation,
                          now=start + message.after)
    if thread.solved_after is not None:
        helping.mark_solved(dbs, learner, request, now=start + thread.solved_after)


def _author(dbs: Session, request: HelpRequest, who: str, learner: User) -> User | None:
    if who == "learner":
        return learner
    if who == "mentor" and request.mentor_id is not None:
        return dbs.get(User, request.mentor_id)
    helper = dbs.scalar(select(HelpRecipient.user_id).where(HelpRecipient.request_id == request.id)
                        .order_by(HelpRecipient.reason, HelpRecipient.user_id).limit(1))
    return dbs.get(User, helper or request.mentor_id) if (helper or request.mentor_id) else None


def _thread_learners(dbs: Session) -> dict[str, User]:
    """Who asks: the demo learner; another mentee of the demo mentor; someone of the Consular
    Department; and someone whose unit has two mentors or more (so a request can be
    escalated to a second one). Chosen by employee code, so every run picks the same."""
    pairs = dbs.execute(select(User, Mentorship.mentor_id)
                        .join(Mentorship, Mentorship.mentee_id == User.id)
                        .where(Mentorship.ended_at.is_(None), User.is_active.is_(True))
                        .order_by(User.employee_code)).all()
    with_roles = set(dbs.scalars(select(RoleGrant.user_id)))
    demo_mentor = dbs.scalar(select(User.id).where(User.email == MENTOR_EMAIL))
    found: dict[str, User] = {}
    learner = dbs.scalar(select(User).where(User.email == LEARNER_EMAIL))
    if learner is not None:
        found["learner"] = learner
    plain = [(person, mentor_id) for person, mentor_id in pairs
             if person.id not in with_roles and person.email != LEARNER_EMAIL]
    mentee = next((p for p, m in plain if m == demo_mentor), None)
    if mentee is not None:
        found["mentee"] = mentee
    consular = next((p for p, _m in plain if p.unit.code.startswith("CLS")
                     and p.unit_id != getattr(learner, "unit_id", None)), None)
    if consular is not None:
        found["consular"] = consular
    per_unit: dict[int, int] = {}
    for unit_id in dbs.scalars(select(RoleGrant.unit_id).where(RoleGrant.role == Role.MENTOR.value)):
        per_unit[unit_id] = per_unit.get(unit_id, 0) + 1
    taken = {u.id for u in found.values()}
    candidates = [p for p, _m in plain if per_unit.get(p.unit_id, 0) >= 2 and p.id not in taken]
    # Preferably in the IT department, whose head signs in to the demo.
    escalated = next((p for p in candidates if p.unit.code.startswith("CYCNTT")),
                     candidates[0] if candidates else None)
    if escalated is not None:
        found["escalated"] = escalated
    return found


# ---------------------------------------------------------------- coaching sessions

TOPICS = (
    ("Ký số văn bản trên hệ thống quản lý văn bản", "Thực hành ký số bằng USB token trên văn "
     "bản dự thảo; kiểm tra chứng thư số còn hạn."),
    ("Bảo mật tài khoản, xác thực hai lớp", "Cùng bật xác thực hai lớp cho hộp thư công vụ, lưu "
     "mã dự phòng."),
    ("Tiếp nhận và chuyển tiếp văn bản đến", "Đi qua quy trình văn bản đến: đăng ký, trình lãnh "
     "đạo, chuyển tiếp cho chuyên viên."),
    ("Tra cứu văn bản và lập hồ sơ điện tử", "Tìm văn bản theo số, trích yếu; tạo hồ sơ công "
     "việc năm nay."),
    ("Nhận diện thư điện tử giả mạo", "Xem lại ba thư lừa đảo gửi tới đơn vị tháng trước và cách "
     "báo cáo."),
    ("Nộp hồ sơ trên Cổng Dịch vụ công quốc gia bằng VNeID", "Hướng dẫn kích hoạt định danh mức "
     "2 và nộp thử một hồ sơ."),
    ("Đăng tin bài lên Cổng thông tin điện tử của Bộ", "Soạn, gắn ảnh và gửi duyệt một tin bài."),
    ("Đề nghị khai thác dữ liệu qua LGSP", "Điền phiếu đề nghị và danh sách tự kiểm tra cho một "
     "yêu cầu thật của phòng."),
)
MINUTES = (30, 45, 60, 60, 90, 120)


def seed_coaching(dbs: Session, seed: int, now: datetime) -> None:
    """A few sessions for most mentors over the last three months (four for the demo
    mentor); attendees are mentees paired with them by then."""
    mentees: dict[int, list[tuple[int, date]]] = {}
    for mentor_id, mentee_id, started in dbs.execute(
            select(Mentorship.mentor_id, Mentorship.mentee_id, Mentorship.started_at)
            .where(Mentorship.ended_at.is_(None)).order_by(Mentorship.mentor_id, Mentorship.id)):
        mentees.setdefault(mentor_id, []).append((mentee_id, started.astimezone(HANOI).date()))
    logged = set(dbs.scalars(select(CoachingSession.mentor_id).distinct()))
    demo_mentor = dbs.scalar(select(User.id).where(User.email == MENTOR_EMAIL))
    mentors = {u.id: u for u in dbs.scalars(select(User).where(User.id.in_(list(mentees))))}
    for mentor_id, theirs in mentees.items():
        mentor = mentors[mentor_id]
        if mentor_id in logged or not mentor.is_active:
            continue
        # Each mentor's own draw: a mentor left without sessions stays so on the next run.
        rng = random.Random(f"{seed}-{mentor.employee_code}")
        count = 4 if mentor_id == demo_mentor else rng.choice((0, 1, 2, 2, 3, 3, 4))
        today = now.astimezone(ZoneInfo(mentor.timezone)).date()
        topics = list(TOPICS[:count]) if mentor_id == demo_mentor else rng.sample(TOPICS, count)
        days = sorted(today - timedelta(days=rng.randint(2, 95)) for _ in range(count))
        for held_on, (topic, notes) in zip(days, topics, strict=True):
            present = [m for m, since in theirs if since <= held_on]
            if not present:
                continue
            attendees = rng.sample(present, k=min(len(present), rng.randint(1, 4)))
            log_session(dbs, mentor, SessionData(
                held_on=held_on, topic=topic, duration_minutes=rng.choice(MINUTES),
                attendee_ids=frozenset(attendees), notes=notes), today)


# ---------------------------------------------------------------- all of it

def seed_mentoring(dbs: Session, seed: int = 57) -> None:
    """Help requests, coaching sessions and a nudge, once the mentors are paired (in
    ``lms.seeds.assignments``). Flushes, never commits."""
    learner = dbs.scalar(select(User).where(User.email == LEARNER_EMAIL))
    if learner is None:
        return
    now = utcnow()
    seed_help_requests(dbs, now)
    seed_coaching(dbs, seed, now)
    _nudge_the_learner(dbs, learner, now)
    dbs.flush()


def _nudge_the_learner(dbs: Session, learner: User, now: datetime) -> None:
    """The demo mentor reminds the demo learner of the overdue training (once)."""
    pairing = current_mentorship(dbs, learner.id)
    if pairing is None or dbs.scalar(select(Notification.id).where(
            Notification.kind == "nudge", Notification.user_id == learner.id,
            Notification.actor_id == pairing.mentor_id).limit(1)):
        return
    send_nudge(dbs, pairing.mentor, [learner.id], template="overdue", now=now - 2 * D - 3 * H)

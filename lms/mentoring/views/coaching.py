"""A mentor's coaching sessions: the list with totals, logging, editing and deleting one.

Each view: load or 404 -> authorize -> validate -> call a service -> commit -> respond.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_timezone, ngettext
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from lms.db import db
from lms.forms import ActionForm, show_domain_error
from lms.mentoring import coaching
from lms.mentoring.forms import CoachingSessionForm
from lms.mentoring.models import CoachingAttendee, CoachingSession
from lms.mentoring.permissions import can_open_mentoring, mentees_clause
from lms.mentoring.services import MentoringError
from lms.mentoring.views import _me, _require, bp
from lms.org.models import User
from lms.pagination import paginate


def _today() -> date:
    """Today in the signed-in person's timezone."""
    return datetime.now(timezone.utc).astimezone(get_timezone()).date()


@bp.app_template_filter("duration")
def duration_text(minutes: int | None) -> str:
    """90 -> "1 h 30 min"; 45 -> "45 min"."""
    if minutes is None:
        return ""
    hours, rest = divmod(int(minutes), 60)
    if not hours:
        return _("%(m)d min", m=rest)
    if not rest:
        return _("%(h)d h", h=hours)
    return _("%(h)d h %(m)d min", h=hours, m=rest)


# ---------------------------------------------------------------- reads

def my_sessions_query(mentor: User):
    """A mentor's sessions, latest first, with their attendees (for :func:`paginate`)."""
    return (select(CoachingSession).where(CoachingSession.mentor_id == mentor.id)
            .options(selectinload(CoachingSession.attendees).selectinload(CoachingAttendee.user))
            .order_by(CoachingSession.held_on.desc(), CoachingSession.id.desc()))


def attendee_choices(dbs: Session, mentor: User,
                     session: CoachingSession | None = None) -> list[tuple[int, str]]:
    """Whom a session can list: the mentor's current mentees, and (when editing) the people
    already listed on it, who may have moved to another mentor since."""
    people = {p.id: p for p in dbs.scalars(select(User).where(mentees_clause(mentor)))}
    if session is not None:
        for attendee in session.attendees:
            people.setdefault(attendee.user_id, attendee.user)
    ordered = sorted(people.values(), key=lambda p: (p.sort_name, p.id))
    return [(p.id, p.full_name) for p in ordered]


def _data(form: CoachingSessionForm) -> coaching.SessionData:
    return coaching.SessionData(
        held_on=form.held_on.data, topic=form.topic.data or "",
        duration_minutes=form.duration_minutes.data or 0,
        attendee_ids=frozenset(form.attendee_ids.data or ()), notes=form.notes.data or "")


def _load_mine(session_id: int) -> CoachingSession:
    """One of my sessions; another mentor's is not found."""
    session = db.session.get(CoachingSession, session_id)
    if session is None or session.mentor_id != current_user.id:
        abort(404)
    return session


# ---------------------------------------------------------------- pages

@bp.route("/sessions")
@login_required
def sessions():
    me = _me()
    _require(can_open_mentoring(db.session, me))
    today = _today()
    page = paginate(db.session, my_sessions_query(me), request.args.get("page", 1, type=int),
                    current_app.config["PAGE_SIZE"])
    return render_template(
        "mentoring/sessions.html", page=page,
        overall=coaching.totals(db.session, mentor_id=me.id),
        this_year=coaching.totals(db.session, mentor_id=me.id, start=date(today.year, 1, 1),
                                  end=today),
        year=today.year)


@bp.route("/sessions/new", methods=["GET", "POST"])
@login_required
def session_new():
    me = _me()
    _require(can_open_mentoring(db.session, me))
    today = _today()
    form = CoachingSessionForm(mentees=attendee_choices(db.session, me), today=today)
    if form.validate_on_submit():
        try:
            session = coaching.log_session(db.session, me, _data(form), today)
        except MentoringError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "topic")
        else:
            db.session.commit()
            flash(ngettext("The session “%(topic)s” was logged with %(num)d attendee.",
                           "The session “%(topic)s” was logged with %(num)d attendees.",
                           len(session.attendees), topic=session.topic), "success")
            return redirect(url_for("mentoring.sessions"))
    return render_template("mentoring/session_form.html", form=form, session=None, today=today)


@bp.route("/sessions/<int:session_id>/edit", methods=["GET", "POST"])
@login_required
def session_edit(session_id: int):
    session = _load_mine(session_id)
    me = _me()
    today = _today()
    data = None
    if request.method == "GET":
        data = {"held_on": session.held_on, "topic": session.topic,
                "duration_minutes": session.duration_minutes, "notes": session.notes,
                "attendee_ids": [a.user_id for a in session.attendees]}
    form = CoachingSessionForm(mentees=attendee_choices(db.session, me, session), today=today,
                               data=data)
    if form.validate_on_submit():
        try:
            coaching.update_session(db.session, me, session, _data(form), today)
        except MentoringError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "topic")
        else:
            db.session.commit()
            flash(_("The session “%(topic)s” was saved.", topic=session.topic), "success")
            return redirect(url_for("mentoring.sessions"))
    return render_template("mentoring/session_form.html", form=form, session=session,
                           today=today, delete_form=ActionForm())


@bp.route("/sessions/<int:session_id>/delete", methods=["POST"])
@login_required
def session_delete(session_id: int):
    session = _load_mine(session_id)
    form = ActionForm()
    if form.validate_on_submit():
        topic = session.topic
        coaching.delete_session(db.session, _me(), session)
        db.session.commit()
        flash(_("The session “%(topic)s” was deleted.", topic=topic), "success")
    return redirect(url_for("mentoring.sessions"))

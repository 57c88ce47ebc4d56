"""The mentor's page: open help requests, the mentees sorted by need, and nudges.

Each view: load or 404 -> authorize -> validate -> call a service -> commit -> respond.
"""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import ngettext
from flask_login import current_user, login_required

from lms.db import db, utcnow
from lms.forms import show_domain_error
from lms.mentoring.forms import NudgeForm
from lms.mentoring.needs import Need
from lms.mentoring.nudges import MAX_NUDGE_CHARS, send_nudge
from lms.mentoring.permissions import can_open_mentoring
from lms.mentoring.queries import MentorOverview, mentor_overview
from lms.mentoring.services import MentoringError
from lms.mentoring.views import _me, _require, bp

# The order the flags are shown in on a mentee's card (the same as their weight).
NEED_ORDER = (Need.WAITING, Need.OVERDUE, Need.FAILED_TWICE, Need.INACTIVE)




def _overview() -> MentorOverview:
    return mentor_overview(db.session, _me(), utcnow(), current_app.config["MENTOR_INACTIVE_DAYS"])


def _mentee_choices(overview: MentorOverview) -> list[tuple[int, str]]:
    return [(row.person.id, row.person.full_name) for row in overview.mentees]


def _render(overview: MentorOverview, form: NudgeForm, nudge_one: int | None = None):
    waiting = sum(1 for r in overview.requests if r.waiting_since is not None)
    nudge_person = next((row.person for row in overview.mentees
                         if row.person.id == nudge_one), None)
    return render_template(
        "mentoring/index.html", overview=overview, form=form, waiting=waiting,
        need_order=NEED_ORDER, nudge_person=nudge_person, max_chars=MAX_NUDGE_CHARS,
        behind_ids={row.person.id for row in overview.behind},
        inactive_days=current_app.config["MENTOR_INACTIVE_DAYS"])


@bp.route("")
@login_required
def index():
    _require(can_open_mentoring(db.session, current_user))
    overview = _overview()
    form = NudgeForm(formdata=None, mentees=_mentee_choices(overview))
    mine = {row.person.id for row in overview.mentees}
    one = request.args.get("nudge", type=int)
    if one in mine:
        form.mentee_ids.data = [one]
    else:
        one = None
        form.mentee_ids.data = [row.person.id for row in overview.behind]
    return _render(overview, form, nudge_one=one)


@bp.route("/nudge", methods=["POST"])
@login_required
def nudge():
    _require(can_open_mentoring(db.session, current_user))
    form = NudgeForm()   # whom a nudge may reach is the service's to check
    if form.validate_on_submit():
        try:
            sent = send_nudge(db.session, _me(), form.mentee_ids.data or [],
                              template=form.template.data or "", message=form.message.data or "")
        except MentoringError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "mentee_ids")
        else:
            db.session.commit()
            flash(ngettext("The message was sent to %(num)d colleague.",
                           "The message was sent to %(num)d colleagues.", sent), "success")
            # The form's own anchor must not carry over: the message is flashed at the top.
            return redirect(url_for("mentoring.index", _anchor="main"))
    overview = _overview()
    form.mentee_ids.choices = _mentee_choices(overview)
    return _render(overview, form)

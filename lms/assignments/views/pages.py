"""Assignment pages: the list, assigning training by decision, one assignment's progress,
its decision's PDF; and the learning paths.

Each view: load or 404 -> authorize -> validate -> call a service -> commit -> respond.
"""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import format_date, get_locale, get_timezone, ngettext
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.routing import BuildError

from lms.assignments import queries, services
from lms.assignments.forms import AssignmentForm, LearningPathForm
from lms.assignments.models import Assignment, LearningPath, TargetKind
from lms.assignments.permissions import (
    assigns_anywhere,
    can_create_assignments,
    can_manage_assignment,
    can_view_assignment,
)
from lms.assignments.views import bp
from lms.auth.permissions import head_scope_paths
from lms.certificates.storage import path_for
from lms.db import db, utcnow
from lms.errors import DomainError
from lms.forms import ActionForm
from lms.org.forms import ROLE_LABELS
from lms.templating import unit_display_name

# A DomainError names the service's field; these are the form's.
FORM_FIELDS = {"course_id": "training", "path_id": "training", "people_ids": "people",
               "due_at": "due_date", "start_at": "start_date"}


def _me():
    return current_user._get_current_object()


def _require(allowed: bool) -> None:
    if not allowed:
        abort(403)


def _zone() -> ZoneInfo:
    return ZoneInfo(str(get_timezone()))


def _today() -> date:
    return datetime.now(timezone.utc).astimezone(_zone()).date()


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, _zone()).astimezone(timezone.utc)


def _day_end(day: date) -> datetime:
    """Due "on" a day means by the end of that day, in the viewer's timezone."""
    return datetime.combine(day, time(23, 59, 59), _zone()).astimezone(timezone.utc)


@bp.app_template_filter("dmy")
def day_month_year(value: date | datetime | None) -> str:
    """A calendar day, dd/mm/yyyy in Vietnamese (a timestamp: its day in the viewer's zone)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(_zone()).date()
    return format_date(value, "dd/MM/yyyy" if str(get_locale()) == "vi" else "medium")


def _show_error(form, exc: DomainError, default: str) -> None:
    name = FORM_FIELDS.get(exc.field or "", exc.field or "")
    field = getattr(form, name, None) or getattr(form, default)
    field.errors = list(field.errors) + [exc.message]


def status_of(assignment: Assignment, now: datetime) -> str:
    """closed | upcoming | open | past_due, for the badge."""
    if not assignment.is_active:
        return "closed"
    if assignment.start_at > now:
        return "upcoming"
    return "past_due" if assignment.due_at < now else "open"


def status_labels() -> dict[str, str]:
    return {"closed": _("Closed"), "upcoming": _("Not started yet"), "open": _("Open"),
            "past_due": _("Past due")}


def target_text(assignment: Assignment, people: int) -> str:
    """Whom the assignment is for, in words."""
    unit = unit_display_name(assignment.target_unit) if assignment.target_unit else ""
    kind = assignment.target_kind
    if kind == TargetKind.PEOPLE.value:
        return ngettext("%(num)d person", "%(num)d people", people)
    if kind == TargetKind.ROLE.value:
        role = str(ROLE_LABELS.get(assignment.target_role or "", assignment.target_role))
        return _("%(role)s in %(unit)s", role=role, unit=unit) if unit else \
            _("%(role)s, whole ministry", role=role)
    if kind == TargetKind.EVERYONE.value and not unit:
        return _("Everyone")
    return _("%(unit)s and the units below", unit=unit)


def _dashboard_url(assignment: Assignment) -> str | None:
    """The unit dashboard of the target unit (the ministry for ministry-wide targets),
    filtered by this assignment."""
    unit_id = assignment.target_unit_id
    if unit_id is None:
        if assigns_anywhere(current_user):
            unit_id = queries.root_unit_id(db.session)
        else:
            unit_id = next((g.unit_id for g in current_user.grants
                            if g.unit is not None and g.unit.path in head_scope_paths(current_user)),
                           None)
    if unit_id is None:
        return None
    try:
        return url_for("reports.dashboard", unit_id=unit_id, assignment=assignment.id)
    except BuildError:   # the reports pages are not installed
        return None


# ---------------------------------------------------------------- the list

@bp.route("/assignments")
@login_required
def index():
    _require(can_create_assignments(current_user))
    now = utcnow()
    page = queries.assignment_page(db.session, current_user, request.args.get("page", 1, type=int),
                                   current_app.config["PAGE_SIZE"], now)
    rows = [(row, target_text(row.assignment, row.people), status_of(row.assignment, now))
            for row in page.items]
    return render_template("assignments/index.html", page=page, rows=rows,
                           statuses=status_labels(), args={},
                           edits_paths=assigns_anywhere(current_user))


# ---------------------------------------------------------------- assigning

def _assignment_form() -> AssignmentForm:
    me = _me()
    anywhere = assigns_anywhere(me)
    return AssignmentForm(
        unit_choices=queries.target_unit_options(db.session, me),
        courses=queries.published_courses(db.session), paths=queries.assignable_paths(db.session),
        everyone_allowed=anywhere, whole_ministry_allowed=anywhere, today=_today())


@bp.route("/assignments/new", methods=["GET", "POST"])
@login_required
def new():
    _require(can_create_assignments(current_user))
    form = _assignment_form()
    if request.method == "GET":
        form.start_date.data = _today()
        form.target_unit_id.data = request.args.get("unit", type=int)
    if form.validate_on_submit():
        data, pdf = _assignment_data(form)
        if data is not None and not form.errors:
            try:
                assignment = services.create_assignment(
                    db.session, _me(), data, decision_pdf=pdf,
                    decision_filename=form.decision_file.data.filename if pdf else None)
            except DomainError as exc:
                db.session.rollback()
                _show_error(form, exc, "title")
            else:
                enrolled = services.enrolled_count(db.session, assignment)
                db.session.commit()
                flash(ngettext("The training was assigned: %(num)d person was enrolled.",
                               "The training was assigned: %(num)d people were enrolled.",
                               enrolled), "success")
                return redirect(url_for("assignments.detail", assignment_id=assignment.id))
    return render_template("assignments/new.html", form=form,
                           max_mb=current_app.config["MAX_DECISION_BYTES"] // (1024 * 1024),
                           newcomer_days=current_app.config["NEWCOMER_DAYS"])


def _assignment_data(form: AssignmentForm) -> tuple[services.AssignmentData | None, bytes | None]:
    """The service's input from the form; fields the chosen target does not use are ignored.
    Problems found here (unknown people) are put on their field."""
    kind = form.target_kind.data
    unit_id = form.target_unit_id.data if kind in (TargetKind.UNIT.value, TargetKind.ROLE.value) \
        else None
    people_ids: list[int] = []
    if kind == TargetKind.PEOPLE.value:
        found = queries.find_people(db.session, form.people_entries())
        problems = []
        if not form.people_entries():
            problems.append(_("Enter the employee codes or e-mail addresses, one a line."))
        if found.unknown:
            problems.append(_("Nobody has these codes or e-mails: %(list)s. Nobody was assigned; "
                              "correct the list and send it again.", list=", ".join(found.unknown)))
        if found.left:
            problems.append(_("These people have left: %(list)s. Remove them from the list.",
                              list=", ".join(found.left)))
        if problems:
            form.people.errors = list(form.people.errors) + problems
            return None, None
        people_ids = found.ids
    pdf = None
    upload = form.decision_file.data
    if upload is not None and getattr(upload, "filename", ""):
        pdf = upload.read(current_app.config["MAX_DECISION_BYTES"] + 1)
        if not pdf:
            form.decision_file.errors = list(form.decision_file.errors) + [
                _("The decision must be a PDF file.")]
            return None, None
    data = services.AssignmentData(
        title=form.title.data, decision_number=form.decision_number.data,
        decision_date=form.decision_date.data, start_at=_day_start(form.start_date.data),
        due_at=_day_end(form.due_date.data), target_kind=kind, course_id=form.course_id,
        path_id=form.path_id, target_unit_id=unit_id,
        target_role=form.target_role.data if kind == TargetKind.ROLE.value else None,
        people_ids=people_ids, reminder_days=form.reminder_days.data or "")
    return data, pdf


# ---------------------------------------------------------------- one assignment

def _assignment_or_404(assignment_id: int) -> Assignment:
    return db.session.get(Assignment, assignment_id) or abort(404)


@bp.route("/assignments/<int:assignment_id>")
@login_required
def detail(assignment_id: int):
    assignment = _assignment_or_404(assignment_id)
    _require(can_view_assignment(current_user, assignment))
    now = utcnow()
    progress = queries.assignment_detail(db.session, assignment, now)
    people = queries.people_listed(db.session, assignment.id) \
        if assignment.target_kind == TargetKind.PEOPLE.value else []
    return render_template(
        "assignments/detail.html", assignment=assignment, progress=progress, people=people,
        target=target_text(assignment, progress.people), status=status_of(assignment, now),
        statuses=status_labels(), can_manage=can_manage_assignment(current_user, assignment),
        dashboard_url=_dashboard_url(assignment), action_form=ActionForm())


@bp.route("/assignments/<int:assignment_id>/close", methods=["POST"])
@login_required
def close(assignment_id: int):
    assignment = _assignment_or_404(assignment_id)
    _require(can_manage_assignment(current_user, assignment))
    services.close_assignment(db.session, _me(), assignment)
    db.session.commit()
    flash(_("The assignment was closed: people who join the target from now on are not "
            "enrolled. Everyone enrolled keeps the training and its due date."), "success")
    return redirect(url_for("assignments.detail", assignment_id=assignment.id))


@bp.route("/assignments/<int:assignment_id>/decision.pdf")
@login_required
def decision(assignment_id: int):
    """The decision's PDF, for whoever may see the assignment or is enrolled by it."""
    assignment = _assignment_or_404(assignment_id)
    _require(can_view_assignment(current_user, assignment) or queries.has_governed_enrolment(
        db.session, current_user.id, assignment.id))
    if not assignment.decision_sha256:
        abort(404)
    path = path_for(assignment.decision_sha256, area="decisions")
    if not path.is_file():
        abort(404)
    name = assignment.decision_filename or f"{assignment.decision_number}.pdf"
    name = name.replace("/", "-").replace("\\", "-")
    response = send_file(path, mimetype="application/pdf", download_name=name, conditional=True,
                         max_age=0)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


# ---------------------------------------------------------------- learning paths

@bp.route("/learning-paths")
@login_required
def paths():
    _require(assigns_anywhere(current_user))
    return render_template("assignments/paths.html", rows=queries.path_rows(db.session))


@bp.route("/learning-paths/new", methods=["GET", "POST"])
@login_required
def path_new():
    _require(assigns_anywhere(current_user))
    return _path_form(None)


@bp.route("/learning-paths/<int:path_id>", methods=["GET", "POST"])
@login_required
def path_edit(path_id: int):
    path = db.session.get(LearningPath, path_id) or abort(404)
    _require(assigns_anywhere(current_user))
    return _path_form(path)


def _path_form(path: LearningPath | None):
    if path is not None:
        form = LearningPathForm(obj=path, course_ids=[s.course_id for s in path.steps])
    else:
        form = LearningPathForm()
    if form.validate_on_submit():
        try:
            saved = services.save_learning_path(db.session, _me(), form.title.data,
                                                form.description.data or "", form.course_ids.data,
                                                path)
        except DomainError as exc:
            db.session.rollback()
            if path is not None:
                db.session.refresh(path)
            _show_error(form, exc, "title")
        else:
            db.session.commit()
            flash(_("The learning path %(title)s was saved.", title=saved.title), "success")
            return redirect(url_for("assignments.paths"))
    courses = queries.path_course_choices(db.session, path)
    return render_template("assignments/path_form.html", form=form, path=path, courses=courses)

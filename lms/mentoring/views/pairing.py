"""Pairing pages (admins everywhere, unit heads within their subtree): the current pairs, one
pair at a time, in bulk balanced by load (preview, then apply), and from a CSV or Excel file
(every row checked, all or nothing); and the "Mentor" section of a person's page.

Each view: load or 404 -> authorize -> validate -> call a service -> commit -> respond.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from dataclasses import dataclass, field
from typing import Any

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from lms.auth.permissions import is_mentor
from lms.db import db
from lms.errors import DomainError
from lms.forms import ActionForm, choices, show_domain_error
from lms.mentoring import queries, services
from lms.mentoring.forms import BulkPairForm, PairForm, PairingFileForm
from lms.mentoring.models import Mentorship
from lms.mentoring.permissions import (
    can_manage_mentoring,
    can_pair,
    can_pair_in_unit,
    can_pair_person,
)
from lms.mentoring.views import _me, _require, bp
from lms.org.models import Unit, User
from lms.org.queries import unit_options
from lms.templating import unit_display_name
from lms.urls import local_path

# Rows of a preview shown on the page; the rest are counted ("and 120 more").
PREVIEW_ROWS = 1000
SAMPLE_CSV = ("mentee,mentor\r\n"
              "BNG00123,BNG00045\r\n"
              "nguyen.van.an@mofa.example,BNG00045\r\n")




def _back() -> str | None:
    """A same-site path to return to after a form posted from another page (never off-site)."""
    return local_path(request.form.get("next"))


def _flash_errors(form) -> None:
    for errors in form.errors.values():
        for error in errors:
            flash(error, "error")


def _mentor_label(row: queries.MentorRow) -> str:
    return ngettext("%(name)s (%(code)s), %(unit)s: %(num)d mentee",
                    "%(name)s (%(code)s), %(unit)s: %(num)d mentees", row.mentees,
                    name=row.mentor.full_name, code=row.mentor.employee_code,
                    unit=unit_display_name(row.mentor.unit))


# ---------------------------------------------------------------- the pairs

def _filters() -> tuple[Unit | None, str, int | None, dict[str, Any]]:
    """The list's filters from the query string; a unit outside the user's units is refused."""
    unit = None
    unit_id = request.args.get("unit_id", type=int)
    if unit_id:
        unit = db.session.get(Unit, unit_id) or abort(404)
        _require(can_pair_in_unit(current_user, unit))
    q = (request.args.get("q") or "").strip()[:100]
    mentor_id = request.args.get("mentor_id", type=int)
    args = {k: v for k, v in (("unit_id", unit.id if unit else None), ("q", q),
                              ("mentor_id", mentor_id)) if v}
    return unit, q, mentor_id, args


def _render_pairs(form: PairForm | None = None):
    me = _me()
    unit, q, mentor_id, args = _filters()
    mentors = queries.mentors_in_scope(db.session, me, unit)
    form = form or PairForm(formdata=None)
    form.mentor_id.choices = choices([("", _("Choose a mentor…")),
                                      *((r.mentor.id, _mentor_label(r)) for r in mentors)])
    page = queries.pairs_page(db.session, me, unit, q, mentor_id, request.args.get("page", 1, type=int),
                      current_app.config["PAGE_SIZE"])
    return render_template(
        "mentoring/pairs.html", page=page, mentors=mentors, form=form, unit=unit, q=q,
        mentor_id=mentor_id, args=args, units=unit_options(db.session, me),
        unpaired=queries.unpaired_count(db.session, me, unit), action_form=ActionForm(),
        here=url_for("mentoring.pairs", page=page.page, **args))


@bp.route("/pairs")
@login_required
def pairs():
    _require(can_manage_mentoring(current_user))
    return _render_pairs()


@bp.route("/pairs", methods=["POST"])
@login_required
def pair_one():
    _require(can_manage_mentoring(current_user))
    me = _me()
    form = PairForm()
    back = _back()
    if form.validate_on_submit():
        mentee = queries.find_pairable(db.session, me, form.mentee.data)
        mentor = db.session.get(User, form.mentor_id.data)
        if mentee is None:
            form.mentee.errors = [*form.mentee.errors, _(
                "Nobody in the units you pair for has the employee code or e-mail “%(key)s”.",
                key=form.mentee.data.strip())]
        elif mentor is None:
            form.mentor_id.errors = [*form.mentor_id.errors, _("Choose a mentor from the list.")]
        else:
            previous = services.current_mentor(db.session, mentee.id)
            try:
                services.pair(db.session, me, mentor, mentee)
            except DomainError as exc:
                db.session.rollback()
                show_domain_error(form, exc, "mentor_id")
            else:
                db.session.commit()
                _flash_paired(mentee, mentor, previous)
                return redirect(back or url_for("mentoring.pairs", **request.args))
    if back:  # posted from a person's page: the errors come back as messages
        _flash_errors(form)
        return redirect(back)
    return _render_pairs(form)


def _flash_paired(mentee: User, mentor: User, previous: User | None) -> None:
    if previous is None:
        flash(_("%(mentee)s now has %(mentor)s as their mentor.", mentee=mentee.full_name,
                mentor=mentor.full_name), "success")
    elif previous.id == mentor.id:
        flash(_("%(mentor)s is already the mentor of %(mentee)s: nothing changed.",
                mentee=mentee.full_name, mentor=mentor.full_name), "info")
    else:
        flash(_("%(mentee)s's mentor is now %(mentor)s instead of %(previous)s; the earlier "
                "pairing is kept in the history.", mentee=mentee.full_name,
                mentor=mentor.full_name, previous=previous.full_name), "success")


@bp.route("/pairs/<int:mentee_id>/end", methods=["POST"])
@login_required
def unpair(mentee_id: int):
    mentee = db.session.get(User, mentee_id) or abort(404)
    _require(can_pair_person(current_user, mentee))
    mentor = services.current_mentor(db.session, mentee.id)
    if mentor is None:
        flash(_("%(name)s has no mentor now.", name=mentee.full_name), "info")
    else:
        try:
            services.unpair(db.session, _me(), mentee)
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("%(mentor)s no longer mentors %(mentee)s; the pairing is kept in the "
                    "history.", mentor=mentor.full_name, mentee=mentee.full_name), "success")
    return redirect(_back() or url_for("mentoring.pairs"))


# ---------------------------------------------------------------- bulk, balanced by load

def plan_key(plan: services.BulkPlan) -> str:
    """A fingerprint of the pairs a plan makes: a preview applies only if nothing changed."""
    text = ";".join(f"{mentor.id}:{mentee.id}" for mentor, mentee in plan.pairs)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _bulk_args(unit: Unit, include_subunits: bool, replace_existing: bool) -> dict[str, Any]:
    return {"unit_id": unit.id, "include_subunits": "y" if include_subunits else None,
            "replace_existing": "y" if replace_existing else None}


@dataclass
class BulkPreview:
    plan: services.BulkPlan
    key: str
    previous: dict[int, str] = field(default_factory=dict)   # mentee id -> current mentor
    outside: list[User] = field(default_factory=list)         # mentors the user may not pair

    @property
    def can_apply(self) -> bool:
        return bool(self.plan.pairs) and not self.outside


def _bulk_preview(me: Any, unit: Unit, include_subunits: bool,
                  replace_existing: bool) -> BulkPreview:
    # The subtree's units in the session first: the preview names each person's unit.
    db.session.scalars(select(Unit).where(Unit.path.startswith(unit.path))).all()
    plan = services.plan_bulk_pairing(db.session, unit, include_subunits, replace_existing)
    db.session.scalars(select(Unit).where(Unit.id.in_({load.mentor.unit_id
                                                       for load in plan.loads}))).all()
    preview = BulkPreview(plan, plan_key(plan))
    mentee_ids = [mentee.id for _mentor, mentee in plan.pairs]
    if mentee_ids and replace_existing:
        preview.previous = dict(db.session.execute(
            select(Mentorship.mentee_id, User.full_name)
            .join(User, User.id == Mentorship.mentor_id)
            .where(Mentorship.mentee_id.in_(mentee_ids), Mentorship.ended_at.is_(None))).all())
    used = {mentor.id: mentor for mentor, _mentee in plan.pairs}
    outside = queries.outside_scope(db.session, me, set(used))
    preview.outside = [used[i] for i in sorted(outside, key=lambda i: used[i].sort_name)]
    return preview


@bp.route("/pairs/bulk", methods=["GET", "POST"])
@login_required
def bulk():
    _require(can_manage_mentoring(current_user))
    me = _me()
    units = unit_options(db.session, me)
    if request.method == "POST":
        return _apply_bulk(BulkPairForm(units=units))
    form = BulkPairForm(formdata=request.args or None, units=units)
    unit = preview = problem = None
    if form.unit_id.data:
        unit = db.session.get(Unit, form.unit_id.data) or abort(404)
        _require(can_pair_in_unit(me, unit))
        try:
            preview = _bulk_preview(me, unit, form.include_subunits.data,
                                    form.replace_existing.data)
        except DomainError as exc:
            problem = exc.message
    return render_template("mentoring/pairs_bulk.html", form=form, unit=unit, preview=preview,
                           problem=problem, limit=PREVIEW_ROWS)


def _apply_bulk(form: BulkPairForm):
    me = _me()
    if not form.validate_on_submit():
        _flash_errors(form)
        return redirect(url_for("mentoring.bulk"))
    unit = db.session.get(Unit, form.unit_id.data) or abort(404)
    _require(can_pair_in_unit(me, unit))
    include, replace = form.include_subunits.data, form.replace_existing.data
    back = url_for("mentoring.bulk", **_bulk_args(unit, include, replace))
    try:
        plan = services.plan_bulk_pairing(db.session, unit, include, replace)
        if plan_key(plan) != request.form.get("plan"):
            flash(_("The pairs changed since the preview (someone paired people meanwhile). "
                    "Nothing was changed: check the new preview and apply it again."), "warning")
            return redirect(back)
        plan = services.apply_bulk_pairing(db.session, me, unit, include, replace)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(back)
    db.session.commit()
    flash(ngettext("%(num)d person of %(unit)s was given a mentor.",
                   "%(num)d people of %(unit)s were given a mentor.", len(plan.pairs),
                   unit=unit.name), "success")
    return redirect(url_for("mentoring.pairs", unit_id=unit.id))


# ---------------------------------------------------------------- CSV or Excel file

@dataclass(frozen=True)
class CsvRow:
    line: int
    status: str                      # error | new | change | unchanged
    pair: services.CsvPair | None = None
    error: str = ""


def _csv_rows(plan: services.CsvPlan) -> list[CsvRow]:
    """Every row of the file, the ones with errors first, then in file order."""
    rows = [CsvRow(line, "error", error=message) for line, message in plan.errors]
    for pair in plan.pairs:
        status = "unchanged" if pair.unchanged else ("change" if pair.previous else "new")
        rows.append(CsvRow(pair.line, status, pair))
    return sorted(rows, key=lambda r: (r.status != "error", r.line))


def _pack(content: bytes) -> str:
    """The file for the Apply form: compressed, so a large file still fits in one form field."""
    return base64.b64encode(zlib.compress(content, 9)).decode("ascii")


def _unpack(text: str, max_bytes: int) -> bytes | None:
    try:
        raw = base64.b64decode(text, validate=True)
        inflater = zlib.decompressobj()
        content = inflater.decompress(raw, max_bytes + 1)   # never inflate past the limit
    except (binascii.Error, ValueError, zlib.error):
        return None
    if len(content) <= max_bytes and not inflater.eof:
        return None  # cut short: not what was previewed
    return content   # a file over the limit is refused by the service with its message


def _render_csv_preview(form: PairingFileForm, filename: str, content: bytes,
                        plan: services.CsvPlan):
    packed = _pack(content)
    form_limit = current_app.config.get("MAX_FORM_MEMORY_SIZE")
    too_large = form_limit is not None and len(packed) + len(filename) + 4096 > form_limit
    rows = _csv_rows(plan)
    counts = {status: sum(r.status == status for r in rows)
              for status in ("error", "new", "change", "unchanged")}
    return render_template("mentoring/pairs_csv.html", form=form, plan=plan, rows=rows,
                           counts=counts, filename=filename, packed=packed, too_large=too_large,
                           limit=PREVIEW_ROWS,
                           max_mb=current_app.config["MAX_IMPORT_BYTES"] // (1024 * 1024))


@bp.route("/pairs/csv", methods=["GET", "POST"], endpoint="csv")
@login_required
def csv_upload():
    _require(can_manage_mentoring(current_user))
    me = _me()
    max_bytes = current_app.config["MAX_IMPORT_BYTES"]
    form = PairingFileForm()
    if form.validate_on_submit():
        if "content" in request.form:
            return _apply_csv(form, max_bytes)
        upload = form.file.data
        if upload is None or not upload.filename:
            form.file.errors = [*form.file.errors, _("Choose the file to upload.")]
        else:
            content = upload.read(max_bytes + 1)
            try:
                plan = services.plan_csv_pairing(db.session, me, upload.filename, content,
                                                 max_bytes)
            except DomainError as exc:
                form.file.errors = [*form.file.errors, exc.message]
            else:
                return _render_csv_preview(form, upload.filename, content, plan)
    return render_template("mentoring/pairs_csv.html", form=form, plan=None,
                           max_mb=max_bytes // (1024 * 1024))


def _apply_csv(form: PairingFileForm, max_bytes: int):
    me = _me()
    filename = (request.form.get("filename") or "pairs.csv")[:255]
    content = _unpack(request.form.get("content") or "", max_bytes)
    if content is None:
        flash(_("The file could not be read back. Nothing was changed; upload it again."),
              "error")
        return redirect(url_for("mentoring.csv"))
    try:
        plan = services.apply_csv_pairing(db.session, me, filename, content, max_bytes)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        try:  # show what is wrong now (someone may have changed people meanwhile)
            plan = services.plan_csv_pairing(db.session, me, filename, content, max_bytes)
        except DomainError:
            return redirect(url_for("mentoring.csv"))
        return _render_csv_preview(form, filename, content, plan)
    db.session.commit()
    changed = len(plan.changes)
    flash(ngettext("%(num)d pairing from the file was made.",
                   "%(num)d pairings from the file were made.", changed), "success")
    return redirect(url_for("mentoring.pairs"))


@bp.route("/pairs/csv/template")
@login_required
def csv_template():
    _require(can_manage_mentoring(current_user))
    return Response(("\ufeff" + SAMPLE_CSV).encode("utf-8"), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="mentor-pairs.csv"'})


# ---------------------------------------------------------------- a person's page

@dataclass
class MentorSection:
    """The "Mentor" section of a person's page."""

    current: Mentorship | None
    history: list[Mentorship]                # ended pairings, newest first
    can_pair: bool                           # the viewer may set or change the mentor
    can_end: bool                            # ... and end the current pairing
    form: PairForm | None
    is_mentor: bool
    mentees: int                             # the person's own current mentees


def mentor_section(dbs: Session, viewer: Any, person: User) -> MentorSection:
    """Who mentors the person (and since when), the earlier pairings, the form to change it
    for those who may, and, for a mentor, how many mentees they have."""
    pairings = list(dbs.scalars(
        select(Mentorship).where(Mentorship.mentee_id == person.id)
        .options(joinedload(Mentorship.mentor).joinedload(User.unit))
        .order_by(Mentorship.ended_at.is_not(None), Mentorship.started_at.desc(),
                  Mentorship.id.desc())))
    current = pairings[0] if pairings and pairings[0].ended_at is None else None
    history = pairings[1:] if current else pairings
    allowed = person.is_active and can_pair_person(viewer, person)
    form = None
    if allowed:
        candidates = [m for m in services.mentors_within(dbs, person.unit) if m.id != person.id]
        outside = queries.outside_scope(dbs, viewer, {m.id for m in candidates})
        loads = services.mentor_loads(dbs, [m.id for m in candidates])
        rows = [queries.MentorRow(m, loads[m.id]) for m in candidates if m.id not in outside]
        form = PairForm(formdata=None, mentors=[(r.mentor.id, _mentor_label(r)) for r in rows])
        form.mentee.data = person.employee_code
        form.mentor_id.data = current.mentor_id if current else None
    own = services.mentor_loads(dbs, [person.id])[person.id]
    return MentorSection(
        current=current, history=history, can_pair=allowed,
        can_end=bool(current and allowed and can_pair(viewer, current.mentor, person)),
        form=form, is_mentor=is_mentor(person), mentees=own)

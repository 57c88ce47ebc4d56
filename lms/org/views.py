"""Organisation pages: the unit tree, people, roles and the staff import.

Each view: load or 404 -> authorize -> validate -> call a service -> commit -> respond.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from lms.auth import services as auth_services
from lms.auth.passwords import check_password_policy, hash_password
from lms.db import db
from lms.errors import DomainError
from lms.forms import show_domain_error
from lms.mentoring.views.pairing import mentor_section
from lms.org import importer, queries, services
from lms.org.forms import (
    ActionForm,
    ConcurrentPostForm,
    ImportApplyForm,
    ImportUploadForm,
    PeopleFilterForm,
    PersonForm,
    RoleGrantForm,
    TemporaryPasswordForm,
    UnitForm,
)
from lms.org.models import ConcurrentPost, RoleGrant, StaffImport, Unit, User
from lms.org.permissions import can_browse_org, can_manage_org, can_view_person, can_view_unit

bp = Blueprint("org", __name__, url_prefix="/org")


def _require(allowed: bool) -> None:
    if not allowed:
        abort(403)


def _me():
    return current_user._get_current_object()


# ---------------------------------------------------------------- units

@bp.route("/units")
@login_required
def units():
    _require(can_browse_org(current_user))
    tree = queries.unit_tree(db.session, current_user)
    return render_template("org/units.html", tree=tree, action_form=ActionForm())


@bp.route("/units/<int:unit_id>")
@login_required
def unit_detail(unit_id: int):
    unit = db.session.get(Unit, unit_id) or abort(404)
    _require(can_view_unit(current_user, unit))
    summary = queries.unit_summary(db.session, unit)
    children = [u for u in queries.visible_units(db.session, current_user)
                if u.parent_id == unit.id]
    return render_template("org/unit_detail.html", unit=unit, summary=summary, children=children,
                           action_form=ActionForm())


@bp.route("/units/new", methods=["GET", "POST"])
@login_required
def unit_new():
    _require(can_manage_org(current_user))
    choices = queries.unit_options(db.session, current_user)
    form = UnitForm(unit_choices=choices)
    if request.method == "GET":
        form.parent_id.data = request.args.get("parent", type=int)
        parent = db.session.get(Unit, form.parent_id.data) if form.parent_id.data else None
        if parent is not None:
            form.timezone.data = parent.timezone
    if form.validate_on_submit():
        try:
            unit = services.create_unit(db.session, _me(), _unit_data(form))
        except DomainError as exc:
            show_domain_error(form, exc, "name")
        else:
            db.session.commit()
            flash(_("The unit %(name)s was added.", name=unit.name), "success")
            return redirect(url_for("org.units", _anchor=f"unit-{unit.id}"))
    return render_template("org/unit_form.html", form=form, unit=None)


@bp.route("/units/<int:unit_id>/edit", methods=["GET", "POST"])
@login_required
def unit_edit(unit_id: int):
    unit = db.session.get(Unit, unit_id) or abort(404)
    _require(can_manage_org(current_user))
    choices = [(i, label) for i, label in queries.unit_options(db.session, current_user)
               if i != unit.id]
    form = UnitForm(obj=unit, unit_choices=choices)
    if form.validate_on_submit():
        try:
            services.update_unit(db.session, _me(), unit, _unit_data(form))
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "name")
        else:
            db.session.commit()
            flash(_("The unit %(name)s was saved.", name=unit.name), "success")
            return redirect(url_for("org.unit_detail", unit_id=unit.id))
    return render_template("org/unit_form.html", form=form, unit=unit)


def _unit_data(form: UnitForm) -> services.UnitData:
    return services.UnitData(
        code=form.code.data, name=form.name.data, name_en=form.name_en.data or "",
        kind=form.kind.data, parent_id=form.parent_id.data, timezone=form.timezone.data)


@bp.route("/units/<int:unit_id>/<any(deactivate, reactivate):action>", methods=["POST"])
@login_required
def unit_set_active(unit_id: int, action: str):
    unit = db.session.get(Unit, unit_id) or abort(404)
    _require(can_manage_org(current_user))
    try:
        services.set_unit_active(db.session, _me(), unit, action == "reactivate")
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(_("The unit %(name)s was deactivated.", name=unit.name) if action == "deactivate"
              else _("The unit %(name)s was reactivated.", name=unit.name), "success")
    return redirect(url_for("org.unit_detail", unit_id=unit.id))


# ---------------------------------------------------------------- people

@bp.route("/people")
@login_required
def people():
    _require(can_browse_org(current_user))
    choices = queries.unit_options(db.session, current_user, active_only=False)
    form = PeopleFilterForm(formdata=request.args or None, unit_choices=choices)
    form.validate()
    if form.unit_id.data:
        unit = db.session.get(Unit, form.unit_id.data) or abort(404)
        _require(can_view_unit(current_user, unit))
    filters = queries.PeopleFilter(
        q=form.q.data or "", unit_id=form.unit_id.data,
        include_sub_units=not form.direct_only.data, role=form.role.data or "",
        status=form.status.data or "active")
    page = queries.people_page(db.session, current_user, filters,
                               request.args.get("page", 1, type=int),
                               current_app.config["PAGE_SIZE"])
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("org/people.html", form=form, page=page, args=args)


@bp.route("/people/<int:person_id>")
@login_required
def person_detail(person_id: int):
    person = db.session.get(User, person_id) or abort(404)
    _require(can_view_person(current_user, person) and can_browse_org(current_user))
    unit_choices = queries.unit_options(db.session, current_user)
    grant_form = RoleGrantForm(unit_choices=unit_choices)
    # Current posts first, then the ended ones (kept as history).
    posts = db.session.scalars(select(ConcurrentPost).where(ConcurrentPost.user_id == person.id)
                               .order_by(ConcurrentPost.ended_at.is_not(None),
                                         ConcurrentPost.started_at.desc())).all()
    post_form = ConcurrentPostForm(unit_choices=[(i, label) for i, label in unit_choices
                                                 if i != person.unit_id])
    return render_template("org/person_detail.html", person=person, grant_form=grant_form,
                           password_form=TemporaryPasswordForm(), action_form=ActionForm(),
                           posts=posts, post_form=post_form,
                           mentoring=mentor_section(db.session, _me(), person))


@bp.route("/people/new", methods=["GET", "POST"])
@login_required
def person_new():
    _require(can_manage_org(current_user))
    form = PersonForm(unit_choices=queries.unit_options(db.session, current_user))
    if request.method == "GET":
        form.unit_id.data = request.args.get("unit", type=int)
    if form.validate_on_submit():
        try:
            person = services.create_person(db.session, _me(), _person_data(form))
        except DomainError as exc:
            show_domain_error(form, exc, "full_name")
        else:
            db.session.commit()
            flash(_("%(name)s was added. Set a temporary password so they can sign in.",
                    name=person.full_name), "success")
            return redirect(url_for("org.person_detail", person_id=person.id))
    return render_template("org/person_form.html", form=form, person=None)


@bp.route("/people/<int:person_id>/edit", methods=["GET", "POST"])
@login_required
def person_edit(person_id: int):
    person = db.session.get(User, person_id) or abort(404)
    _require(can_manage_org(current_user))
    form = PersonForm(obj=person, unit_choices=queries.unit_options(db.session, current_user))
    if form.validate_on_submit():
        try:
            services.update_person(db.session, _me(), person, _person_data(form))
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "full_name")
        else:
            db.session.commit()
            flash(_("The changes to %(name)s were saved.", name=person.full_name), "success")
            return redirect(url_for("org.person_detail", person_id=person.id))
    return render_template("org/person_form.html", form=form, person=person)


def _person_data(form: PersonForm) -> services.PersonData:
    return services.PersonData(
        employee_code=form.employee_code.data, full_name=form.full_name.data,
        email=form.email.data, unit_id=form.unit_id.data or 0, position=form.position.data or "",
        locale=form.locale.data, timezone=form.timezone.data)


@bp.route("/people/<int:person_id>/<any(deactivate, reactivate, unlock):action>",
          methods=["POST"])
@login_required
def person_action(person_id: int, action: str):
    person = db.session.get(User, person_id) or abort(404)
    _require(can_manage_org(current_user))
    messages = {
        "deactivate": _("%(name)s was deactivated and signed out everywhere.", name=person.full_name),
        "reactivate": _("%(name)s was reactivated.", name=person.full_name),
        "unlock": _("%(name)s's account was unlocked.", name=person.full_name),
    }
    try:
        if action == "unlock":
            auth_services.unlock(db.session, _me(), person)
        else:
            services.set_person_active(db.session, _me(), person, action == "reactivate")
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(messages[action], "success")
    return redirect(url_for("org.person_detail", person_id=person.id))


@bp.route("/people/<int:person_id>/password", methods=["POST"])
@login_required
def person_password(person_id: int):
    person = db.session.get(User, person_id) or abort(404)
    _require(can_manage_org(current_user))
    form = TemporaryPasswordForm()
    if form.validate_on_submit():
        try:
            auth_services.set_temporary_password(db.session, _me(), person, form.password.data)
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("A temporary password was set. %(name)s must change it at the next sign-in.",
                    name=person.full_name), "success")
    else:
        _flash_errors(form)
    return redirect(url_for("org.person_detail", person_id=person.id, _anchor="password"))


@bp.route("/people/<int:person_id>/roles", methods=["POST"])
@login_required
def person_grant_role(person_id: int):
    person = db.session.get(User, person_id) or abort(404)
    _require(can_manage_org(current_user))
    form = RoleGrantForm(unit_choices=queries.unit_options(db.session, current_user))
    if form.validate_on_submit():
        try:
            services.grant_role(db.session, _me(), person, form.role.data, form.unit_id.data)
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("The role was granted to %(name)s.", name=person.full_name), "success")
    return redirect(url_for("org.person_detail", person_id=person.id, _anchor="roles"))


@bp.route("/roles/<int:grant_id>/revoke", methods=["POST"])
@login_required
def revoke_role(grant_id: int):
    grant = db.session.get(RoleGrant, grant_id) or abort(404)
    _require(can_manage_org(current_user))
    person_id = grant.user_id
    try:
        services.revoke_role(db.session, _me(), grant)
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(_("The role was removed."), "success")
    return redirect(url_for("org.person_detail", person_id=person_id, _anchor="roles"))


# ---------------------------------------------------------------- concurrent posts

@bp.route("/people/<int:person_id>/posts", methods=["POST"])
@login_required
def post_add(person_id: int):
    person = db.session.get(User, person_id) or abort(404)
    _require(can_manage_org(current_user))
    form = ConcurrentPostForm(unit_choices=queries.unit_options(db.session, current_user))
    if form.validate_on_submit():
        try:
            post = services.add_concurrent_post(db.session, _me(), person,
                                                form.post_unit_id.data or 0,
                                                form.post_position.data or "")
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("%(name)s now also holds a post in %(unit)s.", name=person.full_name,
                    unit=post.unit.name), "success")
    else:
        _flash_errors(form)
    return redirect(url_for("org.person_detail", person_id=person.id, _anchor="posts"))


@bp.route("/posts/<int:post_id>/end", methods=["POST"])
@login_required
def post_end(post_id: int):
    post = db.session.get(ConcurrentPost, post_id) or abort(404)
    _require(can_manage_org(current_user))
    services.end_concurrent_post(db.session, _me(), post)
    db.session.commit()
    flash(_("The concurrent post in %(unit)s was ended; it stays in the history.",
            unit=post.unit.name), "success")
    return redirect(url_for("org.person_detail", person_id=post.user_id, _anchor="posts"))


# ---------------------------------------------------------------- staff import

@bp.route("/import", methods=["GET", "POST"])
@login_required
def import_upload():
    _require(can_manage_org(current_user))
    form = ImportUploadForm()
    if form.validate_on_submit():
        upload = form.file.data
        content = upload.read(current_app.config["MAX_IMPORT_BYTES"] + 1)
        try:
            importer.read_table(upload.filename or "", content, current_app.config["MAX_IMPORT_BYTES"])
        except DomainError as exc:
            form.file.errors = list(form.file.errors) + [exc.message]
        else:
            stored = importer.store_upload(db.session, _me(), upload.filename or "", content)
            db.session.commit()
            return redirect(url_for("org.import_preview", import_id=stored.id))
    return render_template("org/import_upload.html", form=form,
                           max_mb=current_app.config["MAX_IMPORT_BYTES"] // (1024 * 1024))


@bp.route("/import/<int:import_id>", methods=["GET", "POST"])
@login_required
def import_preview(import_id: int):
    upload = db.session.get(StaffImport, import_id) or abort(404)
    _require(can_manage_org(current_user))
    form = ImportApplyForm()
    max_bytes = current_app.config["MAX_IMPORT_BYTES"]
    if form.validate_on_submit():  # an applied file is refused by the service, with a message
        password_hash = None
        try:
            if form.temporary_password.data:
                check_password_policy(form.temporary_password.data)
                password_hash = hash_password(form.temporary_password.data)
            result = importer.apply_import(db.session, _me(), upload, max_bytes, password_hash)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        except IntegrityError:
            db.session.rollback()
            flash(_("Someone changed the same people while you were importing. Nothing was "
                    "imported; check the preview again."), "error")
        else:
            flash(_("Import finished: %(created)d added, %(updated)d updated, %(unchanged)d "
                    "unchanged.", created=result.created, updated=result.updated,
                    unchanged=result.unchanged), "success")
            return redirect(url_for("org.import_preview", import_id=upload.id))
    try:
        preview = importer.preview_import(db.session, upload.filename, upload.content, max_bytes)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("org.import_upload"))
    return render_template("org/import_preview.html", upload=upload, preview=preview, form=form)


def _flash_errors(form) -> None:
    """A form posted from a section of another page: its errors come back as messages."""
    for errors in form.errors.values():
        for error in errors:
            flash(error, "error")

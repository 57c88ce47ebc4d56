"""The admins' webhook pages: endpoints (register, edit, pause, rotate the secret, ping)
and each endpoint's deliveries, with "send again" for given-up ones.

A signing secret is shown once, in the answer to the form that made it (creation or
rotation), and never again. Each view: load or 404 -> authorize -> validate -> call a
service -> commit -> respond; every page runs a fixed number of queries.
"""
from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from lms.api import delivery, webhooks
from lms.api.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from lms.api.permissions import can_manage_webhooks
from lms.api.webhook_forms import EndpointForm
from lms.db import db, utcnow
from lms.errors import DomainError
from lms.forms import ActionForm, show_domain_error

log = logging.getLogger(__name__)

bp = Blueprint("webhooks_admin", __name__, url_prefix="/admin/webhooks")

STATUSES = tuple(status.value for status in DeliveryStatus)

# Queue events on the domain events as soon as these pages exist (idempotent).
webhooks.connect_signals()


def _require_admin() -> None:
    if not can_manage_webhooks(current_user):
        abort(403)


def _endpoint(endpoint_id: int) -> WebhookEndpoint:
    return db.session.get(WebhookEndpoint, endpoint_id) or abort(404)


def _check_action() -> None:
    if not ActionForm().validate_on_submit():
        abort(400)


def _show_secret(endpoint: WebhookEndpoint, secret: str, created: bool):
    return render_template("api/webhooks_secret.html", endpoint=endpoint, secret=secret,
                           created=created, labels=webhooks.EVENT_LABELS)


@bp.route("/", endpoint="index")
@login_required
def index():
    _require_admin()
    rows = webhooks.endpoint_rows(db.session)
    return render_template("api/webhooks.html", rows=rows, labels=webhooks.EVENT_LABELS)


@bp.route("/new", methods=["GET", "POST"], endpoint="new")
@login_required
def new():
    _require_admin()
    form = EndpointForm()
    if request.method == "GET":
        form.events.data = [choice for choice, _label in webhooks.event_choices()]
    if form.validate_on_submit():
        try:
            endpoint, secret = webhooks.create_endpoint(
                db.session, current_user, form.name.data, form.url.data, form.events.data or [])
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "name")
        else:
            db.session.commit()
            return _show_secret(endpoint, secret, created=True)
    return render_template("api/webhooks_form.html", form=form, endpoint=None)


@bp.route("/<int:endpoint_id>", endpoint="detail")
@login_required
def detail(endpoint_id: int):
    endpoint = _endpoint(endpoint_id)
    _require_admin()
    status = request.args.get("status", "")
    if status not in STATUSES:
        status = ""
    page = webhooks.deliveries_page(db.session, endpoint.id, status,
                                    request.args.get("page", 1, type=int),
                                    current_app.config["PAGE_SIZE"])
    args = {"endpoint_id": endpoint.id, **({"status": status} if status else {})}
    return render_template("api/webhooks_endpoint.html", endpoint=endpoint, page=page,
                           status=status, statuses=STATUSES, args=args,
                           labels=webhooks.EVENT_LABELS, action_form=ActionForm(formdata=None))


@bp.route("/<int:endpoint_id>/edit", methods=["GET", "POST"], endpoint="edit")
@login_required
def edit(endpoint_id: int):
    endpoint = _endpoint(endpoint_id)
    _require_admin()
    form = EndpointForm(obj=endpoint)
    if form.validate_on_submit():
        try:
            webhooks.update_endpoint(db.session, current_user, endpoint, form.name.data,
                                     form.url.data, form.events.data or [])
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "name")
        else:
            db.session.commit()
            flash(_("The endpoint is saved."), "success")
            return redirect(url_for("webhooks_admin.detail", endpoint_id=endpoint.id))
    return render_template("api/webhooks_form.html", form=form, endpoint=endpoint)


@bp.route("/<int:endpoint_id>/rotate", methods=["POST"], endpoint="rotate")
@login_required
def rotate(endpoint_id: int):
    endpoint = _endpoint(endpoint_id)
    _require_admin()
    _check_action()
    secret = webhooks.rotate_secret(db.session, current_user, endpoint)
    db.session.commit()
    log.info("webhook endpoint %s: secret rotated by %s", endpoint.id, current_user.id)
    return _show_secret(endpoint, secret, created=False)


def _set_active(endpoint_id: int, active: bool, message: str):
    endpoint = _endpoint(endpoint_id)
    _require_admin()
    _check_action()
    webhooks.set_endpoint_active(db.session, current_user, endpoint, active)
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("webhooks_admin.detail", endpoint_id=endpoint.id))


@bp.route("/<int:endpoint_id>/deactivate", methods=["POST"], endpoint="deactivate")
@login_required
def deactivate(endpoint_id: int):
    return _set_active(endpoint_id, False, _(
        "The endpoint is paused: its events wait until it is active again."))


@bp.route("/<int:endpoint_id>/activate", methods=["POST"], endpoint="activate")
@login_required
def activate(endpoint_id: int):
    return _set_active(endpoint_id, True, _(
        "The endpoint is active: waiting events are sent within a minute."))


@bp.route("/<int:endpoint_id>/ping", methods=["POST"], endpoint="ping")
@login_required
def ping(endpoint_id: int):
    endpoint = _endpoint(endpoint_id)
    _require_admin()
    _check_action()
    target = delivery.PingTarget.of(endpoint)
    db.session.rollback()   # nothing to write; no transaction stays open during the call
    answer = delivery.send_ping(target, utcnow())
    if answer.ok:
        flash(_("The endpoint answered %(status)s to the test event.", status=answer.status),
              "success")
    elif answer.status is not None:
        flash(_("The endpoint answered %(status)s to the test event (a 2xx answer is "
                "expected).", status=answer.status), "error")
    else:
        flash(_("The endpoint could not be reached: %(reason)s", reason=answer.reason), "error")
    return redirect(url_for("webhooks_admin.detail", endpoint_id=endpoint_id))


@bp.route("/<int:endpoint_id>/deliveries/<int:delivery_pk>/resend", methods=["POST"],
          endpoint="resend")
@login_required
def resend(endpoint_id: int, delivery_pk: int):
    delivery = db.session.get(WebhookDelivery, delivery_pk)
    if delivery is None or delivery.endpoint_id != endpoint_id:
        abort(404)
    _require_admin()
    _check_action()
    try:
        webhooks.send_again(db.session, current_user, delivery, utcnow())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        log.info("webhook delivery %s put back in the queue by %s", delivery.delivery_id,
                 current_user.id)
        flash(_("The delivery is back in the queue: it is sent within a minute."), "success")
    return redirect(url_for("webhooks_admin.detail", endpoint_id=endpoint_id,
                            status=DeliveryStatus.FAILED.value))

"""The admins' pages of API clients: the list, a new client, and each client's page (its
details, editing, a new token, revoking, and the log of its calls).

A token is shown once, in the answer to the POST that made it (never in a URL, a flash
message or the session); only its hash is kept. Each page runs a fixed number of queries
whatever the number of clients and calls.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from lms.api.clients import SCOPES, create_client, revoke_client, rotate_token, update_client
from lms.api.forms import ClientForm, RevokeForm
from lms.api.models import ApiCall, ApiClient
from lms.api.permissions import can_manage_api_clients
from lms.db import db, utcnow
from lms.errors import DomainError
from lms.forms import ActionForm, show_domain_error
from lms.org import queries as org_queries
from lms.org.models import Unit
from lms.pagination import Page, paginate

log = logging.getLogger(__name__)

bp = Blueprint("api_admin", __name__, url_prefix="/admin/api")

RECENT_CALLS = 100     # the call log shows a client's latest calls, this many at most
CALLS_PER_PAGE = 25
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")


def _require_admin() -> None:
    if not can_manage_api_clients(current_user):
        abort(403)


# ---------------------------------------------------------------- reads

def calls_since(dbs: Session, since: datetime) -> dict[int, int]:
    """Calls per client since ``since`` (one GROUP BY query)."""
    rows = dbs.execute(select(ApiCall.client_id, func.count()).where(ApiCall.created_at >= since)
                       .group_by(ApiCall.client_id))
    return {client_id: count for client_id, count in rows}


@dataclass(frozen=True)
class StatusCounts:
    """A client's calls per status class over the last day and the last week."""

    day: dict[str, int]
    week: dict[str, int]

    @property
    def day_total(self) -> int:
        return sum(self.day.values())

    @property
    def week_total(self) -> int:
        return sum(self.week.values())


def status_counts(dbs: Session, client_id: int, now: datetime) -> StatusCounts:
    """Both periods in one query over the client's last 7 days of calls."""
    status_class = case((ApiCall.status < 300, "2xx"), (ApiCall.status < 400, "3xx"),
                        (ApiCall.status < 500, "4xx"), else_="5xx")
    day_ago = now - timedelta(days=1)
    rows = dbs.execute(
        select(status_class, func.sum(case((ApiCall.created_at >= day_ago, 1), else_=0)),
               func.count())
        .where(ApiCall.client_id == client_id, ApiCall.created_at >= now - timedelta(days=7))
        .group_by(status_class))
    day = dict.fromkeys(STATUS_CLASSES, 0)
    week = dict.fromkeys(STATUS_CLASSES, 0)
    for name, in_day, in_week in rows:
        day[name] = int(in_day or 0)
        week[name] = int(in_week or 0)
    return StatusCounts(day=day, week=week)


def recent_calls(dbs: Session, client_id: int, page: int) -> Page[ApiCall]:
    """The client's latest ``RECENT_CALLS`` calls, newest first, a page at a time."""
    latest = (select(ApiCall.id).where(ApiCall.client_id == client_id)
              .order_by(ApiCall.created_at.desc(), ApiCall.id.desc()).limit(RECENT_CALLS)
              .subquery())
    query = (select(ApiCall).where(ApiCall.id.in_(select(latest.c.id)))
             .order_by(ApiCall.created_at.desc(), ApiCall.id.desc()))
    return paginate(dbs, query, page, CALLS_PER_PAGE)


def _unit_choices(dbs: Session, client: ApiClient | None = None) -> list[tuple[int, str]]:
    """Active units in tree order, plus the client's own unit if it was deactivated since
    (otherwise saving the form would silently widen the client to the whole ministry)."""
    options = org_queries.unit_options(dbs, current_user)
    if client is not None and client.unit_id and client.unit_id not in {i for i, _l in options}:
        unit: Unit = client.unit
        options.insert(0, (unit.id, _("%(name)s (%(code)s) — deactivated", name=unit.name,
                                      code=unit.code)))
    return options


# ---------------------------------------------------------------- pages

@bp.route("/clients")
@login_required
def clients():
    _require_admin()
    rows = db.session.scalars(select(ApiClient).order_by(
        ApiClient.revoked_at.is_not(None), ApiClient.name, ApiClient.id)).all()
    calls = calls_since(db.session, utcnow() - timedelta(days=1))
    return render_template("api/clients.html", clients=rows, calls=calls, scope_labels=SCOPES)


@bp.route("/clients/new", methods=["GET", "POST"])
@login_required
def new_client():
    _require_admin()
    form = ClientForm(unit_choices=_unit_choices(db.session))
    if form.validate_on_submit():
        try:
            client, token = create_client(db.session, current_user, form.name.data,
                                          form.scopes.data or [], form.unit_id.data)
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "name")
        else:
            db.session.commit()
            log.info("API client %s created by %s", client.id, current_user.id)
            return _client_page(client, token=token)
    return render_template("api/client_new.html", form=form, scope_labels=SCOPES)


@bp.route("/clients/<int:client_id>")
@login_required
def client(client_id: int):
    api_client = db.session.get(ApiClient, client_id) or abort(404)
    _require_admin()
    return _client_page(api_client)


@bp.route("/clients/<int:client_id>/edit", methods=["POST"])
@login_required
def edit_client(client_id: int):
    api_client = db.session.get(ApiClient, client_id) or abort(404)
    _require_admin()
    form = ClientForm(unit_choices=_unit_choices(db.session, api_client))
    if form.validate_on_submit():
        try:
            update_client(db.session, current_user, api_client, form.name.data,
                          form.scopes.data or [], form.unit_id.data)
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "name")
        else:
            db.session.commit()
            flash(_("The changes to %(name)s were saved.", name=api_client.name), "success")
            return redirect(url_for("api_admin.client", client_id=api_client.id))
    return _client_page(api_client, form=form)


@bp.route("/clients/<int:client_id>/rotate", methods=["POST"])
@login_required
def rotate(client_id: int):
    api_client = db.session.get(ApiClient, client_id) or abort(404)
    _require_admin()
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        token = rotate_token(db.session, current_user, api_client)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("api_admin.client", client_id=api_client.id))
    db.session.commit()
    log.info("API client %s got a new token from %s", api_client.id, current_user.id)
    return _client_page(api_client, token=token)


@bp.route("/clients/<int:client_id>/revoke", methods=["POST"])
@login_required
def revoke(client_id: int):
    api_client = db.session.get(ApiClient, client_id) or abort(404)
    _require_admin()
    form = RevokeForm()
    if not form.validate_on_submit():
        return _client_page(api_client, revoke_form=form)
    revoke_client(db.session, current_user, api_client)
    db.session.commit()
    log.info("API client %s revoked by %s", api_client.id, current_user.id)
    flash(_("%(name)s was revoked: its token no longer works.", name=api_client.name), "success")
    return redirect(url_for("api_admin.client", client_id=api_client.id))


def _client_page(api_client: ApiClient, *, form: ClientForm | None = None,
                 revoke_form: RevokeForm | None = None, token: str | None = None,
                 status: int = 200):
    """The client's page; with ``token`` (just made) it is shown once and never cached."""
    if form is None:
        form = ClientForm(formdata=None, unit_choices=_unit_choices(db.session, api_client),
                          data={"name": api_client.name, "scopes": list(api_client.scopes or []),
                                "unit_id": api_client.unit_id})
    now = utcnow()
    calls = recent_calls(db.session, api_client.id, request.args.get("page", 1, type=int))
    response = make_response(render_template(
        "api/client.html", client=api_client, form=form,
        revoke_form=revoke_form or RevokeForm(formdata=None), action_form=ActionForm(),
        token=token, calls=calls, counts=status_counts(db.session, api_client.id, now),
        status_classes=STATUS_CLASSES, scope_labels=SCOPES, recent_limit=RECENT_CALLS), status)
    if token is not None:
        response.headers["Cache-Control"] = "no-store"
    return response

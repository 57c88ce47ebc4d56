"""The notification centre: a person's notifications, opening one, marking them all read;
and the unread count every page's header can show.

Each view: load or 404 -> authorize -> validate -> call a service -> commit -> respond.
"""
from __future__ import annotations

import logging

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import ngettext
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError

from lms.db import db
from lms.forms import ActionForm
from lms.notify import queries
from lms.notify.kinds import describe
from lms.notify.services import mark_read, unread_count
from lms.urls import local_path

log = logging.getLogger(__name__)

bp = Blueprint("notify", __name__)


def init_app(app: Flask) -> None:
    """Register the pages and the kinds of notification, and give every template
    ``unread_notifications``."""
    from lms.notify import digests, reminders

    digests.register_kinds()
    reminders.register_kinds()
    app.register_blueprint(bp)
    app.context_processor(_unread_context)


def _unread_context() -> dict[str, int]:
    """The signed-in person's unread count: one COUNT per request, however many templates
    the request renders; 0 for visitors and outside requests (e-mails, PDFs from jobs)."""
    if not has_request_context() or not current_user.is_authenticated:
        return {"unread_notifications": 0}
    if "_unread_notifications" not in g:
        try:
            g._unread_notifications = unread_count(db.session, current_user.id)
        except SQLAlchemyError:  # the error page must still render when the database is down
            log.warning("unread notifications not counted", exc_info=True)
            g._unread_notifications = 0
    return {"unread_notifications": g._unread_notifications}


@bp.route("/notifications")
@login_required
def index():
    page = queries.notification_page(db.session, current_user.id,
                                     request.args.get("page", 1, type=int),
                                     current_app.config["PAGE_SIZE"])
    items = [(n, describe(n)) for n in page.items]
    return render_template("notify/index.html", page=page, items=items, action_form=ActionForm())


@bp.route("/notifications/<int:notification_id>/open", methods=["POST"], endpoint="open")
@login_required
def open_notification(notification_id: int):
    notification = queries.own_notification(db.session, current_user.id, notification_id)
    if notification is None:
        abort(404)  # somebody else's notification does not exist for this person
    target = local_path(describe(notification).link)
    mark_read(db.session, current_user.id, [notification.id])
    db.session.commit()
    return redirect(target or url_for("notify.index"))


@bp.route("/notifications/read-all", methods=["POST"])
@login_required
def read_all():
    count = mark_read(db.session, current_user.id)
    db.session.commit()
    if count:
        flash(ngettext("%(num)d notification marked as read.",
                       "%(num)d notifications marked as read.", count), "success")
    return redirect(url_for("notify.index"))


from lms.notify import admin as _admin_pages  # noqa: E402,F401  (the admins' pages, on this blueprint)

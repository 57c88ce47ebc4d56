from flask import Blueprint, abort, current_app, render_template, request
from flask_login import current_user, login_required

from lms.audit.permissions import can_view_audit_log
from lms.audit.queries import events_page
from lms.db import db

bp = Blueprint("audit", __name__, url_prefix="/admin")

ACTION_GROUPS = ("unit", "person", "role", "staff", "password", "account")


@bp.route("/audit")
@login_required
def audit_log():
    if not can_view_audit_log(current_user):
        abort(403)
    action = request.args.get("action", "")
    if action not in ACTION_GROUPS:
        action = ""
    page = events_page(db.session, action, request.args.get("page", 1, type=int),
                       current_app.config["PAGE_SIZE"])
    return render_template("audit/log.html", page=page, action=action, groups=ACTION_GROUPS,
                           args={"action": action} if action else {})

"""Snapshots: the list of frozen reporting dates, and (admins) taking one now."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from lms.db import db, utcnow
from lms.reports import queries
from lms.reports.forms import SNAPSHOT_KIND_LABELS, SnapshotForm
from lms.reports.models import SnapshotKind
from lms.reports.permissions import can_open_reports, can_take_snapshots
from lms.reports.services import REPORT_TIMEZONE, find_snapshot, take_snapshot
from lms.reports.views import bp

SNAPSHOT_LIST_LIMIT = 120


@bp.route("/reports/snapshots", methods=["GET", "POST"])
@login_required
def snapshots():
    if not can_open_reports(current_user):
        abort(403)
    may_take = can_take_snapshots(current_user)
    if request.method == "POST" and not may_take:
        abort(403)
    form = SnapshotForm() if may_take else None
    if form is not None and form.validate_on_submit():
        now = utcnow()
        as_of = now.astimezone(ZoneInfo(REPORT_TIMEZONE)).date()   # the ministry's day
        label = " ".join((form.label.data or "").split())
        kind = SnapshotKind.ON_DEMAND.value
        existing = find_snapshot(db.session, as_of, kind, label)
        if existing is None:
            try:
                snapshot = take_snapshot(db.session, as_of, kind, label,
                                         actor=current_user._get_current_object(), now=now)
            except LookupError:
                flash(_("There is no organisation to take a snapshot of yet."), "error")
                return redirect(url_for("reports.snapshots"))
            db.session.commit()
            if snapshot.taken_at == now:
                flash(_("The snapshot was taken."), "success")
                return redirect(url_for("reports.snapshots", _anchor=f"snapshot-{snapshot.id}"))
            existing = snapshot     # someone else took the same one a moment earlier
        flash(_("A snapshot of today with this label already exists; give the new one another "
                "label to keep both."), "info")
        return redirect(url_for("reports.snapshots", _anchor=f"snapshot-{existing.id}"))
    viewer = current_user._get_current_object()
    top = queries.top_report_unit(db.session, viewer)
    return render_template("reports/snapshots.html", form=form, top=top,
                           snapshots=queries.snapshot_options(db.session, SNAPSHOT_LIST_LIMIT),
                           kind_labels=SNAPSHOT_KIND_LABELS)

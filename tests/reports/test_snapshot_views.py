"""The snapshots page: the list of frozen reporting dates with links to the dashboard as of
each, and (admins only) taking one now — twice the same day and label is a friendly message."""
from __future__ import annotations

from html import unescape
from zoneinfo import ZoneInfo

import pytest
from flask_babel import gettext
from sqlalchemy import func, select

from lms.audit.models import AuditEvent
from lms.db import utcnow
from lms.reports.models import Snapshot, SnapshotKind, SnapshotRow
from lms.reports.services import take_snapshot
from tests.conftest import login


def today():
    return utcnow().astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date()


@pytest.fixture()
def org_(factory):
    dept = factory.unit("Vụ Hợp tác quốc tế", code="HTQT")
    division = factory.unit("Phòng Châu Á", parent=dept, code="HTQT-A", kind="division")
    factory.person("Nguyễn Văn Anh", unit=division)
    return {"dept": dept, "division": division, "admin": factory.admin(),
            "head": factory.unit_head(dept), "learner": factory.person(unit=division)}


def count(dbs, model) -> int:
    return dbs.scalar(select(func.count()).select_from(model))


def test_an_admin_takes_a_snapshot_of_today(client, dbs, factory, org_):
    login(client, org_["admin"].email)
    page = client.get("/reports/snapshots")
    assert page.status_code == 200
    assert 'name="label"' in page.get_data(as_text=True)
    client.refresh_csrf("/reports/snapshots")
    response = client.form("/reports/snapshots", {"label": "Trước kỳ họp tháng"},
                           follow_redirects=True)
    assert response.status_code == 200
    snapshot = dbs.scalar(select(Snapshot))
    assert (snapshot.as_of, snapshot.kind, snapshot.label) == (
        today(), SnapshotKind.ON_DEMAND.value, "Trước kỳ họp tháng")
    assert snapshot.taken_by_id == org_["admin"].id
    assert count(dbs, SnapshotRow) == dbs.scalar(select(func.count()).select_from(
        select(SnapshotRow.unit_id).distinct().subquery()))
    html = unescape(response.get_data(as_text=True))
    assert gettext("The snapshot was taken.") in html
    assert "Trước kỳ họp tháng" in html
    root = factory.root.id
    assert f'href="/reports/units/{root}?snapshot={snapshot.id}"' in html
    assert f'href="/reports/units/{root}?compare={snapshot.id}"' in html
    assert dbs.scalar(select(AuditEvent.action).where(AuditEvent.action == "report.snapshot"))


def test_the_same_day_and_label_twice_is_a_friendly_message(client, dbs, org_):
    login(client, org_["admin"].email)
    client.refresh_csrf("/reports/snapshots")
    client.form("/reports/snapshots", {"label": ""})
    response = client.form("/reports/snapshots", {"label": "  "}, follow_redirects=True)
    assert response.status_code == 200
    assert count(dbs, Snapshot) == 1
    assert "flash--info" in response.get_data(as_text=True)
    client.form("/reports/snapshots", {"label": "Lần hai"})
    assert count(dbs, Snapshot) == 2


def test_a_label_too_long_is_shown_next_to_the_field(client, dbs, org_):
    login(client, org_["admin"].email)
    client.refresh_csrf("/reports/snapshots")
    response = client.form("/reports/snapshots", {"label": "x" * 121})
    assert response.status_code == 200
    assert "field--error" in response.get_data(as_text=True)
    assert count(dbs, Snapshot) == 0


def test_without_the_csrf_token_nothing_is_taken(client, dbs, org_):
    login(client, org_["admin"].email)
    response = client.post("/reports/snapshots", data={"label": "x"})
    assert response.status_code == 400
    assert count(dbs, Snapshot) == 0


def test_a_unit_head_sees_the_list_opening_their_unit_but_cannot_take_one(client, dbs, org_):
    snapshot = take_snapshot(dbs, today(), now=utcnow())
    login(client, org_["head"].email)
    response = client.get("/reports/snapshots")
    assert response.status_code == 200
    html = unescape(response.get_data(as_text=True))
    assert 'name="label"' not in html
    assert f'href="/reports/units/{org_["dept"].id}?snapshot={snapshot.id}"' in html
    assert client.get(f"/reports/units/{org_['dept'].id}?snapshot={snapshot.id}").status_code == 200
    client.refresh_csrf("/reports/snapshots")
    assert client.form("/reports/snapshots", {"label": "x"}).status_code == 403
    assert count(dbs, Snapshot) == 1


def test_learners_and_anonymous_cannot_open_snapshots(client, org_):
    assert "/login" in client.get("/reports/snapshots").location
    login(client, org_["learner"].email)
    assert client.get("/reports/snapshots").status_code == 403


def test_the_dashboard_as_of_a_snapshot_shows_the_people_placed_directly(client, dbs, org_):
    """The head is placed in the department itself: their line is frozen with the rest."""
    snapshot = take_snapshot(dbs, today())
    login(client, org_["head"].email)
    response = client.get(f"/reports/units/{org_['dept'].id}?snapshot={snapshot.id}")
    assert response.status_code == 200
    html = unescape(response.get_data(as_text=True))
    assert "snapshot-banner" in html
    assert html.count('class="row--own"') == 1
    assert gettext("Placed directly in this unit") in html

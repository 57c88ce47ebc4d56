"""An assignment's reminder days: whole days from 1 to 90 before the due date, at most
five, "7,1" unless the assigner says otherwise, kept largest first; the form shows a
mistake on its own field and assigns nothing."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from lms.assignments import services
from lms.assignments.models import Assignment
from lms.db import utcnow
from lms.errors import DomainError
from tests.conftest import login


@pytest.mark.parametrize(("typed", "kept"), [
    ("7,1", "7,1"), ("1, 7", "7,1"), ("30;14;7;3;1", "30,14,7,3,1"), ("3,3", "3"),
    ("90", "90"), ("", ""), ("  ", ""),
])
def test_reminder_days_are_kept_largest_first(typed, kept):
    assert services.parse_reminder_days(typed) == kept


@pytest.mark.parametrize("typed", ["0", "91", "7,a", "1.5", "-1", "30,14,7,3,2,1", "٣"])
def test_other_reminder_days_are_refused_on_their_field(typed):
    with pytest.raises(DomainError) as refused:
        services.parse_reminder_days(typed)
    assert refused.value.field == "reminder_days"


def test_an_assignment_reminds_7_and_1_days_before_unless_told_otherwise(factory):
    course = factory.course(lessons=1)
    assert factory.assignment(course).reminder_days == "7,1"
    assert factory.assignment(course, reminder_days="1,14").reminder_days == "14,1"
    with pytest.raises(DomainError):
        factory.assignment(course, reminder_days="100")


@pytest.fixture()
def admin(factory):
    return factory.admin(email="admin@mofa.example")


def form(course, unit, **overrides):
    today = utcnow().date()
    data = {"title": "Bồi dưỡng kỹ năng số 2025", "decision_number": "1637/QĐ-BNG",
            "decision_date": "05/06/2025", "training": f"course:{course.id}",
            "target_kind": "unit", "target_unit_id": unit.id, "target_role": "mentor",
            "people": "", "start_date": today.isoformat(),
            "due_date": (today + timedelta(days=30)).isoformat()}
    data.update(overrides)
    return data


def test_the_form_offers_7_and_1_and_saves_the_days_typed(client, dbs, factory, admin):
    course, unit = factory.course(lessons=1), factory.unit("Vụ Hợp tác quốc tế")
    login(client, admin.email)
    page = client.get("/assignments/new").get_data(as_text=True)
    assert re.search(r'<input[^>]*name="reminder_days"[^>]*value="7,1"', page)
    response = client.form("/assignments/new", form(course, unit, reminder_days="3; 10"))
    assert response.status_code == 302
    assert dbs.scalar(select(Assignment.reminder_days)) == "10,3"


def test_the_form_shows_wrong_days_on_their_field_and_assigns_nothing(client, dbs, factory,
                                                                      admin):
    course, unit = factory.course(lessons=1), factory.unit("Vụ Hợp tác quốc tế")
    login(client, admin.email)
    response = client.form("/assignments/new", form(course, unit, reminder_days="7,120"))
    assert response.status_code == 200
    assert 'id="reminder_days-error"' in response.get_data(as_text=True)
    assert dbs.scalar(select(func.count()).select_from(Assignment)) == 0

"""Assigning training by decision: who is enrolled, when, with which due date, and who not.

An admin assigns a course (or a learning path) to a unit's subtree, a role, a list of
people or everyone; newcomers to the target are enrolled while the assignment is open;
people who leave keep their records but stop counting.
"""
from __future__ import annotations

import codecs
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from lms.assignments import queries, services
from lms.assignments.models import Assignment, AssignmentPerson
from lms.audit.models import AuditEvent
from lms.certificates import storage
from lms.courses import services as learning
from lms.courses.models import Enrolment
from lms.db import utcnow
from lms.errors import DomainError
from lms.org import importer
from lms.org import services as org
from lms.org.models import Role, User

MB = 1024 * 1024
PDF = b"%PDF-1.4\n% quyet dinh\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def enrolled_ids(dbs, course) -> set[int]:
    return set(dbs.scalars(select(Enrolment.user_id).where(Enrolment.course_id == course.id)))


def enrolment(dbs, person, course) -> Enrolment | None:
    return dbs.scalar(select(Enrolment).where(
        Enrolment.user_id == person.id, Enrolment.course_id == course.id).execution_options(
        populate_existing=True))


def data(course=None, kind: str = "unit", unit=None, due_in_days: int = 30, **fields):
    now = utcnow()
    return services.AssignmentData(
        title=fields.pop("title", "Bồi dưỡng kỹ năng số"),
        decision_number=fields.pop("decision_number", "1637/QĐ-BNG"),
        decision_date=fields.pop("decision_date", date(2025, 6, 5)),
        start_at=fields.pop("start_at", now - timedelta(days=1)),
        due_at=fields.pop("due_at", now + timedelta(days=due_in_days)),
        target_kind=kind, course_id=course.id if course is not None else None,
        target_unit_id=unit.id if unit is not None else None, **fields)


@pytest.fixture()
def org_chart(factory):
    """A department with a division, a second department, a person in each, and a
    colleague of the second department holding a concurrent post in the division."""
    dept = factory.unit("Vụ Hợp tác quốc tế", code="HTQT")
    division = factory.unit("Phòng Đa phương", parent=dept, code="HTQT-DP", kind="division")
    other = factory.unit("Cục Lãnh sự", code="CLS")
    people = {
        "dept": factory.person("Nguyễn Văn An", unit=dept),
        "division": factory.person("Trần Thị Bình", unit=division),
        "other": factory.person("Lê Văn Cường", unit=other),
        "post": factory.person("Phạm Thị Dung", unit=other),
    }
    return dept, division, other, people


# ---------------------------------------------------------------- targets

def test_a_unit_target_covers_its_subtree_and_concurrent_post_holders(dbs, factory, org_chart):
    dept, division, _other, people = org_chart
    org.add_concurrent_post(dbs, None, people["post"], division.id, "Phó trưởng phòng")
    course = factory.course()

    assignment = services.create_assignment(dbs, None, data(course, unit=dept))

    assert enrolled_ids(dbs, course) == {people[k].id for k in ("dept", "division", "post")}
    row = enrolment(dbs, people["division"], course)
    assert (row.source, row.assignment_id, row.due_at) == ("assigned", assignment.id,
                                                           assignment.due_at)
    assert services.enrolled_count(dbs, assignment) == 3
    event = dbs.scalar(select(AuditEvent).where(AuditEvent.action == "assignment.created"))
    assert event.details["enrolled"] == 3   # the count of new rows, on every database


def test_a_role_target_covers_its_holders_everywhere_or_within_a_unit(dbs, factory, org_chart):
    dept, division, other, people = org_chart
    org.grant_role(dbs, None, people["division"], Role.MENTOR.value, division.id)
    org.grant_role(dbs, None, people["other"], Role.MENTOR.value, other.id)
    everywhere, within = factory.course(), factory.course("Chữ ký số")

    services.create_assignment(dbs, None, data(everywhere, kind="role", target_role="mentor"))
    services.create_assignment(dbs, None, data(within, kind="role", target_role="mentor",
                                               unit=dept))

    assert enrolled_ids(dbs, everywhere) == {people["division"].id, people["other"].id}
    assert enrolled_ids(dbs, within) == {people["division"].id}


def test_a_people_target_enrols_exactly_the_people_listed(dbs, factory, org_chart):
    _dept, _division, _other, people = org_chart
    course = factory.course()
    chosen = [people["dept"].id, people["other"].id]

    assignment = services.create_assignment(dbs, None, data(
        course, kind="people", people_ids=chosen + [people["dept"].id]))

    assert enrolled_ids(dbs, course) == set(chosen)
    assert sorted(dbs.scalars(select(AssignmentPerson.user_id).where(
        AssignmentPerson.assignment_id == assignment.id))) == sorted(chosen)
    assert assignment.target_unit_id is None


def test_everyone_means_every_active_person(dbs, factory, org_chart):
    _dept, _division, _other, people = org_chart
    org.set_person_active(dbs, None, people["other"], False)
    course = factory.course()

    services.create_assignment(dbs, None, data(course, kind="everyone"))

    active = set(dbs.scalars(select(User.id).where(User.is_active.is_(True))))
    assert enrolled_ids(dbs, course) == active
    assert people["other"].id not in active


# ---------------------------------------------------------------- existing enrolments

def test_a_self_enrolment_becomes_assigned_with_the_earliest_due_date(dbs, factory, org_chart):
    dept, _division, _other, people = org_chart
    person = people["dept"]
    course = factory.course()
    learning.enrol(dbs, person, course)

    later = services.create_assignment(dbs, None, data(course, unit=dept, due_in_days=60,
                                                       decision_number="1/QĐ-BNG"))
    row = enrolment(dbs, person, course)
    assert (row.source, row.assignment_id, row.due_at) == ("assigned", later.id, later.due_at)

    sooner = services.create_assignment(dbs, None, data(course, unit=dept, due_in_days=10,
                                                        decision_number="2/QĐ-BNG"))
    services.create_assignment(dbs, None, data(course, unit=dept, due_in_days=90,
                                               decision_number="3/QĐ-BNG"))
    row = enrolment(dbs, person, course)
    assert (row.assignment_id, row.due_at) == (sooner.id, sooner.due_at)
    assert dbs.scalar(select(func.count()).select_from(Enrolment).where(
        Enrolment.course_id == course.id, Enrolment.user_id == person.id)) == 1


def test_a_completed_course_stays_completed(dbs, factory, org_chart):
    dept, _division, _other, people = org_chart
    person = people["dept"]
    course = factory.course(lessons=1)
    for lesson in course.modules[0].lessons:
        learning.complete_lesson(dbs, person, lesson)
    completed_at = enrolment(dbs, person, course).completed_at

    services.create_assignment(dbs, None, data(course, unit=dept))

    row = enrolment(dbs, person, course)
    assert (row.status, row.progress_pct, row.completed_at) == ("completed", 100, completed_at)
    assert row.source == "assigned"


def test_running_the_enrolment_twice_creates_nothing_twice(dbs, factory, org_chart):
    dept, _division, _other, _people = org_chart
    course = factory.course()
    assignment = services.create_assignment(dbs, None, data(course, unit=dept))
    before = dbs.scalar(select(func.count()).select_from(Enrolment))

    assert services.enrol_targets(dbs, assignment) == 0
    assert services.enrol_targets(dbs, assignment) == 0
    assert dbs.scalar(select(func.count()).select_from(Enrolment)) == before


# ---------------------------------------------------------------- newcomers

@pytest.fixture()
def soon_due(dbs, factory, org_chart):
    """An assignment to the department due in two days (newcomers get more time)."""
    dept, _division, _other, _people = org_chart
    course = factory.course()
    assignment = services.create_assignment(dbs, None, data(course, unit=dept, due_in_days=2))
    return assignment, course


def assert_newcomer(app, dbs, person, course, assignment) -> None:
    row = enrolment(dbs, person, course)
    assert row is not None, "the newcomer was not enrolled"
    assert (row.source, row.assignment_id) == ("assigned", assignment.id)
    days = app.config["NEWCOMER_DAYS"]
    assert row.due_at >= utcnow() + timedelta(days=days) - timedelta(minutes=5)
    assert row.due_at > assignment.due_at


def test_a_person_created_in_a_targeted_unit_is_enrolled(app, dbs, factory, org_chart, soon_due):
    _dept, division, _other, _people = org_chart
    assignment, course = soon_due
    newcomer = factory.person("Vũ Minh Khoa", unit=division)
    assert_newcomer(app, dbs, newcomer, course, assignment)


def test_a_person_moved_into_a_targeted_unit_is_enrolled(app, dbs, factory, org_chart, soon_due):
    _dept, division, _other, people = org_chart
    assignment, course = soon_due
    person = people["other"]
    assert enrolment(dbs, person, course) is None
    org.update_person(dbs, None, person, org.PersonData(
        employee_code=person.employee_code, full_name=person.full_name, email=person.email,
        unit_id=division.id, position=person.position))
    assert_newcomer(app, dbs, person, course, assignment)
    assert enrolment(dbs, person, course).unit_id == division.id


def test_a_reactivated_person_is_enrolled(app, dbs, factory, org_chart):
    dept, _division, _other, people = org_chart
    person = people["dept"]
    org.set_person_active(dbs, None, person, False)
    course = factory.course()
    assignment = services.create_assignment(dbs, None, data(course, unit=dept, due_in_days=2))
    assert enrolment(dbs, person, course) is None

    org.set_person_active(dbs, None, person, True)
    assert_newcomer(app, dbs, person, course, assignment)


def test_a_person_granted_a_targeted_role_is_enrolled(app, dbs, factory, org_chart):
    _dept, _division, _other, people = org_chart
    course = factory.course()
    assignment = services.create_assignment(dbs, None, data(
        course, kind="role", target_role="unit_head", due_in_days=2))
    person = people["other"]
    assert enrolment(dbs, person, course) is None

    org.grant_role(dbs, None, person, Role.UNIT_HEAD.value, person.unit_id)
    assert_newcomer(app, dbs, person, course, assignment)


def test_a_concurrent_post_in_a_targeted_unit_enrols(app, dbs, factory, org_chart, soon_due):
    _dept, division, _other, people = org_chart
    assignment, course = soon_due
    org.add_concurrent_post(dbs, None, people["post"], division.id)
    assert_newcomer(app, dbs, people["post"], course, assignment)


def test_staff_imported_into_a_targeted_unit_are_enrolled(app, dbs, factory, org_chart, soon_due):
    _dept, _division, _other, people = org_chart
    assignment, course = soon_due
    moved = people["other"]
    rows = [("employee_code", "full_name", "email", "unit_code", "position"),
            ("CB901", "Hoàng Văn Mới", "moi.hv@mofa.example", "HTQT-DP", "Chuyên viên"),
            (moved.employee_code, moved.full_name, moved.email, "HTQT", "Chuyên viên")]
    content = codecs.BOM_UTF8 + "\r\n".join(",".join(r) for r in rows).encode()
    upload = importer.store_upload(dbs, None, "nhan-su.csv", content)
    importer.apply_import(dbs, None, upload, 5 * MB)

    newcomer = dbs.scalar(select(User).where(User.employee_code == "CB901"))
    assert_newcomer(app, dbs, newcomer, course, assignment)
    assert_newcomer(app, dbs, moved, course, assignment)


def test_a_closed_assignment_enrols_nobody_new(dbs, factory, org_chart, soon_due):
    _dept, division, _other, _people = org_chart
    assignment, course = soon_due
    before = enrolled_ids(dbs, course)
    services.close_assignment(dbs, None, assignment)

    newcomer = factory.person("Vũ Minh Khoa", unit=division)

    assert enrolment(dbs, newcomer, course) is None
    assert enrolled_ids(dbs, course) == before
    assert assignment.closed_at is not None and not assignment.is_active


def test_a_leaver_stays_in_the_history_but_is_not_counted(dbs, factory, org_chart):
    dept, _division, _other, people = org_chart
    course = factory.course()
    assignment = services.create_assignment(dbs, None, data(course, unit=dept))
    leaver = people["division"]

    org.set_person_active(dbs, None, leaver, False)

    assert enrolment(dbs, leaver, course) is not None
    detail = queries.assignment_detail(dbs, assignment, utcnow())
    assert detail.total.enrolled == 1
    admin = factory.admin()
    page = queries.assignment_page(dbs, admin, 1, 50, utcnow())
    assert [row.progress.enrolled for row in page.items] == [1]


# ---------------------------------------------------------------- learning paths

def test_a_learning_path_enrols_every_course_in_order(dbs, factory, org_chart):
    dept, _division, _other, people = org_chart
    first, second, third = factory.course("Một"), factory.course("Hai"), factory.course("Ba")
    path = services.save_learning_path(dbs, None, "Lộ trình kỹ năng số", "",
                                       [second.id, first.id, third.id, first.id])
    assignment = services.create_assignment(dbs, None, data(path_id=path.id, unit=dept))

    for course in (first, second, third):
        assert enrolled_ids(dbs, course) == {people["dept"].id, people["division"].id}
    detail = queries.assignment_detail(dbs, assignment, utcnow())
    assert [row.title for row in detail.courses] == ["Hai", "Một", "Ba"]
    assert detail.total.enrolled == 6
    steps = queries.assigned_by(dbs, people["dept"].id)
    assert sorted((s.step, s.steps) for s in steps.values()) == [(1, 3), (2, 3), (3, 3)]


def test_a_course_added_to_an_assigned_path_is_assigned_too(dbs, factory, org_chart):
    dept, _division, _other, people = org_chart
    first, added = factory.course("Một"), factory.course("Thêm")
    path = services.save_learning_path(dbs, None, "Lộ trình", "", [first.id])
    assignment = services.create_assignment(dbs, None, data(path_id=path.id, unit=dept))

    services.save_learning_path(dbs, None, "Lộ trình", "", [first.id, added.id], path)

    assert enrolled_ids(dbs, added) == {people["dept"].id, people["division"].id}
    assert enrolment(dbs, people["dept"], added).assignment_id == assignment.id


def test_a_learning_path_holds_only_published_courses(dbs, factory):
    draft = factory.course(publish=False)
    with pytest.raises(DomainError) as error:
        services.save_learning_path(dbs, None, "Lộ trình", "", [draft.id])
    assert error.value.field == "course_ids"
    with pytest.raises(DomainError):
        services.save_learning_path(dbs, None, "Lộ trình", "", [])


# ---------------------------------------------------------------- scope and validation

def test_a_unit_head_assigns_only_within_their_subtree(dbs, factory, org_chart):
    dept, division, other, people = org_chart
    head = factory.unit_head(dept)
    course = factory.course()

    inside = services.create_assignment(dbs, head, data(course, unit=division))
    assert inside.created_by_id == head.id

    refusals = [
        (data(course, unit=other), "target_unit_id"),
        (data(course, kind="role", target_role="mentor"), "target_unit_id"),
        (data(course, kind="everyone"), "target_unit_id"),
        (data(course, kind="people", people_ids=[people["dept"].id, people["other"].id]),
         "people_ids"),
    ]
    count = dbs.scalar(select(func.count()).select_from(Assignment))
    for refused, field in refusals:
        with pytest.raises(DomainError) as error:
            services.create_assignment(dbs, head, refused)
        assert error.value.field == field
    assert dbs.scalar(select(func.count()).select_from(Assignment)) == count
    assert people["other"].full_name in str(error.value.message)


def test_a_unit_head_may_list_a_concurrent_post_holder_of_their_unit(dbs, factory, org_chart):
    dept, division, _other, people = org_chart
    org.add_concurrent_post(dbs, None, people["post"], division.id)
    head = factory.unit_head(dept)
    course = factory.course()
    services.create_assignment(dbs, head, data(course, kind="people",
                                               people_ids=[people["post"].id]))
    assert enrolled_ids(dbs, course) == {people["post"].id}


@pytest.mark.parametrize("changes, field", [
    ({"title": "  "}, "title"),
    ({"decision_number": ""}, "decision_number"),
    ({"due_in_days": -2}, "due_at"),
    ({"kind": "nobody"}, "target_kind"),
    ({"kind": "role", "target_role": "king"}, "target_role"),
    ({"kind": "people"}, "people_ids"),
])
def test_incomplete_assignments_are_refused_on_their_field(dbs, factory, org_chart, changes, field):
    dept = org_chart[0]
    course = factory.course()
    fields = {"unit": dept, **changes}
    if "due_in_days" in changes:
        fields["start_at"] = utcnow()
    with pytest.raises(DomainError) as error:
        services.create_assignment(dbs, None, data(course, **fields))
    assert error.value.field == field


def test_only_a_published_course_can_be_assigned(dbs, factory, org_chart):
    draft = factory.course(publish=False)
    with pytest.raises(DomainError) as error:
        services.create_assignment(dbs, None, data(draft, unit=org_chart[0]))
    assert error.value.field == "course_id"


def test_the_decision_pdf_is_stored_by_content(dbs, factory, org_chart):
    course = factory.course()
    assignment = services.create_assignment(dbs, None, data(course, unit=org_chart[0]),
                                            decision_pdf=PDF, decision_filename="QĐ 1637.pdf")
    assert storage.path_for(assignment.decision_sha256, area="decisions").read_bytes() == PDF
    assert assignment.decision_filename == "QĐ 1637.pdf"


def test_a_decision_that_is_not_a_pdf_or_too_large_is_refused(app, dbs, factory, org_chart):
    course = factory.course()
    count = dbs.scalar(select(func.count()).select_from(Assignment))
    with pytest.raises(DomainError) as error:
        services.create_assignment(dbs, None, data(course, unit=org_chart[0]),
                                   decision_pdf=b"PK\x03\x04 a word file")
    assert error.value.field == "decision_file"

    limit = app.config["MAX_DECISION_BYTES"]
    with pytest.raises(DomainError) as error:
        services.create_assignment(dbs, None, data(course, unit=org_chart[0]),
                                   decision_pdf=PDF + b"0" * limit)
    assert error.value.field == "decision_file"
    assert dbs.scalar(select(func.count()).select_from(Assignment)) == count

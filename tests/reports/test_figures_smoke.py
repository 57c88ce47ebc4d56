"""The dashboard's figures on a small, hand-checked organisation."""
from datetime import timedelta

from lms.courses import services as learning
from lms.db import utcnow
from lms.org import services as org
from lms.reports.services import unit_report


def test_concurrent_post_counts_in_both_units_and_once_in_the_total(dbs, factory):
    dept = factory.unit("Vụ Hợp tác quốc tế")
    a = factory.unit("Phòng A", parent=dept, kind="division")
    b = factory.unit("Phòng B", parent=dept, kind="division")
    course = factory.course()
    anh = factory.person("Nguyễn Văn Anh", unit=a)
    factory.person("Trần Thị Bình", unit=b)
    factory.assignment(course, unit=dept)
    org.add_concurrent_post(dbs, None, anh, b.id, "Phó trưởng phòng")
    lesson = course.modules[0].lessons
    for item in lesson:
        learning.complete_lesson(dbs, anh, item)

    report = unit_report(dbs, dept)
    rows = {info.id: figures for info, figures in report.rows}
    assert (rows[a.id].headcount, rows[a.id].assigned, rows[a.id].completed) == (1, 1, 1)
    assert (rows[b.id].headcount, rows[b.id].assigned, rows[b.id].completed) == (2, 2, 1)
    assert (report.total.headcount, report.total.assigned, report.total.completed) == (2, 2, 1)
    assert report.total.completion_pct == 50.0
    assert report.trend[-1][1] == 50.0


def test_moving_someone_moves_their_training_and_enrols_them_where_targeted(dbs, factory):
    a = factory.unit("Vụ A")
    b = factory.unit("Vụ B")
    course_a, course_b = factory.course(), factory.course("Chữ ký số")
    person = factory.person(unit=a)
    factory.assignment(course_a, unit=a)
    factory.assignment(course_b, unit=b, due_in_days=2)
    data = org.PersonData(employee_code=person.employee_code, full_name=person.full_name,
                          email=person.email, unit_id=b.id, position=person.position)
    org.update_person(dbs, None, person, data)
    report = unit_report(dbs, b)
    assert (report.total.headcount, report.total.assigned) == (1, 2)
    assert unit_report(dbs, a).total.assigned == 0
    enrolment = learning.enrolment_for(dbs, person.id, course_b.id)
    assert enrolment.due_at >= utcnow() + timedelta(days=29)   # newcomers get time

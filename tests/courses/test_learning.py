"""A learner works through a course."""
import threading

from sqlalchemy import func, select

from lms.courses import authoring, services
from lms.courses.events import course_completed
from lms.courses.models import Enrolment, LessonProgress
from lms.courses.queries import course_outline
from tests.conftest import login


def lessons_of(dbs, course):
    return course_outline(dbs, course, None).lessons


def test_finishing_every_required_lesson_completes_the_course_once(dbs, factory):
    learner = factory.person()
    course = factory.course(lessons=3)
    fired = []
    receiver = lambda sender, **kw: fired.append(kw["enrolment"].id)  # noqa: E731
    course_completed.connect(receiver)
    try:
        for lesson in lessons_of(dbs, course):
            enrolment = services.complete_lesson(dbs, learner, lesson)
        services.complete_lesson(dbs, learner, lessons_of(dbs, course)[0])  # again: no effect
    finally:
        course_completed.disconnect(receiver)
    assert enrolment.is_completed and enrolment.progress_pct == 100 and enrolment.completed_at
    assert fired == [enrolment.id]
    assert dbs.scalar(select(func.count()).select_from(LessonProgress)) == 3


def test_progress_updates_with_each_lesson(dbs, factory):
    learner = factory.person()
    course = factory.course(lessons=4)
    first, second = lessons_of(dbs, course)[:2]
    assert services.complete_lesson(dbs, learner, first).progress_pct == 25
    enrolment = services.complete_lesson(dbs, learner, second)
    assert enrolment.progress_pct == 50 and enrolment.status == "in_progress"


def test_optional_lessons_are_not_needed(dbs, factory):
    learner = factory.person()
    course = factory.course(lessons=2)
    optional = lessons_of(dbs, course)[1]
    authoring.update_lesson(dbs, None, optional, authoring.LessonData(
        title=optional.title, body=optional.body, is_required=False))
    enrolment = services.complete_lesson(dbs, learner, lessons_of(dbs, course)[0])
    assert enrolment.is_completed


def test_adding_a_required_lesson_later_never_undoes_a_completion(dbs, factory):
    done, halfway = factory.person(), factory.person()
    course = factory.course(lessons=2)
    for lesson in lessons_of(dbs, course):
        services.complete_lesson(dbs, done, lesson)
    services.complete_lesson(dbs, halfway, lessons_of(dbs, course)[0])
    authoring.add_lesson(dbs, None, course.modules[0], authoring.LessonData(title="Bài mới"))
    enrolments = {e.user_id: e for e in dbs.scalars(select(Enrolment))}
    dbs.refresh(enrolments[done.id])
    dbs.refresh(enrolments[halfway.id])
    assert enrolments[done.id].is_completed and enrolments[done.id].progress_pct == 100
    assert enrolments[halfway.id].progress_pct == 33


def test_archiving_the_last_missing_lesson_completes_waiting_learners(dbs, factory):
    learner = factory.person()
    course = factory.course(lessons=2)
    first, second = lessons_of(dbs, course)
    enrolment = services.complete_lesson(dbs, learner, first)
    assert not enrolment.is_completed
    authoring.set_lesson_archived(dbs, None, second, True)
    dbs.refresh(enrolment)
    assert enrolment.is_completed


def test_resume_goes_back_to_the_last_lesson_opened(dbs, factory):
    learner = factory.person()
    course = factory.course(lessons=3)
    lessons = lessons_of(dbs, course)
    services.open_lesson(dbs, learner, lessons[1])
    enrolment = services.enrolment_for(dbs, learner.id, course.id)
    assert services.resume_lesson_id(dbs, enrolment) == lessons[1].id
    enrolment.last_lesson_id = None
    services.complete_lesson(dbs, learner, lessons[0])
    enrolment.last_lesson_id = None
    assert services.resume_lesson_id(dbs, enrolment) == lessons[1].id  # first not done


def test_learner_enrols_reads_and_completes_in_the_browser(client, factory, dbs):
    learner = factory.person(email="learner@mofa.example")
    course = factory.course(title="Làm việc với văn bản điện tử", lessons=2)
    first, second = lessons_of(dbs, course)
    login(client, learner.email)
    catalog = client.get("/courses?q=van ban").get_data(as_text=True)
    assert "Làm việc với văn bản điện tử" in catalog
    response = client.form(f"/courses/{course.slug}/enrol")
    assert response.location.endswith(f"/courses/{course.slug}/resume")
    assert client.get(response.location).location.endswith(f"/lessons/{first.key}")
    page = client.get(f"/courses/{course.slug}/lessons/{first.key}").get_data(as_text=True)
    assert "Bài học số 1" in page
    response = client.form(f"/courses/{course.slug}/lessons/{first.key}/complete", {"next": second.key})
    assert response.location.endswith(f"/lessons/{second.key}")
    assert "50%" in client.get("/learning").get_data(as_text=True)
    response = client.form(f"/courses/{course.slug}/lessons/{second.key}/complete")
    assert response.location.endswith(f"/courses/{course.slug}")
    mine = client.get("/learning").get_data(as_text=True)
    assert "100%" in mine and "Làm việc với văn bản điện tử" in mine
    assert mine.index("completed-title") < mine.rindex("Làm việc với văn bản điện tử")


def test_my_learning_lists_assigned_courses_first_with_days_left(client, factory, dbs):
    from datetime import timedelta

    from lms.db import utcnow

    learner = factory.person(email="learner@mofa.example")
    mine = factory.course(title="Khoá tự chọn", lessons=1)
    assigned = factory.course(title="Khoá bắt buộc", lessons=1)
    services.open_lesson(dbs, learner, lessons_of(dbs, mine)[0])
    services.enrol(dbs, learner, assigned, source="assigned", due_at=utcnow() + timedelta(days=5, hours=1))
    login(client, learner.email)
    page = client.get("/learning").get_data(as_text=True)
    assert page.index("Khoá bắt buộc") < page.index("Khoá tự chọn")
    assert "5 ngày" in page or "5 days" in page


def test_unpublished_courses_do_not_exist_for_learners(client, factory, dbs):
    learner = factory.person(email="learner@mofa.example")
    draft = factory.course(title="Bản nháp", publish=False)
    lesson = lessons_of(dbs, draft)[0]
    login(client, learner.email)
    assert "Bản nháp" not in client.get("/courses").get_data(as_text=True)
    assert client.get(f"/courses/{draft.slug}").status_code == 404
    assert client.get(f"/courses/{draft.slug}/lessons/{lesson.key}").status_code == 404
    assert client.form(f"/courses/{draft.slug}/enrol").status_code == 404


def test_archived_courses_stay_readable_for_their_learners_only(client, factory, dbs):
    learner, other = factory.person(email="a@mofa.example"), factory.person(email="b@mofa.example")
    course = factory.course()
    services.enrol(dbs, learner, course)
    authoring.set_course_status(dbs, None, course, "archived")
    login(client, learner.email)
    assert client.get(f"/courses/{course.slug}").status_code == 200
    login(client, other.email)
    assert client.get(f"/courses/{course.slug}").status_code == 404


def test_nobody_sees_another_persons_learning_without_the_right(client, factory, dbs):
    dept = factory.unit()
    learner = factory.person(unit=dept, email="learner@mofa.example")
    colleague = factory.person(unit=dept, email="colleague@mofa.example")
    other_head = factory.unit_head(factory.unit(), email="otherhead@mofa.example")
    head = factory.unit_head(dept, email="head@mofa.example")
    services.enrol(dbs, learner, factory.course())
    for who in (colleague, other_head):
        login(client, who.email)
        assert client.get(f"/learning/people/{learner.id}").status_code == 403
    login(client, head.email)
    assert client.get(f"/learning/people/{learner.id}").status_code == 200
    login(client, learner.email)
    assert client.get(f"/learning/people/{learner.id}").status_code == 200


def test_two_requests_finishing_the_last_lesson_complete_once(app, factory, dbs):
    """Exactly-once even when the completion is computed twice."""
    learner = factory.person()
    course = factory.course(lessons=1)
    lesson = lessons_of(dbs, course)[0]
    enrolment = services.enrol(dbs, learner, course)
    fired = []
    receiver = lambda sender, **kw: fired.append(1)  # noqa: E731
    course_completed.connect(receiver)
    try:
        services.complete_lesson(dbs, learner, lesson)
        assert services.mark_completed(dbs, enrolment) is False
    finally:
        course_completed.disconnect(receiver)
    assert fired == [1]
    assert threading.active_count() >= 1


def test_pages_run_a_fixed_number_of_queries(client, factory, dbs, count_queries):
    learner = factory.person(email="learner@mofa.example")
    small = factory.course(lessons=2, modules=1)
    big = factory.course(lessons=6, modules=3)
    for course in (small, big):
        for lesson in lessons_of(dbs, course)[:2]:
            services.complete_lesson(dbs, learner, lesson)
    login(client, learner.email)
    counts = {}
    for course in (small, big):
        key = lessons_of(dbs, course)[1].key
        for url in ("/learning", f"/courses/{course.slug}", f"/courses/{course.slug}/lessons/{key}"):
            client.get(url)
            with count_queries() as queries:
                assert client.get(url).status_code == 200
            counts.setdefault(url.split("/")[1] + str(url.count("/")), []).append(len(queries))
    for values in counts.values():
        assert len(set(values)) == 1, counts


def test_moving_the_last_missing_lesson_into_an_archived_module_completes_learners(dbs, factory):
    learner = factory.person()
    course = factory.course(lessons=2)
    first, second = lessons_of(dbs, course)
    enrolment = services.complete_lesson(dbs, learner, first)
    shelf = authoring.add_module(dbs, None, course, "Lưu trữ")
    authoring.set_module_archived(dbs, None, shelf, True)
    authoring.move_lesson_to_module(dbs, None, second, shelf)
    dbs.refresh(enrolment)
    assert enrolment.is_completed


def test_publishing_counts_edits_made_while_a_draft(dbs, factory):
    learner = factory.person()
    course = factory.course(lessons=2)
    first, second = lessons_of(dbs, course)
    enrolment = services.complete_lesson(dbs, learner, first)
    authoring.set_course_status(dbs, None, course, "draft")
    authoring.set_lesson_archived(dbs, None, second, True)
    dbs.refresh(enrolment)
    assert not enrolment.is_completed  # drafts do not judge learners
    authoring.set_course_status(dbs, None, course, "published")
    dbs.refresh(enrolment)
    assert enrolment.is_completed


def test_course_files_are_served_only_to_people_who_may_see_the_course(
        app, client, make_client, factory, dbs, tmp_path, monkeypatch):
    import io

    monkeypatch.setitem(app.config, "MEDIA_PATH", str(tmp_path / "media"))
    learner = factory.person(email="learner@mofa.example")
    published, draft = factory.course(), factory.course(publish=False)
    video = authoring.add_media(dbs, None, published, io.BytesIO(b"\x1a\x45\xdf\xa3" + b"v" * 5000),
                                "gioi-thieu.webm")
    secret = authoring.add_media(dbs, None, draft, io.BytesIO("%PDF-1.4 nháp".encode()), "nhap.pdf")
    url = f"/media/{video.id}/{video.filename}?v={video.sha256[:12]}"

    visitor = make_client()
    assert visitor.get(url).status_code == 302  # to the sign-in page

    login(client, learner.email)
    with client.get(url) as response:
        assert response.status_code == 200 and response.mimetype == "video/webm"
        assert "immutable" in response.headers["Cache-Control"]
    with client.get(url, headers={"Range": "bytes=0-3"}) as response:  # videos can seek
        assert response.status_code == 206 and response.data == b"\x1a\x45\xdf\xa3"
    with client.get(f"/media/{secret.id}/{secret.filename}") as response:
        assert response.status_code == 404  # a draft course's files do not exist for learners
    with client.get(f"/media/{video.id}/other-name.webm") as response:
        assert response.status_code == 404

"""The monthly report PDF: A4 portrait, the unit's figures as of the month's end (a month-end
snapshot when there is one), its sub-units, the charts, a signature block, page numbers;
Vietnamese text extracts exactly; the same scope rules as the dashboard."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from flask_babel import gettext

from lms.courses import services as learning
from lms.db import utcnow
from lms.reports import monthly
from lms.reports.charts import format_day
from lms.reports.figures import Filters
from lms.reports.models import SnapshotKind
from lms.reports.services import take_snapshot
from tests.certificates.support import _run_on_pdf, _tool, pdf_fonts, pdf_text, words
from tests.conftest import login

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture()
def org_(dbs, factory):
    dept = factory.unit("Vụ Hợp tác quốc tế", code="HTQT")
    div_a = factory.unit("Phòng Hành chính – Tổng hợp", parent=dept, code="HTQT-A",
                         kind="division")
    div_b = factory.unit("Phòng Đối ngoại đa phương", parent=dept, code="HTQT-B",
                         kind="division")
    sibling = factory.unit("Vụ Lễ tân", code="LT")
    head = factory.unit_head(dept, name="Nguyễn Thị Hồng Nhung", position="Vụ trưởng")
    a_head = factory.unit_head(div_a, name="Đặng Văn Ước", position="Trưởng phòng")
    learner = factory.person("Trần Thị Bình", unit=div_a)
    factory.person("Lê Văn Cường", unit=div_b)
    course = factory.course("Kỹ năng số cơ bản")
    factory.assignment(course, unit=dept)
    for lesson in course.modules[0].lessons:
        learning.complete_lesson(dbs, learner, lesson)
    return dict(dept=dept, div_a=div_a, div_b=div_b, sibling=sibling, head=head,
                a_head=a_head, course=course)


def pdf_info(pdf: bytes) -> dict[str, str]:
    """``pdfinfo``'s fields, e.g. "Pages" and "Page size"."""
    out = _run_on_pdf(pdf, _tool("pdfinfo"), to_stdout=()).decode("utf-8")
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}


def this_month() -> str:
    return utcnow().astimezone(HANOI).strftime("%Y-%m")


def fetch(client, url):
    with client.get(url) as response:
        response.get_data()
        return response


def test_the_pdf_is_a4_portrait_with_the_vietnamese_text_intact(client, org_):
    login(client, org_["head"].email)
    response = fetch(client, f"/reports/units/{org_['dept'].id}/monthly.pdf?month={this_month()}")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    assert "(A4)" in pdf_info(response.data)["Page size"]                # portrait: 595 x 842
    assert pdf_info(response.data)["Page size"].startswith("595.")
    text = words(pdf_text(response.data))
    for phrase in ("BỘ NGOẠI GIAO", "Vụ Hợp tác quốc tế", "Phòng Hành chính – Tổng hợp",
                   "Phòng Đối ngoại đa phương", "Nguyễn Thị Hồng Nhung", "Vụ trưởng"):
        assert phrase in text, phrase
    month = utcnow().astimezone(HANOI)
    assert f"{month.month:02d}/{month.year}" in text
    assert "Vụ Lễ tân" not in text
    pages = int(pdf_info(response.data)["Pages"])
    assert re.search(rf"\b{pages} ?/ ?{pages}\b", text)                     # "2 / 2" at the foot
    # Only the bundled fonts (named after their @font-face family), charts' text included.
    assert {font.split("+", 1)[1] for font in pdf_fonts(response.data)} <= {
        "Report-Sans", "Report-Sans-Bold", "Report-Serif-Bold"}


def page_images(pdf: bytes, dpi: int = 50) -> list:
    """Every page as a PIL image (``pdftoppm -png``)."""
    import subprocess
    import tempfile
    from pathlib import Path

    from PIL import Image

    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "report.pdf"
        source.write_bytes(pdf)
        subprocess.run([_tool("pdftoppm"), "-png", "-r", str(dpi), str(source),
                        str(Path(folder) / "page")], check=True, timeout=60)
        return [Image.open(path).convert("RGB") for path in sorted(Path(folder).glob("page*.png"))]


def near(colour: tuple[int, int, int], pixel: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, pixel, strict=True))


def test_the_charts_are_drawn_in_the_pdf(client, org_):
    """The bars (green, one per sub-unit with completions) and the weekly line (red) are on
    the pages, with their captions."""
    login(client, org_["head"].email)
    pdf = fetch(client, f"/reports/units/{org_['dept'].id}/monthly.pdf?month={this_month()}").data
    text = words(pdf_text(pdf))
    assert gettext("3. Charts") in text
    pixels = [tuple(raw[i:i + 3]) for raw in (image.tobytes() for image in page_images(pdf))
              for i in range(0, len(raw), 3)]
    green = sum(1 for pixel in pixels if near((0x1F, 0x7A, 0x45), pixel))
    red = sum(1 for pixel in pixels if near((0xA3, 0x1D, 0x24), pixel))
    assert green > 20 and red > 20, (green, red)


def test_the_figures_are_those_of_the_month_end(dbs, factory, org_):
    """A completion after the month's end does not count in that month's report."""
    last_month = monthly.default_month(utcnow())
    report = monthly.monthly_report(dbs, org_["dept"], last_month, Filters(), utcnow())
    assert report.as_of == monthly.month_bounds(last_month)[1]
    assert report.total.assigned == 0            # everything was assigned this month
    now_report = monthly.monthly_report(dbs, org_["dept"], last_month.replace(day=1)
                                        + timedelta(days=40), Filters(), utcnow())
    assert now_report.as_of == utcnow().astimezone(HANOI).date()
    assert (now_report.total.headcount, now_report.total.assigned,
            now_report.total.completed) == (4, 4, 1)
    assert [row.name for row in now_report.rows] == ["Phòng Hành chính – Tổng hợp",
                                                      "Phòng Đối ngoại đa phương",
                                                      "Vụ Hợp tác quốc tế"]
    assert now_report.rows[-1].own
    assert (now_report.head_name, now_report.head_title) == ("Nguyễn Thị Hồng Nhung",
                                                            "Vụ trưởng")


def test_a_month_end_snapshot_is_used_when_there_is_one(dbs, org_):
    now = utcnow()
    month = monthly.default_month(now)
    month_end = monthly.month_bounds(month)[1]
    # Freeze "now" figures under last month's date, as if the month-end job had seen them.
    snapshot = take_snapshot(dbs, month_end, SnapshotKind.MONTH_END.value, now=now)
    for row in snapshot.rows:
        if row.unit_id == org_["dept"].id:
            row.headcount = 99          # recognisably the snapshot's figure
    dbs.flush()
    report = monthly.monthly_report(dbs, org_["dept"], month, Filters(), now)
    assert report.total.headcount == 99
    assert report.snapshot_taken_on == now.astimezone(HANOI).date()
    filtered = monthly.monthly_report(dbs, org_["dept"], month,
                                      Filters(course_id=org_["course"].id), now)
    assert filtered.total.headcount != 99 and filtered.snapshot_taken_on is None
    assert filtered.filters == ((gettext("Course"), "Kỹ năng số cơ bản"),)


def test_the_default_month_is_the_last_full_month(client, org_):
    login(client, org_["head"].email)
    response = fetch(client, f"/reports/units/{org_['dept'].id}/monthly.pdf")
    assert response.status_code == 200
    last = monthly.default_month(utcnow())
    assert f"{last.month:02d}/{last.year}" in words(pdf_text(response.data))
    assert monthly.default_month(datetime(2025, 7, 1, 1, tzinfo=timezone.utc)) == date(2025, 6, 1)
    assert monthly.default_month(datetime(2025, 1, 15, tzinfo=timezone.utc)) == date(2024, 12, 1)


@pytest.mark.parametrize("month", ["2025-13", "juin", "1999-01", "2025/06"])
def test_a_malformed_month_returns_to_the_dashboard_with_a_message(client, org_, month):
    login(client, org_["head"].email)
    response = fetch(client, f"/reports/units/{org_['dept'].id}/monthly.pdf?month={month}")
    assert response.status_code == 302
    assert response.location.endswith(f"/reports/units/{org_['dept'].id}")


def test_a_future_month_is_refused_politely(client, org_):
    login(client, org_["head"].email)
    future = (utcnow() + timedelta(days=40)).strftime("%Y-%m")
    response = fetch(client, f"/reports/units/{org_['dept'].id}/monthly.pdf?month={future}"
                             f"&course={org_['course'].id}")
    assert response.status_code == 302
    assert f"course={org_['course'].id}" in response.location


def test_scope_division_head_gets_only_their_division(client, org_):
    login(client, org_["a_head"].email)
    for unit in ("dept", "div_b", "sibling"):
        assert fetch(client, f"/reports/units/{org_[unit].id}/monthly.pdf").status_code == 403
    response = fetch(client, f"/reports/units/{org_['div_a'].id}/monthly.pdf?month={this_month()}")
    assert response.status_code == 200
    text = words(pdf_text(response.data))
    assert "Đặng Văn Ước" in text and "Trưởng phòng" in text


def test_rendering_needs_only_the_values_and_fetches_nothing_else():
    rows = tuple(monthly.MonthlyLine(f"P{i}", f"Phòng số {i} – Đơn vị thử nghiệm", False,
                                     monthly.MonthlyFigures(10, 10, i % 10, i % 10 * 10.0, 5, 1,
                                                            3, 72.5, 2))
                 for i in range(40))
    report = monthly.MonthlyReport(
        ministry_name="Bộ Ngoại giao", unit_name="Cục Lãnh sự <script>", unit_code="CLS",
        month=date(2025, 6, 1), as_of=date(2025, 6, 30),
        total=monthly.MonthlyFigures(400, 400, 180, 45.0, 200, 20, 120, 70.3, 90), rows=rows,
        trend=tuple((date(2025, 6, 1) + timedelta(days=7 * i), 10.0 * i) for i in range(5)),
        snapshot_taken_on=date(2025, 7, 1), filters=(), head_name="Nguyễn Văn Ánh",
        head_title="Cục trưởng", printed_on=date(2025, 7, 2), locale="vi")
    pdf = monthly.render_pdf(report)
    pages = int(pdf_info(pdf)["Pages"])
    assert pages >= 2                                          # 40 sub-units: several pages
    text = words(pdf_text(pdf))
    assert "Cục Lãnh sự <script>" in text
    assert "Phòng số 39 – Đơn vị thử nghiệm" in text
    assert "45%" in text and "70,3%" in text and "30/06/2025" in text
    assert re.search(rf"\b{pages} ?/ ?{pages}\b", text)
    assert format_day(report.as_of, "vi") == "30/06/2025"

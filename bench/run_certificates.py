#!/usr/bin/env python
"""Certificates: ms per certificate on the app's issue path against the bare WeasyPrint
floor, measured in the same run; then a bulk issue of 1,000 certificates.

    python bench/run_certificates.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/lms_bench_certs

1. Recreates the database (its name must contain "bench"), adds a published one-lesson
   course that grants a certificate, and PEOPLE learners who completed it while the course
   granted none (so nobody holds a certificate yet).
2. Floor (a): the certificate's HTML, made once, rendered again and again by WeasyPrint
   alone with the same FontConfiguration, parsed stylesheet and PDF/A options the app uses.
   Issue path (b): ``services.issue_for_enrolment`` for the next learner — the register
   number, the certificate row, the render, storing the PDF by its sha256 — and a commit.
   The two alternate in rounds; the report gives the medians and (b) / (a).
3. Bulk: a job for BULK further learners run by ``jobs.run_job`` with 2 render processes
   (and, for comparison, a fifth as many with 1): certificates per second and the peak
   memory (this process and the largest render process).

Writes its figures between markers in BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common  # noqa: E402
from bench.run_learning import machine_facts  # noqa: E402

MARK_START = "<!-- bench/run_certificates.py: results start -->"
MARK_END = "<!-- bench/run_certificates.py: results end -->"


def prepare(url: str, people: int) -> None:
    from sqlalchemy import update

    from lms.cli import upgrade_database
    from lms.courses import authoring
    from lms.courses.models import Course, Lesson
    from lms.courses.services import complete_lesson
    from lms.db import db
    from lms.org import services

    _common.recreate_database(url)
    _common.use_bench_environ(url)
    app = _common.make_app()
    with app.app_context(), app.test_request_context():
        upgrade_database()
        dbs = db.session
        root = services.create_unit(dbs, None, services.UnitData(
            code="BNG", name="Bộ Ngoại giao", kind="ministry"))
        unit = services.create_unit(dbs, None, services.UnitData(
            code="CLS", name="Cục Lãnh sự", kind="department", parent_id=root.id))
        course = authoring.create_course(dbs, None, authoring.CourseData(
            slug="bench-chung-nhan", title="Kỹ năng số cơ bản cho cán bộ, công chức",
            topic="security", estimated_minutes=240, certificate_enabled=False))
        module = authoring.add_module(dbs, None, course, "Chương 1")
        lesson = authoring.add_lesson(dbs, None, module,
                                      authoring.LessonData(title="Bài 1", body="Nội dung."))
        authoring.set_course_status(dbs, None, course, "published")
        names = ["Nguyễn Thị Hồng Nhung", "Bùi Thanh Sơn", "Đặng Quốc Việt", "Tôn Nữ Thị Phương Thảo"]
        for n in range(people):
            person = services.create_person(dbs, None, services.PersonData(
                employee_code=f"C{n:05d}", full_name=f"{names[n % 4]} {n}", email=f"c{n}@mofa.example",
                unit_id=unit.id), audit=False)
            complete_lesson(dbs, person, dbs.get(Lesson, lesson.id))
            if n % 500 == 499:
                dbs.commit()
        dbs.execute(update(Course).where(Course.id == course.id).values(certificate_enabled=True))
        dbs.commit()
        db.engine.dispose()


def measure(url: str, rounds: int, per_round: int, bulk: int) -> dict:
    from sqlalchemy import func, select
    from weasyprint import HTML

    from lms.certificates import jobs, rendering, services
    from lms.certificates.models import Certificate, CertificateJob
    from lms.courses.models import Course, Enrolment
    from lms.db import db, sqlite_write_intent

    _common.use_bench_environ(url)
    app = _common.make_app()
    sqlite_write_intent.set(True)
    results: dict = {"floor_ms": [], "issue_ms": []}
    with app.app_context(), app.test_request_context():
        dbs = db.session
        course = dbs.scalar(select(Course).where(Course.slug == "bench-chung-nhan"))
        enrolment_ids = list(dbs.scalars(select(Enrolment.id).where(Enrolment.course_id == course.id)
                                         .order_by(Enrolment.id)))
        queue = iter(enrolment_ids)
        # One real certificate gives the floor its HTML (the same values and design).
        first = services.issue_for_enrolment(dbs, dbs.get(Enrolment, next(queue)))
        dbs.commit()
        template = services.template_values(services.template_for_course(dbs, course))
        values = services.certificate_values(first)
        options = {"pdf_variant": rendering.PDF_VARIANT, "output_intent": rendering.OUTPUT_INTENT}
        html = rendering.render_html(values, template)
        with rendering._lock:
            design = rendering._design(template.design)

        def floor() -> None:
            document = HTML(string=html, base_url=rendering.FONTS_DIR.as_uri() + "/",
                            url_fetcher=design.fetcher).render(
                stylesheets=[design.stylesheet], font_config=design.font_config,
                color_profiles=design.color_profiles, **options)
            document.write_pdf(**options)

        def issue() -> None:
            enrolment = dbs.get(Enrolment, next(queue))
            services.issue_for_enrolment(dbs, enrolment)
            dbs.commit()

        for _warm in range(3):
            floor()
            issue()
        for _round in range(rounds):
            for name, work in (("floor_ms", floor), ("issue_ms", issue)):
                for _ in range(per_round):
                    started = time.perf_counter()
                    work()
                    results[name].append(1000 * (time.perf_counter() - started))
        issued_single = dbs.scalar(select(func.count(Certificate.id)))
        remaining = [i for i in queue]
        results["bulk"] = {}
        compare = min(200, bulk // 5)
        for workers, batch in ((1, remaining[:compare]), (2, remaining[compare:compare + bulk])):
            job = CertificateJob(course_id=course.id, total=len(batch), enrolment_ids=batch)
            dbs.add(job)
            dbs.commit()
            started = time.perf_counter()
            status = jobs.run_job(app, job.id, workers=workers)
            seconds = time.perf_counter() - started
            dbs.expire_all()
            done = dbs.get(CertificateJob, job.id)
            results["bulk"][workers] = {"status": status, "certificates": done.done, "failed": done.failed,
                                        "seconds": seconds, "per_second": done.done / seconds}
        results["bulk_certificates_total"] = dbs.scalar(select(func.count(Certificate.id))) - issued_single
        results["duplicates"] = dbs.scalar(select(func.count()).select_from(
            select(Certificate.serial).group_by(Certificate.serial).having(func.count() > 1).subquery()))
        results["peak_rss_self_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        results["peak_rss_children_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        db.engine.dispose()
    results["floor_median_ms"] = statistics.median(results["floor_ms"])
    results["issue_median_ms"] = statistics.median(results["issue_ms"])
    results["ratio"] = results["issue_median_ms"] / results["floor_median_ms"]
    return results


def render(results: dict) -> str:
    m, r, a = results["machine"], results["runs"], results["args"]
    lines = [MARK_START, f"### Certificates — run of {results['when']}", "",
             f"`bench/run_certificates.py` on {m['cpu']} ({m['cores']} cores, {m['memory']}), "
             f"{results['database']}, WeasyPrint {results['weasyprint']}; {a['rounds']} rounds of "
             f"{a['per_round']} certificates for each of (a) and (b), alternating.", "",
             "| what | ms per certificate (median) | vs floor |", "|---|---:|---:|",
             f"| (a) floor: the same HTML and CSS rendered by WeasyPrint alone (FontConfiguration, "
             f"parsed CSS and PDF/A options reused) | {r['floor_median_ms']:.0f} | 1 |",
             f"| (b) issue path: register number, certificate row, render, store by sha256, commit "
             f"| {r['issue_median_ms']:.0f} | **{r['ratio']:.2f}** |", "",
             "| bulk issue (`jobs.run_job`) | certificates | seconds | certificates/s |",
             "|---|---:|---:|---:|"]
    for workers, b in sorted(r["bulk"].items()):
        lines.append(f"| {workers} render process{'es' if int(workers) > 1 else ''} | {b['certificates']:,} "
                     f"| {b['seconds']:.1f} | {b['per_second']:.1f} |")
    lines += ["", f"Peak memory: {r['peak_rss_self_mib']:.0f} MiB in the issuing process, "
              f"{r['peak_rss_children_mib']:.0f} MiB in the largest render process. Register numbers "
              f"duplicated: {r['duplicates']}.", "", MARK_END]
    return "\n".join(lines)


def write_report(path: Path, section: str) -> None:
    _common.write_section(path, MARK_START, MARK_END, "Certificates", section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=20)
    parser.add_argument("--bulk", type=int, default=1000,
                        help="certificates in the bulk run with two render processes (a fifth of it, "
                             "at most 200, more with one process for comparison)")
    parser.add_argument("--out", type=Path, default=_common.DEFAULT_OUT)
    parser.add_argument("--report", type=Path, default=_common.ROOT / "BENCHMARKS.md")
    args = parser.parse_args()
    url = _common.sqlalchemy_url(args.database_url)
    args.out.mkdir(parents=True, exist_ok=True)
    people = 3 + 2 + args.rounds * args.per_round + args.bulk + min(200, args.bulk // 5) + 10
    print(f"preparing {people} learners ...", flush=True)
    started = time.monotonic()
    prepare(url, people)
    print(f"  {time.monotonic() - started:.0f} s; measuring ...", flush=True)
    runs = measure(url, args.rounds, args.per_round, args.bulk)
    import weasyprint
    results = {"when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "machine": machine_facts(), "args": {k: str(v) for k, v in vars(args).items()},
               "database": "PostgreSQL" if _common.is_postgres(url) else "SQLite",
               "weasyprint": weasyprint.__version__, "runs": runs}
    results["args"].update(rounds=args.rounds, per_round=args.per_round)
    (args.out / "certificates.json").write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps({k: v for k, v in runs.items() if not k.endswith("_ms")}, indent=2, default=str))
    if str(args.report) != "-":
        write_report(args.report, render(results))


if __name__ == "__main__":
    main()

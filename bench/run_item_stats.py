#!/usr/bin/env python
"""Item statistics of a quiz with 20,000 graded attempts: time and statement count, against
the simplest aggregate over the same rows (a COUNT per question) as the baseline.

    python bench/run_item_stats.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/lms_bench_stats
    python bench/run_item_stats.py --database-url sqlite:////tmp/lms-bench/lms_bench_stats.db

Drops and creates the database (its name must contain "bench"), builds a course with a
bank of 30 questions of five types and a quiz drawing 15, and ATTEMPTS submitted attempts
by simulated learners of different ability (so discrimination is meaningful), then times
``lms.quizzes.statistics.item_statistics`` and the baseline, alternating, REPEAT times.
Writes its figures between markers in BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common  # noqa: E402
from bench.run_learning import machine_facts  # noqa: E402
from bench.run_quiz import MARK_END as QUIZ_END  # noqa: E402

MARK_START = "<!-- bench/run_item_stats.py: results start -->"
MARK_END = "<!-- bench/run_item_stats.py: results end -->"


def build(url: str, attempts: int, seed: int) -> int:
    from sqlalchemy import insert, select, text

    _common.recreate_database(url)

    from lms.cli import upgrade_database
    from lms.courses import authoring
    from lms.db import db
    from lms.org import services
    from lms.quizzes import bank
    from lms.quizzes.attempts import display_order, response_key
    from lms.quizzes.grading import correct_response, grade
    from lms.quizzes.models import Attempt, AttemptAnswer, Question, QuestionVersion
    from lms.quizzes.spec import Choice, MatchPair, QuestionSpec, QuestionType
    from lms.quizzes.specio import spec_from_dict

    rng = random.Random(seed)
    _common.use_bench_environ(url)
    app = _common.make_app()
    with app.app_context():
        upgrade_database()
        dbs = db.session
        root = services.create_unit(dbs, None, services.UnitData(code="BNG", name="Bộ Ngoại giao",
                                                                 kind="ministry"))
        course = authoring.create_course(dbs, None, authoring.CourseData(
            slug="bench-stats", title="Thống kê câu hỏi", topic="security"))
        kinds = [QuestionType.SINGLE, QuestionType.MULTIPLE, QuestionType.TRUE_FALSE,
                 QuestionType.SHORT_ANSWER, QuestionType.MATCHING]
        for i in range(30):
            kind = kinds[i % len(kinds)]
            base = dict(type=kind, name=f"q{i:02d}", category="Chung", stem=f"Câu hỏi {i + 1}?")
            if kind is QuestionType.SINGLE:
                spec = QuestionSpec(**base, choices=tuple(Choice(f"PA {c}", float(c == 0)) for c in range(4)))
            elif kind is QuestionType.MULTIPLE:
                spec = QuestionSpec(**base, choices=(Choice("A", .5), Choice("B", .5), Choice("C", -.5),
                                                     Choice("D", -.5)))
            elif kind is QuestionType.TRUE_FALSE:
                spec = QuestionSpec(**base, correct=bool(i % 2))
            elif kind is QuestionType.SHORT_ANSWER:
                spec = QuestionSpec(**base, choices=(Choice("VNeID", 1.0),), accent_insensitive=True)
            else:
                spec = QuestionSpec(**base, pairs=(MatchPair("Một", "1"), MatchPair("Hai", "2"),
                                                   MatchPair("Ba", "3")))
            bank.save_question(dbs, course, spec)
        quiz = bank.save_quiz(dbs, course, bank.QuizData(title="Bài kiểm tra", key="bai-kiem-tra"))
        bank.add_slot(dbs, quiz, category=bank.category_named(dbs, course, "Chung"), draw_count=15)
        people = [services.create_person(dbs, None, services.PersonData(
            employee_code=f"S{n:05d}", full_name=f"Học Viên {n}", email=f"s{n}@mofa.example",
            unit_id=root.id), audit=False) for n in range(2000)]
        dbs.flush()
        versions = list(dbs.execute(
            select(QuestionVersion).join(Question)).scalars())
        specs = {v.id: spec_from_dict(v.spec) for v in versions}
        wrong_answers = {QuestionType.SINGLE: [1, 2, 3], QuestionType.MULTIPLE: [[0, 2], [2], [1, 3]],
                         QuestionType.TRUE_FALSE: None, QuestionType.SHORT_ANSWER: ["vneid sai", "cccd"],
                         QuestionType.MATCHING: [{"0": "2", "1": "1", "2": "3"}]}
        quiz_id, person_ids = quiz.id, [p.id for p in people]
        dbs.commit()
        started = datetime(2026, 11, 1, tzinfo=timezone.utc)
        attempt_rows, answer_rows = [], []
        numbers: dict[int, int] = {}
        for n in range(attempts):
            user_id = person_ids[n % len(person_ids)]
            numbers[user_id] = numbers.get(user_id, 0) + 1
            ability = rng.random()
            chosen = rng.sample(versions, 15)
            at = started + timedelta(minutes=n)
            score = 0.0
            answers = []
            for position, version in enumerate(chosen, start=1):
                spec = specs[version.id]
                difficulty = (int(spec.name[1:]) % 7) / 10
                if rng.random() < 0.05:
                    response = None
                elif rng.random() < ability + 0.3 - difficulty:
                    response = correct_response(spec)
                    if spec.type is QuestionType.MATCHING:
                        response = {str(k): v for k, v in response.items()}
                    elif isinstance(response, tuple):
                        response = list(response)
                else:
                    options = wrong_answers[QuestionType(spec.type)]
                    response = (not spec.correct) if options is None else rng.choice(options)
                graded = grade(spec, {int(k): v for k, v in response.items()}
                               if isinstance(response, dict) else response)
                score += graded.score
                answers.append(dict(position=position, question_id=version.question_id,
                                    version_id=version.id,
                                    display=display_order(spec, True, rng), response=response,
                                    response_key=response_key(spec, response), shown_at=at,
                                    answered_at=at + timedelta(seconds=20), saved_at=at,
                                    score=graded.score, max_score=1.0, fraction=graded.fraction,
                                    state=graded.state))
            attempt_rows.append(dict(id=n + 1, quiz_id=quiz_id, user_id=user_id,
                                     number=numbers[user_id], status="submitted", started_at=at,
                                     submitted_at=at + timedelta(minutes=9), score=score,
                                     max_score=15.0, percent=round(100 * score / 15, 2),
                                     passed=score >= 12, auto_submitted=False,
                                     focus_lost_count=0, paste_count=0))
            for answer in answers:
                answer_rows.append(dict(answer, attempt_id=n + 1))
        for chunk in range(0, len(attempt_rows), 5000):
            dbs.execute(insert(Attempt), attempt_rows[chunk:chunk + 5000])
        for chunk in range(0, len(answer_rows), 10000):
            dbs.execute(insert(AttemptAnswer), answer_rows[chunk:chunk + 10000])
        if _common.is_postgres(url):
            dbs.execute(text("SELECT setval(pg_get_serial_sequence('quiz_attempts', 'id'), :n)"),
                        {"n": attempts})
        dbs.commit()
        with db.engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
        db.engine.dispose()
    return quiz_id


def measure(url: str, quiz_id: int, repeat: int) -> dict:
    from sqlalchemy import event, func, select

    from lms.db import db
    from lms.quizzes.models import Attempt, AttemptAnswer
    from lms.quizzes.statistics import item_statistics

    _common.use_bench_environ(url)
    app = _common.make_app()
    timings = {"stats": [], "baseline": []}
    statements: list[str] = []
    with app.app_context(), app.test_request_context():
        engine = db.engine

        def baseline(dbs):
            return dbs.execute(select(AttemptAnswer.question_id, func.count())
                               .join(Attempt, Attempt.id == AttemptAnswer.attempt_id)
                               .where(Attempt.quiz_id == quiz_id, Attempt.status == "submitted")
                               .group_by(AttemptAnswer.question_id)).all()

        item_statistics(db.session, quiz_id)  # warm the cache once
        baseline(db.session)
        for _ in range(repeat):
            for name, work in (("baseline", baseline), ("stats", lambda s: item_statistics(s, quiz_id))):
                started = time.perf_counter()
                work(db.session)
                timings[name].append(time.perf_counter() - started)
                db.session.rollback()

        def before(conn, cursor, statement, *args):
            statements.append(" ".join(statement.split()))

        event.listen(engine, "before_cursor_execute", before)
        count, items = item_statistics(db.session, quiz_id)
        event.remove(engine, "before_cursor_execute", before)
        sample = [{"name": i.name, "facility": round(i.facility, 3),
                   "discrimination": None if i.discrimination is None else round(i.discrimination, 3),
                   "responses": i.responses} for i in items[:3]]
        engine.dispose()
    return {"attempts": count, "questions": len(items), "statements": len(statements),
            "stats_ms": 1000 * statistics.median(timings["stats"]),
            "baseline_ms": 1000 * statistics.median(timings["baseline"]),
            "stats_all_ms": [round(1000 * t, 1) for t in timings["stats"]],
            "baseline_all_ms": [round(1000 * t, 1) for t in timings["baseline"]], "sample": sample}


def render(results: dict) -> str:
    m = results["machine"]
    lines = [MARK_START, f"### Item statistics — run of {results['when']}", "",
             f"`bench/run_item_stats.py` on {m['cpu']} ({m['cores']} cores, {m['memory']}): a quiz "
             "drawing 15 of 30 questions (single, multiple, true/false, short answer, matching), "
             "submitted attempts of learners of varied ability. Median of "
             f"{results['repeat']} runs each, alternating; baseline: one `COUNT(*) … GROUP BY "
             "question_id` over the same answer rows.", "",
             "| database | attempts | answer rows | statements | item statistics | baseline | ratio |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in results["runs"].items():
        lines.append(f"| {name} | {r['attempts']:,} | {r['attempts'] * 15:,} | {r['statements']} | "
                     f"{r['stats_ms']:.0f} ms | {r['baseline_ms']:.0f} ms | "
                     f"**{r['stats_ms'] / r['baseline_ms']:.2f}** |")
    lines += ["", "The statement count is the same for any number of attempts: two aggregates "
              "over the answers (sums for facility and discrimination; counts per response for "
              "the choice distribution), a count of the attempts and one lookup of the questions "
              "(SQLite adds its `BEGIN`); `tests/quizzes/test_statistics.py` checks it for 5 and "
              "50 attempts.", "", MARK_END]
    return "\n".join(lines)


def write_report(path: Path, section: str) -> None:
    _common.write_section(path, MARK_START, MARK_END, "Quizzes", section, after=QUIZ_END)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", action="append", required=True,
                        help="repeat for several databases")
    parser.add_argument("--attempts", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=_common.DEFAULT_OUT)
    parser.add_argument("--report", type=Path, default=_common.ROOT / "BENCHMARKS.md")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    runs = {}
    for url in args.database_url:
        url = _common.sqlalchemy_url(url)
        name = "PostgreSQL" if _common.is_postgres(url) else "SQLite"
        print(f"{name}: building {args.attempts:,} attempts ...", flush=True)
        started = time.monotonic()
        quiz_id = build(url, args.attempts, args.seed)
        print(f"  built in {time.monotonic() - started:.0f} s; measuring ...", flush=True)
        runs[name] = measure(url, quiz_id, args.repeat)
        print(json.dumps(runs[name], indent=1), flush=True)
    results = {"when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "machine": machine_facts(), "repeat": args.repeat, "runs": runs}
    (args.out / "item-stats.json").write_text(json.dumps(results, indent=2))
    if str(args.report) != "-":
        write_report(args.report, render(results))
    if not all(math.isfinite(r["stats_ms"]) for r in runs.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()

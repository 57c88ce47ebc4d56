"""Running work in parallel against a database whose transactions really commit."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from flask import Flask
from sqlalchemy.orm import Session

from lms.db import db, sqlite_write_intent

Work = Callable[[Session], Any]


def in_transaction(app: Flask, work: Work) -> Any:
    """Run ``work(session)`` as one request or command would: its own session, committed at
    the end (no request context, as the CLI and jobs run)."""
    with app.app_context():
        token = sqlite_write_intent.set(True)
        try:
            result = work(db.session)
            db.session.commit()
            return result
        except Exception:
            db.session.rollback()
            raise
        finally:
            sqlite_write_intent.reset(token)


def race(app: Flask, works: list[Work], catch: type[BaseException] = Exception) -> list[Any]:
    """Start every work at the same moment (a barrier) in its own thread and transaction;
    an exception of type ``catch`` is returned in its place for the test to look at."""
    barrier = threading.Barrier(len(works))

    def run(work: Work) -> Any:
        barrier.wait()
        try:
            return in_transaction(app, work)
        except catch as error:
            return error

    with ThreadPoolExecutor(max_workers=len(works)) as pool:
        return list(pool.map(run, works))

"""Domain events of the courses domain (blinker signals, sent inside the transaction).

Receivers (certificates, reports, notifications) run in the same transaction as the
completion, so enrol -> complete -> certify is all or nothing.
"""
from blinker import Namespace

_signals = Namespace()

#: sent once per enrolment, when it becomes completed: sender=None, session=..., enrolment=...
course_completed = _signals.signal("course-completed")

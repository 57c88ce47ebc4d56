"""Scheduled jobs of the unit heads' digests and escalations (collected by the integrator
into ``lms.notify.tasks.JOBS``). Both run hourly and decide per timezone whether it is time:
the weekly digest from Monday 08:00 local, the escalations once a local day from 08:00."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from lms.notify.digests import ESCALATION_JOB, WEEKLY_JOB, overdue_escalation, weekly_digest
from lms.notify.jobs import Job, hourly

JOBS = [
    Job(WEEKLY_JOB, weekly_digest, {"minute": 15}, hourly,
        _l("Unit heads' weekly digest of their subtree (Monday 08:00, each head's own time)")),
    Job(ESCALATION_JOB, overdue_escalation, {"minute": 20}, hourly,
        _l("Unit heads hear of people overdue by more than 14 days (daily, 08:00 local)")),
]

"""Every domain's tables, imported in one place for Alembic and the schema tests."""
import lms.api.models  # noqa: F401
import lms.assignments.models  # noqa: F401
import lms.audit.models  # noqa: F401
import lms.auth.models  # noqa: F401
import lms.certificates.models  # noqa: F401
import lms.courses.models  # noqa: F401
import lms.mentoring.models  # noqa: F401
import lms.notify.models  # noqa: F401
import lms.org.models  # noqa: F401
import lms.quizzes.models  # noqa: F401
import lms.reports.models  # noqa: F401
from lms.db import Base

metadata = Base.metadata

"""Fixed values of the package format (docs/course-package.md)."""
import re

from lms.courses.models import CourseStatus, LessonKind

FORMAT = 1
MANIFEST = "course.yaml"
MAX_MEMBERS = 5000
MAX_MANIFEST_BYTES = 1024 * 1024
MAX_LESSON_BYTES = 2 * 1024 * 1024
CHUNK = 1024 * 1024
LANGUAGES = ("vi", "en")
KINDS = tuple(k.value for k in LessonKind)
STATUSES = (CourseStatus.DRAFT.value, CourseStatus.PUBLISHED.value)
KEY_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
URL_RE = re.compile(r"^https?://[^\s]+$")
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
COURSE_FIELDS = ("format", "slug", "language", "title", "summary", "outcomes", "topic",
                 "estimated_minutes", "certificate", "validity_months", "status", "modules")
MODULE_FIELDS = ("title", "lessons")
LESSON_FIELDS = ("key", "title", "kind", "url", "media", "complete_on_video_end", "file",
                 "minutes", "required")

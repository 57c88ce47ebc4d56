"""Translatable names of course topics, lesson kinds and statuses (for pages and forms)."""
from flask_babel import lazy_gettext as _l

TOPIC_LABELS = {
    "security": _l("Information security"),
    "documents": _l("Electronic documents and digital signatures"),
    "portal": _l("The e-portal"),
    "data": _l("Data sharing (LGSP)"),
    "public_services": _l("Online public services and e-ID"),
    "tools": _l("Everyday digital tools"),
    "other": _l("Other"),
}

LESSON_KIND_LABELS = {
    "text": _l("Reading"),
    "video": _l("Video"),
    "file": _l("Document"),
    "link": _l("External link"),
}

COURSE_STATUS_LABELS = {
    "draft": _l("Draft"),
    "published": _l("Published"),
    "archived": _l("Archived"),
}

ENROLMENT_STATUS_LABELS = {
    "not_started": _l("Not started"),
    "in_progress": _l("In progress"),
    "completed": _l("Completed"),
}

LENGTH_LABELS = {
    "short": _l("Up to 30 minutes"),
    "medium": _l("30 to 90 minutes"),
    "long": _l("Over 90 minutes"),
}

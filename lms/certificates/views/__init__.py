"""The certificates blueprint: the learner's certificates (learner.py), public verification
(public.py), signed credentials (credentials.py) and the administration (admin.py)."""
from flask import Blueprint, Flask

bp = Blueprint("certificates", __name__)


def init_app(app: Flask) -> None:
    """Register the blueprint and issue certificates on course completion.

    The receiver is a module-level function connected strongly: blinker keeps one entry per
    receiver, so however many apps a process makes (tests, CLI), it is connected once.
    """
    from lms.certificates.services import on_course_completed
    from lms.courses.events import course_completed

    course_completed.connect(on_course_completed, weak=False)
    app.register_blueprint(bp)


from lms.certificates.views import admin, credentials, learner, public  # noqa: E402,F401  (routes register on bp)

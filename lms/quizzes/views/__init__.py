"""The quizzes blueprint: learners' attempts (learner.py) and trainers' banks, quizzes,
attempts and statistics (authoring.py)."""
from flask import Blueprint, Flask

bp = Blueprint("quizzes", __name__)


def init_app(app: Flask) -> None:
    """Register the blueprint and the completion rule's quiz requirement (once)."""
    from lms.courses.services import extra_requirements
    from lms.quizzes.attempts import required_quizzes_passed

    if required_quizzes_passed not in extra_requirements:
        extra_requirements.append(required_quizzes_passed)
    app.register_blueprint(bp)


from lms.quizzes.views import authoring, learner  # noqa: E402,F401  (routes register on bp)

"""The courses blueprint: learner pages (learner.py) and trainers' authoring (authoring.py)."""
from flask import Blueprint

bp = Blueprint("courses", __name__)

from lms.courses.views import authoring, learner  # noqa: E402,F401  (routes register on bp)

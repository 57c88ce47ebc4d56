"""The notifications the mentoring domain sends, and what they say."""
from __future__ import annotations

from flask import url_for
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from lms.mentoring.nudges import template_text
from lms.notify.kinds import register


def _thread(params: dict) -> str:
    return url_for("help.thread", request_id=params["request_id"])


def register_kinds() -> None:
    register("nudge", _l("A message from your mentor %(mentor)s"), template_text,
             lambda params: url_for("courses.my_learning"))
    register("mentor_assigned", _l("%(mentor)s is now your mentor"),
             lambda params: str(_l("Your mentor helps you with your digital-skills training. "
                                   "Use “Ask for help” on any lesson or quiz result.")),
             lambda params: url_for("help.my_requests"))
    register("mentees_assigned", _l("You have new mentees"),
             lambda params: ngettext("%(num)d colleague: %(names)s", "%(num)d colleagues: %(names)s",
                                     int(params.get("count", 0)), names=params.get("names", "")),
             lambda params: url_for("mentoring.index"))
    register("help_request", _l("%(name)s asks for help"),
             lambda params: str(params.get("place", "")), _thread)
    register("help_reply", _l("%(name)s replied to the question"),
             lambda params: str(params.get("place", "")), _thread)
    register("help_solved", _l("%(name)s marked the question solved"),
             lambda params: str(params.get("place", "")), _thread)
    register("help_escalated", _l("%(name)s has waited too long for help"),
             lambda params: str(_l("The question is still waiting for an answer: %(place)s",
                                   place=params.get("place", ""))), _thread)

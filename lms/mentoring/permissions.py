"""Who may pair mentors, whose progress a mentor sees, and who reads a help request.

Each rule pairs an object check with the SQL filter for lists of the same rows.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists, false, or_, select, true
from sqlalchemy.orm import Session

from lms.auth.permissions import head_scope_paths, is_admin, is_mentor, path_in_scopes
from lms.mentoring.models import HelpRecipient, HelpRequest, Mentorship
from lms.org.models import Unit, User
from lms.org.permissions import people_in_scopes_clause, person_in_scopes


def _uid(user: Any) -> int:
    return getattr(user, "id", None) or -1


# ---------------------------------------------------------------- pairing

def can_manage_mentoring(user: Any) -> bool:
    """Open the pairing pages: admins everywhere, unit heads within their subtree."""
    return is_admin(user) or bool(head_scope_paths(user))


def can_pair_in_unit(user: Any, unit: Unit) -> bool:
    return is_admin(user) or path_in_scopes(unit.path, head_scope_paths(user))


def can_pair(user: Any, mentor: User, mentee: User) -> bool:
    """Pair (or unpair) these two: admins, or a unit head above both of them."""
    if is_admin(user):
        return True
    scopes = head_scope_paths(user)
    return bool(scopes) and person_in_scopes(mentee, scopes) and person_in_scopes(mentor, scopes)


def pairable_people_clause(user: Any) -> ColumnElement[bool]:
    """SQL twin of :func:`can_pair` for one side: the people this user may pair."""
    if is_admin(user):
        return true()
    scopes = head_scope_paths(user)
    return people_in_scopes_clause(scopes) if scopes else false()


def can_pair_person(user: Any, person: User) -> bool:
    """The user may give this person a mentor (or end their pairing): admins, or a unit head
    above them. The mentor must be within the user's units too (see ``can_pair``)."""
    if not can_manage_mentoring(user):
        return False
    return is_admin(user) or person_in_scopes(person, head_scope_paths(user))


# ---------------------------------------------------------------- mentees

def current_mentees(mentor_id: int):
    """SELECT of the ids of a mentor's current mentees."""
    return select(Mentorship.mentee_id).where(Mentorship.mentor_id == mentor_id,
                                              Mentorship.ended_at.is_(None))


def is_mentor_of(dbs: Session, viewer: Any, person: User) -> bool:
    """The viewer is the person's current mentor."""
    return dbs.scalar(select(exists().where(
        Mentorship.mentor_id == _uid(viewer), Mentorship.mentee_id == person.id,
        Mentorship.ended_at.is_(None)))) or False


def mentees_clause(viewer: Any) -> ColumnElement[bool]:
    """SQL twin of :func:`is_mentor_of` over ``User`` rows."""
    return User.id.in_(current_mentees(_uid(viewer)))


def can_open_mentoring(dbs: Session, user: Any) -> bool:
    """The mentor's home page: people holding the mentor role, or anyone with mentees."""
    if is_mentor(user):
        return True
    return dbs.scalar(select(exists().where(Mentorship.mentor_id == _uid(user),
                                            Mentorship.ended_at.is_(None)))) or False


# ---------------------------------------------------------------- help requests

def can_view_help_request(dbs: Session, user: Any, request: HelpRequest) -> bool:
    """The learner who asked, their mentor, the mentors it was sent or escalated to, admins."""
    uid = _uid(user)
    if uid in (request.learner_id, request.mentor_id) or is_admin(user):
        return True
    return dbs.scalar(select(exists().where(HelpRecipient.request_id == request.id,
                                            HelpRecipient.user_id == uid))) or False


def help_requests_to_me_clause(user: Any) -> ColumnElement[bool]:
    """The requests a mentor answers: addressed to them, or sent or escalated to them."""
    uid = _uid(user)
    sent = select(HelpRecipient.request_id).where(HelpRecipient.user_id == uid)
    return or_(HelpRequest.mentor_id == uid, HelpRequest.id.in_(sent))


def can_answer_help_request(dbs: Session, user: Any, request: HelpRequest) -> bool:
    """Write in the thread: the learner and every mentor who may read it (an admin only
    reads, unless they are one of them)."""
    uid = _uid(user)
    if uid in (request.learner_id, request.mentor_id):
        return True
    return dbs.scalar(select(exists().where(HelpRecipient.request_id == request.id,
                                            HelpRecipient.user_id == uid))) or False

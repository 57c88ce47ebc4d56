"""Reads for the organisation pages, each one query (plus eager loads) with its permission filter."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, selectinload

from lms.org.models import Role, RoleGrant, Unit, User
from lms.org.permissions import visible_people_clause, visible_units_clause
from lms.pagination import Page, paginate
from lms.text import fold, like_escape


@dataclass
class TreeNode:
    unit: Unit
    headcount: int = 0
    subtree_headcount: int = 0
    children: list[TreeNode] = field(default_factory=list)


def unit_tree(dbs: Session, viewer: Any, include_inactive: bool = True) -> list[TreeNode]:
    """The units the viewer may see as a forest, with direct and subtree headcounts.

    Two queries: the units, and active people counted per unit in SQL.
    """
    query = select(Unit).where(visible_units_clause(viewer)).order_by(Unit.path)
    if not include_inactive:
        query = query.where(Unit.is_active.is_(True))
    units = dbs.scalars(query).all()
    counts = dict(dbs.execute(
        select(User.unit_id, func.count()).where(User.is_active.is_(True)).group_by(User.unit_id)
    ).all())
    nodes = {u.id: TreeNode(u, headcount=counts.get(u.id, 0)) for u in units}
    roots: list[TreeNode] = []
    for unit in sorted(units, key=lambda u: (u.depth, u.kind, fold(u.name))):
        node = nodes[unit.id]
        parent = nodes.get(unit.parent_id) if unit.parent_id else None
        (parent.children if parent else roots).append(node)
    _sum_subtrees(roots)
    return roots


def _sum_subtrees(nodes: list[TreeNode]) -> int:
    total = 0
    for node in nodes:
        node.subtree_headcount = node.headcount + _sum_subtrees(node.children)
        total += node.subtree_headcount
    return total


def visible_units(dbs: Session, viewer: Any, active_only: bool = False) -> list[Unit]:
    query = select(Unit).where(visible_units_clause(viewer)).order_by(Unit.path)
    if active_only:
        query = query.where(Unit.is_active.is_(True))
    return list(dbs.scalars(query).all())


def unit_options(dbs: Session, viewer: Any, active_only: bool = True) -> list[tuple[int, str]]:
    """(id, indented name) pairs for a unit <select>, in tree order."""
    units = visible_units(dbs, viewer, active_only)
    by_parent: dict[int | None, list[Unit]] = {}
    ids = {u.id for u in units}
    for unit in units:
        by_parent.setdefault(unit.parent_id if unit.parent_id in ids else None, []).append(unit)
    options: list[tuple[int, str]] = []

    def walk(parent_id: int | None, depth: int) -> None:
        for unit in sorted(by_parent.get(parent_id, []), key=lambda u: (u.kind, fold(u.name))):
            options.append((unit.id, f"{'— ' * depth}{unit.name} ({unit.code})"))
            walk(unit.id, depth + 1)

    walk(None, 0)
    return options


@dataclass
class PeopleFilter:
    q: str = ""
    unit_id: int | None = None
    include_sub_units: bool = True
    role: str = ""
    status: str = "active"  # active | inactive | all


def people_page(dbs: Session, viewer: Any, filters: PeopleFilter, page: int,
                per_page: int) -> Page[User]:
    """A page of the people the viewer may see, filtered and searched accent-insensitively."""
    query = (
        select(User)
        .where(visible_people_clause(viewer))
        .options(selectinload(User.unit))
        .order_by(User.sort_name, User.id)
    )
    for word in fold(filters.q).split():
        query = query.where(User.search_text.like(f"%{like_escape(word)}%", escape="\\"))
    if filters.unit_id:
        unit = dbs.get(Unit, filters.unit_id)
        if unit is not None and filters.include_sub_units:
            query = query.where(User.unit_id.in_(select(Unit.id).where(Unit.path.startswith(unit.path))))
        else:
            query = query.where(User.unit_id == filters.unit_id)
    if filters.role in {r.value for r in Role}:
        query = query.where(User.id.in_(select(RoleGrant.user_id).where(RoleGrant.role == filters.role)))
    if filters.status == "active":
        query = query.where(User.is_active.is_(True))
    elif filters.status == "inactive":
        query = query.where(User.is_active.is_(False))
    return paginate(dbs, query, page, per_page)


def unit_summary(dbs: Session, unit: Unit) -> dict[str, int]:
    """Headcount of a unit alone and with everything below it, and its sub-unit count."""
    subtree = select(Unit.id).where(Unit.path.startswith(unit.path), Unit.is_active.is_(True))
    row = dbs.execute(select(
        func.count(User.id).filter(User.unit_id == unit.id),
        func.count(User.id),
    ).where(User.unit_id.in_(subtree), User.is_active.is_(True))).one()
    sub_units = dbs.scalar(select(func.count()).select_from(Unit).where(
        and_(Unit.path.startswith(unit.path), Unit.id != unit.id, Unit.is_active.is_(True))))
    return {"own": row[0], "subtree": row[1], "sub_units": sub_units or 0}

"""The demo ministry: about 40 units on three levels, about 300 staff, their roles.

``load_demo`` builds everything through the organisation services, flushes and never
commits (the caller does). It is idempotent and deterministic: a second call finds the
ministry (unit ``BNG``) and only looks the demo accounts up again.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms.auth.passwords import hash_password
from lms.org.models import DEFAULT_TIMEZONE, Role, Unit, UnitKind, User
from lms.org.services import PersonData, UnitData, create_person, create_unit, grant_role
from lms.text import fold

DEMO_PASSWORD = "hocvuso2025"
DOMAIN = "mofa.example"  # reserved TLD: no mail ever reaches a real mailbox
ROOT_CODE = "BNG"
IT_CODE = "CYCNTT"
UNITS_FILE = Path(__file__).parent / "ministry.yaml"


@dataclass(frozen=True)
class DemoAccount:
    role_label: str
    login: str
    full_name: str
    unit_name: str


@dataclass(frozen=True)
class _Named:
    """A person placed by hand; ``head`` takes the unit's head position."""

    unit: str
    name: str
    position: str = ""
    login: str = ""
    label: str = ""
    head: bool = False


NAMED = (
    _Named(IT_CODE, "Trần Minh Quân", "Chuyên viên CNTT", f"admin@{DOMAIN}", "Quản trị viên"),
    _Named(IT_CODE, "Lê Thu Hương", "Chuyên viên chính", f"trainer@{DOMAIN}", "Giảng viên"),
    _Named(IT_CODE, "Hoàng Đức Thắng", login=f"head.it@{DOMAIN}", label="Trưởng đơn vị", head=True),
    _Named("CLS", "Phạm Thị Thanh Hà", login=f"head.consular@{DOMAIN}", label="Trưởng đơn vị",
           head=True),
    _Named("CYCNTT-HTUD", "Đặng Quốc Việt", "Chuyên viên CNTT", f"mentor@{DOMAIN}",
           "Người hỗ trợ (mentor)"),
    _Named("CLS-HC", "Nguyễn Thị Hồng Nhung", "Chuyên viên", f"learner@{DOMAIN}", "Học viên"),
    _Named("TTBC-TTDT", "Bùi Thanh Sơn", "Chuyên viên"),
)
# Units whose head gets the unit-head role (scoped to the unit and everything below it).
HEAD_UNITS = (IT_CODE, "CLS", "TCCB", "CLS-HC", "DSQ-PHAP")
MENTOR_POSITIONS = ("Chuyên viên", "Chuyên viên CNTT")

# (name prefix, head position, deputy position) for each kind of unit.
TITLES = (
    ("Tổng Lãnh sự quán", "Tổng Lãnh sự", "Tham tán"),
    ("Đại sứ quán", "Đại sứ", "Tham tán"),
    ("Bộ phận", "Tham tán", ""),
    ("Cục", "Cục trưởng", "Phó Cục trưởng"),
    ("Vụ", "Vụ trưởng", "Phó Vụ trưởng"),
    ("Văn phòng", "Chánh Văn phòng", "Phó Chánh Văn phòng"),
    ("Học viện", "Giám đốc Học viện", "Phó Giám đốc Học viện"),
    ("Phòng", "Trưởng phòng", "Phó Trưởng phòng"),
)
SENIORITY = ("Thứ trưởng", "Bí thư thứ nhất", "Chuyên viên chính", "Chuyên viên",
             "Chuyên viên CNTT")
MINISTRY_LEADERS = 3  # deputy ministers at the root; the minister is not part of the demo

FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng",
          "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý")
FAMILY_WEIGHTS = (30, 11, 9, 7, 5, 4, 4, 4, 3, 3, 3, 3, 2, 2, 2, 1)
MIDDLE_MEN = ("Văn", "Đức", "Minh", "Quốc", "Thanh", "Hữu", "Công", "Xuân", "Mạnh", "Tiến",
              "Quang", "Trọng", "Anh", "Việt")
MIDDLE_WOMEN = ("Thị", "Thu", "Hồng", "Ngọc", "Thanh", "Minh", "Phương", "Thùy", "Kim", "Mai",
                "Thị Thu", "Thị Hồng", "Thị Ngọc", "Thị Minh", "Thị Thanh")
GIVEN_MEN = ("Sơn", "Việt", "Tuấn", "Dũng", "Hùng", "Long", "Quân", "Khánh", "Hải", "Nam",
             "Thắng", "Hiếu", "Cường", "Phong", "Bình", "Trung", "Đạt", "Huy", "Tùng", "Thành",
             "Duy", "Lâm", "Kiên", "Toàn", "Hoàng")
GIVEN_WOMEN = ("Nhung", "Hương", "Hà", "Lan", "Phương", "Trang", "Thảo", "Linh", "Mai",
               "Hằng", "Yến", "Hạnh", "Thủy", "Vân", "Chi", "Huyền", "Nga", "Giang", "Hoa",
               "Quyên", "Loan", "Dung", "Trâm", "Ngân")


def load_demo(dbs: Session) -> list[DemoAccount]:
    """Create the demo ministry unless it exists; return the demo sign-ins."""
    if dbs.scalar(select(Unit.id).where(Unit.code == ROOT_CODE)) is None:
        _Builder(dbs).build()
    return demo_accounts(dbs)


def demo_accounts(dbs: Session) -> list[DemoAccount]:
    """The demo sign-ins present in the database, looked up by their fixed e-mails."""
    accounts = []
    for named in NAMED:
        if not named.login:
            continue
        user = dbs.scalar(select(User).where(User.email == named.login))
        if user is not None:
            accounts.append(DemoAccount(named.label, user.email, user.full_name, user.unit.name))
    return accounts


def read_units() -> dict[str, Any]:
    return yaml.safe_load(UNITS_FILE.read_text(encoding="utf-8"))


@dataclass
class _Slot:
    position: str
    named: _Named | None = None
    person: User | None = None


class _Builder:
    def __init__(self, dbs: Session) -> None:
        self.dbs = dbs
        self.rng = random.Random(2025)
        self.units: list[tuple[Unit, bool]] = []  # (unit, has children), in tree order
        self.staff: dict[str, list[_Slot]] = {}
        self.taken_names = {n.name for n in NAMED}
        self.taken_emails = {n.login for n in NAMED if n.login}
        self.serial = 0

    def build(self) -> None:
        self._add_unit(read_units(), None)
        password_hash = hash_password(DEMO_PASSWORD)  # once: argon2 is slow on purpose
        for unit, has_children in self.units:
            slots = self._plan(unit, has_children)
            for slot in slots:
                slot.person = self._add_person(unit, slot, password_hash)
            self.staff[unit.code] = slots
        self._grant_roles()

    # ------------------------------------------------------------ units

    def _add_unit(self, node: dict[str, Any], parent: Unit | None) -> None:
        timezone = node.get("timezone") or (parent.timezone if parent else DEFAULT_TIMEZONE)
        unit = create_unit(self.dbs, None, UnitData(
            code=node["code"], name=node["name"], name_en=node.get("name_en", ""),
            kind=node["kind"], parent_id=parent.id if parent else None, timezone=timezone))
        children = node.get("children") or []
        self.units.append((unit, bool(children)))
        for child in children:
            self._add_unit(child, unit)

    # ------------------------------------------------------------ staff

    def _size(self, unit: Unit, has_children: bool) -> int:
        kind, rng = unit.kind, self.rng
        if kind == UnitKind.MINISTRY.value:
            return MINISTRY_LEADERS
        if kind in (UnitKind.DEPARTMENT.value, UnitKind.INSTITUTE.value):
            return rng.randint(5, 8) if has_children else rng.randint(14, 22)
        if kind == UnitKind.MISSION.value:
            return rng.randint(4, 7) if has_children else rng.randint(5, 10)
        if unit.name.startswith("Bộ phận"):  # a section of a mission
            return rng.randint(3, 5)
        return rng.randint(5, 12)

    def _plan(self, unit: Unit, has_children: bool) -> list[_Slot]:
        """The unit's positions, head first, with the hand-placed people put in."""
        size = self._size(unit, has_children)
        if unit.kind == UnitKind.MINISTRY.value:
            positions = ["Thứ trưởng"] * size
        else:
            head, deputy = next((h, d) for prefix, h, d in TITLES if unit.name.startswith(prefix))
            positions = [head]
            if deputy:
                positions += [deputy] * (2 if size >= 10 else 1 if size >= 5 else 0)
            positions += self._ranks(unit, size - len(positions))
        slots = [_Slot(p) for p in positions]
        for named in NAMED:
            if named.unit != unit.code:
                continue
            if named.head:
                slots[0].named = named
            else:
                slots.append(_Slot(named.position, named))
        rest = sorted(slots[1:], key=lambda s: (SENIORITY.index(s.position)
                                                if s.position in SENIORITY else -1))
        return [slots[0], *rest]

    def _ranks(self, unit: Unit, count: int) -> list[str]:
        rng = self.rng
        if count <= 0:
            return []
        if unit.kind == UnitKind.MISSION.value:
            ranks = ["Chuyên viên CNTT"] if count >= 4 else []  # the IT team on the ground
            return ranks + rng.choices(("Bí thư thứ nhất", "Chuyên viên"), (2, 3),
                                       k=count - len(ranks))
        if unit.name.startswith("Bộ phận"):
            return rng.choices(("Bí thư thứ nhất", "Chuyên viên"), (1, 2), k=count)
        it_weight = 6 if unit.code.startswith(IT_CODE) else 1
        return rng.choices(("Chuyên viên chính", "Chuyên viên", "Chuyên viên CNTT"),
                           (3, 6, it_weight), k=count)

    def _add_person(self, unit: Unit, slot: _Slot, password_hash: str) -> User:
        named = slot.named
        name = named.name if named else self._new_name()
        email = named.login if named and named.login else self._email_for(name)
        self.serial += 1
        return create_person(self.dbs, None, PersonData(
            employee_code=f"BNG{self.serial:05d}", full_name=name, email=email,
            unit_id=unit.id, position=slot.position, timezone=unit.timezone,
        ), password_hash=password_hash, must_change_password=False, audit=False)

    def _new_name(self) -> str:
        rng = self.rng
        while True:
            family = rng.choices(FAMILY, FAMILY_WEIGHTS)[0]
            if rng.random() < 0.5:
                middle, given = rng.choice(MIDDLE_WOMEN), rng.choice(GIVEN_WOMEN)
            else:
                middle, given = rng.choice(MIDDLE_MEN), rng.choice(GIVEN_MEN)
            name = f"{family} {middle} {given}"
            awkward = given in (family, middle.split()[-1])
            if awkward or fold(name) == name.lower() or name in self.taken_names:
                continue  # no "Hoàng Văn Hoàng", every name shows its diacritics, no twins
            self.taken_names.add(name)
            return name

    def _email_for(self, full_name: str) -> str:
        """'Nguyễn Thị Hồng Nhung' -> nhung.nth@…, numbered on a clash."""
        *others, given = fold(full_name).split()
        stem = f"{given}.{''.join(part[0] for part in others)}"
        email, n = f"{stem}@{DOMAIN}", 1
        while email in self.taken_emails:
            n += 1
            email = f"{stem}{n}@{DOMAIN}"
        self.taken_emails.add(email)
        return email

    # ------------------------------------------------------------ roles

    def _grant_roles(self) -> None:
        dbs, people = self.dbs, {s.named.login: s.person for slots in self.staff.values()
                                 for s in slots if s.named and s.named.login}
        grant_role(dbs, None, people[f"admin@{DOMAIN}"], Role.ADMIN.value, None)
        grant_role(dbs, None, people[f"trainer@{DOMAIN}"], Role.TRAINER.value, None)
        for code in HEAD_UNITS:
            head = self.staff[code][0].person
            grant_role(dbs, None, head, Role.UNIT_HEAD.value, head.unit_id)
        mentor_kinds = {UnitKind.DEPARTMENT.value, UnitKind.INSTITUTE.value,
                        UnitKind.DIVISION.value}
        for unit, _children in self.units:
            slots = self.staff[unit.code]
            if unit.kind not in mentor_kinds or len(slots) < 6:
                continue
            wanted = 2 if len(slots) >= 10 else 1
            fixed = [s for s in slots if s.named and s.named.login == f"mentor@{DOMAIN}"]
            pool = [s for s in slots if s.position in MENTOR_POSITIONS and s.named is None]
            chosen = fixed + self.rng.sample(pool, min(len(pool), wanted - len(fixed)))
            for slot in chosen:
                grant_role(dbs, None, slot.person, Role.MENTOR.value, unit.id)

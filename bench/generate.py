#!/usr/bin/env python
"""Build a big ministry for benchmarks, on PostgreSQL or SQLite.

    python bench/generate.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/lms_bench --create
    python bench/generate.py --database-url sqlite:////tmp/lms_bench.db

Defaults: 50,000 people in 400 units on 3 levels, 20 published courses, 1,000,000
enrolments with realistic statuses and dates, and the lesson progress that follows from
them. The schema is made by the app's own Alembic migrations, on an empty database; rows
are then bulk-loaded (COPY on PostgreSQL, executemany in big transactions on SQLite),
bypassing the services for speed but computing every derived column the way they do.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import random
import sqlite3
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common  # noqa: E402

DAY = 86400.0
YEAR = 365 * DAY
EPOCH = datetime(1970, 1, 1)
BATCH = 50_000

# ------------------------------------------------------------------ vocabulary

SURNAMES = [("Nguyễn", 38), ("Trần", 11), ("Lê", 9.5), ("Phạm", 7), ("Hoàng", 4), ("Huỳnh", 1.5),
            ("Phan", 4.5), ("Vũ", 3), ("Võ", 1.5), ("Đặng", 2.1), ("Bùi", 2), ("Đỗ", 1.4),
            ("Hồ", 1.3), ("Ngô", 1.3), ("Dương", 1), ("Lý", 0.5), ("Đào", 0.6), ("Đinh", 0.6),
            ("Trịnh", 0.5), ("Mai", 0.4), ("Lương", 0.4), ("Tạ", 0.3), ("Chu", 0.3), ("Lưu", 0.3)]
MIDDLE_M = ["Văn", "Đức", "Minh", "Quốc", "Hữu", "Thanh", "Xuân", "Công", "Tuấn", "Ngọc",
            "Hoàng", "Trọng", "Anh", "Mạnh", "Việt", "Duy", "Quang", "Đình"]
MIDDLE_F = ["Thị", "Thu", "Ngọc", "Thanh", "Hồng", "Minh", "Phương", "Kim", "Mai", "Diệu",
            "Thùy", "Bích", "Lan", "Khánh", "Hải", "Tuyết"]
GIVEN_M = ["An", "Bình", "Cường", "Dũng", "Đạt", "Hải", "Hùng", "Huy", "Khánh", "Long", "Minh",
           "Nam", "Phong", "Quân", "Quang", "Sơn", "Thắng", "Thành", "Trung", "Tuấn", "Việt",
           "Vinh", "Hiếu", "Đức", "Tùng", "Kiên", "Lâm", "Nghĩa", "Phúc", "Toàn", "Hưng", "Tâm"]
GIVEN_F = ["Anh", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hoa", "Hương", "Huyền", "Lan",
           "Linh", "Mai", "Nga", "Ngọc", "Nhung", "Oanh", "Phương", "Quỳnh", "Thảo", "Thủy",
           "Trang", "Vân", "Yến", "Hồng", "Ly", "My", "Nhàn", "Tâm", "Thư", "Uyên", "Xuân"]
POSITIONS = [("Chuyên viên", 50), ("Chuyên viên chính", 18), ("Chuyên viên cao cấp", 4),
             ("Phó Trưởng phòng", 8), ("Trưởng phòng", 5), ("Cán sự", 6), ("Nhân viên", 5),
             ("Bí thư thứ ba", 2), ("Bí thư thứ nhất", 1), ("Tham tán", 1)]

DEPARTMENTS = [
    ("Văn phòng Bộ", "Ministry Office"),
    ("Vụ Tổ chức cán bộ", "Department of Personnel and Organisation"),
    ("Vụ Tài chính – Kế toán", "Department of Finance and Accounting"),
    ("Vụ Luật pháp và Điều ước quốc tế", "Department of International Law and Treaties"),
    ("Vụ Chính sách đối ngoại", "Department of Foreign Policy"),
    ("Vụ ASEAN", "ASEAN Department"),
    ("Vụ Hợp tác kinh tế đa phương", "Department of Multilateral Economic Cooperation"),
    ("Vụ Các tổ chức quốc tế", "Department of International Organisations"),
    ("Vụ Đông Nam Á – Nam Á – Nam Thái Bình Dương",
     "Department of Southeast Asia, South Asia and the South Pacific"),
    ("Vụ Đông Bắc Á", "Department of Northeast Asia"),
    ("Vụ Châu Âu", "Department of Europe"),
    ("Vụ Châu Mỹ", "Department of the Americas"),
    ("Vụ Tây Á – Châu Phi", "Department of West Asia and Africa"),
    ("Vụ Thông tin Báo chí", "Press and Information Department"),
    ("Vụ Ngoại giao văn hóa và UNESCO", "Department of Cultural Diplomacy and UNESCO"),
    ("Vụ Tổng hợp kinh tế", "Department of Economic Affairs"),
    ("Vụ Thi đua – Khen thưởng", "Department of Emulation and Commendation"),
    ("Cục Lãnh sự", "Consular Department"),
    ("Cục Lễ tân Nhà nước", "State Protocol Department"),
    ("Cục Ngoại vụ", "Department of External Affairs"),
    ("Cục Quản trị tài vụ", "Department of Administration and Finance"),
    ("Cục Cơ yếu và Công nghệ thông tin", "Department of Cryptography and IT"),
    ("Cục Phục vụ ngoại giao đoàn", "Diplomatic Corps Service Department"),
    ("Ủy ban Biên giới quốc gia", "National Boundary Commission"),
    ("Ủy ban Nhà nước về người Việt Nam ở nước ngoài", "State Committee for Overseas Vietnamese"),
]
INSTITUTES = [("Học viện Ngoại giao", "Diplomatic Academy of Vietnam"),
              ("Báo Thế giới và Việt Nam", "The World and Vietnam Report")]
MISSIONS = [
    ("Pháp", "France", "Europe/Paris"), ("Nhật Bản", "Japan", "Asia/Tokyo"),
    ("Hoa Kỳ", "the United States", "America/New_York"), ("Trung Quốc", "China", "Asia/Shanghai"),
    ("Liên bang Nga", "the Russian Federation", "Europe/Moscow"), ("Đức", "Germany", "Europe/Berlin"),
    ("Vương quốc Anh", "the United Kingdom", "Europe/London"),
    ("Ô-xtơ-rây-li-a", "Australia", "Australia/Sydney"),
    ("Hàn Quốc", "the Republic of Korea", "Asia/Seoul"), ("Ấn Độ", "India", "Asia/Kolkata"),
    ("Xin-ga-po", "Singapore", "Asia/Singapore"), ("Thái Lan", "Thailand", "Asia/Bangkok"),
    ("Ai Cập", "Egypt", "Africa/Cairo"), ("Bra-xin", "Brazil", "America/Sao_Paulo"),
    ("Các Tiểu vương quốc Ả-rập Thống nhất", "the United Arab Emirates", "Asia/Dubai"),
]
DIVISIONS = [
    ("Phòng Tổng hợp", "General Affairs Division"),
    ("Phòng Hành chính – Quản trị", "Administration Division"),
    ("Phòng Kế hoạch – Tài chính", "Planning and Finance Division"),
    ("Phòng Nghiên cứu", "Research Division"),
    ("Phòng Chính sách", "Policy Division"), ("Phòng Hợp tác song phương", "Bilateral Cooperation Division"),
    ("Phòng Hợp tác đa phương", "Multilateral Cooperation Division"), ("Phòng Pháp chế", "Legal Division"),
    ("Phòng Thông tin", "Information Division"), ("Phòng Lãnh sự", "Consular Division"),
    ("Phòng Bảo hộ công dân", "Citizen Protection Division"), ("Phòng Kinh tế", "Economic Division"),
    ("Phòng Văn hóa", "Culture Division"), ("Phòng Công nghệ thông tin", "IT Division"),
    ("Phòng An ninh mạng", "Cyber Security Division"), ("Phòng Lưu trữ", "Archives Division"),
    ("Phòng Đào tạo", "Training Division"), ("Phòng Cán bộ", "Personnel Division"),
]
MISSION_DIVISIONS = [("Phòng Chính trị", "Political Section"), ("Phòng Lãnh sự", "Consular Section"),
                     ("Phòng Kinh tế", "Economic Section"),
                     ("Phòng Văn hóa – Báo chí", "Culture and Press Section"),
                     ("Phòng Hành chính", "Administration Section")]

COURSES = [
    ("An toàn thông tin trong công việc", "security"),
    ("Mật khẩu mạnh và xác thực hai lớp", "security"),
    ("Nhận diện lừa đảo trực tuyến", "security"),
    ("Văn bản điện tử và chữ ký số", "documents"),
    ("Quản lý hồ sơ điện tử", "documents"),
    ("Soạn thảo văn bản hành chính trên máy tính", "documents"),
    ("Cổng thông tin điện tử của Bộ", "portal"),
    ("Cập nhật tin bài lên cổng thông tin", "portal"),
    ("Chia sẻ dữ liệu qua nền tảng LGSP", "data"),
    ("Bảo vệ dữ liệu cá nhân", "data"),
    ("Khai thác cơ sở dữ liệu quốc gia về dân cư", "data"),
    ("Dịch vụ công trực tuyến và VNeID", "public_services"),
    ("Hỗ trợ công dân làm thủ tục lãnh sự trực tuyến", "public_services"),
    ("Thanh toán trực tuyến trong dịch vụ công", "public_services"),
    ("Công cụ số hằng ngày", "tools"),
    ("Họp trực tuyến hiệu quả", "tools"),
    ("Làm việc với bảng tính", "tools"),
    ("Lưu trữ đám mây an toàn", "tools"),
    ("Trí tuệ nhân tạo trong công việc văn phòng", "other"),
    ("Kỹ năng số cho cán bộ tại cơ quan đại diện", "other"),
]
MODULE_TITLES = ["Nhận thức chung", "Những điều cần biết", "Thực hành từng bước", "Tình huống thường gặp",
                 "Quy định và trách nhiệm", "Mẹo và lỗi thường gặp", "Kiểm tra lại kiến thức"]
LESSON_TITLES = [
    "Vì sao điều này quan trọng", "Các khái niệm cơ bản", "Chuẩn bị trước khi bắt đầu",
    "Thực hành: làm lần đầu", "Những lỗi thường gặp", "Tình huống tại cơ quan đại diện",
    "Quy định cần nắm", "Bảo vệ tài khoản của bạn", "Chia sẻ đúng kênh", "Khi gặp sự cố",
    "Làm việc cùng đồng nghiệp", "Mẹo tiết kiệm thời gian", "Tự kiểm tra", "Tổng kết và bước tiếp theo",
    "Hỏi đáp nhanh", "Ví dụ thực tế",
]
SENTENCES = [
    "Mỗi cán bộ, công chức đều cần nắm chắc những thao tác cơ bản này trong công việc hằng ngày.",
    "Hãy làm theo từng bước dưới đây và đối chiếu với tình huống tại đơn vị của mình.",
    "Trước khi gửi tài liệu, luôn kiểm tra lại người nhận và mức độ mật của văn bản.",
    "Không dùng ứng dụng chat cá nhân để trao đổi nội dung công việc.",
    "Khi có nghi ngờ, hãy xác minh qua một kênh khác mà bạn chủ động chọn.",
    "Thông tin của công dân là dữ liệu cá nhân được bảo vệ theo Nghị định số 13/2023/NĐ-CP.",
    "Bộ phận công nghệ thông tin của đơn vị luôn sẵn sàng hỗ trợ khi bạn cần.",
    "Bạn có thể mở lại bài học này bất cứ lúc nào từ trang Học tập của tôi.",
    "Ghi lại các bước đã làm giúp bạn và đồng nghiệp xử lý nhanh hơn lần sau.",
    "Tại cơ quan đại diện ở nước ngoài, hãy lưu ý chênh lệch múi giờ khi hẹn lịch họp.",
    "Một thói quen nhỏ, lặp lại mỗi ngày, bảo vệ cả đơn vị trước những rủi ro lớn.",
    "Văn bản điện tử có chữ ký số có giá trị pháp lý như văn bản giấy.",
]
BULLETS = [
    "Bật xác thực hai lớp cho mọi tài khoản công vụ.", "Cập nhật hệ điều hành và trình duyệt thường xuyên.",
    "Khóa màn hình khi rời khỏi bàn làm việc.", "Đặt tên tệp rõ ràng, có ngày tháng và phiên bản.",
    "Lưu tài liệu công việc vào kho lưu trữ của Bộ.", "Báo ngay cho bộ phận phụ trách khi nghi ngờ sự cố.",
    "Không cắm USB không rõ nguồn gốc vào máy tính cơ quan.",
    "Kiểm tra kỹ địa chỉ trang web trước khi đăng nhập.",
    "Dùng cụm mật khẩu dài, dễ nhớ với bạn, khó đoán với người khác.",
    "Chỉ chia sẻ quyền truy cập cho đúng người, đúng thời hạn.",
]


def slugify(text: str) -> str:
    from lms.text import fold

    return "-".join("".join(ch if ch.isalnum() else " " for ch in fold(text)).split())


def lesson_body(rng: random.Random) -> str:
    parts = [" ".join(rng.sample(SENTENCES, 3)), "## Cần ghi nhớ"]
    parts.append("\n".join(f"- {b}" for b in rng.sample(BULLETS, rng.randint(3, 5))))
    parts.append(f"**Lưu ý:** {rng.choice(SENTENCES)} {rng.choice(SENTENCES)}")
    if rng.random() < 0.4:
        steps = rng.sample(BULLETS, 3)
        parts += ["## Thực hành", "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))]
    parts.append(f"> {rng.choice(SENTENCES)}")
    return "\n\n".join(parts) + "\n"


# ------------------------------------------------------------------ helpers


def iso(ts: float | None) -> str | None:
    """UTC seconds -> the text both databases read as that UTC instant (PostgreSQL with
    TimeZone=UTC; SQLite in SQLAlchemy's own storage format)."""
    if ts is None:
        return None
    return (EPOCH + timedelta(seconds=ts)).isoformat(" ", "microseconds")


@contextlib.contextmanager
def step(label: str, timings: dict[str, float]) -> Iterator[None]:
    start = time.perf_counter()
    print(f"{label} ...", flush=True)
    yield
    elapsed = time.perf_counter() - start
    timings[label] = elapsed
    print(f"  {label}: {elapsed:.1f} s", flush=True)


# ------------------------------------------------------------------ the data


class Ministry:
    """Every generated row, except the two big tables, which are streamed."""

    def __init__(self, rng: random.Random, now: float, n_units: int, n_users: int, n_courses: int,
                 password_hash: str | None) -> None:
        self.rng, self.now = rng, now
        self.units: list[tuple] = []
        self.users: list[tuple] = []
        self.grants: list[tuple] = []
        self.courses: list[tuple] = []
        self.modules: list[tuple] = []
        self.lessons: list[tuple] = []
        self.user_unit: list[int] = []  # by user index
        self.unit_zeal: dict[int, float] = {}
        self.course_plan: list[tuple] = []  # (course_id, ordered [(lesson_id, required)], mandatory)
        self._make_units(n_units)
        self._make_users(n_users, password_hash)
        self._make_grants()
        self._make_courses(n_courses)

    def _make_units(self, n: int) -> None:
        rng, created = self.rng, iso(self.now - 2 * YEAR)
        n = max(n, 1)
        n2 = min(n - 1, max(1, round(n / 10))) if n > 1 else 0
        n3 = n - 1 - n2
        self.units.append((1, "BNG", "Bộ Ngoại giao", "Ministry of Foreign Affairs", "ministry", None,
                           "/1/", "Asia/Ho_Chi_Minh", True, created))
        level2: list[tuple[int, str, str, bool]] = []  # (id, code, path, is_mission)
        n_missions = min(len(MISSIONS), round(n2 * 0.375))
        n_institutes = min(len(INSTITUTES), 1 if n2 >= 8 else 0)
        for i in range(n2):
            uid = 2 + i
            if i < n2 - n_missions - n_institutes:
                name, name_en = DEPARTMENTS[i % len(DEPARTMENTS)]
                if i >= len(DEPARTMENTS):
                    again = i // len(DEPARTMENTS) + 1
                    name, name_en = f"{name} {again}", f"{name_en} {again}"
                kind, tz, code, mission = "department", "Asia/Ho_Chi_Minh", f"V{i + 1:02d}", False
            elif i < n2 - n_missions:
                name, name_en = INSTITUTES[i - (n2 - n_missions - n_institutes)]
                kind, tz, code, mission = "institute", "Asia/Ho_Chi_Minh", f"HV{i + 1:02d}", False
            else:
                country, country_en, tz = MISSIONS[i - (n2 - n_missions)]
                name, name_en = f"Đại sứ quán Việt Nam tại {country}", f"Embassy of Viet Nam in {country_en}"
                kind, code, mission = "mission", f"DSQ{i + 1:02d}", True
            path = f"/1/{uid}/"
            self.units.append((uid, code, name, name_en, kind, 1, path, tz, True, created))
            level2.append((uid, code, path, mission))
        # Divisions: missions get a few, departments the rest, unevenly.
        weights = [0.4 if m else rng.uniform(0.6, 1.6) for *_, m in level2]
        parents = rng.choices(range(len(level2)), weights=weights, k=n3) if level2 else []
        parents.sort()
        used: dict[int, int] = {}
        for j, p in enumerate(parents):
            uid = 2 + n2 + j
            pid, pcode, ppath, mission = level2[p]
            k = used.get(p, 0)
            used[p] = k + 1
            names = MISSION_DIVISIONS if mission else DIVISIONS
            name, name_en = names[k % len(names)]
            if k >= len(names):
                name, name_en = f"{name} {k // len(names) + 1}", f"{name_en} {k // len(names) + 1}"
            tz = self.units[pid - 1][7]
            self.units.append((uid, f"{pcode}-P{k + 1:02d}", name, name_en, "division", pid,
                               f"{ppath}{uid}/", tz, True, created))
        # Some units are keen, some behind: shifts their share of completed courses.
        self.unit_zeal = {u[0]: rng.uniform(-0.1, 0.1) for u in self.units}

    def _make_users(self, n: int, password_hash: str | None) -> None:
        from lms.org.models import User
        from lms.org.services import set_derived_names

        rng, now = self.rng, self.now
        # People sit mostly in divisions; a few in the ministry's and departments' front offices.
        unit_ids = [u[0] for u in self.units]
        weights = [0.3 if u[4] == "ministry" else (0.4 if u[5] == 1 else rng.uniform(0.5, 1.5))
                   for u in self.units]
        self.user_unit = rng.choices(unit_ids, weights=weights, k=n)
        tz_of = {u[0]: u[7] for u in self.units}
        surnames, surname_w = zip(*SURNAMES, strict=True)
        positions, position_w = zip(*POSITIONS, strict=True)
        taken: dict[str, int] = {}
        for i in range(n):
            female = rng.random() < 0.52
            surname = rng.choices(surnames, surname_w)[0]
            middles = rng.sample(MIDDLE_F if female else MIDDLE_M, 2 if rng.random() < 0.25 else 1)
            given = rng.choice(GIVEN_F if female else GIVEN_M)
            full_name = " ".join([surname, *middles, given])
            person = User(full_name=full_name, employee_code=f"CB{i + 1:06d}", email="")
            local = slugify(given).replace("-", "") + "".join(slugify(w)[0] for w in [surname, *middles])
            count = taken.get(local, 0) + 1
            taken[local] = count
            person.email = f"{local}{count if count > 1 else ''}@mofa.example"
            set_derived_names(person)  # search_text and sort_name exactly as the services do
            unit_id = self.user_unit[i]
            created = now - rng.uniform(1.1 * YEAR, 3 * YEAR)
            last_login = now - rng.uniform(0, 30 * DAY) if rng.random() < 0.8 else None
            self.users.append((
                i + 1, person.employee_code, full_name, person.email, person.search_text,
                person.sort_name, password_hash, unit_id, rng.choices(positions, position_w)[0],
                "en" if rng.random() < 0.05 else "vi", tz_of[unit_id], rng.random() >= 0.01,
                False, 0, None, iso(last_login), iso(created), iso(created)))

    def _make_grants(self) -> None:
        """An admin, a few trainers, a head for each department or mission, some mentors."""
        rng, at = self.rng, iso(self.now - YEAR)
        granted: list[tuple[int, str, int | None]] = []
        by_unit: dict[int, list[int]] = {}
        for index, unit_id in enumerate(self.user_unit):
            by_unit.setdefault(unit_id, []).append(index + 1)
        if self.users:
            granted.append((1, "admin", None))
            for user_id in range(2, min(5, len(self.users)) + 1):
                granted.append((user_id, "trainer", None))
        for unit in self.units:
            if unit[5] == 1 and by_unit.get(unit[0]):
                granted.append((by_unit[unit[0]][0], "unit_head", unit[0]))
        mentors = rng.sample(range(1, len(self.users) + 1), len(self.users) // 200)
        granted += [(user_id, "mentor", None) for user_id in mentors]
        seen = set()
        for user_id, role, unit_id in granted:
            if (user_id, role) not in seen:
                seen.add((user_id, role))
                self.grants.append((len(self.grants) + 1, user_id, role, unit_id, None, at))

    def _make_courses(self, n: int) -> None:
        from lms.text import fold

        rng, now = self.rng, self.now
        lesson_id = module_id = 0
        for c in range(n):
            title, topic = COURSES[c % len(COURSES)]
            if c >= len(COURSES):
                title = f"{title} (phần {c // len(COURSES) + 1})"
            course_id = c + 1
            summary = " ".join(rng.sample(SENTENCES, 4)) + "\n\n" + " ".join(rng.sample(SENTENCES, 2))
            outcomes = "\n".join(rng.sample(BULLETS, 4))
            n_modules = rng.randint(2, 4)
            n_lessons = rng.randint(max(6, n_modules), 12)
            cuts = sorted(rng.sample(range(1, n_lessons), n_modules - 1))
            sizes = [b - a for a, b in zip([0, *cuts], [*cuts, n_lessons], strict=True)]
            plan: list[tuple[int, bool]] = []
            minutes_total = 0
            published = now - rng.uniform(1.02 * YEAR, 1.5 * YEAR)
            titles = rng.sample(MODULE_TITLES, n_modules)
            for m, size in enumerate(sizes):
                module_id += 1
                self.modules.append((module_id, course_id, m + 1, titles[m], False))
                for position, lesson_title in enumerate(rng.sample(LESSON_TITLES, size), 1):
                    lesson_id += 1
                    required = rng.random() >= 0.12
                    minutes = rng.choice((5, 5, 8, 10, 10, 12, 15))
                    minutes_total += minutes
                    key = f"{m + 1}-{slugify(lesson_title)}"
                    self.lessons.append((
                        lesson_id, course_id, module_id, key, position, lesson_title, "text",
                        lesson_body(rng), None, "", required, False, minutes, False,
                        iso(published)))
                    plan.append((lesson_id, required))
            if not any(r for _, r in plan):  # a course always has something required
                plan[0] = (plan[0][0], True)
                row = list(self.lessons[plan[0][0] - 1])
                row[10] = True
                self.lessons[plan[0][0] - 1] = tuple(row)
            self.courses.append((
                course_id, slugify(title), title, summary, outcomes, topic, "vi", "published",
                minutes_total, True, rng.choice((12, 24, None)),
                fold(f"{title} {summary} {outcomes}")[:1000], 1 if self.users else None,
                iso(published - 30 * DAY), iso(published), iso(published)))
            self.course_plan.append((course_id, plan, c % 4 == 0))  # every 4th course is mandatory


def learning_rows(ministry: Ministry, n_enrolments: int, seed: int, emit_enrolment: Callable[[tuple], Any],
                  emit_progress: Callable[[tuple], Any]) -> dict[str, int]:
    """Stream enrolments and lesson progress, consistent with each other.

    ~45% completed (every required lesson done), ~30% in progress (some done, in order),
    ~25% not started; dates over the last 12 months; some assigned, with a due date.
    """
    rng = random.Random(seed * 7919 + 17)
    rnd, now = rng.random, ministry.now
    n_users, n_courses = len(ministry.users), len(ministry.course_plan)
    pairs = n_users * n_courses
    if n_enrolments >= pairs:
        chosen: Iterable[int] = range(pairs)
        n_enrolments = pairs
    else:
        chosen = sorted(rng.sample(range(pairs), n_enrolments))
    plans = []
    for course_id, plan, mandatory in ministry.course_plan:
        required_total = sum(1 for _, r in plan if r)
        last_required = max(i for i, (_, r) in enumerate(plan) if r)
        plans.append((course_id, plan, required_total, last_required, 0.7 if mandatory else 0.08))
    zeal, user_unit = ministry.unit_zeal, ministry.user_unit
    due_days = (30 * DAY, 45 * DAY, 60 * DAY, 90 * DAY)
    counts = {"enrolments": 0, "lesson_progress": 0, "completed": 0, "in_progress": 0,
              "not_started": 0, "assigned": 0}
    enrolment_id = progress_id = 0
    for index in chosen:
        user_index, course_index = divmod(index, n_courses)
        user_id, unit_id = user_index + 1, user_unit[user_index]
        course_id, plan, required_total, last_required, assigned_share = plans[course_index]
        enrolment_id += 1
        enrolled = now - rnd() * YEAR
        source, due = "self", None
        if rnd() < assigned_share:
            source, due = "assigned", enrolled + rng.choice(due_days)
            counts["assigned"] += 1
        roll, z = rnd(), zeal[unit_id]
        started = completed = last_lesson = last_activity = None
        done: list[int] = []
        if roll < 0.45 + z:
            status, pct = "completed", 100
            started = min(enrolled + rng.expovariate(1 / (3 * DAY)), now)
            completed = min(started + 1800 + rnd() * 45 * DAY, now)
            done = [lesson for lesson, required in plan if required or rnd() < 0.5]
            last_lesson, last_activity = done[-1], completed
        elif roll < 0.75 + z:
            status = "in_progress"
            started = min(enrolled + rng.expovariate(1 / (5 * DAY)), now)
            last_activity = started + rnd() * (now - started)
            cut = rng.randint(0, last_required)  # stops before the last required lesson
            done = [lesson for lesson, required in plan[:cut] if required or rnd() < 0.5]
            required_done = sum(1 for _, required in plan[:cut] if required)
            pct = min(99, 100 * required_done // required_total)
            last_lesson = plan[cut][0]
        else:
            status, pct = "not_started", 0
        counts[status] += 1
        end = completed if completed is not None else last_activity
        if done:
            span = (end - started) / len(done)
            for k, lesson in enumerate(done, 1):
                progress_id += 1
                emit_progress((progress_id, user_id, lesson, course_id, iso(started + span * k)))
        emit_enrolment((enrolment_id, user_id, course_id, unit_id, source, None, iso(due), status, pct,
                        iso(enrolled), iso(started), iso(completed), last_lesson, iso(last_activity),
                        iso(last_activity if last_activity is not None else enrolled)))
    counts["enrolments"], counts["lesson_progress"] = enrolment_id, progress_id
    return counts


# ------------------------------------------------------------------ columns

COLUMNS = {
    "units": "id code name name_en kind parent_id path timezone is_active created_at",
    "users": ("id employee_code full_name email search_text sort_name password_hash unit_id position locale "
              "timezone is_active must_change_password failed_logins locked_until last_login_at created_at "
              "updated_at"),
    "role_grants": "id user_id role unit_id granted_by_id granted_at",
    "courses": ("id slug title summary outcomes topic language status estimated_minutes certificate_enabled "
                "validity_months search_text created_by_id created_at updated_at published_at"),
    "course_modules": "id course_id position title is_archived",
    "lessons": ("id course_id module_id key position title kind body media_id url is_required "
                "complete_on_video_end estimated_minutes is_archived updated_at"),
    "enrolments": ("id user_id course_id unit_id source assignment_id due_at status progress_pct enrolled_at "
                   "started_at completed_at last_lesson_id last_activity_at updated_at"),
    "lesson_progress": "id user_id lesson_id course_id completed_at",
}
BIG_TABLES = ("enrolments", "lesson_progress")


def cols(table: str) -> str:
    return ", ".join(f'"{c}"' for c in COLUMNS[table].split())


# ------------------------------------------------------------------ PostgreSQL


def pg_prepare_database(url: str, create: bool, drop_existing: bool) -> None:
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    name = make_url(_common.sqlalchemy_url(url)).database
    admin = make_url(_common.sqlalchemy_url(url)).set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and drop_existing:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            print(f"dropped database {name}")
            exists = None
        if not exists:
            if not create:
                raise SystemExit(f"database {name} does not exist: add --create")
            conn.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(
                sql.Identifier(name)))
            print(f"created database {name}")


def pg_load(url: str, ministry: Ministry, n_enrolments: int, seed: int, timings: dict[str, float]) -> dict:
    import psycopg

    conninfo = _common.libpq_url(url)

    def connect() -> psycopg.Connection:
        conn = psycopg.connect(conninfo)
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '1GB'")
        return conn

    def copy(conn: psycopg.Connection, table: str, rows: Iterable[tuple]) -> None:
        with conn.cursor().copy(f"COPY {table} ({cols(table)}) FROM STDIN") as cp:
            for row in rows:
                cp.write_row(row)

    with connect() as conn:
        with step("units, people, roles, courses (COPY)", timings):
            for table, rows in (("units", ministry.units), ("users", ministry.users),
                                ("role_grants", ministry.grants), ("courses", ministry.courses),
                                ("course_modules", ministry.modules), ("lessons", ministry.lessons)):
                copy(conn, table, rows)
            conn.commit()
        # Loading into bare tables and indexing afterwards is several times faster than
        # maintaining four indexes and three foreign keys row by row.
        with step("drop secondary indexes and constraints of the big tables", timings):
            saved = {table: pg_detach(conn, table) for table in BIG_TABLES}
            conn.commit()
    first, second = connect(), connect()
    try:
        with step("enrolments and lesson progress (COPY, two connections)", timings):
            for conn, table in ((first, "enrolments"), (second, "lesson_progress")):
                conn.execute(f"TRUNCATE {table}")  # makes COPY ... FREEZE possible
            copy_sql = "COPY {} ({}) FROM STDIN WITH (FREEZE)"
            with first.cursor().copy(copy_sql.format("enrolments", cols("enrolments"))) as e, \
                    second.cursor().copy(copy_sql.format("lesson_progress", cols("lesson_progress"))) as p:
                counts = learning_rows(ministry, n_enrolments, seed, e.write_row, p.write_row)
            first.commit()
            second.commit()
    finally:
        first.close()
        second.close()
    with connect() as conn:
        with step("rebuild indexes and constraints", timings):
            for table in BIG_TABLES:
                for statement in saved[table]:
                    conn.execute(statement)
            for table in COLUMNS:
                conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                             f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)")
            conn.commit()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        with step("VACUUM ANALYZE", timings):
            conn.execute("VACUUM (ANALYZE)")
            conn.execute("CHECKPOINT")  # the load's dirty pages go to disk now, not during a benchmark
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    counts["database_bytes"] = size
    return counts


def pg_detach(conn: Any, table: str) -> list[str]:
    """Drop ``table``'s foreign keys, unique constraints and plain indexes (the primary key
    stays); return the statements that put them back exactly as the migration made them."""
    restore: list[str] = []
    constraints = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid), contype FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype IN ('f', 'u') ORDER BY contype DESC, conname",
        (table,)).fetchall()
    indexes = conn.execute(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid "
        "AND k.conrelid = i.indrelid) ORDER BY c.relname", (table,)).fetchall()
    # Foreign keys of other tables that point at this one (e.g. certificates -> enrolments)
    # would refuse the TRUNCATE before the COPY.
    pointing = conn.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE confrelid = %s::regclass AND contype = 'f' AND conrelid <> confrelid "
        "ORDER BY 1, 2", (table,)).fetchall()
    for other, name, _definition in pointing:
        conn.execute(f'ALTER TABLE {other} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    for name, _definition, _kind in constraints:
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    restore += [definition for _name, definition in indexes]
    # Unique constraints (their indexes) first, foreign keys after.
    restore += [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
                for name, definition, kind in sorted(constraints, key=lambda c: c[2] != "u")]
    restore += [f'ALTER TABLE {other} ADD CONSTRAINT "{name}" {definition}'
                for other, name, definition in pointing]
    return restore


# ------------------------------------------------------------------ SQLite


def sqlite_load(path: Path, ministry: Ministry, n_enrolments: int, seed: int,
                timings: dict[str, float]) -> dict:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1000000")  # up to ~1 GB of page cache during the load
    conn.execute("PRAGMA temp_store=MEMORY")

    def insert_sql(table: str) -> str:
        return (f"INSERT INTO {table} ({cols(table)}) VALUES "
                f"({', '.join('?' * len(COLUMNS[table].split()))})")

    try:
        with step("units, people, roles, courses (executemany)", timings):
            conn.execute("BEGIN")
            for table, rows in (("units", ministry.units), ("users", ministry.users),
                                ("role_grants", ministry.grants), ("courses", ministry.courses),
                                ("course_modules", ministry.modules), ("lessons", ministry.lessons)):
                conn.executemany(insert_sql(table), rows)
            conn.execute("COMMIT")
        with step("drop plain indexes of the big tables", timings):
            saved = conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                f"AND tbl_name IN ({', '.join('?' * len(BIG_TABLES))})", BIG_TABLES).fetchall()
            for name, _sql in saved:
                conn.execute(f'DROP INDEX "{name}"')
        with step("enrolments and lesson progress (executemany)", timings):
            buffers: dict[str, list[tuple]] = {"enrolments": [], "lesson_progress": []}
            statements = {table: insert_sql(table) for table in buffers}

            def emitter(table: str) -> Callable[[tuple], None]:
                buffer = buffers[table]

                def emit(row: tuple) -> None:
                    buffer.append(row)
                    if len(buffer) >= BATCH:
                        conn.executemany(statements[table], buffer)
                        buffer.clear()
                return emit

            conn.execute("BEGIN")
            counts = learning_rows(ministry, n_enrolments, seed, emitter("enrolments"),
                                   emitter("lesson_progress"))
            for table, buffer in buffers.items():
                conn.executemany(statements[table], buffer)
            conn.execute("COMMIT")
        with step("rebuild indexes", timings):
            for _name, statement in saved:
                conn.execute(statement)
        with step("ANALYZE", timings):
            conn.execute("ANALYZE")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    counts["database_bytes"] = path.stat().st_size
    return counts


# ------------------------------------------------------------------ main


def make_schema(url: str) -> str | None:
    """Run the app's migrations on an empty database; returns the bench password's hash."""
    from sqlalchemy import inspect

    from lms.auth.passwords import hash_password
    from lms.cli import upgrade_database
    from lms.db import db

    app = _common.make_app({"DATABASE_URL": _common.sqlalchemy_url(url)})
    with app.app_context():
        tables = inspect(db.engine).get_table_names()
        if tables:
            raise SystemExit(f"the database is not empty ({len(tables)} tables): "
                             "use a new one, or --drop-existing")
        upgrade_database()
        password_hash = hash_password(_common.BENCH_PASSWORD)
        db.engine.dispose()
    return password_hash


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True,
                        help="postgresql+psycopg://postgres@127.0.0.1:5432/lms_bench or sqlite:////tmp/lms_bench.db")
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--units", type=int, default=400)
    parser.add_argument("--courses", type=int, default=20)
    parser.add_argument("--enrolments", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--create", action="store_true",
                        help="PostgreSQL: create the database when it does not exist")
    parser.add_argument("--drop-existing", action="store_true",
                        help="drop the database (or delete the SQLite file) first")
    parser.add_argument("--summary-json", type=Path, help="also write the counts and timings here")
    args = parser.parse_args(argv)
    url = _common.sqlalchemy_url(args.database_url)
    _common.use_bench_environ(url)
    timings: dict[str, float] = {}
    total = time.perf_counter()
    if _common.is_postgres(url):
        pg_prepare_database(url, args.create, args.drop_existing)
    else:
        path = _common.sqlite_path(url)
        if args.drop_existing:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
    with step("schema (Alembic migrations)", timings):
        password_hash = make_schema(url)
    with step("generate units, people and courses", timings):
        now = time.time() // 60 * 60  # whole minute: reruns with one seed differ only by "now"
        ministry = Ministry(random.Random(args.seed), now, args.units, args.users, args.courses,
                            password_hash)
    if _common.is_postgres(url):
        counts = pg_load(url, ministry, args.enrolments, args.seed, timings)
    else:
        counts = sqlite_load(_common.sqlite_path(url), ministry, args.enrolments, args.seed, timings)
    elapsed = time.perf_counter() - total
    counts.update(units=len(ministry.units), users=len(ministry.users), role_grants=len(ministry.grants),
                  courses=len(ministry.courses), modules=len(ministry.modules),
                  lessons=len(ministry.lessons))
    print(f"\ndone in {elapsed:.1f} s")
    for key in ("units", "users", "role_grants", "courses", "modules", "lessons", "enrolments",
                "completed", "in_progress", "not_started", "assigned", "lesson_progress"):
        share = f" ({100 * counts[key] / counts['enrolments']:.1f}%)" if key in (
            "completed", "in_progress", "not_started", "assigned") and counts["enrolments"] else ""
        print(f"  {key:<16} {counts[key]:>10,}{share}")
    print(f"  database size    {counts['database_bytes'] / 2**20:,.0f} MiB")
    print(f"every account's password: {_common.BENCH_PASSWORD}")
    summary = {"database_url": url, "counts": counts, "timings": timings, "seconds": elapsed,
               "command": (f"python bench/generate.py --database-url {url} --users {args.users} "
                           f"--units {args.units} --courses {args.courses} --enrolments {args.enrolments} "
                           f"--seed {args.seed}")}
    if args.summary_json:
        args.summary_json.parent.mkdir(parents=True, exist_ok=True)
        args.summary_json.write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()

"""Text helpers shared by search, import and display."""
from __future__ import annotations

import unicodedata


def nfc(text: str) -> str:
    """Vietnamese typed on different keyboards arrives composed or decomposed: store NFC."""
    return unicodedata.normalize("NFC", text)


def clean(text: str | None) -> str:
    """Trim, collapse inner white space and normalise to NFC."""
    return nfc(" ".join((text or "").split()))


def fold(text: str) -> str:
    """Lower-case and strip Vietnamese diacritics: "Nguyễn Đức" -> "nguyen duc"."""
    text = (text or "").replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def sort_key(full_name: str) -> str:
    """Vietnamese roster order: "Nguyễn Thị Hồng Nhung" sorts under "Nhung"."""
    folded = fold(clean(full_name))
    given = folded.rsplit(" ", 1)[-1]
    return f"{given} {folded}"[:220]


def like_escape(term: str) -> str:
    """Escape LIKE wildcards so a user's "%" or "_" matches itself (use escape='\\\\')."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

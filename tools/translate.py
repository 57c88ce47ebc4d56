"""Set Vietnamese translations from a small JSON map {msgid: msgstr} (used when adding strings).

Usage: python tools/translate.py vi new-strings.json
"""
import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent / "lms/translations"


def main(locale: str, mapping_file: str) -> None:
    path = ROOT / locale / "LC_MESSAGES" / "messages.po"
    mapping = json.loads(Path(mapping_file).read_text(encoding="utf-8"))
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    for message in catalog:
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        if key in mapping:
            value = mapping[key]
            message.string = (value,) if isinstance(message.id, tuple) else value
            message.flags.discard("fuzzy")
    with path.open("wb") as fh:
        write_po(fh, catalog, width=100)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

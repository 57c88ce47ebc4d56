"""Every user-facing string has a Vietnamese and an English translation."""
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from tests.conftest import login

TRANSLATIONS = Path(__file__).resolve().parent.parent / "lms" / "translations"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def catalog(locale: str):
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=locale)


def source_ids() -> set:
    with (TRANSLATIONS / "messages.pot").open("rb") as fh:
        return {m.id for m in read_po(fh) if m.id}


@pytest.mark.parametrize("locale", ["vi", "en"])
def test_catalog_is_complete_and_consistent(locale):
    cat = catalog(locale)
    ids = {m.id for m in cat if m.id}
    assert source_ids() <= ids, f"untranslated in {locale}: {sorted(map(str, source_ids() - ids))[:5]}"
    for message in cat:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        source = message.id[0] if isinstance(message.id, tuple) else message.id
        assert all(strings), f"empty {locale} translation for {source!r}"
        assert "fuzzy" not in message.flags, source
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == set(PLACEHOLDER.findall(source)) or \
                isinstance(message.id, tuple), source


def test_the_template_catalog_holds_every_string_in_the_code():
    """`make messages` was run after the last change of a user-facing string."""
    from babel.messages.extract import extract_from_dir

    root = Path(__file__).resolve().parent.parent
    method_map = [("lms/**.py", "python"), ("templates/**.html", "jinja2")]
    keywords = {"_": None, "_l": None, "lazy_gettext": None, "gettext": None,
                "ngettext": (1, 2)}
    found = set()
    def skip_hidden(dirname: str) -> bool:  # babel would also skip "_macros" by default
        name = Path(dirname).name
        return not name.startswith(".") and name not in {"__pycache__", "node_modules"}

    for _file, _line, message, _comments, _context in extract_from_dir(
            str(root), method_map, keywords=keywords, directory_filter=skip_hidden):
        found.add(message[0] if isinstance(message, tuple) else message)
    missing = found - {m if isinstance(m, str) else m[0] for m in source_ids()}
    assert not missing, f"run `make messages`: {sorted(missing)[:5]}"


def test_vietnamese_is_the_default_and_english_is_a_click_away(client):
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="vi">' in page and "Đăng nhập" in page
    client.refresh_csrf("/login")
    client.form("/language/en", {"next": "/login"})
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in page and "Sign in" in page


def test_a_signed_in_persons_language_is_remembered(client, factory, dbs):
    person = factory.person(email="a@mofa.example")
    login(client, "a@mofa.example")
    client.form("/language/en", {"next": "/"})
    dbs.refresh(person)
    assert person.locale == "en"


def test_times_are_shown_in_the_viewers_timezone(app):
    from datetime import datetime, timezone

    from flask_babel import force_locale

    from lms.i18n import local_datetime

    moment = datetime(2025, 7, 4, 1, 30, tzinfo=timezone.utc)
    with app.test_request_context(), force_locale("en"):
        app.config["BABEL_DEFAULT_TIMEZONE"] = "Europe/Paris"
        try:
            from flask_babel import refresh
            refresh()
            assert "3:30" in local_datetime(moment)
        finally:
            app.config["BABEL_DEFAULT_TIMEZONE"] = "Asia/Ho_Chi_Minh"
    with app.test_request_context(), force_locale("en"):
        assert "8:30" in local_datetime(moment)

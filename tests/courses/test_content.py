"""Lesson Markdown is rendered safely whatever an author types."""
from html.parser import HTMLParser

import pytest

from lms.courses.content import ALLOWED_TAGS, render_markdown


class Elements(HTMLParser):
    """The real elements and attributes of a piece of HTML (escaped text is not markup)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](vbscript:msgbox(1))",
    "![x](javascript:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src=https://evil.example></iframe>",
    '<svg onload=alert(1)>',
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "<form action=https://evil.example><input name=p></form>",
    "[x](https://ok.example \"title\" onclick=\"alert(1)\")",
    "<details open ontoggle=alert(1)>",
    "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
    "<<script>script>alert(1)<</script>/script>",
    "```\n</code><script>alert(1)</script>\n```",
]


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_no_script_event_handler_or_javascript_link_survives(payload):
    for tag, attrs in Elements(str(render_markdown(payload))).found:
        assert tag in ALLOWED_TAGS, tag
        for name, value in attrs.items():
            assert not name.startswith("on") and name != "style", (tag, name)
            if name in ("href", "src"):
                safe = ("http://", "https://", "mailto:", "/", "#")
                assert (value or "").strip().lower().startswith(safe), value


def test_ordinary_markdown_keeps_its_structure():
    html = render_markdown("# Tiêu đề\n\n- một\n- hai\n\n**đậm** [Cổng](https://dichvucong.gov.vn)")
    assert "<h2>Tiêu đề</h2>" in html  # the lesson title is the page's h1
    assert "<li>một</li>" in html and "<strong>đậm</strong>" in html
    assert 'href="https://dichvucong.gov.vn"' in html and 'rel="noopener noreferrer"' in html


def test_course_files_are_linked_by_name():
    text = "![Sơ đồ](media/so-do.png) [tài liệu](media/huong-dan.pdf) ![x](media/missing.png)"
    urls = {"so-do.png": "/media/1/so-do.png?v=abc", "huong-dan.pdf": "/media/2/huong-dan.pdf"}
    html = render_markdown(text, urls)
    assert 'src="/media/1/so-do.png?v=abc"' in html and 'alt="Sơ đồ"' in html
    assert 'href="/media/2/huong-dan.pdf"' in html
    assert "#missing-media" in html


def test_tables_render_without_inline_styles():
    html = render_markdown("| a | b |\n|--:|:--|\n| 1 | 2 |")
    assert "<table>" in html and "style" not in html


def test_media_names_with_vietnamese_letters_resolve():
    html = render_markdown("![Sơ đồ](media/sơ-đồ.png)", {"sơ-đồ.png": "/media/3/x.png"})
    assert 'src="/media/3/x.png"' in html

"""Lesson text: Markdown rendered to HTML, then sanitised.

Markdown-it is set to pass no raw HTML and to refuse javascript:/data: links; nh3 (the
Ammonia sanitiser) then keeps only an allow-list of tags, attributes and URL schemes, so
no script, event handler or style attribute reaches a page whatever the author typed.
Images and links written as ``media/<file name>`` point at the course's uploaded files.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Mapping
from urllib.parse import unquote

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

ALLOWED_TAGS = {
    "p", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "strong", "em", "a", "code", "pre",
    "blockquote", "hr", "br", "img", "table", "thead", "tbody", "tr", "th", "td", "del", "s",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}
MEDIA_PREFIX = "media/"

_parser = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(
    ["table", "strikethrough"])


def _rewrite(tokens, media_urls: Mapping[str, str]) -> None:
    for token in tokens:
        if token.type == "heading_open":  # the lesson title is the page's h1
            level = min(6, int(token.tag[1]) + 1)
            token.tag = f"h{level}"
        elif token.type == "heading_close":
            token.tag = f"h{min(6, int(token.tag[1]) + 1)}"
        for attr in ("src", "href"):
            value = token.attrGet(attr)
            if isinstance(value, str) and value.startswith(MEDIA_PREFIX):
                name = unquote(value[len(MEDIA_PREFIX):])  # markdown-it percent-encodes "đồ"
                token.attrSet(attr, media_urls.get(name, "#missing-media"))
        if token.children:
            _rewrite(token.children, media_urls)


def render_markdown(text: str, media_urls: Mapping[str, str] | None = None) -> Markup:
    """Safe HTML for a lesson body; ``media_urls`` maps a course file name to its URL."""
    return _render_cached(text or "", tuple(sorted((media_urls or {}).items())))


@lru_cache(maxsize=512)
def _render_cached(text: str, media_items: tuple) -> Markup:
    media_urls = dict(media_items)
    tokens = _parser.parse(text or "")
    _rewrite(tokens, media_urls or {})
    html = _parser.renderer.render(tokens, _parser.options, {})
    clean = nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                      url_schemes=URL_SCHEMES, link_rel="noopener noreferrer")
    return Markup(clean)

"""HTML bodies from professionals, made safe to show in the patient's browser (nh3, an allow-list sanitiser).

- Only text structure survives: no script, style, form, frame, object, embed, SVG or MathML (their content is
  dropped, not just the tags).
- Remote content is blocked: no ``img``, no ``style`` attribute (CSS ``url()`` would load), no ``src`` anywhere.
  Pages also send a Content-Security-Policy without any script source, as a second line.
- Links keep only ``http``, ``https`` and ``mailto`` targets, open in a new tab and carry
  ``rel="noopener noreferrer nofollow"``; ``javascript:`` and ``data:`` URLs are removed.
"""

from __future__ import annotations

import html

import nh3

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "div", "dl", "dt", "em",
        "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s",
        "small", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
    }
)  # fmt: skip
DROPPED_WITH_CONTENT = frozenset(
    {"script", "style", "template", "iframe", "object", "embed", "svg", "math", "noscript", "title", "head"}
)
ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "ol": {"start"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})


def sanitise_html(fragment: str) -> str:
    return nh3.clean(
        fragment,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
        url_relative="deny",
    )


def text_to_html(text: str) -> str:
    """A plain-text body for the page: escaped; line breaks are kept by CSS (``white-space: pre-wrap``)."""
    return html.escape(text, quote=True)

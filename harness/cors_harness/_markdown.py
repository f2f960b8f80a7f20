"""Text from scenario files, browsers and servers, made safe to put into Markdown.

Every string the harness did not write itself reaches `results.md` and FINDINGS.md through
`inline` (table cells, list items, headings, running text) or `link` (URLs), so that it shows
as the text it is: it cannot split a table cell, start a heading, list or quote, open emphasis,
code or a link, or carry HTML. `one_line` is the part the terminal report shares.
"""

from __future__ import annotations

import html
import re

__all__ = ["inline", "link", "one_line"]

# C0 and C1 controls (CR, LF, tab, ESC, NEL...) and the Unicode line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")

# Markdown's ASCII punctuation that can mean something anywhere in a line: code, emphasis,
# strikethrough, links and images, attribute lists, heading closers, table cells. `(` is
# escaped only after `]`, where a link would start, so no `](` is left even for a careless
# renderer. `_` between two letters or digits cannot open or close emphasis in CommonMark, so
# `allow_origins` stays as it is. `<`, `>` and `&` are left to html.escape.
_ANYWHERE = re.compile(r"[\\`*~{}\[\]#|]|(?<=\])\(|(?<![^\W_])_|_(?![^\W_])")

# What can open a block (list item, setext underline, ordered list) only at the start of a
# line; the text is a single line by then, so its start is the only line start. `>` (quote)
# and `<` (HTML block) become entities; `#`, `*`, backticks, `~` and `|` are escaped anywhere.
_LINE_START = re.compile(r"[-+=]|\d{1,9}(?=[.)])")

_HTTP_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+", re.IGNORECASE)


def one_line(text: str) -> str:
    """`text` on one line: each run of control characters becomes one space."""
    return _CONTROL.sub(" ", text).strip()


def inline(text: str) -> str:
    """`text` as literal Markdown inline content, for a table cell, list item or heading."""
    line = _ANYWHERE.sub(lambda m: "\\" + m.group(), one_line(text))
    start = _LINE_START.match(line)
    if start is not None:
        # A leading marker is escaped itself; for `1.` it is the `.` after the digits.
        at = start.end() if start.group().isdigit() else 0
        line = line[:at] + "\\" + line[at:]
    return html.escape(line, quote=False)


def link(url: str) -> str:
    """An autolink for an http(s) URL; anything else (`javascript:`, `data:`...) as text."""
    if _HTTP_URL.fullmatch(url):
        return f"<{url}>"
    return inline(url)

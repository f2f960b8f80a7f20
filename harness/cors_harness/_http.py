"""What browsers and the fixture servers refuse or silently change, as checks on scenario values.

Each check returns the value or raises ValueError naming the rule. A value one of them would
refuse does not fail loudly at run time: the browser drops a forbidden header, refuses a bad
port, uvicorn drops the connection. The run would then report a CORS outcome for a request that
was never made as written, so the scenario is refused when it is loaded instead.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from collections.abc import Iterable

# https://fetch.spec.whatwg.org/#forbidden-method: fetch() throws rather than send these.
FORBIDDEN_METHODS = frozenset({"CONNECT", "TRACE", "TRACK"})
# https://fetch.spec.whatwg.org/#forbidden-request-header: fetch() drops these silently.
FORBIDDEN_REQUEST_HEADERS = frozenset(
    {
        "accept-charset",
        "accept-encoding",
        "access-control-request-headers",
        "access-control-request-method",
        "connection",
        "content-length",
        "cookie",
        "cookie2",
        "date",
        "dnt",
        "expect",
        "host",
        "keep-alive",
        "origin",
        "referer",
        "set-cookie",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "via",
    }
)
FORBIDDEN_REQUEST_HEADER_PREFIXES = ("proxy-", "sec-")
# Forbidden as well, but only while their value names a forbidden method.
METHOD_OVERRIDE_HEADERS = frozenset(
    {"x-http-method", "x-http-method-override", "x-method-override"}
)
_FORBIDDEN_HEADER_FIX = {
    "cookie": "list the cookie under the request's cookies: instead",
    "origin": "the browser sends the page's origin: choose the request's frontend for it",
}
# https://fetch.spec.whatwg.org/#port-blocking: browsers refuse to fetch from these ports.
BAD_PORTS = frozenset(
    {
        0, 1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95,
        101, 102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161,
        179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563,
        587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060,
        5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
    }
)  # fmt: skip
HTTP_WHITESPACE = "\t\n\r "


def _char(char: str) -> str:
    names = {"\x00": "NUL", "\r": "CR", "\n": "LF", "\t": "a tab", " ": "a space"}
    return names.get(char, f"U+{ord(char):04X}")


def request_header_name(name: str) -> str:
    lower = name.lower()
    if lower in FORBIDDEN_REQUEST_HEADERS or lower.startswith(FORBIDDEN_REQUEST_HEADER_PREFIXES):
        fix = _FORBIDDEN_HEADER_FIX.get(lower, "remove it")
        raise ValueError(
            f"{name} is a forbidden request header in the Fetch standard: the browser drops it, "
            f"so the request would go without it; {fix}"
        )
    return name


def request_header_value(value: str) -> str:
    """The value as fetch() sends it, which strips leading and trailing HTTP whitespace."""
    value = value.strip(HTTP_WHITESPACE)
    if bad := re.search(r"[\x00\r\n]", value):
        raise ValueError(
            f"contains {_char(bad.group())}, which no header value may hold: fetch() throws"
        )
    if wide := re.search(r"[^\x00-\xff]", value):
        raise ValueError(
            f"contains {wide.group()!r} ({_char(wide.group())}): fetch() takes header values "
            "as bytes, U+0000 to U+00FF, and throws"
        )
    return value


def forbidden_method_in(value: str) -> str | None:
    """A forbidden method among the items of `value`, split as the Fetch standard splits them."""
    items, item, quoted, escaped = [], "", False, False
    for char in value:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            items.append(item)
            item = ""
            continue
        item += char
    items.append(item)
    stripped = (item.strip(" \t") for item in items)
    return next((m for m in stripped if m.upper() in FORBIDDEN_METHODS), None)


def sent_header_value(value: str) -> str:
    """A response header value the fixture backend can send byte for byte.

    uvicorn's httptools protocol writes any value without a control character as given,
    whitespace around it included (edge cases the Fetch standard's tests use); one with a control
    character it refuses, and the browser would only see a dropped connection.
    """
    if bad := re.search(r"[\x00-\x08\x0a-\x1f\x7f]", value):
        raise ValueError(
            f"contains {_char(bad.group())}, a control character the server refuses to send "
            "(only tab is allowed): the browser would see a dropped connection"
        )
    if wide := re.search(r"[^\x00-\xff]", value):
        raise ValueError(
            f"contains {wide.group()!r} ({_char(wide.group())}); header values are sent as "
            "Latin-1 bytes, U+0000 to U+00FF"
        )
    return value


def origin(text: str, written: str) -> str:
    """Something that can be an allow_origins entry: `written`, whose placeholders made `text`.

    A plausible misspelling (a trailing slash, another scheme, a pattern) stays: showing what it
    does is what a scenario is for. What no Origin header can ever equal is refused.
    """
    if written in {"*", "null"}:
        return written
    if not text:
        raise ValueError("an empty string is not an origin; write scheme://host[:port]")
    if bad := re.search(r"[\x00-\x20\x7f]", text):
        raise ValueError(f"{written!r} contains {_char(bad.group())}, which an origin never does")
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise ValueError(f"{written!r} is not an origin: {exc}") from None
    if not parts.scheme or not text.lower().startswith(f"{parts.scheme}://") or not parts.hostname:
        raise ValueError(
            f"{written!r} is not an origin: write scheme://host[:port], e.g. http://localhost:3000"
        )
    for present, what in (
        ("@" in parts.netloc, "user name"),
        ("?" in text, "query"),
        ("#" in text, "fragment"),
        (parts.path not in {"", "/"}, "path"),
    ):
        if present:
            raise ValueError(
                f"{written!r} has a {what}, which an origin never has; write scheme://host[:port]"
            )
    return written


def regex(text: str, written: str) -> str:
    """A pattern Starlette can compile: `written`, whose placeholders made `text`."""
    try:
        re.compile(text)
    except re.error as exc:
        raise ValueError(
            f"not a Python regular expression: {exc.msg} at position {exc.pos}"
        ) from None
    return written


def path(value: str, *, query: bool) -> str:
    """A URL path the browser sends as written (and, with `query`, a query after it)."""
    if not value.startswith("/"):
        raise ValueError(f"{value!r} must start with /")
    if "#" in value:
        raise ValueError(
            "'#' starts a fragment, which the browser never sends (and the probe id would "
            "follow it); write %23"
        )
    if not query and "?" in value:
        raise ValueError("a raw route is a path, without ?query")
    if bad := re.search(r"[\x00-\x20\x7f]", value):
        raise ValueError(f"contains {_char(bad.group())}; percent-encode it (a space is %20)")
    if "\\" in value:
        raise ValueError("contains \\, which the browser's URL parser turns into /; write /")
    return value


def port(value: int | None) -> int | None:
    if value in BAD_PORTS:
        raise ValueError(
            f"browsers refuse to fetch from port {value}, a bad port in the Fetch standard "
            "(https://fetch.spec.whatwg.org/#port-blocking); pick another"
        )
    return value


def not_json(value: object) -> object | None:
    """The first thing inside `value` that JSON cannot carry, or None."""
    if value is None or isinstance(value, str | bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else value
    if isinstance(value, list | dict):
        pairs: Iterable[tuple[object, object]] = (
            value.items() if isinstance(value, dict) else ((None, item) for item in value)
        )
        for key, item in pairs:
            if key is not None and not isinstance(key, str):
                return key
            if (bad := not_json(item)) is not None:
                return bad
        return None
    return value

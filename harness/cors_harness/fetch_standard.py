"""The Fetch standard's verdict on one fetch(), from what went over the wire.

Pure: no browser, no I/O. Given the call as the page made it (`FetchCall`) and the exchanges the
servers recorded for it, in order of arrival, `judge` follows the standard's algorithms (the
Request constructor, main fetch, HTTP fetch, CORS-preflight fetch, the CORS check and
HTTP-redirect fetch) over the answers the servers actually gave, and says what the standard makes
of them: the outcome, the check that decided it, why, and the section that says so.

The answers are the servers' real answers to what the browser sent. Where the browser sent
something else than the standard would (another Origin, no preflight where one is required, one
where none is), the verdict lists it in `departures`: those are deviations whatever the outcome.
When the browser sent nothing the standard would have sent, the server's answer to it is unknown,
and so is the standard's outcome (`unknown`). Outcomes mean what the harness's mean:
`blocked-preflight` when no request itself reached a server, `blocked-response` once one did (a
redirect's later preflight failing included), `blocked-network` when nothing was sent.

The preflight cache: the standard lets a browser keep a preflight's answer for less than its
Max-Age (a cap, or no cache at all), never for longer; `max_age` gives the longest it may keep
one, and a required preflight the browser skipped counts as served from its cache when `cached`
says an earlier one could have been.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.headerregistry import ContentTypeHeader, HeaderRegistry
from typing import TYPE_CHECKING, Literal, Protocol
from urllib.parse import urljoin, urlsplit

from cors_harness._http import (
    FORBIDDEN_METHODS,
    FORBIDDEN_REQUEST_HEADER_PREFIXES,
    FORBIDDEN_REQUEST_HEADERS,
    METHOD_OVERRIDE_HEADERS,
    forbidden_method_in,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

SPEC = "https://fetch.spec.whatwg.org/"

SpecOutcome = Literal[
    "allowed", "opaque", "blocked-preflight", "blocked-response", "blocked-network", "unknown"
]

# Methods fetch() uppercases; any other spelling is sent as written (`patch` stays `patch`).
NORMALIZED_METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"})
SAFELISTED_METHODS = frozenset({"GET", "HEAD", "POST"})
SAFELISTED_CONTENT_TYPES = frozenset(
    {"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}
)
# Bytes that keep a value from being CORS-safelisted (besides controls other than tab, and DEL).
UNSAFE_BYTES = frozenset(b'"():<>?@[\\]{}')
LANGUAGE_BYTES = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz *,-.;=")
NON_WILDCARD_HEADERS = frozenset({"authorization"})
SAFELISTED_RESPONSE_HEADERS = frozenset(
    {
        "cache-control",
        "content-language",
        "content-length",
        "content-type",
        "expires",
        "last-modified",
        "pragma",
    }
)
FORBIDDEN_RESPONSE_HEADERS = frozenset({"set-cookie", "set-cookie2"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Removed from a request whose redirect turns it into a GET without a body.
REQUEST_BODY_HEADERS = frozenset(
    {"content-encoding", "content-language", "content-location", "content-type"}
)
MAX_REDIRECTS = 20
TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")


class Exchange(Protocol):
    """One request as a server received it and its answer, as sent (results.Exchange is one)."""

    @property
    def preflight(self) -> bool: ...
    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def origin(self) -> str | None: ...
    @property
    def status(self) -> int | None: ...
    @property
    def response_headers(self) -> list[tuple[str, str]]: ...
    @property
    def internal(self) -> bool: ...


@dataclass(frozen=True)
class FetchCall:
    """A fetch() as the page made it: its arguments, and the page's serialized origin."""

    url: str
    origin: str
    method: str = "GET"
    headers: Sequence[tuple[str, str]] = ()
    body: str | None = None
    credentials: str = "same-origin"
    mode: str = "cors"
    redirect: str = "follow"


@dataclass(frozen=True)
class Verdict:
    """What the standard makes of a call and its answers."""

    outcome: SpecOutcome
    # The check that decided it, a short stable name (`acao-missing`, `preflight-status`...).
    check: str
    reason: str
    section: str
    # Whether the call's first request needs a preflight, and why (the unsafe method or headers).
    preflight_required: bool
    preflight_why: str | None
    # For an `allowed` CORS response: the header names the page may read, lowercase.
    readable_headers: list[str] | None = None
    # Where the browser sent something else than the standard would.
    departures: list[str] = field(default_factory=list)


def section(anchor: str) -> str:
    return f"{SPEC}#{anchor}"


# -- Requests: methods and headers -------------------------------------------------------------


def normalize_method(method: str) -> str:
    upper = method.upper()
    return upper if upper in NORMALIZED_METHODS else method


def _bytes(value: str) -> bytes:
    # Header values are byte sequences; the page's strings are isomorphic-encoded.
    return value.encode("latin-1", errors="replace")


def forbidden_request_header(name: str, value: str) -> bool:
    lower = name.lower()
    if lower in FORBIDDEN_REQUEST_HEADERS or lower.startswith(FORBIDDEN_REQUEST_HEADER_PREFIXES):
        return True
    return lower in METHOD_OVERRIDE_HEADERS and forbidden_method_in(value) is not None


def _has_unsafe_byte(value: bytes) -> bool:
    return any((b < 0x20 and b != 0x09) or b == 0x7F or b in UNSAFE_BYTES for b in value)


def mime_essence(value: str) -> str | None:
    """The essence (`type/subtype`, lowercase) of a MIME type string, or None if it is not one.

    Parameters never make a MIME type fail to parse, so only what comes before the first `;` is
    given to the standard library's parser; any defect it finds there is a failure.
    """
    head = value.split(";", 1)[0].strip(" \t\r\n")
    if not head:
        return None
    parsed = HeaderRegistry()("content-type", head)
    if not isinstance(parsed, ContentTypeHeader):  # what the registry makes of content-type
        return None
    if parsed.defects or not (TOKEN.match(parsed.maintype) and TOKEN.match(parsed.subtype)):
        return None
    return str(parsed.content_type).lower()


def simple_range(value: str) -> bool:
    """A single `bytes=start-[end]` range with a start, as `Range` needs to be safelisted."""
    found = RANGE.match(value)
    if found is None or not found[1]:
        return False
    return not found[2] or int(found[1]) <= int(found[2])


def safelisted_request_header(name: str, value: str) -> bool:
    raw = _bytes(value)
    if len(raw) > 128:
        return False
    lower = name.lower()
    if lower == "accept":
        return not _has_unsafe_byte(raw)
    if lower in {"accept-language", "content-language"}:
        return all(b in LANGUAGE_BYTES for b in raw)
    if lower == "content-type":
        if _has_unsafe_byte(raw):
            return False
        return mime_essence(value) in SAFELISTED_CONTENT_TYPES
    if lower == "range":
        return simple_range(value)
    return False


def no_cors_safelisted_request_header(name: str, value: str) -> bool:
    return name.lower() in {
        "accept",
        "accept-language",
        "content-language",
        "content-type",
    } and safelisted_request_header(name, value)


def unsafe_request_header_names(headers: Iterable[tuple[str, str]]) -> list[str]:
    """The names that make a preflight necessary, sorted, lowercase (as in the preflight's
    Access-Control-Request-Headers); every safelisted one too when their values exceed 1024
    bytes in all."""
    unsafe: list[str] = []
    potentially: list[str] = []
    size = 0
    for name, value in headers:
        if safelisted_request_header(name, value):
            potentially.append(name)
            size += len(_bytes(value))
        else:
            unsafe.append(name)
    if size > 1024:
        unsafe += potentially
    return sorted({n.lower() for n in unsafe})


def _header_list(call: FetchCall) -> list[tuple[str, str]]:
    """The request's header list as fetch() builds it from the page's arguments."""
    kept: list[tuple[str, str]] = []
    for name, value in call.headers:
        # Header values are normalized: leading and trailing HTTP whitespace removed. A name
        # given twice is appended twice, each value counted apart (the 1024-byte total).
        value = value.strip(" \t\r\n")
        if forbidden_request_header(name, value):
            continue
        if call.mode == "no-cors" and not no_cors_safelisted_request_header(name, value):
            continue
        kept.append((name, value))
    if call.body is not None and not any(k.lower() == "content-type" for k, _ in kept):
        # A string body's default Content-Type.
        kept.append(("Content-Type", "text/plain;charset=UTF-8"))
    return kept


# -- Responses ---------------------------------------------------------------------------------


def get_header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    """A header list's `get`: every value of `name`, joined with `, `; None when absent."""
    values = [v for k, v in headers if k.lower() == name]
    return ", ".join(values) if values else None


def header_list_values(headers: Iterable[tuple[str, str]], name: str) -> list[str] | None:
    """`extract header list values` for a comma-separated list: None when absent."""
    joined = get_header(headers, name)
    if joined is None:
        return None
    return [item.strip(" \t") for item in joined.split(",") if item.strip(" \t")]


def origin_of(url: str) -> str:
    """A URL's serialized origin (default ports left out)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(scheme)
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


@dataclass(frozen=True)
class Failure:
    check: str
    reason: str
    anchor: str


def cors_check(headers: Sequence[tuple[str, str]], origin: str, credentials: str) -> Failure | None:
    """The CORS check of a response; None when it passes."""
    allow = get_header(headers, "access-control-allow-origin")
    if allow is None:
        return Failure("acao-missing", "no Access-Control-Allow-Origin header", "cors-check")
    if len([k for k, _ in headers if k.lower() == "access-control-allow-origin"]) > 1:
        return Failure(
            "acao-multiple",
            f"Access-Control-Allow-Origin sent more than once ({allow!r} in all); it is not "
            f"the origin {origin}",
            "cors-check",
        )
    if credentials != "include" and allow == "*":
        return None
    if allow == "*":
        return Failure(
            "acao-wildcard-credentials",
            "Access-Control-Allow-Origin is * but the request's credentials mode is include",
            "cors-check",
        )
    if allow != origin:
        return Failure(
            "acao-mismatch",
            f"Access-Control-Allow-Origin {allow!r} is not the request's origin {origin!r} "
            "(compared byte for byte)",
            "cors-check",
        )
    if credentials != "include":
        return None
    allow_credentials = get_header(headers, "access-control-allow-credentials")
    if allow_credentials != "true":
        shown = "absent" if allow_credentials is None else repr(allow_credentials)
        return Failure(
            "acac",
            f"credentials mode include needs Access-Control-Allow-Credentials exactly 'true'; "
            f"it is {shown}",
            "cors-check",
        )
    return None


def readable_headers(headers: Sequence[tuple[str, str]], credentials: str) -> list[str]:
    """What a CORS-filtered response lets the page read: the safelisted names and those in
    Access-Control-Expose-Headers (`*` for all, unless credentials mode is include), never
    Set-Cookie."""
    exposed = {
        n.lower() for n in header_list_values(headers, "access-control-expose-headers") or []
    }
    everything = "*" in exposed and credentials != "include"
    names = {k.lower() for k, _ in headers} - FORBIDDEN_RESPONSE_HEADERS
    return sorted(n for n in names if everything or n in SAFELISTED_RESPONSE_HEADERS | exposed)


DEFAULT_MAX_AGE_S = 5


def max_age(headers: Sequence[tuple[str, str]]) -> int:
    """How many seconds a preflight's answer may be cached: Access-Control-Max-Age as
    delta-seconds; absent, or anything else (-1, +5, abc, a list), the default of 5 seconds.
    A browser may keep it for less (its cap, or none at all), never for longer."""
    values = header_list_values(headers, "access-control-max-age")
    if values is None or len(values) != 1 or not values[0].isascii() or not values[0].isdigit():
        return DEFAULT_MAX_AGE_S
    return int(values[0])


def preflight_failure(
    exchange: Exchange, origin: str, call: FetchCall, method: str, unsafe: list[str]
) -> Failure | None:
    """CORS-preflight fetch's checks of a preflight's response; None when it passes."""
    headers = exchange.response_headers
    status = exchange.status
    # Both a passing CORS check and an ok status are needed; a redirect is named first, as it is
    # the reason a preflight answered that way can never pass.
    if status in REDIRECT_STATUSES:
        return Failure(
            "preflight-redirect",
            f"the preflight was answered with a redirect ({status}); a preflight is never "
            "redirected and needs an ok status (200-299)",
            "cors-preflight-fetch",
        )
    failed = cors_check(headers, origin, call.credentials)
    if failed is not None:
        return Failure(failed.check, f"preflight: {failed.reason}", failed.anchor)
    if status is None or not 200 <= status <= 299:
        return Failure(
            "preflight-status",
            f"the preflight's status {status} is not an ok status (200-299)",
            "cors-preflight-fetch",
        )
    methods = header_list_values(headers, "access-control-allow-methods") or []
    names = header_list_values(headers, "access-control-allow-headers") or []
    if any(not TOKEN.match(m) for m in methods) or any(not TOKEN.match(n) for n in names):
        return Failure(
            "preflight-unparsable",
            "Access-Control-Allow-Methods or -Headers is not a list of tokens",
            "cors-preflight-fetch",
        )
    wildcard_ok = call.credentials != "include"
    if (
        method not in methods
        and method not in SAFELISTED_METHODS
        and not (wildcard_ok and "*" in methods)
    ):
        why = f"method {method} is not in Access-Control-Allow-Methods {methods or 'absent'}"
        if any(m.upper() == method.upper() for m in methods):
            why += " (methods are compared case-sensitively; only DELETE, GET, HEAD, OPTIONS, "
            why += "POST and PUT are uppercased by fetch())"
        elif "*" in methods:
            why += " (* does not count when credentials mode is include)"
        return Failure("method-not-allowed", why, "cors-preflight-fetch")
    listed = {n.lower() for n in names}
    for name in unsafe:
        if name in NON_WILDCARD_HEADERS and name not in listed and "*" in listed:
            return Failure(
                "authorization-not-covered",
                f"{name} must be listed by name in Access-Control-Allow-Headers; * never covers it",
                "cors-non-wildcard-request-header-name",
            )
        if name not in listed and not (wildcard_ok and "*" in listed):
            why = f"header {name} is not in Access-Control-Allow-Headers {names or 'absent'}"
            if "*" in listed:
                why += " (* does not count when credentials mode is include)"
            return Failure("header-not-allowed", why, "cors-preflight-fetch")
    return None


# -- The walk ----------------------------------------------------------------------------------


def judge(call: FetchCall, exchanges: Sequence[Exchange], *, cached: bool = False) -> Verdict:
    """The standard's verdict on `call`, given the exchanges the servers recorded for it.

    `cached`: a preflight-cache entry may cover the call (an earlier identical request in the
    same context was preflighted and allowed), so a skipped preflight is not a departure.
    """
    return _Walk(call, [e for e in exchanges if not e.internal], cached).run()


class _Walk:
    def __init__(self, call: FetchCall, exchanges: list[Exchange], cached: bool) -> None:
        self.call = call
        self.exchanges = exchanges
        self.cached = cached
        self.next = 0
        self.departures: list[str] = []
        self.first_preflight: tuple[bool, str | None] | None = None
        # Whether a request itself (not a preflight) has reached a server yet.
        self.sent_request = False

    def verdict(
        self,
        outcome: SpecOutcome,
        check: str,
        reason: str,
        anchor: str,
        readable: list[str] | None = None,
    ) -> Verdict:
        required, why = self.first_preflight or (False, None)
        return Verdict(
            outcome=outcome,
            check=check,
            reason=reason,
            section=section(anchor),
            preflight_required=required,
            preflight_why=why,
            readable_headers=readable,
            departures=self.departures,
        )

    def take(self) -> Exchange | None:
        if self.next >= len(self.exchanges):
            return None
        exchange = self.exchanges[self.next]
        self.next += 1
        return exchange

    def run(self) -> Verdict:
        call = self.call
        method = normalize_method(call.method)
        if method.upper() in FORBIDDEN_METHODS:
            return self.verdict(
                "blocked-network",
                "forbidden-method",
                f"fetch() throws: {call.method} is a forbidden method",
                "forbidden-method",
            )
        if call.body is not None and method in {"GET", "HEAD"}:
            return self.verdict(
                "blocked-network",
                "body-with-get",
                f"fetch() throws: a {method} request cannot have a body",
                "dom-request",
            )
        if call.mode == "no-cors" and method not in SAFELISTED_METHODS:
            return self.verdict(
                "blocked-network",
                "no-cors-method",
                f"fetch() throws: mode no-cors allows only GET, HEAD and POST, not {call.method}",
                "dom-request",
            )
        headers = _header_list(call)
        url = call.url
        tainted = False
        same_origin_so_far = True
        for _hop in range(MAX_REDIRECTS + 1):
            # The request's origin as sent and as the CORS check compares it.
            origin = "null" if tainted else call.origin
            same = origin_of(url) == call.origin and not tainted and same_origin_so_far
            if not same and call.mode == "same-origin":
                return self.verdict(
                    # Redirected away from the page's origin: the first request did go out.
                    "blocked-response" if self.sent_request else "blocked-network",
                    "same-origin-mode",
                    f"mode same-origin: {origin_of(url)} is not the page's origin",
                    "main-fetch",
                )
            tainting = "basic" if same else ("opaque" if call.mode == "no-cors" else "cors")
            same_origin_so_far = same
            unsafe = unsafe_request_header_names(headers) if tainting == "cors" else []
            needs = tainting == "cors" and (method not in SAFELISTED_METHODS or bool(unsafe))
            why = _preflight_why(method, unsafe) if needs else None
            if self.first_preflight is None:
                self.first_preflight = (needs, why)
            found = self.take()
            if found is None:
                return self.unsent(needs, why)
            if found.preflight and not needs:
                self.departures.append(
                    f"the browser sent a preflight (OPTIONS {found.path}) the standard does not: "
                    f"{method} with no unsafe header needs none"
                )
                found = self.take()
                if found is None:
                    self.departures.append("the browser did not send the request itself")
                    return self.verdict(
                        "unknown",
                        "unsent",
                        "the browser stopped after a preflight the standard does not send; "
                        "what the server answers to the request itself was not recorded",
                        "http-fetch",
                    )
            if needs and not found.preflight:
                if not self.cached:
                    self.departures.append(
                        f"the browser sent {found.method} {found.path} without the preflight the "
                        f"standard requires ({why})"
                    )
            elif needs:
                self._origin_sent(found, origin)
                failed = preflight_failure(found, origin, call, method, unsafe)
                if failed is not None:
                    # As the harness counts outcomes: once a request itself reached a server (an
                    # earlier hop of a redirect), the cell is blocked-response.
                    return self.verdict(
                        "blocked-response" if self.sent_request else "blocked-preflight",
                        failed.check,
                        failed.reason,
                        failed.anchor,
                    )
                nxt = self.take()
                if nxt is None:
                    self.departures.append(
                        "the preflight passes, and the browser did not send the request itself"
                    )
                    return self.verdict(
                        "unknown",
                        "unsent",
                        "the preflight passes; the browser did not send the request itself, so "
                        "its answer is unknown",
                        "cors-preflight-fetch",
                    )
                found = nxt
            self.sent_request = True
            if tainting == "cors":
                self._origin_sent(found, origin)
            response = found.response_headers
            status = found.status
            if tainting == "cors":
                failed = cors_check(response, origin, call.credentials)
                if failed is not None:
                    if status in REDIRECT_STATUSES:
                        failed = Failure(
                            failed.check,
                            f"the redirect ({status}) fails the CORS check: {failed.reason}",
                            failed.anchor,
                        )
                    return self.verdict(
                        "blocked-response", failed.check, failed.reason, failed.anchor
                    )
            location = get_header(response, "location")
            if status in REDIRECT_STATUSES and location is not None:
                if call.redirect == "error":
                    return self.verdict(
                        "blocked-response",
                        "redirect-error",
                        f"redirect mode error: the response is a redirect ({status})",
                        "http-fetch",
                    )
                if call.redirect == "manual":
                    return self.verdict(
                        "opaque",
                        "opaque-redirect",
                        f"redirect mode manual: the page gets an opaque redirect ({status})",
                        "http-fetch",
                    )
                target = urljoin(url, location)
                parts = urlsplit(target)
                if parts.scheme not in {"http", "https"}:
                    return self.verdict(
                        "blocked-response",
                        "redirect-scheme",
                        f"redirected to {target}, not an http(s) URL",
                        "http-redirect-fetch",
                    )
                if (parts.username or parts.password) and (
                    tainting == "cors" or origin_of(target) != call.origin
                ):
                    return self.verdict(
                        "blocked-response",
                        "redirect-credentials",
                        f"redirected to {target}, a URL with credentials",
                        "http-redirect-fetch",
                    )
                if (status in {301, 302} and method == "POST") or (
                    status == 303 and method not in {"GET", "HEAD"}
                ):
                    method = "GET"
                    headers = [(k, v) for k, v in headers if k.lower() not in REQUEST_BODY_HEADERS]
                if origin_of(target) != origin_of(url):
                    headers = [(k, v) for k, v in headers if k.lower() not in NON_WILDCARD_HEADERS]
                    if call.origin != origin_of(url):
                        tainted = True
                url = target
                continue
            if tainting == "opaque":
                return self.verdict(
                    "opaque",
                    "opaque",
                    "mode no-cors: the page gets an opaque response it cannot read",
                    "concept-filtered-response-opaque",
                )
            if tainting == "basic":
                return self.verdict(
                    "allowed", "same-origin", "same origin: CORS does not apply", "main-fetch"
                )
            return self.verdict(
                "allowed",
                "cors-ok",
                "the response passes the CORS check",
                "cors-check",
                readable_headers(response, call.credentials),
            )
        return self.verdict(
            "blocked-response",
            "redirect-count",
            f"more than {MAX_REDIRECTS} redirects",
            "http-redirect-fetch",
        )

    def unsent(self, needs: bool, why: str | None) -> Verdict:
        what = f"a preflight ({why})" if needs else "the request"
        self.departures.append(f"the browser sent nothing where the standard sends {what}")
        return self.verdict(
            "unknown",
            "unsent",
            f"the standard sends {what}; the browser sent nothing, so the server's answer to it "
            "is unknown",
            "http-fetch",
        )

    def _origin_sent(self, exchange: Exchange, origin: str) -> None:
        if exchange.origin == origin:
            return
        sent = "no Origin" if exchange.origin is None else f"Origin {exchange.origin}"
        self.departures.append(
            f"{exchange.method} {exchange.path} carried {sent}; the standard sends Origin "
            f"{origin}" + (" (a cross-origin redirect taints it)" if origin == "null" else "")
        )


def judge_websocket(origin: str, exchanges: Sequence[Exchange]) -> Verdict:
    """The standard's verdict on `new WebSocket(url)` from a page on `origin`.

    Establishing a WebSocket connection is a fetch in mode websocket with credentials include:
    no preflight and no CORS check; the handshake carries the page's Origin and the server
    alone decides, with 101 (accepted) or anything else (refused).
    """
    sent = [e for e in exchanges if not e.internal]
    departures: list[str] = []
    if not sent:
        departures.append("the browser sent no handshake where the standard sends one")
        return Verdict(
            outcome="unknown",
            check="unsent",
            reason="the standard sends the handshake; the browser sent nothing, so the server's "
            "answer to it is unknown",
            section=section("websocket-protocol"),
            preflight_required=False,
            preflight_why=None,
            departures=departures,
        )
    handshake = sent[0]
    if handshake.origin != origin:
        shown = "no Origin" if handshake.origin is None else f"Origin {handshake.origin}"
        departures.append(f"the handshake carried {shown}; the standard sends Origin {origin}")
    accepted = handshake.status == 101
    return Verdict(
        outcome="allowed" if accepted else "blocked-response",
        check="websocket-accepted" if accepted else "websocket-refused",
        reason="CORS does not apply to WebSockets: the handshake carries Origin and the server "
        f"alone decides; it answered {handshake.status}"
        + ("" if accepted else ", not 101, so the connection fails"),
        section=section("websocket-protocol"),
        preflight_required=False,
        preflight_why=None,
        departures=departures,
    )


def _preflight_why(method: str, unsafe: list[str]) -> str:
    parts = []
    if method not in SAFELISTED_METHODS:
        parts.append(f"method {method} is not GET, HEAD or POST")
    if unsafe:
        parts.append(f"{', '.join(unsafe)} not CORS-safelisted")
    return "; ".join(parts)


__all__ = [
    "SPEC",
    "Exchange",
    "FetchCall",
    "SpecOutcome",
    "Verdict",
    "cors_check",
    "judge",
    "judge_websocket",
    "max_age",
    "mime_essence",
    "normalize_method",
    "readable_headers",
    "safelisted_request_header",
    "unsafe_request_header_names",
]

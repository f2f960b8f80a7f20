"""The Fetch-standard oracle against a table of cases written from the standard's text.

Each case is a behaviour the Web Platform Tests check (fetch/api/cors/, cors/), with the file
that checks it where there is one, and the section of https://fetch.spec.whatwg.org/ that
decides it. The answers are what a server would send, as the recorder keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from cors_harness.fetch_standard import (
    SPEC,
    FetchCall,
    judge,
    max_age,
    mime_essence,
    normalize_method,
    unsafe_request_header_names,
)
from cors_harness.results import Exchange

PAGE = "http://app.test"
API = "http://api.test"
OTHER = "http://other.test"
ALLOW = [("Access-Control-Allow-Origin", PAGE)]
CREDS = [*ALLOW, ("Access-Control-Allow-Credentials", "true")]


def pre(
    status: int = 200,
    headers: list[tuple[str, str]] | None = None,
    *,
    method: str = "PUT",
    origin: str = PAGE,
    path: str = "/data",
) -> Exchange:
    """A preflight as it reached the server, and its answer."""
    return Exchange.from_wire(
        probe="p",
        method="OPTIONS",
        path=path,
        query="cors_probe=p",
        request_headers=[("origin", origin), ("access-control-request-method", method)],
        status=status,
        response_headers=headers if headers is not None else ALLOW,
        server_exception=None,
        elapsed_ms=1.0,
    )


def act(
    status: int = 200,
    headers: list[tuple[str, str]] | None = None,
    *,
    method: str = "GET",
    origin: str | None = PAGE,
    path: str = "/data",
) -> Exchange:
    """The request itself as it reached the server, and its answer."""
    sent = [("origin", origin)] if origin is not None else []
    return Exchange.from_wire(
        probe="p",
        method=method,
        path=path,
        query="cors_probe=p",
        request_headers=sent,
        status=status,
        response_headers=headers if headers is not None else ALLOW,
        server_exception=None,
        elapsed_ms=1.0,
    )


def preflight_ok(method: str = "PUT", headers: str = "", creds: bool = False) -> Exchange:
    answer = [*(CREDS if creds else ALLOW), ("Access-Control-Allow-Methods", method)]
    if headers:
        answer.append(("Access-Control-Allow-Headers", headers))
    return pre(204, answer, method=method)


@dataclass
class Case:
    name: str
    call: dict[str, object]
    answers: list[Exchange]
    outcome: str
    check: str
    section: str
    wpt: str = ""
    preflight: bool | None = None
    readable: list[str] | None = None
    departures: int = 0
    extra: dict[str, object] = field(default_factory=dict)


def redirect(
    status: int, to: str, headers: list[tuple[str, str]] | None = None, **kw: object
) -> Exchange:
    return act(status, [*(headers if headers is not None else ALLOW), ("Location", to)], **kw)  # type: ignore[arg-type]


LONG = "a" * 128
CASES = [
    # -- The CORS check (fetch/api/cors/cors-basic.any.js, cors-origin.any.js, cors/origin.htm)
    Case(
        "acao-equals-origin",
        {},
        [act()],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-basic.any.js",
    ),
    Case(
        "acao-star",
        {},
        [act(headers=[("Access-Control-Allow-Origin", "*")])],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-basic.any.js",
    ),
    Case(
        "acao-missing",
        {},
        [act(headers=[])],
        "blocked-response",
        "acao-missing",
        "cors-check",
        "fetch/api/cors/cors-basic.any.js",
    ),
    Case(
        "acao-other-origin",
        {},
        [act(headers=[("Access-Control-Allow-Origin", OTHER)])],
        "blocked-response",
        "acao-mismatch",
        "cors-check",
        "cors/origin.htm",
    ),
    Case(
        "acao-trailing-slash",
        {},
        [act(headers=[("Access-Control-Allow-Origin", PAGE + "/")])],
        "blocked-response",
        "acao-mismatch",
        "cors-check",
        "cors/origin.htm",
    ),
    Case(
        "acao-uppercase-host",
        {},
        [act(headers=[("Access-Control-Allow-Origin", "http://APP.test")])],
        "blocked-response",
        "acao-mismatch",
        "cors-check",
        "cors/origin.htm",
    ),
    Case(
        "acao-null-for-real-origin",
        {},
        [act(headers=[("Access-Control-Allow-Origin", "null")])],
        "blocked-response",
        "acao-mismatch",
        "cors-check",
        "cors/origin.htm",
    ),
    Case(
        "acao-twice",
        {},
        [act(headers=[*ALLOW, *ALLOW])],
        "blocked-response",
        "acao-multiple",
        "cors-check",
        "fetch/api/cors/cors-origin.any.js",
    ),
    Case(
        "acao-list-in-one-header",
        {},
        [act(headers=[("Access-Control-Allow-Origin", f"{PAGE}, {OTHER}")])],
        "blocked-response",
        "acao-mismatch",
        "cors-check",
        "cors/origin.htm",
    ),
    Case(
        "star-with-credentials",
        {"credentials": "include"},
        [
            act(
                headers=[
                    ("Access-Control-Allow-Origin", "*"),
                    ("Access-Control-Allow-Credentials", "true"),
                ]
            )
        ],
        "blocked-response",
        "acao-wildcard-credentials",
        "cors-check",
        "fetch/api/cors/cors-cookies.any.js",
    ),
    Case(
        "credentials-without-acac",
        {"credentials": "include"},
        [act()],
        "blocked-response",
        "acac",
        "cors-check",
        "fetch/api/cors/cors-cookies.any.js",
    ),
    Case(
        "acac-capitalized",
        {"credentials": "include"},
        [act(headers=[*ALLOW, ("Access-Control-Allow-Credentials", "True")])],
        "blocked-response",
        "acac",
        "cors-check",
        "cors/credentials-flag.htm",
    ),
    Case(
        "credentials-allowed",
        {"credentials": "include"},
        [act(headers=CREDS)],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-cookies.any.js",
    ),
    Case(
        "omit-needs-no-acac",
        {"credentials": "omit"},
        [act()],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-basic.any.js",
    ),
    Case(
        "same-origin-credentials-star",
        {"credentials": "same-origin"},
        [act(headers=[("Access-Control-Allow-Origin", "*")])],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-basic.any.js",
    ),
    # -- When a preflight is needed (cors-preflight.any.js, cors/request-headers.htm)
    Case(
        "custom-header-preflights",
        {"headers": [("X-Custom", "1")]},
        [preflight_ok("GET", "x-custom"), act()],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-preflight.any.js",
        preflight=True,
    ),
    Case(
        "post-text-plain-simple",
        {"method": "POST", "body": "x"},
        [act(method="POST")],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-preflight.any.js",
        preflight=False,
    ),
    Case(
        "post-json-preflights",
        {"method": "POST", "body": "{}", "headers": [("Content-Type", "application/json")]},
        [preflight_ok("POST", "content-type"), act(method="POST")],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-preflight.any.js",
        preflight=True,
    ),
    Case(
        "text-plain-charset-simple",
        {"method": "POST", "body": "x", "headers": [("Content-Type", "text/plain;charset=UTF-8")]},
        [act(method="POST")],
        "allowed",
        "cors-ok",
        "cors-check",
        "cors/request-headers.htm",
        preflight=False,
    ),
    Case(
        "multipart-simple",
        {"method": "POST", "body": "x", "headers": [("Content-Type", "multipart/form-data")]},
        [act(method="POST")],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-preflight.any.js",
        preflight=False,
    ),
    Case(
        "urlencoded-simple",
        {
            "method": "POST",
            "body": "a=1",
            "headers": [("Content-Type", "application/x-www-form-urlencoded")],
        },
        [act(method="POST")],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-preflight.any.js",
        preflight=False,
    ),
    Case(
        "text-html-preflights",
        {"method": "POST", "body": "x", "headers": [("Content-Type", "text/html")]},
        [preflight_ok("POST", "content-type"), act(method="POST")],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-preflight.any.js",
        preflight=True,
    ),
    Case(
        "accept-128-bytes-simple",
        {"headers": [("Accept", LONG)]},
        [act()],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-preflight-not-cors-safelisted.any.js",
        preflight=False,
    ),
    Case(
        "accept-129-bytes-preflights",
        {"headers": [("Accept", LONG + "a")]},
        [preflight_ok("GET", "accept"), act()],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-preflight-not-cors-safelisted.any.js",
        preflight=True,
    ),
    Case(
        "accept-language-simple",
        {"headers": [("Accept-Language", "en-US, fr;q=0.5")]},
        [act()],
        "allowed",
        "cors-ok",
        "cors-check",
        "cors/request-headers.htm",
        preflight=False,
    ),
    Case(
        "accept-language-parenthesis-preflights",
        {"headers": [("Accept-Language", "en(")]},
        [preflight_ok("GET", "accept-language"), act()],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-preflight-not-cors-safelisted.any.js",
        preflight=True,
    ),
    Case(
        "content-language-129-preflights",
        {"headers": [("Content-Language", LONG + "a")]},
        [preflight_ok("GET", "content-language"), act()],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-preflight-not-cors-safelisted.any.js",
        preflight=True,
    ),
    Case(
        "safelisted-over-1024-bytes-preflights",
        {"headers": [("Accept", "a" * 120)] * 9},
        [preflight_ok("GET", "accept"), act()],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-preflight-not-cors-safelisted.any.js",
        preflight=True,
    ),
    Case(
        "range-open-ended-simple",
        {"headers": [("Range", "bytes=0-")]},
        [act(206)],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/range/general.any.js",
        preflight=False,
    ),
    Case(
        "range-bounded-simple",
        {"headers": [("Range", "bytes=0-10")]},
        [act(206)],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/range/general.any.js",
        preflight=False,
    ),
    Case(
        "range-multi-preflights",
        {"headers": [("Range", "bytes=0-10,20-30")]},
        [preflight_ok("GET", "range"), act(206)],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/range/general.any.js",
        preflight=True,
    ),
    Case(
        "range-suffix-preflights",
        {"headers": [("Range", "bytes=-500")]},
        [preflight_ok("GET", "range"), act(206)],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/range/general.any.js",
        preflight=True,
    ),
    Case(
        "range-backwards-preflights",
        {"headers": [("Range", "bytes=10-5")]},
        [preflight_ok("GET", "range"), act(206)],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/range/general.any.js",
        preflight=True,
    ),
    Case(
        "forbidden-header-dropped",
        {"headers": [("Cookie", "a=b")]},
        [act()],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/request/request-headers.any.js",
        preflight=False,
    ),
    Case(
        "sec-header-dropped",
        {"headers": [("Sec-Foo", "1")]},
        [act()],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/request/request-headers.any.js",
        preflight=False,
    ),
    # -- Methods (cors-preflight-star.any.js, fetch/api/basic/request-upload... method case)
    Case(
        "patch-lowercase-not-normalized",
        {"method": "patch"},
        [pre(204, [*ALLOW, ("Access-Control-Allow-Methods", "PATCH")], method="patch")],
        "blocked-preflight",
        "method-not-allowed",
        "cors-preflight-fetch",
        "fetch/api/cors/cors-preflight.any.js",
        preflight=True,
    ),
    Case(
        "delete-lowercase-normalized",
        {"method": "delete"},
        [preflight_ok("DELETE"), act(method="DELETE")],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-preflight.any.js",
        preflight=True,
    ),
    Case(
        "put-methods-star",
        {"method": "PUT"},
        [pre(204, [*ALLOW, ("Access-Control-Allow-Methods", "*")]), act(method="PUT")],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-preflight-star.any.js",
    ),
    Case(
        "put-methods-star-with-credentials",
        {"method": "PUT", "credentials": "include"},
        [pre(204, [*CREDS, ("Access-Control-Allow-Methods", "*")])],
        "blocked-preflight",
        "method-not-allowed",
        "cors-preflight-fetch",
        "fetch/api/cors/cors-preflight-star.any.js",
    ),
    Case(
        "put-no-allow-methods",
        {"method": "PUT"},
        [pre(204, ALLOW)],
        "blocked-preflight",
        "method-not-allowed",
        "cors-preflight-fetch",
        "fetch/api/cors/cors-preflight.any.js",
    ),
    Case(
        "header-star",
        {"headers": [("X-Custom", "1")]},
        [pre(204, [*ALLOW, ("Access-Control-Allow-Headers", "*")], method="GET"), act()],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-preflight-star.any.js",
    ),
    Case(
        "header-star-with-credentials",
        {"headers": [("X-Custom", "1")], "credentials": "include"},
        [pre(204, [*CREDS, ("Access-Control-Allow-Headers", "*")], method="GET")],
        "blocked-preflight",
        "header-not-allowed",
        "cors-preflight-fetch",
        "fetch/api/cors/cors-preflight-star.any.js",
    ),
    Case(
        "authorization-not-covered-by-star",
        {"headers": [("Authorization", "Bearer x")]},
        [pre(204, [*ALLOW, ("Access-Control-Allow-Headers", "*")], method="GET")],
        "blocked-preflight",
        "authorization-not-covered",
        "cors-non-wildcard-request-header-name",
        "fetch/api/cors/cors-preflight-star.any.js",
    ),
    Case(
        "authorization-listed",
        {"headers": [("Authorization", "Bearer x")]},
        [preflight_ok("GET", "authorization"), act()],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-preflight-star.any.js",
    ),
    Case(
        "allow-headers-case-insensitive",
        {"headers": [("x-custom", "1")]},
        [preflight_ok("GET", "X-CUSTOM"), act()],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-preflight.any.js",
    ),
    # -- Preflight statuses (cors-preflight-status.any.js)
    *[
        Case(
            f"preflight-{status}",
            {"method": "PUT"},
            [pre(status, [*ALLOW, ("Access-Control-Allow-Methods", "PUT")]), act(method="PUT")],
            "allowed",
            "cors-ok",
            "cors-check",
            "fetch/api/cors/cors-preflight-status.any.js",
        )
        for status in (200, 204, 299)
    ],
    *[
        Case(
            f"preflight-{status}",
            {"method": "PUT"},
            [pre(status, [*ALLOW, ("Access-Control-Allow-Methods", "PUT")])],
            "blocked-preflight",
            "preflight-status",
            "cors-preflight-fetch",
            "fetch/api/cors/cors-preflight-status.any.js",
        )
        for status in (304, 400, 401, 403, 404, 500)
    ],
    *[
        Case(
            f"preflight-redirect-{status}",
            {"method": "PUT"},
            [pre(status, [*ALLOW, ("Location", "/elsewhere")])],
            "blocked-preflight",
            "preflight-redirect",
            "cors-preflight-fetch",
            "fetch/api/cors/cors-preflight-redirect.any.js",
        )
        for status in (301, 302, 307)
    ],
    Case(
        "preflight-without-acao",
        {"method": "PUT"},
        [pre(204, [("Access-Control-Allow-Methods", "PUT")])],
        "blocked-preflight",
        "acao-missing",
        "cors-check",
        "fetch/api/cors/cors-preflight.any.js",
    ),
    Case(
        "actual-without-acao",
        {"method": "PUT"},
        [preflight_ok(), act(headers=[], method="PUT")],
        "blocked-response",
        "acao-missing",
        "cors-check",
        "fetch/api/cors/cors-preflight.any.js",
    ),
    Case(
        "preflight-needs-acac-too",
        {"method": "PUT", "credentials": "include"},
        [pre(204, [*ALLOW, ("Access-Control-Allow-Methods", "PUT")])],
        "blocked-preflight",
        "acac",
        "cors-check",
        "fetch/api/cors/cors-preflight.any.js",
    ),
    # -- Redirects (cors-redirect.any.js, cors-redirect-credentials, cors-redirect-preflight)
    Case(
        "redirect-same-server",
        {},
        [redirect(307, "/next"), act(path="/next")],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-redirect.any.js",
    ),
    Case(
        "redirect-cross-origin-taints",
        {},
        [redirect(307, f"{OTHER}/next"), act(origin="null", path="/next")],
        "blocked-response",
        "acao-mismatch",
        "cors-check",
        "fetch/api/cors/cors-redirect.any.js",
    ),
    Case(
        "redirect-cross-origin-star",
        {},
        [
            redirect(307, f"{OTHER}/next"),
            act(headers=[("Access-Control-Allow-Origin", "*")], origin="null", path="/next"),
        ],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-redirect.any.js",
    ),
    Case(
        "redirect-cross-origin-null-allowed",
        {},
        [
            redirect(307, f"{OTHER}/next"),
            act(headers=[("Access-Control-Allow-Origin", "null")], origin="null", path="/next"),
        ],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-redirect.any.js",
    ),
    Case(
        "redirect-without-acao",
        {},
        [redirect(302, "/next", headers=[])],
        "blocked-response",
        "acao-missing",
        "cors-check",
        "fetch/api/cors/cors-redirect.any.js",
    ),
    Case(
        "redirect-mode-error",
        {"redirect": "error"},
        [redirect(302, "/next")],
        "blocked-response",
        "redirect-error",
        "http-fetch",
        "fetch/api/redirect/redirect-mode.any.js",
    ),
    Case(
        "redirect-mode-manual",
        {"redirect": "manual"},
        [redirect(302, "/next")],
        "opaque",
        "opaque-redirect",
        "http-fetch",
        "fetch/api/redirect/redirect-mode.any.js",
    ),
    Case(
        "redirect-303-post-becomes-get",
        {"method": "POST", "body": "{}", "headers": [("Content-Type", "application/json")]},
        [
            preflight_ok("POST", "content-type"),
            redirect(303, "/next", method="POST"),
            act(path="/next"),
        ],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/redirect/redirect-method.any.js",
    ),
    Case(
        "redirect-301-post-becomes-get",
        {"method": "POST", "body": "x"},
        [redirect(301, "/next", method="POST"), act(path="/next")],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/redirect/redirect-method.any.js",
    ),
    Case(
        "redirect-307-keeps-put",
        {"method": "PUT"},
        [
            preflight_ok(),
            redirect(307, "/next", method="PUT"),
            pre(204, [*ALLOW, ("Access-Control-Allow-Methods", "PUT")], path="/next"),
            act(method="PUT", path="/next"),
        ],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-redirect-preflight.any.js",
    ),
    Case(
        "redirect-drops-authorization-cross-origin",
        {"headers": [("Authorization", "Bearer x")]},
        [
            preflight_ok("GET", "authorization"),
            redirect(307, f"{OTHER}/next"),
            act(headers=[("Access-Control-Allow-Origin", "*")], origin="null", path="/next"),
        ],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-redirect-preflight.any.js",
    ),
    Case(
        "redirect-to-credentials-url",
        {},
        [redirect(307, "http://user:pw@other.test/next")],
        "blocked-response",
        "redirect-credentials",
        "http-redirect-fetch",
        "fetch/api/cors/cors-redirect-credentials.any.js",
    ),
    Case(
        "redirect-to-data-url",
        {},
        [redirect(307, "data:text/plain,hi")],
        "blocked-response",
        "redirect-scheme",
        "http-redirect-fetch",
        "fetch/api/cors/cors-redirect.any.js",
    ),
    Case(
        "redirected-preflight-origin-departs",
        {"method": "PUT"},
        [
            preflight_ok(),
            redirect(307, f"{OTHER}/next", method="PUT"),
            pre(204, [*ALLOW, ("Access-Control-Allow-Methods", "PUT")], path="/next"),
            act(method="PUT", path="/next"),
        ],
        "blocked-response",
        "acao-mismatch",
        "cors-check",
        "fetch/api/cors/cors-redirect-preflight.any.js",
        departures=1,
    ),
    # -- Modes (fetch/api/cors/cors-no-cors, request-mode, fetch/api/basic/mode-same-origin)
    Case(
        "no-cors-get-opaque",
        {"mode": "no-cors"},
        [act(headers=[], origin=None)],
        "opaque",
        "opaque",
        "concept-filtered-response-opaque",
        "fetch/api/basic/mode-no-cors.sub.any.js",
    ),
    Case(
        "no-cors-put-throws",
        {"mode": "no-cors", "method": "PUT"},
        [],
        "blocked-network",
        "no-cors-method",
        "dom-request",
        "fetch/api/request/request-error.any.js",
    ),
    Case(
        "no-cors-drops-custom-header",
        {"mode": "no-cors", "headers": [("X-Custom", "1")]},
        [act(headers=[], origin=None)],
        "opaque",
        "opaque",
        "concept-filtered-response-opaque",
        "fetch/api/basic/mode-no-cors.sub.any.js",
        preflight=False,
    ),
    Case(
        "same-origin-mode-refuses",
        {"mode": "same-origin"},
        [],
        "blocked-network",
        "same-origin-mode",
        "main-fetch",
        "fetch/api/basic/mode-same-origin.any.js",
    ),
    Case(
        "same-origin-url",
        {"url": f"{PAGE}/data"},
        [act(headers=[], origin=None)],
        "allowed",
        "same-origin",
        "main-fetch",
        "fetch/api/cors/cors-basic.any.js",
    ),
    Case(
        "trace-throws",
        {"method": "TRACE"},
        [],
        "blocked-network",
        "forbidden-method",
        "forbidden-method",
        "fetch/api/request/request-error.any.js",
    ),
    Case(
        "get-with-body-throws",
        {"body": "x"},
        [],
        "blocked-network",
        "body-with-get",
        "dom-request",
        "fetch/api/request/request-error.any.js",
    ),
    # -- What the page can read (cors/response-headers.htm, cors-expose-star.sub.any.js)
    Case(
        "safelisted-response-headers",
        {},
        [
            act(
                headers=[
                    *ALLOW,
                    ("Content-Type", "text/plain"),
                    ("X-Custom", "1"),
                    ("Content-Length", "2"),
                ]
            )
        ],
        "allowed",
        "cors-ok",
        "cors-check",
        "cors/response-headers.htm",
        readable=["content-length", "content-type"],
    ),
    Case(
        "exposed-header",
        {},
        [act(headers=[*ALLOW, ("X-Custom", "1"), ("Access-Control-Expose-Headers", "X-Custom")])],
        "allowed",
        "cors-ok",
        "cors-check",
        "cors/response-headers.htm",
        readable=["x-custom"],
    ),
    Case(
        "expose-star",
        {},
        [
            act(
                headers=[
                    ("Access-Control-Allow-Origin", "*"),
                    ("X-Custom", "1"),
                    ("Set-Cookie", "a=b"),
                    ("Access-Control-Expose-Headers", "*"),
                ]
            )
        ],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-expose-star.sub.any.js",
        readable=["access-control-allow-origin", "access-control-expose-headers", "x-custom"],
    ),
    Case(
        "expose-star-with-credentials",
        {"credentials": "include"},
        [act(headers=[*CREDS, ("X-Custom", "1"), ("Access-Control-Expose-Headers", "*")])],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-expose-star.sub.any.js",
        readable=[],
    ),
    Case(
        "set-cookie-never-readable",
        {},
        [
            act(
                headers=[
                    *ALLOW,
                    ("Set-Cookie", "a=b"),
                    ("Access-Control-Expose-Headers", "Set-Cookie"),
                ]
            )
        ],
        "allowed",
        "cors-ok",
        "cors-check",
        "cors/response-headers.htm",
        readable=[],
    ),
    # -- Where the browser's requests depart from the standard's
    Case(
        "unneeded-preflight",
        {},
        [pre(204, ALLOW, method="GET"), act()],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-preflight.any.js",
        departures=1,
        preflight=False,
    ),
    Case(
        "skipped-preflight",
        {"method": "PUT"},
        [act(method="PUT")],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-preflight.any.js",
        departures=1,
        preflight=True,
    ),
    Case(
        "skipped-preflight-cached",
        {"method": "PUT"},
        [act(method="PUT")],
        "allowed",
        "cors-ok",
        "cors-check",
        "fetch/api/cors/cors-preflight-cache.any.js",
        preflight=True,
        extra={"cached": True},
    ),
    Case(
        "nothing-sent",
        {"method": "PUT"},
        [],
        "unknown",
        "unsent",
        "http-fetch",
        "fetch/api/cors/cors-preflight.any.js",
        departures=1,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_verdict(case: Case) -> None:
    call = FetchCall(**{"url": f"{API}/data", "origin": PAGE, **case.call})  # type: ignore[arg-type]
    verdict = judge(call, case.answers, cached=bool(case.extra.get("cached")))
    assert (verdict.outcome, verdict.check) == (case.outcome, case.check), verdict.reason
    assert verdict.section == f"{SPEC}#{case.section}"
    if case.preflight is not None:
        assert verdict.preflight_required is case.preflight
        assert (verdict.preflight_why is not None) is case.preflight
    if case.readable is not None:
        assert verdict.readable_headers == case.readable
    assert len(verdict.departures) == case.departures, verdict.departures


def test_the_table_is_large_enough_and_sourced() -> None:
    assert len(CASES) >= 60
    assert len({c.name for c in CASES}) == len(CASES)
    # Each case names the Web Platform Tests file that checks the behaviour.
    assert [c.name for c in CASES if not c.wpt.startswith(("fetch/", "cors/"))] == []


def test_same_origin_mode_redirected_away_fails_after_the_first_request() -> None:
    verdict = judge(
        FetchCall(url=f"{PAGE}/data", origin=PAGE, mode="same-origin"),
        [act(302, [("Location", f"{API}/data")], origin=None)],
    )
    assert (verdict.outcome, verdict.check) == ("blocked-response", "same-origin-mode")


def test_reasons_name_what_failed() -> None:
    verdict = judge(
        FetchCall(url=f"{API}/data", origin=PAGE, method="patch"),
        [pre(204, [*ALLOW, ("Access-Control-Allow-Methods", "PATCH")], method="patch")],
    )
    assert "patch" in verdict.reason
    assert "case-sensitively" in verdict.reason
    verdict = judge(
        FetchCall(url=f"{API}/data", origin=PAGE, headers=[("X-Api-Key", "k")]),
        [pre(204, ALLOW, method="GET")],
    )
    assert "x-api-key" in verdict.reason
    assert verdict.preflight_why == "x-api-key not CORS-safelisted"


def test_preflight_header_names_are_sorted_lowercase() -> None:
    assert unsafe_request_header_names([("X-B", "1"), ("x-a", "2"), ("Accept", "ok")]) == [
        "x-a",
        "x-b",
    ]


@pytest.mark.parametrize(
    ("value", "essence"),
    [
        ("text/plain;charset=UTF-8", "text/plain"),
        ("TEXT/Plain", "text/plain"),
        ("application/json; charset=utf-8", "application/json"),
        ("multipart/form-data; boundary=x", "multipart/form-data"),
        ("text/plain; garbage", "text/plain"),
        ("text/plain/x", None),
        ("text/", None),
        ("", None),
        ("text/plain, application/json", None),
    ],
)
def test_mime_essence(value: str, essence: str | None) -> None:
    assert mime_essence(value) == essence


@pytest.mark.parametrize(
    ("given", "sent"),
    [("get", "GET"), ("delete", "DELETE"), ("Put", "PUT"), ("patch", "patch"), ("PATCH", "PATCH")],
)
def test_method_normalization(given: str, sent: str) -> None:
    assert normalize_method(given) == sent


@pytest.mark.parametrize(
    ("values", "seconds"),
    [
        ([], 5),
        (["600"], 600),
        (["0"], 0),
        (["-1"], 5),
        (["+5"], 5),
        (["abc"], 5),
        (["5, 10"], 5),
        (["5", "10"], 5),
        (["86400"], 86400),
    ],
)
def test_max_age_is_delta_seconds_or_five(values: list[str], seconds: int) -> None:
    assert max_age([("Access-Control-Max-Age", v) for v in values]) == seconds

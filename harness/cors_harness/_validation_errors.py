"""Pydantic's validation errors, said as the one problem to report and where in the file it is.

Pydantic reports every error at once, in its own words and with locations that are not paths
through the file (union tags, `[key]` markers). A user gets one line: a misspelt key first,
since the required field it was meant to be is then missing only because of it; otherwise the
first problem in the file; with a fix where one can be named.
"""

from __future__ import annotations

import difflib
import math
import re
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple, Union, get_args, get_origin

from pydantic import BaseModel

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from pydantic import ValidationError
    from pydantic_core import ErrorDetails

    from cors_harness._yaml import Document

Loc = tuple[str | int, ...]


class AtKey(ValueError):
    """A validator's complaint about one key of the mapping it checks: the error points there."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(problem)
        self.key = key


class _Problem(NamedTuple):
    loc: Loc
    text: str
    kind: str
    # For a misspelt key: the field it stands for, whose "missing" goes without saying.
    meant: Loc | None = None


def describe(data: object) -> str:
    """What a value is, in a user's words: `a list`, `42`."""
    if isinstance(data, dict):
        return "a mapping"
    if isinstance(data, list):
        return "a list"
    if isinstance(data, str):
        return "a string"
    return repr(data)


def _unwrap(annotation: Any) -> Any:
    """The type inside Annotated[...] and Optional[...]."""
    while True:
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
        elif _is_union(annotation) and type(None) in get_args(annotation):
            rest = [a for a in get_args(annotation) if a is not type(None)]
            annotation = rest[0] if len(rest) == 1 else Union[tuple(rest)]  # noqa: UP007
        else:
            return annotation


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in {Union, type(int | str)}


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    return {info.alias or name: info.annotation for name, info in model.model_fields.items()}


def _model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model pydantic validated at `loc`, to say which fields it has."""
    annotation: Any = root
    for part in loc:
        annotation = _unwrap(annotation)
        if _is_model(annotation):
            annotation = _fields(annotation).get(str(part))
        elif get_origin(annotation) in {list, tuple}:
            annotation = get_args(annotation)[0]
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        elif _is_union(annotation):
            # A discriminated union: pydantic puts the tag (e.g. `add-header`) in the loc.
            annotation = next(
                (
                    member
                    for member in get_args(annotation)
                    if _is_model(member)
                    and any(part in get_args(a) for a in _fields(member).values())
                ),
                None,
            )
        else:
            return None
    annotation = _unwrap(annotation)
    return annotation if _is_model(annotation) else None


def _in_file(loc: Loc, data: object) -> Loc:
    """Pydantic's loc as a path through the file: without union tags and `[key]` markers."""
    out: list[str | int] = []
    for number, part in enumerate(loc):
        if part == "[key]":
            continue
        last = number == len(loc) - 1 or loc[number + 1] == "[key]"
        if isinstance(data, dict) and part not in data and not last:
            continue
        out.append(part)
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            data = None
    return tuple(out)


def _suggestion(given: object, options: list[str]) -> str | None:
    """`'allowed'` for `alowed`; every option it begins, for a prefix such as `blocked`."""
    text = str(given)
    begun = [option for option in options if text and option.startswith(text)]
    close = begun if len(begun) > 1 else difflib.get_close_matches(text, options, n=1)
    if not close:
        return None
    quoted = [repr(option) for option in close]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _problem(
    error: ErrorDetails,
    root: type[BaseModel],
    unwritten: Collection[str],
    pattern_help: Mapping[str, str],
) -> _Problem:
    loc = tuple(error["loc"])
    kind, ctx, given = error["type"], error.get("ctx", {}), error["input"]

    def say(text: str, where: Loc = loc, meant: Loc | None = None) -> _Problem:
        return _Problem(where, text, kind, meant)

    if kind == "extra_forbidden":
        model = _model_at(root, loc[:-1])
        names = [] if model is None else sorted(_fields(model))
        if model is root:
            names = [name for name in names if name not in unwritten]
        close = difflib.get_close_matches(str(loc[-1]), names, n=1)
        if close:
            return say(
                f"unknown field {loc[-1]!r}; did you mean {close[0]!r}?",
                meant=(*loc[:-1], close[0]),
            )
        return say(
            f"unknown field {loc[-1]!r}"
            + (f"; expected one of: {', '.join(names)}" if names else "")
        )
    if kind == "missing":
        return say("required field is missing")
    if kind == "literal_error":
        meant = _suggestion(given, re.findall(r"'([^']*)'", ctx.get("expected", "")))
        if meant is not None:
            return say(f"got {given!r}; did you mean {meant}?")
        return say(f"{error['msg']}; got {given!r}")
    if kind == "string_pattern_mismatch" and ctx.get("pattern") in pattern_help:
        return say(f"got {given!r}; use {pattern_help[ctx['pattern']]}")
    if kind == "string_type":
        return say(f"expected text, got {describe(given)}; quote it")
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        return say(f"expected a mapping, got {describe(given)}")
    if kind == "list_type":
        return say(f"expected a list, got {describe(given)}")
    if kind == "too_short":
        least = ctx["min_length"]
        return say(f"is empty; give at least {least} item{'s' if least > 1 else ''}")
    if kind in {"union_tag_invalid", "union_tag_not_found"}:
        key = ctx["discriminator"].strip("'")
        if kind == "union_tag_not_found":
            return say("required field is missing", (*loc, key))
        return say(
            f"unknown {key} {ctx['tag']!r}; expected one of {ctx['expected_tags']}", (*loc, key)
        )
    if kind == "value_error":
        cause = ctx["error"]
        return say(str(cause), (*loc, cause.key) if isinstance(cause, AtKey) else loc)
    return say(error["msg"])


def first_problem(
    exc: ValidationError,
    data: object,
    document: Document,
    root: type[BaseModel],
    *,
    unwritten: Collection[str] = (),
    pattern_help: Mapping[str, str],
) -> tuple[Loc, str]:
    """The path through the file and the text of the one problem to report for `exc`.

    `root` is the model `data` was validated as; `unwritten` its fields a file does not set;
    `pattern_help` says, for a field's pattern, what it asks for.
    """
    found = [_problem(error, root, unwritten, pattern_help) for error in exc.errors()]
    found.sort(
        key=lambda p: (
            p.kind != "extra_forbidden",
            document.line(_in_file(p.loc, data)) or math.inf,
        )
    )
    first, *rest = found
    meant = {p.meant for p in found}
    more = sum(1 for p in rest if not (p.kind == "missing" and p.loc in meant))
    text = first.text
    if more:
        text += f" (and {more} more problem{'s' if more > 1 else ''})"
    return _in_file(first.loc, data), text

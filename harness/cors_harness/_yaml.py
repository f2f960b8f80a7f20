"""YAML files read safely, each node with its line, so an error can say `path:line: field`.

PyYAML on its own reads a FIFO forever, follows aliases without limit (a "billion laughs" file
takes gigabytes) and recurses once per nesting level until Python gives up. Here the file is
checked before it is read, and the composer counts as it goes, so a hostile file stops early
with one line. Every bound is far above what a real scenario needs and far below what hurts.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import yaml

from cors_harness._exceptions import ScenarioError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

MAX_BYTES = 256 * 1024
MAX_DEPTH = 64
MAX_NODES = 10_000

_TOO_BIG = f"larger than {MAX_BYTES // 1024} KiB; a scenario file is far smaller"
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_KINDS: dict[type[yaml.Node], str] = {yaml.SequenceNode: "a list", yaml.MappingNode: "a mapping"}


def field(loc: Sequence[str | int]) -> str:
    """`requests[0].headers.X-Bad` for ("requests", 0, "headers", "X-Bad")."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def os_problem(path: Path, exc: OSError) -> str:
    """What went wrong opening `path`, in the words a user would look for."""
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if exc.errno == errno.ENOENT:
        if path.is_symlink():
            return f"broken symlink (to {os.readlink(path)})"
        return "no such file or directory"
    return f"cannot read: {exc.strerror}"


def read_text(path: Path) -> str:
    """The text of a regular UTF-8 file of at most MAX_BYTES; anything else is a ScenarioError."""
    name = str(path)

    def fail(problem: str, line: int | None = None) -> NoReturn:
        raise ScenarioError(name, line, "", problem)

    try:
        # Non-blocking, so that opening a FIFO returns at once; fstat then refuses it.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        fail(os_problem(path, exc))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            fail("is a directory; give a scenario file, or pass the directory to cors-harness run")
        if not stat.S_ISREG(mode):
            fail("not a regular file (a FIFO, device or socket); not reading it")
        # One byte more than allowed: st_size is 0 for some special files, and a file may grow
        # after fstat.
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(MAX_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_BYTES:
        fail(_TOO_BIG)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        fail(f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8", line)


@dataclass(frozen=True)
class Document:
    """A YAML file's data and its node tree, to turn a field path into a line number."""

    root: yaml.Node | None
    data: object

    def line(self, loc: Sequence[str | int]) -> int | None:
        node = self.root
        line = node.start_mark.line + 1 if node is not None else None
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if key.value == part:
                        line, node = key.start_mark.line + 1, value
                        break
                else:
                    return line
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    return line
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                return line
        return line


class _Loader(yaml.SafeLoader):
    """A SafeLoader whose composer checks keys and counts nodes while it composes.

    An alias counts as the whole node it repeats, known from a table kept per node, so the size
    a file would expand to is known without expanding it, and a bomb stops at its first
    levels. Keys are checked here too, once per mapping: walking the tree afterwards would
    visit an aliased mapping once per alias.
    """

    def __init__(self, text: str, path: str) -> None:
        super().__init__(text)
        self.path = path
        self.loc: list[str | int] = []
        self.depth = 0
        self.nodes = 0
        # id(node) -> (nodes it expands to, levels of nesting it adds); set once it is composed.
        self.sizes: dict[int, tuple[int, int]] = {}
        self.keys: dict[int, set[str]] = {}

    def fail(self, mark: Any, problem: str, loc: Sequence[str | int] | None = None) -> NoReturn:
        line = mark.line + 1 if mark is not None else None
        raise ScenarioError(self.path, line, field(self.loc if loc is None else loc), problem)

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        pushed = self._enter(parent, index)
        try:
            return self._compose(parent, index)
        finally:
            if pushed:
                self.loc.pop()

    def _enter(self, parent: yaml.Node | None, index: object) -> bool:
        if isinstance(parent, yaml.SequenceNode) and isinstance(index, int):
            self.loc.append(index)
            return True
        if isinstance(parent, yaml.MappingNode) and isinstance(index, yaml.Node):
            self._check_key(parent, index)
            self.loc.append(index.value)
            return True
        return False

    def _check_key(self, mapping: yaml.MappingNode, key: yaml.Node) -> None:
        if key.tag == _MERGE:
            return
        if not isinstance(key, yaml.ScalarNode):
            self.fail(key.start_mark, f"keys must be strings, got {_KINDS[type(key)]}")
        if key.tag != _STR:
            kind = key.tag.rsplit(":", 1)[-1]
            self.fail(
                key.start_mark, f"keys must be strings, got {key.value} (a YAML {kind}); quote it"
            )
        seen = self.keys.setdefault(id(mapping), set())
        if key.value in seen:
            self.fail(key.start_mark, "key appears twice in one mapping", (*self.loc, key.value))
        seen.add(key.value)

    def _compose(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            shared = self.anchors.get(event.anchor)
            if shared is not None:
                if id(shared) not in self.sizes:
                    self.fail(event.start_mark, f"alias *{event.anchor} repeats a node it is in")
                size, height = self.sizes[id(shared)]
                self._count(event.start_mark, size, height, " once aliases are expanded")
            return super().compose_node(parent, index)  # type: ignore[arg-type]
        self._count(event.start_mark, 1, 0, "")
        nested = isinstance(event, yaml.CollectionStartEvent)
        self.depth += nested
        if self.depth > MAX_DEPTH:
            self.fail(event.start_mark, f"nested more than {MAX_DEPTH} levels deep", self._short())
        node = super().compose_node(parent, index)  # type: ignore[arg-type]
        self.depth -= nested
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        measured = [self.sizes[id(child)] for child in children]
        self.sizes[id(node)] = (
            1 + sum(size for size, _ in measured),
            nested + max((height for _, height in measured), default=0),
        )
        return node

    def _count(self, mark: Any, size: int, height: int, how: str) -> None:
        self.nodes += size
        if self.nodes > MAX_NODES:
            self.fail(mark, f"more than {MAX_NODES} values{how}; a scenario needs far fewer")
        if self.depth + height > MAX_DEPTH:
            self.fail(mark, f"nested more than {MAX_DEPTH} levels deep{how}", self._short())

    def _short(self) -> list[str | int]:
        # Where the deep part starts is enough; the whole path would be 64 parts long.
        return self.loc[:4]

    def fetch_flow_collection_start(self, TokenClass: type[yaml.Token]) -> None:
        # The scanner reads ahead in flow collections, slower with each level: stop it early,
        # while the composer is still at the node the deep part starts in.
        if self.flow_level >= MAX_DEPTH:
            self.fail(self.get_mark(), f"nested more than {MAX_DEPTH} levels deep", self._short())
        super().fetch_flow_collection_start(TokenClass)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            # e.g. 2024-13-01 looks like a date to YAML, and then fails as one.
            kind = node.tag.rsplit(":", 1)[-1]
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"cannot read {node.value!r} as a {kind} ({exc}); quote it to keep it text",
                node.start_mark,
            ) from None


def _one_line(text: str) -> str:
    return " ".join(text.split())


_UNCLOSED = {
    "while scanning a quoted scalar": "the quote opened here is never closed",
    "while parsing a flow sequence": "the [ opened here is never closed",
    "while parsing a flow mapping": "the { opened here is never closed",
}


# Parts of PyYAML's messages, and what usually causes them.
_HINTS = (
    ("'\\t'", "indent with spaces"),
    ("expected <block end>", "check this line's indentation"),
    ("mapping values are not allowed", "quote a value that holds ': '"),
)


def _open_quote(text: str, before: int) -> int | None:
    """The line of the last quoted scalar before `before` that runs over several lines.

    A quote left open swallows the lines after it, up to the next quote; the error shows up
    there, so the line the quote opens on is the useful hint.
    """
    line = None
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if token.start_mark.index >= before:
                break
            spans = token.start_mark.line != token.end_mark.line
            if isinstance(token, yaml.ScalarToken) and token.style in {'"', "'"} and spans:
                line = token.start_mark.line + 1
    except yaml.YAMLError:
        pass
    return line


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str) -> tuple[int | None, str]:
    mark, context = exc.problem_mark, exc.context_mark
    problem = _one_line(exc.problem or "")
    if mark is None:
        return None, problem
    if context is not None and mark.index >= len(text):
        # At the end of the stream the start of what is left open is the place to look.
        fallback = f"{problem} ({exc.context} that starts here)"
        return context.line + 1, _UNCLOSED.get(exc.context or "", fallback)
    if context is not None and "flow" in (exc.context or "") and context.line != mark.line:
        bracket = "[" if "sequence" in (exc.context or "") else "{"
        return mark.line + 1, f"{problem}; is the {bracket} on line {context.line + 1} closed?"
    quote = _open_quote(text, mark.index)
    if quote is not None and quote <= mark.line:
        return mark.line + 1, f"{problem}; is the quote on line {quote} closed?"
    return mark.line + 1, next(
        (f"{problem}; {hint}" for m, hint in _HINTS if m in problem), problem
    )


def _marked_problem(exc: yaml.MarkedYAMLError, text: str) -> tuple[int | None, str]:
    if isinstance(exc, yaml.constructor.ConstructorError):
        mark = exc.problem_mark
        tag = re.match(r"could not determine a constructor for the tag '(.*)'", exc.problem or "")
        problem = _one_line(exc.problem or "")
        if tag is not None:
            name = tag.group(1).replace("tag:yaml.org,2002:", "!!")
            problem = f"tag {name} is not allowed; a scenario is plain YAML"
        return (mark.line + 1 if mark is not None else None), f"YAML: {problem}"
    if isinstance(exc, yaml.composer.ComposerError) and exc.context_mark is not None:
        # "found duplicate anchor 'a'; first occurrence" + "second occurrence"
        first = exc.context_mark.line + 1
        mark = exc.problem_mark
        where = mark.line + 1 if mark is not None else None
        return where, f"YAML syntax: {exc.context} on line {first}, {exc.problem} here"
    line, problem = _syntax_problem(exc, text)
    return line, f"YAML syntax: {problem}"


def load_yaml(text: str, path: str) -> Document:
    """Compose and construct one YAML document within the bounds; ScenarioError on any fault."""
    if len(text) > MAX_BYTES:
        raise ScenarioError(path, None, "", _TOO_BIG)
    loader: _Loader | None = None
    try:
        loader = _Loader(text, path)
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        line, problem = _marked_problem(exc, text)
        raise ScenarioError(path, line, "", problem) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise ScenarioError(
            path, line, "", f"YAML: character U+{exc.character:04X} is not allowed in YAML"
        ) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(path, None, "", f"YAML: {_one_line(str(exc))}") from None
    finally:
        if loader is not None:
            loader.dispose()
    return Document(root, data)

"""Load a YAML file and remember the line of every key, so errors can say file:line.

Anchors, aliases and merge keys (``<<: *base``) are resolved by PyYAML exactly as
``prefect deploy`` (which uses ``yaml.safe_load``) resolves them; a key only merged in is at
the line where the anchor defines it, which is where a user has to fix it, and a key given
over a merge is at its own line.

The file may be broken or hostile, so reading is bounded and total: at most ``MAX_BYTES`` are
read, from a regular file only; the text must be UTF-8 without control characters; the node
graph is composed here, iteratively, from the parser's events, and refused before any Python
value is built when it nests deeper than ``MAX_DEPTH``, when its aliases expand to more than
``MAX_NODES`` nodes ("billion laughs"), when an alias refers to the node that contains it, or
when a mapping repeats a key (``yaml.safe_load`` keeps the last one silently). Every problem is
a :class:`ConfigError` at the line a user would point at.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from flowdeploy import readfile
from flowdeploy.errors import ConfigError, ConfigErrors, Location, outside_repository

PathKey = tuple[str | int, ...]

MAX_BYTES = 10 * 1024 * 1024
"""The largest prefect.yaml read (a 1,000-deployment file is about 200 KB)."""
MAX_DEPTH = 100
"""Nesting levels of mappings and sequences, counted through aliases."""
MAX_NODES = 250_000
"""Values in the document once every alias is expanded (a 1,000-deployment file: ~30,000)."""

_MERGE_TAG = "tag:yaml.org,2002:merge"
# SafeConstructor.flatten_mapping rewrites mappings holding these keys (merges, and the
# "=" value key it turns into a string): such a tree goes the careful way.
_KEYS_TO_FLATTEN = frozenset({_MERGE_TAG, "tag:yaml.org,2002:value"})
_STR_TAG = "tag:yaml.org,2002:str"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"
_CONFLICT = re.compile(r"^(?:<{7}|>{7}|\|{7})(?:[ \t].*)?\r?$|^={7}\r?$", re.MULTILINE)
_NON_PRINTABLE: re.Pattern[str] = yaml.reader.Reader.NON_PRINTABLE


@dataclass(frozen=True)
class YamlDocument:
    """The loaded data plus a map from key path to 1-based line."""

    path: Path
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)

    def where(self, *keys: str | int) -> Location:
        """The closest known location of ``keys``: the key itself, else its nearest parent."""
        probe: PathKey = tuple(keys)
        while probe:
            if probe in self.lines:
                return Location(self.path, self.lines[probe])
            probe = probe[:-1]
        return Location(self.path, 1)


@dataclass(frozen=True)
class Problem:
    """Something wrong with a document that PyYAML alone would accept or mishandle."""

    what: str
    why: str
    fix: str
    line: int | None


class YamlProblems(yaml.YAMLError):
    """Problems found while composing, before any value was constructed."""

    def __init__(self, problems: tuple[Problem, ...]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"line {p.line}: {p.what}" for p in problems))


def display_path(path: Path, base: Path | None = None) -> str:
    """How messages name a file: relative to ``base`` (the working directory) when under it."""
    try:
        return str(path.resolve().relative_to((base or Path.cwd()).resolve()))
    except ValueError:
        return str(path)


# --- reading ---------------------------------------------------------------------------------


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _not_regular(shown: Path, path: Path, mode: int) -> ConfigError:
    kind = _kind(mode)
    target = ""
    if path.is_symlink():
        target = f" (a symlink to {os.path.realpath(path)})"
    if stat.S_ISDIR(mode):
        fix = (
            f"pass the file inside it: --prefect-file {shown / 'prefect.yaml'}, or "
            f"--project-dir {shown}"
        )
    else:
        fix = "point --prefect-file at the project's prefect.yaml, a regular file in the repository"
    return ConfigError(
        f"{shown} is not a regular file",
        why=f"it is {kind}{target}; flowdeploy reads deployments from a YAML file",
        fix=fix,
        where=Location(shown),
    )


def _too_large(shown: Path, size: str) -> ConfigError:
    return ConfigError(
        f"{shown} is too large to be a prefect.yaml ({size})",
        why=f"flowdeploy reads at most {MAX_BYTES // (1024 * 1024)} MiB from one file",
        fix="check that --prefect-file names the project's prefect.yaml; split a generated "
        "file into one prefect.yaml per project (--prefect-file 'projects/*/prefect.yaml')",
        where=Location(shown),
    )


def read_bounded(path: Path, shown: Path | None = None) -> bytes:
    """The bytes of a regular file of at most ``MAX_BYTES``; anything else is a ConfigError
    (see ``readfile``)."""
    shown = shown or path
    try:
        return readfile.read_bounded(path, MAX_BYTES)
    except FileNotFoundError:
        raise ConfigError(
            f"{shown} does not exist",
            why="flowdeploy reads deployments from this file",
            fix="pass --prefect-file with the path of your prefect.yaml, "
            "or --project-dir with the directory that holds it",
            where=Location(shown),
        ) from None
    except readfile.NotRegular as exc:
        raise _not_regular(shown, path, exc.mode) from None
    except readfile.TooLarge as exc:
        size = f"{exc.size:,} bytes" if exc.size is not None else f"more than {MAX_BYTES:,} bytes"
        raise _too_large(shown, size) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read {shown}",
            why=exc.strerror or str(exc),
            fix="check that the file exists and that the user running flowdeploy may read it",
            where=Location(shown),
        ) from None


def _line_col(text: str | bytes, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset`` in ``text``."""
    newline: Any = b"\n" if isinstance(text, bytes) else "\n"
    line = text.count(newline, 0, offset) + 1
    column = offset - (text.rfind(newline, 0, offset) + 1) + 1
    return line, column


def decode(data: bytes, shown: Path) -> str:
    """UTF-8 text YAML can read; a binary file, bad UTF-8 or a control character is an error
    at its line."""
    nul = data.find(b"\x00")
    if nul >= 0:
        line, column = _line_col(data, nul)
        raise ConfigError(
            f"{shown} is a binary file, not YAML",
            why=f"it holds a NUL byte at line {line}, column {column}",
            fix="point --prefect-file at the project's prefect.yaml; if this is it, restore it "
            f"from git (git checkout -- {shown})",
            where=Location(shown, line),
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _line_col(data, exc.start)
        raise ConfigError(
            f"{shown} is not UTF-8 text",
            why=f"byte 0x{data[exc.start]:02x} at line {line}, column {column} is not valid "
            "UTF-8, the encoding flowdeploy reads prefect.yaml in",
            fix=f"save the file as UTF-8, e.g. iconv -f latin1 -t utf-8 {shown} > fixed.yaml",
            where=Location(shown, line),
        ) from None
    bad = _NON_PRINTABLE.search(text)
    if bad is not None:
        line, column = _line_col(text, bad.start())
        code = ord(bad.group())
        raise ConfigError(
            f"{shown} holds a character YAML does not allow",
            why=f"U+{code:04X} at line {line}, column {column} is a control character",
            fix="delete it; where a value needs it, write it as an escape in a double-quoted "
            f'string ("\\u{code:04x}")',
            where=Location(shown, line),
        )
    return text


def _check_conflict_markers(text: str, shown: Path) -> None:
    marker = _CONFLICT.search(text)
    if marker is None:
        return
    line, _ = _line_col(text, marker.start())
    raise ConfigError(
        f"unresolved merge conflict at line {line}",
        why=f"{shown} still holds git's conflict markers (<<<<<<<, =======, >>>>>>>): "
        f"`{marker.group().strip()}`",
        fix="resolve the conflict: keep the side you want, delete the marker lines, and commit",
        where=Location(shown, line),
    )


def load_yaml(
    path: Path, display: str | None = None, *, inside: Path | None = None
) -> YamlDocument:
    """Read and parse ``path``; every problem is a ConfigError at the line to fix.

    ``inside``: the repository; a ``path`` that resolves (symlinks followed) outside it is
    refused without being read.
    """
    shown = Path(display) if display else path
    if inside is not None:
        resolved, root = path.resolve(), inside.resolve()
        if not resolved.is_relative_to(root):
            raise outside_repository(shown, resolved, root)
    text = decode(read_bounded(path, shown), shown)
    _check_conflict_markers(text, shown)
    lines: dict[PathKey, int] = {}
    try:
        data = parse(text, lines=lines)[1]
    except YamlProblems as exc:
        errors = [
            ConfigError(p.what, why=p.why, fix=p.fix, where=Location(shown, p.line))
            for p in exc.problems
        ]
        raise (errors[0] if len(errors) == 1 else ConfigErrors(errors)) from None
    except yaml.MarkedYAMLError as exc:
        raise syntax_error(exc, text, shown) from None
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"{shown} is not valid YAML",
            why=str(exc),
            fix="check the file with a YAML linter (yamllint) and fix what it reports",
            where=Location(shown),
        ) from None
    return YamlDocument(path=shown, data=data, lines=lines)


def no_deployments(doc: YamlDocument) -> ConfigError | None:
    """Why ``doc`` declares no deployment at all (an empty file, only comments, no or an
    empty ``deployments:``), or None when it declares some or is malformed in a way the
    project loader reports. ``apply`` should stop with it (exit 2), ``plan`` warn with it."""
    data = doc.data
    if data is None:
        why = "the file is empty or holds only comments"
        where = Location(doc.path, 1)
    elif not isinstance(data, dict):
        return None
    elif "deployments" not in data:
        why = "it has no 'deployments' key"
        where = Location(doc.path, 1)
    elif data["deployments"] is None or data["deployments"] == []:
        why = "its 'deployments' list is empty"
        where = doc.where("deployments")
    else:
        return None
    return ConfigError(
        f"{doc.path} declares no deployments",
        why=why,
        fix="add a 'deployments:' list with an entry such as "
        "'- name: nightly' / 'entrypoint: flows/etl.py:etl', or point --prefect-file at "
        "the project's prefect.yaml",
        where=where,
    )


# --- syntax errors ---------------------------------------------------------------------------

# Where PyYAML stops at the token after the mistake, its context mark is the line to fix: the
# key that lacks its ':', the quote or bracket that is never closed.
_CONTEXT_FIRST = (
    "while scanning a simple key",
    "while scanning a quoted scalar",
    "while parsing a flow",
    "while scanning a block scalar",
)
# ``key: {{ x }}``, ``- {{ x }}``, ``[{{ x }}]``: a template where a plain value starts.
_TEMPLATE = re.compile(r"(?:^\s*(?:-\s+)*|:\s+|[\[,]\s*)\{\{")
_TEMPLATE_TOKEN = re.compile(r"\{\{.*?\}\}")
_KEY_VALUE = re.compile(r"^\s*(?:-\s+)*(?P<key>[^\s:#][^:#]*?):\s+(?P<value>.+?)\s*$")


def _content_line(lines: list[str], index: int) -> int:
    """``index`` (0-based) moved back past blank and comment lines and the end of the text."""
    index = min(index, len(lines) - 1)
    while index > 0 and (not lines[index].strip() or lines[index].lstrip().startswith("#")):
        index -= 1
    return max(index, 0)


def _fix_for(exc: yaml.MarkedYAMLError, line_text: str, context_line: int) -> str:
    problem = exc.problem or ""
    context = exc.context or ""
    if "tab" in problem or "'\\t'" in problem:
        return "indent with spaces: YAML does not allow tabs in indentation"
    if "while scanning a simple key" in context:
        return (
            "add the missing ':' after the key (key: value), or indent the line as part of "
            "the value above"
        )
    if "while scanning a quoted scalar" in context:
        return f"close the quote opened at line {context_line}"
    if "while parsing a flow" in context:
        return (
            f"close the bracket opened at line {context_line}, or quote the value if the "
            "bracket is text"
        )
    if "undefined alias" in problem:
        return (
            "define the anchor (&name) before the alias (*name) that uses it, or fix its spelling"
        )
    if "duplicate anchor" in context:
        return "give the second anchor another name"
    if "could not determine a constructor" in problem:
        return "remove the tag: prefect.yaml holds plain values (strings, numbers, lists, mappings)"
    if "single document" in context:
        return (
            "keep one document: delete the '---' line and what follows, or move it to its own file"
        )
    if "mapping values are not allowed" in problem:
        return (
            "quote the value if it contains ': ' (name: \"a: b\"), else fix the indentation "
            "of this line"
        )
    if "cannot start any token" in problem:
        return "quote the value: a plain value cannot start with this character"
    if "block" in context or "expected <block end>" in problem or "expected key" in problem:
        return (
            "indent this line like the other keys of its mapping (with spaces), or start it "
            "with '- ' if it is a list item"
        )
    return "check the indentation and the quoting on this line"


def _reason(exc: yaml.MarkedYAMLError) -> str:
    problem, context = exc.problem or "", exc.context or ""
    if not context:
        return problem or str(exc)
    if not problem:
        return context
    if context.startswith("while "):
        if "<block end>" in problem or "expected key" in problem or "'-' indicator" in problem:
            return (
                "the indentation of this line does not line up with the keys or list items "
                f"above it (PyYAML: {problem}, {context})"
            )
        return f"{problem} ({context})"
    where = f" at line {exc.context_mark.line + 1}" if exc.context_mark else ""
    if "duplicate anchor" in context:
        name = context.removeprefix("found duplicate anchor ").removesuffix("; first occurrence")
        return f"the anchor {name} is defined twice; the first is{where}"
    return f"{context}{where}, {problem}"


def _quoted(text: str) -> str:
    return f"'{text}'" if '"' in text else f'"{text}"'


def _quote_templates(line_text: str) -> str:
    """``line_text`` with the value that holds ``{{ … }}`` quoted: the whole value after
    ``key:``, or, inside ``[…]`` / ``{…}`` or after ``- ``, the item up to its delimiter."""
    pair = _KEY_VALUE.match(line_text)
    if pair is not None and pair["value"].startswith("{{"):
        return f"{pair['key']}: {_quoted(pair['value'])}"
    token = _TEMPLATE_TOKEN.search(line_text)
    if token is None:
        return 'image: "{{ build-image.image }}"'
    start, end = token.span()
    while end < len(line_text) and line_text[end] not in ",]}#":
        end += 1
    item = line_text[start:end].rstrip()
    return (line_text[:start] + _quoted(item) + line_text[start + len(item) :]).strip()


def _unquoted_template(line_text: str, where: Location) -> ConfigError:
    return ConfigError(
        "an unquoted {{ … }} template is read as a YAML mapping",
        why=f"`{line_text.strip()}`: a value that starts with '{{' is a YAML flow mapping, "
        "not a string, so the template never reaches flowdeploy",
        fix=f"quote the value: {_quote_templates(line_text)}",
        where=where,
    )


def syntax_error(exc: yaml.MarkedYAMLError, text: str, shown: Path) -> ConfigError:
    """A YAML error as a ConfigError at the line a user would point at."""
    lines = text.splitlines() or [""]
    problem_mark, context_mark = exc.problem_mark, exc.context_mark
    mark = problem_mark or context_mark
    if (
        context_mark is not None
        and mark is not None
        and (exc.context or "").startswith(_CONTEXT_FIRST)
        and context_mark.line <= mark.line
    ):
        mark = context_mark
    index = _content_line(lines, mark.line) if mark is not None else 0
    context_line = (context_mark.line + 1) if context_mark is not None else index + 1
    reason = _reason(exc)
    if problem_mark is not None and problem_mark.line != index:
        stop = f"line {problem_mark.line + 1}, column {problem_mark.column + 1}"
        reason += f"; the parser stopped at {stop}"
    line_text = lines[index] if lines else ""
    if _TEMPLATE.search(line_text):
        return _unquoted_template(line_text, Location(shown, index + 1))
    return ConfigError(
        f"{shown} is not valid YAML",
        why=reason,
        fix=_fix_for(exc, line_text, context_line),
        where=Location(shown, index + 1),
    )


# --- parsing ---------------------------------------------------------------------------------

# libyaml's parser is ~20x faster than PyYAML's pure-Python one (a 1,000-deployment file: 0.6 s
# per parse); the constructor, which gives the values their types, is the same Python class.
_FAST: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_LOADERS: tuple[type[yaml.SafeLoader], ...] = tuple(dict.fromkeys((_FAST, yaml.SafeLoader)))


def parse(text: str | bytes, *, lines: dict[PathKey, int] | None = None) -> tuple[Node | None, Any]:
    """The node tree and the data, from one parse, as yaml.safe_load reads it. Where libyaml
    refuses a document, PyYAML (what Prefect uses) decides.

    ``lines`` is filled with the line of every key path, read before construction (which
    flattens merge keys into the node tree): a key given locally is at its own line, a key
    only merged in at the line of the anchor that defines it.

    Raises :class:`YamlProblems` for documents refused before construction (too deep, an
    alias bomb, a recursive alias, duplicate keys), else ``yaml.YAMLError``.
    """
    fast = _plain_parse(text, lines)
    return fast if fast is not None else _careful_parse(text, lines)


def _careful_parse(text: str | bytes, lines: dict[PathKey, int] | None) -> tuple[Node | None, Any]:
    for loader_class in _LOADERS:
        try:
            loader = loader_class(text)
        except yaml.YAMLError:
            if loader_class is yaml.SafeLoader:
                raise
            continue
        try:
            node = _Composer(loader).single()
            if node is not None and lines is not None:
                for key_path, line in _walk(node):
                    lines.setdefault(key_path, line)
            data = loader.construct_document(node) if node is not None else None
            return node, data
        except YamlProblems:
            raise
        except RecursionError:
            raise YamlProblems((_too_deep(None),)) from None
        except yaml.YAMLError:
            if loader_class is yaml.SafeLoader:
                raise
        finally:
            loader.dispose()
    raise AssertionError("unreachable")


def _plain_parse(
    text: str | bytes, lines: dict[PathKey, int] | None
) -> tuple[Node | None, Any] | None:
    """libyaml's own composer, for a document without anchors (so without aliases) that is
    within every limit and has no duplicate or merge keys; None: let :func:`parse` decide.

    Composing event by event in Python was most of reading a large prefect.yaml. Without
    anchors nothing expands, so the limits can be checked on the finished tree; anything
    unusual goes the careful way, which gives the messages."""
    if _FAST is yaml.SafeLoader or ("&" in text if isinstance(text, str) else b"&" in text):
        return None
    loader = _FAST(text)
    try:
        node = loader.get_single_node()
        found: dict[PathKey, int] = {}
        if node is not None and not _plain_tree(node, found):
            return None
        data = _plain_data(node, loader) if node is not None else None
    except (yaml.YAMLError, RecursionError):
        return None
    finally:
        loader.dispose()
    if lines is not None:
        for key_path, line in found.items():
            lines.setdefault(key_path, line)
    return node, data


def _plain_tree(root: Node, lines: dict[PathKey, int]) -> bool:
    """Fill ``lines`` as :func:`_walk` does; False when the tree nests deeper than
    ``MAX_DEPTH``, has more than ``MAX_NODES`` nodes, or a mapping repeats a key, merges one
    (``<<``) or has one that is not a scalar."""
    stack: list[tuple[Node, PathKey, int]] = [(root, (), 1)]
    total = 0
    while stack:
        node, prefix, depth = stack.pop()
        total += 1
        if total > MAX_NODES:
            return False
        children: list[tuple[Node, PathKey, int]] = []
        if isinstance(node, MappingNode):
            if depth > MAX_DEPTH:
                return False
            seen: set[Hashable] = set()
            total += len(node.value)  # the keys
            for key_node, value_node in node.value:
                if key_node.tag in _KEYS_TO_FLATTEN or not isinstance(key_node, ScalarNode):
                    return False
                identity = _key_identity(key_node)
                if identity in seen:
                    return False
                if identity is not None:
                    seen.add(identity)
                path = (*prefix, key_node.value)
                lines.setdefault(path, key_node.start_mark.line + 1)
                children.append((value_node, path, depth + 1))
        elif isinstance(node, SequenceNode):
            if depth > MAX_DEPTH:
                return False
            for index, item in enumerate(node.value):
                path = (*prefix, index)
                lines.setdefault(path, item.start_mark.line + 1)
                children.append((item, path, depth + 1))
        else:
            continue
        stack.extend(reversed(children))
    return True


def _plain_data(node: Node, loader: yaml.SafeLoader) -> Any:
    """What ``loader.construct_document(node)`` gives for a tree :func:`_plain_tree` took,
    built directly: strings, lists and mappings with the default tags are most of a
    prefect.yaml, and PyYAML's constructor spent longer on them than libyaml on the parse.
    Every other node (numbers, booleans, dates, explicit tags) is PyYAML's to construct."""
    if isinstance(node, ScalarNode):
        if node.tag == _STR_TAG:
            return node.value
    elif isinstance(node, SequenceNode):
        if node.tag == _SEQ_TAG:
            return [_plain_data(item, loader) for item in node.value]
    elif node.tag == _MAP_TAG:
        # keys are scalars (_plain_tree), so hashable; repeated ones were sent the careful way
        return {_plain_data(k, loader): _plain_data(v, loader) for k, v in node.value}
    return loader.construct_object(node, deep=True)


def safe_data(text: str | bytes) -> Any:
    """The data of a YAML document; None when it is not valid YAML or is refused."""
    if len(text) > MAX_BYTES:
        return None
    try:
        return parse(text)[1]
    except yaml.YAMLError:
        return None


def _too_deep(line: int | None) -> Problem:
    return Problem(
        f"the document nests deeper than {MAX_DEPTH} levels",
        why="mappings and lists (aliases included) nest past flowdeploy's limit"
        + (f" at line {line}" if line else "")
        + "; no prefect.yaml needs that many",
        fix="flatten the structure (a generated file: check its generator)",
        line=line,
    )


@dataclass
class _Open:
    """A sequence or mapping whose end has not been seen yet."""

    node: SequenceNode | MappingNode
    anchored: bool
    size: int = 1
    height: int = 1
    key: Node | None = None
    keys: dict[Hashable, int] = field(default_factory=dict)


class _Composer:
    """PyYAML's ``Composer.get_single_node`` without recursion, with limits.

    Counts, as the document is read, every node an alias expands to, and the nesting depth
    through aliases; an alias to a node still open (``&a [*a]``) would be infinite.
    """

    def __init__(self, loader: yaml.SafeLoader) -> None:
        # Any: the stubs type neither the event API nor libyaml's marks
        self.loader: Any = loader
        self.anchors: dict[str, Node] = {}
        self.extent: dict[Node, tuple[int, int]] = {}
        self.open: list[_Open] = []
        self.open_nodes: set[Node] = set()
        self.total = 0
        self.duplicates: list[Problem] = []

    def single(self) -> Node | None:
        loader = self.loader
        loader.get_event()  # stream start
        document = None
        if not loader.check_event(StreamEndEvent):
            document = self.document()
        if not loader.check_event(StreamEndEvent):
            event = loader.get_event()
            raise ComposerError(
                "expected a single document in the stream",
                document.start_mark if document is not None else None,
                "but found another document",
                event.start_mark,
            )
        loader.get_event()  # stream end
        if self.duplicates:
            raise YamlProblems(tuple(self.duplicates))
        return document

    def document(self) -> Node:
        loader = self.loader
        loader.get_event()  # document start
        while True:
            event: Any = loader.get_event()
            if isinstance(event, (SequenceStartEvent, MappingStartEvent)):
                self.start(event)
                continue
            if isinstance(event, (SequenceEndEvent, MappingEndEvent)):
                frame = self.open.pop()
                node: Node = frame.node
                node.end_mark = event.end_mark
                self.open_nodes.discard(node)
                size, height = frame.size, frame.height
                if frame.anchored:
                    self.extent[node] = (size, height)
            elif isinstance(event, AliasEvent):
                node, size, height = self.alias(event)
            elif isinstance(event, ScalarEvent):
                node, size, height = self.scalar(event), 1, 0
            else:  # pragma: no cover - the parser emits nothing else inside a document
                raise ComposerError(None, None, f"unexpected {event}", event.start_mark)
            if not self.open:
                loader.get_event()  # document end
                self.anchors = {}
                return node
            self.add(self.open[-1], node, size, height)

    def _register(self, anchor: str | None, node: Node, mark: Any) -> None:
        if anchor is None:
            return
        if anchor in self.anchors:
            raise ComposerError(
                f"found duplicate anchor {anchor!r}; first occurrence",
                self.anchors[anchor].start_mark,
                "second occurrence",
                mark,
            )
        self.anchors[anchor] = node

    def _count(self, size: int, mark: Any, alias: str | None = None) -> None:
        self.total += size
        if self.total > MAX_NODES:
            line = mark.line + 1
            raise YamlProblems(
                (
                    Problem(
                        f"the document expands to more than {MAX_NODES:,} values",
                        why=(
                            f"the alias *{alias} at line {line} brings the total past the limit"
                            if alias
                            else f"at line {line} the total passes the limit"
                        )
                        + "; aliases of aliases multiply (an alias bomb, 'billion laughs')",
                        fix="write the values out instead of nesting aliases of aliases, or "
                        "split the file into several projects",
                        line=line,
                    ),
                )
            )

    def scalar(self, event: Any) -> ScalarNode:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(ScalarNode, event.value, event.implicit)
        node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
        self._register(event.anchor, node, event.start_mark)
        if event.anchor is not None:
            self.extent[node] = (1, 0)
        self._count(1, event.start_mark)
        return node

    def start(self, event: Any) -> None:
        kind: type[SequenceNode] | type[MappingNode]
        kind = SequenceNode if isinstance(event, SequenceStartEvent) else MappingNode
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(kind, None, event.implicit)
        node = kind(tag, [], event.start_mark, None, flow_style=event.flow_style)
        self._register(event.anchor, node, event.start_mark)
        if len(self.open) + 1 > MAX_DEPTH:
            raise YamlProblems((_too_deep(event.start_mark.line + 1),))
        self._count(1, event.start_mark)
        self.open.append(_Open(node, anchored=event.anchor is not None))
        self.open_nodes.add(node)

    def alias(self, event: Any) -> tuple[Node, int, int]:
        anchor = event.anchor
        node = self.anchors.get(anchor) if anchor is not None else None
        if node is None:
            raise ComposerError(None, None, f"found undefined alias {anchor!r}", event.start_mark)
        line = event.start_mark.line + 1
        if node in self.open_nodes:
            raise YamlProblems(
                (
                    Problem(
                        f"the alias *{anchor} refers to the node that contains it",
                        why=f"the anchor &{anchor} at line {node.start_mark.line + 1} is not "
                        f"closed yet at line {line}: the value would contain itself forever",
                        fix=f"point *{anchor} at an anchor defined outside this value, or write "
                        "the value out",
                        line=line,
                    ),
                )
            )
        size, height = self.extent[node]
        if len(self.open) + height > MAX_DEPTH:
            raise YamlProblems((_too_deep(line),))
        self._count(size, event.start_mark, anchor)
        return node, size, height

    def add(self, frame: _Open, node: Node, size: int, height: int) -> None:
        frame.size += size
        frame.height = max(frame.height, height + 1)
        parent = frame.node
        if isinstance(parent, SequenceNode):
            parent.value.append(node)
            return
        if frame.key is None:
            frame.key = node
            return
        key, frame.key = frame.key, None
        parent.value.append((key, node))
        identity = _key_identity(key)
        if identity is None:
            return
        line = key.start_mark.line + 1
        first = frame.keys.get(identity)
        if first is None:
            frame.keys[identity] = line
            return
        shown = key.value if isinstance(key, ScalarNode) else str(identity)
        lines = f"lines {first} and {line}" if first != line else f"line {line}"
        self.duplicates.append(
            Problem(
                f"key {shown!r} is given twice in the same mapping ({lines})",
                why="YAML keys must be unique; yaml.safe_load, which prefect deploy uses, "
                "silently keeps the second value and drops the first",
                fix="delete one of the two, or merge them into one key",
                line=line,
            )
        )


_KEYS = yaml.constructor.SafeConstructor


def _key_identity(node: Node) -> Hashable | None:
    """What a scalar key becomes as a dict key (``1`` and ``true`` collide, as in a dict);
    None for merge keys and for keys that are not scalars (construction refuses those)."""
    if not isinstance(node, ScalarNode) or node.tag == _MERGE_TAG:
        return None
    if node.tag == _STR_TAG:
        return str(node.value)
    try:
        value = _KEYS().construct_object(node, deep=True)
        hash(value)
    except Exception:  # an odd scalar: compare as written
        return (node.tag, node.value)
    return value  # type: ignore[no-any-return]


# --- key lines -------------------------------------------------------------------------------


def _walk(root: Node) -> Iterator[tuple[PathKey, int]]:
    """Every key path and item index with its 1-based line, depth-first in document order."""
    stack: list[tuple[Node, PathKey]] = [(root, ())]
    while stack:
        node, prefix = stack.pop()
        children: list[tuple[Node, PathKey]] = []
        if isinstance(node, MappingNode):
            for key_node, value_node in _mapping_pairs(node):
                key = key_node.value if isinstance(key_node, ScalarNode) else str(key_node)
                path = (*prefix, key)
                yield path, key_node.start_mark.line + 1
                children.append((value_node, path))
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                yield (*prefix, index), item.start_mark.line + 1
                children.append((item, (*prefix, index)))
        stack.extend(reversed(children))


def _mapping_pairs(node: MappingNode) -> Iterator[tuple[Node, Node]]:
    """Own keys first (they win over merged ones, as in PyYAML), then merged keys."""
    merged: list[tuple[Node, Node]] = []
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE_TAG:
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for source in sources:
                if isinstance(source, MappingNode):
                    merged.extend(_mapping_pairs(source))
        else:
            yield key_node, value_node
    yield from merged

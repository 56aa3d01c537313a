"""Read watchlist.yaml into a validated Config, failing early with the line to fix.

Everything a run could trip over later (a typo'd key, a selector that does not
compile, a regex with an unbalanced bracket, a notify URL whose secret is not
set) is caught here, before anything is fetched or written, and reported as
`watchlist.yaml:12: pages[2].select: ...` with a hint. The YAML is composed into
its node tree rather than loaded, so every value keeps the line it came from;
the schema models validate the plain values, and each error's location in the
model (`("pages", 2, "select")`) is walked down the node tree to its line.
The size bounds run on the node tree first, before any model sees the data.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from pydantic import ValidationError

from policywatch.errors import ConfigError
from policywatch.models import Config
from policywatch.watchlist.checks import Invalid, kind
from policywatch.watchlist.expand import Loc, build_config
from policywatch.watchlist.schema import Watchlist


class _Node(NamedTuple):
    """A YAML value (scalar, list of _Node, or dict of str -> _Node) and its 1-based line.

    A mapping entry carries the line of its key, which is where a reader looks.
    """

    value: Any
    line: int


# A watchlist of a few hundred pages is tens of KB and a few thousand YAML values; these
# bounds are far above that and far below what hurts (an alias bomb under 1 KB expands
# to billions of values: gigabytes of memory, a frozen `run`).
MAX_WATCHLIST_BYTES = 1024 * 1024
MAX_WATCHLIST_VALUES = 100_000


def _read_tree(path: Path, file: str) -> _Node:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_WATCHLIST_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(
            "no such file",
            file=file,
            hint=f"`policywatch init {file}` writes a commented starter watchlist there; "
            "or point to yours with `policywatch -c PATH validate`",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=file) from None
    if len(data) > MAX_WATCHLIST_BYTES:
        raise ConfigError(
            f"is larger than {MAX_WATCHLIST_BYTES // 1024} KB; a watchlist is a few KB",
            file=file,
            hint="check that -c/--config points at the watchlist, not at another file",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            "is not UTF-8 text", file=file, line=line, hint="save it as UTF-8"
        ) from None
    constructor = yaml.constructor.SafeConstructor()
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        if root is None:
            return _Node(None, 1)
        _check_expansion(root, file)
        # Errors about the whole file are reported on its first line, not its first key.
        return _Node(_convert(root, constructor, file).value, 1)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise ConfigError(
            f"invalid YAML: {problem}",
            file=file,
            line=mark.line + 1 if mark else None,
            hint="check the indentation and quoting on this line or the one above; "
            "quote values that contain ': ' or start with a special character",
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=file) from None
    except RecursionError:
        raise ConfigError(
            "is nested too deeply to be a watchlist", file=file, hint="flatten the nesting"
        ) from None


def _check_expansion(root: yaml.Node, file: str) -> None:
    """Refuse a document whose aliases expand past MAX_WATCHLIST_VALUES values.

    Aliases are shared nodes, so the expanded size of each node is counted once
    (memoised by identity): the check is linear in the text even for a bomb,
    and it names the line of the first value whose expansion is too big.
    """
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = MAX_WATCHLIST_VALUES + 1  # a node that contains itself is unbounded
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        total = 1
        for child in children:
            total += size(child)
            if total > MAX_WATCHLIST_VALUES:
                raise ConfigError(
                    f"YAML aliases here expand to more than {MAX_WATCHLIST_VALUES:,} values "
                    "(an alias bomb?); a watchlist is a few thousand",
                    file=file,
                    line=child.start_mark.line + 1,
                    hint="write the values out, or use fewer nested `*alias` references",
                )
        sizes[id(node)] = total
        return total

    size(root)


def _convert(node: yaml.Node, constructor: yaml.constructor.SafeConstructor, file: str) -> _Node:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key, key_line = (
                str(constructor.construct_object(key_node)),
                key_node.start_mark.line + 1,
            )
            if key in seen:
                raise ConfigError(
                    f"key {key!r} appears twice in one mapping (lines {seen[key]} "
                    f"and {key_line}); the second would silently win",
                    file=file,
                    line=key_line,
                    key=key,
                    hint="remove or merge one of them",
                )
            seen[key] = key_line
        constructor.flatten_mapping(node)  # `<<: *anchor` merges; the mapping's own keys win
        entries = {
            str(constructor.construct_object(k)): _Node(
                _convert(v, constructor, file).value, k.start_mark.line + 1
            )
            for k, v in node.value
        }
        return _Node(entries, line)
    if isinstance(node, yaml.SequenceNode):
        return _Node([_convert(item, constructor, file) for item in node.value], line)
    return _Node(constructor.construct_object(node, deep=True), line)


def _plain(node: _Node) -> Any:
    """The values without their lines: what the schema models validate."""
    if isinstance(node.value, dict):
        return {key: _plain(child) for key, child in node.value.items()}
    if isinstance(node.value, list):
        return [_plain(child) for child in node.value]
    return node.value


class _Lines:
    """Where a model location sits in the file: its line and its key path."""

    def __init__(self, file: str, root: _Node) -> None:
        self.file, self.root = file, root

    def locate(self, loc: Loc) -> tuple[int, str | None]:
        """The deepest node on `loc` that the file has, and its `pages[2].select` path.

        The walk stops where the file has no such node: a missing key is reported
        on its mapping, and a value written in shorthand (`remove: nav` for a list,
        a bare notify URL for a route) on its own line.
        """
        node, key = self.root, ""
        for step in loc:
            value = node.value
            if isinstance(step, str) and isinstance(value, dict) and step in value:
                node, key = value[step], f"{key}.{step}" if key else step
            elif isinstance(step, int) and isinstance(value, list) and 0 <= step < len(value):
                node, key = value[step], f"{key}[{step}]"
            else:
                break
        return node.line, key or None

    def line(self, loc: Loc) -> int:
        return self.locate(loc)[0]

    def error(self, loc: Loc, message: str, hint: str | None = None) -> ConfigError:
        line, key = self.locate(loc)
        return ConfigError(message, file=self.file, line=line, key=key, hint=hint)


_WORDING = {
    "int_type": "expected a whole number, got {kind}",
    "int_parsing": "expected a whole number, got {kind}",
    "int_from_float": "expected a whole number, got {kind}",
    "bool_type": "expected true or false, got {kind}",
    "bool_parsing": "expected true or false, got {kind}",
    "string_type": "expected text, got {kind}",
    "list_type": "expected a list, got {kind}",
    "tuple_type": "expected a list, got {kind}",
    "dict_type": "expected a mapping (key: value lines), got {kind}",
    "model_type": "expected a mapping (key: value lines), got {kind}",
    "greater_than_equal": "must be at least {ge}, got {input}",
    "less_than_equal": "must be at most {le}, got {input}",
}


def _first_error(lines: _Lines, exc: ValidationError) -> ConfigError:
    """The error nearest the top of the file, in our words, at its line and key."""
    found = []
    for order, detail in enumerate(exc.errors(include_url=False)):
        loc, context = tuple(detail["loc"]), detail.get("ctx") or {}
        if detail["type"] == "watchlist":
            message, hint = context["message"], context.get("hint")
            if context.get("at") is not None:
                loc += (context["at"],)
        else:
            template = _WORDING.get(detail["type"])
            values = {"kind": kind(detail["input"]), "input": detail["input"], **context}
            message, hint = (template.format(**values) if template else detail["msg"]), None
        found.append((lines.line(loc), order, loc, message, hint))
    _, _, loc, message, hint = min(found)
    return lines.error(loc, message, hint)


def load_config(
    path: str | Path, env: Mapping[str, str] | None = None, *, sends: bool = True
) -> Config:
    """Read and validate a watchlist; raises ConfigError naming file, line and key.

    `sends=False` for a command that fetches and notifies nothing (see build_config)."""
    file = str(path)
    root = _read_tree(Path(path), file)
    if root.value is None:
        raise ConfigError("is empty", file=file, line=1, hint="it needs at least a `pages:` list")
    lines = _Lines(file, root)
    try:
        model = Watchlist.model_validate(_plain(root))
    except ValidationError as exc:
        raise _first_error(lines, exc) from None
    try:
        return build_config(model, file, os.environ if env is None else env, lines.line, sends)
    except Invalid as exc:
        raise lines.error(exc.loc, str(exc), exc.hint) from None

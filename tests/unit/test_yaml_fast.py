"""The fast way through prefect.yaml (libyaml's composer, limits checked on the finished tree)
gives exactly what the careful way (PyYAML's composer, event by event) gives: the same node
tree with the same marks, the same data, the same key lines; anything unusual goes the careful
way and keeps its message."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from flowdeploy import yamlfile
from flowdeploy.yamlfile import YamlProblems, _careful_parse, _plain_parse, parse

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from apply_vs_prefect import make_repo

from support import genrepo

DOCUMENTS = [
    "",
    "# only a comment\n",
    "name: x\n",
    "deployments:\n  - name: a\n    entrypoint: f.py:f\n    tags: [a, b]\n",
    "a: {b: [1, 2, {c: d}], e: 'quoted', f: \"dq\"}\n",
    "1: int key\n'1': str key\nfalse: bool\nnull: none\n1.5: float\n",
    "schedule:\n  cron: '*/5 * * * *'\n  timezone: UTC\n",
    "text: |\n  line one\n  line two\nfolded: >\n  a\n  b\n",
    "tagged: !!str 123\nnumber: !!int '7'\nplain: !custom value\n",
    "url: https://x.example/?a=1&b=2\n",  # an ampersand: the careful way
    "base: &b {x: 1}\nuse: *b\n",
    "merged:\n  <<: {x: 1}\n  y: 2\n",
    "dup: 1\ndup: 2\n",
    "? [complex, key]\n: value\n",
    "---\na: 1\n---\nb: 2\n",
    "a: *undefined\n",
    "a: [unclosed\n",
    "\ufeffbom: yes\n",
    "- - - nested\n  - x\n",
    "key: value # trailing comment\nempty:\nlist: []\nmap: {}\n",
    "=: value key\nother: 1\n",
    "a: =\n",
    "when: 2025-01-01T00:00:00\nday: 2025-01-01\nzoned: 2025-01-01 10:00:00+02:00\n",
    "b: !!binary aGVsbG8=\n",
    "s: !!set {a, b}\n",
    "o: !!omap [a: 1, b: 2]\n",
    "p: !!pairs [a: 1, a: 2]\n",
    "m: !!map {a: 1}\nq: !!seq [1]\n",
    "f: [.inf, -.Inf, .nan, 1e3, 0x1F, 0o17, 1_000, +5, ~, Null, TRUE, off]\n",
    "2025-01-01: date key\n1.5: float key\nnull: null key\n",
    "nested: {a: [{b: {c: [1, {d: e}]}}]}\n",
]


def shape(node: yaml.Node | None) -> Any:
    if node is None:
        return None
    marks = (node.start_mark.line, node.start_mark.column, node.end_mark.line)
    if isinstance(node, yaml.ScalarNode):
        return ("scalar", node.tag, node.value, node.style, marks)
    if isinstance(node, yaml.SequenceNode):
        return ("seq", node.tag, node.flow_style, marks, [shape(n) for n in node.value])
    return (
        "map",
        node.tag,
        node.flow_style,
        marks,
        [(shape(k), shape(v)) for k, v in node.value],
    )


def outcome(function: Any, text: str | bytes) -> Any:
    lines: dict[Any, int] = {}
    try:
        result = function(text, lines)
    except (yaml.YAMLError, YamlProblems) as exc:
        return ("error", type(exc).__name__, str(exc))
    if result is None:
        return None
    node, data = result
    return shape(node), data, lines


def check(text: str | bytes) -> bool:
    """Whether the fast way took ``text``; either way, ``parse`` answers as the careful way."""
    careful = outcome(_careful_parse, text)
    fast = outcome(_plain_parse, text)
    if fast is not None:
        assert fast == careful
    assert outcome(lambda t, lines: parse(t, lines=lines), text) == careful
    return fast is not None


@pytest.mark.parametrize("text", DOCUMENTS)
def test_each_document_reads_the_same_either_way(text: str) -> None:
    check(text)
    check(text.encode("utf-8"))


def test_the_usual_prefect_yaml_takes_the_fast_way_and_the_unusual_the_careful_one(
    tmp_path: Path,
) -> None:
    make_repo(tmp_path / "bench", 60)
    assert check((tmp_path / "bench" / "prefect.yaml").read_text())
    minimal = genrepo.make_repo(tmp_path / "minimal", 12, features=False)
    assert check((minimal / "prefect.yaml").read_text())
    # the full generated file defines anchors: the careful way, with the same answer
    full = genrepo.make_repo(tmp_path / "full", 12)
    assert not check((full / "prefect.yaml").read_text())
    took = {text: check(text) for text in DOCUMENTS}
    assert not took["base: &b {x: 1}\nuse: *b\n"]
    assert not took["merged:\n  <<: {x: 1}\n  y: 2\n"]
    assert not took["dup: 1\ndup: 2\n"]
    assert not took["? [complex, key]\n: value\n"]
    assert took["1: int key\n'1': str key\nfalse: bool\nnull: none\n1.5: float\n"]


def test_limits_still_hold_on_the_fast_way(monkeypatch: pytest.MonkeyPatch) -> None:
    deep = "a: " * 1 + "[" * 150 + "]" * 150 + "\n"
    with pytest.raises(YamlProblems, match="nests deeper"):
        parse(deep)
    monkeypatch.setattr(yamlfile, "MAX_NODES", 50)
    wide = "a: [" + ", ".join(str(i) for i in range(60)) + "]\n"
    with pytest.raises(YamlProblems, match="more than 50"):
        parse(wide)


scalars = st.one_of(
    st.text(max_size=12),
    st.integers(),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
)
keys = st.one_of(st.text(min_size=1, max_size=8), st.integers(), st.booleans())
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None)
@given(values, st.sampled_from([False, True, None]), st.booleans())
def test_generated_documents_read_the_same_either_way(
    data: Any, flow_style: bool | None, comments: bool
) -> None:
    text = yaml.safe_dump({"root": data}, default_flow_style=flow_style, allow_unicode=True)
    if comments:
        text = "# head\n" + text.replace("\n", "  # note\n", 3) if flow_style is False else text
    check(text)

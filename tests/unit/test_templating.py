from flowdeploy import templating as tpl


def env(**values: str) -> tpl.Resolver:
    return tpl.env_resolver(values)


def test_whole_string_placeholder_keeps_the_value_type() -> None:
    out = tpl.render(
        {"n": "{{ step.count }}"},
        frozenset({tpl.Kind.STEP}),
        tpl.mapping_resolver({"step": {"count": 3}}),
    )
    assert out == {"n": 3}


def test_embedded_placeholder_becomes_text() -> None:
    out = tpl.render("img:{{ $TAG }}-x", frozenset({tpl.Kind.ENV}), env(TAG="abc"))
    assert out == "img:abc-x"


def test_missing_env_is_reported_with_its_path() -> None:
    problems: list[tpl.Unresolved] = []
    out = tpl.render(
        {"a": ["{{ $NOPE }}"]}, frozenset({tpl.Kind.ENV}), env(), path=("d", 0), problems=problems
    )
    assert out == {"a": ["{{ $NOPE }}"]}
    assert problems == [tpl.Unresolved(("d", 0, "a", 0), "{{ $NOPE }}", tpl.Kind.ENV)]


def test_keep_missing_leaves_placeholder_and_reports_nothing() -> None:
    problems: list[tpl.Unresolved] = []
    out = tpl.render(
        "{{ clone.directory }}",
        frozenset({tpl.Kind.STEP}),
        tpl.mapping_resolver({}),
        keep_missing=True,
        problems=problems,
    )
    assert out == "{{ clone.directory }}"
    assert problems == []


def test_other_kinds_are_left_alone() -> None:
    out = tpl.render("{{ prefect.variables.x }} {{ $A }}", frozenset({tpl.Kind.ENV}), env(A="1"))
    assert out == "{{ prefect.variables.x }} 1"


def test_skip_prefixes_keeps_runtime_context() -> None:
    problems: list[tpl.Unresolved] = []
    out = tpl.render(
        "{{ ctx.flow_run.id }}",
        frozenset({tpl.Kind.STEP}),
        tpl.mapping_resolver({}),
        skip_prefixes=("ctx.",),
        problems=problems,
    )
    assert out == "{{ ctx.flow_run.id }}" and problems == []


def test_get_path_with_indexes() -> None:
    data = {"a": {"b": [{"c": 1}, {"c": 2}]}}
    assert tpl.get_path(data, "a.b[1].c") == 2
    assert tpl.get_path(data, "a.x") is tpl.MISSING


def test_block_value_unwraps_system_blocks() -> None:
    assert tpl.block_value({"value": "s3cret"}, None) == "s3cret"
    assert tpl.block_value({"value": {"k": 1}}, "k") == 1
    assert tpl.block_value({"value": {"k": 1}}, "value") == {"k": 1}
    assert tpl.block_value({"url": "u", "token": "t"}, "url") == "u"


def test_dict_embedded_in_string_is_a_problem() -> None:
    problems: list[tpl.Unresolved] = []
    tpl.render(
        "x-{{ s.obj }}",
        frozenset({tpl.Kind.STEP}),
        tpl.mapping_resolver({"s": {"obj": {"a": 1}}}),
        problems=problems,
    )
    assert problems and "dict" in problems[0].reason

import json
import re
from pathlib import Path

import pytest

from flowdeploy.git import Comparison
from flowdeploy.github import RangeRequest
from flowdeploy.pipeline import Outcome, Results, Status
from flowdeploy.plan import Action, FieldChange, Plan, PlannedDeployment
from flowdeploy.report import (
    details,
    next_steps,
    nothing_to_do,
    render_json,
    render_markdown,
    render_plan_text,
    run_markdown,
    run_text,
    selection,
)
from flowdeploy.run import RunResult
from flowdeploy.scope import Scope
from flowdeploy.settings import Settings

PLAN = Plan(
    items=(
        PlannedDeployment(name="etl/a", action=Action.CREATE),
        PlannedDeployment(
            name="etl/b",
            action=Action.UPDATE,
            changes={"parameters": FieldChange(old={"n": 1}, new={"n": 2})},
        ),
        PlannedDeployment(name="etl/c", action=Action.UNCHANGED),
        PlannedDeployment(name="etl/d", action=Action.ORPHANED, reasons=("gone from the file",)),
    )
)


def test_json_document_shape() -> None:
    doc = json.loads(render_json(PLAN))
    assert doc["deployments"][1] == {
        "name": "etl/b",
        "action": "update",
        "changes": {"parameters": {"from": {"n": 1}, "to": {"n": 2}}},
        "reasons": [],
        "problems": [],
    }
    assert doc["summary"] == {"create": 1, "update": 1, "unchanged": 1, "orphaned": 1}


def test_text_and_markdown_show_the_diff() -> None:
    text = render_plan_text(PLAN)
    assert "parameters.n: 1 → 2" in text
    assert "1 create, 1 update, 1 unchanged, 1 orphaned" in text
    md = render_markdown(PLAN)
    assert "| `etl/d` | orphaned | gone from the file |" in md


def test_a_change_deep_in_a_mapping_is_shown_at_its_path() -> None:
    """Seen on a real repository: two long job_variables cut to their first characters
    looked identical; the line must name the value that changed."""
    env = {"TS_AUTHKEY": "k", "LONG": "x" * 80}
    item = PlannedDeployment(
        name="etl/a",
        action=Action.UPDATE,
        changes={
            "job_variables": FieldChange(
                old={"cap_add": ["NET_ADMIN"], "env": env, "image": "app:1"},
                new={"cap_add": ["NET_ADMIN"], "env": env, "image": "app:2", "cpu": 2},
            )
        },
    )
    lines = details(item)
    assert lines == ["job_variables.cpu: (none) → 2", 'job_variables.image: "app:1" → "app:2"']


def test_failed_status_and_detail_in_markdown() -> None:
    results = Results(outcomes=(Outcome(name="etl/a", status=Status.FAILED, detail="a | b"),))
    md = render_markdown(PLAN, results)
    assert "| `etl/a` | failed | a \\| b |" in md


def test_next_steps_skip_push_pools_and_link_the_ui() -> None:
    outcomes = [
        Outcome(name="etl/a", status=Status.CREATED, deployment_id="42", work_pool_name="proc"),
        Outcome(name="etl/b", status=Status.CREATED, work_pool_name="cloud-run"),
    ]
    text = next_steps(outcomes, "http://ui", frozenset({"cloud-run"}))
    assert "prefect worker start --pool 'proc'" in text
    assert "cloud-run" not in text
    assert "prefect deployment run 'etl/a'" in text
    assert "http://ui/deployments/deployment/42" in text
    assert next_steps([Outcome(name="x/y", status=Status.FAILED)], None, frozenset()) == ""


# -- a whole run, as the CLI prints it -------------------------------------------------------

ANSI = re.compile(r"\x1b\[[0-9;]*m")
BASE, HEAD = "1a2b3c4d5e6f" + "0" * 28, "5d6e7f8a9b0c" + "0" * 28


def result(
    plan: Plan = PLAN,
    *,
    names: tuple[str, ...] = (),
    base: str | None = None,
    everything: bool = False,
    results: Results | None = None,
    ui_served: bool | None = None,
    api_url: str = "http://127.0.0.1:4200/api",
) -> RunResult:
    request = None
    comparison = None
    if base is not None:
        request = RangeRequest(kind="explicit", base=base, head="HEAD", reason=f"--base {base}")
        comparison = Comparison(base=BASE, head=HEAD, note=f"--base {base}: 1a2b3c4..5d6e7f8")
    settings = Settings(
        prefect_files=(Path("prefect.yaml"),),
        names=names,
        everything=everything,
        range=request,
        api_url=api_url,
    )
    scope = Scope(projects=(), comparison=comparison)
    return RunResult(
        command="apply" if results else "plan",
        settings=settings,
        scope=scope,
        plan=plan,
        results=results,
        ui_served=ui_served,
    )


def test_the_caption_says_what_was_selected() -> None:
    assert selection(result(everything=True)) == "every deployment"
    assert selection(result(names=("etl/*",))) == "deployments matching etl/*"
    assert selection(result(base="origin/main")) == (
        "deployments affected by origin/main..HEAD (1a2b3c4..5d6e7f8): 3 affected deployments"
    )
    assert selection(result(base="X", names=("a", "etl/*"))).startswith(
        "deployments matching a, etl/*, affected by X..HEAD"
    )
    text = run_text(result(names=("etl/*",)))
    assert "deployments matching etl/*" in text and "every deployment" not in text
    # A line of its own under the table, never cut to the table's width.
    note = selection(result(base="origin/main"))
    assert f"\n{note}\nPlan: " in run_text(result(base="origin/main"), width=60)
    assert "deployments matching etl/*" in run_markdown(result(names=("etl/*",)))


def test_an_empty_plan_says_nothing_to_do_and_why() -> None:
    empty = Plan(items=())
    assert run_text(result(empty, base="origin/main")) == (
        "Nothing to do: no deployment is affected by origin/main..HEAD (1a2b3c4..5d6e7f8).\n"
    )
    assert nothing_to_do(result(empty, names=("etl/*",))) == (
        "Nothing to do: no deployment matches etl/*."
    )
    applied = result(empty, base="X", results=Results(outcomes=()))
    assert run_text(applied).startswith("Nothing to do: no deployment is affected by X..HEAD")
    assert "┏" not in run_text(applied)


def test_an_up_to_date_plan_says_so() -> None:
    same = Plan(items=(PlannedDeployment(name="etl/c", action=Action.UNCHANGED),))
    assert "Nothing to do: every deployment is up to date." in run_text(result(same))
    assert "Nothing to do" not in run_text(result())


@pytest.mark.parametrize("applied", [False, True])
def test_colours_only_when_asked(applied: bool) -> None:
    outcomes = (
        Outcome(name="etl/a", status=Status.CREATED),
        Outcome(name="etl/b", status=Status.UPDATED),
        Outcome(name="etl/c", status=Status.UNCHANGED),
        Outcome(name="etl/d", status=Status.FAILED, detail="boom"),
    )
    run = result(results=Results(outcomes=outcomes) if applied else None)
    plain = run_text(run)
    assert not ANSI.search(plain)
    coloured = run_text(run, color=True)
    first, second = ("created", "updated") if applied else ("create", "update")
    assert f"\x1b[32m{first}" in coloured  # green
    assert f"\x1b[33m{second}" in coloured  # yellow
    assert "\x1b[2munchanged" in coloured  # dim
    red = "\x1b[1;31mfailed" if applied else "\x1b[31morphaned"
    assert red in coloured
    # The same text once the colours are taken away.
    assert ANSI.sub("", coloured).split() == plain.split()


def test_next_steps_only_when_something_changed() -> None:
    unchanged = Results(
        outcomes=(
            Outcome(name="etl/c", status=Status.UNCHANGED, deployment_id="7", work_pool_name="p"),
        )
    )
    quiet = Plan(items=(PlannedDeployment(name="etl/c", action=Action.UNCHANGED),))
    text = run_text(result(quiet, results=unchanged))
    assert "Nothing was written: every deployment is up to date." in text
    assert "prefect worker start" not in text and "prefect deployment run" not in text
    assert "deployments/deployment" not in text
    changed = Results(
        outcomes=(
            Outcome(name="etl/c", status=Status.UNCHANGED, deployment_id="7", work_pool_name="old"),
            Outcome(name="etl/a", status=Status.UPDATED, deployment_id="8", work_pool_name="p"),
        )
    )
    text = run_text(result(results=changed))
    assert "prefect worker start --pool 'p'" in text and "'old'" not in text
    assert "prefect deployment run 'etl/a'" in text
    assert "View it in the UI: http://127.0.0.1:4200/deployments/deployment/8" in text


def test_no_ui_link_when_the_server_has_no_ui() -> None:
    changed = Results(outcomes=(Outcome(name="etl/a", status=Status.CREATED, deployment_id="8"),))
    assert "View it in the UI" not in run_text(result(results=changed, ui_served=False))
    # Not known (the question failed): the link Prefect would print.
    assert "View it in the UI" in run_text(result(results=changed, ui_served=None))


def test_a_long_ui_link_is_not_wrapped() -> None:
    """A Cloud link is longer than the table's width; cut in two, it would not open."""
    account, workspace, deployment = "a" * 36, "b" * 36, "c" * 36
    api = f"https://api.prefect.cloud/api/accounts/{account}/workspaces/{workspace}"
    changed = Results(
        outcomes=(Outcome(name="etl/a", status=Status.CREATED, deployment_id=deployment),)
    )
    link = (
        f"https://app.prefect.cloud/account/{account}/workspace/{workspace}"
        f"/deployments/deployment/{deployment}"
    )
    for color in (False, True):
        text = run_text(result(results=changed, api_url=api), color=color, width=80)
        assert f"View it in the UI: {link}\n" in text


def test_markdown_lists_the_warnings() -> None:
    from flowdeploy.errors import ConfigWarning, Location

    result = RunResult(
        command="plan",
        plan=PLAN,
        warnings=(ConfigWarning("push step x is not run", Location("prefect.yaml", 7)),),
    )
    text = run_markdown(result)
    assert "**Warnings**" in text
    assert "prefect.yaml:7" in text and "push step x is not run" in text

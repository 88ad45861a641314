"""The README's command reference agrees with the program: every option `--help` shows is in
the synopsis, and the JSON sample has every key `--format json` prints."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from flowdeploy.cli import parser as cli_parser
from flowdeploy.pipeline import ImageJob, Outcome, Results, Status
from flowdeploy.plan import Action, FieldChange, Plan, PlannedDeployment
from flowdeploy.report import run_document
from flowdeploy.run import RunResult

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def _keys(value: Any, prefix: str = "") -> set[str]:
    """Every key path of a document, list items merged (``deployments[].name``)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if prefix.endswith((".changes", "changes")) or key in ("from", "to"):
                continue  # field names and values, not the document's shape
            path = f"{prefix}.{key}" if prefix else key
            found |= {path} | _keys(item, path)
    elif isinstance(value, list):
        for item in value:
            found |= _keys(item, prefix + "[]")
    return found


def test_the_synopsis_lists_every_option_help_shows() -> None:
    commands = _section("Commands")
    synopsis = commands[
        commands.index("```bash") : commands.index("```\n", commands.index("```bash") + 7)
    ]
    root = cli_parser()
    subcommands = next(a for a in root._actions if isinstance(a, argparse._SubParsersAction))
    options = {
        option
        for command in subcommands.choices.values()
        for action in [*command._actions, *root._actions]
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }
    missing = sorted(o for o in options if not re.search(re.escape(o) + r"\b", synopsis))
    assert not missing, f"options missing from the README's synopsis: {missing}"


def test_the_json_sample_shows_every_key_of_an_apply_document() -> None:
    commands = _section("Commands")
    start = commands.index("```json") + len("```json")
    sample = json.loads(commands[start : commands.index("```", start)])
    item = PlannedDeployment(
        name="etl/orders-nightly",
        action=Action.UPDATE,
        changes={"parameters": FieldChange(old={"source": "orders"}, new={"source": "x"})},
        reasons=("prefect.yaml: parameters changed",),
    )
    result = RunResult(
        command="apply",
        plan=Plan(items=(item,)),
        images=(ImageJob(reference="ghcr.io/org/flows:abc", used=True, exists=True),),
        results=Results(
            outcomes=(Outcome(name=item.name, status=Status.UPDATED, deployment_id="0f6c"),)
        ),
    )
    real = run_document(result)
    assert _keys(sample) == _keys(real), (
        f"README sample lacks {sorted(_keys(real) - _keys(sample))}, "
        f"has extra {sorted(_keys(sample) - _keys(real))}"
    )

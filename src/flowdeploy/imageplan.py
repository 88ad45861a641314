"""Which image a project's deployments run on, and how to build it (pure).

The image is described where users already describe it: a
``prefect_docker.deployments.steps.build_docker_image`` step in prefect.yaml (its
``image_name``, ``dockerfile``, ``buildargs``, ``platform``, ``additional_tags``; other keys go
to the Docker build), or ``--image-name``. flowdeploy tags it with the commit it is built from,
so one commit is built at most once. It is pushed only when the project asks for that: a
``prefect_docker.deployments.steps.push_docker_image`` push step, or ``--image-name``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flowdeploy import templating as tpl
from flowdeploy.errors import ConfigError
from flowdeploy.git import Checkout
from flowdeploy.image import ImageSpec, check_tag, split_tag

DOCKER_BUILD = "prefect_docker.deployments.steps.build_docker_image"
DOCKER_PUSH = "prefect_docker.deployments.steps.push_docker_image"
# Step keys that are not Docker build arguments.
_STEP_KEYS = ("id", "requires", "image_name", "tag", "dockerfile", "additional_tags")
_OWN_KEYS = {"buildargs", "platform", "target"}
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")

Located = list[tuple[tuple[str | int, ...], dict[str, Any]]]


def build_steps(data: Any) -> Located:
    """Every Docker build step of the file, with its key path (for file:line).

    The file's own step counts even when every deployment replaces it: it still describes
    the project's image, which the plan then reports as not needed.
    """
    # A deployment's own 'build' replaces the file's whenever the key is there, even empty
    # (prefect deploy: deploy_config.get("build", actions.get("build"))).
    return _docker_steps(
        data, "build", DOCKER_BUILD, lambda entry: "build" in entry, file_step_always=True
    )


def push_steps(data: Any) -> Located:
    """Every Docker push step that applies to a deployment, with its key path.

    prefect deploy runs only the steps the file lists, so without one of these the image
    it builds stays in the local engine.
    """
    # A deployment's own 'push' replaces the file's only when it lists a step
    # (prefect deploy: deploy_config.get("push", …) or [], then `or actions.get("push")`).
    return _docker_steps(
        data, "push", DOCKER_PUSH, lambda entry: bool(entry.get("push")), file_step_always=False
    )


def _docker_steps(
    data: Any,
    key: str,
    fqn: str,
    overrides: Callable[[dict[str, Any]], bool],
    *,
    file_step_always: bool,
) -> Located:
    found: Located = []
    if not isinstance(data, dict):
        return found
    deployments = data.get("deployments")
    entries = deployments if isinstance(deployments, list) else []
    own = [i for i, e in enumerate(entries) if isinstance(e, dict) and overrides(e)]
    places: list[tuple[tuple[str | int, ...], Any]] = []
    if file_step_always or not entries or len(own) < len(entries):
        places.append(((key,), data.get(key)))
    places += [(("deployments", i, key), entries[i].get(key)) for i in own]
    for path, steps in places:
        for step_path, step in _listed(path, steps):
            if isinstance(step.get(fqn), dict):
                found.append(((*step_path, fqn), step[fqn]))
    return found


def _listed(path: tuple[str | int, ...], steps: Any) -> Located:
    """The steps of a 'build:' or 'push:', with their paths: Prefect takes a single step
    written as a mapping as a list of one."""
    if isinstance(steps, dict):
        return [(path, steps)] if steps else []
    items = steps if isinstance(steps, list) else []
    return [((*path, i), step) for i, step in enumerate(items) if isinstance(step, dict)]


def tags(templates: Sequence[str], checkout: Checkout) -> tuple[str, ...]:
    """Extra tags from templates such as ``{short_sha}`` or ``{branch}``."""
    values = {
        "sha": checkout.sha,
        "short_sha": checkout.sha[:7],
        "branch": (checkout.branch or "detached").replace("/", "-"),
    }
    out = []
    for template in templates:
        try:
            out.append(check_tag(template.format(**values)))
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(
                f"tag template {template!r} cannot be filled",
                why=str(exc),
                fix="use {sha}, {short_sha} and {branch}",
            ) from None
    return tuple(dict.fromkeys(out))


def image_spec(
    data: Any,
    *,
    project_dir: Path,
    where: Any,
    checkout: Checkout,
    environ: Mapping[str, str],
    image_name: str | None = None,
    tag_templates: Sequence[str] = (),
    now: datetime | None = None,
) -> ImageSpec | None:
    """The image to build for the project, or None when nothing asks for one.

    ``where(*keys)`` gives a key path's Location (``YamlDocument.where``). The image is pushed
    when a Docker push step applies, or when ``image_name`` (``--image-name``) names where
    to publish it; otherwise it is built into the local engine only, as prefect deploy
    leaves it.
    """
    steps = build_steps(data)
    distinct = {repr(sorted(config.items())) for _, config in steps}
    if len(distinct) > 1:
        second = steps[1][0]
        raise ConfigError(
            "the project has Docker build steps that differ",
            why="flowdeploy builds one image per project and commit",
            fix="use one build step (top-level 'build:'), or split the deployments into projects",
            where=where(*second),
        )
    if not steps and not image_name:
        return None
    config = tpl.render(
        dict(steps[0][1]) if steps else {},
        frozenset({tpl.Kind.ENV}),
        tpl.env_resolver(environ),
    )
    name = image_name or config.get("image_name")
    if not isinstance(name, str) or not name:
        raise ConfigError(
            "the Docker build step has no image_name",
            fix="add 'image_name: registry.example.com/team/flows' or pass --image-name",
            where=where(*steps[0][0]) if steps else None,
        )
    # A tag in the name (or the step's 'tag') is replaced: the commit is the tag.
    name = split_tag(name)[0]
    extra = [str(t) for t in config.get("additional_tags") or []]
    dockerfile = str(config.get("dockerfile") or ("auto" if steps else _default(project_dir)))
    if dockerfile != "auto":
        # The engine reads it from where it points: never from outside the project.
        found = (project_dir / dockerfile).resolve()
        if not found.is_relative_to(project_dir.resolve()):
            raise ConfigError(
                f"the Dockerfile {dockerfile!r} resolves outside the project directory",
                why=f"it points at {found}; flowdeploy reads no file outside the repository",
                fix="put the Dockerfile in the project directory (next to prefect.yaml) and "
                "name it relative to it, or use dockerfile: auto",
                where=where(*steps[0][0], "dockerfile") if steps else None,
            )
    now = now or datetime.now(timezone.utc)
    labels = {
        "org.opencontainers.image.revision": checkout.sha,
        "org.opencontainers.image.created": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if checkout.source:
        labels["org.opencontainers.image.source"] = checkout.source
    kwargs = {k: v for k, v in config.items() if k not in _STEP_KEYS and k not in _OWN_KEYS}
    # `prefect init` records the Prefect the project uses; the auto Dockerfile's base matches it
    # as the reference's matches the Prefect it runs under.
    version = data.get("prefect-version") if isinstance(data, dict) else None
    versions = {"prefect_version": str(version)} if version and _VERSION.match(str(version)) else {}
    return ImageSpec(
        name=name,
        tag=checkout.sha,
        context=project_dir,
        dockerfile=dockerfile,
        buildargs={str(k): str(v) for k, v in (config.get("buildargs") or {}).items()},
        platform=config.get("platform"),
        target=config.get("target"),
        labels=labels,
        additional_tags=tags([*extra, *tag_templates], checkout),
        build_kwargs=kwargs,
        push=bool(image_name) or bool(push_steps(data)),
        **versions,
    )


def _default(project_dir: Path) -> str:
    """Without a build step: the project's Dockerfile when it has one, else the default."""
    return "Dockerfile" if (project_dir / "Dockerfile").is_file() else "auto"

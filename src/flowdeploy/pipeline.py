"""The pipeline: read -> validate against the server -> plan -> apply. Collaborators are
passed in, so every stage before the writes can run without side effects."""

from __future__ import annotations

import enum
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict

from flowdeploy import templating as tpl
from flowdeploy.api import PrefectApi, runs_deployment
from flowdeploy.changes import Entry
from flowdeploy.errors import (
    ApiError,
    ConfigError,
    DeploymentApplyError,
    FlowdeployError,
)
from flowdeploy.flows import FlowReader
from flowdeploy.git import checkout, export_tree, inferred_version, repo_root
from flowdeploy.image import (
    Engine,
    ImageError,
    ImageSpec,
    RegistryAuth,
    docker_config_auth,
    image_exists,
    parse_reference,
)
from flowdeploy.imageplan import build_steps, image_spec
from flowdeploy.plan import (
    Action,
    Plan,
    PlannedDeployment,
    compare_specs,
    current_view,
    desired_view,
    diff,
    make_plan,
)
from flowdeploy.project import DeploymentSpec, Lookups, Project, load_project
from flowdeploy.roots import Locators
from flowdeploy.runner import Deployment
from flowdeploy.scope import ProjectScope, Scope, find_scope
from flowdeploy.settings import Settings, connection_from_env
from flowdeploy.validation import check_specs, job_variable_refusals, refusals
from flowdeploy.yamlfile import display_path, load_yaml, no_deployments


class ServerLookups:
    """Variables and blocks read from the API once each, for templating."""

    def __init__(self, api: PrefectApi) -> None:
        self.api = api
        self._variables: dict[str, Any] = {}
        self._blocks: dict[tuple[str, str], dict[str, Any] | None] = {}

    def variable(self, name: str) -> Any:
        if name not in self._variables:
            found = self.api.read_variable(name)
            self._variables[name] = tpl.MISSING if found is None else found.get("value")
        return self._variables[name]

    def block(self, type_slug: str, name: str) -> dict[str, Any] | None:
        key = (type_slug, name)
        if key not in self._blocks:
            found = self.api.read_block_document(type_slug, name)
            self._blocks[key] = None if found is None else dict(found.get("data") or {})
        return self._blocks[key]


class OfflineLookups:
    """A plan without a server: each variable and block stays as its placeholder text."""

    def variable(self, name: str) -> Any:
        return "{{ prefect.variables." + name + " }}"

    def block(self, type_slug: str, name: str) -> str:
        return "{{ prefect.blocks." + type_slug + "." + name + " }}"


class PoolCache:
    """Work pools by name, each read once (None: the server has no such pool)."""

    def __init__(self, api: PrefectApi) -> None:
        self.api = api
        self._pools: dict[str, dict[str, Any] | None] = {}
        self._lock = threading.Lock()  # read_ahead may run on the reading thread

    def get(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            if name not in self._pools:
                self._pools[name] = self.api.read_work_pool(name)
            return self._pools[name]

    def read_ahead(self, names: Iterable[str | None]) -> None:
        """Read the pools not read yet in one request instead of one each (pools used by
        forty deployments, or a dozen pools, are asked for when their checks run)."""
        with self._lock:
            wanted = sorted({n for n in names if n and n not in self._pools})
            if not wanted:
                return
            try:
                found = self.api.read_work_pools(wanted)
            except ApiError:
                return  # each is read alone when needed, and a failure is told there
            for pool in found:
                self._pools[str(pool["name"])] = pool


def takes_image(pool: dict[str, Any]) -> bool:
    """Prefect's rule: a pool takes an image when its job template has an image variable."""
    template = pool.get("base_job_template") or {}
    return "image" in ((template.get("variables") or {}).get("properties") or {})


def server_errors(
    dep: Deployment, spec: DeploymentSpec | None, pools: PoolCache, image: str | None
) -> list[ConfigError]:
    """The checks ``RunnerDeployment.apply()`` / ``deploy()`` make against the server for one
    deployment that is given ``image``."""
    errors: list[ConfigError] = []
    where = spec.where if spec else None
    for problem in dep.target_errors():
        errors.append(
            ConfigError(
                problem, where=where, fix="add 'work_pool: {name: <pool>}' to the deployment"
            )
        )
    pool_name = dep.work_pool_name
    if not pool_name:
        return errors
    pool = pools.get(pool_name)
    if pool is None:
        errors.append(
            ConfigError(
                f"work pool {pool_name!r} does not exist",
                why=f"{dep.full_name} uses it; Prefect refuses a deployment whose work pool "
                "does not exist",
                fix=f"create it (prefect work-pool create {pool_name} --type <type>) or fix "
                "the name",
                where=spec.where_of("work_pool", "name") if spec else None,
            )
        )
        return errors
    uses_image = bool(image) or bool(spec and spec.uses_image)
    if uses_image and not takes_image(pool):
        errors.append(
            ConfigError(
                f"work pool {pool_name!r} (type {pool.get('type')!r}) cannot run an image",
                why=f"deployment {dep.full_name!r} is given an image, but the pool's base job "
                "template has no 'image' variable",
                fix="use a Docker-based work pool (e.g. type 'docker'), or deploy without an image",
                where=where,
            )
        )
    errors += job_variable_refusals(dep, pool, spec)
    return errors


def pools_without_workers(api: PrefectApi, names: Iterable[str]) -> frozenset[str]:
    """Push and managed pools: Prefect runs their flows itself, so no worker is suggested."""
    return frozenset(
        name
        for name in set(names)
        if str((api.read_work_pool(name) or {}).get("type", "")).endswith((":push", ":managed"))
    )


def _image_for(spec: DeploymentSpec, pools: PoolCache, image: str | None) -> str | None:
    """``--image`` goes to the deployments that take one: those with a Docker build step,
    and those whose work pool runs images."""
    if not image:
        return None
    if spec.uses_image:
        return image
    pool = pools.get(spec.deployment.work_pool_name) if spec.deployment.work_pool_name else None
    return image if pool is not None and takes_image(pool) else None


class ImageJob(BaseModel):
    """One project's image: what it is, whether a planned deployment uses it, whether it
    already exists (in its registry; in the local engine for an image that is not pushed)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reference: str
    spec: ImageSpec | None = None
    """How to build it; None for an existing image given with --image."""
    used: bool = False
    exists: bool | None = None
    """None: not asked, or the registry (or engine) could not say (see ``problem``)."""
    problem: str | None = None
    digest: str | None = None
    built: bool = False
    """Built by this run (a pushed image also has its ``digest``)."""

    @property
    def pushed(self) -> bool:
        """Whether the image goes to a registry (else it stays in the local engine)."""
        return self.spec is None or self.spec.push

    @property
    def to_publish(self) -> bool:
        """Used, built by flowdeploy, and not known to exist yet."""
        return self.used and self.spec is not None and not self.exists


class Reading(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    projects: tuple[Project, ...]
    plan: Plan
    scope: Scope
    images: tuple[ImageJob, ...] = ()
    empty: tuple[ConfigError, ...] = ()
    """Files that declare no deployment: an error for apply, a warning for plan."""
    problems: tuple[ConfigError, ...] = ()
    """What the server would refuse: nothing is written, but the plan is still shown."""


def read_plan(settings: Settings, api: PrefectApi) -> Reading:
    """Everything before the first write: read, resolve, validate, compare."""
    api.check()
    pools = PoolCache(api)
    locators = Locators()
    scope = find_scope(
        settings, _image_use(pools, bool(settings.image or settings.image_name)), locators
    )
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowdeploy-read") as reader:
        # The whole server is read while the files are parsed: the two take about as long,
        # and the wait for the server's answers frees the interpreter for the parsing.
        early = reader.submit(_server_state, api, None) if scope.comparison is None else None
        if early is not None:
            # and the pools the server's deployments run on, most likely the ones in play
            reader.submit(
                lambda: pools.read_ahead(d.get("work_pool_name") for d in early.result()[0])
            )
        read = _read_projects(
            settings,
            scope,
            ServerLookups(api),
            locators,
            lambda spec, reference: _image_for(spec, pools, reference),
        )
        projects, specs, images, removed = read.projects, read.specs, read.images, read.removed
        if early is not None:
            current, flow_names, automations = early.result()
        else:
            # Only the flows in play: a change to one flow of a thousand reads a handful.
            flows = {s.deployment.flow_name or "" for s in specs} | {
                n.split("/")[0] for n in removed
            }
            current, flow_names, automations = _server_state(api, sorted(flows))
    whole = scope.comparison is None and not settings.names
    plan = make_plan(
        specs,
        current,
        flow_names,
        automations,
        project_flows=frozenset(n for p in projects for n in p.flow_names) if whole else None,
        reasons=read.reasons,
        removed=removed,
    )
    pools.read_ahead(s.deployment.work_pool_name for s in specs)
    # What the server already holds it accepted: only what will be written is checked
    # against its rules (the parameter schema check is the costly part of a plan).
    writes = {i.name for i in plan.items if i.action in (Action.CREATE, Action.UPDATE)}
    found = {
        s.deployment.full_name: server_errors(s.deployment, s, pools, image)
        + (refusals(s, settings.environ) if s.deployment.full_name in writes else [])
        for s, image in zip(specs, images, strict=True)
    }
    jobs = [_check_image(job, settings) for job in read.jobs]
    return Reading(
        projects=tuple(projects),
        plan=plan.with_problems({name: tuple(e.what for e in f) for name, f in found.items()}),
        scope=scope.model_copy(update={"rebuild_image": scope.rebuild_image and bool(jobs)}),
        images=tuple(jobs),
        empty=tuple(read.empty),
        problems=tuple(merge_repeated(found)),
    )


ServerState = tuple[list[dict[str, Any]], dict[str, str], list[dict[str, Any]]]


def _server_state(api: PrefectApi, flows: list[str] | None) -> ServerState:
    """The deployments of ``flows`` (None: all), their flows' names, and the automations."""
    if flows is not None and not flows:
        return [], {}, []
    current = api.read_deployments(flow_names=flows)
    flow_ids = sorted({str(d["flow_id"]) for d in current})
    flow_names = {str(f["id"]): f["name"] for f in api.read_flows(flow_ids)}
    return current, flow_names, _automations(api) if current else []


class _Projects(NamedTuple):
    projects: list[Project]
    specs: list[DeploymentSpec]
    """Each deployment, targeted at the image it runs on."""
    images: list[str | None]
    """The image each deployment runs on (None: none)."""
    jobs: list[ImageJob]
    reasons: dict[str, tuple[str, ...]]
    removed: dict[str, str]
    empty: list[ConfigError]
    references: dict[Path, str | None]
    """The image reference of each project (by its prefect.yaml), for reading the base."""


def _read_projects(
    settings: Settings,
    scope: Scope,
    lookups: Lookups,
    locators: Locators,
    image_for: Callable[[DeploymentSpec, str | None], str | None],
) -> _Projects:
    """Each project in scope, read: its deployments, each targeted at the image
    ``image_for`` gives it from its project's image reference."""
    projects: list[Project] = []
    reasons: dict[str, tuple[str, ...]] = {}
    removed: dict[str, str] = {}
    jobs: list[ImageJob] = []
    all_specs: list[DeploymentSpec] = []
    images: list[str | None] = []
    empty: list[ConfigError] = []
    references: dict[Path, str | None] = {}
    for part in scope.projects:
        repo = repo_root(part.prefect_file.parent)
        part = _with_document(part, repo)
        empty += _no_deployments(part)
        build = _image_spec(settings, part)
        reference = settings.image or (build.reference if build else None)
        references[part.prefect_file] = reference
        project = _load(settings, part, repo, lookups, reference, locators)
        projects.append(project)
        given = [image_for(s, reference) for s in project.specs]
        if reference:
            jobs.append(ImageJob(reference=reference, spec=build, used=any(given)))
        all_specs += project.specs
        images += given
        for spec in project.specs:
            reasons[spec.deployment.full_name] = part.reasons.get(spec.index or 0, ())
        removed.update(part.removed)
    _check_unique(all_specs)
    specs = [
        s.model_copy(update={"deployment": s.deployment.with_target(None, image)})
        for s, image in zip(all_specs, images, strict=True)
    ]
    return _Projects(projects, specs, images, jobs, reasons, removed, empty, references)


def merge_repeated(found: Mapping[str, Sequence[ConfigError]]) -> list[ConfigError]:
    """One error per problem, whatever the number of deployments it stops: a missing pool
    used by forty deployments is one thing to fix, said once with every place it is used."""
    groups: dict[tuple[str, str], list[tuple[str, ConfigError]]] = {}
    for name, errors in found.items():
        for error in errors:
            groups.setdefault((error.what, error.fix), []).append((name, error))
    merged = []
    for (what, fix), members in groups.items():
        first = members[0][1]
        if len(members) == 1:
            merged.append(first)
            continue
        users = ", ".join(f"{n} ({e.where})" if e.where else n for n, e in members)
        cause = first.why.removeprefix(f"{members[0][0]} uses it; ")
        merged.append(
            ConfigError(
                f"{what} ({len(members)} deployments)",
                why=f"it stops {users}; {cause}",
                fix=fix,
                where=first.where,
            )
        )
    return merged


def _no_deployments(part: ProjectScope) -> list[ConfigError]:
    found = no_deployments(part.document) if part.document else None
    return [found] if found else []


def _with_document(part: ProjectScope, repo: Path | None) -> ProjectScope:
    """The part with its prefect.yaml read, once for the whole run (image, loader, checks);
    ``repo``: the working tree holding it (None: not in a repository)."""
    if part.document is not None:
        return part
    file = part.prefect_file
    doc = load_yaml(file, display_path(file), inside=repo)
    return part.model_copy(update={"document": doc})


def read_offline(settings: Settings) -> Reading:
    """What a plan can know without a Prefect server (a fork's pull request has no secrets):
    the affected deployments at the head against the same deployments at the base commit.

    Variables and blocks stay placeholders, and work pools are not checked.
    """
    locators = Locators()
    scope = find_scope(settings, lambda entry: entry.builds_image, locators)
    lookups = OfflineLookups()
    read = _read_projects(
        settings,
        scope,
        lookups,
        locators,
        lambda spec, reference: reference if spec.uses_image else None,
    )
    specs, jobs = read.specs, read.jobs
    check_specs(specs, settings.environ)
    warnings = list(scope.warnings)
    base = scope.comparison.base if scope.comparison else None
    if base is None:
        warnings.append(
            "no base commit to compare with and no Prefect server: every deployment is shown "
            "as a create"
        )
        before: list[DeploymentSpec] = []
    else:
        before = _specs_at(settings, base, read.references, lookups, warnings)
    plan = compare_specs(specs, before, reasons=read.reasons, removed=read.removed)
    scope = scope.model_copy(
        update={"warnings": tuple(warnings), "rebuild_image": scope.rebuild_image and bool(jobs)}
    )
    jobs = [_check_image(job, settings) for job in jobs]
    return Reading(
        projects=tuple(read.projects),
        plan=plan,
        scope=scope,
        images=tuple(jobs),
        empty=tuple(read.empty),
    )


def _specs_at(
    settings: Settings,
    rev: str,
    references: dict[Path, str | None],
    lookups: OfflineLookups,
    warnings: list[str],
) -> list[DeploymentSpec]:
    """The deployments each project had at ``rev``, resolved as the head's are (same image
    reference and commit version, so only what the files say can differ)."""
    found: list[DeploymentSpec] = []
    for file, reference in references.items():
        repo = repo_root(file.parent)
        if repo is None:
            continue
        with tempfile.TemporaryDirectory(prefix="flowdeploy-base-") as tmp:
            root = Path(tmp)
            try:
                export_tree(repo, rev, root)
                at_base = root / file.resolve().relative_to(repo.resolve())
                if not at_base.is_file():
                    continue
                directory = settings.directory_of(file).resolve().relative_to(repo.resolve())
                project = load_project(
                    at_base,
                    root=root / directory,
                    repo_root=root,
                    lookups=lookups,
                    environ=settings.environ,
                    names=settings.names,
                    image=reference,
                    inferred_version=inferred_version(repo, settings.environ),
                )
            except FlowdeployError as exc:
                warnings.append(
                    f"{display_path(file)} could not be read at the base commit {rev[:12]} "
                    f"({exc.what}): its deployments are shown as creates"
                )
                continue
            for spec in project.specs:
                image = reference if spec.uses_image else None
                target = _relocated(spec.deployment.with_target(None, image), root, repo)
                found.append(spec.model_copy(update={"deployment": target}))
    return found


def _relocated(dep: Deployment, tree: Path, repo: Path) -> Deployment:
    """The deployment as if its files were at ``repo``: Prefect's default pull step names
    the absolute project directory, which for the base commit is a temporary tree."""
    old, new = str(tree.resolve()), str(repo.resolve())

    def move(value: Any) -> Any:
        if isinstance(value, str):
            return new + value[len(old) :] if value == old or value.startswith(old + "/") else value
        if isinstance(value, list):
            return [move(v) for v in value]
        if isinstance(value, dict):
            return {k: move(v) for k, v in value.items()}
        return value

    return dep.model_copy(update={"pull_steps": move(dep.pull_steps), "path": move(dep.path)})


def _image_spec(settings: Settings, part: ProjectScope) -> ImageSpec | None:
    if settings.image:
        return None
    file = part.prefect_file
    doc = part.document or load_yaml(file, display_path(file))
    project_dir = settings.directory_of(file)
    data = doc.data
    needs = settings.image_name or build_steps(data)
    if not needs:
        return None
    return image_spec(
        data,
        project_dir=project_dir,
        where=doc.where,
        checkout=checkout(repo_root(project_dir) or project_dir, settings.environ),
        environ=settings.environ,
        image_name=settings.image_name,
        tag_templates=settings.tags,
    )


def registry_auth(settings: Settings, reference: str) -> RegistryAuth | None:
    if settings.registry_username and settings.registry_password:
        return RegistryAuth(
            username=settings.registry_username, password=settings.registry_password
        )
    return docker_config_auth(parse_reference(reference).registry)


def _check_image(job: ImageJob, settings: Settings) -> ImageJob:
    """Ask whether images a planned deployment uses and that would be built exist: the
    registry for a pushed image, the local engine for one that is not pushed.

    One that cannot answer does not stop a plan (a pull request may have no credentials,
    or no Docker engine); ``publish_images`` asks again and stops the apply.
    """
    if not job.used or job.spec is None:
        return job
    try:
        exists = _exists(job, settings, None)
    except ImageError as exc:
        return job.model_copy(update={"problem": exc.what + (f": {exc.why}" if exc.why else "")})
    return job.model_copy(update={"exists": exists})


def _exists(job: ImageJob, settings: Settings, engine: Engine | None) -> bool:
    if job.pushed:
        return image_exists(job.reference, registry_auth(settings, job.reference))
    if engine is not None:
        return engine.has_image(job.reference)
    own = Engine(settings.docker_host)
    try:
        return own.has_image(job.reference)
    finally:
        own.close()


def publish_images(
    jobs: Iterable[ImageJob], settings: Settings, log: Callable[[str], None]
) -> list[ImageJob]:
    """Build (and push, when the project pushes it) each image a deployment uses and that
    does not exist yet; once per commit.

    Raises ImageError (exit 1) on any failure, before any deployment is written.
    """
    done = []
    engine: Engine | None = None
    try:
        for job in jobs:
            spec = job.spec
            if spec is None or not job.to_publish:
                done.append(job)
                continue
            if not spec.push:
                engine = engine or Engine(settings.docker_host)
            if job.exists is None and _exists(job, settings, engine):
                done.append(job.model_copy(update={"exists": True, "problem": None}))
                continue
            if not settings.build:
                where = "in the registry" if spec.push else "in the local Docker engine"
                raise ConfigError(
                    f"image {job.reference} is not {where} and --no-build was given",
                    fix="drop --no-build, or pass --image with an image that exists",
                )
            engine = engine or Engine(settings.docker_host)
            log(f"building {job.reference}")
            engine.build(spec, log)
            if not spec.push:
                done.append(job.model_copy(update={"exists": True, "built": True, "problem": None}))
                continue
            log(f"pushing {job.reference}")
            digest = engine.push(spec, registry_auth(settings, job.reference), log)
            done.append(
                job.model_copy(update={"exists": True, "built": True, "digest": digest or None})
            )
    finally:
        if engine is not None:
            engine.close()
    return done


def _load(
    settings: Settings,
    part: ProjectScope,
    repo: Path | None,
    lookups: Lookups,
    image: str | None,
    locators: Locators,
) -> Project:
    """The project of ``part``, in the working tree ``repo`` (None: not in a repository, so
    its own folder bounds what is read)."""
    file = part.prefect_file
    bounds = repo or file.parent
    return load_project(
        file,
        root=settings.directory_of(file),
        repo_root=bounds,
        reader=FlowReader(settings.directory_of(file), bounds, locator=locators(bounds)),
        lookups=lookups,
        environ=settings.environ,
        names=settings.names,
        only=part.only,
        image=image,
        inferred_version=inferred_version(repo, settings.environ),
        document=part.document,
    )


def _image_use(pools: PoolCache, image_given: bool) -> Callable[[Entry], bool]:
    """Which prefect.yaml entries run on the project image: a Docker build step, or a pool
    that takes the image given with --image or --image-name."""

    def uses(entry: Entry) -> bool:
        if entry.builds_image:
            return True
        pool = (entry.config.get("work_pool") or {}).get("name")
        found = pools.get(pool) if image_given and isinstance(pool, str) and pool else None
        return found is not None and takes_image(found)

    return uses


def _check_unique(specs: Iterable[DeploymentSpec]) -> None:
    seen: dict[str, DeploymentSpec] = {}
    for spec in specs:
        full = spec.deployment.full_name
        first = seen.setdefault(full, spec)
        if first is not spec:
            raise ConfigError(
                f"deployment {full!r} is defined in two projects",
                why=f"{first.where} and {spec.where} would overwrite each other on the server",
                fix="rename one of the deployments",
                where=spec.where,
            )


def _automations(api: PrefectApi) -> list[dict[str, Any]]:
    try:
        return api.read_automations()
    except ApiError as exc:
        if exc.status == 404:  # servers without the automations API
            return []
        raise


class Status(str, enum.Enum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    ORPHANED = "orphaned"
    DELETED = "deleted"
    APPLIED = "applied"
    """Created or updated, by the one-deployment API (which does not tell which)."""
    FAILED = "failed"
    SKIPPED = "skipped"
    """Not written: the run was cancelled before it."""


class Outcome(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    status: Status
    detail: str = ""
    deployment_id: str | None = None
    work_pool_name: str | None = None


class Results(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    outcomes: tuple[Outcome, ...]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status is Status.FAILED]


def apply_plan(
    plan: Plan,
    api: PrefectApi,
    progress: Callable[[PlannedDeployment], None] | None = None,
    *,
    prune: bool = False,
    stop: Callable[[], bool] | None = None,
    done: list[Outcome] | None = None,
) -> Results:
    """Write creates and updates; a failing deployment is recorded, not fatal. With
    ``prune``, orphaned deployments are deleted. The results are in the plan's order.

    Flows are registered first, then the deployments are written by as many threads as
    ``api.gate`` lets writes through (each deployment's automations after it): on
    PostgreSQL the server writes them side by side, and on SQLite its first 503 keeps the
    gate at one write at a time.

    ``stop`` is asked before each deployment: once it says so, no more writes start, the
    ones in flight finish, and the results hold only what was done. ``done`` receives each
    outcome as it happens, so a caller interrupted mid-run still knows what was written.
    """
    outcomes = done if done is not None else []
    if stop and stop():
        return Results(outcomes=tuple(outcomes))
    lock = threading.Lock()

    def write(item: PlannedDeployment, flow_ids: dict[str, str | ApiError]) -> Outcome | None:
        if stop and stop():
            return None
        if item.action is Action.ORPHANED and prune:
            outcome = _delete(item, api)
        else:
            outcome = _outcome(item, api, flow_ids)
        with lock:
            outcomes.append(outcome)
        return outcome

    pool = ThreadPoolExecutor(max_workers=api.gate.most, thread_name_prefix="flowdeploy-write")
    try:
        flow_ids = _register_flows(plan, api, pool)
        api.gate.restart()
        # What needs no request is told in turn by this thread: a run with nothing to write
        # starts no thread at all.
        futures = [
            pool.submit(write, item, flow_ids) if _writes(item, prune) else None
            for item in plan.items
        ]
        for item, future in zip(plan.items, futures, strict=True):
            outcome = future.result() if future is not None else write(item, flow_ids)
            if outcome is not None and progress:
                progress(item)
    except BaseException:
        # A second signal (Interrupted) abandons what is in flight: nothing waits for it.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    order = {item.name: i for i, item in enumerate(plan.items)}
    return Results(outcomes=tuple(sorted(outcomes, key=lambda o: order.get(o.name, 0))))


def _writes(item: PlannedDeployment, prune: bool) -> bool:
    """Whether applying ``item`` sends a request."""
    if item.action is Action.UNCHANGED:
        return False
    return prune or item.action is not Action.ORPHANED


def _register_flows(
    plan: Plan, api: PrefectApi, pool: ThreadPoolExecutor
) -> dict[str, str | ApiError]:
    names = sorted(
        {i.spec.deployment.flow_name or "" for i in plan.by_action(Action.CREATE) if i.spec}
    )

    def register(name: str) -> str | ApiError:
        try:
            return api.upsert_flow(name)
        except ApiError as exc:  # reported on each deployment of that flow
            return exc

    return dict(zip(names, pool.map(register, names), strict=True))


def _outcome(
    item: PlannedDeployment, api: PrefectApi, flow_ids: dict[str, str | ApiError]
) -> Outcome:
    dep = item.spec.deployment if item.spec else None
    pool = dep.work_pool_name if dep else None
    if item.action is Action.UNCHANGED:
        return Outcome(
            name=item.name,
            status=Status.UNCHANGED,
            deployment_id=item.deployment_id,
            work_pool_name=pool,
        )
    if item.action is Action.ORPHANED or dep is None:
        return Outcome(
            name=item.name,
            status=Status.ORPHANED,
            detail="not in prefect.yaml; left in place",
            deployment_id=item.deployment_id,
        )
    status = Status.CREATED if item.action is Action.CREATE else Status.UPDATED
    detail = ", ".join(item.changes)
    try:
        dep_id = write_deployment(dep, item, api, flow_ids)
    except DeploymentApplyError as exc:
        # The write may have been done all the same (an answer lost on the way back): the
        # server is asked before anything is reported as failed.
        held, problem = _held(dep, api)
        if held is None:
            why = f"{exc.detail}; {problem}" if problem else exc.detail
            return Outcome(name=item.name, status=Status.FAILED, detail=why, work_pool_name=pool)
        dep_id = held
        detail = ", ".join(filter(None, (detail, "confirmed by reading it back")))
    return Outcome(
        name=item.name,
        status=status,
        detail=detail,
        deployment_id=dep_id,
        work_pool_name=pool,
    )


def _held(dep: Deployment, api: PrefectApi) -> tuple[str | None, str]:
    """After a failed write: the id of the deployment when the server holds it exactly as
    wanted (what a re-run would plan as unchanged), else None and what is known."""
    try:
        server = api.find_deployment(dep.flow_name or "", dep.name)
        if server is None:
            return None, ""
        dep_id = str(server["id"])
        related = api.related_automations(f"prefect.deployment.{dep_id}") or []
    except ApiError as exc:
        return None, (
            "reading it back failed too, so it may or may not have been written "
            f"({exc.why or exc.what}); re-run to make sure"
        )
    mine = [a for a in related if runs_deployment(a, dep_id)]
    if diff(desired_view(dep), current_view(server, mine)):
        return None, ""
    return dep_id, ""


def _delete(item: PlannedDeployment, api: PrefectApi) -> Outcome:
    dep_id = item.deployment_id or ""
    try:
        # Its triggers go with it: an automation left behind would fire at nothing.
        api.replace_owned_automations(f"prefect.deployment.{dep_id}", [])
        api.delete_deployment(dep_id)
    except ApiError as exc:
        try:
            gone = api.read_deployment(dep_id) is None
        except ApiError:
            gone = False
        if not gone:
            return Outcome(name=item.name, status=Status.FAILED, detail=exc.detail or exc.what)
    return Outcome(
        name=item.name, status=Status.DELETED, detail="deleted (--prune)", deployment_id=dep_id
    )


def write_deployment(
    dep: Deployment,
    item: PlannedDeployment,
    api: PrefectApi,
    flow_ids: dict[str, str | ApiError],
) -> str:
    """One create or update, then its automations; any API failure -> DeploymentApplyError.

    Every step is safe to repeat after a lost answer: the create is an upsert (and when it
    still fails, the deployment is looked up by flow and name before giving up), the update
    a PATCH, and automations are created only when no equal one exists, before the old ones
    are deleted."""
    flow = dep.flow_name or ""
    try:
        created = item.action is Action.CREATE or item.deployment_id is None
        if created:
            flow_id = flow_ids.get(flow)
            if flow_id is None:
                flow_id = flow_ids[flow] = api.upsert_flow(flow)
            if isinstance(flow_id, ApiError):
                raise flow_id
            dep_id = _create(dep, flow_id, api)
        else:
            dep_id = str(item.deployment_id)
            _update(dep, dep_id, api)
        if dep.triggers or item.current_triggers or "triggers" in item.changes:
            api.replace_owned_automations(
                f"prefect.deployment.{dep_id}",
                dep.automation_bodies(dep_id),
                # nothing can act on a deployment the plan did not know yet
                current=[] if created else None,
            )
    except ApiError as exc:
        raise DeploymentApplyError(exc.detail or exc.what, deployment=item.name) from None
    return dep_id


def _update(dep: Deployment, dep_id: str, api: PrefectApi) -> None:
    """PATCH is safe to repeat, and is; when it still fails without a refusal, the
    deployment is read back: held as wanted, its triggers are written as for any other."""
    try:
        api.update_deployment(dep_id, dep.update_body())
    except ApiError as exc:
        if exc.status is not None and exc.status < 500:
            raise
        try:
            server = api.read_deployment(dep_id)
        except ApiError:
            server = None
        if server is None:
            raise exc from None
        changes = diff(desired_view(dep), current_view(server, []))
        if set(changes) - {"triggers"}:
            raise exc from None


def _create(dep: Deployment, flow_id: str, api: PrefectApi) -> str:
    """Create the deployment; when the answer never came, it may exist all the same: it is
    read back (flow id + name) before the create is reported as failed, and its triggers
    are then written as for any other."""
    try:
        return api.create_deployment(dep.create_body(flow_id))
    except ApiError as exc:
        if exc.status is not None and exc.status < 500:
            raise  # refused: the server said what is wrong
        try:
            found = api.find_deployment(flow_id, dep.name, by_id=True)
        except ApiError:
            found = None
        if found is None:
            raise exc from None
        return str(found["id"])


def apply_deployment(
    dep: Deployment,
    *,
    work_pool_name: str | None = None,
    image: str | None = None,
    api: PrefectApi | None = None,
) -> str:
    """``RunnerDeployment.apply()``: validate, then create or update one deployment."""
    import os

    own = api is None
    client = api or PrefectApi(connection_from_env(os.environ))
    try:
        target = dep.with_target(work_pool_name, image)
        errors = server_errors(target, None, PoolCache(client), image)
        if errors:
            raise errors[0]
        current = [d for d in client.read_deployments() if d["name"] == target.name]
        names = {
            str(f["id"]): f["name"]
            for f in client.read_flows(sorted({str(d["flow_id"]) for d in current}))
        }
        spec = DeploymentSpec(deployment=target)
        plan = make_plan([spec], current, names, _automations(client))
        item = plan.items[0]
        if item.action is Action.UNCHANGED and item.deployment_id:
            return item.deployment_id
        return write_deployment(target, item, client, {})
    finally:
        if own:
            client.close()

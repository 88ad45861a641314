# The flowdeploy GitHub Action's image (action.yml: `runs: using: docker`, `image: Dockerfile`).
#
# GitHub builds this file in every job that uses the action by ref
# (`uses: org/flowdeploy-action@v1`); .github/workflows/release.yml publishes the same image to
# ghcr.io for each v* tag, and `uses: docker://ghcr.io/org/flowdeploy-action:v1` runs that
# prebuilt image instead.
#
# Build arguments:
#   BASE    a Debian-based image with Python 3.10+ and `python3 -m venv`; python:3.12-slim by
#           default. The tests build on a Debian bookworm base made with debootstrap
#           (tests/support/actionimage.py): no image can be pulled there.
#   WHEELS  empty (the default, what GitHub uses): install flowdeploy from the source in the
#           context, its dependencies from PyPI. Set (WHEELS=1): install offline, only from the
#           wheels in the context's wheels/ directory (made with `pip wheel -w wheels .`).
#
# Runtime only: flowdeploy and its dependencies in a venv at /opt/flowdeploy, and git. No Prefect
# (flowdeploy talks to the Prefect API over HTTP), no compiler, no pip, no docker CLI (docker-py
# talks to the socket the runner mounts at /var/run/docker.sock).

ARG BASE=python:3.12-slim

FROM ${BASE} AS build
ARG WHEELS=
# .dockerignore lets only pyproject.toml, README.md, src/ and (when present) wheels/ through.
COPY . /src/
# After the install: a smoke test of the console script, then pip (and setuptools, which venvs
# before Python 3.12 get) go: they only install. Prefect must never come in as a dependency.
RUN python3 -m venv /opt/flowdeploy \
    && pip="/opt/flowdeploy/bin/python -m pip --disable-pip-version-check --no-cache-dir" \
    && if [ -n "$WHEELS" ]; then \
        $pip install --root-user-action=ignore --no-index --find-links /src/wheels flowdeploy; \
    else \
        $pip install --root-user-action=ignore /src; \
    fi \
    && /opt/flowdeploy/bin/flowdeploy --help >/dev/null \
    && $pip uninstall --yes --quiet pip setuptools \
    && if /opt/flowdeploy/bin/python -c 'import prefect' 2>/dev/null; then \
        echo 'prefect must not be in the action image' >&2; exit 1; \
    fi

# Every step but the last one is independent of flowdeploy's source, so a change to it rebuilds
# only the venv and its COPY. (Under the legacy builder each step, LABEL and ENV too, runs a
# container: few steps.)
FROM ${BASE}
LABEL org.opencontainers.image.source="https://github.com/org/flowdeploy-action" \
      org.opencontainers.image.description="flowdeploy: deploy Prefect flows from prefect.yaml, only what a commit changed; plan on pull requests." \
      org.opencontainers.image.licenses="Apache-2.0"
# git, for the change detection (flowdeploy runs the git binary). A base that has
# it (the tests' Debian base) skips apt altogether.
#
# safe.directory: GitHub runs the container as root over a checkout (mounted at
# /github/workspace) that belongs to the runner's user (uid 1001), and since 2.35.2 git refuses
# such a repository ("dubious ownership") unless it is a safe.directory. '*' rather than just
# /github/workspace: a checkout made with `actions/checkout` `path: sub`, and submodules, are
# repositories of their own below it, and Debian bookworm's git (2.39) has no `dir/*` patterns.
# Nothing else runs in this one-shot container, and the runner's user made the checkout.
# --system (/etc/gitconfig) because HOME is /github/home, which the runner mounts for each job.
RUN (command -v git >/dev/null \
        || (apt-get update \
            && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
                git ca-certificates \
            && rm -rf /var/lib/apt/lists/*)) \
    && git config --system --add safe.directory '*'
# PYTHONSAFEPATH (3.11+): no script directory or working directory in front of sys.path: the
# working directory is the user's checkout, where a top-level `git.py`, `docker.py` or
# `yaml.py` must not shadow a dependency of a `python -m`/`-c` run in there.
ENV PATH=/opt/flowdeploy/bin:$PATH \
    PYTHONSAFEPATH=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# Exec form with an absolute path: the runner appends action.yml's args, and no shell stands
# between it and Python (Debian's sh drops input variables with dashes, INPUT_COMMENT-ON-PR, from
# the environment of what it runs).
ENTRYPOINT ["/opt/flowdeploy/bin/flowdeploy-action"]
COPY --from=build /opt/flowdeploy /opt/flowdeploy

#!/usr/bin/env bash
# Idempotent developer/CI setup: .venv with flowdeploy installed editable plus its test extra.
# Works on a fresh Debian machine (Python 3.10+ present, root, PyPI and apt reachable).
# Quiet and fast (well under a second) when nothing changed since the last run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-python3}"
VENV=.venv
STAMP="$VENV/.flowdeploy-setup"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

say() { echo "setup: $*" >&2; }

apt_install() {
    if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
        say "cannot install $* (needs apt-get and root): install it with your package manager"
        return 1
    fi
    say "installing $* with apt-get"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    say "no '$PYTHON' on PATH; flowdeploy needs Python 3.10 or newer (set PYTHON=...)"
    exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    say "$("$PYTHON" --version 2>&1) is too old; flowdeploy needs Python 3.10 or newer"
    exit 1
fi
# The tests build real git repositories.
command -v git >/dev/null 2>&1 || apt_install git ca-certificates
# The demo needs only Python, git and the venv: no Docker, no registry, no root.
DEMO=0
[ "${1:-}" = "--demo" ] && DEMO=1
# The tests start a real Docker engine and registry (tests/support/docker.py): dockerd (with
# its containerd and runc), the distribution registry, htpasswd -B for its auth, a static busybox
# that test images copy in to run `RUN` steps without pulling a base image, and debootstrap to
# make the Debian base with Python that the action image is built on (tests/support/actionimage.py).
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
[ -x /bin/busybox ] || missing+=(busybox-static)
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ] && [ "$DEMO" = 0 ]; then
    apt_install "${missing[@]}"
fi

if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PYTHON" -m venv "$VENV" >/dev/null 2>&1; then
        # Debian's python3 ships venv/ensurepip separately.
        rm -rf "$VENV"
        version="$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
        apt_install "python${version}-venv" || apt_install python3-venv
        "$PYTHON" -m venv "$VENV"
    fi
fi

# Reinstall only when pyproject.toml or the interpreter changed, or the install is broken.
want="$( (cat pyproject.toml; "$VENV/bin/python" --version) | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] \
    && "$VENV/bin/python" -c 'import importlib.util as u, sys
sys.exit(any(u.find_spec(m) is None for m in ("flowdeploy", "prefect", "pytest", "xdist")))' \
    && [ -x "$VENV/bin/flowdeploy" ] && [ -x "$VENV/bin/prefect" ]; then
    exit 0
fi

say "installing flowdeploy with its test extra into $VENV (pip install -e '.[test]')"
log="$(mktemp)"
if ! "$VENV/bin/python" -m pip install -e '.[test]' >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    say "pip install failed"
    exit 1
fi
rm -f "$log"
echo "$want" >"$STAMP"
say "done"

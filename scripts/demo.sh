#!/usr/bin/env bash
# Set up, start a throwaway local Prefect server, and run flowdeploy on examples/:
# the plan, the apply with its results table, and a second plan that finds nothing to do.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --demo   # Python, git and the venv; no Docker, registry or root
VENV="$PWD/.venv/bin"
WORK="$(mktemp -d)"
PORT="$("$VENV/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export PREFECT_HOME="$WORK/prefect-home" PREFECT_SERVER_ANALYTICS_ENABLED=false \
       PREFECT_SERVER_UI_ENABLED=false PREFECT_API_URL="http://127.0.0.1:$PORT/api"
setsid "$VENV/prefect" server start --host 127.0.0.1 --port "$PORT" >"$WORK/server.log" 2>&1 &
SERVER=$!
cleanup() { kill -- -"$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
healthy() { "$VENV/python" -c 'import sys, urllib.request as u
try: u.urlopen(sys.argv[1] + "/health", timeout=2)
except Exception: sys.exit(1)' "$PREFECT_API_URL"; }
echo "Starting a local Prefect server on port $PORT ..."
for _ in $(seq 1 120); do
  healthy && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
  sleep 0.5
done
healthy || { echo "Prefect server did not start"; cat "$WORK/server.log"; exit 1; }
"$VENV/prefect" --no-prompt work-pool create demo-pool --type process >/dev/null

echo; echo "\$ flowdeploy plan --project-dir examples"
"$VENV/flowdeploy" plan --project-dir examples
echo; echo "\$ flowdeploy apply --project-dir examples --all"
"$VENV/flowdeploy" apply --project-dir examples --all
echo; echo "\$ flowdeploy plan --project-dir examples --format json   # again: nothing to do"
"$VENV/flowdeploy" plan --project-dir examples --format json | "$VENV/python" -c \
  'import json,sys; d=json.load(sys.stdin); print(d["summary"])'

# The same, as the GitHub Action runs it: inputs and the run described in INPUT_* / GITHUB_*,
# the job summary and the step outputs written to the files the runner would read.
echo; echo "\$ flowdeploy-action   # mode: plan, as on a workflow_dispatch; the job summary:"
echo '{}' >"$WORK/event.json"
: >"$WORK/summary.md"; : >"$WORK/outputs"
env GITHUB_ACTIONS=true GITHUB_EVENT_NAME=workflow_dispatch GITHUB_EVENT_PATH="$WORK/event.json" \
    GITHUB_WORKSPACE="$PWD" GITHUB_STEP_SUMMARY="$WORK/summary.md" GITHUB_OUTPUT="$WORK/outputs" \
    GITHUB_SHA="$(git rev-parse HEAD 2>/dev/null || echo 0000000)" GITHUB_REPOSITORY=org/flows \
    INPUT_MODE=plan INPUT_PROJECT-DIR=examples "INPUT_PREFECT-API-URL=$PREFECT_API_URL" \
    "$VENV/flowdeploy-action" >/dev/null
cat "$WORK/summary.md"

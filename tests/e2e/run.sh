#!/usr/bin/env bash
# End-to-end tests in headless Chromium against the whole system.
# Starts ./scripts/demo (release build: the first run is slow) on a free port
# with its state in a temporary directory, makes fake-scap fast, runs
# `node --test` here, and stops the demo by its pid.
# Usage: tests/e2e/run.sh [node --test arguments]
# Screenshots: target/e2e-screenshots/*.png
set -euo pipefail
cd "$(dirname "$0")"
E2E=$(pwd)
ROOT=$(cd ../.. && pwd)

[[ -x /usr/bin/chromium ]] || { echo "e2e: /usr/bin/chromium is missing (apt-get install chromium)" >&2; exit 1; }
if [[ ! -d node_modules || package-lock.json -nt node_modules ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

STATE=$(mktemp -d /tmp/spiderpig-e2e.XXXXXX)
PORT=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
DEMO_LOG="$STATE.demo.log"
DEMO_PID=""
stop_demo() {
  if [[ -n "$DEMO_PID" ]] && kill -0 "$DEMO_PID" 2>/dev/null; then
    kill "$DEMO_PID" 2>/dev/null || true   # the demo's trap stops its children
    wait "$DEMO_PID" 2>/dev/null || true
  fi
}
trap stop_demo EXIT
trap 'exit 130' INT TERM

echo "e2e: starting the demo on 127.0.0.1:$PORT (state $STATE, log $DEMO_LOG)"
"$ROOT/scripts/demo" --state-dir "$STATE" --port "$PORT" > "$DEMO_LOG" 2>&1 &
DEMO_PID=$!
# The release build may take minutes; the services then start in seconds.
for ((i = 0; i < 1800; i++)); do
  [[ -s "$STATE/demo.env" ]] && break
  if ! kill -0 "$DEMO_PID" 2>/dev/null; then
    echo "e2e: the demo stopped before it was ready:" >&2
    tail -n 40 "$DEMO_LOG" >&2
    exit 1
  fi
  sleep 1
done
[[ -s "$STATE/demo.env" ]] || { echo "e2e: the demo was not ready after 30 min" >&2; tail -n 40 "$DEMO_LOG" >&2; exit 1; }

# fake-scap reads this file at each start: a number multiplies its realistic pauses.
echo '{"pace": 0.05, "flood_lines": 5000}' > "$STATE/scap-home/fake-scap.json"

mkdir -p "$ROOT/target/e2e-screenshots"
export SPIDERPIG_DEMO_ENV="$STATE/demo.env"
status=0
timeout 900 node --test --test-concurrency=1 "$@" "$E2E"/*.test.mjs || status=$?
if ((status)); then
  echo "e2e: failed (exit $status); the demo's logs are in $STATE/logs and $DEMO_LOG" >&2
else
  stop_demo
  rm -rf "$STATE" "$DEMO_LOG"
fi
exit "$status"

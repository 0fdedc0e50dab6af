#!/usr/bin/env bash
# End-to-end tests in headless Chromium against the whole system.
# Starts two demos (./scripts/demo; release build: the first run is slow) on
# free ports with their state in temporary directories: one with calm error
# data for deploy.test.mjs, one with spiky data (--metrics spike) for
# monitoring.test.mjs. Makes fake-scap fast, runs `node --test` here, and
# stops the demos by their pids.
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

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

DEMO_PIDS=()
DEMO_STATES=()
stop_demos() {
  for pid in "${DEMO_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true   # the demo's trap stops its children
  done
  for pid in "${DEMO_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  DEMO_PIDS=()
}
trap stop_demos EXIT
trap 'exit 130' INT TERM

# start_demo METRICS: starts a demo, waits for its demo.env, makes fake-scap
# fast; sets DEMO_STATE.
start_demo() {
  local metrics=$1 port state log pid
  port=$(free_port)
  state=$(mktemp -d /tmp/spiderpig-e2e.XXXXXX)
  log="$state.demo.log"
  echo "e2e: starting a demo ($metrics metrics) on 127.0.0.1:$port (state $state, log $log)"
  "$ROOT/scripts/demo" --state-dir "$state" --port "$port" --metrics "$metrics" > "$log" 2>&1 &
  pid=$!
  DEMO_PIDS+=("$pid")
  DEMO_STATES+=("$state")
  # The release build may take minutes; the services then start in seconds.
  for ((i = 0; i < 1800; i++)); do
    [[ -s "$state/demo.env" ]] && break
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "e2e: the demo stopped before it was ready:" >&2
      tail -n 40 "$log" >&2
      exit 1
    fi
    sleep 1
  done
  [[ -s "$state/demo.env" ]] || { echo "e2e: the demo was not ready after 30 min" >&2; tail -n 40 "$log" >&2; exit 1; }
  # fake-scap reads this file at each start: a number multiplies its realistic pauses.
  echo '{"pace": 0.05, "flood_lines": 5000}' > "$state/scap-home/fake-scap.json"
  DEMO_STATE=$state
}

start_demo calm
export SPIDERPIG_DEMO_ENV="$DEMO_STATE/demo.env"
start_demo spike
export SPIDERPIG_SPIKE_DEMO_ENV="$DEMO_STATE/demo.env"

mkdir -p "$ROOT/target/e2e-screenshots"
status=0
timeout 900 node --test --test-concurrency=1 "$@" "$E2E"/*.test.mjs || status=$?
if ((status)); then
  echo "e2e: failed (exit $status); the demos' logs are in ${DEMO_STATES[*]} (logs/ and .demo.log)" >&2
else
  stop_demos
  for s in "${DEMO_STATES[@]}"; do rm -rf "$s" "$s.demo.log"; done
fi
exit "$status"

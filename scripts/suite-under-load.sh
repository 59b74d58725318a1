#!/usr/bin/env bash
# The suite on a busy machine (issue 14, item 8): two clean clones of HEAD run the whole `npm test` at the same time,
# each the other's load (both cores busy throughout), as CI runs it (CI=true: no real counterpart may be missing).
# Repeat for consecutive rounds; every round adds two loaded passes. Results: one line per suite in the summary file.
#
#   scripts/suite-under-load.sh [rounds=1] [work dir=/tmp/suite-under-load]
set -u
rounds=${1:-1}
work=${2:-/tmp/suite-under-load}
repo=$(cd "$(dirname "$0")/.." && pwd)
export CI=true PRISMA_SCHEMA_ENGINE_BINARY=/bin/true CHECKPOINT_DISABLE=1
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then export PATH="$PATH:/usr/local/go/bin"; fi
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then export PATH="$PATH:$HOME/.cargo/bin"; fi
mkdir -p "$work"
summary="$work/summary.log"
head=$(git -C "$repo" rev-parse --short HEAD)
for s in A B; do
  d="$work/$s"
  [ -d "$d" ] || git clone -q "$repo" "$d"
  git -C "$d" fetch -q "$repo" HEAD && git -C "$d" checkout -q --detach FETCH_HEAD
  (cd "$d" && npm ci --no-audit --no-fund >/dev/null 2>&1) || { echo "npm ci failed in $d"; exit 1; }
done
failed=0
for round in $(seq 1 "$rounds"); do
  echo "round $round at $head: start $(date -u +%H:%M:%S)" >> "$summary"
  run() {
    local s=$1 t0; t0=$(date +%s)
    (cd "$work/$s" && npm test > "$work/round-$round-$s.log" 2>&1); local rc=$?
    echo "round $round suite $s at $head: exit $rc in $(( $(date +%s) - t0 )) s; $(grep -E '^tests:' "$work/round-$round-$s.log" | tail -1)" >> "$summary"
    return $rc
  }
  run A & a=$!
  run B & b=$!
  wait $a || failed=1
  wait $b || failed=1
done
cat "$summary"
exit $failed

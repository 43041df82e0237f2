#!/usr/bin/env bash
# The cost of the data plane's Istio metrics (issue 15): `bookinfo proxy` of
# this tree against the same router built from BASELINE, the commit before
# the metrics landed (git worktree, release build), in front of two
# hello-worlds with the 30/70 route of istio/. Runs alternate (baseline,
# current, current, baseline) and are averaged; the ratio current/baseline
# is the figure (target: metrics cost under 10%, a ratio above 0.9).
#   bash bench/metrics.sh [DURATION_SECONDS] [BASELINE]   (defaults 10, cf27740)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs=${1:-10}
baseline=${2:-cf27740}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 3; }
cargo build --release --locked --workspace --bin hello --bin bookinfo >&2
source bench/lib.sh

tmp=$(mktemp -d)
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; git worktree remove --force "$tmp/base" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
git worktree add --detach -q "$tmp/base" "$baseline"
# The baseline's own target folder would rebuild every dependency; this
# tree's is shared (the lock files agree on what they have in common).
CARGO_TARGET_DIR="$PWD/target/bench-baseline" cargo build --release --locked \
    --manifest-path "$tmp/base/Cargo.toml" --bin bookinfo >&2
base_bin="$PWD/target/bench-baseline/release/bookinfo"

p_v1=$(port); p_v2=$(port)
target/release/hello "127.0.0.1:$p_v1" & pids+=($!)
target/release/hello "127.0.0.1:$p_v2" & pids+=($!)
routing=(--default-host reviews --instance "reviews/v1=127.0.0.1:$p_v1" --instance "reviews/v2=127.0.0.1:$p_v2"
    --routes istio/destination-rule-all.yaml --routes istio/virtual-service-reviews-canary-30-70.yaml)
run() { # BINARY: requests/s through it
    local p; p=$(port)
    RUST_LOG=warn "$1" proxy --listen "127.0.0.1:$p" "${routing[@]}" >/dev/null 2>&1 &
    local pid=$!
    wait_up "http://127.0.0.1:$p/"
    wrk_run "http://127.0.0.1:$p/" | wrk_rate
    kill "$pid"; wait "$pid" 2>/dev/null || true
}
declare -a base=() current=()
base+=("$(run "$base_bin")")
current+=("$(run target/release/bookinfo)")
current+=("$(run target/release/bookinfo)")
base+=("$(run "$base_bin")")
python3 - "${base[@]}" "${current[@]}" <<'PY'
import sys
b = [float(x) for x in sys.argv[1:3]]
c = [float(x) for x in sys.argv[3:5]]
mb, mc = sum(b) / 2, sum(c) / 2
print(f"baseline (no metrics): {b[0]:.0f}, {b[1]:.0f} req/s, mean {mb:.0f}")
print(f"with metrics:          {c[0]:.0f}, {c[1]:.0f} req/s, mean {mc:.0f}")
print(f"ratio {mc / mb:.3f} (target > 0.90: metrics cost {100 * (1 - mc / mb):.1f}%)")
PY

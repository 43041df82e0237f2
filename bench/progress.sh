#!/usr/bin/env bash
# Benchmark of a canary rollout (issue 14): `bookinfo canary progress`
# against `bookinfo up` on loopback, release build.
#  (a) a healthy reviews v2 rolled out 10/30/50/100 at RATE requests/s
#      (target: done within 3 minutes); each step's responses against the
#      planner's estimate printed before it (the baseline: the ratio says
#      whether the verdict arrived when the plan said it would);
#  (b) the same rollout of a canary that answers 300 ms late
#      (EXTRA_DELAY_MS): how long until it is rolled back.
#   bash bench/progress.sh [RATE]   (default 50)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rate=${1:-50}
cargo build --release --locked -p bookinfo-cli >&2
source bench/lib.sh
tmp=$(mktemp -d); trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT

# rollout NAME [UP ARGS...]: up, create reviews v2, progress; the JSON report in $tmp/NAME.json
rollout() {
    local name=$1; shift
    local app admin
    app=$(port); admin=$(port)
    target/release/bookinfo up --listen "127.0.0.1:$app" --admin "127.0.0.1:$admin" \
        --routes istio/destination-rule-all.yaml --routes istio/virtual-service-all-v1.yaml "$@" >/dev/null 2>&1 &
    pids+=($!)
    local up_pid=$!
    wait_up "http://127.0.0.1:$app/productpage"
    local canary=(target/release/bookinfo canary --admin "http://127.0.0.1:$admin")
    "${canary[@]}" create reviews v2 >/dev/null
    local started=$SECONDS code=0
    "${canary[@]}" progress reviews v2 --steps 10,30,50,100 --rate "$rate" --hold 120s \
        --url "http://127.0.0.1:$app/productpage" --report "$tmp/$name.json" || code=$?
    echo "$name: exit $code after $((SECONDS - started)) s"
    kill "$up_pid"; wait "$up_pid" 2>/dev/null || true
}
figures() {
    python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"outcome {r['outcome']} in {r['seconds']:.1f} s (target 180 s)")
for s in r["steps"]:
    plan = s["report"].get("plan") or {}
    planned = max(plan.get("mismatch_n") or 0, plan.get("equivalence_n") or 0)
    done = s["report"]["requests"]["completed"]
    ratio = f"{done / planned:.2f}x the plan ({planned})" if planned else "no plan (one version)"
    health = s["health"]
    slow = f", slow canary {health['slow']['canary']['bad']}/{health['slow']['canary']['requests']} {health['slow']['health']}" if health else ""
    print(f"  {s['percent']:3}%: {s['verdict']:<12} {s['seconds']:6.1f} s, {done:5} responses = {ratio}{slow}")
PY
}

echo "== (a) a healthy canary, 10/30/50/100 at $rate requests/s"
rollout healthy
figures "$tmp/healthy.json"
echo "== (b) a canary 300 ms slower than stable"
rollout slow --env reviews-v2:EXTRA_DELAY_MS=300
figures "$tmp/slow.json"

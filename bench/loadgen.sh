#!/usr/bin/env bash
# Benchmark of the load generator itself (issue 4), against the plain axum
# hello-world (so loadgen runs with --any-target):
#  (a) send-time lateness p99 (actual - intended send, loadgen's JSON summary
#      latency.lateness.p99_ms) in the open loop at 2 req/s for 30 s and at
#      1,000 req/s for 20 s; target < 2 ms;
#  (b) closed-loop throughput, loadgen --concurrency 32 vs wrk -t2 -c32 on the
#      same target in this run, as a ratio; target >= 0.8;
#  (c) peak RSS (/usr/bin/time -v) of a closed-loop run of one million
#      requests; target < 50 MiB.
# The load generators share the 2 cores with the server, as in the other
# scripts; only the ratio in (b) is comparable across machines.
#   bash bench/loadgen.sh [DURATION_SECONDS] [REQUESTS]   (defaults 10, 1000000)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs=${1:-10}
requests=${2:-1000000}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 3; }
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)"; exit 3; }
cargo build --release --locked -p bookinfo-bench -p bookinfo-loadgen >&2
source bench/lib.sh

tmp=$(mktemp -d); trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
p_hello=$(port)
target/release/hello "127.0.0.1:$p_hello" & pids+=($!)
url="http://127.0.0.1:$p_hello/"
wait_up "$url"
# json FILE EXPR: one figure from a loadgen JSON summary
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$1" "$2"; }
loadgen() { timeout 600 target/release/loadgen "$url" --any-target --quiet "$@" >/dev/null; }

echo "== (a) send lateness, open loop (target p99 < 2 ms)"
loadgen --rate 2 --duration 30s --json "$tmp/rate2.json"
loadgen --rate 1000 --duration 20s --json "$tmp/rate1000.json"
for r in 2 1000; do
    f="$tmp/rate$r.json"
    printf 'rate %5s/s: %6s sent, %s overflow, lateness p50 %s ms p99 %s ms max %s ms; latency p99 %s ms\n' "$r" \
        "$(json "$f" 'd["requests"]["sent"]')" "$(json "$f" 'd["requests"]["overflow"]')" \
        "$(json "$f" 'd["latency"]["lateness"]["p50_ms"]')" "$(json "$f" 'd["latency"]["lateness"]["p99_ms"]')" \
        "$(json "$f" 'd["latency"]["lateness"]["max_ms"]')" "$(json "$f" 'd["latency"]["all"]["latency"]["p99_ms"]')"
done

echo "== (b) closed loop, 32 outstanding, ${secs}s per run (target loadgen >= 0.8x wrk)"
# Two runs each, in the order wrk, loadgen, loadgen, wrk, so that a drift in the
# machine's load affects both sides alike; the ratio is that of the means.
wrk_rates=(); lg_rates=()
for tool in wrk loadgen loadgen wrk; do
    if [ "$tool" = wrk ]; then
        wrk_out=$(wrk_run "$url"); echo "$wrk_out" >&2
        wrk_rates+=("$(wrk_rate <<<"$wrk_out")")
    else
        loadgen --concurrency 32 --duration "${secs}s" --json "$tmp/closed.json"
        lg_rates+=("$(json "$tmp/closed.json" 'd["requests"]["achieved_rate_per_second"]')")
    fi
done
python3 - "${wrk_rates[*]}" "${lg_rates[*]}" <<'PY'
import sys
wrk, lg = ([float(x) for x in arg.split()] for arg in sys.argv[1:])
mw, ml = sum(wrk) / len(wrk), sum(lg) / len(lg)
runs = lambda xs: ", ".join(f"{x:.0f}" for x in xs)
print(f"wrk -t2 -c32             {mw:9.0f} req/s  (baseline; runs {runs(wrk)})")
print(f"loadgen --concurrency 32 {ml:9.0f} req/s  ratio {ml/mw:.2f}  (target >= 0.8; runs {runs(lg)})")
PY

echo "== (c) peak RSS, closed loop, $requests requests (target < 50 MiB = 51200 KiB)"
/usr/bin/time -v -o "$tmp/time.txt" target/release/loadgen "$url" --any-target --quiet \
    --concurrency 32 --requests "$requests" --json "$tmp/million.json" >/dev/null
printf 'completed %s requests in %.1f s; maximum resident set size %s KiB\n' \
    "$(json "$tmp/million.json" 'd["requests"]["completed"]')" "$(json "$tmp/million.json" 'd["elapsed_seconds"]')" \
    "$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time.txt")"

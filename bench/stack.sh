#!/usr/bin/env bash
# The per-request cost of the shared service stack (issue 16), in one run,
# each against the axum hello-world of the same run:
#  (a) wrk -t2 -c32 on ratings, details, reviews-v2 (calling ratings) and the
#      full chain (productpage -> details + reviews-v2 -> ratings):
#      requests/s and the ratio to the hello-world, p50 and p99, and the CPU
#      time per request of the processes serving it (utime + stime from
#      /proc/PID/stat, over the run, divided by the requests);
#  (b) instructions per request of ratings and of the hello-world under
#      valgrind --tool=callgrind (2,000 keep-alive requests after 200 of
#      warm-up, counters zeroed between), stable on shared machines.
#  (c) the resident memory of each service once it answered its first
#      requests, before the load.
# The services run as deployed: the default log filter (info), no collector.
# Targets (ratios to the hello-world): ratings and details >= 0.6,
# reviews-v2 >= 0.25, the chain >= 0.1 with p99 < 10 ms; idle RSS < 10 MiB.
#   bash bench/stack.sh [DURATION_SECONDS]   (default 10)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs=${1:-10}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 3; }
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)"; exit 3; }
cargo build --release --locked -p bookinfo-bench -p bookinfo-details -p bookinfo-reviews \
    -p bookinfo-ratings -p bookinfo-productpage >&2
source bench/lib.sh
tmp=$(mktemp -d); trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT

p_hello=$(port); p_ratings=$(port); p_details=$(port); p_reviews=$(port); p_page=$(port)
target/release/hello "127.0.0.1:$p_hello" & pids+=($!); pid_hello=$!
log=RUST_LOG=info
start ratings "$p_ratings" $log; pid_ratings=$last_pid
start details "$p_details" $log; pid_details=$last_pid
start reviews "$p_reviews" $log ENABLE_RATINGS=true STAR_COLOR=black HOSTNAME=reviews-v2-bench \
    RATINGS_HOSTNAME=127.0.0.1 RATINGS_SERVICE_PORT="$p_ratings"
pid_reviews=$last_pid
start productpage "$p_page" $log SESSION_SECRET=bench DETAILS_HOSTNAME=127.0.0.1 \
    DETAILS_SERVICE_PORT="$p_details" REVIEWS_HOSTNAME=127.0.0.1 REVIEWS_SERVICE_PORT="$p_reviews" \
    RATINGS_HOSTNAME=127.0.0.1 RATINGS_SERVICE_PORT="$p_ratings"
pid_page=$last_pid
for url in "http://127.0.0.1:$p_hello/" "http://127.0.0.1:$p_ratings/health" "http://127.0.0.1:$p_details/health" \
    "http://127.0.0.1:$p_reviews/health" "http://127.0.0.1:$p_page/productpage"; do wait_up "$url"; done
for name in ratings details reviews page; do
    pid_var=pid_$name
    echo "$name $(rss_kib "${!pid_var}")"
done >"$tmp/rss"

ticks() { # PID...: utime + stime in clock ticks, summed
    local total=0 pid
    for pid in "$@"; do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    done
    echo "$total"
}
# measure NAME URL PID...: one line of figures
measure() {
    local name=$1 url=$2; shift 2
    local before after
    before=$(ticks "$@")
    wrk_run "$url" >"$tmp/$name.wrk"
    after=$(ticks "$@")
    local requests
    requests=$(awk '/requests in/ {print $1}' "$tmp/$name.wrk")
    echo "$name $(wrk_rate <"$tmp/$name.wrk") $(wrk_pct 50 <"$tmp/$name.wrk") $(wrk_pct 99 <"$tmp/$name.wrk") $((after - before)) $requests"
}
{
    measure hello-world "http://127.0.0.1:$p_hello/" "$pid_hello"
    measure ratings "http://127.0.0.1:$p_ratings/ratings/0" "$pid_ratings"
    measure details "http://127.0.0.1:$p_details/details/0" "$pid_details"
    measure reviews-v2 "http://127.0.0.1:$p_reviews/reviews/0" "$pid_reviews" "$pid_ratings"
    measure chain "http://127.0.0.1:$p_page/productpage" "$pid_page" "$pid_details" "$pid_reviews" "$pid_ratings"
} >"$tmp/figures"

# callgrind NAME URL CMD...: instructions per request
callgrind() {
    local name=$1 url=$2; shift 2
    local out="$tmp/cg-$name"
    valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >/dev/null 2>&1 &
    local pid=$!
    for _ in $(seq 300); do curl -fs -o /dev/null "$url" && break; sleep 0.2; done
    local send='import sys, http.client, urllib.parse
u = urllib.parse.urlparse(sys.argv[1]); c = http.client.HTTPConnection(u.hostname, u.port)
for _ in range(int(sys.argv[2])):
    c.request("GET", u.path); c.getresponse().read()'
    python3 -c "$send" "$url" 200
    callgrind_control -z "$pid" >/dev/null 2>&1
    python3 -c "$send" "$url" 2000
    callgrind_control -d "$pid" >/dev/null 2>&1
    kill "$pid"; wait "$pid" 2>/dev/null || true
    local total
    total=$(callgrind_annotate "$out.1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    echo "$name $((total / 2000))"
}
p_cg1=$(port); p_cg2=$(port)
{
    callgrind hello-world "http://127.0.0.1:$p_cg1/" target/release/hello "127.0.0.1:$p_cg1"
    LISTEN_ADDR="127.0.0.1:$p_cg2" RUST_LOG=info callgrind ratings "http://127.0.0.1:$p_cg2/ratings/0" target/release/ratings
} >"$tmp/instructions"

python3 - "$tmp/figures" "$tmp/instructions" "$(getconf CLK_TCK)" "$tmp/rss" <<'PY'
import sys
rows = [line.split() for line in open(sys.argv[1])]
ins = dict(line.split() for line in open(sys.argv[2]))
tck = float(sys.argv[3])
rss = [line.split() for line in open(sys.argv[4])]
base = float(rows[0][1])
targets = {"ratings": 0.6, "details": 0.6, "reviews-v2": 0.25, "chain": 0.1}
print(f"{'':12} {'req/s':>9} {'ratio':>6} {'target':>6} {'p50 ms':>7} {'p99 ms':>7} {'CPU us/req':>10}")
for name, rate, p50, p99, ticks, requests in rows:
    cpu = float(ticks) / tck / float(requests) * 1e6
    target = targets.get(name)
    print(f"{name:12} {float(rate):9.0f} {float(rate) / base:6.3f} {target if target else '-':>6} "
          f"{float(p50):7.2f} {float(p99):7.2f} {cpu:10.1f}")
h, r = int(ins["hello-world"]), int(ins["ratings"])
print(f"instructions per request (callgrind): hello-world {h:,}, ratings {r:,} ({r / h:.1f}x)")
print("idle RSS (MiB, target < 10): " + ", ".join(f"{n} {int(k) / 1024:.1f}" for n, k in rss))
PY

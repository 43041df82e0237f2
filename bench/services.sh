#!/usr/bin/env bash
# Benchmark of the backend services (issue 2): idle RSS of each service, and
# reviews-v2 (calling ratings) under wrk at concurrency 32, as a ratio to a
# plain axum hello-world measured in the same run on the same machine.
#   bash bench/services.sh [DURATION_SECONDS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs=${1:-10}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 3; }
cargo build --release --locked -p bookinfo-bench -p bookinfo-details -p bookinfo-reviews -p bookinfo-ratings >&2
bin=target/release
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 100); do curl -fs -o /dev/null "$1" && return; sleep 0.05; done; echo "not up: $1"; exit 3; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

p_hello=$(port); p_ratings=$(port); p_details=$(port); p_reviews=$(port); p_reviews1=$(port)
"$bin/hello" "127.0.0.1:$p_hello" & pids+=($!); pid_hello=$!
LISTEN_ADDR=127.0.0.1:$p_ratings RUST_LOG=warn "$bin/ratings" & pids+=($!); pid_ratings=$!
LISTEN_ADDR=127.0.0.1:$p_details RUST_LOG=warn "$bin/details" & pids+=($!); pid_details=$!
LISTEN_ADDR=127.0.0.1:$p_reviews1 RUST_LOG=warn "$bin/reviews" & pids+=($!); pid_reviews1=$!
LISTEN_ADDR=127.0.0.1:$p_reviews RUST_LOG=warn ENABLE_RATINGS=true STAR_COLOR=black \
    RATINGS_HOSTNAME=127.0.0.1 RATINGS_SERVICE_PORT=$p_ratings "$bin/reviews" & pids+=($!); pid_reviews=$!
wait_up "http://127.0.0.1:$p_hello/"
wait_up "http://127.0.0.1:$p_ratings/health"
wait_up "http://127.0.0.1:$p_details/health"
wait_up "http://127.0.0.1:$p_reviews1/health"
wait_up "http://127.0.0.1:$p_reviews/reviews/0"
sleep 1

echo "== idle RSS after start-up and one request (limit 10 MiB = 10240 KiB)"
for pair in hello:$pid_hello ratings:$pid_ratings details:$pid_details reviews-v1:$pid_reviews1 reviews-v2:$pid_reviews; do
    printf '%-11s %6s KiB\n' "${pair%%:*}" "$(rss_kib "${pair#*:}")"
done

rate() { # URL -> requests/s from wrk
    wrk -t2 -c32 -d"${secs}s" --latency "$1" | tee /dev/stderr | awk '/Requests\/sec/ {print $2}'
}
echo "== wrk -t2 -c32 -d${secs}s (wrk shares the 2 cores with the servers)"
echo "-- baseline: axum hello-world" >&2
hello=$(rate "http://127.0.0.1:$p_hello/")
echo "-- reviews-v2 -> ratings" >&2
chain=$(rate "http://127.0.0.1:$p_reviews/reviews/0")
echo "-- ratings alone" >&2
ratings=$(rate "http://127.0.0.1:$p_ratings/ratings/0")
python3 - "$hello" "$chain" "$ratings" <<'PY'
import sys
hello, chain, ratings = map(float, sys.argv[1:])
print(f"hello-world        {hello:10.0f} req/s  (baseline)")
print(f"ratings            {ratings:10.0f} req/s  ratio {ratings/hello:.2f}")
print(f"reviews-v2+ratings {chain:10.0f} req/s  ratio {chain/hello:.2f}  (target >= 10000 req/s)")
PY
echo "== RSS after load (KiB): reviews-v2 $(rss_kib $pid_reviews), ratings $(rss_kib $pid_ratings)"

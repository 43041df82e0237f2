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
source bench/lib.sh

p_hello=$(port); p_ratings=$(port); p_details=$(port); p_reviews=$(port); p_reviews1=$(port)
target/release/hello "127.0.0.1:$p_hello" & pids+=($!); pid_hello=$!
start ratings "$p_ratings"; pid_ratings=$last_pid
start details "$p_details"; pid_details=$last_pid
start reviews "$p_reviews1"; pid_reviews1=$last_pid
start reviews "$p_reviews" ENABLE_RATINGS=true STAR_COLOR=black \
    RATINGS_HOSTNAME=127.0.0.1 RATINGS_SERVICE_PORT="$p_ratings"; pid_reviews=$last_pid
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

echo "== wrk -t2 -c32 -d${secs}s (wrk shares the 2 cores with the servers)"
hello=$(wrk_run "http://127.0.0.1:$p_hello/" | tee /dev/stderr | wrk_rate)
chain=$(wrk_run "http://127.0.0.1:$p_reviews/reviews/0" | tee /dev/stderr | wrk_rate)
ratings=$(wrk_run "http://127.0.0.1:$p_ratings/ratings/0" | tee /dev/stderr | wrk_rate)
python3 - "$hello" "$chain" "$ratings" <<'PY'
import sys
hello, chain, ratings = map(float, sys.argv[1:])
print(f"hello-world        {hello:10.0f} req/s  (baseline)")
print(f"ratings            {ratings:10.0f} req/s  ratio {ratings/hello:.2f}")
print(f"reviews-v2+ratings {chain:10.0f} req/s  ratio {chain/hello:.2f}  (target >= 10000 req/s)")
PY
echo "== RSS after load (KiB): reviews-v2 $(rss_kib $pid_reviews), ratings $(rss_kib $pid_ratings)"

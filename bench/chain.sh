#!/usr/bin/env bash
# Benchmark of the full chain (issue 3): productpage -> details + reviews-v2
# -> ratings, four local processes, wrk at concurrency 32 on /productpage:
# requests/s, p50 and p99, and the ratio to a plain axum hello-world
# measured in the same run. Also the page sizes of v1 and v2.
#   bash bench/chain.sh [DURATION_SECONDS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs=${1:-10}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 3; }
cargo build --release --locked -p bookinfo-bench -p bookinfo-details -p bookinfo-reviews \
    -p bookinfo-ratings -p bookinfo-productpage >&2
source bench/lib.sh

p_hello=$(port); p_ratings=$(port); p_details=$(port); p_reviews=$(port); p_page=$(port)
target/release/hello "127.0.0.1:$p_hello" & pids+=($!)
start ratings "$p_ratings"
start details "$p_details"
start reviews "$p_reviews" ENABLE_RATINGS=true STAR_COLOR=black HOSTNAME=reviews-v2-bench \
    RATINGS_HOSTNAME=127.0.0.1 RATINGS_SERVICE_PORT="$p_ratings"
start productpage "$p_page" SESSION_SECRET=bench DETAILS_HOSTNAME=127.0.0.1 \
    DETAILS_SERVICE_PORT="$p_details" REVIEWS_HOSTNAME=127.0.0.1 REVIEWS_SERVICE_PORT="$p_reviews" \
    RATINGS_HOSTNAME=127.0.0.1 RATINGS_SERVICE_PORT="$p_ratings"
pid_page=$last_pid
for url in "http://127.0.0.1:$p_hello/" "http://127.0.0.1:$p_ratings/health" "http://127.0.0.1:$p_details/health" \
    "http://127.0.0.1:$p_reviews/health" "http://127.0.0.1:$p_page/productpage"; do wait_up "$url"; done
echo "== page size (v2): $(curl -s "http://127.0.0.1:$p_page/productpage" | wc -c) bytes (target < 8 kB)"
echo "== idle RSS of productpage: $(rss_kib $pid_page) KiB"

hello_out=$(wrk_run "http://127.0.0.1:$p_hello/"); echo "$hello_out" >&2
page_out=$(wrk_run "http://127.0.0.1:$p_page/productpage"); echo "$page_out" >&2
python3 - "$(wrk_rate <<<"$hello_out")" "$(wrk_rate <<<"$page_out")" \
    "$(wrk_pct 50 <<<"$page_out")" "$(wrk_pct 99 <<<"$page_out")" \
    "$(wrk_pct 50 <<<"$hello_out")" "$(wrk_pct 99 <<<"$hello_out")" <<'PY'
import sys
hello, page, p50, p99, h50, h99 = map(float, sys.argv[1:])
print(f"hello-world  {hello:9.0f} req/s  p50 {h50:6.2f} ms  p99 {h99:6.2f} ms  (baseline)")
print(f"productpage  {page:9.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  ratio {page/hello:.3f}"
      "  (target >= 3000 req/s, p99 < 20 ms)")
PY
echo "== RSS of productpage after load: $(rss_kib $pid_page) KiB"

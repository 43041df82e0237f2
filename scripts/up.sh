#!/usr/bin/env bash
# Runs the Bookinfo services on this machine, each its own process on a
# loopback port, until Ctrl-C. (The `bookinfo` launcher with the local data
# plane replaces this script once it exists.)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --locked --bins >&2
bin=target/release
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
start() { # NAME PORT ENV...
    local name=$1 port=$2; shift 2
    env "$@" LISTEN_ADDR="127.0.0.1:$port" "$bin/$name" &
    pids+=($!)
}
start ratings 9083
start details 9081
start reviews 9082 ENABLE_RATINGS=true STAR_COLOR=black SERVICE_VERSION=v2 \
    HOSTNAME=reviews-v2-local RATINGS_HOSTNAME=127.0.0.1 RATINGS_SERVICE_PORT=9083
if [ -x "$bin/productpage" ]; then
    start productpage 9080 DETAILS_HOSTNAME=127.0.0.1 DETAILS_SERVICE_PORT=9081 \
        REVIEWS_HOSTNAME=127.0.0.1 REVIEWS_SERVICE_PORT=9082 \
        RATINGS_HOSTNAME=127.0.0.1 RATINGS_SERVICE_PORT=9083
    echo "Bookinfo: http://127.0.0.1:9080/productpage"
fi
echo "details  http://127.0.0.1:9081/details/0"
echo "reviews  http://127.0.0.1:9082/reviews/0   (v2: black stars)"
echo "ratings  http://127.0.0.1:9083/ratings/0"
echo "Ctrl-C stops everything."
wait

#!/usr/bin/env bash
# The cost of tracing on the full chain (issue 15): `bookinfo up` (release)
# with the productpage -> details + reviews-v2 -> ratings chain, `wrk -t2
# -c32` on /productpage, in one run: tracing off, on (every process and the
# plane exporting over OTLP/HTTP to a receiver that takes and discards, every
# trace sampled), on with the collector down (nothing listening), and on at
# Istio's default sampling of 1% (`parentbased_traceidratio`, 0.01). Ratios
# against "off" (target: tracing costs under 15% of throughput).
#   bash bench/tracing.sh [DURATION_SECONDS]   (default 10)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs=${1:-10}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 3; }
cargo build --release --locked -p bookinfo-cli >&2
source bench/lib.sh
tmp=$(mktemp -d); trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT

# A collector that accepts every export and keeps nothing.
p_collector=$(port)
python3 - "$p_collector" <<'PY' &
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *args): pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
PY
pids+=($!)
p_down=$(port) # nothing listens here

run() { # [UP ARGS...]: pages/s and p99 through the chain
    local app admin
    app=$(port); admin=$(port)
    RUST_LOG=warn target/release/bookinfo up --listen "127.0.0.1:$app" --admin "127.0.0.1:$admin" \
        --routes istio/destination-rule-all.yaml --routes istio/virtual-service-reviews-v2.yaml "$@" >/dev/null 2>&1 &
    local pid=$!
    wait_up "http://127.0.0.1:$app/productpage"
    wrk_run "http://127.0.0.1:$app/productpage" >"$tmp/wrk"
    echo "$(wrk_rate <"$tmp/wrk") $(wrk_pct 99 <"$tmp/wrk")"
    kill "$pid"; wait "$pid" 2>/dev/null || true
}
read -r off off_p99 < <(run)
read -r on on_p99 < <(run --otlp "http://127.0.0.1:$p_collector")
read -r down down_p99 < <(run --otlp "http://127.0.0.1:$p_down")
read -r one one_p99 < <(OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.01 \
    run --otlp "http://127.0.0.1:$p_collector")
python3 - "$off" "$on" "$down" "$one" "$off_p99" "$on_p99" "$down_p99" "$one_p99" <<'PY'
import sys
off, on, down, one, p_off, p_on, p_down, p_one = map(float, sys.argv[1:])
print(f"tracing off:               {off:8.0f} pages/s, p99 {p_off:.2f} ms")
print(f"on, every trace:           {on:8.0f} pages/s, p99 {p_on:.2f} ms, ratio {on / off:.3f} (target > 0.85)")
print(f"on, collector down:        {down:8.0f} pages/s, p99 {p_down:.2f} ms, ratio {down / off:.3f}")
print(f"on, 1% sampled (Istio's):  {one:8.0f} pages/s, p99 {p_one:.2f} ms, ratio {one / off:.3f}")
PY

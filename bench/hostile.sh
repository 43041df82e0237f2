#!/usr/bin/env bash
# Benchmark of the defences against hostile input (issue 11): peak memory
# where input used to grow a process without bound, each against a baseline
# of the same process under ordinary input, measured in the same run.
#   - ratings: POSTs of the worst-case body (64 KiB of small integers) until
#     the store refuses (507), against POSTs of the contract's body;
#   - bookinfo up: applying the largest VirtualService the limits allow
#     (256 hosts x 1,024 header-matched rules), against the shipped canary;
#   - productpage: pages whose details answer 100 MB and whose reviews never
#     end, against real details and reviews.
# Router throughput with the new limits: bash bench/router.sh.
#   bash bench/hostile.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --locked --workspace --bin ratings --bin details --bin reviews --bin productpage --bin bookinfo >&2
source bench/lib.sh
tmp=$(mktemp -d)
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT

peak_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
mib() { echo "scale=1; $1 / 1024" | bc; }

echo "== ratings: stored bytes capped"
python3 - "$tmp" <<'PY'
import sys
body = "{" + ",".join(f'"r{i}":1' for i in range(7000)) + "}"
while len(body) > 64 * 1024 - 16:
    body = body[: body.rfind(",")] + "}"
open(sys.argv[1] + "/worst.json", "w").write(body)
open(sys.argv[1] + "/small.json", "w").write('{"Reviewer1":5,"Reviewer2":4}')
PY
for kind in small worst; do
    p=$(port)
    start ratings "$p"
    wait_up "http://127.0.0.1:$p/health"
    idle=$(rss_kib "$last_pid")
    stored=0
    for id in $(seq 0 999); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary "@$tmp/$kind.json" "http://127.0.0.1:$p/ratings/$id")
        [[ "$code" == 200 ]] || break
        stored=$((stored + 1))
    done
    ended="HTTP $code"
    [[ "$code" == 200 ]] && ended="the end of the loop"
    printf '%-6s body %6d bytes: %4d products stored before %s, RSS idle %s MiB, peak %s MiB\n' \
        "$kind" "$(wc -c <"$tmp/$kind.json")" "$stored" "$ended" \
        "$(mib "$idle")" "$(mib "$(peak_kib "$last_pid")")"
    kill "$last_pid"
done
echo "(before the cap: about 1.4 MB per worst-case product, 13 GiB at the 10,000-product cap)"

echo "== bookinfo up: the largest routing object the limits allow"
python3 - "$tmp/big.yaml" <<'PY'
import sys
hosts = ", ".join(f"h{i}" for i in range(256))
rules = "".join(
    f'  - match: [{{headers: {{x-n: {{exact: "{i}"}}}}}}]\n    route: [{{destination: {{host: reviews, subset: v1}}}}]\n'
    for i in range(1024)
)
open(sys.argv[1], "w").write(
    "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: big}\n"
    f"spec:\n  hosts: [{hosts}]\n  http:\n{rules}"
)
PY
p_up=$(port); p_admin=$(port)
RUST_LOG=warn target/release/bookinfo up --listen "127.0.0.1:$p_up" --admin "127.0.0.1:$p_admin" \
    --routes istio/destination-rule-all.yaml >/dev/null &
pids+=($!); up_pid=$!
wait_up "http://127.0.0.1:$p_up/productpage"
apply() { # FILE: seconds the apply took; fails unless it was accepted
    local out
    out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -H content-type:application/yaml \
        --data-binary "@$1" "http://127.0.0.1:$p_admin/apply")
    [[ "$out" == 200\ * ]] || { echo "apply of $1 answered $out" >&2; exit 3; }
    echo "${out#200 }"
}
before=$(rss_kib "$up_pid")
canary=$(apply istio/virtual-service-reviews-canary-30-70.yaml)
after_canary=$(peak_kib "$up_pid")
big=$(apply "$tmp/big.yaml")
after_big=$(peak_kib "$up_pid")
printf 'canary (%d bytes): applied in %.3f s, peak RSS %s MiB (RSS before %s MiB)\n' \
    "$(wc -c <istio/virtual-service-reviews-canary-30-70.yaml)" "$canary" "$(mib "$after_canary")" "$(mib "$before")"
printf 'largest (%d bytes): applied in %.3f s, peak RSS %s MiB, ratio %.1f\n' \
    "$(wc -c <"$tmp/big.yaml")" "$big" "$(mib "$after_big")" "$(echo "$after_big / $after_canary" | bc -l)"
echo "(before the limits: a 133 KB file of 4,000 hosts x 1,000 rules took 2.9 GB and aborted the data plane)"
kill "$up_pid"

echo "== productpage: hostile backends"
p_bad=$(port)
python3 - "$p_bad" <<'PY' &
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Hostile(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("content-type", "application/json")
        if self.path.startswith("/details/"):
            size = 100 << 20
            self.send_header("content-length", str(size))
            self.end_headers()
            chunk = b" " * (1 << 20)
            try:
                for _ in range(100):
                    self.wfile.write(chunk)
            except OSError:
                pass
        else:
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
            try:
                while True:
                    self.wfile.write(chunk)
            except OSError:
                pass
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Hostile).serve_forever()
PY
pids+=($!)
p_details=$(port); p_reviews=$(port); p_ratings=$(port)
start ratings "$p_ratings"
start details "$p_details"
start reviews "$p_reviews" ENABLE_RATINGS=true RATINGS_HOSTNAME=127.0.0.1 RATINGS_SERVICE_PORT="$p_ratings"
for case in real hostile; do
    if [[ $case == real ]]; then d=$p_details; r=$p_reviews; else d=$p_bad; r=$p_bad; fi
    p=$(port)
    start productpage "$p" SESSION_SECRET=bench DETAILS_HOSTNAME=127.0.0.1 DETAILS_SERVICE_PORT="$d" \
        REVIEWS_HOSTNAME=127.0.0.1 REVIEWS_SERVICE_PORT="$r" RATINGS_HOSTNAME=127.0.0.1 RATINGS_SERVICE_PORT="$p_ratings"
    wait_up "http://127.0.0.1:$p/health"
    started=$(date +%s%N)
    for _ in 1 2 3 4 5; do
        round=()
        for _ in 1 2 3 4 5 6 7 8; do curl -s -o /dev/null "http://127.0.0.1:$p/productpage" & round+=($!); done
        wait "${round[@]}" || true
    done
    took=$(( ($(date +%s%N) - started) / 1000000 ))
    printf '%-8s backends: 40 pages (8 at a time) in %5d ms, productpage peak RSS %s MiB\n' \
        "$case" "$took" "$(mib "$(peak_kib "$last_pid")")"
    kill "$last_pid"
done
echo "(before the cap: 8 pages against such backends took productpage to 1.97 GB)"

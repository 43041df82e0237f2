#!/usr/bin/env bash
# Benchmark of the container images and the compose stack (issue 9), each
# against a baseline measured in the same run:
#   - size and file count of every image (the upstream images are 200-600 MB);
#   - cold start: `docker run` to the first 200 from /health, against the
#     same binary started as a plain process;
#   - idle memory of every compose container (`docker stats`), against the
#     RSS of the same workload as a process under `bookinfo up`;
#   - the full chain, wrk -t2 -c32 on /productpage under reviews v2: the
#     compose stack (published port -> router -> productpage -> router ->
#     details, reviews-v2 -> router -> ratings) against the same chain on
#     loopback processes (`bookinfo up`, same routers and routes).
#   bash bench/docker.sh [DURATION_SECONDS]
# Builds the images as tests/docker/run.sh does (stand-in base images where
# no registry is reachable).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs=${1:-8}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 3; }
docker compose version >/dev/null 2>&1 || { echo "needs docker compose and buildx (bash tests/docker/install.sh)"; exit 3; }
export $(bash docker/standins.sh)
docker buildx bake -f docker/docker-bake.hcl >/dev/null 2>&1 || { echo "docker buildx bake failed"; exit 3; }
cargo build --release --locked --workspace --bin bookinfo --bin productpage --bin details --bin reviews --bin ratings >&2
source bench/lib.sh

HUB=ghcr.io/bookinfo-rs
TAG=0.1.0
PROJECT="bookinfo-bench-$$"
COMPOSE=(docker compose -f docker/compose.yaml -p "$PROJECT")
runs=()
trap '"${COMPOSE[@]}" down -v >/dev/null 2>&1 || true; [[ ${#runs[@]} -eq 0 ]] || docker rm -f "${runs[@]}" >/dev/null 2>&1; kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT

now_ms() { date +%s%3N; }
# first_200 URL T0: milliseconds from T0 to the first 200 from URL (10 s at most)
first_200() {
    for _ in $(seq 2000); do
        if curl -fs -o /dev/null "$1"; then echo $(($(now_ms) - $2)); return; fi
        sleep 0.005
    done
    echo "not up: $1" >&2; exit 3
}

echo "== image sizes"
printf '%-26s %8s %6s\n' image MB files
for image in productpage details reviews ratings bookinfo reviews-v2 ratings-v-faulty; do
    size=$(docker image inspect -f '{{.Size}}' "$HUB/$image:$TAG")
    id=$(docker create "$HUB/$image:$TAG")
    files=$(docker export "$id" | tar -t | grep -vc '/$')
    docker rm "$id" >/dev/null
    printf '%-26s %8.1f %6d\n' "$image" "$(echo "$size / 1000000" | bc -l)" "$files"
done
echo "(targets: < 20 MB without curl, < 80 MB with it; the per-version images add no bytes)"

echo "== cold start to the first 200 from /health (ms; median of 3)"
printf '%-12s %10s %10s %7s\n' image container process ratio
median() { tr ' ' '\n' | sort -n | sed -n 2p; }
for service in productpage details reviews ratings; do
    container=() process=()
    for _ in 1 2 3; do
        t0=$(now_ms)
        name="$PROJECT-$service-$RANDOM"
        runs+=("$name")
        docker run -d --name "$name" --read-only -p 127.0.0.1:0:9080 "$HUB/$service:$TAG" >/dev/null
        container+=("$(first_200 "http://$(docker port "$name" 9080 | head -1)/health" "$t0")")
        docker rm -f "$name" >/dev/null
        p=$(port)
        t0=$(now_ms)
        start "$service" "$p"
        process+=("$(first_200 "http://127.0.0.1:$p/health" "$t0")")
        kill "$last_pid"; wait "$last_pid" 2>/dev/null || true
    done
    c=$(median <<<"${container[*]}") q=$(median <<<"${process[*]}")
    printf '%-12s %10d %10d %7.1f\n' "$service" "$c" "$q" "$(echo "$c / ($q + 0.001)" | bc -l)"
done

echo "== the stack: compose and bookinfo up, reviews v2"
t0=$(now_ms)
BOOKINFO_PORT=0 BOOKINFO_ADMIN_PORT=0 "${COMPOSE[@]}" up -d --wait >/dev/null 2>&1
echo "docker compose up --wait: $(($(now_ms) - t0)) ms (Docker's first health check runs 2 s after start)"
app="http://$("${COMPOSE[@]}" port mesh 9080)"
admin="http://$("${COMPOSE[@]}" port mesh 15000)"
for file in virtual-service-all-v1.yaml virtual-service-reviews-v2.yaml; do
    curl -fsS -H content-type:application/yaml --data-binary "@istio/$file" "$admin/apply" >/dev/null
done
p_up=$(port); p_admin=$(port)
RUST_LOG=warn target/release/bookinfo up --listen "127.0.0.1:$p_up" --admin "127.0.0.1:$p_admin" \
    --routes istio/destination-rule-all.yaml --routes istio/virtual-service-all-v1.yaml \
    --routes istio/virtual-service-reviews-v2.yaml >/dev/null &
pids+=($!)
up_pid=$!
wait_up "http://127.0.0.1:$p_up/productpage"
sleep 1

echo "== idle memory (MiB): container (docker stats) vs the same workload as a process (RSS)"
declare -A rss
for child in $(pgrep -P "$up_pid"); do
    workload=$(tr '\0' '\n' <"/proc/$child/environ" | sed -n 's/^HOSTNAME=\(.*\)-local$/\1/p')
    [[ -n "$workload" ]] && rss[$workload]=$(rss_kib "$child")
done
rss[mesh]=$(rss_kib "$up_pid")
printf '%-16s %10s %10s\n' container docker process
for service in mesh productpage details ratings reviews-v1 reviews-v2 reviews-v3; do
    workload=$service
    case "$service" in productpage | details | ratings) workload="$service-v1" ;; esac
    mem=$(docker stats --no-stream --format '{{.MemUsage}}' "$PROJECT-$service-1" | awk '{print $1}')
    printf '%-16s %10s %10.1f\n' "$service" "$mem" "$(echo "${rss[$workload]:-0} / 1024" | bc -l)"
done
echo "(process for mesh: the bookinfo up process, which holds all four routers)"

echo "== full chain, wrk -t2 -c32 for ${secs}s on /productpage"
local_out=$(wrk_run "http://127.0.0.1:$p_up/productpage"); echo "$local_out" >&2
compose_out=$(wrk_run "$app/productpage"); echo "$compose_out" >&2
python3 - "$(wrk_rate <<<"$local_out")" "$(wrk_rate <<<"$compose_out")" \
    "$(wrk_pct 50 <<<"$local_out")" "$(wrk_pct 99 <<<"$local_out")" \
    "$(wrk_pct 50 <<<"$compose_out")" "$(wrk_pct 99 <<<"$compose_out")" <<'PY'
import sys
local, compose, l50, l99, c50, c99 = map(float, sys.argv[1:])
print(f"bookinfo up (loopback)  {local:9.0f} pages/s  p50 {l50:6.2f} ms  p99 {l99:6.2f} ms  (baseline)")
print(f"docker compose          {compose:9.0f} pages/s  p50 {c50:6.2f} ms  p99 {c99:6.2f} ms  ratio {compose/local:.2f}")
PY

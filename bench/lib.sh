# Helpers shared by the benchmark scripts (sourced, not run).
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 200); do curl -fs -o /dev/null "$1" && return; sleep 0.05; done; echo "not up: $1"; exit 3; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT
# start NAME PORT [ENV=VALUE...]: runs target/release/NAME on 127.0.0.1:PORT
# (logging warnings only, unless ENV says otherwise)
start() {
    local name=$1 port=$2; shift 2
    env LISTEN_ADDR="127.0.0.1:$port" RUST_LOG=warn "$@" "target/release/$name" >/dev/null &
    pids+=($!)
    last_pid=$!
}
# wrk_run URL: full wrk output (2 threads, 32 connections) on stdout
wrk_run() { wrk -t2 -c32 -d"${secs}s" --latency "$1"; }
wrk_rate() { awk '/Requests\/sec/ {print $2}'; }
# wrk_pct P: latency percentile line of wrk --latency, in ms
wrk_pct() {
    awk -v p="$1%" '$1 == p { v = $2; if (v ~ /us$/) { sub(/us/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms/, "", v) } else if (v ~ /s$/) { sub(/s/, "", v); v *= 1000 } print v }'
}

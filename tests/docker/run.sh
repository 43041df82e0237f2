#!/usr/bin/env bash
# The container images and the compose stack, built and run for real:
#
#   bash tests/docker/run.sh
#
# Needs a running Docker Engine with the compose and buildx plugins and
# debootstrap (.ci/run installs them; tests/docker/install.sh does it by
# hand). Without them this fails: there is no skipping.
#
# (a) every image is built from docker/Dockerfile (on the local stand-ins
#     of docker/standins.sh for the base images);
# (b) each image holds only the files it should, runs with a read-only root
#     as UID 1000 with no capabilities, and answers its health check; curl
#     runs in the ratings and reviews images; the k8s/ manifests name only
#     images that were built;
# (c) docker/compose.yaml validates, comes up healthy, and through its
#     published port: all-v1, the 30/70 canary verified by loadgen (PASS, and
#     FAIL for the inverted expectation), jason's header route, the ratings
#     delay and abort, ratings killed and started again, the mysql profile
#     (MariaDB) and the tracing profile (Jaeger); the canary commands with
#     --target compose (a promoted rollout, offline and create stopping and
#     starting containers, refusals);
# (d) it tears down leaving no container, network or volume behind.
#
# The last line is "N passed, M failed"; the exit status is non-zero if any
# check failed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

passed=0
failed=0
pass() { passed=$((passed + 1)); printf 'ok    %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL  %s\n' "$*"; }
# check "SENTENCE" COMMAND...: passes when COMMAND exits 0.
check() {
    local name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}
die() { printf 'FAIL  %s\n' "$*"; echo "$passed passed, $((failed + 1)) failed"; exit 1; }

for tool in docker debootstrap; do
    command -v "$tool" >/dev/null || die "$tool is not installed (bash tests/docker/install.sh)"
done
docker info >/dev/null 2>&1 || die "the Docker Engine is not running (docker info failed)"
docker compose version >/dev/null 2>&1 || die "the Docker Compose plugin is missing (bash tests/docker/install.sh)"
docker buildx version >/dev/null 2>&1 || die "the Docker buildx plugin is missing (bash tests/docker/install.sh)"

HUB=ghcr.io/bookinfo-rs
TAG=0.1.0
SERVICE_IMAGES=(productpage details reviews ratings)
IMAGES=(productpage details reviews ratings bookinfo
    productpage-v1 productpage-v-flooding details-v1 details-v2
    reviews-v1 reviews-v2 reviews-v3 ratings-v1 ratings-v2
    ratings-v-faulty ratings-v-delayed ratings-v-unavailable ratings-v-unhealthy)
PROJECT="bookinfo-test-$$"
COMPOSE=(docker compose -f docker/compose.yaml -p "$PROJECT")
TMP="$(mktemp -d)"
containers=()
cleanup() {
    if [[ ${#containers[@]} -gt 0 ]]; then docker rm -f "${containers[@]}" >/dev/null 2>&1 || true; fi
    "${COMPOSE[@]}" --profile mysql --profile tracing down -v --remove-orphans >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# ---------------------------------------------------------------------------
echo "== (a) building every image"
standins="$(bash docker/standins.sh)" || die "the stand-in base images could not be made"
# RUST_IMAGE, DEBIAN_IMAGE (the build) and MARIADB_IMAGE (compose).
export $standins
started=$SECONDS
REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
export REVISION
if docker buildx bake -f docker/docker-bake.hcl >"$TMP/bake.log" 2>&1; then
    pass "docker buildx bake builds every image ($((SECONDS - started)) s)"
else
    tail -40 "$TMP/bake.log"
    die "docker buildx bake failed"
fi
for image in "${IMAGES[@]}"; do
    check "image $HUB/$image:$TAG exists" docker image inspect "$HUB/$image:$TAG" -f '{{.Id}}' >/dev/null
done

# ---------------------------------------------------------------------------
echo "== (b) each image on its own"
# The files an image may hold: the program, the C runtime and accounts of
# docker/rootfs.sh, and (reviews, ratings) curl with its libraries and the CA
# bundle. Docker adds /.dockerenv, /dev, /proc, /sys and the /etc files it
# mounts over.
allowed_files() { # IMAGE
    local program=$1 pattern
    pattern="^(\.dockerenv|dev/.*|proc/|sys/|etc/|etc/(hostname|hosts|mtab|resolv\.conf)|etc/(passwd|group|nsswitch\.conf)"
    pattern+="|tmp/|lib/|lib64/|lib/x86_64-linux-gnu/|lib/aarch64-linux-gnu/|lib/.*\.so[.0-9]*|lib64/.*\.so[.0-9]*"
    pattern+="|usr/|usr/local/|usr/local/bin/|usr/local/bin/$program"
    case "$program" in
        reviews | ratings) pattern+="|usr/bin/|usr/bin/curl|usr/lib/|usr/lib/.*|etc/ssl/|etc/ssl/certs/|etc/ssl/certs/ca-certificates\.crt" ;;
    esac
    printf '%s)$' "$pattern"
}
contents_ok() { # IMAGE PROGRAM
    local id unexpected
    id=$(docker create "$1")
    docker export "$id" | tar -t >"$TMP/files"
    docker rm "$id" >/dev/null
    grep -q "^usr/local/bin/$2$" "$TMP/files" || { echo "  $1 lacks /usr/local/bin/$2"; return 1; }
    ! grep -Eq '^(usr/)?bin/(sh|bash|dash)$' "$TMP/files" || { echo "  $1 has a shell"; return 1; }
    unexpected=$(grep -Ev "$(allowed_files "$2")" "$TMP/files" || true)
    [[ -z "$unexpected" ]] || { echo "  $1 holds files it should not: $unexpected"; return 1; }
}
for image in productpage details bookinfo; do
    check "$image holds only its program, the C runtime and its accounts (no shell)" \
        contents_ok "$HUB/$image:$TAG" "$image"
done
for image in reviews ratings; do
    check "$image holds only its program, the C runtime, its accounts and curl (no shell)" \
        contents_ok "$HUB/$image:$TAG" "$image"
done

# The environment each drop-in image bakes in, as its upstream namesake.
bakes() { # IMAGE VAR=VALUE...
    local image=$1 env
    shift
    env=$(docker image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$HUB/$image:$TAG")
    for pair in "$@"; do
        grep -qx "$pair" <<<"$env" || { echo "  $image lacks $pair"; return 1; }
    done
}
check "reviews-v1 bakes in ENABLE_RATINGS=false" bakes reviews-v1 SERVICE_VERSION=v1 ENABLE_RATINGS=false
check "reviews-v2 bakes in black stars" bakes reviews-v2 SERVICE_VERSION=v2 ENABLE_RATINGS=true STAR_COLOR=black
check "reviews-v3 bakes in red stars" bakes reviews-v3 SERVICE_VERSION=v3 ENABLE_RATINGS=true STAR_COLOR=red
for mode in v1 v2 v-faulty v-delayed v-unavailable v-unhealthy; do
    check "ratings-$mode bakes in SERVICE_VERSION=$mode" bakes "ratings-$mode" "SERVICE_VERSION=$mode"
done
check "details-v2 bakes in the external book service" bakes details-v2 SERVICE_VERSION=v2 ENABLE_EXTERNAL_BOOK_SERVICE=true
check "productpage-v-flooding bakes in FLOOD_FACTOR=100" bakes productpage-v-flooding FLOOD_FACTOR=100

labelled() { # IMAGE: the OCI labels, the non-root user and the health check
    local image=$1 got
    got=$(docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.title"}} {{index .Config.Labels "org.opencontainers.image.version"}} {{index .Config.Labels "org.opencontainers.image.revision"}} {{.Config.User}} {{len .Config.Healthcheck.Test}}' "$HUB/$image:$TAG")
    [[ "$got" == "$image $TAG $REVISION 1000:1000 "[1-9]* ]] || { echo "  $image: $got"; return 1; }
}
for image in productpage details reviews ratings bookinfo; do
    check "$image has the OCI labels, runs as 1000:1000 and has a HEALTHCHECK" labelled "$image"
done

# wait_healthy CONTAINER: until Docker reports it healthy (30 s at most).
wait_healthy() {
    local status
    for _ in $(seq 150); do
        status=$(docker inspect -f '{{.State.Health.Status}}' "$1" 2>/dev/null || echo gone)
        [[ "$status" == healthy ]] && return 0
        [[ "$status" == gone ]] && return 1
        sleep 0.2
    done
    echo "  $1 is $status"
    docker logs "$1" 2>&1 | tail -5
    return 1
}
hardened_run() { # NAME IMAGE [ARGS...]: as k8s/ runs it
    local name=$1
    shift
    containers+=("$name")
    docker run -d --name "$name" --read-only --cap-drop ALL --security-opt no-new-privileges \
        "$@" >/dev/null
}
for image in "${SERVICE_IMAGES[@]}"; do
    name="$PROJECT-$image"
    hardened_run "$name" "$HUB/$image:$TAG"
    check "$image runs read-only, without capabilities, as UID 1000, and turns healthy" \
        bash -c "$(declare -f wait_healthy); wait_healthy $name && [[ \$(docker exec $name /usr/local/bin/$image --health-check && docker inspect -f '{{.Config.User}}' $name) == 1000:1000 ]]"
done
check "the ratings image answers /ratings/0 to curl inside it" \
    bash -c "docker exec $PROJECT-ratings curl -sS http://127.0.0.1:9080/ratings/0 | grep -q '\"Reviewer1\":5'"
check "curl runs in the reviews image" docker exec "$PROJECT-reviews" curl -sS -o /dev/null http://127.0.0.1:9080/health
check "the health check fails when the service is not answering" \
    bash -c "! docker exec $PROJECT-ratings /usr/local/bin/ratings --health-check --listen 127.0.0.1:1 2>/dev/null"
docker rm -f "${containers[@]}" >/dev/null
containers=()

manifest_images_built() {
    local image missing=0
    for image in $(grep -ho 'image: ghcr.io/bookinfo-rs/[^ ]*' k8s/*.yaml | awk '{print $2}' | sort -u); do
        docker image inspect "$image" >/dev/null 2>&1 || { echo "  k8s/ names $image, which was not built"; missing=1; }
    done
    return $missing
}
check "every image k8s/ names was built" manifest_images_built

# ---------------------------------------------------------------------------
echo "== (c) the compose stack"
check "docker compose config validates the default stack" "${COMPOSE[@]}" config -q
check "docker compose config validates the mysql and tracing profiles" \
    "${COMPOSE[@]}" --profile mysql --profile tracing config -q

# Port 0: Docker picks free loopback ports; `docker compose port` tells which.
export BOOKINFO_PORT=0 BOOKINFO_ADMIN_PORT=0
started=$SECONDS
if "${COMPOSE[@]}" up -d --wait >"$TMP/up.log" 2>&1; then
    pass "docker compose up --wait brings the stack up healthy ($((SECONDS - started)) s)"
else
    cat "$TMP/up.log"
    "${COMPOSE[@]}" logs --tail 20
    die "the stack did not come up"
fi
app="http://$("${COMPOSE[@]}" port mesh 9080)"
admin="http://$("${COMPOSE[@]}" port mesh 15000)"
[[ "$app" == http://127.0.0.1:* && "$admin" == http://127.0.0.1:* ]] ||
    die "the ports are not published on loopback only: $app $admin"

apply() { # FILE...: routing files through the router's admin endpoint
    local file
    for file in "$@"; do
        curl -fsS -H content-type:application/yaml --data-binary "@istio/$file" "$admin/apply" >/dev/null || return 1
    done
}
page() { curl -sS "$@" "$app/productpage"; }
STAR='glyphicon glyphicon-star'

no_stars_on_any_page() {
    local n
    for n in $(seq 20); do
        page >"$TMP/page"
        grep -q '<title>Simple Bookstore App</title>' "$TMP/page" || { echo "  page $n is not the product page"; return 1; }
        ! grep -q "$STAR" "$TMP/page" || { echo "  page $n has stars"; return 1; }
    done
}
apply virtual-service-all-v1.yaml || die "the admin endpoint refused virtual-service-all-v1.yaml"
check "under virtual-service-all-v1.yaml no page has stars" no_stars_on_any_page

# The router knows who called (each caller has its own listener on it):
# Istio's metrics and the topology show the edges of the pages just served.
callers_known() {
    curl -fsS "$admin/metrics" >"$TMP/metrics" || return 1
    grep -q '^istio_requests_total{reporter="source",source_workload="productpage-v1",.*destination_service_name="reviews",.*response_code="200"' "$TMP/metrics" ||
        { echo "  no productpage-v1 -> reviews series"; return 1; }
    curl -fsS "$admin/topology" | python3 -c '
import json, sys
edges = {(e["source"], e["destination"]) for e in json.load(sys.stdin)["edges"]}
sys.exit(not {("unknown", "productpage-v1"), ("productpage-v1", "details-v1"), ("productpage-v1", "reviews-v1")} <= edges)' ||
        { echo "  the topology lacks the page's edges"; return 1; }
    curl -fsS "$admin/" | grep -q '<title>Bookinfo: live topology</title>' || { echo "  no topology page"; return 1; }
}
check "the router's Istio metrics and topology page name the callers (productpage-v1 -> reviews-v1, ...)" callers_known

cargo build --locked -q --workspace --bin loadgen --bin bookinfo
LOADGEN=target/debug/loadgen
BOOKINFO=target/debug/bookinfo
apply virtual-service-reviews-canary-30-70.yaml
check "loadgen gives the 30/70 canary a PASS through the published port" \
    "$LOADGEN" "$app/productpage" --rate 100 --expect v1=30,v2=70 --duration 60s --quiet
loadgen_fails_inverted() {
    local code=0
    "$LOADGEN" "$app/productpage" --rate 100 --expect v1=70,v2=30 --duration 60s --quiet || code=$?
    [[ $code == 1 ]] || { echo "  loadgen exited $code, not 1 (FAIL)"; return 1; }
}
check "loadgen gives the inverted expectation (70/30) a FAIL" loadgen_fails_inverted

curl -sS -c "$TMP/jason" -o /dev/null --data 'username=jason&passwd=password' "$app/login"
jason_route() {
    [[ $(page -b "$TMP/jason" | grep -o "$STAR" | wc -l) == 9 ]] || { echo "  jason has no 9 stars"; return 1; }
    page -b "$TMP/jason" | grep -q text-black-500 || { echo "  jason's stars are not black"; return 1; }
    ! page | grep -q "$STAR" || { echo "  the anonymous page has stars"; return 1; }
}
apply virtual-service-all-v1.yaml virtual-service-reviews-test-v2.yaml
check "jason logged in gets reviews v2 (black stars), anonymous gets v1" jason_route

delayed_for_jason() {
    local took
    took=$(page -b "$TMP/jason" -o "$TMP/page" -w '%{time_total}')
    grep -q 'Sorry, product reviews are currently unavailable for this book.' "$TMP/page" ||
        { echo "  no reviews error for jason"; return 1; }
    awk -v t="$took" 'BEGIN { exit !(t >= 5.8 && t < 8) }' || { echo "  took $took s, not about 6 s"; return 1; }
    ! page | grep -q 'currently unavailable' || { echo "  the anonymous page is degraded"; return 1; }
}
apply virtual-service-ratings-test-delay.yaml
check "the 7 s ratings delay gives jason the reviews error after about 6 s" delayed_for_jason

aborted_for_jason() {
    [[ $(page -b "$TMP/jason" | grep -o 'Ratings service is currently unavailable' | wc -l) == 2 ]] ||
        { echo "  jason's page does not say ratings are unavailable"; return 1; }
    ! page | grep -q 'Ratings service is currently unavailable' || { echo "  anonymous sees the abort"; return 1; }
}
apply virtual-service-ratings-test-abort.yaml
check "the ratings abort shows jason 'Ratings service is currently unavailable'" aborted_for_jason

apply virtual-service-all-v1.yaml virtual-service-reviews-test-v2.yaml
"${COMPOSE[@]}" kill ratings >/dev/null 2>&1
check "with ratings killed, jason's page degrades to 'Ratings service is currently unavailable'" \
    bash -c "curl -sS -b '$TMP/jason' '$app/productpage' | grep -q 'Ratings service is currently unavailable'"
"${COMPOSE[@]}" start ratings >/dev/null 2>&1
healed() {
    local n
    for n in $(seq 50); do
        [[ $(page -b "$TMP/jason" | grep -o "$STAR" | wc -l) == 9 ]] && return 0
        sleep 0.2
    done
    echo "  jason's stars did not come back"
    return 1
}
check "after docker compose start ratings, jason's stars come back" healed
check "curl in the ratings container reaches productpage by its service name (Istio's install check)" \
    bash -c "${COMPOSE[*]} exec -T ratings curl -sS productpage:9080/productpage | grep -q '<title>Simple Bookstore App</title>'"

# The canary commands on the stack: routing through its router's admin
# endpoint, containers through docker compose.
canary() { "$BOOKINFO" canary --target compose --admin "$admin" --project "$PROJECT" "$@"; }
running() { "${COMPOSE[@]}" ps --services --status running; }
canary_on_compose() {
    apply virtual-service-all-v1.yaml || return 1
    canary create reviews v2 >/dev/null || return 1
    canary progress reviews v2 --steps 50,100 --rate 100 --url "$app/productpage" \
        --report "$TMP/rollout.json" --html "$TMP/rollout.html" >"$TMP/progress.log" ||
        { cat "$TMP/progress.log"; return 1; }
    grep -q '"outcome": "promoted"' "$TMP/rollout.json" || { echo "  not promoted"; return 1; }
    grep -q '<span id="outcome">promoted</span>' "$TMP/rollout.html" || { echo "  no HTML report"; return 1; }
    canary offline reviews v1 | grep -q 'workload reviews-v1 stopped' || { echo "  offline said otherwise"; return 1; }
    ! running | grep -qx reviews-v1 || { echo "  reviews-v1 still runs"; return 1; }
    local n
    for n in $(seq 10); do
        page | grep -q text-black-500 || { echo "  page $n is not served by reviews v2"; return 1; }
    done
    # v1 back as the canary of v2: its container is started again.
    canary create reviews v1 >/dev/null || return 1
    running | grep -qx reviews-v1 || { echo "  create did not start reviews-v1"; return 1; }
    canary status reviews | grep -q 'stable v2, canary v1' || { echo "  status does not show the job"; return 1; }
    canary rollback reviews >/dev/null || return 1
    page | grep -q text-black-500 || { echo "  the rollback did not restore all-v2"; return 1; }
}
check "bookinfo canary --target compose: create, progress (promoted, HTML report), offline stops the container, create starts it again, rollback" \
    canary_on_compose
canary_refusals_on_compose() {
    local out code=0
    out=$(canary create reviews v4 2>&1) || code=$?
    [[ $code == 3 && $out == *"compose file defines"* ]] || { echo "  v4: exit $code: $out"; return 1; }
    code=0
    out=$(canary create reviews v3 --image x:1 2>&1) || code=$?
    [[ $code == 3 && $out == *"--image"* ]] || { echo "  --image: exit $code: $out"; return 1; }
    code=0
    out=$("$BOOKINFO" canary --target compose --admin http://127.0.0.1:1 status reviews 2>&1) || code=$?
    [[ $code == 3 && $out == *"cannot be reached"* ]] || { echo "  unreachable: exit $code: $out"; return 1; }
}
check "bookinfo canary --target compose refuses a version the file lacks, --image, and an unreachable router" \
    canary_refusals_on_compose

mysql_profile() {
    "${COMPOSE[@]}" --profile mysql up -d --wait >"$TMP/mysql.log" 2>&1 || { cat "$TMP/mysql.log"; return 1; }
    apply virtual-service-ratings-mysql.yaml || return 1
    curl -sS "$app/api/v1/products/0/ratings" | grep -q '"Reviewer1": 5' ||
        { echo "  ratings-v2-mysql does not answer the seeded ratings"; return 1; }
    "${COMPOSE[@]}" exec -T mysqldb mariadb -uroot -ppassword test \
        -e 'UPDATE ratings SET Rating = 1 WHERE ReviewID = 1' || return 1
    curl -sS "$app/api/v1/products/0/ratings" | grep -q '"Reviewer1": 1' ||
        { echo "  the ratings do not come from the database"; return 1; }
    page | grep -q 'text-red-500' || { echo "  reviews v3 (red stars) is not routed"; return 1; }
}
check "the mysql profile serves ratings from MariaDB, routed by virtual-service-ratings-mysql.yaml" mysql_profile

# One page under reviews v2 is one trace across the four services.
one_trace_across_the_services() {
    OTEL_EXPORTER_OTLP_ENDPOINT=http://jaeger:4318 JAEGER_UI_PORT=0 \
        "${COMPOSE[@]}" --profile tracing up -d --wait >"$TMP/tracing.log" 2>&1 || { cat "$TMP/tracing.log"; return 1; }
    # The router was recreated to export its spans: Docker picked new ports.
    app="http://$("${COMPOSE[@]}" port mesh 9080)"
    admin="http://$("${COMPOSE[@]}" port mesh 15000)"
    apply virtual-service-all-v1.yaml virtual-service-reviews-v2.yaml || return 1
    page >/dev/null
    local query n
    query="http://$("${COMPOSE[@]}" port jaeger 16686)/api/traces?service=productpage"
    for n in $(seq 60); do # spans leave in batches, every 5 s
        curl -sS "$query" | python3 -c '
import json, sys
traces = json.load(sys.stdin)["data"]
sys.exit(not any(sorted({p["serviceName"] for p in t["processes"].values()}) ==
                 ["details", "mesh", "productpage", "ratings", "reviews"] for t in traces))' && return 0
        sleep 0.5
    done
    echo "  no trace holds productpage, details, reviews, ratings and the router's hops"
    return 1
}
check "the tracing profile: a page is one trace in Jaeger across productpage, details, reviews, ratings and the router (mesh)" \
    one_trace_across_the_services

# ---------------------------------------------------------------------------
echo "== (d) teardown"
"${COMPOSE[@]}" --profile mysql --profile tracing down -v --remove-orphans >/dev/null 2>&1
left() { # KIND: objects of KIND still labelled with the project
    docker "$1" ls -q --filter "label=com.docker.compose.project=$PROJECT" $([[ $1 == container ]] && echo -a)
}
check "docker compose down leaves no container, network or volume behind" \
    bash -c "$(declare -f left); PROJECT=$PROJECT; [[ -z \$(left container)\$(left network)\$(left volume) ]]"

echo "$passed passed, $failed failed"
[[ $failed == 0 ]]

#!/usr/bin/env bash
# Offline checks of the manifests in k8s/ and istio/. Needs no cluster and no network.
#
#   pip install -r tests/manifests/requirements.txt   # once; this script installs nothing
#   bash tests/manifests/check.sh
#
# (a) every YAML file under k8s/ (add-ons included, kustomization.yaml excepted)
#     against the Kubernetes OpenAPI schemas with `kubernetes-validate --strict`;
# (b) every YAML file under istio/ against the Istio and Gateway API schemas in
#     ../shared/schemas (validate.py), when that folder exists next to the repo;
# (c) `kubectl kustomize k8s/` renders and holds the six Deployments;
# (d) the objects `bookinfo canary --target kube --dry-run` renders for each
#     kind of step (create --image, weight, the four matches, mirror,
#     blue-green) against the same schemas.
# The rules across objects that no schema sees (subsets, selectors, hosts,
# weights, ports, images, hardening) are `bookinfo lint`, run by tests/all.sh.
#
# Each checked object (or file, where a file fails as a whole) counts once. The last
# line is "N passed, M failed"; the exit status is non-zero if anything failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

# Kubernetes version to validate against; the newest the installed
# kubernetes-validate knows is used when it lacks this one.
WANT_K8S="${K8S_VERSION:-1.37.0}"
SCHEMAS="$ROOT/../shared/schemas"

passed=0
failed=0
pass() { passed=$((passed + 1)); printf 'ok    %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL  %s\n' "$*"; }

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

yaml_files() { # DIR: every *.yaml / *.yml below DIR, sorted
    find "$1" -type f \( -name '*.yaml' -o -name '*.yml' \) | LC_ALL=C sort
}

# ---------------------------------------------------------------------------
echo "== (a) k8s/ against the Kubernetes schemas (kubernetes-validate --strict)"
if ! command -v kubernetes-validate >/dev/null 2>&1; then
    fail "kubernetes-validate is not installed (pip install -r tests/manifests/requirements.txt)"
else
    kv_version="$(kubernetes-validate --version 2>&1)"
    k8s_version="$(python3 - "$WANT_K8S" <<'PY' 2>/dev/null || true
import sys
from kubernetes_validate.utils import all_versions, latest_version
want = sys.argv[1]
print(want if want in all_versions() else latest_version())
PY
)"
    if [[ -z "$k8s_version" ]]; then
        fail "cannot list the Kubernetes versions of kubernetes-validate $kv_version (is python3 the interpreter it is installed in?)"
    else
        if [[ "$k8s_version" != "$WANT_K8S" ]]; then
            echo "note: kubernetes-validate $kv_version has no schemas for Kubernetes $WANT_K8S; using the newest it has"
        fi
        echo "kubernetes-validate $kv_version, Kubernetes schemas $k8s_version"
        while IFS= read -r file; do
            [[ "$(basename "$file")" == kustomization.y*ml ]] && continue
            rc=0
            kubernetes-validate --strict -k "$k8s_version" "$file" >"$TMP/kv.out" 2>&1 || rc=$?
            objects=0
            bad=0
            while IFS= read -r line; do
                case "$line" in
                    "INFO "*" passed for resource "*)
                        objects=$((objects + 1))
                        res="${line#* passed for resource }"
                        pass "$file ${res%% against *}" ;;
                    "ERROR "* | "WARN "* | "FATAL "*)
                        objects=$((objects + 1))
                        bad=$((bad + 1))
                        fail "${line#* }" ;;
                esac
            done <"$TMP/kv.out"
            if [[ $rc -ne 0 && $bad -eq 0 ]]; then
                fail "$file: kubernetes-validate exited $rc: $(tr '\n' ' ' <"$TMP/kv.out")"
            elif [[ $objects -eq 0 ]]; then
                fail "$file: no Kubernetes object found"
            fi
        done < <(yaml_files k8s)
    fi
fi

# ---------------------------------------------------------------------------
echo "== (b) istio/ against the Istio and Gateway API schemas"
if [[ ! -d "$SCHEMAS" ]]; then
    echo "skip: $SCHEMAS not found; Istio and Gateway API files not schema-checked"
else
    mapfile -t istio_files < <(yaml_files istio)
    rc=0
    python3 "$SCHEMAS/validate.py" "${istio_files[@]}" >"$TMP/v.out" 2>&1 || rc=$?
    bad=0
    while IFS= read -r line; do
        case "$line" in
            "ok "*) pass "${line#ok }" ;;
            "error "*) bad=$((bad + 1)); fail "${line#error }" ;;
            # Nothing under istio/ should fall outside the schemas' API groups.
            "skip "*) bad=$((bad + 1)); fail "not checked: ${line#skip }" ;;
        esac
    done <"$TMP/v.out"
    if [[ $rc -ne 0 && $bad -eq 0 ]]; then
        fail "validate.py exited $rc: $(tr '\n' ' ' <"$TMP/v.out")"
    fi
fi

# ---------------------------------------------------------------------------
echo "== (c) kubectl kustomize k8s/"
if command -v kubectl >/dev/null 2>&1; then
    render=(kubectl kustomize k8s)
elif command -v kustomize >/dev/null 2>&1; then
    render=(kustomize build k8s)
else
    render=()
    fail "neither kubectl nor kustomize is installed"
fi
if [[ ${#render[@]} -gt 0 ]]; then
    if "${render[@]}" >"$TMP/rendered.yaml" 2>"$TMP/render.err"; then
        pass "k8s/ renders with ${render[*]}"
        python3 - "$TMP/rendered.yaml" >"$TMP/c.out" <<'PY' || true
import sys, yaml
wanted = ["details-v1", "ratings-v1", "reviews-v1", "reviews-v2", "reviews-v3", "productpage-v1"]
with open(sys.argv[1]) as f:
    found = {d["metadata"]["name"] for d in yaml.safe_load_all(f) if d and d.get("kind") == "Deployment"}
for name in wanted:
    print(("ok " if name in found else "error ") + f"rendered k8s/ has Deployment {name}")
PY
        while IFS= read -r line; do
            case "$line" in
                "ok "*) pass "${line#ok }" ;;
                *) fail "${line#error }" ;;
            esac
        done <"$TMP/c.out"
        [[ -s "$TMP/c.out" ]] || fail "cannot read the rendered k8s/ output"
    else
        fail "${render[*]} failed: $(tr '\n' ' ' <"$TMP/render.err")"
    fi
fi

# ---------------------------------------------------------------------------
echo "== (d) what bookinfo canary --target kube renders, against the same schemas"
# Each step's objects as `--dry-run` prints them, on a cluster stood in for
# by the recording kubectl of the CLI's tests (k8s/bookinfo.yaml, the
# DestinationRules and all-v1 applied; a job created on it).
cargo build --locked -q --bin bookinfo
STANDIN="$ROOT/cli/tests/bookinfo/kubectl-standin.py"
export KUBECTL_STANDIN_STATE="$TMP/standin.json" KUBECTL_STANDIN_LOG="$TMP/standin.log"
for file in k8s/bookinfo.yaml istio/destination-rule-all.yaml istio/virtual-service-all-v1.yaml; do
    "$STANDIN" apply -f "$file" >/dev/null
done
canary() { target/debug/bookinfo canary --target kube --kubectl "$STANDIN" "$@"; }
mkdir -p "$TMP/canary"
render() { # NAME ARGS...: the List a dry run of ARGS prints, one object per file
    canary --dry-run "${@:2}" >"$TMP/canary/$1.out" 2>"$TMP/canary/$1.err" ||
        { fail "canary --dry-run ${*:2}: $(tr '\n' ' ' <"$TMP/canary/$1.err")"; return; }
    python3 - "$TMP/canary/$1.out" "$TMP/canary/$1" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
listed = json.loads(text[: text.index("\n}\n") + 2])
for i, item in enumerate(listed["items"]):
    kind = "istio" if item["apiVersion"].endswith("istio.io/v1") else "k8s"
    open(f"{sys.argv[2]}-{i}.{kind}.yaml", "w").write(json.dumps(item))
PY
}
render create-image create reviews v4 --image ghcr.io/bookinfo-rs/reviews:0.1.0
canary create reviews v2 >/dev/null || fail "canary create reviews v2 on the stand-in"
render weight weight reviews v1=30 v2=70
render header match reviews --to v2 --header end-user=jason
render cookie match reviews --to v2 --cookie canary=yes
render uri match reviews --to v2 --uri-prefix /api
render agent match reviews --to v2 --user-agent '.*Android.*'
render mirror mirror reviews --to v2 --percent 25
render blue-green blue-green reviews --to v2
mapfile -t rendered_istio < <(find "$TMP/canary" -name '*.istio.yaml' | LC_ALL=C sort)
mapfile -t rendered_k8s < <(find "$TMP/canary" -name '*.k8s.yaml' | LC_ALL=C sort)
[[ ${#rendered_istio[@]} -ge 9 && ${#rendered_k8s[@]} -eq 1 ]] ||
    fail "expected 9 Istio objects and 1 Deployment, rendered ${#rendered_istio[@]} and ${#rendered_k8s[@]}"
if [[ -d "$SCHEMAS" ]]; then
    rc=0
    python3 "$SCHEMAS/validate.py" "${rendered_istio[@]}" >"$TMP/canary.out" 2>&1 || rc=$?
    while IFS= read -r line; do
        case "$line" in
            "ok "*) pass "canary: ${line#ok $TMP/canary/}" ;;
            *) fail "canary: $line" ;;
        esac
    done <"$TMP/canary.out"
    [[ $rc -eq 0 ]] || fail "validate.py exited $rc on the rendered canary objects"
fi
if command -v kubernetes-validate >/dev/null 2>&1 && [[ -n "${k8s_version:-}" ]]; then
    if kubernetes-validate --strict -k "$k8s_version" "${rendered_k8s[@]}" >"$TMP/canary-kv.out" 2>&1; then
        pass "canary: the Deployment create --image renders passes kubernetes-validate --strict"
    else
        fail "canary: the rendered Deployment: $(tr '\n' ' ' <"$TMP/canary-kv.out")"
    fi
fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]

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
# (d) cross-object rules no schema sees: route weights sum to 100, every subset a
#     route names is defined, every host and backend is a Service of k8s/, and
#     every Bookinfo Deployment keeps its labels, probes and hardening.
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
echo "== (d) cross-object rules"
python3 - >"$TMP/d.out" 2>&1 <<'PY' || true
import glob, os, yaml

def load(path):
    try:
        with open(path) as f:
            return [d for d in yaml.safe_load_all(f) if isinstance(d, dict)]
    except yaml.YAMLError as e:
        print(f"error {path}: not YAML: " + " ".join(str(e).split()))
        return []

def report(ok, what):
    print(("ok " if ok else "error ") + what)

def main():
    k8s = {p: load(p) for p in sorted(glob.glob("k8s/**/*.y*ml", recursive=True))
           if os.path.basename(p) not in ("kustomization.yaml", "kustomization.yml")}
    istio = {p: load(p) for p in sorted(glob.glob("istio/**/*.y*ml", recursive=True))}

    services = {}      # name -> set of ports
    for docs in k8s.values():
        for d in docs:
            if d.get("kind") == "Service":
                services.setdefault(d["metadata"]["name"], set()).update(
                    p["port"] for p in d["spec"].get("ports", []))

    # Subsets: those of destination-rule-all.yaml, plus any defined in the same file.
    def subsets_of(docs):
        out = {}
        for d in docs:
            if d.get("kind") == "DestinationRule":
                out.setdefault(d["spec"]["host"], set()).update(
                    s["name"] for s in d["spec"].get("subsets", []))
        return out
    all_subsets = subsets_of(istio.get("istio/destination-rule-all.yaml", []))

    for path, docs in istio.items():
        with open(path) as f:
            report(f.readline().startswith("#"), f"{path} starts with a comment")
        local = subsets_of(docs)
        for d in docs:
            kind, name = d.get("kind"), d.get("metadata", {}).get("name")
            where = f"{path} {kind}/{name}"
            problems = []
            if kind == "DestinationRule":
                if d["spec"]["host"] not in services:
                    problems.append(f"host {d['spec']['host']} is no Service of k8s/")
                for s in d["spec"].get("subsets", []):
                    if s.get("labels") != {"version": s["name"]}:
                        problems.append(f"subset {s['name']} does not select version: {s['name']}")
            if kind == "VirtualService":
                for i, rule in enumerate(d["spec"].get("http", [])):
                    dests = [r["destination"] for r in rule.get("route", [])]
                    if rule.get("mirror"):
                        dests.append(rule["mirror"])
                    for dest in dests:
                        host, subset = dest["host"], dest.get("subset")
                        if host not in services:
                            problems.append(f"http[{i}] host {host} is no Service of k8s/")
                        if subset and subset not in local.get(host, set()) | all_subsets.get(host, set()):
                            problems.append(f"http[{i}] subset {host}/{subset} is in no DestinationRule")
                    weights = [r.get("weight") for r in rule.get("route", [])]
                    if len(weights) > 1 and (None in weights or sum(weights) != 100):
                        problems.append(f"http[{i}] weights {weights} do not sum to 100")
            if kind == "HTTPRoute":
                for ref in d["spec"].get("parentRefs", []):
                    if ref.get("kind") == "Service" and ref.get("port") not in services.get(ref["name"], set()):
                        problems.append(f"parentRef Service {ref['name']}:{ref.get('port')} is not in k8s/")
                for i, rule in enumerate(d["spec"].get("rules", [])):
                    refs = rule.get("backendRefs", [])
                    for ref in refs:
                        if ref.get("port") not in services.get(ref["name"], set()):
                            problems.append(f"rules[{i}] backendRef {ref['name']}:{ref.get('port')} is no Service port of k8s/")
                    weights = [r.get("weight") for r in refs]
                    if len(weights) > 1 and (None in weights or sum(weights) != 100):
                        problems.append(f"rules[{i}] weights {weights} do not sum to 100")
            if kind in ("DestinationRule", "VirtualService", "HTTPRoute"):
                report(not problems, where + ("" if not problems else ": " + "; ".join(problems)))

    # Every Bookinfo Deployment: container named after the app, labels app + version on
    # the Deployment and its pods, port 9080 named http, /health probes, hardening.
    for path, docs in k8s.items():
        for d in docs:
            if d.get("kind") != "Deployment":
                continue
            image = d["spec"]["template"]["spec"]["containers"][0]["image"]
            if not image.startswith("ghcr.io/bookinfo-rs/"):
                continue
            where = f"{path} Deployment/{d['metadata']['name']}"
            problems = []
            labels = d["metadata"].get("labels", {})
            pod = d["spec"]["template"]
            spec = pod["spec"]
            app, version = labels.get("app"), labels.get("version")
            if d["metadata"]["name"] != f"{app}-{version}":
                problems.append("name is not <app>-<version>")
            if pod["metadata"].get("labels") != {"app": app, "version": version}:
                problems.append("pod labels are not app + version")
            psc = spec.get("securityContext", {})
            if not (psc.get("runAsNonRoot") and psc.get("seccompProfile", {}).get("type") == "RuntimeDefault"):
                problems.append("pod securityContext is not non-root with RuntimeDefault seccomp")
            if spec.get("automountServiceAccountToken") is not False:
                problems.append("service account token is mounted")
            for c in spec["containers"]:
                if c["name"] != app:
                    problems.append(f"container {c['name']} is not named {app}")
                if {"name": "http", "containerPort": 9080, "protocol": "TCP"} not in c.get("ports", []):
                    problems.append("no containerPort 9080 named http")
                sc = c.get("securityContext", {})
                if not (sc.get("allowPrivilegeEscalation") is False and sc.get("readOnlyRootFilesystem") is True
                        and sc.get("capabilities", {}).get("drop") == ["ALL"]):
                    problems.append(f"container {c['name']} is not hardened")
                for probe in ("readinessProbe", "livenessProbe"):
                    if c.get(probe, {}).get("httpGet") != {"path": "/health", "port": "http"}:
                        problems.append(f"{probe} is not GET /health on port http")
                if not {"requests", "limits"} <= set(c.get("resources", {})):
                    problems.append("no resource requests and limits")
                env = {e["name"]: e.get("value") for e in c.get("env", [])}
                if "HOSTNAME" in env:
                    problems.append("sets HOSTNAME (Kubernetes sets it to the pod name)")
            report(not problems, where + ("" if not problems else ": " + "; ".join(problems)))

try:
    main()
except Exception as e:  # a malformed manifest must fail the check, not hide it
    print(f"error cross-object checks stopped: {type(e).__name__}: {e}")
PY
while IFS= read -r line; do
    case "$line" in
        "ok "*) pass "${line#ok }" ;;
        "error "*) fail "${line#error }" ;;
        *) fail "cross-object check: $line" ;;
    esac
done <"$TMP/d.out"
[[ -s "$TMP/d.out" ]] || fail "cross-object checks printed nothing"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]

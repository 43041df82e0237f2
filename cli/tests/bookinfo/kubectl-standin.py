#!/usr/bin/env python3
"""A recording stand-in for kubectl, for the tests of `bookinfo canary --target kube`
(no cluster is reachable from the machines the tests run on). It keeps the
objects of one namespace in the JSON file named by KUBECTL_STANDIN_STATE and
appends each invocation (arguments and standard input) as a JSON line to
KUBECTL_STANDIN_LOG. It knows what the canary commands run: `get KINDS -o json`,
`get KIND NAME -o json`, `apply -f FILE|-` (YAML or JSON, a List or documents),
`delete KIND NAME`.

As an API server does, it counts each object's `metadata.generation`, and, as
istiod does with PILOT_ENABLE_STATUS=true, it writes Istio objects' `status`:
reconciled at once at the new generation (KUBECTL_STANDIN_NO_STATUS=1: no status,
as istiod's default). With KUBECTL_STANDIN_ADMIN=URL its mesh is a local data
plane: Istio objects applied or deleted are applied to or deleted from that
admin endpoint too, so traffic follows what was applied."""
import json, os, sys, urllib.request
import yaml

KINDS = {
    "virtualservices.networking.istio.io": "VirtualService",
    "destinationrule": "DestinationRule",
    "virtualservice": "VirtualService",
    "destinationrules.networking.istio.io": "DestinationRule",
    "deployments": "Deployment",
    "deployment": "Deployment",
}

state_path = os.environ["KUBECTL_STANDIN_STATE"]
args = sys.argv[1:]
stdin = sys.stdin.read() if args[:3] == ["apply", "-f", "-"] else ""
with open(os.environ["KUBECTL_STANDIN_LOG"], "a") as log:
    log.write(json.dumps({"args": args, "stdin": stdin}) + "\n")
items = json.load(open(state_path))["items"] if os.path.exists(state_path) else []

def save():
    json.dump({"items": items}, open(state_path, "w"))

def key(o):
    return (o.get("kind"), o.get("metadata", {}).get("name"))

ISTIO = {"VirtualService", "DestinationRule"}
admin = os.environ.get("KUBECTL_STANDIN_ADMIN")

def to_admin(method, path, body=None):
    request = urllib.request.Request(admin + path, method=method, data=body,
                                     headers={"content-type": "application/yaml"})
    try:
        urllib.request.urlopen(request, timeout=10).read()
    except urllib.error.HTTPError as e:
        print(f"Error from server (admission): {e.read().decode()}", file=sys.stderr)
        sys.exit(1)

def stored(o, old):
    o = json.loads(json.dumps(o))
    o.pop("status", None)
    metadata = o.setdefault("metadata", {})
    same = old is not None and old.get("spec") == o.get("spec") and \
        old["metadata"].get("annotations") == metadata.get("annotations")
    metadata["generation"] = old["metadata"]["generation"] if same else \
        (old["metadata"]["generation"] + 1 if old else 1)
    if o.get("kind") in ISTIO and not os.environ.get("KUBECTL_STANDIN_NO_STATUS"):
        o["status"] = {"observedGeneration": metadata["generation"],
                       "conditions": [{"type": "Reconciled", "status": "True"}]}
    return o

if args[:1] == ["get"] and len(args) == 5 and args[3:] == ["-o", "json"]:
    found = [o for o in items if key(o) == (KINDS[args[1]], args[2])]
    if not found:
        print(f'Error from server (NotFound): {args[1]} "{args[2]}" not found', file=sys.stderr)
        sys.exit(1)
    print(json.dumps(found[0]))
elif args[:1] == ["get"] and args[2:] == ["-o", "json"]:
    kinds = {KINDS[k] for k in args[1].split(",")}
    print(json.dumps({"apiVersion": "v1", "kind": "List", "items": [o for o in items if o.get("kind") in kinds]}))
elif args[:2] == ["apply", "-f"]:
    text = stdin if args[2] == "-" else open(args[2]).read()
    docs = [d for d in yaml.safe_load_all(text) if d]
    objects = [o for d in docs for o in (d["items"] if d.get("kind") == "List" else [d])]
    routing = [o for o in objects if o.get("kind") in ISTIO]
    if admin and routing:
        # All of one apply in one change, as the API server takes a List.
        to_admin("POST", "/apply", "\n---\n".join(json.dumps(o) for o in routing).encode())
    for o in objects:
        old = next((i for i in items if key(i) == key(o)), None)
        items[:] = [i for i in items if key(i) != key(o)] + [stored(o, old)]
        print(f"{o['kind'].lower()}/{o['metadata']['name']} configured")
    save()
elif args[:1] == ["delete"] and len(args) == 3:
    kind, name = KINDS[args[1]], args[2]
    if (kind, name) not in [key(i) for i in items]:
        print(f'Error from server (NotFound): {args[1]} "{name}" not found', file=sys.stderr)
        sys.exit(1)
    if admin and kind in ISTIO:
        to_admin("DELETE", f"/objects/{kind}/{name}")
    items[:] = [i for i in items if key(i) != (kind, name)]
    save()
    print(f"{args[1]} \"{name}\" deleted")
else:
    print(f"kubectl stand-in: unsupported: {args}", file=sys.stderr)
    sys.exit(2)

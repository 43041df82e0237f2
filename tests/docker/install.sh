#!/usr/bin/env bash
# Installs what tests/docker/run.sh needs on a Debian 12 machine whose Docker
# Engine is already running: debootstrap (for the stand-in base images) and
# the Docker CLI plugins `compose` (v2: `up --wait`, profiles) and `buildx`
# (bake, BuildKit). Debian 12 ships only the old Python docker-compose 1.29
# and no buildx, so the plugins come from Debian 13's packages, which need
# nothing newer than Debian 12's libc. Whatever is there already is kept.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

need=()
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
if [[ ${#need[@]} -gt 0 ]]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

plugins=()
docker compose version >/dev/null 2>&1 || plugins+=(docker-compose)
docker buildx version >/dev/null 2>&1 || plugins+=(docker-buildx)
if [[ ${#plugins[@]} -gt 0 ]]; then
    # Debian 13 as a source that is never preferred: only the packages
    # named PACKAGE/trixie come from it.
    cat >/etc/apt/sources.list.d/bookinfo-trixie.sources <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    cat >/etc/apt/preferences.d/bookinfo-trixie <<'EOF'
Package: *
Pin: release n=trixie
Pin-Priority: 100
EOF
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${plugins[@]/%//trixie}" >/dev/null
fi

docker compose version
docker buildx version

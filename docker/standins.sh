#!/usr/bin/env bash
# Makes local stand-ins for the public base images that docker/Dockerfile
# starts from, for machines that cannot pull from a registry (this project's
# own CI among them). A machine that can pull needs none of this.
#
#   bash docker/standins.sh          # prints the build arguments to use
#
# Stand-in                               for the public image        made from
# bookinfo-standin/debian:bookworm-slim  debian:bookworm-slim        debootstrap --variant=minbase bookworm
# bookinfo-standin/rust:1.95-slim-bookworm  rust:1.95-slim-bookworm  the Debian stand-in + gcc, libc6-dev,
#                                                                    ca-certificates + this machine's Rust 1.95
#                                                                    and local certificate authorities
# bookinfo-standin/mariadb:11.8          mariadb:11.8 (compose       the Debian stand-in + Debian's mariadb-server
#                                        profile `mysql`)            and our entrypoint (docker/standins/mariadb/)
# bookinfo-standin/jaeger:2.15.0         jaegertracing/jaeger:2.15.0 the Debian stand-in + Python 3 and our OTLP/HTTP
#                                        (profile `tracing`)         receiver with a query API (docker/standins/jaeger/)
#
# The final images copy only the files docker/rootfs.sh picks out of the
# Debian stage (the C runtime, curl and its libraries, CA certificates), so
# they hold the same files whichever Debian bookworm the stage started from.
# Images that already exist are kept; FORCE=1 makes them again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

DEBIAN_STANDIN=bookinfo-standin/debian:bookworm-slim
RUST_STANDIN=bookinfo-standin/rust:1.95-slim-bookworm
MARIADB_STANDIN=bookinfo-standin/mariadb:11.8
JAEGER_STANDIN=bookinfo-standin/jaeger:2.15.0
# The Rust version of the public builder image (rust:1.95-slim-bookworm).
RUST_VERSION=1.95.0
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

say() { printf 'standins: %s\n' "$*" >&2; }
have() { [[ "${FORCE:-0}" != 1 ]] && docker image inspect "$1" >/dev/null 2>&1; }

command -v docker >/dev/null || { say "docker is not installed"; exit 1; }
docker info >/dev/null 2>&1 || { say "the Docker Engine is not running (docker info failed)"; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if ! have "$DEBIAN_STANDIN"; then
    command -v debootstrap >/dev/null || { say "debootstrap is missing (apt-get install debootstrap)"; exit 1; }
    say "debootstrap bookworm (minbase) from $MIRROR"
    debootstrap --variant=minbase bookworm "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
        { tail -20 "$work/debootstrap.log" >&2; exit 1; }
    # As the public slim image: no package lists or caches inside.
    rm -rf "$work/rootfs/var/lib/apt/lists/"* "$work/rootfs/var/cache/apt/"*.bin \
        "$work/rootfs/var/cache/apt/archives/"*.deb
    tar -C "$work/rootfs" -c . |
        docker import --change 'CMD ["bash"]' \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            - "$DEBIAN_STANDIN" >/dev/null
    rm -rf "$work/rootfs"
fi

if ! have "$RUST_STANDIN"; then
    command -v rustc >/dev/null || { say "rustc is missing: the Rust stand-in is made from this machine's toolchain"; exit 1; }
    found="$(rustc --version | awk '{print $2}')"
    [[ "$found" == "$RUST_VERSION" ]] ||
        { say "this machine has Rust $found; the builder image is Rust $RUST_VERSION"; exit 1; }
    sysroot="$(rustc --print sysroot)"
    mkdir -p "$work/rust/toolchain"
    # Documentation (share/) is not needed to build; hard links when possible.
    for part in bin lib libexec etc; do
        [[ -e "$sysroot/$part" ]] || continue
        cp -al "$sysroot/$part" "$work/rust/toolchain/" 2>/dev/null || cp -a "$sysroot/$part" "$work/rust/toolchain/"
    done
    mkdir -p "$work/rust/local-ca"
    cp /usr/local/share/ca-certificates/*.crt "$work/rust/local-ca/" 2>/dev/null || true
    cp standins/rust.Dockerfile "$work/rust/Dockerfile"
    say "Rust $RUST_VERSION builder from $sysroot"
    docker build -q --build-arg "DEBIAN_IMAGE=$DEBIAN_STANDIN" -t "$RUST_STANDIN" "$work/rust" >/dev/null
fi

if ! have "$MARIADB_STANDIN"; then
    say "MariaDB server image"
    docker build -q --build-arg "DEBIAN_IMAGE=$DEBIAN_STANDIN" -t "$MARIADB_STANDIN" standins/mariadb >/dev/null
fi

if ! have "$JAEGER_STANDIN"; then
    say "Jaeger stand-in image"
    docker build -q --build-arg "DEBIAN_IMAGE=$DEBIAN_STANDIN" -t "$JAEGER_STANDIN" standins/jaeger >/dev/null
fi

# What the build and compose need to use the stand-ins (see docker/README.md).
cat <<EOF
RUST_IMAGE=$RUST_STANDIN
DEBIAN_IMAGE=$DEBIAN_STANDIN
MARIADB_IMAGE=$MARIADB_STANDIN
JAEGER_IMAGE=$JAEGER_STANDIN
EOF

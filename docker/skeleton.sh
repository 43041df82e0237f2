#!/bin/sh
# skeleton.sh SRC DEST: the workspace's manifests (Cargo.toml of the root and
# of every member, Cargo.lock) with every target's source replaced by an empty
# one. docker/Dockerfile compiles the dependencies against this skeleton in a
# layer of their own, which is reused until a manifest or the lock file
# changes; an edit to the sources rebuilds only the workspace's own crates.
set -eu
src=$1 dest=$2
cd "$src"
mkdir -p "$dest"
cp Cargo.toml Cargo.lock "$dest/"
find . -name Cargo.toml -not -path './target/*' -not -path ./Cargo.toml | while read -r manifest; do
    crate=$(dirname "$manifest")
    mkdir -p "$dest/$crate"
    cp "$manifest" "$dest/$manifest"
    # The targets cargo finds by convention, and those the manifest names.
    targets=$(
        cd "$crate"
        ls src/lib.rs src/main.rs src/bin/*.rs build.rs 2>/dev/null || true
        sed -n 's/^ *path *= *"\([^"]*\.rs\)".*/\1/p' Cargo.toml
    )
    for target in $targets; do
        mkdir -p "$dest/$crate/$(dirname "$target")"
        case "$target" in
            src/lib.rs) : >"$dest/$crate/$target" ;;
            *) echo 'fn main() {}' >"$dest/$crate/$target" ;;
        esac
    done
done

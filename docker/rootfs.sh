#!/bin/sh
# Lays out, inside the Debian stage of docker/Dockerfile, the file trees that
# the final images (FROM scratch) copy. Nothing else of Debian reaches them.
#
#   rootfs.sh base DEST PROGRAM...       accounts (root, bookinfo = 1000:1000),
#                                        /etc/nsswitch.conf, an empty /tmp, and
#                                        the shared libraries PROGRAM... load
#   rootfs.sh add DEST BASE FILE...      FILE... at their own paths, plus the
#                                        shared libraries they load that BASE lacks
#
# Libraries are copied to the path the dynamic loader looks them up by (their
# soname path, symlinks resolved), so the trees are the same on any Debian
# bookworm image whatever the libraries' patch versions.
set -eu

# The shared libraries FILE needs, one absolute path per line (none for a
# file that is not a dynamic ELF program, such as a certificate bundle).
libraries() {
    ldd "$1" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' || true
}

# copy FILE DEST: FILE at the same path under DEST, symlinks resolved.
copy() {
    mkdir -p "$2$(dirname "$1")"
    cp -L "$1" "$2$1"
}

mode=$1 dest=$2
shift 2
case "$mode" in
    base)
        mkdir -p "$dest/etc" "$dest/tmp"
        chmod 1777 "$dest/tmp"
        printf 'root:x:0:0:root:/root:/sbin/nologin\nbookinfo:x:1000:1000:bookinfo:/tmp:/sbin/nologin\n' >"$dest/etc/passwd"
        printf 'root:x:0:\nbookinfo:x:1000:\n' >"$dest/etc/group"
        # glibc's default order is dns first; containers expect /etc/hosts first.
        printf 'hosts: files dns\n' >"$dest/etc/nsswitch.conf"
        for program in "$@"; do
            for lib in $(libraries "$program"); do copy "$lib" "$dest"; done
        done
        ;;
    add)
        base=$1
        shift
        for file in "$@"; do
            copy "$file" "$dest"
            for lib in $(libraries "$file"); do
                [ -e "$base$lib" ] || copy "$lib" "$dest"
            done
        done
        ;;
    *)
        echo "usage: rootfs.sh base DEST PROGRAM... | rootfs.sh add DEST BASE FILE..." >&2
        exit 2
        ;;
esac

# Stand-in for rust:1.95-slim-bookworm (see docker/standins.sh): the Debian
# stand-in with what the public image adds for building (gcc, libc6-dev,
# ca-certificates) and a Rust 1.95 toolchain in the same places and with the
# same environment (RUSTUP_HOME, CARGO_HOME, PATH). The local certificate
# authorities of the machine that makes it (/usr/local/share/ca-certificates)
# are trusted too, as they are there: cargo reaches crates.io through them
# where an intercepting proxy is in the way.
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY local-ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null
ENV RUSTUP_HOME=/usr/local/rustup \
    CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    RUST_VERSION=1.95.0
COPY toolchain/ /usr/local/rustup/toolchains/1.95.0-x86_64-unknown-linux-gnu/
RUN mkdir -p /usr/local/cargo/bin \
 && for tool in cargo rustc rustdoc; do \
        ln -s /usr/local/rustup/toolchains/1.95.0-x86_64-unknown-linux-gnu/bin/$tool /usr/local/cargo/bin/$tool; \
    done \
 && cargo --version && rustc --version

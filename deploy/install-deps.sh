#!/bin/sh
# Installs, with apt, the Debian packages Tollgate needs to build, test and run.
# Idempotent: installs only what is missing and says what it installs.
set -eu

PKGS="
build-essential pkg-config clang libclang-rt-14-dev ca-certificates curl openssl
libmicrohttpd-dev libgnutls28-dev libpq-dev libprotobuf-c-dev protobuf-c-compiler
libgrpc-dev libssl-dev libev-dev libhiredis-dev libyaml-dev libjansson-dev
libpcre2-dev zlib1g-dev libcmocka-dev libc-ares-dev
postgresql redis-server python3 python3-pytest python3-requests python3-jwt python3-cryptography
wrk nginx
"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi

echo "install-deps: missing:$missing"
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: not root: run 'sudo deploy/install-deps.sh' to install:$missing" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
echo "install-deps: installed:$missing"

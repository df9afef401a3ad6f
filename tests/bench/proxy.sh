#!/bin/sh
# Proxy benchmarks (issue #3): the gateway on 1 worker against nginx proxy_pass with
# keep-alive (../shared/bench/compare.sh, same machine, same run), with 1 route and with
# 10,000 routes; idle RSS; 10,000 routes compiled (time and memory).
set -eu
build=${1:-build}
compare=${COMPARE:-../shared/bench/compare.sh}
tmp=$(mktemp -d)
gwpid=
cleanup() { [ -n "$gwpid" ] && kill "$gwpid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

bench_config() { # $1: extra routes
    printf '_format_version: "3.0"\nservices:\n  - name: bench\n    url: http://127.0.0.1:18080\n'
    printf '    routes:\n      - name: bench\n        paths: [/bench]\n        strip_path: false\n'
    i=0
    while [ "$i" -lt "$1" ]; do
        printf '  - {name: s%d, url: "http://127.0.0.1:18080/", routes: [{paths: [/r%d/x], hosts: [h%d.test]}]}\n' "$i" "$i" "$((i % 100))"
        i=$((i + 1))
    done
}

start_gw() {
    "$build/tollgate-dp" --declarative-config "$1" --proxy-listen 127.0.0.1:8000 \
        --status-listen 127.0.0.1:8100 --workers 1 >"$tmp/gw.log" 2>&1 &
    gwpid=$!
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        curl -sf http://127.0.0.1:8100/status >/dev/null 2>&1 && return 0
        sleep 0.3
    done
    cat "$tmp/gw.log"; exit 1
}

bench_config 0 >"$tmp/one.yml"
start_gw "$tmp/one.yml"
sleep 1
echo "idle_rss_kib=$(awk '/VmRSS/ {print $2}' /proc/$gwpid/status)"
echo "== 1 route"
"$compare" --gateway-url http://127.0.0.1:8000/bench --gateway-pid "$gwpid" \
    --duration "${DURATION:-10}" --rounds "${ROUNDS:-3}" | tail -4
kill "$gwpid"; wait "$gwpid" 2>/dev/null || true; gwpid=

bench_config 9999 >"$tmp/many.yml"
start_gw "$tmp/many.yml"
echo "== 10,000 routes"
"$compare" --gateway-url http://127.0.0.1:8000/bench --gateway-pid "$gwpid" \
    --duration "${DURATION:-10}" --rounds "${ROUNDS:-3}" | tail -4
kill "$gwpid"; wait "$gwpid" 2>/dev/null || true; gwpid=

"$build/tollgate-bench-snapshot" 10000

#!/bin/sh
# Control-plane benchmarks (issue #5), against a PostgreSQL with default durability (fsync and
# synchronous_commit on) started in a temp dir:
#   - entity creates per second (POST /services) from 1 client and from 16 concurrent clients
#   - GET /routes?size=1000 with 100,000 routes stored (latency of one page)
#   - POST /config with 10,000 routes (each with its own service), whole import time
# Every load loop is bounded in time (wrk -d).
set -eu
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
pgbin=${TOLLGATE_PGBIN:-/usr/lib/postgresql/15/bin}
tmp=$(mktemp -d)
cppid=
as_pg=
if [ "$(id -u)" = 0 ]; then chown postgres: "$tmp"; as_pg="runuser -u postgres --"; fi
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pgport=$(free_port)
adminport=$(free_port)
cleanup() {
    [ -n "$cppid" ] && kill "$cppid" 2>/dev/null
    $as_pg "$pgbin/pg_ctl" -D "$tmp/pg" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

$as_pg "$pgbin/initdb" -D "$tmp/pg" -U gateway --auth=trust -E UTF8 --no-locale >/dev/null
$as_pg "$pgbin/pg_ctl" -D "$tmp/pg" -l "$tmp/pg.log" -w \
    -o "-p $pgport -k $tmp -c listen_addresses=127.0.0.1 -c max_connections=50" start >/dev/null
dsn="host=127.0.0.1 port=$pgport dbname=postgres user=gateway"
"$build/tollgate-cp" migrations bootstrap --pg-dsn "$dsn" >/dev/null
"$build/tollgate-cp" --pg-dsn "$dsn" --admin-listen "127.0.0.1:$adminport" 2>"$tmp/cp.log" &
cppid=$!
url="http://127.0.0.1:$adminport"
i=0
until curl -s -o /dev/null "$url/"; do i=$((i + 1)); [ $i -lt 100 ] || exit 1; sleep 0.1; done

rps() { awk '/Requests\/sec/ {print $2}'; }
non2xx() { awk '/Non-2xx/ {print $5}'; }

echo "== Admin API: creates per second (POST /services, 8 s each)"
out=$(wrk -t1 -c1 -d8s -s "$here/admin_create.lua" "$url")
echo "creates_per_s_1_client=$(echo "$out" | rps) non_2xx=$(echo "$out" | non2xx)"
out=$(wrk -t2 -c16 -d8s -s "$here/admin_create.lua" "$url")
echo "creates_per_s_16_clients=$(echo "$out" | rps) non_2xx=$(echo "$out" | non2xx)"
echo "$out" | grep -A4 "Latency Distribution" || true

gen() { # $1 routes, $2 services (routes spread over them)
    /usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
n, s = int(sys.argv[1]), int(sys.argv[2])
services = [{"name": f"svc{i}", "url": f"http://127.0.0.1:{10000 + i % 50000}/s{i}", "routes": []}
            for i in range(s)]
for i in range(n):
    services[i % s]["routes"].append({"name": f"r{i}", "paths": [f"/r{i}"],
                                      "methods": ["GET"], "tags": ["bench"]})
print(json.dumps({"_format_version": "3.0", "services": services}))
PY
}

echo "== POST /config with 10,000 routes (10,000 services), 3 runs"
gen 10000 10000 >"$tmp/10k.json"
for run in 1 2 3; do
    t=$(curl -s -o "$tmp/out" -w '%{http_code} %{time_total}' -XPOST "$url/config" \
        -H 'Content-Type: application/json' --data-binary @"$tmp/10k.json")
    echo "import_10k_routes run=$run status_and_seconds=$t"
done

echo "== GET /routes?size=1000 with 100,000 routes stored"
gen 100000 1000 >"$tmp/100k.json"
t=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -XPOST "$url/config" \
    -H 'Content-Type: application/json' --data-binary @"$tmp/100k.json")
echo "import_100k_routes status_and_seconds=$t"
curl -s "$url/routes?size=1000" >/dev/null # warm
for run in 1 2 3; do
    curl -s -o /dev/null -w "page_first status_and_seconds=%{http_code} %{time_total}\n" \
        "$url/routes?size=1000"
done
off=$(curl -s "$url/routes?size=1000" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["offset"])')
curl -s -o /dev/null -w "page_second status_and_seconds=%{http_code} %{time_total}\n" \
    "$url/routes?size=1000&offset=$off"
out=$(wrk -t1 -c1 -d5s --latency "$url/routes?size=1000")
echo "page_1000_routes_per_s=$(echo "$out" | rps)"
echo "$out" | grep -A4 "Latency Distribution" || true

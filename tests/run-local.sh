#!/bin/sh
# `make run`: a local cluster on this machine with examples/kong.yml:
#   - PostgreSQL in a temp dir (as the postgres user when run as root), loopback only
#   - the control plane: schema bootstrapped, Admin API on 127.0.0.1:8001, loaded with the
#     example through POST /config
#   - a data plane on 8000/8443 serving the same example (standalone from the file until the
#     cluster protocol lands), in front of a small sample upstream on 127.0.0.1:18080
# Ctrl-C stops everything it started.
set -eu
build=${1:-build}
cfg=examples/kong.yml
pgbin=${TOLLGATE_PGBIN:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}
[ -x "$pgbin/initdb" ] || pgbin=/usr/lib/postgresql/15/bin
"$build/tollgate-dp" --check "$cfg" >/dev/null

tmp=$(mktemp -d)
as_pg=
if [ "$(id -u)" = 0 ]; then chown postgres: "$tmp"; as_pg="runuser -u postgres --"; fi
up= cp=
cleanup() {
    [ -n "$cp" ] && kill "$cp" 2>/dev/null
    [ -n "$up" ] && kill "$up" 2>/dev/null
    $as_pg "$pgbin/pg_ctl" -D "$tmp/pg" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

pgport=${TOLLGATE_RUN_PG_PORT:-15432}
$as_pg "$pgbin/initdb" -D "$tmp/pg" -U tollgate --auth=trust -E UTF8 --no-locale >/dev/null
$as_pg "$pgbin/pg_ctl" -D "$tmp/pg" -l "$tmp/pg.log" -w \
    -o "-p $pgport -k $tmp -c listen_addresses=127.0.0.1" start >/dev/null
dsn="host=127.0.0.1 port=$pgport dbname=postgres user=tollgate"
"$build/tollgate-cp" migrations bootstrap --pg-dsn "$dsn" >/dev/null
"$build/tollgate-cp" --pg-dsn "$dsn" --admin-listen 127.0.0.1:8001 &
cp=$!
i=0
until curl -s -o /dev/null http://127.0.0.1:8001/; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "control plane did not start" >&2; exit 1; }
    sleep 0.1
done
curl -s -o /dev/null -XPOST http://127.0.0.1:8001/config -H 'Content-Type: application/yaml' \
    --data-binary @"$cfg"

site=$tmp/site
mkdir -p "$site/api"
printf 'hello from the sample upstream behind tollgate\n' >"$site/index.html"
printf 'orders api\n' >"$site/api/index.html"
/usr/bin/python3 -m http.server 18080 --bind 127.0.0.1 --directory "$site" >/dev/null 2>&1 &
up=$!

cat <<MSG
== tollgate: started
   PostgreSQL           $dsn
   Admin API            http://127.0.0.1:8001/     try: curl -s http://127.0.0.1:8001/services
   proxy (HTTP)         http://127.0.0.1:8000/     try: curl -i http://127.0.0.1:8000/echo
   proxy (HTTPS)        https://127.0.0.1:8443/    (self-signed default certificate: curl -k)
   status               http://127.0.0.1:8100/status
   sample upstream      http://127.0.0.1:18080/
   config               $cfg  (loaded into the control plane with POST /config; the data
                        plane reads the file: edit it, then kill -HUP <tollgate-dp pid>)
   Ctrl-C stops everything.
MSG
"$build/tollgate-dp" --declarative-config "$cfg" --proxy-listen 127.0.0.1:8000 \
    --proxy-ssl-listen 127.0.0.1:8443 --status-listen 127.0.0.1:8100 --workers 2

#!/bin/sh
# `make run`: a local standalone data plane with examples/kong.yml, in front of a small
# sample upstream on 127.0.0.1:18080. Ctrl-C stops both. (The control plane comes with
# issue #5; plugins in the example are validated but not enforced until issue #4.)
set -eu
build=${1:-build}
cfg=examples/kong.yml
"$build/tollgate-dp" --check "$cfg" >/dev/null

site=$(mktemp -d)
printf 'hello from the sample upstream behind tollgate\n' >"$site/index.html"
mkdir -p "$site/api" && printf 'orders api\n' >"$site/api/index.html"
/usr/bin/python3 -m http.server 18080 --bind 127.0.0.1 --directory "$site" >/dev/null 2>&1 &
up=$!
trap 'kill $up 2>/dev/null; rm -rf "$site"' EXIT INT TERM

cat <<MSG
== tollgate: started
   sample upstream      http://127.0.0.1:18080/   (python3 http.server, pid $up)
   proxy (HTTP)         http://127.0.0.1:8000/    try: curl -i http://127.0.0.1:8000/echo
   proxy (HTTPS)        https://127.0.0.1:8443/   (self-signed default certificate: curl -k)
   status               http://127.0.0.1:8100/status
   config               $cfg  (edit it, then: kill -HUP <tollgate-dp pid>)
   Ctrl-C stops everything.
MSG
"$build/tollgate-dp" --declarative-config "$cfg" --proxy-listen 127.0.0.1:8000 \
    --proxy-ssl-listen 127.0.0.1:8443 --status-listen 127.0.0.1:8100 --workers 2

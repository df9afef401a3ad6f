#!/bin/sh
# Plugin benchmarks (issue #4): the gateway on 1 worker with key-auth + acl + cors on the
# route, then with jwt (RS256), against nginx proxy_pass in the same run (compare.sh).
set -eu
build=${1:-build}
compare=${COMPARE:-../shared/bench/compare.sh}
tmp=$(mktemp -d)
gwpid=
cleanup() { [ -n "$gwpid" ] && kill "$gwpid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/jwt.key" 2>/dev/null
openssl pkey -in "$tmp/jwt.key" -pubout -out "$tmp/jwt.pub"
hdr=$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)
pay=$(printf '{"iss":"bench-iss"}' | b64url)
sig=$(printf '%s.%s' "$hdr" "$pay" | openssl dgst -sha256 -sign "$tmp/jwt.key" | b64url)
token="$hdr.$pay.$sig"
pub=$(sed 's/^/          /' "$tmp/jwt.pub")

cat >"$tmp/plugins.yml" <<YML
_format_version: "3.0"
consumers:
  - username: bench
    keyauth_credentials: [{key: bench-key}]
    acls: [{group: gold}]
    jwt_secrets:
      - key: bench-iss
        algorithm: RS256
        rsa_public_key: |
$pub
services:
  - name: bench
    url: http://127.0.0.1:18080
    routes:
      - name: keyed
        paths: [/bench]
        strip_path: false
        plugins:
          - name: key-auth
          - name: acl
            config: {allow: [gold]}
          - name: cors
      - name: jwt
        paths: [/jwt]
        plugins:
          - name: jwt
YML

"$build/tollgate-dp" --declarative-config "$tmp/plugins.yml" --proxy-listen 127.0.0.1:8000 \
    --status-listen 127.0.0.1:8100 --workers 1 >"$tmp/gw.log" 2>&1 &
gwpid=$!
sleep 1
echo "== key-auth + acl + cors"
"$compare" --gateway-url http://127.0.0.1:8000/bench --header 'apikey: bench-key' \
    --gateway-pid "$gwpid" --duration "${DURATION:-10}" --rounds "${ROUNDS:-3}" | tail -4
echo "== jwt RS256"
"$compare" --gateway-url http://127.0.0.1:8000/jwt --header "Authorization: Bearer $token" \
    --gateway-pid "$gwpid" --duration "${DURATION:-10}" --rounds "${ROUNDS:-3}" | tail -4

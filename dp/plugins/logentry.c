/* Kong's log entry (kong/pdk/log.lua serialize) from what the proxy knows at the end of a
 * request: the client's head with the plugins' request header edits applied (Kong's
 * kong.service.request.set_header edits the request nginx logs), the response head as sent,
 * the log summary (sizes, latencies, upstream) and the matched entities. Header names are
 * lower-cased and repeated headers become arrays, as ngx.req.get_headers() gives them. */
#include "logentry.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/ssl.h>

#include "canon.h"
#include "snapshot.h"

static json_t *
jstr(struct gw_str s)
{
    return json_stringn(s.p ? s.p : "", s.p ? s.n : 0);
}

/* name lower-cased into buf (names longer than buf are cut; headers that long are refused by
 * the parser long before) */
static const char *
lower(struct gw_str name, char *buf, size_t cap)
{
    size_t n = name.n < cap - 1 ? name.n : cap - 1;

    for (size_t i = 0; i < n; i++) {
        buf[i] = (char)tolower((unsigned char)name.p[i]);
    }
    buf[n] = '\0';
    return buf;
}

/* Adds a value under name: a string, or an array once repeated. */
static void
add_value(json_t *obj, const char *name, json_t *v)
{
    json_t *cur = json_object_get(obj, name);

    if (v == NULL) {
        return;
    }
    if (cur == NULL) {
        json_object_set_new(obj, name, v);
    } else if (json_is_array(cur)) {
        json_array_append_new(cur, v);
    } else {
        json_t *arr = json_array();
        json_array_append(arr, cur);
        json_array_append_new(arr, v);
        json_object_set_new(obj, name, arr);
    }
}

static json_t *
headers(const struct gw_http_head *h, const struct gw_header_edit *edits, unsigned nedits)
{
    json_t *o = json_object();
    char name[256];

    for (unsigned i = 0; h && o && i < h->nheaders; i++) {
        add_value(o, lower(h->headers[i].name, name, sizeof name), jstr(h->headers[i].value));
    }
    for (unsigned i = 0; o && i < nedits; i++) {
        lower(edits[i].name, name, sizeof name);
        if (!edits[i].append) {
            json_object_del(o, name);
        }
        if (!edits[i].remove) {
            add_value(o, name, jstr(edits[i].value));
        }
    }
    /* kong/pdk/log.lua: credentials never reach a log */
    if (o && json_object_get(o, "authorization")) {
        json_object_set_new(o, "authorization", json_string("REDACTED"));
    }
    if (o && json_object_get(o, "proxy-authorization")) {
        json_object_set_new(o, "proxy-authorization", json_string("REDACTED"));
    }
    return o;
}

static int
hexval(char ch)
{
    return isdigit((unsigned char)ch) ? ch - '0' : (tolower((unsigned char)ch) - 'a' + 10);
}

/* ngx.decode_args: '+' is a space, %XX decoded, a key without '=' is true; 100 arguments */
static json_t *
querystring(struct gw_str q)
{
    json_t *o = json_object();
    char buf[1024];
    unsigned count = 0;

    for (size_t i = 0; o && q.p && i < q.n && count < 100;) {
        size_t st = i;
        while (i < q.n && q.p[i] != '&') {
            i++;
        }
        size_t end = i++, eq = st;
        while (eq < end && q.p[eq] != '=') {
            eq++;
        }
        if (eq == st) {
            continue; /* no key */
        }
        char *parts[2] = {NULL, NULL};
        size_t o2 = 0;
        for (int k = 0; k < 2; k++) {
            size_t a = k ? eq + 1 : st, b = k ? end : eq;
            if (k && eq == end) {
                break;
            }
            parts[k] = buf + o2;
            for (size_t j = a; j < b && o2 < sizeof buf - 2; j++) {
                char ch = q.p[j];
                if (ch == '+') {
                    ch = ' ';
                } else if (ch == '%' && j + 2 < b && isxdigit((unsigned char)q.p[j + 1]) &&
                           isxdigit((unsigned char)q.p[j + 2])) {
                    ch = (char)(hexval(q.p[j + 1]) << 4 | hexval(q.p[j + 2]));
                    j += 2;
                }
                buf[o2++] = ch;
            }
            buf[o2++] = '\0';
        }
        count++;
        add_value(o, parts[0], parts[1] ? json_string(parts[1]) : json_true());
    }
    return o;
}

/* The credential's id: its entity type is the set it belongs to. */
static const char *
credential_id(const struct gw_config *cfg, const struct gw_val *cred)
{
    static const enum gw_entity_type types[] = {GW_ENT_KEYAUTH_CREDENTIALS,
                                                GW_ENT_BASICAUTH_CREDENTIALS, GW_ENT_JWT_SECRETS,
                                                GW_ENT_HMACAUTH_CREDENTIALS};

    for (size_t i = 0; cred && i < sizeof types / sizeof types[0]; i++) {
        const struct gw_entset *set = &cfg->sets[types[i]];
        if (set->n && cred >= set->recs && cred < set->recs + set->n) {
            return gw_config_id(types[i], cred);
        }
    }
    return NULL;
}

static json_t *
entity(const struct gw_config *cfg, enum gw_entity_type t, const char *id)
{
    const struct gw_val *rec = id ? gw_config_find(cfg, t, id) : NULL;

    return rec ? gw_rec_to_json(gw_entities[t].schema, rec) : NULL;
}

static json_t *
request(const struct gw_pctx *ctx, const struct gw_log_info *li)
{
    const struct gw_http_head *h = ctx->h;
    char host[300];
    json_t *req = json_object();
    size_t hn = 0;

    for (; h->host.p && hn < h->host.n && hn < sizeof host - 1 && h->host.p[hn] != ':'; hn++) {
        host[hn] = (char)tolower((unsigned char)h->host.p[hn]);
    }
    host[hn] = '\0';
    if (h->host.p && h->host.n && h->host.p[0] == '[') {
        /* an IPv6 literal keeps its brackets (nginx's $host) */
        const char *e = memchr(h->host.p, ']', h->host.n);
        hn = e ? (size_t)(e + 1 - h->host.p) : h->host.n;
        hn = hn < sizeof host - 1 ? hn : sizeof host - 1;
        memcpy(host, h->host.p, hn);
        host[hn] = '\0';
    }
    size_t ulen = hn + h->target.n + 32;
    char *url = gw_arena_alloc(ctx->arena, ulen);
    if (url) {
        int n =
            snprintf(url, ulen, "%s://%s:%d", ctx->https ? "https" : "http", host, li->server_port);
        if (n > 0 && (size_t)n + h->target.n < ulen) {
            memcpy(url + n, h->target.p, h->target.n);
            url[(size_t)n + h->target.n] = '\0';
        }
    }
    json_object_set_new(req, "id", json_string(li->request_id));
    json_object_set_new(req, "uri", jstr(h->target));
    json_object_set_new(req, "url", json_string(url ? url : ""));
    json_object_set_new(req, "querystring", querystring(h->query));
    json_object_set_new(req, "method", jstr(h->method));
    json_object_set_new(req, "headers", headers(h, ctx->req_edits, ctx->nreq_edits));
    json_object_set_new(req, "size", json_integer((json_int_t)li->request_bytes));
    if (ctx->ssl) {
        json_t *tls = json_pack("{s:s, s:s}", "version", SSL_get_version(ctx->ssl), "cipher",
                                SSL_get_cipher_name(ctx->ssl));
        /* nginx's $ssl_client_verify; with a certificate, mtls-auth decides in access */
        if (tls && SSL_get0_peer_certificate(ctx->ssl) == NULL) {
            json_object_set_new(tls, "client_verify", json_string("NONE"));
        }
        json_object_set_new(req, "tls", tls);
    }
    return req;
}

static json_t *
response(const struct gw_pctx *ctx, const struct gw_log_info *li)
{
    json_t *resp = json_object();
    struct gw_http_head *rh = NULL;

    json_object_set_new(resp, "status", json_integer(li->status));
    if (li->response_head.n && (rh = gw_arena_alloc(ctx->arena, sizeof *rh)) != NULL &&
        gw_http1_parse_response(li->response_head.p, li->response_head.n, NULL, rh) > 0) {
        json_object_set_new(resp, "headers", headers(rh, NULL, 0));
    } else {
        json_object_set_new(resp, "headers", json_object());
    }
    json_object_set_new(resp, "size", json_integer((json_int_t)li->response_bytes));
    return resp;
}

json_t *
gw_logentry_json(const struct gw_pctx *ctx)
{
    const struct gw_log_info *li = ctx->log;
    const struct gw_config *cfg = ctx->snap->cfg;
    json_t *e = json_object(), *v;
    char status[16];

    if (e == NULL || li == NULL) {
        json_decref(e);
        return NULL;
    }
    json_object_set_new(e, "request", request(ctx, li));
    json_object_set_new(e, "upstream_uri", jstr(li->upstream_uri));
    snprintf(status, sizeof status, "%d", li->upstream_status);
    json_object_set_new(e, "upstream_status", json_string(li->upstream_status ? status : ""));
    json_object_set_new(e, "response", response(ctx, li));
    json_object_set_new(e, "latencies",
                        json_pack("{s:I, s:I, s:I, s:I}", "kong", (json_int_t)li->kong_ms, "proxy",
                                  (json_int_t)li->proxy_ms, "request", (json_int_t)li->request_ms,
                                  "receive", (json_int_t)li->receive_ms));
    if (li->upstream_ip) {
        json_object_set_new(e, "tries",
                            json_pack("[{s:s, s:i, s:i}]", "ip", li->upstream_ip, "port",
                                      li->upstream_port, "balancer_latency", 0));
    }
    if (ctx->consumer) {
        const char *cid = gw_config_id(GW_ENT_CONSUMERS, ctx->consumer);
        const char *crid = credential_id(cfg, ctx->credential);
        if (crid && cid) {
            json_object_set_new(e, "authenticated_entity",
                                json_pack("{s:s, s:s}", "id", crid, "consumer_id", cid));
        }
        v = gw_rec_to_json(gw_entities[GW_ENT_CONSUMERS].schema, ctx->consumer);
        if (v) {
            json_object_set_new(e, "consumer", v);
        }
    }
    if ((v = entity(cfg, GW_ENT_ROUTES, ctx->route_id)) != NULL) {
        json_object_set_new(e, "route", v);
    }
    if ((v = entity(cfg, GW_ENT_SERVICES, ctx->service_id)) != NULL) {
        json_object_set_new(e, "service", v);
    }
    json_object_set_new(e, "client_ip", json_string(ctx->peer_ip ? ctx->peer_ip : ""));
    json_object_set_new(e, "started_at", json_integer((json_int_t)(li->started_at * 1000.0)));
    json_object_set_new(e, "source", json_string(li->proxied ? "upstream" : "kong"));
    return e;
}

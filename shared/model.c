/* Entity schemas: the fields, defaults and rules of the entity schema files under kong/db/schema/entities and the
 * plugin DAOs, with Kong's error messages. Entity checks that Kong expresses as
 * "conditional" or subschema rules are written out as C here. */
#include "model.h"
#include "str.h"

#include <openssl/evp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "parse.h"
#include "pem.h"
#include "plugin_schema.h"

static const char *const protocols[] = {"grpc", "grpcs", "http", "https", "tcp",
                                        "tls",  "tls_passthrough", "udp", NULL};

static const struct gw_field uuid_elem = {.type = GW_T_STRING, .check = gw_check_uuid};
static const struct gw_field protocol_elem = {.type = GW_T_STRING, .one_of = protocols};

#define ID_FIELD {.name = "id", .type = GW_T_STRING, .flags = GW_F_AUTO, .check = gw_check_uuid}
#define CREATED_AT {.name = "created_at", .type = GW_T_INTEGER, .flags = GW_F_AUTO}
#define UPDATED_AT {.name = "updated_at", .type = GW_T_INTEGER, .flags = GW_F_AUTO}
#define TAGS_FIELD {.name = "tags", .type = GW_T_SET, .elem = &gw_elem_tag}
#define TIMEOUT_FIELD(n)                                                                        \
    {.name = n, .type = GW_T_INTEGER, .dflt = "60000", .flags = GW_F_BETWEEN, .min = 1,        \
     .max = 2147483646}

static int
has_str(const struct gw_val *set, const char *s)
{
    if (set == NULL || set->type != GW_V_ARR) {
        return 0;
    }
    for (uint32_t i = 0; i < set->n; i++) {
        if (set->u.items[i].type == GW_V_STR && strcmp(set->u.items[i].u.s, s) == 0) {
            return 1;
        }
    }
    return 0;
}

static int
set_nonempty(const struct gw_val *v)
{
    return v && !gw_val_is_null(v) && (v->type != GW_V_ARR && v->type != GW_V_OBJ ? 1 : v->n > 0);
}

static int
str_is(const struct gw_val *v, const char *s)
{
    return v && v->type == GW_V_STR && strcmp(v->u.s, s) == 0;
}

/* ------------------------------------------------------------------ services */

/* The url shorthand: scheme://host[:port][/path] replaces protocol, host, port and path. */
static const struct gw_val *
service_shorthand(struct gw_vctx *ctx, const struct gw_val *in)
{
    const struct gw_val *url = gw_val_get(in, "url");
    struct gw_val *out;
    const char *s, *rest, *sep;
    char *proto = NULL, *host = NULL, *path = NULL;
    long port = -1;
    uint32_t n = 0;

    struct gw_arena *a = ctx->scratch ? ctx->scratch : ctx->arena;

    if (url == NULL) {
        return in;
    }
    if (url->type == GW_V_NULL) {
        url = NULL;
    } else if (url->type != GW_V_STR) {
        gw_vctx_field_err(ctx, "url", "expected a string");
        return NULL;
    }
    out = gw_arena_calloc(a, sizeof *out);
    if (out == NULL) {
        return NULL;
    }
    out->type = GW_V_OBJ;
    out->u.kv = gw_arena_calloc(a, sizeof(struct gw_kv) * (in->n + 4));
    if (out->u.kv == NULL) {
        return NULL;
    }
    for (uint32_t i = 0; i < in->n; i++) {
        const char *k = in->u.kv[i].key;
        if (strcmp(k, "url") && strcmp(k, "protocol") && strcmp(k, "host") && strcmp(k, "port") &&
            strcmp(k, "path")) {
            out->u.kv[n++] = in->u.kv[i];
        }
    }
    if (url) {
        s = url->u.s;
        sep = strstr(s, "://");
        if (sep) {
            proto = gw_arena_strndup(a, s, (size_t)(sep - s));
            rest = sep + 3;
            size_t alen = strcspn(rest, "/?#");
            const char *colon = memchr(rest, ':', alen);
            if (rest[0] == '[') {
                const char *end = memchr(rest, ']', alen);
                colon = end && end + 1 < rest + alen && end[1] == ':' ? end + 1 : NULL;
            }
            size_t hlen = colon ? (size_t)(colon - rest) : alen;
            if (hlen) {
                host = gw_arena_strndup(a, rest, hlen);
                if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
                    host[hlen - 1] = '\0';
                    host++;
                }
            }
            if (colon) {
                char *end;
                port = strtol(colon + 1, &end, 10);
                if (end != rest + alen || colon + 1 == end) {
                    port = -2;
                }
            }
            rest += alen;
            if (*rest == '/') {
                path = gw_arena_strndup(a, rest, strcspn(rest, "?#"));
            }
        } else {
            path = gw_arena_strndup(a, s, url->n);
        }
    }
    if (proto) {
        struct gw_kv *kv = &out->u.kv[n++];
        kv->key = "protocol", kv->klen = 8;
        gw_val_str(&kv->val, proto, strlen(proto));
    }
    if (host) {
        struct gw_kv *kv = &out->u.kv[n++];
        kv->key = "host", kv->klen = 4;
        gw_val_str(&kv->val, host, strlen(host));
    }
    {
        struct gw_kv *kv = &out->u.kv[n++];
        kv->key = "port", kv->klen = 4;
        kv->val.type = GW_V_INT;
        kv->val.u.i = port >= 0 ? port : port == -2 ? -1 : (proto && !strcmp(proto, "https")) ? 443 : 80;
    }
    if (path) {
        struct gw_kv *kv = &out->u.kv[n++];
        kv->key = "path", kv->klen = 4;
        gw_val_str(&kv->val, path, strlen(path));
    }
    out->n = n;
    return out;
}

static void
service_check(struct gw_vctx *ctx, const struct gw_record *r, struct gw_val *rec)
{
    const struct gw_val *proto = gw_rec_get(r, rec, "protocol");
    static const char *const tls_only[] = {"client_certificate", "tls_verify", "tls_verify_depth",
                                           "ca_certificates", NULL};
    int is_tls = str_is(proto, "https") || str_is(proto, "tls");
    int no_path = str_is(proto, "tcp") || str_is(proto, "tls") || str_is(proto, "udp") ||
                  str_is(proto, "grpc") || str_is(proto, "grpcs");

    if (no_path && !gw_val_is_null(gw_rec_get(r, rec, "path"))) {
        gw_echeck_conditional_fail(ctx, "protocol", "path", "value must be null");
    }
    for (const char *const *f = tls_only; *f && !is_tls; f++) {
        if (!gw_val_is_null(gw_rec_get(r, rec, *f))) {
            gw_echeck_conditional_fail(ctx, "protocol", *f, "value must be null");
        }
    }
}

static struct gw_field service_fields[] = {
    ID_FIELD,
    CREATED_AT,
    UPDATED_AT,
    {.name = "name", .type = GW_T_STRING, .flags = GW_F_UNIQUE, .check = gw_check_utf8_name},
    {.name = "retries", .type = GW_T_INTEGER, .dflt = "5", .flags = GW_F_BETWEEN, .min = 0,
     .max = 32767},
    {.name = "protocol", .type = GW_T_STRING, .flags = GW_F_REQUIRED, .dflt = "\"http\"",
     .one_of = protocols},
    {.name = "host", .type = GW_T_STRING, .flags = GW_F_REQUIRED, .check = gw_check_host},
    {.name = "port", .type = GW_T_INTEGER, .flags = GW_F_REQUIRED | GW_F_BETWEEN, .dflt = "80",
     .min = 0, .max = 65535},
    {.name = "path", .type = GW_T_STRING, .check = gw_check_path},
    TIMEOUT_FIELD("connect_timeout"),
    TIMEOUT_FIELD("write_timeout"),
    TIMEOUT_FIELD("read_timeout"),
    TAGS_FIELD,
    {.name = "client_certificate", .type = GW_T_FOREIGN, .ref = "certificates"},
    {.name = "tls_verify", .type = GW_T_BOOLEAN},
    {.name = "tls_verify_depth", .type = GW_T_INTEGER, .flags = GW_F_BETWEEN, .min = 0, .max = 64},
    {.name = "ca_certificates", .type = GW_T_ARRAY, .elem = &uuid_elem},
    {.name = "enabled", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "true"},
    {.name = NULL},
};

static struct gw_record service_schema = {
    .name = "services", .fields = service_fields, .check = service_check,
    .shorthand = service_shorthand};

/* ------------------------------------------------------------------ routes */

static int
is_hex(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int
hexval(int c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

static int
unreserved(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

size_t
gw_path_normalize(const char *in, size_t n, char *out)
{
    size_t o = 0;

    /* pass 1: percent-decoding of unreserved characters, upper-case hex for the rest */
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '%' && i + 2 < n + 0 && is_hex(in[i + 1]) && is_hex(in[i + 2])) {
            int c = hexval(in[i + 1]) * 16 + hexval(in[i + 2]);
            if (unreserved(c)) {
                out[o++] = (char)c;
            } else {
                out[o++] = '%';
                out[o++] = (char)(in[i + 1] >= 'a' ? in[i + 1] - 32 : in[i + 1]);
                out[o++] = (char)(in[i + 2] >= 'a' ? in[i + 2] - 32 : in[i + 2]);
            }
            i += 2;
        } else {
            out[o++] = in[i];
        }
    }
    /* pass 2: RFC 3986 5.2.4 remove_dot_segments, in place */
    size_t r = 0, w = 0;
    while (r < o) {
        if (out[r] == '/' && r + 1 < o && out[r + 1] == '.' && (r + 2 == o || out[r + 2] == '/')) {
            r += 2; /* "/./" or "/." at the end -> "/" */
            if (r == o) {
                out[w++] = '/';
            }
            continue;
        }
        if (out[r] == '/' && r + 2 < o + 0 && out[r + 1] == '.' && out[r + 2] == '.' &&
            (r + 3 == o || out[r + 3] == '/')) {
            r += 3;
            while (w > 0 && out[w - 1] != '/') {
                w--;
            }
            if (w > 0) {
                w--; /* drop the slash of the removed segment too */
                while (w > 0 && out[w - 1] != '/') {
                    w--;
                }
                if (w > 0) {
                    w--;
                }
            }
            if (r == o) {
                out[w++] = '/';
            }
            continue;
        }
        out[w++] = out[r++];
        /* copy the rest of the segment */
        while (r < o && out[r] != '/') {
            out[w++] = out[r++];
        }
    }
    return w;
}

static const char *
check_route_path(const struct gw_val *v, char *buf, size_t len)
{
    const char *s = v->u.s;

    if (s[0] == '~') {
        if (s[1] != '/') {
            return "should start with: / (fixed path) or ~/ (regex path)";
        }
        struct gw_val re;
        gw_val_str(&re, s + 1, v->n - 1);
        return gw_check_regex(&re, buf, len);
    }
    if (s[0] != '/') {
        return "should start with: / (fixed path) or ~/ (regex path)";
    }
    const char *e = gw_check_path(v, buf, len);
    if (e) {
        return e;
    }
    char norm[1024];
    if (v->n < sizeof norm) {
        size_t nl = gw_path_normalize(s, v->n, norm);
        if (nl != v->n || memcmp(norm, s, nl) != 0) {
            snprintf(buf, len, "non-normalized path, consider use '%.*s' instead", (int)nl, norm);
            return buf;
        }
    }
    return NULL;
}

static const char *
check_method(const struct gw_val *v, char *buf, size_t len)
{
    for (uint32_t i = 0; i < v->n; i++) {
        if (v->u.s[i] < 'A' || v->u.s[i] > 'Z') {
            snprintf(buf, len, "invalid value: %.100s", v->u.s);
            return buf;
        }
    }
    return NULL;
}

static const char *
check_route_headers(const struct gw_val *v, char *buf, size_t len)
{
    (void)buf, (void)len;
    for (uint32_t i = 0; i < v->n; i++) {
        if (strcasecmp(v->u.kv[i].key, "host") == 0) {
            return "cannot contain 'host' header, which must be specified in the 'hosts' attribute";
        }
    }
    return NULL;
}

static const struct gw_field method_elem = {.type = GW_T_STRING, .check = check_method};
static const struct gw_field route_host_elem = {.type = GW_T_STRING, .check = gw_check_route_host};
static const struct gw_field route_path_elem = {.type = GW_T_STRING, .check = check_route_path};
static const struct gw_field header_values = {.type = GW_T_ARRAY, .elem = &gw_elem_string};
static const struct gw_field sni_elem = {.type = GW_T_STRING, .check = gw_check_wildcard_host};

static void
endpoint_check(struct gw_vctx *ctx, const struct gw_record *r, struct gw_val *rec)
{
    static const char *const both[] = {"ip", "port", NULL};
    gw_echeck_at_least_one_of(ctx, r, rec, both);
}

static struct gw_field endpoint_fields[] = {
    {.name = "ip", .type = GW_T_STRING, .check = gw_check_ip_or_cidr},
    {.name = "port", .type = GW_T_INTEGER, .flags = GW_F_BETWEEN, .min = 0, .max = 65535},
    {.name = NULL},
};
static struct gw_record endpoint_schema = {
    .name = "endpoint", .fields = endpoint_fields, .check = endpoint_check};
static const struct gw_field endpoint_elem = {.type = GW_T_RECORD, .record = &endpoint_schema};

static const char *const redirect_codes[] = {"426", "301", "302", "307", "308", NULL};
static const char *const path_handlings[] = {"v0", "v1", NULL};

static const char *const http_fields[] = {"methods", "hosts", "headers", "paths", NULL};
static const char *const stream_fields[] = {"sources", "destinations", "snis", NULL};

/* protocols: Kong's mutually_exclusive_subsets; returns 0 when it reported */
static int
route_protocol_subsets(struct gw_vctx *ctx, const struct gw_val *protos)
{
    static const char *const sets[][4] = {
        {"http", "https", NULL}, {"tcp", "tls", "udp", NULL}, {"tls_passthrough", NULL},
        {"grpc", "grpcs", NULL}};
    char msg[256];
    size_t off = 0;
    int used = 0;

    off = (size_t)snprintf(msg, sizeof msg, "these sets are mutually exclusive: ");
    for (size_t i = 0; i < 4; i++) {
        int present = 0;
        for (size_t j = 0; sets[i][j]; j++) {
            present |= has_str(protos, sets[i][j]);
        }
        if (!present) {
            continue;
        }
        off += (size_t)snprintf(msg + off, sizeof msg - off, "%s(", used ? ", " : "");
        for (size_t j = 0; sets[i][j]; j++) {
            off += (size_t)snprintf(msg + off, sizeof msg - off, "%s'%s'", j ? ", " : "",
                                    sets[i][j]);
        }
        off += (size_t)snprintf(msg + off, sizeof msg - off, ")");
        used++;
    }
    if (used > 1) {
        gw_vctx_field_err(ctx, "protocols", "%s", msg);
        return 0;
    }
    return 1;
}

/* Kong's routes_subschemas.lua: fields a protocol family may not set, each refused with its
 * own message; 1 when one was refused. */
static int
refuse_fields(struct gw_vctx *ctx, const struct gw_record *r, struct gw_val *rec,
              const char *const *fields, const char *when)
{
    int refused = 0;

    for (const char *const *f = fields; *f; f++) {
        if (set_nonempty(gw_rec_get(r, rec, *f))) {
            gw_vctx_field_err(ctx, *f, "cannot set '%s' when 'protocols' is %s", *f, when);
            refused = 1;
        }
    }
    return refused;
}

static void
route_check(struct gw_vctx *ctx, const struct gw_record *r, struct gw_val *rec)
{
    const struct gw_val *protos = gw_rec_get(r, rec, "protocols");
    int http = has_str(protos, "http"), https = has_str(protos, "https");
    int grpc = has_str(protos, "grpc"), grpcs = has_str(protos, "grpcs");
    int stream = has_str(protos, "tcp") || has_str(protos, "tls") || has_str(protos, "udp");
    int passthrough = has_str(protos, "tls_passthrough");
    const char *const *need = NULL;
    const char *when = NULL;
    const char *first = protos && protos->type == GW_V_ARR && protos->n > 0 &&
                                protos->u.items[0].type == GW_V_STR
                            ? protos->u.items[0].u.s
                            : "http";

    if (!route_protocol_subsets(ctx, protos)) {
        return;
    }
    /* the subschema is chosen by the first protocol; its field rules come before any entity
     * check, and a refused field stops there (as Kong's field errors do) */
    if (!strcmp(first, "grpc") || !strcmp(first, "grpcs")) {
        static const char *const f[] = {"methods", "sources", "destinations", NULL};
        int refused = refuse_fields(ctx, r, rec, f, "'grpc' or 'grpcs'");
        struct gw_val *strip = &rec->u.items[gw_record_index(r, "strip_path")];
        if (gw_val_get(ctx->in, "strip_path") == NULL) {
            /* the grpc subschema's default is strip_path = false */
            strip->type = GW_V_BOOL;
            strip->u.b = 0;
        } else if (strip->type == GW_V_BOOL && strip->u.b) {
            gw_vctx_field_err(ctx, "strip_path",
                              "cannot set 'strip_path' when 'protocols' is 'grpc' or 'grpcs'");
            refused = 1;
        }
        if (refused) {
            return;
        }
    } else if (!strcmp(first, "http") || !strcmp(first, "https")) {
        static const char *const f[] = {"sources", "destinations", NULL};
        if (refuse_fields(ctx, r, rec, f, "'http' or 'https'")) {
            return;
        }
    } else {
        static const char *const f[] = {"methods", "hosts", "paths", "headers", NULL};
        if (refuse_fields(ctx, r, rec, f, "'tcp', 'tls', 'tls_passthrough' or 'udp'")) {
            return;
        }
    }
    if (set_nonempty(gw_rec_get(r, rec, "snis")) && !https && !grpcs && !has_str(protos, "tls") &&
        !passthrough) {
        /* routes.lua's conditional with a then_err: the message on @entity, the failed
         * then_match (len_eq = 0) on the field */
        gw_vctx_field_err(ctx, "snis", "length must be 0");
        gw_vctx_entity_err(ctx, "'snis' can only be set when 'protocols' is 'grpcs', 'https', "
                                "'tls' or 'tls_passthrough'");
        return;
    }
    if (https) {
        static const char *const f[] = {"methods", "hosts", "headers", "paths", "snis", NULL};
        need = f, when = "'https'";
    } else if (http) {
        need = http_fields, when = "'http'";
    } else if (grpcs) {
        static const char *const f[] = {"hosts", "headers", "paths", "snis", NULL};
        need = f, when = "'grpcs'";
    } else if (grpc) {
        static const char *const f[] = {"hosts", "headers", "paths", NULL};
        need = f, when = "'grpc'";
    } else if (stream) {
        need = stream_fields, when = "'tcp', 'tls' or 'udp'";
    } else if (passthrough) {
        if (!set_nonempty(gw_rec_get(r, rec, "snis"))) {
            gw_vctx_entity_err(ctx, "must set snis when 'protocols' is 'tls_passthrough'");
        }
        return;
    }
    if (need) {
        int found = 0;
        char list[256];
        size_t off = 0;
        for (const char *const *f = need; *f; f++) {
            found |= set_nonempty(gw_rec_get(r, rec, *f));
            off += (size_t)snprintf(list + off, sizeof list - off, "%s'%s'", f == need ? "" : ", ", *f);
        }
        if (!found) {
            gw_vctx_entity_err(ctx, "must set one of %s when 'protocols' is %s", list, when);
        }
    }
}

static struct gw_field route_fields[] = {
    ID_FIELD,
    CREATED_AT,
    UPDATED_AT,
    {.name = "name", .type = GW_T_STRING, .flags = GW_F_UNIQUE, .check = gw_check_utf8_name},
    {.name = "protocols", .type = GW_T_SET, .flags = GW_F_REQUIRED, .len_min = 1,
     .dflt = "[\"http\",\"https\"]", .elem = &protocol_elem},
    {.name = "methods", .type = GW_T_SET, .elem = &method_elem},
    {.name = "hosts", .type = GW_T_ARRAY, .elem = &route_host_elem},
    {.name = "paths", .type = GW_T_ARRAY, .elem = &route_path_elem},
    {.name = "headers", .type = GW_T_MAP, .key = &gw_elem_header_name, .elem = &header_values,
     .check = check_route_headers},
    {.name = "https_redirect_status_code", .type = GW_T_INTEGER, .flags = GW_F_REQUIRED,
     .dflt = "426", .one_of = redirect_codes},
    {.name = "regex_priority", .type = GW_T_INTEGER, .dflt = "0"},
    {.name = "strip_path", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "true"},
    {.name = "path_handling", .type = GW_T_STRING, .dflt = "\"v0\"", .one_of = path_handlings},
    {.name = "preserve_host", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "false"},
    {.name = "request_buffering", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "true"},
    {.name = "response_buffering", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "true"},
    {.name = "snis", .type = GW_T_SET, .elem = &sni_elem},
    {.name = "sources", .type = GW_T_SET, .elem = &endpoint_elem},
    {.name = "destinations", .type = GW_T_SET, .elem = &endpoint_elem},
    TAGS_FIELD,
    {.name = "service", .type = GW_T_FOREIGN, .ref = "services"},
    {.name = NULL},
};

static struct gw_record route_schema = {
    .name = "routes", .fields = route_fields, .check = route_check};

/* ------------------------------------------------------------------ consumers */

static void
consumer_check(struct gw_vctx *ctx, const struct gw_record *r, struct gw_val *rec)
{
    static const char *const f[] = {"custom_id", "username", NULL};
    gw_echeck_at_least_one_of(ctx, r, rec, f);
}

static struct gw_field consumer_fields[] = {
    ID_FIELD,
    CREATED_AT,
    UPDATED_AT,
    {.name = "username", .type = GW_T_STRING, .flags = GW_F_UNIQUE},
    {.name = "custom_id", .type = GW_T_STRING, .flags = GW_F_UNIQUE},
    TAGS_FIELD,
    {.name = NULL},
};

static struct gw_record consumer_schema = {
    .name = "consumers", .fields = consumer_fields, .check = consumer_check};

/* ------------------------------------------------------------------ plugins */

/* parsed protocols_dflt of each plugin, filled by gw_model_init */
static struct gw_val plugin_protocols[64];

static struct gw_record *
plugin_config_schema(struct gw_vctx *ctx)
{
    const struct gw_val *name = gw_val_get(ctx->in, "name");
    const struct gw_plugin_schema *ps;

    if (name == NULL || name->type != GW_V_STR) {
        return NULL; /* the name field reports it */
    }
    ps = gw_plugin_schema_find(name->u.s);
    if (ps == NULL) {
        gw_vctx_field_err(ctx, "name",
                          "plugin '%.100s' not enabled; add it to the 'plugins' configuration "
                          "property",
                          name->u.s);
        return NULL;
    }
    return ps->config;
}

static struct gw_record *
plugin_config_schema_of(const struct gw_record *r, const struct gw_val *rec)
{
    const struct gw_val *name = gw_rec_get(r, rec, "name");
    const struct gw_plugin_schema *ps =
        name && name->type == GW_V_STR ? gw_plugin_schema_find(name->u.s) : NULL;

    return ps ? ps->config : NULL;
}

static void
plugin_check(struct gw_vctx *ctx, const struct gw_record *r, struct gw_val *rec)
{
    const struct gw_val *name = gw_rec_get(r, rec, "name");
    const struct gw_plugin_schema *ps = name ? gw_plugin_schema_find(name->u.s) : NULL;
    int pidx = gw_record_index(r, "protocols");
    struct gw_val *protos = &rec->u.items[pidx];
    json_t *perrs = NULL;

    if (ps == NULL) {
        return;
    }
    if (ps->protocols_dflt && gw_val_get(ctx->in, "protocols") == NULL) {
        for (size_t i = 0; i < gw_plugin_schemas_count; i++) {
            if (gw_plugin_schemas[i] == ps) {
                *protos = plugin_protocols[i];
            }
        }
    }
    if (ps->protocols_allowed && protos->type == GW_V_ARR) {
        for (uint32_t i = 0; i < protos->n; i++) {
            int ok = 0;
            for (const char *const *a = ps->protocols_allowed; *a; a++) {
                ok |= strcmp(*a, protos->u.items[i].u.s) == 0;
            }
            if (!ok) {
                char msg[256];
                size_t off = (size_t)snprintf(msg, sizeof msg, "expected one of: ");
                for (const char *const *a = ps->protocols_allowed; *a; a++) {
                    off += (size_t)snprintf(msg + off, sizeof msg - off, "%s%s",
                                            a == ps->protocols_allowed ? "" : ", ", *a);
                }
                if (perrs == NULL) {
                    perrs = json_array();
                }
                while (json_array_size(perrs) < i) {
                    json_array_append_new(perrs, json_null());
                }
                json_array_append_new(perrs, json_string(msg));
            }
        }
        if (perrs) {
            if (ctx->errs == NULL) {
                ctx->errs = json_object();
            }
            json_object_set_new(ctx->errs, "protocols", perrs);
            ctx->nerrs++;
        }
    }
    /* nested under a consumer, the consumer is set even though the input leaves it out */
    int nested_consumer = ctx->implicit && strcmp(ctx->implicit, "consumer") == 0;
    if ((ps->flags & GW_PS_NO_CONSUMER) &&
        (nested_consumer || !gw_val_is_null(gw_rec_get(r, rec, "consumer")))) {
        gw_vctx_field_err(ctx, "consumer", "value must be null");
    }
    if ((ps->flags & GW_PS_NO_ROUTE) && !gw_val_is_null(gw_rec_get(r, rec, "route"))) {
        gw_vctx_field_err(ctx, "route", "value must be null");
    }
    if ((ps->flags & GW_PS_NO_SERVICE) && !gw_val_is_null(gw_rec_get(r, rec, "service"))) {
        gw_vctx_field_err(ctx, "service", "value must be null");
    }
}

static struct gw_field plugin_fields[] = {
    ID_FIELD,
    {.name = "name", .type = GW_T_STRING, .flags = GW_F_REQUIRED},
    {.name = "instance_name", .type = GW_T_STRING, .flags = GW_F_UNIQUE,
     .check = gw_check_utf8_name},
    CREATED_AT,
    UPDATED_AT,
    {.name = "route", .type = GW_T_FOREIGN, .ref = "routes"},
    {.name = "service", .type = GW_T_FOREIGN, .ref = "services"},
    {.name = "consumer", .type = GW_T_FOREIGN, .ref = "consumers"},
    {.name = "config", .type = GW_T_RECORD, .subschema = plugin_config_schema,
     .subschema_of = plugin_config_schema_of},
    {.name = "protocols", .type = GW_T_SET, .flags = GW_F_REQUIRED,
     .dflt = "[\"grpc\",\"grpcs\",\"http\",\"https\"]", .elem = &protocol_elem},
    {.name = "enabled", .type = GW_T_BOOLEAN, .flags = GW_F_REQUIRED, .dflt = "true"},
    TAGS_FIELD,
    {.name = NULL},
};

static struct gw_record plugin_schema = {
    .name = "plugins", .fields = plugin_fields, .check = plugin_check};

/* ------------------------------------------------------------------ upstreams */

static const char *
check_upstream_name(const struct gw_val *v, char *buf, size_t len)
{
    struct gw_val tmp;
    char host[300];

    if (gw_check_host(v, buf, len) == NULL) {
        /* a valid host: refuse IPs */
        if (strspn(v->u.s, "0123456789.") == v->n || strchr(v->u.s, ':')) {
            snprintf(buf, len, "Invalid name ('%.100s'); no ip addresses allowed", v->u.s);
            return buf;
        }
        return NULL;
    }
    const char *colon = strrchr(v->u.s, ':');
    if (colon && colon != v->u.s && (size_t)(colon - v->u.s) < sizeof host) {
        snprintf(host, sizeof host, "%.*s", (int)(colon - v->u.s), v->u.s);
        gw_val_str(&tmp, host, strlen(host));
        if (gw_check_host(&tmp, buf, len) == NULL) {
            snprintf(buf, len, "Invalid name ('%.100s'); no port allowed", v->u.s);
            return buf;
        }
    }
    snprintf(buf, len, "Invalid name ('%.100s'); must be a valid hostname", v->u.s);
    return buf;
}

static const char *
check_cookie_name(const struct gw_val *v, char *buf, size_t len)
{
    for (uint32_t i = 0; i < v->n; i++) {
        unsigned char c = (unsigned char)v->u.s[i];
        if (c <= 0x20 || c >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", c)) {
            snprintf(buf, len, "bad cookie name '%.100s', allowed characters are A-Z, a-z, 0-9, "
                               "'_', and '-'", v->u.s);
            return buf;
        }
    }
    return NULL;
}

static const char *const algorithms[] = {"consistent-hashing", "least-connections", "round-robin",
                                         "latency", NULL};
static const char *const hash_ons[] = {"none", "consumer", "ip", "header", "cookie", "path",
                                       "query_arg", "uri_capture", NULL};
static const char *const check_types[] = {"tcp", "http", "https", "grpc", "grpcs", NULL};

#define COUNTER(n) {.name = n, .type = GW_T_INTEGER, .dflt = "0", .flags = GW_F_BETWEEN, .min = 0, .max = 255}
#define INTERVAL {.name = "interval", .type = GW_T_NUMBER, .dflt = "0", .flags = GW_F_BETWEEN, .min = 0, .max = 65535}

static const struct gw_field statuses_elem = {
    .type = GW_T_INTEGER, .flags = GW_F_BETWEEN, .min = 100, .max = 999};

static struct gw_field active_healthy_fields[] = {
    INTERVAL,
    {.name = "http_statuses", .type = GW_T_ARRAY, .elem = &statuses_elem, .dflt = "[200,302]"},
    COUNTER("successes"),
    {.name = NULL},
};
static struct gw_field active_unhealthy_fields[] = {
    INTERVAL,
    {.name = "http_statuses", .type = GW_T_ARRAY, .elem = &statuses_elem,
     .dflt = "[429,404,500,501,502,503,504,505]"},
    COUNTER("tcp_failures"),
    COUNTER("timeouts"),
    COUNTER("http_failures"),
    {.name = NULL},
};
static struct gw_field passive_healthy_fields[] = {
    {.name = "http_statuses", .type = GW_T_ARRAY, .elem = &statuses_elem,
     .dflt = "[200,201,202,203,204,205,206,207,208,226,300,301,302,303,304,305,306,307,308]"},
    COUNTER("successes"),
    {.name = NULL},
};
static struct gw_field passive_unhealthy_fields[] = {
    {.name = "http_statuses", .type = GW_T_ARRAY, .elem = &statuses_elem, .dflt = "[429,500,503]"},
    COUNTER("tcp_failures"),
    COUNTER("timeouts"),
    COUNTER("http_failures"),
    {.name = NULL},
};
static struct gw_record active_healthy = {.name = "healthy", .fields = active_healthy_fields};
static struct gw_record active_unhealthy = {.name = "unhealthy", .fields = active_unhealthy_fields};
static struct gw_record passive_healthy = {.name = "healthy", .fields = passive_healthy_fields};
static struct gw_record passive_unhealthy = {.name = "unhealthy", .fields = passive_unhealthy_fields};

static struct gw_field active_fields[] = {
    {.name = "type", .type = GW_T_STRING, .dflt = "\"http\"", .one_of = check_types},
    {.name = "timeout", .type = GW_T_NUMBER, .dflt = "1", .flags = GW_F_BETWEEN, .min = 0, .max = 65535},
    {.name = "concurrency", .type = GW_T_INTEGER, .dflt = "10", .flags = GW_F_BETWEEN, .min = 1,
     .max = 2147483648.0},
    {.name = "http_path", .type = GW_T_STRING, .dflt = "\"/\"", .check = gw_check_path},
    {.name = "https_sni", .type = GW_T_STRING, .check = gw_check_host},
    {.name = "https_verify_certificate", .type = GW_T_BOOLEAN, .dflt = "true"},
    {.name = "headers", .type = GW_T_MAP, .key = &gw_elem_header_name, .elem = &header_values},
    {.name = "healthy", .type = GW_T_RECORD, .record = &active_healthy},
    {.name = "unhealthy", .type = GW_T_RECORD, .record = &active_unhealthy},
    {.name = NULL},
};
static struct gw_field passive_fields[] = {
    {.name = "type", .type = GW_T_STRING, .dflt = "\"http\"", .one_of = check_types},
    {.name = "healthy", .type = GW_T_RECORD, .record = &passive_healthy},
    {.name = "unhealthy", .type = GW_T_RECORD, .record = &passive_unhealthy},
    {.name = NULL},
};
static struct gw_record active_schema = {.name = "active", .fields = active_fields};
static struct gw_record passive_schema = {.name = "passive", .fields = passive_fields};
static struct gw_field healthchecks_fields[] = {
    {.name = "active", .type = GW_T_RECORD, .record = &active_schema},
    {.name = "passive", .type = GW_T_RECORD, .record = &passive_schema},
    {.name = "threshold", .type = GW_T_NUMBER, .dflt = "0", .flags = GW_F_BETWEEN, .min = 0, .max = 100},
    {.name = NULL},
};
static struct gw_record healthchecks_schema = {.name = "healthchecks", .fields = healthchecks_fields};

static const struct gw_val *
upstream_shorthand(struct gw_vctx *ctx, const struct gw_val *in)
{
    const struct gw_val *hash_on = gw_val_get(in, "hash_on");
    struct gw_val *out;

    /* Kong couples the two: hashing on anything implies consistent-hashing */
    if (gw_val_get(in, "algorithm") || hash_on == NULL || hash_on->type != GW_V_STR ||
        strcmp(hash_on->u.s, "none") == 0) {
        return in;
    }
    out = gw_arena_alloc(ctx->scratch ? ctx->scratch : ctx->arena, sizeof *out);
    if (out == NULL) {
        return NULL;
    }
    *out = *in;
    out->u.kv = gw_arena_alloc(ctx->scratch ? ctx->scratch : ctx->arena, sizeof(struct gw_kv) * (in->n + 1));
    if (out->u.kv == NULL) {
        return NULL;
    }
    memcpy(out->u.kv, in->u.kv, sizeof(struct gw_kv) * in->n);
    out->u.kv[in->n].key = "algorithm";
    out->u.kv[in->n].klen = 9;
    gw_val_str(&out->u.kv[in->n].val, "consistent-hashing", 18);
    out->n = in->n + 1;
    return out;
}

static void
require_if(struct gw_vctx *ctx, const struct gw_record *r, struct gw_val *rec, const char *if_field,
           const char *value, const char *then_field)
{
    if (str_is(gw_rec_get(r, rec, if_field), value) &&
        gw_val_is_null(gw_rec_get(r, rec, then_field))) {
        gw_echeck_conditional_fail(ctx, if_field, then_field, "required field missing");
    }
}

static void
upstream_check(struct gw_vctx *ctx, const struct gw_record *r, struct gw_val *rec)
{
    const struct gw_val *on = gw_rec_get(r, rec, "hash_on");
    const struct gw_val *fb = gw_rec_get(r, rec, "hash_fallback");
    static const char *const d1[] = {"hash_on_header", "hash_fallback_header", NULL};
    static const char *const d2[] = {"hash_on_query_arg", "hash_fallback_query_arg", NULL};
    static const char *const d3[] = {"hash_on_uri_capture", "hash_fallback_uri_capture", NULL};

    require_if(ctx, r, rec, "hash_on", "header", "hash_on_header");
    require_if(ctx, r, rec, "hash_fallback", "header", "hash_fallback_header");
    require_if(ctx, r, rec, "hash_on", "cookie", "hash_on_cookie");
    require_if(ctx, r, rec, "hash_fallback", "cookie", "hash_on_cookie");
    require_if(ctx, r, rec, "hash_on", "query_arg", "hash_on_query_arg");
    require_if(ctx, r, rec, "hash_fallback", "query_arg", "hash_fallback_query_arg");
    require_if(ctx, r, rec, "hash_on", "uri_capture", "hash_on_uri_capture");
    require_if(ctx, r, rec, "hash_fallback", "uri_capture", "hash_fallback_uri_capture");
    if ((str_is(on, "none") || str_is(on, "cookie")) && !str_is(fb, "none")) {
        gw_echeck_conditional_fail(ctx, "hash_on", "hash_fallback", "expected one of: none");
    } else if ((str_is(on, "consumer") || str_is(on, "ip") || str_is(on, "path")) &&
               str_is(fb, on->u.s)) {
        char msg[200];
        size_t off = (size_t)snprintf(msg, sizeof msg, "expected one of: ");
        int first = 1;
        for (const char *const *h = hash_ons; *h; h++) {
            if (strcmp(*h, on->u.s) != 0) {
                off += (size_t)snprintf(msg + off, sizeof msg - off, "%s%s", first ? "" : ", ", *h);
                first = 0;
            }
        }
        gw_echeck_conditional_fail(ctx, "hash_on", "hash_fallback", msg);
    }
    gw_echeck_distinct(ctx, r, rec, d1);
    gw_echeck_distinct(ctx, r, rec, d2);
    gw_echeck_distinct(ctx, r, rec, d3);
}

static struct gw_field upstream_fields[] = {
    ID_FIELD,
    CREATED_AT,
    UPDATED_AT,
    {.name = "name", .type = GW_T_STRING, .flags = GW_F_REQUIRED | GW_F_UNIQUE,
     .check = check_upstream_name},
    {.name = "algorithm", .type = GW_T_STRING, .dflt = "\"round-robin\"", .one_of = algorithms},
    {.name = "hash_on", .type = GW_T_STRING, .dflt = "\"none\"", .one_of = hash_ons},
    {.name = "hash_fallback", .type = GW_T_STRING, .dflt = "\"none\"", .one_of = hash_ons},
    {.name = "hash_on_header", .type = GW_T_STRING, .check = gw_check_header_name},
    {.name = "hash_fallback_header", .type = GW_T_STRING, .check = gw_check_header_name},
    {.name = "hash_on_cookie", .type = GW_T_STRING, .check = check_cookie_name},
    {.name = "hash_on_cookie_path", .type = GW_T_STRING, .dflt = "\"/\"", .check = gw_check_path},
    {.name = "hash_on_query_arg", .type = GW_T_STRING},
    {.name = "hash_fallback_query_arg", .type = GW_T_STRING},
    {.name = "hash_on_uri_capture", .type = GW_T_STRING},
    {.name = "hash_fallback_uri_capture", .type = GW_T_STRING},
    {.name = "slots", .type = GW_T_INTEGER, .dflt = "10000", .flags = GW_F_BETWEEN, .min = 10,
     .max = 65536},
    {.name = "healthchecks", .type = GW_T_RECORD, .record = &healthchecks_schema},
    TAGS_FIELD,
    {.name = "host_header", .type = GW_T_STRING, .check = gw_check_host_port},
    {.name = "client_certificate", .type = GW_T_FOREIGN, .ref = "certificates"},
    {.name = "use_srv_name", .type = GW_T_BOOLEAN, .dflt = "false"},
    {.name = NULL},
};

static struct gw_record upstream_schema = {
    .name = "upstreams", .fields = upstream_fields, .check = upstream_check,
    .shorthand = upstream_shorthand};

/* ------------------------------------------------------------------ targets */

/* Normalises "host[:port]" to "host:port" with Kong's default port 8000. */
static void
target_check(struct gw_vctx *ctx, const struct gw_record *r, struct gw_val *rec)
{
    struct gw_val *t = &rec->u.items[gw_record_index(r, "target")];
    char host[300], out[320], buf[200];
    long port = 8000;
    const char *s = t->u.s;
    struct gw_val hv;
    int v6 = 0;

    if (t->n >= sizeof host) {
        goto bad;
    }
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL) {
            goto bad;
        }
        snprintf(host, sizeof host, "%.*s", (int)(end - s - 1), s + 1);
        if (end[1] == ':') {
            char *e;
            port = strtol(end + 2, &e, 10);
            if (end[2] == '\0' || *e) {
                goto bad;
            }
        } else if (end[1]) {
            goto bad;
        }
        v6 = 1;
    } else if (strchr(s, ':') && strchr(strchr(s, ':') + 1, ':')) {
        snprintf(host, sizeof host, "%s", s); /* bare IPv6 */
        v6 = 1;
    } else {
        const char *colon = strchr(s, ':');
        snprintf(host, sizeof host, "%.*s", colon ? (int)(colon - s) : (int)t->n, s);
        if (colon) {
            char *e;
            port = strtol(colon + 1, &e, 10);
            if (colon[1] == '\0' || *e) {
                goto bad;
            }
        }
    }
    if (port < 0 || port > 65535) {
        goto bad;
    }
    gw_val_str(&hv, host, strlen(host));
    if (gw_check_host(&hv, buf, sizeof buf)) {
        goto bad;
    }
    snprintf(out, sizeof out, v6 ? "[%s]:%ld" : "%s:%ld", host, port);
    gw_val_str(t, gw_arena_strndup(ctx->arena, out, strlen(out)), strlen(out));
    return;
bad:
    gw_vctx_field_err(ctx, "target", "Invalid target ('%.100s'); not a valid hostname or ip address",
                      s);
}

static struct gw_field target_fields[] = {
    ID_FIELD,
    {.name = "created_at", .type = GW_T_NUMBER, .flags = GW_F_AUTO},
    {.name = "updated_at", .type = GW_T_NUMBER, .flags = GW_F_AUTO},
    {.name = "upstream", .type = GW_T_FOREIGN, .flags = GW_F_REQUIRED, .ref = "upstreams"},
    {.name = "target", .type = GW_T_STRING, .flags = GW_F_REQUIRED},
    {.name = "weight", .type = GW_T_INTEGER, .dflt = "100", .flags = GW_F_BETWEEN, .min = 0,
     .max = 65535},
    TAGS_FIELD,
    {.name = NULL},
};

static struct gw_record target_schema = {
    .name = "targets", .fields = target_fields, .check = target_check};

/* ------------------------------------------------------------------ certificates */

static const char *
check_cert(const struct gw_val *v, char *buf, size_t len)
{
    return gw_pem_check_cert(v->u.s, v->n, buf, len);
}

static const char *
check_key(const struct gw_val *v, char *buf, size_t len)
{
    return gw_pem_check_key(v->u.s, v->n, buf, len);
}

static void
certificate_check(struct gw_vctx *ctx, const struct gw_record *r, struct gw_val *rec)
{
    static const char *const alt[] = {"cert_alt", "key_alt", NULL};
    const struct gw_val *cert = gw_rec_get(r, rec, "cert"), *key = gw_rec_get(r, rec, "key");
    const struct gw_val *ca = gw_rec_get(r, rec, "cert_alt"), *ka = gw_rec_get(r, rec, "key_alt");

    if (!gw_pem_pair_matches(cert->u.s, cert->n, key->u.s, key->n)) {
        gw_vctx_entity_err(ctx, "certificate does not match key");
        return;
    }
    if (!gw_echeck_mutually_required(ctx, r, rec, alt) || gw_val_is_null(ca)) {
        return;
    }
    if (!gw_pem_pair_matches(ca->u.s, ca->n, ka->u.s, ka->n)) {
        gw_vctx_entity_err(ctx, "alternative certificate does not match key");
        return;
    }
    if (gw_pem_key_type(key->u.s, key->n) == gw_pem_key_type(ka->u.s, ka->n)) {
        gw_vctx_entity_err(ctx, "certificate and alternative certificate need to have different "
                                "type (e.g. RSA and ECDSA), the provided certificates were both "
                                "of the same type");
    }
}

static struct gw_field certificate_fields[] = {
    ID_FIELD,
    CREATED_AT,
    UPDATED_AT,
    {.name = "cert", .type = GW_T_STRING, .flags = GW_F_REQUIRED, .check = check_cert},
    {.name = "key", .type = GW_T_STRING, .flags = GW_F_REQUIRED | GW_F_SENSITIVE,
     .check = check_key},
    {.name = "cert_alt", .type = GW_T_STRING, .check = check_cert},
    {.name = "key_alt", .type = GW_T_STRING, .flags = GW_F_SENSITIVE, .check = check_key},
    TAGS_FIELD,
    {.name = NULL},
};

static struct gw_record certificate_schema = {
    .name = "certificates", .fields = certificate_fields, .check = certificate_check};

static struct gw_field sni_fields[] = {
    ID_FIELD,
    {.name = "name", .type = GW_T_STRING, .flags = GW_F_REQUIRED | GW_F_UNIQUE,
     .check = gw_check_wildcard_host},
    CREATED_AT,
    UPDATED_AT,
    TAGS_FIELD,
    {.name = "certificate", .type = GW_T_FOREIGN, .flags = GW_F_REQUIRED, .ref = "certificates"},
    {.name = NULL},
};

static struct gw_record sni_schema = {.name = "snis", .fields = sni_fields};

static void
ca_check(struct gw_vctx *ctx, const struct gw_record *r, struct gw_val *rec)
{
    const struct gw_val *cert = gw_rec_get(r, rec, "cert");
    struct gw_val *digest = &rec->u.items[gw_record_index(r, "cert_digest")];
    char d[65], buf[200];
    const char *e = gw_pem_check_ca(cert->u.s, cert->n, d, buf, sizeof buf);

    if (e) {
        gw_vctx_field_err(ctx, "cert", "%s", e);
        return;
    }
    gw_val_str(digest, gw_arena_strndup(ctx->arena, d, 64), 64);
}

static struct gw_field ca_fields[] = {
    ID_FIELD,
    CREATED_AT,
    UPDATED_AT,
    {.name = "cert", .type = GW_T_STRING, .flags = GW_F_REQUIRED},
    {.name = "cert_digest", .type = GW_T_STRING, .flags = GW_F_UNIQUE},
    TAGS_FIELD,
    {.name = NULL},
};

static struct gw_record ca_schema = {.name = "ca_certificates", .fields = ca_fields, .check = ca_check};

/* ------------------------------------------------------------------ credentials */

#define CONSUMER_FK                                                                             \
    {.name = "consumer", .type = GW_T_FOREIGN, .flags = GW_F_REQUIRED, .ref = "consumers"}

static struct gw_field keyauth_fields[] = {
    ID_FIELD,
    CREATED_AT,
    CONSUMER_FK,
    {.name = "key", .type = GW_T_STRING, .flags = GW_F_UNIQUE | GW_F_SENSITIVE},
    {.name = "ttl", .type = GW_T_INTEGER, .flags = GW_F_BETWEEN, .min = 0, .max = 100000000},
    TAGS_FIELD,
    {.name = NULL},
};
static struct gw_record keyauth_schema = {.name = "keyauth_credentials", .fields = keyauth_fields};

static struct gw_field basicauth_fields[] = {
    ID_FIELD,
    CREATED_AT,
    CONSUMER_FK,
    {.name = "username", .type = GW_T_STRING, .flags = GW_F_REQUIRED | GW_F_UNIQUE},
    {.name = "password", .type = GW_T_STRING, .flags = GW_F_REQUIRED | GW_F_SENSITIVE},
    TAGS_FIELD,
    {.name = NULL},
};
static struct gw_record basicauth_schema = {.name = "basicauth_credentials",
                                            .fields = basicauth_fields};

static const char *const jwt_algorithms[] = {"HS256", "HS384", "HS512", "RS256", "RS384",
                                             "RS512", "ES256", "ES384", "ES512", "PS256",
                                             "PS384", "PS512", "EdDSA", NULL};

static void
jwt_check(struct gw_vctx *ctx, const struct gw_record *r, struct gw_val *rec)
{
    const struct gw_val *alg = gw_rec_get(r, rec, "algorithm");
    const struct gw_val *pub = gw_rec_get(r, rec, "rsa_public_key");
    char buf[64];

    /* Kong's list: RS*, PS* and EdDSA (not HS* nor ES*) */
    if (alg == NULL || alg->type != GW_V_STR ||
        !(alg->u.s[0] == 'R' || alg->u.s[0] == 'P' || strcmp(alg->u.s, "EdDSA") == 0)) {
        return;
    }
    if (gw_val_is_null(pub)) {
        gw_echeck_conditional_fail(ctx, "algorithm", "rsa_public_key", "required field missing");
        return;
    }
    if (gw_pem_check_public_key(pub->u.s, pub->n, buf, sizeof buf)) {
        gw_echeck_conditional_fail(ctx, "algorithm", "rsa_public_key", "invalid key");
    }
}

static struct gw_field jwt_fields[] = {
    ID_FIELD,
    CREATED_AT,
    CONSUMER_FK,
    {.name = "key", .type = GW_T_STRING, .flags = GW_F_UNIQUE},
    {.name = "secret", .type = GW_T_STRING, .flags = GW_F_SENSITIVE},
    {.name = "rsa_public_key", .type = GW_T_STRING},
    {.name = "algorithm", .type = GW_T_STRING, .dflt = "\"HS256\"", .one_of = jwt_algorithms},
    TAGS_FIELD,
    {.name = NULL},
};
static struct gw_record jwt_schema = {.name = "jwt_secrets", .fields = jwt_fields, .check = jwt_check};

static struct gw_field hmacauth_fields[] = {
    ID_FIELD,
    CREATED_AT,
    CONSUMER_FK,
    {.name = "username", .type = GW_T_STRING, .flags = GW_F_REQUIRED | GW_F_UNIQUE},
    {.name = "secret", .type = GW_T_STRING, .flags = GW_F_SENSITIVE},
    TAGS_FIELD,
    {.name = NULL},
};
static struct gw_record hmacauth_schema = {.name = "hmacauth_credentials", .fields = hmacauth_fields};

static struct gw_field acl_fields[] = {
    ID_FIELD,
    CREATED_AT,
    CONSUMER_FK,
    {.name = "group", .type = GW_T_STRING, .flags = GW_F_REQUIRED},
    TAGS_FIELD,
    {.name = NULL},
};
static struct gw_record acl_schema = {.name = "acls", .fields = acl_fields};

/* ------------------------------------------------------------------ key sets, keys */

static struct gw_field key_set_fields[] = {
    ID_FIELD,
    /* a plain string in Kong's key_sets.lua, not a utf8_name */
    {.name = "name", .type = GW_T_STRING, .flags = GW_F_UNIQUE},
    TAGS_FIELD,
    CREATED_AT,
    UPDATED_AT,
    {.name = NULL},
};
static struct gw_record key_set_schema = {.name = "key_sets", .fields = key_set_fields};

static void
pem_check(struct gw_vctx *ctx, const struct gw_record *r, struct gw_val *rec)
{
    static const char *const one[] = {"private_key", "public_key", NULL};
    gw_echeck_at_least_one_of(ctx, r, rec, one);
}

static struct gw_field pem_fields[] = {
    {.name = "private_key", .type = GW_T_STRING, .flags = GW_F_SENSITIVE},
    {.name = "public_key", .type = GW_T_STRING},
    {.name = NULL},
};
static struct gw_record pem_schema = {.name = "pem", .fields = pem_fields, .check = pem_check};

/* typedefs.pem's custom_validator: runs on the pem record once its fields and its own
 * entity check passed, and reports on the field itself */
static const char *
check_pem(const struct gw_val *v, char *buf, size_t len)
{
    const struct gw_val *sk = gw_rec_get(&pem_schema, v, "private_key");
    const struct gw_val *pk = gw_rec_get(&pem_schema, v, "public_key");
    int have_sk = sk && sk->type == GW_V_STR, have_pk = pk && pk->type == GW_V_STR;

    (void)buf, (void)len;
    return gw_pem_check_keypair(have_sk ? sk->u.s : NULL, have_sk ? sk->n : 0,
                                have_pk ? pk->u.s : NULL, have_pk ? pk->n : 0);
}

/* keys.lua's custom_entity_check for jwk: the text must decode and name the entity's kid.
 * TODO(#5): Kong also loads the JWK as a key ("could not load JWK, likely not a valid key")
 * and checks its members against typedefs.jwk. */
static void
jwk_check(struct gw_vctx *ctx, const struct gw_val *jwk, const struct gw_val *kid)
{
    json_t *j = json_loadb(jwk->u.s, jwk->n, JSON_DECODE_ANY, NULL);

    if (j == NULL) {
        gw_vctx_entity_err(ctx, "could not json decode jwk string");
        return;
    }
    const char *jkid = json_string_value(json_object_get(j, "kid"));
    if (jkid == NULL || kid == NULL || kid->type != GW_V_STR || strcmp(jkid, kid->u.s) != 0) {
        gw_vctx_entity_err(ctx, "kid in jwk.kid must be equal to keys.kid");
    }
    json_decref(j);
}

static void
key_check(struct gw_vctx *ctx, const struct gw_record *r, struct gw_val *rec)
{
    /* kong.constants KEY_FORMATS, in Kong's order of entity checks */
    static const char *const formats[] = {"jwk", "pem", NULL};
    const struct gw_val *jwk = gw_rec_get(r, rec, "jwk");

    gw_echeck_mutually_exclusive(ctx, r, rec, formats);
    gw_echeck_at_least_one_of(ctx, r, rec, formats);
    if (jwk && jwk->type == GW_V_STR) {
        jwk_check(ctx, jwk, gw_rec_get(r, rec, "kid"));
    }
}

static struct gw_field key_fields[] = {
    ID_FIELD,
    {.name = "set", .type = GW_T_FOREIGN, .ref = "key_sets"},
    {.name = "name", .type = GW_T_STRING, .flags = GW_F_UNIQUE},
    {.name = "kid", .type = GW_T_STRING, .flags = GW_F_REQUIRED},
    {.name = "jwk", .type = GW_T_STRING, .flags = GW_F_SENSITIVE},
    {.name = "pem", .type = GW_T_RECORD, .flags = GW_F_NULLABLE, .record = &pem_schema,
     .check = check_pem},
    TAGS_FIELD,
    CREATED_AT,
    UPDATED_AT,
    {.name = NULL},
};
static struct gw_record key_schema = {.name = "keys", .fields = key_fields, .check = key_check};

/* ------------------------------------------------------------------ the table */

static const char *const consumer_unique[] = {"custom_id", NULL};
static const char *const ca_unique[] = {"cert_digest", NULL};
static const char *const plugin_cache_key[] = {"name", "route", "service", "consumer", NULL};
static const char *const target_cache_key[] = {"upstream", "target", NULL};
static const char *const acl_cache_key[] = {"consumer", "group", NULL};
static const char *const key_cache_key[] = {"kid", "set", NULL};
static const char *const autogen_key[] = {"key", NULL};
static const char *const autogen_key_secret[] = {"key", "secret", NULL};
static const char *const autogen_secret[] = {"secret", NULL};

const struct gw_entity_def gw_entities[GW_ENT__COUNT] = {
    [GW_ENT_SERVICES] = {GW_ENT_SERVICES, "services", "service", "services", NULL, &service_schema,
                         "name", NULL, NULL, NULL},
    [GW_ENT_ROUTES] = {GW_ENT_ROUTES, "routes", "route", "routes", NULL, &route_schema, "name", NULL,
                       NULL, NULL},
    [GW_ENT_CONSUMERS] = {GW_ENT_CONSUMERS, "consumers", "consumer", "consumers", NULL,
                          &consumer_schema, "username", consumer_unique, NULL, NULL},
    [GW_ENT_PLUGINS] = {GW_ENT_PLUGINS, "plugins", "plugin", "plugins", NULL, &plugin_schema,
                        "instance_name", NULL, plugin_cache_key, NULL},
    [GW_ENT_UPSTREAMS] = {GW_ENT_UPSTREAMS, "upstreams", "upstream", "upstreams", NULL,
                          &upstream_schema, "name", NULL, NULL, NULL},
    [GW_ENT_TARGETS] = {GW_ENT_TARGETS, "targets", "target", "targets", NULL, &target_schema,
                        "target", NULL, target_cache_key, NULL},
    [GW_ENT_CERTIFICATES] = {GW_ENT_CERTIFICATES, "certificates", "certificate", "certificates",
                             NULL, &certificate_schema, NULL, NULL, NULL, NULL},
    [GW_ENT_SNIS] = {GW_ENT_SNIS, "snis", "sni", "snis", NULL, &sni_schema, "name", NULL, NULL,
                     NULL},
    [GW_ENT_CA_CERTIFICATES] = {GW_ENT_CA_CERTIFICATES, "ca_certificates", "ca_certificate",
                                "ca_certificates", NULL, &ca_schema, NULL, ca_unique, NULL, NULL},
    [GW_ENT_KEYAUTH_CREDENTIALS] = {GW_ENT_KEYAUTH_CREDENTIALS, "keyauth_credentials",
                                    "keyauth_credential", "key-auths", "key-auth", &keyauth_schema,
                                    "key", NULL, NULL, autogen_key},
    [GW_ENT_BASICAUTH_CREDENTIALS] = {GW_ENT_BASICAUTH_CREDENTIALS, "basicauth_credentials",
                                      "basicauth_credential", "basic-auths", "basic-auth",
                                      &basicauth_schema, "username", NULL, NULL, NULL},
    [GW_ENT_JWT_SECRETS] = {GW_ENT_JWT_SECRETS, "jwt_secrets", "jwt_secret", "jwts", "jwt",
                            &jwt_schema, "key", NULL, NULL, autogen_key_secret},
    [GW_ENT_HMACAUTH_CREDENTIALS] = {GW_ENT_HMACAUTH_CREDENTIALS, "hmacauth_credentials",
                                     "hmacauth_credential", "hmac-auths", "hmac-auth",
                                     &hmacauth_schema, "username", NULL, NULL, autogen_secret},
    [GW_ENT_ACLS] = {GW_ENT_ACLS, "acls", "acl", "acls", "acls", &acl_schema, NULL, NULL,
                     acl_cache_key, NULL},
    [GW_ENT_KEY_SETS] = {GW_ENT_KEY_SETS, "key_sets", "key_set", "key-sets", NULL,
                         &key_set_schema, "name", NULL, NULL, NULL},
    [GW_ENT_KEYS] = {GW_ENT_KEYS, "keys", "key", "keys", NULL, &key_schema, "name", NULL,
                     key_cache_key, NULL},
};

const struct gw_nesting gw_nestings[] = {
    {GW_ENT_SERVICES, "routes", GW_ENT_ROUTES, "service"},
    {GW_ENT_SERVICES, "plugins", GW_ENT_PLUGINS, "service"},
    {GW_ENT_ROUTES, "plugins", GW_ENT_PLUGINS, "route"},
    {GW_ENT_CONSUMERS, "plugins", GW_ENT_PLUGINS, "consumer"},
    {GW_ENT_CONSUMERS, "keyauth_credentials", GW_ENT_KEYAUTH_CREDENTIALS, "consumer"},
    {GW_ENT_CONSUMERS, "basicauth_credentials", GW_ENT_BASICAUTH_CREDENTIALS, "consumer"},
    {GW_ENT_CONSUMERS, "jwt_secrets", GW_ENT_JWT_SECRETS, "consumer"},
    {GW_ENT_CONSUMERS, "hmacauth_credentials", GW_ENT_HMACAUTH_CREDENTIALS, "consumer"},
    {GW_ENT_CONSUMERS, "acls", GW_ENT_ACLS, "consumer"},
    {GW_ENT_UPSTREAMS, "targets", GW_ENT_TARGETS, "upstream"},
    {GW_ENT_CERTIFICATES, "snis", GW_ENT_SNIS, "certificate"},
    {GW_ENT_KEY_SETS, "keys", GW_ENT_KEYS, "set"},
};
const size_t gw_nestings_count = sizeof gw_nestings / sizeof gw_nestings[0];

void
gw_basicauth_hash(const char *pw, size_t pw_len, const char *consumer_id, size_t id_len,
                  char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();

    memset(md, 0, sizeof md);
    if (c) {
        EVP_DigestInit_ex(c, EVP_sha1(), NULL);
        EVP_DigestUpdate(c, pw, pw_len);
        EVP_DigestUpdate(c, consumer_id, id_len);
        EVP_DigestFinal_ex(c, md, &n);
        EVP_MD_CTX_free(c);
    }
    gw_hex_lower(md, 20, out);
}

const struct gw_entity_def *
gw_entity_find(const char *name)
{
    for (int i = 0; i < GW_ENT__COUNT; i++) {
        if (strcmp(gw_entities[i].name, name) == 0) {
            return &gw_entities[i];
        }
    }
    return NULL;
}

int
gw_model_init(void)
{
    static struct gw_arena *arena;
    static int done;

    if (done) {
        return 0;
    }
    done = 1;
    arena = gw_arena_create(4096);
    if (arena == NULL) {
        return -1;
    }
    for (int i = 0; i < GW_ENT__COUNT; i++) {
        if (gw_schema_prepare(gw_entities[i].schema) < 0) {
            return -1;
        }
    }
    if (gw_plugin_schemas_count > sizeof plugin_protocols / sizeof plugin_protocols[0]) {
        fprintf(stderr, "model: too many plugins\n");
        return -1;
    }
    for (size_t i = 0; i < gw_plugin_schemas_count; i++) {
        const struct gw_plugin_schema *ps = gw_plugin_schemas[i];
        if (gw_schema_prepare(ps->config) < 0) {
            return -1;
        }
        if (ps->protocols_dflt) {
            json_t *j = json_loads(ps->protocols_dflt, 0, NULL);
            if (j == NULL || gw_val_from_json(arena, j, &plugin_protocols[i]) < 0) {
                fprintf(stderr, "plugin %s: bad protocols default\n", ps->name);
                json_decref(j);
                return -1;
            }
            json_decref(j);
        }
    }
    return 0;
}

/* response-transformer: remove, rename, replace, add and append headers of the downstream
 * response (Kong priority 800, header_filter), in Kong's order remove -> rename -> replace
 * -> add (only if absent) -> append; and the same on the top-level keys of a JSON response
 * body (body_filter), after Kong's body_transformer.lua.
 *
 * JSON: only when the response's Content-Type holds application/json (or is an
 * application/...+json type) and some json list is set; header_filter then asks the proxy
 * for the whole body, which goes out with its new Content-Length. A body that is not a JSON
 * object passes unchanged, and so does one larger than max_buffered_body_size (the proxy
 * gives up buffering and streams it). json_types[i] types the i-th value: number (a value
 * that is not a number skips the entry), boolean (true only for "true"), string by default.
 * replace needs the key present and not false, add needs it absent or false (Lua's truth);
 * append makes [old, value] of a string, adds to an array, and [value] of anything else.
 * Untouched values keep their bytes (Kong re-encodes them with cjson: the same JSON).
 *
 * Editing the framing headers (Content-Length, Transfer-Encoding, Connection, Upgrade) is
 * ignored: the proxy writes those itself. Headers the gateway adds after the upstream's
 * (Server, Via, X-Kong-*) are not seen by rename, replace and add. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "body.h"
#include "plugin.h"
#include "schema.h"
#include "transform.h"

struct entry {
    const char *name;
    struct gw_str value; /* rename: the new name */
};

struct jentry {
    struct gw_str name;
    struct gw_str raw; /* the value as JSON text (rename: the new name, not encoded) */
};

struct conf {
    struct entry *e[GW_XF_NOPS];
    unsigned n[GW_XF_NOPS];
    struct jentry *j[GW_XF_NOPS];
    unsigned nj[GW_XF_NOPS];
    int json_ops;
};

/* Kong's json_value(): the configured string as a JSON value of the given type; .p == NULL
 * when a number does not parse (the entry is skipped) */
static struct gw_str
json_value(struct gw_arena *a, const char *v, const char *type)
{
    if (type && strcmp(type, "number") == 0) {
        char *end;
        double d = strtod(v, &end);
        while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r') {
            end++;
        }
        if (end == v || *end || !isfinite(d)) {
            return GW_STR_NULL;
        }
        char *o = gw_arena_alloc(a, 32);
        if (o == NULL) {
            return GW_STR_NULL;
        }
        return (struct gw_str){o, (size_t)snprintf(o, 32, "%.14g", d)}; /* cjson's format */
    }
    if (type && strcmp(type, "boolean") == 0) {
        return strcmp(v, "true") == 0 ? GW_STR_LIT("true") : GW_STR_LIT("false");
    }
    return gw_body_json_string(a, (struct gw_str){v, strlen(v)});
}

static int
compile_json(const struct gw_record *r, const struct gw_val *c, int op, struct gw_arena *a,
             struct conf *t)
{
    const struct gw_val *arr = gw_xf_list(r, c, gw_xf_op_names[op], "json");
    const struct gw_val *types = gw_xf_list(r, c, gw_xf_op_names[op], "json_types");

    if (arr == NULL) {
        return 0;
    }
    if ((t->j[op] = gw_arena_calloc(a, sizeof *t->j[op] * arr->n)) == NULL) {
        return -1;
    }
    for (uint32_t i = 0; i < arr->n; i++) {
        const char *s = arr->u.items[i].type == GW_V_STR ? arr->u.items[i].u.s : NULL;
        const char *type = types && i < types->n && types->u.items[i].type == GW_V_STR
                               ? types->u.items[i].u.s
                               : NULL;
        if (s == NULL) {
            continue;
        }
        size_t nl = op == GW_XF_REMOVE ? strlen(s) : strcspn(s, ":");
        const char *v = s + nl;
        while (*v == ':') {
            v++;
        }
        struct jentry *e = &t->j[op][t->nj[op]];
        e->name = (struct gw_str){s, nl};
        if (op == GW_XF_RENAME) {
            e->raw = (struct gw_str){v, strlen(v)};
        } else if (op != GW_XF_REMOVE) {
            e->raw = json_value(a, v, type);
            if (e->raw.p == NULL) {
                continue;
            }
        }
        t->nj[op]++;
        t->json_ops = 1;
    }
    return 0;
}

static void *
compile(const struct gw_record *r, const struct gw_val *c, struct gw_arena *a, char *err,
        size_t errlen)
{
    struct conf *t = gw_arena_calloc(a, sizeof *t);

    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (int op = 0; op < GW_XF_NOPS; op++) {
        const struct gw_val *arr = gw_xf_list(r, c, gw_xf_op_names[op], "headers");
        if (compile_json(r, c, op, a, t) < 0) {
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        if (arr == NULL || arr->n == 0) {
            continue;
        }
        t->e[op] = gw_arena_calloc(a, sizeof *t->e[op] * arr->n);
        if (t->e[op] == NULL) {
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        for (uint32_t i = 0; i < arr->n; i++) {
            const char *s = arr->u.items[i].type == GW_V_STR ? arr->u.items[i].u.s : NULL;
            if (s == NULL) {
                continue;
            }
            size_t nl;
            const char *v;
            if (gw_xf_split(s, op, &nl, &v, err, errlen) < 0) {
                return NULL;
            }
            if (gw_xf_framing_header(s, nl, 0) ||
                (op == GW_XF_RENAME && gw_xf_framing_header(v, strlen(v), 0))) {
                continue;
            }
            struct entry *e = &t->e[op][t->n[op]];
            e->name = gw_arena_strndup(a, s, nl);
            e->value.p = op == GW_XF_REMOVE ? NULL : gw_arena_strndup(a, v, strlen(v));
            if (e->name == NULL || (op != GW_XF_REMOVE && e->value.p == NULL)) {
                snprintf(err, errlen, "out of memory");
                return NULL;
            }
            e->value.n = e->value.p ? strlen(e->value.p) : 0;
            t->n[op]++;
        }
    }
    return t;
}

#define MAXV 32

/* application/json anywhere in it (Kong's is_json_body), or an application/...+json type */
static int
is_json(struct gw_str ct)
{
    size_t semi = 0;

    if (ct.p == NULL) {
        return 0;
    }
    if (gw_body_kind(ct) == GW_BODY_JSON) {
        return 1;
    }
    while (semi < ct.n && ct.p[semi] != ';' && ct.p[semi] != ' ') {
        semi++;
    }
    return semi > 17 && strncasecmp(ct.p, "application/", 12) == 0 &&
           strncasecmp(ct.p + semi - 5, "+json", 5) == 0;
}

static unsigned
values(struct gw_pctx *ctx, const char *name, struct gw_str *out)
{
    return gw_pctx_header_values(ctx->resp_h, ctx->resp_edits, ctx->nresp_edits, name, out, MAXV);
}

static void
header_filter(struct gw_pctx *ctx, const void *conf, const void *global)
{
    const struct conf *t = conf;
    struct gw_str v[MAXV];
    (void)global;

    for (unsigned i = 0; i < t->n[GW_XF_REMOVE]; i++) {
        gw_pctx_remove_resp_header(ctx, t->e[GW_XF_REMOVE][i].name);
    }
    for (unsigned i = 0; i < t->n[GW_XF_RENAME]; i++) {
        const struct entry *e = &t->e[GW_XF_RENAME][i];
        unsigned n = values(ctx, e->name, v);
        if (n == 0 || strcasecmp(e->name, e->value.p) == 0) {
            continue;
        }
        gw_pctx_remove_resp_header(ctx, e->name);
        gw_pctx_set_resp_header(ctx, e->value.p, v[0]);
        for (unsigned k = 1; k < n; k++) {
            gw_pctx_append_resp_header(ctx, e->value.p, v[k]);
        }
    }
    for (unsigned i = 0; i < t->n[GW_XF_REPLACE]; i++) {
        const struct entry *e = &t->e[GW_XF_REPLACE][i];
        if (values(ctx, e->name, v)) {
            gw_pctx_set_resp_header(ctx, e->name, e->value);
        }
    }
    for (unsigned i = 0; i < t->n[GW_XF_ADD]; i++) {
        const struct entry *e = &t->e[GW_XF_ADD][i];
        if (values(ctx, e->name, v) == 0) {
            gw_pctx_set_resp_header(ctx, e->name, e->value);
        }
    }
    for (unsigned i = 0; i < t->n[GW_XF_APPEND]; i++) {
        gw_pctx_append_resp_header(ctx, t->e[GW_XF_APPEND][i].name, t->e[GW_XF_APPEND][i].value);
    }
    if (t->json_ops && is_json(gw_pctx_resp_content_type(ctx))) {
        gw_pctx_buffer_resp_body(ctx);
    }
}

/* Lua's truth of json_body[name]: present and not false */
static int
truthy(const struct gw_body_doc *d, struct gw_str name, int *idx)
{
    int i = gw_body_find(d, name, NULL);

    *idx = i;
    return i >= 0 && d->f[i].type != 'f';
}

static int
set(struct gw_body_doc *d, int i, struct gw_str name, struct gw_str raw)
{
    char type = raw.p[0] == '"' ? 's' : raw.p[0] == 't' ? 't' : raw.p[0] == 'f' ? 'f' : 'n';

    return i >= 0 ? gw_body_set(d, (unsigned)i, raw, GW_STR_NULL, type)
                  : gw_body_add(d, name, raw, GW_STR_NULL, type);
}

/* append_value(): a string s becomes [s, v], an array takes v, anything else [v] */
static int
append(struct gw_arena *a, struct gw_body_doc *d, struct gw_str name, struct gw_str v)
{
    int i = gw_body_find(d, name, NULL);
    struct gw_str old = i >= 0 ? d->f[i].raw : GW_STR_NULL;
    char type = i >= 0 ? d->f[i].type : 'z';
    size_t cap = old.n + v.n + 4;
    char *o = gw_arena_alloc(a, cap);
    int n;

    if (o == NULL) {
        return -1;
    }
    if (type == 'a') {
        size_t k = old.n - 1; /* the ']' */
        while (k > 1 && strchr(" \t\r\n", old.p[k - 1])) {
            k--;
        }
        n = snprintf(o, cap, "%.*s%s%.*s]", (int)(old.n - 1), old.p, old.p[k - 1] == '[' ? "" : ",",
                     (int)v.n, v.p);
    } else if (type == 's') {
        n = snprintf(o, cap, "[%.*s,%.*s]", (int)old.n, old.p, (int)v.n, v.p);
    } else {
        n = snprintf(o, cap, "[%.*s]", (int)v.n, v.p);
    }
    struct gw_str raw = {o, (size_t)n};
    return i >= 0 ? gw_body_set(d, (unsigned)i, raw, GW_STR_NULL, 'a')
                  : gw_body_add(d, name, raw, GW_STR_NULL, 'a');
}

static void
body_filter(struct gw_pctx *ctx, const void *conf, const void *global)
{
    const struct conf *t = conf;
    struct gw_str in = gw_pctx_resp_body(ctx);
    struct gw_body_doc d;
    int i;
    (void)global;

    if (!t->json_ops || !is_json(gw_pctx_resp_content_type(ctx)) || in.n == 0 ||
        gw_body_parse(ctx->arena, GW_BODY_JSON, GW_STR_NULL, in, &d) < 0) {
        return; /* "failed parsing json body": the body passes unchanged */
    }
    for (unsigned k = 0; k < t->nj[GW_XF_REMOVE]; k++) {
        gw_body_remove(&d, t->j[GW_XF_REMOVE][k].name);
    }
    for (unsigned k = 0; k < t->nj[GW_XF_RENAME]; k++) {
        const struct jentry *e = &t->j[GW_XF_RENAME][k];
        if (gw_body_find(&d, e->name, NULL) >= 0 && !gw_str_eq(e->name, e->raw)) {
            gw_body_remove(&d, e->raw);
            gw_body_rename(&d, e->name, e->raw);
        }
    }
    for (unsigned k = 0; k < t->nj[GW_XF_REPLACE]; k++) {
        const struct jentry *e = &t->j[GW_XF_REPLACE][k];
        if (truthy(&d, e->name, &i)) {
            set(&d, i, e->name, e->raw);
        }
    }
    for (unsigned k = 0; k < t->nj[GW_XF_ADD]; k++) {
        const struct jentry *e = &t->j[GW_XF_ADD][k];
        if (!truthy(&d, e->name, &i)) {
            set(&d, i, e->name, e->raw);
        }
    }
    for (unsigned k = 0; k < t->nj[GW_XF_APPEND]; k++) {
        append(ctx->arena, &d, t->j[GW_XF_APPEND][k].name, t->j[GW_XF_APPEND][k].raw);
    }
    struct gw_str out = gw_body_serialize(&d);
    if (out.p) {
        gw_pctx_set_resp_body(ctx, out); /* Kong re-encodes even when nothing changed */
    }
}

const struct gw_plugin gw_handler_response_transformer = {
    .schema = &gw_schema_response_transformer,
    .compile = compile,
    .header_filter = header_filter,
    .body_filter = body_filter,
};

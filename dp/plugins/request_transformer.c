/* request-transformer: the upstream request's method, headers, body fields and query
 * arguments (Kong priority 801), in Kong's order: http_method, headers, body, query string,
 * each remove -> rename -> replace -> add -> append.
 *
 * http_method sets the method; to GET, HEAD or TRACE it also copies the fields of a
 * form-urlencoded body into the query string (the body stays). Body operations apply to
 * application/json, application/x-www-form-urlencoded and multipart/form-data bodies (the
 * Content-Type as this plugin's header edits left it; no append for multipart): remove,
 * rename and replace only to a non-empty body, which the proxy reads whole before this
 * handler (needs_body); a JSON body that is not an object is left as it is; JSON values are
 * strings; replace needs the field present (a JSON false counts as absent, as Lua's truth
 * does), add needs it absent. A changed body goes upstream with its new Content-Length.
 *
 * Not done here: replace.uri and $(...) templates in values. Editing Host and the framing
 * headers (Content-Length, Transfer-Encoding, Connection, Upgrade) is ignored: the proxy
 * writes those itself. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "body.h"
#include "plugin.h"
#include "schema.h"
#include "transform.h"

struct entry {
    const char *name;    /* header: as configured; query: percent-encoded */
    struct gw_str value; /* rename: the new name; query set/append: "=" and encoded value */
};

struct list {
    struct entry *e;
    unsigned n;
};

struct bentry {
    struct gw_str name, value; /* as configured, not encoded */
};

struct conf {
    struct list hdr[GW_XF_NOPS], qs[GW_XF_NOPS];
    struct bentry *body[GW_XF_NOPS];
    unsigned nbody[GW_XF_NOPS];
    int body_ops;       /* some body list is not empty */
    int sets_ctype;     /* a header edit may set Content-Type */
    struct gw_str method;
    int method_to_query; /* GET, HEAD, TRACE: form fields go to the query string */
};

/* ngx.escape_uri as ngx.encode_args uses it: everything but unreserved characters */
static char *
encode(struct gw_arena *a, const char *prefix, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t pl = strlen(prefix);
    char *out = gw_arena_alloc(a, pl + n * 3 + 1), *o = out;

    if (out == NULL) {
        return NULL;
    }
    memcpy(o, prefix, pl);
    o += pl;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            *o++ = (char)ch;
        } else {
            *o++ = '%';
            *o++ = hex[ch >> 4];
            *o++ = hex[ch & 15];
        }
    }
    *o = '\0';
    return out;
}

/* "name:value" split as Kong's ^([^:]+):*(.-)$; remove entries are names only */
static int
compile_list(const struct gw_val *arr, int op, int query, struct gw_arena *a, struct list *l,
             char *err, size_t errlen)
{
    if (arr == NULL || arr->n == 0) {
        return 0;
    }
    l->e = gw_arena_calloc(a, sizeof *l->e * arr->n);
    if (l->e == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (uint32_t i = 0; i < arr->n; i++) {
        const char *s = arr->u.items[i].type == GW_V_STR ? arr->u.items[i].u.s : NULL;
        if (s == NULL) {
            continue;
        }
        size_t nl;
        const char *v;
        if (gw_xf_split(s, op, &nl, &v, err, errlen) < 0) {
            return -1;
        }
        if (!query && (gw_xf_framing_header(s, nl, 1) ||
                       (op == GW_XF_RENAME && gw_xf_framing_header(v, strlen(v), 1)))) {
            continue;
        }
        struct entry *e = &l->e[l->n];
        if (query) {
            e->name = encode(a, "", s, nl);
            e->value.p =
                op == GW_XF_REMOVE ? NULL : encode(a, op == GW_XF_RENAME ? "" : "=", v, strlen(v));
        } else {
            e->name = gw_arena_strndup(a, s, nl);
            e->value.p = op == GW_XF_REMOVE ? NULL : gw_arena_strndup(a, v, strlen(v));
        }
        if (e->name == NULL || (op != GW_XF_REMOVE && e->value.p == NULL)) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        e->value.n = e->value.p ? strlen(e->value.p) : 0;
        l->n++;
    }
    return 0;
}

/* body entries: "name:value" split as the others, values kept as they are (they go into a
 * body, not a header) */
static int
compile_body(const struct gw_val *arr, int op, struct gw_arena *a, struct conf *t, char *err,
             size_t errlen)
{
    if (arr == NULL || arr->n == 0) {
        return 0;
    }
    if ((t->body[op] = gw_arena_calloc(a, sizeof *t->body[op] * arr->n)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (uint32_t i = 0; i < arr->n; i++) {
        const char *s = arr->u.items[i].type == GW_V_STR ? arr->u.items[i].u.s : NULL;
        if (s == NULL) {
            continue;
        }
        size_t nl = op == GW_XF_REMOVE ? strlen(s) : strcspn(s, ":");
        const char *v = s + nl;
        while (*v == ':') {
            v++;
        }
        t->body[op][t->nbody[op]++] = (struct bentry){{s, nl}, {v, strlen(v)}};
        t->body_ops = 1;
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
        if (compile_list(gw_xf_list(r, c, gw_xf_op_names[op], "headers"), op, 0, a, &t->hdr[op],
                         err, errlen) != 0 ||
            compile_list(gw_xf_list(r, c, gw_xf_op_names[op], "querystring"), op, 1, a, &t->qs[op],
                         err, errlen) != 0) {
            return NULL;
        }
        if (compile_body(gw_xf_list(r, c, gw_xf_op_names[op], "body"), op, a, t, err, errlen) <
            0) {
            return NULL;
        }
        for (unsigned i = 0; i < t->hdr[op].n; i++) {
            const struct entry *e = &t->hdr[op].e[i];
            t->sets_ctype |= strcasecmp(e->name, "content-type") == 0 ||
                             (op == GW_XF_RENAME && strcasecmp(e->value.p, "content-type") == 0);
        }
    }
    const struct gw_val *m = gw_rec_get(r, c, "http_method");
    if (m && m->type == GW_V_STR && m->n) {
        t->method = (struct gw_str){m->u.s, m->n};
        t->method_to_query = strcmp(m->u.s, "GET") == 0 || strcmp(m->u.s, "HEAD") == 0 ||
                             strcmp(m->u.s, "TRACE") == 0;
    }
    return t;
}

#define MAXV 32

static unsigned
values(struct gw_pctx *ctx, const char *name, struct gw_str *out)
{
    return gw_pctx_header_values(ctx->h, ctx->req_edits, ctx->nreq_edits, name, out, MAXV);
}

static void
headers(struct gw_pctx *ctx, const struct conf *t)
{
    struct gw_str v[MAXV];

    for (unsigned i = 0; i < t->hdr[GW_XF_REMOVE].n; i++) {
        gw_pctx_remove_header(ctx, t->hdr[GW_XF_REMOVE].e[i].name);
    }
    for (unsigned i = 0; i < t->hdr[GW_XF_RENAME].n; i++) {
        const struct entry *e = &t->hdr[GW_XF_RENAME].e[i];
        unsigned n = values(ctx, e->name, v);
        if (n == 0 || strcasecmp(e->name, e->value.p) == 0) {
            continue;
        }
        gw_pctx_remove_header(ctx, e->name);
        gw_pctx_set_header(ctx, e->value.p, v[0]);
        for (unsigned k = 1; k < n; k++) {
            gw_pctx_append_header(ctx, e->value.p, v[k]);
        }
    }
    for (unsigned i = 0; i < t->hdr[GW_XF_REPLACE].n; i++) {
        const struct entry *e = &t->hdr[GW_XF_REPLACE].e[i];
        if (values(ctx, e->name, v)) {
            gw_pctx_set_header(ctx, e->name, e->value);
        }
    }
    for (unsigned i = 0; i < t->hdr[GW_XF_ADD].n; i++) {
        const struct entry *e = &t->hdr[GW_XF_ADD].e[i];
        if (values(ctx, e->name, v) == 0) {
            gw_pctx_set_header(ctx, e->name, e->value);
        }
    }
    for (unsigned i = 0; i < t->hdr[GW_XF_APPEND].n; i++) {
        const struct entry *e = &t->hdr[GW_XF_APPEND].e[i];
        gw_pctx_append_header(ctx, e->name, e->value);
    }
}

static void
query(struct gw_pctx *ctx, const struct conf *t)
{
    for (int op = 0; op < GW_XF_NOPS; op++) {
        for (unsigned i = 0; i < t->qs[op].n; i++) {
            const struct entry *e = &t->qs[op].e[i];
            struct gw_str name = {e->name, strlen(e->name)};
            int present = gw_pctx_query_present(ctx, name);
            switch (op) {
            case GW_XF_REMOVE:
                if (present) {
                    gw_pctx_query_edit(ctx, GW_QE_REMOVE, name, GW_STR_NULL);
                }
                break;
            case GW_XF_RENAME:
                if (present) {
                    gw_pctx_query_edit(ctx, GW_QE_RENAME, name, e->value);
                }
                break;
            case GW_XF_REPLACE:
                if (present) {
                    gw_pctx_query_edit(ctx, GW_QE_SET, name, e->value);
                }
                break;
            case GW_XF_ADD:
                if (!present) {
                    gw_pctx_query_edit(ctx, GW_QE_SET, name, e->value);
                }
                break;
            default:
                gw_pctx_query_edit(ctx, GW_QE_APPEND, name, e->value);
            }
        }
    }
}

/* ngx.escape_uri of a decoded form field, as a query argument name or "=value" */
static struct gw_str
qenc(struct gw_pctx *ctx, const char *prefix, struct gw_str s)
{
    char *e = encode(ctx->arena, prefix, s.p ? s.p : "", s.n);
    return e ? (struct gw_str){e, strlen(e)} : GW_STR_NULL;
}

/* http_method; to GET, HEAD or TRACE the form body's fields are added to the query */
static void
method(struct gw_pctx *ctx, const struct conf *t)
{
    struct gw_str ct = gw_pctx_content_type(ctx);
    struct gw_body_doc d;

    ctx->method = t->method;
    if (!t->method_to_query || gw_body_kind(ct) != GW_BODY_FORM || !ctx->body_read ||
        gw_body_parse(ctx->arena, GW_BODY_FORM, ct, gw_pctx_body(ctx), &d) < 0) {
        return;
    }
    for (unsigned i = 0; i < d.n; i++) {
        struct gw_str name = qenc(ctx, "", d.f[i].name);
        struct gw_str value = d.f[i].type == 'b' ? (struct gw_str){"", 0}
                                                 : qenc(ctx, "=", d.f[i].value);
        if (name.p && value.p) {
            gw_pctx_query_edit(ctx, GW_QE_APPEND, name, value);
        }
    }
}

/* Kong's "parameters[name]" test: present, and for JSON not false */
static int
present(const struct gw_body_doc *d, struct gw_str name, int *idx)
{
    int i = gw_body_find(d, name, NULL);

    *idx = i;
    return i >= 0 && !(d->kind == GW_BODY_JSON && d->f[i].type == 'f');
}

static int
set_value(struct gw_pctx *ctx, struct gw_body_doc *d, int i, struct gw_str name,
          struct gw_str value)
{
    struct gw_str raw = d->kind == GW_BODY_JSON ? gw_body_json_string(ctx->arena, value) : value;

    if (i >= 0) {
        return gw_body_set(d, (unsigned)i, raw, value, 's');
    }
    return gw_body_add(d, name, raw, value, 's');
}

/* JSON append: an array takes one more element; absent or null becomes [value]; any other
 * value v becomes [v, value] */
static int
json_append(struct gw_pctx *ctx, struct gw_body_doc *d, struct gw_str name, struct gw_str value)
{
    struct gw_str v = gw_body_json_string(ctx->arena, value);
    int i = gw_body_find(d, name, NULL);
    struct gw_str old = i >= 0 ? d->f[i].raw : GW_STR_NULL;
    char type = i >= 0 ? d->f[i].type : 'z';
    size_t cap = old.n + v.n + 4;
    char *o = gw_arena_alloc(ctx->arena, cap);
    int n;

    if (o == NULL || v.p == NULL) {
        return -1;
    }
    if (type == 'a') {
        size_t k = old.n - 1; /* the ']' */
        while (k > 1 && strchr(" \t\r\n", old.p[k - 1])) {
            k--;
        }
        n = snprintf(o, cap, "%.*s%s%.*s]", (int)(old.n - 1), old.p, old.p[k - 1] == '[' ? "" : ",",
                     (int)v.n, v.p);
    } else if (type == 'z') {
        n = snprintf(o, cap, "[%.*s]", (int)v.n, v.p);
    } else {
        n = snprintf(o, cap, "[%.*s,%.*s]", (int)old.n, old.p, (int)v.n, v.p);
    }
    struct gw_str raw = {o, (size_t)n};
    return i >= 0 ? gw_body_set(d, (unsigned)i, raw, GW_STR_NULL, 'a')
                  : gw_body_add(d, name, raw, GW_STR_NULL, 'a');
}

/* The five operations on a parsed body; whether it changed. */
static int
body_ops(struct gw_pctx *ctx, const struct conf *t, struct gw_body_doc *d, int has_content)
{
    int changed = 0, i;

    for (unsigned k = 0; has_content && k < t->nbody[GW_XF_REMOVE]; k++) {
        changed |= gw_body_remove(d, t->body[GW_XF_REMOVE][k].name) > 0;
    }
    for (unsigned k = 0; has_content && k < t->nbody[GW_XF_RENAME]; k++) {
        const struct bentry *e = &t->body[GW_XF_RENAME][k];
        if (gw_body_find(d, e->name, NULL) >= 0 && !gw_str_eq(e->name, e->value)) {
            gw_body_remove(d, e->value); /* the renamed field replaces one of that name */
            gw_body_rename(d, e->name, e->value);
            changed = 1;
        }
    }
    for (unsigned k = 0; has_content && k < t->nbody[GW_XF_REPLACE]; k++) {
        const struct bentry *e = &t->body[GW_XF_REPLACE][k];
        if (present(d, e->name, &i)) {
            changed |= set_value(ctx, d, i, e->name, e->value) == 0;
        }
    }
    for (unsigned k = 0; k < t->nbody[GW_XF_ADD]; k++) {
        const struct bentry *e = &t->body[GW_XF_ADD][k];
        if (!present(d, e->name, &i) && (i < 0 || d->kind == GW_BODY_JSON)) {
            changed |= set_value(ctx, d, i, e->name, e->value) == 0;
        }
    }
    for (unsigned k = 0; d->kind != GW_BODY_MULTIPART && k < t->nbody[GW_XF_APPEND]; k++) {
        const struct bentry *e = &t->body[GW_XF_APPEND][k];
        if (d->kind == GW_BODY_JSON) {
            changed |= json_append(ctx, d, e->name, e->value) == 0;
        } else {
            changed |= gw_body_add(d, e->name, e->value, e->value, 's') == 0;
        }
    }
    return changed;
}

static void
body(struct gw_pctx *ctx, const struct conf *t)
{
    struct gw_str ct = gw_pctx_content_type(ctx);
    enum gw_body_kind kind = gw_body_kind(ct);
    struct gw_body_doc d;

    if (!t->body_ops || kind == GW_BODY_OTHER) {
        return;
    }
    if (!ctx->body_read && (ctx->h->chunked || ctx->h->content_length > 0)) {
        return; /* a body that needs_body did not ask for (its type came later): as it is */
    }
    struct gw_str raw = gw_pctx_body(ctx);
    if (gw_body_parse(ctx->arena, kind, ct, raw, &d) < 0) {
        return; /* not an object, or multipart without a boundary: left unchanged */
    }
    if (body_ops(ctx, t, &d, raw.n > 0)) {
        struct gw_str out = gw_body_serialize(&d);
        if (out.p) {
            gw_pctx_set_body(ctx, out);
        }
    }
}

static int
needs_body(const void *conf, const struct gw_pctx *ctx)
{
    const struct conf *t = conf;
    enum gw_body_kind kind = gw_body_kind(gw_pctx_content_type(ctx));

    return (t->body_ops && (kind != GW_BODY_OTHER || t->sets_ctype)) ||
           (t->method_to_query && kind == GW_BODY_FORM);
}

static int
access(struct gw_pctx *ctx, const void *conf, const void *global)
{
    const struct conf *t = conf;
    (void)global;

    if (t->method.p) {
        method(ctx, t);
    }
    headers(ctx, t);
    body(ctx, t);
    query(ctx, t);
    return 0;
}

const struct gw_plugin gw_handler_request_transformer = {
    .schema = &gw_schema_request_transformer,
    .compile = compile,
    .access = access,
    .needs_body = needs_body,
};

/* request-transformer: remove, rename, replace, add and append headers and query arguments
 * of the upstream request (Kong priority 801), in Kong's order: headers, then the query
 * string, each remove -> rename -> replace -> add -> append.
 *
 * Not done here: body transformations (remove/rename/replace/add/append of JSON, form and
 * multipart fields), replace.uri, http_method and $(...) templates in values. Editing Host
 * and the framing headers (Content-Length, Transfer-Encoding, Connection, Upgrade) is
 * ignored: the proxy writes those itself. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

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

struct conf {
    struct list hdr[GW_XF_NOPS], qs[GW_XF_NOPS];
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
        /* body: not supported yet (see the top of the file) */
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

static int
access(struct gw_pctx *ctx, const void *conf, const void *global)
{
    (void)global;
    headers(ctx, conf);
    /* body: not supported yet */
    query(ctx, conf);
    return 0;
}

const struct gw_plugin gw_handler_request_transformer = {
    .schema = &gw_schema_request_transformer,
    .compile = compile,
    .access = access,
};

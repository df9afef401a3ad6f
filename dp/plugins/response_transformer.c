/* response-transformer: remove, rename, replace, add and append headers of the downstream
 * response (Kong priority 800, header_filter), in Kong's order remove -> rename -> replace
 * -> add (only if absent) -> append.
 *
 * Not done here: the JSON body transformations (remove/rename/replace/add/append.json and
 * json_types), which need the body_filter phase. Editing the framing headers
 * (Content-Length, Transfer-Encoding, Connection, Upgrade) is ignored: the proxy writes
 * those itself. Headers the gateway adds after the upstream's (Server, Via, X-Kong-*) are
 * not seen by rename, replace and add. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "plugin.h"
#include "schema.h"

enum { OP_REMOVE, OP_RENAME, OP_REPLACE, OP_ADD, OP_APPEND, NOPS };
static const char *const op_names[NOPS] = {"remove", "rename", "replace", "add", "append"};

struct entry {
    const char *name;
    struct gw_str value; /* rename: the new name */
};

struct conf {
    struct entry *e[NOPS];
    unsigned n[NOPS];
};

static int
protected_header(const char *name, size_t n)
{
    static const char *const p[] = {"content-length", "transfer-encoding", "connection",
                                    "upgrade", NULL};
    for (const char *const *s = p; *s; s++) {
        if (strlen(*s) == n && strncasecmp(name, *s, n) == 0) {
            return 1;
        }
    }
    return 0;
}

static const struct gw_val *
headers_of(const struct gw_record *r, const struct gw_val *c, const char *op)
{
    const struct gw_val *v = gw_rec_get(r, c, op);

    if (v == NULL || v->type != GW_V_REC) {
        return NULL;
    }
    for (const struct gw_field *f = r->fields; f->name; f++) {
        if (strcmp(f->name, op) == 0 && f->record) {
            v = gw_rec_get(f->record, v, "headers");
            return v && v->type == GW_V_ARR ? v : NULL;
        }
    }
    return NULL;
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
    for (int op = 0; op < NOPS; op++) {
        const struct gw_val *arr = headers_of(r, c, op_names[op]);
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
            /* "name:value" split as Kong's ^([^:]+):*(.-)$; remove entries are names */
            size_t nl = op == OP_REMOVE ? strlen(s) : strcspn(s, ":");
            const char *v = s + nl;
            while (*v == ':') {
                v++;
            }
            if (strpbrk(s, "\r\n")) { /* never CR or LF on the wire (the schema refuses them) */
                snprintf(err, errlen, "invalid value: %s", s);
                return NULL;
            }
            if (protected_header(s, nl) || (op == OP_RENAME && protected_header(v, strlen(v)))) {
                continue;
            }
            struct entry *e = &t->e[op][t->n[op]];
            e->name = gw_arena_strndup(a, s, nl);
            e->value.p = op == OP_REMOVE ? NULL : gw_arena_strndup(a, v, strlen(v));
            if (e->name == NULL || (op != OP_REMOVE && e->value.p == NULL)) {
                snprintf(err, errlen, "out of memory");
                return NULL;
            }
            e->value.n = e->value.p ? strlen(e->value.p) : 0;
            t->n[op]++;
        }
        /* json: not supported yet (see the top of the file) */
    }
    return t;
}

#define MAXV 32

static unsigned
values(struct gw_pctx *ctx, const char *name, struct gw_str *out)
{
    return gw_pctx_header_values(ctx->resp_h, ctx->resp_edits, ctx->nresp_edits, name, out,
                                 MAXV);
}

static void
header_filter(struct gw_pctx *ctx, const void *conf, const void *global)
{
    const struct conf *t = conf;
    struct gw_str v[MAXV];
    (void)global;

    for (unsigned i = 0; i < t->n[OP_REMOVE]; i++) {
        gw_pctx_remove_resp_header(ctx, t->e[OP_REMOVE][i].name);
    }
    for (unsigned i = 0; i < t->n[OP_RENAME]; i++) {
        const struct entry *e = &t->e[OP_RENAME][i];
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
    for (unsigned i = 0; i < t->n[OP_REPLACE]; i++) {
        const struct entry *e = &t->e[OP_REPLACE][i];
        if (values(ctx, e->name, v)) {
            gw_pctx_set_resp_header(ctx, e->name, e->value);
        }
    }
    for (unsigned i = 0; i < t->n[OP_ADD]; i++) {
        const struct entry *e = &t->e[OP_ADD][i];
        if (values(ctx, e->name, v) == 0) {
            gw_pctx_set_resp_header(ctx, e->name, e->value);
        }
    }
    for (unsigned i = 0; i < t->n[OP_APPEND]; i++) {
        gw_pctx_append_resp_header(ctx, t->e[OP_APPEND][i].name, t->e[OP_APPEND][i].value);
    }
}

const struct gw_plugin gw_handler_response_transformer = {
    .schema = &gw_schema_response_transformer,
    .compile = compile,
    .header_filter = header_filter,
};

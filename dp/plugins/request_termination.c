/* request-termination: answers with a fixed status and body (Kong priority 2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"
#include "schema.h"

struct conf {
    int status;
    struct gw_str body; /* prepared at compile time: the raw body or {"message":...} */
    const char *ctype;
    const char *trigger;
};

/* Kong's defaults when no message is configured */
static const char *
default_message(int status)
{
    switch (status) {
    case 401: return "Unauthorized";
    case 404: return "Not found";
    case 405: return "Method not allowed";
    case 500: return "An unexpected error occurred";
    case 502: return "Bad Gateway";
    case 503: return "Service unavailable";
    default: return NULL;
    }
}

static const char *
str(const struct gw_record *r, const struct gw_val *c, const char *f)
{
    const struct gw_val *v = gw_rec_get(r, c, f);
    return v && v->type == GW_V_STR ? v->u.s : NULL;
}

static void *
compile(const struct gw_record *r, const struct gw_val *c, struct gw_arena *a, char *err,
        size_t errlen)
{
    struct conf *t = gw_arena_calloc(a, sizeof *t);
    const struct gw_val *st = gw_rec_get(r, c, "status_code");
    const char *body = str(r, c, "body"), *msg = str(r, c, "message");

    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->status = st && st->type == GW_V_INT ? (int)st->u.i : 503;
    t->trigger = str(r, c, "trigger");
    if (body) {
        t->body = (struct gw_str){body, strlen(body)};
        t->ctype = str(r, c, "content_type");
        return t;
    }
    msg = msg ? msg : default_message(t->status);
    if (msg) {
        json_t *j = json_pack("{s:s}", "message", msg);
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (text) {
            size_t n = strlen(text);
            char *copy = gw_arena_strndup(a, text, n);
            free(text);
            t->body = (struct gw_str){copy, copy ? n : 0};
        }
        t->ctype = "application/json; charset=utf-8";
    }
    return t;
}

static int
access(struct gw_pctx *ctx, const void *conf, const void *global)
{
    const struct conf *t = conf;
    (void)global;

    if (t->trigger && gw_pctx_header(ctx, t->trigger, NULL).p == NULL &&
        gw_pctx_query_arg(ctx, t->trigger, NULL).p == NULL) {
        return 0; /* only when the trigger header or argument is present */
    }
    return gw_pctx_exit(ctx, t->status, t->body, t->ctype);
}

const struct gw_plugin gw_handler_request_termination = {
    .schema = &gw_schema_request_termination,
    .compile = compile,
    .access = access,
};

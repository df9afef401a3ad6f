/* The validation engine. One pass over the input object per record: each key is matched to
 * its field (unknown keys are errors), each value is type-checked and run through the
 * field's rules in Kong's order (one_of, gt, between, len_min, len_max, starts_with, custom),
 * then absent fields get their defaults and entity checks run. Errors accumulate into a
 * jansson tree shaped as Kong's "fields" object; nothing stops at the first error. Defaults
 * are parsed once by gw_schema_prepare() and shared (values are immutable), so filling them
 * allocates nothing. */
#include "schema.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "parse.h"

static struct gw_arena *defaults_arena; /* lives for the process */

/* ---- preparation ---- */

static int prepare_field(struct gw_field *f, const char *where);

static int
cmp_field_names(const void *a, const void *b, void *fields)
{
    const struct gw_field *f = fields;
    return strcmp(f[*(const uint16_t *)a].name, f[*(const uint16_t *)b].name);
}

/* insertion sort: records are small and qsort_r is not C11 */
static void
sort_indexes(uint16_t *idx, uint32_t n, struct gw_field *fields)
{
    for (uint32_t i = 1; i < n; i++) {
        uint16_t x = idx[i];
        uint32_t j = i;
        while (j > 0 && cmp_field_names(&idx[j - 1], &x, fields) > 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = x;
    }
}

int
gw_schema_prepare(struct gw_record *r)
{
    uint32_t n = 0;

    if (r->inited) {
        return 0;
    }
    r->inited = 1;
    if (defaults_arena == NULL) {
        defaults_arena = gw_arena_create(0);
        if (defaults_arena == NULL) {
            return -1;
        }
    }
    while (r->fields[n].name) {
        n++;
    }
    r->nfields = n;
    r->sorted = gw_arena_alloc(defaults_arena, sizeof(uint16_t) * (n ? n : 1));
    if (r->sorted == NULL) {
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        r->sorted[i] = (uint16_t)i;
        if (prepare_field(&r->fields[i], r->name) < 0) {
            return -1;
        }
    }
    sort_indexes(r->sorted, n, r->fields);
    return 0;
}

static int
prepare_field(struct gw_field *f, const char *where)
{
    if (f->name) {
        size_t n = strlen(f->name);
        char *k = gw_arena_alloc(defaults_arena, n + 4);
        if (k == NULL) {
            return -1;
        }
        /* field names are plain identifiers: no escaping needed */
        k[0] = '"';
        memcpy(k + 1, f->name, n);
        memcpy(k + 1 + n, "\":", 3);
        f->key_json = k;
        f->key_json_len = (uint32_t)n + 3;
    }
    if (f->dflt) {
        json_error_t je;
        json_t *j = json_loads(f->dflt, JSON_DECODE_ANY, &je);
        if (j == NULL) {
            fprintf(stderr, "schema %s: field %s: bad default %s: %s\n", where ? where : "?",
                    f->name ? f->name : "?", f->dflt, je.text);
            return -1;
        }
        int rc = gw_val_from_json(defaults_arena, j, &f->dflt_val);
        json_decref(j);
        if (rc < 0) {
            return -1;
        }
    }
    if (f->record && gw_schema_prepare(f->record) < 0) {
        return -1;
    }
    /* element and key descriptors are const; only their records need preparing */
    if (f->elem && f->elem->record && gw_schema_prepare(f->elem->record) < 0) {
        return -1;
    }
    return 0;
}

/* ---- field lookup ---- */

int
gw_record_index(const struct gw_record *r, const char *name)
{
    for (uint32_t i = 0; i < r->nfields; i++) {
        const char *f = r->fields[i].name;
        if (f[0] == name[0] && strcmp(f, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

const struct gw_field *
gw_record_field(const struct gw_record *r, const char *name)
{
    int i = gw_record_index(r, name);
    return i < 0 ? NULL : &r->fields[i];
}

const struct gw_val *
gw_rec_get(const struct gw_record *r, const struct gw_val *rec, const char *name)
{
    int i = gw_record_index(r, name);

    if (i < 0 || rec == NULL || rec->type != GW_V_REC || (uint32_t)i >= rec->n) {
        return NULL;
    }
    return &rec->u.items[i];
}

/* ---- error reporting ---- */

static json_t *
msg_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static json_t *
msg_err(const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return json_string(buf);
}

static json_t *
ctx_errs(struct gw_vctx *ctx)
{
    if (ctx->errs == NULL) {
        ctx->errs = json_object();
    }
    return ctx->errs;
}

void
gw_vctx_entity_err(struct gw_vctx *ctx, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    json_t *errs = ctx_errs(ctx), *list;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    list = json_object_get(errs, "@entity");
    if (list == NULL) {
        list = json_array();
        json_object_set_new(errs, "@entity", list);
    }
    json_array_append_new(list, json_string(buf));
    ctx->nerrs++;
}

void
gw_vctx_field_err(struct gw_vctx *ctx, const char *field, const char *fmt, ...)
{
    char buf[512], name[128];
    va_list ap;
    json_t *obj = ctx_errs(ctx);
    const char *dot;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* "redis.host" nests as {"redis": {"host": msg}}, as Kong reports nested fields */
    while ((dot = strchr(field, '.')) != NULL && (size_t)(dot - field) < sizeof name) {
        snprintf(name, sizeof name, "%.*s", (int)(dot - field), field);
        json_t *sub = json_object_get(obj, name);
        if (!json_is_object(sub)) {
            sub = json_object();
            json_object_set_new(obj, name, sub);
        }
        obj = sub;
        field = dot + 1;
    }
    json_object_set_new(obj, field, json_string(buf));
    ctx->nerrs++;
}

/* ---- rules ---- */

static void
fmt_limit(char *buf, size_t len, double x)
{
    if (x == floor(x) && fabs(x) < 1e18) {
        snprintf(buf, len, "%lld", (long long)x);
    } else {
        snprintf(buf, len, "%g", x);
    }
}

static json_t *
check_one_of(const struct gw_field *f, const struct gw_val *v)
{
    char buf[512];
    size_t off = 0;

    for (const char *const *o = f->one_of; *o; o++) {
        if (v->type == GW_V_STR && strcmp(v->u.s, *o) == 0) {
            return NULL;
        }
        if (v->type == GW_V_INT) {
            char num[32];
            snprintf(num, sizeof num, "%lld", (long long)v->u.i);
            if (strcmp(num, *o) == 0) {
                return NULL;
            }
        }
    }
    off = (size_t)snprintf(buf, sizeof buf, "expected one of: ");
    for (const char *const *o = f->one_of; *o && off < sizeof buf; o++) {
        off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s", o == f->one_of ? "" : ", ",
                                *o);
    }
    return json_string(buf);
}

static size_t
length_of(const struct gw_val *v)
{
    return v->n;
}

/* The rules common to every type, in Kong's validators_order. */
static json_t *
check_rules(const struct gw_field *f, const struct gw_val *v)
{
    char a[32], b[32];
    double x = v->type == GW_V_INT ? (double)v->u.i : v->u.d;

    if (f->one_of && (v->type == GW_V_STR || v->type == GW_V_INT)) {
        json_t *e = check_one_of(f, v);
        if (e) {
            return e;
        }
    }
    if ((v->type == GW_V_INT || v->type == GW_V_NUM)) {
        if ((f->flags & GW_F_GT) && !(x > f->min)) {
            fmt_limit(a, sizeof a, f->min);
            return msg_err("value must be greater than %s", a);
        }
        if ((f->flags & GW_F_BETWEEN) && (x < f->min || x > f->max || isnan(x))) {
            fmt_limit(a, sizeof a, f->min);
            fmt_limit(b, sizeof b, f->max);
            return msg_err("value should be between %s and %s", a, b);
        }
    }
    if (v->type == GW_V_STR || v->type == GW_V_ARR || v->type == GW_V_OBJ) {
        size_t len = length_of(v);
        uint32_t min = f->len_min;
        if (v->type == GW_V_STR && min == 0 && !(f->flags & GW_F_EMPTY_OK)) {
            min = 1; /* Kong refuses empty strings unless a field allows them */
        }
        if (len < min) {
            return msg_err("length must be at least %u", min);
        }
        if (f->len_max && len > f->len_max) {
            return msg_err("length must be at most %u", f->len_max);
        }
    }
    if (f->starts_with && v->type == GW_V_STR &&
        strncmp(v->u.s, f->starts_with, strlen(f->starts_with)) != 0) {
        return msg_err("should start with: %s", f->starts_with);
    }
    if (f->check) {
        char buf[256];
        const char *m;
        buf[0] = '\0';
        m = f->check(v, buf, sizeof buf);
        if (m) {
            return json_string(m);
        }
    }
    return NULL;
}

/* ---- coercion of form values (GW_VAL_COERCE) ---- */

static int
coerce(const struct gw_field *f, const struct gw_val *in, struct gw_val *tmp)
{
    char *end;

    if (in->type != GW_V_STR) {
        return 0;
    }
    memset(tmp, 0, sizeof *tmp);
    if (f->type == GW_T_INTEGER || f->type == GW_T_NUMBER) {
        double d = strtod(in->u.s, &end);
        if (in->n == 0 || *end != '\0') {
            return 0;
        }
        if (d == floor(d) && fabs(d) < 9e18) {
            tmp->type = GW_V_INT;
            tmp->u.i = (int64_t)d;
        } else {
            tmp->type = GW_V_NUM;
            tmp->u.d = d;
        }
        return 1;
    }
    if (f->type == GW_T_BOOLEAN && (strcmp(in->u.s, "true") == 0 || strcmp(in->u.s, "false") == 0)) {
        tmp->type = GW_V_BOOL;
        tmp->u.b = in->u.s[0] == 't';
        return 1;
    }
    return 0;
}

/* ---- values ---- */

static json_t *validate_record(struct gw_vctx *ctx, struct gw_record *r, const struct gw_val *in,
                               struct gw_val *out);
static json_t *validate_value(struct gw_vctx *ctx, const struct gw_field *f,
                              const struct gw_val *in, struct gw_val *out);

/* A set keeps the first of equal elements. Kong's validator lets duplicates through and its
 * storage treats the field as a set; dropping them is the lenient reading, so files Kong
 * accepts load here too. Quadratic, but sets are short. */
static void
dedupe(struct gw_val *set)
{
    uint32_t w = 0;

    for (uint32_t i = 0; i < set->n; i++) {
        int dup = 0;
        for (uint32_t j = 0; j < w && !dup; j++) {
            dup = gw_val_equal(&set->u.items[j], &set->u.items[i]);
        }
        if (!dup) {
            set->u.items[w++] = set->u.items[i];
        }
    }
    set->n = w;
}

static json_t *
validate_list(struct gw_vctx *ctx, const struct gw_field *f, const struct gw_val *in,
              struct gw_val *out)
{
    json_t *errs = NULL;

    if (in->type != GW_V_ARR) {
        /* form input gives a single value where an array is expected */
        if ((ctx->opts & GW_VAL_COERCE) && in->type == GW_V_STR) {
            struct gw_val one = {.type = GW_V_ARR, .n = 1, .u.items = (struct gw_val *)in};
            return validate_list(ctx, f, &one, out);
        }
        return json_string(f->type == GW_T_SET ? "expected a set" : "expected an array");
    }
    out->type = GW_V_ARR;
    out->n = in->n;
    if (in->n) {
        out->u.items = gw_arena_calloc(ctx->arena, sizeof(struct gw_val) * in->n);
        if (out->u.items == NULL) {
            return json_string("out of memory");
        }
    }
    for (uint32_t i = 0; i < in->n; i++) {
        const struct gw_val *iv = &in->u.items[i];
        json_t *e;
        if (iv->type == GW_V_NULL) {
            e = json_string("required field missing");
        } else {
            e = f->elem ? validate_value(ctx, f->elem, iv, &out->u.items[i]) : NULL;
            if (f->elem == NULL) {
                out->u.items[i] = *iv;
            }
        }
        if (e) {
            if (errs == NULL) {
                errs = json_array();
            }
            while (json_array_size(errs) < i) {
                json_array_append_new(errs, json_null());
            }
            json_array_append_new(errs, e);
        }
    }
    if (errs) {
        return errs;
    }
    if (f->type == GW_T_SET) {
        dedupe(out);
    }
    return check_rules(f, out);
}

static json_t *
validate_map(struct gw_vctx *ctx, const struct gw_field *f, const struct gw_val *in,
             struct gw_val *out)
{
    json_t *errs = NULL;

    if (in->type != GW_V_OBJ) {
        return json_string("expected a map");
    }
    out->type = GW_V_OBJ;
    out->n = in->n;
    if (in->n) {
        out->u.kv = gw_arena_calloc(ctx->arena, sizeof(struct gw_kv) * in->n);
        if (out->u.kv == NULL) {
            return json_string("out of memory");
        }
    }
    for (uint32_t i = 0; i < in->n; i++) {
        const struct gw_kv *ikv = &in->u.kv[i];
        struct gw_kv *okv = &out->u.kv[i];
        struct gw_val kval;
        json_t *e = NULL;
        okv->key = gw_arena_strndup(ctx->arena, ikv->key, ikv->klen);
        okv->klen = ikv->klen;
        if (okv->key == NULL) {
            return json_string("out of memory");
        }
        gw_val_str(&kval, okv->key, okv->klen);
        if (f->key) {
            struct gw_val kout;
            e = validate_value(ctx, f->key, &kval, &kout);
        }
        if (e == NULL) {
            if (ikv->val.type == GW_V_NULL) {
                e = json_string("required field missing");
            } else if (f->elem) {
                e = validate_value(ctx, f->elem, &ikv->val, &okv->val);
            } else {
                okv->val = ikv->val;
            }
        }
        if (e) {
            if (errs == NULL) {
                errs = json_object();
            }
            json_object_set_new(errs, okv->key, e);
        }
    }
    if (errs) {
        return errs;
    }
    return check_rules(f, out);
}

static json_t *
validate_foreign(struct gw_vctx *ctx, const struct gw_field *f, const struct gw_val *in,
                 struct gw_val *out)
{
    const struct gw_val *id;
    char buf[64];

    (void)f;
    if (in->type == GW_V_STR && (ctx->opts & GW_VAL_FK_NAMES)) {
        /* declarative references by name or id, resolved by the loader */
        return gw_val_copy(ctx->arena, out, in) < 0 ? json_string("out of memory") : NULL;
    }
    if (in->type != GW_V_OBJ) {
        return json_string("expected a record");
    }
    id = gw_val_get(in, "id");
    if (id == NULL || id->type == GW_V_NULL) {
        if ((ctx->opts & GW_VAL_FK_NAMES) && in->n == 1 && in->u.kv[0].val.type == GW_V_STR) {
            /* {name: x} / {username: x}: an endpoint key, resolved by the caller */
            return gw_val_copy(ctx->arena, out, &in->u.kv[0].val) < 0
                       ? json_string("out of memory")
                       : NULL;
        }
        json_t *e = json_object();
        json_object_set_new(e, "id", json_string("missing primary key"));
        return e;
    }
    if (id->type != GW_V_STR) {
        json_t *e = json_object();
        json_object_set_new(e, "id", json_string("expected a string"));
        return e;
    }
    if (gw_check_uuid(id, buf, sizeof buf)) {
        json_t *e = json_object();
        json_object_set_new(e, "id", json_string("expected a valid UUID"));
        return e;
    }
    for (uint32_t i = 0; i < in->n; i++) {
        if (strcmp(in->u.kv[i].key, "id") != 0) {
            json_t *e = json_object();
            json_object_set_new(e, in->u.kv[i].key, json_string("unknown field"));
            return e;
        }
    }
    return gw_val_copy(ctx->arena, out, id) < 0 ? json_string("out of memory") : NULL;
}

static json_t *
validate_value(struct gw_vctx *ctx, const struct gw_field *f, const struct gw_val *in,
               struct gw_val *out)
{
    struct gw_val tmp;

    memset(out, 0, sizeof *out);
    if ((ctx->opts & GW_VAL_COERCE) && coerce(f, in, &tmp)) {
        in = &tmp;
    }
    switch (f->type) {
    case GW_T_STRING:
        if (in->type != GW_V_STR) {
            return json_string("expected a string");
        }
        gw_val_str(out, in->u.s, in->n);
        break;
    case GW_T_INTEGER:
        if (in->type == GW_V_NUM && in->u.d == floor(in->u.d) && fabs(in->u.d) < 9e18) {
            out->type = GW_V_INT;
            out->u.i = (int64_t)in->u.d;
        } else if (in->type == GW_V_INT) {
            *out = *in;
        } else {
            return json_string("expected an integer");
        }
        out->flags = 0;
        break;
    case GW_T_NUMBER:
        if (in->type == GW_V_INT) {
            *out = *in;
        } else if (in->type == GW_V_NUM && isfinite(in->u.d)) {
            /* canonical: an integral number is written as an integer */
            if (in->u.d == floor(in->u.d) && fabs(in->u.d) < 9e15) {
                out->type = GW_V_INT;
                out->u.i = (int64_t)in->u.d;
            } else {
                *out = *in;
            }
        } else {
            return json_string("expected a number");
        }
        out->flags = 0;
        break;
    case GW_T_BOOLEAN:
        if (in->type != GW_V_BOOL) {
            return json_string("expected a boolean");
        }
        *out = *in;
        out->flags = 0;
        break;
    case GW_T_ARRAY:
    case GW_T_SET:
        return validate_list(ctx, f, in, out);
    case GW_T_MAP:
        return validate_map(ctx, f, in, out);
    case GW_T_RECORD: {
        struct gw_record *r = f->subschema ? f->subschema(ctx) : f->record;
        if (r == NULL) {
            return NULL; /* the subschema hook reported why */
        }
        json_t *e = validate_record(ctx, r, in, out);
        return e ? e : (f->check ? check_rules(f, out) : NULL);
    }
    case GW_T_FOREIGN:
        return validate_foreign(ctx, f, in, out);
    case GW_T_ANY:
        if (gw_val_copy(ctx->arena, out, in) < 0) {
            return json_string("out of memory");
        }
        return NULL;
    }
    if (out->type == GW_V_STR) {
        out->u.s = gw_arena_strndup(ctx->arena, in->u.s, in->n);
        if (out->u.s == NULL) {
            return json_string("out of memory");
        }
    }
    return check_rules(f, out);
}

/* ---- records ---- */

static int
fill_missing(struct gw_vctx *ctx, const struct gw_field *f, struct gw_val *slot, json_t **err)
{
    if ((f->flags & (GW_F_AUTO | GW_F_TRANSIENT)) ||
        (ctx->implicit && ctx->depth_skip == 1 && strcmp(f->name, ctx->implicit) == 0)) {
        slot->type = GW_V_NULL;
        return 0;
    }
    if (ctx->opts & GW_VAL_PARTIAL) {
        return 0; /* stays ABSENT: the caller merges */
    }
    if (f->dflt && f->type == GW_T_RECORD && f->record) {
        /* a partial record default ({"max_batch_size": 200}): fill the rest */
        *err = validate_record(ctx, f->record, &f->dflt_val, slot);
        return *err ? -1 : 0;
    }
    if (f->dflt) {
        *slot = f->dflt_val; /* shared, immutable */
        return 0;
    }
    if (f->type == GW_T_RECORD && !(f->flags & GW_F_NULLABLE)) {
        static const struct gw_val empty = {.type = GW_V_OBJ};
        struct gw_record *r = f->subschema ? f->subschema(ctx) : f->record;
        if (r == NULL) {
            slot->type = GW_V_NULL;
            return 0;
        }
        *err = validate_record(ctx, r, &empty, slot);
        return *err ? -1 : 0;
    }
    if (f->flags & GW_F_REQUIRED) {
        *err = json_string("required field missing");
        return -1;
    }
    slot->type = GW_V_NULL;
    return 0;
}

static json_t *
validate_record(struct gw_vctx *ctx, struct gw_record *r, const struct gw_val *in,
                struct gw_val *out)
{
    json_t *saved_errs = ctx->errs;
    const struct gw_val *saved_in = ctx->in;
    unsigned field_errs = 0;
    json_t *errs;

    memset(out, 0, sizeof *out);
    if (in->type != GW_V_OBJ) {
        return json_string("expected a record");
    }
    if (!r->inited && gw_schema_prepare(r) < 0) {
        return json_string("schema not prepared");
    }
    ctx->errs = NULL;
    ctx->in = in;
    if (r->shorthand) {
        in = r->shorthand(ctx, in);
        if (in == NULL) {
            goto done;
        }
        ctx->in = in;
    }
    out->type = GW_V_REC;
    out->n = r->nfields;
    out->u.items = gw_arena_calloc(ctx->arena, sizeof(struct gw_val) * (r->nfields ? r->nfields : 1));
    if (out->u.items == NULL) {
        gw_vctx_entity_err(ctx, "out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < in->n; i++) {
        const struct gw_kv *kv = &in->u.kv[i];
        int idx;
        json_t *e;
        if (ctx->skip && ctx->depth_skip == 0 && ctx->skip(ctx, kv->key)) {
            continue;
        }
        idx = gw_record_index(r, kv->key);
        if (idx < 0) {
            /* set as is: an unknown key may contain dots */
            json_object_set_new(ctx_errs(ctx), kv->key, json_string("unknown field"));
            ctx->nerrs++;
            field_errs++;
            continue;
        }
        const struct gw_field *f = &r->fields[idx];
        if (kv->val.type == GW_V_NULL) {
            out->u.items[idx].type = GW_V_NULL;
            if (f->flags & GW_F_REQUIRED) {
                json_object_set_new(ctx_errs(ctx), kv->key, json_string("required field missing"));
                ctx->nerrs++;
                field_errs++;
            }
            continue;
        }
        ctx->depth_skip++;
        e = validate_value(ctx, f, &kv->val, &out->u.items[idx]);
        ctx->depth_skip--;
        if (e) {
            /* null, not absent: the record is refused, and defaults must not refill it */
            memset(&out->u.items[idx], 0, sizeof(struct gw_val));
            out->u.items[idx].type = GW_V_NULL;
            if (f->subschema && json_is_object(e) && json_object_get(e, "@entity")) {
                /* a plugin's config checks are the plugin entity's checks in Kong */
                json_t *list = json_object_get(ctx_errs(ctx), "@entity");
                if (list == NULL) {
                    json_object_set(ctx->errs, "@entity", json_object_get(e, "@entity"));
                } else {
                    json_array_extend(list, json_object_get(e, "@entity"));
                }
                json_object_del(e, "@entity");
                if (json_object_size(e) == 0) {
                    json_decref(e);
                    ctx->nerrs++;
                    field_errs++;
                    continue;
                }
            }
            json_object_set_new(ctx_errs(ctx), kv->key, e);
            ctx->nerrs++;
            field_errs++;
        }
    }
    for (uint32_t i = 0; i < r->nfields; i++) {
        json_t *e = NULL;
        if (out->u.items[i].type != GW_V_ABSENT) {
            continue;
        }
        ctx->depth_skip++;
        if (fill_missing(ctx, &r->fields[i], &out->u.items[i], &e) < 0) {
            json_object_set_new(ctx_errs(ctx), r->fields[i].name, e);
            ctx->nerrs++;
            field_errs++;
        }
        ctx->depth_skip--;
    }
    if (field_errs == 0 && r->check && !(ctx->opts & GW_VAL_PARTIAL)) {
        ctx->depth_skip++;
        r->check(ctx, r, out);
        ctx->depth_skip--;
    }
done:
    errs = ctx->errs;
    if (errs && json_object_size(errs) == 0) {
        json_decref(errs);
        errs = NULL;
    }
    ctx->errs = saved_errs;
    ctx->in = saved_in;
    return errs;
}

int
gw_schema_validate_field(struct gw_vctx *ctx, const struct gw_field *f, const struct gw_val *in,
                         struct gw_val *out, json_t **slot)
{
    json_t *e = validate_value(ctx, f, in, out);

    if (e) {
        ctx->nerrs++;
        if (slot) {
            *slot = e;
        } else {
            json_decref(e);
        }
        return -1;
    }
    return 0;
}

int
gw_schema_validate_ctx(struct gw_vctx *ctx, struct gw_record *r, const struct gw_val *in,
                       struct gw_val *out, json_t **errs)
{
    json_t *e;

    ctx->depth_skip = 0;
    e = validate_record(ctx, r, in, out);
    if (e) {
        if (json_is_string(e)) {
            /* the whole input was of the wrong type */
            json_t *o = json_object();
            json_object_set_new(o, "@entity", json_pack("[o]", e));
            e = o;
        }
        *errs = e;
        return -1;
    }
    *errs = NULL;
    return 0;
}

int
gw_schema_validate(struct gw_record *r, const struct gw_val *in, struct gw_arena *arena,
                   unsigned opts, void *user, struct gw_val *out, json_t **errs)
{
    struct gw_vctx ctx = {.arena = arena, .opts = opts, .user = user};

    return gw_schema_validate_ctx(&ctx, r, in, out, errs);
}

/* ---- entity check helpers ---- */

static int
nonempty(const struct gw_val *v)
{
    if (v == NULL || gw_val_is_null(v)) {
        return 0;
    }
    if (v->type == GW_V_STR || v->type == GW_V_ARR || v->type == GW_V_OBJ) {
        return v->n > 0;
    }
    return 1;
}

static void
quoted_list(char *buf, size_t len, const char *const *fields)
{
    size_t off = 0;

    buf[0] = '\0';
    for (const char *const *f = fields; *f && off < len; f++) {
        off += (size_t)snprintf(buf + off, len - off, "%s'%s'", f == fields ? "" : ", ", *f);
    }
}

/* Field names may be dotted ("config.second") in messages; look up the last part. */
static const struct gw_val *
get_dotted(const struct gw_record *r, const struct gw_val *rec, const char *name)
{
    const char *dot = strrchr(name, '.');
    return gw_rec_get(r, rec, dot ? dot + 1 : name);
}

int
gw_echeck_at_least_one_of(struct gw_vctx *ctx, const struct gw_record *r,
                          const struct gw_val *rec, const char *const *fields)
{
    char list[384];

    for (const char *const *f = fields; *f; f++) {
        if (nonempty(get_dotted(r, rec, *f))) {
            return 1;
        }
    }
    quoted_list(list, sizeof list, fields);
    gw_vctx_entity_err(ctx, "at least one of these fields must be non-empty: %s", list);
    return 0;
}

int
gw_echeck_only_one_of(struct gw_vctx *ctx, const struct gw_record *r, const struct gw_val *rec,
                      const char *const *fields)
{
    char list[384];
    int found = 0;

    for (const char *const *f = fields; *f; f++) {
        found += nonempty(get_dotted(r, rec, *f));
    }
    if (found == 1) {
        return 1;
    }
    quoted_list(list, sizeof list, fields);
    gw_vctx_entity_err(ctx, "exactly one of these fields must be non-empty: %s", list);
    return 0;
}

int
gw_echeck_mutually_required(struct gw_vctx *ctx, const struct gw_record *r,
                            const struct gw_val *rec, const char *const *fields)
{
    char list[384];
    int found = 0, total = 0;

    for (const char *const *f = fields; *f; f++, total++) {
        found += nonempty(get_dotted(r, rec, *f));
    }
    if (found == 0 || found == total) {
        return 1;
    }
    quoted_list(list, sizeof list, fields);
    gw_vctx_entity_err(ctx, "all or none of these fields must be set: %s", list);
    return 0;
}

int
gw_echeck_mutually_exclusive(struct gw_vctx *ctx, const struct gw_record *r,
                             const struct gw_val *rec, const char *const *fields)
{
    char list[384];
    int found = 0;

    for (const char *const *f = fields; *f; f++) {
        found += nonempty(get_dotted(r, rec, *f));
    }
    if (found <= 1) {
        return 1;
    }
    quoted_list(list, sizeof list, fields);
    gw_vctx_entity_err(ctx, "only one or none of these fields must be set: %s", list);
    return 0;
}

int
gw_echeck_distinct(struct gw_vctx *ctx, const struct gw_record *r, const struct gw_val *rec,
                   const char *const *fields)
{
    char list[384];

    for (const char *const *f = fields; *f; f++) {
        const struct gw_val *a = get_dotted(r, rec, *f);
        if (!nonempty(a)) {
            continue;
        }
        for (const char *const *g = f + 1; *g; g++) {
            if (gw_val_equal(a, get_dotted(r, rec, *g))) {
                quoted_list(list, sizeof list, fields);
                gw_vctx_entity_err(ctx, "values of these fields must be distinct: %s", list);
                return 0;
            }
        }
    }
    return 1;
}

void
gw_echeck_conditional_fail(struct gw_vctx *ctx, const char *if_field, const char *then_field,
                           const char *msg)
{
    gw_vctx_field_err(ctx, then_field, "%s", msg);
    gw_vctx_entity_err(ctx, "failed conditional validation given value of field '%s'", if_field);
}

/* ---- error tree rendering ---- */

struct walk {
    gw_errs_leaf_fn *fn;
    void *data;
    int brackets;
};

static void
walk(const json_t *e, char *path, size_t plen, size_t cap, struct walk *w)
{
    if (json_is_string(e)) {
        w->fn(path, json_string_value(e), w->data);
        return;
    }
    if (json_is_array(e)) {
        size_t i;
        json_t *x;
        json_array_foreach(e, i, x)
        {
            if (json_is_null(x)) {
                continue;
            }
            int n = w->brackets ? snprintf(path + plen, cap - plen, "[%zu]", i)
                                : snprintf(path + plen, cap - plen, "%s%zu", plen ? "." : "", i + 1);
            walk(x, path, plen + (size_t)n < cap ? plen + (size_t)n : cap - 1, cap, w);
            path[plen] = '\0';
        }
        return;
    }
    if (json_is_object(e)) {
        const char *keys[256];
        size_t n = 0;
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)e, k, x)
        {
            if (n < 256) {
                keys[n++] = k;
            }
        }
        /* @entity first, then fields in sorted order (as Kong prints them) */
        for (size_t i = 1; i < n; i++) {
            const char *t = keys[i];
            size_t j = i;
            while (j > 0 && strcmp(keys[j - 1], t) > 0) {
                keys[j] = keys[j - 1];
                j--;
            }
            keys[j] = t;
        }
        for (size_t i = 0; i < n; i++) {
            x = json_object_get(e, keys[i]);
            if (strcmp(keys[i], "@entity") == 0) {
                size_t j;
                json_t *m;
                json_array_foreach(x, j, m)
                {
                    if (json_is_string(m)) {
                        w->fn(plen ? path : "@entity", json_string_value(m), w->data);
                    }
                }
                continue;
            }
            int c = snprintf(path + plen, cap - plen, "%s%s", plen ? "." : "", keys[i]);
            walk(x, path, plen + (size_t)c < cap ? plen + (size_t)c : cap - 1, cap, w);
            path[plen] = '\0';
        }
    }
}

void
gw_errs_walk(const json_t *errs, const char *prefix, int brackets, gw_errs_leaf_fn *fn, void *data)
{
    char path[1024];
    struct walk w = {.fn = fn, .data = data, .brackets = brackets};

    snprintf(path, sizeof path, "%s", prefix ? prefix : "");
    walk(errs, path, strlen(path), sizeof path, &w);
}

struct msgbuf {
    char *buf;
    size_t len, cap;
    unsigned count;
};

static void
add_leaf(const char *path, const char *msg, void *data)
{
    struct msgbuf *m = data;
    size_t need = strlen(path) + strlen(msg) + 8;

    if (m->len + need >= m->cap) {
        size_t cap = (m->cap + need) * 2;
        char *b = realloc(m->buf, cap);
        if (b == NULL) {
            return;
        }
        m->buf = b;
        m->cap = cap;
    }
    if (strcmp(path, "@entity") == 0) {
        m->len += (size_t)snprintf(m->buf + m->len, m->cap - m->len, "%s%s", m->count ? "; " : "", msg);
    } else {
        m->len += (size_t)snprintf(m->buf + m->len, m->cap - m->len, "%s%s: %s", m->count ? "; " : "",
                                   path, msg);
    }
    m->count++;
}

char *
gw_errs_message(const json_t *errs)
{
    struct msgbuf m = {0};
    char *out;

    gw_errs_walk(errs, NULL, 0, add_leaf, &m);
    if (m.buf == NULL) {
        return strdup("schema violation");
    }
    out = malloc(m.len + 64);
    if (out) {
        if (m.count == 1) {
            sprintf(out, "schema violation (%s)", m.buf);
        } else {
            sprintf(out, "%u schema violations (%s)", m.count, m.buf);
        }
    }
    free(m.buf);
    return out;
}

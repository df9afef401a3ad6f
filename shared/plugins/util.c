/* Helpers for plugin schema files. The checks copy Kong's entity checkers
 * (kong/db/schema/init.lua): a field counts as set when is_nonempty() holds. */
#include "util.h"

#include <stdio.h>
#include <string.h>

#include "../arena.h"

int
gw_plugin_util_nonempty(const struct gw_val *v)
{
    if (gw_val_is_null(v)) {
        return 0;
    }
    switch (v->type) {
    case GW_V_STR:
    case GW_V_ARR:
    case GW_V_OBJ:
        return v->n > 0;
    default:
        return 1;
    }
}

int
gw_plugin_util_streq(const struct gw_val *v, const char *s)
{
    return v != NULL && v->type == GW_V_STR && strcmp(v->u.s, s) == 0;
}

int
gw_plugin_util_number(const struct gw_val *v, double *out)
{
    if (v != NULL && v->type == GW_V_INT) {
        *out = (double)v->u.i;
        return 1;
    }
    if (v != NULL && v->type == GW_V_NUM) {
        *out = v->u.d;
        return 1;
    }
    return 0;
}

const struct gw_val *
gw_plugin_util_get(const struct gw_record *r, const struct gw_val *rec, const char *path)
{
    char seg[64];

    for (;;) {
        const char *dot = strchr(path, '.');
        const struct gw_field *f;
        const struct gw_val *v;
        size_t n;

        if (rec == NULL || rec->type != GW_V_REC) {
            return NULL;
        }
        if (dot == NULL) {
            return gw_rec_get(r, rec, path);
        }
        n = (size_t)(dot - path);
        if (n >= sizeof seg) {
            return NULL;
        }
        memcpy(seg, path, n);
        seg[n] = '\0';
        f = gw_record_field(r, seg);
        v = gw_rec_get(r, rec, seg);
        if (f == NULL || f->type != GW_T_RECORD || f->record == NULL) {
            return NULL;
        }
        r = f->record;
        rec = v;
        path = dot + 1;
    }
}

void
gw_plugin_util_quoted(char *buf, size_t len, const char *const *fields)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; fields[i] != NULL && used < len; i++) {
        int n = snprintf(buf + used, len - used, "%s'%s'", i > 0 ? ", " : "", fields[i]);
        if (n < 0) {
            return;
        }
        used += (size_t)n;
    }
}

int
gw_plugin_util_mutually_required(struct gw_vctx *ctx, const struct gw_record *r,
                                 const struct gw_val *rec, const char *const *fields)
{
    char list[512];
    size_t set = 0, total;

    for (total = 0; fields[total] != NULL; total++) {
        set += gw_plugin_util_nonempty(gw_plugin_util_get(r, rec, fields[total])) != 0;
    }
    if (set == 0 || set == total) {
        return 1;
    }
    gw_plugin_util_quoted(list, sizeof list, fields);
    gw_vctx_entity_err(ctx, "all or none of these fields must be set: %s", list);
    return 0;
}

/* ---- "name:value" entries of the transformer plugins ---- */

/* Kong's pattern split: returns the name length (0: no name) and sets *value. */
static size_t
split(const char *entry, const char **value)
{
    size_t n = strcspn(entry, ":");
    const char *p = entry + n;

    while (*p == ':') {
        p++;
    }
    *value = p;
    return n;
}

static int
is_header_name(const char *s, size_t n)
{
    if (n == 0) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            return 0;
        }
    }
    return 1;
}

/* kong.tools.http.validate_header_value: HTAB, SP, visible ASCII and obs-text. */
static int
is_header_value(const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c != '\t' && (c < 0x20 || c == 0x7f)) {
            return 0;
        }
    }
    return 1;
}

/* s NULL: no name at all, which Kong prints as tostring(nil). */
static const char *
not_a_header(char *buf, size_t len, const char *s, size_t n)
{
    if (s == NULL) {
        snprintf(buf, len, "'nil' is not a valid header");
    } else {
        snprintf(buf, len, "'%.*s' is not a valid header", (int)n, s);
    }
    return buf;
}

const char *
gw_plugin_util_check_header_name(const struct gw_val *v, char *buf, size_t len)
{
    const char *value;
    size_t n = split(v->u.s, &value);

    return is_header_name(v->u.s, n) ? NULL : not_a_header(buf, len, n ? v->u.s : NULL, n);
}

const char *
gw_plugin_util_check_colon(const struct gw_val *v, char *buf, size_t len)
{
    if (v->u.s[0] == ':' || strchr(v->u.s, ':') == NULL) {
        snprintf(buf, len, "invalid value: %s", v->u.s);
        return buf;
    }
    return NULL;
}

const char *
gw_plugin_util_check_header_value(const struct gw_val *v, char *buf, size_t len)
{
    const char *value;
    size_t n;

    if (gw_plugin_util_check_colon(v, buf, len) != NULL) {
        return buf;
    }
    n = split(v->u.s, &value);
    if (!is_header_name(v->u.s, n)) {
        return not_a_header(buf, len, v->u.s, n);
    }
    return is_header_value(value) ? NULL : not_a_header(buf, len, value, strlen(value));
}

const char *
gw_plugin_util_check_header_pair(const struct gw_val *v, char *buf, size_t len)
{
    const char *value;
    size_t n;

    if (gw_plugin_util_check_colon(v, buf, len) != NULL) {
        return buf;
    }
    n = split(v->u.s, &value);
    if (!is_header_name(v->u.s, n)) {
        return not_a_header(buf, len, v->u.s, n);
    }
    return is_header_name(value, strlen(value)) ? NULL
                                                : not_a_header(buf, len, value, strlen(value));
}

/* ---- deprecated aliases (Kong's shorthand_fields) ---- */

static struct gw_kv *
find_kv(struct gw_val *obj, const char *key)
{
    for (uint32_t i = 0; i < obj->n; i++) {
        if (strcmp(obj->u.kv[i].key, key) == 0) {
            return &obj->u.kv[i];
        }
    }
    return NULL;
}

/* dst = a copy of src (an object, or absent/null for an empty one) with room for extra more
 * pairs, so that aliases can be added without reallocating. */
static int
own_obj(struct gw_arena *a, struct gw_val *dst, const struct gw_val *src, uint32_t extra)
{
    uint32_t n = (src->type == GW_V_OBJ) ? src->n : 0;
    struct gw_kv *kv = gw_arena_alloc(a, sizeof *kv * (n + extra));

    if (kv == NULL) {
        return -1;
    }
    if (n > 0) {
        memcpy(kv, src->u.kv, sizeof *kv * n);
    }
    memset(dst, 0, sizeof *dst);
    dst->type = GW_V_OBJ;
    dst->n = n;
    dst->u.kv = kv;
    return 0;
}

static int
is_alias(const struct gw_plugin_alias *aliases, const char *key)
{
    for (const struct gw_plugin_alias *a = aliases; a->name != NULL; a++) {
        if (strcmp(a->name, key) == 0) {
            return 1;
        }
    }
    return 0;
}

/* out = in without its aliases, with room for nalias more pairs. */
static int
copy_without_aliases(struct gw_arena *a, struct gw_val *out, const struct gw_val *in,
                     const struct gw_plugin_alias *aliases, uint32_t nalias)
{
    if (own_obj(a, out, in, nalias) < 0) {
        return -1;
    }
    out->n = 0;
    for (uint32_t i = 0; i < in->n; i++) {
        if (!is_alias(aliases, in->u.kv[i].key)) {
            out->u.kv[out->n++] = in->u.kv[i];
        }
    }
    return 0;
}

/* Gives out its own copy of every record an alias in `in` writes into. */
static int
own_records(struct gw_arena *a, struct gw_val *out, const struct gw_val *in,
            const struct gw_plugin_alias *aliases, uint32_t nalias)
{
    for (const struct gw_plugin_alias *p = aliases; p->name != NULL; p++) {
        int first = 1;
        struct gw_kv *kv;

        if (p->record == NULL || gw_val_get(in, p->name) == NULL) {
            continue;
        }
        for (const struct gw_plugin_alias *q = aliases; q != p; q++) {
            if (q->record != NULL && strcmp(q->record, p->record) == 0 &&
                gw_val_get(in, q->name) != NULL) {
                first = 0;
            }
        }
        if (!first) {
            continue;
        }
        kv = find_kv(out, p->record);
        if (kv == NULL) {
            kv = &out->u.kv[out->n++];
            memset(kv, 0, sizeof *kv);
            kv->key = p->record;
            kv->klen = (uint32_t)strlen(p->record);
        }
        if ((gw_val_is_null(&kv->val) || kv->val.type == GW_V_OBJ) &&
            own_obj(a, &kv->val, &kv->val, nalias) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Lua's tostring() of a scalar, as Kong prints it in the conflict message. */
static void
val_text(const struct gw_val *v, char *buf, size_t len)
{
    switch (v->type) {
    case GW_V_STR:
        snprintf(buf, len, "%s", v->u.s);
        break;
    case GW_V_INT:
        snprintf(buf, len, "%lld", (long long)v->u.i);
        break;
    case GW_V_NUM:
        snprintf(buf, len, "%.14g", v->u.d);
        break;
    case GW_V_BOOL:
        snprintf(buf, len, "%s", v->u.b ? "true" : "false");
        break;
    default:
        snprintf(buf, len, "table");
        break;
    }
}

static void
report_conflict(struct gw_vctx *ctx, const struct gw_plugin_alias *a, const struct gw_val *old,
                const struct gw_val *cur)
{
    char path[128], t_old[128], t_cur[128];

    snprintf(path, sizeof path, "%s%s%s", a->record ? a->record : "", a->record ? "." : "",
             a->field);
    val_text(old, t_old, sizeof t_old);
    val_text(cur, t_cur, sizeof t_cur);
    gw_vctx_field_err(ctx, a->name,
                      "both deprecated and new field are used but their values mismatch: "
                      "%s = %s vs %s = %s",
                      a->name, t_old, path, t_cur);
}

/* Moves one alias value into out. Returns 0, or 1 after reporting a conflict. */
static int
apply_alias(struct gw_vctx *ctx, struct gw_val *out, const struct gw_plugin_alias *a,
            const struct gw_val *v)
{
    struct gw_val *dst = out;
    const struct gw_val *cur;
    struct gw_kv *kv;

    if (a->record != NULL) {
        kv = find_kv(out, a->record);
        if (kv == NULL || kv->val.type != GW_V_OBJ) {
            return 0; /* not a record: validating it reports the error */
        }
        dst = &kv->val;
    }
    cur = gw_val_get(dst, a->field);
    if (!gw_val_is_null(cur)) {
        /* Kong: on a deprecated alias the new field's value takes precedence. */
        if (a->strict && !gw_val_is_null(v) && !gw_val_equal(cur, v)) {
            report_conflict(ctx, a, v, cur);
            return 1;
        }
        return 0;
    }
    kv = find_kv(dst, a->field);
    if (kv == NULL) {
        kv = &dst->u.kv[dst->n++];
        kv->key = a->field;
        kv->klen = (uint32_t)strlen(a->field);
    }
    kv->val = *v;
    return 0;
}

const struct gw_val *
gw_plugin_util_aliases(struct gw_vctx *ctx, const struct gw_val *in,
                       const struct gw_plugin_alias *aliases)
{
    struct gw_arena *mem;
    struct gw_val *out;
    uint32_t nalias = 0, given = 0;
    int bad = 0;

    if (in == NULL || in->type != GW_V_OBJ) {
        return in;
    }
    for (const struct gw_plugin_alias *a = aliases; a->name != NULL; a++) {
        nalias++;
        given += gw_val_get(in, a->name) != NULL;
    }
    if (given == 0) {
        return in;
    }
    mem = ctx->scratch ? ctx->scratch : ctx->arena;
    out = gw_arena_alloc(mem, sizeof *out);
    if (out == NULL || copy_without_aliases(mem, out, in, aliases, nalias) < 0 ||
        own_records(mem, out, in, aliases, nalias) < 0) {
        gw_vctx_entity_err(ctx, "out of memory");
        return NULL;
    }
    for (const struct gw_plugin_alias *a = aliases; a->name != NULL; a++) {
        const struct gw_val *v = gw_val_get(in, a->name);
        if (v != NULL) {
            bad |= apply_alias(ctx, out, a, v);
        }
    }
    return bad ? NULL : out;
}

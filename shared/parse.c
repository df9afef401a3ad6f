/* Document parsers. YAML goes event by event into the value tree (no intermediate DOM), with
 * YAML 1.2 core-schema resolution of plain scalars, anchors, aliases and "<<" merge keys.
 * Aliases share the anchored subtree; a budget on the expanded size stops "billion laughs".
 * JSON goes through jansson (duplicate keys refused), then into the same tree. */
#include "parse.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "arena.h"

#define MAX_DEPTH 64

static int
perr(struct gw_parse_err *err, int line, int col, const char *fmt, ...)
{
    va_list ap;

    if (err) {
        err->line = line;
        err->column = col;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---- JSON ---- */

int
gw_val_from_json(struct gw_arena *a, const json_t *j, struct gw_val *out)
{
    memset(out, 0, sizeof *out);
    switch (json_typeof(j)) {
    case JSON_NULL:
        out->type = GW_V_NULL;
        return 0;
    case JSON_TRUE:
    case JSON_FALSE:
        out->type = GW_V_BOOL;
        out->u.b = json_is_true(j);
        return 0;
    case JSON_INTEGER:
        out->type = GW_V_INT;
        out->u.i = json_integer_value(j);
        return 0;
    case JSON_REAL:
        out->type = GW_V_NUM;
        out->u.d = json_real_value(j);
        return 0;
    case JSON_STRING: {
        size_t n = json_string_length(j);
        const char *s = gw_arena_strndup(a, json_string_value(j), n);
        if (s == NULL) {
            return -1;
        }
        gw_val_str(out, s, n);
        return 0;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        out->type = GW_V_ARR;
        out->n = (uint32_t)n;
        if (n == 0) {
            return 0;
        }
        out->u.items = gw_arena_alloc(a, n * sizeof(struct gw_val));
        if (out->u.items == NULL) {
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            if (gw_val_from_json(a, json_array_get(j, i), &out->u.items[i]) < 0) {
                return -1;
            }
        }
        return 0;
    }
    case JSON_OBJECT: {
        size_t n = json_object_size(j), i = 0;
        const char *k;
        json_t *v;
        out->type = GW_V_OBJ;
        out->n = (uint32_t)n;
        if (n == 0) {
            return 0;
        }
        out->u.kv = gw_arena_alloc(a, n * sizeof(struct gw_kv));
        if (out->u.kv == NULL) {
            return -1;
        }
        json_object_foreach((json_t *)j, k, v)
        {
            struct gw_kv *kv = &out->u.kv[i++];
            kv->klen = (uint32_t)strlen(k);
            kv->key = gw_arena_strndup(a, k, kv->klen);
            if (kv->key == NULL || gw_val_from_json(a, v, &kv->val) < 0) {
                return -1;
            }
        }
        return 0;
    }
    }
    return -1;
}

json_t *
gw_val_to_json(const struct gw_val *v)
{
    json_t *j;

    switch (v->type) {
    case GW_V_BOOL:
        return json_boolean(v->u.b);
    case GW_V_INT:
        return json_integer(v->u.i);
    case GW_V_NUM:
        return json_real(v->u.d);
    case GW_V_STR:
        return json_stringn(v->u.s, v->n);
    case GW_V_ARR:
        j = json_array();
        for (uint32_t i = 0; j && i < v->n; i++) {
            json_array_append_new(j, gw_val_to_json(&v->u.items[i]));
        }
        return j;
    case GW_V_OBJ:
        j = json_object();
        for (uint32_t i = 0; j && i < v->n; i++) {
            json_object_set_new(j, v->u.kv[i].key, gw_val_to_json(&v->u.kv[i].val));
        }
        return j;
    default:
        return json_null();
    }
}

static int
depth_of(const json_t *j, int depth)
{
    const char *k;
    json_t *v;
    size_t i;

    if (depth > MAX_DEPTH) {
        return depth;
    }
    if (json_is_array(j)) {
        int m = depth;
        json_array_foreach(j, i, v)
        {
            int d = depth_of(v, depth + 1);
            m = d > m ? d : m;
            if (m > MAX_DEPTH) {
                break;
            }
        }
        return m;
    }
    if (json_is_object(j)) {
        int m = depth;
        json_object_foreach((json_t *)j, k, v)
        {
            int d = depth_of(v, depth + 1);
            m = d > m ? d : m;
            if (m > MAX_DEPTH) {
                break;
            }
        }
        return m;
    }
    return depth;
}

static int
parse_json(struct gw_arena *a, const char *buf, size_t len, struct gw_val *out,
           struct gw_parse_err *err)
{
    json_error_t je;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    int rc;

    if (j == NULL) {
        return perr(err, je.line, je.column, "%s", je.text);
    }
    if (depth_of(j, 0) > MAX_DEPTH) {
        json_decref(j);
        return perr(err, 0, 0, "document nested deeper than %d levels", MAX_DEPTH);
    }
    rc = gw_val_from_json(a, j, out);
    json_decref(j);
    if (rc < 0) {
        return perr(err, 0, 0, "out of memory");
    }
    return 0;
}

/* ---- YAML ---- */

struct anchor {
    char *name;
    struct gw_val val;
    size_t nodes; /* size of the subtree, for the alias budget */
};

struct yp {
    yaml_parser_t parser;
    struct gw_arena *arena;      /* where nodes go now */
    struct gw_arena *main_arena; /* the document's (interned keys live here) */
    struct gw_arena *elem_arena; /* streamed elements, reset after each */
    const struct gw_parse_stream *stream;
    int anchored; /* an anchor was defined: streamed memory can no longer be reused */
    struct gw_parse_err *err;
    struct anchor *anchors;
    size_t nanchors, capanchors;
    size_t nodes;  /* nodes created so far */
    size_t budget; /* nodes that aliases may still add */
    struct gw_val *vstack;
    size_t vn, vcap;
    struct gw_kv *kstack;
    size_t kn, kcap;
    const char **keys; /* interned mapping keys (open addressing) */
    size_t nkeys, capkeys;
};

static int
yerr_parser(struct yp *p)
{
    yaml_parser_t *y = &p->parser;

    if (y->context) {
        return perr(p->err, (int)y->problem_mark.line + 1, (int)y->problem_mark.column + 1,
                    "%s %s", y->context, y->problem ? y->problem : "syntax error");
    }
    return perr(p->err, (int)y->problem_mark.line + 1, (int)y->problem_mark.column + 1, "%s",
                y->problem ? y->problem : "syntax error");
}

static int
next_event(struct yp *p, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&p->parser, ev)) {
        return yerr_parser(p);
    }
    return 0;
}

static int
all_digits(const char *s, const char *digits)
{
    if (*s == '\0') {
        return 0;
    }
    for (; *s; s++) {
        if (strchr(digits, *s) == NULL) {
            return 0;
        }
    }
    return 1;
}

static int
is_float_text(const char *s)
{
    /* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
    int digits = 0;

    if (*s == '-' || *s == '+') {
        s++;
    }
    while (*s >= '0' && *s <= '9') {
        s++, digits++;
    }
    if (*s == '.') {
        s++;
        while (*s >= '0' && *s <= '9') {
            s++, digits++;
        }
    }
    if (digits == 0) {
        return 0;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+') {
            s++;
        }
        if (!(*s >= '0' && *s <= '9')) {
            return 0;
        }
        while (*s >= '0' && *s <= '9') {
            s++;
        }
    }
    return *s == '\0';
}

/* YAML 1.2 core schema for plain scalars. */
static void
resolve_plain(struct gw_val *v, const char *s, size_t n)
{
    const char *t = s;
    int neg = 0;

    if (n == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
        strcmp(s, "NULL") == 0) {
        v->type = GW_V_NULL;
        return;
    }
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0) {
        v->type = GW_V_BOOL;
        v->u.b = 1;
        return;
    }
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0) {
        v->type = GW_V_BOOL;
        v->u.b = 0;
        return;
    }
    if (*t == '-' || *t == '+') {
        neg = *t == '-';
        t++;
    }
    if (all_digits(t, "0123456789") ||
        (t[0] == '0' && t[1] == 'x' && all_digits(t + 2, "0123456789abcdefABCDEF")) ||
        (t[0] == '0' && t[1] == 'o' && all_digits(t + 2, "01234567"))) {
        int base = t[1] == 'x' ? 16 : t[1] == 'o' ? 8 : 10;
        const char *d = base == 10 ? t : t + 2;
        char *end;
        errno = 0;
        unsigned long long u = strtoull(d, &end, base);
        if (errno == 0 && *end == '\0' && u <= (unsigned long long)INT64_MAX + (unsigned)neg) {
            v->type = GW_V_INT;
            v->u.i = neg ? (int64_t)(0 - u) : (int64_t)u;
            return;
        }
        /* too big for an integer: a number, as JSON parsers do */
        v->type = GW_V_NUM;
        v->u.d = strtod(s, NULL);
        return;
    }
    if (is_float_text(s)) {
        v->type = GW_V_NUM;
        v->u.d = strtod(s, NULL);
        return;
    }
    if (strcmp(t, ".inf") == 0 || strcmp(t, ".Inf") == 0 || strcmp(t, ".INF") == 0) {
        v->type = GW_V_NUM;
        v->u.d = neg ? -INFINITY : INFINITY;
        return;
    }
    if (strcmp(s, ".nan") == 0 || strcmp(s, ".NaN") == 0 || strcmp(s, ".NAN") == 0) {
        v->type = GW_V_NUM;
        v->u.d = NAN;
        return;
    }
    gw_val_str(v, s, n);
}

static int parse_node(struct yp *p, yaml_event_t *ev, struct gw_val *out, int depth,
                      size_t *nodes);

static int
add_anchor(struct yp *p, const char *name, const struct gw_val *v, size_t nodes)
{
    if (p->nanchors == p->capanchors) {
        size_t cap = p->capanchors ? p->capanchors * 2 : 8;
        struct anchor *n = realloc(p->anchors, cap * sizeof *n);
        if (n == NULL) {
            return -1;
        }
        p->anchors = n;
        p->capanchors = cap;
    }
    p->anchors[p->nanchors].name = strdup(name);
    if (p->anchors[p->nanchors].name == NULL) {
        return -1;
    }
    p->anchored = 1;
    p->anchors[p->nanchors].val = *v;
    p->anchors[p->nanchors].nodes = nodes;
    p->nanchors++;
    return 0;
}

static int
use_alias(struct yp *p, const yaml_event_t *ev, struct gw_val *out, size_t *nodes)
{
    const char *name = (const char *)ev->data.alias.anchor;

    /* newest first: YAML lets an anchor be redefined, the alias takes the latest */
    for (size_t i = p->nanchors; i-- > 0;) {
        if (strcmp(p->anchors[i].name, name) == 0) {
            if (p->anchors[i].nodes > p->budget) {
                return perr(p->err, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                            "aliases expand the document beyond its limit");
            }
            p->budget -= p->anchors[i].nodes;
            *out = p->anchors[i].val;
            *nodes = p->anchors[i].nodes;
            return 0;
        }
    }
    return perr(p->err, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                "unknown alias '%s'", name);
}

/* growable vector, for the rare merge lists */
struct vec {
    void *data;
    size_t n, cap, elem;
};

static void *
vec_push(struct vec *v)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        void *d = realloc(v->data, cap * v->elem);
        if (d == NULL) {
            return NULL;
        }
        v->data = d;
        v->cap = cap;
    }
    return (char *)v->data + v->elem * v->n++;
}

/* Children of the open containers live on two parser-wide stacks (values of sequences,
 * pairs of mappings); a finished container copies its part into the arena and pops it.
 * One allocation pattern for the whole document instead of one vector per container. */
/* Makes room for one more element of size elem in *stack; 0 or -1. */
static int
grow(struct yp *p, void **stack, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap) {
        return 0;
    }
    void *d = realloc(*stack, *cap * 2 * elem);
    if (d == NULL) {
        return perr(p->err, 0, 0, "out of memory");
    }
    *stack = d;
    *cap *= 2;
    return 0;
}

static int
push_val(struct yp *p, const struct gw_val *v)
{
    if (grow(p, (void **)&p->vstack, p->vn, &p->vcap, sizeof *v) < 0) {
        return -1;
    }
    p->vstack[p->vn++] = *v;
    return 0;
}

static int
push_kv(struct yp *p, const struct gw_kv *kv)
{
    if (grow(p, (void **)&p->kstack, p->kn, &p->kcap, sizeof *kv) < 0) {
        return -1;
    }
    p->kstack[p->kn++] = *kv;
    return 0;
}

static void *
pop_into_arena(struct yp *p, const void *base, size_t n, size_t elem)
{
    void *d;

    if (n == 0) {
        return NULL;
    }
    d = gw_arena_alloc(p->arena, n * elem);
    if (d) {
        memcpy(d, base, n * elem);
    }
    return d;
}

/* Mapping keys repeat in every entity ("name", "paths", ...): keep one copy of each. */
static const char *
intern_key(struct yp *p, const char *s, size_t n)
{
    uint32_t h = 2166136261u;

    if (n > 64) {
        return gw_arena_strndup(p->main_arena, s, n);
    }
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    }
    if (p->nkeys * 2 >= p->capkeys) {
        size_t cap = p->capkeys ? p->capkeys * 2 : 256;
        const char **t = calloc(cap, sizeof *t);
        if (t == NULL) {
            return gw_arena_strndup(p->main_arena, s, n);
        }
        for (size_t i = 0; i < p->capkeys; i++) {
            if (p->keys[i]) {
                uint32_t g = 2166136261u;
                for (const char *c = p->keys[i]; *c; c++) {
                    g = (g ^ (unsigned char)*c) * 16777619u;
                }
                size_t j = g & (cap - 1);
                while (t[j]) {
                    j = (j + 1) & (cap - 1);
                }
                t[j] = p->keys[i];
            }
        }
        free(p->keys);
        p->keys = t;
        p->capkeys = cap;
    }
    size_t j = h & (p->capkeys - 1);
    for (; p->keys[j]; j = (j + 1) & (p->capkeys - 1)) {
        if (strncmp(p->keys[j], s, n) == 0 && p->keys[j][n] == '\0') {
            return p->keys[j];
        }
    }
    p->keys[j] = gw_arena_strndup(p->main_arena, s, n);
    if (p->keys[j]) {
        p->nkeys++;
    }
    return p->keys[j];
}

static int
parse_seq(struct yp *p, struct gw_val *out, int depth, size_t *nodes)
{
    size_t base = p->vn;
    yaml_event_t ev;

    for (;;) {
        struct gw_val v;
        size_t n = 0;
        if (next_event(p, &ev) < 0) {
            return -1;
        }
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        int rc = parse_node(p, &ev, &v, depth + 1, &n);
        yaml_event_delete(&ev);
        if (rc < 0 || push_val(p, &v) < 0) {
            return -1;
        }
        *nodes += n;
    }
    out->type = GW_V_ARR;
    out->n = (uint32_t)(p->vn - base);
    out->u.items = pop_into_arena(p, p->vstack + base, p->vn - base, sizeof(struct gw_val));
    p->vn = base;
    if (out->n && out->u.items == NULL) {
        return perr(p->err, 0, 0, "out of memory");
    }
    return 0;
}

static int
has_key(const struct gw_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        if (kv[i].key == key || strcmp(kv[i].key, key) == 0) {
            return 1;
        }
    }
    return 0;
}

/* "<<" merge keys: explicit keys win, then merged mappings in order */
static int
apply_merges(struct yp *p, size_t base, const struct vec *merges)
{
    const struct gw_val *m = merges->data;

    for (size_t i = 0; i < merges->n; i++) {
        for (uint32_t j = 0; j < m[i].n; j++) {
            const struct gw_kv *src = &m[i].u.kv[j];
            if (has_key(p->kstack + base, p->kn - base, src->key)) {
                continue;
            }
            if (push_kv(p, src) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

static int
add_merge(struct yp *p, struct vec *merges, const struct gw_val *v, const yaml_mark_t *mark)
{
    if (v->type == GW_V_OBJ) {
        struct gw_val *slot = vec_push(merges);
        if (slot == NULL) {
            return perr(p->err, 0, 0, "out of memory");
        }
        *slot = *v;
        return 0;
    }
    if (v->type == GW_V_ARR) {
        for (uint32_t i = 0; i < v->n; i++) {
            if (v->u.items[i].type != GW_V_OBJ) {
                break;
            }
            if (add_merge(p, merges, &v->u.items[i], mark) < 0) {
                return -1;
            }
        }
        return 0;
    }
    return perr(p->err, (int)mark->line + 1, (int)mark->column + 1,
                "merge key '<<' needs a mapping or a list of mappings");
}

/* Each element of a top-level list is parsed into the element arena, handed to the
 * callback, and its memory reused for the next one: the document's biggest lists never
 * exist as a whole tree. */
static int
stream_seq(struct yp *p, const char *key, int depth)
{
    yaml_event_t ev;

    for (uint32_t idx = 0;; idx++) {
        struct gw_val v;
        size_t n = 0;
        if (next_event(p, &ev) < 0) {
            return -1;
        }
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        p->arena = p->anchored ? p->main_arena : p->elem_arena;
        int rc = parse_node(p, &ev, &v, depth + 2, &n);
        yaml_event_delete(&ev);
        if (rc == 0 && p->stream->element(p->stream->ud, key, idx, &v) < 0) {
            rc = perr(p->err, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
                      "out of memory");
        }
        if (!p->anchored) {
            gw_arena_reset(p->elem_arena);
        }
        p->arena = p->main_arena;
        if (rc < 0) {
            return -1;
        }
    }
}

static int
parse_map(struct yp *p, struct gw_val *out, int depth, size_t *nodes)
{
    struct vec merges = {.elem = sizeof(struct gw_val)};
    size_t base = p->kn;
    yaml_event_t ev;
    int rc = -1;

    for (;;) {
        if (next_event(p, &ev) < 0) {
            goto out;
        }
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (ev.type != YAML_SCALAR_EVENT) {
            perr(p->err, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
                 "mapping keys must be scalars");
            yaml_event_delete(&ev);
            goto out;
        }
        yaml_mark_t mark = ev.start_mark;
        int merge = ev.data.scalar.length == 2 && memcmp(ev.data.scalar.value, "<<", 2) == 0 &&
                    ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        uint32_t klen = (uint32_t)ev.data.scalar.length;
        const char *key = memchr(ev.data.scalar.value, '\0', klen)
                              ? NULL
                              : intern_key(p, (const char *)ev.data.scalar.value, klen);
        yaml_event_delete(&ev);
        if (key == NULL) {
            perr(p->err, (int)mark.line + 1, (int)mark.column + 1, "invalid key");
            goto out;
        }
        if (!merge && has_key(p->kstack + base, p->kn - base, key)) {
            perr(p->err, (int)mark.line + 1, (int)mark.column + 1, "duplicate key '%s'", key);
            goto out;
        }
        struct gw_kv kv = {.key = key, .klen = klen};
        size_t n = 0;
        if (next_event(p, &ev) < 0) {
            goto out;
        }
        if (depth == 0 && p->stream && ev.type == YAML_SEQUENCE_START_EVENT &&
            ev.data.sequence_start.anchor == NULL && p->stream->want(p->stream->ud, key, p->kstack + base, p->kn - base)) {
            yaml_event_delete(&ev);
            /* kept as null in the document: the elements went to the callback */
            kv.val.type = GW_V_NULL;
            kv.val.flags = GW_VF_STREAMED;
            if (stream_seq(p, key, depth) < 0 || push_kv(p, &kv) < 0) {
                goto out;
            }
            continue;
        }
        int r = parse_node(p, &ev, &kv.val, depth + 1, &n);
        yaml_event_delete(&ev);
        if (r < 0) {
            goto out;
        }
        *nodes += n + 1;
        if (merge) {
            if (add_merge(p, &merges, &kv.val, &mark) < 0) {
                goto out;
            }
            continue;
        }
        if (push_kv(p, &kv) < 0) {
            goto out;
        }
    }
    if (merges.n && apply_merges(p, base, &merges) < 0) {
        goto out;
    }
    out->type = GW_V_OBJ;
    out->n = (uint32_t)(p->kn - base);
    out->u.kv = pop_into_arena(p, p->kstack + base, p->kn - base, sizeof(struct gw_kv));
    if (out->n && out->u.kv == NULL) {
        perr(p->err, 0, 0, "out of memory");
        goto out;
    }
    rc = 0;
out:
    p->kn = base;
    free(merges.data);
    return rc;
}

static int
parse_scalar(struct yp *p, yaml_event_t *ev, struct gw_val *out)
{
    const char *tag = (const char *)ev->data.scalar.tag;
    size_t n = ev->data.scalar.length;
    char *s = gw_arena_strndup(p->arena, (const char *)ev->data.scalar.value, n);

    if (s == NULL) {
        return perr(p->err, 0, 0, "out of memory");
    }
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
        (tag && strcmp(tag, YAML_STR_TAG) == 0) || strlen(s) != n) {
        gw_val_str(out, s, n);
        out->flags |= GW_VF_QUOTED;
        return 0;
    }
    resolve_plain(out, s, n);
    return 0;
}

static int
parse_node(struct yp *p, yaml_event_t *ev, struct gw_val *out, int depth, size_t *nodes)
{
    const char *anchor = NULL;
    int rc;

    memset(out, 0, sizeof *out);
    if (depth > MAX_DEPTH) {
        return perr(p->err, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                    "document nested deeper than %d levels", MAX_DEPTH);
    }
    *nodes = 1;
    p->nodes++;
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        return use_alias(p, ev, out, nodes);
    case YAML_SCALAR_EVENT:
        anchor = (const char *)ev->data.scalar.anchor;
        rc = parse_scalar(p, ev, out);
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = (const char *)ev->data.sequence_start.anchor;
        rc = parse_seq(p, out, depth, nodes);
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = (const char *)ev->data.mapping_start.anchor;
        rc = parse_map(p, out, depth, nodes);
        break;
    default:
        return perr(p->err, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                    "unexpected YAML event");
    }
    if (rc == 0 && anchor && add_anchor(p, anchor, out, *nodes) < 0) {
        return perr(p->err, 0, 0, "out of memory");
    }
    return rc;
}

static int
parse_yaml(struct gw_arena *a, const char *buf, size_t len, const struct gw_parse_stream *stream,
           struct gw_val *out, struct gw_parse_err *err)
{
    struct yp p = {.arena = a, .main_arena = a, .err = err, .stream = stream};
    yaml_event_t ev;
    int rc = -1, seen_doc = 0;

    if (stream) {
        p.elem_arena = gw_arena_create(64 * 1024);
        if (p.elem_arena == NULL) {
            return perr(err, 0, 0, "out of memory");
        }
    }
    /* the stacks exist from the start: "stack + base" is then never arithmetic on NULL */
    p.vcap = p.kcap = 256;
    p.vstack = malloc(p.vcap * sizeof *p.vstack);
    p.kstack = malloc(p.kcap * sizeof *p.kstack);
    if (p.vstack == NULL || p.kstack == NULL || !yaml_parser_initialize(&p.parser)) {
        free(p.vstack);
        free(p.kstack);
        gw_arena_destroy(p.elem_arena);
        return perr(err, 0, 0, "out of memory");
    }
    yaml_parser_set_input_string(&p.parser, (const unsigned char *)buf, len);
    /* aliases may add at most as many nodes again as the text holds, plus some slack */
    p.budget = len + 100000;
    memset(out, 0, sizeof *out);
    out->type = GW_V_NULL;
    for (;;) {
        if (next_event(&p, &ev) < 0) {
            goto done;
        }
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_DOCUMENT_START_EVENT && seen_doc) {
            perr(err, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
                 "expected a single document");
            yaml_event_delete(&ev);
            goto done;
        }
        if (t == YAML_DOCUMENT_START_EVENT) {
            seen_doc = 1;
        }
        if (t == YAML_SCALAR_EVENT || t == YAML_SEQUENCE_START_EVENT ||
            t == YAML_MAPPING_START_EVENT || t == YAML_ALIAS_EVENT) {
            size_t n = 0;
            int r = parse_node(&p, &ev, out, 0, &n);
            yaml_event_delete(&ev);
            if (r < 0) {
                goto done;
            }
            continue;
        }
        yaml_event_delete(&ev);
    }
    rc = 0;
done:
    for (size_t i = 0; i < p.nanchors; i++) {
        free(p.anchors[i].name);
    }
    free(p.anchors);
    free(p.vstack);
    free(p.kstack);
    free(p.keys);
    gw_arena_destroy(p.elem_arena);
    yaml_parser_delete(&p.parser);
    return rc;
}

/* ---- strict JSON syntax check (no allocation) ---- */

static size_t
skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) {
        i++;
    }
    return i;
}

static int
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Returns the index after the string starting at s[i] == '"', or 0 when malformed. */
static size_t
json_string_end(const char *s, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"') {
            return i + 1;
        }
        if (c < 0x20) {
            return 0;
        }
        if (c >= 0x80) {
            size_t l = gw_utf8_len((const unsigned char *)s + i, n - i);
            if (l == 0) {
                return 0;
            }
            i += l - 1;
            continue;
        }
        if (c == '\\') {
            if (++i >= n) {
                return 0;
            }
            if (s[i] == 'u') {
                for (int k = 1; k <= 4; k++) {
                    char h = i + (size_t)k < n ? s[i + (size_t)k] : 0;
                    if (!is_digit(h) && !((h | 0x20) >= 'a' && (h | 0x20) <= 'f')) {
                        return 0;
                    }
                }
                i += 4;
            } else if (!strchr("\"\\/bfnrt", s[i]) || s[i] == '\0') {
                return 0;
            }
        }
    }
    return 0;
}

/* Returns the index after the number at s[i], or 0 when malformed (RFC 8259 grammar). */
static size_t
json_number_end(const char *s, size_t n, size_t i)
{
    if (i < n && s[i] == '-') {
        i++;
    }
    if (i < n && s[i] == '0') {
        i++;
    } else if (i < n && is_digit(s[i])) {
        while (i < n && is_digit(s[i])) {
            i++;
        }
    } else {
        return 0;
    }
    if (i < n && s[i] == '.') {
        if (++i >= n || !is_digit(s[i])) {
            return 0;
        }
        while (i < n && is_digit(s[i])) {
            i++;
        }
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        if (++i < n && (s[i] == '+' || s[i] == '-')) {
            i++;
        }
        if (i >= n || !is_digit(s[i])) {
            return 0;
        }
        while (i < n && is_digit(s[i])) {
            i++;
        }
    }
    return i;
}

/* 1 when buf is one well-formed JSON text (RFC 8259) nested at most MAX_DEPTH deep. The
 * streaming parser reads JSON through libyaml, which would also accept YAML-only forms
 * (trailing commas, comments, single quotes); this keeps JSON input strict. */
static int
json_wellformed(const char *s, size_t n)
{
    enum { VALUE, ARR_FIRST, OBJ_FIRST, KEY, COLON, AFTER } st = VALUE;
    char stack[MAX_DEPTH + 1];
    int sp = 0;
    size_t i = 0;

    for (;;) {
        i = skip_ws(s, n, i);
        if (st == AFTER) {
            if (sp == 0) {
                return skip_ws(s, n, i) == n;
            }
            if (i >= n) {
                return 0;
            }
            char close = stack[sp - 1] == '{' ? '}' : ']';
            if (s[i] == close) {
                sp--, i++;
                continue;
            }
            if (s[i] != ',') {
                return 0;
            }
            i++;
            st = stack[sp - 1] == '{' ? KEY : VALUE;
            continue;
        }
        if (i >= n) {
            return 0;
        }
        char c = s[i];
        if ((st == ARR_FIRST && c == ']') || (st == OBJ_FIRST && c == '}')) {
            sp--, i++;
            st = AFTER;
            continue;
        }
        if (st == OBJ_FIRST || st == KEY) {
            if (c != '"' || (i = json_string_end(s, n, i)) == 0) {
                return 0;
            }
            st = COLON;
            continue;
        }
        if (st == COLON) {
            if (c != ':') {
                return 0;
            }
            i++;
            st = VALUE;
            continue;
        }
        /* a value */
        if (c == '{' || c == '[') {
            if (sp == MAX_DEPTH) {
                return 0;
            }
            stack[sp++] = c;
            i++;
            st = c == '{' ? OBJ_FIRST : ARR_FIRST;
            continue;
        }
        if (c == '"') {
            i = json_string_end(s, n, i);
        } else if (c == '-' || is_digit(c)) {
            i = json_number_end(s, n, i);
        } else if (n - i >= 4 && (memcmp(s + i, "true", 4) == 0 || memcmp(s + i, "null", 4) == 0)) {
            i += 4;
        } else if (n - i >= 5 && memcmp(s + i, "false", 5) == 0) {
            i += 5;
        } else {
            return 0;
        }
        if (i == 0) {
            return 0;
        }
        st = AFTER;
    }
}

int
gw_parse_json_wellformed(const char *buf, size_t len)
{
    return json_wellformed(buf, len);
}

enum gw_fmt
gw_parse_detect(const char *buf, size_t len, enum gw_fmt fmt)
{
    size_t i = 0;

    if (fmt != GW_FMT_AUTO) {
        return fmt;
    }
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n')) {
        i++;
    }
    return (i < len && buf[i] == '{') ? GW_FMT_JSON : GW_FMT_YAML;
}

int
gw_parse_doc(struct gw_arena *a, const char *buf, size_t len, enum gw_fmt fmt,
             struct gw_val *out, struct gw_parse_err *err)
{
    if (err) {
        memset(err, 0, sizeof *err);
    }
    if (gw_parse_detect(buf, len, fmt) == GW_FMT_JSON) {
        return parse_json(a, buf, len, out, err);
    }
    return parse_yaml(a, buf, len, NULL, out, err);
}

int
gw_parse_yaml_stream(struct gw_arena *a, const char *buf, size_t len,
                     const struct gw_parse_stream *stream, struct gw_val *out,
                     struct gw_parse_err *err)
{
    if (err) {
        memset(err, 0, sizeof *err);
    }
    return parse_yaml(a, buf, len, stream, out, err);
}

/* The declarative loader. Four passes over a flat list of entities:
 *   1. walk the document, validating each entity against its schema (nested entities are
 *      validated in place, their parent remembered) and generating missing secrets;
 *   2. resolve references (by id or endpoint key) to entities of the document;
 *   3. generate missing ids, parents before children (a plugin's id derives from its scope);
 *   4. check uniqueness (ids, endpoint keys, unique fields, cache keys) with hash indexes,
 *      then copy the records into per-type arrays sorted by id and hash the canonical form.
 * Every error is collected into one Kong-shaped tree; nothing is published half-valid. */
#include "doc.h"
#include "str.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "canon.h"
#include "uuid.h"

#define NO_ITEM UINT32_MAX
#define MAX_DEPTH 3

/* Kong's namespace for declarative ids (kong/db/declarative). */
static const char ID_NAMESPACE[] = "fd02801f-0957-4a15-a55a-c8d9606f30b5";

struct item {
    struct gw_val rec;
    uint8_t type;
    uint8_t valid;
    uint8_t depth;
    uint8_t explicit_id;
    uint32_t parent; /* item index of the enclosing entity, or NO_ITEM */
    struct {
        uint16_t key; /* level 0: entity type; deeper: index into gw_nestings */
        uint32_t idx;
    } path[MAX_DEPTH];
};

struct index {
    uint64_t *slots;
    uint32_t cap, n;
};

enum { IX_ID = 0, IX_EKEY, IX_UNIQ0, IX_UNIQ1, IX_CACHE, IX__COUNT };

struct loader {
    struct gw_arena *arena; /* the config's */
    struct item *items;
    uint32_t n, cap;
    json_t *errs;
    unsigned nerrs;
    int legacy;    /* _format_version 1.1 / 2.1 */
    int transform; /* _transform */
    unsigned char seed[32];
    uint8_t cur_type;
    struct index ix[GW_ENT__COUNT][IX__COUNT];
    struct gw_arena *tmp; /* rewritten inputs */
};

/* field indexes per entity, cached at first use */
static int id_idx[GW_ENT__COUNT], ekey_idx[GW_ENT__COUNT];
static int uniq_idx[GW_ENT__COUNT][2], cache_idx[GW_ENT__COUNT][4];
static int idx_ready;

static void
prepare_indexes(void)
{
    if (idx_ready) {
        return;
    }
    for (int t = 0; t < GW_ENT__COUNT; t++) {
        const struct gw_entity_def *d = &gw_entities[t];
        id_idx[t] = gw_record_index(d->schema, "id");
        ekey_idx[t] = d->endpoint_key ? gw_record_index(d->schema, d->endpoint_key) : -1;
        for (int k = 0; k < 2; k++) {
            int ok = d->unique && d->unique[0] && (k == 0 || d->unique[1]);
            uniq_idx[t][k] = ok ? gw_record_index(d->schema, d->unique[k]) : -1;
        }
        for (int k = 0; k < 4; k++) {
            int ok = d->cache_key && k < 4;
            for (int j = 0; ok && j <= k; j++) {
                ok = d->cache_key[j] != NULL;
            }
            cache_idx[t][k] = ok ? gw_record_index(d->schema, d->cache_key[k]) : -1;
        }
    }
    idx_ready = 1;
}

const char *
gw_config_id(enum gw_entity_type t, const struct gw_val *rec)
{
    prepare_indexes();
    const struct gw_val *v = &rec->u.items[id_idx[t]];
    return v->type == GW_V_STR ? v->u.s : NULL;
}

/* ---- errors ---- */

static json_t *
slot_obj(json_t *arr, size_t idx)
{
    json_t *o;

    while (json_array_size(arr) <= idx) {
        json_array_append_new(arr, json_null());
    }
    o = json_array_get(arr, idx);
    if (json_is_object(o)) {
        return o;
    }
    json_t *obj = json_object();
    if (json_is_string(o)) {
        json_object_set_new(obj, "@entity", json_pack("[O]", o));
    }
    json_array_set_new(arr, idx, obj);
    return obj;
}

static json_t *
root_errs(struct loader *L)
{
    if (L->errs == NULL) {
        L->errs = json_object();
    }
    return L->errs;
}

static const char *
level_key(const struct item *it, int level)
{
    return level == 0 ? gw_entities[it->path[0].key].name : gw_nestings[it->path[level].key].key;
}

static json_t *
level_array(json_t *obj, const char *key)
{
    json_t *arr = json_object_get(obj, key);

    if (!json_is_array(arr)) {
        arr = json_array();
        json_object_set_new(obj, key, arr);
    }
    return arr;
}

/* The error object of an item, created along its path. */
static json_t *
item_errs(struct loader *L, const struct item *it)
{
    json_t *cur = root_errs(L);

    for (int l = 0; l < it->depth; l++) {
        cur = slot_obj(level_array(cur, level_key(it, l)), it->path[l].idx);
    }
    return cur;
}

/* A message standing for the whole entity: a string in its slot, as Kong reports
 * uniqueness violations; appended to @entity if the slot already has errors. */
static void
item_err_str(struct loader *L, const struct item *it, const char *msg)
{
    json_t *cur = root_errs(L), *arr, *o;
    int l;

    L->nerrs++;
    for (l = 0; l < it->depth - 1; l++) {
        cur = slot_obj(level_array(cur, level_key(it, l)), it->path[l].idx);
    }
    arr = level_array(cur, level_key(it, l));
    while (json_array_size(arr) <= it->path[l].idx) {
        json_array_append_new(arr, json_null());
    }
    o = json_array_get(arr, it->path[l].idx);
    if (json_is_null(o)) {
        json_array_set_new(arr, it->path[l].idx, json_string(msg));
        return;
    }
    o = slot_obj(arr, it->path[l].idx);
    json_t *list = json_object_get(o, "@entity");
    if (list == NULL) {
        list = json_array();
        json_object_set_new(o, "@entity", list);
    }
    json_array_append_new(list, json_string(msg));
}

static void
item_field_err(struct loader *L, const struct item *it, const char *field, const char *msg)
{
    json_object_set_new(item_errs(L, it), field, json_string(msg));
    L->nerrs++;
}

/* "services[2].routes[0]" */
static size_t
item_path(const struct item *it, char *buf, size_t len)
{
    size_t off = 0;

    buf[0] = '\0';
    for (int l = 0; l < it->depth && off < len; l++) {
        off += (size_t)snprintf(buf + off, len - off, "%s%s[%u]", l ? "." : "", level_key(it, l),
                                it->path[l].idx);
    }
    return off < len ? off : len - 1;
}

/* ---- pass 1: walk and validate ---- */

static int
skip_key(struct gw_vctx *ctx, const char *key)
{
    struct loader *L = ctx->user;

    if (key[0] == '_' && (strcmp(key, "_comment") == 0 || strcmp(key, "_ignore") == 0)) {
        return 1;
    }
    for (size_t i = 0; i < gw_nestings_count; i++) {
        if (gw_nestings[i].parent == L->cur_type && strcmp(gw_nestings[i].key, key) == 0) {
            return 1;
        }
    }
    return 0;
}

/* 1.1 / 2.1 files wrote regex paths without '~': Kong's migration marks a path as a regex
 * when it holds a character outside [A-Za-z0-9._~/%-]. */
static const struct gw_val *
legacy_paths(struct loader *L, const struct gw_val *in)
{
    const struct gw_val *paths = gw_val_get(in, "paths");
    struct gw_val *out, *np;

    if (paths == NULL || paths->type != GW_V_ARR) {
        return in;
    }
    out = gw_arena_alloc(L->tmp, sizeof *out);
    np = gw_arena_alloc(L->tmp, sizeof *np);
    if (out == NULL || np == NULL) {
        return in;
    }
    *out = *in;
    out->u.kv = gw_arena_alloc(L->tmp, sizeof(struct gw_kv) * in->n);
    *np = *paths;
    np->u.items = gw_arena_alloc(L->tmp, sizeof(struct gw_val) * (paths->n ? paths->n : 1));
    if (out->u.kv == NULL || np->u.items == NULL) {
        return in;
    }
    for (uint32_t i = 0; i < in->n; i++) {
        out->u.kv[i] = in->u.kv[i];
        if (&in->u.kv[i].val == paths) {
            out->u.kv[i].val = *np;
            out->u.kv[i].val.u.items = np->u.items;
        }
    }
    for (uint32_t i = 0; i < paths->n; i++) {
        const struct gw_val *p = &paths->u.items[i];
        np->u.items[i] = *p;
        if (p->type == GW_V_STR &&
            strspn(p->u.s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~/%-") !=
                p->n) {
            char *s = gw_arena_alloc(L->tmp, p->n + 2);
            if (s) {
                s[0] = '~';
                memcpy(s + 1, p->u.s, p->n + 1);
                gw_val_str(&np->u.items[i], s, p->n + 1);
            }
        }
    }
    return out;
}

static struct item *
new_item(struct loader *L)
{
    if (L->n == L->cap) {
        uint32_t cap = L->cap ? L->cap * 2 : 256;
        struct item *it = realloc(L->items, sizeof *it * cap);
        if (it == NULL) {
            return NULL;
        }
        L->items = it;
        L->cap = cap;
    }
    memset(&L->items[L->n], 0, sizeof L->items[0]);
    return &L->items[L->n++];
}

/* Derived secret for a missing key/secret: stable for the same document, unpredictable
 * without it. */
static void
derive_secret(struct loader *L, const struct item *it, const char *field, char out[33])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char path[256];
    size_t n = item_path(it, path, sizeof path);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    EVP_DigestUpdate(ctx, L->seed, sizeof L->seed);
    EVP_DigestUpdate(ctx, path, n);
    EVP_DigestUpdate(ctx, field, strlen(field));
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    gw_hex_lower(md, 16, out);
}

static void
autogen(struct loader *L, struct item *it)
{
    const struct gw_entity_def *d = &gw_entities[it->type];

    for (const char *const *f = d->autogen; f && *f; f++) {
        int i = gw_record_index(d->schema, *f);
        struct gw_val *v = &it->rec.u.items[i];
        if (gw_val_is_null(v)) {
            char s[33];
            derive_secret(L, it, *f, s);
            gw_val_str(v, gw_arena_strndup(L->arena, s, 32), 32);
        }
    }
}

static int walk_list(struct loader *L, uint8_t type, const struct gw_val *list, uint32_t parent,
                     int nest, const struct item *pitem);

static const struct gw_val *
sni_record(struct loader *L, const struct gw_val *v)
{
    struct gw_val *o;

    /* certificates[].snis may list names as plain strings (Admin API form) */
    if (v->type != GW_V_STR) {
        return v;
    }
    o = gw_arena_calloc(L->tmp, sizeof *o);
    if (o == NULL) {
        return v;
    }
    o->type = GW_V_OBJ;
    o->n = 1;
    o->u.kv = gw_arena_calloc(L->tmp, sizeof(struct gw_kv));
    if (o->u.kv == NULL) {
        return v;
    }
    o->u.kv[0].key = "name";
    o->u.kv[0].klen = 4;
    o->u.kv[0].val = *v;
    return o;
}

static int
walk_entity(struct loader *L, uint8_t type, const struct gw_val *in, uint32_t parent, int nest,
            const struct item *pitem, uint32_t idx)
{
    const struct gw_entity_def *d = &gw_entities[type];
    struct gw_vctx ctx = {
        .arena = L->arena, .scratch = L->tmp, .opts = GW_VAL_FK_NAMES, .user = L, .skip = skip_key};
    struct item *it = new_item(L);
    uint32_t me;
    json_t *e = NULL;

    if (it == NULL) {
        return -1;
    }
    me = L->n - 1;
    it->type = type;
    it->parent = parent;
    if (pitem) {
        if (pitem->depth >= MAX_DEPTH) {
            item_field_err(L, pitem, gw_nestings[nest].key, "nested too deeply");
            L->n--;
            return 0;
        }
        memcpy(it->path, pitem->path, sizeof it->path);
        it->depth = pitem->depth + 1;
        it->path[pitem->depth].key = (uint16_t)nest;
        it->path[pitem->depth].idx = idx;
        ctx.implicit = gw_nestings[nest].fk;
    } else {
        it->depth = 1;
        it->path[0].key = type;
        it->path[0].idx = idx;
    }
    if (type == GW_ENT_SNIS) {
        in = sni_record(L, in);
    }
    if (pitem && !gw_val_is_null(gw_val_get(in, gw_nestings[nest].fk))) {
        /* the parent fills it (Kong: "must be omitted" in nested entities) */
        item_field_err(L, it, gw_nestings[nest].fk, "value must be null");
    }
    if (type == GW_ENT_ROUTES && L->legacy) {
        in = legacy_paths(L, in);
    }
    L->cur_type = type;
    struct gw_val rec;
    int rc = gw_schema_validate_ctx(&ctx, d->schema, in, &rec, &e);
    it = &L->items[me];
    it->rec = rec;
    if (rc < 0) {
        json_object_update(item_errs(L, it), e);
        L->nerrs += ctx.nerrs ? ctx.nerrs : 1;
        json_decref(e);
    } else {
        it->valid = 1;
        it->explicit_id = !gw_val_is_null(&it->rec.u.items[id_idx[type]]);
        autogen(L, it);
    }
    if (in->type != GW_V_OBJ) {
        return 0;
    }
    /* nested children */
    for (size_t i = 0; i < gw_nestings_count; i++) {
        const struct gw_nesting *ns = &gw_nestings[i];
        const struct gw_val *list;
        if (ns->parent != type || (list = gw_val_get(in, ns->key)) == NULL) {
            continue;
        }
        if (walk_list(L, ns->child, list, me, (int)i, &L->items[me]) < 0) {
            return -1;
        }
    }
    return 0;
}

static int
walk_list(struct loader *L, uint8_t type, const struct gw_val *list, uint32_t parent, int nest,
          const struct item *pitem)
{
    if (list->type == GW_V_NULL) {
        return 0;
    }
    if (list->type != GW_V_ARR) {
        if (pitem) {
            item_field_err(L, pitem, gw_nestings[nest].key, "expected an array");
        } else {
            json_object_set_new(root_errs(L), gw_entities[type].name,
                                json_string("expected an array"));
            L->nerrs++;
        }
        return 0;
    }
    for (uint32_t i = 0; i < list->n; i++) {
        /* pitem may move when items grow: pass a copy */
        struct item pcopy;
        if (pitem) {
            pcopy = L->items[parent];
        }
        if (walk_entity(L, type, &list->u.items[i], parent, nest, pitem ? &pcopy : NULL, i) < 0) {
            return -1;
        }
    }
    return 0;
}

static int
walk_top(struct loader *L, const struct gw_val *doc)
{
    static const char *const versions[] = {"1.1", "2.1", "3.0", NULL};
    const struct gw_val *fv = gw_val_get(doc, "_format_version");
    const struct gw_val *tr = gw_val_get(doc, "_transform");

    if (fv == NULL || fv->type == GW_V_NULL) {
        json_object_set_new(root_errs(L), "_format_version", json_string("required field missing"));
        L->nerrs++;
    } else if (fv->type != GW_V_STR) {
        json_object_set_new(root_errs(L), "_format_version", json_string("expected a string"));
        L->nerrs++;
    } else {
        int ok = 0;
        for (const char *const *v = versions; *v; v++) {
            ok |= strcmp(fv->u.s, *v) == 0;
        }
        if (!ok) {
            json_object_set_new(root_errs(L), "_format_version",
                                json_string("expected one of: 1.1, 2.1, 3.0"));
            L->nerrs++;
        }
        L->legacy = ok && strcmp(fv->u.s, "3.0") != 0;
    }
    if (tr && tr->type != GW_V_NULL) {
        if (tr->type != GW_V_BOOL) {
            json_object_set_new(root_errs(L), "_transform", json_string("expected a boolean"));
            L->nerrs++;
        } else {
            L->transform = tr->u.b;
        }
    }
    for (uint32_t i = 0; i < doc->n; i++) {
        const char *k = doc->u.kv[i].key;
        const struct gw_entity_def *d;
        if (!strcmp(k, "_format_version") || !strcmp(k, "_transform") || !strcmp(k, "_comment") ||
            !strcmp(k, "_ignore")) {
            continue;
        }
        if (doc->u.kv[i].val.flags & GW_VF_STREAMED) {
            continue;
        }
        d = gw_entity_find(k);
        if (d == NULL) {
            json_object_set_new(root_errs(L), k, json_string("unknown field"));
            L->nerrs++;
            continue;
        }
        if (walk_list(L, (uint8_t)d->type, &doc->u.kv[i].val, NO_ITEM, -1, NULL) < 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- indexes ---- */

/* 8 bytes at a time, multiply-xorshift mixing: keys are ids and names of 10-40 bytes. */
static uint32_t
hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;

    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        s += 8, n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, s, n);
        h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    }
    h ^= h >> 29;
    h *= 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 32);
}

/* The key of an item for an index: *key points at it (a string of the record, or buf for
 * composite keys); returns its length, or -1 when the item has no such key (a null unique
 * field). */
static int
key_ref(const struct loader *L, const struct item *it, int kind, char *buf, size_t len,
        const char **key)
{
    const struct gw_entity_def *d = &gw_entities[it->type];
    const struct gw_val *v = NULL;

    (void)L;
    switch (kind) {
    case IX_ID:
        v = &it->rec.u.items[id_idx[it->type]];
        break;
    case IX_EKEY:
        v = ekey_idx[it->type] >= 0 ? &it->rec.u.items[ekey_idx[it->type]] : NULL;
        break;
    case IX_UNIQ0:
    case IX_UNIQ1: {
        int k = uniq_idx[it->type][kind - IX_UNIQ0];
        if (k < 0) {
            return -1;
        }
        v = &it->rec.u.items[k];
        break;
    }
    case IX_CACHE: {
        size_t off = 0;
        if (d->cache_key == NULL) {
            return -1;
        }
        for (int k = 0; k < 4 && cache_idx[it->type][k] >= 0; k++) {
            const struct gw_val *x = &it->rec.u.items[cache_idx[it->type][k]];
            size_t n = x->type == GW_V_STR ? x->n : 0;
            if (off + n + 1 >= len) {
                return -1;
            }
            if (k) {
                buf[off++] = ':';
            }
            memcpy(buf + off, x->type == GW_V_STR ? x->u.s : "", n);
            off += n;
        }
        buf[off] = '\0';
        *key = buf;
        return (int)off;
    }
    }
    if (v == NULL || v->type != GW_V_STR) {
        return -1;
    }
    *key = v->u.s;
    return (int)v->n;
}

/* The same, copied into buf (NUL-terminated). */
static int
key_of(const struct loader *L, const struct item *it, int kind, char *buf, size_t len)
{
    const char *k;
    int n = key_ref(L, it, kind, buf, len, &k);

    if (n < 0 || k == buf) {
        return n;
    }
    if ((size_t)n >= len) {
        return -1;
    }
    memcpy(buf, k, (size_t)n);
    buf[n] = '\0';
    return n;
}

/* Slots hold the key's hash in the high half and item index + 1 in the low half (0: empty),
 * so probes compare hashes before building keys. */
static int
index_grow(struct index *ix)
{
    uint32_t cap = ix->cap ? ix->cap * 2 : 64;
    uint64_t *slots = calloc(cap, sizeof *slots);

    if (slots == NULL) {
        return -1;
    }
    for (uint32_t i = 0; i < ix->cap; i++) {
        uint64_t e = ix->slots[i];
        if (e == 0) {
            continue;
        }
        uint32_t h = (uint32_t)(e >> 32) & (cap - 1);
        while (slots[h]) {
            h = (h + 1) & (cap - 1);
        }
        slots[h] = e;
    }
    free(ix->slots);
    ix->slots = slots;
    ix->cap = cap;
    return 0;
}

static uint32_t
index_find_h(const struct loader *L, int type, int kind, const char *key, size_t n, uint32_t hash)
{
    const struct index *ix = &L->ix[type][kind];
    char buf[1024];

    if (ix->cap == 0) {
        return NO_ITEM;
    }
    for (uint32_t h = hash & (ix->cap - 1); ix->slots[h]; h = (h + 1) & (ix->cap - 1)) {
        uint64_t e = ix->slots[h];
        if ((uint32_t)(e >> 32) != hash) {
            continue;
        }
        uint32_t item = (uint32_t)e - 1;
        const char *k;
        int m = key_ref(L, &L->items[item], kind, buf, sizeof buf, &k);
        if (m == (int)n && memcmp(k, key, n) == 0) {
            return item;
        }
    }
    return NO_ITEM;
}

/* Finds the item with this key; NO_ITEM when absent. */
static uint32_t
index_find(const struct loader *L, int type, int kind, const char *key, size_t n)
{
    return index_find_h(L, type, kind, key, n, hash_bytes(key, n));
}

/* Inserts item i; returns the item already holding the key, or NO_ITEM when inserted. */
static uint32_t
index_add(struct loader *L, int kind, uint32_t i)
{
    struct item *it = &L->items[i];
    struct index *ix = &L->ix[it->type][kind];
    char buf[1024];
    const char *key;
    int n = key_ref(L, it, kind, buf, sizeof buf, &key);
    uint32_t h, hash;

    if (n < 0) {
        return NO_ITEM;
    }
    hash = hash_bytes(key, (size_t)n);
    uint32_t prev = index_find_h(L, it->type, kind, key, (size_t)n, hash);
    if (prev != NO_ITEM) {
        return prev;
    }
    if ((ix->n + 1) * 2 > ix->cap && index_grow(ix) < 0) {
        return NO_ITEM;
    }
    for (h = hash & (ix->cap - 1); ix->slots[h]; h = (h + 1) & (ix->cap - 1)) {
    }
    ix->slots[h] = (uint64_t)hash << 32 | (i + 1);
    ix->n++;
    return NO_ITEM;
}

static void
uniq_err(struct loader *L, const struct item *it, const char *what, const char *value)
{
    char msg[512];

    snprintf(msg, sizeof msg,
             "uniqueness violation: '%s' entity with %s set to '%.200s' already declared",
             gw_entities[it->type].name, what, value);
    item_err_str(L, it, msg);
}

/* ---- pass 2: references ---- */

static int
is_uuid(const struct gw_val *v)
{
    char buf[8];
    return v->type == GW_V_STR && gw_check_uuid(v, buf, sizeof buf) == NULL;
}

static void
resolve_refs(struct loader *L)
{
    for (uint32_t i = 0; i < L->n; i++) {
        struct item *it = &L->items[i];
        const struct gw_record *r = gw_entities[it->type].schema;
        if (!it->valid) {
            continue;
        }
        for (uint32_t f = 0; f < r->nfields; f++) {
            const struct gw_field *fd = &r->fields[f];
            struct gw_val *v = &it->rec.u.items[f];
            if (fd->type != GW_T_FOREIGN) {
                continue;
            }
            const struct gw_entity_def *pd = gw_entity_find(fd->ref);
            if (it->parent != NO_ITEM && L->items[it->parent].type == pd->type &&
                strcmp(gw_nestings[it->path[it->depth - 1].key].fk, fd->name) == 0) {
                /* nested: the parent; its id is filled in pass 3 */
                v->type = GW_V_INT;
                v->u.i = it->parent;
                continue;
            }
            if (gw_val_is_null(v)) {
                continue;
            }
            uint32_t p = NO_ITEM;
            if (is_uuid(v)) {
                p = index_find(L, pd->type, IX_ID, v->u.s, v->n);
            }
            if (p == NO_ITEM && pd->endpoint_key) {
                p = index_find(L, pd->type, IX_EKEY, v->u.s, v->n);
            }
            if (p == NO_ITEM) {
                char msg[512];
                snprintf(msg, sizeof msg, "invalid reference '%s: %.200s' (no such entry in '%s')",
                         fd->name, v->u.s, pd->name);
                item_field_err(L, it, fd->name, msg);
                it->valid = 0;
                continue;
            }
            v->type = GW_V_INT; /* an item index until pass 3 turns it into the id */
            v->u.i = p;
        }
    }
}

/* ---- pass 3: ids ---- */

static void
entity_namespace(int type, char out[GW_UUID_LEN + 1])
{
    const char *name = gw_entities[type].name;
    gw_uuid_v5(ID_NAMESPACE, name, strlen(name), out);
}

static int
fill_fk_ids(struct loader *L, struct item *it)
{
    const struct gw_record *r = gw_entities[it->type].schema;

    for (uint32_t f = 0; f < r->nfields; f++) {
        struct gw_val *v = &it->rec.u.items[f];
        if (r->fields[f].type != GW_T_FOREIGN || v->type != GW_V_INT) {
            continue;
        }
        const struct item *p = &L->items[v->u.i];
        const struct gw_val *pid = &p->rec.u.items[id_idx[p->type]];
        if (!p->valid || pid->type != GW_V_STR) {
            it->valid = 0;
            v->type = GW_V_NULL;
            continue;
        }
        *v = *pid; /* shares the parent's id string */
    }
    return 0;
}

/* The name a generated id derives from, as Kong's declarative loader builds it: the cache
 * key ("plugins:<name>:<route>:<service>:<consumer>"; a target's "<target>:<upstream>"), else
 * the endpoint key, else the entity's place in the document. */
static int
id_key(const struct loader *L, const struct item *it, char *buf, size_t len)
{
    int n;

    if (it->type == GW_ENT_PLUGINS) {
        n = key_of(L, it, IX_CACHE, buf + 8, len - 8);
        if (n >= 0) {
            memcpy(buf, "plugins:", 8);
            return n + 8;
        }
    } else if (it->type == GW_ENT_TARGETS) {
        const struct gw_val *t = &it->rec.u.items[ekey_idx[it->type]];
        const struct gw_val *u = &it->rec.u.items[cache_idx[it->type][0]];
        n = snprintf(buf, len, "%s:%s", t->u.s, u->type == GW_V_STR ? u->u.s : "");
        if (n > 0 && (size_t)n < len) {
            return n;
        }
    } else if ((n = key_of(L, it, IX_CACHE, buf, len)) >= 0) {
        return n;
    }
    n = key_of(L, it, IX_EKEY, buf, len);
    return n >= 0 ? n : (int)item_path(it, buf, len);
}

static void
assign_ids(struct loader *L)
{
    char ns[GW_ENT__COUNT][GW_UUID_LEN + 1];
    char buf[1024], id[GW_UUID_LEN + 1];

    for (int t = 0; t < GW_ENT__COUNT; t++) {
        entity_namespace(t, ns[t]);
    }
    /* types in enum order: every parent type comes before its children */
    for (int t = 0; t < GW_ENT__COUNT; t++) {
        for (uint32_t i = 0; i < L->n; i++) {
            struct item *it = &L->items[i];
            if (it->type != t || !it->valid) {
                continue;
            }
            fill_fk_ids(L, it);
            struct gw_val *v = &it->rec.u.items[id_idx[t]];
            if (!gw_val_is_null(v)) {
                continue;
            }
            int n = id_key(L, it, buf, sizeof buf);
            if (n < 0) {
                n = (int)item_path(it, buf, sizeof buf);
            }
            gw_uuid_v5(ns[t], buf, (size_t)n, id);
            gw_val_str(v, gw_arena_strndup(L->arena, id, GW_UUID_LEN), GW_UUID_LEN);
        }
    }
}

/* basic-auth passwords are stored as hex SHA-1 of password .. consumer id (Kong's crypto) */
static void
transform(struct loader *L)
{
    for (uint32_t i = 0; i < L->n && L->transform; i++) {
        struct item *it = &L->items[i];
        if (it->type != GW_ENT_BASICAUTH_CREDENTIALS || !it->valid) {
            continue;
        }
        const struct gw_record *r = gw_entities[it->type].schema;
        struct gw_val *pw = &it->rec.u.items[gw_record_index(r, "password")];
        const struct gw_val *cid = gw_rec_get(r, &it->rec, "consumer");
        char out[41];
        int have = cid && cid->type == GW_V_STR;
        gw_basicauth_hash(pw->u.s, pw->n, have ? cid->u.s : "", have ? cid->n : 0, out);
        gw_val_str(pw, gw_arena_strndup(L->arena, out, 40), 40);
    }
}

/* ---- pass 4: uniqueness ---- */

static void
check_unique(struct loader *L)
{
    char buf[1024];

    for (uint32_t i = 0; i < L->n; i++) {
        struct item *it = &L->items[i];
        const struct gw_entity_def *d = &gw_entities[it->type];
        if (!it->valid) {
            continue;
        }
        for (int k = IX_UNIQ0; k <= IX_UNIQ1; k++) {
            if (index_add(L, k, i) != NO_ITEM) {
                key_of(L, it, k, buf, sizeof buf);
                uniq_err(L, it, d->unique[k - IX_UNIQ0], buf);
                it->valid = 0;
            }
        }
        if (it->valid && index_add(L, IX_CACHE, i) != NO_ITEM) {
            key_of(L, it, IX_CACHE, buf, sizeof buf);
            uniq_err(L, it, "cache key", buf);
            it->valid = 0;
        }
    }
}

/* explicit ids first: references by id need them, generated ids come later */
static void
index_explicit_ids(struct loader *L)
{
    char buf[64];

    for (uint32_t i = 0; i < L->n; i++) {
        struct item *it = &L->items[i];
        if (!it->valid || !it->explicit_id) {
            continue;
        }
        if (index_add(L, IX_ID, i) != NO_ITEM) {
            key_of(L, it, IX_ID, buf, sizeof buf);
            uniq_err(L, it, "primary key", buf);
            it->valid = 0;
        }
    }
}

static int
ekey_in_cache_key(const struct gw_entity_def *d)
{
    for (const char *const *f = d->cache_key; f && *f && d->endpoint_key; f++) {
        if (strcmp(*f, d->endpoint_key) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Endpoint keys: indexed for references, and checked for uniqueness on the way (a target's
 * address is unique per upstream only: its cache key checks that). */
static void
index_names(struct loader *L)
{
    char buf[1024];

    for (uint32_t i = 0; i < L->n; i++) {
        struct item *it = &L->items[i];
        const struct gw_entity_def *d = &gw_entities[it->type];
        if (!it->valid || index_add(L, IX_EKEY, i) == NO_ITEM || ekey_in_cache_key(d)) {
            continue;
        }
        key_of(L, it, IX_EKEY, buf, sizeof buf);
        uniq_err(L, it, d->endpoint_key, buf);
        it->valid = 0;
    }
}

/* A generated id can only collide with an explicit one: two generated ids are equal only
 * when their keys are, and equal keys were reported as duplicate names or cache keys. So a
 * lookup in the explicit ids is enough. */
static void
index_generated_ids(struct loader *L)
{
    for (uint32_t i = 0; i < L->n; i++) {
        struct item *it = &L->items[i];
        if (!it->valid || it->explicit_id) {
            continue;
        }
        const struct gw_val *id = &it->rec.u.items[id_idx[it->type]];
        if (index_find(L, it->type, IX_ID, id->u.s, id->n) != NO_ITEM) {
            uniq_err(L, it, "primary key", id->u.s);
            it->valid = 0;
        }
    }
}

/* ---- result ---- */

static int
cmp_ids(const void *a, const void *b, int type)
{
    /* ids are validated UUIDs: 36 bytes */
    return memcmp(((const struct gw_val *)a)->u.items[id_idx[type]].u.s,
                  ((const struct gw_val *)b)->u.items[id_idx[type]].u.s, 36);
}

#define CMP_FN(t)                                                                               \
    static int cmp_##t(const void *a, const void *b)                                           \
    {                                                                                           \
        return cmp_ids(a, b, t);                                                                \
    }
CMP_FN(0) CMP_FN(1) CMP_FN(2) CMP_FN(3) CMP_FN(4) CMP_FN(5) CMP_FN(6)
CMP_FN(7) CMP_FN(8) CMP_FN(9) CMP_FN(10) CMP_FN(11) CMP_FN(12) CMP_FN(13)
CMP_FN(14) CMP_FN(15)
static int (*const cmps[GW_ENT__COUNT])(const void *, const void *) = {
    cmp_0, cmp_1, cmp_2, cmp_3, cmp_4, cmp_5, cmp_6, cmp_7, cmp_8, cmp_9, cmp_10, cmp_11, cmp_12,
    cmp_13, cmp_14, cmp_15};
_Static_assert(GW_ENT__COUNT == 16, "one comparator per entity type");

static int
build_sets(struct loader *L, struct gw_config *cfg)
{
    uint32_t count[GW_ENT__COUNT] = {0};

    for (uint32_t i = 0; i < L->n; i++) {
        count[L->items[i].type]++;
    }
    for (int t = 0; t < GW_ENT__COUNT; t++) {
        if (count[t] == 0) {
            continue;
        }
        cfg->sets[t].recs = gw_arena_alloc(L->arena, sizeof(struct gw_val) * count[t]);
        if (cfg->sets[t].recs == NULL) {
            return -1;
        }
    }
    for (uint32_t i = 0; i < L->n; i++) {
        struct gw_entset *s = &cfg->sets[L->items[i].type];
        s->recs[s->n++] = L->items[i].rec;
    }
    for (int t = 0; t < GW_ENT__COUNT; t++) {
        if (cfg->sets[t].n > 1) {
            qsort(cfg->sets[t].recs, cfg->sets[t].n, sizeof(struct gw_val), cmps[t]);
        }
    }
    return 0;
}

static void
loader_free(struct loader *L)
{
    for (int t = 0; t < GW_ENT__COUNT; t++) {
        for (int k = 0; k < IX__COUNT; k++) {
            free(L->ix[t][k].slots);
        }
    }
    free(L->items);
    gw_arena_destroy(L->tmp);
}

static int
loader_init(struct loader *L, struct gw_config **cfgp, const unsigned char seed[32])
{
    struct gw_config *cfg;

    memset(L, 0, sizeof *L);
    if (gw_model_init() < 0) {
        return -1;
    }
    prepare_indexes();
    cfg = calloc(1, sizeof *cfg);
    if (cfg == NULL) {
        return -1;
    }
    *cfgp = cfg;
    cfg->arena = gw_arena_create(256 * 1024);
    L->arena = cfg->arena;
    L->tmp = gw_arena_create(0);
    L->transform = 1;
    memcpy(L->seed, seed, sizeof L->seed);
    return cfg->arena && L->tmp ? 0 : -1;
}

/* Walks what was not streamed, then runs the document-wide passes. */
static int
loader_finish(struct loader *L, struct gw_config *cfg, const struct gw_val *doc,
              struct gw_config **out, json_t **errs)
{
    int rc = GW_DOC_ENOMEM;

    if (doc->type != GW_V_OBJ) {
        json_decref(L->errs);
        L->errs = json_object();
        json_object_set_new(L->errs, "error",
                            json_string("failed parsing declarative configuration: expected an "
                                        "object"));
        L->nerrs++;
    } else if (walk_top(L, doc) < 0) {
        goto fail;
    }
    if (L->nerrs == 0) {
        index_explicit_ids(L);
        index_names(L);
        resolve_refs(L);
    }
    if (L->nerrs == 0) {
        assign_ids(L);
        transform(L);
        /* after the names (index_names): two entities with one name also share a derived
         * id, and the name is what the user wrote twice */
        check_unique(L);
        index_generated_ids(L);
    }
    if (L->nerrs) {
        rc = GW_DOC_EINVALID;
        if (errs) {
            *errs = L->errs;
            L->errs = NULL;
        }
        goto fail;
    }
    if (build_sets(L, cfg) < 0 || gw_canon_hash(cfg, cfg->hash) < 0) {
        goto fail;
    }
    loader_free(L);
    *out = cfg;
    return 0;
fail:
    json_decref(L->errs);
    loader_free(L);
    gw_config_free(cfg);
    return rc;
}

int
gw_doc_load_val(const struct gw_val *doc, const unsigned char seed[32], struct gw_config **out,
                json_t **errs)
{
    struct loader L;
    struct gw_config *cfg = NULL;

    *out = NULL;
    if (errs) {
        *errs = NULL;
    }
    if (loader_init(&L, &cfg, seed) < 0) {
        loader_free(&L);
        gw_config_free(cfg);
        return GW_DOC_ENOMEM;
    }
    return loader_finish(&L, cfg, doc, out, errs);
}

/* Streaming: a top-level entity list is validated element by element while the YAML is
 * parsed, once _format_version is known (it decides how route paths read). */
static int
stream_want(void *ud, const char *key, const struct gw_kv *prev, size_t nprev)
{
    struct loader *L = ud;

    if (gw_entity_find(key) == NULL) {
        return 0;
    }
    for (size_t i = 0; i < nprev; i++) {
        const struct gw_val *v = &prev[i].val;
        if (strcmp(prev[i].key, "_format_version") == 0 && v->type == GW_V_STR) {
            L->legacy = strcmp(v->u.s, "3.0") != 0;
            return strcmp(v->u.s, "1.1") == 0 || strcmp(v->u.s, "2.1") == 0 ||
                   strcmp(v->u.s, "3.0") == 0;
        }
    }
    return 0;
}

static int
stream_element(void *ud, const char *key, uint32_t idx, const struct gw_val *v)
{
    struct loader *L = ud;
    const struct gw_entity_def *d = gw_entity_find(key);
    int rc = walk_entity(L, (uint8_t)d->type, v, NO_ITEM, -1, NULL, idx);

    gw_arena_reset(L->tmp);
    return rc;
}

int
gw_doc_load(const char *buf, size_t len, enum gw_fmt fmt, struct gw_config **out, json_t **errs,
            struct gw_parse_err *perr)
{
    struct gw_arena *pa = gw_arena_create(256 * 1024);
    struct gw_val doc;
    unsigned char seed[EVP_MAX_MD_SIZE];
    unsigned int slen = 0;
    struct loader L;
    struct gw_config *cfg = NULL;
    int rc;

    *out = NULL;
    if (errs) {
        *errs = NULL;
    }
    if (pa == NULL) {
        return GW_DOC_ENOMEM;
    }
    EVP_Digest(buf, len, seed, &slen, EVP_sha256(), NULL);
    int json = gw_parse_detect(buf, len, fmt) == GW_FMT_JSON;
    if (loader_init(&L, &cfg, seed) < 0) {
        loader_free(&L);
        gw_config_free(cfg);
        gw_arena_destroy(pa);
        return GW_DOC_ENOMEM;
    }
    /* JSON is YAML too: libyaml streams it entity by entity, which jansson cannot. JSON that
     * is not well-formed, or that libyaml refuses (surrogate escapes, keys over 1024 bytes),
     * goes to jansson, which decides and gives the JSON-accurate error position. */
    struct gw_parse_stream stream = {.want = stream_want, .element = stream_element, .ud = &L};
    if ((json && !gw_parse_json_wellformed(buf, len)) ||
        gw_parse_yaml_stream(pa, buf, len, &stream, &doc, perr) < 0) {
        json_decref(L.errs);
        L.errs = NULL;
        loader_free(&L);
        gw_config_free(cfg);
        if (!json) {
            gw_arena_destroy(pa);
            return GW_DOC_EPARSE;
        }
        gw_arena_reset(pa);
        if (gw_parse_doc(pa, buf, len, GW_FMT_JSON, &doc, perr) < 0) {
            gw_arena_destroy(pa);
            return GW_DOC_EPARSE;
        }
        rc = gw_doc_load_val(&doc, seed, out, errs);
        gw_arena_destroy(pa);
        return rc;
    }
    rc = loader_finish(&L, cfg, &doc, out, errs);
    gw_arena_destroy(pa);
    return rc;
}

void
gw_config_free(struct gw_config *cfg)
{
    if (cfg) {
        gw_arena_destroy(cfg->arena);
        free(cfg);
    }
}

const struct gw_val *
gw_config_find(const struct gw_config *cfg, enum gw_entity_type t, const char *id)
{
    const struct gw_entset *s = &cfg->sets[t];
    uint32_t lo = 0, hi = s->n;

    prepare_indexes();
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        int c = strcmp(id, s->recs[mid].u.items[id_idx[t]].u.s);
        if (c == 0) {
            return &s->recs[mid];
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}

/* Open addressing on a 64-bit hash of the key, the hash kept in the slot so that probes
 * compare keys only on a hash match. */
#include "cred_index.h"

#include <string.h>

#include "schema.h"

struct slot {
    uint64_t hash; /* 0: empty */
    struct gw_cred c;
};

struct gw_cred_index {
    struct slot *slots;
    uint32_t cap;
};

static uint64_t
hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < n; i++) {
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    }
    return h | 1;
}

struct gw_str
gw_cred_field(enum gw_entity_type t, const struct gw_val *cred, const char *name)
{
    const struct gw_val *v = gw_rec_get(gw_entities[t].schema, cred, name);
    return v && v->type == GW_V_STR ? (struct gw_str){v->u.s, v->n} : GW_STR_NULL;
}

struct gw_cred_index *
gw_cred_index_build(const struct gw_config *cfg, enum gw_entity_type t, const char *field,
                    gw_cred_prepare_fn *prepare, struct gw_arena *a)
{
    const struct gw_entset *set = &cfg->sets[t];
    struct gw_cred_index *ix = gw_arena_calloc(a, sizeof *ix);

    if (ix == NULL) {
        return NULL;
    }
    for (ix->cap = 16; ix->cap < set->n * 2; ix->cap *= 2) {
    }
    ix->slots = gw_arena_calloc(a, sizeof *ix->slots * ix->cap);
    if (ix->slots == NULL) {
        return NULL;
    }
    for (uint32_t i = 0; i < set->n; i++) {
        const struct gw_val *cred = &set->recs[i];
        struct gw_str key = gw_cred_field(t, cred, field);
        struct gw_str cid = gw_cred_field(t, cred, "consumer");
        if (key.p == NULL || cid.p == NULL) {
            continue;
        }
        uint64_t h = hash(key.p, key.n);
        uint32_t j = (uint32_t)h & (ix->cap - 1);
        while (ix->slots[j].hash) {
            j = (j + 1) & (ix->cap - 1);
        }
        ix->slots[j].hash = h;
        ix->slots[j].c = (struct gw_cred){cred, gw_config_find(cfg, GW_ENT_CONSUMERS, cid.p), key,
                                          prepare ? prepare(cred, a) : NULL};
    }
    return ix;
}

const struct gw_cred *
gw_cred_index_find(const struct gw_cred_index *ix, struct gw_str key)
{
    uint64_t h;

    if (ix == NULL || key.p == NULL) {
        return NULL;
    }
    h = hash(key.p, key.n);
    for (uint32_t j = (uint32_t)h & (ix->cap - 1); ix->slots[j].hash; j = (j + 1) & (ix->cap - 1)) {
        if (ix->slots[j].hash == h && gw_str_eq(ix->slots[j].c.key, key)) {
            return &ix->slots[j].c;
        }
    }
    return NULL;
}

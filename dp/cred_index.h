/* Credentials indexed by one string field (key-auth keys, basic-auth and hmac-auth
 * usernames, jwt keys), built once per snapshot by the plugin's init: a request costs one
 * hash lookup. Immutable once built. */
#ifndef GW_CRED_INDEX_H
#define GW_CRED_INDEX_H

#include "arena.h"
#include "doc.h"
#include "str.h"

struct gw_cred {
    const struct gw_val *cred;     /* the credential record */
    const struct gw_val *consumer; /* its consumer (NULL: missing) */
    struct gw_str key;             /* the indexed field */
    void *data;                    /* what prepare() made of it, or NULL */
};

struct gw_cred_index;

/* prepare: per credential, the plugin's parsed form (keys, hashes), from a; may be NULL. */
typedef void *gw_cred_prepare_fn(const struct gw_val *cred, struct gw_arena *a);

/* Indexes the credentials of type t by field (those whose field or consumer is null are
 * left out). NULL on out of memory. */
struct gw_cred_index *gw_cred_index_build(const struct gw_config *cfg, enum gw_entity_type t,
                                          const char *field, gw_cred_prepare_fn *prepare,
                                          struct gw_arena *a);

/* The credential whose field equals key, or NULL. */
const struct gw_cred *gw_cred_index_find(const struct gw_cred_index *ix, struct gw_str key);

/* A string field of a credential record (.p == NULL when null). */
struct gw_str gw_cred_field(enum gw_entity_type t, const struct gw_val *cred, const char *name);

#endif

/* The core entities of Kong's data model: their schemas (fields, defaults, rules, entity
 * checks with Kong's messages), keys, and how they nest in a declarative document. */
#ifndef GW_MODEL_H
#define GW_MODEL_H

#include "schema.h"

enum gw_entity_type {
    GW_ENT_SERVICES = 0,
    GW_ENT_ROUTES,
    GW_ENT_CONSUMERS,
    GW_ENT_PLUGINS,
    GW_ENT_UPSTREAMS,
    GW_ENT_TARGETS,
    GW_ENT_CERTIFICATES,
    GW_ENT_SNIS,
    GW_ENT_CA_CERTIFICATES,
    GW_ENT_KEYAUTH_CREDENTIALS,
    GW_ENT_BASICAUTH_CREDENTIALS,
    GW_ENT_JWT_SECRETS,
    GW_ENT_HMACAUTH_CREDENTIALS,
    GW_ENT_ACLS,
    GW_ENT_KEY_SETS,
    GW_ENT_KEYS,
    GW_ENT__COUNT
};

struct gw_entity_def {
    enum gw_entity_type type;
    const char *name;         /* "services": declarative key and table name */
    const char *singular;     /* "service" */
    const char *admin;        /* Admin API collection: "services", "key-auths" */
    const char *nested;       /* path segment under the parent: "key-auth"; NULL */
    struct gw_record *schema;
    const char *endpoint_key; /* second way to address it: "name", "username"; NULL */
    /* unique fields besides id and the endpoint key (NULL-terminated) */
    const char *const *unique;
    /* fields that together are unique (Kong's cache key), NULL-terminated; NULL: none */
    const char *const *cache_key;
    /* fields generated when absent (random in the CP, derived in declarative files) */
    const char *const *autogen;
};

extern const struct gw_entity_def gw_entities[GW_ENT__COUNT];

/* NULL when unknown. By declarative/table name ("services"). */
const struct gw_entity_def *gw_entity_find(const char *name);

/* A child list that may appear inside a parent entity in a declarative document. */
struct gw_nesting {
    enum gw_entity_type parent;
    const char *key; /* key inside the parent: "routes", "plugins", "keyauth_credentials" */
    enum gw_entity_type child;
    const char *fk; /* the child's foreign key filled from the parent: "service" */
};

extern const struct gw_nesting gw_nestings[];
extern const size_t gw_nestings_count;

/* Prepares every entity and plugin schema. Call once at start, before threads. 0 or -1. */
int gw_model_init(void);

/* Kong's storage form of a basic-auth password: hex SHA-1 of password .. consumer id (40 hex
 * digits and a NUL). The declarative loader and the Admin API store it; the data plane
 * compares against it. */
void gw_basicauth_hash(const char *pw, size_t pw_len, const char *consumer_id, size_t id_len,
                       char out[41]);

/* Kong's route path normalisation (also used by the router for request paths): decodes %XX
 * of unreserved characters, upper-cases the hex of the others, removes dot segments.
 * Writes at most n bytes to out (never more than the input length). Returns the length. */
size_t gw_path_normalize(const char *in, size_t n, char *out);

#endif

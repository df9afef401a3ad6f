/* The declarative loader: a kong.yml / JSON document (_format_version 1.1, 2.1 or 3.0) becomes
 * a validated configuration: every entity checked against its schema with defaults filled,
 * nested entities flattened with their foreign keys set, references by name or id resolved,
 * uniqueness checked across the whole document, missing ids generated deterministically
 * (UUID v5 from each entity's identity, as Kong does), and the canonical hash computed.
 *
 * The result is immutable and owns one arena; it may be shared read-only between threads. */
#ifndef GW_DOC_H
#define GW_DOC_H

#include <jansson.h>
#include <stddef.h>

#include "model.h"
#include "parse.h"

struct gw_arena;

/* Every entity of one type, sorted by id. recs[i] is a GW_V_REC of gw_entities[type].schema;
 * foreign keys hold the referenced id as a string (or null). */
struct gw_entset {
    struct gw_val *recs;
    uint32_t n;
};

struct gw_config {
    struct gw_arena *arena;
    struct gw_entset sets[GW_ENT__COUNT];
    char hash[65]; /* hex SHA-256 of the canonical JSON */
};

#define GW_DOC_EPARSE   -1 /* the text is not YAML/JSON, or not an object: see perr */
#define GW_DOC_EINVALID -2 /* the document is invalid: see errs (Kong's error tree) */
#define GW_DOC_ENOMEM   -3

/* Loads a document. On success *out is a new config (gw_config_free it). On GW_DOC_EINVALID,
 * *errs is the error tree shaped as Kong's: {"services": [null, {"host": "..."}]} (indexes in
 * the arrays follow the document's lists; nested entities sit under their parent's entry).
 * errs may be NULL if the caller does not want it. */
int gw_doc_load(const char *buf, size_t len, enum gw_fmt fmt, struct gw_config **out,
                json_t **errs, struct gw_parse_err *perr);

/* Same, from an already parsed value tree. */
int gw_doc_load_val(const struct gw_val *doc, const unsigned char seed[32], struct gw_config **out,
                    json_t **errs);

void gw_config_free(struct gw_config *cfg);

/* Finds an entity by id; NULL when absent. Bisects (sets are sorted by id). */
const struct gw_val *gw_config_find(const struct gw_config *cfg, enum gw_entity_type t,
                                    const char *id);

/* The id string of a record (its "id" field). */
const char *gw_config_id(enum gw_entity_type t, const struct gw_val *rec);

#endif

/* The canonical form of a configuration: JSON with every entity type in name order, entities
 * sorted by id, fields in name order (a null field is left out when it has no default, since
 * absent means null then), map keys sorted, no
 * insignificant whitespace, integers without a fraction. The same configuration gives the
 * same bytes on every node, so its SHA-256 is the config hash. Loading the canonical form
 * gives the same configuration back. */
#ifndef GW_CANON_H
#define GW_CANON_H

#include <jansson.h>
#include <stddef.h>

#include "schema.h"

struct gw_config;

/* malloc'd, NUL-terminated; *len gets the length. NULL on out of memory. */
char *gw_canon_json(const struct gw_config *cfg, size_t *len);

/* Writes the hex SHA-256 of the canonical JSON (64 characters and a NUL). 0 or -1. */
int gw_canon_hash(const struct gw_config *cfg, char out[65]);

/* One validated record as a jansson object (foreign keys as {"id": ...}), for the Admin API
 * and tests. New reference, NULL on out of memory. */
json_t *gw_rec_to_json(const struct gw_record *r, const struct gw_val *rec);

#endif

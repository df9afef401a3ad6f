/* How each entity is stored: its table, the columns PostgreSQL enforces and the SQL that
 * fills them from an entity's JSON. Built once from the schemas (gw_ent_init, before the
 * server starts); read-only afterwards. Internal to cp/admin*.c. */
#ifndef GW_ADMIN_ENT_H
#define GW_ADMIN_ENT_H

#include <stddef.h>

#include "model.h"
#include "uuid.h"

struct areq;

#define GW_ENT_MAX_FK 4

struct gw_ent {
    const struct gw_entity_def *def;
    const char *table;
    struct {
        const char *field;                /* "service" */
        const struct gw_entity_def *ref;  /* services */
    } fk[GW_ENT_MAX_FK];
    int nfk;
    int ms_time;        /* targets: fractional millisecond timestamps */
    int has_updated_at; /* credentials have only created_at */
    char cols[512];     /* "id, created_at, \"name\", service_id, tags, doc" */
    char exprs[2048];   /* the same columns computed from the JSON d */
    char sets[1024];    /* "created_at = EXCLUDED.created_at, ..." */
    char docexpr[512];  /* the stored entity as the API returns it, over alias t */
    char sql_insert[3072]; /* $1: the entity's JSON */
    char sql_upsert[3072 + 1024 + 64];
    char sql_bulk[3072];   /* $1: a JSON array of entities */
};

/* Where a nested path points: /services/{id}/routes lists routes whose service_id is
 * parent_id. */
struct gw_scope {
    const char *fk; /* the child's foreign key field: "service" */
    char parent_id[GW_UUID_LEN + 1];
};

void gw_ent_init(void);
const struct gw_ent *gw_ent_get(enum gw_entity_type t);

/* Query parameters shared by the lists: 0, or -1 after replying Kong's 400. */
int gw_ent_page_size(struct areq *r, int *size);
int gw_ent_tags_filter(struct areq *r, const char *tags, char *json, size_t len, int *any);

#endif

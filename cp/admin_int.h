/* What the Admin API's handler files share: one request as the handlers see it, and the
 * reply helpers. Internal to cp/admin*.c. */
#ifndef GW_ADMIN_INT_H
#define GW_ADMIN_INT_H

#include <jansson.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <stddef.h>

#include "admin.h"

#define AREQ_MAX_SEG 8

struct areq {
    struct MHD_Connection *conn;
    const struct gw_admin_opts *opts;
    const char *method; /* "GET", "POST", ... */
    char *seg[AREQ_MAX_SEG]; /* decoded path segments, pointing into path_buf */
    char *path_buf;
#define AREQ_MAX_ARGBUFS 8
    char *argbufs[AREQ_MAX_ARGBUFS]; /* decoded query arguments, freed with the request */
    int nargbufs;
    int nseg;
    char *body; /* request body, NUL-terminated; NULL when none */
    size_t body_len, body_cap;
    int too_big;
    const char *ctype; /* Content-Type, or NULL */
    PGconn *pg;        /* taken on first use, given back at the end */
    /* the reply */
    int status;
    char *out; /* malloc'd */
    size_t out_len;
    const char *allow; /* methods of the matched path, for OPTIONS and 405 */
    char audit_id[160]; /* entity id written, for the audit line */
    char path_text[512];
};

/* Query argument, decoded; NULL when absent. */
const char *areq_arg(struct areq *r, const char *name);
/* A request header; NULL when absent. */
const char *areq_header(struct areq *r, const char *name);

/* The request's PostgreSQL connection; on failure answers 503 and returns NULL. */
PGconn *areq_pg(struct areq *r);

/* Replies. Each replaces any earlier reply. */
void reply_raw(struct areq *r, int status, char *text, size_t len); /* takes text (malloc'd) */
void reply_json(struct areq *r, int status, json_t *j);             /* steals j */
void reply_msg(struct areq *r, int status, const char *msg);        /* {"message": msg} */
/* Kong's DAO error: {"code", "name", "message", "fields"} (fields stolen, may be NULL). */
void reply_err(struct areq *r, int status, int code, const char *name, const char *message,
               json_t *fields);
/* A failed statement: 503 when PostgreSQL went away, else 500 (the cause is logged). */
void reply_db(struct areq *r, PGresult *res);

/* Request and connection counters for /status. */
void gw_admin_counters(long *total, long *accepted, long *active);

/* Handler families. Each returns 1 when it recognised the path (and replied, or set
 * r->allow for a method it does not serve), 0 when the path is not its. */
int gw_admin_info(struct areq *r);   /* /, /status, /schemas, /plugins/enabled, /endpoints */
int gw_admin_entity(struct areq *r); /* entity collections, entities, nested forms */
int gw_admin_config(struct areq *r); /* /config, /tags */

/* Body of a POST/PUT/PATCH as a JSON object (forms and multipart turned into one, values
 * as strings; an empty form value is null). Sets *form for form bodies (values need
 * coercion). NULL after replying with the error (400, 415). An empty body gives {}. */
json_t *gw_admin_body(struct areq *r, int *form);

/* 1 when method is in the comma-separated allow list */
int areq_method_in(const char *allow, const char *method);

/* true when s is a UUID in Kong's lower-case form */
int is_uuid(const char *s);

#endif

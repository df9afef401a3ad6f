/* Schemas: field descriptors with Kong's types, defaults and validation rules, and the one
 * validation path that the Admin API and the declarative loader both use.
 *
 * A schema is a static table of struct gw_field ending with an entry whose name is NULL.
 * gw_schema_init() must run once, single-threaded, before any validation: it counts fields,
 * parses the JSON text of defaults and sorts field names for canonical output. After that,
 * schemas are read-only and may be used from any thread.
 *
 * Validation turns an input value (a parsed YAML/JSON object) into a GW_V_REC whose items are
 * the record's fields in schema order, defaults filled in, and reports every problem into a
 * Kong-shaped error tree (jansson): a record is an object of field name -> message or subtree,
 * an array is an array with null for valid elements, entity checks are "@entity": [messages]. */
#ifndef GW_SCHEMA_H
#define GW_SCHEMA_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "val.h"

struct gw_arena;
struct gw_record;
struct gw_field;
struct gw_vctx;

enum gw_ftype {
    GW_T_STRING = 0,
    GW_T_INTEGER,
    GW_T_NUMBER,
    GW_T_BOOLEAN,
    GW_T_ARRAY,   /* elem describes each element */
    GW_T_SET,     /* like an array; duplicates are dropped (the first is kept) */
    GW_T_MAP,     /* keys are strings checked by key (optional), values by elem */
    GW_T_RECORD,  /* record describes the fields */
    GW_T_FOREIGN, /* {"id": uuid}; ref names the entity */
    GW_T_ANY,     /* any JSON value, kept as is */
};

/* field flags */
#define GW_F_REQUIRED  0x0001 /* absent or null -> "required field missing" */
#define GW_F_UNIQUE    0x0002 /* unique across the entity collection */
#define GW_F_AUTO      0x0004 /* filled by the system (id, timestamps) */
#define GW_F_IMMUTABLE 0x0008
#define GW_F_BETWEEN   0x0010 /* min <= v <= max: "value should be between %d and %d" */
#define GW_F_GT        0x0020 /* v > min: "value must be greater than %d" */
#define GW_F_NULLABLE  0x0040 /* a record that is null unless given (default: filled) */
#define GW_F_SENSITIVE 0x0080 /* never logged; masked where Kong masks it */
#define GW_F_NO_NULL   0x0100 /* explicit null refused ("value must not be null") */
#define GW_F_TRANSIENT 0x0200 /* input only, never stored or returned (service url) */
#define GW_F_EMPTY_OK  0x0400 /* strings: "" accepted (Kong refuses empty strings by default) */

/* A custom rule: returns NULL when v is valid, else the message (in buf or static).
 * v is never null here. Runs after the type check and the built-in rules. */
typedef const char *gw_check_fn(const struct gw_val *v, char *buf, size_t len);

/* An entity-level check on a validated record: report with gw_vctx_entity_err() or
 * gw_vctx_field_err(). Runs only when every field passed its own checks. */
typedef void gw_echeck_fn(struct gw_vctx *ctx, const struct gw_record *r, struct gw_val *rec);

/* Rewrites the input before validation (shorthands such as a service's url). May return
 * in itself, or a new object allocated from ctx's arena. Returns NULL after reporting. */
typedef const struct gw_val *gw_shorthand_fn(struct gw_vctx *ctx, const struct gw_val *in);

struct gw_field {
    const char *name;
    enum gw_ftype type;
    uint32_t flags;
    const char *dflt;               /* JSON text of the default; NULL: null */
    double min, max;                /* GW_F_BETWEEN / GW_F_GT */
    const char *const *one_of;      /* NULL-terminated: "expected one of: a, b" */
    uint32_t len_min;               /* strings, arrays, sets, maps: "length must be at least %d" */
    uint32_t len_max;               /* 0: no limit: "length must be at most %d" */
    const char *starts_with;        /* "should start with: %s" */
    gw_check_fn *check;             /* custom rule */
    const struct gw_field *elem;    /* array/set/map element */
    const struct gw_field *key;     /* map key (type string) */
    struct gw_record *record;       /* GW_T_RECORD */
    const char *ref;                /* GW_T_FOREIGN: entity name, e.g. "services" */
    /* GW_T_RECORD whose fields depend on a sibling (Kong's subschemas: a plugin's config
     * depends on its name): returns the record to use, or NULL after reporting. */
    struct gw_record *(*subschema)(struct gw_vctx *ctx);
    /* the same choice made from a validated record (for output) */
    struct gw_record *(*subschema_of)(const struct gw_record *r, const struct gw_val *rec);

    /* filled by gw_schema_prepare() */
    struct gw_val dflt_val;
    const char *key_json; /* "\"name\":" for the canonical writer */
    uint32_t key_json_len;
};

struct gw_record {
    const char *name;        /* for messages and /schemas: "services", "key-auth config" */
    struct gw_field *fields; /* ends with {.name = NULL} */
    gw_echeck_fn *check;     /* entity checks, or NULL */
    gw_shorthand_fn *shorthand;

    /* filled by gw_schema_init() */
    uint32_t nfields;
    uint16_t *sorted; /* field indexes in name order, for canonical output */
    int inited;
};

/* Shared element descriptors. */
extern const struct gw_field gw_elem_string;      /* any string */
extern const struct gw_field gw_elem_string_ne;   /* string, length >= 1 */
extern const struct gw_field gw_elem_integer;
extern const struct gw_field gw_elem_header_name; /* HTTP token */
extern const struct gw_field gw_elem_tag;
extern const struct gw_field gw_elem_http_status; /* integer 100-999 */
extern const struct gw_field gw_elem_ip_or_cidr;

/* Reusable custom rules (also usable as gw_field.check). */
gw_check_fn gw_check_header_name;
gw_check_fn gw_check_uuid;
gw_check_fn gw_check_utf8_name;
gw_check_fn gw_check_tag;
gw_check_fn gw_check_host;          /* hostname or IP, no port */
gw_check_fn gw_check_host_port;     /* hostname or IP with optional :port */
gw_check_fn gw_check_wildcard_host; /* one '*' leftmost/rightmost, no port, not an IP */
gw_check_fn gw_check_route_host;    /* route hosts: wildcard and :port allowed */
gw_check_fn gw_check_path;          /* "/..." RFC 3986 path */
gw_check_fn gw_check_ip_or_cidr;
gw_check_fn gw_check_regex;         /* PCRE2 pattern must compile */
gw_check_fn gw_check_url;           /* absolute http(s) URL */
gw_check_fn gw_check_lua_pattern_free; /* accepts anything; placeholder for Kong lua patterns */

/* Prepares every schema reachable from r (idempotent). Returns 0, or -1 when a default's JSON
 * text is malformed (a programming error, reported on stderr). Not thread-safe. */
int gw_schema_prepare(struct gw_record *r);

/* Validation options */
#define GW_VAL_PARTIAL 0x01 /* PATCH: only the given fields; no defaults, no required */
#define GW_VAL_COERCE  0x02 /* form input: strings may be coerced to numbers and booleans */
#define GW_VAL_FK_NAMES 0x04 /* foreign keys may be a name string or {endpoint_key: v} (resolved
                              * by the caller); otherwise only {"id": uuid} */

struct gw_vctx {
    struct gw_arena *arena;   /* where output values are allocated */
    struct gw_arena *scratch; /* short-lived allocations (rewritten inputs); NULL: arena */
    unsigned opts;          /* GW_VAL_* */
    json_t *errs;           /* error tree of the current record (NULL until an error) */
    unsigned nerrs;         /* errors reported so far */
    const struct gw_val *in; /* the record input currently validated (for checks) */
    void *user;              /* caller data: the loader passes itself */
    /* keys of the top-level record that the caller handles itself (nested entities,
     * _comment): return 1 to skip. NULL: none. */
    int (*skip)(struct gw_vctx *ctx, const char *key);
    /* a field of the top-level record that the caller fills itself (a nested entity's
     * foreign key): not required in the input, left null. NULL: none. */
    const char *implicit;
    unsigned depth_skip; /* internal: > 0 below the top-level record */
};

/* Validates in (an object; anything else gives "expected a record") against r into *out.
 * Returns 0 when valid; else -1 with *errs set to a new error tree (caller owns, json_decref).
 * -2 on out of memory. */
int gw_schema_validate(struct gw_record *r, const struct gw_val *in, struct gw_arena *arena,
                       unsigned opts, void *user, struct gw_val *out, json_t **errs);

/* Same with a caller-prepared context (arena, opts, user and skip set). */
int gw_schema_validate_ctx(struct gw_vctx *ctx, struct gw_record *r, const struct gw_val *in,
                           struct gw_val *out, json_t **errs);

/* Validates one value against one field (used for plugin config subschemas and tests). */
int gw_schema_validate_field(struct gw_vctx *ctx, const struct gw_field *f,
                             const struct gw_val *in, struct gw_val *out, json_t **slot);

/* Report helpers for entity checks. */
void gw_vctx_entity_err(struct gw_vctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void gw_vctx_field_err(struct gw_vctx *ctx, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Field access on a validated record; -1 / NULL when the name is unknown. */
int gw_record_index(const struct gw_record *r, const char *name);
const struct gw_field *gw_record_field(const struct gw_record *r, const char *name);
const struct gw_val *gw_rec_get(const struct gw_record *r, const struct gw_val *rec,
                                const char *name);

/* Common entity checks with Kong's messages. Field lists end with NULL. Each returns 1 when
 * the check passed, 0 when it reported an error. */
int gw_echeck_at_least_one_of(struct gw_vctx *ctx, const struct gw_record *r,
                              const struct gw_val *rec, const char *const *fields);
int gw_echeck_only_one_of(struct gw_vctx *ctx, const struct gw_record *r, const struct gw_val *rec,
                          const char *const *fields);
int gw_echeck_mutually_required(struct gw_vctx *ctx, const struct gw_record *r,
                                const struct gw_val *rec, const char *const *fields);
int gw_echeck_mutually_exclusive(struct gw_vctx *ctx, const struct gw_record *r,
                                 const struct gw_val *rec, const char *const *fields);
int gw_echeck_distinct(struct gw_vctx *ctx, const struct gw_record *r, const struct gw_val *rec,
                       const char *const *fields);
/* "failed conditional validation given value of field 'if_field'" on @entity, plus msg on
 * then_field: use when a conditional rule fails. */
void gw_echeck_conditional_fail(struct gw_vctx *ctx, const char *if_field, const char *then_field,
                                const char *msg);

/* Error tree helpers. */
/* "N schema violations (a: x; b.1: y)" or "schema violation (a: x)"; malloc'd. */
char *gw_errs_message(const json_t *errs);
/* Calls fn once per leaf with a path: dotted with 1-based indexes (Kong: "paths.1"), or, when
 * brackets is set, "paths[0]" (0-based, for --check). Entity errors come first as "@entity". */
typedef void gw_errs_leaf_fn(const char *path, const char *msg, void *data);
void gw_errs_walk(const json_t *errs, const char *prefix, int brackets, gw_errs_leaf_fn *fn,
                  void *data);

#endif

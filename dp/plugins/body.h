/* Request and response bodies as the plugins that read them see them: JSON objects,
 * x-www-form-urlencoded and multipart/form-data bodies as a list of named fields, edited in
 * place and serialized again. Fields not touched keep their bytes as they came (Kong decodes
 * and re-encodes the whole body; the meaning is the same). Arena memory; one request. */
#ifndef GW_PLUGINS_BODY_H
#define GW_PLUGINS_BODY_H

#include "arena.h"
#include "str.h"

#define GW_BODY_MAX_FIELDS 10000

enum gw_body_kind {
    GW_BODY_OTHER = 0,
    GW_BODY_JSON,
    GW_BODY_FORM,
    GW_BODY_MULTIPART,
};

struct gw_body_field {
    struct gw_str name;  /* decoded */
    struct gw_str key;   /* JSON: the key as written, quotes included */
    struct gw_str raw;   /* JSON: the value's text; form: the whole argument; multipart: the
                          * part's headers, blank line and content */
    struct gw_str value; /* decoded string: form and multipart values, JSON strings */
    char type;           /* JSON: 's' 'n' 't' 'f' 'z' (null) 'o' 'a'; form: 's', or 'b' for
                          * an argument without '=' (Lua's true); multipart: 's' */
    unsigned removed : 1;
};

struct gw_body_doc {
    enum gw_body_kind kind;
    struct gw_arena *a;
    struct gw_body_field *f;
    unsigned n, cap;
    struct gw_str boundary; /* multipart */
};

/* Kong's content type test: a case-insensitive substring, application/json first, then
 * multipart/form-data, then application/x-www-form-urlencoded. */
enum gw_body_kind gw_body_kind(struct gw_str content_type);

/* Parses body as kind (multipart: the boundary comes from content_type). 0, or -1 when it
 * does not parse as that kind (JSON: not one well-formed object; multipart: no boundary) or
 * has more than GW_BODY_MAX_FIELDS top-level fields (Kong reads only the first 100 form
 * arguments, lua_max_post_args). An empty body gives no fields. Duplicate JSON keys: the last
 * one counts, as with cjson (untouched duplicates are written back as they came). */
int gw_body_parse(struct gw_arena *a, enum gw_body_kind kind, struct gw_str content_type,
                  struct gw_str body, struct gw_body_doc *d);

/* The live fields named name: how many, and the index of the first (-1 when none). JSON: the
 * last of a repeated key, counted once. */
int gw_body_find(const struct gw_body_doc *d, struct gw_str name, unsigned *count);

/* Removes every live field named name; how many. */
unsigned gw_body_remove(struct gw_body_doc *d, struct gw_str name);

/* A new field at the end, serialized from its name and value (JSON: raw is the value's JSON
 * text; form and multipart: value is the string). -1 when out of memory. */
int gw_body_add(struct gw_body_doc *d, struct gw_str name, struct gw_str raw, struct gw_str value,
                char type);

/* Field i gets a new value (JSON: raw is the JSON text; else value), in place; the other
 * live fields of its name go (one value per name afterwards). */
int gw_body_set(struct gw_body_doc *d, unsigned i, struct gw_str raw, struct gw_str value,
                char type);

/* Renames the live fields named from to to (the raw bytes are rebuilt). */
void gw_body_rename(struct gw_body_doc *d, struct gw_str from, struct gw_str to);

/* The body again, from the live fields in order. .p == NULL when out of memory. */
struct gw_str gw_body_serialize(const struct gw_body_doc *d);

/* s as a JSON string literal, quotes included. */
struct gw_str gw_body_json_string(struct gw_arena *a, struct gw_str s);

#endif

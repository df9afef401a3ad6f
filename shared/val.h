/* A compact, immutable value tree: what a parsed YAML/JSON document is, and what validation
 * produces. Every node lives in an arena; nodes are 16 bytes. */
#ifndef GW_VAL_H
#define GW_VAL_H

#include <stddef.h>
#include <stdint.h>

struct gw_arena;

enum gw_vtype {
    GW_V_ABSENT = 0, /* no value at all (a record field that was not given) */
    GW_V_NULL,
    GW_V_BOOL,
    GW_V_INT,
    GW_V_NUM,
    GW_V_STR, /* u.s, n bytes, NUL-terminated */
    GW_V_ARR, /* u.items, n elements */
    GW_V_OBJ, /* u.kv, n pairs in document order (maps, unvalidated input) */
    GW_V_REC, /* u.items, one per field of the record's schema, in schema order */
};

struct gw_kv;

struct gw_val {
    uint8_t type;
    uint8_t flags; /* GW_VF_* */
    uint16_t spare;
    uint32_t n;
    union {
        int64_t i;
        double d;
        int b;
        const char *s;
        struct gw_val *items;
        struct gw_kv *kv;
    } u;
};

/* Scalar from YAML that was quoted: "80" is a string, 80 an integer. */
#define GW_VF_QUOTED 0x01
/* A top-level list that the parser streamed to a callback (see gw_parse_yaml_stream). */
#define GW_VF_STREAMED 0x02

struct gw_kv {
    const char *key; /* NUL-terminated */
    uint32_t klen;
    struct gw_val val;
};

/* NULL when absent. Linear: objects here are small. */
const struct gw_val *gw_val_get(const struct gw_val *obj, const char *key);

static inline int
gw_val_is_null(const struct gw_val *v)
{
    return v == NULL || v->type == GW_V_NULL || v->type == GW_V_ABSENT;
}

/* Deep copy into arena a (strings included). 0 or -1 on out of memory. */
int gw_val_copy(struct gw_arena *a, struct gw_val *dst, const struct gw_val *src);

/* Structural equality (OBJ keys compared in order-insensitive fashion). */
int gw_val_equal(const struct gw_val *x, const struct gw_val *y);

void gw_val_str(struct gw_val *v, const char *s, size_t n);

/* Length of the well-formed UTF-8 sequence at s (at most n bytes; RFC 3629: no overlongs,
 * no surrogates, at most U+10FFFF), or 0 when there is none. */
size_t gw_utf8_len(const unsigned char *s, size_t n);

#endif

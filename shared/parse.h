/* Bytes -> value tree: YAML (libyaml) and JSON (jansson) documents, and jansson <-> gw_val. */
#ifndef GW_PARSE_H
#define GW_PARSE_H

#include <jansson.h>
#include <stddef.h>

#include "val.h"

struct gw_arena;

enum gw_fmt {
    GW_FMT_AUTO = 0, /* JSON when the text starts with '{', else YAML */
    GW_FMT_JSON,
    GW_FMT_YAML,
};

struct gw_parse_err {
    int line;   /* 1-based; 0 when unknown */
    int column; /* 1-based */
    char msg[192];
};

/* Parses one document into *out (allocated from a). Returns 0, or -1 with err filled.
 * Never crashes on any input; nesting is bounded, YAML alias expansion is bounded. */
int gw_parse_doc(struct gw_arena *a, const char *buf, size_t len, enum gw_fmt fmt,
                 struct gw_val *out, struct gw_parse_err *err);

/* Streaming YAML: for each top-level key for which want() returns 1 and whose value is a
 * sequence, element() receives every element as soon as it is parsed; the element's memory
 * is reused afterwards (unless the document uses anchors), so the callback must copy what
 * it keeps. In *out such keys hold null with GW_VF_STREAMED. A negative return from
 * element() aborts the parse. */
struct gw_parse_stream {
    /* prev: the top-level pairs parsed before this key */
    int (*want)(void *ud, const char *key, const struct gw_kv *prev, size_t nprev);
    int (*element)(void *ud, const char *key, uint32_t index, const struct gw_val *v);
    void *ud;
};

int gw_parse_yaml_stream(struct gw_arena *a, const char *buf, size_t len,
                         const struct gw_parse_stream *stream, struct gw_val *out,
                         struct gw_parse_err *err);

/* 1 when the text is one well-formed JSON value (RFC 8259, nesting bounded), else 0. */
int gw_parse_json_wellformed(const char *buf, size_t len);

/* The format gw_parse_doc would use for this text. */
enum gw_fmt gw_parse_detect(const char *buf, size_t len, enum gw_fmt fmt);

/* jansson -> value tree (strings copied into a). 0 or -1 (out of memory). */
int gw_val_from_json(struct gw_arena *a, const json_t *j, struct gw_val *out);

/* value tree -> jansson (new reference). A GW_V_REC cannot be converted without its schema
 * (see gw_rec_to_json in schema.h): it becomes null here. */
json_t *gw_val_to_json(const struct gw_val *v);

#endif

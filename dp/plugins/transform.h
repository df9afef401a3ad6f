/* What request-transformer and response-transformer share: the five operations in Kong's
 * order, reading one operation's list out of the plugin config, splitting a "name:value"
 * entry, and the headers the proxy frames itself (edits to those are ignored). */
#ifndef GW_PLUGINS_TRANSFORM_H
#define GW_PLUGINS_TRANSFORM_H

#include <stddef.h>

#include "schema.h"

enum {
    GW_XF_REMOVE,
    GW_XF_RENAME,
    GW_XF_REPLACE,
    GW_XF_ADD,
    GW_XF_APPEND,
    GW_XF_NOPS
};
extern const char *const gw_xf_op_names[GW_XF_NOPS];

/* config.<op>.<name> (e.g. add.headers) as an array value, or NULL when absent or empty */
const struct gw_val *gw_xf_list(const struct gw_record *r, const struct gw_val *c, const char *op,
                                const char *name);

/* Splits an entry as Kong's ^([^:]+):*(.-)$ does (remove entries are bare names): *nl is
 * the name's length, *value what follows the colons. -1 with err set when the entry holds
 * CR or LF, which must never reach the wire. */
int gw_xf_split(const char *s, int op, size_t *nl, const char **value, char *err, size_t errlen);

/* Content-Length, Transfer-Encoding, Connection, Upgrade (and Host when with_host) */
int gw_xf_framing_header(const char *name, size_t n, int with_host);

#endif

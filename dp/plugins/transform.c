#include "transform.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *const gw_xf_op_names[GW_XF_NOPS] = {"remove", "rename", "replace", "add", "append"};

const struct gw_val *
gw_xf_list(const struct gw_record *r, const struct gw_val *c, const char *op, const char *name)
{
    const struct gw_val *v = gw_rec_get(r, c, op);

    if (v == NULL || v->type != GW_V_REC) {
        return NULL;
    }
    for (const struct gw_field *f = r->fields; f->name; f++) {
        if (strcmp(f->name, op) == 0 && f->record) {
            v = gw_rec_get(f->record, v, name);
            return v && v->type == GW_V_ARR && v->n > 0 ? v : NULL;
        }
    }
    return NULL;
}

int
gw_xf_split(const char *s, int op, size_t *nl, const char **value, char *err, size_t errlen)
{
    if (strpbrk(s, "\r\n")) { /* the schema refuses them too */
        snprintf(err, errlen, "invalid value: %s", s);
        return -1;
    }
    *nl = op == GW_XF_REMOVE ? strlen(s) : strcspn(s, ":");
    const char *v = s + *nl;
    while (*v == ':') {
        v++;
    }
    *value = v;
    return 0;
}

int
gw_xf_framing_header(const char *name, size_t n, int with_host)
{
    static const char *const p[] = {"host",       "content-length", "transfer-encoding",
                                    "connection", "upgrade",        NULL};
    for (const char *const *s = with_host ? p : p + 1; *s; s++) {
        if (strlen(*s) == n && strncasecmp(name, *s, n) == 0) {
            return 1;
        }
    }
    return 0;
}

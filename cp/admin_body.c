/* Request bodies of the Admin API: JSON, or forms (shared/form.c) turned into the JSON
 * object a JSON body would give. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin_int.h"
#include "form.h"

static int
ctype_is(const char *ctype, const char *what)
{
    size_t n = strlen(what);

    while (*ctype == ' ') {
        ctype++;
    }
    return strncasecmp(ctype, what, n) == 0 && (ctype[n] == '\0' || ctype[n] == ';' ||
                                                 ctype[n] == ' ');
}

json_t *
gw_admin_body(struct areq *r, int *form)
{
    json_t *j;

    *form = 0;
    if (r->body_len == 0 || r->body == NULL) {
        /* Kong: an empty body declared as JSON does not parse */
        if (r->ctype && ctype_is(r->ctype, "application/json")) {
            reply_msg(r, 400, "Cannot parse JSON body");
            return NULL;
        }
        return json_object();
    }
    if (r->ctype == NULL) {
        reply_raw(r, 415, NULL, 0);
        return NULL;
    }
    if (ctype_is(r->ctype, "application/json")) {
        j = json_loadb(r->body, r->body_len, JSON_DECODE_ANY, NULL);
        if (j == NULL || !json_is_object(j)) {
            json_decref(j);
            reply_msg(r, 400, "Cannot parse JSON body");
            return NULL;
        }
        return j;
    }
    if (ctype_is(r->ctype, "application/x-www-form-urlencoded")) {
        *form = 1;
        j = gw_form_urlencoded(r->body, r->body_len);
    } else if (ctype_is(r->ctype, "multipart/form-data")) {
        *form = 1;
        j = gw_form_multipart(r->ctype, r->body, r->body_len);
    } else {
        reply_raw(r, 415, NULL, 0);
        return NULL;
    }
    if (j == NULL) {
        reply_msg(r, 400, "Cannot parse form body");
    }
    return j;
}

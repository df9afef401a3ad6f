/* Form bodies as Kong's Admin API reads them: application/x-www-form-urlencoded and
 * multipart/form-data turned into the JSON object a JSON body would have given. Keys name
 * paths: "service.id=" and "config.minute=" nest records, "paths[]=" appends, "paths[1]="
 * sets an element (1-based), a key given twice becomes an array. Values stay strings (the
 * schema coerces them); an empty value is null. */
#ifndef GW_FORM_H
#define GW_FORM_H

#include <jansson.h>
#include <stddef.h>

/* A new object, or NULL when a key is malformed. The body is not modified. */
json_t *gw_form_urlencoded(const char *body, size_t len);
/* Same for multipart; ctype is the Content-Type with its boundary parameter. NULL when the
 * boundary is missing or a key is malformed. */
json_t *gw_form_multipart(const char *ctype, const char *body, size_t len);

#endif

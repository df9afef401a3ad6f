/* Fuzz target: the Admin API's form body decoders (shared/form.c). The first byte picks
 * urlencoded or multipart; the result, when there is one, must be a JSON object. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j;

    if (size == 0) {
        return 0;
    }
    if (data[0] & 1) {
        j = gw_form_multipart("multipart/form-data; boundary=XyZ", (const char *)data + 1,
                              size - 1);
    } else {
        j = gw_form_urlencoded((const char *)data + 1, size - 1);
    }
    if (j && !json_is_object(j)) {
        abort();
    }
    json_decref(j);
    return 0;
}

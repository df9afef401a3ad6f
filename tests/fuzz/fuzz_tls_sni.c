/* Fuzz target: the server_name extension parser of the client hello callback (dp/tls.c),
 * which reads the client's bytes before OpenSSL has checked them. Checked: a success writes a
 * NUL-terminated name of at most outlen - 1 bytes without NUL inside, copied from the input,
 * and a smaller buffer never gives a longer name. Violations abort. */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[256], small[8];
    unsigned char *copy = malloc(size ? size : 1);

    if (copy == NULL) {
        abort();
    }
    memcpy(copy, data, size); /* exact size, so ASan sees over-reads */
    memset(out, 'x', sizeof out);
    if (gw_tls_parse_sni(copy, size, out, sizeof out) == 0) {
        size_t n = strnlen(out, sizeof out);
        if (n == 0 || n == sizeof out || memmem(copy, size, out, n) == NULL) {
            abort();
        }
    }
    if (gw_tls_parse_sni(copy, size, small, sizeof small) == 0 &&
        strnlen(small, sizeof small) >= sizeof small) {
        abort();
    }
    free(copy);
    return 0;
}

/* UUIDs: random (v4) and name-based (v5, SHA-1), in Kong's lower-case text form. */
#ifndef GW_UUID_H
#define GW_UUID_H

#include <stddef.h>

#define GW_UUID_LEN 36

/* Writes 36 characters and a NUL. 0, or -1 when the system has no randomness. */
int gw_uuid_v4(char out[GW_UUID_LEN + 1]);

/* v5 of name (n bytes) in namespace ns (a UUID in text form). */
void gw_uuid_v5(const char *ns, const char *name, size_t n, char out[GW_UUID_LEN + 1]);

#endif

/* kong.conf-style configuration files, shared by both binaries' option parsing: one
 * "key = value" per line, '#' starts a comment, blank lines and lines without '=' are
 * skipped (as Kong's reader tolerates them). */
#ifndef GW_CONF_H
#define GW_CONF_H

#include <stddef.h>

/* Calls fn(key, value, ud) for each setting of path, in file order, with surrounding
 * blanks trimmed; stops when fn returns a negative value. Returns 0, or -1 when the file
 * cannot be read (said on stderr, prefixed with prog) or fn failed. */
int gw_conf_read(const char *path, const char *prog,
                 int (*fn)(const char *key, const char *value, void *ud), void *ud);

/* The environment variable of a kong.conf key: "admin_listen" -> "TOLLGATE_ADMIN_LISTEN". */
void gw_conf_env_name(const char *key, char *out, size_t len);

#endif

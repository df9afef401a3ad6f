/* kong.conf-style files and environment names. */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static char *
trim(char *s)
{
    while (isspace((unsigned char)*s)) {
        s++;
    }
    for (char *e = s + strlen(s); e > s && isspace((unsigned char)e[-1]);) {
        *--e = '\0';
    }
    return s;
}

int
gw_conf_read(const char *path, const char *prog,
             int (*fn)(const char *key, const char *value, void *ud), void *ud)
{
    FILE *f = fopen(path, "r");
    char line[4096];

    if (f == NULL) {
        fprintf(stderr, "%s: cannot read %s: %s\n", prog, path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        char *hash = strchr(line, '#'), *eq;
        if (hash) {
            *hash = '\0';
        }
        if ((eq = strchr(line, '=')) == NULL) {
            continue;
        }
        *eq = '\0';
        char *k = trim(line), *v = trim(eq + 1);
        if (*k && fn(k, v, ud) < 0) {
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

void
gw_conf_env_name(const char *key, char *out, size_t len)
{
    size_t n = (size_t)snprintf(out, len, "TOLLGATE_%s", key);

    for (size_t i = 0; i < n && i < len; i++) {
        out[i] = (char)toupper((unsigned char)out[i]);
    }
}

/* Human-facing side of the declarative loader. */
#include "doc_cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"

char *
gw_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;

    if (f == NULL) {
        return NULL;
    }
    for (;;) {
        if (n + 65536 + 1 > cap) {
            cap = cap ? cap * 2 : 262144;
            char *b = realloc(buf, cap);
            if (b == NULL) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = b;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) {
            break;
        }
    }
    if (ferror(f)) {
        int e = errno;
        free(buf);
        fclose(f);
        errno = e;
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

enum gw_fmt
gw_fmt_for_path(const char *path)
{
    const char *dot = strrchr(path, '.');

    if (dot && strcmp(dot, ".json") == 0) {
        return GW_FMT_JSON;
    }
    if (dot && (strcmp(dot, ".yml") == 0 || strcmp(dot, ".yaml") == 0)) {
        return GW_FMT_YAML;
    }
    return GW_FMT_AUTO;
}

static void
print_leaf(const char *path, const char *msg, void *data)
{
    fprintf((FILE *)data, "%s: %s\n", path, msg);
}

void
gw_doc_print_errors(const json_t *errs, FILE *err)
{
    gw_errs_walk(errs, NULL, 1, print_leaf, err);
}

int
gw_doc_check_file(const char *path, FILE *out, FILE *err)
{
    size_t len;
    char *buf = gw_read_file(path, &len);
    struct gw_config *cfg;
    struct gw_parse_err perr;
    json_t *errs = NULL;
    int rc;

    if (buf == NULL) {
        fprintf(err, "%s: cannot read: %s\n", path, strerror(errno));
        return 1;
    }
    rc = gw_doc_load(buf, len, gw_fmt_for_path(path), &cfg, &errs, &perr);
    free(buf);
    if (rc == GW_DOC_EPARSE) {
        if (perr.line) {
            fprintf(err, "%s:%d:%d: %s\n", path, perr.line, perr.column, perr.msg);
        } else {
            fprintf(err, "%s: %s\n", path, perr.msg);
        }
        return 1;
    }
    if (rc == GW_DOC_EINVALID) {
        gw_doc_print_errors(errs, err);
        json_decref(errs);
        fprintf(err, "%s: invalid declarative configuration\n", path);
        return 1;
    }
    if (rc < 0) {
        fprintf(err, "%s: out of memory\n", path);
        return 1;
    }
    fprintf(out, "%s: OK\n", path);
    for (int t = 0; t < GW_ENT__COUNT; t++) {
        if (cfg->sets[t].n) {
            fprintf(out, "%s: %u\n", gw_entities[t].name, cfg->sets[t].n);
        }
    }
    fprintf(out, "hash: %s\n", cfg->hash);
    gw_config_free(cfg);
    return 0;
}

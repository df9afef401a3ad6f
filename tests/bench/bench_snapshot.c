/* Snapshot benchmark: a config with N routes (each with its own service) is loaded, then
 * compiled into a snapshot (router, services); prints the compile time and the memory the
 * whole snapshot holds (RSS growth from before the load). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "doc.h"
#include "snapshot.h"

static long
rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = 0;

    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            v = atol(line + 6);
        }
    }
    if (f) {
        fclose(f);
    }
    return v;
}

static double
now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int
main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000;
    size_t cap = (size_t)n * 200 + 1024, off = 0;
    char *doc = malloc(cap), err[256];
    struct gw_config *cfg;
    struct gw_parse_err perr;
    json_t *errs;

    gw_model_init();
    off += (size_t)snprintf(doc + off, cap - off, "_format_version: \"3.0\"\nservices:\n");
    for (long i = 0; i < n; i++) {
        off += (size_t)snprintf(doc + off, cap - off,
                                "- {name: s%ld, url: \"http://127.0.0.1:%ld/\", routes: [{name: r%ld, "
                                "paths: [/r%ld/x], hosts: [h%ld.test]}]}\n",
                                i, 1024 + i % 50000, i, i, i % 100);
    }
    long before = rss_kib();
    if (gw_doc_load(doc, off, GW_FMT_YAML, &cfg, &errs, &perr) != 0) {
        fprintf(stderr, "load failed\n");
        return 1;
    }
    free(doc);
    double t0 = now_ms();
    struct gw_snapshot *s = gw_snapshot_build(cfg, 1, err, sizeof err);
    double t1 = now_ms();
    if (s == NULL) {
        fprintf(stderr, "snapshot: %s\n", err);
        return 1;
    }
    printf("routes=%ld compile_ms=%.1f snapshot_rss_mib=%.1f (config + router + services)\n", n,
           t1 - t0, (double)(rss_kib() - before) / 1024.0);
    gw_snapshot_unref(s);
    return 0;
}

/* Load benchmark: generates a declarative document with N routes (each with its own service
 * and a consumer holding a key-auth credential), then measures gw_doc_load: wall time, and
 * peak RSS growth per route beyond the document's own bytes (which are in memory before the
 * baseline is taken). One size per process, so peaks do not mix. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "doc.h"

static long
peak_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static char *
generate(long n, int json, size_t *len)
{
    size_t cap = (size_t)n * 400 + 4096, off = 0;
    char *b = malloc(cap);

    if (b == NULL) {
        return NULL;
    }
#define OUT(...) off += (size_t)snprintf(b + off, cap - off, __VA_ARGS__)
    if (json) {
        OUT("{\"_format_version\":\"3.0\",\"services\":[");
        for (long i = 0; i < n; i++) {
            OUT("%s{\"name\":\"svc-%06ld\",\"url\":\"http://127.0.0.1:%ld/s%ld\",\"routes\":[{\"name\":"
                "\"route-%06ld\",\"paths\":[\"/r/%06ld\"],\"methods\":[\"GET\"]}]}",
                i ? "," : "", i, 1024 + i % 50000, i, i, i);
        }
        OUT("],\"consumers\":[");
        for (long i = 0; i < n; i++) {
            OUT("%s{\"username\":\"user-%06ld\",\"keyauth_credentials\":[{\"key\":\"key-%06ld-"
                "secret\"}]}",
                i ? "," : "", i, i);
        }
        OUT("]}");
    } else {
        OUT("_format_version: \"3.0\"\nservices:\n");
        for (long i = 0; i < n; i++) {
            OUT("- name: svc-%06ld\n  url: http://127.0.0.1:%ld/s%ld\n  routes:\n"
                "  - name: route-%06ld\n    paths: [/r/%06ld]\n    methods: [GET]\n",
                i, 1024 + i % 50000, i, i, i);
        }
        OUT("consumers:\n");
        for (long i = 0; i < n; i++) {
            OUT("- username: user-%06ld\n  keyauth_credentials:\n  - key: key-%06ld-secret\n", i, i);
        }
    }
#undef OUT
    *len = off;
    return b;
}

int
main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000;
    int json = argc > 2 && strcmp(argv[2], "json") == 0;
    size_t len;
    struct timespec t0, t1;
    struct gw_config *cfg;
    json_t *errs = NULL;
    struct gw_parse_err perr;

    gw_model_init();
    /* warm-up: one small load first, so that one-time initialisation (OpenSSL providers,
     * schema defaults) is in the baseline and not charged to the routes */
    size_t wlen;
    char *warm = generate(1, json, &wlen);
    if (warm == NULL || gw_doc_load(warm, wlen, json ? GW_FMT_JSON : GW_FMT_YAML, &cfg, &errs,
                                    &perr) != 0) {
        return 1;
    }
    gw_config_free(cfg);
    free(warm);
    char *doc = generate(n, json, &len);
    if (doc == NULL) {
        return 1;
    }
    long base = peak_kib();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = gw_doc_load(doc, len, json ? GW_FMT_JSON : GW_FMT_YAML, &cfg, &errs, &perr);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc != 0) {
        fprintf(stderr, "load failed: %d %s\n", rc, perr.msg);
        return 1;
    }
    long peak = peak_kib();
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("routes=%ld format=%s doc_bytes=%zu load_ms=%.1f peak_growth_kib=%ld bytes_per_route=%.0f "
           "hash=%.16s\n",
           n, json ? "json" : "yaml", len, ms, peak - base,
           (double)(peak - base) * 1024.0 / (double)n, cfg->hash);
    gw_config_free(cfg);
    free(doc);
    return 0;
}

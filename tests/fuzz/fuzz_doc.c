/* Fuzz target: the declarative loader (YAML and JSON) and the canonical round trip.
 * Any input must either load or be refused with an error; a document that loads must give
 * the same hash when its canonical form is loaded again. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gw_config *cfg = NULL, *again = NULL;
    struct gw_parse_err perr;
    json_t *errs = NULL;
    static int inited;

    if (!inited) {
        if (gw_model_init() < 0) {
            abort();
        }
        inited = 1;
    }
    /* the first byte picks the parser, so both get explored */
    enum gw_fmt fmt = size && data[0] == '{' ? GW_FMT_JSON : GW_FMT_YAML;
    if (fmt == GW_FMT_JSON && gw_parse_json_wellformed((const char *)data, size)) {
        /* what the strict check passes to libyaml must be JSON for jansson too */
        json_error_t je;
        json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        if (j == NULL && strstr(je.text, "nest") == NULL) {
            fprintf(stderr, "well-formed check passed what jansson refuses: %s\n", je.text);
            abort();
        }
        json_decref(j);
    }
    int rc = gw_doc_load((const char *)data, size, fmt, &cfg, &errs, &perr);
    if (rc == GW_DOC_EINVALID) {
        char *msg = gw_errs_message(errs);
        free(msg);
        json_decref(errs);
        return 0;
    }
    if (rc < 0) {
        return 0;
    }
    size_t len;
    char *text = gw_canon_json(cfg, &len);
    if (text == NULL) {
        abort();
    }
    rc = gw_doc_load(text, len, GW_FMT_JSON, &again, &errs, &perr);
    if (rc != 0 || strcmp(cfg->hash, again->hash) != 0) {
        fprintf(stderr, "canonical round trip failed (rc=%d)\n%s\n", rc, text);
        abort();
    }
    free(text);
    gw_config_free(again);
    gw_config_free(cfg);
    return 0;
}

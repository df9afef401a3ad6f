/* Helpers for unit tests of the declarative loader: load a document from a string and get its
 * errors as text, find entities in a loaded configuration, compare with expected strings.
 * Header-only (each test is one program); every function is static and may go unused. */
#ifndef GW_TESTUTIL_H
#define GW_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "canon.h"
#include "doc.h"
#include "model.h"
#include "schema.h"

#define TU_UNUSED __attribute__((unused))
#define TU_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- a growing string ---- */

struct tu_str {
    char *p;
    size_t len, cap;
};

static TU_UNUSED void
tu_str_add(struct tu_str *s, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    if (s->len + (size_t)n + 1 > s->cap) {
        size_t cap = (s->cap + (size_t)n + 1) * 2;
        char *p = realloc(s->p, cap);
        assert_non_null(p);
        s->p = p;
        s->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(s->p + s->len, s->cap - s->len, fmt, ap);
    va_end(ap);
    s->len += (size_t)n;
}

/* ---- loading ---- */

static TU_UNUSED void
tu_leaf(const char *path, const char *msg, void *data)
{
    struct tu_str *s = data;

    tu_str_add(s, "%s%s: %s", s->len ? "\n" : "", path, msg);
}

/* The errors of an error tree as "path: message" lines (0-based bracket paths, as --check
 * prints them) joined by '\n'. malloc'd. */
static TU_UNUSED char *
tu_errs_lines(const json_t *errs)
{
    struct tu_str s = {0};

    gw_errs_walk(errs, NULL, 1, tu_leaf, &s);
    if (s.p == NULL) {
        s.p = strdup("");
    }
    return s.p;
}

/* Loads doc (format from its first byte). Returns NULL when it loaded, else malloc'd text:
 * the error lines, or "parse error at L:C: msg" for GW_DOC_EPARSE. */
static TU_UNUSED char *
tu_doc_errors_fmt(const char *doc, enum gw_fmt fmt)
{
    struct gw_config *cfg = NULL;
    struct gw_parse_err perr;
    json_t *errs = NULL;
    struct tu_str s = {0};
    int rc = gw_doc_load(doc, strlen(doc), fmt, &cfg, &errs, &perr);

    if (rc == 0) {
        assert_non_null(cfg);
        assert_null(errs);
        gw_config_free(cfg);
        return NULL;
    }
    assert_null(cfg);
    if (rc == GW_DOC_EPARSE) {
        tu_str_add(&s, "parse error at %d:%d: %s", perr.line, perr.column, perr.msg);
        return s.p;
    }
    assert_int_equal(rc, GW_DOC_EINVALID);
    assert_non_null(errs);
    char *lines = tu_errs_lines(errs);
    json_decref(errs);
    return lines;
}

static TU_UNUSED char *
tu_doc_errors(const char *doc)
{
    return tu_doc_errors_fmt(doc, GW_FMT_AUTO);
}

/* Kong's one-line message for an invalid document (gw_errs_message). malloc'd; NULL when the
 * document loaded. */
static TU_UNUSED char *
tu_doc_message(const char *doc)
{
    struct gw_config *cfg = NULL;
    json_t *errs = NULL;
    int rc = gw_doc_load(doc, strlen(doc), GW_FMT_AUTO, &cfg, &errs, NULL);
    char *msg;

    if (rc == 0) {
        gw_config_free(cfg);
        return NULL;
    }
    assert_int_equal(rc, GW_DOC_EINVALID);
    msg = gw_errs_message(errs);
    json_decref(errs);
    return msg;
}

/* Loads a document that must be valid; fails the test with its errors otherwise. */
static TU_UNUSED struct gw_config *
tu_load_ok_fmt(const char *doc, enum gw_fmt fmt)
{
    struct gw_config *cfg = NULL;
    struct gw_parse_err perr;
    json_t *errs = NULL;
    int rc = gw_doc_load(doc, strlen(doc), fmt, &cfg, &errs, &perr);

    if (rc != 0) {
        if (rc == GW_DOC_EPARSE) {
            print_error("unexpected parse error at %d:%d: %s\n", perr.line, perr.column, perr.msg);
        } else if (errs) {
            char *lines = tu_errs_lines(errs);
            print_error("unexpected errors:\n%s\n", lines);
            free(lines);
            json_decref(errs);
        }
        print_error("in document:\n%s\n", doc);
        fail();
    }
    assert_non_null(cfg);
    return cfg;
}

static TU_UNUSED struct gw_config *
tu_load_ok(const char *doc)
{
    return tu_load_ok_fmt(doc, GW_FMT_AUTO);
}

/* ---- comparing ---- */

/* "…" (U+2026) in an expected string stands for any text (newlines included): used where the
 * reference gives only part of a message, or only its path. Everything else is literal. */
#define TU_ANY "\u2026"

static TU_UNUSED int
tu_glob(const char *s, const char *p)
{
    const char *star = strstr(p, TU_ANY);
    size_t n;

    if (star == NULL) {
        return strcmp(s, p) == 0;
    }
    n = (size_t)(star - p);
    if (strncmp(s, p, n) != 0) {
        return 0;
    }
    s += n;
    p = star + strlen(TU_ANY);
    for (;;) {
        if (tu_glob(s, p)) {
            return 1;
        }
        if (*s == '\0') {
            return 0;
        }
        s++;
    }
}

/* got matches want (see TU_ANY); NULL matches only NULL. */
static TU_UNUSED int
tu_match(const char *got, const char *want)
{
    if (want == NULL || got == NULL) {
        return want == got;
    }
    return tu_glob(got, want);
}

/* Reports a mismatch of table row i and returns 1 (for a failure count), 0 when it matched. */
static TU_UNUSED int
tu_check_row(const char *table, size_t i, const char *doc, const char *got, const char *want)
{
    if (tu_match(got, want)) {
        return 0;
    }
    print_error("%s[%zu]: mismatch\n--- document:\n%s\n--- want:\n%s\n--- got:\n%s\n", table, i,
                doc, want ? want : "(valid)", got ? got : "(valid)");
    return 1;
}

/* ---- looking at a loaded configuration ---- */

/* The record of type t whose string field equals value (NULL when none). */
static TU_UNUSED const struct gw_val *
tu_find(const struct gw_config *cfg, enum gw_entity_type t, const char *field, const char *value)
{
    const struct gw_record *r = gw_entities[t].schema;

    for (uint32_t i = 0; i < cfg->sets[t].n; i++) {
        const struct gw_val *v = gw_rec_get(r, &cfg->sets[t].recs[i], field);
        if (v && v->type == GW_V_STR && strcmp(v->u.s, value) == 0) {
            return &cfg->sets[t].recs[i];
        }
    }
    return NULL;
}

/* A field of a record as compact JSON text with sorted keys (malloc'd): "null", "80",
 * "\"http\"", "[\"a\"]", {"id":"..."} for foreign keys. */
static TU_UNUSED char *
tu_field_json(enum gw_entity_type t, const struct gw_val *rec, const char *field)
{
    json_t *j = gw_rec_to_json(gw_entities[t].schema, rec);
    json_t *f;
    char *s;

    assert_non_null(j);
    f = json_object_get(j, field);
    if (f == NULL) {
        json_decref(j);
        return strdup("(absent)");
    }
    s = json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(j);
    assert_non_null(s);
    return s;
}

/* The id of the record of type t whose field equals value; fails the test when absent. */
static TU_UNUSED const char *
tu_id_of(const struct gw_config *cfg, enum gw_entity_type t, const char *field, const char *value)
{
    const struct gw_val *rec = tu_find(cfg, t, field, value);

    if (rec == NULL) {
        print_error("no %s with %s = '%s'\n", gw_entities[t].name, field, value);
        fail();
    }
    return gw_config_id(t, rec);
}

#endif

/* Canonical JSON writer. It writes straight into one growing buffer (no DOM), so hashing a
 * large configuration costs one pass and one allocation pattern. */
#include "canon.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"

struct buf {
    char *p;
    size_t len, cap;
    int oom;
    EVP_MD_CTX *md; /* when set, the text is hashed in chunks instead of kept */
    int full;       /* every field, nulls included (Admin API output) */
};

#define CHUNK (64 * 1024)

static void
reserve(struct buf *b, size_t n)
{
    if (b->oom || b->len + n < b->cap) {
        return;
    }
    if (b->md && b->len) {
        /* streaming: hash what we have, reuse the buffer */
        EVP_DigestUpdate(b->md, b->p, b->len);
        b->len = 0;
        if (n < b->cap) {
            return;
        }
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap <= b->len + n) {
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->oom = 1;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static inline void
put(struct buf *b, const char *s, size_t n)
{
    if (b->len + n >= b->cap) {
        reserve(b, n);
        if (b->oom) {
            return;
        }
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

#define PUTS(b, lit) put(b, lit, sizeof(lit) - 1)

/* bytes that JSON strings must escape */
static inline int
needs_escape(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\';
}

static void
put_str(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";

    reserve(b, n * 6 + 2);
    if (b->oom) {
        return;
    }
    char *o = b->p + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n;) {
        /* copy the run of plain bytes at once */
        size_t j = i;
        while (j < n && !needs_escape((unsigned char)s[j])) {
            j++;
        }
        memcpy(o, s + i, j - i);
        o += j - i;
        if (j == n) {
            break;
        }
        unsigned char c = (unsigned char)s[j];
        *o++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *o++ = (char)c;
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            memcpy(o, "u00", 3);
            o += 3;
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
        i = j + 1;
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
}

static void write_rec(struct buf *b, const struct gw_record *r, const struct gw_val *rec);

static int
cmp_kv(const void *a, const void *b)
{
    return strcmp((*(const struct gw_kv *const *)a)->key, (*(const struct gw_kv *const *)b)->key);
}

static void
write_val(struct buf *b, const struct gw_field *f, const struct gw_val *v)
{
    char num[40];

    switch (v->type) {
    case GW_V_ABSENT:
    case GW_V_NULL:
        PUTS(b, "null");
        return;
    case GW_V_BOOL:
        if (v->u.b) {
            PUTS(b, "true");
        } else {
            PUTS(b, "false");
        }
        return;
    case GW_V_INT: {
        /* by hand: snprintf costs more than the rest of a record */
        char *e = num + sizeof num, *d = e;
        uint64_t u = v->u.i < 0 ? 0 - (uint64_t)v->u.i : (uint64_t)v->u.i;
        do {
            *--d = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (v->u.i < 0) {
            *--d = '-';
        }
        put(b, d, (size_t)(e - d));
        return;
    }
    case GW_V_NUM:
        if (!isfinite(v->u.d)) {
            PUTS(b, "null");
        } else {
            put(b, num, (size_t)snprintf(num, sizeof num, "%.17g", v->u.d));
        }
        return;
    case GW_V_STR:
        if (f && f->type == GW_T_FOREIGN) {
            PUTS(b, "{\"id\":");
            put_str(b, v->u.s, v->n);
            PUTS(b, "}");
        } else {
            put_str(b, v->u.s, v->n);
        }
        return;
    case GW_V_ARR:
        PUTS(b, "[");
        for (uint32_t i = 0; i < v->n; i++) {
            if (i) {
                PUTS(b, ",");
            }
            write_val(b, f ? f->elem : NULL, &v->u.items[i]);
        }
        PUTS(b, "]");
        return;
    case GW_V_OBJ: {
        const struct gw_kv *stack[64];
        const struct gw_kv **kvs = v->n <= 64 ? stack : malloc(sizeof(*kvs) * v->n);
        if (kvs == NULL) {
            b->oom = 1;
            return;
        }
        for (uint32_t i = 0; i < v->n; i++) {
            kvs[i] = &v->u.kv[i];
        }
        qsort(kvs, v->n, sizeof *kvs, cmp_kv);
        PUTS(b, "{");
        for (uint32_t i = 0; i < v->n; i++) {
            if (i) {
                PUTS(b, ",");
            }
            put_str(b, kvs[i]->key, kvs[i]->klen);
            PUTS(b, ":");
            write_val(b, f && f->type == GW_T_MAP ? f->elem : NULL, &kvs[i]->val);
        }
        PUTS(b, "}");
        if (kvs != stack) {
            free(kvs);
        }
        return;
    }
    case GW_V_REC:
        if (f && f->record) {
            write_rec(b, f->record, v);
        } else {
            PUTS(b, "null");
        }
        return;
    }
}

/* Fields are written in name order. A null field is left out when null is also what an
 * absent field becomes (no default), so loading the text gives the same record back. */
static void
write_rec(struct buf *b, const struct gw_record *r, const struct gw_val *rec)
{
    int first = 1;

    PUTS(b, "{");
    for (uint32_t k = 0; k < r->nfields; k++) {
        uint16_t i = r->sorted[k];
        const struct gw_field *f = &r->fields[i];
        const struct gw_val *v = &rec->u.items[i];
        if ((f->flags & GW_F_TRANSIENT) ||
            (!b->full && (v->type == GW_V_NULL || v->type == GW_V_ABSENT) && f->dflt == NULL &&
             !(f->type == GW_T_RECORD && !(f->flags & GW_F_NULLABLE)))) {
            continue;
        }
        if (!first) {
            PUTS(b, ",");
        }
        first = 0;
        put(b, f->key_json, f->key_json_len);
        if (f->subschema_of && rec->u.items[i].type == GW_V_REC) {
            struct gw_field sub = *f;
            sub.record = f->subschema_of(r, rec);
            write_val(b, &sub, &rec->u.items[i]);
        } else {
            write_val(b, f, &rec->u.items[i]);
        }
    }
    PUTS(b, "}");
}

static void
write_config(struct buf *b, const struct gw_config *cfg)
{
    int order[GW_ENT__COUNT];

    /* entity types in name order */
    for (int t = 0; t < GW_ENT__COUNT; t++) {
        int j = t;
        order[t] = t;
        while (j > 0 && strcmp(gw_entities[order[j - 1]].name, gw_entities[t].name) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = t;
    }
    PUTS(b, "{\"_format_version\":\"3.0\",\"_transform\":false");
    for (int k = 0; k < GW_ENT__COUNT; k++) {
        const struct gw_entset *s = &cfg->sets[order[k]];
        const struct gw_record *r = gw_entities[order[k]].schema;
        if (s->n == 0) {
            continue;
        }
        PUTS(b, ",");
        put_str(b, gw_entities[order[k]].name, strlen(gw_entities[order[k]].name));
        PUTS(b, ":[");
        for (uint32_t i = 0; i < s->n; i++) {
            if (i) {
                PUTS(b, ",");
            }
            write_rec(b, r, &s->recs[i]);
        }
        PUTS(b, "]");
    }
    PUTS(b, "}");
}

char *
gw_canon_json(const struct gw_config *cfg, size_t *len)
{
    struct buf b = {0};

    write_config(&b, cfg);
    put(&b, "", 1);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    *len = b.len - 1;
    return b.p;
}

int
gw_canon_hash(const struct gw_config *cfg, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    struct buf b = {.md = EVP_MD_CTX_new()};

    b.p = malloc(CHUNK);
    b.cap = CHUNK;
    if (b.md == NULL || b.p == NULL || !EVP_DigestInit_ex(b.md, EVP_sha256(), NULL)) {
        goto fail;
    }
    write_config(&b, cfg);
    if (b.oom) {
        goto fail;
    }
    EVP_DigestUpdate(b.md, b.p, b.len);
    EVP_DigestFinal_ex(b.md, md, &mdlen);
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    EVP_MD_CTX_free(b.md);
    free(b.p);
    return 0;
fail:
    EVP_MD_CTX_free(b.md);
    free(b.p);
    return -1;
}

json_t *
gw_rec_to_json(const struct gw_record *r, const struct gw_val *rec)
{
    struct buf b = {.full = 1};
    json_t *j;

    write_rec(&b, r, rec);
    put(&b, "", 1);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    j = json_loadb(b.p, b.len - 1, 0, NULL);
    free(b.p);
    return j;
}

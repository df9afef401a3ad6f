/* /config and /tags.
 *
 * GET /config exports every entity as one declarative document; POST /config replaces the
 * whole configuration with a document in one transaction: the document goes through the
 * declarative loader the data plane uses (so it is refused with the same messages), and
 * either every entity is stored or nothing changes. Kong offers this only without a
 * database. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "admin_ent.h"
#include "admin_int.h"
#include "canon.h"
#include "doc.h"
#include "store.h"
#include "val.h"

/* parents before children, so foreign keys hold while inserting */
static const enum gw_entity_type order[GW_ENT__COUNT] = {
    GW_ENT_CERTIFICATES,        GW_ENT_CA_CERTIFICATES,      GW_ENT_SNIS,
    GW_ENT_SERVICES,            GW_ENT_ROUTES,               GW_ENT_CONSUMERS,
    GW_ENT_UPSTREAMS,           GW_ENT_TARGETS,              GW_ENT_PLUGINS,
    GW_ENT_KEYAUTH_CREDENTIALS, GW_ENT_BASICAUTH_CREDENTIALS, GW_ENT_JWT_SECRETS,
    GW_ENT_HMACAUTH_CREDENTIALS, GW_ENT_ACLS,                GW_ENT_KEY_SETS,
    GW_ENT_KEYS,
};

static int
is(const struct areq *r, const char *m)
{
    return strcmp(r->method, m) == 0;
}

/* growing output buffer */
struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
};

static void
sput(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom) {
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
sputs(struct sbuf *b, const char *s)
{
    sput(b, s, strlen(s));
}

/* ---- GET /config ---- */

static void
export(struct areq *r)
{
    struct sbuf b = {0};

    if (areq_pg(r) == NULL) {
        return;
    }
    /* one snapshot of every table */
    PGresult *res = gw_store_exec(r->pg, 1, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0,
                                  NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        reply_db(r, res);
        PQclear(res);
        return;
    }
    PQclear(res);
    sputs(&b, "{\"_format_version\":\"3.0\",\"_transform\":false");
    for (int i = 0; i < GW_ENT__COUNT; i++) {
        const struct gw_ent *e = gw_ent_get(order[i]);
        char sql[300];
        snprintf(sql, sizeof sql, "SELECT t.doc::text FROM %s t ORDER BY t.id", e->table);
        res = gw_store_exec(r->pg, 0, sql, 0, NULL);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            reply_db(r, res);
            PQclear(res);
            PQclear(gw_store_exec(r->pg, 0, "ROLLBACK", 0, NULL));
            free(b.p);
            return;
        }
        int n = PQntuples(res);
        if (n > 0) {
            sputs(&b, ",\"");
            sputs(&b, e->table);
            sputs(&b, "\":[");
            for (int k = 0; k < n; k++) {
                if (k) {
                    sput(&b, ",", 1);
                }
                sput(&b, PQgetvalue(res, k, 0), (size_t)PQgetlength(res, k, 0));
            }
            sput(&b, "]", 1);
        }
        PQclear(res);
    }
    PQclear(gw_store_exec(r->pg, 0, "COMMIT", 0, NULL));
    sput(&b, "}", 1);
    if (b.oom) {
        free(b.p);
        reply_msg(r, 500, "An unexpected error occurred");
        return;
    }
    /* Kong answers {"config": "<declarative text>"}; the text here is JSON, which every
     * YAML reader reads as well */
    json_t *j = json_object();
    json_object_set_new(j, "config", json_stringn(b.p, b.len));
    free(b.p);
    reply_json(r, 200, j);
}

/* ---- POST /config ---- */

/* Kong renders the error tree as a Lua table in the message */
static void
lua_tree(struct sbuf *b, const json_t *v)
{
    if (json_is_object(v)) {
        /* keys sorted, as Kong's rendering prints them */
        size_t n = json_object_size(v), i = 0;
        const char **keys = malloc((n ? n : 1) * sizeof *keys);
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            keys[i++] = k;
        }
        for (size_t a = 1; a < n; a++) {
            for (size_t c = a; c > 0 && strcmp(keys[c - 1], keys[c]) > 0; c--) {
                const char *t = keys[c];
                keys[c] = keys[c - 1];
                keys[c - 1] = t;
            }
        }
        sput(b, "{", 1);
        for (i = 0; i < n; i++) {
            k = keys[i];
            if (i) {
                sput(b, ",", 1);
            }
            if (k[0] == '@' || strchr(k, '-')) {
                sputs(b, "[\"");
                sputs(b, k);
                sputs(b, "\"]=");
            } else {
                sputs(b, k);
                sput(b, "=", 1);
            }
            lua_tree(b, json_object_get(v, k));
        }
        free(keys);
        sput(b, "}", 1);
    } else if (json_is_array(v)) {
        /* a sequence prints bare; with holes (valid entries) the indexes are written */
        size_t i;
        json_t *x;
        int first = 1, holes = 0;
        json_array_foreach(v, i, x) {
            holes |= json_is_null(x);
        }
        sput(b, "{", 1);
        json_array_foreach(v, i, x) {
            if (json_is_null(x)) {
                continue;
            }
            if (!first) {
                sput(b, ",", 1);
            }
            if (holes) {
                char idx[32];
                snprintf(idx, sizeof idx, "[%zu]=", i + 1);
                sputs(b, idx);
            }
            first = 0;
            lua_tree(b, x);
        }
        sput(b, "}", 1);
    } else if (json_is_string(v)) {
        sput(b, "\"", 1);
        sputs(b, json_string_value(v));
        sput(b, "\"", 1);
    } else {
        sputs(b, "null");
    }
}

static double
now_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

/* the document's text from a body: raw YAML/JSON, or {"config": "<text>"} */
static const char *
doc_text(struct areq *r, size_t *len, json_t **hold)
{
    const char *ct = r->ctype ? r->ctype : "";

    *hold = NULL;
    if (r->body == NULL || r->body_len == 0) {
        return NULL;
    }
    if (strncasecmp(ct, "application/yaml", 16) == 0 || strncasecmp(ct, "text/yaml", 9) == 0 ||
        strncasecmp(ct, "application/x-yaml", 18) == 0) {
        *len = r->body_len;
        return r->body;
    }
    if (strncasecmp(ct, "application/json", 16) == 0) {
        json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
        json_t *c = j ? json_object_get(j, "config") : NULL;
        if (json_is_string(c) && json_object_get(j, "_format_version") == NULL) {
            *hold = j;
            *len = json_string_length(c);
            return json_string_value(c);
        }
        json_decref(j);
        *len = r->body_len;
        return r->body;
    }
    int form;
    json_t *f = gw_admin_body(r, &form);
    json_t *c = f ? json_object_get(f, "config") : NULL;
    if (json_is_string(c)) {
        *hold = f;
        *len = json_string_length(c);
        return json_string_value(c);
    }
    json_decref(f);
    return NULL;
}

static void
import(struct areq *r)
{
    size_t len = 0;
    json_t *hold, *errs = NULL;
    struct gw_config *cfg = NULL;
    struct gw_parse_err perr = {0};
    struct sbuf out = {0};
    char *bulk[GW_ENT__COUNT] = {0};

    const char *text = doc_text(r, &len, &hold);
    if (text == NULL) {
        if (r->status == 0) {
            reply_msg(r, 400, "expected a declarative configuration");
        }
        json_decref(hold);
        return;
    }
    int rc = gw_doc_load(text, len, GW_FMT_AUTO, &cfg, &errs, &perr);
    json_decref(hold);
    if (rc == GW_DOC_EPARSE) {
        char msg[400];
        snprintf(msg, sizeof msg, "failed parsing declarative configuration: %s%s%.200s",
                 perr.line ? "" : "", perr.line ? "" : "", perr.msg);
        if (perr.line) {
            snprintf(msg, sizeof msg, "failed parsing declarative configuration: %d:%d: %.200s",
                     perr.line, perr.column, perr.msg);
        }
        reply_err(r, 400, 14, "invalid declarative configuration", msg,
                  json_pack("{s:s}", "error", msg));
        return;
    }
    if (rc == GW_DOC_EINVALID) {
        struct sbuf m = {0};
        sputs(&m, "declarative config is invalid: ");
        lua_tree(&m, errs);
        reply_err(r, 400, 14, "invalid declarative configuration", m.oom ? "invalid" : m.p, errs);
        free(m.p);
        return;
    }
    if (rc != 0) {
        json_decref(errs);
        reply_msg(r, 500, "An unexpected error occurred");
        return;
    }
    /* every entity as stored JSON, per type, and the reply grouped by type and id */
    double now = now_s();
    sput(&out, "{", 1);
    int first_type = 1;
    for (int i = 0; i < GW_ENT__COUNT; i++) {
        enum gw_entity_type t = order[i];
        const struct gw_ent *e = gw_ent_get(t);
        const struct gw_entset *set = &cfg->sets[t];
        struct sbuf b = {0};
        if (set->n == 0) {
            continue;
        }
        sput(&b, "[", 1);
        sputs(&out, first_type ? "\"" : ",\"");
        first_type = 0;
        sputs(&out, e->table);
        sputs(&out, "\":{");
        for (uint32_t k = 0; k < set->n; k++) {
            json_t *doc = gw_rec_to_json(e->def->schema, &set->recs[k]);
            if (doc == NULL) {
                b.oom = 1;
                break;
            }
            /* entities without timestamps get the import's time */
            const char *ts[2] = {"created_at", e->has_updated_at || e->ms_time ? "updated_at" : NULL};
            for (int q = 0; q < 2; q++) {
                json_t *v = ts[q] ? json_object_get(doc, ts[q]) : NULL;
                if (ts[q] && (v == NULL || json_is_null(v))) {
                    json_object_set_new(doc, ts[q], e->ms_time ? json_real((double)(long long)(now * 1000) / 1000)
                                                               : json_integer((json_int_t)now));
                }
            }
            char *s = json_dumps(doc, JSON_COMPACT);
            const char *id = json_string_value(json_object_get(doc, "id"));
            if (s == NULL || id == NULL) {
                free(s);
                json_decref(doc);
                b.oom = 1;
                break;
            }
            if (k) {
                sput(&b, ",", 1);
                sput(&out, ",", 1);
            }
            sputs(&b, s);
            sput(&out, "\"", 1);
            sputs(&out, id);
            sputs(&out, "\":");
            sputs(&out, s);
            free(s);
            json_decref(doc);
        }
        sput(&b, "]", 1);
        sput(&out, "}", 1);
        if (b.oom) {
            free(b.p);
            out.oom = 1;
            break;
        }
        bulk[t] = b.p;
    }
    sput(&out, "}", 1);
    gw_config_free(cfg);
    if (out.oom) {
        reply_msg(r, 500, "An unexpected error occurred");
        goto done;
    }
    if (areq_pg(r) == NULL) {
        goto done;
    }
    /* all or nothing */
    PGresult *res = gw_store_exec(r->pg, 1, "BEGIN", 0, NULL);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (ok) {
        struct sbuf tr = {0};
        sputs(&tr, "TRUNCATE ");
        for (int i = 0; i < GW_ENT__COUNT; i++) {
            sputs(&tr, i ? ", " : "");
            sputs(&tr, gw_ent_get(order[i])->table);
        }
        res = gw_store_exec(r->pg, 0, tr.p, 0, NULL);
        free(tr.p);
        ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ok) {
            reply_db(r, res);
        }
        PQclear(res);
    } else {
        reply_msg(r, 503, "database unavailable");
    }
    for (int i = 0; ok && i < GW_ENT__COUNT; i++) {
        if (bulk[order[i]] == NULL) {
            continue;
        }
        const char *p[1] = {bulk[order[i]]};
        res = gw_store_exec(r->pg, 0, gw_ent_get(order[i])->sql_bulk, 1, p);
        ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ok) {
            reply_db(r, res);
        }
        PQclear(res);
    }
    if (ok) {
        res = gw_store_exec(r->pg, 0, "COMMIT", 0, NULL);
        ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ok) {
            reply_db(r, res);
        }
        PQclear(res);
    } else {
        PQclear(gw_store_exec(r->pg, 0, "ROLLBACK", 0, NULL));
    }
    if (ok) {
        snprintf(r->audit_id, sizeof r->audit_id, "config");
        gw_store_changed(r->opts->store);
        reply_raw(r, 201, out.p, out.len);
        out.p = NULL;
    }
done:
    free(out.p);
    for (int i = 0; i < GW_ENT__COUNT; i++) {
        free(bulk[i]);
    }
}

/* ---- /tags ---- */

static void
tags(struct areq *r, const char *tag)
{
    struct sbuf q = {0};
    int size;
    const char *offset = areq_arg(r, "offset");
    long skip = 0;

    if (gw_ent_page_size(r, &size) < 0) {
        return;
    }
    for (size_t i = 0, n = tag ? strlen(tag) : 0; i < n;) {
        size_t l = gw_utf8_len((const unsigned char *)tag + i, n - i);
        if (l == 0) {
            char msg[120];
            snprintf(msg, sizeof msg, "invalid utf-8 sequence of 1 bytes from index %zu", i);
            reply_msg(r, 400, msg);
            return;
        }
        i += l;
    }
    if (offset) {
        unsigned char dec[64];
        size_t n = strlen(offset);
        int m = n > 0 && n % 4 == 0 && n < 80
                    ? EVP_DecodeBlock(dec, (const unsigned char *)offset, (int)n)
                    : -1;
        char *end = NULL;
        if (m > 0) {
            dec[m] = '\0';
            skip = strtol((char *)dec, &end, 10);
        }
        if (m <= 0 || end == (char *)dec || skip < 0) {
            char msg[300];
            snprintf(msg, sizeof msg, "'%.200s' is not a valid offset: bad base64 encoding", offset);
            reply_err(r, 400, 7, "invalid offset", msg, NULL);
            return;
        }
    }
    if (areq_pg(r) == NULL) {
        return;
    }
    sputs(&q, "SELECT tag, entity_name, id FROM (");
    for (int i = 0; i < GW_ENT__COUNT; i++) {
        const char *t = gw_ent_get(order[i])->table;
        char part[300];
        snprintf(part, sizeof part,
                 "%sSELECT unnest(tags) AS tag, '%s'::text AS entity_name, id::text AS id FROM %s",
                 i ? " UNION ALL " : "", t, t);
        sputs(&q, part);
    }
    char tail[200];
    snprintf(tail, sizeof tail, ") x %s ORDER BY tag, entity_name, id LIMIT %d OFFSET %ld",
             tag ? "WHERE tag = $1" : "", size + 1, skip);
    sputs(&q, tail);
    const char *p[1] = {tag};
    PGresult *res = gw_store_exec(r->pg, 1, q.p, tag ? 1 : 0, p);
    free(q.p);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        reply_db(r, res);
        PQclear(res);
        return;
    }
    int rows = PQntuples(res), more = rows > size;
    json_t *data = json_array();
    for (int i = 0; i < rows && i < size; i++) {
        json_array_append_new(data, json_pack("{s:s,s:s,s:s}", "tag", PQgetvalue(res, i, 0),
                                              "entity_name", PQgetvalue(res, i, 1), "entity_id",
                                              PQgetvalue(res, i, 2)));
    }
    PQclear(res);
    json_t *j = json_pack("{s:o}", "data", data);
    if (more) {
        char num[32], b64[64], next[800];
        snprintf(num, sizeof num, "%ld", skip + size);
        EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)num, (int)strlen(num));
        /* base64 may end with '=': escape it in the URL */
        char esc[128];
        size_t w = 0;
        for (const char *c = b64; *c && w + 4 < sizeof esc; c++) {
            if (*c == '=' || *c == '+' || *c == '/') {
                w += (size_t)snprintf(esc + w, sizeof esc - w, "%%%02X", (unsigned char)*c);
            } else {
                esc[w++] = *c;
            }
        }
        esc[w] = '\0';
        snprintf(next, sizeof next, "%s?offset=%s", r->path_text, esc);
        json_object_set_new(j, "offset", json_string(b64));
        json_object_set_new(j, "next", json_string(next));
    } else {
        json_object_set_new(j, "next", json_null());
    }
    reply_json(r, 200, j);
}

int
gw_admin_config(struct areq *r)
{
    if (r->nseg == 1 && strcmp(r->seg[0], "config") == 0) {
        r->allow = "GET, POST";
        if (is(r, "GET")) {
            export(r);
        } else if (is(r, "POST")) {
            import(r);
        }
        return 1;
    }
    if (r->nseg >= 1 && r->nseg <= 2 && strcmp(r->seg[0], "tags") == 0) {
        r->allow = "GET";
        if (is(r, "GET")) {
            tags(r, r->nseg == 2 ? r->seg[1] : NULL);
        }
        return 1;
    }
    return 0;
}

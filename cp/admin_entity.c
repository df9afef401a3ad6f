/* Entity endpoints, generated for every entity of the model as Kong's endpoints.lua does:
 *   /E            GET list, POST create
 *   /E/{key}      GET, PUT upsert, PATCH merge, DELETE
 *   /E/{key}/fk   the parent the foreign key points to (GET, PUT, PATCH)
 *   /P/{key}/C    children of a parent (GET, POST with the foreign key from the URL)
 *   /P/{key}/C/{key}
 * A key is an id or the entity's endpoint key. Every write is validated by shared/'s
 * schemas (the code the declarative loader runs) before it reaches PostgreSQL; the
 * database's own constraints decide uniqueness and references, and their violations come
 * back as Kong's errors. */
#include <math.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "admin_ent.h"
#include "admin_int.h"
#include "arena.h"
#include "canon.h"
#include "model.h"
#include "parse.h"
#include "store.h"
#include "str.h"
#include "uuid.h"
#include "val.h"

static struct gw_ent ents[GW_ENT__COUNT];

/* ---- per-entity SQL, built once from the schema ---- */

/* appends to a NUL-terminated buffer of len bytes, truncating */
static void __attribute__((format(printf, 3, 4)))
appendf(char *dst, size_t len, const char *fmt, ...)
{
    size_t l = strlen(dst);
    va_list ap;

    if (l + 1 >= len) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(dst + l, len - l, fmt, ap);
    va_end(ap);
}

static int
is_text_col(const struct gw_entity_def *d, const char *name)
{
    if (d->endpoint_key && strcmp(d->endpoint_key, name) == 0) {
        return 1;
    }
    for (const char *const *u = d->unique; u && *u; u++) {
        if (strcmp(*u, name) == 0) {
            return 1;
        }
    }
    for (const char *const *u = d->cache_key; u && *u; u++) {
        if (strcmp(*u, name) == 0) {
            return 1;
        }
    }
    return 0;
}

static void
build(struct gw_ent *e, const struct gw_entity_def *d)
{
    const struct gw_record *s = d->schema;

    e->def = d;
    e->table = d->name;
    for (uint32_t i = 0; i < s->nfields; i++) {
        const struct gw_field *f = &s->fields[i];
        const char *sep = e->cols[0] ? ", " : "";
        char col[96], expr[400];
        if (strcmp(f->name, "id") == 0) {
            snprintf(col, sizeof col, "id");
            snprintf(expr, sizeof expr, "(d->>'id')::uuid");
        } else if (strcmp(f->name, "created_at") == 0) {
            e->ms_time = f->type == GW_T_NUMBER;
            snprintf(col, sizeof col, "created_at");
            snprintf(expr, sizeof expr, "(d->>'created_at')::%s", e->ms_time ? "float8" : "bigint");
        } else if (strcmp(f->name, "updated_at") == 0) {
            e->has_updated_at = 1;
            continue;
        } else if (f->type == GW_T_FOREIGN) {
            snprintf(col, sizeof col, "%s_id", f->name);
            snprintf(expr, sizeof expr, "(d->'%s'->>'id')::uuid", f->name);
            if (e->nfk < GW_ENT_MAX_FK) {
                e->fk[e->nfk].field = f->name;
                e->fk[e->nfk].ref = gw_entity_find(f->ref);
                e->nfk++;
            }
        } else if (strcmp(f->name, "tags") == 0 ||
                   (d->type == GW_ENT_SERVICES && strcmp(f->name, "ca_certificates") == 0)) {
            snprintf(col, sizeof col, "%s", f->name);
            snprintf(expr, sizeof expr,
                     "CASE WHEN jsonb_typeof(d->'%s') = 'array' THEN "
                     "ARRAY(SELECT jsonb_array_elements_text(d->'%s'))%s END",
                     f->name, f->name, f->name[0] == 't' ? "" : "::uuid[]");
        } else if (is_text_col(d, f->name) && f->type == GW_T_STRING) {
            snprintf(col, sizeof col, "\"%s\"", f->name);
            snprintf(expr, sizeof expr, "d->>'%s'", f->name);
        } else {
            continue;
        }
        appendf(e->cols, sizeof e->cols, "%s%s", sep, col);
        appendf(e->exprs, sizeof e->exprs, "%s%s", sep, expr);
        if (strcmp(col, "id") != 0) {
            appendf(e->sets, sizeof e->sets, "%s%s = EXCLUDED.%s", e->sets[0] ? ", " : "", col,
                    col);
        }
    }
    appendf(e->cols, sizeof e->cols, ", doc");
    appendf(e->exprs, sizeof e->exprs, ", d");
    appendf(e->sets, sizeof e->sets, ", doc = EXCLUDED.doc");
    if (d->type == GW_ENT_CERTIFICATES) {
        snprintf(e->docexpr, sizeof e->docexpr,
                 "jsonb_set(t.doc, '{snis}', coalesce((SELECT jsonb_agg(s.name ORDER BY s.name) "
                 "FROM snis s WHERE s.certificate_id = t.id), '[]'::jsonb))::text");
    } else {
        snprintf(e->docexpr, sizeof e->docexpr, "t.doc::text");
    }
    snprintf(e->sql_insert, sizeof e->sql_insert,
             "INSERT INTO %s (%s) SELECT %s FROM (SELECT $1::jsonb AS d) s", e->table, e->cols,
             e->exprs);
    snprintf(e->sql_upsert, sizeof e->sql_upsert, "%s ON CONFLICT (id) DO UPDATE SET %s",
             e->sql_insert, e->sets);
    snprintf(e->sql_bulk, sizeof e->sql_bulk,
             "INSERT INTO %s (%s) SELECT %s FROM jsonb_array_elements($1::jsonb) AS d", e->table,
             e->cols, e->exprs);
}

const struct gw_ent *
gw_ent_get(enum gw_entity_type t)
{
    static int done;

    if (!done) {
        /* the schemas are prepared by gw_model_init() before the server starts; this runs
         * from main() too (gw_ent_init) so threads never race here */
        for (int i = 0; i < GW_ENT__COUNT; i++) {
            build(&ents[i], &gw_entities[i]);
        }
        done = 1;
    }
    return &ents[t];
}

void
gw_ent_init(void)
{
    (void)gw_ent_get(0);
}

/* ---- small helpers ---- */

static double
now_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

static void
random_hex(char out[33])
{
    unsigned char b[16];

    if (RAND_bytes(b, sizeof b) != 1) {
        char u[GW_UUID_LEN + 1];
        gw_uuid_v4(u);
        memcpy(b, u, sizeof b);
    }
    gw_hex_lower(b, sizeof b, out);
}

/* Kong renders keys in messages as Lua tables: {name="x",route=null,service={id="..."}} */
static void
lua_value(char *out, size_t len, const json_t *v)
{
    size_t l = strlen(out);

    if (v == NULL || json_is_null(v)) {
        snprintf(out + l, len - l, "null");
    } else if (json_is_string(v)) {
        snprintf(out + l, len - l, "\"%s\"", json_string_value(v));
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        int first = 1;
        snprintf(out + l, len - l, "{");
        json_object_foreach((json_t *)v, k, x) {
            l = strlen(out);
            snprintf(out + l, len - l, "%s%s=", first ? "" : ",", k);
            lua_value(out, len, x);
            first = 0;
        }
        l = strlen(out);
        snprintf(out + l, len - l, "}");
    } else {
        char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        snprintf(out + l, len - l, "%s", s ? s : "null");
        free(s);
    }
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* {a="x",b=null} over the given fields (sorted), with fields as a JSON object */
static void
lua_fields(char *out, size_t len, const json_t *doc, const char **names, int n, json_t *fields)
{
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    snprintf(out, len, "{");
    for (int i = 0; i < n; i++) {
        size_t l = strlen(out);
        json_t *v = json_object_get(doc, names[i]);
        snprintf(out + l, len - l, "%s%s=", i ? "," : "", names[i]);
        lua_value(out, len, v);
        json_object_set(fields, names[i], v ? v : json_null());
    }
    size_t l = strlen(out);
    snprintf(out + l, len - l, "}");
}

/* ---- database errors as Kong's ---- */

static void
write_error(struct areq *r, const struct gw_ent *e, PGresult *res, const json_t *doc, int deleting)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *cons = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
    const char *table = PQresultErrorField(res, PG_DIAG_TABLE_NAME);
    char msg[1024];

    if (state == NULL || cons == NULL) {
        reply_db(r, res);
        return;
    }
    if (strcmp(state, "23505") == 0) { /* unique_violation */
        json_t *fields = json_object();
        size_t tl = strlen(e->table);
        if (strcmp(cons + tl, "_pkey") == 0) {
            json_t *id = json_object_get(doc, "id");
            snprintf(msg, sizeof msg, "primary key violation on key '{id=\"%s\"}'",
                     json_string_value(id));
            json_object_set(fields, "id", id);
            reply_err(r, 400, 3, "primary key violation", msg, fields);
            return;
        }
        const char *names[8];
        int n = 0;
        char one[96];
        if (strcmp(cons + tl, "_cache_key") == 0) {
            for (const char *const *k = e->def->cache_key; k && *k && n < 8; k++) {
                names[n++] = *k;
            }
        } else if (strncmp(cons, e->table, tl) == 0 && strlen(cons) > tl + 5) {
            /* <table>_<field>_key */
            snprintf(one, sizeof one, "%.*s", (int)(strlen(cons) - tl - 5), cons + tl + 1);
            names[n++] = one;
        }
        char lua[800];
        lua_fields(lua, sizeof lua, doc, names, n, fields);
        snprintf(msg, sizeof msg, "UNIQUE violation detected on '%s'", lua);
        reply_err(r, 409, 5, "unique constraint violation", msg, fields);
        return;
    }
    if (strcmp(state, "23503") == 0) { /* foreign_key_violation */
        if (deleting || (table && strcmp(table, e->table) != 0)) {
            /* a child restricts the delete of this parent */
            snprintf(msg, sizeof msg, "an existing '%s' entity references this '%s' entity",
                     table ? table : "?", e->table);
            reply_err(r, 400, 4, "foreign key violation", msg,
                      json_pack("{s:s}", "@referenced_by", table ? table : "?"));
            return;
        }
        for (int i = 0; i < e->nfk; i++) {
            char want[128];
            snprintf(want, sizeof want, "%s_%s_id_fkey", e->table, e->fk[i].field);
            if (strcmp(cons, want) == 0) {
                json_t *v = json_object_get(doc, e->fk[i].field);
                const char *id = json_string_value(json_object_get(v, "id"));
                snprintf(msg, sizeof msg,
                         "the foreign key '{id=\"%s\"}' does not reference an existing '%s' "
                         "entity.",
                         id ? id : "", e->fk[i].ref ? e->fk[i].ref->name : "?");
                reply_err(r, 400, 4, "foreign key violation", msg,
                          json_pack("{s:{s:s}}", e->fk[i].field, "id", id ? id : ""));
                return;
            }
        }
    }
    reply_db(r, res);
}

/* ---- lookups ---- */

/* Finds one row by id or endpoint key (within the scope's parent). 1 found (id and, when
 * wanted, the stored doc filled), 0 not found, -1 replied (database trouble). */
static int
find(struct areq *r, const struct gw_ent *e, const char *key, const struct gw_scope *sc,
     char id[GW_UUID_LEN + 1], json_t **doc)
{
    char sql[600];
    const char *params[2] = {key, sc ? sc->parent_id : NULL};
    const char *col = NULL;
    PGconn *pg = areq_pg(r);

    if (pg == NULL) {
        return -1;
    }
    for (size_t i = 0, n = strlen(key); i < n;) { /* no stored key is invalid UTF-8 */
        size_t l = gw_utf8_len((const unsigned char *)key + i, n - i);
        if (l == 0) {
            return 0;
        }
        i += l;
    }
    if (is_uuid(key)) {
        col = "id";
    } else if (e->def->type == GW_ENT_ACLS && sc) {
        col = "\"group\"";
    } else if (e->def->endpoint_key) {
        col = e->def->endpoint_key;
    }
    if (col == NULL && e->def->type == GW_ENT_CERTIFICATES) {
        snprintf(sql, sizeof sql,
                 "SELECT t.id::text, t.doc::text FROM certificates t JOIN snis s ON "
                 "s.certificate_id = t.id WHERE s.name = $1");
    } else if (col == NULL) {
        return 0;
    } else {
        snprintf(sql, sizeof sql, "SELECT t.id::text, t.doc::text FROM %s t WHERE t.%s = $1%s%s%s",
                 e->table, col,
                 sc ? " AND t." : "", sc ? sc->fk : "", sc ? "_id = $2::uuid" : "");
    }
    char keybuf[300];
    if (e->def->type == GW_ENT_TARGETS && !is_uuid(key) && strchr(key, ':') == NULL) {
        /* targets are stored with their port; Kong's default is 8000 */
        snprintf(keybuf, sizeof keybuf, "%s:8000", key);
        params[0] = keybuf;
    }
    PGresult *res = gw_store_exec(pg, 1, sql, sc ? 2 : 1, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        reply_db(r, res);
        PQclear(res);
        return -1;
    }
    int found = PQntuples(res) > 0;
    if (found) {
        snprintf(id, GW_UUID_LEN + 1, "%s", PQgetvalue(res, 0, 0));
        if (doc) {
            *doc = json_loads(PQgetvalue(res, 0, 1), 0, NULL);
        }
    }
    PQclear(res);
    return found;
}

/* The reply body of one entity as stored (certificates with their SNI names). */
static void
reply_stored(struct areq *r, const struct gw_ent *e, const char *id, int status)
{
    char sql[700];
    const char *params[1] = {id};

    snprintf(sql, sizeof sql, "SELECT %s FROM %s t WHERE t.id = $1", e->docexpr, e->table);
    PGresult *res = gw_store_exec(r->pg, 1, sql, 1, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        reply_db(r, res);
    } else if (PQntuples(res) == 0) {
        reply_msg(r, 404, "Not found");
    } else {
        reply_raw(r, status, strdup(PQgetvalue(res, 0, 0)), (size_t)PQgetlength(res, 0, 0));
    }
    PQclear(res);
}

/* ---- list ---- */

static int
b64_encode(const char *in, char *out, size_t len)
{
    size_t n = strlen(in);
    if ((n + 2) / 3 * 4 + 1 > len) {
        return -1;
    }
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)n);
    return 0;
}

static int
b64_decode(const char *in, char *out, size_t len)
{
    size_t n = strlen(in);
    if (n == 0 || n % 4 != 0 || n / 4 * 3 + 1 > len) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || (c == '=' && i >= n - 2))) {
            return -1;
        }
    }
    int m = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)in, (int)n);
    if (m < 0) {
        return -1;
    }
    while (m > 0 && in[n - 1] == '=' && out[m - 1] == '\0') {
        m--, n--;
    }
    out[m] = '\0';
    return 0;
}

static void
url_escape(const char *in, char *out, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t w = 0;

    for (; *in && w + 4 < len; in++) {
        unsigned char c = (unsigned char)*in;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            out[w++] = (char)c;
        } else {
            out[w++] = '%';
            out[w++] = hex[c >> 4];
            out[w++] = hex[c & 15];
        }
    }
    out[w] = '\0';
}

/* ?tags=a,b (all) or a/b (any): the tags as a JSON array text, *any set for '/'. 0, or -1
 * after replying 400. */
int
gw_ent_tags_filter(struct areq *r, const char *tags, char *json, size_t len, int *any)
{
    const char *why = NULL;
    int comma = strchr(tags, ',') != NULL, slash = strchr(tags, '/') != NULL;
    int n = 0;

    *any = slash;
    if (*tags == '\0') {
        why = "cannot be null";
    } else if (comma && slash) {
        why = "invalid filter syntax";
    }
    json_t *arr = json_array();
    for (const char *p = tags; !why && *p;) {
        size_t m = strcspn(p, ",/");
        if (m == 0) {
            why = "invalid filter syntax";
            break;
        }
        for (size_t i = 0; i < m; i++) {
            unsigned char c = (unsigned char)p[i];
            int word = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       c == '.' || c == '-' || c == '_' || c == '~' || (c >= 0x80 && c <= 0xf4);
            if (!word) {
                why = "invalid filter syntax";
            }
        }
        json_array_append_new(arr, json_stringn(p, m));
        n++;
        p += m;
        if (*p) {
            p++;
            if (*p == '\0') {
                why = "invalid filter syntax";
            }
        }
    }
    if (!why && n > 5) {
        why = "cannot query more than 5 tags";
    }
    if (why) {
        char msg[200];
        json_decref(arr);
        snprintf(msg, sizeof msg, "invalid option (tags: %s)", why);
        json_t *j = json_pack("{s:i,s:s,s:s,s:{s:s}}", "code", 11, "name", "invalid options",
                              "message", msg, "options", "tags", why);
        reply_json(r, 400, j);
        return -1;
    }
    char *s = json_dumps(arr, JSON_COMPACT);
    snprintf(json, len, "%s", s ? s : "[]");
    free(s);
    json_decref(arr);
    return 0;
}

/* ?size=: 0 (size set), or -1 after replying */
int
gw_ent_page_size(struct areq *r, int *size)
{
    const char *s = areq_arg(r, "size");
    char *end;

    *size = 100;
    if (s == NULL) {
        return 0;
    }
    double d = strtod(s, &end);
    if (*s == '\0' || *end != '\0') {
        reply_err(r, 400, 9, "invalid size", "size must be a number", NULL);
        return -1;
    }
    if (d != floor(d) || d < 1 || d > 1000) {
        reply_err(r, 400, 9, "invalid size", "size must be an integer between 1 and 1000", NULL);
        return -1;
    }
    *size = (int)d;
    return 0;
}

static void
list(struct areq *r, const struct gw_ent *e, const struct gw_scope *sc)
{
    char sql[1500], where[600] = "", offset_id[64] = "";
    const char *params[4];
    char tags_json[2048];
    int np = 0, size, any = 0;
    const char *tags = sc ? NULL : areq_arg(r, "tags");
    const char *offset = areq_arg(r, "offset");
    const char *custom_id = e->def->type == GW_ENT_CONSUMERS ? areq_arg(r, "custom_id") : NULL;

    if (gw_ent_page_size(r, &size) < 0) {
        return;
    }
    if (tags && gw_ent_tags_filter(r, tags, tags_json, sizeof tags_json, &any) < 0) {
        return;
    }
    if (offset && (b64_decode(offset, offset_id, sizeof offset_id) < 0 || !is_uuid(offset_id))) {
        char msg[300];
        snprintf(msg, sizeof msg, "'%.200s' is not a valid offset: bad base64 encoding", offset);
        reply_err(r, 400, 7, "invalid offset", msg, NULL);
        return;
    }
    if (custom_id && *custom_id == '\0') {
        reply_msg(r, 400, "custom_id must be an unempty string");
        return;
    }
    if (areq_pg(r) == NULL) {
        return;
    }
    if (sc) {
        params[np++] = sc->parent_id;
        appendf(where, sizeof where, " AND t.%s_id = $1::uuid", sc->fk);
    }
    if (tags) {
        params[np++] = tags_json;
        appendf(where, sizeof where,
                " AND t.tags %s ARRAY(SELECT jsonb_array_elements_text($%d::jsonb))",
                any ? "&&" : "@>", np);
    }
    if (custom_id) {
        params[np++] = custom_id;
        appendf(where, sizeof where, " AND t.custom_id = $%d", np);
    }
    if (offset) {
        params[np++] = offset_id;
        appendf(where, sizeof where, " AND t.id > $%d::uuid", np);
    }
    snprintf(sql, sizeof sql, "SELECT %s, t.id::text FROM %s t WHERE true%s ORDER BY t.id LIMIT %d",
             e->docexpr, e->table, where, size + 1);
    PGresult *res = gw_store_exec(r->pg, 1, sql, np, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        reply_db(r, res);
        PQclear(res);
        return;
    }
    int rows = PQntuples(res), more = rows > size;
    if (more) {
        rows = size;
    }
    size_t total = 64;
    for (int i = 0; i < rows; i++) {
        total += (size_t)PQgetlength(res, i, 0) + 1;
    }
    char next[1024] = "", off[96] = "";
    if (more && !custom_id) {
        char esc[200], b64[96];
        b64_encode(PQgetvalue(res, rows - 1, 1), b64, sizeof b64);
        snprintf(off, sizeof off, "%s", b64);
        url_escape(b64, esc, sizeof esc);
        char path[600];
        snprintf(path, sizeof path, "%s", r->path_text);
        size_t pl = strlen(path);
        while (pl > 1 && path[pl - 1] == '/') {
            path[--pl] = '\0';
        }
        int nl = snprintf(next, sizeof next, "\"%s?offset=%s", path, esc);
        if (areq_arg(r, "size") && nl > 0 && (size_t)nl < sizeof next) {
            nl += snprintf(next + nl, sizeof next - (size_t)nl, "&size=%d", size);
        }
        if (tags && nl > 0 && (size_t)nl < sizeof next) {
            char tesc[600];
            url_escape(tags, tesc, sizeof tesc);
            snprintf(next + nl, sizeof next - (size_t)nl, "&tags=%s", tesc);
        }
        appendf(next, sizeof next, "\"");
    }
    total += strlen(next) + strlen(off) + 64;
    char *out = malloc(total), *w = out;
    w += sprintf(w, "{\"data\":[");
    for (int i = 0; i < rows; i++) {
        if (i) {
            *w++ = ',';
        }
        size_t l = (size_t)PQgetlength(res, i, 0);
        memcpy(w, PQgetvalue(res, i, 0), l);
        w += l;
    }
    if (more && !custom_id) {
        w += sprintf(w, "],\"next\":%s,\"offset\":\"%s\"}", next, off);
    } else {
        w += sprintf(w, "],\"next\":null}");
    }
    PQclear(res);
    reply_raw(r, 200, out, (size_t)(w - out));
}

/* ---- writes ---- */

static int
is_record_field(const struct gw_record *s, const char *name)
{
    const struct gw_field *f = gw_record_field(s, name);
    return f && f->type == GW_T_RECORD;
}

/* PATCH: record fields (a plugin's config, an upstream's healthchecks) merge key by key,
 * everything else is replaced; null clears. */
static void
merge(json_t *dst, json_t *patch, int deep)
{
    const char *k;
    json_t *v;

    json_object_foreach(patch, k, v) {
        json_t *old = json_object_get(dst, k);
        if (deep && json_is_object(v) && old && json_is_object(old)) {
            merge(old, v, 1);
        } else {
            json_object_set(dst, k, v);
        }
    }
}

/* fk given by endpoint key ({"name": "svc"}) -> {"id": ...}. 0, or -1 after replying. */
static int
resolve_fks(struct areq *r, const struct gw_ent *e, json_t *in)
{
    for (int i = 0; i < e->nfk; i++) {
        json_t *v = json_object_get(in, e->fk[i].field);
        const struct gw_entity_def *ref = e->fk[i].ref;
        if (!json_is_object(v) || json_object_get(v, "id") || json_object_size(v) != 1 ||
            ref == NULL) {
            continue;
        }
        const char *k = json_object_iter_key(json_object_iter(v));
        json_t *kv = json_object_iter_value(json_object_iter(v));
        if (!json_is_string(kv) || ref->endpoint_key == NULL || strcmp(k, ref->endpoint_key)) {
            continue; /* left to validation ("unknown field") */
        }
        char id[GW_UUID_LEN + 1];
        int rc = find(r, gw_ent_get(ref->type), json_string_value(kv), NULL, id, NULL);
        if (rc < 0) {
            return -1;
        }
        if (rc == 0) {
            char msg[600], lua[300] = "";
            snprintf(lua, sizeof lua, "{%s=\"%s\"}", k, json_string_value(kv));
            snprintf(msg, sizeof msg,
                     "the foreign key cannot be resolved with '%s' for an existing '%s' entity",
                     lua, ref->name);
            char full[800];
            snprintf(full, sizeof full, "foreign key unresolved (%s.%s: %s)", e->fk[i].field, k,
                     msg);
            reply_err(r, 400, 13, "foreign keys unresolved", full,
                      json_pack("{s:{s:s}}", e->fk[i].field, k, msg));
            return -1;
        }
        json_object_set_new(in, e->fk[i].field, json_pack("{s:s}", "id", id));
    }
    return 0;
}

/* Certificates' "snis" is input only: the SNI entities of the certificate. Checks the names
 * (400 as Kong) and returns them as a new array, or NULL when not given; *bad after reply. */
static json_t *
take_snis(struct areq *r, json_t *in, const char *cert_id, int *bad)
{
    json_t *snis = json_object_get(in, "snis");

    *bad = 0;
    if (snis == NULL) {
        return NULL;
    }
    json_incref(snis);
    json_object_del(in, "snis");
    if (json_is_null(snis)) {
        json_decref(snis);
        return json_array();
    }
    if (json_is_string(snis)) { /* a form gives one value */
        json_t *a = json_array();
        json_array_append_new(a, snis);
        snis = a;
    }
    const char *why = NULL;
    char msg[400];
    size_t i, j;
    json_t *v;
    if (!json_is_array(snis)) {
        why = "expected an array";
    }
    json_array_foreach(snis, i, v) {
        if (why) {
            break;
        }
        if (!json_is_string(v)) {
            why = "expected a string";
            break;
        }
        for (j = 0; j < i; j++) {
            if (json_equal(json_array_get(snis, j), v)) {
                snprintf(msg, sizeof msg, "%s is duplicated", json_string_value(v));
                why = msg;
            }
        }
    }
    if (!why && json_array_size(snis) > 0) {
        char *arr = json_dumps(snis, JSON_COMPACT);
        const char *params[2] = {arr, cert_id};
        PGresult *res = gw_store_exec(
            r->pg, 1,
            "SELECT name, certificate_id::text FROM snis WHERE name IN (SELECT "
            "jsonb_array_elements_text($1::jsonb)) AND certificate_id <> $2::uuid LIMIT 1",
            2, params);
        free(arr);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            reply_db(r, res);
            PQclear(res);
            json_decref(snis);
            *bad = 1;
            return NULL;
        }
        if (PQntuples(res) > 0) {
            snprintf(msg, sizeof msg, "%s already associated with existing certificate '%s'",
                     PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
            why = msg;
        }
        PQclear(res);
    }
    if (why) {
        char full[600];
        snprintf(full, sizeof full, "schema violation (snis: %s)", why);
        reply_err(r, 400, 2, "schema violation", full, json_pack("{s:s}", "snis", why));
        json_decref(snis);
        *bad = 1;
        return NULL;
    }
    return snis;
}

static int
replace_snis(struct areq *r, const char *cert_id, json_t *snis)
{
    const char *p1[1] = {cert_id};
    PGresult *res = gw_store_exec(r->pg, 0, "DELETE FROM snis WHERE certificate_id = $1", 1, p1);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    size_t i;
    json_t *v;

    PQclear(res);
    json_array_foreach(snis, i, v) {
        if (!ok) {
            break;
        }
        char id[GW_UUID_LEN + 1];
        gw_uuid_v4(id);
        json_t *doc = json_pack("{s:s,s:s,s:I,s:I,s:n,s:{s:s}}", "id", id, "name",
                                json_string_value(v), "created_at", (json_int_t)now_s(),
                                "updated_at", (json_int_t)now_s(), "tags", "certificate", "id",
                                cert_id);
        char *text = json_dumps(doc, JSON_COMPACT);
        const char *p[1] = {text};
        res = gw_store_exec(r->pg, 0, gw_ent_get(GW_ENT_SNIS)->sql_insert, 1, p);
        ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ok) {
            write_error(r, gw_ent_get(GW_ENT_SNIS), res, doc, 0);
        }
        PQclear(res);
        free(text);
        json_decref(doc);
    }
    return ok ? 0 : -1;
}

enum wmode { W_CREATE = 0, W_UPSERT, W_UPDATE };

static int
exec_ok(PGresult *res)
{
    return PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
}

/* Validates in (owned) and writes it. id: the row's id (given or new); created: the kept
 * creation time (0: now). */
/* Kong checks a plugin's protocols against its route's, or against its service's routes */
static int
plugin_protocols_ok(struct areq *r, const json_t *doc)
{
    const json_t *protos = json_object_get(doc, "protocols");
    const char *route = json_string_value(json_object_get(json_object_get(doc, "route"), "id"));
    const char *svc = json_string_value(json_object_get(json_object_get(doc, "service"), "id"));
    const char *why = NULL;

    if (!json_is_array(protos) || (route == NULL && svc == NULL)) {
        return 1;
    }
    char *arr = json_dumps(protos, JSON_COMPACT);
    const char *params[2] = {route ? route : svc, arr};
    /* routes sharing at least one protocol, and routes at all */
    PGresult *res = gw_store_exec(
        r->pg, 1,
        route ? "SELECT count(*) FILTER (WHERE doc->'protocols' ?| ARRAY(SELECT "
                "jsonb_array_elements_text($2::jsonb))), count(*) FROM routes WHERE id = $1::uuid"
              : "SELECT count(*) FILTER (WHERE doc->'protocols' ?| ARRAY(SELECT "
                "jsonb_array_elements_text($2::jsonb))), count(*) FROM routes WHERE service_id = "
                "$1::uuid",
        2, params);
    free(arr);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        reply_db(r, res);
        PQclear(res);
        return 0;
    }
    long shared = atol(PQgetvalue(res, 0, 0)), total = atol(PQgetvalue(res, 0, 1));
    PQclear(res);
    if (total > 0 && shared == 0) {
        why = route ? "must match the associated route's protocols"
                    : "must match the protocols of at least one route pointing to this Plugin's "
                      "service";
        char msg[200];
        snprintf(msg, sizeof msg, "schema violation (protocols: %s)", why);
        reply_err(r, 400, 2, "schema violation", msg, json_pack("{s:s}", "protocols", why));
        return 0;
    }
    return 1;
}

/* 1 when res failed on the unique key named by the URL of a PUT (a concurrent PUT of the same
 * name created it first) */
static int
lost_key_race(const struct gw_ent *e, PGresult *res)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *cons = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
    char want[160];

    if (state == NULL || cons == NULL || strcmp(state, "23505") != 0 ||
        e->def->endpoint_key == NULL) {
        return 0;
    }
    snprintf(want, sizeof want, "%s_%s_key", e->table, e->def->endpoint_key);
    return strcmp(cons, want) == 0;
}

/* Validates in (owned) and writes it. id: the row's id (given or new); created: the kept
 * creation time (0: now). With race set (PUT by name), losing the race for the name to a
 * concurrent writer sets *race and replies nothing: the caller tries again. */
static void
write_entity_r(struct areq *r, const struct gw_ent *e, json_t *in, int form, enum wmode mode,
               const char *id, double created, const struct gw_scope *sc, int pw_given,
               int *race)
{
    const struct gw_entity_def *d = e->def;
    struct gw_arena *arena = NULL;
    json_t *errs = NULL, *snis = NULL, *doc = NULL;
    char *text = NULL;
    int bad;
    double now = now_s();

    if (sc) {
        json_object_set_new(in, sc->fk, json_pack("{s:s}", "id", sc->parent_id));
    }
    if (resolve_fks(r, e, in) < 0) {
        goto done;
    }
    if (d->type == GW_ENT_CERTIFICATES) {
        snis = take_snis(r, in, id, &bad);
        if (bad) {
            goto done;
        }
    }
    json_object_set_new(in, "id", json_string(id));
    if (e->ms_time) {
        double ms = floor(now * 1000) / 1000;
        json_object_set_new(in, "created_at", json_real(created ? created : ms));
        json_object_set_new(in, "updated_at", json_real(ms));
    } else {
        json_object_set_new(in, "created_at", json_integer(created ? (json_int_t)created
                                                                   : (json_int_t)now));
        if (e->has_updated_at) {
            json_object_set_new(in, "updated_at", json_integer((json_int_t)now));
        }
    }
    for (const char *const *f = d->autogen; f && *f; f++) {
        json_t *v = json_object_get(in, *f);
        if (v == NULL || json_is_null(v)) {
            char s[33];
            random_hex(s);
            json_object_set_new(in, *f, json_string(s));
        }
    }
    if (d->type == GW_ENT_BASICAUTH_CREDENTIALS && pw_given) {
        /* stored as Kong does: hex SHA-1 of password .. consumer id */
        json_t *pw = json_object_get(in, "password");
        const char *cid = json_string_value(json_object_get(json_object_get(in, "consumer"), "id"));
        if (json_is_string(pw) && json_string_length(pw) > 0) {
            char h[41];
            gw_basicauth_hash(json_string_value(pw), json_string_length(pw), cid ? cid : "",
                              cid ? strlen(cid) : 0, h);
            json_object_set_new(in, "password", json_string(h));
        }
    }

    arena = gw_arena_create(16384);
    struct gw_val val, rec;
    if (arena == NULL || gw_val_from_json(arena, in, &val) < 0) {
        reply_msg(r, 500, "An unexpected error occurred");
        goto done;
    }
    int rc = gw_schema_validate(d->schema, &val, arena, form ? GW_VAL_COERCE : 0, NULL, &rec, &errs);
    if (rc != 0) {
        if (errs) {
            char *msg = gw_errs_message(errs);
            reply_err(r, 400, 2, "schema violation", msg ? msg : "schema violation", errs);
            errs = NULL;
            free(msg);
        } else {
            reply_msg(r, 500, "An unexpected error occurred");
        }
        goto done;
    }
    doc = gw_rec_to_json(d->schema, &rec);
    text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    if (text == NULL) {
        reply_msg(r, 500, "An unexpected error occurred");
        goto done;
    }
    if (d->type == GW_ENT_PLUGINS && !plugin_protocols_ok(r, doc)) {
        goto done;
    }

    const char *params[2] = {text, id};
    int tx = snis != NULL || mode == W_UPDATE;
    PGresult *res;
    if (tx) {
        res = gw_store_exec(r->pg, 1, "BEGIN", 0, NULL);
        if (!exec_ok(res)) {
            reply_db(r, res);
            PQclear(res);
            goto done;
        }
        PQclear(res);
    }
    if (mode == W_UPDATE) {
        char sql[4096];
        snprintf(sql, sizeof sql, "UPDATE %s SET (%s) = (SELECT %s FROM (SELECT $1::jsonb AS d) s) "
                 "WHERE id = $2::uuid", e->table, e->cols, e->exprs);
        res = gw_store_exec(r->pg, 0, sql, 2, params);
    } else {
        res = gw_store_exec_prepared(r->opts->store, r->pg, !tx, (int)d->type * 2 + (mode == W_UPSERT),
                                     mode == W_UPSERT ? e->sql_upsert : e->sql_insert, 1, params);
    }
    if (!exec_ok(res)) {
        if (race && lost_key_race(e, res)) {
            *race = 1;
        } else {
            write_error(r, e, res, doc, 0);
        }
        PQclear(res);
        if (tx) {
            PQclear(gw_store_exec(r->pg, 0, "ROLLBACK", 0, NULL));
        }
        goto done;
    }
    PQclear(res);
    if (snis && replace_snis(r, id, snis) < 0) {
        PQclear(gw_store_exec(r->pg, 0, "ROLLBACK", 0, NULL));
        goto done;
    }
    if (tx) {
        res = gw_store_exec(r->pg, 0, "COMMIT", 0, NULL);
        if (!exec_ok(res)) {
            reply_db(r, res);
            PQclear(res);
            goto done;
        }
        PQclear(res);
    }
    snprintf(r->audit_id, sizeof r->audit_id, "%s", id);
    gw_store_changed(r->opts->store);
    if (d->type == GW_ENT_CERTIFICATES) {
        reply_stored(r, e, id, mode == W_CREATE ? 201 : 200);
    } else {
        reply_raw(r, mode == W_CREATE ? 201 : 200, text, strlen(text));
        text = NULL;
    }
done:
    free(text);
    json_decref(doc);
    json_decref(errs);
    json_decref(snis);
    json_decref(in);
    if (arena) {
        gw_arena_destroy(arena);
    }
}

static void
write_entity(struct areq *r, const struct gw_ent *e, json_t *in, int form, enum wmode mode,
             const char *id, double created, const struct gw_scope *sc, int pw_given)
{
    write_entity_r(r, e, in, form, mode, id, created, sc, pw_given, NULL);
}

static void
create(struct areq *r, const struct gw_ent *e, const struct gw_scope *sc)
{
    int form;
    json_t *in = gw_admin_body(r, &form);
    char id[GW_UUID_LEN + 1];

    if (in == NULL || areq_pg(r) == NULL) {
        json_decref(in);
        return;
    }
    json_t *given = json_object_get(in, "id");
    if (json_is_string(given)) {
        snprintf(id, sizeof id, "%s", json_string_value(given));
        if (!is_uuid(id)) {
            reply_err(r, 400, 2, "schema violation", "schema violation (id: expected a valid UUID)",
                      json_pack("{s:s}", "id", "expected a valid UUID"));
            json_decref(in);
            return;
        }
    } else {
        gw_uuid_v4(id);
    }
    write_entity(r, e, in, form, W_CREATE, id, 0, sc, 1);
}

static double
created_of(json_t *doc)
{
    json_t *c = json_object_get(doc, "created_at");
    return c ? json_number_value(c) : 0;
}

static void
upsert(struct areq *r, const struct gw_ent *e, const char *key, const struct gw_scope *sc)
{
    int form;
    json_t *body = gw_admin_body(r, &form), *old = NULL;
    char id[GW_UUID_LEN + 1];

    if (body == NULL || areq_pg(r) == NULL) {
        json_decref(body);
        return;
    }
    /* a PUT by name that loses the race to create that name to a concurrent PUT finds the
     * row on its second try and replaces it, as Kong's upsert does */
    for (int attempt = 0; attempt < 2; attempt++) {
        int race = 0;
        int rc = find(r, e, key, sc, id, &old);
        if (rc < 0) {
            break;
        }
        if (rc == 0) {
            if (is_uuid(key)) {
                snprintf(id, sizeof id, "%s", key);
            } else {
                gw_uuid_v4(id);
            }
        }
        json_t *in = json_deep_copy(body);
        /* the URL's key wins over the body */
        if (!is_uuid(key)) {
            const char *ek = e->def->type == GW_ENT_ACLS ? "group" : e->def->endpoint_key;
            if (ek) {
                json_object_set_new(in, ek, json_string(key));
            } else if (e->def->type == GW_ENT_CERTIFICATES && rc == 0) {
                /* PUT /certificates/{sni} creates a certificate with that SNI */
                json_t *sn = json_object_get(in, "snis");
                if (!json_is_array(sn)) {
                    json_object_set_new(in, "snis", json_array());
                    sn = json_object_get(in, "snis");
                }
                json_array_append_new(sn, json_string(key));
            }
        }
        double created = rc ? created_of(old) : 0;
        json_decref(old);
        old = NULL;
        write_entity_r(r, e, in, form, W_UPSERT, id, created, sc, 1,
                       rc == 0 && !is_uuid(key) && attempt == 0 ? &race : NULL);
        if (!race) {
            break;
        }
    }
    json_decref(old);
    json_decref(body);
}

static void
patch(struct areq *r, const struct gw_ent *e, const char *key, const struct gw_scope *sc)
{
    int form;
    json_t *in = gw_admin_body(r, &form), *old = NULL;
    char id[GW_UUID_LEN + 1];

    if (in == NULL || areq_pg(r) == NULL) {
        json_decref(in);
        return;
    }
    int rc = find(r, e, key, sc, id, &old);
    if (rc <= 0) {
        if (rc == 0) {
            reply_msg(r, 404, "Not found");
        }
        json_decref(in);
        return;
    }
    /* a whole stored row (Kong Manager's toggles) carries id and timestamps: the URL's row
     * and the server's clock win */
    json_object_del(in, "id");
    json_object_del(in, "created_at");
    json_object_del(in, "updated_at");
    if (e->def->type == GW_ENT_SERVICES && json_object_get(in, "url")) {
        /* url replaces all four parts; the ones it does not name go back to defaults */
        json_object_del(old, "protocol");
        json_object_del(old, "host");
        json_object_del(old, "port");
        json_object_del(old, "path");
    }
    int pw_given = json_object_get(in, "password") != NULL;
    const char *k;
    json_t *v;
    json_object_foreach(in, k, v) {
        json_t *o = json_object_get(old, k);
        if (is_record_field(e->def->schema, k) && json_is_object(v) && json_is_object(o)) {
            merge(o, v, 1);
        } else {
            json_object_set(old, k, v);
        }
    }
    double created = created_of(old);
    json_decref(in);
    write_entity(r, e, old, form, W_UPDATE, id, created, sc, pw_given);
}

static void
delete(struct areq *r, const struct gw_ent *e, const char *key, const struct gw_scope *sc)
{
    char id[GW_UUID_LEN + 1];
    int rc = find(r, e, key, sc, id, NULL);

    if (rc < 0) {
        return;
    }
    if (rc == 0) {
        /* idempotent at the top level; through a parent, a child of another is not found */
        if (sc) {
            reply_msg(r, 404, "Not found");
        } else {
            reply_raw(r, 204, NULL, 0);
        }
        return;
    }
    const char *p[1] = {id};
    if (e->def->type == GW_ENT_CA_CERTIFICATES) {
        PGresult *res = gw_store_exec(
            r->pg, 1, "SELECT id::text FROM services WHERE ca_certificates @> ARRAY[$1::uuid] "
                      "ORDER BY id LIMIT 1", 1, p);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            reply_db(r, res);
            PQclear(res);
            return;
        }
        if (PQntuples(res) > 0) {
            char msg[300];
            snprintf(msg, sizeof msg,
                     "ca certificate %s is still referenced by services (id = %s)", id,
                     PQgetvalue(res, 0, 0));
            reply_err(r, 400, 19, "referenced by others", msg, NULL);
            PQclear(res);
            return;
        }
        PQclear(res);
    }
    char sql[200];
    snprintf(sql, sizeof sql, "DELETE FROM %s WHERE id = $1::uuid", e->table);
    PGresult *res = gw_store_exec(r->pg, 1, sql, 1, p);
    if (!exec_ok(res)) {
        write_error(r, e, res, NULL, 1);
    } else {
        snprintf(r->audit_id, sizeof r->audit_id, "%s", id);
        gw_store_changed(r->opts->store);
        reply_raw(r, 204, NULL, 0);
    }
    PQclear(res);
}

static void
get_one(struct areq *r, const struct gw_ent *e, const char *key, const struct gw_scope *sc)
{
    char id[GW_UUID_LEN + 1];
    int rc = find(r, e, key, sc, id, NULL);

    if (rc == 0 && e->def->type == GW_ENT_CERTIFICATES && !is_uuid(key)) {
        reply_msg(r, 404, "SNI not found");
    } else if (rc == 0) {
        reply_msg(r, 404, "Not found");
    } else if (rc > 0) {
        reply_stored(r, e, id, 200);
    }
}

/* PUT /routes/{r}/service on a route without a service: a new service, and the route
 * pointing at it, in one transaction */
static void
link_new_parent(struct areq *r, const struct gw_ent *child, const char *child_id,
                const char *field, const struct gw_ent *parent)
{
    char pid[GW_UUID_LEN + 1], sql[400];

    gw_uuid_v4(pid);
    PGresult *res = gw_store_exec(r->pg, 1, "BEGIN", 0, NULL);
    int ok = exec_ok(res);
    PQclear(res);
    if (!ok) {
        reply_msg(r, 503, "database unavailable");
        return;
    }
    upsert(r, parent, pid, NULL);
    if (r->status != 200) {
        PQclear(gw_store_exec(r->pg, 0, "ROLLBACK", 0, NULL));
        return;
    }
    snprintf(sql, sizeof sql,
             "UPDATE %s SET %s_id = $2::uuid, doc = jsonb_set(doc, '{%s}', "
             "jsonb_build_object('id', $2::text)) WHERE id = $1::uuid",
             child->table, field, field);
    const char *params[2] = {child_id, pid};
    res = gw_store_exec(r->pg, 0, sql, 2, params);
    ok = exec_ok(res);
    if (!ok) {
        reply_db(r, res);
    }
    PQclear(res);
    res = gw_store_exec(r->pg, 0, ok ? "COMMIT" : "ROLLBACK", 0, NULL);
    if (ok && !exec_ok(res)) {
        reply_db(r, res);
    } else if (ok) {
        gw_store_changed(r->opts->store); /* the announcement from upsert came before COMMIT */
    }
    PQclear(res);
}

/* ---- routing ---- */

static const struct gw_entity_def *
by_admin_name(const char *name)
{
    for (int i = 0; i < GW_ENT__COUNT; i++) {
        if (strcmp(gw_entities[i].admin, name) == 0 && i != GW_ENT_TARGETS) {
            return &gw_entities[i];
        }
    }
    return NULL;
}

static const struct gw_nesting *
child_of(enum gw_entity_type parent, const char *name)
{
    for (size_t i = 0; i < gw_nestings_count; i++) {
        const struct gw_nesting *n = &gw_nestings[i];
        const struct gw_entity_def *c = &gw_entities[n->child];
        const char *url = c->nested ? c->nested : c->admin;
        if (n->parent == parent && strcmp(url, name) == 0) {
            return n;
        }
    }
    return NULL;
}

static int
is(const struct areq *r, const char *m)
{
    return strcmp(r->method, m) == 0;
}

/* one entity addressed by key, in a scope or not */
static void
entity_methods(struct areq *r, const struct gw_ent *e, const char *key, const struct gw_scope *sc)
{
    r->allow = "GET, PUT, PATCH, DELETE";
    if (is(r, "GET")) {
        get_one(r, e, key, sc);
    } else if (is(r, "PUT")) {
        upsert(r, e, key, sc);
    } else if (is(r, "PATCH")) {
        patch(r, e, key, sc);
    } else if (is(r, "DELETE")) {
        delete(r, e, key, sc);
    }
}

static void
collection_methods(struct areq *r, const struct gw_ent *e, const struct gw_scope *sc)
{
    r->allow = "GET, POST";
    if (is(r, "GET")) {
        list(r, e, sc);
    } else if (is(r, "POST")) {
        create(r, e, sc);
    }
}

int
gw_admin_entity(struct areq *r)
{
    const struct gw_entity_def *d;

    if (r->nseg < 1 || r->nseg > 4 || (d = by_admin_name(r->seg[0])) == NULL) {
        return 0;
    }
    const struct gw_ent *e = gw_ent_get(d->type);
    if (r->nseg == 1) {
        collection_methods(r, e, NULL);
        return 1;
    }
    if (r->nseg == 2) {
        entity_methods(r, e, r->seg[1], NULL);
        return 1;
    }
    const struct gw_nesting *n = child_of(d->type, r->seg[2]);
    if (n == NULL) {
        /* /routes/{r}/service: the entity a foreign key points to */
        const struct gw_field *f = gw_record_field(d->schema, r->seg[2]);
        if (r->nseg != 3 || f == NULL || f->type != GW_T_FOREIGN ||
            d->type == GW_ENT_SNIS /* Kong disables /snis/{s}/certificate */) {
            if (!(d->type == GW_ENT_UPSTREAMS && r->nseg == 3 && !strcmp(r->seg[2], "health"))) {
                return 0;
            }
        }
        if (d->type == GW_ENT_UPSTREAMS && !strcmp(r->seg[2], "health")) {
            r->allow = "GET";
            if (is(r, "GET")) {
                /* health lives in the data planes; the control plane has none to report */
                reply_msg(r, 400, "this endpoint is not available on a control plane: health "
                                  "is kept by each data plane");
            }
            return 1;
        }
        r->allow = "GET, PUT, PATCH";
        /* DELETE: 405, or 404 when the foreign key is unset (Kong) */
        if (!(is(r, "GET") || is(r, "PUT") || is(r, "PATCH") || is(r, "DELETE"))) {
            return 1;
        }
        char id[GW_UUID_LEN + 1];
        json_t *doc = NULL;
        int rc = find(r, e, r->seg[1], NULL, id, &doc);
        if (rc == 0) {
            reply_msg(r, 404, "Not found");
        }
        if (rc > 0) {
            const char *pid = json_string_value(json_object_get(json_object_get(doc, f->name), "id"));
            const struct gw_entity_def *pd = gw_entity_find(f->ref);
            if (is(r, "DELETE")) {
                if (pid == NULL) {
                    reply_msg(r, 404, "Not found");
                } /* else: 405 from the dispatcher */
            } else if (pid == NULL && pd && is(r, "PUT")) {
                /* Kong: PUT on an unset foreign key creates the parent and links it */
                link_new_parent(r, e, id, f->name, gw_ent_get(pd->type));
            } else if (pid == NULL || pd == NULL) {
                reply_msg(r, 404, "Not found");
            } else {
                char key[GW_UUID_LEN + 1];
                snprintf(key, sizeof key, "%s", pid);
                entity_methods(r, gw_ent_get(pd->type), key, NULL);
            }
        }
        json_decref(doc);
        return 1;
    }
    /* /P/{p}/C[/{c}] */
    struct gw_scope sc = {.fk = n->fk};
    const struct gw_ent *ce = gw_ent_get(n->child);
    int all = n->child == GW_ENT_TARGETS && r->nseg == 4 && strcmp(r->seg[3], "all") == 0;
    if (r->nseg == 3 || all) {
        r->allow = all ? "GET" : "GET, POST";
    } else {
        r->allow = "GET, PUT, PATCH, DELETE";
    }
    if (!areq_method_in(r->allow, r->method)) {
        return 1;
    }
    int rc = find(r, e, r->seg[1], NULL, sc.parent_id, NULL);
    if (rc == 0) {
        reply_msg(r, 404, "Not found");
    }
    if (rc <= 0) {
        return 1;
    }
    if (r->nseg == 3 || all) {
        collection_methods(r, ce, &sc);
    } else {
        entity_methods(r, ce, r->seg[3], &sc);
    }
    return 1;
}

/* Node information endpoints: GET / (what Kong Manager reads), /status, /endpoints,
 * /plugins/enabled, /schemas/... (Kong's schema JSON, which drives Kong Manager's forms) and
 * their validate forms, and the /clustering endpoints of a control plane. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin_int.h"
#include "arena.h"
#include "model.h"
#include "parse.h"
#include "plugin_schema.h"
#include "store.h"
#include "uuid.h"
#include "version.h"

/* The Kong version whose Admin API this one answers as: Kong Manager gates its forms on it. */
#define KONG_COMPAT_VERSION "3.10.0"

static char node_id[GW_UUID_LEN + 1];

static int
is(const struct areq *r, const char *m)
{
    return strcmp(r->method, m) == 0;
}

/* ---- GET / ---- */

static json_t *
listeners(const char *const *addrs, int n, int ssl)
{
    json_t *a = json_array();

    for (int i = 0; i < n; i++) {
        const char *colon = strrchr(addrs[i], ':');
        json_array_append_new(
            a, json_pack("{s:s#,s:i,s:b,s:b,s:s,s:b}", "ip", addrs[i], (int)(colon - addrs[i]),
                         "port", atoi(colon + 1), "ssl", ssl, "http2", 0, "listener", addrs[i],
                         "proxy_protocol", 0));
    }
    return a;
}

static void
root(struct areq *r)
{
    const struct gw_admin_opts *o = r->opts;
    char host[256] = "localhost";
    json_t *avail = json_object(), *enabled = json_array(), *admin_listen = json_array();

    gethostname(host, sizeof host - 1);
    if (node_id[0] == '\0') {
        gw_uuid_v4(node_id); /* benign race: every thread writes a valid id once */
    }
    for (size_t i = 0; i < gw_plugin_schemas_count; i++) {
        const struct gw_plugin_schema *p = gw_plugin_schemas[i];
        json_object_set_new(avail, p->name, json_pack("{s:s,s:i}", "version", p->version,
                                                      "priority", p->priority));
    }
    if (areq_pg(r) == NULL) {
        json_decref(avail);
        json_decref(enabled);
        json_decref(admin_listen);
        return;
    }
    PGresult *res = gw_store_exec(r->pg, 1, "SELECT DISTINCT name FROM plugins ORDER BY name", 0,
                                  NULL);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        reply_db(r, res);
        PQclear(res);
        json_decref(avail);
        json_decref(enabled);
        json_decref(admin_listen);
        return;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        json_array_append_new(enabled, json_string(PQgetvalue(res, i, 0)));
    }
    PQclear(res);
    for (int i = 0; i < o->nlisten; i++) {
        json_array_append_new(admin_listen, json_string(o->listen[i]));
    }
    for (int i = 0; i < o->nssl_listen; i++) {
        char s[300];
        snprintf(s, sizeof s, "%s ssl", o->ssl_listen[i]);
        json_array_append_new(admin_listen, json_string(s));
    }
    json_t *admin_l = listeners(o->listen, o->nlisten, 0);
    json_t *admin_ssl = listeners(o->ssl_listen, o->nssl_listen, 1);
    json_array_extend(admin_l, admin_ssl);
    json_decref(admin_ssl);
    json_t *conf = json_pack(
        "{s:o,s:o,s:[],s:[],s:s,s:s,s:s,s:s?,s:i,s:s?,s:s?,s:b,s:s,s:b,s:[s]}", "admin_listen",
        admin_listen, "admin_listeners", admin_l, "admin_gui_listeners", "proxy_listeners",
        "database", "postgres", "role", "control_plane", "router_flavor",
        "traditional_compatible", "pg_host", o->pg_host, "pg_port", o->pg_port ? o->pg_port : 5432,
        "pg_user", o->pg_user, "pg_database", o->pg_database, "pg_ssl", 0, "cluster_listen",
        "0.0.0.0:8005", "admin_token_required", o->token != NULL, "loaded_plugins", "bundled");
    json_t *j = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:{s:i,s:i},s:{s:o,s:o},s:s,s:o,s:{s:i,s:[]}}", "tagline",
        "Welcome to kong", "version", KONG_COMPAT_VERSION, "edition", "community", "product",
        GW_PRODUCT, "hostname", host, "node_id", node_id, "timers", "running", 0, "pending", 0,
        "plugins", "available_on_server", avail, "enabled_in_cluster", enabled, "lua_version",
        "none (tollgate is written in C)", "configuration", conf, "pids", "master", (int)getpid(),
        "workers");
    reply_json(r, 200, j);
}

/* ---- /status ---- */

static void
status(struct areq *r)
{
    char err[256];
    PGconn *pg = gw_store_get(r->opts->store, err, sizeof err);
    int reachable = 0;

    if (pg) {
        PGresult *res = gw_store_exec(pg, 1, "SELECT 1", 0, NULL);
        reachable = PQresultStatus(res) == PGRES_TUPLES_OK;
        PQclear(res);
        gw_store_put(r->opts->store, pg);
    }
    long total, accepted, active;
    gw_admin_counters(&total, &accepted, &active);
    /* a request being answered is writing; the other open connections wait */
    json_t *j = json_pack("{s:{s:b},s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I},s:{s:{},s:{}}}", "database",
                          "reachable", reachable, "server", "connections_active",
                          (json_int_t)active, "connections_reading", (json_int_t)0,
                          "connections_writing", (json_int_t)1, "connections_waiting",
                          (json_int_t)(active > 1 ? active - 1 : 0), "connections_accepted",
                          (json_int_t)accepted, "connections_handled", (json_int_t)accepted,
                          "total_requests", (json_int_t)total, "memory", "lua_shared_dicts",
                          "workers_lua_vms");
    reply_json(r, 200, j);
}

/* ---- /schemas ---- */

static const char *const type_names[] = {
    [GW_T_STRING] = "string", [GW_T_INTEGER] = "integer", [GW_T_NUMBER] = "number",
    [GW_T_BOOLEAN] = "boolean", [GW_T_ARRAY] = "array", [GW_T_SET] = "set",
    [GW_T_MAP] = "map", [GW_T_RECORD] = "record", [GW_T_FOREIGN] = "foreign",
    [GW_T_ANY] = "json",
};

static json_t *record_fields(const struct gw_record *rec, const char *plugin);

static json_t *
field_json(const struct gw_field *f, const char *plugin)
{
    json_t *j = json_object();

    json_object_set_new(j, "type", json_string(type_names[f->type]));
    if (f->flags & GW_F_REQUIRED) {
        json_object_set_new(j, "required", json_true());
    }
    if (f->flags & GW_F_UNIQUE) {
        json_object_set_new(j, "unique", json_true());
    }
    if (f->flags & GW_F_AUTO) {
        json_object_set_new(j, "auto", json_true());
    }
    if (f->flags & GW_F_IMMUTABLE) {
        json_object_set_new(j, "immutable", json_true());
    }
    if (f->flags & GW_F_SENSITIVE) {
        json_object_set_new(j, "encrypted", json_true());
    }
    if (f->check == gw_check_uuid || (strcmp(f->name ? f->name : "", "id") == 0)) {
        json_object_set_new(j, "uuid", json_true());
    }
    if (f->dflt) {
        json_t *d = json_loads(f->dflt, JSON_DECODE_ANY, NULL);
        if (d) {
            json_object_set_new(j, "default", d);
        }
    }
    if (f->one_of) {
        json_t *a = json_array();
        for (const char *const *p = f->one_of; *p; p++) {
            json_array_append_new(a, json_string(*p));
        }
        json_object_set_new(j, "one_of", a);
    }
    if (f->flags & GW_F_BETWEEN) {
        json_object_set_new(j, "between", json_pack("[f,f]", f->min, f->max));
        /* integers print as integers */
        if (f->type == GW_T_INTEGER) {
            json_object_set_new(j, "between", json_pack("[I,I]", (json_int_t)f->min,
                                                        (json_int_t)f->max));
        }
    }
    if (f->flags & GW_F_GT) {
        json_object_set_new(j, "gt", json_real(f->min));
    }
    if (f->len_min) {
        json_object_set_new(j, "len_min", json_integer(f->len_min));
    }
    if (f->len_max) {
        json_object_set_new(j, "len_max", json_integer(f->len_max));
    }
    if (f->starts_with) {
        json_object_set_new(j, "starts_with", json_string(f->starts_with));
    }
    if (f->elem && (f->type == GW_T_ARRAY || f->type == GW_T_SET)) {
        json_object_set_new(j, "elements", field_json(f->elem, NULL));
    }
    if (f->type == GW_T_MAP) {
        json_object_set_new(j, "keys",
                            f->key ? field_json(f->key, NULL) : json_pack("{s:s}", "type", "string"));
        if (f->elem) {
            json_object_set_new(j, "values", field_json(f->elem, NULL));
        }
    }
    if (f->type == GW_T_FOREIGN && f->ref) {
        json_object_set_new(j, "reference", json_string(f->ref));
    }
    if (f->type == GW_T_RECORD) {
        const struct gw_record *rec = f->record;
        if (plugin && strcmp(f->name, "config") == 0) {
            const struct gw_plugin_schema *ps = gw_plugin_schema_find(plugin);
            rec = ps ? ps->config : rec;
        }
        json_object_set_new(j, "fields", rec ? record_fields(rec, NULL) : json_array());
    }
    return j;
}

static json_t *
record_fields(const struct gw_record *rec, const char *plugin)
{
    json_t *a = json_array();

    for (const struct gw_field *f = rec->fields; f->name; f++) {
        if (f->flags & GW_F_TRANSIENT) {
            continue;
        }
        json_array_append_new(a, json_pack("{s:o}", f->name, field_json(f, plugin)));
    }
    return a;
}

static const struct gw_entity_def *
entity_by_schema_name(const char *name)
{
    const struct gw_entity_def *d = gw_entity_find(name);

    for (int i = 0; d == NULL && i < GW_ENT__COUNT; i++) {
        if (strcmp(gw_entities[i].admin, name) == 0) {
            d = &gw_entities[i];
        }
    }
    return d;
}

/* POST /schemas/{entity}/validate and /schemas/plugins/validate: the body checked, nothing
 * stored */
static void
validate(struct areq *r, const struct gw_entity_def *d)
{
    int form;
    json_t *in = gw_admin_body(r, &form), *errs = NULL;
    struct gw_arena *arena;
    struct gw_val val, rec;

    if (in == NULL) {
        return;
    }
    arena = gw_arena_create(16384);
    if (arena == NULL || gw_val_from_json(arena, in, &val) < 0) {
        reply_msg(r, 500, "An unexpected error occurred");
    } else if (gw_schema_validate(d->schema, &val, arena, form ? GW_VAL_COERCE : 0, NULL, &rec,
                                  &errs) == 0) {
        reply_msg(r, 200, "schema validation successful");
    } else if (errs) {
        char *msg = gw_errs_message(errs);
        reply_err(r, 400, 2, "schema violation", msg ? msg : "schema violation", errs);
        free(msg);
    } else {
        reply_msg(r, 500, "An unexpected error occurred");
    }
    json_decref(in);
    if (arena) {
        gw_arena_destroy(arena);
    }
}

static int
schemas(struct areq *r)
{
    char msg[300];

    if (r->nseg == 3 && strcmp(r->seg[1], "plugins") == 0 && strcmp(r->seg[2], "validate") == 0) {
        r->allow = "POST";
        if (is(r, "POST")) {
            validate(r, &gw_entities[GW_ENT_PLUGINS]);
        }
        return 1;
    }
    if (r->nseg == 3 && strcmp(r->seg[1], "plugins") == 0) {
        r->allow = "GET";
        if (!is(r, "GET")) {
            return 1;
        }
        if (gw_plugin_schema_find(r->seg[2]) == NULL) {
            snprintf(msg, sizeof msg, "No plugin named '%.200s'", r->seg[2]);
            reply_msg(r, 404, msg);
            return 1;
        }
        json_t *fields = record_fields(gw_entities[GW_ENT_PLUGINS].schema, r->seg[2]);
        reply_json(r, 200, json_pack("{s:o,s:[]}", "fields", fields, "entity_checks"));
        return 1;
    }
    if (r->nseg == 3 && strcmp(r->seg[2], "validate") == 0) {
        const struct gw_entity_def *d = entity_by_schema_name(r->seg[1]);
        if (d == NULL) {
            return 0;
        }
        r->allow = "POST";
        if (is(r, "POST")) {
            validate(r, d);
        }
        return 1;
    }
    if (r->nseg == 2) {
        r->allow = "GET";
        if (!is(r, "GET")) {
            return 1;
        }
        const struct gw_entity_def *d = entity_by_schema_name(r->seg[1]);
        if (d == NULL) {
            snprintf(msg, sizeof msg, "No entity named '%.200s'", r->seg[1]);
            reply_msg(r, 404, msg);
            return 1;
        }
        json_t *fields = record_fields(d->schema, NULL);
        reply_json(r, 200, json_pack("{s:o,s:[]}", "fields", fields, "entity_checks"));
        return 1;
    }
    return 0;
}

/* ---- /endpoints ---- */

static void
endpoints(struct areq *r)
{
    json_t *a = json_array();
    static const char *const fixed[] = {"/", "/config", "/endpoints", "/plugins/enabled",
                                        "/schemas/plugins/validate", "/schemas/plugins/{name}",
                                        "/schemas/{db_entity_name}",
                                        "/schemas/{db_entity_name}/validate", "/status", "/tags",
                                        "/tags/{tags}", "/clustering/data-planes",
                                        "/clustering/status", "/upstreams/{upstreams}/health",
                                        "/upstreams/{upstreams}/targets/all"};
    char s[200];

    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        json_array_append_new(a, json_string(fixed[i]));
    }
    for (int i = 0; i < GW_ENT__COUNT; i++) {
        const struct gw_entity_def *d = &gw_entities[i];
        if (i != GW_ENT_TARGETS) {
            snprintf(s, sizeof s, "/%s", d->admin);
            json_array_append_new(a, json_string(s));
            snprintf(s, sizeof s, "/%s/{%s}", d->admin, d->admin);
            json_array_append_new(a, json_string(s));
            /* the entity a foreign key points to: /routes/{routes}/service */
            for (const struct gw_field *f = d->schema->fields; f->name; f++) {
                if (f->type == GW_T_FOREIGN && i != GW_ENT_SNIS) {
                    snprintf(s, sizeof s, "/%s/{%s}/%s", d->admin, d->admin, f->name);
                    json_array_append_new(a, json_string(s));
                }
            }
        }
    }
    for (size_t i = 0; i < gw_nestings_count; i++) {
        const struct gw_nesting *n = &gw_nestings[i];
        const struct gw_entity_def *p = &gw_entities[n->parent], *c = &gw_entities[n->child];
        const char *cu = c->nested ? c->nested : c->admin;
        snprintf(s, sizeof s, "/%s/{%s}/%s", p->admin, p->admin, cu);
        json_array_append_new(a, json_string(s));
        snprintf(s, sizeof s, "/%s/{%s}/%s/{%s}", p->admin, p->admin, cu, c->admin);
        json_array_append_new(a, json_string(s));
    }
    /* sorted, as Kong lists them */
    size_t n = json_array_size(a);
    const char **v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[i] = json_string_value(json_array_get(a, i));
    }
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
            const char *t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    }
    json_t *sorted = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(sorted, json_string(v[i]));
    }
    free(v);
    json_decref(a);
    reply_json(r, 200, json_pack("{s:o}", "data", sorted));
}

int
gw_admin_info(struct areq *r)
{
    if (r->nseg == 0) {
        r->allow = "GET";
        if (is(r, "GET")) {
            root(r);
        }
        return 1;
    }
    const char *s0 = r->seg[0];
    if (r->nseg == 1 && (strcmp(s0, "status") == 0 || strcmp(s0, "endpoints") == 0)) {
        r->allow = "GET";
        if (is(r, "GET")) {
            s0[0] == 's' ? status(r) : endpoints(r);
        }
        return 1;
    }
    if (r->nseg == 2 && strcmp(s0, "plugins") == 0 && strcmp(r->seg[1], "enabled") == 0) {
        r->allow = "GET";
        if (is(r, "GET")) {
            json_t *a = json_array();
            for (size_t i = 0; i < gw_plugin_schemas_count; i++) {
                json_array_append_new(a, json_string(gw_plugin_schemas[i]->name));
            }
            reply_json(r, 200, json_pack("{s:o}", "enabled_plugins", a));
        }
        return 1;
    }
    if (strcmp(s0, "schemas") == 0 && r->nseg >= 2 && r->nseg <= 3) {
        return schemas(r);
    }
    if (strcmp(s0, "clustering") == 0 && r->nseg == 2 &&
        (strcmp(r->seg[1], "data-planes") == 0 || strcmp(r->seg[1], "status") == 0)) {
        r->allow = "GET";
        if (is(r, "GET")) {
            /* the data-plane registry comes with the cluster protocol */
            reply_json(r, 200, r->seg[1][0] == 'd' ? json_pack("{s:[],s:n}", "data", "next")
                                                   : json_object());
        }
        return 1;
    }
    return 0;
}

/* Schema migrations, as `kong migrations` does them. Each migration has an additive `up` step
 * and an optional destructive `finish` step; a rolling upgrade runs `up`, replaces the
 * control planes, then runs `finish`. tollgate_schema_meta has one row per migration whose up
 * step ran: its up and finish times, the version that ran it, and the objects each step
 * created (so `reset` drops exactly what Tollgate made, nothing else in the database).
 *
 * Invariants: every step runs in its own transaction together with its meta row, so a step is
 * recorded if and only if it committed. Commands that change the schema hold one advisory lock
 * for the whole run and re-read the state after taking it: two nodes running `up` together
 * apply each step once, the second finding nothing left to do. */
#include "migrate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "version.h"

/* pg_advisory_lock key: "tollgate" read as a big-endian 64-bit integer */
#define LOCK_KEY       "8390043843661231205"
#define LOCK_TIMEOUT_S 60
#define STR_(x)        #x
#define STR(x)         STR_(x)

enum mstate {
    M_NEW = 0,     /* known here, up has not run */
    M_PENDING = 1, /* known here, up ran, finish has not */
    M_DONE = 2,    /* known here, up and finish ran */
    U_PENDING = 3, /* unknown here (a newer binary's), finish has not run */
    U_DONE = 4,    /* unknown here, up and finish ran */
};

struct state {
    int meta_exists;
    int bootstrapped; /* the meta table exists and has rows */
    enum mstate *m;   /* one per gw_migrations[] entry */
    PGresult *rows;   /* migration, finished ("t"/"f"): every meta row, by name */
};

static const char create_meta_sql[] =
    "CREATE TABLE IF NOT EXISTS tollgate_schema_meta (\n"
    "    migration  text PRIMARY KEY,\n"
    "    up_at      timestamptz NOT NULL,\n"
    "    finish_at  timestamptz,\n"
    "    cp_version text NOT NULL,\n"
    "    objects    text[] NOT NULL DEFAULT '{}'\n"
    ");\n"
    "COMMENT ON TABLE tollgate_schema_meta IS 'tollgate-cp migrations: one row per migration "
    "whose up step ran; objects lists what its steps created (kind:name), for reset'";

/* The objects a step can create, as "KIND:qualified name" (KIND as DROP takes it): schemas
 * and extensions anywhere, relations, routines and types in the current schema, not counting
 * members of extensions. Compared before and after each step. */
#define OBJECTS_SQL                                                                                \
    "SELECT 'SCHEMA:' || quote_ident(n.nspname) FROM pg_namespace n"                               \
    " WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'"                     \
    " UNION ALL SELECT 'EXTENSION:' || quote_ident(e.extname) FROM pg_extension e"                 \
    " UNION ALL SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'"               \
    "   WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'c' THEN 'TYPE'"      \
    "   ELSE 'TABLE' END || ':' || quote_ident(current_schema()) || '.' || quote_ident(c.relname)" \
    "  FROM pg_class c WHERE c.relnamespace = " CUR_NSP                                            \
    "   AND c.relkind IN ('r', 'p', 'S', 'v', 'm', 'f', 'c') AND " NOT_MEMBER_C                    \
    " UNION ALL SELECT 'ROUTINE:' || quote_ident(current_schema()) || '.'"                         \
    "   || quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')'"      \
    "  FROM pg_proc p WHERE p.pronamespace = " CUR_NSP " AND " NOT_MEMBER_P                        \
    " UNION ALL SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END || ':'"               \
    "   || quote_ident(current_schema()) || '.' || quote_ident(t.typname)"                         \
    "  FROM pg_type t WHERE t.typnamespace = " CUR_NSP                                             \
    "   AND t.typtype IN ('e', 'd', 'r') AND " NOT_MEMBER_T
#define CUR_NSP "(SELECT oid FROM pg_namespace WHERE nspname = current_schema())"
#define NOT_MEMBER_C                                                                               \
    "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')"
#define NOT_MEMBER_P                                                                               \
    "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')"
#define NOT_MEMBER_T                                                                               \
    "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e')"

static const char insert_up_sql[] =
    "INSERT INTO tollgate_schema_meta (migration, up_at, finish_at, cp_version, objects)"
    " VALUES ($1, now(), CASE WHEN $3::bool THEN now() END, $4,"
    " ARRAY(SELECT o FROM (" OBJECTS_SQL ") s(o) WHERE o <> ALL ($2::text[]) ORDER BY 1))";

static const char update_finish_sql[] =
    "UPDATE tollgate_schema_meta SET finish_at = now(), objects = objects ||"
    " ARRAY(SELECT o FROM (" OBJECTS_SQL ") s(o) WHERE o <> ALL ($2::text[]) ORDER BY 1)"
    " WHERE migration = $1";

/* Drops what the steps recorded, newest first; CASCADE takes indexes, triggers and anything
 * else that depends on them, IF EXISTS what a finish step already dropped. */
static const char reset_sql[] =
    "DO $$\n"
    "DECLARE\n"
    "    o text;\n"
    "BEGIN\n"
    "    FOR o IN SELECT u.o\n"
    "             FROM tollgate_schema_meta m, unnest(m.objects) WITH ORDINALITY u(o, i)\n"
    "             ORDER BY m.migration DESC, u.i DESC LOOP\n"
    "        EXECUTE format('DROP %s IF EXISTS %s CASCADE', split_part(o, ':', 1),\n"
    "                       substr(o, strpos(o, ':') + 1));\n"
    "    END LOOP;\n"
    "    DROP TABLE tollgate_schema_meta;\n"
    "END\n"
    "$$";

static void errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
errorf(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fputs("Error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* libpq's messages end with a newline; ours are one line */
static int
pg_fail(char *err, size_t len, const char *what, PGconn *conn, PGresult *res)
{
    const char *m = res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(conn);
    size_t n = strlen(m);

    while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' ')) {
        n--;
    }
    snprintf(err, len, "%s: %.*s", what, (int)n, m);
    PQclear(res);
    return -1;
}

static int
exec_ok(PGconn *conn, const char *sql, const char *what, char *err, size_t len)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        return pg_fail(err, len, what, conn, res);
    }
    PQclear(res);
    return 0;
}

static int
find(const char *name)
{
    for (size_t i = 0; i < gw_migrations_count; i++) {
        if (strcmp(gw_migrations[i].name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static void
free_state(struct state *st)
{
    free(st->m);
    PQclear(st->rows);
    memset(st, 0, sizeof(*st));
}

static int
load_state(PGconn *conn, struct state *st, char *err, size_t len)
{
    PGresult *res;

    free_state(st);
    st->m = calloc(gw_migrations_count + 1, sizeof(*st->m));
    if (st->m == NULL) {
        snprintf(err, len, "out of memory");
        return -1;
    }
    res = PQexec(conn, "SELECT to_regclass('tollgate_schema_meta') IS NOT NULL");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        return pg_fail(err, len, "cannot read the schema state", conn, res);
    }
    st->meta_exists = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (!st->meta_exists) {
        return 0;
    }
    res = PQexec(conn, "SELECT migration, finish_at IS NOT NULL FROM tollgate_schema_meta"
                       " ORDER BY migration");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        return pg_fail(err, len, "cannot read tollgate_schema_meta", conn, res);
    }
    st->rows = res;
    st->bootstrapped = PQntuples(res) > 0;
    for (int r = 0; r < PQntuples(res); r++) {
        int i = find(PQgetvalue(res, r, 0));

        if (i >= 0) {
            st->m[i] = PQgetvalue(res, r, 1)[0] == 't' ? M_DONE : M_PENDING;
        }
    }
    return 0;
}

/* Writes the names in state want, comma-separated, to buf (truncated to len); returns how
 * many there are. */
static size_t
names(const struct state *st, enum mstate want, char *buf, size_t len)
{
    size_t n = 0, used = 0;

    if (len > 0) {
        buf[0] = '\0';
    }
    if (want <= M_DONE) {
        for (size_t i = 0; i < gw_migrations_count; i++) {
            if (st->m[i] == want) {
                used += snprintf(used < len ? buf + used : NULL, used < len ? len - used : 0,
                                 "%s%s", n++ ? ", " : "", gw_migrations[i].name);
            }
        }
        return n;
    }
    for (int r = 0; st->rows != NULL && r < PQntuples(st->rows); r++) {
        int done = PQgetvalue(st->rows, r, 1)[0] == 't';

        if (find(PQgetvalue(st->rows, r, 0)) < 0 && done == (want == U_DONE)) {
            used += snprintf(used < len ? buf + used : NULL, used < len ? len - used : 0, "%s%s",
                             n++ ? ", " : "", PQgetvalue(st->rows, r, 0));
        }
    }
    return n;
}

static size_t
count(const struct state *st, enum mstate want)
{
    return names(st, want, NULL, 0);
}

/* One step in one transaction: the migration's SQL and its meta row (with the objects the
 * step created), committed together or not at all. */
static int
run_step(PGconn *conn, const struct gw_migration *m, int finish, char *err, size_t len)
{
    const char *sql = finish ? m->finish_sql : m->up_sql;
    const char *params[4];
    char what[128];
    PGresult *res;
    char *before;

    if (exec_ok(conn, "BEGIN", "cannot begin a transaction", err, len) < 0) {
        return -1;
    }
    res = PQexec(conn, "SELECT ARRAY(" OBJECTS_SQL ")");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        pg_fail(err, len, "cannot list the database's objects", conn, res);
        goto fail;
    }
    before = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (before == NULL) {
        snprintf(err, len, "out of memory");
        goto fail;
    }
    snprintf(what, sizeof(what), "migration %s (%s) failed", m->name, finish ? "finish" : "up");
    if (sql != NULL && exec_ok(conn, sql, what, err, len) < 0) {
        free(before);
        goto fail;
    }
    params[0] = m->name;
    params[1] = before;
    params[2] = m->finish_sql == NULL ? "t" : "f"; /* nothing to finish: done at once */
    params[3] = GW_VERSION;
    res = finish ? PQexecParams(conn, update_finish_sql, 2, NULL, params, NULL, NULL, 0)
                 : PQexecParams(conn, insert_up_sql, 4, NULL, params, NULL, NULL, 0);
    free(before);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        pg_fail(err, len, "cannot record the migration in tollgate_schema_meta", conn, res);
        goto fail;
    }
    PQclear(res);
    return exec_ok(conn, "COMMIT", what, err, len);

fail:
    PQclear(PQexec(conn, "ROLLBACK"));
    return -1;
}

/* Runs the up steps of new migrations and/or the finish steps of pending ones, in order;
 * bootstrap does both, one migration after the other, as Kong does. */
static int
run_pending(PGconn *conn, struct state *st, int up, int finish, char *err, size_t len)
{
    size_t done = 0, executed = 0;

    printf("migrating tollgate on database '%s'...\n", PQdb(conn));
    for (size_t i = 0; i < gw_migrations_count; i++) {
        const struct gw_migration *m = &gw_migrations[i];
        int ran = 0;

        if (up && st->m[i] == M_NEW) {
            if (run_step(conn, m, 0, err, len) < 0) {
                return -1;
            }
            st->m[i] = m->finish_sql != NULL ? M_PENDING : M_DONE;
            ran = 1;
        }
        if (finish && st->m[i] == M_PENDING) {
            if (run_step(conn, m, 1, err, len) < 0) {
                return -1;
            }
            st->m[i] = M_DONE;
            ran = 1;
        }
        if (ran) {
            done++;
            executed += st->m[i] == M_DONE;
            printf("tollgate migrated up to: %s (%s)\n", m->name,
                   st->m[i] == M_DONE ? "executed" : "pending");
            fflush(stdout);
        }
    }
    printf("%zu migration%s processed\n%zu executed\n", done, done == 1 ? "" : "s", executed);
    if (done > executed) {
        printf("%zu pending\n", done - executed);
    }
    return 0;
}

/* Waits up to LOCK_TIMEOUT_S for another node's run; the lock is the session's until
 * unlock() or the connection closes. */
static int
lock(PGconn *conn, char *err, size_t len)
{
    PGresult *res = PQexec(conn, "SELECT pg_try_advisory_lock(" LOCK_KEY ")");
    const char *code;

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        return pg_fail(err, len, "cannot take the migrations lock", conn, res);
    }
    if (PQgetvalue(res, 0, 0)[0] == 't') {
        PQclear(res);
        return 0;
    }
    PQclear(res);
    fflush(stdout);
    fprintf(stderr, "another node is running migrations: waiting up to %d s for it\n",
            LOCK_TIMEOUT_S);
    if (exec_ok(conn, "SET lock_timeout = '" STR(LOCK_TIMEOUT_S) "s'", "cannot set lock_timeout",
                err, len) < 0) {
        return -1;
    }
    res = PQexec(conn, "SELECT pg_advisory_lock(" LOCK_KEY ")");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (code != NULL && strcmp(code, "55P03") == 0) {
            PQclear(res);
            snprintf(err, len, "timed out after %d s waiting for another node's migrations",
                     LOCK_TIMEOUT_S);
            return -1;
        }
        return pg_fail(err, len, "cannot take the migrations lock", conn, res);
    }
    PQclear(res);
    return exec_ok(conn, "RESET lock_timeout", "cannot reset lock_timeout", err, len);
}

static void
unlock(PGconn *conn)
{
    PQclear(PQexec(conn, "SELECT pg_advisory_unlock(" LOCK_KEY ")"));
}

static const char bootstrap_hint[] = "run 'tollgate-cp migrations bootstrap'";

static int
cmd_bootstrap(PGconn *conn, struct state *st, char *err, size_t len)
{
    if (st->bootstrapped) {
        puts("Database already bootstrapped");
        return GW_MIGRATE_OK;
    }
    puts("Bootstrapping database...");
    if (exec_ok(conn, create_meta_sql, "cannot create tollgate_schema_meta", err, len) < 0 ||
        run_pending(conn, st, 1, 1, err, len) < 0) {
        return -1;
    }
    puts("Database is up-to-date");
    return GW_MIGRATE_OK;
}

static int
cmd_up(PGconn *conn, struct state *st, char *err, size_t len)
{
    if (count(st, M_NEW) == 0) {
        /* also what a node that waited for another's run finds: not an error */
        puts("Database is already up-to-date");
        if (count(st, M_PENDING) > 0) {
            puts("\nDatabase has pending migrations; run 'tollgate-cp migrations finish' when "
                 "ready");
        }
        return GW_MIGRATE_OK;
    }
    if (count(st, M_PENDING) > 0) {
        /* Kong's rule: a finish step is destructive and a newer up step may assume it ran,
         * so what is pending is finished before anything new starts */
        snprintf(err, len, "Database has pending migrations; run 'tollgate-cp migrations finish'");
        return -1;
    }
    if (run_pending(conn, st, 1, 0, err, len) < 0) {
        return -1;
    }
    if (count(st, M_PENDING) > 0) {
        puts("\nDatabase has pending migrations; run 'tollgate-cp migrations finish' when ready");
    } else {
        puts("Database is up-to-date");
    }
    return GW_MIGRATE_OK;
}

static int
cmd_finish(PGconn *conn, struct state *st, char *err, size_t len)
{
    size_t pending = count(st, M_PENDING);

    if (pending > 0 && run_pending(conn, st, 0, 1, err, len) < 0) {
        return -1;
    }
    if (count(st, M_NEW) > 0) {
        puts("\nNew migrations available; run 'tollgate-cp migrations up' to proceed");
    } else if (pending == 0) {
        puts("No pending migrations to finish");
    } else {
        puts("Database is up-to-date");
    }
    return GW_MIGRATE_OK;
}

static void
list_line(const struct state *st, enum mstate want, const char *title)
{
    char buf[4096];

    if (names(st, want, buf, sizeof(buf)) > 0) {
        printf("%s:\n  tollgate: %s\n", title, buf);
    }
}

/* Kong's exit codes: 3 needs bootstrap, 4 pending (finish), 5 new (up); ours adds 6 for
 * migrations this binary does not know. */
static int
cmd_list(const struct state *st)
{
    if (!st->bootstrapped) {
        printf("Database needs bootstrapping; %s\n", bootstrap_hint);
        return GW_MIGRATE_NEEDS_BOOTSTRAP;
    }
    list_line(st, M_DONE, "Executed migrations");
    list_line(st, M_PENDING, "Pending migrations (up ran; run 'tollgate-cp migrations finish')");
    list_line(st, M_NEW, "New migrations available (run 'tollgate-cp migrations up')");
    list_line(st, U_PENDING,
              "Unknown migrations in the database, not finished (from a newer "
              "tollgate-cp)");
    list_line(st, U_DONE,
              "Unknown migrations in the database (from a newer tollgate-cp: "
              "upgrade tollgate-cp)");
    if (count(st, M_PENDING) > 0) {
        return GW_MIGRATE_PENDING;
    }
    if (count(st, M_NEW) > 0) {
        return GW_MIGRATE_NEW;
    }
    if (count(st, U_PENDING) + count(st, U_DONE) > 0) {
        return GW_MIGRATE_AHEAD;
    }
    puts("Database is up-to-date");
    return GW_MIGRATE_OK;
}

/* Kong's prompt: three tries at y/yes or n/no, anything else asks again */
static int
confirm(void)
{
    char line[64];

    for (int tries = 0; tries < 3; tries++) {
        fputs("> Are you sure? This operation is irreversible. [Y/n] ", stdout);
        fflush(stdout);
        if (fgets(line, sizeof(line), stdin) == NULL) {
            return 0;
        }
        line[strcspn(line, "\r\n")] = '\0';
        if (strcmp(line, "y") == 0 || strcmp(line, "Y") == 0 || strcmp(line, "yes") == 0 ||
            strcmp(line, "YES") == 0) {
            return 1;
        }
        if (strcmp(line, "n") == 0 || strcmp(line, "N") == 0 || strcmp(line, "no") == 0 ||
            strcmp(line, "NO") == 0) {
            return 0;
        }
    }
    return 0;
}

static int
cmd_reset(PGconn *conn, struct state *st, char *err, size_t len)
{
    if (!st->meta_exists) {
        puts("Database not bootstrapped, nothing to reset");
        return GW_MIGRATE_FAILED;
    }
    puts("Resetting database...");
    if (exec_ok(conn, reset_sql, "reset failed", err, len) < 0) {
        return -1;
    }
    puts("Database successfully reset");
    return GW_MIGRATE_OK;
}

static void
usage(void)
{
    fputs("usage: tollgate-cp migrations bootstrap|up|finish|list|reset [--yes]\n"
          "  bootstrap  create the schema on an empty database (all migrations)\n"
          "  up         run the up step of new migrations (additive)\n"
          "  finish     run the finish step of migrations whose up ran (destructive)\n"
          "  list       show executed, pending, new and unknown migrations;\n"
          "             exit 0 current, 3 needs bootstrap, 4 pending finish, 5 new, 6 unknown\n"
          "  reset      drop everything tollgate-cp created (asks unless --yes/-y)\n",
          stderr);
}

static PGconn *
connect_db(const char *dsn)
{
    PGconn *conn = PQconnectdb(dsn != NULL ? dsn : "");

    if (PQstatus(conn) != CONNECTION_OK) {
        const char *m = PQerrorMessage(conn);

        errorf("cannot connect to PostgreSQL: %.*s", (int)strcspn(m, "\n"), m);
        PQfinish(conn);
        return NULL;
    }
    /* IF NOT EXISTS and CASCADE notices are noise here; warnings still show */
    PQclear(PQexec(conn, "SET client_min_messages = warning"));
    PQclear(PQexec(conn, "SET application_name = 'tollgate-cp migrations'"));
    return conn;
}

/* Runs a command that changes the schema: under the lock, on the state read after taking
 * it. */
static int
run_locked(PGconn *conn, const char *cmd, struct state *st, char *err, size_t len)
{
    int rc;

    if (lock(conn, err, len) < 0 || load_state(conn, st, err, len) < 0) {
        return -1;
    }
    if (strcmp(cmd, "bootstrap") == 0) {
        rc = cmd_bootstrap(conn, st, err, len);
    } else if (!st->bootstrapped && strcmp(cmd, "reset") != 0) {
        snprintf(err, len, "Cannot run migrations: database needs bootstrapping; %s",
                 bootstrap_hint);
        rc = -1;
    } else if (strcmp(cmd, "up") == 0) {
        rc = cmd_up(conn, st, err, len);
    } else if (strcmp(cmd, "finish") == 0) {
        rc = cmd_finish(conn, st, err, len);
    } else {
        rc = cmd_reset(conn, st, err, len);
    }
    unlock(conn);
    return rc;
}

int
gw_migrate_cli(const char *dsn, int argc, char **argv)
{
    static const char *const cmds[] = {"bootstrap", "up", "finish", "list", "reset"};
    struct state st = {0};
    char err[1024] = "";
    const char *cmd = argc > 0 ? argv[0] : NULL;
    int yes = 0, known = 0, rc;
    PGconn *conn;

    for (size_t i = 0; cmd != NULL && i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        known |= strcmp(cmd, cmds[i]) == 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--yes") == 0 || strcmp(argv[i], "-y") == 0) {
            yes = 1;
        } else {
            errorf("migrations: unknown option '%s'", argv[i]);
            usage();
            return GW_MIGRATE_USAGE;
        }
    }
    if (!known) {
        if (cmd != NULL) {
            errorf("migrations: unknown command '%s'", cmd);
        }
        usage();
        return GW_MIGRATE_USAGE;
    }
    if ((conn = connect_db(dsn)) == NULL) {
        return GW_MIGRATE_FAILED;
    }
    if (load_state(conn, &st, err, sizeof(err)) < 0) {
        rc = -1;
    } else if (strcmp(cmd, "list") == 0) {
        rc = cmd_list(&st);
    } else if (strcmp(cmd, "reset") == 0 && !st.meta_exists) {
        rc = cmd_reset(conn, &st, err, sizeof(err));
    } else if (strcmp(cmd, "reset") == 0 && !yes && !isatty(STDIN_FILENO)) {
        snprintf(err, sizeof(err),
                 "not a tty: invoke 'reset' non-interactively with the --yes flag");
        rc = -1;
    } else if (strcmp(cmd, "reset") == 0 && !yes && !confirm()) {
        puts("cancelled");
        rc = GW_MIGRATE_OK;
    } else {
        rc = run_locked(conn, cmd, &st, err, sizeof(err));
    }
    if (rc < 0) {
        errorf("%s", err);
        rc = GW_MIGRATE_FAILED;
    }
    free_state(&st);
    PQfinish(conn);
    fflush(stdout);
    return rc;
}

int
gw_migrate_check(PGconn *conn, char *msg, size_t len)
{
    struct state st = {0};
    char buf[512];
    int rc = 0;

    if (len == 0) {
        return -1;
    }
    msg[0] = '\0';
    if (load_state(conn, &st, msg, len) < 0) {
        free_state(&st);
        return -1;
    }
    if (!st.bootstrapped) {
        snprintf(msg, len, "database needs bootstrap: %s", bootstrap_hint);
        rc = 1;
    } else if (names(&st, U_DONE, buf, sizeof(buf)) > 0) {
        snprintf(msg, len,
                 "database has migrations unknown to %s (%s): upgrade tollgate-cp to a version "
                 "that has them",
                 GW_PRODUCT, buf);
        rc = 2;
    } else if (names(&st, M_NEW, buf, sizeof(buf)) > 0) {
        snprintf(msg, len, "database has pending migrations (%s): run 'tollgate-cp migrations up'",
                 buf);
        rc = 1;
    } else if (names(&st, M_PENDING, buf, sizeof(buf)) > 0) {
        snprintf(msg, len,
                 "database has migrations to finish (%s): run 'tollgate-cp migrations finish' "
                 "once every control plane runs %s",
                 buf, GW_PRODUCT);
    } else if (names(&st, U_PENDING, buf, sizeof(buf)) > 0) {
        snprintf(msg, len,
                 "database has migrations of a newer tollgate-cp, not finished (%s): upgrade "
                 "this node before 'tollgate-cp migrations finish' runs",
                 buf);
    }
    free_state(&st);
    return rc;
}

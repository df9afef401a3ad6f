/* Schema migrations: migrations/NNN_name.up.sql (additive) and NNN_name.finish.sql
 * (destructive), embedded at build time, applied under a PostgreSQL advisory lock and
 * recorded in the table tollgate_schema_meta. Everything here runs on the caller's thread
 * and blocks on the database. */
#ifndef GW_MIGRATE_H
#define GW_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

/* One migration as embedded: name is "NNN_name"; finish_sql is NULL when it has no finish
 * step. The table is generated from migrations/ by migrations/embed.sh, ordered by name,
 * and lives for the whole process. */
struct gw_migration {
    const char *name;
    const char *up_sql;
    const char *finish_sql;
};
extern const struct gw_migration gw_migrations[];
extern const size_t gw_migrations_count;

/* Exit codes of gw_migrate_cli(); list uses Kong's 3, 4 and 5, plus 6 for "ahead". */
enum {
    GW_MIGRATE_OK = 0,
    GW_MIGRATE_FAILED = 1,          /* a database error, or the command was refused */
    GW_MIGRATE_USAGE = 2,           /* unknown command or option */
    GW_MIGRATE_NEEDS_BOOTSTRAP = 3, /* list: no schema yet */
    GW_MIGRATE_PENDING = 4,         /* list: finish steps pending */
    GW_MIGRATE_NEW = 5,             /* list: up steps pending */
    GW_MIGRATE_AHEAD = 6,           /* list: the database has migrations this binary lacks */
};

/* `tollgate-cp migrations CMD [--yes]`: argv[0] is CMD (bootstrap, up, finish, list or
 * reset); the only option is --yes/-y (reset without asking). Connects with dsn (NULL or ""
 * uses libpq's PG* environment variables), prints results to stdout and errors to stderr,
 * and returns the process exit code (the GW_MIGRATE_* values above). */
int gw_migrate_cli(const char *dsn, int argc, char **argv);

/* Checks that the schema in conn's database suits this binary, for a control plane about to
 * start. Returns
 *    0 usable. msg is "" when current; otherwise a notice to log as a warning, as Kong does:
 *      finish steps are pending (a rolling upgrade: run 'tollgate-cp migrations finish' once
 *      every node runs this version), or a newer binary's migration is up but not finished
 *      (up steps are additive, so this binary still works with it);
 *    1 behind: msg names the command to run (bootstrap or up);
 *    2 ahead: a newer binary's migration has finished; msg names it and says to upgrade;
 *   -1 error: msg says what failed.
 * msg always gets a NUL-terminated string (len > 0). Reads only; takes no lock. */
int gw_migrate_check(PGconn *conn, char *msg, size_t len);

#endif

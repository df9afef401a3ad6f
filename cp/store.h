/* The control plane's PostgreSQL connections: a small fixed pool shared by the Admin API
 * threads. A connection is opened on first use and re-opened after PostgreSQL went away, so
 * the control plane survives database restarts without being restarted itself. */
#ifndef GW_STORE_H
#define GW_STORE_H

#include <libpq-fe.h>
#include <stddef.h>

struct gw_store; /* opaque; thread-safe */

/* A pool of size connections to dsn (none is opened yet). NULL on out of memory. */
struct gw_store *gw_store_open(const char *dsn, int size);
void gw_store_close(struct gw_store *s);

/* Takes a connection, waiting while all are busy; connects or reconnects it as needed.
 * NULL when PostgreSQL cannot be reached: err gets libpq's reason. Give it back with
 * gw_store_put() on the same thread. */
PGconn *gw_store_get(struct gw_store *s, char *err, size_t len);
void gw_store_put(struct gw_store *s, PGconn *conn);

/* PQexecParams with text parameters and a text result. When the connection turns out to be
 * broken (PostgreSQL restarted while it sat idle in the pool) it is reset and, if retry is
 * set, the statement is sent once more: pass retry only outside a transaction block, where
 * a statement that never reached the server cannot have done anything. Never NULL. */
PGresult *gw_store_exec(PGconn *conn, int retry, const char *sql, int n,
                        const char *const *params);

/* Same for a statement the caller numbers (0..63, one number per SQL text): prepared on each
 * connection the first time it runs there, executed from then on, so PostgreSQL parses and
 * plans it once per connection instead of once per request. */
PGresult *gw_store_exec_prepared(struct gw_store *s, PGconn *conn, int retry, int id,
                                 const char *sql, int n, const char *const *params);

/* After a committed change: announces it with NOTIFY tollgate_config (payload: the config
 * version) from a notifier thread, once for any number of changes made meanwhile. The pool's
 * connections run with tollgate.notify = deferred, so the version trigger does not notify
 * inside their transactions (see migrations/001_core.up.sql for why). Never blocks. */
void gw_store_changed(struct gw_store *s);

/* 1 when r failed because the connection is gone (the caller answers 503). */
int gw_store_conn_lost(PGconn *conn, const PGresult *r);

#endif

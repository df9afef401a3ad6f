/* PostgreSQL connection pool: a mutex, a condition variable and a stack of free slots; and
 * the notifier thread that announces committed changes. */
#include "store.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct gw_store {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    char *dsn;
    int size;
    int nfree;
    PGconn **all;   /* size slots; NULL until first connected */
    int *free_slot; /* stack of free slot indexes */
    /* per slot: statements prepared on its connection, and the backend they belong to */
    uint64_t *prepared;
    int *prepared_pid;
    /* the notifier */
    pthread_t notifier;
    int notifier_started, pending, stopping;
    pthread_cond_t changed;
};

/* Pool connections defer the version trigger's NOTIFY to the notifier. */
static PGconn *
connect_deferred(const char *dsn)
{
    static const char *const keys[] = {"dbname", "options", NULL};
    const char *vals[] = {dsn, "-c tollgate.notify=deferred", NULL};

    return PQconnectdbParams(keys, vals, 1);
}

static void *
notifier_main(void *arg)
{
    struct gw_store *s = arg;
    PGconn *c = NULL;

    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->pending && !s->stopping) {
            pthread_cond_wait(&s->changed, &s->lock);
        }
        if (s->stopping) {
            break;
        }
        s->pending = 0;
        pthread_mutex_unlock(&s->lock);
        if (c == NULL) {
            c = PQconnectdb(s->dsn);
        } else if (PQstatus(c) != CONNECTION_OK) {
            PQreset(c);
        }
        PGresult *r = PQexec(c, "SELECT pg_notify('tollgate_config', last_value::text) "
                                "FROM tollgate_config_version");
        int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
        PQclear(r);
        pthread_mutex_lock(&s->lock);
        if (!ok) {
            /* PostgreSQL is away: try again in a second (listeners also poll the version) */
            s->pending = 1;
            struct timespec t;
            clock_gettime(CLOCK_REALTIME, &t);
            t.tv_sec += 1;
            pthread_cond_timedwait(&s->changed, &s->lock, &t);
        }
    }
    pthread_mutex_unlock(&s->lock);
    PQfinish(c);
    return NULL;
}

void
gw_store_changed(struct gw_store *s)
{
    pthread_mutex_lock(&s->lock);
    s->pending = 1;
    pthread_cond_signal(&s->changed);
    pthread_mutex_unlock(&s->lock);
}

struct gw_store *
gw_store_open(const char *dsn, int size)
{
    struct gw_store *s = calloc(1, sizeof *s);

    if (s == NULL) {
        return NULL;
    }
    s->dsn = strdup(dsn);
    s->size = size;
    s->all = calloc((size_t)size, sizeof *s->all);
    s->free_slot = calloc((size_t)size, sizeof *s->free_slot);
    s->prepared = calloc((size_t)size, sizeof *s->prepared);
    s->prepared_pid = calloc((size_t)size, sizeof *s->prepared_pid);
    if (s->dsn == NULL || s->all == NULL || s->free_slot == NULL || s->prepared == NULL ||
        s->prepared_pid == NULL) {
        gw_store_close(s);
        return NULL;
    }
    for (int i = 0; i < size; i++) {
        s->free_slot[s->nfree++] = size - 1 - i;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->freed, NULL);
    pthread_cond_init(&s->changed, NULL);
    s->notifier_started = pthread_create(&s->notifier, NULL, notifier_main, s) == 0;
    return s;
}

void
gw_store_close(struct gw_store *s)
{
    if (s == NULL) {
        return;
    }
    if (s->notifier_started) {
        pthread_mutex_lock(&s->lock);
        s->stopping = 1;
        pthread_cond_signal(&s->changed);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->notifier, NULL);
    }
    for (int i = 0; s->all && i < s->size; i++) {
        if (s->all[i]) {
            PQfinish(s->all[i]);
        }
    }
    free(s->all);
    free(s->free_slot);
    free(s->prepared);
    free(s->prepared_pid);
    free(s->dsn);
    free(s);
}

static void
copy_err(char *err, size_t len, const char *msg)
{
    size_t n = strlen(msg);

    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) {
        n--; /* libpq messages end with a newline */
    }
    snprintf(err, len, "%.*s", (int)n, msg);
}

PGconn *
gw_store_get(struct gw_store *s, char *err, size_t len)
{
    int slot;

    pthread_mutex_lock(&s->lock);
    while (s->nfree == 0) {
        pthread_cond_wait(&s->freed, &s->lock);
    }
    slot = s->free_slot[--s->nfree];
    pthread_mutex_unlock(&s->lock);

    PGconn *c = s->all[slot];
    if (c == NULL) {
        c = connect_deferred(s->dsn);
        s->all[slot] = c;
    } else if (PQstatus(c) != CONNECTION_OK) {
        PQreset(c);
    }
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        copy_err(err, len, c ? PQerrorMessage(c) : "out of memory");
        gw_store_put(s, c);
        return NULL;
    }
    return c;
}

void
gw_store_put(struct gw_store *s, PGconn *conn)
{
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->size; i++) {
        if (s->all[i] == conn) {
            s->free_slot[s->nfree++] = i;
            break;
        }
    }
    pthread_cond_signal(&s->freed);
    pthread_mutex_unlock(&s->lock);
}

int
gw_store_conn_lost(PGconn *conn, const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        return 0;
    }
    if (PQstatus(conn) == CONNECTION_BAD) {
        return 1;
    }
    /* admin_shutdown, crash_shutdown, cannot_connect_now: the server is going away */
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    return state && strncmp(state, "57P", 3) == 0;
}

PGresult *
gw_store_exec(PGconn *conn, int retry, const char *sql, int n, const char *const *params)
{
    PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);

    if (retry && gw_store_conn_lost(conn, r)) {
        PQclear(r);
        PQreset(conn);
        if (PQstatus(conn) == CONNECTION_OK) {
            r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
        } else {
            r = PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
        }
    }
    return r;
}

PGresult *
gw_store_exec_prepared(struct gw_store *s, PGconn *conn, int retry, int id, const char *sql,
                       int n, const char *const *params)
{
    int slot = -1;
    char name[16];

    for (int i = 0; i < s->size; i++) {
        if (s->all[i] == conn) {
            slot = i;
        }
    }
    if (slot < 0 || id < 0 || id > 63) {
        return gw_store_exec(conn, retry, sql, n, params);
    }
    snprintf(name, sizeof name, "gw%d", id);
    for (int attempt = 0;; attempt++) {
        /* a reset connection is a new backend: nothing is prepared there */
        if (s->prepared_pid[slot] != PQbackendPID(conn)) {
            s->prepared[slot] = 0;
            s->prepared_pid[slot] = PQbackendPID(conn);
        }
        PGresult *r = NULL;
        if (!(s->prepared[slot] & (1ull << id))) {
            r = PQprepare(conn, name, sql, n, NULL);
            if (PQresultStatus(r) == PGRES_COMMAND_OK) {
                s->prepared[slot] |= 1ull << id;
                PQclear(r);
                r = NULL;
            }
        }
        if (r == NULL) {
            r = PQexecPrepared(conn, name, n, params, NULL, NULL, 0);
        }
        if (!retry || attempt > 0 || !gw_store_conn_lost(conn, r)) {
            return r;
        }
        PQclear(r);
        PQreset(conn);
        if (PQstatus(conn) != CONNECTION_OK) {
            return PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
        }
    }
}

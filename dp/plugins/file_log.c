/* file-log: one JSON log entry (Kong's serialize()) and a newline per request, appended to
 * config.path (Kong priority 9, log phase).
 *
 * Kong writes with a plain write(2) from the log phase. A worker here never touches the disk
 * (a slow or full disk would stall every connection of the loop), so the log handler only
 * serializes the entry and pushes it on a lock-free list; one writer thread for the process
 * takes the whole list at a time and appends each line with a single write(2) to a file
 * opened O_WRONLY|O_CREAT|O_APPEND, 0644, as Kong opens it, so lines from several workers
 * never interleave. Descriptors are kept per path; with reopen the file is opened and closed
 * for each line (log rotation). What waits is bounded (MAX_PENDING_BYTES): beyond it lines
 * are dropped and counted, and the writer reports the count. At exit the writer drains what
 * is queued. custom_fields_by_lua needs Lua: it is ignored, with a warning. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "logentry.h"
#include "plugin.h"
#include "schema.h"

#define MAX_PENDING_BYTES (64u << 20)
#define MAX_FDS           32

struct conf {
    const char *path;
    int reopen;
};

/* one queued line; path and line follow the struct */
struct entry {
    struct entry *next;
    size_t size; /* of the allocation, for the pending count */
    size_t path_len, line_len;
    int reopen;
    char data[];
};

static _Atomic(struct entry *) queue;
static atomic_size_t pending_bytes;
static atomic_ulong dropped;
static atomic_int stopping;
static int wake_fd = -1;
static pthread_t writer;
static pthread_once_t start_once = PTHREAD_ONCE_INIT;
static int started;

/* ------------------------------------------------------------------ the writer thread */

struct open_file {
    char *path;
    int fd;
};

static struct open_file files[MAX_FDS];
static unsigned nfiles;

static void
complain(const char *what, const char *path, int err)
{
    static time_t last;
    time_t now = time(NULL);

    if (now != last) { /* at most one line a second */
        last = now;
        fprintf(stderr, "tollgate-dp: file-log: %s: %s path=%s\n", what, strerror(err), path);
    }
}

static int
open_log(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

    if (fd < 0) {
        complain("cannot open the log file", path, errno);
    }
    return fd;
}

/* the cached descriptor for path, opened on first use */
static int
file_fd(const char *path)
{
    for (unsigned i = 0; i < nfiles; i++) {
        if (strcmp(files[i].path, path) == 0) {
            return files[i].fd;
        }
    }
    int fd = open_log(path);
    char *copy = fd >= 0 ? strdup(path) : NULL;
    if (copy == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    if (nfiles == MAX_FDS) {
        /* many paths: the oldest descriptor goes */
        close(files[0].fd);
        free(files[0].path);
        memmove(files, files + 1, sizeof files[0] * (MAX_FDS - 1));
        nfiles--;
    }
    files[nfiles++] = (struct open_file){copy, fd};
    return fd;
}

static void
write_entry(const struct entry *e)
{
    const char *path = e->data, *line = e->data + e->path_len + 1;
    int fd = e->reopen ? open_log(path) : file_fd(path);

    if (fd < 0) {
        return;
    }
    for (size_t off = 0; off < e->line_len;) {
        ssize_t n = write(fd, line + off, e->line_len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            complain("cannot write the log file", path, n < 0 ? errno : ENOSPC);
            break;
        }
        off += (size_t)n;
    }
    if (e->reopen) {
        close(fd);
    }
}

/* Takes everything queued and writes it oldest first. */
static void
drain(void)
{
    struct entry *list = atomic_exchange(&queue, NULL), *fifo = NULL;

    while (list) { /* the list is newest first */
        struct entry *next = list->next;
        list->next = fifo;
        fifo = list;
        list = next;
    }
    while (fifo) {
        struct entry *next = fifo->next;
        write_entry(fifo);
        atomic_fetch_sub(&pending_bytes, fifo->size);
        free(fifo);
        fifo = next;
    }
    unsigned long d = atomic_exchange(&dropped, 0);
    if (d) {
        fprintf(stderr, "tollgate-dp: file-log: %lu entries dropped: the writer fell behind\n", d);
    }
}

static void *
writer_main(void *arg)
{
    (void)arg;
    for (;;) {
        uint64_t v;
        ssize_t n = read(wake_fd, &v, sizeof v);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        drain();
        if (atomic_load(&stopping)) {
            drain();
            break;
        }
    }
    for (unsigned i = 0; i < nfiles; i++) {
        close(files[i].fd);
        free(files[i].path);
    }
    nfiles = 0;
    return NULL;
}

static void
stop_writer(void)
{
    uint64_t one = 1;

    atomic_store(&stopping, 1);
    if (write(wake_fd, &one, sizeof one) == sizeof one) {
        pthread_join(writer, NULL);
    }
}

static void
start_writer(void)
{
    wake_fd = eventfd(0, EFD_CLOEXEC);
    if (wake_fd < 0) {
        return;
    }
    if (pthread_create(&writer, NULL, writer_main, NULL) != 0) {
        close(wake_fd);
        wake_fd = -1;
        return;
    }
    started = 1;
    atexit(stop_writer);
}

/* ------------------------------------------------------------------ the plugin */

static void *
compile(const struct gw_record *r, const struct gw_val *c, struct gw_arena *a, char *err,
        size_t errlen)
{
    struct conf *k = gw_arena_calloc(a, sizeof *k);
    const struct gw_val *p = gw_rec_get(r, c, "path");
    const struct gw_val *ro = gw_rec_get(r, c, "reopen");
    const struct gw_val *lua = gw_rec_get(r, c, "custom_fields_by_lua");

    if (k == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    k->path = p && p->type == GW_V_STR ? p->u.s : NULL;
    k->reopen = ro && ro->type == GW_V_BOOL && ro->u.b;
    if (k->path == NULL) {
        snprintf(err, errlen, "file-log: config.path is required");
        return NULL;
    }
    if (lua && !gw_val_is_null(lua)) {
        fprintf(stderr,
                "tollgate-dp: file-log: custom_fields_by_lua is not supported (no Lua): "
                "ignored path=%s\n",
                k->path);
    }
    pthread_once(&start_once, start_writer);
    if (!started) {
        snprintf(err, errlen, "file-log: cannot start the writer thread");
        return NULL;
    }
    return k;
}

static void
push(const struct conf *k, const char *line, size_t n)
{
    size_t pl = strlen(k->path), size = sizeof(struct entry) + pl + 1 + n + 1;
    struct entry *e, *head;

    if (atomic_fetch_add(&pending_bytes, size) + size > MAX_PENDING_BYTES ||
        (e = malloc(size)) == NULL) {
        atomic_fetch_sub(&pending_bytes, size);
        atomic_fetch_add(&dropped, 1);
        return;
    }
    e->size = size;
    e->path_len = pl;
    e->line_len = n + 1;
    e->reopen = k->reopen;
    memcpy(e->data, k->path, pl + 1);
    memcpy(e->data + pl + 1, line, n);
    e->data[pl + 1 + n] = '\n';
    head = atomic_load(&queue);
    do {
        e->next = head;
    } while (!atomic_compare_exchange_weak(&queue, &head, e));
    if (head == NULL) {
        /* the list was empty: the writer may be asleep. An eventfd write blocks only when its
         * counter would overflow, and there is one wake-up per empty list */
        uint64_t one = 1;
        if (write(wake_fd, &one, sizeof one) < 0) {
            /* nothing to do: the next push onto an empty list wakes it */
        }
    }
}

static void
on_log(struct gw_pctx *ctx, const void *conf, const void *global)
{
    json_t *entry = gw_logentry_json(ctx);
    char *line = entry ? json_dumps(entry, JSON_COMPACT) : NULL;
    (void)global;

    json_decref(entry);
    if (line == NULL) {
        atomic_fetch_add(&dropped, 1);
        return;
    }
    push(conf, line, strlen(line));
    free(line);
}

const struct gw_plugin gw_handler_file_log = {
    .schema = &gw_schema_file_log,
    .compile = compile,
    .log = on_log,
};

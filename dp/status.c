/* /status: connection and request counters summed over the workers, and the config hash and
 * version, in the shape of Kong's status endpoint for data planes. Requests are tiny and
 * served in one read; a client that sends more than a head gets its connection closed. */
#define _GNU_SOURCE
#include "status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "http1.h"
#include "version.h"

struct slistener {
    ev_io io;
};

struct sconn {
    ev_io io;
    ev_timer timer;
    char buf[4096];
    size_t len;
};

static char cfg_hash[65] = "00000000000000000000000000000000";
static unsigned long long cfg_version;
static pthread_mutex_t cfg_lock = PTHREAD_MUTEX_INITIALIZER;

void
gw_status_set_config(const char *hash, unsigned long long version)
{
    pthread_mutex_lock(&cfg_lock);
    snprintf(cfg_hash, sizeof cfg_hash, "%s", hash);
    cfg_version = version;
    pthread_mutex_unlock(&cfg_lock);
}

static void
sconn_close(struct ev_loop *loop, struct sconn *s)
{
    ev_io_stop(loop, &s->io);
    ev_timer_stop(loop, &s->timer);
    close(s->io.fd);
    free(s);
}

static void
reply(int fd, int status, const char *ctype, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Server: " GW_PRODUCT "\r\nConnection: close\r\n\r\n",
                     status, status == 200 ? "OK" : status == 404 ? "Not Found" : "Bad Request",
                     ctype, strlen(body));
    struct iovec iov[2] = {{head, (size_t)n}, {(void *)body, strlen(body)}};
    ssize_t w = writev(fd, iov, 2);
    (void)w; /* best effort: the connection closes next */
}

static void
serve(struct sconn *s, const struct gw_http_head *h)
{
    char body[1024];
    uint64_t accepted, active, requests;

    if (!gw_str_eqz(h->path, "/status")) {
        reply(s->io.fd, 404, "application/json; charset=utf-8", "{\"message\":\"Not found\"}");
        return;
    }
    gw_workers_stats(&accepted, &active, &requests);
    pthread_mutex_lock(&cfg_lock);
    snprintf(body, sizeof body,
             "{\"server\":{\"connections_active\":%llu,\"connections_accepted\":%llu,"
             "\"connections_handled\":%llu,\"total_requests\":%llu},"
             "\"configuration_hash\":\"%s\",\"configuration_version\":%llu,"
             "\"workers\":%d,\"version\":\"" GW_VERSION "\"}",
             (unsigned long long)active, (unsigned long long)accepted,
             (unsigned long long)accepted, (unsigned long long)requests, cfg_hash, cfg_version,
             gw_nworkers);
    pthread_mutex_unlock(&cfg_lock);
    reply(s->io.fd, 200, "application/json; charset=utf-8", body);
}

static void
on_read(struct ev_loop *loop, ev_io *io, int revents)
{
    struct sconn *s = (struct sconn *)io;
    struct gw_http_head h;
    (void)revents;

    ssize_t n = recv(io->fd, s->buf + s->len, sizeof s->buf - s->len, 0);
    if (n <= 0) {
        if (n < 0 && errno == EAGAIN) {
            return;
        }
        sconn_close(loop, s);
        return;
    }
    s->len += (size_t)n;
    int rc = gw_http1_parse_request(s->buf, s->len, &gw_http_default_limits, &h);
    if (rc == 0 && s->len < sizeof s->buf) {
        return;
    }
    if (rc > 0) {
        serve(s, &h);
    } else {
        reply(io->fd, 400, "application/json; charset=utf-8", "{\"message\":\"Bad request\"}");
    }
    sconn_close(loop, s);
}

static void
on_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)revents;
    sconn_close(loop, (struct sconn *)((char *)t - offsetof(struct sconn, timer)));
}

static void
on_accept(struct ev_loop *loop, ev_io *io, int revents)
{
    (void)revents;
    for (;;) {
        int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            return;
        }
        struct sconn *s = calloc(1, sizeof *s);
        if (s == NULL) {
            close(fd);
            return;
        }
        ev_io_init(&s->io, on_read, fd, EV_READ);
        ev_io_start(loop, &s->io);
        ev_timer_init(&s->timer, on_timeout, 10., 0.);
        ev_timer_start(loop, &s->timer);
    }
}

int
gw_status_start(struct ev_loop *loop, const struct gw_listen *ls, int n)
{
    for (int i = 0; i < n; i++) {
        int fd = socket(ls[i].addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd < 0) {
            return -1;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, (const struct sockaddr *)&ls[i].addr, ls[i].addrlen) < 0 ||
            listen(fd, 64) < 0) {
            fprintf(stderr, "tollgate-dp: cannot listen on %s: %s\n", ls[i].text,
                    strerror(errno));
            close(fd);
            return -1;
        }
        struct slistener *l = calloc(1, sizeof *l);
        if (l == NULL) {
            close(fd);
            return -1;
        }
        ev_io_init(&l->io, on_accept, fd, EV_READ);
        ev_io_start(loop, &l->io);
    }
    return 0;
}

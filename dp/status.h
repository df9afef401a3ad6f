/* The status listener (default 127.0.0.1:8100): GET /status as JSON. It runs on the main
 * thread's loop, apart from the proxy workers. */
#ifndef GW_STATUS_H
#define GW_STATUS_H

#include <ev.h>

#include "worker.h"

/* Starts listening on each address; 0 or -1 with a message on stderr. */
int gw_status_start(struct ev_loop *loop, const struct gw_listen *ls, int n);

/* What /status reports about the config (set by the main thread on each publish). */
void gw_status_set_config(const char *hash, unsigned long long version);

#endif

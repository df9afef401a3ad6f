/* HTTP/1.x message heads and body framing: a zero-copy parser for request and response heads
 * (every string points into the caller's buffer) and a streaming scanner for chunked bodies.
 * It refuses what could be read two ways (RFC 9112 section 6.3, 11.2): Content-Length with
 * Transfer-Encoding, differing or malformed lengths, unknown transfer codings, obs-fold, bare
 * LF line ends, spaces before the colon, control bytes. Pure functions: no allocation, no
 * global state; any thread. */
#ifndef GW_HTTP1_H
#define GW_HTTP1_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "str.h"

#define GW_HTTP_MAX_HEADERS 128

struct gw_http_header {
    struct gw_str name;
    struct gw_str value; /* leading and trailing spaces/tabs removed */
};

struct gw_http_limits {
    size_t max_line_bytes; /* request line; longer: 414 */
    size_t max_head_bytes; /* whole head incl. the final CRLF; longer: 431 (494 in nginx) */
    unsigned max_headers;  /* at most GW_HTTP_MAX_HEADERS; more: 431 */
};

/* Defaults: 8 KiB request line, 32 KiB head, 100 headers. */
extern const struct gw_http_limits gw_http_default_limits;

struct gw_http_head {
    /* request */
    struct gw_str method;
    struct gw_str target; /* request-target as sent */
    struct gw_str path;   /* target up to '?' (origin-form; absolute-form gives its path) */
    struct gw_str query;  /* after '?', without it; .p == NULL when there was no '?' */
    /* response */
    int status;
    struct gw_str reason;
    /* both */
    int minor; /* HTTP/1.<minor>: 0 or 1 */
    struct gw_http_header headers[GW_HTTP_MAX_HEADERS];
    unsigned nheaders;
    int64_t content_length; /* -1 when absent */
    unsigned chunked : 1;         /* Transfer-Encoding: chunked (the only coding accepted) */
    unsigned conn_close : 1;      /* Connection: close */
    unsigned conn_keep_alive : 1; /* Connection: keep-alive */
    unsigned conn_upgrade : 1;    /* Connection: upgrade */
    unsigned expect_continue : 1; /* Expect: 100-continue (requests) */
    struct gw_str host;           /* the Host header (requests); .p == NULL when absent */
    struct gw_str upgrade;        /* the Upgrade header */
};

/* Parses a request head at the start of buf[0..len). Returns the head's length in bytes
 * (through the empty line) when complete, 0 when more bytes are needed (and the limits
 * still allow it), or minus the status to answer before closing: -400 malformed or
 * ambiguous, -414 request line too long, -431 head too large or too many headers, -501
 * unsupported transfer coding, -505 unsupported version. HTTP/1.1 without Host is -400.
 * Leading empty lines before the request line are skipped (RFC 9112 2.2). */
int gw_http1_parse_request(const char *buf, size_t len, const struct gw_http_limits *lim,
                           struct gw_http_head *h);

/* Parses a response head. A 1xx head (other than 101) is complete by itself: the caller
 * reads the next head after it. Returns as above; malformed gives -502. */
int gw_http1_parse_response(const char *buf, size_t len, const struct gw_http_limits *lim,
                            struct gw_http_head *h);

/* Whether a response to this request/status has a body at all (HEAD, 1xx, 204, 304). */
int gw_http1_response_has_body(struct gw_str req_method, int status);

/* Streaming scanner for a chunked body: it does not copy or decode, it tells how many of
 * the given bytes belong to the body (framing included, to be forwarded verbatim) and when
 * the body ended. Chunk sizes are hex without overflow (at most 2^62), extensions are
 * skipped, trailers are allowed (bounded by max_trailer_bytes). */
struct gw_chunked {
    int state;              /* internal */
    uint64_t left;          /* internal: payload bytes left in the current chunk */
    size_t line_bytes;      /* internal: bytes of the current size/trailer line */
    uint64_t payload_bytes; /* payload seen so far (for size limits) */
};

/* Returns the number of bytes of in[0..n) that belong to the body (all of them unless the
 * body ends inside), sets *done to 1 once the terminating chunk and trailers were consumed,
 * or returns -1 for malformed framing (the connection must close). */
ssize_t gw_chunked_scan(struct gw_chunked *c, const char *in, size_t n, int *done);

#endif

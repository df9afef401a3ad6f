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
    struct gw_str path;   /* target up to '?' (origin-form; absolute-form gives its path, or the
                           * literal "/" when empty; "*" for OPTIONS *; .p == NULL for CONNECT's
                           * authority-form) */
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
    unsigned expect_continue : 1; /* Expect: 100-continue (HTTP/1.1 requests; 1.0: ignored) */
    struct gw_str host;           /* the Host header (requests); .p == NULL when absent. With an
                                   * absolute-form target, the target's authority instead
                                   * (RFC 9112 3.2.2: it replaces Host; Host is still required) */
    struct gw_str upgrade;        /* the first Upgrade header; .p == NULL when absent or in
                                   * an HTTP/1.0 request (RFC 9110 7.8: ignored there) */
};

/* Parses a request head at the start of buf[0..len) (lim NULL: the defaults). Returns the head's
 * length in bytes
 * (through the empty line) when complete, 0 when more bytes are needed (and the limits
 * still allow it), or minus the status to answer before closing: -400 malformed or
 * ambiguous, -414 request line too long, -431 head too large or too many headers, -501
 * unsupported transfer coding, -505 unsupported version. HTTP/1.1 without Host is -400.
 * Leading empty lines before the request line are skipped (RFC 9112 2.2) and count toward the
 * head. h is meaningful only after a positive return. The call is stateless: call it again on
 * the grown buffer; every prefix of an input gives 0 or the answer for the whole input, and
 * faults are reported as soon as the bytes show them (a request line longer than
 * max_line_bytes is -414 before its CRLF arrives).
 * Choices where RFC 9112 allows either: every repeated Content-Length is refused, even with
 * equal values (as nginx does), and so are lists in it ("5, 5"); Transfer-Encoding in an
 * HTTP/1.0 request is -400 (6.1); chunked listed twice is -400, a coding after chunked or
 * none is -400, another coding before chunked -501; '#' in the target is -400; bytes >= 0x80
 * are allowed in the target and in values (obs-text, as nginx); an absolute-form target must
 * be http(s) with a host and no userinfo; "*" only with OPTIONS, authority-form only (and
 * always) with CONNECT. */
int gw_http1_parse_request(const char *buf, size_t len, const struct gw_http_limits *lim,
                           struct gw_http_head *h);

/* Parses a response head. A 1xx head (other than 101) is complete by itself: the caller
 * reads the next head after it. Returns the length or 0 as above; every fault, limits
 * included, gives -502 (the upstream's fault is a bad gateway to the client). Leading empty
 * lines are not skipped; "HTTP/1.1 200\r\n" without the space before an empty reason is
 * accepted, as nginx does; status codes 100..999. Content-Length with Transfer-Encoding is
 * -502 (RFC 9112 6.3 would let Transfer-Encoding win; we refuse the ambiguity). */
int gw_http1_parse_response(const char *buf, size_t len, const struct gw_http_limits *lim,
                            struct gw_http_head *h);

/* Whether a response to this request/status has a body at all (HEAD, 1xx, 204, 304). */
int gw_http1_response_has_body(struct gw_str req_method, int status);

/* Streaming scanner for a chunked body: it does not copy or decode, it tells how many of
 * the given bytes belong to the body (framing included, to be forwarded verbatim) and when
 * the body ended. Chunk sizes are hex without overflow (at most 2^62), extensions are
 * skipped (but may hold no control bytes), whitespace after a size only before ';' (BWS),
 * trailers are field lines as in a head. A size or trailer line is at most 4 KiB, the trailer
 * section at most 16 KiB. Zero the struct to start a body. */
struct gw_chunked {
    int state;              /* internal */
    uint64_t left;          /* internal: payload bytes left in the current chunk */
    size_t line_bytes;      /* internal: bytes of the current size/trailer line */
    uint64_t payload_bytes; /* payload seen so far (for size limits) */
};

/* Returns the number of bytes of in[0..n) that belong to the body (all of them unless the
 * body ends inside), sets *done to 1 once the terminating chunk and trailers were consumed
 * (0 before; later calls return 0 with *done 1), or returns -1 for malformed framing (the
 * connection must close; later calls return -1 too). in may be split at any byte. */
ssize_t gw_chunked_scan(struct gw_chunked *c, const char *in, size_t n, int *done);

/* gw_chunked_scan that also decodes: the payload bytes among the ones it returns are copied
 * to out + *outn and *outn grows by their count (out needs room for n more bytes). */
ssize_t gw_chunked_decode(struct gw_chunked *c, const char *in, size_t n, int *done, char *out,
                          size_t *outn);

#endif

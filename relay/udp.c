/* UDP listeners: datagrams of line protocol for one configured database, retention policy and
 * precision. Lines are validated as they arrive and batched by the stream sink (stream.c) into
 * one record, committed at 1 MiB or 100 ms after its first datagram. Malformed lines are
 * dropped and counted; UDP cannot be told "retry", so points lost to a full log are counted
 * too (reason log_full). Loop thread only. */
#include "relay/relay_int.h"
#include "relay/stream.h"

#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define UDP_DATAGRAM_MAX 65536

struct udp_listener {
    uv_udp_t udp;
    struct relay *relay;
    char *addr;
    enum lp_precision precision;
    struct stream_sink *sink; /* the batching shared with the other stream listeners */
    struct buf norm;
    char *rbuf;
};

const struct stream_stats *udp_stats(const struct udp_listener *u)
{
    return stream_sink_stats(u->sink);
}

static void on_udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct udp_listener *u = h->data;
    (void)suggested;
    *b = uv_buf_init(u->rbuf, UDP_DATAGRAM_MAX);
}

static void on_udp_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *addr,
                        unsigned flags)
{
    struct udp_listener *u = h->data;
    struct relay *r = u->relay;
    (void)addr;
    if (n <= 0) {
        if (n < 0)
            log_warn("event=udp_read_error addr=%s err=\"%s\"", u->addr, uv_strerror((int)n));
        return;
    }
    r->ctr.udp_datagrams_total++;
    struct stream_stats *st = stream_sink_stats(u->sink);
    st->bytes_total += (uint64_t)n;
    if (flags & UV_UDP_PARTIAL) {
        r->ctr.udp_rejected_lines_total++;
        st->dropped_total[DROP_TOO_LONG]++;
        log_warn("event=udp_datagram_truncated addr=%s", u->addr);
        return;
    }
    struct lp_result res;
    lp_result_init(&res);
    struct lp_options lo = {.allow_unsigned = r->cfg_limits.allow_unsigned, .max_errors = 1};
    uint64_t now = wal_now_ns();
    buf_clear(&u->norm);
    lp_normalize(b->base, (size_t)n, u->precision, (int64_t)now, &lo, &u->norm, &res);
    r->ctr.stamped_points_total += res.stamped;
    st->lines_total += res.points + res.rejected;
    if (res.rejected > 0) {
        r->ctr.udp_rejected_lines_total += res.rejected;
        st->dropped_total[DROP_MALFORMED] += res.rejected;
        log_debug("event=udp_lines_rejected addr=%s count=%zu", u->addr, res.rejected);
        /* The error text is a buf, not NUL-terminated: bound it into a string first. */
        char why[200] = "malformed";
        if (res.errors.len > 0)
            snprintf(why, sizeof(why), "%.*s",
                     (int)(res.errors.len < sizeof(why) ? res.errors.len : sizeof(why) - 1),
                     res.errors.data);
        stream_sink_log_drop(u->sink, why, "", 0);
    }
    stream_sink_add(u->sink, u->norm.data, u->norm.len, res.points, now);
    lp_result_deinit(&res);
}

int udp_start(struct relay *r, const struct relay_udp *cu, struct udp_listener **out)
{
    char host[256];
    int port;
    enum lp_precision p = LP_NS;
    const char *prec = cu->precision ? cu->precision : "";
    if (hostport_parse(cu->listen, host, sizeof(host), &port, NULL) != 0 ||
        lp_parse_precision(prec, strlen(prec), 0, &p) != 0)
        return IWR_EINVAL;
    struct sockaddr_storage ss;
    int rc = strchr(host, ':') ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss)
                               : uv_ip4_addr(host[0] ? host : "0.0.0.0", port,
                                             (struct sockaddr_in *)&ss);
    if (rc != 0)
        return rc;
    struct udp_listener *u = xcalloc(1, sizeof(*u));
    u->relay = r;
    u->addr = xstrdup(cu->listen);
    u->precision = p;
    u->rbuf = xmalloc(UDP_DATAGRAM_MAX);
    char label[160];
    snprintf(label, sizeof(label), "udp/udp/%s", cu->listen);
    u->sink = stream_sink_new(r, label, cu->database, cu->retention_policy, 0, NULL, NULL);
    uv_udp_init(r->loop, &u->udp);
    u->udp.data = u;
    *out = u;
    rc = uv_udp_bind(&u->udp, (struct sockaddr *)&ss, 0);
    if (rc == 0 && cu->read_buffer_bytes > 0) {
        int size = (int)cu->read_buffer_bytes;
        uv_recv_buffer_size((uv_handle_t *)&u->udp, &size);
    }
    if (rc == 0)
        rc = uv_udp_recv_start(&u->udp, on_udp_alloc, on_udp_recv);
    if (rc != 0)
        log_error("event=listen_failed proto=udp addr=%s err=\"%s\"", cu->listen, uv_strerror(rc));
    else
        log_info("event=listening proto=udp addr=%s db=%s", cu->listen, cu->database);
    return rc;
}

static void on_udp_closed(uv_handle_t *h)
{
    struct udp_listener *u = h->data;
    buf_deinit(&u->norm);
    free(u->addr);
    free(u->rbuf);
    free(u);
}

void udp_close_all(struct relay *r)
{
    for (size_t i = 0; i < r->n_udp; i++) {
        struct udp_listener *u = r->udp[i];
        r->udp[i] = NULL;
        if (u == NULL)
            continue;
        stream_sink_close(u->sink); /* commits what is batched */
        u->sink = NULL;
        uv_close((uv_handle_t *)&u->udp, on_udp_closed);
    }
}

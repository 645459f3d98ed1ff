/* UDP listeners: datagrams of line protocol for one configured database, retention policy and
 * precision. Lines are validated as they arrive and batched into one record, committed when
 * the batch reaches UDP_BATCH_BYTES or 100 ms after its first datagram. Malformed lines are
 * dropped and counted; UDP cannot be told "retry", so points lost to a full log are counted
 * too. Loop thread only. */
#include "relay/relay_int.h"

#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <inttypes.h>
#include <string.h>

#define UDP_BATCH_BYTES (1024 * 1024)
#define UDP_FLUSH_MS 100
#define UDP_DATAGRAM_MAX 65536

struct udp_listener {
    uv_udp_t udp;
    uv_timer_t timer;
    struct relay *relay;
    char *addr;
    char *db;
    char *rp;
    enum lp_precision precision;
    struct buf batch;
    size_t batch_points;
    uint64_t batch_recv_ns;
    char *rbuf;
    int handles_open;
};

struct udp_commit {
    struct relay *relay;
    size_t points;
};

static void udp_commit_done(void *arg, int rc, uint64_t seq)
{
    struct udp_commit *uc = arg;
    struct relay *r = uc->relay;
    (void)seq;
    if (rc == 0) {
        r->ctr.points_total += uc->points;
    } else {
        r->ctr.udp_dropped_points_total += uc->points;
        log_warn("event=udp_batch_dropped points=%zu err=\"%s\"", uc->points, iwr_strerror(rc));
    }
    free(uc);
}

static void udp_flush(struct udp_listener *u)
{
    uv_timer_stop(&u->timer);
    if (u->batch_points == 0)
        return;
    struct wal_record rec = {0};
    rec.recv_ns = u->batch_recv_ns;
    rec.points = (uint32_t)u->batch_points;
    rec.precision = LP_NS;
    rec.db = u->db;
    rec.db_len = strlen(u->db);
    rec.rp = u->rp ? u->rp : "";
    rec.rp_len = strlen(rec.rp);
    rec.body = u->batch.data;
    rec.body_len = u->batch.len;
    struct udp_commit *uc = xmalloc(sizeof(*uc));
    uc->relay = u->relay;
    uc->points = u->batch_points;
    wal_append(u->relay->wal, &rec, udp_commit_done, uc);
    buf_clear(&u->batch);
    u->batch_points = 0;
}

static void on_udp_timer(uv_timer_t *t)
{
    udp_flush(t->data);
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
    if (flags & UV_UDP_PARTIAL) {
        r->ctr.udp_rejected_lines_total++;
        log_warn("event=udp_datagram_truncated addr=%s", u->addr);
        return;
    }
    struct lp_result res;
    lp_result_init(&res);
    struct lp_options lo = {.allow_unsigned = r->cfg_limits.allow_unsigned, .max_errors = 1};
    uint64_t now = wal_now_ns();
    if (u->batch_points == 0)
        u->batch_recv_ns = now;
    lp_normalize(b->base, (size_t)n, u->precision, (int64_t)now, &lo, &u->batch, &res);
    u->batch_points += res.points;
    r->ctr.stamped_points_total += res.stamped;
    if (res.rejected > 0) {
        r->ctr.udp_rejected_lines_total += res.rejected;
        log_debug("event=udp_lines_rejected addr=%s count=%zu", u->addr, res.rejected);
    }
    lp_result_deinit(&res);
    if (u->batch.len >= UDP_BATCH_BYTES)
        udp_flush(u);
    else if (u->batch_points > 0 && !uv_is_active((uv_handle_t *)&u->timer))
        uv_timer_start(&u->timer, on_udp_timer, UDP_FLUSH_MS, 0);
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
    u->db = xstrdup(cu->database);
    u->rp = cu->retention_policy ? xstrdup(cu->retention_policy) : NULL;
    u->precision = p;
    u->rbuf = xmalloc(UDP_DATAGRAM_MAX);
    uv_udp_init(r->loop, &u->udp);
    uv_timer_init(r->loop, &u->timer);
    u->udp.data = u;
    u->timer.data = u;
    u->handles_open = 2;
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
        log_info("event=listening proto=udp addr=%s db=%s", cu->listen, u->db);
    return rc;
}

static void on_udp_closed(uv_handle_t *h)
{
    struct udp_listener *u = h->data;
    if (--u->handles_open > 0)
        return;
    buf_deinit(&u->batch);
    free(u->addr);
    free(u->db);
    free(u->rp);
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
        udp_flush(u);
        uv_close((uv_handle_t *)&u->udp, on_udp_closed);
        uv_close((uv_handle_t *)&u->timer, on_udp_closed);
    }
}

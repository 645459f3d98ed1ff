/* sink204: an HTTP endpoint that answers every request at once (204, keep-alive) and counts
 * the points, the lines, of every POST /write or /api/v2/write body, inflating it first when
 * it came with Content-Encoding: gzip (a backend's `gzip = true`, replay/request.c).
 * GET /count answers the total so far as one decimal number.
 *
 * It exists only for bench/ figures (issue 15: fan-out and delivery under load), standing in
 * for an InfluxDB that costs almost nothing, so that the relay's own CPU and speed show. It
 * is never a test's backend: tests use a real influxd.
 *
 *   sink204 PORT      listens on 127.0.0.1:PORT until killed
 *
 * One thread, one libuv loop; a connection's body is counted as it arrives, nothing kept. */
#include <llhttp.h>
#include <uv.h>
#include <zlib.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define READ_BUF (256u << 10)
#define NAME_MAX_LEN 32

struct conn {
    uv_tcp_t tcp;
    llhttp_t parser;
    char url[64];
    size_t url_len;
    char field[NAME_MAX_LEN], value[NAME_MAX_LEN];
    size_t field_len, value_len;
    int counted; /* this request's body is a write: count its lines */
    int gzip;
    z_stream z;
    int z_live;
    uint64_t lines;     /* newlines in this body so far */
    unsigned char last; /* the body's last byte, for a final line without a newline */
    int any;
};

static uint64_t total_points;
static llhttp_settings_t settings;
/* Reads are consumed before the callback returns and the loop is single-threaded: one buffer
 * serves every connection. */
static char read_buf[READ_BUF];
static unsigned char inflate_buf[READ_BUF];

static const char resp_204[] = "HTTP/1.1 204 No Content\r\n\r\n";
static const char resp_query[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 "Content-Length: 33\r\n\r\n{\"results\":[{\"statement_id\":0}]}";

struct write_req {
    uv_write_t req;
    char *owned; /* NULL for the static answers */
};

static void on_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    if (c->z_live)
        inflateEnd(&c->z);
    free(c);
}

static void conn_close(struct conn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_written(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    if (status < 0)
        conn_close(req->handle->data);
    free(w->owned);
    free(w);
}

static void send_text(struct conn *c, const char *text, size_t len, char *owned)
{
    struct write_req *w = malloc(sizeof(*w));
    if (w == NULL)
        abort();
    w->owned = owned;
    uv_buf_t b = uv_buf_init((char *)text, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
        free(owned);
        free(w);
        conn_close(c);
    }
}

static void count_bytes(struct conn *c, const unsigned char *p, size_t n)
{
    if (n == 0)
        return;
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += p[i] == '\n';
    c->lines += k;
    c->last = p[n - 1];
    c->any = 1;
}

static void span_append(char *dst, size_t *len, size_t cap, const char *at, size_t n)
{
    size_t room = cap - 1 - *len;
    if (n > room)
        n = room;
    memcpy(dst + *len, at, n);
    *len += n;
    dst[*len] = '\0';
}

static int on_message_begin(llhttp_t *p)
{
    struct conn *c = p->data;
    c->url_len = c->field_len = c->value_len = 0;
    c->url[0] = c->field[0] = c->value[0] = '\0';
    c->counted = c->gzip = c->any = 0;
    c->lines = 0;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    struct conn *c = p->data;
    span_append(c->url, &c->url_len, sizeof(c->url), at, n);
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    struct conn *c = p->data;
    span_append(c->field, &c->field_len, sizeof(c->field), at, n);
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    struct conn *c = p->data;
    span_append(c->value, &c->value_len, sizeof(c->value), at, n);
    return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    struct conn *c = p->data;
    if (strcasecmp(c->field, "content-encoding") == 0 && strcasecmp(c->value, "gzip") == 0)
        c->gzip = 1;
    c->field_len = c->value_len = 0;
    c->field[0] = c->value[0] = '\0';
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    struct conn *c = p->data;
    c->counted = llhttp_get_method(p) == HTTP_POST &&
                 (strncmp(c->url, "/write", 6) == 0 || strncmp(c->url, "/api/v2/write", 13) == 0);
    if (c->counted && c->gzip) {
        if (c->z_live)
            inflateReset2(&c->z, 16 + MAX_WBITS);
        else if (inflateInit2(&c->z, 16 + MAX_WBITS) == Z_OK)
            c->z_live = 1;
        else
            return -1;
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    struct conn *c = p->data;
    if (!c->counted)
        return 0;
    if (!c->gzip) {
        count_bytes(c, (const unsigned char *)at, n);
        return 0;
    }
    c->z.next_in = (unsigned char *)at;
    c->z.avail_in = (unsigned)n;
    while (c->z.avail_in > 0) {
        c->z.next_out = inflate_buf;
        c->z.avail_out = sizeof(inflate_buf);
        int zrc = inflate(&c->z, Z_NO_FLUSH);
        count_bytes(c, inflate_buf, sizeof(inflate_buf) - c->z.avail_out);
        if (zrc == Z_STREAM_END)
            break;
        if (zrc != Z_OK && zrc != Z_BUF_ERROR)
            return -1;
    }
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct conn *c = p->data;
    if (c->counted)
        total_points += c->lines + (c->any && c->last != '\n');
    if (llhttp_get_method(p) == HTTP_GET && strncmp(c->url, "/count", 6) == 0) {
        char body[32];
        int bn = snprintf(body, sizeof(body), "%" PRIu64 "\n", total_points);
        char *msg = malloc(128);
        if (msg == NULL)
            abort();
        int n = snprintf(msg, 128, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", bn, body);
        send_text(c, msg, (size_t)n, msg);
    } else if (strncmp(c->url, "/query", 6) == 0) {
        send_text(c, resp_query, sizeof(resp_query) - 1, NULL);
    } else {
        send_text(c, resp_204, sizeof(resp_204) - 1, NULL);
    }
    return 0;
}

static void on_alloc(uv_handle_t *h, size_t want, uv_buf_t *b)
{
    (void)h;
    (void)want;
    *b = uv_buf_init(read_buf, sizeof(read_buf));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = s->data;
    if (n < 0) {
        conn_close(c);
        return;
    }
    if (n > 0 && llhttp_execute(&c->parser, b->base, (size_t)n) != HPE_OK)
        conn_close(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    llhttp_init(&c->parser, HTTP_REQUEST, &settings);
    c->parser.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: sink204 PORT\n");
        return 2;
    }
    llhttp_settings_init(&settings);
    settings.on_message_begin = on_message_begin;
    settings.on_url = on_url;
    settings.on_header_field = on_header_field;
    settings.on_header_value = on_header_value;
    settings.on_header_value_complete = on_header_value_complete;
    settings.on_headers_complete = on_headers_complete;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;

    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", atoi(argv[1]), &addr);
    uv_tcp_init(loop, &server);
    int rc = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&server, 128, on_connection);
    if (rc != 0) {
        fprintf(stderr, "sink204: 127.0.0.1:%s: %s\n", argv[1], uv_strerror(rc));
        return 1;
    }
    return uv_run(loop, UV_RUN_DEFAULT);
}

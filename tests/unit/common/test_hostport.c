/* common/hostport.c: listen addresses, IPv4 and bracketed IPv6, the ports, and what is refused. */
#include "common/hostport.h"

#include "common/err.h"
#include "tests/unit/tap.h"

#include <string.h>

static void test_hostport(void)
{
    static const struct {
        const char *s;
        const char *host;
        int port;
    } good[] = {
        {"127.0.0.1:9096", "127.0.0.1", 9096}, {"0.0.0.0:0", "0.0.0.0", 0},
        {"[::1]:8089", "::1", 8089},           {"[::]:65535", "::", 65535},
        {"[2001:db8::1]:1", "2001:db8::1", 1},
    };
    static const char *const bad[] = {
        "localhost:9096",
        ":9096",
        "127.0.0.1",
        "127.0.0.1:",
        "127.0.0.1:65536",
        "127.0.0.1:x",
        "127.0.0.1:-1",
        "127.0.0.1:000001",
        "[::1]9096",
        "[::1]",
        "::1:9096",
        "[::1:9096",
        "[]:1",
        "1.2.3:4",
        "",
        "[1.2.3.4]:5",
        "256.0.0.1:1",
        " 1.2.3.4:5",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char host[64] = "";
        int port = -1;
        int rc = hostport_parse(good[i].s, host, sizeof(host), &port, NULL);
        CHECK(rc == 0 && strcmp(host, good[i].host) == 0 && port == good[i].port,
              "hostport \"%s\" = %s port %d (got rc %d, %s, %d)", good[i].s, good[i].host,
              good[i].port, rc, host, port);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int port = -1;
        CHECK(hostport_parse(bad[i], NULL, 0, &port, NULL) == IWR_EPARSE && port == -1,
              "hostport \"%s\" is refused", bad[i]);
    }
    char tiny[4];
    CHECK_EQ_INT(hostport_parse("127.0.0.1:1", tiny, sizeof(tiny), NULL, NULL), IWR_EPARSE,
                 "a host that does not fit the buffer is refused");
    CHECK_EQ_INT(hostport_parse("127.0.0.1:1", NULL, 0, NULL, NULL), 0, "check only");
}

int main(void)
{
    test_hostport();
    return tap_done();
}

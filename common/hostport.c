/* Listen addresses, "IPV4:PORT" or "[IPV6]:PORT": the config checks them with the reason, the
 * relay parses them again to bind. Pure; any thread. */
#include "common/hostport.h"

#include "common/err.h"

#include <arpa/inet.h>
#include <string.h>

/* Why 's' is not "HOST:PORT", or NULL with the host (brackets removed) and port set. */
static const char *hostport_why(const char *s, char *host, size_t host_cap, int *port)
{
    static const char *const shape = "is not HOST:PORT, e.g. 127.0.0.1:9096 or [::1]:9096";
    const char *h, *colon;
    size_t hlen;
    int v6 = s[0] == '[';
    if (v6) {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return shape;
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return shape;
        h = s;
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0)
        return "has no host; use 0.0.0.0:PORT or [::]:PORT for every interface";
    char tmp[64];
    unsigned char addr[16];
    if (hlen >= sizeof(tmp))
        return "has a host that is not an IP address (hostnames are not resolved here)";
    memcpy(tmp, h, hlen);
    tmp[hlen] = '\0';
    if (inet_pton(v6 ? AF_INET6 : AF_INET, tmp, addr) != 1)
        return v6 ? "has a bad IPv6 address"
                  : "has a host that is not an IP address (IPv6 goes in brackets; hostnames are "
                    "not resolved here)";
    const char *p = colon + 1;
    long v = 0;
    if (*p == '\0' || strlen(p) > 5)
        return "has a bad port; use 0 to 65535";
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return "has a bad port; use 0 to 65535";
        v = v * 10 + (*p - '0');
    }
    if (v > 65535)
        return "has a bad port; use 0 to 65535";
    if (host != NULL && host_cap > 0) {
        if (hlen >= host_cap)
            return "has a host too long for the caller's buffer";
        memcpy(host, h, hlen);
        host[hlen] = '\0';
    }
    if (port != NULL)
        *port = (int)v;
    return NULL;
}
int hostport_parse(const char *s, char *host, size_t host_cap, int *port, const char **why)
{
    const char *w = hostport_why(s, host, host_cap, port);
    if (why != NULL)
        *why = w;
    return w == NULL ? 0 : IWR_EPARSE;
}

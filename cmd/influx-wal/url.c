/* The CLI's check of a backend URL given on the command line (audit --url). */
#include "cmd/influx-wal/cli.h"

#include "common/err.h"

#include <curl/curl.h>
#include <string.h>

int cli_url(struct cli *cli, const char *opt, const char *url)
{
    /* libcurl's parser refuses what it could not send to (no host, a bad port, spaces or
     * control bytes); the scheme must be written in lower case, as replay/ and the daemon's
     * config take it. */
    CURLU *u = curl_url();
    IWR_ASSERT(u != NULL); /* only fails out of memory */
    char *scheme = NULL;
    int ok = strlen(url) <= 200 && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
             (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) &&
             strncmp(url, scheme, strlen(scheme)) == 0 &&
             strncmp(url + strlen(scheme), "://", 3) == 0;
    curl_free(scheme);
    curl_url_cleanup(u);
    return ok ? 0 : cli_usage(cli, "%s: '%s' is not an http:// or https:// URL", opt, url);
}

/* The CLI's check of a backend URL given on the command line: the daemon's own (config/'s
 * config_url_why, libcurl's URL API), so that what one command accepts the others do too (audit
 * prints `replay --to` lines with its --url). */
#include "cmd/influx-wal/cli.h"

#include "config/config.h"

#include <string.h>
#include <strings.h>

int cli_url(struct cli *cli, const char *opt, const char *url)
{
    const char *why = config_url_why(url);
    if (why == NULL && strlen(url) <= 200)
        return 0;
    /* The reason only when it is about an http(s) URL; else the first words say it all. */
    int say = why != NULL && strncasecmp(url, "http", 4) == 0;
    return cli_usage(cli, "%s: '%s' is not an http:// or https:// URL%s%s", opt, url,
                     say ? ": it " : "", say ? why : "");
}

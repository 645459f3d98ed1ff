/* Finding a backend by name for the commands that talk to backends (scrub, rebuild): from
 * --url NAME=URL on the command line, else from the daemon's config file, whose [[backend]]
 * tables give the URL, credentials, CA file and timeout. Also the pre-pass for options given
 * more than once. */
#include "cmd/influx-wal/influx.h"

#include "common/xalloc.h"
#include "config/config.h"
#include "replay/generation.h"

#include <string.h>
#include <unistd.h>

#define PACKAGED_CONFIG "/etc/influx-wal-relay/relay.toml"

int cli_take_all(struct cli *cli, const char *opt, const char **vals, size_t max, size_t *n)
{
    int keep = 0;
    *n = 0;
    for (int i = 0; i < cli->argc; i++) {
        if (strcmp(cli->argv[i], opt) != 0) {
            cli->argv[keep++] = cli->argv[i];
            continue;
        }
        if (i + 1 >= cli->argc)
            return cli_usage(cli, "%s needs a value", opt);
        if (*n == max)
            return cli_usage(cli, "%s: at most %zu", opt, max);
        vals[(*n)++] = cli->argv[++i];
    }
    cli->argc = keep;
    return 0;
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? xstrdup(s) : NULL;
}

static void set_url(struct cli_backend *out, const char *url, size_t len)
{
    while (len > 0 && url[len - 1] == '/')
        len--;
    out->url = xstrndup(url, len);
}

int cli_backend_resolve(struct cli *cli, const char *config_path, const char *const *urls,
                        size_t n_urls, const char *name, struct cli_backend *out)
{
    memset(out, 0, sizeof(*out));
    if (!wal_name_valid(name))
        return cli_usage(cli, "'%s' is not a backend name", name);
    snprintf(out->name, sizeof(out->name), "%s", name);
    size_t nlen = strlen(name);
    for (size_t i = 0; i < n_urls; i++) {
        const char *eq = strchr(urls[i], '=');
        if (eq == NULL || eq == urls[i])
            return cli_usage(cli, "--url: '%s' is not NAME=URL", urls[i]);
        if ((size_t)(eq - urls[i]) != nlen || memcmp(urls[i], name, nlen) != 0)
            continue;
        if (cli_url(cli, "--url", eq + 1) != 0)
            return 2;
        set_url(out, eq + 1, strlen(eq + 1));
        out->from = "--url";
        return 0;
    }
    const char *path = config_path;
    if (path == NULL && access(PACKAGED_CONFIG, R_OK) == 0)
        path = PACKAGED_CONFIG;
    if (path == NULL)
        return cli_fail(cli,
                        "no backend '%s': no --url %s=URL and no --config FILE (%s is not "
                        "readable)",
                        name, name, PACKAGED_CONFIG);
    struct config c;
    char err[512];
    config_defaults(&c);
    if (config_load_file(&c, path, err, sizeof(err)) != 0) {
        config_deinit(&c);
        return cli_fail(cli, "%s", err);
    }
    const struct replay_backend_opts *b = config_find_backend(&c, name);
    if (b == NULL) {
        config_deinit(&c);
        return cli_fail(cli, "no backend '%s' in %s and no --url %s=...", name, path, name);
    }
    if (b->api != REPLAY_API_V1) {
        /* Both users (scrub, rebuild) read with InfluxQL and influxd's own tools. */
        int frc =
            cli_fail(cli, "backend '%s' is api = \"%s\": %s is for v1 (InfluxDB 1.x) backends only",
                     name, replay_api_name(b->api), cli->cmd->name);
        config_deinit(&c);
        return frc;
    }
    set_url(out, b->url, strlen(b->url));
    out->username = dup_or_null(b->username);
    out->password = dup_or_null(b->password);
    out->token = dup_or_null(b->token);
    out->ca_file = dup_or_null(b->ca_file);
    out->insecure_skip_verify = b->insecure_skip_verify;
    out->timeout_ms = b->timeout_ms > 60000 ? b->timeout_ms : 60000; /* queries scan a lot */
    out->from = config_path != NULL ? config_path : PACKAGED_CONFIG;
    config_deinit(&c);
    return 0;
}

void cli_backend_deinit(struct cli_backend *b)
{
    free(b->url);
    free(b->username);
    free(b->password);
    free(b->token);
    free(b->ca_file);
    memset(b, 0, sizeof(*b));
}

/* The [[backend]] keys of the InfluxDB generations: api = "v1" | "v2" | "v3" and the keys of
 * each (org, bucket-template; database-template, accept-partial, no-sync), their defaults and
 * the combinations config_validate refuses. */
#include "tests/unit/tap.h"

#include "config/config.h"
#include "replay/generation.h"

#include <string.h>

static char err[512];
static struct config cfg;

static int load_and_validate(const char *text)
{
    config_deinit(&cfg);
    config_defaults(&cfg);
    err[0] = '\0';
    int rc = config_load_string(&cfg, "t", text, strlen(text), err, sizeof(err));
    return rc != 0 ? rc : config_validate(&cfg, err, sizeof(err));
}

int main(void)
{
    config_defaults(&cfg);
    int rc = load_and_validate("[[backend]]\nname = \"a\"\nurl = \"http://h:8086\"\n"
                               "[[backend]]\nname = \"b\"\nurl = \"http://h:8087\"\napi = \"v2\"\n"
                               "org = \"o\"\ntoken = \"t\"\nbucket-template = \"{db}\"\n"
                               "[[backend]]\nname = \"c\"\nurl = \"http://h:8181\"\napi = \"v3\"\n"
                               "database-template = \"{db}_{rp}\"\naccept-partial = true\n"
                               "no-sync = true\n");
    CHECK(rc == 0, "three kinds load and validate: %s", err);
    const struct replay_backend_opts *a = config_find_backend(&cfg, "a");
    const struct replay_backend_opts *b = config_find_backend(&cfg, "b");
    const struct replay_backend_opts *c = config_find_backend(&cfg, "c");
    CHECK(a && a->api == REPLAY_API_V1 && a->org == NULL, "api defaults to v1");
    CHECK(b && b->api == REPLAY_API_V2 && strcmp(b->org, "o") == 0 &&
              strcmp(b->bucket_template, "{db}") == 0,
          "v2 keys");
    CHECK(c && c->api == REPLAY_API_V3 && strcmp(c->database_template, "{db}_{rp}") == 0 &&
              c->accept_partial && c->no_sync,
          "v3 keys");
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"api = \"v4\"\n", "is not one of v1, v2, v3"},
        {"api = 2\n", "string"},
        {"api = \"v2\"\n", "needs org"},
        {"api = \"v2\"\norg = \"\"\n", "needs org"},
        {"org = \"o\"\n", "org and bucket-template are for api = \"v2\""},
        {"api = \"v3\"\nbucket-template = \"{db}\"\n", "org and bucket-template are for"},
        {"accept-partial = true\n", "are for api = \"v3\""},
        {"api = \"v2\"\norg = \"o\"\nno-sync = true\n", "are for api = \"v3\""},
        {"api = \"v3\"\ncreate-database = true\n", "create-database is for api = \"v1\""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text), "[[backend]]\nname = \"x\"\nurl = \"http://h:1\"\n%s",
                 bad[i].text);
        rc = load_and_validate(text);
        CHECK(rc != 0 && strstr(err, bad[i].want) != NULL, "refused #%zu: %s (got: %s)", i,
              bad[i].want, err);
    }
    rc = load_and_validate("[[backend]]\nname = \"x\"\nurl = \"http://h:1\"\norg = \"\"\n"
                           "database-template = \"\"\n");
    CHECK(rc == 0, "empty v2/v3 strings on a v1 backend are as absent (the packaged file): %s",
          err);
    /* The background scrub compares InfluxQL counts: a v2 or v3 backend in [scrub] backends is
     * a config error, as influx-wal scrub refuses one; a v1 pair beside them is fine. */
    static const char kinds[] =
        "[[backend]]\nname = \"a\"\nurl = \"http://h:8086\"\n"
        "[[backend]]\nname = \"a2\"\nurl = \"http://h:8088\"\n"
        "[[backend]]\nname = \"b\"\nurl = \"http://h:8087\"\napi = \"v2\"\norg = \"o\"\n"
        "[[backend]]\nname = \"c\"\nurl = \"http://h:8181\"\napi = \"v3\"\n";
    char text[1024];
    snprintf(text, sizeof(text), "%s[scrub]\nenabled = true\nbackends = [\"a\", \"a2\"]\n", kinds);
    rc = load_and_validate(text);
    CHECK(rc == 0, "scrub of two v1 backends beside v2/v3 ones: %s", err);
    snprintf(text, sizeof(text), "%s[scrub]\nenabled = true\nbackends = [\"a\", \"b\"]\n", kinds);
    rc = load_and_validate(text);
    CHECK(rc != 0 && strstr(err, "scrub.backends: \"b\" is api = \"v2\"") != NULL &&
              strstr(err, "v1\" backends only") != NULL && strchr(err, '\n') == NULL,
          "scrub naming a v2 backend refused in one line (got: %s)", err);
    snprintf(text, sizeof(text), "%s[scrub]\nbackends = [\"c\", \"a\"]\n", kinds);
    rc = load_and_validate(text);
    CHECK(rc != 0 && strstr(err, "scrub.backends: \"c\" is api = \"v3\"") != NULL,
          "scrub naming a v3 backend refused, enabled or not (got: %s)", err);
    config_deinit(&cfg);
    return tap_done();
}

/* config/shard.c: [[shard]] and [sharding] loading, the --shard flag, and the checks
 * (a backend in two shards, in none while shards exist, an unknown backend). */
#include "config/config.h"

#include "common/err.h"
#include "tests/unit/tap.h"

#include <string.h>

static char err[512];
static struct config cfg;

static const char backends4[] = "[[backend]]\nname = \"a1\"\nurl = \"http://127.0.0.1:1\"\n"
                                "[[backend]]\nname = \"a2\"\nurl = \"http://127.0.0.1:2\"\n"
                                "[[backend]]\nname = \"b1\"\nurl = \"http://127.0.0.1:3\"\n"
                                "[[backend]]\nname = \"b2\"\nurl = \"http://127.0.0.1:4\"\n";

/* Load backends4 followed by 'more', then validate; the first failing step's code. */
static int load_validate(const char *more)
{
    char text[2048];
    snprintf(text, sizeof(text), "%s%s", backends4, more);
    config_deinit(&cfg);
    config_defaults(&cfg);
    err[0] = '\0';
    int rc = config_load_string(&cfg, "t", text, strlen(text), err, sizeof(err));
    if (rc == 0)
        rc = config_validate(&cfg, err, sizeof(err));
    return rc;
}

static void test_none(void)
{
    CHECK_EQ_INT(load_validate(""), 0, "no [[shard]]: valid");
    CHECK_EQ_INT((long)cfg.n_shards, 0, "no shards");
    CHECK(cfg.n_shard_key == 2 && strcmp(cfg.shard_key[0], "database") == 0 &&
              strcmp(cfg.shard_key[1], "measurement") == 0,
          "default key: database, measurement");
    CHECK(config_shard_of(&cfg, "a1") == NULL, "a backend is in no shard");
}

static void test_load(void)
{
    int rc = load_validate("[[shard]]\nname = \"s1\"\nbackends = [\"a1\", \"a2\"]\n"
                           "[[shard]]\nname = \"s2\"\nbackends = [\"b1\", \"b2\"]\n"
                           "[sharding]\nkey = [\"database\", \"measurement\", \"tag:host\"]\n");
    CHECK_EQ_INT(rc, 0, "two shards: valid");
    CHECK_EQ_STR(err, "", "no error");
    CHECK_EQ_INT((long)cfg.n_shards, 2, "two shards");
    CHECK(cfg.n_shard_key == 3 && strcmp(cfg.shard_key[2], "tag:host") == 0, "key with a tag");
    const struct cfg_shard *s = config_shard_of(&cfg, "b2");
    CHECK(s != NULL && strcmp(s->name, "s2") == 0, "b2 is in s2");
    rc = load_validate("[[shard]]\nname = \"s1\"\nbackends = [\"a1\", \"a2\"]\n"
                       "[[shard]]\nname = \"s2\"\nbackends = [\"b1\", \"b2\"]\n"
                       "[scrub]\nenabled = true\nbackends = [\"b1\", \"b2\"]\n");
    CHECK_EQ_INT(rc, 0, "a scrub of one shard's mirrors: valid");
    CHECK_EQ_STR(err, "", "no error");
}

static void test_errors(void)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"[[shard]]\nname = \"s1\"\nbackends = [\"a1\", \"a2\"]\n"
         "[[shard]]\nname = \"s2\"\nbackends = [\"a2\", \"b1\", \"b2\"]\n",
         "backend 'a2' is in two shards ('s1' and 's2')"},
        {"[[shard]]\nname = \"s1\"\nbackends = [\"a1\", \"a2\", \"b1\"]\n",
         "backend 'b2' is in no shard: with [[shard]], every backend must be in one"},
        {"[[shard]]\nname = \"s1\"\nbackends = [\"a1\", \"a2\", \"b1\", \"b2\", \"c9\"]\n",
         "shard 's1': backend 'c9' is not a [[backend]]"},
        {"[[shard]]\nname = \"s1\"\nbackends = [\"a1\", \"a1\", \"a2\", \"b1\", \"b2\"]\n",
         "shard 's1': backend 'a1' is listed twice"},
        {"[[shard]]\nname = \"s1\"\nbackends = [\"a1\", \"a2\"]\n"
         "[[shard]]\nname = \"s1\"\nbackends = [\"b1\", \"b2\"]\n",
         "shard name 's1' is used twice"},
        {"[[shard]]\nname = \"s1\"\n", "t:13: [[shard]] needs 'backends'"},
        {"[[shard]]\nbackends = [\"a1\"]\n", "t:13: [[shard]] needs 'name'"},
        {"[sharding]\nkey = [\"host\"]\n",
         "t:14: sharding.key: 'host' is not database, measurement or tag:NAME"},
        {"[sharding]\nkey = []\n", "sharding.key must not be empty"},
        {"[[shard]]\nname = \"s1\"\nbackends = [\"a1\", \"a2\", \"b1\", \"b2\"]\n"
         "[scrub]\nenabled = true\n",
         "scrub.backends must name backends of one shard when there are shards (it compares "
         "mirrors)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = load_validate(cases[i].text);
        CHECK_EQ_INT(rc, IWR_EPARSE, "refused");
        CHECK_EQ_STR(err, cases[i].want, "its message");
    }
}

static void test_flag(void)
{
    CHECK_EQ_INT(load_validate("[[shard]]\nname = \"s1\"\nbackends = [\"a1\", \"a2\"]\n"
                               "[[shard]]\nname = \"s2\"\nbackends = [\"b1\", \"b2\"]\n"),
                 0, "file shards");
    CHECK_EQ_INT(config_add_shard_flag(&cfg, "x=a1,b1", err, sizeof(err)), 0, "flag x");
    CHECK_EQ_INT(config_add_shard_flag(&cfg, "y=a2,b2", err, sizeof(err)), 0, "flag y");
    CHECK_EQ_INT((long)cfg.n_shards, 2, "the flags replace the file's shards");
    CHECK_EQ_INT(config_validate(&cfg, err, sizeof(err)), 0, "valid");
    const struct cfg_shard *s = config_shard_of(&cfg, "b1");
    CHECK(s != NULL && strcmp(s->name, "x") == 0 && s->n_backends == 2, "b1 is in x");
    static const char *const bad[] = {"x", "=a1", "x=", "x=a1,,a2", "x=a1,", "a/b=a1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_EQ_INT(config_add_shard_flag(&cfg, bad[i], err, sizeof(err)), IWR_EPARSE, bad[i]);
}

int main(void)
{
    config_defaults(&cfg);
    test_none();
    test_load();
    test_errors();
    test_flag();
    config_deinit(&cfg);
    return tap_done();
}

/* config/: defaults, our full layout, the influxdb-relay layout (the example file and
 * its mapping rules), every load error with its line, sizes and durations with their overflows,
 * addresses and URLs, the flags, config_validate, and the packaged relay.toml. Run from the
 * repository root (tests/run.sh does), where packaging/ is. */
#include "config/config.h"

#include "common/err.h"
#include "common/log.h"
#include "tests/unit/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char err[512];
static struct config cfg;

/* Load 'text' as file "t" into a fresh default config. */
static int load(const char *text)
{
    config_deinit(&cfg);
    config_defaults(&cfg);
    err[0] = '\0';
    return config_load_string(&cfg, "t", text, strlen(text), err, sizeof(err));
}

static const struct replay_backend_opts *backend(const char *name)
{
    for (size_t i = 0; i < cfg.n_backends; i++)
        if (strcmp(cfg.backends[i].name, name) == 0)
            return &cfg.backends[i];
    return NULL;
}

static int validate(void)
{
    err[0] = '\0';
    return config_validate(&cfg, err, sizeof(err));
}

static void test_defaults(void)
{
    config_defaults(&cfg);
    CHECK(cfg.path == NULL, "defaults: no path");
    CHECK_EQ_INT(cfg.n_listen, 1, "defaults: one listen address");
    CHECK_EQ_STR(cfg.n_listen ? cfg.listen[0] : NULL, "127.0.0.1:9096", "defaults: listen");
    CHECK_EQ_INT(cfg.max_body_bytes, 25000000, "defaults: max body 25 MB");
    CHECK_EQ_INT(cfg.max_inflated_bytes, 100000000, "defaults: max inflated 4 x body");
    CHECK_EQ_INT(cfg.max_connections, 1024, "defaults: max connections");
    CHECK_EQ_INT(cfg.max_header_bytes, 65536, "defaults: max header 64 KiB");
    CHECK_EQ_INT(cfg.idle_timeout_ms, 60000, "defaults: idle timeout");
    CHECK_EQ_INT(cfg.read_timeout_ms, 30000, "defaults: read timeout");
    CHECK_EQ_INT(cfg.statement_timeout_ms, 10000, "defaults: statement timeout");
    CHECK_EQ_INT(cfg.allow_unsigned, 0, "defaults: allow_unsigned off");
    CHECK_EQ_INT(cfg.auth_enabled, 0, "defaults: auth off");
    CHECK_EQ_INT(cfg.status_public, 0, "defaults: status page not public");
    CHECK_EQ_INT(cfg.n_users, 0, "defaults: no users");
    CHECK_EQ_STR(cfg.data_dir, "./data", "defaults: data dir");
    CHECK_EQ_INT(cfg.max_bytes, 1073741824, "defaults: log limit 1 GiB");
    CHECK_EQ_INT(cfg.full_policy, WAL_FULL_REJECT, "defaults: reject when full");
    CHECK_EQ_INT(cfg.sync, 1, "defaults: sync on");
    CHECK_EQ_INT(cfg.retain_ms, 0, "defaults: retain 0");
    CHECK_EQ_INT(cfg.min_free_bytes, 64 << 20, "defaults: min free 64 MiB");
    CHECK_EQ_STR(cfg.log_level, "info", "defaults: log level");
    CHECK_EQ_INT(cfg.n_backends, 1, "defaults: one backend");
    const struct replay_backend_opts *b = cfg.n_backends ? &cfg.backends[0] : NULL;
    CHECK_EQ_STR(b ? b->name : NULL, "local", "defaults: backend name");
    CHECK_EQ_STR(b ? b->url : NULL, "http://127.0.0.1:8086", "defaults: backend url");
    CHECK(b && !b->username && !b->password && !b->token && !b->ca_file,
          "defaults: no credentials, system CAs");
    CHECK(b && !b->insecure_skip_verify && !b->gzip && !b->create_database,
          "defaults: backend flags off");
    CHECK_EQ_INT(b ? b->timeout_ms : 0, 10000, "defaults: backend timeout");
    CHECK_EQ_INT(b ? b->connect_timeout_ms : 0, 2000, "defaults: connect timeout");
    CHECK_EQ_INT(b ? b->batch_max_bytes : 0, 4 << 20, "defaults: batch bytes");
    CHECK_EQ_INT(b ? b->batch_max_points : 0, 5000, "defaults: batch points");
    CHECK_EQ_INT(b ? b->max_in_flight : 0, 4, "defaults: at most 4 in flight");
    CHECK_EQ_INT(b ? b->min_in_flight : 0, 1, "defaults: at least 1 in flight");
    CHECK_EQ_INT(b ? b->batch_min_bytes : 0, 16 << 10, "defaults: batches down to 16 KiB");
    CHECK_EQ_INT(b ? b->retry_max_delay_ms : 0, 30000, "defaults: retry cap");
    CHECK_EQ_INT(b ? (int)b->start : -1, REPLAY_START_LATEST, "defaults: start latest");
    CHECK(b && b->give_up_after_ms == 0 && b->give_up_bytes == 0, "defaults: never give up");
    CHECK_EQ_INT(cfg.n_udp, 0, "defaults: no UDP");
    CHECK_EQ_INT(validate(), 0, "defaults validate");
    config_deinit(&cfg);
    CHECK(cfg.listen == NULL && cfg.backends == NULL && cfg.n_backends == 0,
          "config_deinit clears the struct");
    config_defaults(&cfg);
}

static const char full_layout[] = "[http]\n"
                                  "listen = [\"127.0.0.1:9096\", \"[::1]:9097\"]\n"
                                  "max-body-size = \"10MB\"\n"
                                  "max-inflated-size = \"64MiB\"\n"
                                  "max-connections = 10\n"
                                  "max-header-size = \"8KiB\"\n"
                                  "idle-timeout = \"5m\"\n"
                                  "read-timeout = \"1500ms\"\n"
                                  "allow-unsigned = true\n"
                                  "[auth]\n"
                                  "enabled = true\n"
                                  "status-public = true\n"
                                  "[[auth.user]]\n"
                                  "name = \"writer\"\n"
                                  "password = \"secret\"\n"
                                  "[[auth.user]]\n"
                                  "name = \"other\"\n"
                                  "password = \"pw\"\n"
                                  "admin = true\n"
                                  "[query]\n"
                                  "statement-timeout = \"2500ms\"\n"
                                  "[wal]\n"
                                  "dir = \"/var/lib/x\"\n"
                                  "max-size = \"2GiB\"\n"
                                  "full-policy = \"drop-oldest\"\n"
                                  "sync = false\n"
                                  "retain = \"7d\"\n"
                                  "min-free = \"1GB\"\n"
                                  "[log]\n"
                                  "level = \"debug\"\n"
                                  "[[backend]]\n"
                                  "name = \"a\"\n"
                                  "url = \"http://127.0.0.1:8086/write\"\n"
                                  "username = \"u\"\n"
                                  "password = \"p\"\n"
                                  "token = \"tok\"\n"
                                  "ca-file = \"/etc/ca.pem\"\n"
                                  "insecure-skip-verify = true\n"
                                  "gzip = true\n"
                                  "timeout = \"20s\"\n"
                                  "connect-timeout = \"3s\"\n"
                                  "batch-max-bytes = \"1MiB\"\n"
                                  "batch-max-points = 100\n"
                                  "batch-min-bytes = \"8KiB\"\n"
                                  "min-in-flight = 2\n"
                                  "max-in-flight = 4\n"
                                  "retry-max-delay = \"1m\"\n"
                                  "start = \"earliest\"\n"
                                  "create-database = true\n"
                                  "give-up-after = \"2h\"\n"
                                  "give-up-size = \"10GiB\"\n"
                                  "[[backend]]\n"
                                  "name = \"b.2_x-y\"\n"
                                  "url = \"https://influx.example.com/\"\n"
                                  "username = \"\"\n"
                                  "ca-file = \"\"\n"
                                  "[[udp]]\n"
                                  "listen = \"127.0.0.1:8089\"\n"
                                  "database = \"telegraf\"\n"
                                  "retention-policy = \"weekly\"\n"
                                  "precision = \"s\"\n"
                                  "read-buffer = \"8MiB\"\n"
                                  "[[udp]]\n"
                                  "listen = \"[::1]:8089\"\n"
                                  "database = \"db2\"\n"
                                  "retention-policy = \"\"\n"
                                  "precision = \"\"\n";

static void test_full_layout(void)
{
    int rc = load(full_layout);
    CHECK_EQ_INT(rc, 0, "our full layout loads");
    if (rc != 0)
        printf("#   %s\n", err);
    CHECK_EQ_STR(cfg.path, "t", "path is the name");
    CHECK_EQ_INT(cfg.n_listen, 2, "two listen addresses");
    CHECK_EQ_STR(cfg.n_listen > 1 ? cfg.listen[1] : NULL, "[::1]:9097", "IPv6 listen address");
    CHECK_EQ_INT(cfg.max_body_bytes, 10000000, "max-body-size");
    CHECK_EQ_INT(cfg.max_inflated_bytes, 64 << 20, "max-inflated-size");
    CHECK_EQ_INT(cfg.max_connections, 10, "max-connections");
    CHECK_EQ_INT(cfg.max_header_bytes, 8192, "max-header-size");
    CHECK_EQ_INT(cfg.idle_timeout_ms, 300000, "idle-timeout");
    CHECK_EQ_INT(cfg.read_timeout_ms, 1500, "read-timeout");
    CHECK_EQ_INT(cfg.allow_unsigned, 1, "allow-unsigned");
    CHECK_EQ_INT(cfg.auth_enabled, 1, "auth enabled");
    CHECK_EQ_INT(cfg.status_public, 1, "auth status-public");
    CHECK_EQ_INT(cfg.n_users, 2, "two users");
    CHECK_EQ_STR(cfg.n_users ? cfg.users[0].name : NULL, "writer", "user name");
    CHECK_EQ_STR(cfg.n_users ? cfg.users[0].password : NULL, "secret", "user password");
    CHECK_EQ_STR(cfg.n_users > 1 ? cfg.users[1].name : NULL, "other", "second user");
    CHECK_EQ_INT(cfg.n_users ? cfg.users[0].admin : -1, 0, "admin defaults to false");
    CHECK_EQ_INT(cfg.n_users > 1 ? cfg.users[1].admin : -1, 1, "admin = true");
    CHECK_EQ_INT(cfg.statement_timeout_ms, 2500, "query.statement-timeout");
    CHECK_EQ_STR(cfg.data_dir, "/var/lib/x", "wal.dir");
    CHECK_EQ_INT(cfg.max_bytes, 2147483648LL, "wal.max-size");
    CHECK_EQ_INT(cfg.full_policy, WAL_FULL_DROP_OLDEST, "wal.full-policy");
    CHECK_EQ_INT(cfg.sync, 0, "wal.sync");
    CHECK_EQ_INT(cfg.retain_ms, 7LL * 86400000, "wal.retain");
    CHECK_EQ_INT(cfg.min_free_bytes, 1000000000, "wal.min-free");
    CHECK_EQ_STR(cfg.log_level, "debug", "log.level");
    CHECK_EQ_INT(cfg.n_backends, 2, "the file's backends replace the built-in one");
    const struct replay_backend_opts *a = backend("a");
    CHECK(a != NULL, "backend a");
    CHECK(backend("local") == NULL, "no built-in backend");
    if (a != NULL) {
        CHECK_EQ_STR(a->url, "http://127.0.0.1:8086", "a trailing /write is stripped");
        CHECK_EQ_STR(a->username, "u", "username");
        CHECK_EQ_STR(a->password, "p", "password");
        CHECK_EQ_STR(a->token, "tok", "token");
        CHECK_EQ_STR(a->ca_file, "/etc/ca.pem", "ca-file");
        CHECK_EQ_INT(a->insecure_skip_verify, 1, "insecure-skip-verify");
        CHECK_EQ_INT(a->gzip, 1, "gzip");
        CHECK_EQ_INT(a->timeout_ms, 20000, "timeout");
        CHECK_EQ_INT(a->connect_timeout_ms, 3000, "connect-timeout");
        CHECK_EQ_INT(a->batch_max_bytes, 1 << 20, "batch-max-bytes");
        CHECK_EQ_INT(a->batch_max_points, 100, "batch-max-points");
        CHECK_EQ_INT(a->max_in_flight, 4, "max-in-flight");
        CHECK_EQ_INT(a->min_in_flight, 2, "min-in-flight");
        CHECK_EQ_INT(a->batch_min_bytes, 8 << 10, "batch-min-bytes");
        CHECK_EQ_INT(a->retry_max_delay_ms, 60000, "retry-max-delay");
        CHECK_EQ_INT(a->start, REPLAY_START_EARLIEST, "start");
        CHECK_EQ_INT(a->create_database, 1, "create-database");
        CHECK_EQ_INT(a->give_up_after_ms, 7200000, "give-up-after");
        CHECK_EQ_INT(a->give_up_bytes, 10LL << 30, "give-up-size");
    }
    const struct replay_backend_opts *b = backend("b.2_x-y");
    CHECK_EQ_STR(b ? b->url : NULL, "https://influx.example.com", "a trailing / is stripped");
    CHECK(b && b->username == NULL && b->ca_file == NULL, "empty optional strings are NULL");
    CHECK_EQ_INT(b ? b->timeout_ms : 0, 10000, "unset backend keys keep their defaults");
    CHECK_EQ_INT(cfg.n_udp, 2, "two UDP listeners");
    if (cfg.n_udp == 2) {
        CHECK_EQ_STR(cfg.udp[0].listen, "127.0.0.1:8089", "udp.listen");
        CHECK_EQ_STR(cfg.udp[0].database, "telegraf", "udp.database");
        CHECK_EQ_STR(cfg.udp[0].retention_policy, "weekly", "udp.retention-policy");
        CHECK_EQ_STR(cfg.udp[0].precision, "s", "udp.precision");
        CHECK_EQ_INT(cfg.udp[0].read_buffer_bytes, 8 << 20, "udp.read-buffer");
        CHECK(cfg.udp[1].retention_policy == NULL, "empty retention policy is NULL");
        CHECK_EQ_STR(cfg.udp[1].precision, "ns", "empty precision keeps ns");
    }
    CHECK_EQ_INT(validate(), 0, "the full layout validates");

    CHECK_EQ_INT(load("[http]\nlisten = \"0.0.0.0:1\"\nmax-body-size = 1000\n"), 0,
                 "listen as one string");
    CHECK_EQ_INT(cfg.n_listen, 1, "one listen address");
    CHECK_EQ_STR(cfg.n_listen ? cfg.listen[0] : NULL, "0.0.0.0:1", "the one listen address");
    CHECK_EQ_INT(cfg.max_inflated_bytes, 4000, "max-inflated-size follows max-body-size");
    CHECK_EQ_INT(cfg.n_backends, 1, "no [[backend]]: the built-in one stays");
    CHECK_EQ_INT(load("[http]\nmax-body-size = \"16EB\"\n"), IWR_EPARSE, "16EB is no unit");
    CHECK_EQ_INT(load("[http]\nmax-body-size = \"8TiB\"\n"), 0, "8 TiB body limit loads");
    CHECK_EQ_INT(cfg.max_inflated_bytes, 32LL << 40, "4 x 8 TiB");
    CHECK_EQ_INT(load("[http]\nmax-body-size = 9223372036854775807\n"), 0, "huge body loads");
    CHECK(cfg.max_inflated_bytes == SIZE_MAX, "4 x body saturates instead of wrapping");
    CHECK_EQ_INT(load("[http]\nlisten = []\n"), 0, "an empty listen list loads");
    CHECK_EQ_INT(validate(), IWR_EPARSE, "an empty listen list does not validate");
    CHECK_EQ_STR(err, "no HTTP listen address: set http.listen or --listen", "no listen message");
    CHECK_EQ_INT(load("[[backend]]\nname = \"x\"\nurl = \"http://x\"\ntimeout = 0\n"
                      "batch-max-bytes = 0\n"),
                 0, "integer 0 is a duration and a size");
    CHECK(cfg.n_backends == 1 && cfg.backends[0].timeout_ms == 0 &&
              cfg.backends[0].batch_max_bytes == 0,
          "and loads as 0");
}

struct case_ {
    const char *text;
    const char *want;
};

static void test_load_errors(void)
{
    static const struct case_ cases[] = {
        {"[wal]\ndir = \"/d\"\nx = 1\n", "t:3: unknown key 'x' in [wal]"},
        {"[query]\ntimeout = \"1s\"\n", "t:2: unknown key 'timeout' in [query]"},
        {"[http]\nmax-body = 1\n", "t:2: unknown key 'max-body' in [http]"},
        {"[auth]\nuser = 1\n",
         "t:2: 'user' must be an array of tables [[auth.user]], not an integer"},
        {"[[auth.user]]\nname = \"a\"\npassword = \"b\"\nrole = \"x\"\n",
         "t:4: unknown key 'role' in [[auth.user]]"},
        {"[log]\nlevel = \"info\"\nformat = \"json\"\n", "t:3: unknown key 'format' in [log]"},
        {"[[backend]]\nname = \"a\"\nurl = \"http://a\"\nretries = 3\n",
         "t:4: unknown key 'retries' in [[backend]]"},
        {"[[udp]]\nlisten = \"127.0.0.1:1\"\ndatabase = \"d\"\nmtu = 1\n",
         "t:4: unknown key 'mtu' in [[udp]]"},
        {"[foo]\n", "t:1: unknown table [foo]"},
        {"[[foo]]\n", "t:1: unknown table [[foo]]"},
        {"\nfoo = 1\n", "t:2: unknown key 'foo' at the top level"},
        {"foo = [1]\n", "t:1: unknown key 'foo' at the top level"},
        {"wal = 1\n", "t:1: 'wal' must be the table [wal], not an integer"},
        {"log = []\n", "t:1: 'log' must be the table [log], not an array"},
        {"auth = \"x\"\n", "t:1: 'auth' must be the table [auth], not a string"},
        {"[backend]\n", "t:1: 'backend' must be an array of tables [[backend]], not a table"},
        {"backend = [1]\n",
         "t:1: 'backend' must be an array of tables [[backend]], not an integer"},
        {"udp = {}\n", "t:1: 'udp' must be an array of tables [[udp]], not a table"},
        {"[wal]\nmax-size = \"10XB\"\n",
         "t:2: wal.max-size: \"10XB\" has an unknown unit; use B, KB, MB, GB, TB, KiB, MiB, GiB or "
         "TiB"},
        {"[wal]\nmax-size = -1\n", "t:2: wal.max-size: must not be negative"},
        {"[wal]\nmax-size = \"-1MB\"\n", "t:2: wal.max-size: \"-1MB\" must not be negative"},
        {"[wal]\nmax-size = 1.5\n",
         "t:2: wal.max-size: expected a size (bytes, or a string like \"64KiB\"), got a float"},
        {"[wal]\nmin-free = \"\"\n", "t:2: wal.min-free: \"\" is empty"},
        {"[wal]\nmin-free = \"lots\"\n",
         "t:2: wal.min-free: \"lots\" is not a size; write bytes or e.g. \"64KiB\", \"25MB\", "
         "\"1GiB\""},
        {"[wal]\nmax-size = \"20000000TB\"\n", "t:2: wal.max-size: \"20000000TB\" is too large"},
        {"[wal]\nmax-size = \"1.5B\"\n",
         "t:2: wal.max-size: \"1.5B\" is not a whole number of bytes"},
        {"[wal]\nsync = \"yes\"\n",
         "t:2: wal.sync: expected a boolean (true or false), got a string"},
        {"[wal]\nsync = 1\n", "t:2: wal.sync: expected a boolean (true or false), got an integer"},
        {"[wal]\nfull-policy = \"drop\"\n",
         "t:2: wal.full-policy: \"drop\" is not one of reject, drop-oldest"},
        {"[wal]\nfull-policy = 1\n", "t:2: wal.full-policy: expected a string, got an integer"},
        {"[wal]\ndir = \"\"\n", "t:2: wal.dir: must not be empty"},
        {"[wal]\ndir = 5\n", "t:2: wal.dir: expected a string, got an integer"},
        {"[wal]\nretain = 10\n",
         "t:2: wal.retain: 10 needs a unit (ms, s, m, h or d), e.g. \"10s\""},
        {"[wal]\nretain = \"10\"\n",
         "t:2: wal.retain: \"10\" needs a unit (ms, s, m, h or d), e.g. \"10s\""},
        {"[wal]\nretain = \"1w\"\n",
         "t:2: wal.retain: \"1w\" has an unknown unit; use ms, s, m, h or d"},
        {"[wal]\nretain = true\n",
         "t:2: wal.retain: expected a duration (a string like \"10s\"), got a boolean"},
        {"[log]\nlevel = \"verbose\"\n",
         "t:2: log.level: \"verbose\" is not one of debug, info, warn, error, off"},
        {"[http]\nmax-connections = \"10\"\n",
         "t:2: http.max-connections: expected an integer, got a string"},
        {"[http]\nmax-connections = -5\n", "t:2: http.max-connections: must not be negative"},
        {"[http]\nlisten = 9096\n",
         "t:2: http.listen: expected a string or an array of strings, got an integer"},
        {"[http]\nlisten = \"localhost:9096\"\n",
         "t:2: http.listen: \"localhost:9096\" has a host that is not an IP address (IPv6 goes in "
         "brackets; hostnames are not resolved here)"},
        {"[http]\nlisten = [\"127.0.0.1:1\",\n  \"127.0.0.1\"]\n",
         "t:3: http.listen: \"127.0.0.1\" is not HOST:PORT, e.g. 127.0.0.1:9096 or [::1]:9096"},
        {"[http]\nlisten = [1]\n", "t:2: http.listen: expected strings, got an integer"},
        {"[http]\nallow-unsigned = \"true\"\n",
         "t:2: http.allow-unsigned: expected a boolean (true or false), got a string"},
        {"[auth]\nenabled = 1\n",
         "t:2: auth.enabled: expected a boolean (true or false), got an integer"},
        {"[[auth.user]]\nname = \"a\"\n", "t:1: [[auth.user]] needs 'password'"},
        {"[[auth.user]]\npassword = \"a\"\n", "t:1: [[auth.user]] needs 'name'"},
        {"[[auth.user]]\nname = \"\"\npassword = \"a\"\n",
         "t:2: auth.user.name: must not be empty"},
        {"[[auth.user]]\nname = \"a\"\npassword = \"b\"\n[[auth.user]]\nname = \"a\"\npassword = "
         "\"c\"\n",
         "t:4: auth.user: duplicate name 'a'"},
        {"[[backend]]\nname = \"a\"\n", "t:1: [[backend]] needs 'url'"},
        {"\n[[backend]]\nurl = \"http://a\"\n", "t:2: [[backend]] needs 'name'"},
        {"[[backend]]\nname = \"a b\"\nurl = \"http://a\"\n",
         "t:2: backend.name: 'a b' must be 1 to 64 characters from A-Z a-z 0-9 _ . -"},
        {"[[backend]]\nname = \"\"\nurl = \"http://a\"\n",
         "t:2: backend.name: '' must be 1 to 64 characters from A-Z a-z 0-9 _ . -"},
        {"[[backend]]\nname = "
         "\"a1234567890123456789012345678901234567890123456789012345678901234\"\nurl = "
         "\"http://a\"\n",
         "t:2: backend.name: 'a1234567890123456789012345678901234567890123456789012345678901234' "
         "must be 1 to 64 characters from A-Z a-z 0-9 _ . -"},
        {"[[backend]]\nname = \"a\"\nurl = \"ftp://a\"\n",
         "t:3: backend.url: \"ftp://a\" must start with http:// or https://"},
        {"[[backend]]\nname = \"a\"\nurl = \"http://\"\n",
         "t:3: backend.url: \"http://\" has no host"},
        {"[[backend]]\nname = \"a\"\nurl = \"\"\n", "t:3: backend.url: must not be empty"},
        {"[[backend]]\nname = \"a\"\nurl = \"http://a\"\n[[backend]]\nname = \"a\"\nurl = "
         "\"http://b\"\n",
         "t:4: duplicate backend name 'a' (first on line 1)"},
        {"[[backend]]\nname = \"a\"\nurl = \"http://a\"\nstart = \"oldest\"\n",
         "t:4: backend.start: \"oldest\" is not one of latest, earliest"},
        {"[[backend]]\nname = \"a\"\nurl = \"http://a\"\ntimeout = 10\n",
         "t:4: backend.timeout: 10 needs a unit (ms, s, m, h or d), e.g. \"10s\""},
        {"[[backend]]\nname = \"a\"\nurl = \"http://a\"\ntimeout = \"1.5ms\"\n",
         "t:4: backend.timeout: \"1.5ms\" is finer than a millisecond"},
        {"[[backend]]\nname = \"a\"\nurl = \"http://a\"\nbatch-max-points = -1\n",
         "t:4: backend.batch-max-points: must not be negative"},
        {"[[backend]]\nname = \"a\"\nurl = \"http://a\"\ngzip = \"no\"\n",
         "t:4: backend.gzip: expected a boolean (true or false), got a string"},
        {"[[backend]]\nname = \"a\"\nurl = \"http://a\"\ngive-up-after = \"999999999999d\"\n",
         "t:4: backend.give-up-after: \"999999999999d\" is too large"},
        {"[[udp]]\nlisten = \"127.0.0.1:8089\"\n", "t:1: [[udp]] needs 'database'"},
        {"[[udp]]\ndatabase = \"d\"\n", "t:1: [[udp]] needs 'listen'"},
        {"[[udp]]\nlisten = \"127.0.0.1:8089\"\ndatabase = \"d\"\nprecision = \"x\"\n",
         "t:4: udp.precision: \"x\" is not one of ns, n, u, us, ms, s, m, h"},
        {"[[udp]]\nlisten = \"127.0.0.1\"\ndatabase = \"d\"\n",
         "t:2: udp.listen: \"127.0.0.1\" is not HOST:PORT, e.g. 127.0.0.1:9096 or [::1]:9096"},
        {"[[udp]]\nlisten = \"127.0.0.1:1\"\ndatabase = \"d\"\nread-buffer = \"1XB\"\n",
         "t:4: udp.read-buffer: \"1XB\" has an unknown unit; use B, KB, MB, GB, TB, KiB, MiB, GiB "
         "or TiB"},
        /* Syntax errors come through with the parser's message. */
        {"[wal]\ndir = \n", "t:2: expected a value"},
        {"[wal]\n[wal]\n", "t:2: table [wal] is already defined on line 1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char name[300];
        int rc = load(cases[i].text);
        CHECK_EQ_INT(rc, IWR_EPARSE, "load error returns IWR_EPARSE");
        snprintf(name, sizeof(name), "load error %zu: %s", i, cases[i].want);
        CHECK_EQ_STR(err, cases[i].want, name);
    }
}

static void test_load_keeps_config_on_error(void)
{
    CHECK_EQ_INT(load("[wal]\ndir = \"/keep\"\n"), 0, "a good load");
    char *dir = cfg.data_dir;
    int rc =
        config_load_string(&cfg, "u", "[wal]\ndir = \"/new\"\nbad = 1\n", 25, err, sizeof(err));
    CHECK_EQ_INT(rc, IWR_EPARSE, "a bad load fails");
    CHECK(cfg.data_dir == dir && strcmp(cfg.data_dir, "/keep") == 0,
          "a failed load leaves the config as it was");
    CHECK_EQ_STR(cfg.path, "t", "and its path");
    rc = config_load_string(&cfg, "u", "[wal]\ndir = \"/new\"\n", 19, err, sizeof(err));
    CHECK_EQ_INT(rc, 0, "a second good load");
    CHECK_EQ_STR(cfg.data_dir, "/new", "replaces the config");
    CHECK_EQ_STR(cfg.path, "u", "and the path");
}

struct size_case {
    const char *s;
    int ok;
    uint64_t want;
};

static void test_sizes(void)
{
    static const struct size_case cases[] = {
        {"25MB", 1, 25000000},
        {"64KiB", 1, 65536},
        {"10GiB", 1, 10737418240ull},
        {"1024", 1, 1024},
        {"0", 1, 0},
        {"0B", 1, 0},
        {"7B", 1, 7},
        {"1KB", 1, 1000},
        {"1kB", 1, 1000},
        {"1GB", 1, 1000000000},
        {"2TB", 1, 2000000000000ull},
        {"1MiB", 1, 1048576},
        {"1TiB", 1, 1099511627776ull},
        {"1.5GiB", 1, 1610612736},
        {"0.5KB", 1, 500},
        {"25 MB", 1, 25000000},
        {"18446744073709551615", 1, UINT64_MAX},
        {"17179869183GiB", 1, 17179869183ull << 30},
        {"18446744073709551616", 0, 0},
        {"17179869184GiB", 0, 0},
        {"16777216TiB", 0, 0},
        {"20000000TB", 0, 0},
        {"99999999999999999999999KB", 0, 0},
        {"", 0, 0},
        {"-1", 0, 0},
        {"+1", 0, 0},
        {"abc", 0, 0},
        {"MB", 0, 0},
        {"10XB", 0, 0},
        {"10mb", 0, 0},
        {"10 ", 0, 0},
        {" 10", 0, 0},
        {"10  MB", 0, 0},
        {"1.5B", 0, 0},
        {"1.0001KB", 0, 0},
        {"1.", 0, 0},
        {".5KB", 0, 0},
        {"1.2.3", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t v = 12345;
        int rc = config_parse_size(cases[i].s, &v);
        if (cases[i].ok)
            CHECK(rc == 0 && v == cases[i].want, "size \"%s\" = %llu (got rc %d, %zu)", cases[i].s,
                  (unsigned long long)cases[i].want, rc, v);
        else
            CHECK(rc == IWR_EPARSE && v == 12345, "size \"%s\" is refused and *out untouched",
                  cases[i].s);
    }
}

static void test_durations(void)
{
    static const struct size_case cases[] = {
        {"500ms", 1, 500},
        {"10s", 1, 10000},
        {"5m", 1, 300000},
        {"2h", 1, 7200000},
        {"7d", 1, 604800000},
        {"1h30m", 1, 5400000},
        {"1d2h3m4s5ms", 1, 93784005},
        {"0", 1, 0},
        {"0s", 1, 0},
        {"0ms", 1, 0},
        {"1.5s", 1, 1500},
        {"0.001s", 1, 1},
        {"2.5h", 1, 9000000},
        {"1.0ms", 1, 1},
        {"18446744073709551615ms", 1, UINT64_MAX},
        {"213503982334d", 1, 213503982334ull * 86400000},
        {"213503982335d", 0, 0},
        {"18446744073709551616ms", 0, 0},
        {"18446744073709551615ms1ms", 0, 0},
        {"", 0, 0},
        {"10", 0, 0},
        {"-1s", 0, 0},
        {"+1s", 0, 0},
        {"1.5ms", 0, 0},
        {"0.0001s", 0, 0},
        {"10us", 0, 0},
        {"10ns", 0, 0},
        {"5x", 0, 0},
        {"s", 0, 0},
        {"1h30", 0, 0},
        {"10 s", 0, 0},
        {"10S", 0, 0},
        {"1w", 0, 0},
        {"10sec", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 12345;
        int rc = config_parse_duration_ms(cases[i].s, &v);
        if (cases[i].ok)
            CHECK(rc == 0 && v == cases[i].want, "duration \"%s\" = %llu ms (got rc %d, %llu)",
                  cases[i].s, (unsigned long long)cases[i].want, rc, (unsigned long long)v);
        else
            CHECK(rc == IWR_EPARSE && v == 12345, "duration \"%s\" is refused and *out untouched",
                  cases[i].s);
    }
}

static void test_urls(void)
{
    static const struct {
        const char *in;
        const char *want;
    } good[] = {
        {"http://h", "http://h"},
        {"http://h:8086/write", "http://h:8086"},
        {"http://h:8086/", "http://h:8086"},
        {"http://h:8086//", "http://h:8086"},
        {"http://h/prefix/write/", "http://h/prefix"},
        {"http://h/writer", "http://h/writer"},
        {"https://u:p@h:8086/write", "https://u:p@h:8086"},
        {"HTTPS://H", "HTTPS://H"},
        {"http://[::1]:8086/write", "http://[::1]:8086"},
        {"http://a@b@h:1", "http://a@b@h:1"},
    };
    static const char *const bad[] = {
        "ftp://h",        "h:8086",        "http://",     "http://:8086",        "http://h:0",
        "http://h:99999", "http://h:80a",  "http://h:",   "http://h/write?db=x", "http://h#x",
        "http://h b",     "http://[::1",   "http://[]:1", "http://u@",           "http://h:1234567",
        "http:///h",      "http://a@b@:1",
    };
    char name[200];
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(name, sizeof(name), "url \"%s\" becomes \"%s\"", good[i].in, good[i].want);
        char arg[200];
        snprintf(arg, sizeof(arg), "x=%s", good[i].in);
        config_deinit(&cfg);
        config_defaults(&cfg);
        int rc = config_add_backend_flag(&cfg, arg, err, sizeof(err));
        CHECK_EQ_STR(rc == 0 && cfg.n_backends == 1 ? cfg.backends[0].url : err, good[i].want,
                     name);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char arg[200];
        snprintf(arg, sizeof(arg), "x=%s", bad[i]);
        CHECK(config_add_backend_flag(&cfg, arg, err, sizeof(err)) == IWR_EPARSE,
              "url \"%s\" is refused", bad[i]);
    }
    static const struct case_ msgs[] = {
        {"x=ftp://h", "backend \"x=ftp://h\": the URL must start with http:// or https://"},
        {"x=http://h:0", "backend \"x=http://h:0\": the URL has a bad port"},
        {"x=http://h/write?db=x", "backend \"x=http://h/write?db=x\": the URL must not have a "
                                  "query or fragment (the database comes with each write)"},
        {"x=http://h b", "backend \"x=http://h b\": the URL must not contain spaces or control "
                         "characters"},
        {"x=http://[::1", "backend \"x=http://[::1\": the URL has a bad IPv6 address"},
        {"x=http://:1", "backend \"x=http://:1\": the URL has no host"},
    };
    for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
        config_add_backend_flag(&cfg, msgs[i].text, err, sizeof(err));
        snprintf(name, sizeof(name), "url message %zu", i);
        CHECK_EQ_STR(err, msgs[i].want, name);
    }
}

static void test_flags(void)
{
    config_deinit(&cfg);
    config_defaults(&cfg);
    CHECK_EQ_INT(config_add_backend_flag(&cfg, "noeq", err, sizeof(err)), IWR_EPARSE,
                 "--backend without '=' fails");
    CHECK_EQ_STR(err, "backend \"noeq\": expected NAME=URL", "its message");
    CHECK_EQ_INT(config_add_backend_flag(&cfg, "=http://h", err, sizeof(err)), IWR_EPARSE,
                 "--backend without a name fails");
    CHECK_EQ_INT(config_add_backend_flag(&cfg, "a=", err, sizeof(err)), IWR_EPARSE,
                 "--backend without a URL fails");
    CHECK_EQ_INT(config_add_backend_flag(&cfg, "a b=http://h", err, sizeof(err)), IWR_EPARSE,
                 "--backend with a bad name fails");
    CHECK_EQ_STR(err,
                 "backend \"a b=http://h\": the name must be 1 to 64 characters from A-Z a-z "
                 "0-9 _ . -",
                 "its message");
    CHECK(cfg.n_backends == 1 && strcmp(cfg.backends[0].name, "local") == 0,
          "failed --backend flags keep the built-in backend");
    CHECK_EQ_INT(config_add_backend_flag(&cfg, "x=http://h:1/write", err, sizeof(err)), 0,
                 "--backend x=URL");
    CHECK(cfg.n_backends == 1 && strcmp(cfg.backends[0].name, "x") == 0,
          "the first --backend replaces the others");
    CHECK_EQ_STR(cfg.n_backends ? cfg.backends[0].url : NULL, "http://h:1",
                 "--backend URL is normalised");
    CHECK_EQ_INT(cfg.n_backends ? cfg.backends[0].batch_max_points : 0, 5000,
                 "--backend gets the defaults");
    CHECK_EQ_INT(config_add_backend_flag(&cfg, "y=https://h", err, sizeof(err)), 0,
                 "a second --backend");
    CHECK_EQ_INT(cfg.n_backends, 2, "the second --backend adds");
    CHECK_EQ_INT(config_add_backend_flag(&cfg, "x=http://z", err, sizeof(err)), IWR_EPARSE,
                 "a --backend name used twice fails");
    CHECK_EQ_STR(err, "backend \"x=http://z\": the name 'x' is already used", "its message");
    CHECK_EQ_INT(validate(), 0, "flag backends validate");

    CHECK_EQ_INT(config_add_udp_flag(&cfg, "127.0.0.1:8089=telegraf", err, sizeof(err)), 0,
                 "--udp ADDR:PORT=DB");
    CHECK(cfg.n_udp == 1 && strcmp(cfg.udp[0].listen, "127.0.0.1:8089") == 0 &&
              strcmp(cfg.udp[0].database, "telegraf") == 0 &&
              strcmp(cfg.udp[0].precision, "ns") == 0 && cfg.udp[0].retention_policy == NULL,
          "--udp fills listen, database, precision ns");
    CHECK_EQ_INT(config_add_udp_flag(&cfg, "[::1]:8089=db=x", err, sizeof(err)), 0,
                 "--udp splits at the first '='");
    CHECK_EQ_STR(cfg.n_udp > 1 ? cfg.udp[1].database : NULL, "db=x", "database after it");
    CHECK_EQ_INT(config_add_udp_flag(&cfg, "127.0.0.1:8089", err, sizeof(err)), IWR_EPARSE,
                 "--udp without a database fails");
    CHECK_EQ_STR(err, "udp \"127.0.0.1:8089\": expected ADDR:PORT=DATABASE", "its message");
    CHECK_EQ_INT(config_add_udp_flag(&cfg, "host:1=db", err, sizeof(err)), IWR_EPARSE,
                 "--udp with a host name fails");
    CHECK_EQ_STR(err,
                 "udp \"host:1=db\": the address has a host that is not an IP address (IPv6 "
                 "goes in brackets; hostnames are not resolved here)",
                 "its message");
    CHECK_EQ_INT(cfg.n_udp, 2, "failed --udp flags add nothing");
    CHECK_EQ_INT(config_add_udp_flag(&cfg, "127.0.0.1:25826=collectd@ms", err, sizeof(err)), 0,
                 "--udp ADDR:PORT=DB@ms");
    CHECK(cfg.n_udp == 3 && strcmp(cfg.udp[2].database, "collectd") == 0 &&
              strcmp(cfg.udp[2].precision, "ms") == 0,
          "--udp takes the precision after the last '@'");
    CHECK_EQ_INT(config_add_udp_flag(&cfg, "127.0.0.1:1=a@b@s", err, sizeof(err)), 0,
                 "--udp with an '@' in the database and a precision");
    CHECK(cfg.n_udp == 4 && strcmp(cfg.udp[3].database, "a@b") == 0 &&
              strcmp(cfg.udp[3].precision, "s") == 0,
          "the database keeps its '@'");
    CHECK_EQ_INT(config_add_udp_flag(&cfg, "127.0.0.1:1=d@week", err, sizeof(err)), IWR_EPARSE,
                 "--udp with a bad precision fails");
    CHECK_EQ_STR(err,
                 "udp \"127.0.0.1:1=d@week\": precision \"week\" is not one of ns, n, u, us, ms, "
                 "s, m, h",
                 "its message");
    CHECK_EQ_INT(config_add_udp_flag(&cfg, "127.0.0.1:1=@ms", err, sizeof(err)), IWR_EPARSE,
                 "--udp with an empty database fails");
    CHECK_EQ_INT(config_add_udp_flag(&cfg, "127.0.0.1:1=d@", err, sizeof(err)), IWR_EPARSE,
                 "--udp with an empty precision fails");
    CHECK_EQ_INT(cfg.n_udp, 4, "failed --udp flags add nothing");

    CHECK_EQ_INT(config_set_listen_flag(&cfg, "localhost:1", err, sizeof(err)), IWR_EPARSE,
                 "--listen with a host name fails");
    CHECK_EQ_STR(err,
                 "listen \"localhost:1\" has a host that is not an IP address (IPv6 goes in "
                 "brackets; hostnames are not resolved here)",
                 "its message");
    CHECK(cfg.n_listen == 1 && strcmp(cfg.listen[0], "127.0.0.1:9096") == 0,
          "a failed --listen keeps the list");
    CHECK_EQ_INT(config_set_listen_flag(&cfg, "0.0.0.0:1", err, sizeof(err)), 0, "--listen");
    CHECK(cfg.n_listen == 1 && strcmp(cfg.listen[0], "0.0.0.0:1") == 0,
          "the first --listen replaces the list");
    CHECK_EQ_INT(config_set_listen_flag(&cfg, "[::]:1", err, sizeof(err)), 0, "--listen again");
    CHECK(cfg.n_listen == 2 && strcmp(cfg.listen[1], "[::]:1") == 0, "a later --listen adds");
    CHECK_EQ_INT(validate(), 0, "flags validate");
    CHECK_EQ_INT(config_set_listen_flag(&cfg, "[::]:1", err, sizeof(err)), 0, "same --listen");
    CHECK_EQ_INT(validate(), IWR_EPARSE, "a listen address twice does not validate");
    CHECK_EQ_STR(err, "http.listen \"[::]:1\" is given twice", "its message");

    /* Flags go on after a file; a load starts their bookkeeping afresh. */
    CHECK_EQ_INT(load("[[backend]]\nname = \"f\"\nurl = \"http://f\"\n"), 0, "a file backend");
    CHECK_EQ_INT(config_add_backend_flag(&cfg, "g=http://g", err, sizeof(err)), 0,
                 "then a --backend");
    CHECK(cfg.n_backends == 1 && strcmp(cfg.backends[0].name, "g") == 0,
          "the first --backend drops the file's backends");
}

static void check_validate(const char *want, const char *what)
{
    char name[300];
    int rc = validate();
    snprintf(name, sizeof(name), "validate %s: %s", what, want);
    CHECK_EQ_INT(rc, IWR_EPARSE, "validate returns IWR_EPARSE");
    CHECK_EQ_STR(err, want, name);
}

#define VCASE(mutation, want)                                                                      \
    do {                                                                                           \
        config_deinit(&cfg);                                                                       \
        config_defaults(&cfg);                                                                     \
        mutation;                                                                                  \
        check_validate(want, #mutation);                                                           \
    } while (0)

static void set(char **field, const char *value)
{
    free(*field);
    *field = value ? strdup(value) : NULL;
}

/* The same for a backend's strings: const in struct replay_backend_opts, the config's own. */
static void set_b(const char **field, const char *value)
{
    free((char *)*field);
    *field = value ? strdup(value) : NULL;
}

static void drop_backends(void)
{
    for (size_t i = 0; i < cfg.n_backends; i++) {
        set_b(&cfg.backends[i].name, NULL);
        set_b(&cfg.backends[i].url, NULL);
    }
    free(cfg.backends);
    cfg.backends = NULL;
    cfg.n_backends = 0;
}

static void test_validate(void)
{
    struct replay_backend_opts *b0 = NULL;
    VCASE(set(&cfg.listen[0], "nope"),
          "http.listen \"nope\" is not HOST:PORT, e.g. 127.0.0.1:9096 or [::1]:9096");
    VCASE(cfg.max_body_bytes = 0, "http.max-body-size must be greater than 0");
    VCASE(cfg.max_inflated_bytes = cfg.max_body_bytes - 1,
          "http.max-inflated-size (24999999 bytes) must be at least http.max-body-size "
          "(25000000 bytes)");
    VCASE(cfg.max_connections = 0, "http.max-connections must be greater than 0");
    VCASE(cfg.max_header_bytes = 1023, "http.max-header-size must be at least 1KiB");
    VCASE(cfg.max_pending_bytes = cfg.max_body_bytes - 1,
          "http.max-pending-size must be at least http.max-body-size");
    VCASE(cfg.idle_timeout_ms = 0, "http.idle-timeout must be greater than 0");
    VCASE(cfg.read_timeout_ms = 0, "http.read-timeout must be greater than 0");
    VCASE(cfg.auth_enabled = 1, "auth.enabled is true but there is no [[auth.user]]");
    VCASE(set(&cfg.data_dir, ""), "wal.dir must not be empty");
    VCASE(set(&cfg.data_dir, NULL), "wal.dir must not be empty");
    VCASE(cfg.max_bytes = 0, "wal.max-size must be greater than 0");
    VCASE(cfg.full_policy = (enum wal_full_policy)7,
          "wal.full-policy is neither reject nor drop-oldest");
    VCASE(set(&cfg.log_level, "loud"),
          "log.level \"loud\" is not one of debug, info, warn, error, off");
    VCASE(drop_backends(), "no backends: add a [[backend]] or --backend NAME=URL");
    VCASE((b0 = &cfg.backends[0], set_b(&b0->name, "a/b")),
          "backend name 'a/b' must be 1 to 64 characters from A-Z a-z 0-9 _ . -");
    VCASE((b0 = &cfg.backends[0], set_b(&b0->url, "http://h?x")),
          "backend 'local': url \"http://h?x\" must not have a query or fragment (the database "
          "comes with each write)");
    VCASE((b0 = &cfg.backends[0], set_b(&b0->url, NULL)), "backend 'local': url \"\" is missing");
    VCASE(cfg.backends[0].timeout_ms = 0, "backend 'local': timeout must be greater than 0");
    VCASE(cfg.backends[0].connect_timeout_ms = 0,
          "backend 'local': connect-timeout must be greater than 0");
    VCASE(cfg.backends[0].batch_max_bytes = 0,
          "backend 'local': batch-max-bytes must be greater than 0");
    VCASE(cfg.backends[0].batch_max_points = 0,
          "backend 'local': batch-max-points must be greater than 0");
    VCASE(cfg.backends[0].max_in_flight = 0,
          "backend 'local': max-in-flight must be greater than 0");
    VCASE(cfg.backends[0].min_in_flight = 0,
          "backend 'local': min-in-flight must be greater than 0");
    VCASE(cfg.backends[0].min_in_flight = 5,
          "backend 'local': min-in-flight (5) is above max-in-flight (4)");
    VCASE(cfg.backends[0].batch_min_bytes = 0,
          "backend 'local': batch-min-bytes must be greater than 0");
    VCASE(cfg.backends[0].retry_max_delay_ms = 0,
          "backend 'local': retry-max-delay must be greater than 0");
    /* With several wrong, the first in the checks' order is named. */
    VCASE((cfg.backends[0].batch_max_points = 0, cfg.backends[0].min_in_flight = 0),
          "backend 'local': batch-max-points must be greater than 0");
    VCASE((cfg.backends[0].min_in_flight = 5, cfg.backends[0].batch_min_bytes = 0),
          "backend 'local': min-in-flight (5) is above max-in-flight (4)");
    VCASE((cfg.backends[0].batch_min_bytes = 0, cfg.backends[0].retry_max_delay_ms = 0),
          "backend 'local': batch-min-bytes must be greater than 0");
    VCASE(cfg.backends[0].start = (enum replay_start)9,
          "backend 'local': start is neither latest nor earliest");
    VCASE(config_add_backend_flag(&cfg, "a=http://a", err, sizeof(err));
          config_add_backend_flag(&cfg, "b=http://b", err, sizeof(err));
          set_b(&cfg.backends[1].name, "a"), "backend name 'a' is used twice");
    VCASE(config_add_udp_flag(&cfg, "127.0.0.1:1=d", err, sizeof(err));
          set(&cfg.udp[0].precision, "us2"),
          "udp \"127.0.0.1:1\": precision \"us2\" is not one of ns, n, u, us, ms, s, m, h");
    VCASE(config_add_udp_flag(&cfg, "127.0.0.1:1=d", err, sizeof(err));
          set(&cfg.udp[0].database, ""), "udp \"127.0.0.1:1\": database must not be empty");
    VCASE(config_add_udp_flag(&cfg, "127.0.0.1:1=d", err, sizeof(err));
          set(&cfg.udp[0].listen, "x"),
          "udp.listen \"x\" is not HOST:PORT, e.g. 127.0.0.1:9096 or [::1]:9096");
    VCASE(config_add_udp_flag(&cfg, "127.0.0.1:1=d", err, sizeof(err));
          config_add_udp_flag(&cfg, "127.0.0.1:1=e", err, sizeof(err)),
          "udp.listen \"127.0.0.1:1\" is given twice");
    CHECK_EQ_INT(load("[auth]\nenabled = true\n[[auth.user]]\nname = \"a\"\npassword = \"b\"\n"), 0,
                 "auth with a user loads");
    CHECK_EQ_INT(validate(), 0, "auth with a user validates");
    set(&cfg.users[0].password, "");
    check_validate("auth.user 1 needs a name and a password", "an empty password");

    /* Every precision spelling /write takes is fine, including none. */
    static const char *const precisions[] = {"", "n", "ns", "u", "us", "ms", "s", "m", "h"};
    config_deinit(&cfg);
    config_defaults(&cfg);
    config_add_udp_flag(&cfg, "127.0.0.1:1=d", err, sizeof(err));
    for (size_t i = 0; i < sizeof(precisions) / sizeof(precisions[0]); i++) {
        set(&cfg.udp[0].precision, precisions[i]);
        CHECK_EQ_INT(validate(), 0, "a /write precision validates");
    }
    set(&cfg.udp[0].precision, NULL);
    CHECK_EQ_INT(validate(), 0, "no precision validates");
}

/* A new file under $TMPDIR; its name goes to 'path'. */
static int temp_file(char *path, size_t cap)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, cap, "%s/iwr-test-config-XXXXXX", dir != NULL && dir[0] ? dir : "/tmp");
    return mkstemp(path);
}

/* Redirect stderr into a file while 'fn' runs; returns what was written (caller frees). */
static char *capture_stderr(int (*fn)(void), int *rc)
{
    char path[512];
    int fd = temp_file(path, sizeof(path));
    int saved = dup(STDERR_FILENO);
    fflush(stderr);
    dup2(fd, STDERR_FILENO);
    *rc = fn();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    off_t n = lseek(fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)n + 1);
    if (pread(fd, text, (size_t)n, 0) != n)
        text[0] = '\0';
    close(fd);
    unlink(path);
    return text;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

static int load_relay_example(void)
{
    config_deinit(&cfg);
    config_defaults(&cfg);
    return config_load_file(&cfg, "packaging/influxdb-relay-example.toml", err, sizeof(err));
}

/* Regression: the warnings were once logged after the tree they borrow keys from was freed,
 * which this catches under ASan. */
static void test_relay_example(void)
{
    int rc;
    char *log = capture_stderr(load_relay_example, &rc);
    CHECK_EQ_INT(rc, 0, "packaging/influxdb-relay-example.toml loads");
    if (rc != 0)
        printf("#   %s\n", err);
    CHECK_EQ_INT(validate(), 0, "and validates");
    CHECK_EQ_INT(cfg.n_listen, 2, "one listen address per [[http]]");
    CHECK_EQ_STR(cfg.n_listen ? cfg.listen[0] : NULL, "127.0.0.1:9096", "bind-addr");
    CHECK_EQ_STR(cfg.n_listen > 1 ? cfg.listen[1] : NULL, "0.0.0.0:9097",
                 "bind-addr \":PORT\" is every interface");
    CHECK_EQ_INT(cfg.n_backends, 3, "outputs merged by name across [[http]]");
    const struct replay_backend_opts *l1 = backend("local1"), *l2 = backend("local2"),
                                     *rem = backend("remote");
    CHECK_EQ_STR(l1 ? l1->url : NULL, "http://127.0.0.1:8086", "location without /write");
    CHECK_EQ_INT(l1 ? l1->timeout_ms : 0, 10000, "timeout");
    CHECK_EQ_INT(l1 ? l1->batch_max_bytes : 0, 4 << 20, "no max-batch-kb: our default");
    CHECK_EQ_INT(l2 ? l2->timeout_ms : 0, 5000, "timeout 5s");
    CHECK_EQ_INT(l2 ? l2->batch_max_bytes : 0, 50 * 1024, "max-batch-kb is KiB");
    CHECK_EQ_INT(l2 ? l2->retry_max_delay_ms : 0, 5000, "max-delay-interval");
    CHECK_EQ_STR(rem ? rem->url : NULL, "https://influx.example.com:8086", "https location");
    CHECK_EQ_STR(rem ? rem->username : NULL, "relay", "http-user");
    CHECK_EQ_STR(rem ? rem->password : NULL, "secret", "http-pass");
    CHECK_EQ_INT(rem ? rem->insecure_skip_verify : 0, 1, "skip-tls-verification");
    CHECK_EQ_INT(cfg.n_udp, 1, "one UDP listener");
    if (cfg.n_udp == 1) {
        CHECK_EQ_STR(cfg.udp[0].listen, "127.0.0.1:9096", "udp bind-addr");
        CHECK_EQ_STR(cfg.udp[0].database, "udp", "udp database");
        CHECK_EQ_STR(cfg.udp[0].precision, "n", "udp precision");
        CHECK_EQ_INT(cfg.udp[0].read_buffer_bytes, 0, "udp read-buffer");
    }
    CHECK_EQ_STR(cfg.data_dir, "./data", "unset sections keep the defaults");
    static const char *const warned[] = {
        "line=12 key=http.default-ping-response ",
        "line=16 key=http.output.buffer-size-mb ",
        "line=24 key=http.default-retention-policy ",
        "line=58 key=udp.output ",
    };
    for (size_t i = 0; i < sizeof(warned) / sizeof(warned[0]); i++)
        CHECK_EQ_INT(count(log, warned[i]), 1, warned[i]);
    CHECK_EQ_INT(count(log, "key=http.ssl-combined-pem"), 0,
                 "ssl-combined-pem is honoured, not ignored");
    CHECK(cfg.n_listen == 2 && cfg.listen_tls[0].combined_pem == NULL,
          "the first [[http]] has no ssl-combined-pem: plain HTTP");
    CHECK_EQ_STR(cfg.n_listen == 2 ? cfg.listen_tls[1].combined_pem : NULL,
                 "/etc/ssl/influxdb-relay.pem", "the second [[http]] serves TLS with its PEM");
    CHECK_EQ_INT(count(log, "event=config_key_ignored"), 4, "each ignored key logged once");
    CHECK_EQ_INT(count(log, "level=warn event=config_outputs_merged"), 1,
                 "different outputs per [[http]] are warned about");
    CHECK_EQ_INT(count(log, "file=packaging/influxdb-relay-example.toml"), 5,
                 "warnings name the file");
    free(log);
}

static int load_same_outputs(void)
{
    return load(
        "[[http]]\nbind-addr = \"127.0.0.1:1\"\n"
        "output = [{ name = \"a\", location = \"http://h:1/write\", buffer-size-mb = 1 }]\n"
        "[[http]]\nbind-addr = \"127.0.0.1:2\"\n"
        "output = [{ name = \"a\", location = \"http://h:1/write\", buffer-size-mb = 2 }]\n");
}

static int load_bad_relay(void)
{
    return load("[[http]]\nbind-addr = \"127.0.0.1:1\"\nssl-combined-pem = \"x\"\nbogus = 1\n");
}

static void test_relay_layout(void)
{
    int rc;
    char *log = capture_stderr(load_same_outputs, &rc);
    CHECK_EQ_INT(rc, 0, "the same output under two [[http]] loads");
    CHECK_EQ_INT(cfg.n_backends, 1, "and is one backend");
    CHECK_EQ_INT(count(log, "event=config_outputs_merged"), 0, "same outputs: no merge warning");
    CHECK_EQ_INT(count(log, "key=http.output.buffer-size-mb"), 1, "one warning for two uses");
    free(log);
    log = capture_stderr(load_bad_relay, &rc);
    CHECK_EQ_INT(rc, IWR_EPARSE, "a bad relay file fails");
    CHECK_EQ_STR(err, "t:4: unknown key 'bogus' in [[http]]", "unknown key in [[http]]");
    CHECK_EQ_STR(log, "", "a failed load logs no warnings");
    free(log);

    static const struct case_ errors[] = {
        {"[[http]]\nbind-addr = \"127.0.0.1:1\"\noutput = [{ name = \"a\", location = "
         "\"http://h:1\" }]\n[[http]]\nbind-addr = \"127.0.0.1:2\"\noutput = [{ name = \"a\", "
         "location = \"http://h:2\" }]\n",
         "t:6: output 'a' differs from the output of that name on line 3"},
        {"[[http]]\nbind-addr = \"127.0.0.1:1\"\noutput = [{ name = \"a\", location = "
         "\"http://h:1\" }, { name = \"a\", location = \"http://h:1\", timeout = \"1s\" }]\n",
         "t:3: output 'a' differs from the output of that name on line 3"},
        {"[[http]]\nname = \"x\"\n", "t:1: [[http]] needs 'bind-addr'"},
        {"[[http]]\nbind-addr = 9096\n", "t:2: http.bind-addr: expected a string \"HOST:PORT\", "
                                         "got an integer"},
        {"[[http]]\nbind-addr = \"localhost:9096\"\n",
         "t:2: http.bind-addr: \"localhost:9096\" has a host that is not an IP address (IPv6 goes "
         "in brackets; hostnames are not resolved here)"},
        {"[[http]]\nbind-addr = \":x\"\n",
         "t:2: http.bind-addr: \":x\" has a bad port; use 0 to 65535"},
        {"[[http]]\nbind-addr = \"127.0.0.1:1\"\noutput = [{ name = \"a\" }]\n",
         "t:3: [[http]] output needs 'location'"},
        {"[[http]]\nbind-addr = \"127.0.0.1:1\"\noutput = [{ location = \"http://h\", mtu = 1 }]\n",
         "t:3: unknown key 'mtu' in [[http]] output"},
        {"[[http]]\nbind-addr = \"127.0.0.1:1\"\noutput = [{ name = \"local 1\", location = "
         "\"http://h\" }]\n",
         "t:3: http.output.name: 'local 1' must be 1 to 64 characters from A-Z a-z 0-9 _ . -"},
        {"[[http]]\nbind-addr = \"127.0.0.1:1\"\noutput = [{ name = 1, location = \"http://h\" "
         "}]\n",
         "t:3: http.output.name: expected a string, got an integer"},
        {"[[http]]\nbind-addr = \"127.0.0.1:1\"\noutput = { name = \"a\" }\n",
         "t:3: 'output' must be an array of tables (output = [{ name = ..., location = ... }]), "
         "not a table"},
        {"[[http]]\nbind-addr = \"127.0.0.1:1\"\noutput = [\"http://h\"]\n",
         "t:3: 'output' must be an array of tables (output = [{ name = ..., location = ... }]), "
         "not a string"},
        {"[[http]]\nbind-addr = \"127.0.0.1:1\"\n[[http.output]]\nname = \"a\"\nlocation = "
         "\"ftp://h\"\n",
         "t:5: http.output.location: \"ftp://h\" must start with http:// or https://"},
        {"[[http]]\nbind-addr = \"127.0.0.1:1\"\n[[http.output]]\nlocation = \"http://h\"\n"
         "max-batch-kb = -1\n",
         "t:5: http.output.max-batch-kb: must not be negative"},
        {"[[http]]\nbind-addr = \"127.0.0.1:1\"\n[[http.output]]\nlocation = \"http://h\"\n"
         "max-batch-kb = 9223372036854775807\n",
         "t:5: http.output.max-batch-kb: is too large"},
        {"[[http]]\nbind-addr = \"127.0.0.1:1\"\n[[http.output]]\nlocation = \"http://h\"\n"
         "max-delay-interval = \"10\"\n",
         "t:5: http.output.max-delay-interval: \"10\" needs a unit (ms, s, m, h or d), e.g. "
         "\"10s\""},
        {"[[udp]]\nname = \"u\"\nbind-addr = \"127.0.0.1:8089\"\n",
         "t:1: [[udp]] needs 'database': influxdb-relay forwarded datagrams, this relay stores "
         "them and writes them to every backend, so add database = \"NAME\""},
        {"[[udp]]\noutput = []\ndatabase = \"d\"\n", "t:1: [[udp]] needs 'bind-addr'"},
        {"[[udp]]\nbind-addr = \"127.0.0.1:8089\"\ndatabase = \"d\"\nlisten = \"127.0.0.1:1\"\n",
         "t:4: unknown key 'listen' in [[udp]]"},
        {"[[udp]]\nbind-addr = \"127.0.0.1:8089\"\ndatabase = \"d\"\nprecision = \"x\"\n",
         "t:4: udp.precision: \"x\" is not one of ns, n, u, us, ms, s, m, h"},
        {"[[http]]\nbind-addr = \"127.0.0.1:1\"\n[http2]\n", "t:3: unknown table [http2]"},
    };
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        char name[300];
        rc = load(errors[i].text);
        CHECK_EQ_INT(rc, IWR_EPARSE, "relay layout error returns IWR_EPARSE");
        snprintf(name, sizeof(name), "relay layout error %zu: %s", i, errors[i].want);
        CHECK_EQ_STR(err, errors[i].want, name);
    }

    log_set_level(LOG_OFF); /* the warnings below are checked above */
    rc = load("[[http]]\nbind-addr = \"127.0.0.1:1\"\n"
              "output = [{ location = \"http://10.0.0.1:8086/write\", max-batch-kb = 0 },"
              " { location = \"https://u:p@[::1]:8086\" }]\n"
              "[wal]\ndir = \"/relay\"\n[log]\nlevel = \"warn\"\n"
              "[[backend]]\nname = \"extra\"\nurl = \"http://e\"\n");
    CHECK_EQ_INT(rc, 0, "relay layout with our [wal], [log] and [[backend]] loads");
    CHECK(backend("10.0.0.1_8086") != NULL, "an output without a name is named host_port");
    CHECK(backend("___1__8086") != NULL, "IPv6 and credentials do not reach the name");
    CHECK_EQ_INT(backend("10.0.0.1_8086") ? backend("10.0.0.1_8086")->batch_max_bytes : 0, 4 << 20,
                 "max-batch-kb = 0 keeps our default");
    CHECK(backend("extra") != NULL && cfg.n_backends == 3, "our [[backend]] is added to them");
    CHECK_EQ_STR(cfg.data_dir, "/relay", "our [wal] in a relay file");
    CHECK_EQ_STR(cfg.log_level, "warn", "our [log] in a relay file");

    rc = load("[[http]]\nname = \"no outputs\"\nbind-addr = \"[::1]:9096\"\n");
    CHECK_EQ_INT(rc, 0, "[[http]] without outputs loads");
    CHECK(cfg.n_backends == 1 && strcmp(cfg.backends[0].name, "local") == 0,
          "no outputs: the built-in backend stays");
    CHECK(cfg.n_listen == 1 && strcmp(cfg.listen[0], "[::1]:9096") == 0,
          "its bind-addr replaces the built-in listen address");

    rc = load("[[udp]]\nbind-addr = \"127.0.0.1:8089\"\ndatabase = \"d\"\nprecision = \"u\"\n"
              "read-buffer = 1048576\nretention-policy = \"rp\"\n");
    CHECK_EQ_INT(rc, 0, "a relay file with only [[udp]] loads");
    CHECK(cfg.n_udp == 1 && strcmp(cfg.udp[0].listen, "127.0.0.1:8089") == 0 &&
              strcmp(cfg.udp[0].precision, "u") == 0 && cfg.udp[0].read_buffer_bytes == 1048576 &&
              strcmp(cfg.udp[0].retention_policy, "rp") == 0,
          "detected by bind-addr and mapped");
    CHECK(cfg.n_listen == 1 && strcmp(cfg.listen[0], "127.0.0.1:9096") == 0,
          "no [[http]]: the built-in listen address stays");

    rc = load("[[http]]\nbind-addr = \"127.0.0.1:1\"\n[[http]]\nbind-addr = \"127.0.0.1:1\"\n");
    CHECK_EQ_INT(rc, 0, "two [[http]] on one address load");
    CHECK_EQ_INT(validate(), IWR_EPARSE, "but do not validate");
    CHECK_EQ_STR(err, "http.listen \"127.0.0.1:1\" is given twice", "the duplicate listen");
    log_set_level(LOG_INFO);
}

static void test_files(void)
{
    config_deinit(&cfg);
    config_defaults(&cfg);
    int rc = config_load_file(&cfg, "packaging/relay.toml", err, sizeof(err));
    CHECK_EQ_INT(rc, 0, "packaging/relay.toml loads");
    if (rc != 0)
        printf("#   %s\n", err);
    CHECK_EQ_INT(validate(), 0, "packaging/relay.toml validates");
    CHECK_EQ_STR(cfg.data_dir, "/var/lib/influx-wal-relay", "packaged data dir");
    CHECK(cfg.n_listen == 1 && strcmp(cfg.listen[0], "127.0.0.1:9096") == 0, "packaged listen");
    CHECK(cfg.n_backends == 1 && strcmp(cfg.backends[0].name, "local") == 0 &&
              strcmp(cfg.backends[0].url, "http://127.0.0.1:8086") == 0,
          "packaged backend local");
    CHECK_EQ_STR(cfg.path, "packaging/relay.toml", "path is the file");
    /* The packaged file states the defaults: it must load to the built-in values. */
    struct config d;
    config_defaults(&d);
    CHECK(
        cfg.max_body_bytes == d.max_body_bytes && cfg.max_inflated_bytes == d.max_inflated_bytes &&
            cfg.max_connections == d.max_connections &&
            cfg.max_header_bytes == d.max_header_bytes &&
            cfg.idle_timeout_ms == d.idle_timeout_ms && cfg.read_timeout_ms == d.read_timeout_ms &&
            cfg.max_bytes == d.max_bytes && cfg.min_free_bytes == d.min_free_bytes &&
            cfg.sync == d.sync && cfg.full_policy == d.full_policy && cfg.retain_ms == d.retain_ms,
        "packaged [http] and [wal] values are the defaults");
    const struct replay_backend_opts *p = &cfg.backends[0], *q = &d.backends[0];
    CHECK(p->timeout_ms == q->timeout_ms && p->connect_timeout_ms == q->connect_timeout_ms &&
              p->batch_max_bytes == q->batch_max_bytes &&
              p->batch_max_points == q->batch_max_points && p->max_in_flight == q->max_in_flight &&
              p->min_in_flight == q->min_in_flight && p->batch_min_bytes == q->batch_min_bytes &&
              p->retry_max_delay_ms == q->retry_max_delay_ms && p->start == q->start &&
              p->username == NULL && p->token == NULL && p->ca_file == NULL,
          "packaged [[backend]] values are the defaults");
    config_deinit(&d);

    rc = config_load_file(&cfg, "/nonexistent/relay.toml", err, sizeof(err));
    CHECK_EQ_INT(rc, -ENOENT, "a missing file is -ENOENT");
    CHECK_EQ_STR(err, "/nonexistent/relay.toml: cannot open: No such file or directory",
                 "its message");
    rc = config_load_file(&cfg, "/", err, sizeof(err));
    CHECK_EQ_INT(rc, -EISDIR, "a directory is -EISDIR");
    CHECK_EQ_STR(err, "/: cannot read: Is a directory", "its message");
    CHECK_EQ_STR(cfg.path, "packaging/relay.toml", "failed file loads keep the config");

    char path[512];
    int fd = temp_file(path, sizeof(path));
    char *big = malloc(1024 * 1024 + 1);
    memset(big, '#', 1024 * 1024 + 1);
    CHECK(write(fd, big, 1024 * 1024 + 1) == 1024 * 1024 + 1, "write a 1 MiB + 1 file");
    close(fd);
    rc = config_load_file(&cfg, path, err, sizeof(err));
    char want[600];
    snprintf(want, sizeof(want), "%s:1: file is larger than 1048576 bytes", path);
    CHECK_EQ_INT(rc, IWR_EPARSE, "a file over 1 MiB fails");
    CHECK_EQ_STR(err, want, "its message");
    unlink(path);
    free(big);
}

static void test_tls(void)
{
    CHECK_EQ_INT(load("[http]\nlisten = [\"127.0.0.1:1\", \"127.0.0.1:2\"]\n"
                      "tls-cert = \"/c.pem\"\ntls-key = \"/k.pem\"\ntls-client-ca = \"/ca.pem\"\n"
                      "tls-min-version = \"1.3\"\n"),
                 0, "tls: [http] keys load");
    CHECK_EQ_INT(validate(), 0, "tls: and validate");
    for (size_t i = 0; i < 2 && cfg.n_listen == 2; i++) {
        const struct cfg_tls *t = &cfg.listen_tls[i];
        CHECK(config_tls_on(t), "tls: every [http] listener gets TLS");
        CHECK_EQ_STR(config_tls_cert(t), "/c.pem", "tls: cert");
        CHECK_EQ_STR(config_tls_key(t), "/k.pem", "tls: key");
        CHECK_EQ_STR(t->client_ca, "/ca.pem", "tls: client ca");
        CHECK_EQ_INT(config_tls_min_minor(t), 3, "tls: min version 1.3");
    }
    CHECK_EQ_INT(config_set_listen_flag(&cfg, "127.0.0.1:3", err, sizeof(err)), 0,
                 "tls: --listen on a TLS [http]");
    CHECK(cfg.n_listen == 1 && config_tls_on(&cfg.listen_tls[0]),
          "tls: --listen takes [http]'s TLS");

    CHECK_EQ_INT(load("[http]\ntls-combined-pem = \"/both.pem\"\n"), 0, "tls: combined pem");
    CHECK(cfg.n_listen == 1 && config_tls_on(&cfg.listen_tls[0]),
          "tls: the built-in listener takes [http]'s TLS");
    CHECK_EQ_STR(cfg.n_listen ? config_tls_key(&cfg.listen_tls[0]) : NULL, "/both.pem",
                 "tls: combined pem is the key too");
    CHECK_EQ_INT(cfg.n_listen ? config_tls_min_minor(&cfg.listen_tls[0]) : 0, 2,
                 "tls: min version defaults to 1.2");
    CHECK_EQ_INT(load("[http]\nlisten = \"127.0.0.1:1\"\n"), 0, "tls: none");
    CHECK(!config_tls_on(&cfg.listen_tls[0]), "tls: no keys, plain");

    static const struct {
        const char *text, *err;
    } bad[] = {
        {"[http]\ntls-cert = \"/c\"\n", "tls-cert needs tls-key"},
        {"[http]\ntls-key = \"/k\"\n", "tls-key needs tls-cert"},
        {"[http]\ntls-cert = \"/c\"\ntls-key = \"/k\"\ntls-combined-pem = \"/p\"\n",
         "set one or the other"},
        {"[http]\ntls-client-ca = \"/ca\"\n", "tls-client-ca needs a certificate"},
        {"[http]\ntls-min-version = \"1.2\"\n", "tls-min-version needs a certificate"},
        {"[http]\ntls-combined-pem = \"/p\"\ntls-min-version = \"1.1\"\n",
         "use \"1.2\" or \"1.3\""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ_INT(load(bad[i].text), 0, "tls: bad combination loads");
        CHECK_EQ_INT(validate(), IWR_EPARSE, bad[i].err);
        CHECK(strstr(err, bad[i].err) != NULL, "%s", err);
    }

    /* influxdb-relay: TLS per [[http]], and --listen may not turn a TLS listener plain. */
    CHECK_EQ_INT(load("[[http]]\nbind-addr = \"127.0.0.1:1\"\nssl-combined-pem = \"/p.pem\"\n"
                      "[[http]]\nbind-addr = \"127.0.0.1:2\"\n"),
                 0, "tls: relay layout with one TLS table");
    CHECK_EQ_INT(validate(), 0, "tls: relay layout validates");
    CHECK(cfg.n_listen == 2 && config_tls_on(&cfg.listen_tls[0]) &&
              !config_tls_on(&cfg.listen_tls[1]),
          "tls: mixed TLS and plain listeners");
    CHECK_EQ_INT(config_set_listen_flag(&cfg, "127.0.0.1:3", err, sizeof(err)), IWR_EPARSE,
                 "tls: --listen over a per-table TLS listener is refused");
    CHECK(strstr(err, "plain") != NULL, "%s", err);
    CHECK_EQ_INT(load("[[http]]\nbind-addr = \"127.0.0.1:1\"\nssl-combined-pem = 1\n"),
                 IWR_EPARSE, "tls: ssl-combined-pem must be a string");
}

/* [[graphite]] and [[opentsdb]]: our keys and influxd 1.6's, pasted as they are; defaults;
 * errors; the flags; --check-config's checks. */
static void test_streams(void)
{
    int rc = load("[[graphite]]\n"
                  "  enabled = true\n"
                  "  bind-address = \"127.0.0.1:2003\"\n"
                  "  database = \"graphite\"\n"
                  "  retention-policy = \"week\"\n"
                  "  protocol = \"udp\"\n"
                  "  batch-size = 5000\n"
                  "  batch-pending = 10\n"
                  "  batch-timeout = \"1s\"\n"
                  "  consistency-level = \"one\"\n"
                  "  separator = \"_\"\n"
                  "  udp-read-buffer = 8388608\n"
                  "  templates = [\"servers.* .host.measurement*\", \"measurement.field\"]\n"
                  "  tags = [\"dc=eu\"]\n"
                  "[[opentsdb]]\n"
                  "  enabled = true\n"
                  "  bind-address = \"127.0.0.1:4242\"\n"
                  "  database = \"tsdb\"\n"
                  "  retention-policy = \"\"\n"
                  "  batch-size = 1000\n"
                  "  batch-pending = 5\n"
                  "  batch-timeout = \"1s\"\n"
                  "  log-point-errors = true\n"
                  "[[opentsdb]]\n"
                  "  enabled = false\n"
                  "[[graphite]]\n"
                  "  listen = \"127.0.0.1:2004\"\n");
    CHECK(rc == 0, "influxd's [[graphite]] and [[opentsdb]] load (%s)", err);
    CHECK_EQ_INT(cfg.n_streams, 4, "four stream listeners");
    if (cfg.n_streams == 4) {
        /* Grouped by section name, in file order within each. */
        const struct cfg_stream *g = &cfg.streams[0], *t = &cfg.streams[2];
        CHECK(g->kind == CFG_GRAPHITE && t->kind == CFG_OPENTSDB, "kinds");
        CHECK_EQ_STR(g->listen, "127.0.0.1:2003", "graphite bind-address");
        CHECK_EQ_STR(g->database, "graphite", "graphite database");
        CHECK_EQ_STR(g->retention_policy, "week", "graphite retention-policy");
        CHECK_EQ_STR(g->protocol, "udp", "graphite protocol");
        CHECK_EQ_STR(g->separator, "_", "graphite separator");
        CHECK_EQ_INT(g->n_templates, 2, "graphite templates");
        CHECK_EQ_INT(g->n_tags, 1, "graphite tags");
        CHECK_EQ_INT(g->read_buffer_bytes, 8388608, "graphite udp-read-buffer");
        CHECK_EQ_STR(t->listen, "127.0.0.1:4242", "opentsdb bind-address");
        CHECK_EQ_STR(t->database, "tsdb", "opentsdb database");
        CHECK(t->retention_policy == NULL, "an empty retention policy is the default");
        CHECK_EQ_STR(t->protocol, "tcp", "opentsdb is tcp");
        CHECK(t->enabled && !cfg.streams[3].enabled, "enabled");
        /* influxd's defaults */
        CHECK_EQ_STR(cfg.streams[3].listen, ":4242", "opentsdb default address");
        CHECK_EQ_STR(cfg.streams[3].database, "opentsdb", "opentsdb default database");
        CHECK_EQ_STR(cfg.streams[1].database, "graphite", "graphite default database");
        CHECK_EQ_STR(cfg.streams[1].protocol, "tcp", "graphite default protocol");
    }
    /* influxd's default ":4242" names no host: --check-config asks for one, also when the
     * section is disabled. */
    CHECK(validate() != 0 && strstr(err, "opentsdb.listen \":4242\" has no host") == err,
          "an address without host is refused (%s)", err);
    set(&cfg.streams[3].listen, "127.0.0.1:4243");
    CHECK(validate() == 0, "they validate, the enabled OpenTSDB one included (%s)", err);

    static const struct {
        const char *text, *want;
    } bad[] = {
        {"[[graphite]]\nprotocol = \"sctp\"\n",
         "t:1: [[graphite]] protocol must be \"tcp\" or \"udp\""},
        {"[[opentsdb]]\nseparator = \"_\"\n", "t:2: unknown key 'separator' in [[opentsdb]]"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rc = load(bad[i].text);
        CHECK(rc != 0 && strcmp(err, bad[i].want) == 0, "refused: %s (got: %s)", bad[i].want,
              err);
    }

    rc = load("[[graphite]]\nlisten = \"127.0.0.1:2003\"\ntemplates = [\"host.resource\"]\n");
    CHECK(rc == 0 && validate() != 0 &&
              strcmp(err, "graphite \"127.0.0.1:2003\": no measurement in template "
                          "`host.resource`") == 0,
          "a template without measurement fails --check-config (%s)", err);
    rc = load("[[opentsdb]]\nlisten = \"127.0.0.1:4242\"\n"
              "[[opentsdb]]\nlisten = \"127.0.0.1:4242\"\n");
    CHECK(rc == 0 && validate() != 0 &&
              strcmp(err, "opentsdb.listen \"127.0.0.1:4242\" is given twice") == 0,
          "one port twice fails --check-config (%s)", err);
    rc = load("[[graphite]]\nlisten = \"127.0.0.1:2003\"\nprotocol = \"udp\"\n"
              "[[opentsdb]]\nlisten = \"127.0.0.1:2003\"\n");
    CHECK(rc == 0 && validate() == 0, "one port on UDP and on TCP validates (%s)", err);
    rc = load("[[graphite]]\nlisten = \"127.0.0.1:2003\"\nprotocol = \"udp\"\n"
              "[[graphite]]\nlisten = \"127.0.0.1:2003\"\nprotocol = \"udp\"\n");
    CHECK(rc == 0 && validate() != 0 &&
              strcmp(err, "graphite.listen \"127.0.0.1:2003\" is given twice") == 0,
          "one port twice on UDP fails --check-config (%s)", err);

    load("");
    rc = config_add_opentsdb_flag(&cfg, "127.0.0.1:4242=tsdb@ms", err, sizeof(err));
    CHECK(rc == 0 && cfg.n_streams == 1 && cfg.streams[0].kind == CFG_OPENTSDB &&
              strcmp(cfg.streams[0].database, "tsdb") == 0 &&
              strcmp(cfg.streams[0].protocol, "tcp") == 0,
          "--opentsdb ADDR:PORT=DB@PRECISION (%s)", err);
    rc = config_add_graphite_flag(&cfg, "127.0.0.1:2003=g", err, sizeof(err));
    CHECK(rc == 0 && cfg.n_streams == 2 && cfg.streams[1].protocol == NULL,
          "--graphite: TCP and UDP (%s)", err);
    rc = config_add_opentsdb_flag(&cfg, "127.0.0.1:4242", err, sizeof(err));
    CHECK(rc != 0, "--opentsdb without a database is refused (%s)", err);
    CHECK(validate() == 0, "the flags' listeners validate (%s)", err);
    /* A flag's Graphite listener takes TCP too: OpenTSDB's port is then given twice. */
    rc = config_add_graphite_flag(&cfg, "127.0.0.1:4242=g2", err, sizeof(err));
    CHECK(rc == 0 && validate() != 0 &&
              strcmp(err, "graphite.listen \"127.0.0.1:4242\" is given twice") == 0,
          "--graphite on the --opentsdb port fails --check-config (%s)", err);
}

/* [[auth.user]] token and [[bucket]], the keys of the 2.x and 3.x write APIs. */
static void test_tokens_buckets(void)
{
    CHECK_EQ_INT(load("[auth]\nenabled = true\n[[auth.user]]\nname = \"a\"\npassword = \"b\"\n"
                      "token = \"tok\"\n[[auth.user]]\nname = \"c\"\npassword = \"d\"\n"
                      "[[bucket]]\nname = \"by-name\"\ndatabase = \"db\"\n"
                      "[[bucket]]\nname = \"x/y\"\ndatabase = \"db2\"\n"
                      "retention-policy = \"rp\"\n"),
                 0, "tokens and buckets load");
    CHECK(cfg.n_users == 2 && cfg.users[0].token && strcmp(cfg.users[0].token, "tok") == 0 &&
              cfg.users[1].token == NULL,
          "a user's token, or none");
    CHECK(cfg.n_buckets == 2 && strcmp(cfg.buckets[0].name, "by-name") == 0 &&
              strcmp(cfg.buckets[0].database, "db") == 0 && cfg.buckets[0].retention_policy == NULL &&
              strcmp(cfg.buckets[1].retention_policy, "rp") == 0,
          "the buckets as written");
    CHECK_EQ_INT(validate(), 0, "and validate");
    set(&cfg.users[1].token, "tok");
    check_validate("auth.user 'c': token is another user's too", "a token twice");
    set(&cfg.users[1].token, "");
    check_validate("auth.user 'c': token is empty", "an empty token");
    static const struct case_ cases[] = {
        {"[[bucket]]\nname = \"a\"\n", "t:1: [[bucket]] needs a non-empty 'database'"},
        {"[[bucket]]\ndatabase = \"a\"\n", "t:1: [[bucket]] needs a non-empty 'name'"},
        {"[[bucket]]\nname = \"a\"\ndatabase = \"d\"\n[[bucket]]\nname = \"a\"\n"
         "database = \"e\"\n",
         "t:4: bucket: duplicate name 'a'"},
        {"[[bucket]]\nname = \"a\"\ndatabase = \"d\"\norg = \"o\"\n",
         "t:4: unknown key 'org' in [[bucket]]"},
        {"[bucket]\nname = \"a\"\n",
         "t:1: 'bucket' must be an array of tables [[bucket]], not a table"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char name[300];
        CHECK_EQ_INT(load(cases[i].text), IWR_EPARSE, "bucket load error returns IWR_EPARSE");
        snprintf(name, sizeof(name), "bucket load error %zu: %s", i, cases[i].want);
        CHECK_EQ_STR(err, cases[i].want, name);
    }
    config_deinit(&cfg); /* test_defaults starts from a zeroed config */
    memset(&cfg, 0, sizeof(cfg));
}

/* [relay] and [[peer]]: the list in file order, each peer's strings its own. */
static void test_peers(void)
{
    int rc = load("[relay]\nname = \"a\"\npeer-timeout = \"5s\"\n"
                  "[[peer]]\nname = \"b\"\nurl = \"http://127.0.0.1:9097\"\n"
                  "[[peer]]\nname = \"c\"\nurl = \"https://127.0.0.1:9098/\"\n"
                  "username = \"u\"\npassword = \"p\"\n");
    CHECK(rc == 0 && cfg.n_peers == 2, "two peers load (%s)", err);
    CHECK(cfg.n_peers == 2 && strcmp(cfg.peers[0].name, "b") == 0 &&
              strcmp(cfg.peers[0].url, "http://127.0.0.1:9097") == 0 &&
              cfg.peers[0].username == NULL && strcmp(cfg.peers[1].name, "c") == 0 &&
              strcmp(cfg.peers[1].url, "https://127.0.0.1:9098") == 0 &&
              strcmp(cfg.peers[1].password, "p") == 0,
          "in file order, with their settings");
    CHECK(strcmp(cfg.relay_name, "a") == 0 && cfg.peer_timeout_ms == 5000, "[relay] read");
    CHECK(validate() == 0, "they validate (%s)", err);
    rc = load("[[peer]]\nname = \"b\"\n");
    CHECK(rc != 0 && strcmp(err, "t:1: [[peer]] needs 'url'") == 0 && cfg.n_peers == 0,
          "a peer without url is refused (%s)", err);
    rc = load("[[peer]]\nname = \"b\"\nurl = \"http://h:1\"\n"
              "[[peer]]\nname = \"b\"\nurl = \"http://h:2\"\n");
    CHECK(rc == 0 && validate() != 0 && strcmp(err, "peer name 'b' is used twice") == 0,
          "one peer name twice fails --check-config (%s)", err);
}

int main(void)
{
    test_peers();
    test_tokens_buckets();
    test_defaults();
    test_full_layout();
    test_load_errors();
    test_load_keeps_config_on_error();
    test_sizes();
    test_durations();
    test_urls();
    test_flags();
    test_validate();
    test_relay_example();
    test_tls();
    test_relay_layout();
    test_files();
    test_streams();
    config_deinit(&cfg);
    return tap_done();
}

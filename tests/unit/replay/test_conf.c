/* Table tests of the URL rules in replay/conf.c: which base URLs a backend may have, and the
 * display form (no user:password@) that status and logs show. */
#include "tests/unit/tap.h"

#include "common/url.h"
#include "replay/replay_int.h"

#include <stdlib.h>
#include <string.h>

static const struct {
    const char *url;
    int valid;
} valid_rows[] = {
    {"http://127.0.0.1:8086", 1},
    {"https://influx.example:8086", 1},
    {"http://[::1]:8086/base", 1},
    {"http://u:p@127.0.0.1:8086", 1},
    {"http://u:p@ss@w@127.0.0.1:8086", 1}, /* the last '@' ends the userinfo */
    {"http://h", 1},
    {"ftp://h", 0},
    {"h:8086", 0},
    {"http:/h", 0},
    {"http://", 0},
    {"http://h:99999", 0},
    {"http://a b", 0},
    {"http://h/\tx", 0},
    {"", 0},
};

static const struct {
    const char *url, *shown;
} display_rows[] = {
    {"http://127.0.0.1:8086", "http://127.0.0.1:8086"},
    {"http://relayuser:s3cret@127.0.0.1:8086", "http://127.0.0.1:8086"},
    {"https://u:p%40x@h:1/base", "https://h:1/base"},
    {"http://onlyuser@h", "http://h"},
    {"http://u:p@ss@w@h:1", "http://h:1"},
    {"http://[::1]:8086/x?y=1", "http://[::1]:8086/x?y=1"},
};

int main(void)
{
    char *enc = url_for_curl("http://u:a@b@h:1/p@q");
    CHECK_EQ_STR(enc, "http://u:a%40b@h:1/p@q", "url_for_curl: only the authority's earlier '@'");
    free(enc);
    char long_url[256] = "http://h/";
    memset(long_url + 9, 'a', 200);
    long_url[209] = '\0';
    CHECK(!replay_url_valid(long_url), "over 200 bytes: refused");
    for (size_t i = 0; i < sizeof(valid_rows) / sizeof(valid_rows[0]); i++)
        CHECK_EQ_INT(replay_url_valid(valid_rows[i].url), valid_rows[i].valid, valid_rows[i].url);
    for (size_t i = 0; i < sizeof(display_rows) / sizeof(display_rows[0]); i++) {
        char *shown = replay_display_url(display_rows[i].url);
        CHECK_EQ_STR(shown, display_rows[i].shown, display_rows[i].url);
        CHECK(strstr(shown, "@") == NULL, "no '@' left in %s", shown);
        free(shown);
    }
    return tap_done();
}

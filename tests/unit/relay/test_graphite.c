/* relay/graphite.c: lines and templates converted as influxd 1.6.7's graphite input converts
 * them (the cases follow its parser and config rules), and its config errors. */
#include "common/err.h"
#include "relay/graphite.h"
#include "tests/unit/tap.h"

#define NOW INT64_C(1700000000000000000)

struct lcase {
    const char *line;
    int rc;
    const char *want; /* the line protocol, or NULL */
};

static void run(const char *name, const struct graphite_opts *o, const struct lcase *cs, size_t n)
{
    struct graphite *g = NULL;
    char err[256] = "";
    int rc = graphite_new(&g, o, err, sizeof(err));
    if (!CHECK(rc == 0, "%s: builds (%s)", name, err))
        return;
    for (size_t i = 0; i < n; i++) {
        struct buf out;
        buf_init(&out);
        const char *why = NULL;
        rc = graphite_line(g, cs[i].line, strlen(cs[i].line), NOW, &out, &why);
        buf_append(&out, "", 1);
        int good = rc == cs[i].rc && (cs[i].want == NULL ? out.len == 1
                                                         : strcmp(out.data, cs[i].want) == 0);
        if (!CHECK(good, "%s: \"%s\"", name, cs[i].line))
            printf("#   rc %d (%s) out \"%s\"\n", rc, why ? why : "", out.data);
        buf_deinit(&out);
    }
    graphite_free(g);
}

static void bad_opts(const struct graphite_opts *o, const char *want)
{
    struct graphite *g = NULL;
    char err[256] = "";
    int rc = graphite_new(&g, o, err, sizeof(err));
    if (!CHECK(rc == IWR_EPARSE && strcmp(err, want) == 0, "refused: %s", want))
        printf("#   rc %d err \"%s\"\n", rc, err);
}

#define N(a) (sizeof(a) / sizeof(a[0]))

int main(void)
{
    struct graphite_opts none = {0};
    static const struct lcase plain[] = {
        {"cpu.load 1.5 1700000000", 0, "cpu.load value=1.5 1700000000000000000\n"},
        {"  cpu.load\t2\t1700000000  ", 0, "cpu.load value=2 1700000000000000000\n"},
        {"cpu.load 2", 0, "cpu.load value=2 1700000000000000000\n"},
        {"cpu.load 2 -1", 0, "cpu.load value=2 1700000000000000000\n"},
        {"cpu.load 2 1700000000.25", 0, "cpu.load value=2 1700000000250000000\n"},
        {"cpu.load 1e3 1700000000", 0, "cpu.load value=1000 1700000000000000000\n"},
        {"cpu.load 1e20 1700000000", 0, "cpu.load value=1e+20 1700000000000000000\n"},
        {"cpu.load 123456789.125 1700000000", 0,
         "cpu.load value=123456789.125 1700000000000000000\n"},
        {"cpu.load -0.000001 1700000000", 0, "cpu.load value=-1e-06 1700000000000000000\n"},
        {"cpu.load 0.1 1700000000", 0, "cpu.load value=0.1 1700000000000000000\n"},
        {"cpu.load .5 1700000000", 0, "cpu.load value=0.5 1700000000000000000\n"},
        {"cpu.load 5. 1700000000", 0, "cpu.load value=5 1700000000000000000\n"},
        {"a,b=c 1 1700000000", 0, "a\\,b=c value=1 1700000000000000000\n"},
        {"", GRAPHITE_EMPTY, NULL},
        {"   \t ", GRAPHITE_EMPTY, NULL},
        {"cpu.load NaN 1700000000", GRAPHITE_NAN, NULL},
        {"cpu.load nan", GRAPHITE_NAN, NULL},
        {"cpu.load +Inf 1700000000", IWR_EPARSE, NULL},
        {"cpu.load 1e999 1700000000", IWR_EPARSE, NULL},
        {"cpu.load 0x10 1700000000", IWR_EPARSE, NULL},
        {"cpu.load 1_000 1700000000", IWR_EPARSE, NULL},
        {"cpu.load", IWR_EPARSE, NULL},
        {"cpu.load 1 2 3", IWR_EPARSE, NULL},
        {"cpu.load one 1700000000", IWR_EPARSE, NULL},
        {"cpu.load 1 17000x", IWR_EPARSE, NULL},
        {"cpu.load 1 1e10", IWR_EPARSE, NULL},
        {"cpu.load 1 2147472000", 0, "cpu.load value=1 2147472000000000000\n"},
        {"cpu.load 1 2147472001", IWR_EPARSE, NULL},
        {"cpu.load 1 -2147558400", 0, "cpu.load value=1 -2147558400000000000\n"},
        {"cpu.load 1 -2147558401", IWR_EPARSE, NULL},
        {"cpu.load 1 -1.5", 0, "cpu.load value=1 -500000000\n"},
        {"cpu.load 1 NaN", IWR_EPARSE, NULL},
        {"#cpu 1 1700000000", IWR_EPARSE, NULL},
        {"cpu\\ 1 1700000000", IWR_EPARSE, NULL},
        {"cpu.load\xc2\xa0" "1\xe3\x80\x80" "1700000000", 0, "cpu.load value=1 1700000000000000000\n"},
    };
    run("no templates", &none, plain, N(plain));

    const char *t1[] = {"servers.* .host.resource.measurement.field*",
                        "stats.* .host.measurement* region=us-west,agent=sensu",
                        "*.app env.service.resource.measurement",
                        "measurement.field"};
    const char *tags1[] = {"dc=eu"};
    struct graphite_opts o1 = {NULL, t1, N(t1), tags1, N(tags1)};
    static const struct lcase c1[] = {
        {"servers.localhost.cpu.loadavg.10 3 1700000000", 0,
         "loadavg,dc=eu,host=localhost,resource=cpu 10=3 1700000000000000000\n"},
        {"servers.localhost.cpu.loadavg 3 1700000000", 0,
         "loadavg,dc=eu,host=localhost,resource=cpu value=3 1700000000000000000\n"},
        {"stats.web01.requests.count 7 1700000000", 0,
         "requests.count,agent=sensu,dc=eu,host=web01,region=us-west value=7 "
         "1700000000000000000\n"},
        {"prod.app.api.http.hits 1 1700000000", 0,
         "http,dc=eu,env=prod,resource=api,service=app value=1 1700000000000000000\n"},
        {"other.thing 4 1700000000", 0, "other,dc=eu thing=4 1700000000000000000\n"},
        {"lonely 4 1700000000", 0, "lonely,dc=eu value=4 1700000000000000000\n"},
    };
    run("templates", &o1, c1, N(c1));

    /* The separator joins; default template tags are joined with extracted ones. */
    const char *t2[] = {"measurement.measurement.host.host host=pre"};
    struct graphite_opts o2 = {"_", t2, N(t2), NULL, 0};
    static const struct lcase c2[] = {
        {"cpu.user.a.b 1 1700000000", 0, "cpu_user,host=pre_a_b value=1 1700000000000000000\n"},
        {"cpu.user 1 1700000000", 0, "cpu_user,host=pre value=1 1700000000000000000\n"},
        {".x.a.b 1 1700000000", 0, "_x,host=pre_a_b value=1 1700000000000000000\n"},
    };
    run("separator", &o2, c2, N(c2));

    /* No template without filter: the built-in one joins with "." whatever the separator. */
    const char *t3[] = {"a.* measurement.host", "a.b.c measurement.x.y", "a.b measurement.z"};
    struct graphite_opts o3 = {"_", t3, N(t3), NULL, 0};
    static const struct lcase c3[] = {
        {"b.c.d 1 1700000000", 0, "b.c.d value=1 1700000000000000000\n"},
        {"a.q.r 1 1700000000", 0, "a,host=q value=1 1700000000000000000\n"},
        {"a.b.c 1 1700000000", 0, "a,x=b,y=c value=1 1700000000000000000\n"},
        /* a.b exists: no backtracking to a.*, and the a.b node's own template applies. */
        {"a.b.q 1 1700000000", 0, "a,z=b value=1 1700000000000000000\n"},
        {"a 1 1700000000", 0, "a value=1 1700000000000000000\n"},
    };
    run("filters", &o3, c3, N(c3));

    /* Runtime errors: field twice, both wildcards; an empty tag value is left out. */
    const char *t4[] = {"f.* measurement.field.field", "w.* measurement*.field*",
                        "e.* measurement.host.x"};
    struct graphite_opts o4 = {NULL, t4, N(t4), NULL, 0};
    static const struct lcase c4[] = {
        {"f.a.b 1 1700000000", IWR_EPARSE, NULL},
        {"w.a.b 1 1700000000", IWR_EPARSE, NULL},
        {"e..b 1 1700000000", 0, "e,x=b value=1 1700000000000000000\n"},
        {"e.h,1.b=2 1 1700000000", 0, "e,host=h\\,1,x=b\\=2 value=1 1700000000000000000\n"},
    };
    run("apply errors", &o4, c4, N(c4));

    const char *b1[] = {"host.resource"};
    bad_opts(&(struct graphite_opts){NULL, b1, 1, NULL, 0}, "no measurement in template `host.resource`");
    const char *b2[] = {"a.* measurement", "a.* measurement.x"};
    bad_opts(&(struct graphite_opts){NULL, b2, 2, NULL, 0}, "duplicate filter 'a.*' found at position: 1");
    const char *b3[] = {"a..b measurement"};
    bad_opts(&(struct graphite_opts){NULL, b3, 1, NULL, 0}, "filter contains blank section: a..b");
    const char *b4[] = {"a.b* measurement"};
    bad_opts(&(struct graphite_opts){NULL, b4, 1, NULL, 0}, "invalid filter wildcard section: a.b*");
    const char *b5[] = {"measurement a=b,c"};
    bad_opts(&(struct graphite_opts){NULL, b5, 1, NULL, 0}, "invalid template tags: 'c'");
    const char *b6[] = {"a b c d"};
    bad_opts(&(struct graphite_opts){NULL, b6, 1, NULL, 0}, "invalid template format: 'a b c d'");
    const char *b7[] = {"  "};
    bad_opts(&(struct graphite_opts){NULL, b7, 1, NULL, 0}, "missing template at position: 0");
    const char *b8[] = {"x=y=z"};
    bad_opts(&(struct graphite_opts){NULL, NULL, 0, b8, 1}, "invalid template tags: 'x=y=z'");
    return tap_done();
}

/* Table tests for relay/lineproto.c. Every row of the table was checked against influxd 1.6.7
 * (verdict and error text; tests/integ/test_lineproto_influxd.py repeats most of them), except
 * the rows marked "ours", which are the documented differences in lineproto.h, and the
 * allow_unsigned rows, which 1.6.7 OSS cannot accept at all. */
#include "tests/unit/tap.h"

#include "common/buf.h"
#include "common/err.h"
#include "relay/lineproto.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW INT64_C(1700000123456789012)
#define NOW_S "1700000123456789012"
#define ERR "unable to parse '"

struct tcase {
    const char *name;
    const char *in;
    size_t len; /* 0: strlen(in) */
    enum lp_precision p;
    int allow_unsigned;
    const char *out;    /* what is stored */
    const char *errors; /* res.errors */
    size_t points, rejected, stamped;
};

static const struct tcase cases[] = {
    /* Accepted lines and normalisation */
    {"plain line with ns timestamp", "cpu,host=a,region=b v=1 1700000000000000000", 0, LP_NS, 0,
     "cpu,host=a,region=b v=1 1700000000000000000\n", "", 1, 0, 0},
    {"no timestamp gets now", "cpu v=1", 0, LP_NS, 0, "cpu v=1 " NOW_S "\n", "", 1, 0, 1},
    {"telegraf line",
     "cpu,host=server01,region=us-west usage_idle=98.5,usage_user=1.2,count=12i "
     "1700000000000000000",
     0, LP_NS, 0,
     "cpu,host=server01,region=us-west usage_idle=98.5,"
     "usage_user=1.2,count=12i 1700000000000000000\n",
     "", 1, 0, 0},
    {"several lines", "a v=1 1\nb v=2 2\n", 0, LP_NS, 0, "a v=1 1\nb v=2 2\n", "", 2, 0, 0},
    {"no trailing newline", "a v=1 1\nb v=2 2", 0, LP_NS, 0, "a v=1 1\nb v=2 2\n", "", 2, 0, 0},
    {"extra spaces normalised", "cpu,t=1  v=1  \t 5  ", 0, LP_NS, 0, "cpu,t=1  v=1 5\n", "", 1, 0,
     0},
    {"leading whitespace dropped", " \tcpu v=1 3", 0, LP_NS, 0, "cpu v=1 3\n", "", 1, 0, 0},
    {"leading NUL is whitespace", "\0cpu v=1 3", 10, LP_NS, 0, "cpu v=1 3\n", "", 1, 0, 0},
    {"NUL before timestamp",
     "cpu v=1 \0"
     "5",
     10, LP_NS, 0, "cpu v=1 5\n", "", 1, 0, 0},
    {"trailing tab after fields, no timestamp", "cpu v=1 \t", 0, LP_NS, 0, "cpu v=1 " NOW_S "\n",
     "", 1, 0, 1},
    {"leading zeros in timestamp rewritten", "cpu v=1 00000000000000000000000001", 0, LP_NS, 0,
     "cpu v=1 1\n", "", 1, 0, 0},
    {"minus zero timestamp", "cpu v=1 -00", 0, LP_NS, 0, "cpu v=1 0\n", "", 1, 0, 0},
    /* influxd fails the first store of a name that is not UTF-8 (a 500), then takes it. */
    {"invalid UTF-8 is taken as bytes", "c\xffpu,\xfe=\xff \xff=\"\xff\" 1", 0, LP_NS, 0,
     "c\xffpu,\xfe=\xff \xff=\"\xff\" 1\n", "", 1, 0, 0},
    {"measurement may start with =", "=cpu v=1 1", 0, LP_NS, 0, "=cpu v=1 1\n", "", 1, 0, 0},
    {"tag value may start with =", "cpu,a==b v=1 1", 0, LP_NS, 0, "cpu,a==b v=1 1\n", "", 1, 0, 0},
    {"empty field key after a tab", "cpu \t=1 1", 0, LP_NS, 0, "cpu \t=1 1\n", "", 1, 0, 0},
    {"same field twice, same type", "cpu v=1,v=2 1", 0, LP_NS, 0, "cpu v=1,v=2 1\n", "", 1, 0, 0},
    {"unsorted tags", "cpu,b=1,a=2 v=1 1", 0, LP_NS, 0, "cpu,b=1,a=2 v=1 1\n", "", 1, 0, 0},

    /* Escaping */
    {"escaped space and comma", "c\\ p\\,u,t\\ k=v\\,1,t\\=2=x\\=y f\\ 1=1,f\\,2=2,f\\=3=3 1", 0,
     LP_NS, 0, "c\\ p\\,u,t\\ k=v\\,1,t\\=2=x\\=y f\\ 1=1,f\\,2=2,f\\=3=3 1\n", "", 1, 0, 0},
    {"backslash before backslash-space escapes the space", "cpu\\\\ v=1", 0, LP_NS, 0, "",
     ERR "cpu\\\\ v=1': missing fields", 0, 1, 0},
    {"key ending in backslash", "cpu,a\\\\=1 v=1", 0, LP_NS, 0, "",
     ERR "cpu,a\\\\=1 v=1': missing tag value", 0, 1, 0},
    {"escaped = in tag key", "cpu,a=1,a\\=2 v=1", 0, LP_NS, 0, "",
     ERR "cpu,a=1,a\\=2 v=1': missing tag value", 0, 1, 0},
    {"walkFields splits at the second =", "cpu a\\\\=1,b=2 1", 0, LP_NS, 0, "cpu a\\\\=1,b=2 1\n",
     "", 1, 0, 0},
    {"walkFields finds no value", "cpu a\\\\=1", 0, LP_NS, 0, "",
     ERR "cpu a\\\\=1': invalid value: field-key=a\\\\=1", 0, 1, 0},
    {"an = after a string's closing quote: one field for walkFields", "cpu x=\"s\"t=1i,k", 0,
     LP_NS, 0, "", ERR "cpu x=\"s\"t=1i,k': invalid value: field-key=k", 0, 1, 0},
    {"a ',' after the closing quote: the same split for both", "cpu x=\"s\",t=1i,k=2 1", 0,
     LP_NS, 0, "cpu x=\"s\",t=1i,k=2 1\n", "", 1, 0, 0},

    /* Measurement and tags */
    {"missing fields", "cpu", 0, LP_NS, 0, "", ERR "cpu': missing fields", 0, 1, 0},
    {"space then nothing", "cpu ", 0, LP_NS, 0, "", ERR "cpu ': invalid field format", 0, 1, 0},
    {"missing measurement", ",t=1 v=1", 0, LP_NS, 0, "", ERR ",t=1 v=1': missing measurement", 0, 1,
     0},
    {"tag without =", "cpu,t v=1", 0, LP_NS, 0, "", ERR "cpu,t v=1': missing tag value", 0, 1, 0},
    {"tag without value", "cpu,t= v=1", 0, LP_NS, 0, "", ERR "cpu,t= v=1': missing tag value", 0, 1,
     0},
    {"tag without key", "cpu,=x v=1", 0, LP_NS, 0, "", ERR "cpu,=x v=1': missing tag key", 0, 1, 0},
    {"empty tag", "cpu, v=1", 0, LP_NS, 0, "", ERR "cpu, v=1': missing tag key", 0, 1, 0},
    {"tags then nothing", "cpu,t=1", 0, LP_NS, 0, "", ERR "cpu,t=1': missing fields", 0, 1, 0},
    {"= in tag value", "cpu,t=a=b v=1", 0, LP_NS, 0, "", ERR "cpu,t=a=b v=1': invalid tag format",
     0, 1, 0},
    {"duplicate tags, sorted", "cpu,a=1,a=2 v=1", 0, LP_NS, 0, "",
     ERR "cpu,a=1,a=2 v=1': duplicate tags", 0, 1, 0},
    {"duplicate tags, unsorted", "cpu,b=1,a=2,b=3 v=1", 0, LP_NS, 0, "",
     ERR "cpu,b=1,a=2,b=3 v=1': duplicate tags", 0, 1, 0},
    {"duplicate tags, first pair sorted", "cpu,a=1,b=2,a=3 v=1", 0, LP_NS, 0, "",
     ERR "cpu,a=1,b=2,a=3 v=1': duplicate tags", 0, 1, 0},
    {"tag error wins over duplicate", "cpu,a=1,a=1,b v=1", 0, LP_NS, 0, "",
     ERR "cpu,a=1,a=1,b v=1': missing tag value", 0, 1, 0},

    /* Fields */
    {"field without =", "cpu v", 0, LP_NS, 0, "", ERR "cpu v': invalid field format", 0, 1, 0},
    {"field without value", "cpu v=", 0, LP_NS, 0, "", ERR "cpu v=': missing field value", 0, 1, 0},
    {"field value then comma", "cpu v=,w=1", 0, LP_NS, 0, "",
     ERR "cpu v=,w=1': missing field value", 0, 1, 0},
    {"field without key", "cpu =1", 0, LP_NS, 0, "", ERR "cpu =1': missing field key", 0, 1, 0},
    {"second field without key", "cpu v=1,=2", 0, LP_NS, 0, "",
     ERR "cpu v=1,=2': missing field key", 0, 1, 0},
    {"trailing comma", "cpu v=1,", 0, LP_NS, 0, "", ERR "cpu v=1,': invalid field format", 0, 1, 0},
    {"double comma", "cpu v=1,,w=2", 0, LP_NS, 0, "", ERR "cpu v=1,,w=2': invalid field format", 0,
     1, 0},
    {"field key then nothing", "cpu v=1,w", 0, LP_NS, 0, "", ERR "cpu v=1,w': invalid field format",
     0, 1, 0},

    /* Floats */
    {"float forms", "cpu a=-1.5,b=.5,c=5.,d=1e5,e=1E-5,f=1.e5,g=-0 1", 0, LP_NS, 0,
     "cpu a=-1.5,b=.5,c=5.,d=1e5,e=1E-5,f=1.e5,g=-0 1\n", "", 1, 0, 0},
    {"lone dot", "cpu v=.", 0, LP_NS, 0, "", ERR "cpu v=.': invalid number", 0, 1, 0},
    {"minus dot", "cpu v=-.", 0, LP_NS, 0, "", ERR "cpu v=-.': invalid number", 0, 1, 0},
    {"lone minus", "cpu v=-", 0, LP_NS, 0, "", ERR "cpu v=-': invalid number", 0, 1, 0},
    {"two dots", "cpu v=1.2.3", 0, LP_NS, 0, "", ERR "cpu v=1.2.3': invalid number", 0, 1, 0},
    {"exponent without digits", "cpu v=1e", 0, LP_NS, 0, "", ERR "cpu v=1e': invalid float", 0, 1,
     0},
    {"exponent sign without digits", "cpu v=1e+", 0, LP_NS, 0, "", ERR "cpu v=1e+': invalid float",
     0, 1, 0},
    {"two exponents", "cpu v=1e5e5", 0, LP_NS, 0, "", ERR "cpu v=1e5e5': invalid float", 0, 1, 0},
    {"minus e", "cpu v=-e5", 0, LP_NS, 0, "", ERR "cpu v=-e5': invalid float", 0, 1, 0},
    {"plus sign", "cpu v=+1", 0, LP_NS, 0, "", ERR "cpu v=+1': invalid boolean", 0, 1, 0},
    {"minus inside", "cpu v=1-1", 0, LP_NS, 0, "", ERR "cpu v=1-1': invalid number", 0, 1, 0},
    {"NaN", "cpu v=NaN", 0, LP_NS, 0, "", ERR "cpu v=NaN': invalid number", 0, 1, 0},
    {"Inf is a bad boolean", "cpu v=Inf", 0, LP_NS, 0, "", ERR "cpu v=Inf': invalid boolean", 0, 1,
     0},
    {"overflow", "cpu v=1e400", 0, LP_NS, 0, "", ERR "cpu v=1e400': invalid float", 0, 1, 0},
    {"underflow is zero", "cpu v=1e-400 1", 0, LP_NS, 0, "cpu v=1e-400 1\n", "", 1, 0, 0},
    {"largest float", "cpu v=1.7976931348623157e308 1", 0, LP_NS, 0,
     "cpu v=1.7976931348623157e308 1\n", "", 1, 0, 0},
    {"rounds down to the largest float", "cpu v=1.7976931348623158e308 1", 0, LP_NS, 0,
     "cpu v=1.7976931348623158e308 1\n", "", 1, 0, 0},
    {"rounds up to infinity", "cpu v=1.7976931348623159e308", 0, LP_NS, 0, "",
     ERR "cpu v=1.7976931348623159e308': invalid float", 0, 1, 0},
    {"huge exponent", "cpu v=1e99999999999", 0, LP_NS, 0, "",
     ERR "cpu v=1e99999999999': invalid float", 0, 1, 0},
    {"zero with huge exponent", "cpu v=0e99999999 1", 0, LP_NS, 0, "cpu v=0e99999999 1\n", "", 1, 0,
     0},
    {"25 digits are parsed", "cpu v=1000000000000000000000000 1", 0, LP_NS, 0,
     "cpu v=1000000000000000000000000 1\n", "", 1, 0, 0},

    /* Integers and unsigned */
    {"integer limits",
     "cpu a=9223372036854775807i,b=-9223372036854775808i,c=0009223372036854775807i"
     " 1",
     0, LP_NS, 0,
     "cpu a=9223372036854775807i,b=-9223372036854775808i,"
     "c=0009223372036854775807i 1\n",
     "", 1, 0, 0},
    {"integer too large", "cpu v=9223372036854775808i", 0, LP_NS, 0, "",
     ERR "cpu v=9223372036854775808i': unable to parse integer 9223372036854775808: "
         "strconv.ParseInt: parsing \"9223372036854775808\": value out of range",
     0, 1, 0},
    {"integer too small", "cpu v=-9223372036854775809i", 0, LP_NS, 0, "",
     ERR "cpu v=-9223372036854775809i': unable to parse integer -9223372036854775809: "
         "strconv.ParseInt: parsing \"-9223372036854775809\": value out of range",
     0, 1, 0},
    {"i inside", "cpu v=1i5", 0, LP_NS, 0, "", ERR "cpu v=1i5': invalid number", 0, 1, 0},
    {"decimal integer", "cpu v=1.5i", 0, LP_NS, 0, "", ERR "cpu v=1.5i': invalid number", 0, 1, 0},
    {"scientific integer", "cpu v=1e3i", 0, LP_NS, 0, "", ERR "cpu v=1e3i': invalid number", 0, 1,
     0},
    {"minus i", "cpu v=-i", 0, LP_NS, 0, "", ERR "cpu v=-i': invalid number", 0, 1, 0},
    {"i then u", "cpu v=1iu", 0, LP_NS, 0, "", ERR "cpu v=1iu': invalid number", 0, 1, 0},
    {"unsigned refused by default", "cpu v=1u", 0, LP_NS, 0, "", ERR "cpu v=1u': invalid number", 0,
     1, 0},
    {"unsigned allowed", "cpu v=18446744073709551615u 1", 0, LP_NS, 1,
     "cpu v=18446744073709551615u 1\n", "", 1, 0, 0},
    {"unsigned too large", "cpu v=18446744073709551616u", 0, LP_NS, 1, "",
     ERR "cpu v=18446744073709551616u': unable to parse unsigned 18446744073709551616: "
         "strconv.ParseUint: parsing \"18446744073709551616\": value out of range",
     0, 1, 0},
    {"negative unsigned", "cpu v=-1u", 0, LP_NS, 1, "", ERR "cpu v=-1u': invalid number", 0, 1, 0},

    /* Booleans */
    {"every boolean spelling", "cpu a=t,b=T,c=true,d=True,e=TRUE,f=f,g=F,h=false,i=False,j=FALSE 1",
     0, LP_NS, 0, "cpu a=t,b=T,c=true,d=True,e=TRUE,f=f,g=F,h=false,i=False,j=FALSE 1\n", "", 1, 0,
     0},
    {"mixed-case true", "cpu v=tRUE", 0, LP_NS, 0, "", ERR "cpu v=tRUE': invalid boolean", 0, 1, 0},
    {"short false", "cpu v=fals", 0, LP_NS, 0, "", ERR "cpu v=fals': invalid boolean", 0, 1, 0},
    {"bare word", "cpu v=x", 0, LP_NS, 0, "", ERR "cpu v=x': invalid boolean", 0, 1, 0},

    /* Strings */
    {"string with separators", "cpu v=\"a b,c=d\" 1", 0, LP_NS, 0, "cpu v=\"a b,c=d\" 1\n", "", 1,
     0, 0},
    {"escaped quote and backslash", "cpu v=\"a\\\"b\\\\\" 1", 0, LP_NS, 0,
     "cpu v=\"a\\\"b\\\\\" 1\n", "", 1, 0, 0},
    {"newline in a string", "cpu v=\"a\nb\" 4\ncpu w=1 5", 0, LP_NS, 0,
     "cpu v=\"a\nb\" 4\ncpu w=1 5\n", "", 2, 0, 0},
    {"bytes after the closing quote", "cpu a=\"abc\"def 1", 0, LP_NS, 0, "cpu a=\"abc\"def 1\n", "",
     1, 0, 0},
    {"unbalanced quotes", "cpu v=\"a", 0, LP_NS, 0, "", ERR "cpu v=\"a': unbalanced quotes", 0, 1,
     0},
    {"open quote swallows the next lines", "cpu v=1 1\ncpu v=\"x\ncpu b=1", 0, LP_NS, 0,
     "cpu v=1 1\n", ERR "cpu v=\"x\ncpu b=1': unbalanced quotes", 1, 1, 0},
    {"extra quoted = is a field", "cpu a=\"abc\"def=5", 0, LP_NS, 0, "",
     ERR "cpu a=\"abc\"def=5': invalid field format", 0, 1, 0},

    /* Timestamps */
    {"lone minus timestamp", "cpu v=1 -", 0, LP_NS, 0, "",
     ERR "cpu v=1 -': strconv.ParseInt: parsing \"-\": invalid syntax", 0, 1, 0},
    {"bad timestamp", "cpu v=1 1.5", 0, LP_NS, 0, "", ERR "cpu v=1 1.5': bad timestamp", 0, 1, 0},
    {"plus timestamp", "cpu v=1 +1", 0, LP_NS, 0, "", ERR "cpu v=1 +1': bad timestamp", 0, 1, 0},
    {"tab after timestamp", "cpu v=1 5\t", 0, LP_NS, 0, "", ERR "cpu v=1 5\t': bad timestamp", 0, 1,
     0},
    {"tab before timestamp", "cpu v=1\t5", 0, LP_NS, 0, "", ERR "cpu v=1\t5': invalid number", 0, 1,
     0},
    {"junk after timestamp", "cpu v=1 1 x", 0, LP_NS, 0, "", ERR "cpu v=1 1 x': point is invalid",
     0, 1, 0},
    {"bad timestamp wins over fields after", "cpu v=1 ,w=2", 0, LP_NS, 0, "",
     ERR "cpu v=1 ,w=2': bad timestamp", 0, 1, 0},
    {"ns lower edge", "cpu v=1 -9223372036854775806", 0, LP_NS, 0, "cpu v=1 -9223372036854775806\n",
     "", 1, 0, 0},
    {"ns upper edge", "cpu v=1 9223372036854775806", 0, LP_NS, 0, "cpu v=1 9223372036854775806\n",
     "", 1, 0, 0},
    {"ns below range", "cpu v=1 -9223372036854775807", 0, LP_NS, 0, "",
     ERR "cpu v=1 -9223372036854775807': time outside range -9223372036854775806 - "
         "9223372036854775806",
     0, 1, 0},
    {"ns above range", "cpu v=1 9223372036854775807", 0, LP_NS, 0, "",
     ERR "cpu v=1 9223372036854775807': time outside range -9223372036854775806 - "
         "9223372036854775806",
     0, 1, 0},
    {"int64 overflow", "cpu v=1 9223372036854775808", 0, LP_NS, 0, "",
     ERR "cpu v=1 9223372036854775808': strconv.ParseInt: parsing \"9223372036854775808\": value "
         "out of range",
     0, 1, 0},
    {"int64 underflow", "cpu v=1 -9223372036854775809", 0, LP_NS, 0, "",
     ERR "cpu v=1 -9223372036854775809': strconv.ParseInt: parsing \"-9223372036854775809\": "
         "value out of range",
     0, 1, 0},

    /* Precisions */
    {"us", "cpu v=1 9223372036854775", 0, LP_US, 0, "cpu v=1 9223372036854775000\n", "", 1, 0, 0},
    {"us over", "cpu v=1 9223372036854776", 0, LP_US, 0, "",
     ERR "cpu v=1 9223372036854776': time outside range -9223372036854775806 - "
         "9223372036854775806",
     0, 1, 0},
    {"us under", "cpu v=1 -9223372036854776", 0, LP_US, 0, "",
     ERR "cpu v=1 -9223372036854776': time outside range -9223372036854775806 - "
         "9223372036854775806",
     0, 1, 0},
    {"ms", "cpu v=1 9223372036854", 0, LP_MS, 0, "cpu v=1 9223372036854000000\n", "", 1, 0, 0},
    {"ms over", "cpu v=1 9223372036855", 0, LP_MS, 0, "",
     ERR "cpu v=1 9223372036855': time outside range -9223372036854775806 - 9223372036854775806", 0,
     1, 0},
    {"s", "cpu v=1 -9223372036", 0, LP_S, 0, "cpu v=1 -9223372036000000000\n", "", 1, 0, 0},
    {"s over", "cpu v=1 9223372037", 0, LP_S, 0, "",
     ERR "cpu v=1 9223372037': time outside range -9223372036854775806 - 9223372036854775806", 0, 1,
     0},
    {"s with the ns minimum", "cpu v=1 -9223372036854775806", 0, LP_S, 0, "",
     ERR "cpu v=1 -9223372036854775806': time outside range -9223372036854775806 - "
         "9223372036854775806",
     0, 1, 0},
    {"m", "cpu v=1 153722867", 0, LP_M, 0, "cpu v=1 9223372020000000000\n", "", 1, 0, 0},
    {"m over", "cpu v=1 153722868", 0, LP_M, 0, "",
     ERR "cpu v=1 153722868': time outside range -9223372036854775806 - 9223372036854775806", 0, 1,
     0},
    {"h", "cpu v=1 -2562047", 0, LP_H, 0, "cpu v=1 -9223369200000000000\n", "", 1, 0, 0},
    {"h over", "cpu v=1 2562048", 0, LP_H, 0, "",
     ERR "cpu v=1 2562048': time outside range -9223372036854775806 - 9223372036854775806", 0, 1,
     0},
    {"now truncated to us", "cpu v=1", 0, LP_US, 0, "cpu v=1 1700000123456789000\n", "", 1, 0, 1},
    {"now truncated to ms", "cpu v=1", 0, LP_MS, 0, "cpu v=1 1700000123456000000\n", "", 1, 0, 1},
    {"now truncated to s", "cpu v=1", 0, LP_S, 0, "cpu v=1 1700000123000000000\n", "", 1, 0, 1},
    {"now truncated to m", "cpu v=1", 0, LP_M, 0, "cpu v=1 1700000100000000000\n", "", 1, 0, 1},
    {"now truncated to h", "cpu v=1", 0, LP_H, 0, "cpu v=1 1699999200000000000\n", "", 1, 0, 1},

    /* Blank lines, comments, CRLF */
    {"empty body", "", 0, LP_NS, 0, "", "", 0, 0, 0},
    {"blank lines", "\n\n  \t\n", 0, LP_NS, 0, "", "", 0, 0, 0},
    {"comments", "# one\n  \t# two\n#", 0, LP_NS, 0, "", "", 0, 0, 0},
    {"comment after NUL", "\0# c", 4, LP_NS, 0, "", "", 0, 0, 0},
    {"comment with a quote swallows lines", "# a b=\"x\ncpu v=1\n\"\ncpu v=2 2", 0, LP_NS, 0,
     "cpu v=2 2\n", "", 1, 0, 0},
    {"escaped newline joins lines", "cpu,t=a\\\ncpu v=1", 0, LP_NS, 0,
     "cpu,t=a\\\ncpu v=1 " NOW_S "\n", "", 1, 0, 1},
    {"ours: CRLF", "cpu v=1 5\r\ncpu v=2\r\n\r\n# c\r\n", 0, LP_NS, 0,
     "cpu v=1 5\ncpu v=2 " NOW_S "\n", "", 2, 0, 1},
    {"ours: CR at the end of the body", "cpu v=1 5\r", 0, LP_NS, 0, "cpu v=1 5\n", "", 1, 0, 0},
    {"ours: CR dropped from the error text", "bad\r\n", 0, LP_NS, 0, "", ERR "bad': missing fields",
     0, 1, 0},
    {"CR inside a line is a byte", "cpu v=1\r5", 0, LP_NS, 0, "", ERR "cpu v=1\r5': invalid number",
     0, 1, 0},

    /* What influxd's shard refuses */
    {"time field only", "c\\ pu,x=1 time=1", 0, LP_NS, 0, "",
     ERR "c\\ pu,x=1 time=1': invalid field name: input field \"time\" on measurement \"c pu\" is "
         "invalid",
     0, 1, 0},
    {"time field among others is dropped by influxd", "cpu v=1,time=2 1", 0, LP_NS, 0,
     "cpu v=1,time=2 1\n", "", 1, 0, 0},
    {"time tag", "c\\,p\\=u\\\"x,a=1,time=x v=1", 0, LP_NS, 0, "",
     ERR "c\\,p\\=u\\\"x,a=1,time=x v=1': invalid tag key: input tag \"time\" on measurement "
         "\"c,p=u\"x\" is invalid",
     0, 1, 0},
    {"time tag wins over time field", "cpu,time=1 time=1", 0, LP_NS, 0, "",
     ERR "cpu,time=1 time=1': invalid tag key: input tag \"time\" on measurement \"cpu\" is "
         "invalid",
     0, 1, 0},
    {"parse error wins over shard refusal", "cpu,time=1 v=1 x", 0, LP_NS, 0, "",
     ERR "cpu,time=1 v=1 x': bad timestamp", 0, 1, 0},
    {"type conflict in one line", "cpu v=1,w=2,v=1i", 0, LP_NS, 0, "",
     ERR "cpu v=1,w=2,v=1i': field type conflict: input field \"v\" on measurement \"cpu\" is type "
         "integer, already exists as type float",
     0, 1, 0},
    {"type conflict between escaped spellings", "cpu a\\\"b=1,a\"b=t", 0, LP_NS, 0, "",
     ERR
     "cpu a\\\"b=1,a\"b=t': field type conflict: input field \"a\"b\" on measurement \"cpu\" is "
     "type boolean, already exists as type float",
     0, 1, 0},
    {"time fields never conflict", "cpu time=1,v=1,time=t 1", 0, LP_NS, 0,
     "cpu time=1,v=1,time=t 1\n", "", 1, 0, 0},
    {"engine cannot read a walkFields value", "cpu t\\\\=\"a b,c=d\"", 0, LP_NS, 0, "",
     ERR "cpu t\\\\=\"a b,c=d\"': engine: unable to parse bool value \"d\\\"\": strconv.ParseBool: "
         "parsing \"d\\\"\": invalid syntax",
     0, 1, 0},
    {"engine reads inf", "cpu t\\\\=\"x,y=inf,z=\"w\"\" 1", 0, LP_NS, 0,
     "cpu t\\\\=\"x,y=inf,z=\"w\"\" 1\n", "", 1, 0, 0},
    {"engine reads 0x1p3", "cpu t\\\\=\"x,y=0x1p3,z=\"w\"\" 1", 0, LP_NS, 0,
     "cpu t\\\\=\"x,y=0x1p3,z=\"w\"\" 1\n", "", 1, 0, 0},
    {"engine: hex without exponent", "cpu t\\\\=\"x,y=0x10,z=\"w\"\"", 0, LP_NS, 0, "",
     ERR "cpu t\\\\=\"x,y=0x10,z=\"w\"\"': engine: unable to parse floating point value \"0x10\": "
         "strconv.ParseFloat: parsing \"0x10\": invalid syntax",
     0, 1, 0},
    {"engine: float out of range", "cpu t\\\\=\"x,y=1e400,z=\"w\"\"", 0, LP_NS, 0, "",
     ERR
     "cpu t\\\\=\"x,y=1e400,z=\"w\"\"': engine: unable to parse floating point value \"1e400\": "
     "strconv.ParseFloat: parsing \"1e400\": value out of range",
     0, 1, 0},
    {"engine: underscore in integer", "cpu t\\\\=\"x,y=1_0i,z=\"w\"\"", 0, LP_NS, 0, "",
     ERR "cpu t\\\\=\"x,y=1_0i,z=\"w\"\"': engine: unable to parse integer value \"1_0\": "
         "strconv.ParseInt: parsing \"1_0\": invalid syntax",
     0, 1, 0},
    {"engine: empty value", "cpu t\\\\=\"x,y=,z=\"w\"\"", 0, LP_NS, 0, "",
     ERR "cpu t\\\\=\"x,y=,z=\"w\"\"': engine: unknown field type for t\\=\"x,y: "
         "cpu t\\\\=\"x,y=,z=\"w\"\" " NOW_S,
     0, 1, 0},

    /* Lines that would change meaning when stored (ours) */
    {"ours: open quote only at the end of a body", "m\\\\ a=\" v=1 5", 0, LP_NS, 0, "",
     ERR "m\\\\ a=\" v=1 5': ambiguous line: stored with a nanosecond timestamp it would parse "
         "differently (trailing backslash or open quote)",
     0, 1, 0},
    {"ours: trailing backslash", "cpu v=\"a\"\\", 0, LP_NS, 0, "",
     ERR "cpu v=\"a\"\\': ambiguous line: stored with a nanosecond timestamp it would parse "
         "differently (trailing backslash or open quote)",
     0, 1, 0},
    {"the same open quote mid-body", "m\\\\ a=\" v=1 5\ncpu v=2 6", 0, LP_NS, 0, "",
     ERR "m\\\\ a=\" v=1 5\ncpu v=2 6': point is invalid", 0, 1, 0},

    /* Several errors */
    {"errors joined, good lines kept", "bad1\ncpu v=1 1\nbad2 v\n", 0, LP_NS, 0, "cpu v=1 1\n",
     ERR "bad1': missing fields\n" ERR "bad2 v': invalid field format", 1, 2, 0},

    /* Edge inputs around backslashes and quotes at the end of a body */
    {"lone backslash", "\\", 0, LP_NS, 0, "", ERR "\\': missing fields", 0, 1, 0},
    {"backslash newline", " \\\n", 0, LP_NS, 0, "", ERR "\\': missing fields", 0, 1, 0},
    {"quote at the end of the body", "a b=\"", 0, LP_NS, 0, "", ERR "a b=\"': unbalanced quotes", 0,
     1, 0},
    {"newline inside a quote at the end", "a b=\"\n", 0, LP_NS, 0, "",
     ERR "a b=\"': unbalanced quotes", 0, 1, 0},
};

static void run_case(const struct tcase *c)
{
    struct lp_options opt = {.allow_unsigned = c->allow_unsigned, .max_errors = 100};
    struct lp_result res;
    struct buf out;
    buf_init(&out);
    lp_result_init(&res);
    size_t len = c->len != 0 ? c->len : strlen(c->in);
    int rc = lp_normalize(c->in, len, c->p, NOW, &opt, &out, &res);
    char name[256];
    snprintf(name, sizeof(name), "%s: returns 0", c->name);
    CHECK_EQ_INT(rc, 0, name);
    /* No case here stores a NUL, so the length catches one the text comparison would miss. */
    snprintf(name, sizeof(name), "%s: output length", c->name);
    CHECK_EQ_INT(out.len, strlen(c->out), name);
    buf_append(&out, "", 1);
    buf_append(&res.errors, "", 1);
    snprintf(name, sizeof(name), "%s: output", c->name);
    CHECK_EQ_STR(out.data, c->out, name);
    snprintf(name, sizeof(name), "%s: errors", c->name);
    CHECK_EQ_STR(res.errors.data, c->errors, name);
    snprintf(name, sizeof(name), "%s: counts", c->name);
    CHECK(res.points == c->points && res.rejected == c->rejected && res.stamped == c->stamped,
          "%s (got %zu/%zu/%zu, want %zu/%zu/%zu)", name, res.points, res.rejected, res.stamped,
          c->points, c->rejected, c->stamped);
    /* lp_normalize_borrow stores the same bytes: 'in' itself, or what it appended. */
    struct lp_result res2;
    struct buf out2;
    buf_init(&out2);
    lp_result_init(&res2);
    lp_normalize_borrow(c->in, len, c->p, NOW, &opt, &out2, &res2);
    snprintf(name, sizeof(name), "%s: lp_normalize_borrow stores the same", c->name);
    CHECK(res2.as_received
              ? out2.len == 0 && len == strlen(c->out) && memcmp(c->in, c->out, len) == 0
              : out2.len == strlen(c->out) &&
                    (out2.len == 0 || memcmp(out2.data, c->out, out2.len) == 0),
          "%s", name);
    CHECK(res2.points == res.points && res2.rejected == res.rejected, "%s: counts", name);
    buf_deinit(&out2);
    lp_result_deinit(&res2);
    buf_deinit(&out);
    lp_result_deinit(&res);
}

/* lp_normalize_borrow takes a body as received exactly when no byte of it is rewritten. */
static void test_as_received(void)
{
    static const struct {
        const char *in;
        enum lp_precision p;
        int as_received;
    } t[] = {
        {"cpu,host=a v=1 1700000000000000000\nmem v=2i,s=\"x y\" 17\n", LP_NS, 1},
        {"cpu v=1 -5\n", LP_NS, 1},
        {"cpu v=1 1700000000000000000\r\n", LP_NS, 0}, /* CRLF */
        {"cpu v=1\n", LP_NS, 0},                       /* stamped */
        {"cpu v=1 1700000000000\n", LP_MS, 0},         /* another precision */
        {" cpu v=1 1\n", LP_NS, 0},                    /* leading space */
        {"cpu v=1  1\n", LP_NS, 0},                    /* two spaces before the time */
        {"cpu v=1 1 \n", LP_NS, 0},                    /* a space after it */
        {"cpu v=1 01\n", LP_NS, 0},                    /* not canonical */
        {"cpu v=1 1", LP_NS, 0},                       /* no final newline */
        {"cpu v=1 1\n\ncpu v=2 2\n", LP_NS, 0},        /* a blank line */
        {"cpu v=1 1\n# c\n", LP_NS, 0},                /* a comment */
        {"cpu v=1 1\ncpu 2\ncpu v=3 3\n", LP_NS, 0},   /* a rejected line */
        {"", LP_NS, 0},
    };
    struct lp_options opt = {.allow_unsigned = 0, .max_errors = 4};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct lp_result res;
        struct buf out;
        buf_init(&out);
        lp_result_init(&res);
        lp_normalize_borrow(t[i].in, strlen(t[i].in), t[i].p, NOW, &opt, &out, &res);
        CHECK(res.as_received == t[i].as_received &&
                  (out.len == 0) == (res.as_received || res.points == 0),
              "lp_normalize_borrow(\"%s\"): as_received %d, %zu bytes appended", t[i].in,
              res.as_received, out.len);
        buf_deinit(&out);
        lp_result_deinit(&res);
    }
}

/* Run 'in' and return what was stored and the error text, for the checks below. */
static void run(const char *in, size_t len, enum lp_precision p, const struct lp_options *opt,
                struct buf *out, struct lp_result *res)
{
    lp_result_init(res);
    lp_normalize(in, len, p, NOW, opt, out, res);
    buf_append(out, "", 1);
    out->len--;
    buf_append(&res->errors, "", 1);
    res->errors.len--;
}

static void test_precision_api(void)
{
    static const struct {
        const char *s;
        int v2;
        int rc;
        enum lp_precision p;
    } t[] = {
        {"", 0, 0, LP_NS},
        {"n", 0, 0, LP_NS},
        {"ns", 0, 0, LP_NS},
        {"u", 0, 0, LP_US},
        {"us", 0, 0, LP_US},
        {"ms", 0, 0, LP_MS},
        {"s", 0, 0, LP_S},
        {"m", 0, 0, LP_M},
        {"h", 0, 0, LP_H},
        {"x", 0, IWR_EPARSE, LP_NS},
        {"nss", 0, IWR_EPARSE, LP_NS},
        {"", 1, 0, LP_NS},
        {"ns", 1, 0, LP_NS},
        {"us", 1, 0, LP_US},
        {"ms", 1, 0, LP_MS},
        {"s", 1, 0, LP_S},
        {"n", 1, IWR_EPARSE, LP_NS},
        {"u", 1, IWR_EPARSE, LP_NS},
        {"m", 1, IWR_EPARSE, LP_NS},
        {"h", 1, IWR_EPARSE, LP_NS},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        enum lp_precision p = LP_H;
        int rc = lp_parse_precision(t[i].s, strlen(t[i].s), t[i].v2, &p);
        /* On failure *out is left alone. */
        enum lp_precision want = t[i].rc == 0 ? t[i].p : LP_H;
        CHECK(rc == t[i].rc && p == want, "lp_parse_precision(\"%s\", v2=%d) = %d, %d", t[i].s,
              t[i].v2, rc, (int)p);
    }
    /* Length, not NUL termination, delimits the string. */
    enum lp_precision p = LP_NS;
    CHECK_EQ_INT(lp_parse_precision("msX", 2, 0, &p), 0, "lp_parse_precision honours len");
    CHECK_EQ_INT(p, LP_MS, "lp_parse_precision(\"ms\" of \"msX\") is ms");
    CHECK_EQ_INT(lp_parse_precision(NULL, 0, 0, &p), 0, "lp_parse_precision(NULL, 0) is ns");
    CHECK_EQ_INT(lp_parse_precision(NULL, 1, 0, &p), IWR_EPARSE, "lp_parse_precision(NULL, 1)");

    static const int64_t ns[] = {
        1, 1000, 1000000, 1000000000, INT64_C(60000000000), INT64_C(3600000000000)};
    static const char *const names[] = {"ns", "us", "ms", "s", "m", "h"};
    for (int i = LP_NS; i <= LP_H; i++) {
        CHECK(lp_precision_ns((enum lp_precision)i) == ns[i], "lp_precision_ns(%s)", names[i]);
        CHECK_EQ_STR(lp_precision_name((enum lp_precision)i), names[i], "lp_precision_name");
    }
}

static void test_max_errors(void)
{
    const char *in = "a\nb\nc\ncpu v=1 1\nd\n";
    struct lp_options opt = {.allow_unsigned = 0, .max_errors = 2};
    struct buf out;
    struct lp_result res;
    buf_init(&out);
    run(in, strlen(in), LP_NS, &opt, &out, &res);
    CHECK_EQ_INT(res.rejected, 4, "max_errors: all rejected lines counted");
    CHECK_EQ_STR(res.errors.data, ERR "a': missing fields\n" ERR "b': missing fields",
                 "max_errors: only the first 2 described");
    CHECK_EQ_INT(res.points, 1, "max_errors: good line kept");
    lp_result_deinit(&res);
    buf_clear(&out);

    /* max_errors 0 and a NULL opt both mean 1. */
    opt.max_errors = 0;
    run(in, strlen(in), LP_NS, &opt, &out, &res);
    CHECK_EQ_STR(res.errors.data, ERR "a': missing fields", "max_errors 0 describes one");
    lp_result_deinit(&res);
    buf_clear(&out);
    run(in, strlen(in), LP_NS, NULL, &out, &res);
    CHECK_EQ_STR(res.errors.data, ERR "a': missing fields", "NULL options describe one");
    CHECK_EQ_INT(res.rejected, 4, "NULL options count all");
    lp_result_deinit(&res);
    buf_clear(&out);

    /* NULL options refuse unsigned fields. */
    run("cpu v=1u 1", 10, LP_NS, NULL, &out, &res);
    CHECK_EQ_INT(res.rejected, 1, "NULL options refuse unsigned");
    lp_result_deinit(&res);
    buf_deinit(&out);
}

static void test_nul(void)
{
    static const char in[] = "cpu\0 v=1 5";
    static const char want[] = "cpu\0 v=1 5\n";
    struct buf out;
    struct lp_result res;
    buf_init(&out);
    run(in, sizeof(in) - 1, LP_NS, NULL, &out, &res);
    CHECK(out.len == sizeof(want) - 1 && memcmp(out.data, want, out.len) == 0,
          "NUL inside a measurement is kept");
    lp_result_deinit(&res);
    buf_deinit(&out);
}

static void test_appends(void)
{
    struct buf out;
    struct lp_result res;
    buf_init(&out);
    buf_append_str(&out, "keep\n");
    run("cpu v=1 1", 9, LP_NS, NULL, &out, &res);
    CHECK_EQ_STR(out.data, "keep\ncpu v=1 1\n", "appends to out without truncating it");
    lp_result_deinit(&res);
    /* A rejected ambiguous line leaves out as it was. */
    run("cpu v=\"a\"\\", 10, LP_NS, NULL, &out, &res);
    CHECK_EQ_STR(out.data, "keep\ncpu v=1 1\n", "a refused line leaves out unchanged");
    lp_result_deinit(&res);
    buf_deinit(&out);
}

/* Lines with many tags or fields, which use the scratch arrays. */
static void test_many(void)
{
    struct buf in, out;
    struct lp_result res;
    buf_init(&in);
    buf_init(&out);

    /* 150 tags in reverse order: unsorted, no duplicate. */
    buf_append_str(&in, "cpu");
    for (int i = 149; i >= 0; i--)
        buf_printf(&in, ",t%03d=x", i);
    buf_append_str(&in, " v=1 1");
    run(in.data, in.len, LP_NS, NULL, &out, &res);
    CHECK(res.points == 1 && res.rejected == 0, "150 unsorted tags accepted");
    lp_result_deinit(&res);

    /* The same with one duplicate far apart. */
    buf_clear(&in);
    buf_clear(&out);
    buf_append_str(&in, "cpu");
    for (int i = 149; i >= 0; i--)
        buf_printf(&in, ",t%03d=x", i == 3 ? 140 : i);
    buf_append_str(&in, " v=1 1");
    run(in.data, in.len, LP_NS, NULL, &out, &res);
    CHECK(res.rejected == 1 && strstr(res.errors.data, "': duplicate tags") != NULL,
          "150 unsorted tags with a duplicate refused");
    lp_result_deinit(&res);

    /* 99, 100, 101, 200 tags: influxd 1.6.7 fails on 100 * 2^k. */
    static const struct {
        int n;
        int ok;
    } counts[] = {{99, 1}, {100, 0}, {101, 1}, {200, 0}, {300, 1}, {400, 0}};
    for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
        buf_clear(&in);
        buf_clear(&out);
        buf_append_str(&in, "cpu");
        for (int i = 0; i < counts[k].n; i++)
            buf_printf(&in, ",t%04d=x", i);
        buf_append_str(&in, " v=1 1");
        run(in.data, in.len, LP_NS, NULL, &out, &res);
        char want[96];
        snprintf(want, sizeof(want), "': runtime error: index out of range [%d] with length %d",
                 counts[k].n, counts[k].n);
        CHECK(counts[k].ok ? res.points == 1
                           : res.rejected == 1 && strstr(res.errors.data, want) != NULL,
              "%d tags %s", counts[k].n, counts[k].ok ? "accepted" : "refused as influxd fails");
        lp_result_deinit(&res);
    }

    /* 40 fields with a conflict at the end; and without. */
    for (int conflict = 0; conflict <= 1; conflict++) {
        buf_clear(&in);
        buf_clear(&out);
        buf_append_str(&in, "cpu ");
        for (int i = 0; i < 40; i++)
            buf_printf(&in, "%sf%02d=1", i ? "," : "", i);
        buf_append_str(&in, conflict ? ",f07=\"s\" 1" : ",f07=2 1");
        run(in.data, in.len, LP_NS, NULL, &out, &res);
        CHECK(conflict ? res.rejected == 1 && strstr(res.errors.data, "': field type conflict: "
                                                                      "input field \"f07\"") != NULL
                       : res.points == 1,
              "41 fields %s", conflict ? "with a type conflict refused" : "accepted");
        lp_result_deinit(&res);
    }

    /* Key sizes at influxd's limit: measurement + 4 + field key <= 65535. */
    static const struct {
        size_t meas;
        const char *fields;
        int ok;
        const char *err;
    } keys[] = {
        {65530, "v=1", 1, NULL},
        {65531, "v=1", 0, "': max key length exceeded: 65536 > 65535"},
        {65527, "vvvv=1", 1, NULL},
        {65527, "vvvvv=1", 0, "': max key length exceeded: 65536 > 65535"},
        {65530, "v=1,ww=2", 0, "': max key length exceeded: 65536 > 65535"},
        {65536, "v=1", 0, "': max key length exceeded: 65536 > 65535"},
        {65530, "v=1,w", 0, "': invalid field format"},
    };
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        buf_clear(&in);
        buf_clear(&out);
        memset(buf_reserve(&in, keys[k].meas), 'x', keys[k].meas);
        in.len += keys[k].meas;
        buf_printf(&in, " %s 1", keys[k].fields);
        run(in.data, in.len, LP_NS, NULL, &out, &res);
        CHECK(keys[k].ok ? res.points == 1
                         : res.rejected == 1 && strstr(res.errors.data, keys[k].err) != NULL,
              "measurement of %zu bytes with %s", keys[k].meas, keys[k].fields);
        lp_result_deinit(&res);
    }

    /* Float digits around the overflow point: 2^1024 - 2^970 rounds to infinity. */
    static const char half[] =
        "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649"
        "017977587207096330286416692887910946555547851940402630657488671505820681908902000708383"
        "676273854845817711531764475730270069855571366959622842914819860834936475292719074168444"
        "365510704342711559699508093042880177904174497792";
    static const struct {
        const char *pre, *mid, *post;
        int ok;
    } floats[] = {
        {"", half, "", 0},          {"-", half, "", 0},
        {"", half, "1", 0}, /* ten times more */
        {"0.", half, "e309", 0},    {"0.", half, "0000e309", 0},
        {"0.000", half, "e312", 0},
    };
    for (size_t k = 0; k < sizeof(floats) / sizeof(floats[0]); k++) {
        buf_clear(&in);
        buf_clear(&out);
        buf_printf(&in, "cpu v=%s%s%s 1", floats[k].pre, floats[k].mid, floats[k].post);
        run(in.data, in.len, LP_NS, NULL, &out, &res);
        CHECK(floats[k].ok ? res.points == 1 : strstr(res.errors.data, "': invalid float") != NULL,
              "float %s<halfway>%s is %s", floats[k].pre, floats[k].post,
              floats[k].ok ? "taken" : "infinite");
        lp_result_deinit(&res);
    }
    /* One less than halfway, in three spellings, stays finite. */
    char below[sizeof(half)];
    memcpy(below, half, sizeof(half));
    below[sizeof(half) - 2] = '1';
    static const char *const spell[][2] = {{"", ""}, {"0.", "e309"}, {"", ".9999999999"}};
    for (size_t k = 0; k < 3; k++) {
        buf_clear(&in);
        buf_clear(&out);
        buf_printf(&in, "cpu v=%s%s%s 1", spell[k][0], below, spell[k][1]);
        run(in.data, in.len, LP_NS, NULL, &out, &res);
        CHECK_EQ_INT(res.points, 1, "float just below halfway is finite");
        lp_result_deinit(&res);
    }
    /* influxd's slow path keeps 800 digits and puts the point after them: 1e400 passes. */
    buf_clear(&in);
    buf_clear(&out);
    buf_append_str(&in, "cpu v=1");
    for (int i = 0; i < 1000; i++)
        buf_append(&in, "0", 1);
    buf_append_str(&in, "e-600 1");
    run(in.data, in.len, LP_NS, NULL, &out, &res);
    CHECK_EQ_INT(res.points, 1, "1 and 1000 zeros e-600 passes, as in Go");
    lp_result_deinit(&res);

    buf_deinit(&in);
    buf_deinit(&out);
}

int main(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(&cases[i]);
    test_precision_api();
    test_max_errors();
    test_nul();
    test_appends();
    test_many();
    test_as_received();
    return tap_done();
}

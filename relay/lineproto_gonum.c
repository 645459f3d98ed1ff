/* Go number replicas: how influxd 1.6.7 (Go's strconv) decides that a number's text is bad syntax
 * or out of range, without computing the value. influxd's scanner lets through numbers that
 * only strconv then refuses, and its storage engine reads values with strconv too, so the
 * relay must refuse exactly what strconv refuses. Pure, any thread; see lineproto_int.h. */
#include "relay/lineproto_int.h"

#include "common/buf.h"

#include <string.h>

/* Go's strconv.ParseInt (is_signed) or ParseUint range check on b[a, e): an optional '-' then
 * digits (callers let nothing else through). Returns 1 if out of range. */
int gonum_int_out_of_range(const unsigned char *b, size_t a, size_t e, int is_signed)
{
    int neg = 0;
    if (a < e && b[a] == '-') {
        neg = 1;
        a++;
    }
    while (a < e && b[a] == '0')
        a++;
    const char *lim = !is_signed ? "18446744073709551615"
                      : neg      ? "9223372036854775808"
                                 : "9223372036854775807";
    size_t ln = strlen(lim);
    if (e - a != ln)
        return e - a > ln;
    return memcmp(b + a, lim, ln) > 0;
}

/* 2^1024 - 2^970: halfway between the largest float64 and 2^1024; from here up rounds to
 * infinity (ties go to the even mantissa, which is the overflow). */
static const char float_halfway[] =
    "17976931348623158079372897140530341507993413271003782693617377898044496829276475094664901797"
    "75872070963302864166928879109465555478519404026306574886715058206819089020007083836762738548"
    "45817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711"
    "559699508093042880177904174497792";

/* Whether 0.<digits of b[a, e), leading zeros, '.' and '_' skipped> x 10^309 rounds to
 * infinity. */
static int digits_overflow_309(const unsigned char *b, size_t a, size_t e)
{
    size_t k = 0;
    const size_t hn = sizeof(float_halfway) - 1;
    for (; a < e; a++) {
        if (b[a] == '.' || b[a] == '_')
            continue;
        if (b[a] < '0' || b[a] > '9')
            break;
        if (k == 0 && b[a] == '0')
            continue;
        if (k < hn) {
            if (b[a] != (unsigned char)float_halfway[k])
                return b[a] > (unsigned char)float_halfway[k];
            k++;
        } else if (b[a] != '0') {
            return 1;
        }
    }
    /* Equal to the halfway point so far; shorter means trailing zeros, i.e. less. */
    return k == hn;
}

/* Whether s[0, n) equals the lower-case 'lit', ignoring case. */
static int ieq(const unsigned char *s, size_t n, const char *lit)
{
    size_t ln = strlen(lit);
    if (n != ln)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if ((s[i] | 0x20) != (unsigned char)lit[i])
            return 0;
    }
    return 1;
}

/* Go's underscoreOK: underscores only between digits (a base prefix counts as a digit). */
static int underscore_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    char saw = '^';
    int hex = 0;
    if (n >= 1 && (s[0] == '-' || s[0] == '+'))
        i = 1;
    if (n - i >= 2 && s[i] == '0' &&
        ((s[i + 1] | 0x20) == 'b' || (s[i + 1] | 0x20) == 'o' || (s[i + 1] | 0x20) == 'x')) {
        hex = (s[i + 1] | 0x20) == 'x';
        i += 2;
        saw = '0';
    }
    for (; i < n; i++) {
        if ((s[i] >= '0' && s[i] <= '9') || (hex && hex_digit(s[i]) >= 0)) {
            saw = '0';
        } else if (s[i] == '_') {
            if (saw != '0')
                return 0;
            saw = '_';
        } else {
            if (saw == '_')
                return 0;
            saw = '!';
        }
    }
    return saw != '_';
}

/* Go's exponent digits after 'e' or 'p' from s[*pi]: an optional sign, then digits and
 * underscores, saturating at 10000 as Go does. Returns 0 and the value, or -1 on bad syntax. */
static int go_exponent(const unsigned char *s, size_t n, size_t *pi, int64_t *exp, int *under)
{
    size_t i = *pi;
    int64_t e = 0, sign = 1;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        sign = s[i] == '-' ? -1 : 1;
        i++;
    }
    if (i >= n || s[i] < '0' || s[i] > '9')
        return -1;
    for (; i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_'); i++) {
        if (s[i] == '_')
            *under = 1;
        else if (e < 10000)
            e = e * 10 + (s[i] - '0');
    }
    *pi = i;
    *exp = e * sign;
    return 0;
}

/* A hexadecimal mantissa (after "0x") with its mandatory binary exponent: 1 if the syntax is
 * bad, 2 if the value rounds to infinity. */
static int hex_float_invalid(const unsigned char *s, size_t n, size_t i)
{
    size_t lead = SIZE_MAX, dot = SIZE_MAX;
    int under = 0, digits = 0;
    for (; i < n; i++) {
        if (s[i] == '_') {
            under = 1;
        } else if (s[i] == '.') {
            if (dot != SIZE_MAX)
                break;
            dot = i;
        } else if (hex_digit(s[i]) >= 0) {
            digits = 1;
            if (lead == SIZE_MAX && s[i] != '0')
                lead = i;
        } else {
            break;
        }
    }
    size_t mant_end = i;
    int64_t exp = 0;
    if (!digits || i >= n || (s[i] | 0x20) != 'p')
        return 1;
    i++;
    if (go_exponent(s, n, &i, &exp, &under) != 0 || i != n)
        return 1;
    if (under && !underscore_ok(s, n))
        return 1;
    if (lead == SIZE_MAX)
        return 0; /* zero */
    /* The lead digit weighs 16^(ipos - 1), ipos counting digits from it to the point. */
    int64_t ipos = 0;
    size_t point = dot != SIZE_MAX ? dot : mant_end;
    if (lead < point) {
        for (size_t k = lead; k < point; k++)
            ipos += s[k] != '_';
    } else {
        for (size_t k = point + 1; k < lead; k++)
            ipos -= s[k] != '_';
    }
    int v = hex_digit(s[lead]), bits = 0;
    while (v >> bits)
        bits++;
    int64_t top = 4 * (ipos - 1) + (bits - 1) + exp; /* the value is in [2^top, 2^(top+1)) */
    if (top != 1023)
        return top > 1023 ? 2 : 0;
    /* Just below 2^1024: it rounds up (to infinity) only if its first 54 bits are all ones. */
    int ones = 0;
    for (size_t k = lead; k < mant_end && ones < 54; k++) {
        if (s[k] == '_' || s[k] == '.')
            continue;
        int d = hex_digit(s[k]);
        for (int bit = (k == lead ? bits : 4) - 1; bit >= 0 && ones < 54; bit--) {
            if (!((d >> bit) & 1))
                return 0;
            ones++;
        }
    }
    return ones == 54 ? 2 : 0;
}

/* Go's strconv.ParseFloat(s, 64) failing on b[a, e): 1 for bad syntax, 2 for a result of +-Inf. Go
 * parses exactly, except that its slow path keeps 800 digits and then puts the decimal point after
 * them for longer numbers, and saturates exponents; a value fails only if both the exact and that
 * slow-path reading overflow (the fast path takes every finite exact result first). */
int gonum_float_invalid(const unsigned char *b, size_t a, size_t e)
{
    const unsigned char *s = b + a;
    size_t n = e - a, i = 0;
    if (n == 0)
        return 1;
    size_t si = s[0] == '+' || s[0] == '-';
    if (ieq(s + si, n - si, "inf") || ieq(s + si, n - si, "infinity") || ieq(s, n, "nan"))
        return 0;
    i = si;
    if (i + 2 < n && s[i] == '0' && (s[i + 1] | 0x20) == 'x')
        return hex_float_invalid(s, n, i + 2);
    int64_t nd = 0, nd_go = 0, dp = 0, dp_go = 0;
    int dot = 0, digits = 0, under = 0;
    size_t mant = i;
    for (; i < n; i++) {
        unsigned char ch = s[i];
        if (ch == '_') {
            under = 1;
            continue;
        }
        if (ch == '.') {
            if (dot)
                break;
            dot = 1;
            dp = nd;
            dp_go = nd_go;
            continue;
        }
        if (ch < '0' || ch > '9')
            break;
        digits = 1;
        if (ch == '0' && nd == 0) {
            dp--;
            dp_go--;
            continue;
        }
        nd++;
        if (nd_go < 800)
            nd_go++;
    }
    if (!digits)
        return 1;
    if (!dot) {
        dp = nd;
        dp_go = nd_go;
    }
    size_t mant_end = i;
    int64_t exp = 0;
    if (i < n && (s[i] | 0x20) == 'e') {
        i++;
        if (go_exponent(s, n, &i, &exp, &under) != 0)
            return 1;
    }
    if (i != n || (under && !underscore_ok(s, n)))
        return 1;
    if (nd == 0)
        return 0; /* zero */
    int64_t ev[2] = {dp + exp, dp_go + exp};
    for (int k = 0; k < 2; k++) {
        if (ev[k] < 309)
            return 0;
        if (ev[k] == 309 && !digits_overflow_309(s, mant, mant_end))
            return 0;
    }
    return 2;
}

/* Go's strconv.ParseInt(s, 10, 64) or ParseUint: 0 ok, 1 bad syntax, 2 out of range. */
int gonum_int_invalid(const unsigned char *s, size_t n, int is_signed)
{
    size_t i = 0;
    if (is_signed && n > 0 && (s[0] == '+' || s[0] == '-'))
        i = 1;
    if (i == n)
        return 1;
    for (size_t k = i; k < n; k++) {
        if (s[k] < '0' || s[k] > '9')
            return 1;
    }
    if (s[0] == '+')
        s++, n--;
    return gonum_int_out_of_range(s, 0, n, is_signed) ? 2 : 0;
}

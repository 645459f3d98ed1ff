/* InfluxQL grammar checks (influxd 1.6.7's parser.go) of the statements that go through the log,
 * on a statement's tokens: identifiers, literals, durations, expressions and each logged
 * statement's own shape, so that the relay logs only what influxd would parse. Pure, no
 * allocation; any thread. */
#include "relay/influxql_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEPTH_MAX 200

static const struct tok *peek(struct parser *p)
{
    static const struct tok eof = {.tk = TK_EOF};
    return p->i < p->n ? &p->v[p->i] : &eof;
}

int iql_accept_kw(struct parser *p, int kw)
{
    const struct tok *t = peek(p);
    if (t->tk == TK_KEYWORD && t->kw == kw) {
        p->i++;
        return 1;
    }
    return 0;
}

static int accept(struct parser *p, enum tk tk)
{
    if (peek(p)->tk == tk) {
        p->i++;
        return 1;
    }
    return 0;
}

static int at_end(struct parser *p)
{
    return p->i == p->n;
}

static int ident(struct parser *p)
{
    return accept(p, TK_IDENT);
}

static int string_lit(struct parser *p)
{
    return accept(p, TK_STRING);
}

/* strconv.ParseUint(lit, 10, 64) succeeds. */
static int uint64_ok(const char *s, size_t n, uint64_t *v)
{
    uint64_t x = 0;
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9 || x > (UINT64_MAX - d) / 10)
            return 0;
        x = x * 10 + d;
    }
    *v = x;
    return 1;
}

/* ParseDuration: digit runs each followed by a unit (ns u µ ms s m h d w), int64 arithmetic
 * that wraps as Go's does, refused if the total ends up negative. */
static int duration_ok(const char *s, size_t n)
{
    size_t i = 0;
    uint64_t d = 0;
    if (n < 2)
        return 0;
    while (i < n) {
        size_t start = i;
        while (i < n && is_digit((unsigned char)s[i]))
            i++;
        uint64_t v;
        if (i >= n || i == start || !uint64_ok(s + start, i - start, &v) || v > INT64_MAX)
            return 0;
        uint64_t unit;
        if (s[i] == 'n') {
            if (i + 1 >= n || s[i + 1] != 's')
                return 0;
            unit = 1;
            i += 2;
        } else if (s[i] == 'u') {
            unit = 1000;
            i++;
        } else if (is_mu(s, n, i)) {
            unit = 1000;
            i += 2;
        } else if (s[i] == 'm') {
            if (i + 1 < n && s[i + 1] == 's') {
                unit = 1000000;
                i += 2;
            } else {
                unit = UINT64_C(60000000000);
                i++;
            }
        } else if (s[i] == 's') {
            unit = UINT64_C(1000000000);
            i++;
        } else if (s[i] == 'h') {
            unit = UINT64_C(3600000000000);
            i++;
        } else if (s[i] == 'd') {
            unit = UINT64_C(86400000000000);
            i++;
        } else if (s[i] == 'w') {
            unit = UINT64_C(604800000000000);
            i++;
        } else {
            return 0;
        }
        d += v * unit;
    }
    return (int64_t)d >= 0;
}

static int tok_duration_ok(struct parser *p, const struct tok *t)
{
    return t->tk == TK_DURATION && duration_ok(p->s + t->off, t->len);
}

/* DURATION value: a valid duration or INF (when inf_ok). */
static int duration_val(struct parser *p, int inf_ok)
{
    const struct tok *t = peek(p);
    if (t->tk == TK_KEYWORD && t->kw == K_INF) {
        p->i++;
        return inf_ok;
    }
    if (!tok_duration_ok(p, t))
        return 0;
    p->i++;
    return 1;
}

/* ParseInt(1, MaxInt32). */
static int replication_val(struct parser *p)
{
    const struct tok *t = peek(p);
    uint64_t v;
    if (t->tk != TK_INTEGER || !uint64_ok(p->s + t->off, t->len, &v) || v < 1 || v > INT32_MAX)
        return 0;
    p->i++;
    return 1;
}

static int uint64_val(struct parser *p)
{
    const struct tok *t = peek(p);
    uint64_t v;
    if (t->tk != TK_INTEGER || !uint64_ok(p->s + t->off, t->len, &v))
        return 0;
    p->i++;
    return 1;
}

/* strconv.ParseFloat accepts it: only an overflow to infinity fails (the scanner allows no
 * exponent, so that takes more than 308 integer digits). */
static int number_ok(const char *s, size_t n)
{
    size_t i = 0, digits = 0;
    while (i < n && s[i] == '0')
        i++;
    while (i < n && is_digit((unsigned char)s[i])) {
        i++;
        digits++;
    }
    if (digits < 309)
        return 1;
    if (digits > 309 || n > 1024)
        return 0;
    char tmp[1025];
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    errno = 0;
    double x = strtod(tmp, NULL);
    return !(errno == ERANGE && x > 1.0);
}

static int expr(struct parser *p);

static int glued(const struct parser *p)
{
    return p->i < p->n && p->v[p->i].sep == 0;
}

/* A call's arguments, after "name(": regex or expression, comma-separated, then ')'. */
static int call_args(struct parser *p)
{
    if (accept(p, TK_RPAREN))
        return 1;
    for (;;) {
        if (!accept(p, TK_REGEX) && !expr(p))
            return 0;
        if (!accept(p, TK_COMMA))
            break;
    }
    return accept(p, TK_RPAREN);
}

/* parseSegmentedIdents then an optional ::type (ParseVarRef). The IDENT is consumed. */
static int var_ref(struct parser *p)
{
    size_t segs = 1;
    while (glued(p) && peek(p)->tk == TK_DOT) {
        p->i++;
        const struct tok *t = peek(p);
        if (glued(p) && (t->tk == TK_REGEX || t->tk == TK_COLON || t->tk == TK_DCOLON))
            break;
        if (glued(p) && t->tk == TK_DOT) {
            segs++;
            continue;
        }
        if (!ident(p))
            return 0;
        segs++;
    }
    if (segs > 3)
        return 0;
    if (glued(p) && accept(p, TK_DCOLON)) {
        const struct tok *t = peek(p);
        if (!glued(p))
            return 0;
        if (t->tk == TK_KEYWORD && (t->kw == K_FIELD || t->kw == K_TAG)) {
            p->i++;
            return 1;
        }
        static const char *const types[] = {"float", "integer", "unsigned", "string", "boolean"};
        if (t->tk != TK_IDENT || t->quoted)
            return 0;
        for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++)
            if (strlen(types[k]) == t->len && strncasecmp(types[k], p->s + t->off, t->len) == 0) {
                p->i++;
                return 1;
            }
        return 0;
    }
    return 1;
}

static int unary(struct parser *p)
{
    const struct tok *t = peek(p);
    if (++p->depth > DEPTH_MAX)
        return 0;
    int ok = 0;
    switch (t->tk) {
    case TK_LPAREN:
        p->i++;
        ok = expr(p) && accept(p, TK_RPAREN);
        break;
    case TK_IDENT:
        p->i++;
        if (glued(p) && accept(p, TK_LPAREN))
            ok = call_args(p);
        else
            ok = var_ref(p);
        break;
    case TK_KEYWORD:
        p->i++;
        if (t->kw == K_TRUE || t->kw == K_FALSE)
            ok = 1;
        else if (t->kw == K_DISTINCT) {
            if (glued(p) && accept(p, TK_LPAREN))
                ok = call_args(p);
            else
                ok = peek(p)->sep == 1 && ident(p);
        }
        break;
    case TK_STRING:
    case TK_REGEX:
        p->i++;
        ok = 1;
        break;
    case TK_NUMBER:
        p->i++;
        ok = number_ok(p->s + t->off, t->len);
        break;
    case TK_INTEGER: {
        uint64_t v;
        p->i++;
        ok = uint64_ok(p->s + t->off, t->len, &v);
        break;
    }
    case TK_DURATION:
        p->i++;
        ok = tok_duration_ok(p, t);
        break;
    case TK_BOUNDPARAM:
        p->i++;
        ok = t->len > 1;
        break;
    case TK_MUL:
        p->i++;
        ok = 1;
        if (glued(p) && accept(p, TK_DCOLON)) {
            const struct tok *u = peek(p);
            ok = glued(p) && u->tk == TK_KEYWORD && (u->kw == K_FIELD || u->kw == K_TAG);
            p->i += ok;
        }
        break;
    case TK_ADD:
    case TK_SUB: {
        p->i++;
        enum tk n = peek(p)->tk;
        ok = (n == TK_NUMBER || n == TK_INTEGER || n == TK_DURATION || n == TK_LPAREN ||
              n == TK_IDENT) && unary(p);
        break;
    }
    default:
        break;
    }
    p->depth--;
    return ok;
}

static int is_binary_op(const struct tok *t)
{
    if (t->tk == TK_KEYWORD)
        return t->kw == K_AND || t->kw == K_OR;
    return t->tk >= TK_ADD && t->tk <= TK_GTE;
}

/* ParseExpr: unary (op unary)*, the operand of =~ and !~ a regex. */
static int expr(struct parser *p)
{
    if (!unary(p))
        return 0;
    while (is_binary_op(peek(p))) {
        enum tk op = peek(p)->tk;
        p->i++;
        if (op == TK_EQREGEX || op == TK_NEQREGEX) {
            if (!accept(p, TK_REGEX))
                return 0;
        } else if (!unary(p)) {
            return 0;
        }
    }
    return 1;
}

/* FROM list of DELETE and DROP SERIES: regexes or plain measurement names (no database or
 * retention policy: influxd refuses them while parsing). */
static int delete_sources(struct parser *p)
{
    do {
        if (accept(p, TK_REGEX))
            continue;
        if (!ident(p))
            return 0;
        if (glued(p) && peek(p)->tk == TK_DOT)
            return 0;
    } while (accept(p, TK_COMMA));
    return 1;
}

int iql_check_delete(struct parser *p)
{
    int from = iql_accept_kw(p, K_FROM);
    if (from && !delete_sources(p))
        return 0;
    int where = iql_accept_kw(p, K_WHERE);
    if (where && !expr(p))
        return 0;
    return (from || where) && at_end(p);
}

int iql_check_ident(struct parser *p)
{
    return ident(p) && at_end(p);
}

int iql_check_ident_on_ident(struct parser *p)
{
    return ident(p) && iql_accept_kw(p, K_ON) && ident(p) && at_end(p);
}

int iql_check_create_database(struct parser *p)
{
    if (!ident(p))
        return 0;
    if (iql_accept_kw(p, K_WITH)) {
        const struct tok *t = peek(p);
        if (t->tk != TK_KEYWORD || (t->kw != K_DURATION && t->kw != K_NAME &&
                                    t->kw != K_REPLICATION && t->kw != K_SHARD))
            return 0;
        if (iql_accept_kw(p, K_DURATION) && !duration_val(p, 1))
            return 0;
        if (iql_accept_kw(p, K_REPLICATION) && !replication_val(p))
            return 0;
        if (iql_accept_kw(p, K_SHARD) && !(iql_accept_kw(p, K_DURATION) && duration_val(p, 1)))
            return 0;
        if (iql_accept_kw(p, K_NAME) && !ident(p))
            return 0;
    }
    return at_end(p);
}

int iql_check_create_rp(struct parser *p)
{
    if (!(ident(p) && iql_accept_kw(p, K_ON) && ident(p) && iql_accept_kw(p, K_DURATION) &&
          duration_val(p, 1) && iql_accept_kw(p, K_REPLICATION) && replication_val(p)))
        return 0;
    if (iql_accept_kw(p, K_SHARD) && !(iql_accept_kw(p, K_DURATION) && duration_val(p, 0)))
        return 0;
    iql_accept_kw(p, K_DEFAULT);
    return at_end(p);
}

int iql_check_alter_rp(struct parser *p)
{
    if (!(iql_accept_kw(p, K_DEFAULT) || ident(p)) || !iql_accept_kw(p, K_ON) || !ident(p))
        return 0;
    unsigned seen = 0, bit;
    for (;;) {
        const struct tok *t = peek(p);
        if (t->tk != TK_KEYWORD)
            break;
        if (t->kw == K_DURATION)
            bit = 1;
        else if (t->kw == K_REPLICATION)
            bit = 2;
        else if (t->kw == K_SHARD)
            bit = 4;
        else if (t->kw == K_DEFAULT)
            bit = 8;
        else
            break;
        if (seen & bit)
            return 0;
        seen |= bit;
        p->i++;
        if (bit == 1 && !duration_val(p, 1))
            return 0;
        if (bit == 2 && !replication_val(p))
            return 0;
        if (bit == 4 && !(iql_accept_kw(p, K_DURATION) && duration_val(p, 0)))
            return 0;
    }
    return seen != 0 && at_end(p);
}

int iql_check_create_user(struct parser *p)
{
    if (!(ident(p) && iql_accept_kw(p, K_WITH) && iql_accept_kw(p, K_PASSWORD) && string_lit(p)))
        return 0;
    if (iql_accept_kw(p, K_WITH) && !(iql_accept_kw(p, K_ALL) && iql_accept_kw(p, K_PRIVILEGES)))
        return 0;
    return at_end(p);
}

int iql_check_set_password(struct parser *p)
{
    return ident(p) && accept(p, TK_EQ) && string_lit(p) && at_end(p);
}

/* GRANT/REVOKE priv ON db TO|FROM user, or ALL [PRIVILEGES] TO|FROM user. */
static int grant_revoke(struct parser *p, int to_kw)
{
    int all = 0;
    if (iql_accept_kw(p, K_ALL)) {
        all = 1;
        iql_accept_kw(p, K_PRIVILEGES);
    } else if (!iql_accept_kw(p, K_READ) && !iql_accept_kw(p, K_WRITE)) {
        return 0;
    }
    if (iql_accept_kw(p, K_ON))
        return ident(p) && iql_accept_kw(p, to_kw) && ident(p) && at_end(p);
    return all && iql_accept_kw(p, to_kw) && ident(p) && at_end(p);
}

int iql_check_grant(struct parser *p)
{
    return grant_revoke(p, K_TO);
}

int iql_check_revoke(struct parser *p)
{
    return grant_revoke(p, K_FROM);
}

int iql_check_drop_shard(struct parser *p)
{
    return uint64_val(p) && at_end(p);
}

int iql_check_kill_query(struct parser *p)
{
    if (!uint64_val(p))
        return 0;
    if (iql_accept_kw(p, K_ON) && !ident(p))
        return 0;
    return at_end(p);
}

/* The shape of a SELECT after its SELECT keyword, up to 'end' tokens: parentheses balance and
 * INTO (when 'into') and then FROM appear at the top level. */
int iql_select_shape(struct parser *p, size_t end, int into)
{
    int depth = 0, seen_into = !into, seen_from = 0;
    if (p->i >= end)
        return 0;
    for (; p->i < end; p->i++) {
        const struct tok *t = &p->v[p->i];
        if (t->tk == TK_LPAREN)
            depth++;
        else if (t->tk == TK_RPAREN && --depth < 0)
            return 0;
        else if (depth == 0 && t->tk == TK_KEYWORD && t->kw == K_INTO) {
            if (p->i + 1 >= end || p->v[p->i + 1].tk != TK_IDENT)
                return 0; /* INTO takes a measurement name */
            seen_into = 1;
        }
        else if (depth == 0 && t->tk == TK_KEYWORD && t->kw == K_FROM && seen_into)
            seen_from = 1;
        else if (t->tk == TK_KEYWORD && (t->kw == K_END || t->kw == K_BEGIN))
            return 0;
    }
    return depth == 0 && seen_into && seen_from;
}

int iql_check_create_cq(struct parser *p)
{
    if (!(ident(p) && iql_accept_kw(p, K_ON) && ident(p)))
        return 0;
    if (iql_accept_kw(p, K_RESAMPLE)) {
        int every = 0, for_ = 0;
        if (iql_accept_kw(p, K_EVERY)) {
            if (!tok_duration_ok(p, peek(p)))
                return 0;
            p->i++;
            every = 1;
        }
        if (iql_accept_kw(p, K_FOR)) {
            if (!tok_duration_ok(p, peek(p)))
                return 0;
            p->i++;
            for_ = 1;
        }
        if (!every && !for_)
            return 0;
    }
    if (!(iql_accept_kw(p, K_BEGIN) && iql_accept_kw(p, K_SELECT)))
        return 0;
    const struct tok *last = &p->v[p->n - 1];
    if (last->tk != TK_KEYWORD || last->kw != K_END || p->n - 1 <= p->i)
        return 0;
    return iql_select_shape(p, p->n - 1, 1);
}

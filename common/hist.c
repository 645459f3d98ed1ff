/* Fixed-bucket histograms and their Prometheus text; see hist.h. Pure, any thread (the caller
 * serialises access to one histogram). */
#include "common/hist.h"

#include "common/err.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

void hist_init(struct hist *h, const double *bounds, size_t nbounds)
{
    IWR_ASSERT(nbounds <= HIST_BOUNDS_MAX);
    memset(h, 0, sizeof(*h));
    h->bounds = bounds;
    h->nbounds = nbounds;
}

void hist_observe(struct hist *h, double v)
{
    size_t i = 0;
    while (i < h->nbounds && v > h->bounds[i])
        i++;
    h->buckets[i]++;
    h->sum += v;
    h->count++;
}

void hist_append_value(struct buf *out, double v)
{
    if (isnan(v))
        buf_append_str(out, "NaN");
    else if (isinf(v))
        buf_append_str(out, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 9007199254740992.0)
        buf_printf(out, "%.0f", v);
    else
        buf_printf(out, "%.15g", v);
}

void hist_render(struct buf *out, const char *name, const char *labels, const struct hist *h)
{
    const char *l = labels != NULL ? labels : "";
    const char *sep = l[0] != '\0' ? "," : "";
    uint64_t cum = 0;
    for (size_t i = 0; i < h->nbounds; i++) {
        cum += h->buckets[i];
        buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %" PRIu64 "\n", name, l, sep, h->bounds[i], cum);
    }
    uint64_t count = h->count < cum ? cum : h->count;
    buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, l, sep, count);
    const char *open = l[0] != '\0' ? "{" : "", *close = l[0] != '\0' ? "}" : "";
    buf_printf(out, "%s_sum%s%s%s ", name, open, l, close);
    hist_append_value(out, h->sum);
    buf_printf(out, "\n%s_count%s%s%s %" PRIu64 "\n", name, open, l, close, count);
}

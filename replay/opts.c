/* The defaults of a backend's options: the one set the daemon, its config loader, the CLI and
 * the senders (for zero fields) all take. Pure; any thread. */
#include "replay/replay.h"

#include <string.h>

void replay_backend_opts_defaults(struct replay_backend_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->timeout_ms = 10000;
    o->connect_timeout_ms = 2000;
    o->batch_max_bytes = (size_t)4 << 20;
    o->batch_min_bytes = (size_t)16 << 10;
    o->batch_max_points = 5000;
    o->min_in_flight = 1;
    o->max_in_flight = 4;
    o->retry_max_delay_ms = 30000;
    o->start = REPLAY_START_LATEST;
}

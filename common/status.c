/* Shared bounds for the backends' request-duration histogram (seconds). */
#include "common/status.h"

const double status_duration_bounds[12] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                           0.1,   0.25,   0.5,   1,    2.5,   10};

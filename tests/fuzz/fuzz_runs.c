/*
 * Availability runs from raw counters: consecutive, covering the range,
 * never more free units than capacity, never negative.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_booking_core.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t              n, k, i;
    int64_t             cap, slot;
    ngx_booking_run_t  *runs;

    if (size < 2) {
        return 0;
    }

    cap = data[0] * 37 + 1;
    slot = (data[1] % 4 + 1) * 900;
    n = (size - 2) / 4;

    runs = malloc((n ? n : 1) * sizeof(ngx_booking_run_t));
    if (runs == NULL) {
        return 0;
    }

    k = ngx_booking_runs(data + 2, n, 86400, slot, cap, runs);

    if (k > n || (n > 0 && k == 0)) {
        abort();
    }

    for (i = 0; i < k; i++) {
        if (runs[i].units < 0 || runs[i].units > cap
            || runs[i].end <= runs[i].start
            || (i > 0 && (runs[i].start != runs[i - 1].end
                          || runs[i].units == runs[i - 1].units)))
        {
            abort();
        }
    }

    if (k > 0 && (runs[0].start != 86400
                  || runs[k - 1].end != 86400 + (int64_t) n * slot))
    {
        abort();
    }

    free(runs);

    return 0;
}

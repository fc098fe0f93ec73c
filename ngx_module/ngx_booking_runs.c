
/*
 * Availability runs: turning per-slot usage counters into the intervals
 * that the API reports.
 */


#include <stdint.h>

#include "ngx_booking_core.h"


static int64_t ngx_booking_add_sat(int64_t a, int64_t b);


size_t
ngx_booking_runs(const u_char *counters, size_t n, int64_t start,
    int64_t slot, int64_t capacity, ngx_booking_run_t *runs)
{
    size_t         i, nruns;
    int64_t        t, next, used, avail;
    const u_char  *p;

    nruns = 0;
    t = start;
    p = counters;

    for (i = 0; i < n; i++, p += 4) {

        used = (int64_t) (((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
                          | ((uint32_t) p[2] << 8) | (uint32_t) p[3]);

        /*
         * counters may exceed capacity after the capacity was lowered, and
         * a non-positive capacity means nothing can be booked
         */

        if (capacity <= 0) {
            avail = 0;

        } else {
            avail = capacity - used;

            if (avail < 0) {
                avail = 0;
            }
        }

        next = ngx_booking_add_sat(t, slot);

        if (nruns > 0 && runs[nruns - 1].units == avail) {
            runs[nruns - 1].end = next;

        } else {
            runs[nruns].start = t;
            runs[nruns].end = next;
            runs[nruns].units = avail;
            nruns++;
        }

        t = next;
    }

    return nruns;
}


/*
 * Callers keep start + n * slot far below INT64_MAX; saturating keeps a
 * bad caller from signed overflow, and the saturated end is still rejected
 * by any range check against NGX_BOOKING_TIME_MAX.
 */

static int64_t
ngx_booking_add_sat(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b) {
        return INT64_MAX;
    }

    if (b < 0 && a < INT64_MIN - b) {
        return INT64_MIN;
    }

    return a + b;
}

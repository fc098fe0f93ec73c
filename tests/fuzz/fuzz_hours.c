/*
 * A resource's "hours" object: never crash; its closed runs over two weeks
 * are in order, apart, within the range; and a slot that hours_open says
 * is open meets none of them.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ngx_booking_tz.h"


#define FUZZ_RUNS  (14 * (NGX_BOOKING_HOURS_DAY_MAX + 1) + 1)


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                 text[128];
    size_t               i, j, n;
    json_t              *v;
    int64_t              s[FUZZ_RUNS], e[FUZZ_RUNS], t;
    ngx_booking_tz_t     tz;
    ngx_booking_perr_t   err;
    ngx_booking_hours_t  h;
    static const int64_t from = 1799020800, to = 1799020800 + 14 * 86400;

    v = json_loadb((const char *) data, size, 0, NULL);
    if (v == NULL) {
        return 0;
    }

    if (ngx_booking_parse_hours(v, &h, &err) == NGX_BOOKING_OK
        && ngx_booking_tz_load(&tz, "UTC", text, sizeof(text))
           == NGX_BOOKING_OK)
    {
        if (ngx_booking_hours_closed(&h, &tz, from, to, s, e, FUZZ_RUNS, &n)
            != NGX_BOOKING_OK)
        {
            abort();
        }

        for (i = 0; i < n; i++) {
            if (s[i] < from || e[i] > to || s[i] >= e[i]
                || (i > 0 && s[i] <= e[i - 1]))
            {
                abort();
            }
        }

        /* every half hour of the range: open, or within a closed run */
        for (t = from; t < to; t += 1800) {
            if (ngx_booking_hours_open(&h, &tz, t, t + 1800)
                != NGX_BOOKING_OK)
            {
                continue;
            }

            for (j = 0; j < n; j++) {
                if (t < e[j] && t + 1800 > s[j]) {
                    abort();
                }
            }
        }

        ngx_booking_tz_free(&tz);
    }

    json_decref(v);

    return 0;
}

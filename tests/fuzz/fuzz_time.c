/*
 * RFC 3339 instants and nginx durations: never crash, never read past the
 * input, and what parses formats back to something that parses the same.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_booking_core.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                 buf[NGX_BOOKING_INSTANT_LEN];
    int64_t                secs;
    ngx_booking_instant_t  in, again;

    if (ngx_booking_parse_instant(data, size, &in) == NGX_BOOKING_OK) {
        if (in.t < 0 || in.t > NGX_BOOKING_TIME_MAX) {
            abort();
        }

        ngx_booking_format_instant(buf, in.t);

        if (ngx_booking_parse_instant(buf, NGX_BOOKING_INSTANT_LEN, &again)
            != NGX_BOOKING_OK || again.t != in.t)
        {
            abort();
        }

        ngx_booking_format_date(buf, in.t);

        if (ngx_booking_parse_instant(buf, NGX_BOOKING_DATE_LEN, &again)
            != NGX_BOOKING_OK || again.t > in.t || in.t - again.t >= 86400)
        {
            abort();
        }
    }

    if (ngx_booking_parse_duration(data, size, &secs) == NGX_BOOKING_OK) {
        if (secs < 0 || secs > NGX_BOOKING_TIME_MAX) {
            abort();
        }
    }

    return 0;
}

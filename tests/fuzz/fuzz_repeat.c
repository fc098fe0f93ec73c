/*
 * A booking's "repeat" object and its occurrences: never crash, never
 * more than the most asked, each range in order and not empty (UTC has no
 * gaps), the first one the range given.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ngx_booking_tz.h"


#define FUZZ_MAX  52


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                  text[128];
    size_t                i, n;
    json_t               *v;
    int64_t               s[FUZZ_MAX], e[FUZZ_MAX];
    ngx_booking_tz_t      tz;
    ngx_booking_perr_t    err;
    ngx_booking_repeat_t  r;
    static const int64_t  start = 1799020800, end = 1799020800 + 5400;

    v = json_loadb((const char *) data, size, 0, NULL);
    if (v == NULL) {
        return 0;
    }

    if (ngx_booking_parse_repeat(v, &r, &err) == NGX_BOOKING_OK
        && ngx_booking_tz_load(&tz, "UTC", text, sizeof(text))
           == NGX_BOOKING_OK)
    {
        if (ngx_booking_repeat_expand(&tz, &r, start, end, FUZZ_MAX, s, e, &n)
            == NGX_BOOKING_OK)
        {
            if (n == 0 || n > FUZZ_MAX || s[0] != start || e[0] != end) {
                abort();
            }

            for (i = 0; i < n; i++) {
                if (e[i] - s[i] != end - start
                    || (i > 0 && s[i] <= s[i - 1]))
                {
                    abort();
                }
            }
        }

        ngx_booking_tz_free(&tz);
    }

    json_decref(v);

    return 0;
}

/*
 * Availability runs from raw counters: consecutive, covering the range,
 * never more free units than capacity, never negative; and written as JSON,
 * within the room reserved for them, reading back as the same runs.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ngx_booking_core.h"


static void check_json(const ngx_booking_run_t *runs, size_t k);
static int64_t instant(json_t *item, const char *name);


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

    check_json(runs, k);

    free(runs);

    return 0;
}


static void
check_json(const ngx_booking_run_t *runs, size_t k)
{
    size_t   i, room;
    u_char  *buf, *end;
    json_t  *a, *item;

    room = 2 + k * NGX_BOOKING_RUN_JSON_LEN;

    buf = malloc(room);
    if (buf == NULL) {
        return;
    }

    buf[0] = '[';
    end = ngx_booking_runs_json(buf + 1, runs, k, 0);
    *end++ = ']';

    if ((size_t) (end - buf) > room) {
        abort();
    }

    a = json_loadb((char *) buf, end - buf, 0, NULL);

    if (a == NULL || json_array_size(a) != k) {
        abort();
    }

    for (i = 0; i < k; i++) {
        item = json_array_get(a, i);

        if (json_integer_value(json_object_get(item, "units")) != runs[i].units
            || instant(item, "start") != runs[i].start
            || instant(item, "end") != runs[i].end)
        {
            abort();
        }
    }

    json_decref(a);
    free(buf);
}


static int64_t
instant(json_t *item, const char *name)
{
    json_t                 *v;
    ngx_booking_instant_t   in;

    v = json_object_get(item, name);

    if (!json_is_string(v)
        || ngx_booking_parse_instant((u_char *) json_string_value(v),
                                     json_string_length(v), &in)
           != NGX_BOOKING_OK)
    {
        abort();
    }

    return in.t;
}

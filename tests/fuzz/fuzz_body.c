/*
 * Request bodies, as the module reads them: POST /bookings and
 * PUT /resources/{id}.  Every input answers a request or an error of the
 * spec (400 or 422, with a code and a message), and leaks nothing.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ngx_booking_core.h"


static void
check_err(ngx_booking_perr_t *err)
{
    if ((err->status != 400 && err->status != 422) || err->code == NULL
        || err->message == NULL || strlen(err->code) == 0)
    {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t              *root;
    ngx_booking_breq_t   b;
    ngx_booking_rreq_t   res;
    ngx_booking_perr_t   err;

    memset(&err, 0, sizeof(err));
    root = ngx_booking_parse_booking(data, size, &b, &err);

    if (root == NULL) {
        check_err(&err);

    } else {
        if (b.resource == NULL || b.quantity < 1
            || b.quantity > NGX_BOOKING_CAPACITY_MAX
            || b.note_len > NGX_BOOKING_NOTE_MAX
            || (b.start >= 0 && b.end >= 0 && b.end <= b.start))
        {
            abort();
        }

        json_decref(root);
    }

    memset(&err, 0, sizeof(err));
    root = ngx_booking_parse_resource(data, size, &res, &err);

    if (root == NULL) {
        check_err(&err);

    } else {
        if (res.type == NULL || res.capacity < 1
            || res.capacity > NGX_BOOKING_CAPACITY_MAX
            || (res.located && !(res.lat >= -90 && res.lat <= 90)))
        {
            abort();
        }

        json_decref(root);
    }

    return 0;
}

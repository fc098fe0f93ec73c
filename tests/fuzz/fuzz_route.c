/*
 * Route matching: any path answers a route, and what it points at lies
 * inside the path.
 */

#include <stdint.h>
#include <stdlib.h>

#include "ngx_booking_core.h"


static void
inside(const uint8_t *data, size_t size, const u_char *p, size_t len)
{
    if (p != NULL
        && (p < data || p + len > data + size || len > size))
    {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                  route;
    ngx_booking_route_t  rt;

    route = ngx_booking_route_match(data, size, &rt);

    if (route < NGX_BOOKING_ROUTE_NONE
        || route > NGX_BOOKING_ROUTE_NO_BOOKING || route != rt.route)
    {
        abort();
    }

    inside(data, size, rt.id, rt.id_len);
    inside(data, size, rt.rand, rt.rand_len);
    inside(data, size, rt.booking, rt.booking_len);
    inside(data, size, rt.op, rt.op_len);

    if ((route == NGX_BOOKING_ROUTE_BOOKING
         || route == NGX_BOOKING_ROUTE_BOOKING_OP)
        && (rt.id_len == 0 || !ngx_booking_rand_valid(rt.rand, rt.rand_len)
            || rt.id_len + 1 + rt.rand_len != rt.booking_len))
    {
        abort();
    }

    return 0;
}

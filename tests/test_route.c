/*
 * Unit tests of route matching (ngx_booking_route.c).
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ngx_booking_core.h"


static int
route(const char *path, ngx_booking_route_t *rt)
{
    return ngx_booking_route_match((const u_char *) path, strlen(path), rt);
}


static void
test_resources(void **state)
{
    ngx_booking_route_t  rt;

    (void) state;

    assert_int_equal(route("resources", &rt), NGX_BOOKING_ROUTE_RESOURCES);
    assert_int_equal(route("/resources", &rt), NGX_BOOKING_ROUTE_RESOURCES);

    assert_int_equal(route("resources/r1", &rt), NGX_BOOKING_ROUTE_RESOURCE);
    assert_int_equal(rt.id_len, 2);
    assert_memory_equal(rt.id, "r1", 2);

    assert_int_equal(route("resources/r1/availability", &rt),
                     NGX_BOOKING_ROUTE_AVAILABILITY);
    assert_memory_equal(rt.id, "r1", 2);
    assert_int_equal(route("resources/r1/calendar.ics", &rt),
                     NGX_BOOKING_ROUTE_CALENDAR);

    /* what is not a route */
    assert_int_equal(route("", &rt), NGX_BOOKING_ROUTE_NONE);
    assert_int_equal(route("resources/", &rt), NGX_BOOKING_ROUTE_NONE);
    assert_int_equal(route("resources/r1/", &rt), NGX_BOOKING_ROUTE_NONE);
    assert_int_equal(route("resources//r1", &rt), NGX_BOOKING_ROUTE_NONE);
    assert_int_equal(route("resources/r1/free", &rt), NGX_BOOKING_ROUTE_NONE);
    assert_int_equal(route("resources/r1/availability/x", &rt),
                     NGX_BOOKING_ROUTE_NONE);
    assert_int_equal(route("Resources/r1", &rt), NGX_BOOKING_ROUTE_NONE);
    assert_int_equal(route("resourcesx", &rt), NGX_BOOKING_ROUTE_NONE);
}


static void
test_bookings(void **state)
{
    ngx_booking_route_t  rt;

    (void) state;

    assert_int_equal(route("bookings", &rt), NGX_BOOKING_ROUTE_BOOKINGS);

    assert_int_equal(route("bookings/room.1.AAAAAAAAAAAAAAAA", &rt),
                     NGX_BOOKING_ROUTE_BOOKING);
    assert_int_equal(rt.id_len, 6);
    assert_memory_equal(rt.id, "room.1", 6);
    assert_int_equal(rt.rand_len, 16);
    assert_memory_equal(rt.rand, "AAAAAAAAAAAAAAAA", 16);
    assert_int_equal(rt.booking_len, 23);

    assert_int_equal(route("bookings/r.AAAAAAAAAAAAAAA-/cancel", &rt),
                     NGX_BOOKING_ROUTE_BOOKING_OP);
    assert_int_equal(rt.op_len, 6);
    assert_memory_equal(rt.op, "cancel", 6);

    assert_int_equal(route("bookings/r.AAAAAAAAAAAAAAAA/refund", &rt),
                     NGX_BOOKING_ROUTE_NONE);

    /* an id that cannot be a booking's: no dot, no resource, short part */
    assert_int_equal(route("bookings/rAAAAAAAAAAAAAAAA", &rt),
                     NGX_BOOKING_ROUTE_NO_BOOKING);
    assert_int_equal(route("bookings/.AAAAAAAAAAAAAAAA", &rt),
                     NGX_BOOKING_ROUTE_NO_BOOKING);
    assert_int_equal(route("bookings/r.AAAA", &rt),
                     NGX_BOOKING_ROUTE_NO_BOOKING);
    assert_int_equal(route("bookings/r.AAAAAAAAAAAAAAA+", &rt),
                     NGX_BOOKING_ROUTE_NO_BOOKING);
}


static void
test_waitlist(void **state)
{
    ngx_booking_route_t  rt;

    (void) state;

    assert_int_equal(route("waitlist", &rt), NGX_BOOKING_ROUTE_WAITLIST);
    assert_int_equal(route("/waitlist", &rt), NGX_BOOKING_ROUTE_WAITLIST);

    assert_int_equal(route("waitlist/car.1.AAAAAAAAAAAAAAAA", &rt),
                     NGX_BOOKING_ROUTE_ENTRY);
    assert_int_equal(rt.id_len, 5);
    assert_memory_equal(rt.id, "car.1", 5);
    assert_int_equal(rt.rand_len, 16);
    assert_int_equal(rt.booking_len, 22);
    assert_null(rt.op);

    /* an entry has no operations; a bad id is no entry, not a booking */
    assert_int_equal(route("waitlist/r.AAAAAAAAAAAAAAAA/cancel", &rt),
                     NGX_BOOKING_ROUTE_NONE);
    assert_int_equal(route("waitlist/r.AAAA", &rt),
                     NGX_BOOKING_ROUTE_NO_ENTRY);
    assert_int_equal(route("waitlist/rAAAAAAAAAAAAAAAA", &rt),
                     NGX_BOOKING_ROUTE_NO_ENTRY);
    assert_int_equal(route("waitlist/", &rt), NGX_BOOKING_ROUTE_NONE);
    assert_int_equal(route("waitlists", &rt), NGX_BOOKING_ROUTE_NONE);
}


static void
test_groups(void **state)
{
    ngx_booking_route_t  rt;

    (void) state;

    assert_int_equal(route("groups/car.1.AAAAAAAAAAAAAAAA", &rt),
                     NGX_BOOKING_ROUTE_GROUP);
    assert_int_equal(rt.id_len, 5);
    assert_memory_equal(rt.id, "car.1", 5);
    assert_int_equal(rt.booking_len, 22);
    assert_null(rt.op);

    assert_int_equal(route("groups/r.AAAAAAAAAAAAAAAA/confirm", &rt),
                     NGX_BOOKING_ROUTE_GROUP_OP);
    assert_int_equal(rt.op_len, 7);
    assert_int_equal(route("groups/r.AAAAAAAAAAAAAAAA/cancel", &rt),
                     NGX_BOOKING_ROUTE_GROUP_OP);

    /* a group is confirmed or cancelled whole: nothing else */
    assert_int_equal(route("groups/r.AAAAAAAAAAAAAAAA/extend", &rt),
                     NGX_BOOKING_ROUTE_NONE);
    assert_int_equal(route("groups/r.AAAAAAAAAAAAAAAA/approve", &rt),
                     NGX_BOOKING_ROUTE_NONE);
    assert_int_equal(route("groups/r.AAAA", &rt), NGX_BOOKING_ROUTE_NO_GROUP);
    assert_int_equal(route("groups/r.AAAA/cancel", &rt),
                     NGX_BOOKING_ROUTE_NO_GROUP);
    assert_int_equal(route("groups", &rt), NGX_BOOKING_ROUTE_NONE);
    assert_int_equal(route("groups/", &rt), NGX_BOOKING_ROUTE_NONE);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_resources),
        cmocka_unit_test(test_bookings),
        cmocka_unit_test(test_waitlist),
        cmocka_unit_test(test_groups),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

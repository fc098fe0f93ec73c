/*
 * Unit tests of the query arguments' table: what each route reads, what it
 * refuses (400 unreadable or unknown, 422 out of bounds), and the
 * micro-cache's key of two spellings of one query.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ngx_booking_core.h"


#define LISTING  (NGX_BOOKING_Q_TYPE|NGX_BOOKING_Q_FROM|NGX_BOOKING_Q_TO      \
                  |NGX_BOOKING_Q_QUANTITY|NGX_BOOKING_Q_NEAR                 \
                  |NGX_BOOKING_Q_RADIUS|NGX_BOOKING_Q_LIMIT                  \
                  |NGX_BOOKING_Q_CURSOR)


static int
parse(const char *args, unsigned allowed, ngx_booking_query_t *q,
    ngx_booking_perr_t *err)
{
    return ngx_booking_query_parse((const u_char *) args, strlen(args),
                                   allowed, q, err);
}


static void
refused(const char *args, unsigned allowed, int status, const char *field)
{
    ngx_booking_query_t  q;
    ngx_booking_perr_t   err;

    assert_int_equal(parse(args, allowed, &q, &err), NGX_BOOKING_ERROR);
    assert_int_equal(err.status, status);
    assert_string_equal(err.field, field);
}


static void
test_read(void **state)
{
    ngx_booking_query_t  q;
    ngx_booking_perr_t   err;

    (void) state;

    assert_int_equal(parse("type=room&from=2026-12-01&to=2026-12-03"
                           "&quantity=2&near=48.39,-4.49&radius=2000"
                           "&limit=5", LISTING, &q, &err), NGX_BOOKING_OK);
    assert_int_equal(q.type_len, 4);
    assert_int_equal(q.from, 1796083200);
    assert_int_equal(q.to, 1796083200 + 2 * 86400);
    assert_int_equal(q.quantity, 2);
    assert_int_equal(q.radius, 2000);
    assert_int_equal(q.limit, 5);
    assert_true(q.lat > 48.38 && q.lat < 48.40);
    assert_true(q.set & NGX_BOOKING_Q_NEAR);
    assert_false(q.set & NGX_BOOKING_Q_CURSOR);

    /* empty pairs are nothing */
    assert_int_equal(parse("&&", LISTING, &q, &err), NGX_BOOKING_OK);
    assert_int_equal(q.set, 0);
}


static void
test_refused(void **state)
{
    (void) state;

    /* not read by this route, or by any */
    refused("x=1", LISTING, 400, "x");
    refused("type=room&typ%65=room", LISTING, 400, "typ%65");
    refused("status=held", LISTING, 400, "status");
    refused("from=2026-12-01", NGX_BOOKING_Q_TO, 400, "from");

    /* unreadable: twice, a bad escape, not a date, not a number */
    refused("type=a&type=b", LISTING, 400, "type");
    refused("type=%zz", LISTING, 400, "type");
    refused("from=tomorrow", LISTING, 400, "from");
    refused("limit=5x", LISTING, 400, "limit");
    refused("near=48.39", LISTING, 400, "near");
    refused("near=nan,1", LISTING, 400, "near");
    refused("near=1e3,1", LISTING, 400, "near");
    refused("cursor=", LISTING, 400, "cursor");

    /* out of bounds */
    refused("limit=101", LISTING, 422, "limit");
    refused("quantity=0", LISTING, 422, "quantity");
    refused("near=86,0", LISTING, 422, "near");
    refused("near=1,1&radius=1000001", LISTING, 422, "radius");
    refused("from=2026-12-03&to=2026-12-01", LISTING, 422, "to");
    refused("status=lost", NGX_BOOKING_Q_STATUS, 422, "status");

    /* together or not at all */
    refused("radius=10", LISTING, 400, "radius");
}


static void
test_key(void **state)
{
    u_char               a[NGX_BOOKING_QUERY_KEY_LEN], b[NGX_BOOKING_QUERY_KEY_LEN];
    u_char              *ea, *eb;
    ngx_booking_query_t  q;
    ngx_booking_perr_t   err;

    (void) state;

    assert_int_equal(parse("type=ride&limit=5", LISTING, &q, &err),
                     NGX_BOOKING_OK);
    ea = ngx_booking_query_key(a, &q);
    assert_true((size_t) (ea - a) <= NGX_BOOKING_QUERY_KEY_LEN);

    assert_int_equal(parse("limit=5&type=r%69de", LISTING, &q, &err),
                     NGX_BOOKING_OK);
    eb = ngx_booking_query_key(b, &q);

    assert_int_equal(ea - a, eb - b);
    assert_memory_equal(a, b, ea - a);

    assert_int_equal(parse("limit=6&type=ride", LISTING, &q, &err),
                     NGX_BOOKING_OK);
    eb = ngx_booking_query_key(b, &q);
    assert_true(ea - a != eb - b || memcmp(a, b, ea - a) != 0);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_key),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

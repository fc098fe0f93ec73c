/*
 * Unit tests of the metrics' text: bounded labels (an operation or a
 * status the tables do not name), the histogram's buckets and count, a
 * failover counted once however many workers follow it, and the slots of
 * workers, a dead one's taken over.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ngx_booking_metrics.h"


static char  page[NGX_BOOKING_METRICS_TEXT_MAX];


static int
reset(void **state)
{
    (void) state;

    memset(ngx_booking_metrics, 0, sizeof(ngx_booking_metrics_t));

    return 0;
}


static const char *
text(void)
{
    ngx_booking_metrics_view_t  view;

    memset(&view, 0, sizeof(view));
    view.ready = 3;
    view.cache_hit = 7;

    assert_true(ngx_booking_metrics_text(page, sizeof(page), &view) > 0);

    return page;
}


static void
test_requests(void **state)
{
    (void) state;

    ngx_booking_metrics_request(ngx_booking_metrics_op("hold", 4), 201);
    ngx_booking_metrics_request(ngx_booking_metrics_op("hold", 4), 201);
    ngx_booking_metrics_request(ngx_booking_metrics_op("confirm", 7), 409);
    ngx_booking_metrics_request(ngx_booking_metrics_op("holdx", 5), 418);
    ngx_booking_metrics_request(ngx_booking_metrics_op("", 0), 0);
    ngx_booking_metrics_request(99, 999);

    text();

    assert_non_null(strstr(page,
        "booking_requests_total{op=\"hold\",status=\"201\"} 2\n"));
    assert_non_null(strstr(page,
        "booking_requests_total{op=\"confirm\",status=\"409\"} 1\n"));
    assert_non_null(strstr(page,
        "booking_requests_total{op=\"other\",status=\"4xx\"} 1\n"));
    assert_non_null(strstr(page,
        "booking_requests_total{op=\"other\",status=\"other\"} 2\n"));

    /* a pair never counted is not written */
    assert_null(strstr(page, "op=\"book\""));
}


static void
test_histogram(void **state)
{
    (void) state;

    ngx_booking_metrics_redis(100);        /* on a bound: in it */
    ngx_booking_metrics_redis(101);
    ngx_booking_metrics_redis(999999);
    ngx_booking_metrics_redis(5000000);    /* beyond 1 s */

    text();

    assert_non_null(strstr(page,
        "booking_redis_duration_seconds_bucket{le=\"0.0001\"} 1\n"));
    assert_non_null(strstr(page,
        "booking_redis_duration_seconds_bucket{le=\"0.00025\"} 2\n"));
    assert_non_null(strstr(page,
        "booking_redis_duration_seconds_bucket{le=\"0.5\"} 2\n"));
    assert_non_null(strstr(page,
        "booking_redis_duration_seconds_bucket{le=\"1\"} 3\n"));
    assert_non_null(strstr(page,
        "booking_redis_duration_seconds_bucket{le=\"+Inf\"} 4\n"));
    assert_non_null(strstr(page,
        "booking_redis_duration_seconds_sum 6.000200\n"));
    assert_non_null(strstr(page,
        "booking_redis_duration_seconds_count 4\n"));
}


static void
test_failover_once(void **state)
{
    (void) state;

    /* four workers follow the same new master, then one more failover */
    ngx_booking_metrics_failover(11);
    ngx_booking_metrics_failover(11);
    ngx_booking_metrics_failover(11);
    ngx_booking_metrics_failover(11);
    ngx_booking_metrics_failover(12);

    text();

    assert_non_null(strstr(page,
        "booking_redis_errors_total{kind=\"failover\"} 2\n"));

    ngx_booking_metrics_count(NGX_BOOKING_EFFECT_EXPIRED, 3);
    ngx_booking_metrics_count(NGX_BOOKING_EFFECT_EVENTS, 5);
    ngx_booking_metrics_count(NGX_BOOKING_EFFECT_EVENTS, 0);
    text();
    assert_non_null(strstr(page, "booking_holds_expired_total 3\n"));
    assert_non_null(strstr(page, "booking_events_total 5\n"));
    assert_non_null(strstr(page,
        "booking_redis_errors_total{kind=\"timeout\"} 0\n"));
}


static int
alive_but_7(uint64_t pid)
{
    return pid != 7;
}


static void
test_workers(void **state)
{
    int                         a, b, c;
    ngx_booking_metrics_view_t  view;

    (void) state;

    a = ngx_booking_metrics_join(5, alive_but_7);
    b = ngx_booking_metrics_join(7, alive_but_7);
    assert_int_equal(a, 0);
    assert_int_equal(b, 1);

    ngx_booking_metrics->workers[a].ready = 2;
    ngx_booking_metrics->workers[a].nodes = 3;
    ngx_booking_metrics->workers[b].ready = 5;
    ngx_booking_metrics->workers[b].nodes = 9;

    /* 7 died without leaving: not summed, and its slot is taken over */
    memset(&view, 0, sizeof(view));
    ngx_booking_metrics_gauges(&view, alive_but_7);
    assert_int_equal(view.ready, 2);
    assert_int_equal(view.nodes, 3);

    c = ngx_booking_metrics_join(8, alive_but_7);
    assert_int_equal(c, 1);
    assert_int_equal(ngx_booking_metrics->workers[c].ready, 0);

    ngx_booking_metrics_leave(a);
    assert_int_equal(ngx_booking_metrics_join(9, alive_but_7), 0);
}


static void
test_full(void **state)
{
    ngx_booking_metrics_view_t  view;

    (void) state;

    memset(&view, 0, sizeof(view));

    assert_int_equal(ngx_booking_metrics_text(page, 100, &view), 0);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_requests, reset),
        cmocka_unit_test_setup(test_histogram, reset),
        cmocka_unit_test_setup(test_failover_once, reset),
        cmocka_unit_test_setup(test_workers, reset),
        cmocka_unit_test_setup(test_full, reset),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

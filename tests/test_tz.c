/*
 * Unit tests of time zones and quota periods (ngx_booking_tz.c).  The
 * expected bounds were computed by another implementation (Python's
 * zoneinfo over the same tzdata): the DST weeks of Paris and New York
 * (167 and 169 hours), 23- and 25-hour days, month ends and a leap
 * February, a day whose midnight does not exist (Santiago), a half-hour
 * change (Lord Howe), a zone without DST (Kolkata), and 2150, past the
 * tzdata file's own table.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "ngx_booking_tz.h"


static const struct {
    const char  *zone;
    int          per;
    int64_t      t;
    int64_t      start;
    int64_t      next;
} cases[] = {
    { "UTC", NGX_BOOKING_PER_DAY, 1796378400LL, 1796342400LL, 1796428800LL },  /* 2026-12-04T10:00: 24.0 h */
    { "UTC", NGX_BOOKING_PER_WEEK, 1796378400LL, 1795996800LL, 1796601600LL },  /* 2026-12-04T10:00: 168.0 h */
    { "UTC", NGX_BOOKING_PER_MONTH, 1796378400LL, 1796083200LL, 1798761600LL },  /* 2026-12-04T10:00: 744.0 h */
    { "Europe/Paris", NGX_BOOKING_PER_WEEK, 1774440000LL, 1774220400LL, 1774821600LL },  /* 2026-03-25T12:00: 167.0 h */
    { "Europe/Paris", NGX_BOOKING_PER_WEEK, 1792584000LL, 1792360800LL, 1792969200LL },  /* 2026-10-21T12:00: 169.0 h */
    { "Europe/Paris", NGX_BOOKING_PER_DAY, 1774785600LL, 1774738800LL, 1774821600LL },  /* 2026-03-29T12:00: 23.0 h */
    { "Europe/Paris", NGX_BOOKING_PER_DAY, 1792929600LL, 1792879200LL, 1792969200LL },  /* 2026-10-25T12:00: 25.0 h */
    { "Europe/Paris", NGX_BOOKING_PER_MONTH, 1769902200LL, 1769900400LL, 1772319600LL },  /* 2026-01-31T23:30: 672.0 h */
    { "Europe/Paris", NGX_BOOKING_PER_MONTH, 1834228800LL, 1832972400LL, 1835478000LL },  /* 2028-02-15T12:00: 696.0 h */
    { "Europe/Paris", NGX_BOOKING_PER_MONTH, 1774996200LL, 1774994400LL, 1777586400LL },  /* 2026-03-31T22:30: 720.0 h */
    { "Europe/Paris", NGX_BOOKING_PER_MONTH, 5696740800LL, 5695912800LL, 5698591200LL },  /* 2150-07-10T12:00: 744.0 h */
    { "Europe/Paris", NGX_BOOKING_PER_WEEK, 1774220400LL, 1774220400LL, 1774821600LL },  /* 2026-03-22T23:00: 167.0 h */
    { "Europe/Paris", NGX_BOOKING_PER_WEEK, 1774220399LL, 1773615600LL, 1774220400LL },  /* 2026-03-22T22:59:59: 168.0 h */
    { "America/New_York", NGX_BOOKING_PER_WEEK, 1772712000LL, 1772427600LL, 1773028800LL },  /* 2026-03-05T12:00: 167.0 h */
    { "America/New_York", NGX_BOOKING_PER_WEEK, 1793275200LL, 1792987200LL, 1793595600LL },  /* 2026-10-29T12:00: 169.0 h */
    { "America/New_York", NGX_BOOKING_PER_MONTH, 1798777800LL, 1796101200LL, 1798779600LL },  /* 2027-01-01T04:30: 744.0 h */
    { "America/New_York", NGX_BOOKING_PER_DAY, 1793534400LL, 1793505600LL, 1793595600LL },  /* 2026-11-01T12:00: 25.0 h */
    { "America/Santiago", NGX_BOOKING_PER_DAY, 1788696000LL, 1788667200LL, 1788750000LL },  /* 2026-09-06T12:00: 23.0 h */
    { "Australia/Lord_Howe", NGX_BOOKING_PER_DAY, 1791115200LL, 1791034200LL, 1791118800LL },  /* 2026-10-04T12:00: 23.5 h */
    { "Asia/Kolkata", NGX_BOOKING_PER_WEEK, 1796378400LL, 1795977000LL, 1796581800LL },  /* 2026-12-04T10:00: 168.0 h */
};


static void
test_periods(void **state)
{
    char              err[256];
    size_t            i;
    int64_t           start, next;
    ngx_booking_tz_t  tz;

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(ngx_booking_tz_load(&tz, cases[i].zone, err,
                                             sizeof(err)),
                         NGX_BOOKING_OK);

        ngx_booking_tz_period(&tz, cases[i].per, cases[i].t, &start, &next);

        if (start != cases[i].start || next != cases[i].next) {
            fail_msg("case %zu (%s, %lld): [%lld, %lld), not [%lld, %lld)",
                     i, cases[i].zone, (long long) cases[i].t,
                     (long long) start, (long long) next,
                     (long long) cases[i].start, (long long) cases[i].next);
        }

        /* the bounds are in the period they start, and end the one before */
        ngx_booking_tz_period(&tz, cases[i].per, start, &start, &next);
        assert_int_equal(start, cases[i].start);
        ngx_booking_tz_period(&tz, cases[i].per, next - 1, &start, &next);
        assert_int_equal(next, cases[i].next);

        ngx_booking_tz_free(&tz);
    }
}


static void
test_offsets(void **state)
{
    char              err[256];
    ngx_booking_tz_t  tz;

    (void) state;

    assert_int_equal(ngx_booking_tz_load(&tz, "Europe/Paris", err,
                                         sizeof(err)),
                     NGX_BOOKING_OK);

    /* 2026-03-29T01:00:00Z: 02:00 CET becomes 03:00 CEST */
    assert_int_equal(ngx_booking_tz_offset(&tz, 1774746000 - 1), 3600);
    assert_int_equal(ngx_booking_tz_offset(&tz, 1774746000), 7200);

    /* 02:30 that day is skipped: the instant the clock jumps */
    assert_int_equal(ngx_booking_tz_instant(&tz, 1774751400), 1774746000);

    /* 2026-10-25 02:30 is shown twice: the first of them */
    assert_int_equal(ngx_booking_tz_instant(&tz, 1792895400), 1792888200);

    ngx_booking_tz_free(&tz);
}


static void
test_names(void **state)
{
    char              err[256];
    size_t            i;
    ngx_booking_tz_t  tz;
    const char       *bad[] = { "", "../../etc/passwd", "/etc/localtime",
                                "Europe/Nowhere", "Europe/Paris ",
                                "Europe\\Paris", "Europe", "America" };

    (void) state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ngx_booking_tz_load(&tz, bad[i], err, sizeof(err)),
                         NGX_BOOKING_ERROR);
    }

    /* the process's own zone is as it was */
    assert_null(getenv("TZ"));
    assert_int_equal(ngx_booking_tz_load(&tz, "UTC", err, sizeof(err)),
                     NGX_BOOKING_OK);
    assert_int_equal(ngx_booking_tz_offset(&tz, 1796378400), 0);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_periods),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_names),
    };

    unsetenv("TZ");

    return cmocka_run_group_tests(tests, NULL, NULL);
}

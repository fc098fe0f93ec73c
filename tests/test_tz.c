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

#include <jansson.h>

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


/* the occurrences of one range: n of them, each [s, e) */
typedef struct {
    const char  *zone;
    int          freq;
    int64_t      interval;
    int64_t      count;
    int64_t      until;
    int64_t      start;
    int64_t      end;
    size_t       max;
    int          rc;
    size_t       n;
    int64_t      s[4];
    int64_t      e[4];
} repeat_case_t;


static void
test_repeat(void **state)
{
    size_t                i, j, n;
    int64_t               s[64], e[64];
    char                  err[128];
    ngx_booking_tz_t      tz;
    ngx_booking_repeat_t  r;
    static const repeat_case_t  cases[] = {
        /* Thursdays 18:00 in Paris, across the change of 2027-03-28 */
        { "Europe/Paris", NGX_BOOKING_FREQ_WEEKLY, 1, 4, 0,
          1805389200, 1805389200 + 3600, 52, NGX_BOOKING_OK, 4,
          { 1805389200, 1805994000, 1806595200, 1807200000 },
          { 1805392800, 1805997600, 1806598800, 1807203600 } },
        /* 09:00 in New York, the day after the change of 2027-11-07 */
        { "America/New_York", NGX_BOOKING_FREQ_DAILY, 1, 2, 0,
          1825506000, 1825506000 + 3600, 52, NGX_BOOKING_OK, 2,
          { 1825506000, 1825596000 }, { 1825509600, 1825599600 } },
        /* 18:00 in Sydney, over the end of its summer time (2027-04-04) */
        { "Australia/Sydney", NGX_BOOKING_FREQ_WEEKLY, 1, 2, 0,
          1806217200, 1806217200 + 1800, 52, NGX_BOOKING_OK, 2,
          { 1806217200, 1806825600 }, { 1806219000, 1806827400 } },
        /*
         * 02:30-03:00 in Paris: the night that half hour does not exist,
         * both ends are 03:00 (an empty range, which a booking refuses)
         */
        { "Europe/Paris", NGX_BOOKING_FREQ_DAILY, 1, 3, 0,
          1806111000, 1806111000 + 1800, 52, NGX_BOOKING_OK, 3,
          { 1806111000, 1806195600, 1806280200 },
          { 1806112800, 1806195600, 1806282000 } },
        /* the 31st, monthly: January, March, May, July */
        { "UTC", NGX_BOOKING_FREQ_MONTHLY, 1, 4, 0,
          1801353600, 1801357200, 52, NGX_BOOKING_OK, 4,
          { 1801353600, 1806451200, 1811721600, 1816992000 },
          { 1801357200, 1806454800, 1811725200, 1816995600 } },
        /* February 29th, every 12 months: the next is four years on */
        { "UTC", NGX_BOOKING_FREQ_MONTHLY, 12, 2, 0,
          1835395200, 1835398800, 52, NGX_BOOKING_OK, 2,
          { 1835395200, 1961625600 }, { 1835398800, 1961629200 } },
        /* every other Monday until 2027-02-01 inclusive: 3 */
        { "UTC", NGX_BOOKING_FREQ_WEEKLY, 2, 0, 20850,
          1799020800, 1799024400, 52, NGX_BOOKING_OK, 3,
          { 1799020800, 1800230400, 1801440000 },
          { 1799024400, 1800234000, 1801443600 } },
        /* more than max: refused, not cut */
        { "UTC", NGX_BOOKING_FREQ_DAILY, 1, 60, 0,
          1799020800, 1799024400, 52, NGX_BOOKING_DECLINED, 0, { 0 }, { 0 } },
        { "UTC", NGX_BOOKING_FREQ_DAILY, 1, 0, 20850 + 100,
          1799020800, 1799024400, 52, NGX_BOOKING_DECLINED, 0, { 0 }, { 0 } },
        /* until before the start: nothing */
        { "UTC", NGX_BOOKING_FREQ_DAILY, 1, 0, 20800,
          1799020800, 1799024400, 52, NGX_BOOKING_DECLINED, 0, { 0 }, { 0 } },
        /* a rule that cannot be */
        { "UTC", NGX_BOOKING_FREQ_DAILY, 0, 3, 0,
          1799020800, 1799024400, 52, NGX_BOOKING_ERROR, 0, { 0 }, { 0 } },
        { "UTC", 9, 1, 3, 0,
          1799020800, 1799024400, 52, NGX_BOOKING_ERROR, 0, { 0 }, { 0 } },
        { "UTC", NGX_BOOKING_FREQ_DAILY, 1, 3, 0,
          1799024400, 1799020800, 52, NGX_BOOKING_ERROR, 0, { 0 }, { 0 } },
    };

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(ngx_booking_tz_load(&tz, cases[i].zone, err,
                                             sizeof(err)), NGX_BOOKING_OK);

        r.freq = cases[i].freq;
        r.interval = cases[i].interval;
        r.count = cases[i].count;
        r.until = cases[i].until;

        assert_int_equal(ngx_booking_repeat_expand(&tz, &r, cases[i].start,
                                                   cases[i].end, cases[i].max,
                                                   s, e, &n),
                         cases[i].rc);

        if (cases[i].rc == NGX_BOOKING_OK) {
            assert_int_equal(n, cases[i].n);

            for (j = 0; j < n; j++) {
                assert_int_equal(s[j], cases[i].s[j]);
                assert_int_equal(e[j], cases[i].e[j]);
            }
        }

        ngx_booking_tz_free(&tz);
    }
}


static void
test_hours(void **state)
{
    size_t               i, n;
    json_t              *v;
    int64_t              s[16], e[16];
    char                 text[128];
    ngx_booking_tz_t     tz;
    ngx_booking_perr_t   err;
    ngx_booking_hours_t  h;
    static const char   *bad[] = {
        "{\"mon\":[\"08:00-12:00\",\"11:00-13:00\"]}",
        "{\"mon\":[\"24:00-25:00\"]}",
        "{\"mon\":[\"08:00-08:00\"]}",
        "{\"mon\":[\"8:00-12:00\"]}",
        "{\"mon\":[\"08:60-12:00\"]}",
        "{\"mo\":[\"08:00-12:00\"]}",
        "{\"mon\":\"08:00-12:00\"}",
        "{\"closed\":[\"2027-02-30\"]}",
        "{\"closed\":[\"2027-03-29T00:00:00Z\"]}",
        "{\"mon\":[\"00:00-01:00\",\"01:00-02:00\",\"02:00-03:00\","
        "\"03:00-04:00\",\"04:00-05:00\",\"05:00-06:00\",\"06:00-07:00\","
        "\"07:00-08:00\",\"08:00-09:00\"]}",
        "[]",
    };

    (void) state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = json_loads(bad[i], 0, NULL);
        assert_non_null(v);
        assert_int_equal(ngx_booking_parse_hours(v, &h, &err),
                         NGX_BOOKING_ERROR);
        json_decref(v);
    }

    v = json_loads("{\"mon\":[\"14:00-18:00\",\"08:00-12:00\"],"
                   "\"tue\":[\"08:00-18:00\"],"
                   "\"closed\":[\"2027-03-29\",\"2027-03-29\"]}", 0, NULL);
    assert_int_equal(ngx_booking_parse_hours(v, &h, &err), NGX_BOOKING_OK);
    json_decref(v);

    assert_int_equal(h.n[0], 2);
    assert_int_equal(h.open[0][0][0], 480);
    assert_int_equal(h.nclosed, 1);

    assert_int_equal(ngx_booking_hours_fit(&h, 1800), NGX_BOOKING_OK);
    assert_int_equal(ngx_booking_hours_fit(&h, 7200), NGX_BOOKING_OK);
    assert_int_equal(ngx_booking_hours_fit(&h, 10800), NGX_BOOKING_DECLINED);
    assert_int_equal(ngx_booking_hours_fit(&h, 86400), NGX_BOOKING_DECLINED);

    assert_int_equal(ngx_booking_tz_load(&tz, "Europe/Paris", text,
                                         sizeof(text)), NGX_BOOKING_OK);

    /* Monday 2027-03-22, Paris: 09:00-11:00 in, 11:00-13:00 past noon */
    assert_int_equal(ngx_booking_hours_open(&h, &tz, 1805702400, 1805709600),
                     NGX_BOOKING_OK);
    assert_int_equal(ngx_booking_hours_open(&h, &tz, 1805709600, 1805716800),
                     2);
    assert_int_equal(ngx_booking_hours_open(&h, &tz, 1805716800, 1805720400),
                     1);
    /* Monday 2027-03-29 is closed; a Wednesday has no hours */
    assert_int_equal(ngx_booking_hours_open(&h, &tz, 1806300000, 1806303600),
                     1);
    assert_int_equal(ngx_booking_hours_open(&h, &tz, 1805842800 + 36000,
                                            1805842800 + 39600), 1);

    /* Monday 00:00 to Wednesday 00:00: four closed runs */
    assert_int_equal(ngx_booking_hours_closed(&h, &tz, 1805670000, 1805842800,
                                              s, e, 16, &n), NGX_BOOKING_OK);
    assert_int_equal(n, 4);
    assert_int_equal(s[0], 1805670000);
    assert_int_equal(e[0], 1805698800);
    assert_int_equal(s[1], 1805713200);
    assert_int_equal(e[1], 1805720400);
    assert_int_equal(s[2], 1805734800);
    assert_int_equal(e[2], 1805785200);
    assert_int_equal(s[3], 1805821200);
    assert_int_equal(e[3], 1805842800);

    /* the compact form the scripts read, back: the same closed runs */
    {
        ngx_booking_hours_t  back;
        static const char    compact[] = " 0:480-720 0:840-1080 1:480-1080"
                                         " x20906 ";

        assert_int_equal(ngx_booking_hours_unpack((const u_char *) compact,
                                                  sizeof(compact) - 1,
                                                  &back), NGX_BOOKING_OK);
        assert_int_equal(back.n[0], 2);
        assert_int_equal(back.nclosed, 1);
        assert_int_equal(back.closed[0], 20906);
        assert_int_equal(ngx_booking_hours_unpack((const u_char *) " 7:1-2 ",
                                                  7, &back),
                         NGX_BOOKING_ERROR);
        assert_int_equal(ngx_booking_hours_unpack((const u_char *) " 0:9-2 ",
                                                  7, &back),
                         NGX_BOOKING_ERROR);
        assert_int_equal(ngx_booking_hours_unpack((const u_char *) " 0:1-2x",
                                                  7, &back),
                         NGX_BOOKING_ERROR);
    }

    /* runs cut by closed time: closed pieces of 0 units, merged */
    {
        ngx_booking_run_t    in[2], out[8];
        static const int64_t cs[] = { 0, 50, 90 }, ce[] = { 10, 70, 200 };

        in[0].start = 0;
        in[0].end = 60;
        in[0].units = 3;
        in[0].closed = 0;
        in[1].start = 60;
        in[1].end = 100;
        in[1].units = 1;
        in[1].closed = 0;

        assert_int_equal(ngx_booking_runs_close(in, 2, cs, ce, 3, out), 5);
        assert_int_equal(out[0].end, 10);
        assert_true(out[0].closed);
        assert_int_equal(out[1].start, 10);
        assert_int_equal(out[1].end, 50);
        assert_int_equal(out[1].units, 3);
        assert_int_equal(out[2].start, 50);
        assert_int_equal(out[2].end, 70);
        assert_true(out[2].closed && out[2].units == 0);
        assert_int_equal(out[3].start, 70);
        assert_int_equal(out[3].end, 90);
        assert_int_equal(out[3].units, 1);
        assert_int_equal(out[4].start, 90);
        assert_int_equal(out[4].end, 100);
        assert_true(out[4].closed);
    }

    /* too many for the room given */
    assert_int_equal(ngx_booking_hours_closed(&h, &tz, 1805670000, 1805842800,
                                              s, e, 3, &n),
                     NGX_BOOKING_DECLINED);

    ngx_booking_tz_free(&tz);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_periods),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_repeat),
        cmocka_unit_test(test_hours),
    };

    unsetenv("TZ");

    return cmocka_run_group_tests(tests, NULL, NULL);
}

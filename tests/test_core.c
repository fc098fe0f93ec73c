
/*
 * Unit tests for the booking core (include/ngx_booking_core.h).
 *
 * Every expectation is an exact value: a test that cannot fail tests
 * nothing.  Inputs are passed with explicit lengths, often shorter than the
 * buffer or without a terminating NUL, to catch reads past len.
 */


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ngx_booking_core.h"


#define S(s)    (const u_char *) (s), (sizeof(s) - 1)

#define DAY     86400


/* durations */


static int64_t
dur_ok(const char *s)
{
    int64_t  secs;

    secs = -42;
    assert_int_equal(ngx_booking_parse_duration((const u_char *) s,
                                                strlen(s), &secs),
                     NGX_BOOKING_OK);
    return secs;
}


static void
dur_bad(const u_char *p, size_t len)
{
    int64_t  secs;

    secs = -42;
    assert_int_equal(ngx_booking_parse_duration(p, len, &secs),
                     NGX_BOOKING_ERROR);

    /* the output is left alone on error */
    assert_int_equal(secs, -42);
}


static void
test_duration_units(void **state)
{
    (void) state;

    assert_int_equal(dur_ok("0"), 0);
    assert_int_equal(dur_ok("0s"), 0);
    assert_int_equal(dur_ok("1"), 1);
    assert_int_equal(dur_ok("90"), 90);
    assert_int_equal(dur_ok("1s"), 1);
    assert_int_equal(dur_ok("1m"), 60);
    assert_int_equal(dur_ok("30m"), 1800);
    assert_int_equal(dur_ok("1h"), 3600);
    assert_int_equal(dur_ok("1d"), DAY);
    assert_int_equal(dur_ok("2d"), 2 * DAY);
    assert_int_equal(dur_ok("1w"), 7 * DAY);
    assert_int_equal(dur_ok("1M"), 30 * DAY);
    assert_int_equal(dur_ok("1y"), 365 * DAY);
    assert_int_equal(dur_ok("007s"), 7);
    assert_int_equal(dur_ok("0h0m0s"), 0);
}


static void
test_duration_groups(void **state)
{
    (void) state;

    assert_int_equal(dur_ok("1h30m"), 5400);
    assert_int_equal(dur_ok("1h1s"), 3601);
    assert_int_equal(dur_ok("1d12h"), DAY + 12 * 3600);
    assert_int_equal(dur_ok("1y1M1w1d1h1m1s"), 34822861);
    assert_int_equal(dur_ok("2w3d"), 17 * DAY);
    assert_int_equal(dur_ok("90m"), 5400);
    assert_int_equal(dur_ok("120s"), 120);
}


static void
test_duration_limits(void **state)
{
    (void) state;

    assert_int_equal(dur_ok("253402300799"), NGX_BOOKING_TIME_MAX);
    assert_int_equal(dur_ok("253402300799s"), NGX_BOOKING_TIME_MAX);
    assert_int_equal(dur_ok("8035y"), 8035LL * 365 * DAY);
    assert_int_equal(dur_ok("8035y4M1d86399s"), NGX_BOOKING_TIME_MAX);
    assert_int_equal(dur_ok("0000000000000000000000000001s"), 1);

    dur_bad(S("253402300800"));
    dur_bad(S("253402300800s"));
    dur_bad(S("99999999999999999999999"));
    dur_bad(S("99999999999999999999999s"));
    dur_bad(S("8036y"));
    dur_bad(S("8035y4M1d86400s"));
    dur_bad(S("8035y5M"));
    dur_bad(S("2932897d"));
}


static void
test_duration_syntax(void **state)
{
    (void) state;

    dur_bad(NULL, 0);
    dur_bad(NULL, 5);
    dur_bad(S(""));
    dur_bad(S("h"));
    dur_bad(S("s"));
    dur_bad(S("x"));
    dur_bad(S("1x"));
    dur_bad(S("1H"));
    dur_bad(S("1D"));
    dur_bad(S("1ms"));
    dur_bad(S("1m1ms"));
    dur_bad(S("1h30"));
    dur_bad(S("1d0"));
    dur_bad(S("30m1h"));
    dur_bad(S("1s1m"));
    dur_bad(S("1m1M"));
    dur_bad(S("1h1h"));
    dur_bad(S("1y1y"));
    dur_bad(S("1hm"));
    dur_bad(S("1h 30m"));
    dur_bad(S(" 1h"));
    dur_bad(S("1h "));
    dur_bad(S("1 "));
    dur_bad(S("-1"));
    dur_bad(S("+1"));
    dur_bad(S("-1s"));
    dur_bad(S("1.5h"));
    dur_bad(S("1\0s"));
    dur_bad(S("\0"));
}


static void
test_duration_len(void **state)
{
    int64_t  secs;

    static const u_char  unterminated[] = { '1', 'h', '3', '0', 'm' };
    static const u_char  digits[] = { '1', '2' };

    (void) state;

    assert_int_equal(ngx_booking_parse_duration(unterminated, 5, &secs),
                     NGX_BOOKING_OK);
    assert_int_equal(secs, 5400);

    assert_int_equal(ngx_booking_parse_duration(unterminated, 2, &secs),
                     NGX_BOOKING_OK);
    assert_int_equal(secs, 3600);

    assert_int_equal(ngx_booking_parse_duration(unterminated, 1, &secs),
                     NGX_BOOKING_OK);
    assert_int_equal(secs, 1);

    /* "1h30" */
    dur_bad(unterminated, 4);

    /* "1h3" */
    dur_bad(unterminated, 3);

    assert_int_equal(ngx_booking_parse_duration(digits, 1, &secs),
                     NGX_BOOKING_OK);
    assert_int_equal(secs, 1);

    assert_int_equal(ngx_booking_parse_duration(digits, 2, &secs),
                     NGX_BOOKING_OK);
    assert_int_equal(secs, 12);
}


/* instants */


static ngx_booking_instant_t
inst_ok(const char *s)
{
    ngx_booking_instant_t  in;

    memset(&in, 0xa5, sizeof(in));

    if (ngx_booking_parse_instant((const u_char *) s, strlen(s), &in)
        != NGX_BOOKING_OK)
    {
        fail_msg("rejected \"%s\"", s);
    }

    return in;
}


static void
inst_bad_len(const u_char *p, size_t len)
{
    ngx_booking_instant_t  in, orig;

    memset(&in, 0xa5, sizeof(in));
    orig = in;

    if (ngx_booking_parse_instant(p, len, &in) != NGX_BOOKING_ERROR) {
        fail_msg("accepted \"%.*s\"", (int) len,
                 p == NULL ? "" : (const char *) p);
    }

    /* the output is left alone on error */
    assert_memory_equal(&in, &orig, sizeof(in));
}


static void
inst_bad(const char *s)
{
    inst_bad_len((const u_char *) s, strlen(s));
}


static void
assert_instant(const char *s, int64_t t, unsigned date_only,
    unsigned fraction)
{
    ngx_booking_instant_t  in;

    in = inst_ok(s);

    if (in.t != t || in.date_only != date_only || in.fraction != fraction) {
        fail_msg("\"%s\": got t=%lld date_only=%u fraction=%u, "
                 "want t=%lld date_only=%u fraction=%u", s,
                 (long long) in.t, in.date_only, in.fraction,
                 (long long) t, date_only, fraction);
    }
}


static void
test_instant_date(void **state)
{
    (void) state;

    assert_instant("1970-01-01", 0, 1, 0);
    assert_instant("1970-01-02", DAY, 1, 0);
    assert_instant("2026-12-01", 1796083200, 1, 0);
    assert_instant("2000-02-29", 951782400, 1, 0);
    assert_instant("2400-02-29", 13574563200LL, 1, 0);
    assert_instant("9999-12-31", 253402214400LL, 1, 0);

    inst_bad("1969-12-31");
    inst_bad("0000-01-01");
    inst_bad("0001-01-01");
    inst_bad("10000-01-01");
    inst_bad("2026-12-1");
    inst_bad("2026-1-01");
    inst_bad("226-12-01");
    inst_bad("2026/12/01");
    inst_bad("2026-12/01");
    inst_bad("2026_12-01");
    inst_bad("20a6-12-01");
    inst_bad("2026-1a-01");
    inst_bad("2026-12-0a");
    inst_bad(" 2026-12-01");
    inst_bad("2026-12-01 ");
    inst_bad("+2026-12-01");
    inst_bad("2026-12-01Z");
    inst_bad("2026-12-01T");
    inst_bad("2026-12-01T10:00");
    inst_bad("");
    inst_bad_len(NULL, 0);
    inst_bad_len(NULL, 10);
}


static void
test_instant_calendar(void **state)
{
    int          m, y;
    char         buf[32];
    const int   *days;

    static const int  common[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
                                   30, 31 };
    static const int  leap[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
                                 30, 31 };
    static const int  years[] = { 1970, 1972, 2000, 2023, 2024, 2100, 2400,
                                  9996, 9999 };

    (void) state;

    for (y = 0; y < (int) (sizeof(years) / sizeof(years[0])); y++) {
        days = (years[y] % 4 == 0
                && (years[y] % 100 != 0 || years[y] % 400 == 0))
               ? leap : common;

        for (m = 1; m <= 12; m++) {
            snprintf(buf, sizeof(buf), "%04d-%02d-%02d",
                     years[y], m, days[m - 1]);
            (void) inst_ok(buf);

            snprintf(buf, sizeof(buf), "%04d-%02d-%02d",
                     years[y], m, days[m - 1] + 1);
            inst_bad(buf);

            snprintf(buf, sizeof(buf), "%04d-%02d-00", years[y], m);
            inst_bad(buf);
        }
    }

    inst_bad("2023-02-29");
    inst_bad("2100-02-29");
    inst_bad("2026-00-01");
    inst_bad("2026-13-01");
    inst_bad("2026-99-01");
    inst_bad("2026-04-31");
    inst_bad("2026-01-32");
    inst_bad("2026-01-99");
}


static void
test_instant_datetime(void **state)
{
    (void) state;

    assert_instant("1970-01-01T00:00:00Z", 0, 0, 0);
    assert_instant("2026-12-01T10:00:00Z", 1796119200, 0, 0);
    assert_instant("2026-12-01t10:00:00z", 1796119200, 0, 0);
    assert_instant("2026-12-01T10:00:00z", 1796119200, 0, 0);
    assert_instant("2026-12-01t10:00:00Z", 1796119200, 0, 0);
    assert_instant("2024-02-29T12:34:56Z", 1709210096, 0, 0);
    assert_instant("2038-01-19T03:14:08Z", 2147483648LL, 0, 0);
    assert_instant("2026-12-01T23:59:59Z", 1796083200 + DAY - 1, 0, 0);
    assert_instant("9999-12-31T23:59:59Z", NGX_BOOKING_TIME_MAX, 0, 0);

    inst_bad("2026-12-01T24:00:00Z");
    inst_bad("2026-12-01T10:60:00Z");
    inst_bad("2026-12-01T10:00:60Z");
    inst_bad("2026-12-01T10:00:99Z");
    inst_bad("2026-12-01 10:00:00Z");
    inst_bad("2026-12-01X10:00:00Z");
    inst_bad("2026-12-01T10-00:00Z");
    inst_bad("2026-12-01T10:00-00Z");
    inst_bad("2026-12-01T1a:00:00Z");
    inst_bad("2026-12-01T10:a0:00Z");
    inst_bad("2026-12-01T10:00:0aZ");
    inst_bad("2026-12-01T10:00:00");
    inst_bad("2026-12-01T10:00:00ZZ");
    inst_bad("2026-12-01T10:00:00Z ");
    inst_bad(" 2026-12-01T10:00:00Z");
    inst_bad("2026-12-01T10:00:00X");
    inst_bad("2026-12-01T10:00:00 Z");
    inst_bad("2026-12-01T10:00Z");
    inst_bad("2026-12-01T1:00:00Z");
    inst_bad("2026-12-01T10:00:00UTC");
    inst_bad("2026-02-30T10:00:00Z");
    inst_bad("1969-12-31T23:59:59Z");
    inst_bad("0000-01-01T00:00:00Z");
}


static void
test_instant_fraction(void **state)
{
    (void) state;

    assert_instant("2026-12-01T10:00:00.0Z", 1796119200, 0, 0);
    assert_instant("2026-12-01T10:00:00.5Z", 1796119200, 0, 1);
    assert_instant("2026-12-01T10:00:00.999999999Z", 1796119200, 0, 1);
    assert_instant("2026-12-01T10:00:00.000000000Z", 1796119200, 0, 0);
    assert_instant("2026-12-01T10:00:00.000000001Z", 1796119200, 0, 1);
    assert_instant("2026-12-01T10:00:00.100z", 1796119200, 0, 1);
    assert_instant("2026-12-01T10:00:00.5+01:00", 1796119200 - 3600, 0, 1);
    assert_instant("9999-12-31T23:59:59.999999999Z", NGX_BOOKING_TIME_MAX,
                   0, 1);

    inst_bad("2026-12-01T10:00:00.Z");
    inst_bad("2026-12-01T10:00:00.");
    inst_bad("2026-12-01T10:00:00.5");
    inst_bad("2026-12-01T10:00:00.0000000000Z");
    inst_bad("2026-12-01T10:00:00.5a");
    inst_bad("2026-12-01T10:00:00,5Z");
    inst_bad("2026-12-01T10:00:00.5.5Z");
    inst_bad("2026-12-01T10:00:00.-5Z");
    inst_bad("2026-12-01T10:00:00.5ZZ");
}


static void
test_instant_offset(void **state)
{
    (void) state;

    assert_instant("2026-12-01T10:00:00+00:00", 1796119200, 0, 0);
    assert_instant("2026-12-01T10:00:00-00:00", 1796119200, 0, 0);
    assert_instant("2026-12-01T11:00:00+01:00", 1796119200, 0, 0);
    assert_instant("2026-12-01T04:30:00-05:30", 1796119200, 0, 0);
    assert_instant("2026-12-02T09:59:00+23:59", 1796119200, 0, 0);
    assert_instant("2026-11-30T10:01:00-23:59", 1796119200, 0, 0);
    assert_instant("1970-01-01T01:00:00+01:00", 0, 0, 0);
    assert_instant("1969-12-31T23:00:00-01:00", 0, 0, 0);
    assert_instant("9999-12-31T23:59:59+00:01", NGX_BOOKING_TIME_MAX - 60,
                   0, 0);

    inst_bad("1970-01-01T00:30:00+01:00");
    inst_bad("1970-01-01T00:59:59+01:00");
    inst_bad("9999-12-31T23:59:59-00:01");
    inst_bad("9999-12-31T23:00:00-01:00");
    inst_bad("2026-12-01T10:00:00+24:00");
    inst_bad("2026-12-01T10:00:00-24:00");
    inst_bad("2026-12-01T10:00:00+01:60");
    inst_bad("2026-12-01T10:00:00+0100");
    inst_bad("2026-12-01T10:00:00+01");
    inst_bad("2026-12-01T10:00:00+01:0");
    inst_bad("2026-12-01T10:00:00+01:000");
    inst_bad("2026-12-01T10:00:00+01-00");
    inst_bad("2026-12-01T10:00:00+a1:00");
    inst_bad("2026-12-01T10:00:00+01:a0");
    inst_bad("2026-12-01T10:00:00+01:00Z");
    inst_bad("2026-12-01T10:00:00Z+01:00");
    inst_bad("2026-12-01T10:00:00 +01:00");
    inst_bad("2026-12-01T10:00:00+");
    inst_bad("2026-12-01T10:00:00-");
}


static void
test_instant_len(void **state)
{
    ngx_booking_instant_t  in;

    static const u_char  s[] = { '2', '0', '2', '6', '-', '1', '2', '-', '0',
                                 '1', 'T', '1', '0', ':', '0', '0', ':', '0',
                                 '0', '.', '5', '+', '0', '1', ':', '0',
                                 '0' };

    (void) state;

    assert_int_equal(ngx_booking_parse_instant(s, sizeof(s), &in),
                     NGX_BOOKING_OK);
    assert_int_equal(in.t, 1796119200 - 3600);
    assert_int_equal(in.fraction, 1);
    assert_int_equal(in.date_only, 0);

    assert_int_equal(ngx_booking_parse_instant(s, 10, &in), NGX_BOOKING_OK);
    assert_int_equal(in.t, 1796083200);
    assert_int_equal(in.date_only, 1);
    assert_int_equal(in.fraction, 0);

    inst_bad_len(s, 9);
    inst_bad_len(s, 11);
    inst_bad_len(s, 19);
    inst_bad_len(s, 20);
    inst_bad_len(s, 21);
    inst_bad_len(s, 22);
    inst_bad_len(s, 25);
    inst_bad_len(s, 26);
}


/* formatting, checked against libc's gmtime_r() as an independent oracle */


static void
check_format(int64_t t)
{
    char       want[32];
    u_char     buf[32], *end;
    time_t     tt;
    struct tm  tm;

    tt = (time_t) t;
    assert_non_null(gmtime_r(&tt, &tm));
    assert_int_equal(strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm),
                     20);

    memset(buf, 'X', sizeof(buf));
    end = ngx_booking_format_instant(buf, t);
    assert_ptr_equal(end, buf + NGX_BOOKING_INSTANT_LEN);
    assert_memory_equal(buf, want, 20);
    assert_int_equal(buf[20], 'X');

    memset(buf, 'X', sizeof(buf));
    end = ngx_booking_format_date(buf, t);
    assert_ptr_equal(end, buf + NGX_BOOKING_DATE_LEN);
    assert_memory_equal(buf, want, 10);
    assert_int_equal(buf[10], 'X');
}


static void
test_format_fixed(void **state)
{
    u_char  buf[32], *end;

    (void) state;

    assert_int_equal(NGX_BOOKING_INSTANT_LEN, 20);
    assert_int_equal(NGX_BOOKING_DATE_LEN, 10);

    memset(buf, 'X', sizeof(buf));
    end = ngx_booking_format_instant(buf, 0);
    assert_ptr_equal(end, buf + 20);
    assert_memory_equal(buf, "1970-01-01T00:00:00ZX", 21);

    end = ngx_booking_format_instant(buf, NGX_BOOKING_TIME_MAX);
    assert_ptr_equal(end, buf + 20);
    assert_memory_equal(buf, "9999-12-31T23:59:59ZX", 21);

    end = ngx_booking_format_instant(buf, 1709210096);
    assert_memory_equal(buf, "2024-02-29T12:34:56ZX", 21);

    end = ngx_booking_format_instant(buf, 1796119200);
    assert_memory_equal(buf, "2026-12-01T10:00:00ZX", 21);

    memset(buf, 'X', sizeof(buf));
    end = ngx_booking_format_date(buf, 1796119200);
    assert_ptr_equal(end, buf + 10);
    assert_memory_equal(buf, "2026-12-01X", 11);

    end = ngx_booking_format_date(buf, 1796083200 - 1);
    assert_memory_equal(buf, "2026-11-30X", 11);

    end = ngx_booking_format_date(buf, NGX_BOOKING_TIME_MAX);
    assert_memory_equal(buf, "9999-12-31X", 11);

    end = ngx_booking_format_date(buf, 0);
    assert_memory_equal(buf, "1970-01-01X", 11);
}


static void
test_format_clamp(void **state)
{
    u_char  buf[32], *end;

    (void) state;

    memset(buf, 'X', sizeof(buf));

    end = ngx_booking_format_instant(buf, -1);
    assert_ptr_equal(end, buf + 20);
    assert_memory_equal(buf, "1970-01-01T00:00:00ZX", 21);

    end = ngx_booking_format_instant(buf, INT64_MIN);
    assert_memory_equal(buf, "1970-01-01T00:00:00ZX", 21);

    end = ngx_booking_format_instant(buf, NGX_BOOKING_TIME_MAX + 1);
    assert_memory_equal(buf, "9999-12-31T23:59:59ZX", 21);

    end = ngx_booking_format_instant(buf, INT64_MAX);
    assert_memory_equal(buf, "9999-12-31T23:59:59ZX", 21);

    end = ngx_booking_format_date(buf, -1);
    assert_ptr_equal(end, buf + 10);
    assert_memory_equal(buf, "1970-01-01T", 11);

    end = ngx_booking_format_date(buf, INT64_MAX);
    assert_memory_equal(buf, "9999-12-31T", 11);
}


static void
test_format_oracle(void **state)
{
    int64_t  t;

    (void) state;

    /* a stride coprime to days and hours walks every field through */

    for (t = 0; t <= NGX_BOOKING_TIME_MAX; t += 3 * DAY + 3697) {
        check_format(t);
    }

    check_format(NGX_BOOKING_TIME_MAX);
    check_format(951782400 - 1);
    check_format(951782400);
    check_format(951782400 + DAY);
    check_format(13574563200LL + DAY - 1);
}


static void
test_roundtrip(void **state)
{
    int64_t                t, d;
    u_char                 buf[32];
    char                   want[32];
    time_t                 tt;
    struct tm              tm;
    ngx_booking_instant_t  in;

    (void) state;

    /* every day from 1970 to 9999, parsed against gmtime_r()'s calendar */

    for (d = 0; d <= NGX_BOOKING_TIME_MAX / DAY; d++) {
        tt = (time_t) (d * DAY);
        assert_non_null(gmtime_r(&tt, &tm));
        assert_int_equal(strftime(want, sizeof(want), "%Y-%m-%d", &tm), 10);

        assert_int_equal(ngx_booking_parse_instant((u_char *) want, 10, &in),
                         NGX_BOOKING_OK);
        assert_int_equal(in.t, d * DAY);

        assert_ptr_equal(ngx_booking_format_date(buf, d * DAY + DAY - 1),
                         buf + 10);
        assert_memory_equal(buf, want, 10);
    }

    for (t = 0; t <= NGX_BOOKING_TIME_MAX; t += 7 * DAY + 3607) {
        ngx_booking_format_instant(buf, t);
        assert_int_equal(ngx_booking_parse_instant(buf, 20, &in),
                         NGX_BOOKING_OK);
        assert_int_equal(in.t, t);
        assert_int_equal(in.date_only, 0);
        assert_int_equal(in.fraction, 0);
    }
}


/* slots */


static void
test_slot_floor(void **state)
{
    (void) state;

    assert_int_equal(ngx_booking_slot_floor(0, 60), 0);
    assert_int_equal(ngx_booking_slot_floor(1, 60), 0);
    assert_int_equal(ngx_booking_slot_floor(59, 60), 0);
    assert_int_equal(ngx_booking_slot_floor(60, 60), 60);
    assert_int_equal(ngx_booking_slot_floor(61, 60), 60);
    assert_int_equal(ngx_booking_slot_floor(1796119199, 3600), 1796115600);
    assert_int_equal(ngx_booking_slot_floor(12345, 1), 12345);
    assert_int_equal(ngx_booking_slot_floor(NGX_BOOKING_TIME_MAX, DAY),
                     NGX_BOOKING_TIME_MAX - DAY + 1);
    assert_int_equal(ngx_booking_slot_floor(INT64_MAX, 2), INT64_MAX - 1);

    /* outside the domain t comes back unchanged */
    assert_int_equal(ngx_booking_slot_floor(61, 0), 61);
    assert_int_equal(ngx_booking_slot_floor(61, -60), 61);
    assert_int_equal(ngx_booking_slot_floor(-61, 60), -61);
}


static void
test_slot_ceil(void **state)
{
    (void) state;

    assert_int_equal(ngx_booking_slot_ceil(0, 60), 0);
    assert_int_equal(ngx_booking_slot_ceil(1, 60), 60);
    assert_int_equal(ngx_booking_slot_ceil(59, 60), 60);
    assert_int_equal(ngx_booking_slot_ceil(60, 60), 60);
    assert_int_equal(ngx_booking_slot_ceil(61, 60), 120);
    assert_int_equal(ngx_booking_slot_ceil(1796115601, 3600), 1796119200);
    assert_int_equal(ngx_booking_slot_ceil(12345, 1), 12345);
    assert_int_equal(ngx_booking_slot_ceil(NGX_BOOKING_TIME_MAX, DAY),
                     NGX_BOOKING_TIME_MAX + 1);
    assert_int_equal(ngx_booking_slot_ceil(INT64_MAX - 1, 2), INT64_MAX - 1);

    /* the ceiling would not fit: saturate instead of wrapping */
    assert_int_equal(ngx_booking_slot_ceil(INT64_MAX, 2), INT64_MAX);
    assert_int_equal(ngx_booking_slot_ceil(INT64_MAX - 5, 1000), INT64_MAX);

    assert_int_equal(ngx_booking_slot_ceil(61, 0), 61);
    assert_int_equal(ngx_booking_slot_ceil(61, -60), 61);
    assert_int_equal(ngx_booking_slot_ceil(-61, 60), -61);
}


static void
test_slot_aligned(void **state)
{
    (void) state;

    assert_int_equal(ngx_booking_slot_aligned(0, 60), 1);
    assert_int_equal(ngx_booking_slot_aligned(60, 60), 1);
    assert_int_equal(ngx_booking_slot_aligned(120, 60), 1);
    assert_int_equal(ngx_booking_slot_aligned(1, 60), 0);
    assert_int_equal(ngx_booking_slot_aligned(59, 60), 0);
    assert_int_equal(ngx_booking_slot_aligned(121, 60), 0);
    assert_int_equal(ngx_booking_slot_aligned(7, 1), 1);
    assert_int_equal(ngx_booking_slot_aligned(1796119200, 3600), 1);
    assert_int_equal(ngx_booking_slot_aligned(1796119201, 3600), 0);
    assert_int_equal(ngx_booking_slot_aligned(-120, 60), 1);

    assert_int_equal(ngx_booking_slot_aligned(0, 0), 0);
    assert_int_equal(ngx_booking_slot_aligned(60, 0), 0);
    assert_int_equal(ngx_booking_slot_aligned(60, -60), 0);
}


/* JSON */


static void
json_check(const u_char *in, size_t n, const char *want)
{
    size_t   len, wlen;
    u_char   out[256], *end;

    wlen = strlen(want);
    assert_true(wlen < sizeof(out));

    len = ngx_booking_json_escape_len(in, n);
    assert_int_equal(len, wlen);

    memset(out, 'X', sizeof(out));
    end = ngx_booking_json_escape(out, in, n);
    assert_ptr_equal(end, out + wlen);

    if (memcmp(out, want, wlen) != 0) {
        fail_msg("got \"%.*s\", want \"%s\"", (int) wlen, out, want);
    }

    assert_int_equal(out[wlen], 'X');
}


#define JSON(in, want)  json_check(S(in), want)


static void
test_json_ascii(void **state)
{
    (void) state;

    JSON("", "");
    JSON("abc", "abc");
    JSON(" ~/<>'&", " ~/<>'&");
    JSON("\"", "\\\"");
    JSON("\\", "\\\\");
    JSON("a\"b\\c", "a\\\"b\\\\c");
    JSON("\b", "\\b");
    JSON("\f", "\\f");
    JSON("\n", "\\n");
    JSON("\r", "\\r");
    JSON("\t", "\\t");
    JSON("\0", "\\u0000");
    JSON("\x01", "\\u0001");
    JSON("\x0b", "\\u000b");
    JSON("\x1b", "\\u001b");
    JSON("\x1f", "\\u001f");
    JSON("\x7f", "\\u007f");
    JSON("a\0b", "a\\u0000b");
    JSON("line1\r\nline2\t.", "line1\\r\\nline2\\t.");
}


static void
test_json_ascii_all(void **state)
{
    int     c;
    u_char  in[1];
    char    want[8];

    (void) state;

    for (c = 0; c < 0x80; c++) {
        in[0] = (u_char) c;

        switch (c) {
        case '"':
            strcpy(want, "\\\"");
            break;
        case '\\':
            strcpy(want, "\\\\");
            break;
        case '\b':
            strcpy(want, "\\b");
            break;
        case '\f':
            strcpy(want, "\\f");
            break;
        case '\n':
            strcpy(want, "\\n");
            break;
        case '\r':
            strcpy(want, "\\r");
            break;
        case '\t':
            strcpy(want, "\\t");
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                snprintf(want, sizeof(want), "\\u%04x", c);
            } else {
                want[0] = (char) c;
                want[1] = '\0';
            }
        }

        json_check(in, 1, want);
    }
}


static void
test_json_utf8_valid(void **state)
{
    (void) state;

    JSON("\xc2\x80", "\xc2\x80");
    JSON("\xc3\xa9", "\xc3\xa9");
    JSON("\xdf\xbf", "\xdf\xbf");
    JSON("\xe0\xa0\x80", "\xe0\xa0\x80");
    JSON("\xe2\x82\xac", "\xe2\x82\xac");
    JSON("\xed\x9f\xbf", "\xed\x9f\xbf");
    JSON("\xee\x80\x80", "\xee\x80\x80");
    JSON("\xef\xbf\xbd", "\xef\xbf\xbd");
    JSON("\xef\xbf\xbf", "\xef\xbf\xbf");
    JSON("\xf0\x90\x80\x80", "\xf0\x90\x80\x80");
    JSON("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80");
    JSON("\xf3\xbf\xbf\xbf", "\xf3\xbf\xbf\xbf");
    JSON("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");
    JSON("caf\xc3\xa9 \"\xe2\x82\xac\"", "caf\xc3\xa9 \\\"\xe2\x82\xac\\\"");

    /* line and paragraph separators, and their neighbours */
    JSON("\xe2\x80\xa8", "\\u2028");
    JSON("\xe2\x80\xa9", "\\u2029");
    JSON("a\xe2\x80\xa8z", "a\\u2028z");
    JSON("\xe2\x80\xa7", "\xe2\x80\xa7");
    JSON("\xe2\x80\xaa", "\xe2\x80\xaa");
    JSON("\xe2\x81\xa8", "\xe2\x81\xa8");
    JSON("\xe3\x80\xa8", "\xe3\x80\xa8");
}


static void
test_json_utf8_invalid(void **state)
{
    (void) state;

    /* bytes that can never start a sequence: one replacement each */
    JSON("\x80", "\\ufffd");
    JSON("\xbf", "\\ufffd");
    JSON("\xc0", "\\ufffd");
    JSON("\xc1", "\\ufffd");
    JSON("\xf5", "\\ufffd");
    JSON("\xfe", "\\ufffd");
    JSON("\xff", "\\ufffd");
    JSON("\x80\x80", "\\ufffd\\ufffd");

    /* overlong forms */
    JSON("\xc0\x80", "\\ufffd\\ufffd");
    JSON("\xc1\xbf", "\\ufffd\\ufffd");
    JSON("\xe0\x80\x80", "\\ufffd\\ufffd\\ufffd");
    JSON("\xe0\x9f\xbf", "\\ufffd\\ufffd\\ufffd");
    JSON("\xf0\x80\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd");
    JSON("\xf0\x8f\xbf\xbf", "\\ufffd\\ufffd\\ufffd\\ufffd");

    /* surrogates and beyond U+10FFFF */
    JSON("\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd");
    JSON("\xed\xbf\xbf", "\\ufffd\\ufffd\\ufffd");
    JSON("\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd");
    JSON("\xf5\x80\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd");

    /* truncated sequences: one replacement for the valid prefix */
    JSON("\xc3", "\\ufffd");
    JSON("\xe2\x82", "\\ufffd");
    JSON("\xe2\x80", "\\ufffd");
    JSON("\xf0\x9f\x98", "\\ufffd");
    JSON("\xf0\x9f", "\\ufffd");
    JSON("\xf0", "\\ufffd");
    JSON("a\xc3", "a\\ufffd");

    /* interrupted sequences: the interrupting byte is examined afresh */
    JSON("\xc3" "A", "\\ufffdA");
    JSON("\xe2\x82" "A", "\\ufffdA");
    JSON("\xf0\x9f\x98" "A", "\\ufffdA");
    JSON("\xe2\x28\xa1", "\\ufffd(\\ufffd");
    JSON("\xc3\xc3\xa9", "\\ufffd\xc3\xa9");
    JSON("\xe2\x82\xe2\x82\xac", "\\ufffd\xe2\x82\xac");
    JSON("\xf0\x9f\x98\xf0\x9f\x98\x80", "\\ufffd\xf0\x9f\x98\x80");
    JSON("\xc3\n", "\\ufffd\\n");
    JSON("\xe2\x80\"", "\\ufffd\\\"");
    JSON("\xc3\x80\x80", "\xc3\x80\\ufffd");
}


static void
test_json_len(void **state)
{
    u_char  out[16], *end;

    static const u_char  in[] = { 'a', '"', 0xe2, 0x80, 0xa8 };

    (void) state;

    /* only n bytes are looked at */
    json_check(in, 0, "");
    json_check(in, 1, "a");
    json_check(in, 2, "a\\\"");
    json_check(in, 3, "a\\\"\\ufffd");
    json_check(in, 4, "a\\\"\\ufffd");
    json_check(in, 5, "a\\\"\\u2028");

    memset(out, 'X', sizeof(out));
    end = ngx_booking_json_escape(out, in, 0);
    assert_ptr_equal(end, out);
    assert_int_equal(out[0], 'X');

    /* a length that could wrap is refused without reading the input */
    assert_int_equal(ngx_booking_json_escape_len(in, SIZE_MAX), SIZE_MAX);
    assert_int_equal(ngx_booking_json_escape_len(in, SIZE_MAX / 6 + 1),
                     SIZE_MAX);
}


/*
 * An independent decoder: computes the code point arithmetically and
 * checks the shortest-form, surrogate and U+10FFFF rules.  Returns 1 if
 * s[0..n) is exactly one valid UTF-8 sequence.
 */

static int
oracle_one_char(const u_char *s, size_t n, uint32_t *cp)
{
    size_t    i, need;
    uint32_t  c, min;

    if (s[0] < 0x80) {
        need = 1;
        c = s[0];
        min = 0;

    } else if ((s[0] & 0xe0) == 0xc0) {
        need = 2;
        c = s[0] & 0x1f;
        min = 0x80;

    } else if ((s[0] & 0xf0) == 0xe0) {
        need = 3;
        c = s[0] & 0x0f;
        min = 0x800;

    } else if ((s[0] & 0xf8) == 0xf0) {
        need = 4;
        c = s[0] & 0x07;
        min = 0x10000;

    } else {
        return 0;
    }

    if (n != need) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }

        c = (c << 6) | (s[i] & 0x3f);
    }

    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
        return 0;
    }

    *cp = c;

    return 1;
}


static void
json_property(const u_char *in, size_t n)
{
    size_t    len, i;
    u_char    out[64], *end;
    uint32_t  cp;

    len = ngx_booking_json_escape_len(in, n);
    assert_true(len <= 6 * n);

    end = ngx_booking_json_escape(out, in, n);
    assert_int_equal(end - out, len);

    /* the output never carries a raw control byte */

    for (i = 0; i < len; i++) {
        if (out[i] < 0x20 || out[i] == 0x7f) {
            fail_msg("raw control byte 0x%02x in output", out[i]);
        }
    }

    /*
     * with a non-ASCII lead byte and these lengths, valid input can only
     * be a single character
     */

    if (in[0] < 0x80) {
        return;
    }

    if (oracle_one_char(in, n, &cp)) {

        if (cp == 0x2028 || cp == 0x2029) {
            assert_int_equal(len, 6);
            assert_memory_equal(out, cp == 0x2028 ? "\\u2028" : "\\u2029", 6);

        } else if (len != n || memcmp(out, in, n) != 0) {
            fail_msg("valid U+%04x not copied", (unsigned) cp);
        }

    } else if (len == n && memcmp(out, in, n) == 0) {
        fail_msg("invalid sequence starting %02x copied", in[0]);

    } else if (memcmp(out, "\\ufffd", 6) != 0) {
        fail_msg("invalid sequence starting %02x not replaced", in[0]);
    }
}


static void
test_json_exhaustive(void **state)
{
    unsigned  a, b, c, d;
    u_char    in[4];

    (void) state;

    /* every 1- and 2-byte input */

    for (a = 0; a < 256; a++) {
        in[0] = (u_char) a;
        json_property(in, 1);

        for (b = 0; b < 256; b++) {
            in[1] = (u_char) b;
            json_property(in, 2);
        }
    }

    /* every 3-byte input with a 3-byte lead */

    for (a = 0xe0; a <= 0xef; a++) {
        for (b = 0; b < 256; b++) {
            for (c = 0; c < 256; c++) {
                in[0] = (u_char) a;
                in[1] = (u_char) b;
                in[2] = (u_char) c;
                json_property(in, 3);
            }
        }
    }

    /* every 4-byte lead with every second byte and continuation tails */

    for (a = 0xf0; a <= 0xf7; a++) {
        for (b = 0; b < 256; b++) {
            for (c = 0x7f; c <= 0xc0; c++) {
                for (d = 0x7f; d <= 0xc0; d += 0x41 / 5) {
                    in[0] = (u_char) a;
                    in[1] = (u_char) b;
                    in[2] = (u_char) c;
                    in[3] = (u_char) d;
                    json_property(in, 4);
                }
            }
        }
    }
}


/* ids */


static void
test_id_valid(void **state)
{
    int     c;
    u_char  id[NGX_BOOKING_ID_MAX + 2];

    static const char  allowed[] = "abcdefghijklmnopqrstuvwxyz"
                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "0123456789_-";

    (void) state;

    assert_int_equal(ngx_booking_id_valid(S("a")), 1);
    assert_int_equal(ngx_booking_id_valid(S("room-12_B")), 1);
    assert_int_equal(ngx_booking_id_valid(S("-")), 1);
    assert_int_equal(ngx_booking_id_valid(S("_")), 1);
    assert_int_equal(ngx_booking_id_valid(S(allowed)), 1);

    assert_int_equal(ngx_booking_id_valid(S("")), 0);
    assert_int_equal(ngx_booking_id_valid(NULL, 0), 0);
    assert_int_equal(ngx_booking_id_valid(NULL, 3), 0);
    assert_int_equal(ngx_booking_id_valid(S("a b")), 0);
    assert_int_equal(ngx_booking_id_valid(S("a.b")), 0);
    assert_int_equal(ngx_booking_id_valid(S("a/b")), 0);
    assert_int_equal(ngx_booking_id_valid(S("../x")), 0);
    assert_int_equal(ngx_booking_id_valid(S("a\0")), 0);
    assert_int_equal(ngx_booking_id_valid(S("a:b")), 0);
    assert_int_equal(ngx_booking_id_valid(S("\xc3\xa9")), 0);

    memset(id, 'x', sizeof(id));
    assert_int_equal(ngx_booking_id_valid(id, NGX_BOOKING_ID_MAX), 1);
    assert_int_equal(ngx_booking_id_valid(id, NGX_BOOKING_ID_MAX + 1), 0);
    assert_int_equal(ngx_booking_id_valid(id, SIZE_MAX), 0);

    /* only len bytes count */
    id[5] = '/';
    assert_int_equal(ngx_booking_id_valid(id, 5), 1);
    assert_int_equal(ngx_booking_id_valid(id, 6), 0);

    /* every byte value, first and last position */

    for (c = 0; c < 256; c++) {
        memset(id, 'x', sizeof(id));
        id[0] = (u_char) c;
        assert_int_equal(ngx_booking_id_valid(id, 3),
                         c != 0 && strchr(allowed, c) != NULL);
        id[0] = 'x';
        id[2] = (u_char) c;
        assert_int_equal(ngx_booking_id_valid(id, 3),
                         c != 0 && strchr(allowed, c) != NULL);
        assert_int_equal(ngx_booking_id_valid(id, 1), 1);
    }
}


/* query arguments */


static int
qarg(const char *args, const char *name, size_t size, char *value)
{
    int     rc;
    u_char  buf[64];
    size_t  len;

    assert_true(size < sizeof(buf));
    memset(buf, 'X', sizeof(buf));
    len = 12345;

    rc = ngx_booking_query_arg((const u_char *) args, strlen(args), name,
                               buf, size, &len);

    if (rc == 1) {
        assert_true(len <= size);
        memcpy(value, buf, len);
        value[len] = '\0';

    } else {
        /* out_len is only set when the argument was found */
        assert_int_equal(len, 12345);
        value[0] = '\0';
    }

    /* nothing is written beyond size */
    assert_int_equal(buf[size], 'X');

    return rc;
}


static void
test_query_basic(void **state)
{
    char  v[64];

    (void) state;

    assert_int_equal(qarg("a=1&b=x%20y", "a", 32, v), 1);
    assert_string_equal(v, "1");
    assert_int_equal(qarg("a=1&b=x%20y", "b", 32, v), 1);
    assert_string_equal(v, "x y");
    assert_int_equal(qarg("a=1&b=x%20y", "c", 32, v), 0);
    assert_int_equal(qarg("from=2026-12-01T10:00:00Z&to=2026-12-02", "to",
                          32, v), 1);
    assert_string_equal(v, "2026-12-02");
    assert_int_equal(qarg("a=b=c", "a", 32, v), 1);
    assert_string_equal(v, "b=c");
    assert_int_equal(qarg("a=", "a", 32, v), 1);
    assert_string_equal(v, "");
    assert_int_equal(qarg("a", "a", 32, v), 1);
    assert_string_equal(v, "");
    assert_int_equal(qarg("a&b=2", "a", 32, v), 1);
    assert_string_equal(v, "");
    assert_int_equal(qarg("b=2&a", "a", 32, v), 1);
    assert_string_equal(v, "");
    assert_int_equal(qarg("a&b=2", "b", 32, v), 1);
    assert_string_equal(v, "2");
}


static void
test_query_decode(void **state)
{
    char  v[64];

    (void) state;

    assert_int_equal(qarg("q=a+b", "q", 32, v), 1);
    assert_string_equal(v, "a b");
    assert_int_equal(qarg("q=%2B", "q", 32, v), 1);
    assert_string_equal(v, "+");
    assert_int_equal(qarg("q=%2b%2F%2f", "q", 32, v), 1);
    assert_string_equal(v, "+//");
    assert_int_equal(qarg("q=%41%42c", "q", 32, v), 1);
    assert_string_equal(v, "ABc");
    assert_int_equal(qarg("q=%e2%82%AC", "q", 32, v), 1);
    assert_string_equal(v, "\xe2\x82\xac");
    assert_int_equal(qarg("q=%ff", "q", 32, v), 1);
    assert_string_equal(v, "\xff");
    assert_int_equal(qarg("q=%25", "q", 32, v), 1);
    assert_string_equal(v, "%");
    assert_int_equal(qarg("q=%26%3D", "q", 32, v), 1);
    assert_string_equal(v, "&=");
    assert_int_equal(qarg("q=%01", "q", 32, v), 1);
    assert_string_equal(v, "\x01");
    assert_int_equal(qarg("q=++", "q", 32, v), 1);
    assert_string_equal(v, "  ");

    assert_int_equal(qarg("q=%", "q", 32, v), -1);
    assert_int_equal(qarg("q=%2", "q", 32, v), -1);
    assert_int_equal(qarg("q=%2&x=1", "q", 32, v), -1);
    assert_int_equal(qarg("q=abc%", "q", 32, v), -1);
    assert_int_equal(qarg("q=%zz", "q", 32, v), -1);
    assert_int_equal(qarg("q=%2g", "q", 32, v), -1);
    assert_int_equal(qarg("q=%g2", "q", 32, v), -1);
    assert_int_equal(qarg("q=%G0", "q", 32, v), -1);
    assert_int_equal(qarg("q=%@0", "q", 32, v), -1);
    assert_int_equal(qarg("q=%`0", "q", 32, v), -1);
    assert_int_equal(qarg("q=%:0", "q", 32, v), -1);
    assert_int_equal(qarg("q=%/0", "q", 32, v), -1);
    assert_int_equal(qarg("q=% 1", "q", 32, v), -1);
    assert_int_equal(qarg("q=%+1", "q", 32, v), -1);
    assert_int_equal(qarg("q=%00", "q", 32, v), -1);
    assert_int_equal(qarg("q=a%00b", "q", 32, v), -1);
}


static void
test_query_hex_all(void **state)
{
    int     c, expect;
    char    args[8];
    u_char  buf[4];
    size_t  len;

    (void) state;

    /* every byte as the first hex digit of "%X0" */

    for (c = 1; c < 256; c++) {
        args[0] = 'q';
        args[1] = '=';
        args[2] = '%';
        args[3] = (char) c;
        args[4] = '1';

        expect = (c >= '0' && c <= '9')
                 || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');

        len = 0;
        assert_int_equal(ngx_booking_query_arg((u_char *) args, 5, "q",
                                               buf, sizeof(buf), &len),
                         expect ? 1 : -1);

        if (expect) {
            assert_int_equal(len, 1);
            assert_int_equal(buf[0],
                             (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10) * 16
                             + 1);
        }
    }
}


static void
test_query_pairs(void **state)
{
    char  v[64];

    (void) state;

    assert_int_equal(qarg("a=1&&b=2", "b", 32, v), 1);
    assert_string_equal(v, "2");
    assert_int_equal(qarg("&a=1", "a", 32, v), 1);
    assert_string_equal(v, "1");
    assert_int_equal(qarg("a=1&", "a", 32, v), 1);
    assert_string_equal(v, "1");
    assert_int_equal(qarg("&&&a=1&&&", "a", 32, v), 1);
    assert_string_equal(v, "1");
    assert_int_equal(qarg("&&&", "a", 32, v), 0);
    assert_int_equal(qarg("&", "a", 32, v), 0);
    assert_int_equal(qarg("=", "a", 32, v), 0);
    assert_int_equal(qarg("=&a=1", "a", 32, v), 1);
    assert_string_equal(v, "1");

    /* keys are compared raw and exactly */
    assert_int_equal(qarg("A=1", "a", 32, v), 0);
    assert_int_equal(qarg("ab=1", "a", 32, v), 0);
    assert_int_equal(qarg("a=1", "ab", 32, v), 0);
    assert_int_equal(qarg("aa=1&a=2", "a", 32, v), 1);
    assert_string_equal(v, "2");
    assert_int_equal(qarg("a%62=1", "ab", 32, v), 0);
    assert_int_equal(qarg("a%62=1", "a%62", 32, v), 1);
    assert_string_equal(v, "1");
    assert_int_equal(qarg("a+b=1", "a b", 32, v), 0);
    assert_int_equal(qarg(" a=1", "a", 32, v), 0);

    /* an empty name matches an empty key, nothing else */
    assert_int_equal(qarg("=x&a=1", "", 32, v), 1);
    assert_string_equal(v, "x");
    assert_int_equal(qarg("a=1", "", 32, v), 0);
    assert_int_equal(qarg("a=1&&", "", 32, v), 0);
    assert_int_equal(qarg("&a=1&&=y&", "", 32, v), 1);
    assert_string_equal(v, "y");

    /* only the requested value is validated */
    assert_int_equal(qarg("b=%zz&a=1", "a", 32, v), 1);
    assert_string_equal(v, "1");
    assert_int_equal(qarg("b=%00&a=1&c=%", "a", 32, v), 1);
    assert_string_equal(v, "1");
    assert_int_equal(qarg("b=%zz&a=1", "b", 32, v), -1);
}


static void
test_query_duplicates(void **state)
{
    char  v[64];

    (void) state;

    assert_int_equal(qarg("a=1&a=2", "a", 32, v), -1);
    assert_int_equal(qarg("a=1&a=1", "a", 32, v), -1);
    assert_int_equal(qarg("a&a", "a", 32, v), -1);
    assert_int_equal(qarg("a=1&a", "a", 32, v), -1);
    assert_int_equal(qarg("a&a=1", "a", 32, v), -1);
    assert_int_equal(qarg("a=1&b=2&a=3", "a", 32, v), -1);
    assert_int_equal(qarg("a=%zz&a=1", "a", 32, v), -1);
    assert_int_equal(qarg("a=1&a=%zz", "a", 32, v), -1);
    assert_int_equal(qarg("a=1&b=2&b=3", "a", 32, v), 1);
    assert_string_equal(v, "1");
}


static void
test_query_size(void **state)
{
    int     rc;
    char    v[64];
    u_char  buf[4];
    size_t  len;

    (void) state;

    assert_int_equal(qarg("a=abc", "a", 3, v), 1);
    assert_string_equal(v, "abc");
    assert_int_equal(qarg("a=abc", "a", 2, v), -1);
    assert_int_equal(qarg("a=abc", "a", 0, v), -1);
    assert_int_equal(qarg("a=%41%42%43", "a", 3, v), 1);
    assert_string_equal(v, "ABC");
    assert_int_equal(qarg("a=%41%42%43%44", "a", 3, v), -1);
    assert_int_equal(qarg("a=+++", "a", 3, v), 1);
    assert_int_equal(qarg("a=++++", "a", 3, v), -1);
    assert_int_equal(qarg("a=", "a", 0, v), 1);
    assert_string_equal(v, "");
    assert_int_equal(qarg("a", "a", 0, v), 1);

    /* an empty value needs no buffer at all */
    len = 7;
    rc = ngx_booking_query_arg(S("a=&b=1"), "a", NULL, 0, &len);
    assert_int_equal(rc, 1);
    assert_int_equal(len, 0);

    len = 7;
    rc = ngx_booking_query_arg(S("a=&b=1"), "b", buf, sizeof(buf), &len);
    assert_int_equal(rc, 1);
    assert_int_equal(len, 1);
    assert_int_equal(buf[0], '1');
}


static void
test_query_len(void **state)
{
    int     rc;
    u_char  buf[16];
    size_t  len;

    static const u_char  args[] = { 'a', '=', '1', '&', 'b', '=', '2', '2',
                                    '&', 'c', '=', '%', '4', '1' };

    (void) state;

    len = 99;
    assert_int_equal(ngx_booking_query_arg(args, 3, "b", buf, 16, &len), 0);
    assert_int_equal(len, 99);

    assert_int_equal(ngx_booking_query_arg(args, 7, "b", buf, 16, &len), 1);
    assert_int_equal(len, 1);
    assert_int_equal(buf[0], '2');

    assert_int_equal(ngx_booking_query_arg(args, 4, "b", buf, 16, &len), 0);
    assert_int_equal(ngx_booking_query_arg(args, 5, "b", buf, 16, &len), 1);
    assert_int_equal(len, 0);

    assert_int_equal(ngx_booking_query_arg(args, 13, "c", buf, 16, &len), -1);
    assert_int_equal(ngx_booking_query_arg(args, 12, "c", buf, 16, &len), -1);
    assert_int_equal(ngx_booking_query_arg(args, 14, "c", buf, 16, &len), 1);
    assert_int_equal(len, 1);
    assert_int_equal(buf[0], 'A');

    /* a raw NUL in the value is refused like a decoded one */
    rc = ngx_booking_query_arg(S("a=x\0y"), "a", buf, 16, &len);
    assert_int_equal(rc, -1);

    /* a NUL in a key cannot match a C string name */
    len = 99;
    rc = ngx_booking_query_arg(S("a\0=1"), "a", buf, 16, &len);
    assert_int_equal(rc, 0);
    assert_int_equal(len, 99);

    assert_int_equal(ngx_booking_query_arg(NULL, 0, "a", buf, 16, &len), 0);
    assert_int_equal(ngx_booking_query_arg(NULL, 5, "a", buf, 16, &len), 0);
    assert_int_equal(ngx_booking_query_arg(args, 0, "a", buf, 16, &len), 0);
    assert_int_equal(ngx_booking_query_arg(args, 3, NULL, buf, 16, &len), 0);
    assert_int_equal(len, 99);
}


/* runs */


static void
put_be32(u_char *p, uint32_t v)
{
    p[0] = (u_char) (v >> 24);
    p[1] = (u_char) (v >> 16);
    p[2] = (u_char) (v >> 8);
    p[3] = (u_char) v;
}


static void
assert_run(const ngx_booking_run_t *r, int64_t start, int64_t end,
    int64_t units)
{
    if (r->start != start || r->end != end || r->units != units) {
        fail_msg("run {%lld, %lld, %lld}, want {%lld, %lld, %lld}",
                 (long long) r->start, (long long) r->end,
                 (long long) r->units, (long long) start, (long long) end,
                 (long long) units);
    }
}


static size_t
runs_of(const uint32_t *used, size_t n, int64_t start, int64_t slot,
    int64_t capacity, ngx_booking_run_t *runs)
{
    size_t  i, nruns;
    u_char  counters[4 * 16];

    assert_true(n <= 16);

    for (i = 0; i < n; i++) {
        put_be32(counters + 4 * i, used[i]);
    }

    memset(runs, 0x5a, (n + 1) * sizeof(ngx_booking_run_t));

    nruns = ngx_booking_runs(counters, n, start, slot, capacity, runs);

    assert_true(nruns <= n);

    /* nothing is written past the runs returned */
    for (i = nruns * sizeof(ngx_booking_run_t);
         i < (n + 1) * sizeof(ngx_booking_run_t);
         i++)
    {
        assert_int_equal(((u_char *) runs)[i], 0x5a);
    }

    return nruns;
}


static void
test_runs_basic(void **state)
{
    ngx_booking_run_t  r[17];

    static const uint32_t  one[] = { 2 };
    static const uint32_t  same[] = { 1, 1, 1, 1 };
    static const uint32_t  mixed[] = { 0, 0, 3, 3, 3, 0, 5 };
    static const uint32_t  alt[] = { 0, 1, 0, 1 };

    (void) state;

    assert_int_equal(runs_of(one, 0, 1000, 60, 5, r), 0);
    assert_int_equal(ngx_booking_runs(NULL, 0, 0, 60, 5, NULL), 0);

    assert_int_equal(runs_of(one, 1, 1000, 60, 5, r), 1);
    assert_run(&r[0], 1000, 1060, 3);

    assert_int_equal(runs_of(same, 4, 3600, 900, 3, r), 1);
    assert_run(&r[0], 3600, 7200, 2);

    assert_int_equal(runs_of(mixed, 7, 0, 10, 5, r), 4);
    assert_run(&r[0], 0, 20, 5);
    assert_run(&r[1], 20, 50, 2);
    assert_run(&r[2], 50, 60, 5);
    assert_run(&r[3], 60, 70, 0);

    assert_int_equal(runs_of(alt, 4, 100, 1, 1, r), 4);
    assert_run(&r[0], 100, 101, 1);
    assert_run(&r[1], 101, 102, 0);
    assert_run(&r[2], 102, 103, 1);
    assert_run(&r[3], 103, 104, 0);
}


static void
test_runs_clamp(void **state)
{
    ngx_booking_run_t  r[17];

    static const uint32_t  over[] = { 7, 9, 5, 4, 0xffffffff };
    static const uint32_t  zero[] = { 0, 3 };

    (void) state;

    /* usage above capacity is no availability, and such slots merge */
    assert_int_equal(runs_of(over, 5, 0, 60, 5, r), 3);
    assert_run(&r[0], 0, 180, 0);
    assert_run(&r[1], 180, 240, 1);
    assert_run(&r[2], 240, 300, 0);

    assert_int_equal(runs_of(zero, 2, 0, 60, 0, r), 1);
    assert_run(&r[0], 0, 120, 0);

    assert_int_equal(runs_of(zero, 2, 0, 60, -1, r), 1);
    assert_run(&r[0], 0, 120, 0);

    assert_int_equal(runs_of(zero, 2, 0, 60, INT64_MIN, r), 1);
    assert_run(&r[0], 0, 120, 0);

    assert_int_equal(runs_of(over, 5, 0, 60, INT64_MAX, r), 5);
    assert_run(&r[0], 0, 60, INT64_MAX - 7);
    assert_run(&r[4], 240, 300, INT64_MAX - 0xffffffffLL);
}


static void
test_runs_big_endian(void **state)
{
    size_t             n;
    ngx_booking_run_t  r[2];

    static const u_char  counters[] = { 0x01, 0x02, 0x03, 0x04,
                                        0xff, 0x00, 0x00, 0x01 };

    (void) state;

    n = ngx_booking_runs(counters, 2, 0, 60, 0x0102030aLL, r);
    assert_int_equal(n, 2);
    assert_run(&r[0], 0, 60, 6);
    assert_run(&r[1], 60, 120, 0);

    n = ngx_booking_runs(counters, 2, 0, 60, 0xff000002LL, r);
    assert_int_equal(n, 2);
    assert_run(&r[0], 0, 60, 0xff000002LL - 0x01020304LL);
    assert_run(&r[1], 60, 120, 1);
}


/* the runs written as JSON items are exactly want */
static void
runs_json_is(const ngx_booking_run_t *r, size_t n, int date,
    const char *want)
{
    u_char  buf[4 * NGX_BOOKING_RUN_JSON_LEN + 1], *end;

    assert_true(n <= 4);

    end = ngx_booking_runs_json(buf, r, n, date);
    assert_true((size_t) (end - buf) <= n * NGX_BOOKING_RUN_JSON_LEN);

    *end = '\0';
    assert_string_equal(buf, want);
}


static void
test_runs_json(void **state)
{
    ngx_booking_run_t  r[4];

    (void) state;

    memset(r, 0, sizeof(r));
    runs_json_is(r, 0, 0, "");

    r[0].start = 1796256000; r[0].end = 1796292000; r[0].units = 1;
    r[1].start = 1796292000; r[1].end = 1796338800; r[1].units = 0;
    r[2].start = 1796338800; r[2].end = 1796349601; r[2].units = 7;

    runs_json_is(r, 3, 0,
        "{\"start\":\"2026-12-03T00:00:00Z\",\"end\":\"2026-12-03T10:00:00Z\","
        "\"units\":1},"
        "{\"start\":\"2026-12-03T10:00:00Z\",\"end\":\"2026-12-03T23:00:00Z\","
        "\"units\":0},"
        "{\"start\":\"2026-12-03T23:00:00Z\",\"end\":\"2026-12-04T02:00:01Z\","
        "\"units\":7}");

    /* whole days as dates; a gap between runs is written as it is */
    r[0].start = 1796256000; r[0].end = 1796342400; r[0].units = 12;
    r[1].start = 1796428800; r[1].end = 1796515200; r[1].units = 1000000;

    runs_json_is(r, 2, 1,
        "{\"start\":\"2026-12-03\",\"end\":\"2026-12-04\",\"units\":12},"
        "{\"start\":\"2026-12-05\",\"end\":\"2026-12-06\","
        "\"units\":1000000}");

    /* the widest items fit the room announced for them */
    r[0].start = 0; r[0].end = NGX_BOOKING_TIME_MAX; r[0].units = INT64_MIN;
    r[1] = r[0];
    r[1].start = NGX_BOOKING_TIME_MAX;

    runs_json_is(r, 2, 0,
        "{\"start\":\"1970-01-01T00:00:00Z\",\"end\":\"9999-12-31T23:59:59Z\","
        "\"units\":-9223372036854775808},"
        "{\"start\":\"9999-12-31T23:59:59Z\",\"end\":\"9999-12-31T23:59:59Z\","
        "\"units\":-9223372036854775808}");
}


static void
test_runs_saturate(void **state)
{
    ngx_booking_run_t  r[17];

    static const uint32_t  used[] = { 0, 1, 2 };

    (void) state;

    assert_int_equal(runs_of(used, 3, INT64_MAX - 15, 10, 5, r), 3);
    assert_run(&r[0], INT64_MAX - 15, INT64_MAX - 5, 5);
    assert_run(&r[1], INT64_MAX - 5, INT64_MAX, 4);
    assert_run(&r[2], INT64_MAX, INT64_MAX, 3);

    /* a negative slot is nonsense, but must not overflow either */
    assert_int_equal(runs_of(used, 3, INT64_MIN + 15, -10, 5, r), 3);
    assert_run(&r[0], INT64_MIN + 15, INT64_MIN + 5, 5);
    assert_run(&r[1], INT64_MIN + 5, INT64_MIN, 4);
    assert_run(&r[2], INT64_MIN, INT64_MIN, 3);
}


static void
test_runs_random(void **state)
{
    size_t             n, nruns, i, j, slot_i;
    int64_t            start, slot, cap, free_units;
    uint32_t           used[16], seed;
    ngx_booking_run_t  r[17];

    (void) state;

    seed = 12345;

    for (i = 0; i < 20000; i++) {
        seed = seed * 1103515245 + 12345;
        n = (seed >> 16) % 17;
        start = (int64_t) (seed % 100000) * 60;
        slot = 60 * (1 + (seed >> 8) % 4);
        cap = (seed >> 4) % 5;

        for (j = 0; j < n; j++) {
            seed = seed * 1103515245 + 12345;
            used[j] = (seed >> 16) % 7;
        }

        nruns = runs_of(used, n, start, slot, cap, r);

        if (n == 0) {
            assert_int_equal(nruns, 0);
            continue;
        }

        assert_true(nruns >= 1);
        assert_int_equal(r[0].start, start);
        assert_int_equal(r[nruns - 1].end, start + (int64_t) n * slot);

        for (j = 0; j < nruns; j++) {
            assert_true(r[j].start < r[j].end);
            assert_int_equal((r[j].end - r[j].start) % slot, 0);

            if (j > 0) {
                /* consecutive and maximal */
                assert_int_equal(r[j].start, r[j - 1].end);
                assert_true(r[j].units != r[j - 1].units);
            }

            for (slot_i = (size_t) ((r[j].start - start) / slot);
                 slot_i < (size_t) ((r[j].end - start) / slot);
                 slot_i++)
            {
                free_units = cap - (int64_t) used[slot_i];
                if (free_units < 0) {
                    free_units = 0;
                }

                assert_int_equal(r[j].units, free_units);
            }
        }
    }
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_duration_units),
        cmocka_unit_test(test_duration_groups),
        cmocka_unit_test(test_duration_limits),
        cmocka_unit_test(test_duration_syntax),
        cmocka_unit_test(test_duration_len),
        cmocka_unit_test(test_instant_date),
        cmocka_unit_test(test_instant_calendar),
        cmocka_unit_test(test_instant_datetime),
        cmocka_unit_test(test_instant_fraction),
        cmocka_unit_test(test_instant_offset),
        cmocka_unit_test(test_instant_len),
        cmocka_unit_test(test_format_fixed),
        cmocka_unit_test(test_format_clamp),
        cmocka_unit_test(test_format_oracle),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_slot_floor),
        cmocka_unit_test(test_slot_ceil),
        cmocka_unit_test(test_slot_aligned),
        cmocka_unit_test(test_json_ascii),
        cmocka_unit_test(test_json_ascii_all),
        cmocka_unit_test(test_json_utf8_valid),
        cmocka_unit_test(test_json_utf8_invalid),
        cmocka_unit_test(test_json_len),
        cmocka_unit_test(test_json_exhaustive),
        cmocka_unit_test(test_id_valid),
        cmocka_unit_test(test_query_basic),
        cmocka_unit_test(test_query_decode),
        cmocka_unit_test(test_query_hex_all),
        cmocka_unit_test(test_query_pairs),
        cmocka_unit_test(test_query_duplicates),
        cmocka_unit_test(test_query_size),
        cmocka_unit_test(test_query_len),
        cmocka_unit_test(test_runs_basic),
        cmocka_unit_test(test_runs_clamp),
        cmocka_unit_test(test_runs_big_endian),
        cmocka_unit_test(test_runs_saturate),
        cmocka_unit_test(test_runs_json),
        cmocka_unit_test(test_runs_random),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

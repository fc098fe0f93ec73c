
/*
 * Durations, RFC 3339 instants and slot arithmetic.
 *
 * Calendar conversions use Howard Hinnant's days-from-civil algorithms in
 * plain integer arithmetic: no mktime()/timegm(), so neither the locale nor
 * TZ of the worker process can change what a booking means.
 */


#include <stdint.h>

#include "ngx_booking_core.h"


static int ngx_booking_digits(const u_char *p, size_t n, int *value);
static int ngx_booking_days_in_month(int year, int month);
static u_char *ngx_booking_put_digits(u_char *p, int value, int n);
static int64_t ngx_booking_clamp_time(int64_t t);


/* decreasing, so that scanning forward enforces "once each, largest first" */
static const u_char   ngx_booking_units[] = "yMwdhms";
static const int64_t  ngx_booking_unit_secs[] = {
    365 * NGX_BOOKING_DAY, 30 * NGX_BOOKING_DAY, 7 * NGX_BOOKING_DAY,
    NGX_BOOKING_DAY, 3600, 60, 1
};

/* the terminating NUL is not a unit */
#define NGX_BOOKING_NUNITS  (sizeof(ngx_booking_units) - 1)


int
ngx_booking_parse_duration(const u_char *p, size_t len, int64_t *secs)
{
    int64_t  value, total, d;
    size_t   i, u, next, groups;

    if (p == NULL || len == 0) {
        return NGX_BOOKING_ERROR;
    }

    total = 0;
    next = 0;
    groups = 0;
    i = 0;

    while (i < len) {

        if (p[i] < '0' || p[i] > '9') {
            return NGX_BOOKING_ERROR;
        }

        value = 0;

        while (i < len && p[i] >= '0' && p[i] <= '9') {
            d = p[i] - '0';

            if (value > (NGX_BOOKING_TIME_MAX - d) / 10) {
                return NGX_BOOKING_ERROR;
            }

            value = value * 10 + d;
            i++;
        }

        if (i == len) {
            /*
             * a bare number means seconds only on its own: "1h30" is more
             * likely a typo for "1h30m" than a wish for 3630 seconds
             */

            if (groups != 0) {
                return NGX_BOOKING_ERROR;
            }

            total = value;
            break;
        }

        /* searching from "next" rejects repeated and out-of-order units */

        for (u = next; u < NGX_BOOKING_NUNITS; u++) {
            if (p[i] == ngx_booking_units[u]) {
                break;
            }
        }

        if (u == NGX_BOOKING_NUNITS) {
            return NGX_BOOKING_ERROR;
        }

        if (value > (NGX_BOOKING_TIME_MAX - total) / ngx_booking_unit_secs[u])
        {
            return NGX_BOOKING_ERROR;
        }

        total += value * ngx_booking_unit_secs[u];
        next = u + 1;
        groups++;
        i++;
    }

    *secs = total;

    return NGX_BOOKING_OK;
}


int
ngx_booking_parse_instant(const u_char *p, size_t len,
    ngx_booking_instant_t *in)
{
    int       year, month, day, hour, min, sec, oh, om;
    size_t    i, nfrac;
    int64_t   t, offset;
    unsigned  fraction;

    if (p == NULL || len < NGX_BOOKING_DATE_LEN) {
        return NGX_BOOKING_ERROR;
    }

    if (ngx_booking_digits(p, 4, &year) != NGX_BOOKING_OK
        || p[4] != '-'
        || ngx_booking_digits(p + 5, 2, &month) != NGX_BOOKING_OK
        || p[7] != '-'
        || ngx_booking_digits(p + 8, 2, &day) != NGX_BOOKING_OK)
    {
        return NGX_BOOKING_ERROR;
    }

    if (year < 1
        || month < 1 || month > 12
        || day < 1 || day > ngx_booking_days_in_month(year, month))
    {
        return NGX_BOOKING_ERROR;
    }

    t = ngx_booking_days_from_civil(year, month, day) * NGX_BOOKING_DAY;

    if (len == NGX_BOOKING_DATE_LEN) {

        if (t < 0) {
            return NGX_BOOKING_ERROR;
        }

        in->t = t;
        in->date_only = 1;
        in->fraction = 0;

        return NGX_BOOKING_OK;
    }

    /* the shortest date-time is "YYYY-MM-DDTHH:MM:SSZ" */

    if (len < NGX_BOOKING_INSTANT_LEN) {
        return NGX_BOOKING_ERROR;
    }

    if ((p[10] != 'T' && p[10] != 't')
        || ngx_booking_digits(p + 11, 2, &hour) != NGX_BOOKING_OK
        || p[13] != ':'
        || ngx_booking_digits(p + 14, 2, &min) != NGX_BOOKING_OK
        || p[16] != ':'
        || ngx_booking_digits(p + 17, 2, &sec) != NGX_BOOKING_OK)
    {
        return NGX_BOOKING_ERROR;
    }

    /* a leap second cannot be booked: POSIX time has no name for it */

    if (hour > 23 || min > 59 || sec > 59) {
        return NGX_BOOKING_ERROR;
    }

    i = 19;
    fraction = 0;

    if (p[i] == '.') {
        i++;
        nfrac = 0;

        while (i < len && p[i] >= '0' && p[i] <= '9') {
            if (p[i] != '0') {
                fraction = 1;
            }

            nfrac++;
            i++;
        }

        if (nfrac == 0 || nfrac > 9) {
            return NGX_BOOKING_ERROR;
        }

        if (i == len) {
            return NGX_BOOKING_ERROR;
        }
    }

    if (p[i] == 'Z' || p[i] == 'z') {
        offset = 0;
        i++;

    } else if (p[i] == '+' || p[i] == '-') {

        if (len - i < sizeof("+HH:MM") - 1
            || ngx_booking_digits(p + i + 1, 2, &oh) != NGX_BOOKING_OK
            || p[i + 3] != ':'
            || ngx_booking_digits(p + i + 4, 2, &om) != NGX_BOOKING_OK
            || oh > 23
            || om > 59)
        {
            return NGX_BOOKING_ERROR;
        }

        offset = (int64_t) oh * 3600 + om * 60;

        if (p[i] == '-') {
            offset = -offset;
        }

        i += sizeof("+HH:MM") - 1;

    } else {
        return NGX_BOOKING_ERROR;
    }

    if (i != len) {
        return NGX_BOOKING_ERROR;
    }

    /* local time minus its offset is UTC */

    t += (int64_t) hour * 3600 + min * 60 + sec - offset;

    if (t < 0 || t > NGX_BOOKING_TIME_MAX) {
        return NGX_BOOKING_ERROR;
    }

    in->t = t;
    in->date_only = 0;
    in->fraction = fraction;

    return NGX_BOOKING_OK;
}


u_char *
ngx_booking_format_instant(u_char *buf, int64_t t)
{
    return ngx_booking_format_clock(ngx_booking_format_date(buf, t), t);
}


u_char *
ngx_booking_format_clock(u_char *buf, int64_t t)
{
    int      secs;
    u_char  *p;

    secs = (int) (ngx_booking_clamp_time(t) % NGX_BOOKING_DAY);

    p = buf;
    *p++ = 'T';
    p = ngx_booking_put_digits(p, secs / 3600, 2);
    *p++ = ':';
    p = ngx_booking_put_digits(p, secs / 60 % 60, 2);
    *p++ = ':';
    p = ngx_booking_put_digits(p, secs % 60, 2);
    *p++ = 'Z';

    return p;
}


u_char *
ngx_booking_format_date(u_char *buf, int64_t t)
{
    int      year, month, day;
    u_char  *p;

    t = ngx_booking_clamp_time(t);

    ngx_booking_civil_from_days(t / NGX_BOOKING_DAY, &year, &month, &day);

    p = ngx_booking_put_digits(buf, year, 4);
    *p++ = '-';
    p = ngx_booking_put_digits(p, month, 2);
    *p++ = '-';
    p = ngx_booking_put_digits(p, day, 2);

    return p;
}


int64_t
ngx_booking_slot_floor(int64_t t, int64_t slot)
{
    /*
     * outside the documented domain there is no sensible answer, but
     * returning t keeps a bad slot from ever dividing by zero
     */

    if (t < 0 || slot <= 0) {
        return t;
    }

    return t - t % slot;
}


int64_t
ngx_booking_slot_ceil(int64_t t, int64_t slot)
{
    int64_t  r;

    if (t < 0 || slot <= 0) {
        return t;
    }

    r = t % slot;

    if (r == 0) {
        return t;
    }

    /*
     * saturate rather than wrap: INT64_MAX is far beyond
     * NGX_BOOKING_TIME_MAX, so any range check downstream rejects it
     */

    if (t > INT64_MAX - (slot - r)) {
        return INT64_MAX;
    }

    return t + (slot - r);
}


int
ngx_booking_slot_aligned(int64_t t, int64_t slot)
{
    if (slot <= 0) {
        return 0;
    }

    return t % slot == 0;
}


static int
ngx_booking_digits(const u_char *p, size_t n, int *value)
{
    int     v;
    size_t  i;

    v = 0;

    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return NGX_BOOKING_ERROR;
        }

        v = v * 10 + (p[i] - '0');
    }

    *value = v;

    return NGX_BOOKING_OK;
}


static int
ngx_booking_days_in_month(int year, int month)
{
    static const int  days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
                                 31 };

    if (month == 2
        && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
    {
        return 29;
    }

    return days[month - 1];
}


/*
 * Days since 1970-01-01 of a valid proleptic Gregorian date with year >= 1.
 * The year is shifted to start in March so that the leap day is the last
 * day of the year; year >= 1 keeps the shifted year non-negative, so the
 * plain division below is a floor division.
 */

int64_t
ngx_booking_days_from_civil(int year, int month, int day)
{
    int64_t  y, era, yoe, doy, doe;

    y = year - (month <= 2);
    era = y / 400;
    yoe = y - era * 400;
    doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}


/* the inverse of the above for z >= 0 (1970-01-01 onwards) */

void
ngx_booking_civil_from_days(int64_t z, int *year, int *month, int *day)
{
    int64_t  era, doe, yoe, doy, mp, y, m;

    z += 719468;
    era = z / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    m = mp < 10 ? mp + 3 : mp - 9;
    y = yoe + era * 400 + (m <= 2);

    *year = (int) y;
    *month = (int) m;
    *day = (int) (doy - (153 * mp + 2) / 5 + 1);
}


static u_char *
ngx_booking_put_digits(u_char *p, int value, int n)
{
    int  i;

    for (i = n - 1; i >= 0; i--) {
        p[i] = (u_char) ('0' + value % 10);
        value /= 10;
    }

    return p + n;
}


/*
 * The formatters must always write their fixed number of bytes, so an
 * out-of-range t is clamped rather than allowed to produce a 5-digit or
 * negative year.
 */

static int64_t
ngx_booking_clamp_time(int64_t t)
{
    if (t < 0) {
        return 0;
    }

    if (t > NGX_BOOKING_TIME_MAX) {
        return NGX_BOOKING_TIME_MAX;
    }

    return t;
}


int
ngx_booking_day_slot(int64_t slot)
{
    return slot > 0 && slot % NGX_BOOKING_DAY == 0;
}

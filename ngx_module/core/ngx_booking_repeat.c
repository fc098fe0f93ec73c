/*
 * Recurring bookings: the occurrences of a range on the wall clock of a
 * zone (SPEC §6).  Each occurrence is the first's local start and end
 * moved by whole days, weeks or months, then made instants again through
 * the zone, so that daylight-saving changes move the instant, not the
 * hour.  A local time that a change skips (02:30 on a spring night in
 * Paris) becomes the first instant after the gap, as in quotas' periods.
 */

#include <string.h>

#include "ngx_booking_tz.h"


static int64_t ngx_booking_repeat_floor(int64_t a, int64_t b);
static int ngx_booking_repeat_day(int64_t day, int freq, int64_t k,
    int64_t *out);


static int64_t
ngx_booking_repeat_floor(int64_t a, int64_t b)
{
    return (a >= 0) ? a / b : -((-a + b - 1) / b);
}


/*
 * The local day of the k-th step from day, or NGX_BOOKING_DECLINED when
 * that month has no such day (the 31st of April, the 29th of February of
 * a common year).
 */
static int
ngx_booking_repeat_day(int64_t day, int freq, int64_t k, int64_t *out)
{
    int      y, m, d, ny, nm, nd;
    int64_t  months, t;

    if (freq == NGX_BOOKING_FREQ_DAILY) {
        *out = day + k;
        return NGX_BOOKING_OK;
    }

    if (freq == NGX_BOOKING_FREQ_WEEKLY) {
        *out = day + 7 * k;
        return NGX_BOOKING_OK;
    }

    ngx_booking_civil_from_days(day, &y, &m, &d);

    months = (int64_t) y * 12 + (m - 1) + k;
    ny = (int) ngx_booking_repeat_floor(months, 12);
    nm = (int) (months - (int64_t) ny * 12) + 1;

    /* the day back from the day number: a month without it rolls over */
    t = ngx_booking_days_from_civil(ny, nm, d);
    ngx_booking_civil_from_days(t, &ny, &nm, &nd);

    if (nd != d) {
        return NGX_BOOKING_DECLINED;
    }

    *out = t;

    return NGX_BOOKING_OK;
}


int
ngx_booking_repeat_expand(const ngx_booking_tz_t *tz,
    const ngx_booking_repeat_t *r, int64_t start, int64_t end, size_t max,
    int64_t *starts, int64_t *ends, size_t *n)
{
    int64_t  ls, le, sday, ssec, span, k, steps, day, s, e;

    *n = 0;

    if (r->interval < 1 || r->interval > NGX_BOOKING_INTERVAL_MAX
        || r->count < 0 || r->count > NGX_BOOKING_REPEAT_MAX
        || end <= start
        || (r->freq != NGX_BOOKING_FREQ_DAILY
            && r->freq != NGX_BOOKING_FREQ_WEEKLY
            && r->freq != NGX_BOOKING_FREQ_MONTHLY))
    {
        return NGX_BOOKING_ERROR;
    }

    /* the first occurrence on the wall clock: its day, its time, its span */
    ls = start + ngx_booking_tz_offset(tz, start);
    le = end + ngx_booking_tz_offset(tz, end);
    sday = ngx_booking_repeat_floor(ls, 86400);
    ssec = ls - sday * 86400;
    span = le - ls;

    if (span <= 0) {
        return NGX_BOOKING_ERROR;
    }

    /*
     * Steps are bounded even where months are skipped: a day of the month
     * is in at least 7 of any 12 months (the 31st), so max occurrences
     * need no more than twice as many steps.
     */
    steps = 2 * (int64_t) (max + 1) * r->interval;

    for (k = 0; k <= steps; k += r->interval) {
        if (r->count && *n == (size_t) r->count) {
            break;
        }

        if (ngx_booking_repeat_day(sday, r->freq, k, &day) != NGX_BOOKING_OK)
        {
            continue;
        }

        if (r->count == 0 && day > r->until) {
            break;
        }

        if (*n == max) {
            return NGX_BOOKING_DECLINED;
        }

        s = ngx_booking_tz_instant(tz, day * 86400 + ssec);
        e = ngx_booking_tz_instant(tz, day * 86400 + ssec + span);

        if (k == 0) {
            s = start;
            e = end;
        }

        starts[*n] = s;
        ends[*n] = e;
        (*n)++;
    }

    return (*n == 0) ? NGX_BOOKING_DECLINED : NGX_BOOKING_OK;
}

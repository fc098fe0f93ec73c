/*
 * Opening hours (SPEC §6): a resource's weekly intervals and closed dates
 * on its type's wall clock.  A booking lies within one interval; what is
 * not open shows in availability as closed runs.  Plain C, no nginx.
 */

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ngx_booking_tz.h"


static int ngx_booking_hours_minutes(const char *p, int *m);
static int ngx_booking_hours_interval(json_t *v, uint16_t *span);
static int ngx_booking_hours_day(json_t *v, ngx_booking_hours_t *h, int d);
static int ngx_booking_hours_closed_dates(json_t *v, ngx_booking_hours_t *h);
static int ngx_booking_hours_cmp(const void *a, const void *b);
static int ngx_booking_day_cmp(const void *a, const void *b);
static int ngx_booking_hours_is_closed(const ngx_booking_hours_t *h,
    int64_t day);
static int64_t ngx_booking_hours_floor(int64_t a, int64_t b);
static int ngx_booking_hours_num(const u_char **p, const u_char *last,
    int64_t *v);


static const char  *ngx_booking_weekdays[] = {
    "mon", "tue", "wed", "thu", "fri", "sat", "sun"
};


static int64_t
ngx_booking_hours_floor(int64_t a, int64_t b)
{
    return (a >= 0) ? a / b : -((-a + b - 1) / b);
}


/* "HH:MM", 00:00 to 24:00 */
static int
ngx_booking_hours_minutes(const char *p, int *m)
{
    int  hh, mm;

    if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9' || p[2] != ':'
        || p[3] < '0' || p[3] > '5' || p[4] < '0' || p[4] > '9')
    {
        return NGX_BOOKING_ERROR;
    }

    hh = (p[0] - '0') * 10 + (p[1] - '0');
    mm = (p[3] - '0') * 10 + (p[4] - '0');

    if (hh > 24 || (hh == 24 && mm != 0)) {
        return NGX_BOOKING_ERROR;
    }

    *m = hh * 60 + mm;

    return NGX_BOOKING_OK;
}


/* "HH:MM-HH:MM", the first before the second */
static int
ngx_booking_hours_interval(json_t *v, uint16_t *span)
{
    int          from, to;
    const char  *p;

    if (!json_is_string(v) || json_string_length(v) != 11) {
        return NGX_BOOKING_ERROR;
    }

    p = json_string_value(v);

    if (p[5] != '-' || ngx_booking_hours_minutes(p, &from) != NGX_BOOKING_OK
        || ngx_booking_hours_minutes(p + 6, &to) != NGX_BOOKING_OK
        || from >= to || from == 1440)
    {
        return NGX_BOOKING_ERROR;
    }

    span[0] = (uint16_t) from;
    span[1] = (uint16_t) to;

    return NGX_BOOKING_OK;
}


static int
ngx_booking_hours_cmp(const void *a, const void *b)
{
    const uint16_t  *x = a, *y = b;

    return (int) x[0] - (int) y[0];
}


/* one day's intervals, in order, none overlapping another */
static int
ngx_booking_hours_day(json_t *v, ngx_booking_hours_t *h, int d)
{
    size_t   i, n;

    if (!json_is_array(v)) {
        return NGX_BOOKING_ERROR;
    }

    n = json_array_size(v);

    if (n > NGX_BOOKING_HOURS_DAY_MAX) {
        return NGX_BOOKING_ERROR;
    }

    for (i = 0; i < n; i++) {
        if (ngx_booking_hours_interval(json_array_get(v, i), h->open[d][i])
            != NGX_BOOKING_OK)
        {
            return NGX_BOOKING_ERROR;
        }
    }

    qsort(h->open[d], n, sizeof(h->open[d][0]), ngx_booking_hours_cmp);

    for (i = 1; i < n; i++) {
        if (h->open[d][i][0] < h->open[d][i - 1][1]) {
            return NGX_BOOKING_ERROR;
        }
    }

    h->n[d] = (uint8_t) n;

    return NGX_BOOKING_OK;
}


static int
ngx_booking_day_cmp(const void *a, const void *b)
{
    const int64_t  *x = a, *y = b;

    return (*x > *y) - (*x < *y);
}


/* "YYYY-MM-DD" dates, kept in order, each once */
static int
ngx_booking_hours_closed_dates(json_t *v, ngx_booking_hours_t *h)
{
    size_t                 i, n, k;
    json_t                *d;
    ngx_booking_instant_t  in;

    if (!json_is_array(v) || json_array_size(v) > NGX_BOOKING_CLOSED_MAX) {
        return NGX_BOOKING_ERROR;
    }

    n = json_array_size(v);

    for (i = 0; i < n; i++) {
        d = json_array_get(v, i);

        if (!json_is_string(d)
            || json_string_length(d) != NGX_BOOKING_DATE_LEN
            || ngx_booking_parse_instant((const u_char *) json_string_value(d),
                                         NGX_BOOKING_DATE_LEN, &in)
               != NGX_BOOKING_OK)
        {
            return NGX_BOOKING_ERROR;
        }

        h->closed[i] = in.t / 86400;
    }

    qsort(h->closed, n, sizeof(int64_t), ngx_booking_day_cmp);

    for (i = 0, k = 0; i < n; i++) {
        if (k == 0 || h->closed[k - 1] != h->closed[i]) {
            h->closed[k++] = h->closed[i];
        }
    }

    h->nclosed = k;

    return NGX_BOOKING_OK;
}


int
ngx_booking_parse_hours(json_t *v, ngx_booking_hours_t *h,
    ngx_booking_perr_t *err)
{
    int          d;
    json_t      *f;
    const char  *key;

    memset(h, 0, sizeof(ngx_booking_hours_t));

    if (!json_is_object(v)) {
        return ngx_booking_perr_set(err, 400, "bad_request",
                                    "hours must be an object", "hours");
    }

    json_object_foreach(v, key, f) {
        if (strcmp(key, "closed") == 0) {
            if (ngx_booking_hours_closed_dates(f, h) != NGX_BOOKING_OK) {
                return ngx_booking_perr_set(err, 422, "invalid",
                                            "closed is a list of at most "
                                            "366 dates, YYYY-MM-DD",
                                            "hours.closed");
            }

            continue;
        }

        for (d = 0; d < 7; d++) {
            if (strcmp(key, ngx_booking_weekdays[d]) == 0) {
                break;
            }
        }

        if (d == 7) {
            return ngx_booking_perr_set(err, 422, "invalid",
                                        "hours has mon to sun and closed",
                                        "hours");
        }

        if (ngx_booking_hours_day(f, h, d) != NGX_BOOKING_OK) {
            return ngx_booking_perr_set(err, 422, "invalid",
                                        "a day is a list of at most 8 "
                                        "intervals \"HH:MM-HH:MM\" that do "
                                        "not overlap", "hours");
        }
    }

    return NGX_BOOKING_OK;
}


int
ngx_booking_hours_fit(const ngx_booking_hours_t *h, int64_t slot)
{
    int     d, i, k;
    int64_t  m;

    for (d = 0; d < 7; d++) {
        for (i = 0; i < h->n[d]; i++) {
            for (k = 0; k < 2; k++) {
                m = (int64_t) h->open[d][i][k] * 60;

                if (slot <= 0 || (slot >= 86400 ? m % 86400 : m % slot)) {
                    return NGX_BOOKING_DECLINED;
                }
            }
        }
    }

    return NGX_BOOKING_OK;
}


static int
ngx_booking_hours_is_closed(const ngx_booking_hours_t *h, int64_t day)
{
    return bsearch(&day, h->closed, h->nclosed, sizeof(int64_t),
                   ngx_booking_day_cmp) != NULL;
}


/* 1970-01-01 was a Thursday: day 0 is index 3 of Monday first */
#define ngx_booking_weekday(day)  ((int) (((day) % 7 + 7 + 3) % 7))


int
ngx_booking_hours_open(const ngx_booking_hours_t *h,
    const ngx_booking_tz_t *tz, int64_t s, int64_t e)
{
    int      d, i;
    int64_t  ls, le, day, ms, me;

    ls = s + ngx_booking_tz_offset(tz, s);
    le = e + ngx_booking_tz_offset(tz, e);
    day = ngx_booking_hours_floor(ls, 86400);
    ms = (ls - day * 86400) / 60;
    me = (le - day * 86400 + 59) / 60;
    d = ngx_booking_weekday(day);

    if (ngx_booking_hours_is_closed(h, day)) {
        return 1;
    }

    for (i = 0; i < h->n[d]; i++) {
        if (ms >= h->open[d][i][0] && ms < h->open[d][i][1]) {
            return (me <= h->open[d][i][1]) ? NGX_BOOKING_OK : 2;
        }
    }

    return 1;
}


int
ngx_booking_hours_closed(const ngx_booking_hours_t *h,
    const ngx_booking_tz_t *tz, int64_t from, int64_t to, int64_t *starts,
    int64_t *ends, size_t max, size_t *n)
{
    int      d, i, closed;
    int64_t  day, last, at, a, b, open_at, shut_at;

    *n = 0;

    if (to <= from) {
        return NGX_BOOKING_OK;
    }

    day = ngx_booking_hours_floor(from + ngx_booking_tz_offset(tz, from),
                                  86400);
    last = ngx_booking_hours_floor(to + ngx_booking_tz_offset(tz, to), 86400);

    /* at: where the closed time being walked began (the last closing) */
    at = ngx_booking_tz_instant(tz, day * 86400);

    for ( /* void */ ; day <= last; day++) {
        d = ngx_booking_weekday(day);
        closed = ngx_booking_hours_is_closed(h, day);

        for (i = 0; !closed && i < h->n[d]; i++) {
            open_at = ngx_booking_tz_instant(tz, day * 86400
                                                 + h->open[d][i][0] * 60);
            shut_at = ngx_booking_tz_instant(tz, day * 86400
                                                 + h->open[d][i][1] * 60);

            /* closed from at to the opening, within [from, to) */
            a = (at > from) ? at : from;
            b = (open_at < to) ? open_at : to;

            if (a < b) {
                if (*n == max) {
                    return NGX_BOOKING_DECLINED;
                }

                starts[*n] = a;
                ends[*n] = b;
                (*n)++;
            }

            at = shut_at;
        }
    }

    /* closed from the last closing to the end of the range */
    a = (at > from) ? at : from;

    if (a < to) {
        if (*n == max) {
            return NGX_BOOKING_DECLINED;
        }

        starts[*n] = a;
        ends[*n] = to;
        (*n)++;
    }

    return NGX_BOOKING_OK;
}


/* a whole number of at most 18 digits at *p, and p moved past it */
static int
ngx_booking_hours_num(const u_char **p, const u_char *last, int64_t *v)
{
    size_t   n;
    int64_t  x;

    for (x = 0, n = 0; *p < last && **p >= '0' && **p <= '9'; (*p)++, n++) {
        if (n == 18) {
            return NGX_BOOKING_ERROR;
        }

        x = x * 10 + (**p - '0');
    }

    *v = x;

    return n ? NGX_BOOKING_OK : NGX_BOOKING_ERROR;
}


int
ngx_booking_hours_unpack(const u_char *p, size_t len, ngx_booking_hours_t *h)
{
    int64_t        d, from, to, day;
    const u_char  *last;

    memset(h, 0, sizeof(ngx_booking_hours_t));

    last = p + len;

    while (p < last) {
        if (*p++ != ' ') {
            return NGX_BOOKING_ERROR;
        }

        if (p == last) {
            break;
        }

        if (*p == 'x') {
            p++;

            if (ngx_booking_hours_num(&p, last, &day) != NGX_BOOKING_OK
                || h->nclosed == NGX_BOOKING_CLOSED_MAX)
            {
                return NGX_BOOKING_ERROR;
            }

            h->closed[h->nclosed++] = day;
            continue;
        }

        if (ngx_booking_hours_num(&p, last, &d) != NGX_BOOKING_OK
            || d > 6 || p == last || *p++ != ':'
            || ngx_booking_hours_num(&p, last, &from) != NGX_BOOKING_OK
            || p == last || *p++ != '-'
            || ngx_booking_hours_num(&p, last, &to) != NGX_BOOKING_OK
            || from >= to || to > 1440
            || h->n[d] == NGX_BOOKING_HOURS_DAY_MAX)
        {
            return NGX_BOOKING_ERROR;
        }

        h->open[d][h->n[d]][0] = (uint16_t) from;
        h->open[d][h->n[d]][1] = (uint16_t) to;
        h->n[d]++;
    }

    return NGX_BOOKING_OK;
}


/*
 * Availability runs: turning per-slot usage counters into the intervals
 * that the API reports.
 */


#include <stdint.h>
#include <string.h>

#include "ngx_booking_core.h"


/* the date of the last instant written, kept since most runs share it */
typedef struct {
    int64_t     n;
    u_char      text[NGX_BOOKING_DATE_LEN];
} ngx_booking_day_t;


static int64_t ngx_booking_add_sat(int64_t a, int64_t b);
static int64_t ngx_booking_counter(const u_char *p);
static u_char *ngx_booking_put_time(u_char *p, int64_t t, int date,
    ngx_booking_day_t *day);
static u_char *ngx_booking_put_int(u_char *p, int64_t v);


size_t
ngx_booking_runs(const u_char *counters, size_t n, int64_t start,
    int64_t slot, int64_t capacity, ngx_booking_run_t *runs)
{
    size_t         i, nruns;
    int64_t        t, used, avail;
    uint32_t       word, last;
    const u_char  *p;

    nruns = 0;
    t = start;
    p = counters;
    last = 0;

    for (i = 0; i < n; i++, p += 4) {

        /* most slots hold what the slot before them holds */
        memcpy(&word, p, 4);

        if (i == 0 || word != last) {
            last = word;

            used = ngx_booking_counter(p);

            /*
             * counters may exceed capacity after the capacity was lowered,
             * and a non-positive capacity means nothing can be booked
             */

            if (capacity <= 0) {
                avail = 0;

            } else {
                avail = capacity - used;

                if (avail < 0) {
                    avail = 0;
                }
            }

            if (nruns == 0 || runs[nruns - 1].units != avail) {
                if (nruns > 0) {
                    runs[nruns - 1].end = t;
                }

                runs[nruns].start = t;
                runs[nruns].units = avail;
                runs[nruns].closed = 0;
                nruns++;
            }
        }

        t = ngx_booking_add_sat(t, slot);
    }

    if (nruns > 0) {
        runs[nruns - 1].end = t;
    }

    return nruns;
}


/*
 * An availability answer is mostly these items, so they are written here in
 * one pass into room reserved once.  A run starts where the one before it
 * ends: that instant is formatted once and copied.
 */
u_char *
ngx_booking_runs_json(u_char *p, const ngx_booking_run_t *runs, size_t n,
    int date)
{
    size_t              i;
    u_char             *end, *end_text;
    ngx_booking_day_t   day;

    end_text = NULL;
    end = NULL;
    day.n = -1;

    for (i = 0; i < n; i++) {
        if (i) {
            *p++ = ',';
        }

        memcpy(p, "{\"start\":\"", sizeof("{\"start\":\"") - 1);
        p += sizeof("{\"start\":\"") - 1;

        if (end_text != NULL && runs[i].start == runs[i - 1].end) {
            memcpy(p, end_text, end - end_text);
            p += end - end_text;

        } else {
            p = ngx_booking_put_time(p, runs[i].start, date, &day);
        }

        memcpy(p, "\",\"end\":\"", sizeof("\",\"end\":\"") - 1);
        p += sizeof("\",\"end\":\"") - 1;

        end_text = p;
        p = ngx_booking_put_time(p, runs[i].end, date, &day);
        end = p;

        memcpy(p, "\",\"units\":", sizeof("\",\"units\":") - 1);
        p += sizeof("\",\"units\":") - 1;

        p = ngx_booking_put_int(p, runs[i].units);

        if (runs[i].closed) {
            memcpy(p, ",\"closed\":true", sizeof(",\"closed\":true") - 1);
            p += sizeof(",\"closed\":true") - 1;
        }

        *p++ = '}';
    }

    return p;
}


size_t
ngx_booking_runs_close(const ngx_booking_run_t *in, size_t n,
    const int64_t *cs, const int64_t *ce, size_t nclosed,
    ngx_booking_run_t *out)
{
    int      closed;
    size_t   i, c, k;
    int64_t  at, e, units;

    k = 0;
    c = 0;

    for (i = 0; i < n; i++) {
        at = in[i].start;

        while (at < in[i].end) {
            while (c < nclosed && ce[c] <= at) {
                c++;
            }

            closed = (c < nclosed && cs[c] <= at);

            if (closed) {
                e = (ce[c] < in[i].end) ? ce[c] : in[i].end;
                units = 0;

            } else {
                e = (c < nclosed && cs[c] < in[i].end) ? cs[c] : in[i].end;
                units = in[i].units;
            }

            if (k > 0 && out[k - 1].end == at && out[k - 1].closed == closed
                && out[k - 1].units == units)
            {
                out[k - 1].end = e;

            } else {
                out[k].start = at;
                out[k].end = e;
                out[k].units = units;
                out[k].closed = closed;
                k++;
            }

            at = e;
        }
    }

    return k;
}


static u_char *
ngx_booking_put_time(u_char *p, int64_t t, int date, ngx_booking_day_t *day)
{
    if (t < 0 || t > NGX_BOOKING_TIME_MAX) {
        return date ? ngx_booking_format_date(p, t)
                    : ngx_booking_format_instant(p, t);
    }

    if (t / NGX_BOOKING_DAY != day->n) {
        day->n = t / NGX_BOOKING_DAY;
        (void) ngx_booking_format_date(day->text, t);
    }

    memcpy(p, day->text, NGX_BOOKING_DATE_LEN);
    p += NGX_BOOKING_DATE_LEN;

    return date ? p : ngx_booking_format_clock(p, t);
}


static u_char *
ngx_booking_put_int(u_char *p, int64_t v)
{
    u_char    digits[20], *d;
    uint64_t  u;

    if (v < 0) {
        *p++ = '-';
        u = (uint64_t) 0 - (uint64_t) v;

    } else {
        u = (uint64_t) v;
    }

    d = digits + sizeof(digits);

    do {
        *--d = (u_char) ('0' + u % 10);
        u /= 10;
    } while (u);

    memcpy(p, d, digits + sizeof(digits) - d);

    return p + (digits + sizeof(digits) - d);
}


/*
 * Callers keep start + n * slot far below INT64_MAX; saturating keeps a
 * bad caller from signed overflow, and the saturated end is still rejected
 * by any range check against NGX_BOOKING_TIME_MAX.
 */

static int64_t
ngx_booking_add_sat(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b) {
        return INT64_MAX;
    }

    if (b < 0 && a < INT64_MIN - b) {
        return INT64_MIN;
    }

    return a + b;
}


/*
 * Counters read as they are stored (the 1 KB chunks of K_C, by number)
 * rather than through a script: the worker picks the range's slots out.
 */

void
ngx_booking_chunks(int64_t s0, size_t n, int64_t *first, size_t *count)
{
    *first = s0 / NGX_BOOKING_CHUNK_SLOTS;
    *count = n ? (size_t) ((s0 + (int64_t) n - 1) / NGX_BOOKING_CHUNK_SLOTS
                           - *first + 1)
               : 0;
}


void
ngx_booking_counters_from(u_char *dst, int64_t s0, size_t n,
    const ngx_booking_span_t *chunks, size_t nchunks, int64_t first)
{
    size_t                     i, at, take, have;
    int64_t                    s, s1;
    const ngx_booking_span_t  *c;

    s1 = s0 + (int64_t) n;

    for (s = s0; s < s1; s += take) {
        i = (size_t) (s / NGX_BOOKING_CHUNK_SLOTS - first);
        at = (size_t) (s % NGX_BOOKING_CHUNK_SLOTS);
        take = NGX_BOOKING_CHUNK_SLOTS - at;

        if ((int64_t) take > s1 - s) {
            take = (size_t) (s1 - s);
        }

        /* a chunk never written, or shorter than its slots: zeros */
        c = (i < nchunks) ? &chunks[i] : NULL;
        have = 0;

        if (c != NULL && c->data != NULL && c->len > at * 4) {
            have = (c->len - at * 4) / 4;
            have = (have < take) ? have : take;
            memcpy(dst, c->data + at * 4, have * 4);
        }

        memset(dst + have * 4, 0, (take - have) * 4);
        dst += take * 4;
    }
}


int64_t
ngx_booking_counters_max(const u_char *counters, size_t n)
{
    size_t    i;
    int64_t   m, u;

    m = 0;

    for (i = 0; i < n; i++, counters += 4) {
        u = ngx_booking_counter(counters);
        m = (u > m) ? u : m;
    }

    return m;
}


/* one slot's units in use, 4 bytes big-endian as the scripts write it */
static int64_t
ngx_booking_counter(const u_char *p)
{
    return (int64_t) (((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
                      | ((uint32_t) p[2] << 8) | (uint32_t) p[3]);
}

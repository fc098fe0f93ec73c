/*
 * Time zones as tables of UTC offsets, and the calendar periods of quotas.
 *
 * glibc reads the zone (its transitions and the rule after the last one,
 * for years past the file's table); the zone's offsets are sampled once,
 * when the configuration is read, every 12 hours from 1970 to 2200, and
 * each change found to the second.  A worker then only searches a table:
 * no file, no environment, no lock on the hot path.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ngx_booking_tz.h"


#define NGX_BOOKING_TZ_DIR   "/usr/share/zoneinfo/"
#define NGX_BOOKING_TZ_STEP  (12 * 3600)


static int ngx_booking_tz_name(const char *name);
static int ngx_booking_tz_file(const char *path);
static int32_t ngx_booking_tz_sample(int64_t t);
static int ngx_booking_tz_scan(ngx_booking_tz_t *tz);
static int ngx_booking_tz_add(ngx_booking_tz_t *tz, size_t *cap, int64_t at,
    int32_t off);
static int64_t ngx_booking_floor_div(int64_t a, int64_t b);


/* letters, digits and "/_+-", no "..", no leading "/" (a path under DIR) */
static int
ngx_booking_tz_name(const char *name)
{
    size_t  i, len;

    len = strlen(name);

    if (len == 0 || len > NGX_BOOKING_TZ_NAME_MAX || name[0] == '/'
        || strstr(name, "..") != NULL)
    {
        return NGX_BOOKING_DECLINED;
    }

    for (i = 0; i < len; i++) {
        if (!((name[i] >= 'A' && name[i] <= 'Z')
              || (name[i] >= 'a' && name[i] <= 'z')
              || (name[i] >= '0' && name[i] <= '9')
              || name[i] == '/' || name[i] == '_' || name[i] == '+'
              || name[i] == '-'))
        {
            return NGX_BOOKING_DECLINED;
        }
    }

    return NGX_BOOKING_OK;
}


/* a file of tzdata (RFC 8536: "TZif" first), not a directory of zones */
static int
ngx_booking_tz_file(const char *path)
{
    char   magic[4];
    FILE  *f;
    int    ok;

    f = fopen(path, "rb");
    if (f == NULL) {
        return NGX_BOOKING_ERROR;
    }

    ok = fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
    fclose(f);

    return ok ? NGX_BOOKING_OK : NGX_BOOKING_ERROR;
}


int
ngx_booking_tz_load(ngx_booking_tz_t *tz, const char *name, char *err,
    size_t err_len)
{
    int          rc;
    char         path[sizeof(NGX_BOOKING_TZ_DIR) + NGX_BOOKING_TZ_NAME_MAX];
    char        *saved;
    const char  *old;

    memset(tz, 0, sizeof(ngx_booking_tz_t));

    if (strcmp(name, "UTC") == 0) {
        return NGX_BOOKING_OK;
    }

    if (ngx_booking_tz_name(name) != NGX_BOOKING_OK) {
        snprintf(err, err_len, "\"%s\" is not a time zone name", name);
        return NGX_BOOKING_ERROR;
    }

    /* glibc takes a zone it cannot read for UTC: look first */
    snprintf(path, sizeof(path), NGX_BOOKING_TZ_DIR "%s", name);

    if (ngx_booking_tz_file(path) != NGX_BOOKING_OK) {
        snprintf(err, err_len, "no time zone \"%s\" in "
                 NGX_BOOKING_TZ_DIR, name);
        return NGX_BOOKING_ERROR;
    }

    old = getenv("TZ");
    saved = old ? strdup(old) : NULL;

    if ((old != NULL && saved == NULL) || setenv("TZ", path, 1) != 0) {
        free(saved);
        snprintf(err, err_len, "out of memory");
        return NGX_BOOKING_ERROR;
    }

    tzset();
    rc = ngx_booking_tz_scan(tz);

    if (saved != NULL) {
        setenv("TZ", saved, 1);
        free(saved);

    } else {
        unsetenv("TZ");
    }

    tzset();

    if (rc != NGX_BOOKING_OK) {
        ngx_booking_tz_free(tz);
        snprintf(err, err_len, "time zone \"%s\" cannot be read", name);
    }

    return rc;
}


static int32_t
ngx_booking_tz_sample(int64_t t)
{
    time_t     tt;
    struct tm  tm;

    tt = (time_t) t;

    if (localtime_r(&tt, &tm) == NULL) {
        return 0;
    }

    return (int32_t) tm.tm_gmtoff;
}


/* every change of offset, each found to the second between two samples */
static int
ngx_booking_tz_scan(ngx_booking_tz_t *tz)
{
    size_t   cap;
    int32_t  prev, off;
    int64_t  t, lo, hi, mid;

    cap = 0;
    prev = ngx_booking_tz_sample(0);
    tz->first = prev;

    for (t = NGX_BOOKING_TZ_STEP; t <= NGX_BOOKING_TZ_END;
         t += NGX_BOOKING_TZ_STEP)
    {
        off = ngx_booking_tz_sample(t);

        if (off == prev) {
            continue;
        }

        /* the first second of the new offset, in (t - STEP, t] */
        lo = t - NGX_BOOKING_TZ_STEP;
        hi = t;

        while (hi - lo > 1) {
            mid = lo + (hi - lo) / 2;

            if (ngx_booking_tz_sample(mid) == prev) {
                lo = mid;

            } else {
                hi = mid;
            }
        }

        if (ngx_booking_tz_add(tz, &cap, hi, off) != NGX_BOOKING_OK) {
            return NGX_BOOKING_ERROR;
        }

        prev = off;
    }

    return NGX_BOOKING_OK;
}


static int
ngx_booking_tz_add(ngx_booking_tz_t *tz, size_t *cap, int64_t at,
    int32_t off)
{
    size_t    n;
    int32_t  *o;
    int64_t  *a;

    if (tz->n == *cap) {
        n = *cap ? *cap * 2 : 64;
        a = realloc(tz->at, n * sizeof(int64_t));

        if (a == NULL) {
            return NGX_BOOKING_ERROR;
        }

        tz->at = a;
        o = realloc(tz->off, n * sizeof(int32_t));

        if (o == NULL) {
            return NGX_BOOKING_ERROR;
        }

        tz->off = o;
        *cap = n;
    }

    tz->at[tz->n] = at;
    tz->off[tz->n] = off;
    tz->n++;

    return NGX_BOOKING_OK;
}


void
ngx_booking_tz_free(ngx_booking_tz_t *tz)
{
    free(tz->at);
    free(tz->off);
    memset(tz, 0, sizeof(ngx_booking_tz_t));
}


int32_t
ngx_booking_tz_offset(const ngx_booking_tz_t *tz, int64_t t)
{
    size_t  lo, hi, mid;

    if (tz->n == 0 || t < tz->at[0]) {
        return tz->first;
    }

    /* the last change at or before t */
    lo = 0;
    hi = tz->n;

    while (hi - lo > 1) {
        mid = lo + (hi - lo) / 2;

        if (tz->at[mid] <= t) {
            lo = mid;

        } else {
            hi = mid;
        }
    }

    return tz->off[lo];
}


/*
 * Local time is not a function of UTC's inverse: a clock set back shows
 * an hour twice (the first is taken), a clock set forward skips one (the
 * instant it jumps is taken).  Offsets differ by at most a day, so the
 * candidates are the offsets in force within two days of local.
 */
int64_t
ngx_booking_tz_instant(const ngx_booking_tz_t *tz, int64_t local)
{
    int32_t  o, cand[8];
    int64_t  u, best, t;
    size_t   n, i;

    n = 0;

    for (t = local - 2 * 86400; t <= local + 2 * 86400 && n < 8;
         t += 6 * 3600)
    {
        o = ngx_booking_tz_offset(tz, t);

        if (n == 0 || cand[n - 1] != o) {
            cand[n++] = o;
        }
    }

    best = INT64_MAX;

    for (i = 0; i < n; i++) {
        u = local - cand[i];

        if (ngx_booking_tz_offset(tz, u) == cand[i] && u < best) {
            best = u;
        }
    }

    if (best != INT64_MAX) {
        return best;
    }

    /* in a gap: the change that jumps over it */
    for (i = 0; i < tz->n; i++) {
        if (tz->at[i] + tz->off[i] > local) {
            return tz->at[i];
        }
    }

    return local - tz->first;
}


void
ngx_booking_tz_period(const ngx_booking_tz_t *tz, int per, int64_t t,
    int64_t *start, int64_t *next)
{
    int      y, m, d;
    int64_t  day, first, last;

    /* no period before 1970-01-01, local */
    day = ngx_booking_floor_div(t + ngx_booking_tz_offset(tz, t), 86400);
    day = day < 0 ? 0 : day;

    switch (per) {

    case NGX_BOOKING_PER_WEEK:
        /* 1970-01-01 was a Thursday: Monday is 0 */
        first = day - (day + 3) % 7;
        last = first + 7;
        break;

    case NGX_BOOKING_PER_MONTH:
        ngx_booking_civil_from_days(day, &y, &m, &d);
        first = ngx_booking_days_from_civil(y, m, 1);
        last = (m == 12) ? ngx_booking_days_from_civil(y + 1, 1, 1)
                         : ngx_booking_days_from_civil(y, m + 1, 1);
        break;

    default:
        first = day;
        last = day + 1;
    }

    *start = ngx_booking_tz_instant(tz, first * 86400);
    *next = ngx_booking_tz_instant(tz, last * 86400);
}


static int64_t
ngx_booking_floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/*
 * The query arguments of the API: one table, read the same way by every
 * route (availability, listing pages, GET /bookings).
 */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_booking_core.h"


typedef int (*ngx_booking_qread_pt)(const u_char *v, size_t len,
    ngx_booking_query_t *q, ngx_booking_perr_t *err);

typedef struct {
    const char             *name;
    unsigned                bit;
    size_t                  size;       /* the longest value, decoded */
    ngx_booking_qread_pt    read;
} ngx_booking_qarg_t;


static int ngx_booking_q_from(const u_char *v, size_t len,
    ngx_booking_query_t *q, ngx_booking_perr_t *err);
static int ngx_booking_q_to(const u_char *v, size_t len,
    ngx_booking_query_t *q, ngx_booking_perr_t *err);
static int ngx_booking_q_type(const u_char *v, size_t len,
    ngx_booking_query_t *q, ngx_booking_perr_t *err);
static int ngx_booking_q_quantity(const u_char *v, size_t len,
    ngx_booking_query_t *q, ngx_booking_perr_t *err);
static int ngx_booking_q_near(const u_char *v, size_t len,
    ngx_booking_query_t *q, ngx_booking_perr_t *err);
static int ngx_booking_q_radius(const u_char *v, size_t len,
    ngx_booking_query_t *q, ngx_booking_perr_t *err);
static int ngx_booking_q_limit(const u_char *v, size_t len,
    ngx_booking_query_t *q, ngx_booking_perr_t *err);
static int ngx_booking_q_cursor(const u_char *v, size_t len,
    ngx_booking_query_t *q, ngx_booking_perr_t *err);
static int ngx_booking_q_resource(const u_char *v, size_t len,
    ngx_booking_query_t *q, ngx_booking_perr_t *err);
static int ngx_booking_q_status(const u_char *v, size_t len,
    ngx_booking_query_t *q, ngx_booking_perr_t *err);
static int ngx_booking_q_instant(const u_char *v, size_t len, int64_t *t,
    const char *name, ngx_booking_perr_t *err);
static int ngx_booking_q_number(const u_char *v, size_t len, int64_t min,
    int64_t max, int64_t *n);
static int ngx_booking_q_known(const u_char *args, size_t len,
    unsigned allowed, ngx_booking_perr_t *err);


static const ngx_booking_qarg_t  ngx_booking_qargs[] = {
    { "type",     NGX_BOOKING_Q_TYPE,     NGX_BOOKING_TYPE_MAX,
                  ngx_booking_q_type },
    { "resource", NGX_BOOKING_Q_RESOURCE, NGX_BOOKING_RESOURCE_MAX,
                  ngx_booking_q_resource },
    { "from",     NGX_BOOKING_Q_FROM,     64, ngx_booking_q_from },
    { "to",       NGX_BOOKING_Q_TO,       64, ngx_booking_q_to },
    { "status",   NGX_BOOKING_Q_STATUS,   16, ngx_booking_q_status },
    { "quantity", NGX_BOOKING_Q_QUANTITY, 24, ngx_booking_q_quantity },
    { "near",     NGX_BOOKING_Q_NEAR,     64, ngx_booking_q_near },
    { "radius",   NGX_BOOKING_Q_RADIUS,   24, ngx_booking_q_radius },
    { "limit",    NGX_BOOKING_Q_LIMIT,    24, ngx_booking_q_limit },
    { "cursor",   NGX_BOOKING_Q_CURSOR,   NGX_BOOKING_CURSOR_MAX,
                  ngx_booking_q_cursor },
    { NULL, 0, 0, NULL }
};


static const char  *ngx_booking_statuses[] = {
    "held", "requested", "confirmed", "cancelled", "expired", "declined",
    NULL
};


int
ngx_booking_query_parse(const u_char *args, size_t len, unsigned allowed,
    ngx_booking_query_t *q, ngx_booking_perr_t *err)
{
    int                        rc;
    size_t                     vlen;
    u_char                     buf[NGX_BOOKING_CURSOR_MAX + 1];
    const ngx_booking_qarg_t  *a;

    memset(q, 0, sizeof(ngx_booking_query_t));

    if (ngx_booking_q_known(args, len, allowed, err) != NGX_BOOKING_OK) {
        return NGX_BOOKING_ERROR;
    }

    for (a = ngx_booking_qargs; a->name != NULL; a++) {
        if (!(allowed & a->bit)) {
            continue;
        }

        /* one byte is kept free, for the NUL of the readers of numbers */
        rc = ngx_booking_query_arg(args, len, a->name, buf, a->size - 1,
                                   &vlen);
        if (rc == 0) {
            continue;
        }

        if (rc < 0) {
            if (a->bit == NGX_BOOKING_Q_RESOURCE) {
                /* no such resource can exist */
                return ngx_booking_perr_set(err, 404, "not_found",
                                            "no such resource", "resource");
            }

            return ngx_booking_perr_set(err, 400, "bad_request",
                                        a->bit == NGX_BOOKING_Q_CURSOR
                                        ? "bad or stale cursor"
                                        : "the argument cannot be read",
                                        a->name);
        }

        buf[vlen] = '\0';

        if (a->read(buf, vlen, q, err) != NGX_BOOKING_OK) {
            return NGX_BOOKING_ERROR;
        }

        q->set |= a->bit;
    }

    if ((q->set & NGX_BOOKING_Q_RADIUS) && !(q->set & NGX_BOOKING_Q_NEAR)) {
        return ngx_booking_perr_set(err, 400, "bad_request",
                                    "radius needs near", "radius");
    }

    if ((q->set & NGX_BOOKING_Q_FROM) && (q->set & NGX_BOOKING_Q_TO)
        && q->to <= q->from)
    {
        return ngx_booking_perr_set(err, 422, "invalid",
                                    "to must be after from", "to");
    }

    return NGX_BOOKING_OK;
}


/* every key names an argument the route reads: any other is 400 */
static int
ngx_booking_q_known(const u_char *args, size_t len, unsigned allowed,
    ngx_booking_perr_t *err)
{
    size_t                     klen;
    const u_char              *p, *last, *pair, *end, *eq;
    const ngx_booking_qarg_t  *a;

    p = args;
    last = args + len;

    while (args != NULL && p < last) {
        pair = p;

        end = memchr(p, '&', (size_t) (last - p));
        if (end == NULL) {
            end = last;
        }

        p = (end == last) ? last : end + 1;

        if (end == pair) {
            continue;
        }

        eq = memchr(pair, '=', (size_t) (end - pair));
        klen = (size_t) ((eq != NULL ? eq : end) - pair);

        for (a = ngx_booking_qargs; a->name != NULL; a++) {
            if ((allowed & a->bit) && strlen(a->name) == klen
                && memcmp(pair, a->name, klen) == 0)
            {
                break;
            }
        }

        if (a->name == NULL) {
            /* the key as sent, cut at 64 bytes; the error escapes it */
            klen = klen < 64 ? klen : 64;
            memcpy(err->text, pair, klen);
            err->text[klen] = '\0';

            return ngx_booking_perr_set(err, 400, "bad_request",
                                        "unknown query argument", err->text);
        }
    }

    return NGX_BOOKING_OK;
}


static int
ngx_booking_q_from(const u_char *v, size_t len, ngx_booking_query_t *q,
    ngx_booking_perr_t *err)
{
    return ngx_booking_q_instant(v, len, &q->from, "from", err);
}


static int
ngx_booking_q_to(const u_char *v, size_t len, ngx_booking_query_t *q,
    ngx_booking_perr_t *err)
{
    return ngx_booking_q_instant(v, len, &q->to, "to", err);
}


static int
ngx_booking_q_instant(const u_char *v, size_t len, int64_t *t,
    const char *name, ngx_booking_perr_t *err)
{
    ngx_booking_instant_t  in;

    if (ngx_booking_parse_instant(v, len, &in) != NGX_BOOKING_OK) {
        return ngx_booking_perr_set(err, 400, "bad_request",
                                    "not an RFC 3339 date or date-time", name);
    }

    *t = in.t;

    return NGX_BOOKING_OK;
}


static int
ngx_booking_q_type(const u_char *v, size_t len, ngx_booking_query_t *q,
    ngx_booking_perr_t *err)
{
    (void) err;

    memcpy(q->type, v, len);
    q->type_len = len;

    return NGX_BOOKING_OK;
}


static int
ngx_booking_q_quantity(const u_char *v, size_t len, ngx_booking_query_t *q,
    ngx_booking_perr_t *err)
{
    switch (ngx_booking_q_number(v, len, 1, NGX_BOOKING_CAPACITY_MAX,
                                 &q->quantity))
    {
    case NGX_BOOKING_OK:
        return NGX_BOOKING_OK;

    case NGX_BOOKING_ERROR:
        return ngx_booking_perr_set(err, 400, "bad_request",
                                    "quantity must be a whole number",
                                    "quantity");

    default:
        return ngx_booking_perr_set(err, 422, "invalid",
                                    "quantity must be 1 to 1000000",
                                    "quantity");
    }
}


/* "lat,lon" in plain decimal degrees: no hex, no exponents, no nan */
static int
ngx_booking_q_near(const u_char *v, size_t len, ngx_booking_query_t *q,
    ngx_booking_perr_t *err)
{
    char          *end;
    u_char         copy[64];
    const u_char  *p, *comma;

    comma = memchr(v, ',', len);
    if (comma == NULL) {
        goto bad;
    }

    for (p = v; p < v + len; p++) {
        if (!((*p >= '0' && *p <= '9') || *p == '.' || *p == '-'
              || *p == '+' || *p == ','))
        {
            goto bad;
        }
    }

    memcpy(copy, v, len);
    copy[len] = '\0';
    copy[comma - v] = '\0';

    errno = 0;
    q->lat = strtod((char *) copy, &end);
    if (end != (char *) copy + (comma - v) || errno || end == (char *) copy)
    {
        goto bad;
    }

    q->lon = strtod((char *) copy + (comma - v) + 1, &end);
    if (end != (char *) copy + len || errno
        || end == (char *) copy + (comma - v) + 1)
    {
        goto bad;
    }

    if (!(q->lat >= -NGX_BOOKING_LAT_MAX && q->lat <= NGX_BOOKING_LAT_MAX
          && q->lon >= -NGX_BOOKING_LON_MAX && q->lon <= NGX_BOOKING_LON_MAX))
    {
        return ngx_booking_perr_set(err, 422, "invalid",
                                    "near must be within +-85.05112878 and "
                                    "+-180 degrees", "near");
    }

    return NGX_BOOKING_OK;

bad:

    return ngx_booking_perr_set(err, 400, "bad_request",
                                "near is lat,lon in degrees", "near");
}


static int
ngx_booking_q_radius(const u_char *v, size_t len, ngx_booking_query_t *q,
    ngx_booking_perr_t *err)
{
    switch (ngx_booking_q_number(v, len, 1, NGX_BOOKING_RADIUS_MAX,
                                 &q->radius))
    {
    case NGX_BOOKING_OK:
        return NGX_BOOKING_OK;

    case NGX_BOOKING_ERROR:
        return ngx_booking_perr_set(err, 400, "bad_request",
                                    "radius is a whole number of meters",
                                    "radius");

    default:
        return ngx_booking_perr_set(err, 422, "invalid",
                                    "radius must be 1 to 1000000 meters",
                                    "radius");
    }
}


static int
ngx_booking_q_limit(const u_char *v, size_t len, ngx_booking_query_t *q,
    ngx_booking_perr_t *err)
{
    switch (ngx_booking_q_number(v, len, 1, NGX_BOOKING_LIMIT_MAX,
                                 &q->limit))
    {
    case NGX_BOOKING_OK:
        return NGX_BOOKING_OK;

    case NGX_BOOKING_ERROR:
        return ngx_booking_perr_set(err, 400, "bad_request",
                                    "limit must be a number", "limit");

    default:
        return ngx_booking_perr_set(err, 422, "invalid",
                                    "limit must be 1 to 100", "limit");
    }
}


static int
ngx_booking_q_cursor(const u_char *v, size_t len, ngx_booking_query_t *q,
    ngx_booking_perr_t *err)
{
    size_t  i;

    /* printable: it goes back to Redis and into the answer's JSON */
    for (i = 0; i < len; i++) {
        if (v[i] <= 0x20 || v[i] >= 0x7f) {
            len = 0;
            break;
        }
    }

    if (len == 0) {
        return ngx_booking_perr_set(err, 400, "bad_request",
                                    "bad or stale cursor", "cursor");
    }

    memcpy(q->cursor, v, len);
    q->cursor_len = len;

    return NGX_BOOKING_OK;
}


static int
ngx_booking_q_resource(const u_char *v, size_t len, ngx_booking_query_t *q,
    ngx_booking_perr_t *err)
{
    (void) err;

    memcpy(q->resource, v, len);
    q->resource_len = len;

    return NGX_BOOKING_OK;
}


static int
ngx_booking_q_status(const u_char *v, size_t len, ngx_booking_query_t *q,
    ngx_booking_perr_t *err)
{
    const char  **s;

    for (s = ngx_booking_statuses; *s != NULL; s++) {
        if (strlen(*s) == len && memcmp(*s, v, len) == 0) {
            memcpy(q->status, v, len);
            q->status_len = len;
            return NGX_BOOKING_OK;
        }
    }

    return ngx_booking_perr_set(err, 422, "invalid", "no such status",
                                "status");
}


/* NGX_BOOKING_OK, NGX_BOOKING_ERROR (not a number), or 1 (out of bounds) */
static int
ngx_booking_q_number(const u_char *v, size_t len, int64_t min, int64_t max,
    int64_t *n)
{
    size_t   i;
    int64_t  x;

    if (len == 0 || len > 18) {
        return NGX_BOOKING_ERROR;
    }

    x = 0;

    for (i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9') {
            return NGX_BOOKING_ERROR;
        }

        x = x * 10 + (v[i] - '0');
    }

    if (x < min || x > max) {
        return 1;
    }

    *n = x;

    return NGX_BOOKING_OK;
}


u_char *
ngx_booking_query_key(u_char *p, const ngx_booking_query_t *q)
{
    int  n;

    /* "<length>:" before each string: nothing can be read two ways */
    n = sprintf((char *) p, "%x|%lld|%lld|%lld|%lld|%lld|%.8f|%.8f|%zu:",
                q->set, (long long) q->from, (long long) q->to,
                (long long) q->quantity, (long long) q->radius,
                (long long) q->limit, q->lat, q->lon, q->type_len);
    p += n;

    memcpy(p, q->type, q->type_len);
    p += q->type_len;
    p += sprintf((char *) p, "%zu:", q->resource_len);
    memcpy(p, q->resource, q->resource_len);
    p += q->resource_len;
    p += sprintf((char *) p, "%zu:", q->status_len);
    memcpy(p, q->status, q->status_len);
    p += q->status_len;
    p += sprintf((char *) p, "%zu:", q->cursor_len);
    memcpy(p, q->cursor, q->cursor_len);

    return p + q->cursor_len;
}

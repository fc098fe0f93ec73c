/*
 * Listing pages and calendar feeds: the reads that take most of the
 * traffic of a sharing platform.
 *
 * A listing page is a few round trips: the candidates, in order, from the
 * type's index (ZRANGEBYLEX, or GEOSEARCH nearest first), then pipelined
 * batches of one script per candidate that answers its fewest free units
 * over the range, and its document when that is enough.  At most a bounded
 * number of candidates is looked at per page, however many are taken.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>

#include "ngx_booking_module.h"
#include "ngx_booking_scripts.h"


#define NGX_BOOKING_RADIUS_DEFAULT  50000
#define NGX_BOOKING_RING_FIRST      1000    /* meters */
#define NGX_BOOKING_RING_GROWTH     4
#define NGX_BOOKING_RADIUS_MAX      1000000
#define NGX_BOOKING_SCAN_FACTOR     5
#define NGX_BOOKING_SCAN_MAX        200
#define NGX_BOOKING_EVENTS_MAX      1000

#define NGX_BOOKING_CURSOR_MAX      512

/* a nearest-first listing goes this many candidates deep at most */
#define NGX_BOOKING_DEPTH_MAX       5000


typedef struct {
    ngx_str_t             id;
    double                dist;      /* meters; -1 without near */
    ngx_str_t             doc;       /* NULL data: gone */
    int64_t               free;
} ngx_booking_candidate_t;


typedef struct {
    ngx_booking_type_t   *type;
    int64_t               from;      /* -1: no range */
    int64_t               to;
    int64_t               quantity;
    double                lat;
    double                lon;
    ngx_uint_t            near;
    int64_t               radius;
    int64_t               ring;      /* the radius searched this time */
    ngx_uint_t            limit;
    ngx_uint_t            scan;
    ngx_str_t             query;     /* what a cursor's MAC covers */

    /* where the previous page stopped */
    ngx_uint_t            after;
    ngx_str_t             after_id;
    double                after_dist;
    ngx_uint_t            after_pos;

    ngx_booking_candidate_t  *cand;
    ngx_uint_t                ncand;
    ngx_uint_t                checked;   /* candidates sent to Redis */
    ngx_uint_t                base;      /* the first of the last batch */
    ngx_uint_t                more;  /* the index may hold more */
    ngx_uint_t                refetch;
} ngx_booking_listing_t;


static ngx_int_t ngx_booking_listing_parse(ngx_http_request_t *r,
    ngx_booking_listing_t *ls, ngx_booking_err_t *err);
static ngx_int_t ngx_booking_listing_cursor(ngx_http_request_t *r,
    ngx_booking_listing_t *ls, u_char *p, size_t len);
static ngx_int_t ngx_booking_listing_signed(ngx_http_request_t *r,
    ngx_booking_listing_t *ls, u_char *payload, size_t len, ngx_str_t *msg);
static ngx_int_t ngx_booking_listing_search(ngx_http_request_t *r,
    ngx_booking_listing_t *ls);
static ngx_int_t ngx_booking_listing_candidates(ngx_http_request_t *r,
    void *data);
static int ngx_booking_candidate_cmp(const void *one, const void *two);
static ngx_int_t ngx_booking_listing_item(ngx_http_request_t *r,
    ngx_uint_t i, void *data);
static ngx_int_t ngx_booking_listing_check(ngx_http_request_t *r,
    ngx_booking_listing_t *ls, ngx_uint_t found);
static ngx_int_t ngx_booking_listing_done(ngx_http_request_t *r);
static ngx_int_t ngx_booking_listing_page(ngx_http_request_t *r);
static ngx_int_t ngx_booking_listing_next(ngx_http_request_t *r,
    ngx_booking_listing_t *ls, ngx_booking_json_t *j,
    ngx_booking_candidate_t *c, ngx_uint_t pos);
static ngx_int_t ngx_booking_arg(ngx_http_request_t *r, const char *name,
    u_char *buf, size_t size, ngx_str_t *v);
static ngx_int_t ngx_booking_calendar_events(ngx_http_request_t *r,
    void *data);
static void ngx_booking_ical_line(ngx_booking_json_t *j, const char *name,
    int64_t t, ngx_uint_t date);


ngx_int_t
ngx_booking_listing(ngx_http_request_t *r)
{
    u_char                  *p, nbuf[NGX_INT64_LEN];
    ngx_str_t                argv[7];
    ngx_booking_err_t        err;
    ngx_booking_ctx_t       *ctx;
    ngx_booking_listing_t   *ls;

    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);

    ls = ngx_pcalloc(r->pool, sizeof(ngx_booking_listing_t));
    if (ls == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->data = ls;

    if (ngx_booking_listing_parse(r, ls, &err) != NGX_OK) {
        return ngx_booking_send_err(r, &err);
    }

    if (ls->near) {
        /*
         * GEOSEARCH ... ASC sorts every point of its circle: a first ring
         * of 1 km (or just past where the last page stopped) is enough in a
         * dense city, and grows only where resources are sparse.
         */
        ls->ring = ngx_min(ls->radius,
                           ngx_max(NGX_BOOKING_RING_FIRST,
                                   (int64_t) (ls->after_dist * 1.25) + 100));

        return ngx_booking_listing_search(r, ls);
    }

    p = ngx_pnalloc(r->pool, sizeof("bk:{t:}:ids")
                             + ls->type->name.len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&argv[0], "ZRANGEBYLEX");
    argv[1].data = p;
    argv[1].len = ngx_sprintf(p, "bk:{t:%V}:ids", &ls->type->name) - p;

    if (ls->after) {
        argv[2].data = ngx_pnalloc(r->pool, ls->after_id.len + 1);
        if (argv[2].data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        argv[2].len = ngx_sprintf(argv[2].data, "(%V", &ls->after_id)
                      - argv[2].data;

    } else {
        ngx_str_set(&argv[2], "-");
    }

    ngx_str_set(&argv[3], "+");
    ngx_str_set(&argv[4], "LIMIT");
    ngx_str_set(&argv[5], "0");
    argv[6].data = nbuf;
    argv[6].len = ngx_sprintf(nbuf, "%ui", ls->scan + 1) - nbuf;

    return ngx_booking_call(r, -1, argv, 0, 7,
                            ngx_booking_listing_candidates);
}


static ngx_int_t
ngx_booking_listing_search(ngx_http_request_t *r, ngx_booking_listing_t *ls)
{
    u_char     *p, *nbuf;
    ngx_str_t   argv[12];

    p = ngx_pnalloc(r->pool, sizeof("bk:{t:}:geo") + ls->type->name.len);
    nbuf = ngx_pnalloc(r->pool, 4 * (NGX_INT64_LEN + 16));
    if (p == NULL || nbuf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&argv[0], "GEOSEARCH");
    argv[1].data = p;
    argv[1].len = ngx_sprintf(p, "bk:{t:%V}:geo", &ls->type->name) - p;
    ngx_str_set(&argv[2], "FROMLONLAT");
    argv[3].data = nbuf;
    argv[3].len = ngx_sprintf(nbuf, "%.8f", ls->lon) - nbuf;
    nbuf += NGX_INT64_LEN + 16;
    argv[4].data = nbuf;
    argv[4].len = ngx_sprintf(nbuf, "%.8f", ls->lat) - nbuf;
    nbuf += NGX_INT64_LEN + 16;
    ngx_str_set(&argv[5], "BYRADIUS");
    argv[6].data = nbuf;
    argv[6].len = ngx_sprintf(nbuf, "%L", ls->ring) - nbuf;
    nbuf += NGX_INT64_LEN + 16;
    ngx_str_set(&argv[7], "m");
    ngx_str_set(&argv[8], "ASC");
    ngx_str_set(&argv[9], "WITHDIST");
    ngx_str_set(&argv[10], "COUNT");

    /*
     * Nearest first from the start: as many as the pages before took, and
     * this page's scan twice over, so that resources added nearer
     * meanwhile do not make it come up short.
     */
    argv[11].data = nbuf;
    argv[11].len = ngx_sprintf(nbuf, "%ui", ls->after_pos + 2 * ls->scan + 1)
                   - nbuf;

    return ngx_booking_call(r, -1, argv, 0, 12,
                            ngx_booking_listing_candidates);
}


static ngx_int_t
ngx_booking_listing_parse(ngx_http_request_t *r, ngx_booking_listing_t *ls,
    ngx_booking_err_t *err)
{
    u_char                   *p, *comma, buf[NGX_BOOKING_CURSOR_MAX];
    u_char                    tbuf[64];
    ngx_int_t                 rc, n;
    ngx_str_t                 v;
    ngx_booking_instant_t     in;
    ngx_booking_main_conf_t  *bmcf;

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_booking_module);

    rc = ngx_booking_arg(r, "type", buf, 64, &v);
    if (rc != NGX_OK) {
        return ngx_booking_fail(err, NGX_HTTP_BAD_REQUEST, "bad_request",
                                      "type is required", "type");
    }

    ls->type = ngx_booking_find_type(bmcf, v.data, v.len);
    if (ls->type == NULL) {
        return ngx_booking_fail(err, NGX_BOOKING_UNPROCESSABLE, "invalid",
                                      "unknown type", "type");
    }

    ls->from = -1;
    ls->to = -1;

    rc = ngx_booking_arg(r, "from", tbuf, sizeof(tbuf), &v);
    if (rc == NGX_OK) {
        if (ngx_booking_parse_instant(v.data, v.len, &in) != NGX_BOOKING_OK) {
            goto bad_from;
        }

        ls->from = in.t;

    } else if (rc == NGX_ERROR) {
        goto bad_from;
    }

    rc = ngx_booking_arg(r, "to", tbuf, sizeof(tbuf), &v);
    if (rc == NGX_OK) {
        if (ngx_booking_parse_instant(v.data, v.len, &in) != NGX_BOOKING_OK) {
            goto bad_to;
        }

        ls->to = in.t;

    } else if (rc == NGX_ERROR) {
        goto bad_to;
    }

    if ((ls->from >= 0) != (ls->to >= 0)) {
        return ngx_booking_fail(err, NGX_HTTP_BAD_REQUEST, "bad_request",
                                      "from and to go together",
                                      ls->from >= 0 ? "to" : "from");
    }

    if (ls->from >= 0) {
        if (ls->type->slot == 0) {
            return ngx_booking_fail(err, NGX_BOOKING_UNPROCESSABLE,
                                          "invalid",
                                          "a timeless type has no calendar",
                                          "from");
        }

        if (ls->to <= ls->from) {
            return ngx_booking_fail(err, NGX_BOOKING_UNPROCESSABLE,
                                          "invalid", "to must be after from",
                                          "to");
        }

        if (ls->to - ls->from > bmcf->max_range) {
            return ngx_booking_fail(err, NGX_BOOKING_UNPROCESSABLE,
                                          "invalid",
                                          "the range is longer than "
                                          "booking_max_range", "to");
        }

        /* widened to slots, as availability does */
        ls->from = ngx_booking_slot_floor(ls->from, ls->type->slot);
        ls->to = ngx_booking_slot_ceil(ls->to, ls->type->slot);

        /* every candidate's counters of the range are read */
        if ((ls->to - ls->from) / ls->type->slot
            > NGX_BOOKING_LIST_SLOTS_MAX)
        {
            return ngx_booking_fail(err, NGX_BOOKING_UNPROCESSABLE,
                                          "invalid",
                                          "a listing range holds at most "
                                          "4096 slots of its type", "to");
        }
    }

    ls->quantity = 1;

    rc = ngx_booking_arg(r, "quantity", tbuf, sizeof(tbuf), &v);
    if (rc != NGX_DECLINED) {
        n = (rc == NGX_OK) ? ngx_atoi(v.data, v.len) : NGX_ERROR;

        if (n == NGX_ERROR) {
            return ngx_booking_fail(err, NGX_HTTP_BAD_REQUEST,
                                          "bad_request",
                                          "quantity must be a whole number",
                                          "quantity");
        }

        if (n < 1 || n > NGX_BOOKING_CAPACITY_MAX) {
            return ngx_booking_fail(err, NGX_BOOKING_UNPROCESSABLE,
                                          "invalid",
                                          "quantity must be 1 to 1000000",
                                          "quantity");
        }

        ls->quantity = n;
    }

    rc = ngx_booking_arg(r, "near", tbuf, sizeof(tbuf), &v);
    if (rc == NGX_ERROR) {
        goto bad_near;
    }

    if (rc == NGX_OK) {
        comma = ngx_strlchr(v.data, v.data + v.len, ',');
        if (comma == NULL) {
            goto bad_near;
        }

        /* decimal degrees only: no hex, no exponents, no nan */
        for (p = v.data; p < v.data + v.len; p++) {
            if (!((*p >= '0' && *p <= '9') || *p == '.' || *p == '-'
                  || *p == '+' || *p == ','))
            {
                goto bad_near;
            }
        }

        v.data[v.len] = '\0';
        *comma = '\0';

        errno = 0;
        ls->lat = strtod((char *) v.data, (char **) &p);
        if (p != comma || errno || p == v.data) {
            goto bad_near;
        }

        ls->lon = strtod((char *) comma + 1, (char **) &p);
        if (p != v.data + v.len || errno || p == comma + 1) {
            goto bad_near;
        }

        if (!(ls->lat >= -85.05112878 && ls->lat <= 85.05112878
              && ls->lon >= -180.0 && ls->lon <= 180.0))
        {
            return ngx_booking_fail(err, NGX_BOOKING_UNPROCESSABLE,
                                          "invalid",
                                          "near must be within +-85.05112878 "
                                          "and +-180 degrees", "near");
        }

        ls->near = 1;
    }

    ls->radius = NGX_BOOKING_RADIUS_DEFAULT;

    rc = ngx_booking_arg(r, "radius", tbuf, sizeof(tbuf), &v);
    if (rc != NGX_DECLINED) {
        if (!ls->near) {
            return ngx_booking_fail(err, NGX_HTTP_BAD_REQUEST,
                                          "bad_request",
                                          "radius needs near", "radius");
        }

        n = (rc == NGX_OK) ? ngx_atoi(v.data, v.len) : NGX_ERROR;

        if (n == NGX_ERROR) {
            return ngx_booking_fail(err, NGX_HTTP_BAD_REQUEST,
                                          "bad_request",
                                          "radius is a whole number of "
                                          "meters", "radius");
        }

        if (n < 1 || n > NGX_BOOKING_RADIUS_MAX) {
            return ngx_booking_fail(err, NGX_BOOKING_UNPROCESSABLE,
                                          "invalid",
                                          "radius must be 1 to 1000000 "
                                          "meters", "radius");
        }

        ls->radius = n;
    }

    ls->limit = 20;

    rc = ngx_booking_arg(r, "limit", tbuf, sizeof(tbuf), &v);
    if (rc != NGX_DECLINED) {
        n = (rc == NGX_OK) ? ngx_atoi(v.data, v.len) : NGX_ERROR;

        if (n == NGX_ERROR) {
            return ngx_booking_fail(err, NGX_HTTP_BAD_REQUEST,
                                          "bad_request",
                                          "limit must be a number", "limit");
        }

        if (n < 1 || n > 100) {
            return ngx_booking_fail(err, NGX_BOOKING_UNPROCESSABLE,
                                          "invalid", "limit must be 1 to 100",
                                          "limit");
        }

        ls->limit = n;
    }

    ls->scan = ngx_min(NGX_BOOKING_SCAN_FACTOR * ls->limit,
                       NGX_BOOKING_SCAN_MAX);

    /* a cursor belongs to one query: its type, range, point, radius, ... */
    ls->query.data = ngx_pnalloc(r->pool, ls->type->name.len
                                          + 4 * NGX_INT64_LEN + 64);
    if (ls->query.data == NULL) {
        return ngx_booking_fail(err, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                "internal", "internal error", NULL);
    }

    ls->query.len = ngx_sprintf(ls->query.data, "%V %L %L %L %ui %.8f %.8f %L",
                                &ls->type->name, ls->from, ls->to,
                                ls->quantity, ls->near, ls->lat, ls->lon,
                                ls->radius)
                    - ls->query.data;

    rc = ngx_booking_arg(r, "cursor", buf, sizeof(buf), &v);
    if (rc == NGX_ERROR) {
        goto bad_cursor;
    }

    if (rc == NGX_OK
        && ngx_booking_listing_cursor(r, ls, v.data, v.len) != NGX_OK)
    {
        goto bad_cursor;
    }

    return NGX_OK;

bad_from:

    return ngx_booking_fail(err, NGX_HTTP_BAD_REQUEST, "bad_request",
                                  "not an RFC 3339 date or date-time",
                                  "from");

bad_to:

    return ngx_booking_fail(err, NGX_HTTP_BAD_REQUEST, "bad_request",
                                  "not an RFC 3339 date or date-time", "to");

bad_near:

    return ngx_booking_fail(err, NGX_HTTP_BAD_REQUEST, "bad_request",
                                  "near is lat,lon in degrees", "near");

bad_cursor:

    return ngx_booking_fail(err, NGX_HTTP_BAD_REQUEST, "bad_request",
                                  "bad or stale cursor", "cursor");
}


/* NGX_OK with v set, NGX_DECLINED when absent, NGX_ERROR when unreadable */
static ngx_int_t
ngx_booking_arg(ngx_http_request_t *r, const char *name, u_char *buf,
    size_t size, ngx_str_t *v)
{
    int  rc;

    /* one byte is kept free, for a NUL a caller may add */
    rc = ngx_booking_query_arg(r->args.data, r->args.len, name, buf,
                               size - 1, &v->len);
    v->data = buf;

    return (rc > 0) ? NGX_OK : (rc == 0) ? NGX_DECLINED : NGX_ERROR;
}


/*
 * A cursor is "<base64url of position:distance:id>.<MAC>": how many
 * candidates the pages before took and the last one, so that the next page
 * starts right after it whatever was added or removed meanwhile; the MAC
 * (HMAC-SHA256 with the token secret) covers that and the query, so that a
 * cursor is used with its own query only, and as it was made: nobody can
 * make a page search deeper than the pages before did.
 */
static ngx_int_t
ngx_booking_listing_cursor(ngx_http_request_t *r, ngx_booking_listing_t *ls,
    u_char *p, size_t len)
{
    u_char                   *last, *dot, *end;
    double                    dist;
    ngx_int_t                 pos;
    ngx_str_t                 src, dst, msg;
    ngx_booking_main_conf_t  *bmcf;

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_booking_module);

    dot = ngx_strlchr(p, p + len, '.');
    if (dot == NULL
        || ngx_booking_listing_signed(r, ls, p, dot - p, &msg) != NGX_OK
        || !ngx_booking_token_check(bmcf->secret.data, bmcf->secret.len,
                                    msg.data, msg.len, dot + 1,
                                    p + len - (dot + 1)))
    {
        return NGX_ERROR;
    }

    src.data = p;
    src.len = dot - p;

    dst.data = ngx_pnalloc(r->pool, ngx_base64_decoded_length(src.len) + 1);
    if (dst.data == NULL || ngx_decode_base64url(&dst, &src) != NGX_OK) {
        return NGX_ERROR;
    }

    p = dst.data;
    last = dst.data + dst.len;
    *last = '\0';

    dot = ngx_strlchr(p, last, ':');
    if (dot == NULL) {
        return NGX_ERROR;
    }

    pos = ngx_atoi(p, dot - p);
    if (pos == NGX_ERROR || pos > NGX_BOOKING_DEPTH_MAX) {
        return NGX_ERROR;
    }

    p = dot + 1;
    dot = ngx_strlchr(p, last, ':');
    if (dot == NULL) {
        return NGX_ERROR;
    }

    *dot = '\0';
    errno = 0;
    dist = strtod((char *) p, (char **) &end);

    /* !(dist <= radius) is also true of a NaN */
    if (end != dot || errno || dist < 0 || !(dist <= ls->radius)) {
        return NGX_ERROR;
    }

    ls->after_id.data = dot + 1;
    ls->after_id.len = last - (dot + 1);

    if (ngx_booking_id_check(bmcf, &ls->after_id, r->connection->log)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ls->after = 1;
    ls->after_pos = pos;
    ls->after_dist = dist;

    return NGX_OK;
}


/* what a cursor's MAC covers: the query, then the cursor's payload */
static ngx_int_t
ngx_booking_listing_signed(ngx_http_request_t *r, ngx_booking_listing_t *ls,
    u_char *payload, size_t len, ngx_str_t *msg)
{
    msg->len = ls->query.len + 1 + len;
    msg->data = ngx_pnalloc(r->pool, msg->len);
    if (msg->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(msg->data, ls->query.data, ls->query.len);
    msg->data[ls->query.len] = '\n';
    ngx_memcpy(msg->data + ls->query.len + 1, payload, len);

    return NGX_OK;
}


/* ZRANGEBYLEX: [id, ...]; GEOSEARCH WITHDIST: [[id, "dist"], ...] */
static ngx_int_t
ngx_booking_listing_candidates(ngx_http_request_t *r, void *data)
{
    redisReply *reply = data;

    size_t                   i;
    ngx_uint_t               k, n, skipped;
    redisReply              *e, *id;
    ngx_booking_ctx_t       *ctx;
    ngx_booking_listing_t   *ls;
    ngx_booking_candidate_t *c, *all;

    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);
    ls = ctx->data;

    if (ngx_booking_reply_candidates(reply, ls->near) != NGX_BOOKING_OK) {
        return ngx_booking_unexpected(r);
    }

    /* too few in this ring, and the circle asked for is larger: grow it */
    if (ls->near && ls->ring < ls->radius
        && reply->elements < ls->after_pos + 2 * ls->scan + 1)
    {
        ls->ring = ngx_min(ls->radius, ls->ring * NGX_BOOKING_RING_GROWTH);
        return ngx_booking_listing_search(r, ls);
    }

    all = ngx_pcalloc(r->pool, (reply->elements + 1)
                               * sizeof(ngx_booking_candidate_t));
    if (all == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = 0;

    for (i = 0; i < reply->elements; i++) {
        e = reply->element[i];
        c = &all[n++];
        c->dist = -1;

        if (ls->near) {
            id = e->element[0];
            c->dist = strtod(e->element[1]->str, NULL);

        } else {
            id = e;
        }

        c->id.len = id->len;
        c->id.data = ngx_pnalloc(r->pool, id->len);
        if (c->id.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(c->id.data, id->str, id->len);
    }

    /*
     * GEOSEARCH orders by distance only: ties are put in id order here, so
     * that the cursor's (distance, id) splits the pages exactly.
     */
    if (ls->near) {
        ngx_qsort(all, n, sizeof(ngx_booking_candidate_t),
                  ngx_booking_candidate_cmp);
    }

    ls->cand = all;
    skipped = 0;

    for (k = 0; k < n; k++) {
        c = &all[k];

        /* already on an earlier page: nearer, or as near and before */
        if (ls->near && ls->after
            && (c->dist < ls->after_dist
                || (c->dist == ls->after_dist
                    && ngx_memn2cmp(c->id.data, ls->after_id.data,
                                    c->id.len, ls->after_id.len) <= 0)))
        {
            skipped++;
            continue;
        }

        if (ls->ncand == ls->scan) {
            ls->more = 1;
            break;
        }

        ls->cand[ls->ncand++] = *c;
    }

    /* a full GEOSEARCH may have been cut by its COUNT */
    if (ls->near && reply->elements == ls->after_pos + 2 * ls->scan + 1) {
        ls->more = 1;

        /*
         * So many were added nearer than the cursor that this COUNT did not
         * reach past it: ask again for more (each time strictly more).
         */
        if (ls->ncand < ls->scan && skipped > ls->after_pos
            && ls->refetch++ < 8)
        {
            ls->after_pos = skipped;
            return ngx_booking_listing_search(r, ls);
        }
    }

    /* how many come before this page, as Redis counts them now */
    ls->after_pos = skipped;

    if (ls->ncand == 0) {
        return ngx_booking_listing_page(r);
    }

    return ngx_booking_listing_check(r, ls, 0);
}


/*
 * Sends the next candidates in one pipelined batch: first one and a half
 * pages' worth, which is enough when most are free; then, while the page
 * is short, as many as the share of free candidates seen so far says the
 * rest of the page needs, and a quarter more.  Every candidate costs Redis
 * a script, so a page of mostly taken resources costs a round trip more
 * rather than the whole scan.
 */
static ngx_int_t
ngx_booking_listing_check(ngx_http_request_t *r, ngx_booking_listing_t *ls,
    ngx_uint_t found)
{
    u_char       *p;
    ngx_str_t   **argv;
    ngx_uint_t    k, n, want;

    n = ls->ncand - ls->checked;

    if (ls->checked == 0) {
        want = ls->limit + ls->limit / 2 + 1;

    } else {
        want = (ls->limit - found) * ls->checked / ngx_max(found, 1);
        want += want / 4 + 1;
    }

    n = ngx_min(n, want);

    argv = ngx_palloc(r->pool, n * sizeof(ngx_str_t *));
    if (argv == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (k = 0; k < n; k++) {
        argv[k] = ngx_palloc(r->pool, 4 * sizeof(ngx_str_t));
        p = ngx_pnalloc(r->pool, 3 * NGX_INT64_LEN);

        if (argv[k] == NULL || p == NULL
            || ngx_booking_key(r, &ls->cand[ls->checked + k].id, &argv[k][0])
               != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        argv[k][1].data = p;
        argv[k][1].len = (ls->from >= 0)
                         ? (size_t) (ngx_sprintf(p, "%L", ls->from) - p) : 0;
        p += NGX_INT64_LEN;
        argv[k][2].data = p;
        argv[k][2].len = (ls->to >= 0)
                         ? (size_t) (ngx_sprintf(p, "%L", ls->to) - p) : 0;
        p += NGX_INT64_LEN;
        argv[k][3].data = p;
        argv[k][3].len = ngx_sprintf(p, "%L", ls->quantity) - p;
    }

    ls->base = ls->checked;
    ls->checked += n;

    return ngx_booking_call_batch(r, NGX_BOOKING_SCRIPT_RESOURCE_FREE, argv,
                                  n, 1, 4, ngx_booking_listing_item,
                                  ngx_booking_listing_done);
}


static ngx_int_t
ngx_booking_listing_done(ngx_http_request_t *r)
{
    ngx_uint_t              i, n;
    ngx_booking_ctx_t      *ctx;
    ngx_booking_listing_t  *ls;

    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);
    ls = ctx->data;

    n = 0;

    for (i = 0; i < ls->checked; i++) {
        if (ls->cand[i].doc.data != NULL
            && (ls->from < 0 || ls->cand[i].free >= ls->quantity))
        {
            n++;
        }
    }

    if (n < ls->limit && ls->checked < ls->ncand) {
        return ngx_booking_listing_check(r, ls, n);
    }

    return ngx_booking_listing_page(r);
}


static int
ngx_booking_candidate_cmp(const void *one, const void *two)
{
    const ngx_booking_candidate_t *a = one;
    const ngx_booking_candidate_t *b = two;

    if (a->dist != b->dist) {
        return (a->dist < b->dist) ? -1 : 1;
    }

    return ngx_memn2cmp(a->id.data, b->id.data, a->id.len, b->id.len);
}


/*
 * {doc, free}; {'', free} when too few units are free; {} when the resource
 * went away since the first read
 */
static ngx_int_t
ngx_booking_listing_item(ngx_http_request_t *r, ngx_uint_t i, void *data)
{
    redisReply *reply = data;

    ngx_booking_ctx_t        *ctx;
    ngx_booking_listing_t    *ls;
    ngx_booking_candidate_t  *c;

    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);
    ls = ctx->data;
    c = &ls->cand[ls->base + i];

    if (ngx_booking_reply_free(reply) != NGX_BOOKING_OK) {
        return NGX_ERROR;
    }

    /* gone, or too few units free: not on the page */
    if (reply->elements == 0 || reply->element[0]->len == 0) {
        return NGX_OK;
    }

    c->doc.len = reply->element[0]->len;
    c->doc.data = ngx_pnalloc(r->pool, c->doc.len);
    if (c->doc.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(c->doc.data, reply->element[0]->str, c->doc.len);
    c->free = reply->element[1]->integer;

    return NGX_OK;
}


static ngx_int_t
ngx_booking_listing_page(ngx_http_request_t *r)
{
    ngx_uint_t                i, n;
    ngx_booking_ctx_t        *ctx;
    ngx_booking_json_t        j;
    ngx_booking_listing_t    *ls;
    ngx_booking_candidate_t  *c;

    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);
    ls = ctx->data;

    if (ngx_booking_json_init(&j, r->pool, 4096) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_booking_json_lit(&j, "{\"items\":[");

    n = 0;

    for (i = 0; i < ls->checked; i++) {
        c = &ls->cand[i];

        if (c->doc.data == NULL
            || (ls->from >= 0 && c->free < ls->quantity))
        {
            continue;
        }

        if (n++) {
            ngx_booking_json_lit(&j, ",");
        }

        ngx_booking_json_raw(&j, c->doc.data, c->doc.len - 1);

        if (c->free >= 0) {
            ngx_booking_json_lit(&j, ",\"free\":");
            ngx_booking_json_int(&j, c->free);
        }

        if (c->dist >= 0) {
            ngx_booking_json_lit(&j, ",\"distance_m\":");
            ngx_booking_json_int(&j, (int64_t) (c->dist + 0.5));
        }

        ngx_booking_json_lit(&j, "}");

        if (n == ls->limit) {
            if (i + 1 < ls->ncand || ls->more) {
                ngx_booking_json_lit(&j, "]");
                return ngx_booking_listing_next(r, ls, &j, c, i + 1);
            }

            break;
        }
    }

    ngx_booking_json_lit(&j, "]");

    /* every candidate sent was looked at: the next page starts after */
    if ((ls->more || ls->checked < ls->ncand) && ls->checked) {
        return ngx_booking_listing_next(r, ls, &j,
                                        &ls->cand[ls->checked - 1],
                                        ls->checked);
    }

    ngx_booking_json_lit(&j, "}");

    return ngx_booking_send_json(r, NGX_HTTP_OK, &j);
}


static ngx_int_t
ngx_booking_listing_next(ngx_http_request_t *r, ngx_booking_listing_t *ls,
    ngx_booking_json_t *j, ngx_booking_candidate_t *c, ngx_uint_t pos)
{
    u_char                   *p;
    ngx_str_t                 src, dst, msg;
    ngx_booking_main_conf_t  *bmcf;

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_booking_module);

    /* past the depth bound a nearest-first listing ends */
    if (ls->near && ls->after_pos + pos > NGX_BOOKING_DEPTH_MAX) {
        ngx_booking_json_lit(j, "}");
        return ngx_booking_send_json(r, NGX_HTTP_OK, j);
    }

    p = ngx_pnalloc(r->pool, 64 + c->id.len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    src.data = p;
    src.len = ngx_sprintf(p, "%ui:%.4f:%V", ls->after_pos + pos,
                          c->dist >= 0 ? c->dist : 0.0, &c->id)
              - p;

    dst.data = ngx_pnalloc(r->pool, ngx_base64_encoded_length(src.len) + 1
                                    + NGX_BOOKING_TOKEN_LEN);
    if (dst.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_encode_base64url(&dst, &src);

    if (ngx_booking_listing_signed(r, ls, dst.data, dst.len, &msg) != NGX_OK
        || ngx_booking_token(bmcf->secret.data, bmcf->secret.len, msg.data,
                             msg.len, dst.data + dst.len + 1)
           != NGX_BOOKING_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    dst.data[dst.len] = '.';
    dst.len += 1 + NGX_BOOKING_TOKEN_LEN;

    ngx_booking_json_lit(j, ",\"next\":");
    ngx_booking_json_str(j, dst.data, dst.len);
    ngx_booking_json_lit(j, "}");

    return ngx_booking_send_json(r, NGX_HTTP_OK, j);
}


ngx_int_t
ngx_booking_calendar(ngx_http_request_t *r)
{
    u_char     nbuf[NGX_INT_T_LEN];
    ngx_str_t  argv[2];

    if (ngx_booking_key(r, &((ngx_booking_ctx_t *)
                             ngx_http_get_module_ctx(r,
                                 ngx_http_booking_module))->id,
                        &argv[0])
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    argv[1].data = nbuf;
    argv[1].len = ngx_sprintf(nbuf, "%d", NGX_BOOKING_EVENTS_MAX) - nbuf;

    return ngx_booking_call(r, NGX_BOOKING_SCRIPT_CALENDAR, argv, 1, 2,
                            ngx_booking_calendar_events);
}


/*
 * {"ok", slot, name, (rand, start, end, kind, updated_at)...}.  The lines
 * are written unfolded, then folded at 75 octets in one pass.
 */
static ngx_int_t
ngx_booking_calendar_events(ngx_http_request_t *r, void *data)
{
    redisReply *reply = data;

    size_t               i, k;
    int64_t              slot, v[3];
    ngx_int_t            rc;
    ngx_str_t            body;
    redisReply         **e;
    ngx_booking_ctx_t   *ctx;
    ngx_booking_json_t   j;
    static ngx_str_t     type = ngx_string("text/calendar; charset=utf-8");

    rc = ngx_booking_script_error(r, reply);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (ngx_booking_reply_calendar(reply) != NGX_BOOKING_OK) {
        return ngx_booking_unexpected(r);
    }

    e = reply->element;

    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);
    slot = e[1]->integer;

    if (ngx_booking_json_init(&j, r->pool, 1024) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_booking_json_lit(&j, "BEGIN:VCALENDAR\r\n"
                             "VERSION:2.0\r\n"
                             "PRODID:-//ngx_booking//calendar feed//EN\r\n"
                             "CALSCALE:GREGORIAN\r\n"
                             "METHOD:PUBLISH\r\n"
                             "X-WR-CALNAME:");

    ngx_booking_json_ical(&j, (u_char *) e[2]->str, e[2]->len);

    ngx_booking_json_lit(&j, "\r\n");

    for (i = 3; i + 4 < reply->elements; i += 5) {
        /* start, end and updated_at, as checked above */
        for (k = 0; k < 3; k++) {
            (void) ngx_booking_reply_int(e[i + 1 + (k == 2 ? 3 : k)], &v[k]);
        }

        ngx_booking_json_lit(&j, "BEGIN:VEVENT\r\nUID:");
        ngx_booking_json_ical(&j, ctx->id.data, ctx->id.len);
        ngx_booking_json_lit(&j, ".");
        ngx_booking_json_raw(&j, (u_char *) e[i]->str, e[i]->len);
        ngx_booking_json_lit(&j, "@ngx_booking\r\n");
        ngx_booking_ical_line(&j, "DTSTAMP", v[2], 0);
        ngx_booking_ical_line(&j, "DTSTART", v[0], slot % 86400 == 0);
        ngx_booking_ical_line(&j, "DTEND", v[1], slot % 86400 == 0);

        if (e[i + 3]->len == 5 && ngx_strncmp(e[i + 3]->str, "block", 5) == 0)
        {
            ngx_booking_json_lit(&j, "SUMMARY:Blocked\r\n");

        } else {
            ngx_booking_json_lit(&j, "SUMMARY:Busy\r\n");
        }

        ngx_booking_json_lit(&j, "TRANSP:OPAQUE\r\nEND:VEVENT\r\n");
    }

    ngx_booking_json_lit(&j, "END:VCALENDAR\r\n");

    if (j.failed) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body.len = ngx_booking_ical_fold_len(j.start, j.pos - j.start);
    body.data = ngx_pnalloc(r->pool, body.len);
    if (body.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) ngx_booking_ical_fold(body.data, j.start, j.pos - j.start);

    return ngx_booking_send_body(r, NGX_HTTP_OK, &type, &body);
}


/* "NAME:20261201T100000Z" or, for day slots, "NAME;VALUE=DATE:20261201" */
static void
ngx_booking_ical_line(ngx_booking_json_t *j, const char *name, int64_t t,
    ngx_uint_t date)
{
    u_char  buf[NGX_BOOKING_INSTANT_LEN], out[32], *p;

    ngx_booking_json_raw(j, (u_char *) name, ngx_strlen(name));

    if (date) {
        ngx_booking_json_lit(j, ";VALUE=DATE:");
        (void) ngx_booking_format_date(buf, t);
        p = ngx_cpymem(out, buf, 4);
        p = ngx_cpymem(p, buf + 5, 2);
        p = ngx_cpymem(p, buf + 8, 2);

    } else {
        ngx_booking_json_lit(j, ":");
        (void) ngx_booking_format_instant(buf, t);
        p = ngx_cpymem(out, buf, 4);
        p = ngx_cpymem(p, buf + 5, 2);
        p = ngx_cpymem(p, buf + 8, 3);
        p = ngx_cpymem(p, buf + 11, 2);
        p = ngx_cpymem(p, buf + 14, 2);
        p = ngx_cpymem(p, buf + 17, 3);
    }

    ngx_booking_json_raw(j, out, p - out);
    ngx_booking_json_lit(j, "\r\n");
}

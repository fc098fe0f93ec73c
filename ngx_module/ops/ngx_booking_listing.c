/*
 * Listing pages: GET /resources?type=..., the reads that take most of the
 * traffic of a sharing platform.
 *
 * A page is a few round trips: the candidates, in order, from the type's
 * index (ZRANGEBYLEX, or GEOSEARCH nearest first), then batches of plain
 * reads, sent at once (ngx_booking_peek.c): each candidate's fields and,
 * with a range, its counter chunks of the range, and Redis's clock; the
 * worker finds the fewest free units.  A candidate with a hold due, or
 * whose slot is not its type's, is decided by a script (resource_free)
 * in one more batch.  At most a bounded number of candidates is looked at
 * per page, however many are taken.
 */

#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_booking_ops.h"


#define NGX_BOOKING_RADIUS_DEFAULT  50000
#define NGX_BOOKING_RING_FIRST      1000    /* meters */
#define NGX_BOOKING_RING_GROWTH     4
#define NGX_BOOKING_SCAN_FACTOR     5
#define NGX_BOOKING_SCAN_MAX        200

/* a nearest-first listing goes this many candidates deep at most */
#define NGX_BOOKING_DEPTH_MAX       5000


typedef struct {
    ngx_str_t             id;
    double                dist;      /* meters; -1 without near */
    ngx_str_t             doc;       /* NULL data: gone, or too few free */
    int64_t               free;
    ngx_booking_peek_t    peek;
    int64_t               most;      /* units in use at most over the range */
    ngx_uint_t            script;    /* the script decides */
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

    /* the range in the type's slots, and the chunks that hold it */
    int64_t                   s0;
    size_t                    nslots;
    int64_t                   first;
    size_t                    nchunks;
    u_char                   *counters;  /* a candidate's, read in turn */

    /* the batch of plain reads */
    int64_t                   now;
    ngx_booking_call_t       *failed;
    ngx_uint_t                error;

    ngx_booking_candidate_t  *cand;
    ngx_uint_t                ncand;
    ngx_uint_t                checked;   /* candidates sent to Redis */
    ngx_uint_t                base;      /* the first of the last batch */
    ngx_uint_t                pending;
    ngx_int_t                 failure;
    ngx_uint_t                more;      /* the index may hold more */
    ngx_uint_t                refetch;
} ngx_booking_listing_t;


static ngx_int_t ngx_booking_listing_parse(ngx_booking_req_t *req,
    ngx_booking_listing_t *ls);
static ngx_int_t ngx_booking_listing_cursor(ngx_booking_req_t *req,
    ngx_booking_listing_t *ls);
static ngx_int_t ngx_booking_listing_signed(ngx_booking_req_t *req,
    ngx_booking_listing_t *ls, u_char *payload, size_t len, ngx_str_t *msg);
static ngx_int_t ngx_booking_listing_index(ngx_booking_req_t *req,
    ngx_booking_listing_t *ls);
static ngx_int_t ngx_booking_listing_search(ngx_booking_req_t *req,
    ngx_booking_listing_t *ls);
static void ngx_booking_listing_candidates(ngx_booking_call_t *call);
static ngx_int_t ngx_booking_listing_found(ngx_booking_req_t *req,
    ngx_booking_listing_t *ls, ngx_booking_ids_t *ids);
static int ngx_booking_candidate_cmp(const void *one, const void *two);
static ngx_int_t ngx_booking_listing_check(ngx_booking_req_t *req,
    ngx_booking_listing_t *ls, ngx_uint_t found);
static void ngx_booking_listing_peeked(ngx_booking_call_t *call);
static ngx_uint_t ngx_booking_listing_closed(ngx_booking_listing_t *ls,
    ngx_booking_peek_t *p);
static ngx_int_t ngx_booking_listing_judge(ngx_booking_req_t *req,
    ngx_booking_listing_t *ls);
static ngx_int_t ngx_booking_listing_scripts(ngx_booking_req_t *req,
    ngx_booking_listing_t *ls);
static void ngx_booking_listing_item(ngx_booking_call_t *call);
static ngx_int_t ngx_booking_listing_done(ngx_booking_req_t *req,
    ngx_booking_listing_t *ls);
static ngx_int_t ngx_booking_listing_page(ngx_booking_req_t *req,
    ngx_booking_listing_t *ls);
static ngx_int_t ngx_booking_listing_next(ngx_booking_req_t *req,
    ngx_booking_listing_t *ls, ngx_booking_candidate_t *c, ngx_uint_t pos,
    ngx_str_t *next);


/* one candidate's call: which it is, and what it reads */
typedef struct {
    ngx_booking_req_t    *req;
    ngx_uint_t            index;
    ngx_uint_t            what;
} ngx_booking_slot_t;

#define NGX_BOOKING_PEEK_TIME      0
#define NGX_BOOKING_PEEK_RESOURCE  1
#define NGX_BOOKING_PEEK_COUNTERS  2


ngx_int_t
ngx_booking_listing(ngx_booking_req_t *req)
{
    ngx_int_t               rc;
    ngx_booking_listing_t  *ls;

    ls = ngx_pcalloc(req->pool, sizeof(ngx_booking_listing_t));
    if (ls == NULL) {
        return NGX_ERROR;
    }

    req->state = ls;

    rc = ngx_booking_listing_parse(req, ls);
    if (rc != NGX_DECLINED) {
        return rc;
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

        return ngx_booking_listing_search(req, ls);
    }

    return ngx_booking_listing_index(req, ls);
}


/* NGX_DECLINED: read; else the rc of the error answer */
static ngx_int_t
ngx_booking_listing_parse(ngx_booking_req_t *req, ngx_booking_listing_t *ls)
{
    ngx_booking_query_t  *q;

    q = &req->query;

    if (!(q->set & NGX_BOOKING_Q_TYPE)) {
        return ngx_booking_op_fail(req, NGX_HTTP_BAD_REQUEST, "bad_request",
                                   "type is required", "type");
    }

    ls->type = ngx_booking_find_type(req->conf, q->type, q->type_len);
    if (ls->type == NULL) {
        return ngx_booking_op_fail(req, NGX_BOOKING_UNPROCESSABLE, "invalid",
                                   "unknown type", "type");
    }

    ls->from = -1;
    ls->to = -1;

    if (!(q->set & NGX_BOOKING_Q_FROM) != !(q->set & NGX_BOOKING_Q_TO)) {
        return ngx_booking_op_fail(req, NGX_HTTP_BAD_REQUEST, "bad_request",
                                   "from and to go together",
                                   (q->set & NGX_BOOKING_Q_FROM)
                                   ? "to" : "from");
    }

    if (q->set & NGX_BOOKING_Q_FROM) {
        if (ls->type->slot == 0) {
            return ngx_booking_op_fail(req, NGX_BOOKING_UNPROCESSABLE,
                                       "invalid",
                                       "a timeless type has no calendar",
                                       "from");
        }

        if (q->to - q->from > req->conf->max_range) {
            return ngx_booking_op_fail(req, NGX_BOOKING_UNPROCESSABLE,
                                       "invalid",
                                       "the range is longer than "
                                       "booking_max_range", "to");
        }

        /* widened to slots, as availability does */
        ls->from = ngx_booking_slot_floor(q->from, ls->type->slot);
        ls->to = ngx_booking_slot_ceil(q->to, ls->type->slot);
        ls->s0 = ls->from / ls->type->slot;
        ls->nslots = (size_t) ((ls->to - ls->from) / ls->type->slot);

        /* every candidate's counters of the range are read */
        if ((ls->to - ls->from) / ls->type->slot
            > NGX_BOOKING_LIST_SLOTS_MAX)
        {
            return ngx_booking_op_fail(req, NGX_BOOKING_UNPROCESSABLE,
                                       "invalid",
                                       "a listing range holds at most "
                                       "4096 slots of its type", "to");
        }
    }

    ls->quantity = (q->set & NGX_BOOKING_Q_QUANTITY) ? q->quantity : 1;
    ls->near = (q->set & NGX_BOOKING_Q_NEAR) ? 1 : 0;
    ls->lat = q->lat;
    ls->lon = q->lon;
    ls->radius = (q->set & NGX_BOOKING_Q_RADIUS)
                 ? q->radius : NGX_BOOKING_RADIUS_DEFAULT;
    ls->limit = (q->set & NGX_BOOKING_Q_LIMIT) ? q->limit : 20;
    /*
     * Without a range only a resource deleted since the index was read is
     * left out: a page needs hardly more candidates than it shows.
     */
    ls->scan = (ls->from < 0)
               ? ls->limit + ls->limit / 4 + 1
               : ngx_min(NGX_BOOKING_SCAN_FACTOR * ls->limit,
                         NGX_BOOKING_SCAN_MAX);

    if (ls->from >= 0) {
        if (ls->s0 < 0 || ls->nslots == 0) {
            return ngx_booking_op_fail(req, NGX_BOOKING_UNPROCESSABLE,
                                       "invalid", "the range is empty",
                                       "to");
        }

        ngx_booking_chunks(ls->s0, ls->nslots, &ls->first, &ls->nchunks);
    }

    /* a cursor belongs to one query: its type, range, point, radius, ... */
    ls->query.data = ngx_pnalloc(req->pool, ls->type->name.len
                                            + 4 * NGX_INT64_LEN + 64);
    if (ls->query.data == NULL) {
        return NGX_ERROR;
    }

    ls->query.len = ngx_sprintf(ls->query.data, "%V %L %L %L %ui %.8f %.8f %L",
                                &ls->type->name, ls->from, ls->to,
                                ls->quantity, ls->near, ls->lat, ls->lon,
                                ls->radius)
                    - ls->query.data;

    if ((q->set & NGX_BOOKING_Q_CURSOR)
        && ngx_booking_listing_cursor(req, ls) != NGX_OK)
    {
        return ngx_booking_op_fail(req, NGX_HTTP_BAD_REQUEST, "bad_request",
                                   "bad or stale cursor", "cursor");
    }

    return NGX_DECLINED;
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
ngx_booking_listing_cursor(ngx_booking_req_t *req, ngx_booking_listing_t *ls)
{
    u_char     *p, *last, *dot, *end;
    size_t      len;
    double      dist;
    ngx_int_t   pos;
    ngx_str_t   src, dst, msg;

    p = req->query.cursor;
    len = req->query.cursor_len;

    dot = ngx_strlchr(p, p + len, '.');
    if (dot == NULL
        || ngx_booking_listing_signed(req, ls, p, dot - p, &msg) != NGX_OK
        || !ngx_booking_token_check(req->conf->secret.data,
                                    req->conf->secret.len, msg.data,
                                    msg.len, dot + 1, p + len - (dot + 1)))
    {
        return NGX_ERROR;
    }

    src.data = p;
    src.len = dot - p;

    dst.data = ngx_pnalloc(req->pool, ngx_base64_decoded_length(src.len) + 1);
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

    if (ngx_booking_id_check(req->conf, &ls->after_id, req->log) != NGX_OK) {
        return NGX_ERROR;
    }

    ls->after = 1;
    ls->after_pos = pos;
    ls->after_dist = dist;

    return NGX_OK;
}


/* what a cursor's MAC covers: the query, then the cursor's payload */
static ngx_int_t
ngx_booking_listing_signed(ngx_booking_req_t *req, ngx_booking_listing_t *ls,
    u_char *payload, size_t len, ngx_str_t *msg)
{
    msg->len = ls->query.len + 1 + len;
    msg->data = ngx_pnalloc(req->pool, msg->len);
    if (msg->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(msg->data, ls->query.data, ls->query.len);
    msg->data[ls->query.len] = '\n';
    ngx_memcpy(msg->data + ls->query.len + 1, payload, len);

    return NGX_OK;
}


/* without near: the type's ids in order, after the cursor's */
static ngx_int_t
ngx_booking_listing_index(ngx_booking_req_t *req, ngx_booking_listing_t *ls)
{
    u_char              *p;
    ngx_booking_call_t  *call;

    call = ngx_booking_op_call(req, -1, 0, 7, NGX_BOOKING_R_IDS,
                               ngx_booking_listing_candidates);
    p = ngx_pnalloc(req->pool, sizeof(NGX_BOOKING_KEY_T)
                               + ls->type->name.len + ls->after_id.len + 1);
    if (call == NULL || p == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&call->args[0], "ZRANGEBYLEX");
    call->args[1].data = p;
    call->args[1].len = ngx_sprintf(p, NGX_BOOKING_KEY_T,
                                    ls->type->name.data) - p;
    p += call->args[1].len;

    if (ls->after) {
        call->args[2].data = p;
        call->args[2].len = ngx_sprintf(p, "(%V", &ls->after_id) - p;

    } else {
        ngx_str_set(&call->args[2], "-");
    }

    ngx_str_set(&call->args[3], "+");
    ngx_str_set(&call->args[4], "LIMIT");
    ngx_str_set(&call->args[5], "0");

    if (ngx_booking_num(req, &call->args[6], ls->scan + 1) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_booking_op_send(req, call);
}


static ngx_int_t
ngx_booking_listing_search(ngx_booking_req_t *req, ngx_booking_listing_t *ls)
{
    u_char              *p;
    ngx_booking_call_t  *call;

    call = ngx_booking_op_call(req, -1, 0, 12, NGX_BOOKING_R_NEAR,
                               ngx_booking_listing_candidates);
    p = ngx_pnalloc(req->pool, sizeof(NGX_BOOKING_KEY_G) + ls->type->name.len
                               + 2 * 32);
    if (call == NULL || p == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&call->args[0], "GEOSEARCH");
    call->args[1].data = p;
    call->args[1].len = ngx_sprintf(p, NGX_BOOKING_KEY_G,
                                    ls->type->name.data) - p;
    p += call->args[1].len;
    ngx_str_set(&call->args[2], "FROMLONLAT");
    call->args[3].data = p;
    call->args[3].len = ngx_sprintf(p, "%.8f", ls->lon) - p;
    p += call->args[3].len;
    call->args[4].data = p;
    call->args[4].len = ngx_sprintf(p, "%.8f", ls->lat) - p;
    ngx_str_set(&call->args[5], "BYRADIUS");
    ngx_str_set(&call->args[7], "m");
    ngx_str_set(&call->args[8], "ASC");
    ngx_str_set(&call->args[9], "WITHDIST");
    ngx_str_set(&call->args[10], "COUNT");

    /*
     * Nearest first from the start: as many as the pages before took, and
     * this page's scan twice over, so that resources added nearer
     * meanwhile do not make it come up short.
     */
    if (ngx_booking_num(req, &call->args[6], ls->ring) != NGX_OK
        || ngx_booking_num(req, &call->args[11],
                           ls->after_pos + 2 * ls->scan + 1)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_booking_op_send(req, call);
}


static void
ngx_booking_listing_candidates(ngx_booking_call_t *call)
{
    ngx_booking_req_t *req = call->data;

    ngx_int_t  rc;

    rc = ngx_booking_op_check(req, call);

    if (rc == NGX_DECLINED) {
        rc = ngx_booking_listing_found(req, req->state, &call->result.ids);
    }

    ngx_booking_op_done(req, rc);
}


/* the candidates of the page, in order, from the index's answer */
static ngx_int_t
ngx_booking_listing_found(ngx_booking_req_t *req, ngx_booking_listing_t *ls,
    ngx_booking_ids_t *ids)
{
    size_t                    i;
    ngx_uint_t                k, n, skipped;
    ngx_booking_candidate_t  *c, *all;

    /* too few in this ring, and the circle asked for is larger: grow it */
    if (ls->near && ls->ring < ls->radius
        && ids->n < ls->after_pos + 2 * ls->scan + 1)
    {
        ls->ring = ngx_min(ls->radius, ls->ring * NGX_BOOKING_RING_GROWTH);
        return ngx_booking_listing_search(req, ls);
    }

    all = ngx_pcalloc(req->pool,
                      (ids->n + 1) * sizeof(ngx_booking_candidate_t));
    if (all == NULL) {
        return NGX_ERROR;
    }

    n = 0;

    for (i = 0; i < ids->n; i++) {
        c = &all[n++];
        c->dist = ls->near ? ids->values[i] : -1;

        c->id.len = ids->ids[i].len;
        c->id.data = ngx_pnalloc(req->pool, c->id.len);
        if (c->id.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(c->id.data, ids->ids[i].data, c->id.len);
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
    ls->ncand = 0;
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
    if (ls->near && ids->n == ls->after_pos + 2 * ls->scan + 1) {
        ls->more = 1;

        /*
         * So many were added nearer than the cursor that this COUNT did not
         * reach past it: ask again for more (each time strictly more).
         */
        if (ls->ncand < ls->scan && skipped > ls->after_pos
            && ls->refetch++ < 8)
        {
            ls->after_pos = skipped;
            return ngx_booking_listing_search(req, ls);
        }
    }

    /* how many come before this page, as Redis counts them now */
    ls->after_pos = skipped;

    if (ls->ncand == 0) {
        return ngx_booking_listing_page(req, ls);
    }

    return ngx_booking_listing_check(req, ls, 0);
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
 * Sends the next candidates' reads, all at once: first a page's worth (and
 * a half, with a range, since some may be taken), then, while the page is
 * short, as many as the share of free candidates seen so far says the rest
 * of the page needs, and a quarter more.
 */
static ngx_int_t
ngx_booking_listing_check(ngx_booking_req_t *req, ngx_booking_listing_t *ls,
    ngx_uint_t found)
{
    ngx_uint_t                k, n, want;
    ngx_booking_call_t       *call;
    ngx_booking_slot_t       *slot;
    ngx_booking_candidate_t  *c;

    n = ls->ncand - ls->checked;

    if (ls->checked == 0) {
        want = (ls->from < 0) ? ls->limit : ls->limit + ls->limit / 2 + 1;

    } else {
        want = (ls->limit - found) * ls->checked / ngx_max(found, 1);
        want += want / 4 + 1;
    }

    n = ngx_min(n, want);

    ls->base = ls->checked;
    ls->checked += n;
    ls->pending = 0;
    ls->now = -1;

    /* TIME, then each candidate's resource and, with a range, counters */
    for (k = 0; k <= 2 * n; k++) {
        if (k && k % 2 == 0 && ls->from < 0) {
            continue;
        }

        c = &ls->cand[ls->base + (k ? (k - 1) / 2 : 0)];

        slot = ngx_palloc(req->pool, sizeof(ngx_booking_slot_t));
        if (slot == NULL) {
            return NGX_ERROR;
        }

        slot->req = req;
        slot->index = ls->base + (k ? (k - 1) / 2 : 0);
        slot->what = (k == 0) ? NGX_BOOKING_PEEK_TIME
                     : (k % 2) ? NGX_BOOKING_PEEK_RESOURCE
                     : NGX_BOOKING_PEEK_COUNTERS;

        switch (slot->what) {

        case NGX_BOOKING_PEEK_TIME:
            call = ngx_booking_peek_time(req, ngx_booking_listing_peeked);
            break;

        case NGX_BOOKING_PEEK_RESOURCE:
            c->most = -1;
            call = ngx_booking_peek_resource(req, &c->id, 1,
                                             ngx_booking_listing_peeked);
            break;

        default:
            call = ngx_booking_peek_chunks(req, &c->id, ls->nchunks,
                                           ngx_booking_listing_peeked);
            if (call != NULL
                && ngx_booking_peek_chunk(req, call, 0, ls->first,
                                          ls->nchunks)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        if (call == NULL) {
            return NGX_ERROR;
        }

        call->data = slot;

        if (ngx_booking_store_call(call) != NGX_OK) {
            ls->failure = NGX_BOOKING_STORE_UNAVAILABLE;
            break;
        }

        ls->pending++;
    }

    return ngx_booking_op_sent(req, ls->pending);
}


static void
ngx_booking_listing_peeked(ngx_booking_call_t *call)
{
    ngx_booking_slot_t *slot = call->data;

    ngx_booking_req_t        *req;
    ngx_booking_fields_t     *f;
    ngx_booking_listing_t    *ls;
    ngx_booking_candidate_t  *c;

    req = slot->req;
    ls = req->state;
    c = &ls->cand[slot->index];
    f = &call->result.fields;

    if (call->rc != NGX_BOOKING_STORE_OK) {
        if (ls->failed == NULL) {
            ls->failed = call;
        }

    } else if (slot->what == NGX_BOOKING_PEEK_TIME) {
        ls->now = ngx_booking_peek_now(f);

    } else if (slot->what == NGX_BOOKING_PEEK_RESOURCE) {
        if (ngx_booking_peek_parse(req, f, &c->peek) != NGX_OK) {
            ls->error = 1;
        }

    } else if (f->n == ls->nchunks) {
        /* one buffer for every candidate of the page: only the most stays */
        if (ls->counters == NULL) {
            ls->counters = ngx_pnalloc(req->pool, ls->nslots * 4);
        }

        if (ls->counters == NULL) {
            ls->error = 1;

        } else {
            ngx_booking_counters_from(ls->counters, ls->s0, ls->nslots, f->v,
                                      f->n, ls->first);
            c->most = ngx_booking_counters_max(ls->counters, ls->nslots);
        }

    } else {
        ls->error = 1;
    }

    if (--ls->pending > 0) {
        return;
    }

    if (ls->failed != NULL) {
        ngx_booking_op_done(req, ngx_booking_op_failed(req, ls->failed));
        return;
    }

    if (ls->error || ls->failure) {
        ngx_booking_op_done(req, ls->failure ? ngx_booking_op_unavailable(req)
                                             : ngx_booking_op_unexpected(req));
        return;
    }

    ngx_booking_op_done(req, ngx_booking_listing_judge(req, ls));
}


/*
 * A resource closed over some of the range (its opening hours) has no
 * unit free there, as its availability shows: the listing leaves it out.
 */
static ngx_uint_t
ngx_booking_listing_closed(ngx_booking_listing_t *ls, ngx_booking_peek_t *p)
{
    ngx_booking_tz_t      utc;
    ngx_booking_hours_t   h;

    if (ls->from < 0 || p->hours.len == 0
        || ngx_booking_hours_unpack(p->hours.data, p->hours.len, &h)
           != NGX_BOOKING_OK)
    {
        return 0;
    }

    /* a UTC zone: no change, no table */
    ngx_memzero(&utc, sizeof(ngx_booking_tz_t));

    return ngx_booking_hours_open(&h, ls->type->tz ? ls->type->tz : &utc,
                                  ls->from, ls->to)
           != NGX_BOOKING_OK;
}


/* each candidate of the batch from what was read, or left to the script */
static ngx_int_t
ngx_booking_listing_judge(ngx_booking_req_t *req, ngx_booking_listing_t *ls)
{
    ngx_uint_t                k, scripts;
    ngx_booking_peek_t       *p;
    ngx_booking_candidate_t  *c;

    scripts = 0;

    for (k = ls->base; k < ls->checked; k++) {
        c = &ls->cand[k];
        p = &c->peek;
        c->script = 0;

        /*
         * gone, or of another type now: an index entry whose step to
         * remove it has not come (ngx_booking_index.c)
         */
        if (!p->found
            || p->type.len != ls->type->name.len
            || ngx_strncmp(p->type.data, ls->type->name.data, p->type.len)
               != 0)
        {
            continue;
        }

        if (!ngx_booking_peek_fresh(p, ls->now)
            || (ls->from >= 0 && (p->slot != ls->type->slot || c->most < 0)))
        {
            c->script = 1;
            scripts++;
            continue;
        }

        if (p->slot == 0) {
            c->free = p->capacity - p->used;

        } else if (ls->from < 0) {
            c->free = -1;

        } else {
            c->free = ngx_max(p->capacity - c->most, 0);

            if (c->free < ls->quantity || ngx_booking_listing_closed(ls, p))
            {
                continue;
            }
        }

        c->doc = p->doc;
    }

    if (scripts) {
        return ngx_booking_listing_scripts(req, ls);
    }

    return ngx_booking_listing_done(req, ls);
}


/* resource_free for the candidates the plain reads could not decide */
static ngx_int_t
ngx_booking_listing_scripts(ngx_booking_req_t *req,
    ngx_booking_listing_t *ls)
{
    ngx_str_t           *a;
    ngx_uint_t           k;
    ngx_booking_call_t  *call;
    ngx_booking_slot_t  *slot;

    ls->pending = 0;

    for (k = ls->base; k < ls->checked; k++) {
        if (!ls->cand[k].script) {
            continue;
        }

        call = ngx_booking_op_call(req, NGX_BOOKING_SCRIPT_RESOURCE_FREE,
                                   NGX_BOOKING_RESOURCE_FREE_NKEYS,
                                   NGX_BOOKING_RESOURCE_FREE_NARGS,
                                   NGX_BOOKING_R_FREE,
                                   ngx_booking_listing_item);
        slot = ngx_palloc(req->pool, sizeof(ngx_booking_slot_t));

        if (call == NULL || slot == NULL
            || ngx_booking_resource_keys(req, &ls->cand[k].id, call->keys,
                                         ngx_booking_keys_all)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        a = call->args;

        if ((ls->from >= 0
             && (ngx_booking_num(req, &a[NGX_BOOKING_RESOURCE_FREE_A_FROM],
                                 ls->from) != NGX_OK
                 || ngx_booking_num(req, &a[NGX_BOOKING_RESOURCE_FREE_A_TO],
                                    ls->to) != NGX_OK))
            || ngx_booking_num(req, &a[NGX_BOOKING_RESOURCE_FREE_A_QUANTITY],
                               ls->quantity)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        a[NGX_BOOKING_RESOURCE_FREE_A_EVENTS] = req->conf->events;

        slot->req = req;
        slot->index = k;
        call->data = slot;

        if (ngx_booking_store_call(call) != NGX_OK) {
            ls->failure = NGX_BOOKING_STORE_UNAVAILABLE;
            break;
        }

        ls->pending++;
    }

    return ngx_booking_op_sent(req, ls->pending);
}


/*
 * {doc, free}; {'', free} when too few units are free; {} when the resource
 * went away since the first read
 */
static void
ngx_booking_listing_item(ngx_booking_call_t *call)
{
    ngx_booking_slot_t *slot = call->data;

    ngx_booking_req_t        *req;
    ngx_booking_free_t       *f;
    ngx_booking_listing_t    *ls;
    ngx_booking_candidate_t  *c;

    req = slot->req;
    ls = req->state;
    c = &ls->cand[slot->index];
    f = &call->result.free;

    if (call->rc != NGX_BOOKING_STORE_OK) {
        ls->failure = ls->failure ? ls->failure : call->rc;

    } else if (call->result.kind != NGX_BOOKING_R_FREE) {
        ls->failure = NGX_BOOKING_STORE_FAILED;

    } else if (!f->gone && f->doc.len
               && !(f->free >= 0 && ngx_booking_listing_closed(ls, &c->peek)))
    {
        c->doc.len = f->doc.len;
        c->doc.data = ngx_pnalloc(req->pool, c->doc.len);

        if (c->doc.data == NULL) {
            ls->failure = NGX_BOOKING_STORE_FAILED;

        } else {
            ngx_memcpy(c->doc.data, f->doc.data, c->doc.len);
            c->free = f->free;
        }
    }

    if (--ls->pending > 0) {
        return;
    }

    if (ls->failure) {
        call->rc = ls->failure;
        ngx_booking_op_done(req, ngx_booking_op_failed(req, call));
        return;
    }

    ngx_booking_op_done(req, ngx_booking_listing_done(req, ls));
}


static ngx_int_t
ngx_booking_listing_done(ngx_booking_req_t *req, ngx_booking_listing_t *ls)
{
    ngx_uint_t  i, n;

    n = 0;

    for (i = 0; i < ls->checked; i++) {
        if (ls->cand[i].doc.data != NULL
            && (ls->from < 0 || ls->cand[i].free >= ls->quantity))
        {
            n++;
        }
    }

    if (n < ls->limit && ls->checked < ls->ncand) {
        return ngx_booking_listing_check(req, ls, n);
    }

    return ngx_booking_listing_page(req, ls);
}


static ngx_int_t
ngx_booking_listing_page(ngx_booking_req_t *req, ngx_booking_listing_t *ls)
{
    ngx_str_t                 next;
    ngx_uint_t                i, n;
    ngx_booking_item_t       *items;
    ngx_booking_candidate_t  *c;

    items = ngx_palloc(req->pool, (ls->limit + 1) * sizeof(ngx_booking_item_t));
    if (items == NULL) {
        return NGX_ERROR;
    }

    ngx_str_null(&next);
    n = 0;

    for (i = 0; i < ls->checked; i++) {
        c = &ls->cand[i];

        if (c->doc.data == NULL || (ls->from >= 0 && c->free < ls->quantity))
        {
            continue;
        }

        items[n].doc = c->doc;
        items[n].free = c->free;
        items[n].dist = c->dist;

        if (++n == ls->limit) {
            if ((i + 1 < ls->ncand || ls->more)
                && ngx_booking_listing_next(req, ls, c, i + 1, &next)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }

            return ngx_booking_view_listing(&req->answer, req->pool, items,
                                            n, &next);
        }
    }

    /* every candidate sent was looked at: the next page starts after */
    if ((ls->more || ls->checked < ls->ncand) && ls->checked
        && ngx_booking_listing_next(req, ls, &ls->cand[ls->checked - 1],
                                    ls->checked, &next)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_booking_view_listing(&req->answer, req->pool, items, n, &next);
}


/* the cursor after candidate c, the pos-th of this page's */
static ngx_int_t
ngx_booking_listing_next(ngx_booking_req_t *req, ngx_booking_listing_t *ls,
    ngx_booking_candidate_t *c, ngx_uint_t pos, ngx_str_t *next)
{
    u_char     *p;
    ngx_str_t   src, msg;

    /* past the depth bound a nearest-first listing ends */
    if (ls->near && ls->after_pos + pos > NGX_BOOKING_DEPTH_MAX) {
        return NGX_OK;
    }

    p = ngx_pnalloc(req->pool, 64 + c->id.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    src.data = p;
    src.len = ngx_sprintf(p, "%ui:%.4f:%V", ls->after_pos + pos,
                          c->dist >= 0 ? c->dist : 0.0, &c->id)
              - p;

    next->data = ngx_pnalloc(req->pool, ngx_base64_encoded_length(src.len)
                                        + 1 + NGX_BOOKING_TOKEN_LEN);
    if (next->data == NULL) {
        return NGX_ERROR;
    }

    ngx_encode_base64url(next, &src);

    if (ngx_booking_listing_signed(req, ls, next->data, next->len, &msg)
        != NGX_OK
        || ngx_booking_token(req->conf->secret.data, req->conf->secret.len,
                             msg.data, msg.len, next->data + next->len + 1)
           != NGX_BOOKING_OK)
    {
        return NGX_ERROR;
    }

    next->data[next->len] = '.';
    next->len += 1 + NGX_BOOKING_TOKEN_LEN;

    return NGX_OK;
}

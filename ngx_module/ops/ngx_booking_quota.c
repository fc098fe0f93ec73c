/*
 * max_active: the most occupying bookings one user may have on resources
 * of a type at once.  They live on many resources, so in many hash slots:
 * the count is kept in the user's (bk:{u:<user>}:q:<type>), one claim per
 * booking, taken before the booking is made, in the same step as the
 * user's index entry (user_claim).  The steps of a user's booking on a
 * type with max_active:
 *
 *   1. the resource's type (HMGET R type: the worker does not know it);
 *   2. user_claim: the count and the claim, atomically, so that no two of
 *      one user's racing requests take the last place;
 *   3. booking_create, which refuses if the type changed since step 1;
 *   4. if it was refused or replayed another: the claim and the entry out
 *      again (not waited for).
 *
 * A claim ends by itself at the booking's end.  One whose booking stopped
 * occupying sooner (cancelled, declined: taken out after them, not waited
 * for; an expired hold; a step 4 lost) counts until a refusal: the worker
 * then reads the bookings of the claims and sends back those that no
 * longer occupy, and the claim is tried once more.  A claim whose booking
 * is not there is stale only once it is a minute old: younger, its
 * booking may be on its way (step 3 of a racing request), and taking it
 * for stale let a third booking through where max_active was 2.  Claims
 * are never too few, so max_active is never exceeded; a failure between
 * steps only makes one count a little longer.
 *
 * A series claims every occurrence in step 2, all or none, with the
 * occurrences on the clock of the type read in step 1: a user with
 * max_active 3 cannot book a weekly series of 4, nor pass a monthly quota
 * with occurrences of the same month.
 */

#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_booking_ops.h"


#define NGX_BOOKING_FOREVER  253402300799LL

/* the most periods of quotas one booking is checked in */
#define NGX_BOOKING_CHECKS_MAX  512

/* a step that reads one resource's type for every claim */
#define NGX_BOOKING_QUOTA_ALL  ((ngx_uint_t) -1)

/* a period's claims are kept this long after it ends */
#define NGX_BOOKING_PERIOD_KEEP  86400

/*
 * A claim whose booking is not there may be one whose booking is being
 * made (claimed, booking_create on its way): it is stale only this long
 * after it was made, well past any booking_create's time.
 */
#define NGX_BOOKING_CLAIM_YOUNG  60


/* one period of one quota that the booking falls in */
typedef struct {
    ngx_booking_quota_conf_t  *quota;
    ngx_uint_t                 claim;     /* the claim it is of */
    int64_t                    start;
    int64_t                    next;
    int64_t                    amount;
    ngx_str_t                  key;
} ngx_booking_check_t;


typedef struct {
    ngx_booking_req_t    *req;
    ngx_booking_call_t   *create;
    ngx_str_t            *claimed;    /* create's argument: the types */
    ngx_booking_claim_t  *claims;
    ngx_uint_t            nclaims;
    ngx_booking_claims_pt timed;
    void                 *data;
    ngx_uint_t            items;      /* each claim of its own resource */
    ngx_booking_then_pt   then;       /* what sends create, if not it */
    void                 *then_data;
    ngx_str_t            *held;       /* the claims that counted */
    int64_t              *at;         /* when each was made */
    ngx_uint_t            nheld;
    ngx_str_t            *stale;      /* those found no longer occupying */
    ngx_uint_t            nstale;
    ngx_uint_t            pending;
    ngx_booking_call_t   *failed;
    ngx_array_t           checks;     /* ngx_booking_check_t */
    u_char               *verified_which;
    ngx_uint_t            refused;    /* 1 + which, when refused */
} ngx_booking_quota_t;


typedef struct {
    ngx_booking_quota_t  *q;
    ngx_uint_t            i;          /* the claim it reads */
} ngx_booking_quota_part_t;


static void ngx_booking_quota_typed(ngx_booking_call_t *call);
static ngx_int_t ngx_booking_quota_periods(ngx_booking_quota_t *q);
static ngx_int_t ngx_booking_quota_add(ngx_booking_req_t *req,
    ngx_array_t *checks, ngx_booking_quota_conf_t *qc, ngx_str_t *user,
    int64_t start, int64_t end, int64_t made, ngx_uint_t claim);
static ngx_int_t ngx_booking_quota_args(ngx_booking_quota_t *q,
    ngx_str_t *a);
static ngx_uint_t ngx_booking_quota_applies(ngx_booking_quota_conf_t *qc,
    ngx_str_t *type, ngx_str_t *groups);
static ngx_int_t ngx_booking_quota_refused(ngx_booking_quota_t *q,
    ngx_uint_t which);
static ngx_int_t ngx_booking_quota_send(ngx_booking_quota_t *q);
static void ngx_booking_quota_claimed(ngx_booking_call_t *call);
static ngx_int_t ngx_booking_quota_verify(ngx_booking_quota_t *q);
static void ngx_booking_quota_read(ngx_booking_call_t *call);
static ngx_uint_t ngx_booking_quota_occupies(ngx_booking_rec_t *rec,
    int64_t now);
static ngx_int_t ngx_booking_quota_key(ngx_booking_req_t *req,
    const char *which, ngx_str_t *user, ngx_str_t *type, ngx_str_t *key);
static void ngx_booking_quota_drop(ngx_booking_req_t *req, const char *cmd,
    const char *which, ngx_str_t *user, ngx_str_t *type, ngx_str_t *id);
static void ngx_booking_quota_hdel(ngx_booking_req_t *req,
    ngx_array_t *checks, ngx_booking_claim_t *claims, ngx_str_t *id);
static void ngx_booking_quota_unclaim_active(ngx_booking_quota_t *q);
static void ngx_booking_quota_unclaim_type(ngx_booking_quota_t *q,
    ngx_booking_type_t *t, const char *cmd, const char *which);
static ngx_int_t ngx_booking_quota_typed_all(ngx_booking_quota_t *q);
static ngx_int_t ngx_booking_quota_told(ngx_booking_quota_t *q);
static ngx_int_t ngx_booking_quota_create(ngx_booking_quota_t *q);
static ngx_int_t ngx_booking_quota_go(ngx_booking_quota_t *q,
    ngx_booking_call_t *call);
static ngx_int_t ngx_booking_quota_none(ngx_booking_quota_t *q);
static ngx_int_t ngx_booking_quota_back(ngx_booking_quota_t *q,
    ngx_booking_call_t *call);
static void ngx_booking_quota_ignore(ngx_booking_call_t *call);


/* whether any type of nginx.conf has max_active */
ngx_uint_t
ngx_booking_quota_any(ngx_booking_ops_conf_t *conf)
{
    ngx_uint_t           i;
    ngx_booking_type_t  *t;

    t = conf->types.elts;

    for (i = 0; i < conf->types.nelts; i++) {
        if (t[i].max_active) {
            return 1;
        }
    }

    return conf->quotas.nelts > 0;
}


/*
 * The steps before a user's bookings (create: booking_create,
 * series_create or group_create; claimed, its argument that names the
 * types claimed for): the type of each booking's resource first (rid: of
 * them all; NULL: each claim's own, the items of a group); a series'
 * claims (timed) are found then.  NGX_DONE, or the answer.
 */
ngx_int_t
ngx_booking_quota_claim(ngx_booking_req_t *req, ngx_booking_call_t *create,
    ngx_str_t *claimed, ngx_str_t *rid, ngx_booking_claim_t *claims,
    ngx_uint_t n, ngx_booking_claims_pt timed, void *data)
{
    ngx_uint_t                 i;
    ngx_booking_call_t        *call;
    ngx_booking_quota_t       *q;
    ngx_booking_quota_part_t  *part;
    static const char         *r[] = { NGX_BOOKING_KEY_R, NULL };

    q = ngx_pcalloc(req->pool, sizeof(ngx_booking_quota_t));
    if (q == NULL
        || ngx_array_init(&q->checks, req->pool, 4,
                          sizeof(ngx_booking_check_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    q->req = req;
    q->create = create;
    q->claimed = claimed;
    q->claims = claims;
    q->nclaims = n;
    q->timed = timed;
    q->data = data;
    q->items = (rid == NULL);
    req->claims = q;

    for (i = 0; rid != NULL && i < n; i++) {
        claims[i].rid = *rid;
    }

    for (i = 0; i < (q->items ? n : 1); i++) {
        part = ngx_palloc(req->pool, sizeof(ngx_booking_quota_part_t));
        call = ngx_booking_op_call(req, -1, 0, 3, NGX_BOOKING_R_FIELDS,
                                   ngx_booking_quota_typed);
        if (part == NULL || call == NULL
            || ngx_booking_resource_keys(req, &claims[i].rid, &call->args[1],
                                         r)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        part->q = q;
        part->i = q->items ? i : NGX_BOOKING_QUOTA_ALL;

        ngx_str_set(&call->args[0], "HMGET");
        ngx_str_set(&call->args[2], "type");
        call->data = part;

        if (ngx_booking_quota_go(q, call) != NGX_OK) {
            break;
        }
    }

    return q->pending ? NGX_DONE : ngx_booking_quota_none(q);
}


/* a resource's type, known: once every one is, the claims */
static void
ngx_booking_quota_typed(ngx_booking_call_t *call)
{
    ngx_booking_quota_part_t *part = call->data;

    ngx_uint_t              i;
    ngx_booking_quota_t    *q;
    ngx_booking_type_t     *type;
    ngx_booking_fields_t   *f;

    q = part->q;
    f = &call->result.fields;

    if (call->rc == NGX_BOOKING_STORE_OK) {
        /* no such resource, or a type gone from nginx.conf: create tells */
        type = (f->n == 1 && f->v[0].data != NULL)
               ? ngx_booking_find_type(q->req->conf, (u_char *) f->v[0].data,
                                       f->v[0].len)
               : NULL;

        for (i = 0; i < q->nclaims; i++) {
            if (part->i == NGX_BOOKING_QUOTA_ALL || part->i == i) {
                q->claims[i].type = type;
            }
        }
    }

    if (ngx_booking_quota_back(q, call) == NGX_OK) {
        ngx_booking_op_done(q->req, ngx_booking_quota_typed_all(q));
    }
}


/*
 * Each claim with its type (without one, the index entry only: create
 * refuses), create told which types were claimed for (it refuses if one
 * changed since), the periods of quotas; then user_claim.
 */
static ngx_int_t
ngx_booking_quota_typed_all(ngx_booking_quota_t *q)
{
    ngx_int_t            rc;
    ngx_booking_type_t  *type;

    type = q->claims[0].type;

    if (ngx_booking_quota_told(q) != NGX_OK
        || (q->timed != NULL && type != NULL
            && q->timed(q->req, type, q->data, q->claims, &q->nclaims)
               != NGX_OK))
    {
        return NGX_ERROR;
    }

    rc = ngx_booking_quota_periods(q);

    if (rc == NGX_DECLINED) {
        return ngx_booking_op_fail(q->req, NGX_BOOKING_UNPROCESSABLE,
                                   "invalid", "the booking spans too many "
                                   "periods of quotas", "end");
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    q->verified_which = ngx_pcalloc(q->req->pool, q->checks.nelts + 1);
    if (q->verified_which == NULL) {
        return NGX_ERROR;
    }

    return ngx_booking_quota_send(q);
}


/* the type claimed for; a group's: each item's, "-" for none */
static ngx_int_t
ngx_booking_quota_told(ngx_booking_quota_t *q)
{
    u_char              *p;
    ngx_uint_t           i;
    ngx_booking_type_t  *t;

    if (!q->items) {
        if (q->claims[0].type != NULL) {
            *q->claimed = q->claims[0].type->name;
        }

        return NGX_OK;
    }

    p = ngx_pnalloc(q->req->pool,
                    q->nclaims * (NGX_BOOKING_TYPE_NAME_MAX + 1));
    if (p == NULL) {
        return NGX_ERROR;
    }

    q->claimed->data = p;

    for (i = 0; i < q->nclaims; i++) {
        t = q->claims[i].type;
        p = t ? ngx_sprintf(p, "%V ", &t->name) : ngx_sprintf(p, "- ");
    }

    q->claimed->len = p - q->claimed->data;

    return NGX_OK;
}


/*
 * The periods of every quota that applies to each booking: each period it
 * overlaps (a timeless one: the period of now, its created_at), with 1
 * for count= or its seconds in the period for hours=.  None for a booking
 * that its script will refuse anyway (a start without an end, unaligned,
 * backwards, longer than max): claims only cost then.
 */
static ngx_int_t
ngx_booking_quota_periods(ngx_booking_quota_t *q)
{
    int64_t                    s, e, slot;
    ngx_int_t                  rc;
    ngx_uint_t                 i, k;
    ngx_booking_req_t         *req;
    ngx_booking_type_t        *t;
    ngx_booking_quota_conf_t  *qc;

    req = q->req;
    qc = req->conf->quotas.elts;

    for (k = 0; k < q->nclaims; k++) {
        t = q->claims[k].type;
        s = q->claims[k].start;
        e = q->claims[k].end;

        if (t == NULL) {
            continue;
        }

        slot = t->slot;

        if ((s >= 0) != (e >= 0)
            || (s >= 0 && (slot <= 0 || e <= s || s % slot || e % slot
                           || (t->max > 0 && e - s > t->max))))
        {
            continue;
        }

        for (i = 0; i < req->conf->quotas.nelts; i++) {
            if (!ngx_booking_quota_applies(&qc[i], &t->name,
                                           &req->caller.groups))
            {
                continue;
            }

            rc = ngx_booking_quota_add(req, &q->checks, &qc[i],
                                       &req->caller.user, s, e, ngx_time(),
                                       k);
            if (rc != NGX_OK) {
                return rc;
            }
        }
    }

    return NGX_OK;
}


/* the periods of one quota that [start, end) overlaps, into checks */
static ngx_int_t
ngx_booking_quota_add(ngx_booking_req_t *req, ngx_array_t *checks,
    ngx_booking_quota_conf_t *qc, ngx_str_t *user, int64_t start,
    int64_t end, int64_t made, ngx_uint_t claim)
{
    int64_t                   t, ps, pn;
    ngx_booking_check_t      *c;
    static ngx_booking_tz_t   utc;

    /* a timeless booking has no hours */
    if (start < 0 && qc->hours) {
        return NGX_OK;
    }

    t = start >= 0 ? start : made;

    do {
        ngx_booking_tz_period(qc->tz ? qc->tz : &utc, qc->per, t, &ps, &pn);

        if (checks->nelts == NGX_BOOKING_CHECKS_MAX) {
            return NGX_DECLINED;
        }

        c = ngx_array_push(checks);
        if (c == NULL) {
            return NGX_ERROR;
        }

        c->quota = qc;
        c->claim = claim;
        c->start = ps;
        c->next = pn;
        c->amount = !qc->hours ? 1
                    : ngx_min(pn, end) - ngx_max(ps, start);

        c->key.data = ngx_pnalloc(req->pool, sizeof(NGX_BOOKING_KEY_P)
                                  + user->len + qc->name.len
                                  + NGX_INT64_LEN);
        if (c->key.data == NULL) {
            return NGX_ERROR;
        }

        c->key.len = ngx_sprintf(c->key.data, "bk:{u:%V}:p:%V:%L", user,
                                 &qc->name, ps)
                     - c->key.data;

        t = pn;

    } while (start >= 0 && t < end);

    return NGX_OK;
}


/* the quota's types hold the type, and its groups one of the caller's */
static ngx_uint_t
ngx_booking_quota_applies(ngx_booking_quota_conf_t *qc, ngx_str_t *type,
    ngx_str_t *groups)
{
    u_char      *p, *last, *comma, *s, *e;
    ngx_str_t   *n;
    ngx_uint_t   i, found;

    if (qc->types != NULL) {
        n = qc->types->elts;
        found = 0;

        for (i = 0; i < qc->types->nelts && !found; i++) {
            found = (n[i].len == type->len
                     && ngx_strncmp(n[i].data, type->data, type->len) == 0);
        }

        if (!found) {
            return 0;
        }
    }

    if (qc->groups == NULL || groups == NULL) {
        return 1;
    }

    /* the caller's groups: comma-separated, spaces around them ignored */
    n = qc->groups->elts;
    p = groups->data;
    last = groups->data + groups->len;

    while (p < last) {
        comma = ngx_strlchr(p, last, ',');
        comma = comma ? comma : last;

        for (s = p; s < comma && *s == ' '; s++) { /* void */ }
        for (e = comma; e > s && e[-1] == ' '; e--) { /* void */ }

        for (i = 0; i < qc->groups->nelts; i++) {
            if (n[i].len == (size_t) (e - s)
                && ngx_strncmp(n[i].data, s, e - s) == 0)
            {
                return 1;
            }
        }

        p = comma + 1;
    }

    return 0;
}


/* user_claim, with the stale claims found so far */
static ngx_int_t
ngx_booking_quota_send(ngx_booking_quota_t *q)
{
    ngx_str_t            *k, *name, qkey, wkey, none;
    ngx_uint_t            i;
    ngx_booking_req_t    *req;
    ngx_booking_call_t   *call;
    ngx_booking_type_t   *t;
    ngx_booking_check_t  *c;

    req = q->req;

    call = ngx_booking_op_call(req, NGX_BOOKING_SCRIPT_USER_CLAIM,
                               1 + 2 * q->nclaims + q->checks.nelts,
                               NGX_BOOKING_USER_CLAIM_A_REST
                               + 4 * q->nclaims + 5 * q->checks.nelts
                               + q->nstale,
                               NGX_BOOKING_R_FIELDS,
                               ngx_booking_quota_claimed);
    if (call == NULL) {
        return NGX_ERROR;
    }

    k = call->keys;
    ngx_str_set(&none, "");

    if (ngx_booking_user_key(req, &k[NGX_BOOKING_USER_CLAIM_K_U]) != NGX_OK
        || ngx_booking_quota_args(q, call->args) != NGX_OK)
    {
        return NGX_ERROR;
    }

    k += NGX_BOOKING_USER_CLAIM_K_Q;

    /* each claim's type's Q and W: made again only for another type */
    for (i = 0; i < q->nclaims; i++) {
        t = q->claims[i].type;

        if (i == 0 || t != q->claims[i - 1].type) {
            name = t ? &t->name : &none;

            if (ngx_booking_quota_key(req, "q", &req->caller.user, name,
                                      &qkey)
                != NGX_OK
                || ngx_booking_quota_key(req, "w", &req->caller.user, name,
                                         &wkey)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        *k++ = qkey;
        *k++ = wkey;
    }

    c = q->checks.elts;

    for (i = 0; i < q->checks.nelts; i++) {
        *k++ = c[i].key;
    }

    /* with booking_redis_replicas, WAITed on its node, in a Cluster */
    call->writes = 1;
    call->data = q;

    return ngx_booking_op_send(req, call);
}


/* checks claims, then each claim's, each check's, the stale claims */
static ngx_int_t
ngx_booking_quota_args(ngx_booking_quota_t *q, ngx_str_t *a)
{
    ngx_uint_t            i;
    ngx_booking_req_t    *req;
    ngx_booking_check_t  *c;
    ngx_booking_claim_t  *cl;

    req = q->req;

    if (ngx_booking_num(req, &a[NGX_BOOKING_USER_CLAIM_A_CHECKS],
                        (int64_t) q->checks.nelts) != NGX_OK
        || ngx_booking_num(req, &a[NGX_BOOKING_USER_CLAIM_A_CLAIMS],
                           (int64_t) q->nclaims) != NGX_OK)
    {
        return NGX_ERROR;
    }

    a += NGX_BOOKING_USER_CLAIM_A_REST;

    for (i = 0; i < q->nclaims; i++) {
        cl = &q->claims[i];

        a[0] = cl->id;
        a[1] = cl->score;

        if (ngx_booking_num(req, &a[2],
                            cl->end >= 0 ? cl->end : NGX_BOOKING_FOREVER)
            != NGX_OK
            || ngx_booking_num(req, &a[3],
                               cl->type ? (int64_t) cl->type->max_active : 0)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        a += 4;
    }

    c = q->checks.elts;

    for (i = 0; i < q->checks.nelts; i++) {
        if (ngx_booking_num(req, &a[0], (int64_t) c[i].claim + 1) != NGX_OK
            || ngx_booking_num(req, &a[1], c[i].quota->limit) != NGX_OK
            || ngx_booking_num(req, &a[2], c[i].amount) != NGX_OK
            || ngx_booking_num(req, &a[3],
                               c[i].next + NGX_BOOKING_PERIOD_KEEP)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (c[i].quota->hours) {
            ngx_str_set(&a[4], "0");

        } else {
            ngx_str_set(&a[4], "1");
        }

        a += 5;
    }

    for (i = 0; i < q->nstale; i++) {
        a[i] = q->stale[i];
    }

    return NGX_OK;
}


static void
ngx_booking_quota_claimed(ngx_booking_call_t *call)
{
    ngx_booking_quota_t *q = call->data;

    ngx_int_t              which;
    ngx_uint_t             i;
    ngx_booking_req_t     *req;
    ngx_booking_span_t    *id, *at;
    ngx_booking_fields_t  *f;

    req = q->req;
    f = &call->result.fields;

    if (call->rc != NGX_BOOKING_STORE_OK) {
        ngx_booking_op_done(req, ngx_booking_op_failed(req, call));
        return;
    }

    if (f->n == 1 && f->v[0].len == 2
        && ngx_strncmp(f->v[0].data, "ok", 2) == 0)
    {
        ngx_booking_op_done(req, ngx_booking_quota_create(q));
        return;
    }

    if (f->n < 1 || f->v[0].len != 5
        || ngx_strncmp(f->v[0].data, "quota", 5) != 0)
    {
        ngx_booking_op_done(req, ngx_booking_op_unexpected(req));
        return;
    }

    which = (f->n >= 2 && f->v[1].data != NULL)
            ? ngx_atoi((u_char *) f->v[1].data, f->v[1].len) : NGX_ERROR;

    if (which == NGX_ERROR || (ngx_uint_t) which > q->checks.nelts) {
        ngx_booking_op_done(req, ngx_booking_op_unexpected(req));
        return;
    }

    /*
     * Refused again where its claims were read already: it is full.  The
     * retry of a request that was made, with its Idempotency-Key, must
     * get its first answer all the same: booking_create replays it, or
     * refuses ("!") and ngx_booking_quota_answer words the refusal.
     */
    if (q->verified_which[which]) {
        q->refused = which + 1;

        if (req->idempotency.len) {
            ngx_str_set(q->claimed, "!");
            ngx_booking_op_done(req, ngx_booking_quota_create(q));
            return;
        }

        ngx_booking_op_done(req, ngx_booking_quota_refused(q, which));
        return;
    }

    q->verified_which[which] = 1;
    q->nstale = 0;

    /* the claims that counted and when, kept beyond the reply */
    q->nheld = (f->n - 2) / 2;
    q->held = ngx_palloc(req->pool, (q->nheld + 1) * sizeof(ngx_str_t));
    q->stale = ngx_palloc(req->pool, (q->nheld + 1) * sizeof(ngx_str_t));
    q->at = ngx_palloc(req->pool, (q->nheld + 1) * sizeof(int64_t));

    if (q->held == NULL || q->stale == NULL || q->at == NULL) {
        ngx_booking_op_done(req, NGX_ERROR);
        return;
    }

    for (i = 0; i < q->nheld; i++) {
        id = &f->v[2 + 2 * i];
        at = &f->v[3 + 2 * i];

        q->held[i].len = id->data ? id->len : 0;
        q->held[i].data = ngx_pnalloc(req->pool, q->held[i].len + 1);

        if (q->held[i].data == NULL) {
            ngx_booking_op_done(req, NGX_ERROR);
            return;
        }

        ngx_memcpy(q->held[i].data, id->data, q->held[i].len);

        /* not a number: as old as can be, so its booking decides */
        q->at[i] = at->data ? ngx_atotm((u_char *) at->data, at->len) : 0;

        if (q->at[i] < 0) {
            q->at[i] = 0;
        }
    }

    ngx_booking_op_done(req, ngx_booking_quota_verify(q));
}


/* the step after the claims: create, or what sends it */
static ngx_int_t
ngx_booking_quota_create(ngx_booking_quota_t *q)
{
    if (q->then != NULL) {
        return q->then(q->then_data);
    }

    return ngx_booking_op_send(q->req, q->create);
}


/* claims made: then() instead of sending create (a group across slots) */
void
ngx_booking_quota_then(ngx_booking_req_t *req, ngx_booking_then_pt then,
    void *data)
{
    ngx_booking_quota_t  *q;

    q = req->claims;

    if (q != NULL) {
        q->then = then;
        q->then_data = data;
    }
}


/* booking_create's 429 of a refused claim ("!"): the refusal's own words */
ngx_int_t
ngx_booking_quota_answer(ngx_booking_req_t *req)
{
    ngx_booking_quota_t  *q;

    q = req->claims;

    if (q == NULL || q->refused == 0
        || req->answer.status != NGX_HTTP_TOO_MANY_REQUESTS)
    {
        return NGX_OK;
    }

    return ngx_booking_quota_refused(q, q->refused - 1);
}


/* 429: max_active (which 0), or the quota and period of the which-th */
static ngx_int_t
ngx_booking_quota_refused(ngx_booking_quota_t *q, ngx_uint_t which)
{
    ngx_booking_check_t  *c;

    if (which == 0) {
        return ngx_booking_op_fail(q->req, NGX_HTTP_TOO_MANY_REQUESTS,
                                   "quota", "this user already has "
                                   "max_active bookings of this type",
                                   "resource");
    }

    c = (ngx_booking_check_t *) q->checks.elts + which - 1;

    return ngx_booking_view_quota(&q->req->answer, q->req->pool,
                                  &c->quota->name, c->start);
}


/*
 * The bookings of the claims, read (bookings_get, one call a resource,
 * all at once): those gone or no longer occupying are stale.
 */
static ngx_int_t
ngx_booking_quota_verify(ngx_booking_quota_t *q)
{
    ngx_str_t                  rid, rand, *id;
    ngx_uint_t                 i;
    ngx_booking_req_t         *req;
    ngx_booking_call_t        *call;
    ngx_booking_quota_part_t  *part;
    static const char         *rbx[] = { NGX_BOOKING_KEY_R,
                                         NGX_BOOKING_KEY_B,
                                         NGX_BOOKING_KEY_X,
                                         NGX_BOOKING_KEY_V, NULL };

    req = q->req;

    for (i = 0; i < q->nheld; i++) {
        id = &q->held[i];

        if (id->len == 0 || ngx_booking_split_id(id, &rid, &rand) != NGX_OK
            || ngx_booking_id_check(req->conf, &rid, req->log) != NGX_OK)
        {
            q->stale[q->nstale++] = *id;
            id->len = 0;
            continue;
        }

        part = ngx_palloc(req->pool, sizeof(ngx_booking_quota_part_t));
        call = ngx_booking_op_call(req, NGX_BOOKING_SCRIPT_BOOKINGS_GET,
                                   NGX_BOOKING_BOOKINGS_GET_NKEYS,
                                   NGX_BOOKING_BOOKINGS_GET_NARGS + 1,
                                   NGX_BOOKING_R_RECS,
                                   ngx_booking_quota_read);
        if (part == NULL || call == NULL
            || ngx_booking_resource_keys(req, &rid, call->keys, rbx)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        part->q = q;
        part->i = i;

        ngx_str_set(&call->args[NGX_BOOKING_BOOKINGS_GET_A_USER], "");
        ngx_str_set(&call->args[NGX_BOOKING_BOOKINGS_GET_A_ADMIN], "1");
        call->args[NGX_BOOKING_BOOKINGS_GET_A_RANDS] = rand;
        call->data = part;

        if (ngx_booking_quota_go(q, call) != NGX_OK) {
            break;
        }
    }

    if (q->pending) {
        return NGX_DONE;
    }

    if (q->failed) {
        return ngx_booking_quota_none(q);
    }

    return ngx_booking_quota_send(q);
}


static void
ngx_booking_quota_read(ngx_booking_call_t *call)
{
    ngx_booking_quota_part_t *part = call->data;

    ngx_booking_quota_t  *q;
    ngx_booking_page_t   *page;

    q = part->q;
    page = &call->result.page;

    if (call->rc == NGX_BOOKING_STORE_OK
        && call->result.kind != NGX_BOOKING_R_RECS)
    {
        call->rc = NGX_BOOKING_STORE_FAILED;

    } else if (call->rc == NGX_BOOKING_STORE_OK
               && (page->n != 1 || page->recs[0].id.len == 0
                   ? q->at[part->i] + NGX_BOOKING_CLAIM_YOUNG < ngx_time()
                   : !ngx_booking_quota_occupies(&page->recs[0],
                                                 ngx_time())))
    {
        q->stale[q->nstale++] = q->held[part->i];
    }

    if (ngx_booking_quota_back(q, call) == NGX_OK) {
        ngx_booking_op_done(q->req, ngx_booking_quota_send(q));
    }
}


/* one call of a batch sent at once: NGX_DECLINED when it could not go */
static ngx_int_t
ngx_booking_quota_go(ngx_booking_quota_t *q, ngx_booking_call_t *call)
{
    if (ngx_booking_store_call(call) != NGX_OK) {
        q->failed = call;
        call->rc = NGX_BOOKING_STORE_UNAVAILABLE;
        return NGX_DECLINED;
    }

    q->pending++;

    return NGX_OK;
}


/* the first call of a batch could not go: 503, none is out */
static ngx_int_t
ngx_booking_quota_none(ngx_booking_quota_t *q)
{
    q->failed = NULL;

    return ngx_booking_op_unavailable(q->req);
}


/*
 * A call of a batch back: NGX_OK once all are and none failed; NGX_AGAIN
 * while others are out; NGX_ABORT when one failed (answered here).
 */
static ngx_int_t
ngx_booking_quota_back(ngx_booking_quota_t *q, ngx_booking_call_t *call)
{
    ngx_booking_call_t  *failed;

    if (call->rc != NGX_BOOKING_STORE_OK && q->failed == NULL) {
        q->failed = call;
    }

    if (--q->pending > 0) {
        return NGX_AGAIN;
    }

    if (q->failed == NULL) {
        return NGX_OK;
    }

    failed = q->failed;
    q->failed = NULL;

    if (failed->rc == NGX_BOOKING_STORE_OK) {
        failed->rc = NGX_BOOKING_STORE_FAILED;
    }

    ngx_booking_op_done(q->req, ngx_booking_op_failed(q->req, failed));

    return NGX_ABORT;
}


/*
 * Held (and not expired: bookings_get shows an expired hold as such),
 * requested or confirmed; or a waitlist entry still waiting (its claims
 * are its offer's, made before it joined).  Ended or not: a quota's
 * period counts the bookings that were, and max_active's claims end by
 * themselves at the booking's end (user_claim).
 */
static ngx_uint_t
ngx_booking_quota_occupies(ngx_booking_rec_t *rec, int64_t now)
{
    ngx_booking_span_t  *s;

    s = &rec->status;

    if (!((s->len == 4 && ngx_strncmp(s->data, "held", 4) == 0)
          || (s->len == 9 && ngx_strncmp(s->data, "requested", 9) == 0)
          || (s->len == 9 && ngx_strncmp(s->data, "confirmed", 9) == 0)
          || (s->len == 7 && ngx_strncmp(s->data, "waiting", 7) == 0)))
    {
        return 0;
    }

    return 1;
}


/*
 * Bookings refused or replayed after their claims were made: the claims
 * of those not made out again, not waited for.
 */
void
ngx_booking_quota_unclaim(ngx_booking_req_t *req)
{
    ngx_booking_quota_t  *q;

    q = req->claims;

    if (q == NULL) {
        return;
    }

    ngx_booking_quota_hdel(req, &q->checks, q->claims, NULL);
    ngx_booking_quota_unclaim_active(q);
}


/* ZREM Q and HDEL W of the claims not made, one command each a type */
static void
ngx_booking_quota_unclaim_active(ngx_booking_quota_t *q)
{
    ngx_uint_t           i, j;
    ngx_booking_type_t  *t;

    for (i = 0; i < q->nclaims; i++) {
        t = q->claims[i].type;

        if (q->claims[i].made || t == NULL || t->max_active == 0) {
            continue;
        }

        /* a type once, at its first claim not made */
        for (j = 0; j < i; j++) {
            if (!q->claims[j].made && q->claims[j].type == t) {
                break;
            }
        }

        if (j == i) {
            ngx_booking_quota_unclaim_type(q, t, "ZREM", "q");
            ngx_booking_quota_unclaim_type(q, t, "HDEL", "w");
        }
    }
}


static void
ngx_booking_quota_unclaim_type(ngx_booking_quota_t *q, ngx_booking_type_t *t,
    const char *cmd, const char *which)
{
    ngx_str_t           *a;
    ngx_uint_t           i, n;
    ngx_booking_call_t  *call;

    for (n = 0, i = 0; i < q->nclaims; i++) {
        n += (!q->claims[i].made && q->claims[i].type == t);
    }

    call = ngx_booking_op_call(q->req, -1, 0, 2 + n, NGX_BOOKING_R_STATUS,
                               ngx_booking_quota_ignore);
    if (call == NULL
        || ngx_booking_quota_key(q->req, which, &q->req->caller.user,
                                 &t->name, &call->args[1])
           != NGX_OK)
    {
        return;
    }

    call->args[0].data = (u_char *) cmd;
    call->args[0].len = ngx_strlen(cmd);
    a = &call->args[2];

    for (i = 0; i < q->nclaims; i++) {
        if (!q->claims[i].made && q->claims[i].type == t) {
            *a++ = q->claims[i].id;
        }
    }

    (void) ngx_booking_store_call(call);
}


/*
 * A booking that no longer occupies (cancelled, declined), or a waitlist
 * entry deleted, gives its claims back now, not when they are found stale.
 */
void
ngx_booking_release_claims(ngx_booking_req_t *req, ngx_booking_rec_t *rec)
{
    ngx_str_t  user, type, id;

    user.data = (u_char *) rec->user.data;
    user.len = rec->user.len;
    type.data = (u_char *) rec->type.data;
    type.len = rec->type.len;
    id.data = (u_char *) rec->id.data;
    id.len = rec->id.len;

    ngx_booking_quota_release(req, &user, &type, &id);
    ngx_booking_quota_release_periods(req, &user, &type, &id, rec->start,
                                      rec->end, rec->created_at);
}


/*
 * After a cancel or a decline: the booking's claim out of its user's
 * max_active count, not waited for (one lost counts until a refusal reads
 * it).
 */
void
ngx_booking_quota_release(ngx_booking_req_t *req, ngx_str_t *user,
    ngx_str_t *type, ngx_str_t *id)
{
    ngx_booking_type_t  *t;

    t = ngx_booking_find_type(req->conf, type->data, type->len);

    if (t == NULL || t->max_active == 0 || user->len == 0) {
        return;
    }

    ngx_booking_quota_drop(req, "ZREM", "q", user, type, id);
    ngx_booking_quota_drop(req, "HDEL", "w", user, type, id);
}


/*
 * After a cancel or a decline: the booking out of every period of every
 * quota of its type, whatever groups its user was in (a field that is not
 * there is nothing to HDEL), not waited for.  An expired hold has no
 * request: its claims stay until a refusal reads them.
 */
void
ngx_booking_quota_release_periods(ngx_booking_req_t *req, ngx_str_t *user,
    ngx_str_t *type, ngx_str_t *id, int64_t start, int64_t end, int64_t made)
{
    ngx_uint_t                 i;
    ngx_array_t                checks;
    ngx_booking_quota_conf_t  *qc;

    if (user->len == 0 || req->conf->quotas.nelts == 0
        || ngx_array_init(&checks, req->pool, 4, sizeof(ngx_booking_check_t))
           != NGX_OK)
    {
        return;
    }

    qc = req->conf->quotas.elts;

    for (i = 0; i < req->conf->quotas.nelts; i++) {
        if (ngx_booking_quota_applies(&qc[i], type, NULL)
            && ngx_booking_quota_add(req, &checks, &qc[i], user, start, end,
                                     made, 0)
               == NGX_ERROR)
        {
            return;
        }
    }

    ngx_booking_quota_hdel(req, &checks, NULL, id);
}


/*
 * The booking id out of each period's claims, or each check's claim not
 * made out of its period's, not waited for
 */
static void
ngx_booking_quota_hdel(ngx_booking_req_t *req, ngx_array_t *checks,
    ngx_booking_claim_t *claims, ngx_str_t *id)
{
    ngx_uint_t            i;
    ngx_booking_call_t   *call;
    ngx_booking_check_t  *c;

    c = checks->elts;

    for (i = 0; i < checks->nelts; i++) {
        if (claims != NULL && claims[c[i].claim].made) {
            continue;
        }

        call = ngx_booking_op_call(req, -1, 0, 3, NGX_BOOKING_R_STATUS,
                                   ngx_booking_quota_ignore);
        if (call == NULL) {
            return;
        }

        ngx_str_set(&call->args[0], "HDEL");
        call->args[1] = c[i].key;
        call->args[2] = claims ? claims[c[i].claim].id : *id;

        (void) ngx_booking_store_call(call);
    }
}


/* cmd bk:{u:<user>}:<which>:<type> id, not waited for */
static void
ngx_booking_quota_drop(ngx_booking_req_t *req, const char *cmd,
    const char *which, ngx_str_t *user, ngx_str_t *type, ngx_str_t *id)
{
    ngx_booking_call_t  *call;

    call = ngx_booking_op_call(req, -1, 0, 3, NGX_BOOKING_R_STATUS,
                               ngx_booking_quota_ignore);
    if (call == NULL
        || ngx_booking_quota_key(req, which, user, type, &call->args[1])
           != NGX_OK)
    {
        return;
    }

    call->args[0].data = (u_char *) cmd;
    call->args[0].len = ngx_strlen(cmd);
    call->args[2] = *id;

    (void) ngx_booking_store_call(call);
}


/* bk:{u:<user>}:q:<type> (the claims), or :w: (when each was made) */
static ngx_int_t
ngx_booking_quota_key(ngx_booking_req_t *req, const char *which,
    ngx_str_t *user, ngx_str_t *type, ngx_str_t *key)
{
    key->data = ngx_pnalloc(req->pool, sizeof(NGX_BOOKING_KEY_Q) + user->len
                                       + type->len);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    key->len = ngx_sprintf(key->data, "bk:{u:%V}:%s:%V", user, which, type)
               - key->data;

    return NGX_OK;
}


static void
ngx_booking_quota_ignore(ngx_booking_call_t *call)
{
    /* a claim left behind counts until a refusal reads it: never too few */
}

/*
 * Bookings that belong together (SPEC.md §6).  A recurring series is a
 * group of bookings of one resource: its occurrences are found here, on
 * the wall clock of each type's tz (the worker does not know the
 * resource's type yet), and the script "series_create" checks every one
 * against the rules and the units free and books them all, or those that
 * fit, in one step.  GET /groups/{id} and its confirm and cancel are the
 * script "group", which changes every booking of the group or none.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_booking_ops.h"


/* the ids made for a series, for the user's index */
typedef struct {
    ngx_booking_call_t         *call;       /* series_create */
    ngx_booking_ask_t          *ask;
    ngx_booking_claim_t        *claims;     /* with max_active or quotas */
    ngx_str_t                   rid;
    ngx_str_t                  *ids;
    ngx_str_t                  *scores;
    ngx_uint_t                  n;
    int64_t                    *first;      /* the starts on one clock */
    size_t                      nfirst;
} ngx_booking_series_t;


static ngx_int_t ngx_booking_series_occurrences(ngx_booking_req_t *req,
    ngx_booking_ask_t *ask, ngx_str_t *out, ngx_booking_series_t *ser);
static u_char *ngx_booking_series_line(ngx_booking_type_t *t,
    ngx_booking_ask_t *ask, u_char *p, int64_t *starts, int64_t *ends,
    size_t *n);
static ngx_int_t ngx_booking_series_quotas(ngx_booking_req_t *req,
    ngx_str_t *out);
static ngx_int_t ngx_booking_series_claim(ngx_booking_req_t *req,
    ngx_booking_series_t *ser, ngx_uint_t items);
static ngx_int_t ngx_booking_series_timed(ngx_booking_req_t *req,
    ngx_booking_type_t *type, void *data, ngx_booking_claim_t *claims,
    ngx_uint_t *n);
static void ngx_booking_series_unclaim(ngx_booking_req_t *req,
    ngx_booking_series_t *ser, ngx_booking_call_t *call);
static ngx_int_t ngx_booking_series_ids(ngx_booking_req_t *req,
    ngx_booking_ask_t *ask, ngx_str_t *rands, ngx_booking_series_t *ser);
static ngx_int_t ngx_booking_series_keys(ngx_booking_req_t *req,
    ngx_str_t *rid, ngx_str_t *rand, ngx_str_t *scope, ngx_str_t *keys);
static ngx_booking_call_t *ngx_booking_series_index(ngx_booking_req_t *req,
    ngx_booking_series_t *ser, const char *cmd, ngx_booking_call_pt handler);
static void ngx_booking_series_send(ngx_booking_call_t *zadd);
static void ngx_booking_series_made(ngx_booking_call_t *call);
static void ngx_booking_series_ignore(ngx_booking_call_t *call);
static void ngx_booking_series_flag(ngx_str_t *s, ngx_uint_t on);
static ngx_int_t ngx_booking_items_arg(ngx_booking_req_t *req,
    ngx_booking_ask_t *ask, ngx_str_t *out);
static ngx_int_t ngx_booking_items_keys(ngx_booking_req_t *req,
    ngx_booking_ask_t *ask, ngx_str_t *rand, ngx_str_t *keys);
static ngx_int_t ngx_booking_group_items(ngx_booking_req_t *req,
    ngx_booking_call_t *first);
static ngx_int_t ngx_booking_group_call(ngx_booking_req_t *req,
    ngx_str_t *op);
static void ngx_booking_group_done(ngx_booking_call_t *call);
static void ngx_booking_group_release(ngx_booking_req_t *req,
    ngx_booking_group_t *g);
static ngx_int_t ngx_booking_group_answer(ngx_booking_req_t *req,
    ngx_booking_group_t *g, ngx_str_t *rid);
static ngx_int_t ngx_booking_group_changed(ngx_booking_req_t *req,
    ngx_booking_group_t *g);
static ngx_int_t ngx_booking_group_copy(ngx_booking_req_t *req,
    ngx_str_t *dst, ngx_booking_span_t *src);


/* a zone of no change: UTC, for types without tz */
static ngx_booking_tz_t  ngx_booking_utc;

static ngx_str_t  ngx_booking_get_op = ngx_string("get");


ngx_int_t
ngx_booking_series(ngx_booking_req_t *req, ngx_booking_ask_t *ask)
{
    u_char                *p;
    ngx_str_t             *a, rand;
    ngx_uint_t             i;
    ngx_booking_call_t    *call, *zadd;
    ngx_booking_series_t  *ser;
    ngx_booking_caller_t  *who;

    who = &req->caller;

    ser = ngx_pcalloc(req->pool, sizeof(ngx_booking_series_t));
    call = ngx_booking_op_call(req, NGX_BOOKING_SCRIPT_SERIES_CREATE,
                               NGX_BOOKING_SERIES_CREATE_NKEYS,
                               NGX_BOOKING_SERIES_CREATE_NARGS
                               + req->conf->types.nelts,
                               NGX_BOOKING_R_GROUP, ngx_booking_series_made);
    p = ngx_pnalloc(req->pool, NGX_BOOKING_RAND_LEN);

    if (ser == NULL || call == NULL || p == NULL
        || ngx_booking_random_id(p) != NGX_BOOKING_OK)
    {
        return NGX_ERROR;
    }

    rand.data = p;
    rand.len = NGX_BOOKING_RAND_LEN;
    a = call->args;

    if (ngx_booking_series_occurrences(req, ask,
                             &a[NGX_BOOKING_SERIES_CREATE_A_OCCURRENCES], ser)
        != NGX_OK
        || ngx_booking_series_ids(req, ask,
                                  &a[NGX_BOOKING_SERIES_CREATE_A_RANDS], ser)
           != NGX_OK
        || ngx_booking_series_quotas(req,
                                     &a[NGX_BOOKING_SERIES_CREATE_A_QUOTAS])
           != NGX_OK
        || ngx_booking_num(req, &a[NGX_BOOKING_SERIES_CREATE_A_QUANTITY],
                           ask->in.quantity)
           != NGX_OK
        || ngx_booking_series_keys(req, &ask->rid, &rand, &ask->scope,
                                   call->keys)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    a[NGX_BOOKING_SERIES_CREATE_A_RAND] = rand;
    a[NGX_BOOKING_SERIES_CREATE_A_USER] = who->user;
    a[NGX_BOOKING_SERIES_CREATE_A_KIND] = ask->kind;
    ngx_booking_series_flag(&a[NGX_BOOKING_SERIES_CREATE_A_HOLD], ask->in.hold);
    a[NGX_BOOKING_SERIES_CREATE_A_NOTE] = ask->note;
    ngx_booking_series_flag(&a[NGX_BOOKING_SERIES_CREATE_A_ADMIN], who->admin);
    a[NGX_BOOKING_SERIES_CREATE_A_GROUPS] = who->groups;
    a[NGX_BOOKING_SERIES_CREATE_A_SCOPE] = ask->scope;
    a[NGX_BOOKING_SERIES_CREATE_A_FINGERPRINT] = ask->fp;
    ngx_booking_series_flag(&a[NGX_BOOKING_SERIES_CREATE_A_SKIP], ask->in.skip);
    a[NGX_BOOKING_SERIES_CREATE_A_EVENTS] = req->conf->events;

    for (i = 0; i < req->conf->types.nelts; i++) {
        a[NGX_BOOKING_SERIES_CREATE_A_RULES + i] = req->conf->rules[i];
    }

    ser->call = call;
    ser->ask = ask;
    ser->rid = ask->rid;
    req->state = ser;

    if (who->user.len == 0) {
        return ngx_booking_op_send(req, call);
    }

    /* every occurrence claimed, with its index entry, in one step */
    if (!who->admin
        && !(ask->kind.len == 5 && ngx_strncmp(ask->kind.data, "block", 5) == 0)
        && ngx_booking_quota_any(req->conf))
    {
        return ngx_booking_series_claim(req, ser, 0);
    }

    /*
     * The user's index has the user's hash slot: its entries come first,
     * a step of their own, so that no booking is ever made that the user
     * cannot list (those not made are taken out again).
     */
    zadd = ngx_booking_series_index(req, ser, "ZADD",
                                    ngx_booking_series_send);
    if (zadd == NULL) {
        return NGX_ERROR;
    }

    return ngx_booking_op_send(req, zadd);
}


/*
 * The occurrences on each clock: one line a zone and repeat_max, naming
 * its types, "|<type>|<type>|" then " <start> <end> <offset> <offset>"
 * each, "!<repeat_max>" when there are more, or "" when there is none.
 * ser gets as many ids as the longest line has occurrences.
 */
static ngx_int_t
ngx_booking_series_occurrences(ngx_booking_req_t *req,
    ngx_booking_ask_t *ask, ngx_str_t *out, ngx_booking_series_t *ser)
{
    u_char              *p, *done;
    size_t               n, max, most, len;
    int64_t             *starts, *ends;
    ngx_uint_t           i, j;
    ngx_booking_type_t  *t;

    t = req->conf->types.elts;
    max = 1;

    for (i = 0; i < req->conf->types.nelts; i++) {
        max = ngx_max(max, t[i].repeat_max);
    }

    len = req->conf->types.nelts
          * (NGX_BOOKING_TYPE_NAME_MAX + 2
             + max * 4 * (NGX_INT64_LEN + 1) + 16);

    out->data = ngx_pnalloc(req->pool, len);
    starts = ngx_palloc(req->pool, 2 * max * sizeof(int64_t));
    done = ngx_pcalloc(req->pool, req->conf->types.nelts);

    if (out->data == NULL || starts == NULL || done == NULL) {
        return NGX_ERROR;
    }

    ends = starts + max;
    p = out->data;
    most = 0;

    for (i = 0; i < req->conf->types.nelts; i++) {
        if (done[i] || t[i].slot == 0) {
            continue;
        }

        *p++ = '|';

        for (j = i; j < req->conf->types.nelts; j++) {
            if (t[j].slot != 0 && t[j].tz == t[i].tz
                && t[j].repeat_max == t[i].repeat_max)
            {
                p = ngx_sprintf(p, "%V|", &t[j].name);
                done[j] = 1;
            }
        }

        p = ngx_booking_series_line(&t[i], ask, p, starts, ends, &n);

        /* the user's index is ordered by the first clock's starts */
        if (ser->first == NULL && n > 0) {
            ser->first = ngx_palloc(req->pool, n * sizeof(int64_t));
            if (ser->first == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(ser->first, starts, n * sizeof(int64_t));
            ser->nfirst = n;
        }

        most = ngx_max(most, n);
    }

    out->len = p - out->data;
    ser->n = ngx_max(most, 1);

    return NGX_OK;
}


static u_char *
ngx_booking_series_line(ngx_booking_type_t *t, ngx_booking_ask_t *ask,
    u_char *p, int64_t *starts, int64_t *ends, size_t *n)
{
    int                       rc;
    size_t                    i;
    const ngx_booking_tz_t   *tz;

    tz = t->tz ? t->tz : &ngx_booking_utc;

    rc = ngx_booking_repeat_expand(tz, &ask->repeat, ask->in.start,
                                   ask->in.end, t->repeat_max, starts, ends,
                                   n);

    if (rc == NGX_BOOKING_DECLINED && *n == t->repeat_max) {
        *n = 0;
        return ngx_sprintf(p, "!%ui\n", t->repeat_max);
    }

    if (rc != NGX_BOOKING_OK) {
        *n = 0;
        return ngx_sprintf(p, "\n");
    }

    for (i = 0; i < *n; i++) {
        p = ngx_sprintf(p, " %L %L %D %D", starts[i], ends[i],
                        ngx_booking_tz_offset(tz, starts[i]),
                        ngx_booking_tz_offset(tz, ends[i]));
    }

    *p++ = '\n';

    return p;
}


/* the types whose quotas a user's booking would claim */
static ngx_int_t
ngx_booking_series_quotas(ngx_booking_req_t *req, ngx_str_t *out)
{
    u_char                    *p;
    ngx_str_t                 *names;
    ngx_uint_t                 i, j;
    ngx_booking_type_t        *t;
    ngx_booking_quota_conf_t  *q;

    ngx_str_set(out, "");

    if (req->conf->quotas.nelts == 0) {
        return NGX_OK;
    }

    t = req->conf->types.elts;
    q = req->conf->quotas.elts;

    out->data = ngx_pnalloc(req->pool, req->conf->quotas.nelts
                                       * req->conf->types.nelts
                                       * (NGX_BOOKING_TYPE_NAME_MAX + 1));
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    p = out->data;

    for (i = 0; i < req->conf->quotas.nelts; i++) {
        if (q[i].types == NULL) {
            for (j = 0; j < req->conf->types.nelts; j++) {
                p = ngx_sprintf(p, " %V", &t[j].name);
            }

            continue;
        }

        names = q[i].types->elts;

        for (j = 0; j < q[i].types->nelts; j++) {
            p = ngx_sprintf(p, " %V", &names[j]);
        }
    }

    out->len = p - out->data;

    return NGX_OK;
}


/*
 * The claims of every occurrence or item (ngx_booking_quota.c): their ids
 * and index entries now; an occurrence's range once the resource's type
 * tells the clock.
 */
static ngx_int_t
ngx_booking_series_claim(ngx_booking_req_t *req, ngx_booking_series_t *ser,
    ngx_uint_t items)
{
    ngx_str_t            *claimed;
    ngx_uint_t            i;
    ngx_booking_ask_t    *ask;
    ngx_booking_claim_t  *c;

    ask = ser->ask;
    ser->claims = ngx_pcalloc(req->pool,
                              ser->n * sizeof(ngx_booking_claim_t));
    if (ser->claims == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < ser->n; i++) {
        c = &ser->claims[i];
        c->id = ser->ids[i];
        c->score = ser->scores[i];
        c->start = items ? ask->in.items[i].start : -1;
        c->end = items ? ask->in.items[i].end : -1;
        c->rid = items ? ask->rids[i] : ser->rid;
    }

    if (items) {
        claimed = &ser->call->args[NGX_BOOKING_GROUP_CREATE_A_CLAIMED];

        return ngx_booking_quota_claim(req, ser->call, claimed, NULL,
                                       ser->claims, ser->n, NULL, NULL);
    }

    claimed = &ser->call->args[NGX_BOOKING_SERIES_CREATE_A_CLAIMED];

    return ngx_booking_quota_claim(req, ser->call, claimed, &ser->rid,
                                   ser->claims, ser->n,
                                   ngx_booking_series_timed, ser);
}


/*
 * The occurrences on the type's clock, as its line of occurrences has
 * them: none when the script will refuse the series (too many, none, no
 * calendar).
 */
static ngx_int_t
ngx_booking_series_timed(ngx_booking_req_t *req, ngx_booking_type_t *type,
    void *data, ngx_booking_claim_t *claims, ngx_uint_t *n)
{
    ngx_booking_series_t *ser = data;

    int                      rc;
    size_t                   i, m;
    int64_t                 *starts, *ends;
    const ngx_booking_tz_t  *tz;

    starts = ngx_palloc(req->pool, 2 * type->repeat_max * sizeof(int64_t));
    if (starts == NULL) {
        return NGX_ERROR;
    }

    ends = starts + type->repeat_max;
    tz = type->tz ? type->tz : &ngx_booking_utc;

    rc = ngx_booking_repeat_expand(tz, &ser->ask->repeat, ser->ask->in.start,
                                   ser->ask->in.end, type->repeat_max,
                                   starts, ends, &m);

    if (rc != NGX_BOOKING_OK || type->slot == 0 || m > *n) {
        *n = 0;
        return NGX_OK;
    }

    for (i = 0; i < m; i++) {
        claims[i].start = starts[i];
        claims[i].end = ends[i];

        if (ngx_booking_num(req, &claims[i].score, starts[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    *n = m;

    return NGX_OK;
}


/*
 * A random part for each occurrence or item, end to end; their ids and
 * starts (a timeless item's: now), for the user's index.
 */
static ngx_int_t
ngx_booking_series_ids(ngx_booking_req_t *req, ngx_booking_ask_t *ask,
    ngx_str_t *rands, ngx_booking_series_t *ser)
{
    u_char      *p;
    int64_t      start;
    ngx_str_t   *rid;
    ngx_uint_t   i;

    rands->len = ser->n * NGX_BOOKING_RAND_LEN;
    rands->data = ngx_pnalloc(req->pool, rands->len);
    ser->ids = ngx_palloc(req->pool, 2 * ser->n * sizeof(ngx_str_t));

    if (rands->data == NULL || ser->ids == NULL) {
        return NGX_ERROR;
    }

    ser->scores = ser->ids + ser->n;

    for (i = 0; i < ser->n; i++) {
        p = rands->data + i * NGX_BOOKING_RAND_LEN;

        if (ngx_booking_random_id(p) != NGX_BOOKING_OK) {
            return NGX_ERROR;
        }

        rid = ask->in.nitems ? &ask->rids[i] : &ask->rid;

        ser->ids[i].len = rid->len + 1 + NGX_BOOKING_RAND_LEN;
        ser->ids[i].data = ngx_pnalloc(req->pool, ser->ids[i].len);
        if (ser->ids[i].data == NULL) {
            return NGX_ERROR;
        }

        (void) ngx_sprintf(ser->ids[i].data, "%V.%*s", rid,
                           (size_t) NGX_BOOKING_RAND_LEN, p);

        if (ask->in.nitems) {
            start = ask->in.items[i].start;
            start = (start >= 0) ? start : ngx_time();

        } else {
            start = (ser->nfirst == 0) ? ask->in.start
                    : ser->first[ngx_min(i, ser->nfirst - 1)];
        }

        if (ngx_booking_num(req, &ser->scores[i], start) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* R ... V of the resource, the group's record, the Idempotency-Key's */
static ngx_int_t
ngx_booking_series_keys(ngx_booking_req_t *req, ngx_str_t *rid,
    ngx_str_t *rand, ngx_str_t *scope, ngx_str_t *keys)
{
    u_char     *p;
    ngx_str_t  *s, *i;

    s = &keys[NGX_BOOKING_SERIES_CREATE_K_S];
    i = &keys[NGX_BOOKING_SERIES_CREATE_K_I];

    s->len = ngx_booking_rkey_len(rid->len, NGX_BOOKING_KEY_S) + rand->len;
    i->len = ngx_booking_rkey_len(rid->len, NGX_BOOKING_KEY_I) + scope->len;
    s->data = ngx_pnalloc(req->pool, s->len);
    i->data = ngx_pnalloc(req->pool, i->len);

    if (s->data == NULL || i->data == NULL
        || ngx_booking_resource_keys(req, rid, keys, ngx_booking_keys_all)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = ngx_booking_rkey(s->data, rid->data, rid->len, NGX_BOOKING_KEY_S);
    ngx_memcpy(p, rand->data, rand->len);

    p = ngx_booking_rkey(i->data, rid->data, rid->len, NGX_BOOKING_KEY_I);
    ngx_memcpy(p, scope->data, scope->len);

    return NGX_OK;
}


/* ZADD U <start> <id>... or ZREM U <id>..., of every occurrence */
static ngx_booking_call_t *
ngx_booking_series_index(ngx_booking_req_t *req, ngx_booking_series_t *ser,
    const char *cmd, ngx_booking_call_pt handler)
{
    ngx_str_t           *a;
    ngx_uint_t           i, add;
    ngx_booking_call_t  *call;

    add = (cmd[1] == 'A');

    call = ngx_booking_op_call(req, -1, 0, 2 + (add ? 2 : 1) * ser->n,
                               NGX_BOOKING_R_STATUS, handler);
    if (call == NULL || ngx_booking_user_key(req, &call->args[1]) != NGX_OK)
    {
        return NULL;
    }

    a = call->args;
    a[0].data = (u_char *) cmd;
    a[0].len = ngx_strlen(cmd);
    a += 2;

    for (i = 0; i < ser->n; i++) {
        if (add) {
            *a++ = ser->scores[i];
        }

        *a++ = ser->ids[i];
    }

    /* with booking_redis_replicas, WAITed as the bookings will be */
    call->writes = 1;

    return call;
}


static void
ngx_booking_series_send(ngx_booking_call_t *zadd)
{
    ngx_booking_req_t *req = zadd->data;

    ngx_booking_series_t  *ser;

    if (zadd->rc != NGX_BOOKING_STORE_OK) {
        ngx_booking_op_done(req, ngx_booking_op_failed(req, zadd));
        return;
    }

    ser = req->state;

    ngx_booking_op_done(req, ngx_booking_op_send(req, ser->call));
}


static void
ngx_booking_series_made(ngx_booking_call_t *call)
{
    ngx_booking_req_t *req = call->data;

    ngx_int_t              rc;
    ngx_uint_t             unmade;
    ngx_booking_call_t    *zrem;
    ngx_booking_group_t   *g;
    ngx_booking_series_t  *ser;

    g = &call->result.group;
    ser = req->state;

    /* on a timeout they may have been made: the entries stay */
    if (call->rc != NGX_BOOKING_STORE_OK) {
        unmade = (call->rc == NGX_BOOKING_STORE_UNAVAILABLE
                  || call->rc == NGX_BOOKING_STORE_BUSY);

    } else {
        unmade = (call->result.kind != NGX_BOOKING_R_GROUP
                  || g->http >= 300 || g->replayed);
    }

    if (unmade && req->caller.user.len) {
        zrem = ngx_booking_series_index(req, ser, "ZREM",
                                        ngx_booking_series_ignore);
        if (zrem != NULL) {
            (void) ngx_booking_store_call(zrem);
        }
    }

    if (ser->claims != NULL && (unmade || call->rc == NGX_BOOKING_STORE_OK)) {
        ngx_booking_series_unclaim(req, ser, unmade ? NULL : call);
    }

    rc = ngx_booking_op_check(req, call);

    if (rc == NGX_OK) {
        rc = ngx_booking_quota_answer(req);
    }

    if (rc != NGX_DECLINED) {
        ngx_booking_op_done(req, rc);
        return;
    }

    if (call->result.kind != NGX_BOOKING_R_GROUP) {
        ngx_booking_op_done(req, ngx_booking_op_unexpected(req));
        return;
    }

    ngx_booking_op_done(req, ngx_booking_group_answer(req, g, &ser->rid));
}


/* the claims of occurrences not made (all, or those skipped) given back */
static void
ngx_booking_series_unclaim(ngx_booking_req_t *req, ngx_booking_series_t *ser,
    ngx_booking_call_t *made)
{
    ngx_uint_t           i, j;
    ngx_booking_page_t  *page;

    if (made != NULL) {
        page = &made->result.group.items;

        for (i = 0; i < ser->n; i++) {
            for (j = 0; j < page->n && !ser->claims[i].made; j++) {
                ser->claims[i].made =
                    (page->recs[j].id.len == ser->claims[i].id.len
                     && ngx_strncmp(page->recs[j].id.data,
                                    ser->claims[i].id.data,
                                    ser->claims[i].id.len) == 0);
            }
        }
    }

    ngx_booking_quota_unclaim(req);
}


static void
ngx_booking_series_ignore(ngx_booking_call_t *call)
{
    /* an entry of nothing costs a read, not a wrong answer */
}


/*
 * A group of items: one script over every item's keys, so that all are
 * booked or none.  In a Redis Cluster that needs one hash slot for them
 * all; items of different slots would need two phases (README, "Groups
 * of items"), not built yet.
 */
ngx_int_t
ngx_booking_items(ngx_booking_req_t *req, ngx_booking_ask_t *ask)
{
    u_char                *p;
    ngx_str_t             *a, rand;
    ngx_uint_t             i, n;
    ngx_booking_call_t    *call, *zadd;
    ngx_booking_series_t  *ser;
    ngx_booking_caller_t  *who;

    who = &req->caller;
    n = ask->in.nitems;

    if (req->conf->cluster) {
        for (i = 1; i < n; i++) {
            if (ngx_booking_shard(ask->rids[i].data, ask->rids[i].len)
                != ngx_booking_shard(ask->rid.data, ask->rid.len))
            {
                return ngx_booking_op_fail(req, 422, "invalid",
                                           "in a Redis Cluster, the items of "
                                           "a group must share a hash slot",
                                           "items");
            }
        }
    }

    ser = ngx_pcalloc(req->pool, sizeof(ngx_booking_series_t));
    call = ngx_booking_op_call(req, NGX_BOOKING_SCRIPT_GROUP_CREATE,
                               2 + 10 * n,
                               NGX_BOOKING_GROUP_CREATE_NARGS
                               + req->conf->types.nelts,
                               NGX_BOOKING_R_GROUP, ngx_booking_series_made);
    p = ngx_pnalloc(req->pool, NGX_BOOKING_RAND_LEN);

    if (ser == NULL || call == NULL || p == NULL
        || ngx_booking_random_id(p) != NGX_BOOKING_OK)
    {
        return NGX_ERROR;
    }

    rand.data = p;
    rand.len = NGX_BOOKING_RAND_LEN;
    ser->n = n;
    a = call->args;

    if (ngx_booking_series_ids(req, ask, &a[NGX_BOOKING_GROUP_CREATE_A_RANDS],
                               ser)
        != NGX_OK
        || ngx_booking_items_arg(req, ask,
                                 &a[NGX_BOOKING_GROUP_CREATE_A_ITEMS])
           != NGX_OK
        || ngx_booking_series_quotas(req,
                                     &a[NGX_BOOKING_GROUP_CREATE_A_QUOTAS])
           != NGX_OK
        || ngx_booking_items_keys(req, ask, &rand, call->keys) != NGX_OK)
    {
        return NGX_ERROR;
    }

    a[NGX_BOOKING_GROUP_CREATE_A_RAND] = rand;
    a[NGX_BOOKING_GROUP_CREATE_A_USER] = who->user;
    a[NGX_BOOKING_GROUP_CREATE_A_KIND] = ask->kind;
    ngx_booking_series_flag(&a[NGX_BOOKING_GROUP_CREATE_A_HOLD],
                            ask->in.hold);
    a[NGX_BOOKING_GROUP_CREATE_A_NOTE] = ask->note;
    ngx_booking_series_flag(&a[NGX_BOOKING_GROUP_CREATE_A_ADMIN],
                            who->admin);
    a[NGX_BOOKING_GROUP_CREATE_A_GROUPS] = who->groups;
    a[NGX_BOOKING_GROUP_CREATE_A_SCOPE] = ask->scope;
    a[NGX_BOOKING_GROUP_CREATE_A_FINGERPRINT] = ask->fp;
    a[NGX_BOOKING_GROUP_CREATE_A_EVENTS] = req->conf->events;

    for (i = 0; i < req->conf->types.nelts; i++) {
        a[NGX_BOOKING_GROUP_CREATE_A_RULES + i] = req->conf->rules[i];
    }

    ser->call = call;
    ser->ask = ask;
    ser->rid = ask->rid;
    req->state = ser;

    if (who->user.len == 0) {
        return ngx_booking_op_send(req, call);
    }

    /* every item claimed, with its index entry, in one step */
    if (!who->admin
        && !(ask->kind.len == 5 && ngx_strncmp(ask->kind.data, "block", 5) == 0)
        && ngx_booking_quota_any(req->conf))
    {
        return ngx_booking_series_claim(req, ser, 1);
    }

    zadd = ngx_booking_series_index(req, ser, "ZADD",
                                    ngx_booking_series_send);
    if (zadd == NULL) {
        return NGX_ERROR;
    }

    return ngx_booking_op_send(req, zadd);
}


/* "<start> <end> <quantity><zones>\n" an item, '-' for no start or end */
static ngx_int_t
ngx_booking_items_arg(ngx_booking_req_t *req, ngx_booking_ask_t *ask,
    ngx_str_t *out)
{
    u_char              *p;
    size_t               len;
    ngx_str_t           *zones;
    ngx_uint_t           i;
    ngx_booking_ireq_t  *it;

    zones = ngx_palloc(req->pool, ask->in.nitems * sizeof(ngx_str_t));
    if (zones == NULL) {
        return NGX_ERROR;
    }

    len = 0;

    for (i = 0; i < ask->in.nitems; i++) {
        it = &ask->in.items[i];

        if (ngx_booking_zones(req, &zones[i], it->start, it->end) != NGX_OK) {
            return NGX_ERROR;
        }

        len += 3 * (NGX_INT64_LEN + 1) + zones[i].len + 1;
    }

    out->data = ngx_pnalloc(req->pool, len);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    p = out->data;

    for (i = 0; i < ask->in.nitems; i++) {
        it = &ask->in.items[i];

        p = (it->start >= 0) ? ngx_sprintf(p, "%L ", it->start)
                             : ngx_cpymem(p, "- ", 2);
        p = (it->end >= 0) ? ngx_sprintf(p, "%L ", it->end)
                           : ngx_cpymem(p, "- ", 2);
        p = ngx_sprintf(p, "%L%V\n", it->quantity, &zones[i]);
    }

    out->len = p - out->data;

    return NGX_OK;
}


/* S and I with the first item's resource, then R ... V of each item's */
static ngx_int_t
ngx_booking_items_keys(ngx_booking_req_t *req, ngx_booking_ask_t *ask,
    ngx_str_t *rand, ngx_str_t *keys)
{
    u_char      *p;
    ngx_str_t   *s, *i;
    ngx_uint_t   k;

    s = &keys[NGX_BOOKING_GROUP_CREATE_K_S];
    i = &keys[NGX_BOOKING_GROUP_CREATE_K_I];

    s->len = ngx_booking_rkey_len(ask->rid.len, NGX_BOOKING_KEY_S)
             + rand->len;
    i->len = ngx_booking_rkey_len(ask->rid.len, NGX_BOOKING_KEY_I)
             + ask->scope.len;
    s->data = ngx_pnalloc(req->pool, s->len);
    i->data = ngx_pnalloc(req->pool, i->len);

    if (s->data == NULL || i->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_booking_rkey(s->data, ask->rid.data, ask->rid.len,
                         NGX_BOOKING_KEY_S);
    ngx_memcpy(p, rand->data, rand->len);

    p = ngx_booking_rkey(i->data, ask->rid.data, ask->rid.len,
                         NGX_BOOKING_KEY_I);
    ngx_memcpy(p, ask->scope.data, ask->scope.len);

    for (k = 0; k < ask->in.nitems; k++) {
        if (ngx_booking_resource_keys(req, &ask->rids[k],
                                      &keys[NGX_BOOKING_GROUP_CREATE_K_R
                                            + 10 * k],
                                      ngx_booking_keys_all)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* a script's 1|0 */
static void
ngx_booking_series_flag(ngx_str_t *s, ngx_uint_t on)
{
    s->data = (u_char *) (on ? "1" : "0");
    s->len = 1;
}


ngx_int_t
ngx_booking_group_get(ngx_booking_req_t *req)
{
    return ngx_booking_group_call(req, &ngx_booking_get_op);
}


ngx_int_t
ngx_booking_group_act(ngx_booking_req_t *req)
{
    req->name = (const char *) req->verb.data;

    return ngx_booking_group_call(req, &req->verb);
}


static ngx_int_t
ngx_booking_group_call(ngx_booking_req_t *req, ngx_str_t *op)
{
    u_char              *p;
    ngx_str_t           *a, *s;
    ngx_uint_t           i;
    ngx_booking_call_t  *call;

    if (req->caller.user.len == 0 && !req->caller.admin
        && !req->caller.token)
    {
        return ngx_booking_op_fail(req, NGX_HTTP_UNAUTHORIZED,
                                   "unauthenticated",
                                   "a user or the group's token is needed",
                                   NULL);
    }

    call = ngx_booking_op_call(req, NGX_BOOKING_SCRIPT_GROUP,
                               NGX_BOOKING_GROUP_NKEYS,
                               NGX_BOOKING_GROUP_NARGS
                               + req->conf->types.nelts,
                               NGX_BOOKING_R_GROUP, ngx_booking_group_done);
    if (call == NULL
        || ngx_booking_resource_keys(req, &req->id, call->keys,
                                     ngx_booking_keys_all)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    s = &call->keys[NGX_BOOKING_GROUP_K_S];
    s->len = ngx_booking_rkey_len(req->id.len, NGX_BOOKING_KEY_S)
             + req->rand.len;
    s->data = ngx_pnalloc(req->pool, s->len);
    if (s->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_booking_rkey(s->data, req->id.data, req->id.len,
                         NGX_BOOKING_KEY_S);
    ngx_memcpy(p, req->rand.data, req->rand.len);

    a = call->args;
    a[NGX_BOOKING_GROUP_A_OP] = *op;
    a[NGX_BOOKING_GROUP_A_RAND] = req->rand;
    a[NGX_BOOKING_GROUP_A_USER] = req->caller.user;
    ngx_booking_series_flag(&a[NGX_BOOKING_GROUP_A_ADMIN], req->caller.admin);
    ngx_booking_series_flag(&a[NGX_BOOKING_GROUP_A_TOKEN], req->caller.token);
    a[NGX_BOOKING_GROUP_A_EVENTS] = req->conf->events;

    for (i = 0; i < req->conf->types.nelts; i++) {
        a[NGX_BOOKING_GROUP_A_RULES + i] = req->conf->rules[i];
    }

    return ngx_booking_op_send(req, call);
}


static void
ngx_booking_group_done(ngx_booking_call_t *call)
{
    ngx_booking_req_t *req = call->data;

    ngx_int_t   rc;
    ngx_str_t  *op;

    rc = ngx_booking_op_check(req, call);

    if (rc != NGX_DECLINED) {
        ngx_booking_op_done(req, rc);
        return;
    }

    /* a group of items: the same call again, with their keys */
    if (call->result.kind == NGX_BOOKING_R_IDS
        && call->nkeys == NGX_BOOKING_GROUP_NKEYS)
    {
        ngx_booking_op_done(req, ngx_booking_group_items(req, call));
        return;
    }

    if (call->result.kind != NGX_BOOKING_R_GROUP) {
        ngx_booking_op_done(req, ngx_booking_op_unexpected(req));
        return;
    }

    op = &call->args[NGX_BOOKING_GROUP_A_OP];

    if (op->len == 6 && ngx_strncmp(op->data, "cancel", 6) == 0
        && ngx_booking_quota_any(req->conf))
    {
        ngx_booking_group_release(req, &call->result.group);
    }

    ngx_booking_op_done(req, ngx_booking_group_answer(req,
                                                      &call->result.group,
                                                      &req->id));
}


/* a cancelled group's bookings give their claims back now */
static void
ngx_booking_group_release(ngx_booking_req_t *req, ngx_booking_group_t *g)
{
    ngx_uint_t          i;
    ngx_booking_rec_t  *rec;

    if (g->http >= 300) {
        return;
    }

    for (i = 0; i < g->items.n; i++) {
        rec = &g->items.recs[i];

        if (rec->status.len == 9
            && ngx_strncmp(rec->status.data, "cancelled", 9) == 0)
        {
            ngx_booking_release_claims(req, rec);
        }
    }
}


/*
 * The group's call again, with the keys of each item's resource after
 * its own (the script checks they are the group's): its ids come from
 * the first answer, and are checked as any id from outside.
 */
static ngx_int_t
ngx_booking_group_items(ngx_booking_req_t *req, ngx_booking_call_t *first)
{
    ngx_str_t            id, rid, rand;
    ngx_uint_t           k, n;
    ngx_booking_ids_t   *ids;
    ngx_booking_call_t  *call;

    ids = &first->result.ids;
    n = ids->n;

    if (n < 2 || n > NGX_BOOKING_ITEMS_MAX) {
        return ngx_booking_op_unexpected(req);
    }

    call = ngx_booking_op_call(req, NGX_BOOKING_SCRIPT_GROUP,
                               NGX_BOOKING_GROUP_NKEYS + 10 * n,
                               first->nargs, NGX_BOOKING_R_GROUP,
                               ngx_booking_group_done);
    if (call == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(call->keys, first->keys,
               NGX_BOOKING_GROUP_NKEYS * sizeof(ngx_str_t));
    ngx_memcpy(call->args, first->args, first->nargs * sizeof(ngx_str_t));

    for (k = 0; k < n; k++) {
        id.len = ids->ids[k].len;
        id.data = ngx_pnalloc(req->pool, id.len);
        if (id.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(id.data, ids->ids[k].data, id.len);

        if (ngx_booking_split_id(&id, &rid, &rand) != NGX_OK
            || ngx_booking_id_check(req->conf, &rid, req->log) != NGX_OK)
        {
            return ngx_booking_op_unexpected(req);
        }

        if (ngx_booking_resource_keys(req, &rid,
                                      &call->keys[NGX_BOOKING_GROUP_NKEYS
                                                  + 10 * k],
                                      ngx_booking_keys_all)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return ngx_booking_op_send(req, call);
}


/*
 * The group as the spec writes it.  A group made with holds has a token
 * (Booking-Token too): the HMAC of the group's id, as a booking's.  What
 * changed is the resource's (its availability, its listing).
 */
static ngx_int_t
ngx_booking_group_answer(ngx_booking_req_t *req, ngx_booking_group_t *g,
    ngx_str_t *rid)
{
    u_char             *p;
    ngx_str_t           token, gid;
    ngx_uint_t          i;
    ngx_booking_rec_t  *rec;

    ngx_str_null(&token);
    rec = g->items.recs;

    if (g->http >= 300) {
        return ngx_booking_view_group(&req->answer, req->pool, g, rid, NULL);
    }

    for (i = 0; i < g->items.n; i++) {
        if (rec[i].status.len == 4
            && ngx_strncmp(rec[i].status.data, "held", 4) == 0)
        {
            break;
        }
    }

    gid.len = rid->len + 1 + g->rand.len;
    gid.data = ngx_pnalloc(req->pool, gid.len);
    if (gid.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(gid.data, rid->data, rid->len);
    *p++ = '.';
    ngx_memcpy(p, g->rand.data, g->rand.len);

    if (g->http == NGX_HTTP_CREATED && i < g->items.n) {
        token.data = ngx_pnalloc(req->pool, NGX_BOOKING_TOKEN_LEN);
        if (token.data == NULL
            || ngx_booking_token(req->conf->secret.data, req->conf->secret.len,
                                 gid.data, gid.len, token.data)
               != NGX_BOOKING_OK)
        {
            return NGX_ERROR;
        }

        token.len = NGX_BOOKING_TOKEN_LEN;
    }

    req->made = gid;
    req->answer.token = token;
    req->answer.replayed = g->replayed;
    req->change.id = *rid;
    req->change.changed = (req->verb.len || g->http == NGX_HTTP_CREATED)
                          && !g->replayed;

    if (g->items.n && ngx_booking_group_changed(req, g) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_booking_view_group(&req->answer, req->pool, g, rid, &token);
}


/*
 * What the cache forgets: the first booking's resource and type, and
 * those of every other item (the reply dies before the answer is sent).
 */
static ngx_int_t
ngx_booking_group_changed(ngx_booking_req_t *req, ngx_booking_group_t *g)
{
    ngx_uint_t             i;
    ngx_booking_rec_t     *rec;
    ngx_booking_change_t  *ch;

    rec = g->items.recs;
    ch = &req->change;

    if (ngx_booking_group_copy(req, &ch->type, &rec[0].type) != NGX_OK) {
        return NGX_ERROR;
    }

    ch->also = ngx_palloc(req->pool, 2 * g->items.n * sizeof(ngx_str_t));
    if (ch->also == NULL) {
        return NGX_ERROR;
    }

    ch->also_type = ch->also + g->items.n;
    ch->nalso = 0;

    for (i = 1; i < g->items.n; i++) {
        /* a series: one resource, told once */
        if (rec[i].resource.len == rec[0].resource.len
            && ngx_strncmp(rec[i].resource.data, rec[0].resource.data,
                           rec[0].resource.len) == 0)
        {
            continue;
        }

        if (ngx_booking_group_copy(req, &ch->also[ch->nalso],
                                   &rec[i].resource)
            != NGX_OK
            || ngx_booking_group_copy(req, &ch->also_type[ch->nalso],
                                      &rec[i].type)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        ch->nalso++;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_booking_group_copy(ngx_booking_req_t *req, ngx_str_t *dst,
    ngx_booking_span_t *src)
{
    dst->len = src->len;
    dst->data = ngx_pnalloc(req->pool, src->len + 1);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, src->data, src->len);

    return NGX_OK;
}

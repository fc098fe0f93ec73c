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
    void                       *spread;     /* items across hash slots */
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
static void ngx_booking_series_unmade(ngx_booking_req_t *req,
    ngx_booking_series_t *ser);
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
static void *ngx_booking_spread_new(ngx_booking_req_t *req,
    ngx_booking_series_t *ser, ngx_str_t *rand);
static ngx_int_t ngx_booking_spread_go(void *data);
static ngx_int_t ngx_booking_spread_group(ngx_booking_req_t *req,
    ngx_booking_call_t *call, ngx_str_t *op);
static ngx_int_t ngx_booking_group_call(ngx_booking_req_t *req,
    ngx_str_t *op);
static void ngx_booking_group_done(ngx_booking_call_t *call);
static void ngx_booking_group_release_one(ngx_booking_req_t *req,
    ngx_booking_rec_t *rec);
static void ngx_booking_group_release(ngx_booking_req_t *req,
    ngx_booking_group_t *g);
static ngx_int_t ngx_booking_group_answer(ngx_booking_req_t *req,
    ngx_booking_group_t *g, ngx_str_t *rid);
static ngx_int_t ngx_booking_group_changed(ngx_booking_req_t *req,
    ngx_booking_group_t *g);


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

    if (ser->spread != NULL) {
        ngx_booking_op_done(req, ngx_booking_spread_go(ser->spread));
        return;
    }

    ngx_booking_op_done(req, ngx_booking_op_send(req, ser->call));
}


static void
ngx_booking_series_made(ngx_booking_call_t *call)
{
    ngx_booking_req_t *req = call->data;

    ngx_int_t              rc;
    ngx_uint_t             unmade;
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

    if (unmade) {
        ngx_booking_series_unmade(req, ser);

    } else if (ser->claims != NULL && call->rc == NGX_BOOKING_STORE_OK) {
        ngx_booking_series_unclaim(req, ser, call);
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


/* nothing made: out of the user's index, every claim given back */
static void
ngx_booking_series_unmade(ngx_booking_req_t *req, ngx_booking_series_t *ser)
{
    ngx_booking_call_t  *zrem;

    if (req->caller.user.len) {
        zrem = ngx_booking_series_index(req, ser, "ZREM",
                                        ngx_booking_series_ignore);
        if (zrem != NULL) {
            (void) ngx_booking_store_call(zrem);
        }
    }

    if (ser->claims != NULL) {
        ngx_booking_series_unclaim(req, ser, NULL);
    }
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
    ngx_int_t              rc;
    ngx_str_t             *a, rand;
    ngx_uint_t             i, n, spread;
    ngx_booking_call_t    *call, *zadd;
    ngx_booking_series_t  *ser;
    ngx_booking_caller_t  *who;

    who = &req->caller;
    n = ask->in.nitems;
    spread = 0;

    /* items of several hash slots: one script a slot, and two phases */
    if (req->conf->cluster) {
        for (i = 1; i < n; i++) {
            if (ngx_booking_shard(ask->rids[i].data, ask->rids[i].len)
                != ngx_booking_shard(ask->rid.data, ask->rid.len))
            {
                spread = 1;
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

    if (spread) {
        ser->spread = ngx_booking_spread_new(req, ser, &rand);
        if (ser->spread == NULL) {
            return NGX_ERROR;
        }
    }

    if (who->user.len == 0) {
        return spread ? ngx_booking_spread_go(ser->spread)
                      : ngx_booking_op_send(req, call);
    }

    /* every item claimed, with its index entry, in one step */
    if (!who->admin
        && !(ask->kind.len == 5 && ngx_strncmp(ask->kind.data, "block", 5) == 0)
        && ngx_booking_quota_any(req->conf))
    {
        rc = ngx_booking_series_claim(req, ser, 1);

        if (spread) {
            ngx_booking_quota_then(req, ngx_booking_spread_go, ser->spread);
        }

        return rc;
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
    ngx_str_t  *v;

    v = &req->verb;

    /* the script's other ops are the worker's own */
    if (!(v->len == 7 && ngx_strncmp(v->data, "confirm", 7) == 0)
        && !(v->len == 6 && ngx_strncmp(v->data, "cancel", 6) == 0))
    {
        return ngx_booking_op_fail(req, NGX_HTTP_NOT_FOUND, "not_found",
                                   "no such route", NULL);
    }

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

    /* a group across hash slots: its primary decided, the parts follow */
    if (call->result.kind == NGX_BOOKING_R_FIELDS) {
        ngx_booking_op_done(req, ngx_booking_spread_group(req, call,
                                   &call->args[NGX_BOOKING_GROUP_A_OP]));
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
    ngx_uint_t  i;

    if (g->http >= 300) {
        return;
    }

    for (i = 0; i < g->items.n; i++) {
        ngx_booking_group_release_one(req, &g->items.recs[i]);
    }
}


static void
ngx_booking_group_release_one(ngx_booking_req_t *req, ngx_booking_rec_t *rec)
{
    if (rec->status.len == 9
        && ngx_strncmp(rec->status.data, "cancelled", 9) == 0)
    {
        ngx_booking_release_claims(req, rec);
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

    /* a part of a group across slots may have one item */
    if (n < 1 || n > NGX_BOOKING_ITEMS_MAX) {
        return ngx_booking_op_unexpected(req);
    }

    call = ngx_booking_op_call(req, NGX_BOOKING_SCRIPT_GROUP,
                               NGX_BOOKING_GROUP_NKEYS + 10 * n,
                               first->nargs, NGX_BOOKING_R_GROUP,
                               first->handler);
    if (call == NULL) {
        return NGX_ERROR;
    }

    call->data = first->data;

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

    if (ngx_booking_copy(req, &ch->type, rec[0].type.data, rec[0].type.len)
        != NGX_OK)
    {
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

        if (ngx_booking_copy(req, &ch->also[ch->nalso], rec[i].resource.data,
                             rec[i].resource.len)
            != NGX_OK
            || ngx_booking_copy(req, &ch->also_type[ch->nalso],
                                rec[i].type.data, rec[i].type.len)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        ch->nalso++;
    }

    return NGX_OK;
}


/*
 * A group of items across hash slots (README, "Groups of items"): one
 * part a slot, each booked by its own group_create as pinned holds that
 * no sweep frees; the first part, the primary, keeps the group's record,
 * which alone decides what the group becomes, by its own clock (group's
 * "commit", "cancel", "abort", "resolve"); then every part is settled as
 * the decision says ("part-confirm", "part-cancel", "part-expire",
 * "part-abort").  A crash between these steps leaves pinned holds that
 * the sweeper settles once the primary has decided, never a part
 * confirmed alone.
 */

/* past any instant a booking can have */
#define NGX_BOOKING_FOREVER_AT  253402300799LL

/* how long a pin lasts without hold: the commit comes well before */
#define NGX_BOOKING_PIN_WINDOW  "10"

#define NGX_BOOKING_PARTS_MAX   NGX_BOOKING_ITEMS_MAX


typedef struct ngx_booking_spread_s  ngx_booking_spread_t;

typedef struct {
    ngx_booking_spread_t       *sp;
    ngx_str_t                   rid;        /* its first item's resource */
    ngx_uint_t                  index[NGX_BOOKING_ITEMS_MAX];
    ngx_str_t                   ids[NGX_BOOKING_ITEMS_MAX];
    ngx_uint_t                  n;
    ngx_booking_rec_t         **recs;       /* its bookings, as answered */
    ngx_uint_t                  nrecs;
    unsigned                    made:1;
} ngx_booking_part_t;

struct ngx_booking_spread_s {
    ngx_booking_req_t          *req;
    ngx_booking_series_t       *ser;        /* a POST's */
    ngx_str_t                   rand;       /* the group's */
    ngx_str_t                   rid;        /* the primary's resource */
    ngx_str_t                   ikey;       /* its Idempotency-Key's */
    ngx_booking_part_t          parts[NGX_BOOKING_PARTS_MAX];
    ngx_uint_t                  nparts;
    ngx_uint_t                  pending;
    ngx_booking_group_t         refusal;    /* the first part refused */
    ngx_str_t                   listed;     /* every part's, joined */
    ngx_int_t                   failed;     /* a call's rc, or 0 */
    ngx_str_t                   state;      /* the primary's decision */
    ngx_str_t                   op;         /* the route's */
    ngx_uint_t                  http;
    ngx_event_t                 pause;
    ngx_int_t                 (*next)(ngx_booking_spread_t *sp);
    void                      (*end)(void *data);   /* the sweeper's */
    void                       *data;
    unsigned                    replay:1;
    unsigned                    hold:1;     /* the primary's record's */
};


static ngx_int_t ngx_booking_spread_part_call(ngx_booking_spread_t *sp,
    ngx_uint_t k, ngx_booking_call_pt handler);
static int64_t ngx_booking_spread_last(ngx_booking_spread_t *sp);
static int64_t ngx_booking_spread_deadline(ngx_booking_spread_t *sp);
static ngx_int_t ngx_booking_spread_pick(ngx_booking_req_t *req,
    ngx_str_t *list, ngx_booking_part_t *part, ngx_str_t *out, size_t each,
    ngx_uint_t lines);
static void ngx_booking_spread_primary(ngx_booking_call_t *call);
static void ngx_booking_spread_made(ngx_booking_call_t *call);
static void ngx_booking_spread_own(ngx_booking_spread_t *sp,
    ngx_booking_span_t *span);
static ngx_int_t ngx_booking_spread_keep(ngx_booking_part_t *part,
    ngx_booking_page_t *page);
static ngx_int_t ngx_booking_spread_phase(ngx_booking_spread_t *sp,
    ngx_int_t (*next)(ngx_booking_spread_t *sp));
static void ngx_booking_spread_resume(ngx_event_t *ev);
static ngx_int_t ngx_booking_spread_commit(ngx_booking_spread_t *sp);
static ngx_int_t ngx_booking_spread_abort(ngx_booking_spread_t *sp);
static ngx_int_t ngx_booking_spread_ask(ngx_booking_spread_t *sp,
    const char *op);
static void ngx_booking_spread_decided(ngx_booking_call_t *call);
static ngx_int_t ngx_booking_spread_told(ngx_booking_spread_t *sp,
    ngx_booking_fields_t *f);
static ngx_int_t ngx_booking_spread_parts(ngx_booking_spread_t *sp,
    ngx_str_t *members);
static ngx_int_t ngx_booking_spread_settle(ngx_booking_spread_t *sp);
static void ngx_booking_spread_settled(ngx_booking_call_t *call);
static ngx_int_t ngx_booking_spread_answer(ngx_booking_spread_t *sp);
static void ngx_booking_spread_release(ngx_booking_spread_t *sp);
static void ngx_booking_spread_forget(ngx_booking_spread_t *sp);
static ngx_int_t ngx_booking_spread_group_answer(ngx_booking_spread_t *sp);
static void ngx_booking_spread_over(ngx_booking_spread_t *sp, ngx_int_t rc);
static ngx_booking_call_t *ngx_booking_spread_group_call(
    ngx_booking_spread_t *sp, ngx_str_t *rid, ngx_str_t *op,
    ngx_booking_call_pt handler);


static void *
ngx_booking_spread_new(ngx_booking_req_t *req, ngx_booking_series_t *ser,
    ngx_str_t *rand)
{
    ngx_uint_t             i, k;
    ngx_booking_ask_t     *ask;
    ngx_booking_part_t    *part;
    ngx_booking_spread_t  *sp;

    ask = ser->ask;

    sp = ngx_pcalloc(req->pool, sizeof(ngx_booking_spread_t));
    if (sp == NULL) {
        return NULL;
    }

    sp->req = req;
    sp->ser = ser;
    sp->rand = *rand;
    sp->rid = ask->rid;
    sp->http = NGX_HTTP_CREATED;

    /* the parts in the order of their first items: the first, primary */
    for (i = 0; i < ask->in.nitems; i++) {
        for (k = 0; k < sp->nparts; k++) {
            if (ngx_booking_shard(sp->parts[k].rid.data, sp->parts[k].rid.len)
                == ngx_booking_shard(ask->rids[i].data, ask->rids[i].len))
            {
                break;
            }
        }

        part = &sp->parts[k];

        if (k == sp->nparts) {
            sp->nparts++;
            part->sp = sp;
            part->rid = ask->rids[i];
        }

        part->ids[part->n] = ser->ids[i];
        part->index[part->n++] = i;
    }

    return sp;
}


/* phase one: the primary's part first, so that its record is there */
static ngx_int_t
ngx_booking_spread_go(void *data)
{
    ngx_booking_spread_t *sp = data;

    return ngx_booking_spread_part_call(sp, 0, ngx_booking_spread_primary);
}


/*
 * The group_create of part k: the whole group's call, with the part's
 * items, their keys and ids, and how it is a part.
 */
static ngx_int_t
ngx_booking_spread_part_call(ngx_booking_spread_t *sp, ngx_uint_t k,
    ngx_booking_call_pt handler)
{
    u_char              *p;
    size_t               len;
    ngx_str_t           *a, *s, *i, none;
    ngx_uint_t           j, m;
    ngx_booking_req_t   *req;
    ngx_booking_call_t  *all, *call;
    ngx_booking_part_t  *part;

    req = sp->req;
    all = sp->ser->call;
    part = &sp->parts[k];
    ngx_str_set(&none, "");

    call = ngx_booking_op_call(req, NGX_BOOKING_SCRIPT_GROUP_CREATE,
                               2 + 10 * part->n, all->nargs,
                               NGX_BOOKING_R_GROUP, handler);
    if (call == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(call->args, all->args, all->nargs * sizeof(ngx_str_t));
    a = call->args;

    for (j = 0; j < part->n; j++) {
        ngx_memcpy(&call->keys[2 + 10 * j],
                   &all->keys[2 + 10 * part->index[j]],
                   10 * sizeof(ngx_str_t));
    }

    /* its record and its Idempotency-Key's answer: the primary's only */
    if (k != 0) {
        a[NGX_BOOKING_GROUP_CREATE_A_SCOPE] = none;
    }

    s = &call->keys[NGX_BOOKING_GROUP_CREATE_K_S];
    i = &call->keys[NGX_BOOKING_GROUP_CREATE_K_I];
    s->len = ngx_booking_rkey_len(part->rid.len, NGX_BOOKING_KEY_S)
             + sp->rand.len;
    i->len = ngx_booking_rkey_len(part->rid.len, NGX_BOOKING_KEY_I)
             + a[NGX_BOOKING_GROUP_CREATE_A_SCOPE].len;
    s->data = ngx_pnalloc(req->pool, s->len);
    i->data = ngx_pnalloc(req->pool, i->len);

    if (s->data == NULL || i->data == NULL
        || ngx_booking_spread_pick(req, &all->args[NGX_BOOKING_GROUP_CREATE_A_RANDS],
                                   part, &a[NGX_BOOKING_GROUP_CREATE_A_RANDS],
                                   NGX_BOOKING_RAND_LEN, 0)
           != NGX_OK
        || ngx_booking_spread_pick(req, &all->args[NGX_BOOKING_GROUP_CREATE_A_ITEMS],
                                   part, &a[NGX_BOOKING_GROUP_CREATE_A_ITEMS],
                                   0, '\n')
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = ngx_booking_rkey(s->data, part->rid.data, part->rid.len,
                         NGX_BOOKING_KEY_S);
    ngx_memcpy(p, sp->rand.data, sp->rand.len);
    p = ngx_booking_rkey(i->data, part->rid.data, part->rid.len,
                         NGX_BOOKING_KEY_I);
    ngx_memcpy(p, a[NGX_BOOKING_GROUP_CREATE_A_SCOPE].data,
               a[NGX_BOOKING_GROUP_CREATE_A_SCOPE].len);

    if (k == 0 && a[NGX_BOOKING_GROUP_CREATE_A_SCOPE].len) {
        sp->ikey = *i;
    }

    /* the types claimed for: a word an item ("!" stays as it is) */
    s = &all->args[NGX_BOOKING_GROUP_CREATE_A_CLAIMED];

    if (s->len && !(s->len == 1 && s->data[0] == '!')
        && ngx_booking_spread_pick(req, s, part,
                                   &a[NGX_BOOKING_GROUP_CREATE_A_CLAIMED],
                                   0, ' ')
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* "P|S <group> <window> <places>", and the primary: every part's ids */
    len = 5 + sp->rid.len + 1 + sp->rand.len + 2 * NGX_INT64_LEN
          + part->n * (NGX_INT_T_LEN + 1);

    for (m = 0; k == 0 && m < sp->nparts; m++) {
        for (j = 0; j < sp->parts[m].n; j++) {
            len += sp->parts[m].ids[j].len + 1;
        }
    }

    s = &a[NGX_BOOKING_GROUP_CREATE_A_SPREAD];
    s->data = ngx_pnalloc(req->pool, len);
    if (s->data == NULL) {
        return NGX_ERROR;
    }

    /* the primary's clock and holds say how long; the others pin as long */
    if (k == 0) {
        p = ngx_sprintf(s->data, "P %V.%V %s %L ", &sp->rid, &sp->rand,
                        NGX_BOOKING_PIN_WINDOW, ngx_booking_spread_last(sp));

    } else {
        p = ngx_sprintf(s->data, "S %V.%V %L ", &sp->rid, &sp->rand,
                        ngx_booking_spread_deadline(sp));
    }

    for (j = 0; j < part->n; j++) {
        p = ngx_sprintf(p, j ? ",%ui" : "%ui", part->index[j]);
    }

    for (m = 0; k == 0 && m < sp->nparts; m++) {
        *p++ = '\n';

        for (j = 0; j < sp->parts[m].n; j++) {
            p = ngx_sprintf(p, j ? " %V" : "%V", &sp->parts[m].ids[j]);
        }
    }

    s->len = p - s->data;
    call->data = part;

    return ngx_booking_op_send(req, call);
}


/*
 * When the last item of every part ends, with the longest buffer: the
 * primary's record, the group's decision, is kept as long as any of them.
 */
static int64_t
ngx_booking_spread_last(ngx_booking_spread_t *sp)
{
    int64_t              last, buffer;
    ngx_uint_t           i;
    ngx_booking_ask_t   *ask;
    ngx_booking_type_t  *types;

    ask = sp->ser->ask;
    types = sp->req->conf->types.elts;
    buffer = 0;
    last = 0;

    for (i = 0; i < sp->req->conf->types.nelts; i++) {
        buffer = ngx_max(buffer, types[i].buffer);
    }

    for (i = 0; i < ask->in.nitems; i++) {
        if (ask->in.items[i].end < 0) {
            return NGX_BOOKING_FOREVER_AT;
        }

        last = ngx_max(last, ask->in.items[i].end + buffer);
    }

    return ngx_min(last, NGX_BOOKING_FOREVER_AT);
}


/* the soonest a booking of the primary's part stops being held */
static int64_t
ngx_booking_spread_deadline(ngx_booking_spread_t *sp)
{
    int64_t              d;
    ngx_uint_t           j;
    ngx_booking_part_t  *part;

    part = &sp->parts[0];
    d = NGX_BOOKING_FOREVER_AT;

    for (j = 0; j < part->nrecs; j++) {
        if (part->recs[j]->expires_at > 0) {
            d = ngx_min(d, part->recs[j]->expires_at);
        }
    }

    return d == NGX_BOOKING_FOREVER_AT ? ngx_time() + 10 : d;
}


/*
 * The part's share of an argument of the whole group: fixed-size pieces
 * (each > 0), or pieces ended by a separator (lines: '\n' or ' ').
 */
static ngx_int_t
ngx_booking_spread_pick(ngx_booking_req_t *req, ngx_str_t *list,
    ngx_booking_part_t *part, ngx_str_t *out, size_t each, ngx_uint_t sep)
{
    u_char      *p, *q, *last, *start[NGX_BOOKING_ITEMS_MAX];
    size_t       size[NGX_BOOKING_ITEMS_MAX];
    ngx_uint_t   j, n;

    p = list->data;
    last = list->data + list->len;

    for (n = 0; n < NGX_BOOKING_ITEMS_MAX && p < last; n++) {
        q = each ? ngx_min(p + each, last) : ngx_strlchr(p, last, sep);
        q = (q == NULL) ? last : q + (each ? 0 : 1);
        start[n] = p;
        size[n] = q - p;
        p = q;
    }

    out->data = ngx_pnalloc(req->pool, list->len + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    p = out->data;

    for (j = 0; j < part->n; j++) {
        if (part->index[j] >= n) {
            return NGX_ERROR;
        }

        p = ngx_cpymem(p, start[part->index[j]], size[part->index[j]]);
    }

    out->len = p - out->data;

    return NGX_OK;
}


/*
 * The primary's part: refused, or the replay of an Idempotency-Key's
 * group, it answers as a group of one slot would; made, the others go.
 */
static void
ngx_booking_spread_primary(ngx_booking_call_t *call)
{
    ngx_booking_part_t *part = call->data;

    ngx_uint_t             k;
    ngx_booking_req_t     *req;
    ngx_booking_group_t   *g;
    ngx_booking_spread_t  *sp;

    sp = part->sp;
    req = sp->req;
    g = &call->result.group;

    if (call->rc == NGX_BOOKING_STORE_OK
        && call->result.kind == NGX_BOOKING_R_GROUP && g->replayed)
    {
        /*
         * the group made then, whole, as it is now, whoever may read it
         * (the key is the user's); this request's ids and claims unmade
         */
        ngx_booking_series_unmade(req, sp->ser);

        if (ngx_booking_copy(req, &sp->rand, g->rand.data, g->rand.len)
            != NGX_OK)
        {
            ngx_booking_op_done(req, NGX_ERROR);
            return;
        }

        sp->replay = 1;
        sp->ser = NULL;
        sp->nparts = 0;
        ngx_memzero(sp->parts, sizeof(sp->parts));
        ngx_str_set(&sp->op, "get");

        ngx_booking_op_done(req, ngx_booking_spread_ask(sp, "get"));
        return;
    }

    if (call->rc != NGX_BOOKING_STORE_OK
        || call->result.kind != NGX_BOOKING_R_GROUP
        || g->http != NGX_HTTP_CREATED)
    {
        call->data = req;
        ngx_booking_series_made(call);
        return;
    }

    if (ngx_booking_spread_keep(part, &g->items) != NGX_OK) {
        ngx_booking_op_done(req, NGX_ERROR);
        return;
    }

    for (k = 1; k < sp->nparts; k++) {
        if (ngx_booking_spread_part_call(sp, k, ngx_booking_spread_made)
            != NGX_DONE)
        {
            sp->failed = NGX_BOOKING_STORE_UNAVAILABLE;
            break;
        }

        sp->pending++;
    }

    if (sp->pending == 0) {
        ngx_booking_op_done(req, ngx_booking_spread_abort(sp));
    }
}


static void
ngx_booking_spread_made(ngx_booking_call_t *call)
{
    ngx_booking_part_t *part = call->data;

    u_char                *p;
    ngx_str_t              s;
    ngx_booking_req_t     *req;
    ngx_booking_group_t   *g, *r;
    ngx_booking_spread_t  *sp;

    sp = part->sp;
    req = sp->req;
    g = &call->result.group;
    r = &sp->refusal;

    if (call->rc != NGX_BOOKING_STORE_OK) {
        sp->failed = call->rc;

    } else if (call->result.kind == NGX_BOOKING_R_REFUSED) {
        if (r->http == 0) {
            r->http = call->result.refusal.status;
            r->code = call->result.refusal.code;
            r->message = call->result.refusal.message;
            r->field = call->result.refusal.field;
            ngx_booking_spread_own(sp, &r->code);
            ngx_booking_spread_own(sp, &r->message);
            ngx_booking_spread_own(sp, &r->field);
        }

    } else if (call->result.kind != NGX_BOOKING_R_GROUP) {
        sp->failed = NGX_BOOKING_STORE_FAILED;

    } else if (g->http != NGX_HTTP_CREATED) {
        /* a 409 names its items: the refusal names every part's */
        if (r->http == 0 || (r->http == g->http && g->http == 409)) {
            if (r->http == 0) {
                *r = *g;
                r->items.n = 0;
                r->rand.len = 0;
                r->kind.len = 0;
                r->listed.len = 0;
                r->field.len = 0;
                ngx_booking_spread_own(sp, &r->code);
                ngx_booking_spread_own(sp, &r->message);
            }

            /* "[a,b]" and "[c]" make "[a,b,c]" */
            if (g->listed.len > 2) {
                p = ngx_pnalloc(req->pool, sp->listed.len + g->listed.len);
                if (p == NULL) {
                    sp->failed = NGX_BOOKING_STORE_FAILED;

                } else {
                    s.data = p;

                    if (sp->listed.len) {
                        p = ngx_cpymem(p, sp->listed.data,
                                       sp->listed.len - 1);
                        *p++ = ',';
                        p = ngx_cpymem(p, g->listed.data + 1,
                                       g->listed.len - 1);

                    } else {
                        p = ngx_cpymem(p, g->listed.data, g->listed.len);
                    }

                    sp->listed.data = s.data;
                    sp->listed.len = p - s.data;
                }
            }
        }

    } else if (ngx_booking_spread_keep(part, &g->items) != NGX_OK) {
        sp->failed = NGX_BOOKING_STORE_FAILED;
    }

    if (--sp->pending > 0) {
        return;
    }

    if (sp->failed || sp->refusal.http) {
        ngx_booking_op_done(req, ngx_booking_spread_abort(sp));
        return;
    }

    /* held: the group is its pinned holds, the primary's record pending */
    if (sp->ser->ask->in.hold) {
        ngx_booking_op_done(req, ngx_booking_spread_answer(sp));
        return;
    }

    ngx_booking_op_done(req, ngx_booking_spread_phase(sp,
                                                ngx_booking_spread_commit));
}


/* a span of a reply, kept beyond it */
static void
ngx_booking_spread_own(ngx_booking_spread_t *sp, ngx_booking_span_t *span)
{
    ngx_str_t  s;

    if (ngx_booking_copy(sp->req, &s, span->data, span->len) != NGX_OK) {
        sp->failed = NGX_BOOKING_STORE_FAILED;
        span->len = 0;
        return;
    }

    span->data = s.data;
}


/* the part's bookings, kept beyond the reply */
static ngx_int_t
ngx_booking_spread_keep(ngx_booking_part_t *part, ngx_booking_page_t *page)
{
    ngx_uint_t  i;

    part->recs = ngx_palloc(part->sp->req->pool,
                            (page->n + 1) * sizeof(ngx_booking_rec_t *));
    if (part->recs == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < page->n; i++) {
        part->recs[i] = ngx_booking_rec_copy(part->sp->req, &page->recs[i]);
        if (part->recs[i] == NULL) {
            return NGX_ERROR;
        }
    }

    part->nrecs = page->n;
    part->made = 1;

    return NGX_OK;
}


/* between two phases: booking_group_pause, for the fault tests */
static ngx_int_t
ngx_booking_spread_phase(ngx_booking_spread_t *sp,
    ngx_int_t (*next)(ngx_booking_spread_t *sp))
{
    if (sp->req->conf->group_pause == 0) {
        return next(sp);
    }

    sp->next = next;
    sp->pause.handler = ngx_booking_spread_resume;
    sp->pause.data = sp;
    sp->pause.log = sp->req->log;

    ngx_add_timer(&sp->pause, sp->req->conf->group_pause);

    return NGX_DONE;
}


static void
ngx_booking_spread_resume(ngx_event_t *ev)
{
    ngx_booking_spread_t *sp = ev->data;

    ngx_booking_op_done(sp->req, sp->next(sp));
}


/* phase two: the primary decides; then every part is settled */
static ngx_int_t
ngx_booking_spread_commit(ngx_booking_spread_t *sp)
{
    return ngx_booking_spread_ask(sp, "commit");
}


/* a part refused or failed: the group aborted, what was made given back */
static ngx_int_t
ngx_booking_spread_abort(ngx_booking_spread_t *sp)
{
    return ngx_booking_spread_ask(sp, "abort");
}


static ngx_int_t
ngx_booking_spread_ask(ngx_booking_spread_t *sp, const char *op)
{
    ngx_str_t            o;
    ngx_booking_call_t  *call;

    o.data = (u_char *) op;
    o.len = ngx_strlen(op);

    call = ngx_booking_spread_group_call(sp, &sp->rid, &o,
                                         ngx_booking_spread_decided);
    if (call == NULL) {
        return NGX_ERROR;
    }

    if (ngx_booking_store_call(call) != NGX_OK) {
        sp->failed = NGX_BOOKING_STORE_UNAVAILABLE;
        return sp->end ? NGX_OK : ngx_booking_spread_answer(sp);
    }

    return NGX_DONE;
}


/* group's call on rid's part of this group: op, as the worker's */
static ngx_booking_call_t *
ngx_booking_spread_group_call(ngx_booking_spread_t *sp, ngx_str_t *rid,
    ngx_str_t *op, ngx_booking_call_pt handler)
{
    u_char              *p;
    ngx_str_t           *a, *s, none;
    ngx_uint_t           i;
    ngx_booking_req_t   *req;
    ngx_booking_call_t  *call;

    req = sp->req;
    ngx_str_set(&none, "");

    call = ngx_booking_op_call(req, NGX_BOOKING_SCRIPT_GROUP,
                               NGX_BOOKING_GROUP_NKEYS,
                               NGX_BOOKING_GROUP_NARGS
                               + req->conf->types.nelts,
                               NGX_BOOKING_R_GROUP, handler);
    if (call == NULL
        || ngx_booking_resource_keys(req, rid, call->keys,
                                     ngx_booking_keys_all)
           != NGX_OK)
    {
        return NULL;
    }

    s = &call->keys[NGX_BOOKING_GROUP_K_S];
    s->len = ngx_booking_rkey_len(rid->len, NGX_BOOKING_KEY_S)
             + sp->rand.len;
    s->data = ngx_pnalloc(req->pool, s->len);
    if (s->data == NULL) {
        return NULL;
    }

    p = ngx_booking_rkey(s->data, rid->data, rid->len, NGX_BOOKING_KEY_S);
    ngx_memcpy(p, sp->rand.data, sp->rand.len);

    a = call->args;
    a[NGX_BOOKING_GROUP_A_OP] = *op;
    a[NGX_BOOKING_GROUP_A_RAND] = sp->rand;
    a[NGX_BOOKING_GROUP_A_USER] = none;
    ngx_str_set(&a[NGX_BOOKING_GROUP_A_ADMIN], "1");
    ngx_str_set(&a[NGX_BOOKING_GROUP_A_TOKEN], "0");
    a[NGX_BOOKING_GROUP_A_EVENTS] = req->conf->events;

    for (i = 0; i < req->conf->types.nelts; i++) {
        a[NGX_BOOKING_GROUP_A_RULES + i] = req->conf->rules[i];
    }

    call->data = sp;

    return call;
}


static void
ngx_booking_spread_decided(ngx_booking_call_t *call)
{
    ngx_booking_spread_t *sp = call->data;

    ngx_int_t  rc;

    if (sp->end != NULL && call->rc == NGX_BOOKING_STORE_OK
        && call->result.kind == NGX_BOOKING_R_REFUSED
        && call->result.refusal.status == NGX_HTTP_NOT_FOUND
        && sp->parts[0].rid.len)
    {
        /* no primary record (its data lost): the pin's part given back */
        ngx_str_set(&sp->state, "aborted");
        sp->nparts = 1;
        rc = ngx_booking_spread_settle(sp);

    } else if (sp->end == NULL && sp->ser == NULL
               && call->rc == NGX_BOOKING_STORE_OK
               && call->result.kind == NGX_BOOKING_R_REFUSED)
    {
        /* a replay's group gone (its record outlived): as the primary says */
        rc = ngx_booking_op_refused(sp->req, call);

    } else if (call->rc != NGX_BOOKING_STORE_OK
               || call->result.kind != NGX_BOOKING_R_FIELDS)
    {
        /* the primary may have decided: the sweeper settles the parts */
        sp->failed = (call->rc != NGX_BOOKING_STORE_OK)
                     ? call->rc : NGX_BOOKING_STORE_FAILED;
        rc = sp->end ? NGX_OK : ngx_booking_spread_answer(sp);

    } else {
        rc = ngx_booking_spread_told(sp, &call->result.fields);
    }

    ngx_booking_spread_over(sp, rc);
}


/* a flow of the request answers it; the sweeper's ends */
static void
ngx_booking_spread_over(ngx_booking_spread_t *sp, ngx_int_t rc)
{
    if (rc == NGX_DONE) {
        return;
    }

    if (sp->end != NULL) {
        sp->end(sp->data);
        return;
    }

    ngx_booking_op_done(sp->req, rc);
}


/* {'spread', state, hold, members}: the decision, then the parts settled */
static ngx_int_t
ngx_booking_spread_told(ngx_booking_spread_t *sp, ngx_booking_fields_t *f)
{
    ngx_str_t  members;

    if (f->n != 4 || f->v[1].data == NULL || f->v[2].data == NULL
        || f->v[3].data == NULL
        || ngx_booking_copy(sp->req, &sp->state, f->v[1].data, f->v[1].len)
           != NGX_OK
        || ngx_booking_copy(sp->req, &members, f->v[3].data, f->v[3].len)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (sp->nparts == 0 && ngx_booking_spread_parts(sp, &members) != NGX_OK)
    {
        return NGX_ERROR;
    }

    sp->hold = (f->v[2].len == 1 && f->v[2].data[0] == '1');

    if (sp->state.len == 7
        && ngx_strncmp(sp->state.data, "pending", 7) == 0
        && sp->end != NULL)
    {
        /* the sweeper asked too soon: the pins are looked at again */
        return NGX_OK;
    }

    return ngx_booking_spread_settle(sp);
}


/* the parts, from the primary's record: a line of ids a part */
static ngx_int_t
ngx_booking_spread_parts(ngx_booking_spread_t *sp, ngx_str_t *members)
{
    u_char              *p, *last, *e, *dot;
    ngx_booking_part_t  *part;

    p = members->data;
    last = members->data + members->len;

    while (p < last && sp->nparts < NGX_BOOKING_PARTS_MAX) {
        part = &sp->parts[sp->nparts++];
        part->sp = sp;

        while (p < last && *p != '\n') {
            e = p;
            while (e < last && *e != ' ' && *e != '\n') {
                e++;
            }

            if (part->n == NGX_BOOKING_ITEMS_MAX) {
                return NGX_ERROR;
            }

            part->ids[part->n].data = p;
            part->ids[part->n].len = e - p;
            part->index[part->n] = part->n;
            part->n++;

            p = (e < last && *e == ' ') ? e + 1 : e;
        }

        if (part->n == 0) {
            return NGX_ERROR;
        }

        /* the part's resource: its first id up to its last dot */
        dot = NULL;
        for (e = part->ids[0].data; e < part->ids[0].data + part->ids[0].len;
             e++)
        {
            if (*e == '.') {
                dot = e;
            }
        }

        if (dot == NULL) {
            return NGX_ERROR;
        }

        part->rid.data = part->ids[0].data;
        part->rid.len = dot - part->ids[0].data;

        p++;
    }

    if (sp->nparts == 0) {
        return NGX_ERROR;
    }

    sp->rid = sp->parts[0].rid;

    return NGX_OK;
}


/* every part as the decision says, all at once */
static ngx_int_t
ngx_booking_spread_settle(ngx_booking_spread_t *sp)
{
    ngx_str_t           *st, op;
    ngx_uint_t           k;
    ngx_booking_call_t  *call;

    st = &sp->state;

    if (st->len == 9 && ngx_strncmp(st->data, "confirmed", 9) == 0) {
        ngx_str_set(&op, "part-confirm");

    } else if (st->len == 9 && ngx_strncmp(st->data, "cancelled", 9) == 0) {
        ngx_str_set(&op, "part-cancel");

    } else if (st->len == 7 && ngx_strncmp(st->data, "expired", 7) == 0) {
        ngx_str_set(&op, "part-expire");

    } else if (st->len == 7 && ngx_strncmp(st->data, "aborted", 7) == 0) {
        ngx_str_set(&op, "part-abort");

    } else {
        ngx_str_set(&op, "part-get");
    }

    sp->pending = 0;

    for (k = 0; k < sp->nparts; k++) {
        call = ngx_booking_spread_group_call(sp, &sp->parts[k].rid, &op,
                                             ngx_booking_spread_settled);
        if (call == NULL) {
            /* those sent end the flow; none sent, the answer does */
            sp->failed = NGX_BOOKING_STORE_FAILED;
            break;
        }

        call->data = &sp->parts[k];

        if (ngx_booking_store_call(call) != NGX_OK) {
            sp->failed = NGX_BOOKING_STORE_UNAVAILABLE;
            break;
        }

        sp->pending++;
    }

    if (sp->pending == 0) {
        return sp->end ? NGX_OK : ngx_booking_spread_answer(sp);
    }

    return NGX_DONE;
}


static void
ngx_booking_spread_settled(ngx_booking_call_t *call)
{
    ngx_booking_part_t *part = call->data;

    ngx_int_t              rc;
    ngx_booking_spread_t  *sp;

    sp = part->sp;

    /* a part of items: the same call again, with their keys */
    if (call->rc == NGX_BOOKING_STORE_OK
        && call->result.kind == NGX_BOOKING_R_IDS
        && call->nkeys == NGX_BOOKING_GROUP_NKEYS)
    {
        rc = ngx_booking_group_items(sp->req, call);

        if (rc == NGX_DONE) {
            return;
        }

        sp->failed = NGX_BOOKING_STORE_FAILED;

    } else if (call->rc != NGX_BOOKING_STORE_OK) {
        sp->failed = call->rc;

    } else if (call->result.kind == NGX_BOOKING_R_GROUP) {
        if (ngx_booking_spread_keep(part, &call->result.group.items)
            != NGX_OK)
        {
            sp->failed = NGX_BOOKING_STORE_FAILED;
        }

    } else if (call->result.kind != NGX_BOOKING_R_REFUSED) {
        /* a part gone (its record, a refused part never had one) */
        sp->failed = NGX_BOOKING_STORE_FAILED;
    }

    if (--sp->pending > 0) {
        return;
    }

    ngx_booking_spread_over(sp, sp->end ? NGX_OK
                                        : ngx_booking_spread_answer(sp));
}


/*
 * The answer: a refusal (the parts given back); nothing made; the
 * decision's error (a confirm too late, of a cancelled group); or the
 * group, every part's bookings in the request's order.
 */
static ngx_int_t
ngx_booking_spread_answer(ngx_booking_spread_t *sp)
{
    ngx_str_t             *st;
    ngx_uint_t             unmade;
    ngx_booking_req_t     *req;
    ngx_booking_group_t    g;
    ngx_booking_series_t  *ser;

    req = sp->req;
    ser = sp->ser;
    st = &sp->state;

    /* a POST's group aborted, or committed past its deadline */
    unmade = (st->len == 7 && (ngx_strncmp(st->data, "aborted", 7) == 0
                               || ngx_strncmp(st->data, "expired", 7) == 0));

    if (ser != NULL && unmade) {
        req->state = ser;
        ngx_booking_series_unmade(req, ser);
        ngx_booking_spread_forget(sp);
    }

    /* whatever else failed, what was cancelled gives its claims back */
    if (sp->op.len == 6 && ngx_strncmp(sp->op.data, "cancel", 6) == 0
        && ngx_booking_quota_any(req->conf))
    {
        ngx_booking_spread_release(sp);
    }

    if (sp->refusal.http) {
        g = sp->refusal;
        g.listed.data = sp->listed.data;
        g.listed.len = sp->listed.len;

        if (g.code.len == 0) {
            return ngx_booking_op_fail(req, g.http, "unavailable",
                                       "an item does not fit", "items");
        }

        return ngx_booking_view_group(&req->answer, req->pool, &g, &sp->rid,
                                      NULL);
    }

    if (ser != NULL && unmade) {
        return ngx_booking_op_fail(req, NGX_HTTP_SERVICE_UNAVAILABLE,
                                   "backend_unavailable",
                                   "a part of the group could not be booked "
                                   "in time: nothing was booked", NULL);
    }

    if (sp->replay && st->len == 7
        && (!sp->hold || ngx_strncmp(st->data, "aborted", 7) == 0))
    {
        /* "pending" without hold: the first request is still at it */
        return ngx_booking_op_fail(req, NGX_HTTP_CONFLICT, "conflict",
                                   unmade ? "the request with this "
                                            "Idempotency-Key booked nothing: "
                                            "send it with a new key"
                                          : "the request with this "
                                            "Idempotency-Key is still being "
                                            "booked: ask again", NULL);
    }

    if (st->len == 7 && ngx_strncmp(st->data, "aborted", 7) == 0) {
        return ngx_booking_op_fail(req, NGX_HTTP_NOT_FOUND, "not_found",
                                   "no such group", NULL);
    }

    if (sp->failed && sp->state.len) {
        return ngx_booking_op_fail(req, NGX_HTTP_GATEWAY_TIME_OUT,
                                   "backend_timeout",
                                   "the group was decided, but not every "
                                   "part of it could be read: GET it", NULL);
    }

    if (sp->failed) {
        return sp->failed == NGX_BOOKING_STORE_TIMEOUT
               ? ngx_booking_op_fail(req, NGX_HTTP_GATEWAY_TIME_OUT,
                                     "backend_timeout",
                                     "Redis did not answer in time; the "
                                     "group's outcome is its own to tell "
                                     "(GET it)", NULL)
               : ngx_booking_op_unavailable(req);
    }

    if (sp->op.len == 7 && ngx_strncmp(sp->op.data, "confirm", 7) == 0) {
        if (st->len == 7 && ngx_strncmp(st->data, "expired", 7) == 0) {
            return ngx_booking_op_fail(req, 410, "expired",
                                       "the group's holds expired before "
                                       "it was confirmed", NULL);
        }

        if (st->len != 9 || ngx_strncmp(st->data, "confirmed", 9) != 0) {
            return ngx_booking_op_fail(req, NGX_HTTP_CONFLICT, "conflict",
                                       "this group cannot be confirmed",
                                       NULL);
        }
    }

    return ngx_booking_spread_group_answer(sp);
}


/*
 * A POST that booked nothing leaves its Idempotency-Key free, as a refusal
 * of one slot does: its retry books afresh (not waited for; one lost
 * makes the retry a 409 that says so).
 */
static void
ngx_booking_spread_forget(ngx_booking_spread_t *sp)
{
    ngx_booking_call_t  *call;

    if (sp->ikey.len == 0) {
        return;
    }

    call = ngx_booking_op_call(sp->req, -1, 0, 2, NGX_BOOKING_R_STATUS,
                               ngx_booking_series_ignore);
    if (call == NULL) {
        return;
    }

    ngx_str_set(&call->args[0], "DEL");
    call->args[1] = sp->ikey;

    (void) ngx_booking_store_call(call);
}


/* a cancelled group's bookings give their claims back now */
static void
ngx_booking_spread_release(ngx_booking_spread_t *sp)
{
    ngx_uint_t  k, j;

    for (k = 0; k < sp->nparts; k++) {
        for (j = 0; j < sp->parts[k].nrecs; j++) {
            ngx_booking_group_release_one(sp->req, sp->parts[k].recs[j]);
        }
    }
}


/* every part's bookings, a POST's in the request's order */
static ngx_int_t
ngx_booking_spread_group_answer(ngx_booking_spread_t *sp)
{
    ngx_uint_t            k, j, n, order;
    ngx_booking_req_t    *req;
    ngx_booking_rec_t    *recs;
    ngx_booking_group_t   g;

    req = sp->req;

    /* in the request's order when each part answered its own */
    order = (sp->ser != NULL);

    for (n = 0, k = 0; k < sp->nparts; k++) {
        n += sp->parts[k].nrecs;
        order = order && sp->parts[k].nrecs == sp->parts[k].n;
    }

    recs = ngx_palloc(req->pool, (n + 1) * sizeof(ngx_booking_rec_t));
    if (recs == NULL) {
        return NGX_ERROR;
    }

    for (n = 0, k = 0; k < sp->nparts; k++) {
        for (j = 0; j < sp->parts[k].nrecs; j++) {
            recs[order ? sp->parts[k].index[j] : n] = *sp->parts[k].recs[j];
            n++;
        }
    }

    ngx_memzero(&g, sizeof(ngx_booking_group_t));
    g.http = sp->replay ? NGX_HTTP_CREATED : sp->http;
    g.replayed = sp->replay;
    g.rand.data = sp->rand.data;
    g.rand.len = sp->rand.len;
    g.kind.data = (u_char *) "items";
    g.kind.len = 5;
    g.listed.data = (u_char *) "";
    g.items.n = n;
    g.items.recs = recs;

    return ngx_booking_group_answer(req, &g, &sp->rid);
}


/*
 * GET /groups/{id}, its confirm, its cancel, of a group across slots: the
 * primary decided (first answer); every part settled as it says, which a
 * GET does too, so that what it shows is what was decided.
 */
static ngx_int_t
ngx_booking_spread_group(ngx_booking_req_t *req, ngx_booking_call_t *call,
    ngx_str_t *op)
{
    ngx_int_t              rc;
    ngx_booking_spread_t  *sp;

    sp = ngx_pcalloc(req->pool, sizeof(ngx_booking_spread_t));
    if (sp == NULL) {
        return NGX_ERROR;
    }

    sp->req = req;
    sp->rand = req->rand;
    sp->op = *op;
    sp->http = NGX_HTTP_OK;

    rc = ngx_booking_spread_told(sp, &call->result.fields);

    return rc;
}


/*
 * The sweeper's: a pinned hold due, "<group> <part>": the primary asked
 * (it decides "expired" once its deadline passed), then every part
 * settled.  done(data) once it is over, whatever happened.
 */
ngx_int_t
ngx_booking_spread_resolve(ngx_booking_req_t *req, ngx_str_t *pin,
    void (*done)(void *data), void *data)
{
    u_char                *p, *dot, *sp_;
    ngx_str_t              gid, op;
    ngx_booking_call_t    *call;
    ngx_booking_spread_t  *sp;

    sp = ngx_pcalloc(req->pool, sizeof(ngx_booking_spread_t));
    if (sp == NULL) {
        return NGX_ERROR;
    }

    sp_ = ngx_strlchr(pin->data, pin->data + pin->len, ' ');
    gid.data = pin->data;
    gid.len = sp_ ? (size_t) (sp_ - pin->data) : pin->len;

    dot = NULL;
    for (p = gid.data; p < gid.data + gid.len; p++) {
        if (*p == '.') {
            dot = p;
        }
    }

    if (dot == NULL || dot == gid.data) {
        return NGX_DECLINED;
    }

    sp->req = req;
    sp->rid.data = gid.data;
    sp->rid.len = dot - gid.data;
    sp->rand.data = dot + 1;
    sp->rand.len = gid.data + gid.len - dot - 1;
    sp->end = done;
    sp->data = data;

    if (ngx_booking_id_check(req->conf, &sp->rid, req->log) != NGX_OK) {
        return NGX_DECLINED;
    }

    /* the pin's own part, for when the primary has no record any more */
    if (sp_ != NULL) {
        sp->parts[0].sp = sp;
        sp->parts[0].rid.data = sp_ + 1;
        sp->parts[0].rid.len = pin->data + pin->len - sp_ - 1;

        if (ngx_booking_id_check(req->conf, &sp->parts[0].rid, req->log)
            != NGX_OK)
        {
            return NGX_DECLINED;
        }
    }

    ngx_str_set(&op, "resolve");

    call = ngx_booking_spread_group_call(sp, &sp->rid, &op,
                                         ngx_booking_spread_decided);
    if (call == NULL) {
        return NGX_ERROR;
    }

    return ngx_booking_store_call(call);
}

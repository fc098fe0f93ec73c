/*
 * What spans resources: a type's listing indexes (T, G) and a user's
 * bookings (U).  Their keys have hash tags of their own, so that every
 * script touches the keys of one hash slot (Redis Cluster refuses any
 * other); the operations keep them in steps of their own, ordered so that
 * a failure between two steps never hides what exists and never sells
 * anything twice (README, "What spans resources"):
 *
 *   - an entry is added before the booking it names is made, and after
 *     the resource it names is written: a crash between the two leaves an
 *     entry of nothing (a booking), which the reads skip and drop, or a
 *     resource not yet listed, which the PUT's retry lists (its client
 *     never got a 2xx);
 *   - an entry is removed after the resource is gone or has changed type,
 *     then the resource is read again and the entry put back if a PUT
 *     made it again in between: removals never race a PUT into hiding a
 *     resource.
 */

#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_booking_ops.h"


typedef struct {
    ngx_booking_req_t    *req;
    ngx_str_t             type;
    ngx_str_t             rid;
    ngx_booking_step_pt   done;
} ngx_booking_step_t;


static ngx_booking_call_t *ngx_booking_type_call(ngx_booking_step_t *st,
    const char *op, ngx_str_t *lat, ngx_str_t *lon,
    ngx_booking_call_pt handler);
static void ngx_booking_type_indexed(ngx_booking_call_t *call);
static void ngx_booking_type_removed(ngx_booking_call_t *call);
static void ngx_booking_type_reread(ngx_booking_call_t *call);
static ngx_booking_step_t *ngx_booking_step(ngx_booking_req_t *req,
    ngx_str_t *type, ngx_str_t *rid, ngx_booking_step_pt done);
static void ngx_booking_step_send(ngx_booking_step_t *st,
    ngx_booking_call_t *call);
static ngx_int_t ngx_booking_user_call(ngx_booking_req_t *req,
    ngx_booking_call_t *call, const char *cmd);
static void ngx_booking_index_ignore(ngx_booking_call_t *call);


/* ZADD U score id, before the booking is made: handler goes on */
ngx_booking_call_t *
ngx_booking_index_user(ngx_booking_req_t *req, ngx_str_t *id,
    ngx_str_t *score, ngx_booking_call_pt handler)
{
    ngx_booking_call_t  *call;

    call = ngx_booking_op_call(req, -1, 0, 4, NGX_BOOKING_R_STATUS, handler);
    if (call == NULL || ngx_booking_user_call(req, call, "ZADD") != NGX_OK) {
        return NULL;
    }

    call->args[2] = *score;
    call->args[3] = *id;

    /* with booking_redis_replicas, WAITed as the booking will be */
    call->writes = 1;

    return call;
}


/* the ZADD of ngx_booking_index_user once more, not waited for */
void
ngx_booking_index_again(ngx_booking_call_t *zadd)
{
    zadd->handler = ngx_booking_index_ignore;

    (void) ngx_booking_store_call(zadd);
}


/*
 * ZREM U id, of a booking that was not made (refused, or a replay of
 * another): sent, not waited for; one lost leaves an entry of nothing,
 * which the user's next listing drops.
 */
void
ngx_booking_unindex_user(ngx_booking_req_t *req, ngx_str_t *id)
{
    ngx_booking_call_t  *call;

    call = ngx_booking_op_call(req, -1, 0, 3, NGX_BOOKING_R_STATUS,
                               ngx_booking_index_ignore);
    if (call == NULL || ngx_booking_user_call(req, call, "ZREM") != NGX_OK) {
        return;
    }

    call->args[2] = *id;
    call->writes = 1;

    (void) ngx_booking_store_call(call);
}


/* cmd bk:{u:<user>}:b, the caller's index */
static ngx_int_t
ngx_booking_user_call(ngx_booking_req_t *req, ngx_booking_call_t *call,
    const char *cmd)
{
    call->args[0].data = (u_char *) cmd;
    call->args[0].len = ngx_strlen(cmd);

    return ngx_booking_user_key(req, &call->args[1]);
}


static void
ngx_booking_index_ignore(ngx_booking_call_t *call)
{
    /* an entry of nothing costs a read, not a wrong answer */
}


/* the resource in its type's indexes, where it now is */
ngx_int_t
ngx_booking_index_type(ngx_booking_req_t *req, ngx_str_t *type,
    ngx_str_t *rid, ngx_str_t *lat, ngx_str_t *lon, ngx_booking_step_pt done)
{
    ngx_booking_call_t  *call;
    ngx_booking_step_t  *st;

    st = ngx_booking_step(req, type, rid, done);
    if (st == NULL) {
        return NGX_ERROR;
    }

    call = ngx_booking_type_call(st, "add", lat, lon,
                                 ngx_booking_type_indexed);
    if (call == NULL) {
        return NGX_ERROR;
    }

    ngx_booking_step_send(st, call);

    return NGX_DONE;
}


/* the resource out of a type's indexes, unless it is of that type again */
ngx_int_t
ngx_booking_unindex_type(ngx_booking_req_t *req, ngx_str_t *type,
    ngx_str_t *rid, ngx_booking_step_pt done)
{
    ngx_str_t            none;
    ngx_booking_call_t  *call;
    ngx_booking_step_t  *st;

    st = ngx_booking_step(req, type, rid, done);
    if (st == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&none, "");

    call = ngx_booking_type_call(st, "del", &none, &none,
                                 ngx_booking_type_removed);
    if (call == NULL) {
        return NGX_ERROR;
    }

    ngx_booking_step_send(st, call);

    return NGX_DONE;
}


static ngx_booking_step_t *
ngx_booking_step(ngx_booking_req_t *req, ngx_str_t *type, ngx_str_t *rid,
    ngx_booking_step_pt done)
{
    ngx_booking_step_t  *st;

    st = ngx_palloc(req->pool, sizeof(ngx_booking_step_t));
    if (st == NULL) {
        return NULL;
    }

    st->req = req;
    st->done = done;
    st->rid = *rid;
    st->type.len = type->len;
    st->type.data = ngx_pnalloc(req->pool, type->len);

    if (st->type.data == NULL) {
        return NULL;
    }

    ngx_memcpy(st->type.data, type->data, type->len);

    return st;
}


/* type_index with T and G of st's type */
static ngx_booking_call_t *
ngx_booking_type_call(ngx_booking_step_t *st, const char *op, ngx_str_t *lat,
    ngx_str_t *lon, ngx_booking_call_pt handler)
{
    u_char              *p;
    ngx_str_t           *k;
    ngx_booking_req_t   *req;
    ngx_booking_call_t  *call;

    req = st->req;

    call = ngx_booking_op_call(req, NGX_BOOKING_SCRIPT_TYPE_INDEX,
                               NGX_BOOKING_TYPE_INDEX_NKEYS,
                               NGX_BOOKING_TYPE_INDEX_NARGS,
                               NGX_BOOKING_R_DONE, handler);
    if (call == NULL) {
        return NULL;
    }

    p = ngx_pnalloc(req->pool, sizeof(NGX_BOOKING_KEY_T)
                               + sizeof(NGX_BOOKING_KEY_G) + 2 * st->type.len);
    if (p == NULL) {
        return NULL;
    }

    k = call->keys;
    k[NGX_BOOKING_TYPE_INDEX_K_T].data = p;
    p = ngx_sprintf(p, "bk:{t:%V}:ids", &st->type);
    k[NGX_BOOKING_TYPE_INDEX_K_T].len = p - k[NGX_BOOKING_TYPE_INDEX_K_T].data;
    k[NGX_BOOKING_TYPE_INDEX_K_G].data = p;
    p = ngx_sprintf(p, "bk:{t:%V}:geo", &st->type);
    k[NGX_BOOKING_TYPE_INDEX_K_G].len = p - k[NGX_BOOKING_TYPE_INDEX_K_G].data;

    call->args[NGX_BOOKING_TYPE_INDEX_A_OP].data = (u_char *) op;
    call->args[NGX_BOOKING_TYPE_INDEX_A_OP].len = ngx_strlen(op);
    call->args[NGX_BOOKING_TYPE_INDEX_A_RID] = st->rid;
    call->args[NGX_BOOKING_TYPE_INDEX_A_LAT] = *lat;
    call->args[NGX_BOOKING_TYPE_INDEX_A_LON] = *lon;
    call->data = st;

    return call;
}


static void
ngx_booking_step_send(ngx_booking_step_t *st, ngx_booking_call_t *call)
{
    /* one not sent fails the step at once: its callers are handlers */
    if (ngx_booking_store_call(call) != NGX_OK) {
        call->rc = NGX_BOOKING_STORE_UNAVAILABLE;
        st->done(st->req, call);
    }
}


static void
ngx_booking_type_indexed(ngx_booking_call_t *call)
{
    ngx_booking_step_t *st = call->data;

    st->done(st->req, call->rc == NGX_BOOKING_STORE_OK ? NULL : call);
}


/* out of the index: read the resource again, in case a PUT made it anew */
static void
ngx_booking_type_removed(ngx_booking_call_t *call)
{
    ngx_booking_step_t *st = call->data;

    ngx_booking_req_t   *req;
    ngx_booking_call_t  *read;
    static const char   *r[] = { NGX_BOOKING_KEY_R, NULL };

    req = st->req;

    if (call->rc != NGX_BOOKING_STORE_OK) {
        st->done(req, call);
        return;
    }

    read = ngx_booking_op_call(req, -1, 0, 5, NGX_BOOKING_R_FIELDS,
                               ngx_booking_type_reread);
    if (read == NULL
        || ngx_booking_resource_keys(req, &st->rid, &read->args[1], r)
           != NGX_OK)
    {
        st->done(req, call);
        return;
    }

    ngx_str_set(&read->args[0], "HMGET");
    ngx_str_set(&read->args[2], "type");
    ngx_str_set(&read->args[3], "lat");
    ngx_str_set(&read->args[4], "lon");
    read->data = st;

    ngx_booking_step_send(st, read);
}


static void
ngx_booking_type_reread(ngx_booking_call_t *call)
{
    ngx_booking_step_t *st = call->data;

    ngx_str_t              at[2];
    ngx_uint_t             i;
    ngx_booking_call_t    *add;
    ngx_booking_fields_t  *f;

    f = &call->result.fields;

    if (call->rc != NGX_BOOKING_STORE_OK || f->n != 3) {
        st->done(st->req, call->rc == NGX_BOOKING_STORE_OK ? NULL : call);
        return;
    }

    if (f->v[0].data == NULL || f->v[0].len != st->type.len
        || ngx_strncmp(f->v[0].data, st->type.data, st->type.len) != 0)
    {
        st->done(st->req, NULL);
        return;
    }

    /* a resource PUT before lat and lon were kept: ids only */
    for (i = 0; i < 2; i++) {
        at[i].len = f->v[1].data && f->v[2].data ? f->v[1 + i].len : 0;
        at[i].data = ngx_pnalloc(st->req->pool, at[i].len + 1);

        if (at[i].data == NULL) {
            st->done(st->req, call);
            return;
        }

        if (at[i].len) {
            ngx_memcpy(at[i].data, f->v[1 + i].data, at[i].len);
        }
    }

    add = ngx_booking_type_call(st, "add", &at[0], &at[1],
                                ngx_booking_type_indexed);
    if (add == NULL) {
        st->done(st->req, call);
        return;
    }

    ngx_booking_step_send(st, add);
}

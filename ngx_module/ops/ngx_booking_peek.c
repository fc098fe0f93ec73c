/*
 * Reads without a script: a resource's fields (HMGET R), its counter
 * chunks (HMGET C) and Redis's clock (TIME), sent as plain commands in one
 * pipelined batch.  A script costs Redis several times what the commands
 * it runs cost (its prelude and every value it copies in and out of Lua),
 * and a read changes nothing, so availability and listing pages read the
 * stored data and decide in the worker.
 *
 * Only a script frees expired holds: while the resource's "due" (the
 * soonest a hold may expire) is still ahead of Redis's clock, the counters
 * read are exactly what a script would have answered; otherwise, or when
 * the resource's slot is not the one the chunks were picked for, the
 * caller sends the script instead.
 */

#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_booking_ops.h"


/* a hold due this close to the clock read: the script decides */
#define NGX_BOOKING_PEEK_MARGIN  1


static const char *const  ngx_booking_peek_fields[] = {
    "type", "slot", "capacity", "used", "due", "hours", "doc"
};


ngx_booking_call_t *
ngx_booking_peek_resource(ngx_booking_req_t *req, ngx_str_t *id,
    ngx_uint_t doc, ngx_booking_call_pt handler)
{
    ngx_uint_t           i, n;
    ngx_booking_call_t  *call;
    static const char   *r[] = { NGX_BOOKING_KEY_R, NULL };

    n = doc ? 7 : 6;

    call = ngx_booking_op_call(req, -1, 0, 2 + n, NGX_BOOKING_R_FIELDS,
                               handler);
    if (call == NULL
        || ngx_booking_resource_keys(req, id, &call->args[1], r) != NGX_OK)
    {
        return NULL;
    }

    ngx_str_set(&call->args[0], "HMGET");

    for (i = 0; i < n; i++) {
        call->args[2 + i].data = (u_char *) ngx_booking_peek_fields[i];
        call->args[2 + i].len = ngx_strlen(ngx_booking_peek_fields[i]);
    }

    return call;
}


/* HMGET C of as many chunks: their numbers, from args[2] on, are the
 * caller's to write (ngx_booking_peek_chunk) */
ngx_booking_call_t *
ngx_booking_peek_chunks(ngx_booking_req_t *req, ngx_str_t *id, size_t count,
    ngx_booking_call_pt handler)
{
    ngx_booking_call_t  *call;
    static const char   *c[] = { NGX_BOOKING_KEY_C, NULL };

    call = ngx_booking_op_call(req, -1, 0, 2 + count, NGX_BOOKING_R_FIELDS,
                               handler);
    if (call == NULL
        || ngx_booking_resource_keys(req, id, &call->args[1], c) != NGX_OK)
    {
        return NULL;
    }

    ngx_str_set(&call->args[0], "HMGET");

    return call;
}


/* chunks first .. first + count - 1, as the fields from the at-th on */
ngx_int_t
ngx_booking_peek_chunk(ngx_booking_req_t *req, ngx_booking_call_t *call,
    size_t at, int64_t first, size_t count)
{
    size_t  k;

    for (k = 0; k < count; k++) {
        if (ngx_booking_num(req, &call->args[2 + at + k], first + (int64_t) k)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


ngx_booking_call_t *
ngx_booking_peek_time(ngx_booking_req_t *req, ngx_booking_call_pt handler)
{
    ngx_booking_call_t  *call;

    call = ngx_booking_op_call(req, -1, 0, 1, NGX_BOOKING_R_FIELDS, handler);
    if (call == NULL) {
        return NULL;
    }

    ngx_str_set(&call->args[0], "TIME");

    return call;
}


/* Redis's clock in seconds, from TIME's answer; -1: not one */
int64_t
ngx_booking_peek_now(ngx_booking_fields_t *f)
{
    ngx_int_t  n;

    if (f->n != 2 || f->v[0].data == NULL) {
        return -1;
    }

    n = ngx_atoi((u_char *) f->v[0].data, f->v[0].len);

    return (n == NGX_ERROR) ? -1 : n;
}


/*
 * The resource from HMGET R's answer, copied to the request's pool:
 * NGX_OK (p->found 0 when there is no such resource), NGX_ERROR for no
 * memory or fields not as any script writes them.
 */
ngx_int_t
ngx_booking_peek_parse(ngx_booking_req_t *req, ngx_booking_fields_t *f,
    ngx_booking_peek_t *p)
{
    ngx_int_t            n[4];
    ngx_uint_t           i;
    ngx_booking_span_t  *v;

    ngx_memzero(p, sizeof(ngx_booking_peek_t));

    if (f->n < 5) {
        return NGX_ERROR;
    }

    v = f->v;

    if (v[0].data == NULL) {
        return NGX_OK;
    }

    for (i = 0; i < 3; i++) {
        n[i] = (v[1 + i].data != NULL)
               ? ngx_atoi((u_char *) v[1 + i].data, v[1 + i].len)
               : NGX_ERROR;

        if (n[i] == NGX_ERROR) {
            return NGX_ERROR;
        }
    }

    /* no "due" yet (written before it was kept): the script will say */
    n[3] = (v[4].data != NULL) ? ngx_atoi((u_char *) v[4].data, v[4].len)
                               : 0;
    if (n[3] == NGX_ERROR) {
        return NGX_ERROR;
    }

    p->found = 1;
    p->slot = n[0];
    p->capacity = n[1];
    p->used = n[2];
    p->due = n[3];

    p->type.len = v[0].len;
    p->type.data = ngx_pnalloc(req->pool, v[0].len + 1);
    if (p->type.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p->type.data, v[0].data, v[0].len);

    if (f->n > 5 && v[5].data != NULL && v[5].len) {
        p->hours.len = v[5].len;
        p->hours.data = ngx_pnalloc(req->pool, v[5].len);
        if (p->hours.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(p->hours.data, v[5].data, v[5].len);
    }

    if (f->n > 6 && v[6].data != NULL) {
        p->doc.len = v[6].len;
        p->doc.data = ngx_pnalloc(req->pool, v[6].len);
        if (p->doc.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(p->doc.data, v[6].data, v[6].len);
    }

    return NGX_OK;
}


/* nothing is due: what was read is what a script would have answered */
ngx_uint_t
ngx_booking_peek_fresh(ngx_booking_peek_t *p, int64_t now)
{
    return now >= 0 && p->due > now + NGX_BOOKING_PEEK_MARGIN;
}

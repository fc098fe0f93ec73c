/*
 * The waitlist (SPEC.md §5): POST /waitlist joins the line for a range
 * that is taken; the scripts that free units serve it (common.lua,
 * "waitlist"), with a hold of the waiting user's own made in the same
 * step.  An entry joins through booking_create, so that it is checked
 * exactly as the booking it waits for (rules, groups, and the claims on
 * the user's max_active and quotas, made for the id its offer will have);
 * the rest is the script "waitlist".
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_booking_ops.h"


/* the most entries GET /waitlist answers: a whole line (WAIT_MAX) */
#define NGX_BOOKING_WAITLIST_MAX  "1000"


static ngx_int_t ngx_booking_waitlist_call(ngx_booking_req_t *req,
    const char *op, ngx_str_t *rid, int expect, ngx_booking_call_pt handler);
static void ngx_booking_waitlist_entry(ngx_booking_call_t *call);
static void ngx_booking_waitlist_deleted(ngx_booking_call_t *call);
static void ngx_booking_waitlist_line(ngx_booking_call_t *call);


ngx_int_t
ngx_booking_waitlist_join(ngx_booking_req_t *req)
{
    req->waiting = 1;

    return ngx_booking_create(req);
}


ngx_int_t
ngx_booking_waitlist_get(ngx_booking_req_t *req)
{
    return ngx_booking_waitlist_call(req, "get", &req->id,
                                     NGX_BOOKING_R_BOOKING,
                                     ngx_booking_waitlist_entry);
}


ngx_int_t
ngx_booking_waitlist_delete(ngx_booking_req_t *req)
{
    return ngx_booking_waitlist_call(req, "delete", &req->id,
                                     NGX_BOOKING_R_BOOKING,
                                     ngx_booking_waitlist_deleted);
}


ngx_int_t
ngx_booking_waitlist_list(ngx_booking_req_t *req)
{
    ngx_str_t             rid;
    ngx_booking_query_t  *q;

    q = &req->query;

    if (!(q->set & NGX_BOOKING_Q_RESOURCE)) {
        return ngx_booking_op_fail(req, NGX_HTTP_BAD_REQUEST, "bad_request",
                                   "resource is required", "resource");
    }

    rid.data = q->resource;
    rid.len = q->resource_len;

    if (ngx_booking_id_check(req->conf, &rid, req->log) != NGX_OK) {
        return ngx_booking_op_fail(req, NGX_HTTP_NOT_FOUND, "not_found",
                                   "no such resource", "resource");
    }

    return ngx_booking_waitlist_call(req, "list", &rid, NGX_BOOKING_R_PAGE,
                                     ngx_booking_waitlist_line);
}


static ngx_int_t
ngx_booking_waitlist_call(ngx_booking_req_t *req, const char *op,
    ngx_str_t *rid, int expect, ngx_booking_call_pt handler)
{
    ngx_str_t           *a;
    ngx_booking_call_t  *call;
    static const char   *rxv[] = { NGX_BOOKING_KEY_R, NGX_BOOKING_KEY_B,
                                   NGX_BOOKING_KEY_X, NGX_BOOKING_KEY_V,
                                   NULL };

    if (req->caller.user.len == 0 && !req->caller.admin) {
        return ngx_booking_op_fail(req, NGX_HTTP_UNAUTHORIZED,
                                   "unauthenticated", "a user is needed",
                                   NULL);
    }

    call = ngx_booking_op_call(req, NGX_BOOKING_SCRIPT_WAITLIST,
                               NGX_BOOKING_WAITLIST_NKEYS,
                               NGX_BOOKING_WAITLIST_NARGS, expect, handler);
    if (call == NULL
        || ngx_booking_resource_keys(req, rid, call->keys, rxv) != NGX_OK)
    {
        return NGX_ERROR;
    }

    a = call->args;
    a[NGX_BOOKING_WAITLIST_A_OP].data = (u_char *) op;
    a[NGX_BOOKING_WAITLIST_A_OP].len = ngx_strlen(op);
    a[NGX_BOOKING_WAITLIST_A_RAND] = req->rand;
    a[NGX_BOOKING_WAITLIST_A_USER] = req->caller.user;
    ngx_str_set(&a[NGX_BOOKING_WAITLIST_A_LIMIT], NGX_BOOKING_WAITLIST_MAX);
    a[NGX_BOOKING_WAITLIST_A_ADMIN].data = (u_char *) (req->caller.admin
                                                       ? "1" : "0");
    a[NGX_BOOKING_WAITLIST_A_ADMIN].len = 1;

    return ngx_booking_op_send(req, call);
}


static void
ngx_booking_waitlist_entry(ngx_booking_call_t *call)
{
    ngx_booking_req_t *req = call->data;

    ngx_int_t  rc;

    rc = ngx_booking_op_check(req, call);

    if (rc == NGX_DECLINED) {
        rc = (call->result.kind == NGX_BOOKING_R_BOOKING)
             ? ngx_booking_view_entry(&req->answer, req->pool,
                                      &call->result.booking)
             : ngx_booking_op_unexpected(req);
    }

    ngx_booking_op_done(req, rc);
}


static void
ngx_booking_waitlist_deleted(ngx_booking_call_t *call)
{
    ngx_booking_req_t *req = call->data;

    ngx_int_t           rc;
    ngx_booking_rec_t  *rec;

    rc = ngx_booking_op_check(req, call);

    if (rc != NGX_DECLINED) {
        ngx_booking_op_done(req, rc);
        return;
    }

    if (call->result.kind != NGX_BOOKING_R_BOOKING) {
        ngx_booking_op_done(req, ngx_booking_op_unexpected(req));
        return;
    }

    /* a waiting entry's claims were its own; an offer's are its booking's */
    rec = &call->result.booking;

    if (rec->status.len == 7
        && ngx_strncmp(rec->status.data, "waiting", 7) == 0)
    {
        ngx_booking_release_claims(req, rec);
    }

    req->answer.status = NGX_HTTP_NO_CONTENT;
    ngx_booking_op_done(req, NGX_OK);
}


static void
ngx_booking_waitlist_line(ngx_booking_call_t *call)
{
    ngx_booking_req_t *req = call->data;

    ngx_int_t  rc;

    rc = ngx_booking_op_check(req, call);

    if (rc == NGX_DECLINED) {
        rc = ngx_booking_view_entries(&req->answer, req->pool,
                                      call->result.page.recs,
                                      call->result.page.n);
    }

    ngx_booking_op_done(req, rc);
}

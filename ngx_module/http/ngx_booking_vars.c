/*
 * The variables of log_format (SPEC.md, "Log variables"): what the API
 * did with a request, read from its context once the answer is made.  A
 * request the API did not serve, or a value it did not have, is "not
 * found", which the access log writes "-".
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_booking_http.h"


typedef enum {
    NGX_BOOKING_VAR_OP = 0,
    NGX_BOOKING_VAR_STATUS,
    NGX_BOOKING_VAR_ID,
    NGX_BOOKING_VAR_RESOURCE,
    NGX_BOOKING_VAR_USER,
    NGX_BOOKING_VAR_REDIS_TIME
} ngx_booking_var_e;


static ngx_int_t ngx_booking_var(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_booking_var_redis_time(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, ngx_booking_req_t *req);


static ngx_http_variable_t  ngx_booking_vars[] = {

    { ngx_string("booking_op"), NULL, ngx_booking_var,
      NGX_BOOKING_VAR_OP, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("booking_status"), NULL, ngx_booking_var,
      NGX_BOOKING_VAR_STATUS, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("booking_id"), NULL, ngx_booking_var,
      NGX_BOOKING_VAR_ID, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("booking_resource"), NULL, ngx_booking_var,
      NGX_BOOKING_VAR_RESOURCE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("booking_user"), NULL, ngx_booking_var,
      NGX_BOOKING_VAR_USER, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("booking_redis_time"), NULL, ngx_booking_var,
      NGX_BOOKING_VAR_REDIS_TIME, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_booking_http_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_booking_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_booking_var(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_str_t                s;
    ngx_booking_req_t       *req;
    ngx_booking_http_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);

    if (ctx == NULL || ctx->route == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    req = &ctx->req;
    ngx_str_null(&s);

    switch (data) {

    case NGX_BOOKING_VAR_OP:
        ngx_booking_http_op(ctx, &s);
        break;

    case NGX_BOOKING_VAR_STATUS:
        if (req->answer.code.len) {
            s = req->answer.code;

        } else if (req->answer.status && req->answer.status < 400) {
            ngx_str_set(&s, "ok");
        }

        break;

    case NGX_BOOKING_VAR_ID:
        s = req->made.len ? req->made : req->booking;
        break;

    case NGX_BOOKING_VAR_RESOURCE:
        s = req->id.len ? req->id : req->change.id;
        break;

    case NGX_BOOKING_VAR_USER:
        s = req->caller.user;
        break;

    default: /* NGX_BOOKING_VAR_REDIS_TIME */
        return ngx_booking_var_redis_time(r, v, req);
    }

    if (s.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = s.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = s.data;

    return NGX_OK;
}


/* seconds with milliseconds, as $upstream_response_time writes them */
static ngx_int_t
ngx_booking_var_redis_time(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, ngx_booking_req_t *req)
{
    u_char      *p;
    ngx_msec_t   ms;

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN + 4);
    if (p == NULL) {
        return NGX_ERROR;
    }

    /* a call still out (a request the client left) counts until now */
    ms = req->redis_time.total;

    if (req->redis_time.out) {
        ms += ngx_current_msec - req->redis_time.since;
    }

    v->len = ngx_sprintf(p, "%T.%03M", (time_t) ms / 1000, ms % 1000) - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}

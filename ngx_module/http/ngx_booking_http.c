/*
 * The HTTP API: one route table, and a request that reads as a straight
 * line: route -> arguments, caller and body -> the operation (its store
 * calls, its view) -> the answer sent, the cache told what changed.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_booking_http.h"


#define NGX_BOOKING_GET  (NGX_HTTP_GET|NGX_HTTP_HEAD)


static ngx_int_t ngx_booking_route(ngx_http_request_t *r,
    ngx_booking_http_ctx_t *ctx);
static ngx_int_t ngx_booking_not_allowed(ngx_http_request_t *r,
    ngx_booking_route_t *rt);
static ngx_int_t ngx_booking_path_ids(ngx_http_request_t *r,
    ngx_booking_http_ctx_t *ctx, ngx_booking_route_t *rt,
    ngx_booking_perr_t *err);
static ngx_int_t ngx_booking_caller(ngx_http_request_t *r,
    ngx_booking_http_ctx_t *ctx, ngx_booking_perr_t *err);
static ngx_int_t ngx_booking_http_err(ngx_booking_perr_t *err,
    ngx_uint_t status, const char *code, const char *message,
    const char *field);
static const char *ngx_booking_no_such(ngx_int_t route);
static ngx_int_t ngx_booking_printable(ngx_str_t *s);
static ngx_int_t ngx_booking_json_content_type(ngx_http_request_t *r);
static void ngx_booking_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_booking_request_body(ngx_http_request_t *r,
    ngx_str_t *body);
static ngx_int_t ngx_booking_cached_read(ngx_http_request_t *r,
    ngx_booking_http_ctx_t *ctx);
static void ngx_booking_resume(ngx_http_request_t *r, ngx_int_t rc);
static ngx_int_t ngx_booking_run(ngx_http_request_t *r,
    ngx_booking_http_ctx_t *ctx);
static void ngx_booking_finish(ngx_booking_req_t *req);
static ngx_int_t ngx_booking_answer(ngx_http_request_t *r,
    ngx_booking_http_ctx_t *ctx);
static ngx_int_t ngx_booking_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message, const char *field);
static ngx_int_t ngx_booking_send_body(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *type, ngx_str_t *body);
static ngx_int_t ngx_booking_send_cached(ngx_http_request_t *r,
    ngx_str_t *body, uint64_t etag);
static ngx_int_t ngx_booking_send_empty(ngx_http_request_t *r,
    ngx_uint_t status);
static ngx_int_t ngx_booking_header_out(ngx_http_request_t *r,
    const char *name, ngx_str_t *value);
static ngx_table_elt_t *ngx_booking_header_in(ngx_http_request_t *r,
    const char *name, size_t len);
static void ngx_booking_cleanup(void *data);
static ngx_int_t ngx_booking_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_booking_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


/*
 * The API.  A path's methods are its rows, in this order: the Allow
 * header of a 405 lists them so.
 */
static ngx_booking_route_entry_t  ngx_booking_routes[] = {

    { NGX_BOOKING_ROUTE_RESOURCES, NGX_BOOKING_GET, ngx_booking_listing,
      "listing",
      NGX_BOOKING_Q_TYPE|NGX_BOOKING_Q_FROM|NGX_BOOKING_Q_TO
      |NGX_BOOKING_Q_QUANTITY|NGX_BOOKING_Q_NEAR|NGX_BOOKING_Q_RADIUS
      |NGX_BOOKING_Q_LIMIT|NGX_BOOKING_Q_CURSOR,
      0, 0, 1 },

    { NGX_BOOKING_ROUTE_RESOURCE, NGX_BOOKING_GET, ngx_booking_resource_get,
      "resource_get", 0, 0, 0, 1 },

    { NGX_BOOKING_ROUTE_RESOURCE, NGX_HTTP_PUT, ngx_booking_resource_put,
      "resource_put", 0, 1, 1, 0 },

    { NGX_BOOKING_ROUTE_RESOURCE, NGX_HTTP_DELETE,
      ngx_booking_resource_delete, "resource_delete", 0, 1, 0, 0 },

    { NGX_BOOKING_ROUTE_AVAILABILITY, NGX_BOOKING_GET,
      ngx_booking_availability, "availability",
      NGX_BOOKING_Q_FROM|NGX_BOOKING_Q_TO, 0, 0, 1 },

    { NGX_BOOKING_ROUTE_CALENDAR, NGX_BOOKING_GET, ngx_booking_calendar,
      "calendar", 0, 0, 0, 0 },

    { NGX_BOOKING_ROUTE_BOOKINGS, NGX_BOOKING_GET, ngx_booking_list,
      "bookings_list",
      NGX_BOOKING_Q_RESOURCE|NGX_BOOKING_Q_FROM|NGX_BOOKING_Q_TO
      |NGX_BOOKING_Q_STATUS|NGX_BOOKING_Q_CURSOR|NGX_BOOKING_Q_LIMIT,
      0, 0, 0 },

    { NGX_BOOKING_ROUTE_BOOKINGS, NGX_HTTP_POST, ngx_booking_create,
      "book", 0, 0, 1, 0 },

    { NGX_BOOKING_ROUTE_BOOKING, NGX_BOOKING_GET, ngx_booking_get,
      "booking_get", 0, 0, 0, 0 },

    /* confirm, cancel, approve, decline: a body, if any, is read and left */
    { NGX_BOOKING_ROUTE_BOOKING_OP, NGX_HTTP_POST, ngx_booking_act,
      "act", 0, 0, 1, 0 },

    { NGX_BOOKING_ROUTE_WAITLIST, NGX_BOOKING_GET, ngx_booking_waitlist_list,
      "waitlist", NGX_BOOKING_Q_RESOURCE, 0, 0, 0 },

    { NGX_BOOKING_ROUTE_WAITLIST, NGX_HTTP_POST, ngx_booking_waitlist_join,
      "waitlist", 0, 0, 1, 0 },

    { NGX_BOOKING_ROUTE_ENTRY, NGX_BOOKING_GET, ngx_booking_waitlist_get,
      "waitlist", 0, 0, 0, 0 },

    { NGX_BOOKING_ROUTE_ENTRY, NGX_HTTP_DELETE, ngx_booking_waitlist_delete,
      "waitlist", 0, 0, 0, 0 },

    { NGX_BOOKING_ROUTE_GROUP, NGX_BOOKING_GET, ngx_booking_group_get,
      "group", 0, 0, 0, 0 },

    { NGX_BOOKING_ROUTE_GROUP_OP, NGX_HTTP_POST, ngx_booking_group_act,
      "group", 0, 0, 1, 0 },

    { NGX_BOOKING_ROUTE_NONE, 0, NULL, NULL, 0, 0, 0, 0 }
};


static ngx_str_t  ngx_booking_json_type = ngx_string("application/json");
static ngx_str_t  ngx_booking_true = ngx_string("true");


static ngx_http_output_header_filter_pt  ngx_booking_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_booking_next_body_filter;


typedef struct {
    ngx_uint_t           status;
    ngx_str_t            body;
} ngx_booking_nginx_error_t;


/*
 * nginx's own answers once the module runs (reading a body, or an internal
 * error on any path: a failed allocation, a temporary file that cannot be
 * written), made the JSON error every client of the API expects.  413
 * also when nginx refuses the body before the module runs, by its
 * Content-Length.
 */
static ngx_booking_nginx_error_t  ngx_booking_nginx_errors[] = {
    { NGX_HTTP_BAD_REQUEST, ngx_string(
      "{\"error\":{\"code\":\"bad_request\","
      "\"message\":\"the body could not be read\"}}\n") },
    { NGX_HTTP_REQUEST_TIME_OUT, ngx_string(
      "{\"error\":{\"code\":\"bad_request\","
      "\"message\":\"the body did not come in time\"}}\n") },
    { NGX_HTTP_LENGTH_REQUIRED, ngx_string(
      "{\"error\":{\"code\":\"bad_request\","
      "\"message\":\"a Content-Length is needed\"}}\n") },
    { NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, ngx_string(
      "{\"error\":{\"code\":\"too_large\","
      "\"message\":\"the body is larger than client_max_body_size\"}}\n") },
    { NGX_HTTP_INTERNAL_SERVER_ERROR, ngx_string(
      "{\"error\":{\"code\":\"internal\","
      "\"message\":\"internal error\"}}\n") },
    { NGX_HTTP_SERVICE_UNAVAILABLE, ngx_string(
      "{\"error\":{\"code\":\"backend_unavailable\","
      "\"message\":\"the request cannot be served now\"}}\n") },
    { 0, ngx_null_string }
};


ngx_int_t
ngx_booking_api_handler(ngx_http_request_t *r)
{
    ngx_int_t                rc;
    ngx_pool_cleanup_t      *cln;
    ngx_booking_http_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_booking_http_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* whoever waits for a read of this request must not wait for nothing */
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_booking_cleanup;
    cln->data = ctx;

    ctx->request = r;
    ctx->cache.request = r;
    ngx_http_set_ctx(r, ctx, ngx_http_booking_module);

    rc = ngx_booking_route(r, ctx);

    if (ctx->route == NULL) {
        /* not routed: rc is that of the error answer already sent */
        ngx_http_discard_request_body(r);
        return rc;
    }

    if (r->method & (NGX_HTTP_PUT|NGX_HTTP_POST)) {

        /* a confirm or cancel may come with no body at all */
        if ((r->headers_in.content_length_n > 0 || r->headers_in.chunked)
            && ngx_booking_json_content_type(r) != NGX_OK)
        {
            ngx_http_discard_request_body(r);
            return ngx_booking_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                     "unsupported_media_type",
                                     "the body must be application/json",
                                     NULL);
        }

        r->request_body_in_single_buf = 1;

        rc = ngx_http_read_client_request_body(r, ngx_booking_body_handler);
        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            return rc;
        }

        return NGX_DONE;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_booking_cached_read(r, ctx);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    rc = ngx_booking_run(r, ctx);

    if (rc == NGX_DONE) {
        /* held until the operation's answer finalizes the request */
        r->main->count++;
    }

    return rc;
}


/*
 * What the path names, whether the method applies, who may, and what the
 * arguments and the caller are: sets ctx->route, or answers the error
 * (and leaves ctx->route NULL).
 */
static ngx_int_t
ngx_booking_route(ngx_http_request_t *r, ngx_booking_http_ctx_t *ctx)
{
    u_char                     *p;
    ngx_int_t                   rc;
    ngx_booking_req_t          *req;
    ngx_booking_perr_t          err;
    ngx_booking_route_t         rt;
    ngx_booking_loc_conf_t     *blcf;
    ngx_booking_main_conf_t    *bmcf;
    ngx_http_core_loc_conf_t   *clcf;
    ngx_booking_route_entry_t  *e;

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_booking_module);
    blcf = ngx_http_get_module_loc_conf(r, ngx_http_booking_module);
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    p = r->uri.data;

    if (r->uri.len >= clcf->name.len
        && ngx_strncmp(r->uri.data, clcf->name.data, clcf->name.len) == 0)
    {
        p += clcf->name.len;
    }

    (void) ngx_booking_route_match(p, r->uri.data + r->uri.len - p, &rt);

    if (rt.route == NGX_BOOKING_ROUTE_NONE) {
        return ngx_booking_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                 "no such route", NULL);
    }

    if (rt.route == NGX_BOOKING_ROUTE_NO_BOOKING
        || rt.route == NGX_BOOKING_ROUTE_NO_ENTRY
        || rt.route == NGX_BOOKING_ROUTE_NO_GROUP)
    {
        return ngx_booking_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                 ngx_booking_no_such(rt.route), NULL);
    }

    for (e = ngx_booking_routes; e->op != NULL; e++) {
        if (e->route == rt.route && (e->methods & r->method)) {
            break;
        }
    }

    if (e->op == NULL) {
        return ngx_booking_not_allowed(r, &rt);
    }

    if (e->admin && blcf->api != NGX_BOOKING_API_ADMIN) {
        return ngx_booking_error(r, NGX_HTTP_FORBIDDEN, "forbidden",
                                 "resources are written through an admin "
                                 "location", NULL);
    }

    req = &ctx->req;
    req->pool = r->pool;
    req->log = r->connection->log;
    req->conf = &bmcf->ops;
    req->name = e->name;
    req->finish = ngx_booking_finish;
    req->data = ctx;
    req->caller.admin = (blcf->api == NGX_BOOKING_API_ADMIN);
    req->caller.anonymous = blcf->anonymous ? 1 : 0;

    rc = ngx_booking_path_ids(r, ctx, &rt, &err);

    if (rc == NGX_OK
        && ngx_booking_query_parse(r->args.data, r->args.len, e->query,
                                   &req->query, &err)
           != NGX_BOOKING_OK)
    {
        rc = NGX_DECLINED;
    }

    if (rc == NGX_OK) {
        rc = ngx_booking_caller(r, ctx, &err);
    }

    if (rc == NGX_DECLINED) {
        return ngx_booking_error(r, err.status, err.code, err.message,
                                 err.field);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->route = e;

    return NGX_OK;
}


/* the path's methods, as the table lists them */
static ngx_int_t
ngx_booking_not_allowed(ngx_http_request_t *r, ngx_booking_route_t *rt)
{
    u_char                     *p;
    ngx_str_t                   allow;
    ngx_uint_t                  i;
    ngx_booking_route_entry_t  *e;
    static ngx_uint_t           methods[] = { NGX_HTTP_GET, NGX_HTTP_HEAD,
                                              NGX_HTTP_POST, NGX_HTTP_PUT,
                                              NGX_HTTP_DELETE };
    static const char          *names[] = { "GET", "HEAD", "POST", "PUT",
                                            "DELETE" };

    p = ngx_pnalloc(r->pool, 64);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    allow.data = p;

    for (e = ngx_booking_routes; e->op != NULL; e++) {
        if (e->route != rt->route) {
            continue;
        }

        for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
            if (e->methods & methods[i]) {
                p = ngx_sprintf(p, "%s%s", p == allow.data ? "" : ", ",
                                names[i]);
            }
        }
    }

    allow.len = p - allow.data;

    if (ngx_booking_header_out(r, "Allow", &allow) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_booking_error(r, NGX_HTTP_NOT_ALLOWED, "method_not_allowed",
                             "method not allowed here", NULL);
}


/*
 * The resource and booking ids of the path, and the booking's token:
 * NGX_DECLINED, with err, for ids the pattern refuses.
 */
static ngx_int_t
ngx_booking_path_ids(ngx_http_request_t *r, ngx_booking_http_ctx_t *ctx,
    ngx_booking_route_t *rt, ngx_booking_perr_t *err)
{
    ngx_table_elt_t    *h;
    ngx_booking_req_t  *req;

    req = &ctx->req;

    if (rt->id == NULL) {
        return NGX_OK;
    }

    req->id.data = (u_char *) rt->id;
    req->id.len = rt->id_len;

    if (rt->booking == NULL) {
        if (ngx_booking_id_check(req->conf, &req->id, req->log) != NGX_OK) {
            return ngx_booking_http_err(err, NGX_HTTP_BAD_REQUEST,
                                        "bad_request",
                                        "the resource id does not match "
                                        "booking_id_pattern", "id");
        }

        return NGX_OK;
    }

    req->booking.data = (u_char *) rt->booking;
    req->booking.len = rt->booking_len;
    req->rand.data = (u_char *) rt->rand;
    req->rand.len = rt->rand_len;

    if (rt->op != NULL) {
        /* a NUL-ended copy: it names the operation in the logs too */
        req->verb.data = ngx_pnalloc(r->pool, rt->op_len + 1);
        if (req->verb.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(req->verb.data, rt->op, rt->op_len);
        req->verb.data[rt->op_len] = '\0';
        req->verb.len = rt->op_len;
    }

    if (ngx_booking_id_check(req->conf, &req->id, req->log) != NGX_OK) {
        return ngx_booking_http_err(err, NGX_HTTP_NOT_FOUND, "not_found",
                                    ngx_booking_no_such(rt->route), NULL);
    }

    h = ngx_booking_header_in(r, "Booking-Token", 13);

    if (h != NULL) {
        req->caller.token = ngx_booking_token_check(req->conf->secret.data,
                                                    req->conf->secret.len,
                                                    rt->booking,
                                                    rt->booking_len,
                                                    h->value.data,
                                                    h->value.len) ? 1 : 0;
    }

    return NGX_OK;
}


/*
 * The caller: booking_user and booking_user_groups evaluated for this
 * request ("" when there is none), and the Idempotency-Key.
 */
static ngx_int_t
ngx_booking_caller(ngx_http_request_t *r, ngx_booking_http_ctx_t *ctx,
    ngx_booking_perr_t *err)
{
    ngx_int_t                rc;
    ngx_table_elt_t         *h;
    ngx_booking_caller_t    *who;
    ngx_booking_loc_conf_t  *blcf;

    blcf = ngx_http_get_module_loc_conf(r, ngx_http_booking_module);
    who = &ctx->req.caller;

    ngx_str_set(&who->user, "");
    ngx_str_set(&who->groups, "");

    if (blcf->jwt != NGX_BOOKING_JWT_OFF) {
        /* on: a token or nothing; optional: no token is a guest */
        if (blcf->jwt == NGX_BOOKING_JWT_ON) {
            ctx->req.caller.anonymous = 0;
        }

        rc = ngx_booking_auth_bearer(r, ctx, err);

        if (rc != NGX_OK) {
            return rc;
        }

    } else if ((blcf->user != NULL
                && ngx_http_complex_value(r, blcf->user, &who->user)
                   != NGX_OK)
               || (blcf->user_groups != NULL
                   && ngx_http_complex_value(r, blcf->user_groups,
                                             &who->groups)
                      != NGX_OK))
    {
        return NGX_ERROR;
    }

    if (ngx_booking_printable(&who->user) != NGX_OK
        || who->user.len > NGX_BOOKING_USER_MAX
        || ngx_booking_printable(&who->groups) != NGX_OK
        || who->groups.len > NGX_BOOKING_CALLER_GROUPS_MAX)
    {
        return ngx_booking_http_err(err, NGX_HTTP_BAD_REQUEST, "bad_request",
                                    "the user or groups of the request hold "
                                    "control characters", "user");
    }

    h = ngx_booking_header_in(r, "Idempotency-Key", 15);

    if (h != NULL) {
        ctx->req.idempotency = h->value;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_booking_http_err(ngx_booking_perr_t *err, ngx_uint_t status,
    const char *code, const char *message, const char *field)
{
    err->status = status;
    err->code = code;
    err->message = message;
    err->field = field;

    return NGX_DECLINED;
}


/* what a well-formed path names but its id cannot be */
static const char *
ngx_booking_no_such(ngx_int_t route)
{
    switch (route) {

    case NGX_BOOKING_ROUTE_ENTRY:
    case NGX_BOOKING_ROUTE_NO_ENTRY:
        return "no such waitlist entry";

    case NGX_BOOKING_ROUTE_GROUP:
    case NGX_BOOKING_ROUTE_GROUP_OP:
    case NGX_BOOKING_ROUTE_NO_GROUP:
        return "no such group";

    default:
        return "no such booking";
    }
}


/* no control characters in what ends up in Redis and JSON */
static ngx_int_t
ngx_booking_printable(ngx_str_t *s)
{
    ngx_uint_t  i;

    for (i = 0; i < s->len; i++) {
        if (s->data[i] < 0x20 || s->data[i] == 0x7f) {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* "application/json", any case, with or without parameters */
static ngx_int_t
ngx_booking_json_content_type(ngx_http_request_t *r)
{
    u_char     *p, *last;
    ngx_str_t  *ct;

    if (r->headers_in.content_type == NULL) {
        return NGX_DECLINED;
    }

    ct = &r->headers_in.content_type->value;

    if (ct->len < 16 || ngx_strncasecmp(ct->data, (u_char *) "application/json",
                                        16) != 0)
    {
        return NGX_DECLINED;
    }

    p = ct->data + 16;
    last = ct->data + ct->len;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    return (p == last || *p == ';') ? NGX_OK : NGX_DECLINED;
}


static void
ngx_booking_body_handler(ngx_http_request_t *r)
{
    ngx_int_t                rc;
    ngx_booking_http_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);

    if (ngx_booking_request_body(r, &ctx->req.body) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_booking_run(r, ctx);

    /* on NGX_DONE the reference taken by reading the body is kept */
    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


/*
 * The request body as one piece of memory.  nginx may have spilled a large
 * one to a temporary file; it is at most client_max_body_size.
 */
static ngx_int_t
ngx_booking_request_body(ngx_http_request_t *r, ngx_str_t *body)
{
    u_char       *p;
    off_t         len;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    body->len = 0;
    body->data = (u_char *) "";

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    cl = r->request_body->bufs;

    if (cl->next == NULL && !cl->buf->in_file) {
        body->data = cl->buf->pos;
        body->len = cl->buf->last - cl->buf->pos;
        return NGX_OK;
    }

    len = 0;

    for ( /* void */ ; cl; cl = cl->next) {
        b = cl->buf;
        len += b->in_file ? b->file_last - b->file_pos : b->last - b->pos;
    }

    p = ngx_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    body->data = p;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (!b->in_file) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
            continue;
        }

        n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                          b->file_pos);
        if (n != b->file_last - b->file_pos) {
            return NGX_ERROR;
        }

        p += n;
    }

    body->len = p - body->data;

    return NGX_OK;
}


/*
 * A cacheable read by a caller with no user comes from the micro-cache
 * when there is one.  NGX_DECLINED: read it from Redis.
 */
static ngx_int_t
ngx_booking_cached_read(ngx_http_request_t *r, ngx_booking_http_ctx_t *ctx)
{
    u_char                   *p;
    ngx_booking_cache_req_t  *cr;
    ngx_booking_main_conf_t  *bmcf;

    if (!ctx->route->cacheable) {
        return NGX_DECLINED;
    }

    ctx->cacheable = 1;

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_booking_module);

    if (bmcf->cache_zone == NULL || ctx->req.caller.user.len) {
        return NGX_DECLINED;
    }

    cr = &ctx->cache;
    cr->resume = ngx_booking_resume;
    cr->id = ctx->req.id;

    /* a listing page is stale once its type is written */
    if (ctx->route->route == NGX_BOOKING_ROUTE_RESOURCES) {
        cr->type.data = ctx->req.query.type;
        cr->type.len = ctx->req.query.type_len;

    } else {
        cr->type.len = 0;
    }

    /* the path and the arguments as read: one key for every spelling */
    p = ngx_pnalloc(r->pool, r->uri.len + NGX_BOOKING_QUERY_KEY_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cr->key.data = p;
    p = ngx_cpymem(p, r->uri.data, r->uri.len);
    cr->key.len = ngx_booking_query_key(p, &ctx->req.query) - cr->key.data;

    switch (ngx_booking_cache_lookup(r, cr)) {

    case NGX_OK:
        return ngx_booking_send_cached(r, &cr->body, cr->etag);

    case NGX_AGAIN:
        r->main->count++;
        return ngx_booking_cache_wait(r, cr);

    case NGX_DECLINED:
        return NGX_DECLINED;

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}


/*
 * A request waiting for another's read: a hit now (NGX_OK), or the lock
 * passed to it (NGX_DECLINED): it reads for everyone.
 */
static void
ngx_booking_resume(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_connection_t        *c;
    ngx_booking_http_ctx_t  *ctx;

    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);

    if (rc == NGX_OK) {
        rc = ngx_booking_send_cached(r, &ctx->cache.body, ctx->cache.etag);

    } else if (rc == NGX_DECLINED) {
        rc = ngx_booking_run(r, ctx);

        if (rc == NGX_DONE) {
            return;
        }

    } else {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/* the operation: NGX_DONE while its answer is on its way */
static ngx_int_t
ngx_booking_run(ngx_http_request_t *r, ngx_booking_http_ctx_t *ctx)
{
    ngx_int_t  rc;

    rc = ctx->route->op(&ctx->req);

    if (rc == NGX_DONE) {
        return NGX_DONE;
    }

    if (rc != NGX_OK) {
        return ngx_booking_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                 "internal", "internal error", NULL);
    }

    return ngx_booking_answer(r, ctx);
}


/* an operation's answer is ready, after its store calls */
static void
ngx_booking_finish(ngx_booking_req_t *req)
{
    ngx_connection_t        *c;
    ngx_http_request_t      *r;
    ngx_booking_http_ctx_t  *ctx;

    ctx = req->data;
    r = ctx->request;
    c = r->connection;

    ngx_http_finalize_request(r, ngx_booking_answer(r, ctx));
    ngx_http_run_posted_requests(c);
}


/* sends the operation's answer; the cache learns what it read or changed */
static ngx_int_t
ngx_booking_answer(ngx_http_request_t *r, ngx_booking_http_ctx_t *ctx)
{
    uint64_t               etag;
    ngx_uint_t             i;
    ngx_booking_req_t     *req;
    ngx_booking_answer_t  *a;

    req = &ctx->req;
    a = &req->answer;

    if (req->change.changed) {
        ngx_booking_cache_invalidate(r, &req->change.id,
                                     req->change.type.len
                                     ? &req->change.type : NULL);

        for (i = 0; i < req->change.nalso; i++) {
            ngx_booking_cache_invalidate(r, &req->change.also[i],
                                         &req->change.also_type[i]);
        }
    }

    if (a->status == 0) {
        a->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (a->status == NGX_HTTP_NO_CONTENT) {
        return ngx_booking_send_empty(r, NGX_HTTP_NO_CONTENT);
    }

    if (a->body.data == NULL) {
        return ngx_booking_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                 "internal", "internal error", NULL);
    }

    if ((a->token.len
         && ngx_booking_header_out(r, "Booking-Token", &a->token) != NGX_OK)
        || (a->replayed
            && ngx_booking_header_out(r, "Idempotent-Replayed",
                                      &ngx_booking_true) != NGX_OK))
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->cacheable && a->status == NGX_HTTP_OK) {
        etag = ngx_booking_hash64(a->body.data, a->body.len);

        if (ctx->cache.filling) {
            ngx_booking_cache_store(r, &ctx->cache, &a->body, etag);
        }

        return ngx_booking_send_cached(r, &a->body, etag);
    }

    if (ctx->cache.filling) {
        ngx_booking_cache_abandon(r, &ctx->cache);
    }

    return ngx_booking_send_body(r, a->status,
                                 a->type.len ? &a->type
                                             : &ngx_booking_json_type,
                                 &a->body);
}


/* an error the http layer finds itself, before any operation runs */
static ngx_int_t
ngx_booking_error(ngx_http_request_t *r, ngx_uint_t status, const char *code,
    const char *message, const char *field)
{
    ngx_booking_answer_t     a;
    ngx_booking_http_ctx_t  *ctx;

    ngx_memzero(&a, sizeof(ngx_booking_answer_t));

    if (ngx_booking_view_fail(&a, r->pool, status, code, message, field)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* $booking_status */
    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);

    if (ctx != NULL) {
        ctx->req.answer.code = a.code;
    }

    return ngx_booking_send_body(r, status, &ngx_booking_json_type, &a.body);
}


static ngx_int_t
ngx_booking_send_body(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_str_t *body)
{
    ngx_int_t                rc;
    ngx_buf_t               *b;
    ngx_chain_t              out;
    ngx_booking_http_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);
    if (ctx != NULL) {
        ctx->answered = 1;

        if (status == NGX_HTTP_UNAUTHORIZED && ctx->bearer
            && ngx_booking_auth_challenge(r, ctx) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    r->headers_out.status = status;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = body->len;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = body->data;
    b->last = body->data + body->len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * A cacheable answer: its ETag (the body's 64-bit hash and length), how long
 * shared caches may keep it, and 304 when the client has it already.
 */
static ngx_int_t
ngx_booking_send_cached(ngx_http_request_t *r, ngx_str_t *body,
    uint64_t etag)
{
    u_char                   *p;
    ngx_str_t                 tag, cc;
    ngx_table_elt_t          *inm;
    ngx_booking_main_conf_t  *bmcf;

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_booking_module);

    p = ngx_pnalloc(r->pool, 64 + sizeof("public, max-age=") + NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    tag.data = p;
    tag.len = ngx_sprintf(p, "\"%016xL-%xz\"", etag, body->len) - p;
    cc.data = p + tag.len;
    cc.len = ngx_sprintf(cc.data, "public, max-age=%L", bmcf->cache_valid)
             - cc.data;

    if (ngx_booking_header_out(r, "ETag", &tag) != NGX_OK
        || ngx_booking_header_out(r, "Cache-Control", &cc) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    inm = r->headers_in.if_none_match;

    if (inm != NULL
        && ((inm->value.len == 1 && inm->value.data[0] == '*')
            || ngx_strlcasestrn(inm->value.data,
                                inm->value.data + inm->value.len,
                                tag.data, tag.len - 1)
               != NULL))
    {
        return ngx_booking_send_empty(r, NGX_HTTP_NOT_MODIFIED);
    }

    return ngx_booking_send_body(r, NGX_HTTP_OK, &ngx_booking_json_type,
                                 body);
}


static ngx_int_t
ngx_booking_send_empty(ngx_http_request_t *r, ngx_uint_t status)
{
    ngx_booking_http_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);
    if (ctx != NULL) {
        ctx->answered = 1;
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    return ngx_http_send_header(r);
}


static ngx_int_t
ngx_booking_header_out(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;

    if (name[0] == 'E' && ngx_strcmp(name, "ETag") == 0) {
        r->headers_out.etag = h;
    }

    return NGX_OK;
}


static ngx_table_elt_t *
ngx_booking_header_in(ngx_http_request_t *r, const char *name, size_t len)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }
}


static void
ngx_booking_cleanup(void *data)
{
    ngx_booking_http_ctx_t *ctx = data;

    ngx_booking_cache_cleanup(&ctx->cache);

    /* whoever waits for this read must not wait for nothing */
    if (ctx->cache.filling) {
        ngx_booking_cache_abandon(ctx->request, &ctx->cache);
    }
}


/* a transition is its verb; a create, hold or book; else the route's */
void
ngx_booking_http_op(ngx_booking_http_ctx_t *ctx, ngx_str_t *op)
{
    ngx_booking_req_t  *req;

    req = &ctx->req;

    if (req->verb.len) {
        *op = req->verb;
        return;
    }

    op->data = (u_char *) (req->name ? req->name : ctx->route->name);
    op->len = ngx_strlen(op->data);
}


ngx_int_t
ngx_booking_http_init_filters(ngx_conf_t *cf)
{
    ngx_booking_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_booking_header_filter;

    ngx_booking_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_booking_body_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_booking_header_filter(ngx_http_request_t *r)
{
    ngx_uint_t                  i;
    ngx_booking_http_ctx_t     *ctx;
    ngx_booking_loc_conf_t     *blcf;
    ngx_booking_nginx_error_t  *e;

    if (r != r->main || r->headers_out.status < NGX_HTTP_BAD_REQUEST) {
        return ngx_booking_next_header_filter(r);
    }

    blcf = ngx_http_get_module_loc_conf(r, ngx_http_booking_module);
    if (blcf == NULL || blcf->api == NGX_BOOKING_API_OFF) {
        return ngx_booking_next_header_filter(r);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);

    if (ctx != NULL && ctx->answered) {
        return ngx_booking_next_header_filter(r);
    }

    e = NULL;

    for (i = 0; ngx_booking_nginx_errors[i].status; i++) {
        if (ngx_booking_nginx_errors[i].status == r->headers_out.status) {
            e = &ngx_booking_nginx_errors[i];
            break;
        }
    }

    /* before the module ran, only the 413 of a Content-Length is ours */
    if (e == NULL
        || (ctx == NULL
            && r->headers_out.status != NGX_HTTP_REQUEST_ENTITY_TOO_LARGE))
    {
        return ngx_booking_next_header_filter(r);
    }

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_booking_http_ctx_t));
        if (ctx == NULL) {
            return NGX_ERROR;
        }

        ctx->request = r;
        ngx_http_set_ctx(r, ctx, ngx_http_booking_module);
    }

    ctx->nginx_error = e;

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = e->body.len;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    return ngx_booking_next_header_filter(r);
}


static ngx_int_t
ngx_booking_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t                  *b;
    ngx_chain_t                 out;
    ngx_booking_http_ctx_t     *ctx;
    ngx_booking_nginx_error_t  *e;

    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);

    if (ctx == NULL || ctx->nginx_error == NULL || in == NULL) {
        return ngx_booking_next_body_filter(r, in);
    }

    e = ctx->nginx_error;
    ctx->nginx_error = NULL;
    ctx->answered = 1;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = e->body.data;
    b->last = e->body.data + e->body.len;
    b->memory = 1;
    b->last_buf = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_booking_next_body_filter(r, &out);
}

/*
 * The HTTP API: routing, request bodies, the one Redis command of each
 * operation, and the JSON form of nginx's own 413.
 *
 * A request reads as a straight line: route -> parse and check (no I/O) ->
 * one Redis command -> decode the reply -> write JSON.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_booking_module.h"
#include "ngx_booking_redis.h"
#include "ngx_booking_cache.h"


static ngx_int_t ngx_booking_route(ngx_http_request_t *r,
    ngx_booking_ctx_t *ctx);
static ngx_int_t ngx_booking_json_content_type(ngx_http_request_t *r);
static ngx_int_t ngx_booking_cached_read(ngx_http_request_t *r,
    ngx_booking_ctx_t *ctx);
static ngx_int_t ngx_booking_cache_key(ngx_http_request_t *r,
    ngx_booking_ctx_t *ctx);
static void ngx_booking_body_handler(ngx_http_request_t *r);
static void ngx_booking_redis_done(void *data, ngx_int_t rc,
    redisReply *reply);
static ngx_int_t ngx_booking_backend_error(ngx_http_request_t *r,
    redisReply *reply);
static ngx_int_t ngx_booking_failure(ngx_http_request_t *r, ngx_int_t rc);
static void ngx_booking_batch_done(void *data, ngx_int_t rc,
    redisReply *reply);
static ngx_int_t ngx_booking_is_again(redisReply *reply);
static void ngx_booking_cleanup(void *data);
static ngx_int_t ngx_booking_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_booking_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


/* 64 scripts of 64 holds: a resource's 4,096 holds due at one instant */
#define NGX_BOOKING_AGAIN_MAX  64


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


/* the query arguments each route reads; any other is 400 */
const char *const  ngx_booking_no_args[] = { NULL };
const char *const  ngx_booking_list_args[] = { "resource", "from", "to",
    "status", "cursor", "limit", NULL };
static const char *const  ngx_booking_listing_args[] = { "type", "from", "to",
    "quantity", "near", "radius", "limit", "cursor", NULL };
static const char *const  ngx_booking_range_args[] = { "from", "to", NULL };


ngx_int_t
ngx_booking_api_handler(ngx_http_request_t *r)
{
    ngx_int_t                rc;
    ngx_str_t                bad, code, message;
    ngx_booking_ctx_t       *ctx;
    ngx_pool_cleanup_t      *cln;
    ngx_booking_loc_conf_t  *blcf;

    blcf = ngx_http_get_module_loc_conf(r, ngx_http_booking_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_booking_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a request freed before its reply must not be touched by it */
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_booking_cleanup;
    cln->data = ctx;

    ctx->request = r;
    ctx->admin = (blcf->api == NGX_BOOKING_API_ADMIN);
    ngx_http_set_ctx(r, ctx, ngx_http_booking_module);

    rc = ngx_booking_route(r, ctx);

    if (ctx->run == NULL) {
        /* not routed: rc is that of the error answer already sent */
        ngx_http_discard_request_body(r);
        return rc;
    }

    if (ngx_booking_query_known(r->args.data, r->args.len, ctx->args,
                                (const u_char **) &bad.data, &bad.len)
        != NGX_BOOKING_OK)
    {
        ngx_http_discard_request_body(r);

        /* unknown arguments would only make one answer many cache keys */
        ngx_str_set(&code, "bad_request");
        ngx_str_set(&message, "unknown query argument");
        bad.len = ngx_min(bad.len, 64);

        return ngx_booking_send_error_str(r, NGX_HTTP_BAD_REQUEST, &code,
                                          &message, &bad);
    }

    if (r->method & (NGX_HTTP_PUT|NGX_HTTP_POST)) {

        /* a confirm or cancel may come with no body at all */
        if ((r->headers_in.content_length_n > 0 || r->headers_in.chunked)
            && ngx_booking_json_content_type(r) != NGX_OK)
        {
            ngx_http_discard_request_body(r);
            return ngx_booking_send_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                          "unsupported_media_type",
                                          "the body must be "
                                          "application/json", NULL);
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

    rc = ctx->run(r);

    if (rc == NGX_DONE) {
        /* held until the Redis reply finalizes the request */
        r->main->count++;
    }

    return rc;
}


/*
 * Listing pages, resources and availability, read by a caller with no
 * user, come from the micro-cache when there is one.  NGX_DECLINED: go to
 * Redis.
 */
static ngx_int_t
ngx_booking_cached_read(ngx_http_request_t *r, ngx_booking_ctx_t *ctx)
{
    u_char                    buf[64];
    size_t                    len;
    ngx_int_t                 rc;
    ngx_booking_main_conf_t  *bmcf;

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_booking_module);

    if (bmcf->cache_zone == NULL
        || (ctx->run != ngx_booking_resource_get
            && ctx->run != ngx_booking_availability
            && ctx->run != ngx_booking_listing))
    {
        return NGX_DECLINED;
    }

    ctx->cacheable = 1;

    if (ngx_booking_caller(r, ctx) != NGX_OK || ctx->user.len) {
        return NGX_DECLINED;
    }

    if (ctx->run == ngx_booking_listing) {
        /* its type's writes make a listing page stale */
        if (ngx_booking_query_arg(r->args.data, r->args.len, "type", buf,
                                  sizeof(buf), &len) != 1 || len == 0)
        {
            return NGX_DECLINED;
        }

        ctx->cache_type.data = ngx_pnalloc(r->pool, len);
        if (ctx->cache_type.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(ctx->cache_type.data, buf, len);
        ctx->cache_type.len = len;
    }

    if (ngx_booking_cache_key(r, ctx) != NGX_OK) {
        return NGX_DECLINED;
    }

    rc = ngx_booking_cache_lookup(r);

    switch (rc) {

    case NGX_OK:
        return ngx_booking_send_cached(r, &ctx->cached, ctx->cached_etag);

    case NGX_AGAIN:
        r->main->count++;
        return ngx_booking_cache_wait(r);

    case NGX_DECLINED:
        return NGX_DECLINED;

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}


/*
 * The path and the decoded value of each argument the route reads, in the
 * route's order: a query spelt another way ("r%6fom", arguments in
 * another order) is the same answer, and must not cost another Redis
 * read.  NGX_DECLINED: an argument that cannot be read; the operation
 * answers 400, uncached.
 */
static ngx_int_t
ngx_booking_cache_key(ngx_http_request_t *r, ngx_booking_ctx_t *ctx)
{
    u_char              *p, *q, *last;
    size_t               len;
    ngx_int_t            rc;
    const char *const   *name;

    len = r->uri.len + r->args.len + 1;

    for (name = ctx->args; *name != NULL; name++) {
        len += ngx_strlen(*name) + NGX_SIZE_T_LEN + 3;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->cache_key.data = p;
    last = p + len;
    p = ngx_cpymem(p, r->uri.data, r->uri.len);

    for (name = ctx->args; *name != NULL; name++) {
        p = ngx_sprintf(p, "?%s=", *name);

        /* a decoded value is never longer than what was sent */
        rc = ngx_booking_query_arg(r->args.data, r->args.len, *name,
                                   p + NGX_SIZE_T_LEN + 1,
                                   last - p - NGX_SIZE_T_LEN - 1, &len);
        if (rc < 0) {
            return NGX_DECLINED;
        }

        if (rc == 0) {
            continue;
        }

        /* "<length>:<value>" cannot be read two ways */
        q = ngx_sprintf(p, "%uz:", len);
        ngx_memmove(q, p + NGX_SIZE_T_LEN + 1, len);
        p = q + len;
    }

    ctx->cache_key.len = p - ctx->cache_key.data;

    return NGX_OK;
}


static void
ngx_booking_body_handler(ngx_http_request_t *r)
{
    ngx_int_t           rc;
    ngx_booking_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);

    rc = ctx->run(r);

    /* on NGX_DONE the reference taken by reading the body is kept */
    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}





/*
 * What the path names, whether the method applies, and who may: sets
 * ctx->run, or answers the error (and leaves ctx->run NULL).
 */
static ngx_int_t
ngx_booking_route(ngx_http_request_t *r, ngx_booking_ctx_t *ctx)
{
    u_char                    *p;
    const char                *allow;
    ngx_booking_run_pt         run;
    ngx_booking_route_t        rt;
    ngx_booking_main_conf_t   *bmcf;
    ngx_http_core_loc_conf_t  *clcf;

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_booking_module);
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    p = r->uri.data;

    if (r->uri.len >= clcf->name.len
        && ngx_strncmp(r->uri.data, clcf->name.data, clcf->name.len) == 0)
    {
        p += clcf->name.len;
    }

    run = NULL;
    allow = "GET, HEAD";
    ctx->args = ngx_booking_no_args;

    switch (ngx_booking_route_match(p, r->uri.data + r->uri.len - p, &rt)) {

    case NGX_BOOKING_ROUTE_RESOURCES:
        if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
            run = ngx_booking_listing;
            ctx->args = ngx_booking_listing_args;
        }

        break;

    case NGX_BOOKING_ROUTE_RESOURCE:
        allow = "GET, HEAD, PUT, DELETE";

        if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
            run = ngx_booking_resource_get;

        } else if (r->method & NGX_HTTP_PUT) {
            run = ngx_booking_resource_put;

        } else if (r->method & NGX_HTTP_DELETE) {
            run = ngx_booking_resource_delete;
        }

        break;

    case NGX_BOOKING_ROUTE_AVAILABILITY:
        if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
            run = ngx_booking_availability;
            ctx->args = ngx_booking_range_args;
        }

        break;

    case NGX_BOOKING_ROUTE_CALENDAR:
        if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
            run = ngx_booking_calendar;
        }

        break;

    case NGX_BOOKING_ROUTE_BOOKINGS:
    case NGX_BOOKING_ROUTE_BOOKING:
    case NGX_BOOKING_ROUTE_BOOKING_OP:
        return ngx_booking_booking_route(r, ctx, &rt);

    case NGX_BOOKING_ROUTE_NO_BOOKING:
        return ngx_booking_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                      "no such booking", NULL);

    default:
        return ngx_booking_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                      "no such route", NULL);
    }

    if (run == NULL) {
        return ngx_booking_not_allowed(r, allow);
    }

    if ((r->method & (NGX_HTTP_PUT|NGX_HTTP_DELETE)) && !ctx->admin) {
        return ngx_booking_send_error(r, NGX_HTTP_FORBIDDEN, "forbidden",
                                      "resources are written through an "
                                      "admin location", NULL);
    }

    if (rt.route != NGX_BOOKING_ROUTE_RESOURCES) {
        ctx->id.data = (u_char *) rt.id;
        ctx->id.len = rt.id_len;

        if (ngx_booking_id_check(bmcf, &ctx->id, r->connection->log)
            != NGX_OK)
        {
            return ngx_booking_send_error(r, NGX_HTTP_BAD_REQUEST,
                                          "bad_request",
                                          "the resource id does not match "
                                          "booking_id_pattern", "id");
        }
    }

    ctx->run = run;

    return NGX_OK;
}


ngx_int_t
ngx_booking_not_allowed(ngx_http_request_t *r, const char *allow)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Allow");
    h->value.data = (u_char *) allow;
    h->value.len = ngx_strlen(allow);

    return ngx_booking_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                  "method_not_allowed",
                                  "method not allowed here", NULL);
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


/*
 * The request body as one piece of memory.  nginx may have spilled a large
 * one to a temporary file; it is at most client_max_body_size.
 */
ngx_int_t
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
 * Sends the operation's one Redis command.  NGX_DONE: the reply will
 * finalize the request; anything else: the answer already sent (503).
 */
ngx_int_t
ngx_booking_call(ngx_http_request_t *r, ngx_int_t script, ngx_str_t *argv,
    ngx_uint_t nkeys, ngx_uint_t argc, ngx_booking_reply_pt reply)
{
    ngx_booking_ctx_t        *ctx;
    ngx_booking_redis_cmd_t  *cmd;

    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);

    if (script >= 0) {
        cmd = ngx_booking_redis_eval(script, argv, nkeys, argc,
                                     ngx_booking_redis_done, r,
                                     r->connection->log);

    } else {
        cmd = ngx_booking_redis_command(argv, argc, ngx_booking_redis_done, r,
                                        r->connection->log);
    }

    if (cmd == NULL) {
        return ngx_booking_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "backend_unavailable",
                                      "Redis cannot be reached", NULL);
    }

    ctx->cmd = cmd;
    ctx->reply = reply;
    ctx->script = script;
    ctx->argv = argv;
    ctx->nkeys = nkeys;
    ctx->argc = argc;

    return NGX_DONE;
}


/*
 * "+AGAIN": the script found more expired holds than one script may free,
 * freed its share and changed nothing else.  The same command goes again,
 * a bounded number of times, each a script of bounded work.
 */
static ngx_int_t
ngx_booking_is_again(redisReply *reply)
{
    return reply->type == REDIS_REPLY_STATUS && reply->len == 5
           && ngx_strncmp(reply->str, "AGAIN", 5) == 0;
}


static void
ngx_booking_cleanup(void *data)
{
    ngx_booking_ctx_t *ctx = data;

    ngx_uint_t  i;

    if (ctx->cmd != NULL) {
        ngx_booking_redis_cancel(ctx->cmd);
        ctx->cmd = NULL;
    }

    for (i = 0; i < ctx->nbatch; i++) {
        if (ctx->batch[i].cmd != NULL) {
            ngx_booking_redis_cancel(ctx->batch[i].cmd);
            ctx->batch[i].cmd = NULL;
        }
    }

    ngx_booking_cache_cleanup(ctx);

    /* whoever waits for this read must not wait for nothing */
    if (ctx->caching) {
        ngx_booking_cache_abandon(ctx->request);
    }
}


static void
ngx_booking_redis_done(void *data, ngx_int_t rc, redisReply *reply)
{
    ngx_http_request_t *r = data;

    ngx_int_t           n;
    ngx_connection_t   *c;
    ngx_booking_ctx_t  *ctx;

    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);
    ctx->cmd = NULL;

    if (rc != NGX_BOOKING_REDIS_REPLY) {
        n = ngx_booking_failure(r, rc);

    } else if (reply->type == REDIS_REPLY_ERROR) {
        n = ngx_booking_backend_error(r, reply);

    } else if (ngx_booking_is_again(reply)) {
        if (ctx->again++ == NGX_BOOKING_AGAIN_MAX) {
            ngx_log_error(NGX_LOG_ERR, c->log, 0,
                          "booking: holds still due after %d scripts",
                          NGX_BOOKING_AGAIN_MAX);
            n = ngx_booking_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                       "backend_unavailable",
                                       "Redis cannot take the request now",
                                       NULL);

        } else {
            n = ngx_booking_call(r, ctx->script, ctx->argv, ctx->nkeys,
                                 ctx->argc, ctx->reply);
            if (n == NGX_DONE) {
                return;
            }
        }

    } else {
        n = ctx->reply(r, reply);

        if (n == NGX_DONE) {
            /* the operation sent its next command */
            return;
        }
    }

    ngx_http_finalize_request(r, n);
    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_booking_failure(ngx_http_request_t *r, ngx_int_t rc)
{
    switch (rc) {

    case NGX_BOOKING_REDIS_UNAVAILABLE:
        return ngx_booking_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "backend_unavailable",
                                      "Redis cannot be reached", NULL);

    case NGX_BOOKING_REDIS_TIMEOUT:
        return ngx_booking_send_error(r, NGX_HTTP_GATEWAY_TIME_OUT,
                                      "backend_timeout",
                                      "Redis did not answer in time; the "
                                      "outcome is unknown", NULL);

    default: /* NGX_BOOKING_REDIS_LOST */
        return ngx_booking_send_error(r, NGX_HTTP_GATEWAY_TIME_OUT,
                                      "backend_timeout",
                                      "the connection to Redis was lost; "
                                      "the outcome is unknown", NULL);
    }
}


/*
 * Sends n commands at once: they leave in one write and are pipelined.
 * item() keeps what it needs of each answer, done() answers once all are
 * in.  Reads only: a failed command fails the whole request.
 */
ngx_int_t
ngx_booking_call_batch(ngx_http_request_t *r, ngx_int_t script,
    ngx_str_t **argv, ngx_uint_t n, ngx_uint_t nkeys, ngx_uint_t argc,
    ngx_booking_item_pt item, ngx_booking_run_pt done)
{
    ngx_uint_t           i;
    ngx_booking_ctx_t   *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);

    ctx->batch = ngx_pcalloc(r->pool, n * sizeof(ngx_booking_slot_t));
    if (ctx->batch == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->nbatch = n;
    ctx->pending = 0;
    ctx->batch_rc = NGX_BOOKING_REDIS_REPLY;
    ctx->item = item;
    ctx->done = done;
    ctx->batch_script = script;
    ctx->nkeys = nkeys;
    ctx->argc = argc;

    for (i = 0; i < n; i++) {
        ctx->batch[i].request = r;
        ctx->batch[i].index = i;
        ctx->batch[i].argv = argv[i];
        ctx->batch[i].cmd = ngx_booking_redis_eval(script, argv[i], nkeys,
                                                   argc,
                                                   ngx_booking_batch_done,
                                                   &ctx->batch[i],
                                                   r->connection->log);
        if (ctx->batch[i].cmd == NULL) {
            ctx->batch_rc = NGX_BOOKING_REDIS_UNAVAILABLE;
            break;
        }

        ctx->pending++;
    }

    if (ctx->pending == 0) {
        return ngx_booking_failure(r, ctx->batch_rc);
    }

    return NGX_DONE;
}


static void
ngx_booking_batch_done(void *data, ngx_int_t rc, redisReply *reply)
{
    ngx_booking_slot_t *slot = data;

    ngx_int_t            n;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;
    ngx_booking_ctx_t   *ctx;

    r = slot->request;
    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);

    slot->cmd = NULL;

    if (rc == NGX_BOOKING_REDIS_REPLY && ngx_booking_is_again(reply)
        && slot->again++ < NGX_BOOKING_AGAIN_MAX)
    {
        slot->cmd = ngx_booking_redis_eval(ctx->batch_script, slot->argv,
                                           ctx->nkeys, ctx->argc,
                                           ngx_booking_batch_done, slot,
                                           c->log);
        if (slot->cmd != NULL) {
            return;
        }

        rc = NGX_BOOKING_REDIS_UNAVAILABLE;
    }

    ctx->pending--;

    if (rc != NGX_BOOKING_REDIS_REPLY) {
        if (ctx->batch_rc == NGX_BOOKING_REDIS_REPLY
            || rc > ctx->batch_rc)
        {
            ctx->batch_rc = rc;
        }

    } else if (reply->type == REDIS_REPLY_ERROR
               || ctx->item(r, slot->index, reply) != NGX_OK)
    {
        if (reply->type == REDIS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_ERR, c->log, 0,
                          "booking: redis error: %*s",
                          (size_t) reply->len, reply->str);
        }

        ctx->batch_rc = NGX_ERROR;
    }

    if (ctx->pending > 0) {
        return;
    }

    if (ctx->batch_rc == NGX_ERROR) {
        n = ngx_booking_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                   "backend_unavailable",
                                   "Redis could not answer every part of "
                                   "the request", NULL);

    } else if (ctx->batch_rc != NGX_BOOKING_REDIS_REPLY) {
        n = ngx_booking_failure(r, ctx->batch_rc);

    } else {
        n = ctx->done(r);

        if (n == NGX_DONE) {
            /* another batch is on its way */
            return;
        }
    }

    ngx_http_finalize_request(r, n);
    ngx_http_run_posted_requests(c);
}


/* Redis's own words stay in the error log; the client learns the kind */
static ngx_int_t
ngx_booking_backend_error(ngx_http_request_t *r, redisReply *reply)
{
    size_t       i;
    ngx_str_t    s;
    static char *busy[] = { "LOADING", "BUSY", "MASTERDOWN", "OOM",
                            "TRYAGAIN", "CLUSTERDOWN", "NOAUTH", "READONLY",
                            "NOREPLICAS", NULL };

    s.data = (u_char *) reply->str;
    s.len = reply->len;

    for (i = 0; busy[i] != NULL; i++) {
        if (s.len >= ngx_strlen(busy[i])
            && ngx_strncmp(s.data, busy[i], ngx_strlen(busy[i])) == 0)
        {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "booking: redis: %V", &s);

            return ngx_booking_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                          "backend_unavailable",
                                          "Redis cannot take the request "
                                          "now", NULL);
        }
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "booking: redis error: %V", &s);

    return ngx_booking_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                  "internal", "internal error", NULL);
}


/*
 * A script's refusal: {"err", status, code, message[, field]}.  NGX_DECLINED
 * when the reply is not one.
 */
ngx_int_t
ngx_booking_script_error(ngx_http_request_t *r, void *data)
{
    redisReply *reply = data;

    ngx_int_t     status;
    ngx_str_t     code, message, field;
    redisReply  **e;

    status = ngx_booking_reply_script_error(reply);

    if (status == 0) {
        return NGX_DECLINED;
    }

    if (status < 0) {
        return ngx_booking_unexpected(r);
    }

    e = reply->element;

    code.data = (u_char *) e[2]->str;
    code.len = e[2]->len;
    message.data = (u_char *) e[3]->str;
    message.len = e[3]->len;
    field.len = 0;

    if (reply->elements > 4) {
        field.data = (u_char *) e[4]->str;
        field.len = e[4]->len;
    }

    return ngx_booking_send_error_str(r, status, &code, &message, &field);
}


ngx_int_t
ngx_booking_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_str_t                  body;
    ngx_atomic_uint_t          hits, misses, waits;
    ngx_booking_json_t         j;
    ngx_booking_main_conf_t   *bmcf;
    ngx_booking_redis_stats_t  st;
    static ngx_str_t           type = ngx_string("text/plain; version=0.0.4");

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_booking_redis_stats(&st);

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_booking_module);
    ngx_booking_cache_stats((ngx_cycle_t *) ngx_cycle, bmcf->cache_zone,
                            &hits, &misses, &waits);

    if (ngx_booking_json_init(&j, r->pool, 1024) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    j.pos = ngx_sprintf(j.pos,
        "# HELP booking_redis_connections Redis connections of the worker "
        "that answered, by state.\n"
        "# TYPE booking_redis_connections gauge\n"
        "booking_redis_connections{state=\"ready\"} %ui\n"
        "booking_redis_connections{state=\"connecting\"} %ui\n"
        "booking_redis_connections{state=\"down\"} %ui\n"
        "# HELP booking_redis_inflight Commands awaiting a reply.\n"
        "# TYPE booking_redis_inflight gauge\n"
        "booking_redis_inflight %ui\n"
        "# HELP booking_cache_requests_total Micro-cache lookups, all "
        "workers.\n"
        "# TYPE booking_cache_requests_total counter\n"
        "booking_cache_requests_total{result=\"hit\"} %uA\n"
        "booking_cache_requests_total{result=\"miss\"} %uA\n"
        "booking_cache_requests_total{result=\"wait\"} %uA\n",
        st.ready, st.connecting, st.down, st.inflight, hits, misses, waits);

    body.data = j.start;
    body.len = j.pos - j.start;

    return ngx_booking_send_body(r, NGX_HTTP_OK, &type, &body);
}


ngx_int_t
ngx_booking_api_init_filters(ngx_conf_t *cf)
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
    ngx_booking_ctx_t          *ctx;
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
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_booking_ctx_t));
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
    ngx_booking_ctx_t          *ctx;
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

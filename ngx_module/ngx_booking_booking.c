/*
 * Bookings: POST /bookings, GET /bookings/{id}, the transitions, and the
 * caller's list.  Each is one EVALSHA; the script checks and changes state
 * atomically with Redis's clock, and answers a tuple this file writes out.
 *
 * A booking id is "<resource id>.<16 random base64url characters>", so any
 * request finds the booking's keys, all under the resource's hash tag, in
 * one round trip.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>
#include <hiredis/hiredis.h>

#include "ngx_booking_module.h"
#include "ngx_booking_scripts.h"
#include "ngx_booking_cache.h"


#define NGX_BOOKING_IDEM_MAX      255
#define NGX_BOOKING_LIMIT_MAX     100
#define NGX_BOOKING_CONFLICTS_MAX 50

/* the tuple every booking script answers */
#define NGX_BOOKING_T_STATUS      1
#define NGX_BOOKING_T_ID          2
#define NGX_BOOKING_T_TYPE        3
#define NGX_BOOKING_T_STATE       4
#define NGX_BOOKING_T_KIND        5
#define NGX_BOOKING_T_START       6
#define NGX_BOOKING_T_END         7
#define NGX_BOOKING_T_QUANTITY    8
#define NGX_BOOKING_T_USER        9
#define NGX_BOOKING_T_CREATED     10
#define NGX_BOOKING_T_EXPIRES     11
#define NGX_BOOKING_T_NOTE        12
#define NGX_BOOKING_T_SLOT        13
#define NGX_BOOKING_T_REPLAYED    14
#define NGX_BOOKING_T_N           16


typedef struct {
    ngx_str_t            resource;
    ngx_str_t            kind;
    ngx_str_t            note;
    int64_t              start;      /* -1: not given */
    int64_t              end;
    int64_t              quantity;
    ngx_uint_t           hold;
} ngx_booking_request_t;


static ngx_int_t ngx_booking_create(ngx_http_request_t *r);
static ngx_int_t ngx_booking_created(ngx_http_request_t *r, void *data);
static ngx_int_t ngx_booking_get(ngx_http_request_t *r);
static ngx_int_t ngx_booking_act(ngx_http_request_t *r);
static ngx_int_t ngx_booking_answered(ngx_http_request_t *r, void *data);
static ngx_int_t ngx_booking_list(ngx_http_request_t *r);
static ngx_int_t ngx_booking_listed(ngx_http_request_t *r, void *data);
static ngx_int_t ngx_booking_unavailable(ngx_http_request_t *r,
    redisReply *reply);
static ngx_int_t ngx_booking_write(ngx_http_request_t *r,
    ngx_booking_json_t *j, redisReply **e, u_char *token);
static ngx_table_elt_t *ngx_booking_header_in(ngx_http_request_t *r,
    const char *name, size_t len);
static ngx_int_t ngx_booking_header_out(ngx_http_request_t *r,
    const char *name, u_char *value, size_t len);
static ngx_int_t ngx_booking_user_valid(ngx_str_t *s);
static ngx_int_t ngx_booking_bad_response(ngx_http_request_t *r);
static void ngx_booking_changed(ngx_http_request_t *r, redisReply **e);


static ngx_str_t  ngx_booking_flag[] = {
    ngx_string("0"),
    ngx_string("1")
};


/*
 * The caller: booking_user and booking_user_groups evaluated for this
 * request; "" when there is none.
 */
ngx_int_t
ngx_booking_caller(ngx_http_request_t *r, ngx_booking_ctx_t *ctx)
{
    ngx_booking_loc_conf_t  *blcf;

    blcf = ngx_http_get_module_loc_conf(r, ngx_http_booking_module);

    ngx_str_null(&ctx->user);
    ngx_str_null(&ctx->groups);

    if (blcf->user != NULL
        && ngx_http_complex_value(r, blcf->user, &ctx->user) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (blcf->user_groups != NULL
        && ngx_http_complex_value(r, blcf->user_groups, &ctx->groups)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_booking_user_valid(&ctx->user) != NGX_OK
        || ctx->user.len > NGX_BOOKING_USER_MAX
        || ngx_booking_user_valid(&ctx->groups) != NGX_OK
        || ctx->groups.len > 4096)
    {
        return NGX_DECLINED;
    }

    if (ctx->user.data == NULL) {
        ngx_str_set(&ctx->user, "");
    }

    if (ctx->groups.data == NULL) {
        ngx_str_set(&ctx->groups, "");
    }

    return NGX_OK;
}


/* printable: no control characters in what ends up in Redis and JSON */
static ngx_int_t
ngx_booking_user_valid(ngx_str_t *s)
{
    ngx_uint_t  i;

    for (i = 0; i < s->len; i++) {
        if (s->data[i] < 0x20 || s->data[i] == 0x7f) {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* bookings, bookings/{id} and bookings/{id}/{op}: methods, token, caller */
ngx_int_t
ngx_booking_booking_route(ngx_http_request_t *r, ngx_booking_ctx_t *ctx,
    ngx_booking_route_t *rt)
{
    ngx_table_elt_t          *h;
    ngx_booking_run_pt        run;
    ngx_booking_main_conf_t  *bmcf;

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_booking_module);

    switch (rt->route) {

    case NGX_BOOKING_ROUTE_BOOKINGS:
        if (r->method & NGX_HTTP_POST) {
            run = ngx_booking_create;

        } else if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
            run = ngx_booking_list;
            ctx->args = ngx_booking_list_args;

        } else {
            return ngx_booking_not_allowed(r, "GET, HEAD, POST");
        }

        break;

    case NGX_BOOKING_ROUTE_BOOKING:
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
            return ngx_booking_not_allowed(r, "GET, HEAD");
        }

        run = ngx_booking_get;
        break;

    default: /* NGX_BOOKING_ROUTE_BOOKING_OP */
        if (!(r->method & NGX_HTTP_POST)) {
            return ngx_booking_not_allowed(r, "POST");
        }

        ctx->op.data = (u_char *) rt->op;
        ctx->op.len = rt->op_len;
        run = ngx_booking_act;
    }

    if (rt->route != NGX_BOOKING_ROUTE_BOOKINGS) {
        ctx->id.data = (u_char *) rt->id;
        ctx->id.len = rt->id_len;
        ctx->rand.data = (u_char *) rt->rand;
        ctx->rand.len = rt->rand_len;

        if (ngx_booking_id_check(bmcf, &ctx->id, r->connection->log)
            != NGX_OK)
        {
            return ngx_booking_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                          "no such booking", NULL);
        }

        h = ngx_booking_header_in(r, "Booking-Token", 13);

        if (h != NULL) {
            ctx->token = ngx_booking_token_check(bmcf->secret.data,
                                                 bmcf->secret.len,
                                                 rt->booking,
                                                 rt->booking_len,
                                                 h->value.data,
                                                 h->value.len);
        }
    }

    switch (ngx_booking_caller(r, ctx)) {

    case NGX_OK:
        break;

    case NGX_DECLINED:
        return ngx_booking_send_error(r, NGX_HTTP_BAD_REQUEST, "bad_request",
                                      "the user or groups of the request "
                                      "hold control characters", "user");

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->run = run;

    return NGX_OK;
}


static ngx_int_t
ngx_booking_create(ngx_http_request_t *r)
{
    u_char                   *p, rand[NGX_BOOKING_RAND_LEN];
    u_char                    nbuf[3][NGX_INT64_LEN];
    json_t                   *root;
    ngx_str_t                 body, *argv, *a, fp, scope;
    ngx_uint_t                i, nkeys;
    ngx_table_elt_t          *idem;
    ngx_booking_ctx_t        *ctx;
    ngx_booking_breq_t        in;
    ngx_booking_perr_t        perr;
    ngx_booking_request_t     br;
    ngx_booking_loc_conf_t   *blcf;
    ngx_booking_main_conf_t  *bmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);
    blcf = ngx_http_get_module_loc_conf(r, ngx_http_booking_module);
    bmcf = ngx_http_get_module_main_conf(r, ngx_http_booking_module);

    if (ngx_booking_request_body(r, &body) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    root = ngx_booking_parse_booking(body.data, body.len, &in, &perr);
    if (root == NULL) {
        return ngx_booking_send_error(r, perr.status, perr.code,
                                      perr.message, perr.field);
    }

    /* the strings die with the JSON: the request keeps copies */
    br.start = in.start;
    br.end = in.end;
    br.quantity = in.quantity;
    br.hold = in.hold;
    br.resource.len = in.resource_len;
    br.resource.data = ngx_pnalloc(r->pool, in.resource_len + 1);
    br.kind.len = in.kind_len;
    br.kind.data = ngx_pnalloc(r->pool, in.kind_len + 1);
    br.note.len = in.note_len;
    br.note.data = ngx_pnalloc(r->pool, in.note_len + 1);

    if (br.resource.data != NULL && br.kind.data != NULL
        && br.note.data != NULL)
    {
        ngx_memcpy(br.resource.data, in.resource, in.resource_len);
        ngx_memcpy(br.kind.data, in.kind, in.kind_len);
        ngx_memcpy(br.note.data, in.note, in.note_len);
    }

    json_decref(root);

    if (br.resource.data == NULL || br.kind.data == NULL
        || br.note.data == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a guest may only hold, and then keeps the token as its only key */
    if (ctx->user.len == 0 && !ctx->admin
        && !(blcf->anonymous && br.hold))
    {
        return ngx_booking_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                      "unauthenticated",
                                      blcf->anonymous
                                      ? "guests may only hold"
                                      : "a user is needed", NULL);
    }

    if (ngx_booking_id_check(bmcf, &br.resource, r->connection->log)
        != NGX_OK)
    {
        return ngx_booking_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                      "no such resource", "resource");
    }

    ngx_str_null(&scope);

    idem = ngx_booking_header_in(r, "Idempotency-Key", 15);

    if (idem != NULL) {
        if (idem->value.len == 0 || idem->value.len > NGX_BOOKING_IDEM_MAX
            || ngx_booking_user_valid(&idem->value) != NGX_OK)
        {
            return ngx_booking_send_error(r, NGX_HTTP_BAD_REQUEST,
                                          "bad_request",
                                          "Idempotency-Key must be 1 to 255 "
                                          "printable bytes",
                                          "Idempotency-Key");
        }

        /*
         * Guests share one scope per resource: only a key nobody can guess
         * keeps one guest from replaying another's hold and its token.
         */
        if (ctx->user.len == 0 && idem->value.len < 16) {
            return ngx_booking_send_error(r, NGX_HTTP_BAD_REQUEST,
                                          "bad_request",
                                          "a guest's Idempotency-Key must be "
                                          "at least 16 bytes",
                                          "Idempotency-Key");
        }

        /*
         * "<who>:<length of user>:<user>:<key>" cannot be read two ways;
         * who is the kind of caller (admin, user, guest), so that an admin
         * location without a user never shares the guests' scope.
         */
        scope.len = 2 + NGX_SIZE_T_LEN + 2 + ctx->user.len + idem->value.len;
        scope.data = ngx_pnalloc(r->pool, scope.len);
        if (scope.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        scope.len = ngx_sprintf(scope.data, "%c:%uz:%V:%V",
                                ctx->admin ? 'a' : (ctx->user.len ? 'u' : 'g'),
                                ctx->user.len, &ctx->user, &idem->value)
                    - scope.data;
    }

    /* the fields that make two bodies "the same", normalized */
    fp.len = br.resource.len + br.kind.len + br.note.len
             + 3 * NGX_INT64_LEN + 8;
    fp.data = ngx_pnalloc(r->pool, fp.len);
    if (fp.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    fp.len = ngx_sprintf(fp.data, "%V\n%L\n%L\n%L\n%ui\n%V\n%V",
                         &br.resource, br.start, br.end, br.quantity,
                         br.hold, &br.kind, &br.note)
             - fp.data;

    if (ngx_booking_random_id(rand) != NGX_BOOKING_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    argv = ngx_palloc(r->pool, (14 + bmcf->types.nelts) * sizeof(ngx_str_t));
    if (argv == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_booking_key(r, &br.resource, &argv[0]) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    nkeys = 1;

    if (ctx->user.len) {
        /* the caller's own index, for GET /bookings */
        p = ngx_pnalloc(r->pool, sizeof("bk:{u:}:bookings") + ctx->user.len);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        argv[1].data = p;
        argv[1].len = ngx_sprintf(p, "bk:{u:%V}:bookings", &ctx->user) - p;
        nkeys = 2;
    }

    a = &argv[nkeys];

    a[0].data = rand;
    a[0].len = NGX_BOOKING_RAND_LEN;
    a[1] = ctx->user;
    a[2] = br.kind;
    a[3] = ngx_booking_flag[br.hold ? 1 : 0];
    a[4].data = nbuf[0];
    a[4].len = (br.start >= 0)
               ? (size_t) (ngx_sprintf(nbuf[0], "%L", br.start) - nbuf[0]) : 0;
    a[5].data = nbuf[1];
    a[5].len = (br.end >= 0)
               ? (size_t) (ngx_sprintf(nbuf[1], "%L", br.end) - nbuf[1]) : 0;
    a[6].data = nbuf[2];
    a[6].len = ngx_sprintf(nbuf[2], "%L", br.quantity) - nbuf[2];
    a[7] = br.note;
    a[8] = ngx_booking_flag[ctx->admin ? 1 : 0];
    a[9] = ctx->groups;
    a[10] = scope;
    a[11] = fp;

    for (i = 0; i < bmcf->types.nelts; i++) {
        a[12 + i] = bmcf->rules[i];
    }

    return ngx_booking_call(r, NGX_BOOKING_SCRIPT_BOOKING_CREATE, argv, nkeys,
                            nkeys + 12 + bmcf->types.nelts,
                            ngx_booking_created);
}




static ngx_int_t
ngx_booking_created(ngx_http_request_t *r, void *data)
{
    redisReply *reply = data;

    u_char                    token[NGX_BOOKING_TOKEN_LEN];
    ngx_int_t                 rc;
    ngx_uint_t                held;
    redisReply              **e;
    ngx_booking_json_t        j;
    ngx_booking_main_conf_t  *bmcf;

    rc = ngx_booking_script_error(r, reply);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 4
        && reply->element[0]->type == REDIS_REPLY_STRING
        && reply->element[0]->len == 11
        && ngx_strncmp(reply->element[0]->str, "unavailable", 11) == 0)
    {
        return ngx_booking_unavailable(r, reply);
    }

    if (ngx_booking_reply_tuple(reply) != NGX_BOOKING_OK) {
        return ngx_booking_bad_response(r);
    }

    e = reply->element;
    bmcf = ngx_http_get_module_main_conf(r, ngx_http_booking_module);

    if (!e[NGX_BOOKING_T_REPLAYED]->integer) {
        ngx_booking_changed(r, e);
    }

    held = (e[NGX_BOOKING_T_STATE]->len == 4
            && ngx_strncmp(e[NGX_BOOKING_T_STATE]->str, "held", 4) == 0);

    if (held) {
        if (ngx_booking_token(bmcf->secret.data, bmcf->secret.len,
                              (u_char *) e[NGX_BOOKING_T_ID]->str,
                              e[NGX_BOOKING_T_ID]->len, token)
            != NGX_BOOKING_OK
            || ngx_booking_header_out(r, "Booking-Token", token,
                                      NGX_BOOKING_TOKEN_LEN)
               != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (e[NGX_BOOKING_T_REPLAYED]->integer
        && ngx_booking_header_out(r, "Idempotent-Replayed",
                                  (u_char *) "true", 4)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_booking_json_init(&j, r->pool, 512) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_booking_write(r, &j, e, held ? token : NULL) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_booking_send_json(r, e[NGX_BOOKING_T_STATUS]->integer, &j);
}


/*
 * The runs of the range (buffer included) where fewer units are free than
 * asked, the first NGX_BOOKING_CONFLICTS_MAX of them, found here from the
 * counters the script read: {"unavailable", capacity, slot, start,
 * quantity, counters}, or {"unavailable", capacity, 0, free} for stock.
 */
static ngx_int_t
ngx_booking_unavailable(ngx_http_request_t *r, redisReply *reply)
{
    u_char              *p, msg[160];
    size_t               n, nruns, i, k;
    int64_t              cap, slot, start, qty, free;
    ngx_uint_t           date;
    redisReply         **e;
    ngx_booking_run_t   *runs;
    ngx_booking_json_t   j;

    if (ngx_booking_reply_unavailable(reply) != NGX_BOOKING_OK) {
        return ngx_booking_bad_response(r);
    }

    e = reply->element;

    (void) ngx_booking_reply_int(e[1], &cap);
    (void) ngx_booking_reply_int(e[2], &slot);

    if (ngx_booking_json_init(&j, r->pool, 512) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_booking_json_lit(&j, "{\"error\":{\"code\":\"unavailable\","
                             "\"message\":");

    if (slot == 0) {
        (void) ngx_booking_reply_int(e[3], &free);
        free = ngx_max(free, 0);

        p = ngx_sprintf(msg, "%L of %L units are taken", cap - free, cap);
        ngx_booking_json_str(&j, msg, p - msg);
        ngx_booking_json_lit(&j, ",\"conflicts\":[{\"free\":");
        ngx_booking_json_int(&j, free);
        ngx_booking_json_lit(&j, "}]}}");

        return ngx_booking_send_json(r, NGX_HTTP_CONFLICT, &j);
    }

    (void) ngx_booking_reply_int(e[3], &start);
    (void) ngx_booking_reply_int(e[4], &qty);

    n = e[5]->len / 4;
    date = (slot % NGX_BOOKING_DAY == 0);

    runs = ngx_palloc(r->pool, n * sizeof(ngx_booking_run_t));
    if (runs == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    nruns = ngx_booking_runs((u_char *) e[5]->str, n, start, slot, cap,
                             runs);

    /* only the runs short of the quantity asked are conflicts */
    for (i = 0, k = 0; i < nruns && k < NGX_BOOKING_CONFLICTS_MAX; i++) {
        if (runs[i].units < qty) {
            runs[k++] = runs[i];
        }
    }

    if (k == 0) {
        /* the script saw a slot over capacity: so must we */
        return ngx_booking_bad_response(r);
    }

    p = ngx_sprintf(msg, "%L of %L units are taken from ", cap - runs[0].units,
                    cap);
    p = date ? ngx_booking_format_date(p, runs[0].start)
             : ngx_booking_format_instant(p, runs[0].start);
    p = ngx_cpymem(p, " to ", 4);
    p = date ? ngx_booking_format_date(p, runs[0].end)
             : ngx_booking_format_instant(p, runs[0].end);

    ngx_booking_json_str(&j, msg, p - msg);
    ngx_booking_json_lit(&j, ",\"conflicts\":[");

    for (i = 0; i < k; i++) {
        if (i > 0) {
            ngx_booking_json_lit(&j, ",");
        }

        ngx_booking_json_lit(&j, "{\"start\":");
        ngx_booking_json_time(&j, runs[i].start, date);
        ngx_booking_json_lit(&j, ",\"end\":");
        ngx_booking_json_time(&j, runs[i].end, date);
        ngx_booking_json_lit(&j, ",\"free\":");
        ngx_booking_json_int(&j, runs[i].units);
        ngx_booking_json_lit(&j, "}");
    }

    ngx_booking_json_lit(&j, "]}}");

    return ngx_booking_send_json(r, NGX_HTTP_CONFLICT, &j);
}


static ngx_int_t
ngx_booking_get(ngx_http_request_t *r)
{
    ngx_str_t           argv[4];
    ngx_booking_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);

    if (ctx->user.len == 0 && !ctx->admin) {
        return ngx_booking_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                      "unauthenticated", "a user is needed",
                                      NULL);
    }

    if (ngx_booking_key(r, &ctx->id, &argv[0]) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    argv[1] = ctx->rand;
    argv[2] = ctx->user;
    argv[3] = ngx_booking_flag[ctx->admin ? 1 : 0];

    return ngx_booking_call(r, NGX_BOOKING_SCRIPT_BOOKING_GET, argv, 1, 4,
                            ngx_booking_answered);
}


static ngx_int_t
ngx_booking_act(ngx_http_request_t *r)
{
    ngx_str_t                *argv;
    ngx_uint_t                i;
    ngx_booking_ctx_t        *ctx;
    ngx_booking_main_conf_t  *bmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);
    bmcf = ngx_http_get_module_main_conf(r, ngx_http_booking_module);

    if (ctx->user.len == 0 && !ctx->admin && !ctx->token) {
        return ngx_booking_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                      "unauthenticated",
                                      "a user or the booking's token is "
                                      "needed", NULL);
    }

    argv = ngx_palloc(r->pool, (6 + bmcf->types.nelts) * sizeof(ngx_str_t));
    if (argv == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_booking_key(r, &ctx->id, &argv[0]) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    argv[1] = ctx->op;
    argv[2] = ctx->rand;
    argv[3] = ctx->user;
    argv[4] = ngx_booking_flag[ctx->admin ? 1 : 0];
    argv[5] = ngx_booking_flag[ctx->token ? 1 : 0];

    for (i = 0; i < bmcf->types.nelts; i++) {
        argv[6 + i] = bmcf->rules[i];
    }

    return ngx_booking_call(r, NGX_BOOKING_SCRIPT_BOOKING_ACT, argv, 1,
                            6 + bmcf->types.nelts, ngx_booking_answered);
}


static ngx_int_t
ngx_booking_answered(ngx_http_request_t *r, void *data)
{
    redisReply *reply = data;

    ngx_int_t           rc;
    ngx_booking_json_t  j;

    rc = ngx_booking_script_error(r, reply);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (ngx_booking_reply_tuple(reply) != NGX_BOOKING_OK) {
        return ngx_booking_bad_response(r);
    }

    if (((ngx_booking_ctx_t *) ngx_http_get_module_ctx(r,
             ngx_http_booking_module))->op.len)
    {
        ngx_booking_changed(r, reply->element);
    }

    if (ngx_booking_json_init(&j, r->pool, 512) != NGX_OK
        || ngx_booking_write(r, &j, reply->element, NULL) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_booking_send_json(r, NGX_HTTP_OK, &j);
}


static ngx_int_t
ngx_booking_list(ngx_http_request_t *r)
{
    u_char                   *p, buf[5][64], cbuf[512];
    size_t                    len;
    int64_t                   t[2];
    ngx_int_t                 rc, limit;
    ngx_str_t                 argv[9], rid, status, cursor, src;
    ngx_uint_t                i;
    ngx_booking_ctx_t        *ctx;
    ngx_booking_instant_t     in;
    ngx_booking_main_conf_t  *bmcf;
    static const char        *times[] = { "from", "to" };
    static const char        *states[] = { "held", "requested", "confirmed",
                                           "cancelled", "expired",
                                           "declined", NULL };

    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);
    bmcf = ngx_http_get_module_main_conf(r, ngx_http_booking_module);

    for (i = 0; i < 2; i++) {
        t[i] = -1;

        rc = ngx_booking_query_arg(r->args.data, r->args.len, times[i],
                                   buf[i], sizeof(buf[i]), &len);
        if (rc == 0) {
            continue;
        }

        if (rc < 0 || ngx_booking_parse_instant(buf[i], len, &in)
                      != NGX_BOOKING_OK)
        {
            return ngx_booking_send_error(r, NGX_HTTP_BAD_REQUEST,
                                          "bad_request",
                                          "not an RFC 3339 date or "
                                          "date-time", times[i]);
        }

        t[i] = in.t;
    }

    if ((t[0] >= 0) != (t[1] >= 0)) {
        return ngx_booking_send_error(r, NGX_HTTP_BAD_REQUEST, "bad_request",
                                      "from and to go together",
                                      t[0] >= 0 ? "to" : "from");
    }

    if (t[0] >= 0 && t[1] <= t[0]) {
        return ngx_booking_send_error(r, NGX_BOOKING_UNPROCESSABLE, "invalid",
                                      "to must be after from", "to");
    }

    ngx_str_set(&status, "");

    rc = ngx_booking_query_arg(r->args.data, r->args.len, "status", buf[2],
                               sizeof(buf[2]), &len);
    if (rc < 0) {
        return ngx_booking_send_error(r, NGX_HTTP_BAD_REQUEST, "bad_request",
                                      "status is unreadable", "status");
    }

    if (rc > 0) {
        for (i = 0; states[i] != NULL; i++) {
            if (len == ngx_strlen(states[i])
                && ngx_strncmp(buf[2], states[i], len) == 0)
            {
                break;
            }
        }

        if (states[i] == NULL) {
            return ngx_booking_send_error(r, NGX_BOOKING_UNPROCESSABLE,
                                          "invalid", "no such status",
                                          "status");
        }

        status.data = buf[2];
        status.len = len;
    }

    /* the cursor is base64url of what the script gave as "next" */
    ngx_str_set(&cursor, "");

    rc = ngx_booking_query_arg(r->args.data, r->args.len, "cursor", cbuf,
                               sizeof(cbuf), &len);
    if (rc != 0) {
        /* len is set only when the argument could be read */
        src.data = cbuf;
        src.len = (rc > 0) ? len : 0;
        cursor.data = ngx_pnalloc(r->pool,
                                  ngx_base64_decoded_length(src.len) + 1);

        if (src.len == 0 || cursor.data == NULL
            || ngx_decode_base64url(&cursor, &src) != NGX_OK
            || cursor.len == 0
            || ngx_booking_user_valid(&cursor) != NGX_OK)
        {
            return ngx_booking_send_error(r, NGX_HTTP_BAD_REQUEST,
                                          "bad_request", "bad cursor",
                                          "cursor");
        }
    }

    limit = 20;

    rc = ngx_booking_query_arg(r->args.data, r->args.len, "limit", buf[4],
                               sizeof(buf[4]), &len);
    if (rc != 0) {
        limit = (rc > 0) ? ngx_atoi(buf[4], len) : NGX_ERROR;

        if (limit == NGX_ERROR) {
            return ngx_booking_send_error(r, NGX_HTTP_BAD_REQUEST,
                                          "bad_request",
                                          "limit must be a number", "limit");
        }

        if (limit < 1 || limit > NGX_BOOKING_LIMIT_MAX) {
            return ngx_booking_send_error(r, NGX_BOOKING_UNPROCESSABLE,
                                          "invalid",
                                          "limit must be 1 to 100", "limit");
        }
    }

    rid.data = ngx_pnalloc(r->pool, NGX_BOOKING_ID_MAX * 4 + 1);
    if (rid.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_booking_query_arg(r->args.data, r->args.len, "resource",
                               rid.data, NGX_BOOKING_ID_MAX * 4, &rid.len);
    if (rc < 0) {
        return ngx_booking_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                      "no such resource", "resource");
    }

    if (rc > 0) {
        if (ngx_booking_id_check(bmcf, &rid, r->connection->log) != NGX_OK) {
            return ngx_booking_send_error(r, NGX_HTTP_NOT_FOUND,
                                          "not_found", "no such resource",
                                          "resource");
        }

        if (ctx->user.len == 0 && !ctx->admin) {
            goto unauthenticated;
        }

        if (ngx_booking_key(r, &rid, &argv[0]) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_str_set(&argv[1], "resource");

    } else {
        if (ctx->user.len == 0) {
            goto unauthenticated;
        }

        p = ngx_pnalloc(r->pool, sizeof("bk:{u:}:bookings") + ctx->user.len);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        argv[0].data = p;
        argv[0].len = ngx_sprintf(p, "bk:{u:%V}:bookings", &ctx->user) - p;
        ngx_str_set(&argv[1], "user");
    }

    argv[2] = ctx->user;
    argv[3] = ngx_booking_flag[ctx->admin ? 1 : 0];

    for (i = 0; i < 2; i++) {
        argv[4 + i].data = buf[i];
        argv[4 + i].len = (t[i] >= 0)
                          ? (size_t) (ngx_sprintf(buf[i], "%L", t[i]) - buf[i])
                          : 0;
    }

    argv[6] = status;

    argv[7] = cursor;
    argv[8].data = buf[4];
    argv[8].len = ngx_sprintf(buf[4], "%i", limit) - buf[4];

    return ngx_booking_call(r, NGX_BOOKING_SCRIPT_BOOKINGS_LIST, argv, 1, 9,
                            ngx_booking_listed);

unauthenticated:

    return ngx_booking_send_error(r, NGX_HTTP_UNAUTHORIZED, "unauthenticated",
                                  "a user is needed", NULL);
}


/* {"ok", next cursor, tuple, ...} */
static ngx_int_t
ngx_booking_listed(ngx_http_request_t *r, void *data)
{
    redisReply *reply = data;

    ngx_int_t            rc;
    ngx_str_t            src, next;
    ngx_uint_t           i;
    ngx_booking_json_t   j;

    rc = ngx_booking_script_error(r, reply);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (ngx_booking_reply_list(reply) != NGX_BOOKING_OK) {
        return ngx_booking_bad_response(r);
    }

    if (ngx_booking_json_init(&j, r->pool, 1024) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_booking_json_lit(&j, "{\"items\":[");

    for (i = 2; i < reply->elements; i++) {
        if (i > 2) {
            ngx_booking_json_lit(&j, ",");
        }

        if (ngx_booking_write(r, &j, reply->element[i]->element, NULL)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ngx_booking_json_lit(&j, "]");

    if (reply->element[1]->len) {
        src.data = (u_char *) reply->element[1]->str;
        src.len = reply->element[1]->len;
        next.data = ngx_pnalloc(r->pool, ngx_base64_encoded_length(src.len));
        if (next.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_encode_base64url(&next, &src);

        ngx_booking_json_lit(&j, ",\"next\":");
        ngx_booking_json_str(&j, next.data, next.len);
    }

    ngx_booking_json_lit(&j, "}");

    return ngx_booking_send_json(r, NGX_HTTP_OK, &j);
}


/* a booking, as the spec writes it; fields that do not apply are left out */
static ngx_int_t
ngx_booking_write(ngx_http_request_t *r, ngx_booking_json_t *j,
    redisReply **e, u_char *token)
{
    u_char                   *dot;
    int64_t                   slot, v;
    ngx_uint_t                i, date;
    redisReply               *id;
    static ngx_uint_t         times[] = { NGX_BOOKING_T_START,
                                          NGX_BOOKING_T_END,
                                          NGX_BOOKING_T_CREATED,
                                          NGX_BOOKING_T_EXPIRES };
    static const char        *names[] = { ",\"start\":", ",\"end\":",
                                          ",\"created_at\":",
                                          ",\"expires_at\":" };

    v = 0;
    slot = 0;
    id = e[NGX_BOOKING_T_ID];
    (void) ngx_booking_reply_int(e[NGX_BOOKING_T_SLOT], &slot);
    date = (slot > 0 && slot % 86400 == 0);

    dot = NULL;

    for (i = id->len; i > 0; i--) {
        if (id->str[i - 1] == '.') {
            dot = (u_char *) &id->str[i - 1];
            break;
        }
    }

    if (dot == NULL) {
        return NGX_ERROR;
    }

    ngx_booking_json_lit(j, "{\"id\":");
    ngx_booking_json_str(j, (u_char *) id->str, id->len);
    ngx_booking_json_lit(j, ",\"resource\":");
    ngx_booking_json_str(j, (u_char *) id->str, dot - (u_char *) id->str);
    ngx_booking_json_lit(j, ",\"type\":");
    ngx_booking_json_str(j, (u_char *) e[NGX_BOOKING_T_TYPE]->str,
                         e[NGX_BOOKING_T_TYPE]->len);
    ngx_booking_json_lit(j, ",\"status\":");
    ngx_booking_json_str(j, (u_char *) e[NGX_BOOKING_T_STATE]->str,
                         e[NGX_BOOKING_T_STATE]->len);
    ngx_booking_json_lit(j, ",\"kind\":");
    ngx_booking_json_str(j, (u_char *) e[NGX_BOOKING_T_KIND]->str,
                         e[NGX_BOOKING_T_KIND]->len);

    for (i = 0; i < 4; i++) {
        if (ngx_booking_reply_int(e[times[i]], &v) == NGX_BOOKING_OK) {
            ngx_booking_json_raw(j, (u_char *) names[i],
                                 ngx_strlen(names[i]));
            ngx_booking_json_time(j, v, date && i < 2);
        }

        if (i != 1) {
            continue;
        }

        (void) ngx_booking_reply_int(e[NGX_BOOKING_T_QUANTITY], &v);
        ngx_booking_json_lit(j, ",\"quantity\":");
        ngx_booking_json_int(j, v);

        if (e[NGX_BOOKING_T_USER]->len) {
            ngx_booking_json_lit(j, ",\"user\":");
            ngx_booking_json_str(j, (u_char *) e[NGX_BOOKING_T_USER]->str,
                                 e[NGX_BOOKING_T_USER]->len);
        }
    }

    if (e[NGX_BOOKING_T_NOTE]->len) {
        ngx_booking_json_lit(j, ",\"note\":");
        ngx_booking_json_str(j, (u_char *) e[NGX_BOOKING_T_NOTE]->str,
                             e[NGX_BOOKING_T_NOTE]->len);
    }

    /* the one answer that carries it: the POST that made the hold */
    if (token != NULL) {
        ngx_booking_json_lit(j, ",\"token\":");
        ngx_booking_json_str(j, token, NGX_BOOKING_TOKEN_LEN);
    }

    ngx_booking_json_lit(j, "}");

    return j->failed ? NGX_ERROR : NGX_OK;
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


static ngx_int_t
ngx_booking_header_out(ngx_http_request_t *r, const char *name,
    u_char *value, size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);

    h->value.data = ngx_pnalloc(r->pool, len);
    if (h->value.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(h->value.data, value, len);
    h->value.len = len;

    return NGX_OK;
}


/* the resource's hash, bk:{r:<id>}: every key of it begins so */
ngx_int_t
ngx_booking_key(ngx_http_request_t *r, ngx_str_t *rid, ngx_str_t *key)
{
    key->len = sizeof("bk:{r:}") - 1 + rid->len;
    key->data = ngx_pnalloc(r->pool, key->len);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(key->data, "bk:{r:%V}", rid);

    return NGX_OK;
}


/* the cached reads of the booking's resource and type are stale now */
static void
ngx_booking_changed(ngx_http_request_t *r, redisReply **e)
{
    ngx_str_t    id, type;
    ngx_uint_t   i;

    id.data = (u_char *) e[NGX_BOOKING_T_ID]->str;
    id.len = 0;

    for (i = e[NGX_BOOKING_T_ID]->len; i > 0; i--) {
        if (id.data[i - 1] == '.') {
            id.len = i - 1;
            break;
        }
    }

    type.data = (u_char *) e[NGX_BOOKING_T_TYPE]->str;
    type.len = e[NGX_BOOKING_T_TYPE]->len;

    ngx_booking_cache_invalidate(r, &id, &type);
}


static ngx_int_t
ngx_booking_bad_response(ngx_http_request_t *r)
{
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "booking: unexpected reply from redis");

    return ngx_booking_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                  "internal", "internal error", NULL);
}

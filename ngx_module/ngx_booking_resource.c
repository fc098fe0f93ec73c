/*
 * Resources: PUT, GET, DELETE /resources/{id} and their availability.
 *
 * Keys of one resource share the hash tag {r:<id>}; the resource itself is
 * the hash bk:{r:<id>} whose "doc" field holds its JSON as written by PUT.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>
#include <hiredis/hiredis.h>

#include "ngx_booking_module.h"
#include "ngx_booking_scripts.h"
#include "ngx_booking_cache.h"


/* GEO's own limits: Redis refuses latitudes beyond these */
#define NGX_BOOKING_LAT_MAX  85.05112878
#define NGX_BOOKING_LON_MAX  180.0


typedef struct {
    ngx_booking_type_t   *type;
    int64_t               capacity;
    ngx_str_t             doc;
    ngx_str_t             owner;
    ngx_str_t             groups;     /* comma separated, for the scripts */
    ngx_str_t             lat;        /* "" without a location */
    ngx_str_t             lon;
} ngx_booking_resource_t;


static ngx_int_t ngx_booking_resource_doc(ngx_http_request_t *r,
    json_t *root, ngx_booking_resource_t *res);
static ngx_int_t ngx_booking_resource_access(ngx_http_request_t *r,
    json_t *root, ngx_booking_rreq_t *in, ngx_booking_resource_t *res);
static ngx_int_t ngx_booking_resource_key(ngx_http_request_t *r,
    ngx_str_t *key);
static ngx_int_t ngx_booking_resource_written(ngx_http_request_t *r,
    void *data);
static ngx_int_t ngx_booking_resource_read(ngx_http_request_t *r,
    void *data);
static ngx_int_t ngx_booking_resource_deleted(ngx_http_request_t *r,
    void *data);
static ngx_int_t ngx_booking_resource_answer(ngx_http_request_t *r,
    ngx_uint_t status, redisReply *doc, redisReply *created,
    redisReply *updated);
static ngx_int_t ngx_booking_availability_read(ngx_http_request_t *r,
    void *data);
static ngx_int_t ngx_booking_query_time(ngx_http_request_t *r,
    const char *name, int64_t *t, ngx_booking_err_t *err);


static ngx_int_t
ngx_booking_resource_key(ngx_http_request_t *r, ngx_str_t *key)
{
    ngx_booking_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);

    return ngx_booking_key(r, &ctx->id, key);
}


ngx_int_t
ngx_booking_resource_put(ngx_http_request_t *r)
{
    u_char                   nbuf[2][NGX_INT64_LEN];
    json_t                  *root;
    ngx_int_t                rc;
    ngx_str_t                body, argv[9];
    ngx_booking_rreq_t       in;
    ngx_booking_perr_t       perr;
    ngx_booking_resource_t   res;
    ngx_booking_main_conf_t *bmcf;

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_booking_module);

    if (ngx_booking_request_body(r, &body) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    root = ngx_booking_parse_resource(body.data, body.len, &in, &perr);
    if (root == NULL) {
        return ngx_booking_send_error(r, perr.status, perr.code,
                                      perr.message, perr.field);
    }

    ngx_memzero(&res, sizeof(ngx_booking_resource_t));
    res.capacity = in.capacity;
    res.type = ngx_booking_find_type(bmcf, (u_char *) in.type, in.type_len);

    rc = NGX_OK;

    if (res.type == NULL) {
        rc = NGX_DECLINED;

    } else if (ngx_booking_resource_doc(r, root, &res) != NGX_OK
               || ngx_booking_resource_access(r, root, &in, &res) != NGX_OK)
    {
        rc = NGX_ERROR;
    }

    json_decref(root);

    if (rc == NGX_DECLINED) {
        return ngx_booking_send_error(r, NGX_BOOKING_UNPROCESSABLE, "invalid",
                                      "unknown type", "type");
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_booking_resource_key(r, &argv[0]) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    argv[1] = res.doc;
    argv[2] = res.type->name;
    argv[3].data = nbuf[0];
    argv[3].len = ngx_sprintf(nbuf[0], "%L", res.type->slot) - nbuf[0];
    argv[4].data = nbuf[1];
    argv[4].len = ngx_sprintf(nbuf[1], "%L", res.capacity) - nbuf[1];

    argv[5] = res.owner;
    argv[6] = res.groups;
    argv[7] = res.lat;
    argv[8] = res.lon;

    return ngx_booking_call(r, NGX_BOOKING_SCRIPT_RESOURCE_PUT, argv, 1, 9,
                            ngx_booking_resource_written);
}


/* NGX_OK, or the rc of the error answer already sent */



/*
 * The stored document: the fields in a fixed order, numbers as numbers,
 * so that equal resources read alike.
 */
static ngx_int_t
ngx_booking_resource_doc(ngx_http_request_t *r, json_t *root,
    ngx_booking_resource_t *res)
{
    json_t             *v;
    ngx_uint_t          i;
    ngx_booking_ctx_t  *ctx;
    ngx_booking_json_t  j;
    static const char  *fields[] = { "title", "owner", "location",
                                     "attributes", "groups", NULL };

    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);

    if (ngx_booking_json_init(&j, r->pool, 256) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_booking_json_lit(&j, "{\"id\":");
    ngx_booking_json_str(&j, ctx->id.data, ctx->id.len);
    ngx_booking_json_lit(&j, ",\"type\":");
    ngx_booking_json_str(&j, res->type->name.data, res->type->name.len);
    ngx_booking_json_lit(&j, ",\"capacity\":");
    ngx_booking_json_int(&j, res->capacity);

    for (i = 0; fields[i] != NULL; i++) {
        v = json_object_get(root, fields[i]);

        if (v != NULL) {
            ngx_booking_json_lit(&j, ",\"");
            ngx_booking_json_raw(&j, (u_char *) fields[i],
                                 ngx_strlen(fields[i]));
            ngx_booking_json_lit(&j, "\":");
            ngx_booking_json_value(&j, v);
        }
    }

    ngx_booking_json_lit(&j, "}");

    if (j.failed) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    res->doc.data = j.start;
    res->doc.len = j.pos - j.start;

    return NGX_OK;
}


/* who may act on the resource: its owner, the groups it is kept for */
static ngx_int_t
ngx_booking_resource_access(ngx_http_request_t *r, json_t *root,
    ngx_booking_rreq_t *in, ngx_booking_resource_t *res)
{
    u_char   *p;
    size_t    i, len;
    json_t   *v, *g;

    res->owner.len = in->owner_len;
    res->owner.data = (u_char *) "";
    ngx_str_set(&res->groups, "");
    ngx_str_set(&res->lat, "");
    ngx_str_set(&res->lon, "");

    if (in->owner != NULL) {
        res->owner.data = ngx_pnalloc(r->pool, in->owner_len);
        if (res->owner.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(res->owner.data, in->owner, in->owner_len);
    }

    if (in->located) {
        p = ngx_pnalloc(r->pool, 2 * 32);
        if (p == NULL) {
            return NGX_ERROR;
        }

        res->lat.data = p;
        res->lat.len = ngx_sprintf(p, "%.8f", in->lat) - p;
        p += 32;
        res->lon.data = p;
        res->lon.len = ngx_sprintf(p, "%.8f", in->lon) - p;
    }

    v = json_object_get(root, "groups");
    if (v == NULL || json_array_size(v) == 0) {
        return NGX_OK;
    }

    len = 0;

    json_array_foreach(v, i, g) {
        len += json_string_length(g) + 1;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    res->groups.data = p;

    json_array_foreach(v, i, g) {
        if (i) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, json_string_value(g), json_string_length(g));
    }

    res->groups.len = p - res->groups.data;

    return NGX_OK;
}


/* {"ok", created, doc, created_at, updated_at} */
static ngx_int_t
ngx_booking_resource_written(ngx_http_request_t *r, void *data)
{
    redisReply *reply = data;

    ngx_int_t    rc;
    redisReply **e;

    rc = ngx_booking_script_error(r, reply);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (ngx_booking_reply_put(reply) != NGX_BOOKING_OK) {
        return ngx_booking_unexpected(r);
    }

    e = reply->element;

    /* a type change may move it between listings: every type is touched */
    ngx_booking_cache_invalidate(r, &((ngx_booking_ctx_t *)
                                      ngx_http_get_module_ctx(r,
                                          ngx_http_booking_module))->id,
                                 NULL);

    return ngx_booking_resource_answer(r, e[1]->integer ? NGX_HTTP_CREATED
                                                        : NGX_HTTP_OK,
                                       e[2], e[3], e[4]);
}


ngx_int_t
ngx_booking_resource_get(ngx_http_request_t *r)
{
    ngx_str_t  argv[5];

    ngx_str_set(&argv[0], "HMGET");

    if (ngx_booking_resource_key(r, &argv[1]) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&argv[2], "doc");
    ngx_str_set(&argv[3], "created_at");
    ngx_str_set(&argv[4], "updated_at");

    /* a read changes nothing: one plain command, no script */
    return ngx_booking_call(r, -1, argv, 0, 5, ngx_booking_resource_read);
}


static ngx_int_t
ngx_booking_resource_read(ngx_http_request_t *r, void *data)
{
    redisReply *reply = data;

    if (ngx_booking_reply_get(reply) != NGX_BOOKING_OK) {
        return ngx_booking_unexpected(r);
    }

    if (reply->element[0]->type == REDIS_REPLY_NIL) {
        return ngx_booking_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                      "no such resource", NULL);
    }

    return ngx_booking_resource_answer(r, NGX_HTTP_OK, reply->element[0],
                                       reply->element[1], reply->element[2]);
}


/* the stored document with its two instants added */
static ngx_int_t
ngx_booking_resource_answer(ngx_http_request_t *r, ngx_uint_t status,
    redisReply *doc, redisReply *created, redisReply *updated)
{
    int64_t             c, u;
    ngx_booking_json_t  j;

    /* checked by ngx_booking_reply_put() or _get() */
    (void) ngx_booking_reply_int(created, &c);
    (void) ngx_booking_reply_int(updated, &u);

    if (ngx_booking_json_init(&j, r->pool, doc->len + 128) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_booking_json_raw(&j, (u_char *) doc->str, doc->len - 1);
    ngx_booking_json_lit(&j, ",\"created_at\":");
    ngx_booking_json_time(&j, c, 0);
    ngx_booking_json_lit(&j, ",\"updated_at\":");
    ngx_booking_json_time(&j, u, 0);
    ngx_booking_json_lit(&j, "}");

    return ngx_booking_send_json(r, status, &j);
}


ngx_int_t
ngx_booking_resource_delete(ngx_http_request_t *r)
{
    ngx_str_t  argv[1];

    if (ngx_booking_resource_key(r, &argv[0]) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_booking_call(r, NGX_BOOKING_SCRIPT_RESOURCE_DELETE, argv, 1, 1,
                            ngx_booking_resource_deleted);
}


static ngx_int_t
ngx_booking_resource_deleted(ngx_http_request_t *r, void *data)
{
    redisReply *reply = data;

    ngx_int_t  rc;

    rc = ngx_booking_script_error(r, reply);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    ngx_booking_cache_invalidate(r, &((ngx_booking_ctx_t *)
                                      ngx_http_get_module_ctx(r,
                                          ngx_http_booking_module))->id,
                                 NULL);

    return ngx_booking_send_empty(r, NGX_HTTP_NO_CONTENT);
}


ngx_int_t
ngx_booking_availability(ngx_http_request_t *r)
{
    u_char                   nbuf[3][NGX_INT64_LEN];
    ngx_str_t                argv[4];
    ngx_booking_err_t        err;
    ngx_booking_ctx_t       *ctx;
    ngx_booking_main_conf_t *bmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);
    bmcf = ngx_http_get_module_main_conf(r, ngx_http_booking_module);

    if (ngx_booking_query_time(r, "from", &ctx->from, &err) != NGX_OK
        || ngx_booking_query_time(r, "to", &ctx->to, &err) != NGX_OK)
    {
        return ngx_booking_send_err(r, &err);
    }

    /* whether from and to are needed depends on the type: the script says */
    if (ctx->from >= 0 && ctx->to >= 0) {
        if (ctx->to <= ctx->from) {
            return ngx_booking_send_error(r, NGX_BOOKING_UNPROCESSABLE,
                                          "invalid", "to must be after from",
                                          "to");
        }

        if (ctx->to - ctx->from > bmcf->max_range) {
            return ngx_booking_send_error(r, NGX_BOOKING_UNPROCESSABLE,
                                          "invalid",
                                          "the range is longer than "
                                          "booking_max_range", "to");
        }
    }

    if (ngx_booking_resource_key(r, &argv[0]) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    argv[1].data = nbuf[0];
    argv[1].len = (ctx->from >= 0)
                  ? (size_t) (ngx_sprintf(nbuf[0], "%L", ctx->from) - nbuf[0])
                  : 0;
    argv[2].data = nbuf[1];
    argv[2].len = (ctx->to >= 0)
                  ? (size_t) (ngx_sprintf(nbuf[1], "%L", ctx->to) - nbuf[1])
                  : 0;
    argv[3].data = nbuf[2];
    argv[3].len = ngx_sprintf(nbuf[2], "%d", NGX_BOOKING_READ_SLOTS_MAX)
                  - nbuf[2];

    return ngx_booking_call(r, NGX_BOOKING_SCRIPT_AVAILABILITY, argv, 1, 4,
                            ngx_booking_availability_read);
}


/* t is -1 when the argument is absent */
static ngx_int_t
ngx_booking_query_time(ngx_http_request_t *r, const char *name, int64_t *t,
    ngx_booking_err_t *err)
{
    u_char                 buf[64];
    size_t                 len;
    ngx_int_t              rc;
    ngx_booking_instant_t  in;

    *t = -1;

    rc = ngx_booking_query_arg(r->args.data, r->args.len, name, buf,
                               sizeof(buf), &len);
    if (rc == 0) {
        return NGX_OK;
    }

    if (rc < 0 || ngx_booking_parse_instant(buf, len, &in) != NGX_BOOKING_OK) {
        return ngx_booking_fail(err, NGX_HTTP_BAD_REQUEST, "bad_request",
                                      "not an RFC 3339 date or date-time",
                                      name);
    }

    *t = in.t;

    return NGX_OK;
}


/*
 * {"ok", type, slot, capacity, start, n, part...}: the units in use of n
 * slots from start, 4 bytes each, one part per counter chunk; or {"ok",
 * type, 0, capacity, used} for a timeless resource.  Turning counters into
 * runs is done here, in the worker, so that Redis's one thread only copies
 * bytes.
 */
static ngx_int_t
ngx_booking_availability_read(ngx_http_request_t *r, void *data)
{
    redisReply *reply = data;

    size_t               n, nruns;
    int64_t              slot, capacity, start, used;
    u_char              *counters;
    ngx_int_t            rc, date;
    redisReply         **e;
    ngx_booking_ctx_t   *ctx;
    ngx_booking_run_t   *runs;
    ngx_booking_json_t   j;
    ngx_booking_type_t  *t;

    rc = ngx_booking_script_error(r, reply);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (ngx_booking_reply_availability(reply) != NGX_BOOKING_OK) {
        return ngx_booking_unexpected(r);
    }

    e = reply->element;

    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);

    slot = e[2]->integer;
    capacity = e[3]->integer;

    if (ngx_booking_json_init(&j, r->pool, 512) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_booking_json_lit(&j, "{\"resource\":");
    ngx_booking_json_str(&j, ctx->id.data, ctx->id.len);
    ngx_booking_json_lit(&j, ",\"type\":");
    ngx_booking_json_str(&j, (u_char *) e[1]->str, e[1]->len);
    ngx_booking_json_lit(&j, ",\"slot\":");

    /* as nginx.conf writes it, while the type still has that slot */
    t = ngx_booking_find_type(ngx_http_get_module_main_conf(r,
                                  ngx_http_booking_module),
                              (u_char *) e[1]->str, e[1]->len);

    if (t != NULL && t->slot == slot) {
        ngx_booking_json_str(&j, t->slot_text.data, t->slot_text.len);

    } else {
        ngx_booking_json_slot(&j, slot);
    }
    ngx_booking_json_lit(&j, ",\"capacity\":");
    ngx_booking_json_int(&j, capacity);

    if (slot == 0) {
        used = e[4]->integer;

        ngx_booking_json_lit(&j, ",\"free\":");
        ngx_booking_json_int(&j, ngx_max(0, capacity - used));
        ngx_booking_json_lit(&j, "}");

        return ngx_booking_send_json(r, NGX_HTTP_OK, &j);
    }

    start = e[4]->integer;
    n = (size_t) e[5]->integer;
    date = (slot % 86400 == 0);

    counters = ngx_pnalloc(r->pool, n * 4);
    runs = ngx_palloc(r->pool, n * sizeof(ngx_booking_run_t));
    if (counters == NULL || runs == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_booking_reply_counters(reply, counters);

    nruns = ngx_booking_runs(counters, n, start, slot, capacity, runs);

    ngx_booking_json_lit(&j, ",\"from\":");
    ngx_booking_json_time(&j, start, date);
    ngx_booking_json_lit(&j, ",\"to\":");
    ngx_booking_json_time(&j, start + (int64_t) n * slot, date);
    ngx_booking_json_lit(&j, ",\"free\":[");

    if (ngx_booking_json_reserve(&j, nruns * NGX_BOOKING_RUN_JSON_LEN)
        == NGX_OK)
    {
        j.pos = ngx_booking_runs_json(j.pos, runs, nruns, date);
    }

    ngx_booking_json_lit(&j, "]}");

    return ngx_booking_send_json(r, NGX_HTTP_OK, &j);
}


ngx_int_t
ngx_booking_unexpected(ngx_http_request_t *r)
{
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "booking: unexpected reply from redis");

    return ngx_booking_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                  "internal", "internal error", NULL);
}

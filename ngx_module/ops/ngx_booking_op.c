/*
 * What the operations share: the types of nginx.conf and their rules
 * lines, resource ids, the keys of a resource, store calls, and the
 * answers every operation may give (refused, failed, unexpected).
 */

#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_booking_ops.h"


/*
 * every key a script of one resource is given, in the contract's order:
 * its own, its shard's event stream and index of holds due, then its
 * waitlist (which the scripts that free units serve)
 */
const char *const  ngx_booking_keys_all[] = {
    NGX_BOOKING_KEY_R, NGX_BOOKING_KEY_B, NGX_BOOKING_KEY_C,
    NGX_BOOKING_KEY_K, NGX_BOOKING_KEY_H, NGX_BOOKING_KEY_A,
    NGX_BOOKING_KEY_E, NGX_BOOKING_KEY_D, NGX_BOOKING_KEY_X,
    NGX_BOOKING_KEY_V, NULL
};


ngx_booking_type_t *
ngx_booking_find_type(ngx_booking_ops_conf_t *conf, u_char *name, size_t len)
{
    ngx_uint_t           i;
    ngx_booking_type_t  *t;

    t = conf->types.elts;

    for (i = 0; i < conf->types.nelts; i++) {
        if (t[i].name.len == len && ngx_strncmp(t[i].name.data, name, len) == 0)
        {
            return &t[i];
        }
    }

    return NULL;
}


ngx_int_t
ngx_booking_id_check(ngx_booking_ops_conf_t *conf, ngx_str_t *id,
    ngx_log_t *log)
{
    ngx_uint_t  i;

    if (conf->id_regex == NULL) {
        return ngx_booking_id_valid(id->data, id->len) ? NGX_OK : NGX_DECLINED;
    }

    /*
     * Whatever the pattern allows, an id stays printable and free of the
     * braces that delimit a Redis Cluster hash tag, so the keys of one
     * resource can never reach into another's.
     */
    if (id->len == 0 || id->len > NGX_BOOKING_RESOURCE_MAX) {
        return NGX_DECLINED;
    }

    for (i = 0; i < id->len; i++) {
        if (id->data[i] <= 0x20 || id->data[i] >= 0x7f
            || id->data[i] == '{' || id->data[i] == '}'
            || id->data[i] == '/')
        {
            return NGX_DECLINED;
        }
    }

    if (ngx_regex_exec(conf->id_regex, id, NULL, 0) < 0) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * The most seconds any booking of the type may span, an owner's block
 * too: booking_max_range, and never more slots than one script may check
 * and write in a few milliseconds.  A booking's max is a rule of its own,
 * which blocks skip.
 */
int64_t
ngx_booking_longest(ngx_booking_ops_conf_t *conf, ngx_booking_type_t *t)
{
    int64_t  longest;

    if (t->slot == 0) {
        return 0;
    }

    longest = ngx_min(conf->max_range,
                      (int64_t) NGX_BOOKING_BOOK_SLOTS_MAX * t->slot);

    return longest / t->slot * t->slot;
}


/*
 * The rules of every type as one line each, for the scripts: nginx.conf
 * stays their only source, and a reload applies them at once.
 */
ngx_int_t
ngx_booking_rules(ngx_conf_t *cf, ngx_booking_ops_conf_t *conf)
{
    ngx_uint_t           i;
    ngx_booking_type_t  *t;

    conf->rules = ngx_palloc(cf->pool,
                             (conf->types.nelts + 1) * sizeof(ngx_str_t));
    if (conf->rules == NULL) {
        return NGX_ERROR;
    }

    t = conf->types.elts;

    for (i = 0; i < conf->types.nelts; i++) {
        conf->rules[i].data = ngx_pnalloc(cf->pool,
                                          t[i].name.len + 12 * NGX_INT64_LEN);
        if (conf->rules[i].data == NULL) {
            return NGX_ERROR;
        }

        conf->rules[i].len = ngx_sprintf(conf->rules[i].data,
                                         "%V %L %L %L %L %L %L %L %i %ui %L %L "
                                         "%i",
                                         &t[i].name, t[i].slot, t[i].hold,
                                         t[i].min, t[i].max, t[i].buffer,
                                         t[i].lead, t[i].horizon,
                                         t[i].approval, t[i].max_active,
                                         ngx_booking_longest(conf, &t[i]),
                                         t[i].hold_max, t[i].waitlist)
                             - conf->rules[i].data;

        conf->waitlist |= t[i].waitlist;
        conf->zones |= (t[i].tz != NULL);
    }

    return NGX_OK;
}


ngx_int_t
ngx_booking_op_fail(ngx_booking_req_t *req, ngx_uint_t status,
    const char *code, const char *message, const char *field)
{
    return ngx_booking_view_fail(&req->answer, req->pool, status, code,
                                 message, field);
}


/* what a parser of the core found wrong */
ngx_int_t
ngx_booking_op_perr(ngx_booking_req_t *req, ngx_booking_perr_t *err)
{
    return ngx_booking_op_fail(req, err->status, err->code, err->message,
                               err->field);
}


/* Redis's words stay in the error log; the client learns the kind */
ngx_int_t
ngx_booking_op_unexpected(ngx_booking_req_t *req)
{
    ngx_log_error(NGX_LOG_ERR, req->log, 0,
                  "booking: unexpected reply from redis");

    return ngx_booking_op_fail(req, NGX_HTTP_INTERNAL_SERVER_ERROR,
                               "internal", "internal error", NULL);
}


/* a call that did not come back with an answer */
ngx_int_t
ngx_booking_op_failed(ngx_booking_req_t *req, ngx_booking_call_t *call)
{
    switch (call->rc) {

    case NGX_BOOKING_STORE_UNAVAILABLE:
        return ngx_booking_op_unavailable(req);

    case NGX_BOOKING_STORE_BUSY:
        return ngx_booking_op_fail(req, NGX_HTTP_SERVICE_UNAVAILABLE,
                                   "backend_unavailable",
                                   "Redis cannot take the request now",
                                   NULL);

    case NGX_BOOKING_STORE_TIMEOUT:
        return ngx_booking_op_fail(req, NGX_HTTP_GATEWAY_TIME_OUT,
                                   "backend_timeout",
                                   "Redis did not answer in time; the "
                                   "outcome is unknown", NULL);

    case NGX_BOOKING_STORE_LOST:
        return ngx_booking_op_fail(req, NGX_HTTP_GATEWAY_TIME_OUT,
                                   "backend_timeout",
                                   "the connection to Redis was lost; the "
                                   "outcome is unknown", NULL);

    default: /* NGX_BOOKING_STORE_FAILED */
        return ngx_booking_op_unexpected(req);
    }
}


ngx_int_t
ngx_booking_op_refused(ngx_booking_req_t *req, ngx_booking_call_t *call)
{
    return ngx_booking_view_refusal(&req->answer, req->pool,
                                    &call->result.refusal);
}


/*
 * NGX_DECLINED when the call came back with what was expected; else the
 * answer is the failure or the script's refusal, and this is its rc.
 */
ngx_int_t
ngx_booking_op_check(ngx_booking_req_t *req, ngx_booking_call_t *call)
{
    if (call->rc != NGX_BOOKING_STORE_OK) {
        return ngx_booking_op_failed(req, call);
    }

    if (call->result.kind == NGX_BOOKING_R_REFUSED) {
        return ngx_booking_op_refused(req, call);
    }

    return NGX_DECLINED;
}


/*
 * An operation's handler is done with rc: NGX_DONE (another call is on its
 * way), NGX_OK (the answer is ready), NGX_ERROR (no memory for it).
 */
void
ngx_booking_op_done(ngx_booking_req_t *req, ngx_int_t rc)
{
    if (rc == NGX_DONE) {
        return;
    }

    if (rc != NGX_OK
        && ngx_booking_op_fail(req, NGX_HTTP_INTERNAL_SERVER_ERROR,
                               "internal", "internal error", NULL)
           != NGX_OK)
    {
        req->answer.status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        ngx_str_null(&req->answer.body);
    }

    req->finish(req);
}


/* a call of the request, with room for its keys and arguments */
ngx_booking_call_t *
ngx_booking_op_call(ngx_booking_req_t *req, ngx_int_t script,
    ngx_uint_t nkeys, ngx_uint_t nargs, int expect,
    ngx_booking_call_pt handler)
{
    ngx_booking_call_t  *call;

    call = ngx_pcalloc(req->pool, sizeof(ngx_booking_call_t)
                                  + (nkeys + nargs) * sizeof(ngx_str_t));
    if (call == NULL) {
        return NULL;
    }

    call->script = script;
    call->keys = (ngx_str_t *) (call + 1);
    call->nkeys = nkeys;
    call->args = call->keys + nkeys;
    call->nargs = nargs;
    call->expect = expect;
    call->pool = req->pool;
    call->log = req->log;
    call->handler = handler;
    call->data = req;
    call->waited = &req->redis_time;

    return call;
}


/* Redis could not be reached: the 503 every operation answers */
ngx_int_t
ngx_booking_op_unavailable(ngx_booking_req_t *req)
{
    return ngx_booking_op_fail(req, NGX_HTTP_SERVICE_UNAVAILABLE,
                               "backend_unavailable",
                               "Redis cannot be reached", NULL);
}


/*
 * After a batch of calls: NGX_DONE while some are out (a call that could
 * not be sent makes the answer a 503 once they are back), else the 503 now.
 */
ngx_int_t
ngx_booking_op_sent(ngx_booking_req_t *req, ngx_uint_t pending)
{
    return pending ? NGX_DONE : ngx_booking_op_unavailable(req);
}


/* NGX_DONE: sent; NGX_OK: answered 503 at once; NGX_ERROR */
ngx_int_t
ngx_booking_op_send(ngx_booking_req_t *req, ngx_booking_call_t *call)
{
    switch (ngx_booking_store_call(call)) {

    case NGX_OK:
        return NGX_DONE;

    case NGX_DECLINED:
        return ngx_booking_op_unavailable(req);

    default:
        return NGX_ERROR;
    }
}


/* the keys of resource id with these suffixes (a NULL ended list) */
ngx_int_t
ngx_booking_resource_keys(ngx_booking_req_t *req, ngx_str_t *id,
    ngx_str_t *keys, const char *const *suffixes)
{
    u_char    *p;
    unsigned   shard;

    shard = ngx_booking_shard(id->data, id->len);

    for ( /* void */ ; *suffixes != NULL; suffixes++, keys++) {
        p = ngx_pnalloc(req->pool, ngx_booking_rkey_len(id->len, *suffixes));
        if (p == NULL) {
            return NGX_ERROR;
        }

        keys->data = p;
        keys->len = ngx_booking_rkey_in(p, shard, id->data, id->len,
                                        *suffixes)
                    - p;
    }

    return NGX_OK;
}


/* bk:{u:<user>}:b, the caller's index (guests have none: never touched) */
ngx_int_t
ngx_booking_user_key(ngx_booking_req_t *req, ngx_str_t *key)
{
    key->data = ngx_pnalloc(req->pool, sizeof(NGX_BOOKING_KEY_U)
                                       + req->caller.user.len);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    key->len = ngx_sprintf(key->data, "bk:{u:%V}:b", &req->caller.user)
               - key->data;

    return NGX_OK;
}


/* a whole number as an argument of a call */
ngx_int_t
ngx_booking_num(ngx_booking_req_t *req, ngx_str_t *s, int64_t n)
{
    s->data = ngx_pnalloc(req->pool, NGX_INT64_LEN);
    if (s->data == NULL) {
        return NGX_ERROR;
    }

    s->len = ngx_sprintf(s->data, "%L", n) - s->data;

    return NGX_OK;
}


/* "<resource id>.<rand>", split at its last dot */
ngx_int_t
ngx_booking_split_id(ngx_str_t *id, ngx_str_t *rid, ngx_str_t *rand)
{
    size_t  i;

    for (i = id->len; i > 0; i--) {
        if (id->data[i - 1] == '.') {
            rid->data = id->data;
            rid->len = i - 1;
            rand->data = &id->data[i];
            rand->len = id->len - i;
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


/*
 * The clock of each type with a tz at the booking's start and end, for
 * its opening hours: " <type>:<offset>:<offset>" each, "" when none.
 */
ngx_int_t
ngx_booking_zones(ngx_booking_req_t *req, ngx_str_t *zones, int64_t start,
    int64_t end)
{
    u_char              *p;
    ngx_uint_t           i;
    ngx_booking_type_t  *t;

    ngx_str_set(zones, "");

    if (!req->conf->zones || start < 0 || end < 0) {
        return NGX_OK;
    }

    t = req->conf->types.elts;

    zones->data = ngx_pnalloc(req->pool, req->conf->types.nelts
                                         * (NGX_BOOKING_TYPE_NAME_MAX
                                            + 2 * NGX_INT32_LEN + 3));
    if (zones->data == NULL) {
        return NGX_ERROR;
    }

    p = zones->data;

    for (i = 0; i < req->conf->types.nelts; i++) {
        if (t[i].tz != NULL) {
            p = ngx_sprintf(p, " %V:%D:%D", &t[i].name,
                            ngx_booking_tz_offset(t[i].tz, start),
                            ngx_booking_tz_offset(t[i].tz, end));
        }
    }

    zones->len = p - zones->data;

    return NGX_OK;
}


/* a copy in the request's pool, NUL-ended */
ngx_int_t
ngx_booking_copy(ngx_booking_req_t *req, ngx_str_t *dst, const u_char *src,
    size_t len)
{
    dst->len = len;
    dst->data = ngx_pnalloc(req->pool, len + 1);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, src, len);
    dst->data[len] = '\0';

    return NGX_OK;
}


/* a booking that outlives the reply it came in */
ngx_booking_rec_t *
ngx_booking_rec_copy(ngx_booking_req_t *req, ngx_booking_rec_t *src)
{
    ngx_uint_t            i;
    ngx_str_t             s;
    ngx_booking_rec_t    *rec;
    ngx_booking_span_t   *span[9];

    rec = ngx_palloc(req->pool, sizeof(ngx_booking_rec_t));
    if (rec == NULL) {
        return NULL;
    }

    *rec = *src;

    span[0] = &rec->id;
    span[1] = &rec->resource;
    span[2] = &rec->type;
    span[3] = &rec->status;
    span[4] = &rec->kind;
    span[5] = &rec->user;
    span[6] = &rec->note;
    span[7] = &rec->booking;
    span[8] = &rec->group;

    for (i = 0; i < 9; i++) {
        /* a tuple of an older contract has no booking nor group */
        if (span[i]->len == 0) {
            span[i]->data = (u_char *) "";
            continue;
        }

        if (ngx_booking_copy(req, &s, span[i]->data, span[i]->len) != NGX_OK)
        {
            return NULL;
        }

        span[i]->data = s.data;
    }

    /* the resource is the id up to its dot, as decoded */
    rec->resource.data = rec->id.data;

    return rec;
}

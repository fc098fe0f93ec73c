/*
 * The store interface: a call (one script of the contract, or one plain
 * command) goes to the node of its first key, and comes back to its
 * handler as a typed result.  What Redis refuses for now (LOADING, BUSY,
 * OOM, READONLY...) is told apart from what the module did not expect;
 * a script that answers AGAIN (more expired holds than one script frees)
 * is sent again, a bounded number of times.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_booking_redis.h"


/* 128 scripts of 32 holds: a resource's 4,096 holds due at one instant */
#define NGX_BOOKING_AGAIN_MAX  128

/*
 * Redis Cluster: a call follows at most this many MOVED, ASK and TRYAGAIN
 * answers (a slot moving while a failover happens is two); TRYAGAIN (a
 * script's keys half migrated) waits 10 ms, then twice as long each time.
 */
#define NGX_BOOKING_REDIRECT_MAX  6
#define NGX_BOOKING_TRYAGAIN_MS   10


static ngx_int_t ngx_booking_store_send(ngx_booking_call_t *call);
static ngx_int_t ngx_booking_store_send_to(ngx_booking_call_t *call,
    ngx_booking_node_t *node, ngx_uint_t ask,
    ngx_booking_redis_cmd_t *after);
static ngx_int_t ngx_booking_store_watch(ngx_booking_call_t *call);
static ngx_int_t ngx_booking_store_redirect(ngx_booking_call_t *call,
    redisReply *reply);
static ngx_int_t ngx_booking_store_tryagain(ngx_booking_call_t *call);
static void ngx_booking_store_retry(ngx_event_t *ev);
static void ngx_booking_store_reply(void *data, ngx_int_t rc,
    redisReply *reply);
static redisReply *ngx_booking_store_effects(redisReply *reply,
    redisReply *view);
static void ngx_booking_store_done(ngx_booking_call_t *call);
static ngx_int_t ngx_booking_store_busy(ngx_booking_call_t *call,
    redisReply *reply);
static void ngx_booking_store_cleanup(void *data);
static void *ngx_booking_store_alloc(void *pool, size_t size);


ngx_int_t
ngx_booking_store_init_process(ngx_cycle_t *cycle,
    ngx_booking_store_conf_t *conf)
{
    ngx_booking_scripts_init();

    return ngx_booking_nodes_init(cycle, conf);
}


void
ngx_booking_store_exit_process(ngx_cycle_t *cycle)
{
    ngx_booking_nodes_exit();
}


ngx_int_t
ngx_booking_store_call(ngx_booking_call_t *call)
{
    ngx_int_t  rc;

    if (ngx_booking_store_watch(call) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_booking_store_send(call);

    if (rc == NGX_DECLINED) {
        ngx_booking_metrics_error(NGX_BOOKING_ERR_UNAVAILABLE);
    }

    return rc;
}


/*
 * The call right behind before, a call still on its way, on its
 * connection: Redis runs them in that order, in one round trip.  Only
 * where one node serves every key (one Redis, or the master the sentinels
 * name).  NGX_DECLINED: it cannot go so (a Cluster, replicas to wait for,
 * before already answered); nothing was sent, and the caller sends it once
 * before is answered.
 */
ngx_int_t
ngx_booking_store_call_after(ngx_booking_call_t *call,
    ngx_booking_call_t *before)
{
    if (ngx_booking_nodes_cluster() || before->cmd == NULL
        || before->node == NULL)
    {
        return NGX_DECLINED;
    }

    if (ngx_booking_store_watch(call) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_booking_store_send_to(call, before->node, 0, before->cmd);
}


/* a pool gone before the reply: the handler must not be called */
static ngx_int_t
ngx_booking_store_watch(ngx_booking_call_t *call)
{
    ngx_pool_cleanup_t  *cln;

    if (call->cleanup) {
        return NGX_OK;
    }

    cln = ngx_pool_cleanup_add(call->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_booking_store_cleanup;
    cln->data = call;
    call->cleanup = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_booking_store_send(ngx_booking_call_t *call)
{
    ngx_str_t  *key;

    if (call->script >= 0) {
        key = call->nkeys ? &call->keys[0] : NULL;

    } else {
        /* a plain command's key is its first argument */
        key = (call->nargs > 1) ? &call->args[1] : NULL;
    }

    return ngx_booking_store_send_to(call, ngx_booking_nodes_pick(key), 0,
                                     NULL);
}


/*
 * NGX_OK, NGX_DECLINED (the node cannot take it now; after: not behind
 * that command), NGX_ERROR
 */
static ngx_int_t
ngx_booking_store_send_to(ngx_booking_call_t *call, ngx_booking_node_t *node,
    ngx_uint_t ask, ngx_booking_redis_cmd_t *after)
{
    ngx_int_t                 rc;
    ngx_booking_redis_cmd_t  *cmd;

    if (call->script >= 0) {
        cmd = ngx_booking_script_command(call->script, call->keys,
                                         call->nkeys, call->args,
                                         call->nargs, call->log);

    } else {
        cmd = ngx_booking_resp_command(call->args, call->nargs, NULL, 0,
                                       call->log);
    }

    if (cmd == NULL) {
        return NGX_ERROR;
    }

    /* a command sent again in another form (EVAL) tells call->cmd */
    cmd->owner = &call->cmd;
    /*
     * A plain write (a user's index) needs a WAIT of its own in a Cluster
     * only: on one node the booking's script comes after it, and its WAIT
     * covers both (replicas apply the stream in order).
     */
    cmd->writes = call->script >= 0 ? ngx_booking_script_writes(call->script)
                                    : call->writes && ngx_booking_nodes_cluster();

    if (node == NULL) {
        rc = NGX_DECLINED;

    } else if (ask) {
        rc = ngx_booking_node_send_asking(node, cmd, ngx_booking_store_reply,
                                          call);

    } else if (after) {
        rc = ngx_booking_node_send_after(node, cmd, after,
                                         ngx_booking_store_reply, call);

    } else {
        rc = ngx_booking_node_send(node, cmd, ngx_booking_store_reply, call);
    }

    if (rc != NGX_OK) {
        ngx_free(cmd);
        return NGX_DECLINED;
    }

    call->cmd = cmd;
    call->node = node;
    call->sent_usec = ngx_booking_metrics_usec();

    if (call->waited != NULL && call->waited->out++ == 0) {
        call->waited->since = ngx_current_msec;
    }

    return NGX_OK;
}


static void
ngx_booking_store_reply(void *data, ngx_int_t rc, redisReply *reply)
{
    ngx_booking_call_t *call = data;

    redisReply  view;

    call->cmd = NULL;

    if (call->waited != NULL && --call->waited->out == 0) {
        call->waited->total += ngx_current_msec - call->waited->since;
    }

    ngx_booking_metrics_redis(ngx_booking_metrics_usec() - call->sent_usec);

    switch (rc) {

    case NGX_BOOKING_REDIS_REPLY:
        break;

    case NGX_BOOKING_REDIS_UNAVAILABLE:
        call->rc = NGX_BOOKING_STORE_UNAVAILABLE;
        goto done;

    case NGX_BOOKING_REDIS_TIMEOUT:
        call->rc = NGX_BOOKING_STORE_TIMEOUT;
        goto done;

    default:
        call->rc = NGX_BOOKING_STORE_LOST;
        goto done;
    }

    reply = ngx_booking_store_effects(reply, &view);

    if (reply->type == REDIS_REPLY_ERROR) {
        switch (ngx_booking_store_redirect(call, reply)) {

        case NGX_OK:
            return;

        case NGX_DECLINED:
            call->rc = ngx_booking_store_busy(call, reply);
            break;

        default:
            call->rc = NGX_BOOKING_STORE_UNAVAILABLE;
        }

        goto done;
    }

    /* the script freed its share of expired holds: send it again */
    if (reply->type == REDIS_REPLY_STATUS && reply->len == 5
        && ngx_strncmp(reply->str, "AGAIN", 5) == 0)
    {
        if (call->again++ < NGX_BOOKING_AGAIN_MAX) {
            switch (ngx_booking_store_send(call)) {

            case NGX_OK:
                return;

            case NGX_DECLINED:
                call->rc = NGX_BOOKING_STORE_UNAVAILABLE;
                goto done;

            default:
                call->rc = NGX_BOOKING_STORE_FAILED;
                goto done;
            }
        }

        ngx_log_error(NGX_LOG_ERR, call->log, 0,
                      "booking: holds still due after %d scripts",
                      NGX_BOOKING_AGAIN_MAX);
        call->rc = NGX_BOOKING_STORE_BUSY;
        goto done;
    }

    if (ngx_booking_decode(call->expect, reply, &call->result,
                           ngx_booking_store_alloc, call->pool)
        != NGX_BOOKING_OK)
    {
        ngx_log_error(NGX_LOG_ERR, call->log, 0,
                      "booking: unexpected reply from redis");
        call->rc = NGX_BOOKING_STORE_FAILED;
        goto done;
    }

    call->rc = NGX_BOOKING_STORE_OK;

done:

    ngx_booking_store_done(call);
}


static void
ngx_booking_store_done(ngx_booking_call_t *call)
{
    switch (call->rc) {

    case NGX_BOOKING_STORE_UNAVAILABLE:
        ngx_booking_metrics_error(NGX_BOOKING_ERR_UNAVAILABLE);
        break;

    case NGX_BOOKING_STORE_TIMEOUT:
        ngx_booking_metrics_error(NGX_BOOKING_ERR_TIMEOUT);
        break;

    default:
        break;
    }

    call->handler(call);
}


/*
 * A script that expired holds or appended events says how many in a last
 * element, "FX <expired> <events>" (common.lua's effects()): they are
 * counted, and the answer is read without it, through a copy of the
 * array that is one shorter (the reply itself is freed as it came).
 */
static redisReply *
ngx_booking_store_effects(redisReply *reply, redisReply *view)
{
    u_char      *p, *last, *sp;
    ngx_int_t    expired, events;
    redisReply  *fx;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
        return reply;
    }

    fx = reply->element[reply->elements - 1];

    if (fx->type != REDIS_REPLY_STATUS || fx->len < 5
        || ngx_strncmp(fx->str, "FX ", 3) != 0)
    {
        return reply;
    }

    p = (u_char *) fx->str + 3;
    last = (u_char *) fx->str + fx->len;
    sp = ngx_strlchr(p, last, ' ');

    if (sp == NULL) {
        return reply;
    }

    expired = ngx_atoi(p, sp - p);
    events = ngx_atoi(sp + 1, last - sp - 1);

    if (expired == NGX_ERROR || events == NGX_ERROR) {
        return reply;
    }

    ngx_booking_metrics_count(NGX_BOOKING_EFFECT_EXPIRED, expired);
    ngx_booking_metrics_count(NGX_BOOKING_EFFECT_EVENTS, events);

    /* {AGAIN, FX}: the status it was */
    if (reply->elements == 2 && reply->element[0]->type == REDIS_REPLY_STATUS)
    {
        return reply->element[0];
    }

    *view = *reply;
    view->elements--;

    return view;
}


/*
 * Redis Cluster's answers that send a call elsewhere, or later: NGX_OK
 * (sent again), NGX_DECLINED (not one of them, or followed too often),
 * NGX_ERROR (it could not be sent).  A script refused with MOVED, ASK or
 * TRYAGAIN did not run, so sending it again cannot run it twice.
 */
static ngx_int_t
ngx_booking_store_redirect(ngx_booking_call_t *call, redisReply *reply)
{
    ngx_uint_t           ask;
    ngx_booking_node_t  *node;

    if (call->redirects >= NGX_BOOKING_REDIRECT_MAX) {
        return NGX_DECLINED;
    }

    if (reply->len >= 8 && ngx_strncmp(reply->str, "TRYAGAIN", 8) == 0) {
        ngx_booking_metrics_error(NGX_BOOKING_ERR_TRYAGAIN);
        return ngx_booking_store_tryagain(call);
    }

    node = ngx_booking_slots_redirect(call->node, reply, &ask);
    if (node == NULL) {
        return NGX_DECLINED;
    }

    call->redirects++;

    ngx_booking_metrics_error(ask ? NGX_BOOKING_ERR_ASK
                                  : NGX_BOOKING_ERR_MOVED);

    return ngx_booking_store_send_to(call, node, ask, NULL) == NGX_OK ? NGX_OK
                                                                : NGX_ERROR;
}


static ngx_int_t
ngx_booking_store_tryagain(ngx_booking_call_t *call)
{
    if (call->retry == NULL) {
        call->retry = ngx_pcalloc(call->pool, sizeof(ngx_event_t));
        if (call->retry == NULL) {
            return NGX_ERROR;
        }

        call->retry->handler = ngx_booking_store_retry;
        call->retry->data = call;
        call->retry->log = call->log;
    }

    ngx_add_timer(call->retry, NGX_BOOKING_TRYAGAIN_MS << call->redirects);
    call->redirects++;

    return NGX_OK;
}


static void
ngx_booking_store_retry(ngx_event_t *ev)
{
    ngx_booking_call_t *call = ev->data;

    switch (ngx_booking_store_send(call)) {

    case NGX_OK:
        return;

    case NGX_DECLINED:
        call->rc = NGX_BOOKING_STORE_UNAVAILABLE;
        break;

    default:
        call->rc = NGX_BOOKING_STORE_FAILED;
    }

    ngx_booking_store_done(call);
}


/* Redis's own words stay in the error log; the caller learns the kind */
static ngx_int_t
ngx_booking_store_busy(ngx_booking_call_t *call, redisReply *reply)
{
    size_t        i, n;
    static char  *busy[] = { "LOADING", "BUSY", "MASTERDOWN", "OOM",
                             "TRYAGAIN", "CLUSTERDOWN", "NOAUTH", "READONLY",
                             "NOREPLICAS", NULL };

    for (i = 0; busy[i] != NULL; i++) {
        n = ngx_strlen(busy[i]);

        if (reply->len >= n && ngx_strncmp(reply->str, busy[i], n) == 0) {
            ngx_log_error(NGX_LOG_WARN, call->log, 0, "booking: redis: %*s",
                          (size_t) reply->len, reply->str);
            return NGX_BOOKING_STORE_BUSY;
        }
    }

    ngx_log_error(NGX_LOG_ERR, call->log, 0, "booking: redis error: %*s",
                  (size_t) reply->len, reply->str);

    return NGX_BOOKING_STORE_FAILED;
}


static void
ngx_booking_store_cleanup(void *data)
{
    ngx_booking_call_t *call = data;

    if (call->cmd != NULL) {
        ngx_booking_redis_cancel(call->cmd);
        call->cmd = NULL;
    }

    if (call->retry != NULL && call->retry->timer_set) {
        ngx_del_timer(call->retry);
    }
}


static void *
ngx_booking_store_alloc(void *pool, size_t size)
{
    return ngx_palloc(pool, size);
}


void
ngx_booking_store_stats(ngx_booking_store_stats_t *st)
{
    ngx_memzero(st, sizeof(ngx_booking_store_stats_t));

    ngx_booking_nodes_stats(st);
}

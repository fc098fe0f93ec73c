/*
 * The sweeper: a hold expires by Redis's clock whether or not a request
 * touches its resource, and booking.expired must follow within 2 s.  One
 * worker of all nginx hosts does it, the holder of a lease in Redis
 * (lease.lua): every worker tries every tick; the holder renews it, and
 * loses it NGX_BOOKING_LEASE_MS after it stops (a crash, a reload, a host
 * gone), so that another takes over with no one to elect.
 *
 * The holder asks each shard's index of holds due (due_list, Redis's
 * clock), then sweeps each resource found (resource_sweep: the sweep every
 * script of the resource does first, with its events).  One tick at a
 * time, a bounded number of resources a shard a tick: the rest comes next.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_booking_ops.h"


#define NGX_BOOKING_SWEEP_EVERY   500     /* ms between two ticks */
#define NGX_BOOKING_LEASE_MS      "1500"  /* a tick missed keeps it */
#define NGX_BOOKING_SWEEP_BATCH   "32"    /* resources a shard a tick */
#define NGX_BOOKING_SWEEPER_ME    (NGX_MAXHOSTNAMELEN + 2 * NGX_INT64_LEN)


typedef struct {
    ngx_event_t                 timer;
    ngx_booking_ops_conf_t     *conf;
    ngx_log_t                  *log;
    ngx_str_t                   me;
    ngx_booking_req_t          *req;       /* the tick's, NULL between */
    ngx_uint_t                  pending;
} ngx_booking_sweeper_t;


static void ngx_booking_sweeper_tick(ngx_event_t *ev);
static ngx_int_t ngx_booking_sweeper_lease(ngx_booking_sweeper_t *sw);
static void ngx_booking_sweeper_leased(ngx_booking_call_t *call);
static ngx_int_t ngx_booking_sweeper_shard(ngx_booking_sweeper_t *sw,
    ngx_uint_t shard);
static void ngx_booking_sweeper_due(ngx_booking_call_t *call);
static void ngx_booking_sweeper_swept(ngx_booking_call_t *call);
static void ngx_booking_sweeper_resolved(void *data);
static ngx_booking_call_t *ngx_booking_sweeper_call(ngx_booking_sweeper_t *sw,
    ngx_int_t script, ngx_uint_t nkeys, ngx_uint_t nargs, int expect,
    ngx_booking_call_pt handler);
static ngx_int_t ngx_booking_sweeper_send(ngx_booking_sweeper_t *sw,
    ngx_booking_call_t *call);
static void ngx_booking_sweeper_end(ngx_booking_sweeper_t *sw);
static ngx_uint_t ngx_booking_sweeper_ok(ngx_booking_call_t *call);


static ngx_booking_sweeper_t  *ngx_booking_sweeper;


ngx_int_t
ngx_booking_sweeper_init_process(ngx_cycle_t *cycle,
    ngx_booking_ops_conf_t *conf)
{
    u_char                 *p;
    ngx_booking_sweeper_t  *sw;

    /*
     * offers from expired holds need no request either, nor the pinned
     * holds of a group across the slots of a Redis Cluster
     */
    if (!conf->sweeper
        || (!conf->events_on && !conf->waitlist && !conf->cluster))
    {
        return NGX_OK;
    }

    sw = ngx_pcalloc(cycle->pool, sizeof(ngx_booking_sweeper_t));
    p = ngx_pnalloc(cycle->pool, NGX_BOOKING_SWEEPER_ME);
    if (sw == NULL || p == NULL) {
        return NGX_ERROR;
    }

    /* who holds the lease, for operators reading it: host and pid */
    sw->me.data = p;
    sw->me.len = ngx_snprintf(p, NGX_BOOKING_SWEEPER_ME, "%V:%P:%uD",
                              &cycle->hostname, ngx_pid,
                              (uint32_t) ngx_random())
                 - p;

    sw->conf = conf;
    sw->log = cycle->log;
    sw->timer.handler = ngx_booking_sweeper_tick;
    sw->timer.data = sw;
    sw->timer.log = cycle->log;
    sw->timer.cancelable = 1;

    ngx_booking_sweeper = sw;

    /* not all at once: the workers of a host start together */
    ngx_add_timer(&sw->timer, ngx_random() % NGX_BOOKING_SWEEP_EVERY + 1);

    return NGX_OK;
}


void
ngx_booking_sweeper_exit_process(void)
{
    ngx_booking_sweeper_t  *sw;

    sw = ngx_booking_sweeper;

    if (sw != NULL && sw->req != NULL) {
        ngx_destroy_pool(sw->req->pool);
        sw->req = NULL;
    }

    ngx_booking_sweeper = NULL;
}


static void
ngx_booking_sweeper_tick(ngx_event_t *ev)
{
    ngx_pool_t             *pool;
    ngx_booking_sweeper_t  *sw;

    sw = ev->data;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_add_timer(ev, NGX_BOOKING_SWEEP_EVERY);

    if (sw->req != NULL) {
        /* the last tick is still out: bounded, one at a time */
        return;
    }

    pool = ngx_create_pool(4096, sw->log);
    if (pool == NULL) {
        return;
    }

    sw->req = ngx_pcalloc(pool, sizeof(ngx_booking_req_t));
    if (sw->req == NULL) {
        ngx_destroy_pool(pool);
        return;
    }

    sw->req->pool = pool;
    sw->req->log = sw->log;
    sw->req->conf = sw->conf;
    sw->pending = 0;

    if (ngx_booking_sweeper_lease(sw) != NGX_OK) {
        ngx_booking_sweeper_end(sw);
    }
}


static ngx_int_t
ngx_booking_sweeper_lease(ngx_booking_sweeper_t *sw)
{
    ngx_booking_call_t  *call;

    call = ngx_booking_sweeper_call(sw, NGX_BOOKING_SCRIPT_LEASE,
                                    NGX_BOOKING_LEASE_NKEYS,
                                    NGX_BOOKING_LEASE_NARGS,
                                    NGX_BOOKING_R_DONE,
                                    ngx_booking_sweeper_leased);
    if (call == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&call->keys[NGX_BOOKING_LEASE_K_L], "bk:{lease}:sweeper");
    call->args[NGX_BOOKING_LEASE_A_ME] = sw->me;
    ngx_str_set(&call->args[NGX_BOOKING_LEASE_A_MS], NGX_BOOKING_LEASE_MS);

    return ngx_booking_sweeper_send(sw, call);
}


static void
ngx_booking_sweeper_leased(ngx_booking_call_t *call)
{
    ngx_uint_t              shard;
    ngx_booking_sweeper_t  *sw;

    sw = call->data;
    sw->pending--;

    /* {'ok'}: this worker holds it; {'ok', who}: another does */
    if (ngx_booking_sweeper_ok(call) && call->result.doc.was.len == 0) {
        for (shard = 0; shard < NGX_BOOKING_SHARDS; shard++) {
            if (ngx_booking_sweeper_shard(sw, shard) != NGX_OK) {
                break;
            }
        }
    }

    ngx_booking_sweeper_end(sw);
}


static ngx_int_t
ngx_booking_sweeper_shard(ngx_booking_sweeper_t *sw, ngx_uint_t shard)
{
    u_char              *p;
    ngx_booking_call_t  *call;

    call = ngx_booking_sweeper_call(sw, NGX_BOOKING_SCRIPT_DUE_LIST,
                                    NGX_BOOKING_DUE_LIST_NKEYS,
                                    NGX_BOOKING_DUE_LIST_NARGS,
                                    NGX_BOOKING_R_IDS,
                                    ngx_booking_sweeper_due);
    p = ngx_pnalloc(sw->req->pool, sizeof("bk:{sNN}:") + sizeof("due"));
    if (call == NULL || p == NULL) {
        return NGX_ERROR;
    }

    call->keys[NGX_BOOKING_DUE_LIST_K_D].data = p;
    call->keys[NGX_BOOKING_DUE_LIST_K_D].len =
                        ngx_booking_skey(p, shard, NGX_BOOKING_KEY_D) - p;
    ngx_str_set(&call->args[NGX_BOOKING_DUE_LIST_A_LIMIT],
                NGX_BOOKING_SWEEP_BATCH);

    return ngx_booking_sweeper_send(sw, call);
}


static void
ngx_booking_sweeper_due(ngx_booking_call_t *call)
{
    size_t                  i;
    ngx_str_t               id;
    ngx_booking_call_t     *sweep;
    ngx_booking_sweeper_t  *sw;

    sw = call->data;
    sw->pending--;

    if (!ngx_booking_sweeper_ok(call)) {
        ngx_booking_sweeper_end(sw);
        return;
    }

    for (i = 0; i < call->result.ids.n; i++) {
        sweep = ngx_booking_sweeper_call(sw, NGX_BOOKING_SCRIPT_RESOURCE_SWEEP,
                                         NGX_BOOKING_RESOURCE_SWEEP_NKEYS,
                                         NGX_BOOKING_RESOURCE_SWEEP_NARGS,
                                         NGX_BOOKING_R_FIELDS,
                                         ngx_booking_sweeper_swept);
        if (sweep == NULL) {
            break;
        }

        /* the reply goes with this handler: the id is copied */
        id.len = call->result.ids.ids[i].len;
        id.data = ngx_pnalloc(sw->req->pool, id.len);
        if (id.data == NULL) {
            break;
        }

        ngx_memcpy(id.data, call->result.ids.ids[i].data, id.len);

        if (ngx_booking_resource_keys(sw->req, &id, sweep->keys,
                                      ngx_booking_keys_all)
            != NGX_OK)
        {
            break;
        }

        sweep->args[NGX_BOOKING_RESOURCE_SWEEP_A_EVENTS] = sw->conf->events;

        if (ngx_booking_sweeper_send(sw, sweep) != NGX_OK) {
            break;
        }
    }

    ngx_booking_sweeper_end(sw);
}


/* {'ok', pin...}: each pinned hold due, its group's primary asked */
static void
ngx_booking_sweeper_swept(ngx_booking_call_t *call)
{
    size_t                  i;
    ngx_str_t               pin;
    ngx_booking_fields_t   *f;
    ngx_booking_sweeper_t  *sw;

    sw = call->data;
    sw->pending--;
    f = &call->result.fields;

    for (i = 1; ngx_booking_sweeper_ok(call) && i < f->n; i++) {
        if (f->v[i].data == NULL
            || ngx_booking_copy(sw->req, &pin, f->v[i].data, f->v[i].len)
               != NGX_OK)
        {
            break;
        }

        if (ngx_booking_spread_resolve(sw->req, &pin,
                                       ngx_booking_sweeper_resolved, sw)
            == NGX_OK)
        {
            sw->pending++;
        }
    }

    ngx_booking_sweeper_end(sw);
}


static void
ngx_booking_sweeper_resolved(void *data)
{
    ngx_booking_sweeper_t *sw = data;

    sw->pending--;

    ngx_booking_sweeper_end(sw);
}


static ngx_booking_call_t *
ngx_booking_sweeper_call(ngx_booking_sweeper_t *sw, ngx_int_t script,
    ngx_uint_t nkeys, ngx_uint_t nargs, int expect,
    ngx_booking_call_pt handler)
{
    ngx_booking_call_t  *call;

    call = ngx_booking_op_call(sw->req, script, nkeys, nargs, expect,
                               handler);
    if (call == NULL) {
        return NULL;
    }

    call->data = sw;
    call->waited = NULL;

    return call;
}


static ngx_int_t
ngx_booking_sweeper_send(ngx_booking_sweeper_t *sw, ngx_booking_call_t *call)
{
    if (ngx_booking_store_call(call) != NGX_OK) {
        return NGX_ERROR;
    }

    sw->pending++;

    return NGX_OK;
}


/* the tick ends when its last call is back */
static void
ngx_booking_sweeper_end(ngx_booking_sweeper_t *sw)
{
    if (sw->pending == 0 && sw->req != NULL) {
        ngx_destroy_pool(sw->req->pool);
        sw->req = NULL;
    }
}


static ngx_uint_t
ngx_booking_sweeper_ok(ngx_booking_call_t *call)
{
    return call->rc == NGX_BOOKING_STORE_OK
           && call->result.kind != NGX_BOOKING_R_REFUSED;
}

/*
 * booking_status: the Prometheus text of every worker's counters (kept in
 * shared memory by ngx_booking_metrics.c) and gauges.  Each API request
 * is counted at the log phase, when its status is final; each worker
 * publishes its Redis connections to its slot every second and when it
 * answers a scrape.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_booking_http.h"


#define NGX_BOOKING_STATUS_EVERY  1000


static ngx_int_t ngx_booking_status_count(ngx_http_request_t *r);
static void ngx_booking_status_tick(ngx_event_t *ev);
static void ngx_booking_status_publish(void);
static int ngx_booking_status_alive(uint64_t pid);


static int          ngx_booking_status_slot = -1;
static ngx_event_t  ngx_booking_status_timer;


ngx_int_t
ngx_booking_status_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_booking_status_count;

    return NGX_OK;
}


static ngx_int_t
ngx_booking_status_count(ngx_http_request_t *r)
{
    ngx_str_t                op;
    ngx_uint_t               status;
    ngx_booking_http_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);
    if (ctx == NULL) {
        return NGX_OK;
    }

    if (ctx->route != NULL) {
        ngx_booking_http_op(ctx, &op);

    } else {
        ngx_str_set(&op, "other");
    }

    status = r->err_status ? r->err_status : r->headers_out.status;

    ngx_booking_metrics_request(
        ngx_booking_metrics_op((const char *) op.data, op.len),
        (unsigned) status);

    return NGX_OK;
}


void
ngx_booking_status_init_process(ngx_cycle_t *cycle)
{
    ngx_booking_status_slot = ngx_booking_metrics_join((uint64_t) ngx_pid,
                                                  ngx_booking_status_alive);

    if (ngx_booking_status_slot == -1) {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "booking: more than %d workers: this one's Redis "
                      "connections are not in booking_status",
                      NGX_BOOKING_METRIC_WORKERS);
        return;
    }

    ngx_booking_status_timer.handler = ngx_booking_status_tick;
    ngx_booking_status_timer.log = cycle->log;
    ngx_booking_status_timer.data = cycle;
    ngx_booking_status_timer.cancelable = 1;

    ngx_add_timer(&ngx_booking_status_timer, NGX_BOOKING_STATUS_EVERY);
}


void
ngx_booking_status_exit_process(void)
{
    ngx_booking_metrics_leave(ngx_booking_status_slot);
    ngx_booking_status_slot = -1;
}


static void
ngx_booking_status_tick(ngx_event_t *ev)
{
    ngx_booking_status_publish();

    if (!ngx_exiting && !ngx_quit && !ngx_terminate) {
        ngx_add_timer(ev, NGX_BOOKING_STATUS_EVERY);
    }
}


static void
ngx_booking_status_publish(void)
{
    ngx_booking_store_stats_t      st;
    ngx_booking_metrics_worker_t  *w;

    if (ngx_booking_status_slot == -1) {
        return;
    }

    ngx_booking_store_stats(&st);

    w = &ngx_booking_metrics->workers[ngx_booking_status_slot];
    w->ready = st.ready;
    w->connecting = st.connecting;
    w->down = st.down;
    w->inflight = st.inflight;
    w->nodes = st.nodes;
}


/* a worker gone without leaving its slot (a crash) is not summed */
static int
ngx_booking_status_alive(uint64_t pid)
{
    return kill((ngx_pid_t) pid, 0) == 0 || ngx_errno != NGX_ESRCH;
}


ngx_int_t
ngx_booking_status_handler(ngx_http_request_t *r)
{
    u_char                      *p;
    size_t                       n;
    ngx_int_t                    rc;
    ngx_buf_t                   *b;
    ngx_chain_t                  out;
    ngx_atomic_uint_t            hits, misses, waits;
    ngx_booking_main_conf_t     *bmcf;
    ngx_booking_metrics_view_t   view;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_booking_status_publish();

    ngx_memzero(&view, sizeof(ngx_booking_metrics_view_t));
    ngx_booking_metrics_gauges(&view, ngx_booking_status_alive);

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_booking_module);
    ngx_booking_cache_stats(bmcf->cache_zone, &hits, &misses, &waits);
    view.cache_hit = hits;
    view.cache_miss = misses;
    view.cache_wait = waits;

    p = ngx_pnalloc(r->pool, NGX_BOOKING_METRICS_TEXT_MAX);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = ngx_booking_metrics_text((char *) p, NGX_BOOKING_METRICS_TEXT_MAX,
                                 &view);
    if (n == 0) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "booking: the metrics do not fit in %d bytes",
                      NGX_BOOKING_METRICS_TEXT_MAX);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = p;
    b->last = p + n;
    b->memory = 1;
    b->last_buf = 1;

    r->headers_out.status = NGX_HTTP_OK;
    ngx_str_set(&r->headers_out.content_type, "text/plain; version=0.0.4");
    r->headers_out.content_length_n = n;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}

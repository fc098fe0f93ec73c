/*
 * booking_status: the Prometheus text of the worker that answers (its
 * Redis connections) and of the micro-cache (every worker's).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_booking_http.h"


ngx_int_t
ngx_booking_status_handler(ngx_http_request_t *r)
{
    u_char                     *p;
    ngx_int_t                   rc;
    ngx_buf_t                  *b;
    ngx_chain_t                 out;
    ngx_atomic_uint_t           hits, misses, waits;
    ngx_booking_main_conf_t    *bmcf;
    ngx_booking_store_stats_t   st;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_booking_store_stats(&st);

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_booking_module);
    ngx_booking_cache_stats(bmcf->cache_zone, &hits, &misses, &waits);

    p = ngx_pnalloc(r->pool, 4096);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = p;
    b->last = ngx_sprintf(p,
        "# HELP booking_redis_connections Redis connections of the worker "
        "that answered, by state.\n"
        "# TYPE booking_redis_connections gauge\n"
        "booking_redis_connections{state=\"ready\"} %ui\n"
        "booking_redis_connections{state=\"connecting\"} %ui\n"
        "booking_redis_connections{state=\"down\"} %ui\n"
        "# HELP booking_redis_inflight Commands awaiting a reply.\n"
        "# TYPE booking_redis_inflight gauge\n"
        "booking_redis_inflight %ui\n"
        "# HELP booking_redis_failovers_total Masters the sentinels named "
        "in place of another, followed.\n"
        "# TYPE booking_redis_failovers_total counter\n"
        "booking_redis_failovers_total %ui\n"
        "# HELP booking_redis_readonly_total READONLY or MASTERDOWN "
        "answers: a master demoted or cut off.\n"
        "# TYPE booking_redis_readonly_total counter\n"
        "booking_redis_readonly_total %ui\n"
        "# HELP booking_redis_unreplicated_total Writes fewer replicas had "
        "in time than booking_redis_replicas (answered 504).\n"
        "# TYPE booking_redis_unreplicated_total counter\n"
        "booking_redis_unreplicated_total %ui\n"
        "# HELP booking_redis_errors_total Redis Cluster's answers that "
        "sent a command elsewhere or later, followed.\n"
        "# TYPE booking_redis_errors_total counter\n"
        "booking_redis_errors_total{kind=\"moved\"} %ui\n"
        "booking_redis_errors_total{kind=\"ask\"} %ui\n"
        "booking_redis_errors_total{kind=\"tryagain\"} %ui\n"
        "# HELP booking_redis_cluster_refreshes_total CLUSTER SLOTS asked "
        "(throttled: one in flight, 100 ms apart).\n"
        "# TYPE booking_redis_cluster_refreshes_total counter\n"
        "booking_redis_cluster_refreshes_total %ui\n"
        "# HELP booking_redis_cluster_nodes Redis Cluster masters met.\n"
        "# TYPE booking_redis_cluster_nodes gauge\n"
        "booking_redis_cluster_nodes %ui\n"
        "# HELP booking_cache_requests_total Micro-cache lookups, all "
        "workers.\n"
        "# TYPE booking_cache_requests_total counter\n"
        "booking_cache_requests_total{result=\"hit\"} %uA\n"
        "booking_cache_requests_total{result=\"miss\"} %uA\n"
        "booking_cache_requests_total{result=\"wait\"} %uA\n",
        st.ready, st.connecting, st.down, st.inflight, st.failovers,
        st.readonly, st.unreplicated, st.moved, st.ask, st.tryagain,
        st.refreshes, st.nodes, hits, misses, waits);
    b->memory = 1;
    b->last_buf = 1;

    r->headers_out.status = NGX_HTTP_OK;
    ngx_str_set(&r->headers_out.content_type, "text/plain; version=0.0.4");
    r->headers_out.content_length_n = b->last - b->pos;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}

/*
 * The micro-cache of anonymous reads, in a shared memory zone.
 */

#ifndef _NGX_BOOKING_CACHE_H_INCLUDED_
#define _NGX_BOOKING_CACHE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_booking_module.h"


ngx_int_t ngx_booking_cache_zone(ngx_conf_t *cf, ngx_shm_zone_t *zone);
ngx_int_t ngx_booking_cache_lookup(ngx_http_request_t *r);
ngx_int_t ngx_booking_cache_wait(ngx_http_request_t *r);
void ngx_booking_cache_store(ngx_http_request_t *r, u_char *body, size_t len,
    uint32_t etag);
void ngx_booking_cache_abandon(ngx_http_request_t *r);
void ngx_booking_cache_invalidate(ngx_http_request_t *r, ngx_str_t *id,
    ngx_str_t *type);
void ngx_booking_cache_cleanup(ngx_booking_ctx_t *ctx);
void ngx_booking_cache_stats(ngx_cycle_t *cycle, ngx_shm_zone_t *zone,
    ngx_atomic_uint_t *hits, ngx_atomic_uint_t *misses,
    ngx_atomic_uint_t *waits);


#endif /* _NGX_BOOKING_CACHE_H_INCLUDED_ */

/*
 * The http layer: the module's side of nginx.  The route table (method,
 * path, operation, who may call, cacheable, body or not) from which
 * dispatch, the Allow header and cacheability all follow; the body; the
 * caller (user, groups, token); the micro-cache; the status page; the
 * JSON form of nginx's own errors.  Only this layer touches the cache.
 */

#ifndef _NGX_BOOKING_HTTP_H_INCLUDED_
#define _NGX_BOOKING_HTTP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_booking_ops.h"
#include "ngx_booking_jwt.h"


#define NGX_BOOKING_API_OFF        0
#define NGX_BOOKING_API_PUBLIC     1
#define NGX_BOOKING_API_ADMIN      2

#define NGX_BOOKING_JWT_OFF        0
#define NGX_BOOKING_JWT_ON         1
#define NGX_BOOKING_JWT_OPTIONAL   2


/* booking_jwt_*: the keys, read when the configuration is */
typedef struct {
    ngx_booking_jwks_t         *keys;
    ngx_str_t                   issuer;
    ngx_str_t                   audience;
    time_t                      leeway;
    ngx_str_t                   user_claim;
    ngx_str_t                   groups_claim;
    ngx_booking_jwt_rules_t     rules;
} ngx_booking_jwt_conf_t;


/* the module's main configuration: each layer's part */
typedef struct {
    ngx_booking_ops_conf_t      ops;
    ngx_booking_store_conf_t    store;
    ngx_shm_zone_t             *cache_zone;
    int64_t                     cache_valid;
    ngx_booking_jwt_conf_t      jwt;
} ngx_booking_main_conf_t;


typedef struct {
    ngx_uint_t                  api;
    ngx_flag_t                  status;
    ngx_http_complex_value_t   *user;
    ngx_http_complex_value_t   *user_groups;
    ngx_flag_t                  anonymous;
    ngx_uint_t                  jwt;         /* NGX_BOOKING_JWT_* */
} ngx_booking_loc_conf_t;


/* one route: a path and the methods of one operation */
typedef struct {
    int                         route;       /* NGX_BOOKING_ROUTE_* */
    ngx_uint_t                  methods;     /* NGX_HTTP_GET|... */
    ngx_booking_op_pt           op;
    const char                 *name;        /* for logs and metrics */
    unsigned                    query;       /* NGX_BOOKING_Q_* it reads */
    unsigned                    admin:1;     /* admin locations only */
    unsigned                    body:1;      /* reads a JSON body */
    unsigned                    cacheable:1; /* ETag, 304, micro-cache */
} ngx_booking_route_entry_t;


/* the micro-cache's part of a request */
typedef struct ngx_booking_cache_req_s  ngx_booking_cache_req_t;

struct ngx_booking_cache_req_s {
    ngx_http_request_t         *request;
    ngx_str_t                   key;
    ngx_str_t                   id;          /* the resource read */
    ngx_str_t                   type;        /* a listing's type */
    ngx_atomic_uint_t           gen;
    ngx_event_t                 wait;        /* for another's read */
    ngx_str_t                   body;        /* a hit's */
    uint64_t                    etag;
    void                      (*resume)(ngx_http_request_t *r,
                                        ngx_int_t rc);
    unsigned                    filling:1;   /* this read fills the cache */
    unsigned                    waited:1;
};


typedef struct {
    ngx_http_request_t         *request;
    ngx_booking_route_entry_t  *route;
    ngx_booking_req_t           req;         /* what the operation sees */
    ngx_booking_cache_req_t     cache;
    void                       *nginx_error; /* nginx's own, made JSON */
    const char                 *jwt_error;   /* why a token was refused */
    unsigned                    answered:1;  /* our own answer */
    unsigned                    cacheable:1;
    unsigned                    bearer:1;    /* a 401 names Bearer */
} ngx_booking_http_ctx_t;


extern ngx_module_t  ngx_http_booking_module;


ngx_int_t ngx_booking_api_handler(ngx_http_request_t *r);
ngx_int_t ngx_booking_http_init_filters(ngx_conf_t *cf);
ngx_int_t ngx_booking_http_add_variables(ngx_conf_t *cf);

void ngx_booking_http_op(ngx_booking_http_ctx_t *ctx, ngx_str_t *op);

ngx_int_t ngx_booking_auth_bearer(ngx_http_request_t *r,
    ngx_booking_http_ctx_t *ctx, ngx_booking_perr_t *err);
ngx_int_t ngx_booking_auth_challenge(ngx_http_request_t *r,
    ngx_booking_http_ctx_t *ctx);
char *ngx_booking_auth_keys(ngx_conf_t *cf, ngx_booking_jwt_conf_t *jwt,
    ngx_str_t *file, ngx_str_t *text);
char *ngx_booking_auth_conf(ngx_conf_t *cf, ngx_booking_jwt_conf_t *jwt);
void ngx_booking_auth_exit_process(void);

ngx_int_t ngx_booking_status_handler(ngx_http_request_t *r);
ngx_int_t ngx_booking_status_init(ngx_conf_t *cf);
void ngx_booking_status_init_process(ngx_cycle_t *cycle);
void ngx_booking_status_exit_process(void);

ngx_int_t ngx_booking_cache_zone(ngx_conf_t *cf, ngx_shm_zone_t *zone);
ngx_int_t ngx_booking_cache_lookup(ngx_http_request_t *r,
    ngx_booking_cache_req_t *cr);
ngx_int_t ngx_booking_cache_wait(ngx_http_request_t *r,
    ngx_booking_cache_req_t *cr);
void ngx_booking_cache_store(ngx_http_request_t *r,
    ngx_booking_cache_req_t *cr, ngx_str_t *body, uint64_t etag);
void ngx_booking_cache_abandon(ngx_http_request_t *r,
    ngx_booking_cache_req_t *cr);
void ngx_booking_cache_invalidate(ngx_http_request_t *r, ngx_str_t *id,
    ngx_str_t *type);
void ngx_booking_cache_cleanup(ngx_booking_cache_req_t *cr);
void ngx_booking_cache_stats(ngx_shm_zone_t *zone, ngx_atomic_uint_t *hits,
    ngx_atomic_uint_t *misses, ngx_atomic_uint_t *waits);


#endif /* _NGX_BOOKING_HTTP_H_INCLUDED_ */

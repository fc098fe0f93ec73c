/*
 * ngx_http_booking_module: configuration and the request context shared by
 * the module's files.
 */

#ifndef _NGX_BOOKING_MODULE_H_INCLUDED_
#define _NGX_BOOKING_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_booking_core.h"


#define NGX_BOOKING_API_OFF        0
#define NGX_BOOKING_API_PUBLIC     1
#define NGX_BOOKING_API_ADMIN      2

#define NGX_BOOKING_UNPROCESSABLE  422

#define NGX_BOOKING_USER_MAX       128


typedef struct {
    ngx_str_t                   name;
    ngx_str_t                   slot_text;   /* as written: "1h", "none" */
    int64_t                     slot;        /* seconds, 0: timeless */
    int64_t                     hold;
    int64_t                     min;
    int64_t                     max;         /* 0: no maximum */
    int64_t                     buffer;
    int64_t                     lead;
    int64_t                     horizon;     /* 0: no horizon */
    ngx_flag_t                  approval;
    ngx_uint_t                  max_active;  /* 0: no quota */
} ngx_booking_type_t;


typedef struct {
    ngx_addr_t                 *redis_addr;
    ngx_str_t                   redis_name;
    ngx_str_t                   redis_password;
    ngx_int_t                   redis_database;
    ngx_msec_t                  redis_timeout;
    ngx_uint_t                  redis_connections;

    ngx_array_t                 types;       /* ngx_booking_type_t */
    ngx_str_t                  *rules;       /* one line per type, for Lua */

    ngx_str_t                   secret;
    ngx_regex_t                *id_regex;    /* NULL: the default pattern */
    int64_t                     max_range;

    ngx_shm_zone_t             *cache_zone;
    int64_t                     cache_valid;
} ngx_booking_main_conf_t;


typedef struct {
    ngx_uint_t                  api;
    ngx_flag_t                  status;
    ngx_http_complex_value_t   *user;
    ngx_http_complex_value_t   *user_groups;
    ngx_flag_t                  anonymous;
} ngx_booking_loc_conf_t;


/* a JSON answer being written; on allocation failure "failed" is set */
typedef struct {
    u_char                     *start;
    u_char                     *pos;
    u_char                     *end;
    ngx_pool_t                 *pool;
    ngx_uint_t                  failed;
} ngx_booking_json_t;


/*
 * What a parser found wrong, for the caller to answer: a parser never
 * answers itself, so that a failed check cannot be followed by a second
 * answer.
 */
typedef struct {
    ngx_uint_t                  status;
    const char                 *code;
    const char                 *message;
    const char                 *field;
} ngx_booking_err_t;


#define ngx_booking_fail(e, s, c, m, f)                                       \
    ((e)->status = (s), (e)->code = (c), (e)->message = (m),                 \
     (e)->field = (f), NGX_ERROR)


typedef struct ngx_booking_ctx_s  ngx_booking_ctx_t;


/* one command of a batch sent together, answered together */
typedef struct {
    ngx_http_request_t         *request;
    void                       *cmd;
    ngx_uint_t                  index;
    ngx_str_t                  *argv;
    ngx_uint_t                  again;
} ngx_booking_slot_t;

typedef ngx_int_t (*ngx_booking_run_pt)(ngx_http_request_t *r);
/* keeps what it needs of the reply to the index-th command of a batch */
typedef ngx_int_t (*ngx_booking_item_pt)(ngx_http_request_t *r,
    ngx_uint_t index, void *reply);
/* decodes a reply (a redisReply) and answers; returns what finalizes */
typedef ngx_int_t (*ngx_booking_reply_pt)(ngx_http_request_t *r,
    void *reply);


struct ngx_booking_ctx_s {
    ngx_http_request_t         *request;
    ngx_str_t                   path;        /* below the location */
    ngx_str_t                   id;          /* resource id from the path */
    ngx_str_t                   rand;        /* booking id's random part */
    ngx_str_t                   op;          /* confirm, cancel, ... */
    ngx_str_t                   user;        /* "" for none */
    ngx_str_t                   groups;
    ngx_booking_run_pt          run;         /* the operation, once routed */
    const char *const          *args;        /* its query arguments */
    void                       *cmd;         /* Redis command in flight */
    ngx_booking_reply_pt        reply;       /* decodes the answer */
    ngx_int_t                   script;      /* what is in flight, for */
    ngx_str_t                  *argv;        /* sending it again */
    ngx_uint_t                  nkeys;
    ngx_uint_t                  argc;
    ngx_uint_t                  again;       /* times sent again */

    ngx_booking_slot_t         *batch;
    ngx_uint_t                  nbatch;
    ngx_uint_t                  pending;
    ngx_int_t                   batch_rc;    /* the worst failure */
    ngx_booking_item_pt         item;        /* copies out one answer */
    ngx_int_t                   batch_script;
    ngx_booking_run_pt          done;        /* answers once all are in */
    void                       *data;        /* the operation's own state */
    int64_t                     from;
    int64_t                     to;
    /* the micro-cache */
    ngx_str_t                   cache_key;
    ngx_str_t                   cache_type;  /* a listing's type */
    ngx_atomic_uint_t           cache_gen;
    ngx_event_t                 wait;        /* waiting for another's read */
    ngx_str_t                   cached;      /* a hit's body */
    uint32_t                    cached_etag;

    unsigned                    admin:1;
    unsigned                    token:1;     /* a valid Booking-Token */
    unsigned                    cacheable:1; /* ETag, Cache-Control, 304 */
    unsigned                    caching:1;   /* this read fills the cache */
    unsigned                    waited:1;    /* for another's read */
    void                       *nginx_error; /* nginx's own, made JSON */
    unsigned                    answered:1;  /* our own answer, not nginx's */
};


extern ngx_module_t  ngx_http_booking_module;


ngx_booking_type_t *ngx_booking_find_type(ngx_booking_main_conf_t *bmcf,
    u_char *name, size_t len);
ngx_int_t ngx_booking_id_check(ngx_booking_main_conf_t *bmcf, ngx_str_t *id,
    ngx_log_t *log);

ngx_int_t ngx_booking_api_handler(ngx_http_request_t *r);
ngx_int_t ngx_booking_status_handler(ngx_http_request_t *r);
ngx_int_t ngx_booking_api_init_filters(ngx_conf_t *cf);

#define ngx_booking_json_lit(j, s)                                          \
    ngx_booking_json_raw(j, (u_char *) s, sizeof(s) - 1)

ngx_int_t ngx_booking_json_init(ngx_booking_json_t *j, ngx_pool_t *pool,
    size_t size);
ngx_int_t ngx_booking_json_reserve(ngx_booking_json_t *j, size_t n);
void ngx_booking_json_raw(ngx_booking_json_t *j, u_char *s, size_t len);
void ngx_booking_json_str(ngx_booking_json_t *j, u_char *s, size_t len);
void ngx_booking_json_int(ngx_booking_json_t *j, int64_t n);
void ngx_booking_json_time(ngx_booking_json_t *j, int64_t t,
    ngx_uint_t date);
void ngx_booking_json_slot(ngx_booking_json_t *j, int64_t slot);
void ngx_booking_json_ical(ngx_booking_json_t *j, u_char *s, size_t len);
struct json_t;
void ngx_booking_json_value(ngx_booking_json_t *j, struct json_t *v);

ngx_int_t ngx_booking_send_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_booking_json_t *j);
ngx_int_t ngx_booking_send_empty(ngx_http_request_t *r, ngx_uint_t status);
ngx_int_t ngx_booking_send_body(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_str_t *body);
ngx_int_t ngx_booking_send_cached(ngx_http_request_t *r, ngx_str_t *body,
    uint32_t etag);
ngx_int_t ngx_booking_unexpected(ngx_http_request_t *r);
ngx_int_t ngx_booking_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message, const char *field);
ngx_int_t ngx_booking_send_err(ngx_http_request_t *r, ngx_booking_err_t *e);
char *ngx_booking_strdup(ngx_pool_t *pool, const char *s);
ngx_int_t ngx_booking_send_error_str(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *code, ngx_str_t *message, ngx_str_t *field);
ngx_int_t ngx_booking_request_body(ngx_http_request_t *r, ngx_str_t *body);
ngx_int_t ngx_booking_call(ngx_http_request_t *r, ngx_int_t script,
    ngx_str_t *argv, ngx_uint_t nkeys, ngx_uint_t argc,
    ngx_booking_reply_pt reply);
ngx_int_t ngx_booking_script_error(ngx_http_request_t *r, void *reply);
ngx_int_t ngx_booking_call_batch(ngx_http_request_t *r, ngx_int_t script,
    ngx_str_t **argv, ngx_uint_t n, ngx_uint_t nkeys, ngx_uint_t argc,
    ngx_booking_item_pt item, ngx_booking_run_pt done);

ngx_int_t ngx_booking_key(ngx_http_request_t *r, ngx_str_t *rid,
    ngx_str_t *key);
ngx_int_t ngx_booking_not_allowed(ngx_http_request_t *r, const char *allow);
ngx_int_t ngx_booking_caller(ngx_http_request_t *r, ngx_booking_ctx_t *ctx);
ngx_int_t ngx_booking_booking_route(ngx_http_request_t *r,
    ngx_booking_ctx_t *ctx, ngx_booking_route_t *rt);

extern const char *const  ngx_booking_no_args[];
extern const char *const  ngx_booking_list_args[];

ngx_int_t ngx_booking_resource_put(ngx_http_request_t *r);
ngx_int_t ngx_booking_resource_get(ngx_http_request_t *r);
ngx_int_t ngx_booking_resource_delete(ngx_http_request_t *r);
ngx_int_t ngx_booking_availability(ngx_http_request_t *r);
ngx_int_t ngx_booking_listing(ngx_http_request_t *r);
ngx_int_t ngx_booking_calendar(ngx_http_request_t *r);


#endif /* _NGX_BOOKING_MODULE_H_INCLUDED_ */

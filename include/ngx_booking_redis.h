/*
 * The Redis layer: per-worker persistent connections opened by nginx's own
 * event machinery, commands of many requests pipelined on them, replies
 * parsed by hiredis's redisReader.  Nothing here ever blocks.
 */

#ifndef _NGX_BOOKING_REDIS_H_INCLUDED_
#define _NGX_BOOKING_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <hiredis/hiredis.h>

#include "ngx_booking_module.h"


/* what became of a command, as its handler is told */
#define NGX_BOOKING_REDIS_REPLY        0   /* reply holds Redis's answer */
#define NGX_BOOKING_REDIS_UNAVAILABLE  1   /* never reached Redis */
#define NGX_BOOKING_REDIS_TIMEOUT      2   /* sent; no answer in time */
#define NGX_BOOKING_REDIS_LOST         3   /* sent; connection lost */


typedef struct ngx_booking_redis_cmd_s  ngx_booking_redis_cmd_t;

/*
 * Called once per command, never from inside the call that sent it.  The
 * reply belongs to the layer: copy what is needed before returning.
 */
typedef void (*ngx_booking_redis_handler_pt)(void *data, ngx_int_t rc,
    redisReply *reply);


typedef struct {
    ngx_uint_t   ready;
    ngx_uint_t   connecting;
    ngx_uint_t   down;
    ngx_uint_t   inflight;
} ngx_booking_redis_stats_t;


ngx_int_t ngx_booking_redis_init_process(ngx_cycle_t *cycle,
    ngx_booking_main_conf_t *bmcf);
void ngx_booking_redis_exit_process(ngx_cycle_t *cycle);

/*
 * Both return NULL when no connection can take the command now (Redis is
 * down and every connection waits to reconnect): the caller answers 503 at
 * once.  argv holds the keys then the other arguments.
 */
ngx_booking_redis_cmd_t *ngx_booking_redis_eval(ngx_uint_t script,
    ngx_str_t *argv, ngx_uint_t nkeys, ngx_uint_t argc,
    ngx_booking_redis_handler_pt handler, void *data, ngx_log_t *log);
ngx_booking_redis_cmd_t *ngx_booking_redis_command(ngx_str_t *argv,
    ngx_uint_t argc, ngx_booking_redis_handler_pt handler, void *data,
    ngx_log_t *log);

/* the requester went away: its handler will not be called */
void ngx_booking_redis_cancel(ngx_booking_redis_cmd_t *cmd);

void ngx_booking_redis_stats(ngx_booking_redis_stats_t *st);


#endif /* _NGX_BOOKING_REDIS_H_INCLUDED_ */

/*
 * The store's Redis side, private to the store layer: commands in RESP,
 * the scripts as each Redis node must have them, nodes and their
 * connections, and the node picker.
 */

#ifndef _NGX_BOOKING_REDIS_H_INCLUDED_
#define _NGX_BOOKING_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <hiredis/hiredis.h>

#include "ngx_booking_store.h"


/* what became of a command, as its handler is told */
#define NGX_BOOKING_REDIS_REPLY        0   /* reply holds Redis's answer */
#define NGX_BOOKING_REDIS_UNAVAILABLE  1   /* never reached Redis */
#define NGX_BOOKING_REDIS_TIMEOUT      2   /* no answer in time */
#define NGX_BOOKING_REDIS_LOST         3   /* sent; connection lost */


typedef struct ngx_booking_redis_cmd_s   ngx_booking_redis_cmd_t;
typedef struct ngx_booking_redis_conn_s  ngx_booking_redis_conn_t;
typedef struct ngx_booking_node_s        ngx_booking_node_t;
typedef struct ngx_booking_sentinel_s    ngx_booking_sentinel_t;

/*
 * Called once per command, never from inside the call that sent it.  The
 * reply belongs to the layer: copy what is needed before returning.
 */
typedef void (*ngx_booking_redis_handler_pt)(void *data, ngx_int_t rc,
    redisReply *reply);

/* the node's address may be wrong: ask whoever knows (the sentinels) */
typedef void (*ngx_booking_node_suspect_pt)(ngx_booking_node_t *node);


struct ngx_booking_redis_cmd_s {
    ngx_queue_t                    queue;
    ngx_booking_redis_conn_t      *conn;
    ngx_booking_redis_handler_pt   handler;
    void                          *data;
    ngx_msec_t                     deadline;
    ngx_int_t                      script;    /* -1: not an FCALL */
    size_t                         rest;      /* after "FCALL <name>" */
    size_t                         len;
    u_char                        *bytes;     /* the command in RESP */
    ngx_booking_redis_cmd_t       *wait;      /* the WAIT sent after it */
    void                         **owner;     /* the caller's pointer to it */
    redisReply                    *held;      /* its reply, until WAIT's */
    ngx_queue_t                    group;     /* a WAIT's scripts, answered */
    unsigned                       internal:1;
    unsigned                       writes:1;  /* WAITed, with replicas */
    unsigned                       retried:1;
    unsigned                       ack:1;     /* a WAIT */
    unsigned                       unacked:1; /* no WAIT could follow */
};


/* a Redis server: its address and this worker's connections to it */
struct ngx_booking_node_s {
    ngx_addr_t                    *addr;      /* NULL: not known yet */
    ngx_str_t                      name;
    ngx_booking_store_conf_t      *conf;
    ngx_booking_redis_conn_t      *conns;
    ngx_uint_t                     nconns;
    ngx_uint_t                     next;      /* round robin */
    ngx_log_t                     *log;
    ngx_booking_sentinel_t        *sentinel;  /* the master they name */
    ngx_booking_node_suspect_pt    suspect;
    ngx_booking_node_suspect_pt    demoted;   /* it answered READONLY */
    unsigned                       moving:1;
    unsigned                       refusing:1; /* READONLY, not moved yet */
};


/* RESP: a command, allocated apart from any request */
ngx_booking_redis_cmd_t *ngx_booking_resp_command(ngx_str_t *head,
    ngx_uint_t nhead, ngx_str_t *argv, ngx_uint_t argc, ngx_log_t *log);

/* the scripts: FUNCTION LOAD, FCALL, and EVAL for a node without them */
void ngx_booking_scripts_init(void);
ngx_booking_redis_cmd_t *ngx_booking_script_command(ngx_uint_t script,
    ngx_str_t *keys, ngx_uint_t nkeys, ngx_str_t *args, ngx_uint_t nargs,
    ngx_log_t *log);
ngx_booking_redis_cmd_t *ngx_booking_script_eval(
    ngx_booking_redis_cmd_t *cmd, ngx_log_t *log);
ngx_booking_redis_cmd_t *ngx_booking_script_load(ngx_uint_t script,
    ngx_log_t *log);
ngx_str_t *ngx_booking_script_name(ngx_uint_t script);
ngx_uint_t ngx_booking_script_writes(ngx_uint_t script);

/* a node's connections */
ngx_int_t ngx_booking_node_open(ngx_booking_node_t *node, ngx_cycle_t *cycle);
void ngx_booking_node_close(ngx_booking_node_t *node);
ngx_int_t ngx_booking_node_send(ngx_booking_node_t *node,
    ngx_booking_redis_cmd_t *cmd, ngx_booking_redis_handler_pt handler,
    void *data);
void ngx_booking_node_stats(ngx_booking_node_t *node,
    ngx_booking_store_stats_t *st);
void ngx_booking_redis_cancel(ngx_booking_redis_cmd_t *cmd);
void ngx_booking_node_moved(ngx_booking_node_t *node);
ngx_uint_t ngx_booking_node_ready(ngx_booking_node_t *node);
void ngx_booking_node_kick(ngx_booking_node_t *node);

/* the sentinels: who the master is, asked again when it may have moved */
ngx_int_t ngx_booking_sentinel_init(ngx_booking_node_t *node,
    ngx_cycle_t *cycle);
void ngx_booking_sentinel_exit(ngx_booking_node_t *node);
void ngx_booking_sentinel_discover(ngx_booking_node_t *node);

/* Redis Cluster: the node of a key's hash slot (ngx_booking_slots.c) */
ngx_int_t ngx_booking_slots_init(ngx_cycle_t *cycle,
    ngx_booking_store_conf_t *conf);
void ngx_booking_slots_exit(void);
ngx_booking_node_t *ngx_booking_slots_pick(ngx_str_t *key);
ngx_booking_node_t *ngx_booking_slots_redirect(ngx_booking_node_t *from,
    redisReply *reply, ngx_uint_t *ask);
void ngx_booking_slots_stats(ngx_booking_store_stats_t *st);

ngx_int_t ngx_booking_sockaddr_parse(u_char *ip, size_t iplen, u_char *port,
    size_t portlen, ngx_sockaddr_t *sa, socklen_t *len);
ngx_int_t ngx_booking_node_send_asking(ngx_booking_node_t *node,
    ngx_booking_redis_cmd_t *cmd, ngx_booking_redis_handler_pt handler,
    void *data);
ngx_int_t ngx_booking_node_send_after(ngx_booking_node_t *node,
    ngx_booking_redis_cmd_t *cmd, ngx_booking_redis_cmd_t *before,
    ngx_booking_redis_handler_pt handler, void *data);

/* the node picker: which node serves a key */
ngx_int_t ngx_booking_nodes_init(ngx_cycle_t *cycle,
    ngx_booking_store_conf_t *conf);
void ngx_booking_nodes_exit(void);
ngx_booking_node_t *ngx_booking_nodes_pick(ngx_str_t *key);
ngx_uint_t ngx_booking_nodes_cluster(void);
void ngx_booking_nodes_stats(ngx_booking_store_stats_t *st);


#endif /* _NGX_BOOKING_REDIS_H_INCLUDED_ */

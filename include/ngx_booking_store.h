/*
 * The store: what the operations call to read and change bookings.  A
 * call is one script of the contract (its KEYS and ARGV) or one plain
 * command, answered once, later, with a typed result.  Behind it, Redis:
 * the node picker (one server, or the master the sentinels name; Cluster
 * is one more kind of it), per-node connections of nginx's own, RESP, the scripts
 * loaded on each node, and the decoding of replies.  Nothing here ever
 * blocks.
 */

#ifndef _NGX_BOOKING_STORE_H_INCLUDED_
#define _NGX_BOOKING_STORE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_booking_core.h"
#include "ngx_booking_metrics.h"
#include "ngx_booking_reply.h"
#include "ngx_booking_contract.h"


/* what became of a call, as its handler is told */
#define NGX_BOOKING_STORE_OK           0   /* result holds the answer */
#define NGX_BOOKING_STORE_UNAVAILABLE  1   /* never reached Redis */
#define NGX_BOOKING_STORE_TIMEOUT      2   /* sent; no answer in time */
#define NGX_BOOKING_STORE_LOST         3   /* sent; connection lost */
#define NGX_BOOKING_STORE_BUSY         4   /* refused now: LOADING, OOM... */
#define NGX_BOOKING_STORE_FAILED       5   /* an answer not expected */


typedef struct {
    ngx_addr_t                 *addr;       /* NULL with sentinels */
    ngx_str_t                   name;       /* as written in nginx.conf */
    ngx_str_t                   master;     /* the sentinels' name of it */
    ngx_addr_t                 *sentinels;  /* resolved in nginx.conf */
    ngx_uint_t                  nsentinels;
    ngx_addr_t                 *seeds;      /* a cluster's, to ask first */
    ngx_uint_t                  nseeds;
    ngx_str_t                   password;
    ngx_int_t                   database;
    ngx_msec_t                  timeout;
    ngx_uint_t                  connections;
    ngx_uint_t                  replicas;   /* WAIT for as many */
    ngx_msec_t                  replicas_timeout;
} ngx_booking_store_conf_t;


/*
 * The time a request waited on Redis: while one of its calls at least was
 * out.  Two calls sent together (a user's booking and its index entry)
 * count once.
 */
typedef struct {
    ngx_msec_t                  total;      /* of the spans that ended */
    ngx_msec_t                  since;      /* the span under way began */
    ngx_uint_t                  out;        /* calls sent, not answered */
} ngx_booking_waited_t;


typedef struct ngx_booking_call_s  ngx_booking_call_t;

typedef void (*ngx_booking_call_pt)(ngx_booking_call_t *call);

struct ngx_booking_call_s {
    /* set by the caller */
    ngx_int_t                   script;     /* -1: a plain command */
    ngx_str_t                  *keys;       /* a script's KEYS */
    ngx_uint_t                  nkeys;
    ngx_str_t                  *args;       /* its ARGV; a command's words */
    ngx_uint_t                  nargs;
    int                         expect;     /* NGX_BOOKING_R_* */
    ngx_pool_t                 *pool;       /* the call lives as long */
    ngx_log_t                  *log;
    ngx_booking_call_pt         handler;
    void                       *data;
    ngx_booking_waited_t       *waited;     /* NULL, or the time counted */
    unsigned                    writes:1;   /* a plain command that does */

    /* set by the store before the handler runs */
    ngx_int_t                   rc;
    ngx_booking_result_t        result;     /* the handler's to copy */

    /* the store's own */
    void                       *cmd;
    void                       *node;       /* where it was sent */
    ngx_event_t                *retry;      /* TRYAGAIN's backoff */
    uint64_t                    sent_usec;  /* for the histogram */
    ngx_uint_t                  again;
    ngx_uint_t                  redirects;  /* MOVED, ASK, TRYAGAIN */
    unsigned                    cleanup:1;
};


typedef struct {
    ngx_uint_t                  ready;
    ngx_uint_t                  connecting;
    ngx_uint_t                  down;
    ngx_uint_t                  inflight;
    ngx_uint_t                  nodes;       /* Cluster's masters met */
} ngx_booking_store_stats_t;


ngx_int_t ngx_booking_store_init_process(ngx_cycle_t *cycle,
    ngx_booking_store_conf_t *conf);
void ngx_booking_store_exit_process(ngx_cycle_t *cycle);

/*
 * NGX_OK: the handler will be called, never from inside this call.
 * NGX_DECLINED: the call cannot be sent now (Redis is down): the caller
 * answers 503 at once.  NGX_ERROR: no memory.  A call still pending when
 * its pool goes is cancelled: its handler is not called.
 */
ngx_int_t ngx_booking_store_call(ngx_booking_call_t *call);
ngx_int_t ngx_booking_store_call_after(ngx_booking_call_t *call,
    ngx_booking_call_t *before);

void ngx_booking_store_stats(ngx_booking_store_stats_t *st);


#endif /* _NGX_BOOKING_STORE_H_INCLUDED_ */

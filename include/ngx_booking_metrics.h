/*
 * The metrics of booking_status: counters every worker adds to in shared
 * memory, so that a scrape answered by any worker sees all of them, and a
 * slot per worker for its gauges.  Plain C (atomic builtins), so that the
 * Prometheus text it writes is unit-tested without nginx.
 */

#ifndef _NGX_BOOKING_METRICS_H_INCLUDED_
#define _NGX_BOOKING_METRICS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/* booking_requests_total's op label: the SPEC's operations, then "other" */
#define NGX_BOOKING_METRIC_OPS      18

/* its status label: the codes the module answers, 1xx ... 5xx, "other" */
#define NGX_BOOKING_METRIC_CODES    31

/* booking_redis_duration_seconds: 100 us to 1 s, then +Inf */
#define NGX_BOOKING_METRIC_BUCKETS  13

/* workers whose gauges are summed; more are counted, not gauged */
#define NGX_BOOKING_METRIC_WORKERS  64

/* what the largest page can take: every label pair seen */
#define NGX_BOOKING_METRICS_TEXT_MAX  65536


/* what scripts did besides their answers */
typedef enum {
    NGX_BOOKING_EFFECT_EXPIRED = 0,
    NGX_BOOKING_EFFECT_EVENTS,
    NGX_BOOKING_EFFECTS
} ngx_booking_effect_e;


typedef enum {
    NGX_BOOKING_ERR_TIMEOUT = 0,
    NGX_BOOKING_ERR_UNAVAILABLE,
    NGX_BOOKING_ERR_MOVED,
    NGX_BOOKING_ERR_ASK,
    NGX_BOOKING_ERR_TRYAGAIN,
    NGX_BOOKING_ERR_READONLY,
    NGX_BOOKING_ERR_FAILOVER,
    NGX_BOOKING_ERR_KINDS
} ngx_booking_err_kind_e;


/* one worker's gauges, written by that worker only */
typedef struct {
    volatile uint64_t  pid;          /* 0: a free slot */
    volatile uint64_t  ready;
    volatile uint64_t  connecting;
    volatile uint64_t  down;
    volatile uint64_t  inflight;
    volatile uint64_t  nodes;
} ngx_booking_metrics_worker_t;


typedef struct {
    volatile uint64_t  requests[NGX_BOOKING_METRIC_OPS]
                               [NGX_BOOKING_METRIC_CODES];
    volatile uint64_t  redis[NGX_BOOKING_METRIC_BUCKETS + 1];
    volatile uint64_t  redis_usec;
    volatile uint64_t  errors[NGX_BOOKING_ERR_KINDS];
    volatile uint64_t  effects[NGX_BOOKING_EFFECTS];
    volatile uint64_t  unreplicated;
    volatile uint64_t  refreshes;
    volatile uint64_t  master;       /* the master last followed, hashed */
    ngx_booking_metrics_worker_t  workers[NGX_BOOKING_METRIC_WORKERS];
} ngx_booking_metrics_t;


/* what a scrape adds: the gauges summed, the micro-cache's counters */
typedef struct {
    uint64_t           ready;
    uint64_t           connecting;
    uint64_t           down;
    uint64_t           inflight;
    uint64_t           nodes;        /* the most any worker met */
    uint64_t           cache_hit;
    uint64_t           cache_miss;
    uint64_t           cache_wait;
} ngx_booking_metrics_view_t;


typedef int (*ngx_booking_alive_pt)(uint64_t pid);


/* shared memory once the module has its zone; a private one before */
extern ngx_booking_metrics_t  *ngx_booking_metrics;


uint64_t ngx_booking_metrics_usec(void);
int ngx_booking_metrics_op(const char *name, size_t len);
void ngx_booking_metrics_request(int op, unsigned status);
void ngx_booking_metrics_redis(uint64_t usec);
void ngx_booking_metrics_error(ngx_booking_err_kind_e kind);
void ngx_booking_metrics_add(volatile uint64_t *counter);
void ngx_booking_metrics_count(ngx_booking_effect_e effect, uint64_t n);
void ngx_booking_metrics_failover(uint64_t master);

int ngx_booking_metrics_join(uint64_t pid, ngx_booking_alive_pt alive);
void ngx_booking_metrics_leave(int slot);
void ngx_booking_metrics_gauges(ngx_booking_metrics_view_t *view,
    ngx_booking_alive_pt alive);

size_t ngx_booking_metrics_text(char *buf, size_t size,
    const ngx_booking_metrics_view_t *view);


#endif /* _NGX_BOOKING_METRICS_H_INCLUDED_ */

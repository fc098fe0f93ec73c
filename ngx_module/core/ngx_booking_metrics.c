/*
 * Counters in shared memory, added to with atomic builtins by whichever
 * worker counts, and the Prometheus text (format 0.0.4) of them all.
 * Labels are bounded: an operation or a status code the tables do not
 * name is counted under "other" or its class ("4xx").
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ngx_booking_metrics.h"


static const char  *ngx_booking_metric_ops[NGX_BOOKING_METRIC_OPS] = {
    "hold", "book", "confirm", "cancel", "extend", "approve", "decline",
    "availability", "listing", "calendar", "resource_get", "resource_put",
    "resource_delete", "booking_get", "bookings_list", "group", "waitlist",
    "other"
};

#define NGX_BOOKING_METRIC_NAMED  25

static const unsigned  ngx_booking_metric_codes[NGX_BOOKING_METRIC_NAMED] = {
    200, 201, 204, 304, 400, 401, 403, 404, 405, 408, 409, 410, 411, 412,
    413, 414, 415, 422, 429, 499, 500, 501, 502, 503, 504
};

static const char  *ngx_booking_metric_classes[] = {
    "1xx", "2xx", "3xx", "4xx", "5xx", "other"
};

static const char  *ngx_booking_metric_le[NGX_BOOKING_METRIC_BUCKETS] = {
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01",
    "0.025", "0.05", "0.1", "0.25", "0.5", "1"
};

static const uint64_t  ngx_booking_metric_usec[NGX_BOOKING_METRIC_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
    500000, 1000000
};

static const char  *ngx_booking_metric_kinds[NGX_BOOKING_ERR_KINDS] = {
    "timeout", "unavailable", "moved", "ask", "tryagain", "readonly",
    "failover"
};


static ngx_booking_metrics_t   ngx_booking_metrics_private;

ngx_booking_metrics_t  *ngx_booking_metrics = &ngx_booking_metrics_private;


static uint64_t
ngx_booking_load(volatile uint64_t *counter)
{
    return __atomic_load_n(counter, __ATOMIC_RELAXED);
}


/*
 * A monotonic clock read now, not nginx's cached time: round trips are
 * mostly under a millisecond.
 */
uint64_t
ngx_booking_metrics_usec(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


int
ngx_booking_metrics_op(const char *name, size_t len)
{
    int  i;

    for (i = 0; i < NGX_BOOKING_METRIC_OPS - 1; i++) {
        if (strlen(ngx_booking_metric_ops[i]) == len
            && memcmp(ngx_booking_metric_ops[i], name, len) == 0)
        {
            return i;
        }
    }

    return NGX_BOOKING_METRIC_OPS - 1;
}


static int
ngx_booking_metrics_code(unsigned status)
{
    int  i;

    for (i = 0; i < NGX_BOOKING_METRIC_NAMED; i++) {
        if (ngx_booking_metric_codes[i] == status) {
            return i;
        }
    }

    if (status >= 100 && status < 600) {
        return NGX_BOOKING_METRIC_NAMED + status / 100 - 1;
    }

    return NGX_BOOKING_METRIC_NAMED + 5;
}


void
ngx_booking_metrics_add(volatile uint64_t *counter)
{
    __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}


void
ngx_booking_metrics_count(ngx_booking_effect_e effect, uint64_t n)
{
    if (n) {
        __atomic_fetch_add(&ngx_booking_metrics->effects[effect], n,
                           __ATOMIC_RELAXED);
    }
}


void
ngx_booking_metrics_request(int op, unsigned status)
{
    if (op < 0 || op >= NGX_BOOKING_METRIC_OPS) {
        op = NGX_BOOKING_METRIC_OPS - 1;
    }

    ngx_booking_metrics_add(
        &ngx_booking_metrics->requests[op][ngx_booking_metrics_code(status)]);
}


void
ngx_booking_metrics_redis(uint64_t usec)
{
    int  i;

    for (i = 0; i < NGX_BOOKING_METRIC_BUCKETS; i++) {
        if (usec <= ngx_booking_metric_usec[i]) {
            break;
        }
    }

    ngx_booking_metrics_add(&ngx_booking_metrics->redis[i]);
    __atomic_fetch_add(&ngx_booking_metrics->redis_usec, usec,
                       __ATOMIC_RELAXED);
}


void
ngx_booking_metrics_error(ngx_booking_err_kind_e kind)
{
    ngx_booking_metrics_add(&ngx_booking_metrics->errors[kind]);
}


/*
 * Every worker follows a failover on its own; the first to follow a new
 * master counts it, so that one failover counts once per nginx.
 */
void
ngx_booking_metrics_failover(uint64_t master)
{
    uint64_t  old;

    old = ngx_booking_load(&ngx_booking_metrics->master);

    if (old != master
        && __atomic_compare_exchange_n(&ngx_booking_metrics->master, &old,
                                       master, 0, __ATOMIC_RELAXED,
                                       __ATOMIC_RELAXED))
    {
        ngx_booking_metrics_error(NGX_BOOKING_ERR_FAILOVER);
    }
}


/* a free slot, or the slot of a worker that died without leaving it */
int
ngx_booking_metrics_join(uint64_t pid, ngx_booking_alive_pt alive)
{
    int                            i;
    uint64_t                       was;
    ngx_booking_metrics_worker_t  *w;

    for (i = 0; i < NGX_BOOKING_METRIC_WORKERS; i++) {
        w = &ngx_booking_metrics->workers[i];
        was = __atomic_load_n(&w->pid, __ATOMIC_ACQUIRE);

        if (was != 0 && alive(was)) {
            continue;
        }

        if (__atomic_compare_exchange_n(&w->pid, &was, pid, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        {
            w->ready = 0;
            w->connecting = 0;
            w->down = 0;
            w->inflight = 0;
            w->nodes = 0;
            return i;
        }
    }

    return -1;
}


void
ngx_booking_metrics_leave(int slot)
{
    if (slot >= 0 && slot < NGX_BOOKING_METRIC_WORKERS) {
        __atomic_store_n(&ngx_booking_metrics->workers[slot].pid, 0,
                         __ATOMIC_RELEASE);
    }
}


void
ngx_booking_metrics_gauges(ngx_booking_metrics_view_t *view,
    ngx_booking_alive_pt alive)
{
    int                            i;
    uint64_t                       pid;
    ngx_booking_metrics_worker_t  *w;

    for (i = 0; i < NGX_BOOKING_METRIC_WORKERS; i++) {
        w = &ngx_booking_metrics->workers[i];
        pid = __atomic_load_n(&w->pid, __ATOMIC_ACQUIRE);

        if (pid == 0 || !alive(pid)) {
            continue;
        }

        view->ready += w->ready;
        view->connecting += w->connecting;
        view->down += w->down;
        view->inflight += w->inflight;

        if (w->nodes > view->nodes) {
            view->nodes = w->nodes;
        }
    }
}


typedef struct {
    char    *p;
    char    *end;
    int      full;
} ngx_booking_text_out_t;


static void
ngx_booking_out(ngx_booking_text_out_t *o, const char *fmt, ...)
{
    int      n;
    va_list  args;

    if (o->full) {
        return;
    }

    va_start(args, fmt);
    n = vsnprintf(o->p, o->end - o->p, fmt, args);
    va_end(args);

    if (n < 0 || n >= o->end - o->p) {
        o->full = 1;
        return;
    }

    o->p += n;
}


static void
ngx_booking_out_head(ngx_booking_text_out_t *o, const char *name,
    const char *type, const char *help)
{
    ngx_booking_out(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}


/* a family of one sample, without labels */
static void
ngx_booking_out_one(ngx_booking_text_out_t *o, const char *name,
    const char *type, const char *help, uint64_t value)
{
    ngx_booking_out_head(o, name, type, help);
    ngx_booking_out(o, "%s %llu\n", name, (unsigned long long) value);
}


static void
ngx_booking_out_requests(ngx_booking_text_out_t *o, ngx_booking_metrics_t *m)
{
    int          op, c;
    uint64_t     n;
    char         code[4];
    const char  *status;

    ngx_booking_out_head(o, "booking_requests_total", "counter",
                         "API requests answered, by operation and HTTP "
                         "status.");

    for (op = 0; op < NGX_BOOKING_METRIC_OPS; op++) {
        for (c = 0; c < NGX_BOOKING_METRIC_CODES; c++) {
            n = ngx_booking_load(&m->requests[op][c]);
            if (n == 0) {
                continue;
            }

            if (c < NGX_BOOKING_METRIC_NAMED) {
                snprintf(code, sizeof(code), "%u",
                         ngx_booking_metric_codes[c]);
                status = code;

            } else {
                status = ngx_booking_metric_classes[c
                                                  - NGX_BOOKING_METRIC_NAMED];
            }

            ngx_booking_out(o, "booking_requests_total{op=\"%s\","
                            "status=\"%s\"} %llu\n",
                            ngx_booking_metric_ops[op], status,
                            (unsigned long long) n);
        }
    }
}


static void
ngx_booking_out_redis(ngx_booking_text_out_t *o, ngx_booking_metrics_t *m)
{
    int       i;
    uint64_t  total, usec;

    ngx_booking_out_head(o, "booking_redis_duration_seconds", "histogram",
                         "Redis round trips, from sending a command to "
                         "reading its reply.");

    /* the count is the buckets' sum, so that +Inf and _count agree */
    total = 0;

    for (i = 0; i < NGX_BOOKING_METRIC_BUCKETS; i++) {
        total += ngx_booking_load(&m->redis[i]);
        ngx_booking_out(o, "booking_redis_duration_seconds_bucket"
                        "{le=\"%s\"} %llu\n", ngx_booking_metric_le[i],
                        (unsigned long long) total);
    }

    total += ngx_booking_load(&m->redis[i]);
    usec = ngx_booking_load(&m->redis_usec);

    ngx_booking_out(o, "booking_redis_duration_seconds_bucket{le=\"+Inf\"} "
                    "%llu\nbooking_redis_duration_seconds_sum %llu.%06llu\n"
                    "booking_redis_duration_seconds_count %llu\n",
                    (unsigned long long) total,
                    (unsigned long long) (usec / 1000000),
                    (unsigned long long) (usec % 1000000),
                    (unsigned long long) total);

    ngx_booking_out_head(o, "booking_redis_errors_total", "counter",
                         "Redis calls that timed out or found no connection, "
                         "Cluster redirections followed, READONLY or "
                         "MASTERDOWN answers, failovers followed.");

    for (i = 0; i < NGX_BOOKING_ERR_KINDS; i++) {
        ngx_booking_out(o, "booking_redis_errors_total{kind=\"%s\"} %llu\n",
                        ngx_booking_metric_kinds[i], (unsigned long long)
                        ngx_booking_load(&m->errors[i]));
    }

    ngx_booking_out_one(o, "booking_holds_expired_total", "counter",
                        "Holds the scripts expired (the sweeper's, or any "
                        "request's on the resource first).",
                        ngx_booking_load(
                            &m->effects[NGX_BOOKING_EFFECT_EXPIRED]));

    ngx_booking_out_one(o, "booking_events_total", "counter",
                        "Events the scripts appended to the streams.",
                        ngx_booking_load(
                            &m->effects[NGX_BOOKING_EFFECT_EVENTS]));

    ngx_booking_out_one(o, "booking_redis_unreplicated_total", "counter",
                        "Writes fewer replicas had in time than "
                        "booking_redis_replicas (answered 504).",
                        ngx_booking_load(&m->unreplicated));

    ngx_booking_out_one(o, "booking_redis_cluster_refreshes_total", "counter",
                        "CLUSTER SLOTS asked (per worker: one in flight, "
                        "100 ms apart).",
                        ngx_booking_load(&m->refreshes));
}


static void
ngx_booking_out_gauges(ngx_booking_text_out_t *o,
    const ngx_booking_metrics_view_t *v)
{
    ngx_booking_out_head(o, "booking_redis_connections", "gauge",
                         "Redis connections of all workers, by state.");
    ngx_booking_out(o, "booking_redis_connections{state=\"ready\"} %llu\n"
                    "booking_redis_connections{state=\"connecting\"} %llu\n"
                    "booking_redis_connections{state=\"down\"} %llu\n",
                    (unsigned long long) v->ready,
                    (unsigned long long) v->connecting,
                    (unsigned long long) v->down);

    ngx_booking_out_one(o, "booking_redis_inflight", "gauge",
                        "Commands awaiting a reply, all workers.",
                        v->inflight);

    ngx_booking_out_one(o, "booking_redis_cluster_nodes", "gauge",
                        "Redis Cluster masters met (the most any worker "
                        "met).", v->nodes);

    ngx_booking_out_head(o, "booking_cache_requests_total", "counter",
                         "Micro-cache lookups, all workers.");
    ngx_booking_out(o, "booking_cache_requests_total{result=\"hit\"} %llu\n"
                    "booking_cache_requests_total{result=\"miss\"} %llu\n"
                    "booking_cache_requests_total{result=\"wait\"} %llu\n",
                    (unsigned long long) v->cache_hit,
                    (unsigned long long) v->cache_miss,
                    (unsigned long long) v->cache_wait);
}


/* the page's length; 0 if it did not fit */
size_t
ngx_booking_metrics_text(char *buf, size_t size,
    const ngx_booking_metrics_view_t *view)
{
    ngx_booking_text_out_t  o;

    o.p = buf;
    o.end = buf + size;
    o.full = 0;

    ngx_booking_out_requests(&o, ngx_booking_metrics);
    ngx_booking_out_redis(&o, ngx_booking_metrics);
    ngx_booking_out_gauges(&o, view);

    return o.full ? 0 : (size_t) (o.p - buf);
}

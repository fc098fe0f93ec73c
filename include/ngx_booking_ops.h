/*
 * The operations of the API, one file per entity: resources,
 * availability, bookings, listing pages, calendar feeds.  An operation
 * turns a request the http layer has read (path, query, body, caller) into
 * store calls and a view, and says what it changed instead of touching
 * the cache itself.  It never sends anything: the http layer does, once
 * the answer is ready.
 */

#ifndef _NGX_BOOKING_OPS_H_INCLUDED_
#define _NGX_BOOKING_OPS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_booking_core.h"
#include "ngx_booking_tz.h"
#include "ngx_booking_store.h"
#include "ngx_booking_view.h"


#define NGX_BOOKING_CALLER_GROUPS_MAX  4096      /* bytes */
#define NGX_BOOKING_IDEM_MAX       255
#define NGX_BOOKING_TYPE_NAME_MAX  32        /* bytes of a type's name */


typedef struct {
    ngx_str_t                   name;
    ngx_str_t                   slot_text;   /* as written: "1h", "none" */
    int64_t                     slot;        /* seconds, 0: timeless */
    int64_t                     hold;
    int64_t                     hold_max;    /* a hold extended at most to */
    int64_t                     min;
    int64_t                     max;         /* 0: no maximum */
    int64_t                     buffer;
    int64_t                     lead;
    int64_t                     horizon;     /* 0: no horizon */
    ngx_flag_t                  approval;
    ngx_flag_t                  waitlist;
    ngx_uint_t                  max_active;  /* 0: no quota */
    ngx_uint_t                  repeat_max;  /* occurrences of a series */
    ngx_booking_tz_t           *tz;          /* opening hours'; NULL: UTC */
} ngx_booking_type_t;


/* booking_quota: a limit of a user's bookings in a calendar period */
typedef struct {
    ngx_str_t                   name;
    ngx_uint_t                  hours;       /* 1: hours=, 0: count= */
    int64_t                     limit;       /* bookings, or seconds */
    int                         per;         /* NGX_BOOKING_PER_* */
    ngx_array_t                *types;       /* ngx_str_t, NULL: all */
    ngx_array_t                *groups;      /* ngx_str_t, NULL: everyone */
    ngx_booking_tz_t           *tz;
} ngx_booking_quota_conf_t;


typedef struct {
    ngx_array_t                 types;       /* ngx_booking_type_t */
    ngx_array_t                 quotas;      /* ngx_booking_quota_conf_t */
    ngx_str_t                  *rules;       /* one line per type, for Lua */
    ngx_str_t                   secret;
    ngx_regex_t                *id_regex;    /* NULL: the default pattern */
    int64_t                     max_range;
    ngx_flag_t                  events_on;   /* booking_events */
    ngx_flag_t                  waitlist;    /* a type has waitlist=on */
    ngx_flag_t                  zones;       /* a type has tz= */
    ngx_flag_t                  cluster;     /* booking_redis_cluster */
    ngx_msec_t                  group_pause; /* booking_group_pause */
    ngx_flag_t                  sweeper;     /* booking_sweeper */
    ngx_int_t                   events_max;  /* booking_events_maxlen */
    ngx_str_t                   events;      /* a stream's, '' when off */
} ngx_booking_ops_conf_t;


/* who calls, as the http layer found out */
typedef struct {
    ngx_str_t                   user;        /* "" for none */
    ngx_str_t                   groups;
    unsigned                    admin:1;     /* an admin location */
    unsigned                    token:1;     /* a valid Booking-Token */
    unsigned                    anonymous:1; /* booking_anonymous on */
} ngx_booking_caller_t;


/* what an operation changed: the http layer's cache forgets it */
typedef struct {
    ngx_str_t                   id;
    ngx_str_t                   type;        /* empty: every type */
    ngx_str_t                  *also;        /* a group's other resources */
    ngx_str_t                  *also_type;
    ngx_uint_t                  nalso;
    unsigned                    changed:1;
} ngx_booking_change_t;


typedef struct ngx_booking_req_s  ngx_booking_req_t;

typedef ngx_int_t (*ngx_booking_op_pt)(ngx_booking_req_t *req);
typedef void (*ngx_booking_finish_pt)(ngx_booking_req_t *req);

struct ngx_booking_req_s {
    ngx_pool_t                 *pool;
    ngx_log_t                  *log;
    ngx_booking_ops_conf_t     *conf;

    /* the request, as the http layer read it */
    ngx_str_t                   id;          /* resource id of the path */
    ngx_str_t                   booking;     /* a booking id of the path */
    ngx_str_t                   rand;        /* its random part */
    ngx_str_t                   verb;        /* confirm, cancel, ... */
    ngx_booking_query_t         query;
    ngx_str_t                   body;
    ngx_str_t                   idempotency; /* Idempotency-Key, or null */
    ngx_booking_caller_t        caller;

    /* what the operation answers, and what it changed */
    const char                 *name;        /* hold, book, ... */
    ngx_booking_answer_t        answer;
    ngx_booking_change_t        change;
    ngx_str_t                   made;        /* a booking made, its id */
    ngx_booking_waited_t        redis_time;  /* waiting on its calls */

    /* called once the answer is ready, when the operation said NGX_DONE */
    ngx_booking_finish_pt       finish;
    void                       *data;        /* the http layer's */
    void                       *state;       /* the operation's */
    ngx_str_t                  *state_id;    /* its entry in an index */
    void                       *indexing;    /* that entry's call, when
                                                the operation's went
                                                right behind it */
    void                       *claims;      /* its quota claims */
    unsigned                    waiting:1;   /* POST /waitlist */
};


/* a POST /bookings as read and checked, for the script that makes it */
typedef struct {
    ngx_booking_breq_t          in;          /* in.repeat: &repeat, or NULL */
    ngx_booking_repeat_t        repeat;
    ngx_str_t                   rid;
    ngx_str_t                  *rids;        /* each item's, with items */
    ngx_str_t                   kind;
    ngx_str_t                   note;
    ngx_str_t                   scope;       /* of the Idempotency-Key */
    ngx_str_t                   fp;          /* the body's fingerprint */
} ngx_booking_ask_t;


/*
 * Every operation: NGX_OK (the answer is ready), NGX_DONE (finish() will
 * be called once it is, never from inside this call) or NGX_ERROR (no
 * memory: the http layer answers 500).
 */
ngx_int_t ngx_booking_resource_put(ngx_booking_req_t *req);
ngx_int_t ngx_booking_resource_get(ngx_booking_req_t *req);
ngx_int_t ngx_booking_resource_delete(ngx_booking_req_t *req);
ngx_int_t ngx_booking_availability(ngx_booking_req_t *req);
ngx_int_t ngx_booking_calendar(ngx_booking_req_t *req);
ngx_int_t ngx_booking_listing(ngx_booking_req_t *req);
ngx_int_t ngx_booking_create(ngx_booking_req_t *req);
ngx_int_t ngx_booking_get(ngx_booking_req_t *req);
ngx_int_t ngx_booking_act(ngx_booking_req_t *req);
ngx_int_t ngx_booking_list(ngx_booking_req_t *req);
ngx_int_t ngx_booking_waitlist_join(ngx_booking_req_t *req);
ngx_int_t ngx_booking_waitlist_get(ngx_booking_req_t *req);
ngx_int_t ngx_booking_waitlist_delete(ngx_booking_req_t *req);
ngx_int_t ngx_booking_waitlist_list(ngx_booking_req_t *req);
ngx_int_t ngx_booking_group_get(ngx_booking_req_t *req);
ngx_int_t ngx_booking_group_act(ngx_booking_req_t *req);

/* POST /bookings with "repeat" (ngx_booking_groups.c) */
ngx_int_t ngx_booking_series(ngx_booking_req_t *req, ngx_booking_ask_t *ask);
/* each type's clock at start and end, for opening hours (op.c) */
ngx_int_t ngx_booking_zones(ngx_booking_req_t *req, ngx_str_t *zones,
    int64_t start, int64_t end);
/* POST /bookings with "items" (ngx_booking_groups.c) */
ngx_int_t ngx_booking_items(ngx_booking_req_t *req, ngx_booking_ask_t *ask);
/* the sweeper's: a pinned hold due, "<group> <part>", settled */
ngx_int_t ngx_booking_spread_resolve(ngx_booking_req_t *req, ngx_str_t *pin,
    void (*done)(void *data), void *data);


/* the sweeper of holds due, in every worker (ngx_booking_sweeper.c) */
ngx_int_t ngx_booking_sweeper_init_process(ngx_cycle_t *cycle,
    ngx_booking_ops_conf_t *conf);
void ngx_booking_sweeper_exit_process(void);


/* shared by the operations (ngx_booking_op.c) */
ngx_booking_type_t *ngx_booking_find_type(ngx_booking_ops_conf_t *conf,
    u_char *name, size_t len);
ngx_int_t ngx_booking_id_check(ngx_booking_ops_conf_t *conf, ngx_str_t *id,
    ngx_log_t *log);
int64_t ngx_booking_longest(ngx_booking_ops_conf_t *conf,
    ngx_booking_type_t *t);
ngx_int_t ngx_booking_rules(ngx_conf_t *cf, ngx_booking_ops_conf_t *conf);

ngx_int_t ngx_booking_op_fail(ngx_booking_req_t *req, ngx_uint_t status,
    const char *code, const char *message, const char *field);
ngx_int_t ngx_booking_op_perr(ngx_booking_req_t *req,
    ngx_booking_perr_t *err);
ngx_int_t ngx_booking_op_unexpected(ngx_booking_req_t *req);
ngx_int_t ngx_booking_op_unavailable(ngx_booking_req_t *req);
ngx_int_t ngx_booking_op_sent(ngx_booking_req_t *req, ngx_uint_t pending);
ngx_int_t ngx_booking_op_failed(ngx_booking_req_t *req,
    ngx_booking_call_t *call);
ngx_int_t ngx_booking_op_refused(ngx_booking_req_t *req,
    ngx_booking_call_t *call);
ngx_int_t ngx_booking_op_check(ngx_booking_req_t *req,
    ngx_booking_call_t *call);
void ngx_booking_op_done(ngx_booking_req_t *req, ngx_int_t rc);

ngx_booking_call_t *ngx_booking_op_call(ngx_booking_req_t *req,
    ngx_int_t script, ngx_uint_t nkeys, ngx_uint_t nargs, int expect,
    ngx_booking_call_pt handler);
ngx_int_t ngx_booking_op_send(ngx_booking_req_t *req,
    ngx_booking_call_t *call);
ngx_int_t ngx_booking_user_key(ngx_booking_req_t *req, ngx_str_t *key);
ngx_int_t ngx_booking_copy(ngx_booking_req_t *req, ngx_str_t *dst,
    const u_char *src, size_t len);
ngx_booking_rec_t *ngx_booking_rec_copy(ngx_booking_req_t *req,
    ngx_booking_rec_t *src);
ngx_int_t ngx_booking_resource_keys(ngx_booking_req_t *req, ngx_str_t *id,
    ngx_str_t *keys, const char *const *suffixes);
ngx_int_t ngx_booking_num(ngx_booking_req_t *req, ngx_str_t *s, int64_t n);
ngx_int_t ngx_booking_split_id(ngx_str_t *id, ngx_str_t *rid, ngx_str_t *rand);

extern const char *const  ngx_booking_keys_all[];   /* R ... D X V */


/*
 * What spans resources (ngx_booking_index.c): steps of their own, since
 * their keys are not of the resource's hash slot.  done is called once,
 * later, with NULL or the call that failed.
 */
typedef void (*ngx_booking_step_pt)(ngx_booking_req_t *req,
    ngx_booking_call_t *failed);

ngx_booking_call_t *ngx_booking_index_user(ngx_booking_req_t *req,
    ngx_str_t *id, ngx_str_t *score, ngx_booking_call_pt handler);
void ngx_booking_unindex_user(ngx_booking_req_t *req, ngx_str_t *id);
void ngx_booking_index_again(ngx_booking_call_t *zadd);
ngx_int_t ngx_booking_index_type(ngx_booking_req_t *req, ngx_str_t *type,
    ngx_str_t *rid, ngx_str_t *lat, ngx_str_t *lon, ngx_booking_step_pt done);
ngx_int_t ngx_booking_unindex_type(ngx_booking_req_t *req, ngx_str_t *type,
    ngx_str_t *rid, ngx_booking_step_pt done);


/*
 * max_active and quotas, claimed in the user's hash slot
 * (ngx_booking_quota.c): one claim a booking, all of a request's or none
 */
typedef struct {
    ngx_str_t                   id;
    ngx_str_t                   rid;
    ngx_booking_type_t         *type;        /* its resource's, once read */
    ngx_str_t                   score;       /* in the user's index */
    int64_t                     start;       /* -1: timeless */
    int64_t                     end;
    ngx_uint_t                  made;        /* its booking was made */
} ngx_booking_claim_t;

/* a series' claims, once its resource's type (and so its clock) is known */
typedef ngx_int_t (*ngx_booking_claims_pt)(ngx_booking_req_t *req,
    ngx_booking_type_t *type, void *data, ngx_booking_claim_t *claims,
    ngx_uint_t *n);

typedef ngx_int_t (*ngx_booking_then_pt)(void *data);

ngx_uint_t ngx_booking_quota_any(ngx_booking_ops_conf_t *conf);
void ngx_booking_quota_then(ngx_booking_req_t *req, ngx_booking_then_pt then,
    void *data);
ngx_int_t ngx_booking_quota_claim(ngx_booking_req_t *req,
    ngx_booking_call_t *create, ngx_str_t *claimed, ngx_str_t *rid,
    ngx_booking_claim_t *claims, ngx_uint_t n, ngx_booking_claims_pt timed,
    void *data);
void ngx_booking_quota_unclaim(ngx_booking_req_t *req);
ngx_int_t ngx_booking_quota_answer(ngx_booking_req_t *req);
void ngx_booking_quota_release_periods(ngx_booking_req_t *req,
    ngx_str_t *user, ngx_str_t *type, ngx_str_t *id, int64_t start,
    int64_t end, int64_t made);
void ngx_booking_quota_release(ngx_booking_req_t *req, ngx_str_t *user,
    ngx_str_t *type, ngx_str_t *id);
void ngx_booking_release_claims(ngx_booking_req_t *req,
    ngx_booking_rec_t *rec);


/* reads without a script (ngx_booking_peek.c) */
typedef struct {
    ngx_uint_t                  found;
    ngx_str_t                   type;
    ngx_str_t                   doc;         /* when asked for */
    ngx_str_t                   hours;       /* compact; empty: none */
    int64_t                     slot;
    int64_t                     capacity;
    int64_t                     used;
    int64_t                     due;         /* 0: not known */
} ngx_booking_peek_t;

ngx_booking_call_t *ngx_booking_peek_resource(ngx_booking_req_t *req,
    ngx_str_t *id, ngx_uint_t doc, ngx_booking_call_pt handler);
ngx_booking_call_t *ngx_booking_peek_chunks(ngx_booking_req_t *req,
    ngx_str_t *id, size_t count, ngx_booking_call_pt handler);
ngx_int_t ngx_booking_peek_chunk(ngx_booking_req_t *req,
    ngx_booking_call_t *call, size_t at, int64_t first, size_t count);
ngx_booking_call_t *ngx_booking_peek_time(ngx_booking_req_t *req,
    ngx_booking_call_pt handler);
int64_t ngx_booking_peek_now(ngx_booking_fields_t *f);
ngx_int_t ngx_booking_peek_parse(ngx_booking_req_t *req,
    ngx_booking_fields_t *f, ngx_booking_peek_t *p);
ngx_uint_t ngx_booking_peek_fresh(ngx_booking_peek_t *p, int64_t now);


#endif /* _NGX_BOOKING_OPS_H_INCLUDED_ */

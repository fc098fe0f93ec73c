/*
 * Redis replies, read and decoded: a RESP reader with bounded arrays, and
 * what each reply the module reads means, as typed results.  Part of the
 * store layer, but plain C and hiredis's types, so that the unit tests and
 * the fuzzer feed it any RESP at all.  A result's strings point into the
 * reply: valid while it is (the store's handler), copied by whoever keeps
 * them longer.
 */

#ifndef _NGX_BOOKING_REPLY_H_INCLUDED_
#define _NGX_BOOKING_REPLY_H_INCLUDED_


#include "ngx_booking_core.h"


struct redisReply;
struct redisReader;


/*
 * A RESP reader whose arrays hold at most a million elements: hiredis
 * 0.14 allocates an array from the count in its header, so "*1764720000"
 * from a broken server would take 14 GB before one element arrived.
 */
#define NGX_BOOKING_REPLY_ELEMENTS_MAX  1000000

struct redisReader *ngx_booking_reader_create(void);


typedef struct {
    const u_char           *data;
    size_t                  len;
} ngx_booking_span_t;


/* a script's refusal: {"err", status, code, message[, field]} */
typedef struct {
    int                     status;
    ngx_booking_span_t      code;
    ngx_booking_span_t      message;
    ngx_booking_span_t      field;
} ngx_booking_refusal_t;


/* a booking, as the contract's tuple gives it; -1: does not apply */
typedef struct {
    int                     http;
    int                     replayed;
    ngx_booking_span_t      id;
    ngx_booking_span_t      resource;       /* the id up to its last dot */
    ngx_booking_span_t      type;
    ngx_booking_span_t      status;
    ngx_booking_span_t      kind;
    ngx_booking_span_t      user;
    ngx_booking_span_t      note;
    int64_t                 start;
    int64_t                 end;
    int64_t                 quantity;
    int64_t                 created_at;
    int64_t                 expires_at;
    int64_t                 updated_at;
    int64_t                 slot;
} ngx_booking_rec_t;


/* too few units free: the range's counters (timed), or the stock's free */
typedef struct {
    int64_t                 capacity;
    int64_t                 slot;           /* 0: timeless */
    int64_t                 start;
    int64_t                 quantity;
    int64_t                 free;
    ngx_booking_span_t      counters;
} ngx_booking_conflict_t;


/* an availability read: n slots from start, or a stock's units in use */
typedef struct {
    ngx_booking_span_t      type;
    int64_t                 slot;           /* 0: timeless */
    int64_t                 capacity;
    int64_t                 start;
    int64_t                 used;
    size_t                  n;
} ngx_booking_avail_t;


/* a resource's document, as PUT wrote it, or read back */
typedef struct {
    int                     found;
    int                     created;
    ngx_booking_span_t      doc;
    int64_t                 created_at;
    int64_t                 updated_at;
} ngx_booking_doc_t;


/* one candidate of a listing page */
typedef struct {
    int                     gone;
    ngx_booking_span_t      doc;            /* empty: too few units free */
    int64_t                 free;           /* -1: no range, not stock */
} ngx_booking_free_t;


typedef struct {
    ngx_booking_span_t      rand;
    int64_t                 start;
    int64_t                 end;
    int64_t                 updated_at;
    int                     block;
} ngx_booking_event_t;


typedef struct {
    int64_t                 slot;
    ngx_booking_span_t      name;
    size_t                  n;
    ngx_booking_event_t    *events;
} ngx_booking_calendar_t;


/* bookings one after another; missing ones ("") have no id */
typedef struct {
    ngx_booking_span_t      next;
    size_t                  n;
    ngx_booking_rec_t      *recs;
} ngx_booking_page_t;


/* ids in order, with their distances (-1 without one) or scores */
typedef struct {
    size_t                  n;
    ngx_booking_span_t     *ids;
    double                 *values;
} ngx_booking_ids_t;


/* what the caller expects; a refusal may come instead of most */
#define NGX_BOOKING_R_REFUSED     1
#define NGX_BOOKING_R_BOOKING     2     /* a tuple, or a conflict */
#define NGX_BOOKING_R_CONFLICT    3
#define NGX_BOOKING_R_AVAIL       4
#define NGX_BOOKING_R_PUT         5     /* resource_put */
#define NGX_BOOKING_R_GET         6     /* HMGET doc created_at updated_at */
#define NGX_BOOKING_R_DONE        7     /* {'ok'} */
#define NGX_BOOKING_R_FREE        8
#define NGX_BOOKING_R_CALENDAR    9
#define NGX_BOOKING_R_PAGE        10    /* {'ok', next, tuple...} */
#define NGX_BOOKING_R_RECS        11    /* {'ok', tuple or ''...} */
#define NGX_BOOKING_R_IDS         12    /* [id...] */
#define NGX_BOOKING_R_NEAR        13    /* [[id, distance]...] */
#define NGX_BOOKING_R_SCORED      14    /* [id, score, id, score...] */
#define NGX_BOOKING_R_STATUS      15    /* +OK, :n, anything */


typedef struct {
    int                      kind;
    ngx_booking_refusal_t    refusal;
    ngx_booking_rec_t        booking;
    ngx_booking_conflict_t   conflict;
    ngx_booking_avail_t      avail;
    ngx_booking_doc_t        doc;
    ngx_booking_free_t       free;
    ngx_booking_calendar_t   calendar;
    ngx_booking_page_t       page;
    ngx_booking_ids_t        ids;
    const struct redisReply *reply;
} ngx_booking_result_t;


/* arrays of results are allocated by the caller's allocator */
typedef void *(*ngx_booking_alloc_pt)(void *ctx, size_t size);

/*
 * Checks the reply's shape for what the caller expects and decodes it:
 * NGX_BOOKING_OK with res->kind set, or NGX_BOOKING_ERROR (a reply the
 * module did not expect, or no memory).
 */
int ngx_booking_decode(int expect, const struct redisReply *r,
    ngx_booking_result_t *res, ngx_booking_alloc_pt alloc, void *ctx);

/*
 * The 4 * n bytes of counters of a decoded availability read, its parts
 * put end to end, each padded with zeros to its share of the range.
 */
void ngx_booking_reply_counters(const ngx_booking_result_t *res,
    u_char *dst);


#endif /* _NGX_BOOKING_REPLY_H_INCLUDED_ */

/*
 * The view layer: what an answer says, written out.  A small JSON writer
 * into a pool, and the answers of the API (bookings, resources,
 * availability, conflicts, listing pages, errors, calendar feeds) from
 * the store's typed results.  Nothing here knows a request.
 */

#ifndef _NGX_BOOKING_VIEW_H_INCLUDED_
#define _NGX_BOOKING_VIEW_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>           /* the status codes, NGX_HTTP_* */

#include "ngx_booking_core.h"


#define NGX_BOOKING_UNPROCESSABLE  422


/* a text being written; on allocation failure "failed" is set */
typedef struct {
    u_char                     *start;
    u_char                     *pos;
    u_char                     *end;
    ngx_pool_t                 *pool;
    ngx_uint_t                  failed;
} ngx_booking_json_t;


/* what an operation answers: the http layer sends it */
typedef struct {
    ngx_uint_t                  status;
    ngx_str_t                   body;
    ngx_str_t                   type;       /* empty: application/json */
    ngx_str_t                   token;      /* the Booking-Token header */
    ngx_str_t                   code;       /* the error's, for the logs */
    unsigned                    replayed:1; /* Idempotent-Replayed */
} ngx_booking_answer_t;


/* one resource of a listing page */
typedef struct {
    ngx_str_t                   doc;
    int64_t                     free;       /* -1: not shown */
    double                      dist;       /* -1: not shown */
} ngx_booking_item_t;


#define ngx_booking_json_lit(j, s)                                          \
    ngx_booking_json_raw(j, (u_char *) s, sizeof(s) - 1)

ngx_int_t ngx_booking_json_init(ngx_booking_json_t *j, ngx_pool_t *pool,
    size_t size);
ngx_int_t ngx_booking_json_reserve(ngx_booking_json_t *j, size_t n);
void ngx_booking_json_raw(ngx_booking_json_t *j, u_char *s, size_t len);
void ngx_booking_json_str(ngx_booking_json_t *j, u_char *s, size_t len);
void ngx_booking_json_span(ngx_booking_json_t *j, ngx_booking_span_t *s);
void ngx_booking_json_int(ngx_booking_json_t *j, int64_t n);
void ngx_booking_json_time(ngx_booking_json_t *j, int64_t t,
    ngx_uint_t date);
void ngx_booking_json_slot(ngx_booking_json_t *j, int64_t slot);
void ngx_booking_json_ical(ngx_booking_json_t *j, u_char *s, size_t len);
struct json_t;
void ngx_booking_json_value(ngx_booking_json_t *j, struct json_t *v);

/* the text written, with the newline that ends every answer */
ngx_int_t ngx_booking_json_done(ngx_booking_json_t *j, ngx_str_t *body);


/* every answer: NGX_OK, or NGX_ERROR when there was no memory for it */
ngx_int_t ngx_booking_view_error(ngx_booking_answer_t *a, ngx_pool_t *pool,
    ngx_uint_t status, ngx_str_t *code, ngx_str_t *message,
    ngx_str_t *field);
ngx_int_t ngx_booking_view_quota(ngx_booking_answer_t *a, ngx_pool_t *pool,
    ngx_str_t *quota, int64_t period_start);
ngx_int_t ngx_booking_view_fail(ngx_booking_answer_t *a, ngx_pool_t *pool,
    ngx_uint_t status, const char *code, const char *message,
    const char *field);
ngx_int_t ngx_booking_view_refusal(ngx_booking_answer_t *a,
    ngx_pool_t *pool, ngx_booking_refusal_t *refusal);
ngx_int_t ngx_booking_view_conflict(ngx_booking_answer_t *a,
    ngx_pool_t *pool, ngx_booking_conflict_t *c);

void ngx_booking_view_booking(ngx_booking_json_t *j, ngx_booking_rec_t *rec,
    ngx_str_t *token);
ngx_int_t ngx_booking_view_group(ngx_booking_answer_t *a, ngx_pool_t *pool,
    ngx_booking_group_t *g, ngx_str_t *rid, ngx_str_t *token);
ngx_int_t ngx_booking_view_one(ngx_booking_answer_t *a, ngx_pool_t *pool,
    ngx_booking_rec_t *rec, ngx_str_t *token);
ngx_int_t ngx_booking_view_bookings(ngx_booking_answer_t *a,
    ngx_pool_t *pool, ngx_booking_rec_t **recs, ngx_uint_t n,
    ngx_str_t *next);
ngx_int_t ngx_booking_view_entry(ngx_booking_answer_t *a, ngx_pool_t *pool,
    ngx_booking_rec_t *rec);
ngx_int_t ngx_booking_view_entries(ngx_booking_answer_t *a,
    ngx_pool_t *pool, ngx_booking_rec_t *recs, ngx_uint_t n);

ngx_int_t ngx_booking_view_resource(ngx_booking_answer_t *a,
    ngx_pool_t *pool, ngx_uint_t status, ngx_booking_doc_t *doc);
/* the closed time of a range (opening hours), in order: nothing if n 0 */
typedef struct {
    size_t                      n;
    int64_t                    *start;
    int64_t                    *end;
} ngx_booking_closed_t;

ngx_int_t ngx_booking_view_availability(ngx_booking_answer_t *a,
    ngx_pool_t *pool, ngx_str_t *id, ngx_str_t *slot_text,
    ngx_booking_avail_t *av, u_char *counters, ngx_booking_closed_t *closed);
ngx_int_t ngx_booking_view_listing(ngx_booking_answer_t *a,
    ngx_pool_t *pool, ngx_booking_item_t *items, ngx_uint_t n,
    ngx_str_t *next);
ngx_int_t ngx_booking_view_calendar(ngx_booking_answer_t *a,
    ngx_pool_t *pool, ngx_str_t *id, ngx_booking_calendar_t *cal);


#endif /* _NGX_BOOKING_VIEW_H_INCLUDED_ */

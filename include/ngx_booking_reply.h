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
void ngx_booking_reply_free(void *reply);


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

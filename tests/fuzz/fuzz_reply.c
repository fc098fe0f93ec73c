/*
 * Redis replies as the module decodes them: any bytes go through the
 * module's redisReader (hiredis's parser, bounded arrays), and every reply
 * through the decoder as every kind of result; where it is one, every
 * field the module then reads is read (counters are turned into runs).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "ngx_booking_reply.h"


static volatile size_t  sink;


static void *
alloc(void *ctx, size_t size)
{
    void  **list = ctx, **p;

    /* a list of what was allocated, freed after the input */
    p = malloc(sizeof(void *) + size);
    if (p == NULL) {
        return NULL;
    }

    p[0] = *list;
    *list = p;

    return p + 1;
}


static void
release(void *list)
{
    void  **p, **next;

    for (p = list; p != NULL; p = next) {
        next = p[0];
        free(p);
    }
}


static void
span(const ngx_booking_span_t *s)
{
    if (s->len) {
        sink += s->data[0] + s->data[s->len - 1];
    }
}


/* every field a decoded result says it has is read, runs made */
static void
check(const redisReply *r)
{
    int                    expect;
    void                  *list;
    size_t                 i, n, k;
    u_char                *counters, *json, *end;
    ngx_booking_run_t     *runs;
    ngx_booking_result_t   res;

    for (expect = NGX_BOOKING_R_BOOKING; expect <= NGX_BOOKING_R_GROUP;
         expect++)
    {
        list = NULL;

        if (ngx_booking_decode(expect, r, &res, alloc, &list)
            != NGX_BOOKING_OK)
        {
            release(list);
            continue;
        }

        switch (res.kind) {

        case NGX_BOOKING_R_REFUSED:
            span(&res.refusal.code);
            span(&res.refusal.message);
            span(&res.refusal.field);
            break;

        case NGX_BOOKING_R_BOOKING:
            span(&res.booking.id);
            span(&res.booking.resource);
            span(&res.booking.note);
            break;

        case NGX_BOOKING_R_CONFLICT:
            if (res.conflict.slot == 0) {
                break;
            }

            n = res.conflict.counters.len / 4;
            runs = malloc(n * sizeof(ngx_booking_run_t));
            if (runs != NULL) {
                sink += ngx_booking_runs(res.conflict.counters.data, n,
                                         res.conflict.start,
                                         res.conflict.slot,
                                         res.conflict.capacity, runs);
            }

            free(runs);
            break;

        case NGX_BOOKING_R_AVAIL:
            if (res.avail.slot == 0) {
                break;
            }

            n = res.avail.n;
            counters = malloc(n * 4);
            runs = malloc(n * sizeof(ngx_booking_run_t));
            json = malloc(n * NGX_BOOKING_RUN_JSON_LEN);

            if (counters != NULL && runs != NULL && json != NULL) {
                ngx_booking_reply_counters(&res, counters);
                k = ngx_booking_runs(counters, n, res.avail.start,
                                     res.avail.slot, res.avail.capacity,
                                     runs);
                end = ngx_booking_runs_json(json, runs, k,
                                            ngx_booking_day_slot(
                                                res.avail.slot));
                if ((size_t) (end - json) > k * NGX_BOOKING_RUN_JSON_LEN) {
                    abort();
                }

                sink += k + (end - json);
            }

            free(counters);
            free(runs);
            free(json);
            break;

        case NGX_BOOKING_R_PUT:
            span(&res.doc.was);
            /* fall through */

        case NGX_BOOKING_R_GET:
            span(&res.doc.doc);
            break;

        case NGX_BOOKING_R_DONE:
            span(&res.doc.was);
            break;

        case NGX_BOOKING_R_FREE:
            span(&res.free.doc);
            break;

        case NGX_BOOKING_R_CALENDAR:
            span(&res.calendar.name);
            for (i = 0; i < res.calendar.n; i++) {
                span(&res.calendar.events[i].rand);
            }
            break;

        case NGX_BOOKING_R_PAGE:
        case NGX_BOOKING_R_RECS:
            for (i = 0; i < res.page.n; i++) {
                span(&res.page.recs[i].id);
            }
            break;

        case NGX_BOOKING_R_IDS:
        case NGX_BOOKING_R_NEAR:
        case NGX_BOOKING_R_SCORED:
            for (i = 0; i < res.ids.n; i++) {
                span(&res.ids.ids[i]);
                sink += (res.ids.values[i] > 0);
            }
            break;

        case NGX_BOOKING_R_GROUP:
            span(&res.group.rand);
            span(&res.group.listed);
            for (i = 0; i < res.group.items.n; i++) {
                span(&res.group.items.recs[i].id);
                span(&res.group.items.recs[i].group);
            }
            break;

        case NGX_BOOKING_R_FIELDS:
            for (i = 0; i < res.fields.n; i++) {
                if (res.fields.v[i].data != NULL) {
                    span(&res.fields.v[i]);
                }
            }
            break;
        }

        release(list);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    void         *reply;
    redisReader  *reader;

    reader = ngx_booking_reader_create();
    if (reader == NULL) {
        return 0;
    }

    if (redisReaderFeed(reader, (const char *) data, size) == REDIS_OK) {
        for ( ;; ) {
            reply = NULL;

            if (redisReaderGetReply(reader, &reply) != REDIS_OK
                || reply == NULL)
            {
                break;
            }

            check(reply);
            ngx_booking_reply_free(reply);
        }
    }

    redisReaderFree(reader);

    return 0;
}

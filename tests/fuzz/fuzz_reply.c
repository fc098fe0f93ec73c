/*
 * Redis replies as the module decodes them: any bytes go through the
 * module's redisReader (hiredis's parser, bounded arrays), and every reply
 * through every shape check; where a check
 * passes, the fields the module then reads are read the same way (the
 * availability counters are turned into runs).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "ngx_booking_core.h"


static volatile size_t  sink;


static void
touch(const redisReply *e)
{
    int64_t  v;

    if (e->type == REDIS_REPLY_STRING && e->len) {
        sink += (unsigned char) e->str[0] + (unsigned char) e->str[e->len - 1];
    }

    if (ngx_booking_reply_int(e, &v) == NGX_BOOKING_OK) {
        sink += (size_t) v;
    }
}


static void
check(const redisReply *r)
{
    size_t              i, n, k;
    u_char             *counters, *json, *end;
    ngx_booking_run_t  *runs;

    (void) ngx_booking_reply_script_error(r);

    if (ngx_booking_reply_tuple(r) == NGX_BOOKING_OK
        || ngx_booking_reply_unavailable(r) == NGX_BOOKING_OK
        || ngx_booking_reply_put(r) == NGX_BOOKING_OK
        || ngx_booking_reply_calendar(r) == NGX_BOOKING_OK
        || ngx_booking_reply_list(r) == NGX_BOOKING_OK)
    {
        for (i = 0; i < r->elements; i++) {
            if (r->element[i]->type != REDIS_REPLY_ARRAY) {
                touch(r->element[i]);
            }
        }
    }

    if (ngx_booking_reply_get(r) == NGX_BOOKING_OK
        && r->element[0]->type != REDIS_REPLY_NIL)
    {
        touch(r->element[0]);
        touch(r->element[1]);
        touch(r->element[2]);
    }

    if (ngx_booking_reply_free(r) == NGX_BOOKING_OK && r->elements == 2) {
        touch(r->element[0]);
        touch(r->element[1]);
    }

    (void) ngx_booking_reply_candidates(r, 0);
    (void) ngx_booking_reply_candidates(r, 1);

    if (ngx_booking_reply_availability(r) == NGX_BOOKING_OK
        && r->element[2]->integer > 0)
    {
        n = (size_t) r->element[5]->integer;
        counters = malloc(n * 4);
        runs = malloc(n * sizeof(ngx_booking_run_t));
        json = malloc(n * NGX_BOOKING_RUN_JSON_LEN);

        if (counters != NULL && runs != NULL && json != NULL) {
            ngx_booking_reply_counters(r, counters);
            k = ngx_booking_runs(counters, n, r->element[4]->integer,
                                 r->element[2]->integer,
                                 r->element[3]->integer, runs);
            end = ngx_booking_runs_json(json, runs, k,
                                        r->element[2]->integer % 86400 == 0);
            if ((size_t) (end - json) > k * NGX_BOOKING_RUN_JSON_LEN) {
                abort();
            }

            sink += k + (end - json);
        }

        free(counters);
        free(runs);
        free(json);
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
            freeReplyObject(reply);
        }
    }

    redisReaderFree(reader);

    return 0;
}

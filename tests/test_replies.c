/*
 * Unit tests of Redis replies as the module reads them (store layer,
 * ngx_booking_reply.c): RESP bytes through the module's own reader, then
 * decoded into typed results: availability counters put end to end,
 * tuples, refusals, conflicts.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <hiredis/hiredis.h>

#include "ngx_booking_reply.h"
#include "ngx_booking_contract.h"


static void *
alloc(void *ctx, size_t size)
{
    (void) ctx;

    return test_malloc(size);
}


static int
avail(redisReply *r, ngx_booking_result_t *res)
{
    return ngx_booking_decode(NGX_BOOKING_R_AVAIL, r, res, alloc, NULL);
}


/* the reply to RESP text, through the module's reader */
static redisReply *
parse(const char *resp, size_t len)
{
    void         *reply;
    redisReader  *reader;

    reader = ngx_booking_reader_create();
    assert_non_null(reader);

    assert_int_equal(redisReaderFeed(reader, resp, len), REDIS_OK);
    reply = NULL;
    assert_int_equal(redisReaderGetReply(reader, &reply), REDIS_OK);
    assert_non_null(reply);

    redisReaderFree(reader);

    return reply;
}


/* {'ok', 'car', slot, 2, start, n, part...}: parts given as raw strings */
static redisReply *
availability(int64_t slot, int64_t start, int64_t n, size_t nparts,
    const char **parts, const size_t *lens)
{
    char    buf[8192], *p;
    size_t  i;

    p = buf;
    p += sprintf(p, "*%zu\r\n$2\r\nok\r\n$3\r\ncar\r\n:%lld\r\n:2\r\n"
                 ":%lld\r\n:%lld\r\n", 6 + nparts, (long long) slot,
                 (long long) start, (long long) n);

    for (i = 0; i < nparts; i++) {
        p += sprintf(p, "$%zu\r\n", lens[i]);
        memcpy(p, parts[i], lens[i]);
        p += lens[i];
        *p++ = '\r';
        *p++ = '\n';
    }

    return parse(buf, p - buf);
}


/* the reply is accepted, and its counters are want */
static void
counters_are(redisReply *r, const u_char *want, size_t len)
{
    u_char                out[64];
    ngx_booking_result_t  res;

    assert_true(len <= sizeof(out));
    assert_int_equal(avail(r, &res), NGX_BOOKING_OK);
    assert_int_equal(res.kind, NGX_BOOKING_R_AVAIL);

    memset(out, 0x5a, sizeof(out));
    ngx_booking_reply_counters(&res, out);
    assert_memory_equal(out, want, len);

    /* and not a byte more */
    assert_int_equal(out[len], 0x5a);

    ngx_booking_reply_free(r);
}


static void
test_counters_two_chunks(void **state)
{
    /* slots 1022 to 1026: two in one chunk, three in the next */
    static const char    *parts[] = { "\0\0\0\1\0\0\0\2", "\0\0\0\3" };
    static const size_t   lens[] = { 8, 4 };
    static const u_char   want[] = { 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3,
                                     0, 0, 0, 0, 0, 0, 0, 0 };

    (void) state;

    counters_are(availability(3600, 1022 * 3600LL, 5, 2, parts, lens), want,
                 sizeof(want));
}


static void
test_counters_nothing_stored(void **state)
{
    static const char    *parts[] = { "" };
    static const size_t   lens[] = { 0 };
    static const u_char   zeros[4 * 3];

    (void) state;

    counters_are(availability(86400, 20000 * 86400LL, 3, 1, parts, lens),
                 zeros, sizeof(zeros));
}


static void
test_counters_refused(void **state)
{
    redisReply            *r;
    ngx_booking_result_t   res;

    static const char    *two[] = { "\0\0\0\1\0\0\0\2", "\0\0\0\3" };
    static const char    *long_part[] = { "\0\0\0\1\0\0\0\2\0\0\0\3" };
    static const char    *odd[] = { "\0\0\1" };
    static const size_t   two_lens[] = { 8, 4 };
    static const size_t   long_lens[] = { 12 };
    static const size_t   odd_lens[] = { 3 };

    (void) state;

    /* a part too many, or too few, for the chunks the range touches */
    r = availability(3600, 0, 2, 2, two, two_lens);
    assert_int_equal(avail(r, &res), NGX_BOOKING_ERROR);
    ngx_booking_reply_free(r);

    r = availability(3600, 1022 * 3600LL, 5, 1, two, two_lens);
    assert_int_equal(avail(r, &res), NGX_BOOKING_ERROR);
    ngx_booking_reply_free(r);

    /* longer than its share, or not whole counters */
    r = availability(3600, 0, 2, 1, long_part, long_lens);
    assert_int_equal(avail(r, &res), NGX_BOOKING_ERROR);
    ngx_booking_reply_free(r);

    r = availability(3600, 0, 2, 1, odd, odd_lens);
    assert_int_equal(avail(r, &res), NGX_BOOKING_ERROR);
    ngx_booking_reply_free(r);

    /* no slots, too many slots, a start off the slots, past year 9999 */
    r = availability(3600, 0, 0, 1, odd, odd_lens);
    assert_int_equal(avail(r, &res), NGX_BOOKING_ERROR);
    ngx_booking_reply_free(r);

    r = availability(60, 0, NGX_BOOKING_READ_SLOTS_MAX + 1, 1, odd, odd_lens);
    assert_int_equal(avail(r, &res), NGX_BOOKING_ERROR);
    ngx_booking_reply_free(r);

    r = availability(3600, 1800, 1, 1, long_part, long_lens);
    assert_int_equal(avail(r, &res), NGX_BOOKING_ERROR);
    ngx_booking_reply_free(r);

    r = availability(86400, NGX_BOOKING_TIME_MAX - 86399, 2, 1, two, two_lens);
    assert_int_equal(avail(r, &res), NGX_BOOKING_ERROR);
    ngx_booking_reply_free(r);
}


static void
test_timeless(void **state)
{
    redisReply            *r;
    ngx_booking_result_t   res;

    static const char  ok[] = "*5\r\n$2\r\nok\r\n$4\r\ngift\r\n:0\r\n:10\r\n"
                              ":3\r\n";
    static const char  extra[] = "*6\r\n$2\r\nok\r\n$4\r\ngift\r\n:0\r\n"
                                 ":10\r\n:3\r\n$0\r\n\r\n";

    (void) state;

    r = parse(ok, sizeof(ok) - 1);
    assert_int_equal(avail(r, &res), NGX_BOOKING_OK);
    ngx_booking_reply_free(r);

    r = parse(extra, sizeof(extra) - 1);
    assert_int_equal(avail(r, &res), NGX_BOOKING_ERROR);
    ngx_booking_reply_free(r);
}


/* a tuple as the contract orders it; RESP made by hand */
static void
test_tuple(void **state)
{
    redisReply            *r;
    ngx_booking_result_t   res;
    static const char      t[] =
        "*16\r\n$2\r\nok\r\n:201\r\n$11\r\nroom-1.abcd\r\n$4\r\nroom\r\n"
        "$4\r\nheld\r\n$7\r\nbooking\r\n:1796342400\r\n:1796515200\r\n"
        ":2\r\n$3\r\nann\r\n:1796240000\r\n:1796240900\r\n$0\r\n\r\n"
        ":86400\r\n:0\r\n:1796240000\r\n";
    /* a waitlist entry: the same tuple, with its position and booking */
    static const char      entry[] =
        "*18\r\n$2\r\nok\r\n:201\r\n$11\r\nroom-1.abcd\r\n$4\r\nroom\r\n"
        "$7\r\nwaiting\r\n$7\r\nbooking\r\n:1796342400\r\n:1796515200\r\n"
        ":2\r\n$3\r\nann\r\n:1796240000\r\n$0\r\n\r\n$0\r\n\r\n"
        ":86400\r\n:0\r\n:1796240000\r\n:3\r\n$0\r\n\r\n";
    static const char      entry_bad[] =
        "*18\r\n$2\r\nok\r\n:201\r\n$11\r\nroom-1.abcd\r\n$4\r\nroom\r\n"
        "$7\r\nwaiting\r\n$7\r\nbooking\r\n:1796342400\r\n:1796515200\r\n"
        ":2\r\n$3\r\nann\r\n:1796240000\r\n$0\r\n\r\n$0\r\n\r\n"
        ":86400\r\n:0\r\n:1796240000\r\n$2\r\nx3\r\n$0\r\n\r\n";
    static const char      refused[] =
        "*5\r\n$3\r\nerr\r\n:409\r\n$8\r\nconflict\r\n$3\r\nno!\r\n"
        "$4\r\ntype\r\n";
    static const char      status[] =
        "*5\r\n$3\r\nerr\r\n:200\r\n$8\r\nconflict\r\n$3\r\nno!\r\n"
        "$4\r\ntype\r\n";

    (void) state;

    r = parse(t, sizeof(t) - 1);
    assert_int_equal(ngx_booking_decode(NGX_BOOKING_R_BOOKING, r, &res, alloc,
                                        NULL), NGX_BOOKING_OK);
    assert_int_equal(res.kind, NGX_BOOKING_R_BOOKING);
    assert_int_equal(res.booking.http, 201);
    assert_int_equal(res.booking.resource.len, 6);
    assert_memory_equal(res.booking.resource.data, "room-1", 6);
    assert_int_equal(res.booking.start, 1796342400);
    assert_int_equal(res.booking.quantity, 2);
    assert_int_equal(res.booking.expires_at, 1796240900);
    assert_int_equal(res.booking.note.len, 0);
    assert_int_equal(res.booking.slot, 86400);
    assert_int_equal(res.booking.position, -1);
    assert_int_equal(res.booking.booking.len, 0);
    ngx_booking_reply_free(r);

    r = parse(entry, sizeof(entry) - 1);
    assert_int_equal(ngx_booking_decode(NGX_BOOKING_R_BOOKING, r, &res, alloc,
                                        NULL), NGX_BOOKING_OK);
    assert_int_equal(res.booking.position, 3);
    assert_int_equal(res.booking.expires_at, -1);
    ngx_booking_reply_free(r);

    r = parse(entry_bad, sizeof(entry_bad) - 1);
    assert_int_equal(ngx_booking_decode(NGX_BOOKING_R_BOOKING, r, &res, alloc,
                                        NULL), NGX_BOOKING_ERROR);
    ngx_booking_reply_free(r);

    r = parse(refused, sizeof(refused) - 1);
    assert_int_equal(ngx_booking_decode(NGX_BOOKING_R_BOOKING, r, &res, alloc,
                                        NULL), NGX_BOOKING_OK);
    assert_int_equal(res.kind, NGX_BOOKING_R_REFUSED);
    assert_int_equal(res.refusal.status, 409);
    assert_int_equal(res.refusal.field.len, 4);
    ngx_booking_reply_free(r);

    /* a refusal with a status that is not an error's */
    r = parse(status, sizeof(status) - 1);
    assert_int_equal(ngx_booking_decode(NGX_BOOKING_R_BOOKING, r, &res, alloc,
                                        NULL), NGX_BOOKING_ERROR);
    ngx_booking_reply_free(r);
}


/* the counters of a conflict: whole counters, within a booking's bound */
static void
test_conflict(void **state)
{
    redisReply            *r;
    ngx_booking_result_t   res;
    static const char      ok[] =
        "*6\r\n$11\r\nunavailable\r\n:3\r\n:3600\r\n$10\r\n1796342400\r\n"
        ":2\r\n$8\r\n\0\0\0\2\0\0\0\3\r\n";
    static const char      odd[] =
        "*6\r\n$11\r\nunavailable\r\n:3\r\n:3600\r\n$10\r\n1796342400\r\n"
        ":2\r\n$7\r\n\0\0\0\2\0\0\0\r\n";
    static const char      stock[] =
        "*4\r\n$11\r\nunavailable\r\n:100\r\n:0\r\n:0\r\n";

    (void) state;

    r = parse(ok, sizeof(ok) - 1);
    assert_int_equal(ngx_booking_decode(NGX_BOOKING_R_BOOKING, r, &res, alloc,
                                        NULL), NGX_BOOKING_OK);
    assert_int_equal(res.kind, NGX_BOOKING_R_CONFLICT);
    assert_int_equal(res.conflict.counters.len, 8);
    assert_int_equal(res.conflict.quantity, 2);
    ngx_booking_reply_free(r);

    r = parse(odd, sizeof(odd) - 1);
    assert_int_equal(ngx_booking_decode(NGX_BOOKING_R_BOOKING, r, &res, alloc,
                                        NULL), NGX_BOOKING_ERROR);
    ngx_booking_reply_free(r);

    r = parse(stock, sizeof(stock) - 1);
    assert_int_equal(ngx_booking_decode(NGX_BOOKING_R_BOOKING, r, &res, alloc,
                                        NULL), NGX_BOOKING_OK);
    assert_int_equal(res.conflict.slot, 0);
    assert_int_equal(res.conflict.free, 0);
    ngx_booking_reply_free(r);
}


/* counters read as stored: the range's slots picked out of whole chunks */
static void
test_counters_from_chunks(void **state)
{
    int64_t               first;
    size_t                count;
    u_char                out[4 * 6 + 1], c0[1024], c1[8];
    ngx_booking_span_t    chunks[3];
    static const u_char   want[] = { 0, 0, 0, 7, 0, 0, 0, 9, 0, 0, 1, 0,
                                     0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0 };

    (void) state;

    /* slots 254 to 259: two at the end of chunk 0, four in chunk 1 */
    ngx_booking_chunks(254, 6, &first, &count);
    assert_int_equal(first, 0);
    assert_int_equal(count, 2);

    ngx_booking_chunks(256, 256, &first, &count);
    assert_int_equal(first, 1);
    assert_int_equal(count, 1);

    ngx_booking_chunks(0, 0, &first, &count);
    assert_int_equal(count, 0);

    memset(c0, 0, sizeof(c0));
    c0[254 * 4 + 3] = 7;
    c0[255 * 4 + 3] = 9;
    memcpy(c1, "\0\0\1\0\0\0\0\2", 8);    /* a short chunk: zeros after */

    chunks[0].data = c0;
    chunks[0].len = sizeof(c0);
    chunks[1].data = c1;
    chunks[1].len = sizeof(c1);

    memset(out, 0x5a, sizeof(out));
    ngx_booking_counters_from(out, 254, 6, chunks, 2, 0);
    assert_memory_equal(out, want, sizeof(want));
    assert_int_equal(out[sizeof(want)], 0x5a);
    assert_int_equal(ngx_booking_counters_max(out, 6), 256);

    /* a chunk never written (nil) reads as zeros */
    chunks[1].data = NULL;
    chunks[1].len = 0;
    ngx_booking_counters_from(out, 255, 3, chunks, 2, 0);
    assert_int_equal(ngx_booking_counters_max(out, 3), 9);
    assert_int_equal(ngx_booking_counters_max(out + 4, 2), 0);

    /* the largest a counter holds */
    memcpy(out, "\xff\xff\xff\xff", 4);
    assert_int_equal(ngx_booking_counters_max(out, 1), 4294967295LL);
}


/* a plain command's strings: HMGET with a field not there, TIME */
static void
test_fields(void **state)
{
    redisReply            *r;
    ngx_booking_result_t   res;
    static const char      hmget[] = "*3\r\n$3\r\ncar\r\n$-1\r\n$3\r\nerr\r\n";
    static const char      bad[] = "*2\r\n$1\r\na\r\n:1\r\n";

    (void) state;

    r = parse(hmget, sizeof(hmget) - 1);
    assert_int_equal(ngx_booking_decode(NGX_BOOKING_R_FIELDS, r, &res,
                                        alloc, NULL), NGX_BOOKING_OK);
    assert_int_equal(res.kind, NGX_BOOKING_R_FIELDS);
    assert_int_equal(res.fields.n, 3);
    assert_memory_equal(res.fields.v[0].data, "car", 3);
    assert_null(res.fields.v[1].data);
    assert_memory_equal(res.fields.v[2].data, "err", 3);
    test_free(res.fields.v);
    ngx_booking_reply_free(r);

    /* an integer among them is not a plain read's answer */
    r = parse(bad, sizeof(bad) - 1);
    assert_int_equal(ngx_booking_decode(NGX_BOOKING_R_FIELDS, r, &res,
                                        alloc, NULL), NGX_BOOKING_ERROR);
    test_free(res.fields.v);
    ngx_booking_reply_free(r);
}


/* resource_put and resource_delete answer the type the resource had */
static void
test_type_it_had(void **state)
{
    redisReply            *r;
    ngx_booking_result_t   res;
    static const char      put[] = "*6\r\n$2\r\nok\r\n:0\r\n$2\r\n{}\r\n"
                                   ":1700000000\r\n:1700000001\r\n"
                                   "$4\r\nspot\r\n";
    static const char      created[] = "*6\r\n$2\r\nok\r\n:1\r\n"
                                       "$2\r\n{}\r\n:1700000000\r\n"
                                       ":1700000000\r\n$0\r\n\r\n";
    static const char      old[] = "*5\r\n$2\r\nok\r\n:0\r\n$2\r\n{}\r\n"
                                   ":1700000000\r\n:1700000001\r\n";
    static const char      deleted[] = "*2\r\n$2\r\nok\r\n$4\r\ntool\r\n";
    static const char      done[] = "*1\r\n$2\r\nok\r\n";
    static const char      three[] = "*3\r\n$2\r\nok\r\n$1\r\na\r\n"
                                     "$1\r\nb\r\n";

    (void) state;

    memset(&res, 0, sizeof(res));
    r = parse(put, sizeof(put) - 1);
    assert_int_equal(ngx_booking_decode(NGX_BOOKING_R_PUT, r, &res, alloc,
                                        NULL), NGX_BOOKING_OK);
    assert_int_equal(res.doc.created, 0);
    assert_int_equal(res.doc.was.len, 4);
    assert_memory_equal(res.doc.was.data, "spot", 4);
    ngx_booking_reply_free(r);

    memset(&res, 0, sizeof(res));
    r = parse(created, sizeof(created) - 1);
    assert_int_equal(ngx_booking_decode(NGX_BOOKING_R_PUT, r, &res, alloc,
                                        NULL), NGX_BOOKING_OK);
    assert_int_equal(res.doc.created, 1);
    assert_int_equal(res.doc.was.len, 0);
    ngx_booking_reply_free(r);

    /* the answer of a script from before: not one this module takes */
    r = parse(old, sizeof(old) - 1);
    assert_int_equal(ngx_booking_decode(NGX_BOOKING_R_PUT, r, &res, alloc,
                                        NULL), NGX_BOOKING_ERROR);
    ngx_booking_reply_free(r);

    memset(&res, 0, sizeof(res));
    r = parse(deleted, sizeof(deleted) - 1);
    assert_int_equal(ngx_booking_decode(NGX_BOOKING_R_DONE, r, &res, alloc,
                                        NULL), NGX_BOOKING_OK);
    assert_memory_equal(res.doc.was.data, "tool", 4);
    ngx_booking_reply_free(r);

    memset(&res, 0, sizeof(res));
    r = parse(done, sizeof(done) - 1);
    assert_int_equal(ngx_booking_decode(NGX_BOOKING_R_DONE, r, &res, alloc,
                                        NULL), NGX_BOOKING_OK);
    assert_int_equal(res.doc.was.len, 0);
    ngx_booking_reply_free(r);

    r = parse(three, sizeof(three) - 1);
    assert_int_equal(ngx_booking_decode(NGX_BOOKING_R_DONE, r, &res, alloc,
                                        NULL), NGX_BOOKING_ERROR);
    ngx_booking_reply_free(r);
}


/* a group: its header, then its bookings as tuples; or why it was not */
static void
test_group(void **state)
{
    redisReply            *r;
    ngx_booking_result_t   res;
    static const char      made[] =
        "*12\r\n$5\r\ngroup\r\n:201\r\n$16\r\nAAAAAAAAAAAAAAAA\r\n"
        "$6\r\nseries\r\n:0\r\n$0\r\n\r\n$0\r\n\r\n$0\r\n\r\n"
        "$14\r\n[{\"code\":\"x\"}]\r\n:3600\r\n"
        "*19\r\n$2\r\nok\r\n:201\r\n$11\r\nroom-1.abcd\r\n$4\r\nroom\r\n"
        "$9\r\nconfirmed\r\n$7\r\nbooking\r\n:1796342400\r\n:1796346000\r\n"
        ":1\r\n$3\r\nann\r\n:1796240000\r\n$0\r\n\r\n$0\r\n\r\n"
        ":3600\r\n:0\r\n:1796240000\r\n$0\r\n\r\n$0\r\n\r\n"
        "$16\r\nAAAAAAAAAAAAAAAA\r\n"
        "*19\r\n$2\r\nok\r\n:201\r\n$11\r\nroom-1.abce\r\n$4\r\nroom\r\n"
        "$9\r\nconfirmed\r\n$7\r\nbooking\r\n:1796947200\r\n:1796950800\r\n"
        ":1\r\n$3\r\nann\r\n:1796240000\r\n$0\r\n\r\n$0\r\n\r\n"
        ":3600\r\n:0\r\n:1796240000\r\n$0\r\n\r\n$0\r\n\r\n"
        "$16\r\nAAAAAAAAAAAAAAAA\r\n";
    static const char      refused[] =
        "*10\r\n$5\r\ngroup\r\n:409\r\n$16\r\nAAAAAAAAAAAAAAAA\r\n"
        "$6\r\nseries\r\n:0\r\n$11\r\nunavailable\r\n$2\r\nno\r\n"
        "$0\r\n\r\n$0\r\n\r\n:3600\r\n";
    /* a refusal with bookings, an answer with a code: neither can be */
    static const char      mixed[] =
        "*10\r\n$5\r\ngroup\r\n:201\r\n$16\r\nAAAAAAAAAAAAAAAA\r\n"
        "$6\r\nseries\r\n:0\r\n$11\r\nunavailable\r\n$2\r\nno\r\n"
        "$0\r\n\r\n$0\r\n\r\n:3600\r\n";
    static const char      bad_listed[] =
        "*10\r\n$5\r\ngroup\r\n:200\r\n$16\r\nAAAAAAAAAAAAAAAA\r\n"
        "$6\r\nseries\r\n:0\r\n$0\r\n\r\n$0\r\n\r\n"
        "$0\r\n\r\n$5\r\n{}, 1\r\n:3600\r\n";
    static const char      bad_rand[] =
        "*10\r\n$5\r\ngroup\r\n:200\r\n$4\r\nA!AA\r\n"
        "$6\r\nseries\r\n:0\r\n$0\r\n\r\n$0\r\n\r\n"
        "$0\r\n\r\n$0\r\n\r\n:3600\r\n";

    (void) state;

    r = parse(made, sizeof(made) - 1);
    assert_int_equal(ngx_booking_decode(NGX_BOOKING_R_GROUP, r, &res, alloc,
                                        NULL), NGX_BOOKING_OK);
    assert_int_equal(res.kind, NGX_BOOKING_R_GROUP);
    assert_int_equal(res.group.http, 201);
    assert_int_equal(res.group.slot, 3600);
    assert_int_equal(res.group.items.n, 2);
    assert_int_equal(res.group.items.recs[1].start, 1796947200);
    assert_int_equal(res.group.items.recs[0].group.len, 16);
    assert_int_equal(res.group.listed.len, 14);
    test_free(res.group.items.recs);
    ngx_booking_reply_free(r);

    r = parse(refused, sizeof(refused) - 1);
    assert_int_equal(ngx_booking_decode(NGX_BOOKING_R_GROUP, r, &res, alloc,
                                        NULL), NGX_BOOKING_OK);
    assert_int_equal(res.group.http, 409);
    assert_int_equal(res.group.items.n, 0);
    assert_memory_equal(res.group.code.data, "unavailable", 11);
    ngx_booking_reply_free(r);

    r = parse(mixed, sizeof(mixed) - 1);
    assert_int_equal(ngx_booking_decode(NGX_BOOKING_R_GROUP, r, &res, alloc,
                                        NULL), NGX_BOOKING_ERROR);
    ngx_booking_reply_free(r);

    r = parse(bad_listed, sizeof(bad_listed) - 1);
    assert_int_equal(ngx_booking_decode(NGX_BOOKING_R_GROUP, r, &res, alloc,
                                        NULL), NGX_BOOKING_ERROR);
    ngx_booking_reply_free(r);

    r = parse(bad_rand, sizeof(bad_rand) - 1);
    assert_int_equal(ngx_booking_decode(NGX_BOOKING_R_GROUP, r, &res, alloc,
                                        NULL), NGX_BOOKING_ERROR);
    ngx_booking_reply_free(r);
}


/* a group across hash slots: its primary's decision, as fields */
static void
test_group_spread(void **state)
{
    redisReply            *r;
    ngx_booking_result_t   res;
    static const char      decided[] =
        "*4\r\n$6\r\nspread\r\n$9\r\nconfirmed\r\n$1\r\n0\r\n"
        "$11\r\na.1 a.2\nb.3\r\n";
    static const char      short_[] =
        "*3\r\n$6\r\nspread\r\n$9\r\nconfirmed\r\n$1\r\n0\r\n";

    (void) state;

    r = parse(decided, sizeof(decided) - 1);
    assert_int_equal(ngx_booking_decode(NGX_BOOKING_R_GROUP, r, &res, alloc,
                                        NULL), NGX_BOOKING_OK);
    assert_int_equal(res.kind, NGX_BOOKING_R_FIELDS);
    assert_int_equal(res.fields.n, 4);
    assert_memory_equal(res.fields.v[1].data, "confirmed", 9);
    assert_memory_equal(res.fields.v[3].data, "a.1 a.2\nb.3", 11);
    test_free(res.fields.v);
    ngx_booking_reply_free(r);

    /* three elements is no decision: read as a group, which it is not */
    r = parse(short_, sizeof(short_) - 1);
    assert_int_equal(ngx_booking_decode(NGX_BOOKING_R_GROUP, r, &res, alloc,
                                        NULL), NGX_BOOKING_ERROR);
    ngx_booking_reply_free(r);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters_two_chunks),
        cmocka_unit_test(test_counters_nothing_stored),
        cmocka_unit_test(test_counters_refused),
        cmocka_unit_test(test_counters_from_chunks),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_timeless),
        cmocka_unit_test(test_tuple),
        cmocka_unit_test(test_conflict),
        cmocka_unit_test(test_type_it_had),
        cmocka_unit_test(test_group),
        cmocka_unit_test(test_group_spread),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests of the availability reply as the module reads it
 * (ngx_booking_replies.c): RESP bytes through the module's own reader, the
 * shape check, then the counters put end to end.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <hiredis/hiredis.h>

#include "ngx_booking_core.h"


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
    u_char  out[64];

    assert_true(len <= sizeof(out));
    assert_int_equal(ngx_booking_reply_availability(r), NGX_BOOKING_OK);

    memset(out, 0x5a, sizeof(out));
    ngx_booking_reply_counters(r, out);
    assert_memory_equal(out, want, len);

    /* and not a byte more */
    assert_int_equal(out[len], 0x5a);

    freeReplyObject(r);
}


static void
test_counters_two_chunks(void **state)
{
    /* slots 1022 to 1026: two in the first chunk, three in the second */
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
    redisReply  *r;

    static const char    *two[] = { "\0\0\0\1\0\0\0\2", "\0\0\0\3" };
    static const char    *long_part[] = { "\0\0\0\1\0\0\0\2\0\0\0\3" };
    static const char    *odd[] = { "\0\0\1" };
    static const size_t   two_lens[] = { 8, 4 };
    static const size_t   long_lens[] = { 12 };
    static const size_t   odd_lens[] = { 3 };

    (void) state;

    /* a part too many, or too few, for the chunks the range touches */
    r = availability(3600, 0, 2, 2, two, two_lens);
    assert_int_equal(ngx_booking_reply_availability(r), NGX_BOOKING_ERROR);
    freeReplyObject(r);

    r = availability(3600, 1022 * 3600LL, 5, 1, two, two_lens);
    assert_int_equal(ngx_booking_reply_availability(r), NGX_BOOKING_ERROR);
    freeReplyObject(r);

    /* longer than its share, or not whole counters */
    r = availability(3600, 0, 2, 1, long_part, long_lens);
    assert_int_equal(ngx_booking_reply_availability(r), NGX_BOOKING_ERROR);
    freeReplyObject(r);

    r = availability(3600, 0, 2, 1, odd, odd_lens);
    assert_int_equal(ngx_booking_reply_availability(r), NGX_BOOKING_ERROR);
    freeReplyObject(r);

    /* no slots, too many slots, a start off the slots, past year 9999 */
    r = availability(3600, 0, 0, 1, odd, odd_lens);
    assert_int_equal(ngx_booking_reply_availability(r), NGX_BOOKING_ERROR);
    freeReplyObject(r);

    r = availability(60, 0, NGX_BOOKING_READ_SLOTS_MAX + 1, 1, odd, odd_lens);
    assert_int_equal(ngx_booking_reply_availability(r), NGX_BOOKING_ERROR);
    freeReplyObject(r);

    r = availability(3600, 1800, 1, 1, long_part, long_lens);
    assert_int_equal(ngx_booking_reply_availability(r), NGX_BOOKING_ERROR);
    freeReplyObject(r);

    r = availability(86400, NGX_BOOKING_TIME_MAX - 86399, 2, 1, two, two_lens);
    assert_int_equal(ngx_booking_reply_availability(r), NGX_BOOKING_ERROR);
    freeReplyObject(r);
}


static void
test_timeless(void **state)
{
    redisReply  *r;

    static const char  ok[] = "*5\r\n$2\r\nok\r\n$4\r\ngift\r\n:0\r\n:10\r\n"
                              ":3\r\n";
    static const char  extra[] = "*6\r\n$2\r\nok\r\n$4\r\ngift\r\n:0\r\n"
                                 ":10\r\n:3\r\n$0\r\n\r\n";

    (void) state;

    r = parse(ok, sizeof(ok) - 1);
    assert_int_equal(ngx_booking_reply_availability(r), NGX_BOOKING_OK);
    freeReplyObject(r);

    r = parse(extra, sizeof(extra) - 1);
    assert_int_equal(ngx_booking_reply_availability(r), NGX_BOOKING_ERROR);
    freeReplyObject(r);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters_two_chunks),
        cmocka_unit_test(test_counters_nothing_stored),
        cmocka_unit_test(test_counters_refused),
        cmocka_unit_test(test_timeless),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests of the key schema: CRC16-XMODEM and hash slots as the Redis
 * Cluster specification gives them, shards, and a resource's key names;
 * Redis Cluster's redirections and its table of slots.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ngx_booking_core.h"
#include "ngx_booking_contract.h"


#define S(s)    (const u_char *) (s), (sizeof(s) - 1)


static void
test_crc16(void **state)
{
    (void) state;

    /* the specification's own check value */
    assert_int_equal(ngx_booking_crc16(S("123456789")), 0x31c3);
    assert_int_equal(ngx_booking_crc16(S("")), 0);
}


/* every byte value, both ways */
static void
test_crc16_bytes(void **state)
{
    int     i;
    u_char  up[256], down[256];

    (void) state;

    for (i = 0; i < 256; i++) {
        up[i] = (u_char) i;
        down[i] = (u_char) (255 - i);
    }

    assert_int_equal(ngx_booking_crc16(up, 256), 0x7e55);
    assert_int_equal(ngx_booking_crc16(down, 256), 0x6492);
}


/*
 * An ETag changes with any byte of its body: each byte of a body of a
 * listing page's size changed in turn, and each length from 0 to 17 (the
 * tail shorter than a word), give hashes all different.
 */
static void
test_hash64(void **state)
{
    size_t     i, j, n;
    u_char     body[2200];
    uint64_t  *seen, h;

    (void) state;

    for (i = 0; i < sizeof(body); i++) {
        body[i] = (u_char) ('a' + i % 26);
    }

    assert_true(ngx_booking_hash64(body, sizeof(body))
                == ngx_booking_hash64(body, sizeof(body)));

    seen = test_malloc((sizeof(body) + 18) * sizeof(uint64_t));
    n = 0;

    for (i = 0; i < sizeof(body); i++) {
        body[i] ^= 0x01;
        seen[n++] = ngx_booking_hash64(body, sizeof(body));
        body[i] ^= 0x01;
    }

    memset(body, 0, 17);

    for (i = 0; i <= 17; i++) {
        seen[n++] = ngx_booking_hash64(body, i);
    }

    for (i = 0; i < n; i++) {
        h = seen[i];

        for (j = i + 1; j < n; j++) {
            assert_true(seen[j] != h);
        }
    }

    test_free(seen);
}


static void
test_hash_slot(void **state)
{
    (void) state;

    /* the specification's examples */
    assert_int_equal(ngx_booking_hash_slot(S("{user1000}.following")),
                     ngx_booking_hash_slot(S("{user1000}.followers")));
    assert_int_equal(ngx_booking_hash_slot(S("{user1000}.following")),
                     ngx_booking_hash_slot(S("user1000")));

    /* only the first {...}, and only when not empty */
    assert_int_equal(ngx_booking_hash_slot(S("foo{}{bar}")),
                     ngx_booking_crc16(S("foo{}{bar}")) % 16384);
    assert_int_equal(ngx_booking_hash_slot(S("foo{{bar}}zap")),
                     ngx_booking_crc16(S("{bar")) % 16384);
    assert_int_equal(ngx_booking_hash_slot(S("foo{bar}{zap}")),
                     ngx_booking_crc16(S("bar")) % 16384);
    assert_int_equal(ngx_booking_hash_slot(S("{")),
                     ngx_booking_crc16(S("{")) % 16384);

    /* redis-cli CLUSTER KEYSLOT: "foo" is 12182 */
    assert_int_equal(ngx_booking_hash_slot(S("foo")), 12182);
}


static void
test_rkey(void **state)
{
    u_char    buf[128], *p;
    unsigned  shard;
    char      tag[8];

    (void) state;

    shard = ngx_booking_shard(S("brest-loft"));
    assert_true(shard < NGX_BOOKING_SHARDS);
    snprintf(tag, sizeof(tag), "{s%02x}", shard);

    p = ngx_booking_rkey(buf, S("brest-loft"), NGX_BOOKING_KEY_C);
    *p = '\0';
    assert_int_equal((size_t) (p - buf),
                     ngx_booking_rkey_len(10, NGX_BOOKING_KEY_C));
    assert_memory_equal(buf, "bk:", 3);
    assert_memory_equal(buf + 3, tag, 5);
    assert_string_equal((char *) buf + 8, ":r:brest-loft:c");

    /* every key of a resource, and of its shard, in one hash slot */
    p = ngx_booking_rkey(buf, S("brest-loft"), NGX_BOOKING_KEY_R);
    assert_int_equal(ngx_booking_hash_slot(buf, p - buf),
                     ngx_booking_hash_slot((u_char *) tag, 5));

    /* "@events": the shard's stream, the resource's id not in it */
    p = ngx_booking_rkey(buf, S("brest-loft"), NGX_BOOKING_KEY_E);
    *p = '\0';
    assert_int_equal((size_t) (p - buf),
                     ngx_booking_rkey_len(10, NGX_BOOKING_KEY_E));
    assert_memory_equal(buf + 3, tag, 5);
    assert_string_equal((char *) buf + 8, ":events");
    assert_int_equal(ngx_booking_hash_slot(buf, p - buf),
                     ngx_booking_hash_slot((u_char *) tag, 5));

    p = ngx_booking_skey(buf, 0x3e, NGX_BOOKING_KEY_D);
    *p = '\0';
    assert_string_equal((char *) buf, "bk:{s3e}:due");
}


static void
test_shards_spread(void **state)
{
    char      id[16];
    unsigned  i, seen[NGX_BOOKING_SHARDS];

    (void) state;

    memset(seen, 0, sizeof(seen));

    for (i = 0; i < 6400; i++) {
        snprintf(id, sizeof(id), "room-%u", i);
        seen[ngx_booking_shard((u_char *) id, strlen(id))]++;
    }

    /* 100 ids a shard on average: none empty, none crowded */
    for (i = 0; i < NGX_BOOKING_SHARDS; i++) {
        assert_true(seen[i] > 50 && seen[i] < 150);
    }
}


static void
test_redirect(void **state)
{
    ngx_booking_redirect_t  r;

    (void) state;

    assert_int_equal(ngx_booking_redirect_parse(S("MOVED 3999 127.0.0.1:6381"),
                                                &r), NGX_BOOKING_OK);
    assert_int_equal(r.kind, NGX_BOOKING_MOVED);
    assert_int_equal(r.slot, 3999);
    assert_int_equal(r.port, 6381);
    assert_int_equal(r.host_len, 9);
    assert_memory_equal(r.host, "127.0.0.1", 9);

    assert_int_equal(ngx_booking_redirect_parse(S("ASK 16383 ::1:7000"), &r),
                     NGX_BOOKING_OK);
    assert_int_equal(r.kind, NGX_BOOKING_ASK);
    assert_int_equal(r.slot, 16383);
    assert_int_equal(r.port, 7000);
    assert_int_equal(r.host_len, 3);
    assert_memory_equal(r.host, "::1", 3);

    /* Redis 7: a node that does not know its endpoint, the same host */
    assert_int_equal(ngx_booking_redirect_parse(S("MOVED 0 :6380"), &r),
                     NGX_BOOKING_OK);
    assert_int_equal(r.host_len, 0);
    assert_int_equal(r.port, 6380);

    /* what is not a redirection, or not one to trust */
    assert_int_equal(ngx_booking_redirect_parse(S("MOVED 16384 h:1"), &r),
                     NGX_BOOKING_ERROR);
    assert_int_equal(ngx_booking_redirect_parse(S("MOVED -1 h:1"), &r),
                     NGX_BOOKING_ERROR);
    assert_int_equal(ngx_booking_redirect_parse(S("MOVED 1 h:0"), &r),
                     NGX_BOOKING_ERROR);
    assert_int_equal(ngx_booking_redirect_parse(S("MOVED 1 h:65536"), &r),
                     NGX_BOOKING_ERROR);
    assert_int_equal(ngx_booking_redirect_parse(S("MOVED 1 h"), &r),
                     NGX_BOOKING_ERROR);
    assert_int_equal(ngx_booking_redirect_parse(S("MOVED 1 h :1"), &r),
                     NGX_BOOKING_ERROR);
    assert_int_equal(ngx_booking_redirect_parse(S("MOVED 1"), &r),
                     NGX_BOOKING_ERROR);
    assert_int_equal(ngx_booking_redirect_parse(S("MOVED  h:1"), &r),
                     NGX_BOOKING_ERROR);
    assert_int_equal(ngx_booking_redirect_parse(S("READONLY You can't"), &r),
                     NGX_BOOKING_ERROR);
    assert_int_equal(ngx_booking_redirect_parse(S("moved 1 h:1"), &r),
                     NGX_BOOKING_ERROR);
}


static void
test_slots(void **state)
{
    static ngx_booking_slots_t  t;

    (void) state;

    ngx_booking_slots_clear(&t);
    assert_int_equal(t.covered, 0);
    assert_int_equal(ngx_booking_slots_node(&t, S("foo")), NGX_BOOKING_NO_NODE);

    /* the three ranges redis-cli --cluster create gives three masters */
    assert_int_equal(ngx_booking_slots_assign(&t, 0, 5460, 0), NGX_BOOKING_OK);
    assert_int_equal(ngx_booking_slots_assign(&t, 5461, 10922, 1),
                     NGX_BOOKING_OK);
    assert_int_equal(ngx_booking_slots_assign(&t, 10923, 16383, 2),
                     NGX_BOOKING_OK);
    assert_int_equal(t.covered, NGX_BOOKING_HASH_SLOTS);

    /* "foo" is slot 12182 (the MOVED example of Redis's documentation) */
    assert_int_equal(ngx_booking_hash_slot(S("foo")), 12182);
    assert_int_equal(ngx_booking_slots_node(&t, S("foo")), 2);
    assert_int_equal(ngx_booking_slots_node(&t, S("{foo}bar")), 2);
    /* "123456789": CRC16 0x31c3, slot 12739 */
    assert_int_equal(ngx_booking_slots_node(&t, S("123456789")), 2);

    /* overlaps, reversed or out-of-range ranges are refused, unchanged */
    assert_int_equal(ngx_booking_slots_assign(&t, 5460, 5460, 1),
                     NGX_BOOKING_ERROR);
    assert_int_equal(ngx_booking_slots_node(&t, S("foo")), 2);

    ngx_booking_slots_clear(&t);
    assert_int_equal(ngx_booking_slots_assign(&t, 10, 9, 0),
                     NGX_BOOKING_ERROR);
    assert_int_equal(ngx_booking_slots_assign(&t, 0, 16384, 0),
                     NGX_BOOKING_ERROR);
    assert_int_equal(ngx_booking_slots_assign(&t, 0, 1, NGX_BOOKING_NO_NODE),
                     NGX_BOOKING_ERROR);
    assert_int_equal(t.covered, 0);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc16),
        cmocka_unit_test(test_crc16_bytes),
        cmocka_unit_test(test_hash64),
        cmocka_unit_test(test_hash_slot),
        cmocka_unit_test(test_rkey),
        cmocka_unit_test(test_shards_spread),
        cmocka_unit_test(test_redirect),
        cmocka_unit_test(test_slots),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

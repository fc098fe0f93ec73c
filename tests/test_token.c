/*
 * Unit tests of hold tokens and booking ids (ngx_booking_token.c).
 * The expected tokens were computed independently (RFC 4231 case 2, and
 * Python's hmac module), so these tests check the bytes, not just a round
 * trip.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "ngx_booking_core.h"


#define S(s)  (const u_char *) (s), sizeof(s) - 1


static void
test_token_rfc4231(void **state)
{
    u_char  out[NGX_BOOKING_TOKEN_LEN];

    (void) state;

    assert_int_equal(ngx_booking_token(S("Jefe"),
                                       S("what do ya want for nothing?"),
                                       out),
                     NGX_BOOKING_OK);
    assert_memory_equal(out, "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM",
                        NGX_BOOKING_TOKEN_LEN);
}


static void
test_token_booking_id(void **state)
{
    u_char  out[NGX_BOOKING_TOKEN_LEN];

    (void) state;

    assert_int_equal(ngx_booking_token(S("0123456789abcdef"),
                                       S("room1.AAAAAAAAAAAAAAAA"), out),
                     NGX_BOOKING_OK);
    assert_memory_equal(out, "xxOHu66tplCbYOvAnf5PZUB7EXuvAA0tBUPsgFN7qN8",
                        NGX_BOOKING_TOKEN_LEN);
}


/*
 * A process keeps the keyed context of the last secret: keys in turn,
 * one longer than a block and than any kept before (RFC 4231 case 6),
 * each give their own token, whatever came before.
 */
static void
token_is(const u_char *key, size_t key_len, const u_char *id, size_t id_len,
    const char *expect)
{
    u_char  out[NGX_BOOKING_TOKEN_LEN];

    assert_int_equal(ngx_booking_token(key, key_len, id, id_len, out),
                     NGX_BOOKING_OK);
    assert_memory_equal(out, expect, NGX_BOOKING_TOKEN_LEN);
}


static void
test_token_keys_in_turn(void **state)
{
    int     i;
    u_char  big[131];

    (void) state;

    memset(big, 0xaa, sizeof(big));

    for (i = 0; i < 2; i++) {
        token_is(S("Jefe"), S("what do ya want for nothing?"),
                 "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM");
        token_is(big, sizeof(big),
                 S("Test Using Larger Than Block-Size Key - Hash Key First"),
                 "YOQxWR7gtn8Niiaqy_W3f44LxiE3KMUUBUYEDw7jf1Q");
        token_is(S("0123456789abcdef"), S("room1.AAAAAAAAAAAAAAAA"),
                 "xxOHu66tplCbYOvAnf5PZUB7EXuvAA0tBUPsgFN7qN8");
    }
}


static void
test_token_check(void **state)
{
    u_char  good[] = "xxOHu66tplCbYOvAnf5PZUB7EXuvAA0tBUPsgFN7qN8";
    u_char  bad[sizeof(good)];

    (void) state;

    assert_true(ngx_booking_token_check(S("0123456789abcdef"),
                                        S("room1.AAAAAAAAAAAAAAAA"),
                                        good, NGX_BOOKING_TOKEN_LEN));

    /* another booking, another key, a changed byte, a cut or long token */
    assert_false(ngx_booking_token_check(S("0123456789abcdef"),
                                         S("room1.AAAAAAAAAAAAAAAB"),
                                         good, NGX_BOOKING_TOKEN_LEN));
    assert_false(ngx_booking_token_check(S("0123456789abcdeF"),
                                         S("room1.AAAAAAAAAAAAAAAA"),
                                         good, NGX_BOOKING_TOKEN_LEN));

    memcpy(bad, good, sizeof(good));
    bad[NGX_BOOKING_TOKEN_LEN - 1] = 'O';
    assert_false(ngx_booking_token_check(S("0123456789abcdef"),
                                         S("room1.AAAAAAAAAAAAAAAA"),
                                         bad, NGX_BOOKING_TOKEN_LEN));

    assert_false(ngx_booking_token_check(S("0123456789abcdef"),
                                         S("room1.AAAAAAAAAAAAAAAA"),
                                         good, NGX_BOOKING_TOKEN_LEN - 1));
    assert_false(ngx_booking_token_check(S("0123456789abcdef"),
                                         S("room1.AAAAAAAAAAAAAAAA"),
                                         (u_char *) "", 0));
}


static void
test_random_id(void **state)
{
    int     i, j, same;
    u_char  ids[400][NGX_BOOKING_RAND_LEN];

    (void) state;

    /* several draws of the process's pool */
    for (i = 0; i < 400; i++) {
        assert_int_equal(ngx_booking_random_id(ids[i]), NGX_BOOKING_OK);
        assert_true(ngx_booking_rand_valid(ids[i], NGX_BOOKING_RAND_LEN));
    }

    same = 0;

    for (i = 0; i < 400; i++) {
        for (j = i + 1; j < 400; j++) {
            same += memcmp(ids[i], ids[j], NGX_BOOKING_RAND_LEN) == 0;
        }
    }

    assert_int_equal(same, 0);
}


/*
 * A worker is forked by a master that may have drawn ids: the child's
 * next id is never the one the parent gives next.
 */
static void
test_random_id_fork(void **state)
{
    int     fd[2], status;
    pid_t   pid;
    u_char  first[NGX_BOOKING_RAND_LEN], mine[NGX_BOOKING_RAND_LEN],
            child[NGX_BOOKING_RAND_LEN];

    (void) state;

    assert_int_equal(ngx_booking_random_id(first), NGX_BOOKING_OK);
    assert_int_equal(pipe(fd), 0);

    pid = fork();
    assert_true(pid >= 0);

    if (pid == 0) {
        if (ngx_booking_random_id(child) != NGX_BOOKING_OK
            || write(fd[1], child, sizeof(child)) != (ssize_t) sizeof(child))
        {
            _exit(1);
        }

        _exit(0);
    }

    assert_int_equal(ngx_booking_random_id(mine), NGX_BOOKING_OK);
    assert_int_equal(read(fd[0], child, sizeof(child)), sizeof(child));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    close(fd[0]);
    close(fd[1]);

    assert_memory_not_equal(mine, child, NGX_BOOKING_RAND_LEN);
    assert_memory_not_equal(first, child, NGX_BOOKING_RAND_LEN);
}


static void
test_rand_valid(void **state)
{
    (void) state;

    assert_true(ngx_booking_rand_valid(S("AZaz09-_AZaz09-_")));
    assert_false(ngx_booking_rand_valid(S("AZaz09-_AZaz09-")));
    assert_false(ngx_booking_rand_valid(S("AZaz09-_AZaz09-_A")));
    assert_false(ngx_booking_rand_valid(S("AZaz09-_AZaz09-.")));
    assert_false(ngx_booking_rand_valid(S("AZaz09-_AZaz09+/")));
    assert_false(ngx_booking_rand_valid((const u_char *)
                                        "AZaz09-_\0Zaz09-_", 16));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_token_rfc4231),
        cmocka_unit_test(test_token_booking_id),
        cmocka_unit_test(test_token_keys_in_turn),
        cmocka_unit_test(test_token_check),
        cmocka_unit_test(test_random_id),
        cmocka_unit_test(test_random_id_fork),
        cmocka_unit_test(test_rand_valid),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests of iCalendar text (ngx_booking_ical.c): TEXT escaping and
 * line folding at 75 octets (RFC 5545 3.1, 3.3.11).
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ngx_booking_core.h"


static size_t
escape(const char *in, u_char *out)
{
    size_t   len;
    u_char  *end;

    len = ngx_booking_ical_escape_len((const u_char *) in, strlen(in));
    end = ngx_booking_ical_escape(out, (const u_char *) in, strlen(in));
    assert_int_equal((size_t) (end - out), len);

    return len;
}


static void
test_escape(void **state)
{
    u_char  out[128];
    size_t  n;

    (void) state;

    n = escape("Loft; by the sea, \\ \"quiet\"\nsecond line", out);
    assert_int_equal(n, strlen("Loft\\; by the sea\\, \\\\ \"quiet\"\\nsecond line"));
    assert_memory_equal(out, "Loft\\; by the sea\\, \\\\ \"quiet\"\\nsecond line", n);

    /* CR and other control characters would break the line structure */
    n = escape("a\rb\tc\x01" "d\x7f" "e", out);
    assert_int_equal(n, 5);
    assert_memory_equal(out, "abcde", 5);

    n = escape("", out);
    assert_int_equal(n, 0);

    /* UTF-8 passes as it is */
    n = escape("Chambre \xc3\xa9t\xc3\xa9", out);
    assert_int_equal(n, 13);
    assert_memory_equal(out, "Chambre \xc3\xa9t\xc3\xa9", 13);
}


static u_char *
fold(const char *in, size_t *len)
{
    u_char  *out, *end;

    *len = ngx_booking_ical_fold_len((const u_char *) in, strlen(in));
    out = malloc(*len + 1);
    assert_non_null(out);

    end = ngx_booking_ical_fold(out, (const u_char *) in, strlen(in));
    assert_int_equal((size_t) (end - out), *len);
    out[*len] = '\0';

    return out;
}


/* every physical line at most 75 octets, none starting inside a sequence */
static void
check_lines(const u_char *s, size_t len)
{
    size_t  i, start;

    start = 0;

    for (i = 0; i + 1 < len; i++) {
        if (s[i] == '\r' && s[i + 1] == '\n') {
            assert_true(i - start <= 75);
            start = i + 2;

            if (start < len) {
                assert_true((s[start] & 0xc0) != 0x80);

                if (s[start] == ' ') {
                    assert_true(start + 1 >= len
                                || (s[start + 1] & 0xc0) != 0x80);
                }
            }
        }
    }

    assert_int_equal(start, len);
}


/* unfolding gives back the input, lines ended by CRLF */
static void
check_unfold(const u_char *s, size_t len, const char *in)
{
    size_t   i, n;
    u_char  *u;

    u = malloc(len + 1);
    assert_non_null(u);

    n = 0;

    for (i = 0; i < len; i++) {
        if (s[i] == '\r' && i + 2 < len && s[i + 1] == '\n'
            && s[i + 2] == ' ')
        {
            i += 2;
            continue;
        }

        u[n++] = s[i];
    }

    assert_int_equal(n, strlen(in));
    assert_memory_equal(u, in, n);
    free(u);
}


static void
test_fold_short(void **state)
{
    size_t   len;
    u_char  *out;

    (void) state;

    out = fold("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n", &len);
    assert_string_equal((char *) out, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n");
    free(out);

    /* a bare LF, or no ending at all, still ends in CRLF */
    out = fold("A:1\nB:2", &len);
    assert_string_equal((char *) out, "A:1\r\nB:2\r\n");
    free(out);
}


static void
test_fold_exact(void **state)
{
    char     in[256];
    size_t   len;
    u_char  *out;

    (void) state;

    /* 75 octets fit; the 76th goes to a continuation line */
    memset(in, 'x', 75);
    strcpy(in + 75, "\r\n");
    out = fold(in, &len);
    assert_int_equal(len, 77);
    free(out);

    memset(in, 'x', 76);
    strcpy(in + 76, "\r\n");
    out = fold(in, &len);
    assert_int_equal(len, 76 + 3 + 2);
    assert_memory_equal(out + 75, "\r\n x\r\n", 6);
    check_lines(out, len);
    free(out);

    /* continuation lines hold 74 octets after their space */
    memset(in, 'y', 75 + 74 + 1);
    strcpy(in + 150, "\r\n");
    out = fold(in, &len);
    check_lines(out, len);
    assert_memory_equal(out + 75 + 3 + 74, "\r\n y\r\n", 6);
    check_unfold(out, len, in);
    free(out);
}


static void
test_fold_utf8(void **state)
{
    char     in[512];
    size_t   i, len, off;
    u_char  *out;

    (void) state;

    /* a 2, 3 and 4 byte sequence straddling every possible cut */
    static const char *seq[] = { "\xc3\xa9", "\xe2\x82\xac",
                                 "\xf0\x9f\x8f\xa0" };

    for (i = 0; i < 3; i++) {
        for (off = 70; off < 76; off++) {
            memset(in, 'a', off);
            in[off] = '\0';
            strcat(in, "SUMMARY:");
            strcat(in, seq[i]);
            strcat(in, seq[i]);
            strcat(in, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
                       "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
            strcat(in, "\r\n");

            out = fold(in, &len);
            check_lines(out, len);
            check_unfold(out, len, in);
            free(out);
        }
    }
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_fold_short),
        cmocka_unit_test(test_fold_exact),
        cmocka_unit_test(test_fold_utf8),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

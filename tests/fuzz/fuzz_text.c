/*
 * Query strings, JSON escaping, ids, booking ids and hold tokens: the
 * first byte picks the query key looked up, the rest is the input.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ngx_booking_core.h"


static const char  *names[] = { "from", "to", "type", "cursor", "", "a" };


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char               buf[256], *out, *end;
    u_char               key[NGX_BOOKING_QUERY_KEY_LEN];
    size_t               len, n;
    json_t              *j;
    ngx_booking_query_t  q;
    ngx_booking_perr_t   err;

    if (size == 0) {
        return 0;
    }

    /* the query table, every route's arguments at once */
    if (ngx_booking_query_parse(data + 1, size - 1, 0x3ff, &q, &err)
        == NGX_BOOKING_OK)
    {
        end = ngx_booking_query_key(key, &q);
        if ((size_t) (end - key) > sizeof(key)) {
            abort();
        }
    }

    if (ngx_booking_query_arg(data + 1, size - 1,
                              names[data[0] % (sizeof(names)
                                               / sizeof(names[0]))],
                              buf, sizeof(buf), &len)
        == 1)
    {
        if (len > sizeof(buf) || memchr(buf, '\0', len) != NULL) {
            abort();
        }
    }

    /* the escaped string is exactly as long as said, and valid JSON */
    n = ngx_booking_json_escape_len(data, size);
    out = malloc(n + 2);
    if (out == NULL) {
        return 0;
    }

    out[0] = '"';
    end = ngx_booking_json_escape(out + 1, data, size);

    if ((size_t) (end - (out + 1)) != n) {
        abort();
    }

    *end = '"';

    j = json_loadb((const char *) out, n + 2, JSON_DECODE_ANY | JSON_ALLOW_NUL,
                   NULL);
    if (j == NULL || !json_is_string(j)) {
        abort();
    }

    json_decref(j);
    free(out);

    (void) ngx_booking_id_valid(data, size);
    (void) ngx_booking_rand_valid(data, size);

    /* a token check of anything answers, and is false */
    if (ngx_booking_token_check((const u_char *) "0123456789abcdef", 16,
                                (const u_char *) "room.AAAAAAAAAAAAAAAA", 21,
                                data, size))
    {
        abort();
    }

    return 0;
}


/*
 * Text handling for untrusted bytes: JSON string bodies, resource ids and
 * query string arguments.
 */


#include <stdint.h>
#include <string.h>

#include "ngx_booking_core.h"


/* the longest escape ("\u00XX", "\u2028", "\ufffd") per input byte */
#define NGX_BOOKING_JSON_MAX_GROWTH  6


static size_t ngx_booking_json_run(u_char *dst, const u_char *s, size_t n);
static int ngx_booking_utf8_seq(const u_char *s, size_t n, size_t *size);
static int ngx_booking_hex(u_char c);
static int ngx_booking_unescape(const u_char *p, const u_char *last,
    u_char *buf, size_t size, size_t *len);


size_t
ngx_booking_json_escape_len(const u_char *s, size_t n)
{
    /*
     * no real buffer can be this large, but the sum below must not wrap
     * into a small allocation size on a 32-bit platform
     */

    if (n > SIZE_MAX / NGX_BOOKING_JSON_MAX_GROWTH) {
        return SIZE_MAX;
    }

    return ngx_booking_json_run(NULL, s, n);
}


u_char *
ngx_booking_json_escape(u_char *dst, const u_char *s, size_t n)
{
    return dst + ngx_booking_json_run(dst, s, n);
}


int
ngx_booking_id_valid(const u_char *p, size_t len)
{
    size_t  i;
    u_char  c;

    if (p == NULL || len == 0 || len > NGX_BOOKING_ID_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = p[i];

        if ((c >= 'a' && c <= 'z')
            || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9')
            || c == '_' || c == '-')
        {
            continue;
        }

        return 0;
    }

    return 1;
}


int
ngx_booking_query_arg(const u_char *args, size_t len, const char *name,
    u_char *buf, size_t size, size_t *out_len)
{
    int            found;
    size_t         nlen, klen, vlen;
    const u_char  *p, *last, *pair, *end, *eq;

    if (args == NULL || len == 0 || name == NULL) {
        return 0;
    }

    nlen = strlen(name);
    found = 0;
    vlen = 0;

    p = args;
    last = args + len;

    while (p < last) {
        pair = p;

        end = memchr(p, '&', (size_t) (last - p));

        if (end == NULL) {
            end = last;
            p = last;

        } else {
            p = end + 1;
        }

        if (end == pair) {
            continue;
        }

        eq = memchr(pair, '=', (size_t) (end - pair));
        klen = (size_t) ((eq != NULL ? eq : end) - pair);

        if (klen != nlen || memcmp(pair, name, nlen) != 0) {
            continue;
        }

        /*
         * "a=1&a=2" is ambiguous, and nginx's own $arg_ and a backend may
         * disagree on which one wins: refuse rather than guess
         */

        if (found) {
            return -1;
        }

        found = 1;

        if (eq == NULL) {
            vlen = 0;
            continue;
        }

        if (ngx_booking_unescape(eq + 1, end, buf, size, &vlen)
            != NGX_BOOKING_OK)
        {
            return -1;
        }
    }

    if (!found) {
        return 0;
    }

    *out_len = vlen;

    return 1;
}


/*
 * Escapes s into dst, or with dst == NULL only counts, so that the length
 * and the output cannot disagree.
 *
 * Invalid UTF-8 becomes one "\ufffd" per maximal subpart (Unicode's
 * "substitution of maximal subparts", as in the WHATWG decoder): a bad lead
 * byte is one subpart, and a valid prefix of a sequence cut short by a bad
 * or missing continuation byte is one subpart, the bad byte then being
 * examined afresh.  The replacement is written escaped so that the output
 * is pure ASCII except for valid sequences copied through.
 */

static size_t
ngx_booking_json_run(u_char *dst, const u_char *s, size_t n)
{
    u_char         c, tmp[NGX_BOOKING_JSON_MAX_GROWTH];
    size_t         i, len, k, step;
    const u_char  *out;

    static const u_char  hex[] = "0123456789abcdef";

    len = 0;
    i = 0;

    while (i < n) {
        c = s[i];
        out = tmp;
        step = 1;
        k = 2;

        tmp[0] = '\\';

        switch (c) {

        case '"':
        case '\\':
            tmp[1] = c;
            break;

        case '\b':
            tmp[1] = 'b';
            break;

        case '\f':
            tmp[1] = 'f';
            break;

        case '\n':
            tmp[1] = 'n';
            break;

        case '\r':
            tmp[1] = 'r';
            break;

        case '\t':
            tmp[1] = 't';
            break;

        default:

            if (c < 0x20 || c == 0x7f) {
                tmp[1] = 'u';
                tmp[2] = '0';
                tmp[3] = '0';
                tmp[4] = hex[c >> 4];
                tmp[5] = hex[c & 0x0f];
                k = 6;
                break;
            }

            if (c < 0x80) {
                out = s + i;
                k = 1;
                break;
            }

            if (!ngx_booking_utf8_seq(s + i, n - i, &step)) {
                out = (const u_char *) "\\ufffd";
                k = 6;
                break;
            }

            /*
             * U+2028 and U+2029 are valid JSON but end a line in
             * JavaScript before ES2019, which breaks JSONP-style consumers
             */

            if (step == 3 && c == 0xe2 && s[i + 1] == 0x80
                && (s[i + 2] == 0xa8 || s[i + 2] == 0xa9))
            {
                out = (s[i + 2] == 0xa8) ? (const u_char *) "\\u2028"
                                         : (const u_char *) "\\u2029";
                k = 6;
                break;
            }

            out = s + i;
            k = step;
            break;
        }

        if (dst != NULL) {
            memcpy(dst + len, out, k);
        }

        len += k;
        i += step;
    }

    return len;
}


/*
 * Returns 1 and the length of a valid UTF-8 sequence at s, or 0 and the
 * length of the maximal invalid subpart to replace (at least 1).  The
 * allowed range of the second byte is what excludes overlong forms
 * (E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and code points above
 * U+10FFFF (F4 90..BF); C0, C1 and F5..FF can never start a sequence.
 */

static int
ngx_booking_utf8_seq(const u_char *s, size_t n, size_t *size)
{
    u_char  c, lo, hi;
    size_t  i, need;

    c = s[0];
    lo = 0x80;
    hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;

    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;

        if (c == 0xe0) {
            lo = 0xa0;

        } else if (c == 0xed) {
            hi = 0x9f;
        }

    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;

        if (c == 0xf0) {
            lo = 0x90;

        } else if (c == 0xf4) {
            hi = 0x8f;
        }

    } else {
        *size = 1;
        return 0;
    }

    for (i = 1; i < need; i++) {

        if (i == n || s[i] < lo || s[i] > hi) {
            *size = i;
            return 0;
        }

        lo = 0x80;
        hi = 0xbf;
    }

    *size = need;

    return 1;
}


static int
ngx_booking_hex(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


static int
ngx_booking_unescape(const u_char *p, const u_char *last, u_char *buf,
    size_t size, size_t *len)
{
    int     hi, lo;
    u_char  c;
    size_t  n;

    n = 0;

    while (p < last) {
        c = *p++;

        if (c == '+') {
            c = ' ';

        } else if (c == '%') {

            if (last - p < 2) {
                return NGX_BOOKING_ERROR;
            }

            hi = ngx_booking_hex(p[0]);
            lo = ngx_booking_hex(p[1]);

            if (hi < 0 || lo < 0) {
                return NGX_BOOKING_ERROR;
            }

            c = (u_char) (hi * 16 + lo);
            p += 2;
        }

        /* a NUL would truncate the value wherever it becomes a C string */

        if (c == '\0') {
            return NGX_BOOKING_ERROR;
        }

        if (n == size) {
            return NGX_BOOKING_ERROR;
        }

        buf[n++] = c;
    }

    *len = n;

    return NGX_BOOKING_OK;
}

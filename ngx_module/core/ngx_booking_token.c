/*
 * Hold tokens and booking ids: HMAC-SHA256 and randomness from OpenSSL.
 */

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "ngx_booking_core.h"


static u_char *ngx_booking_base64url(u_char *dst, const u_char *src,
    size_t len);


static const char  ngx_booking_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


static u_char *
ngx_booking_base64url(u_char *dst, const u_char *src, size_t len)
{
    size_t    i;
    uint32_t  v;

    for (i = 0; i + 2 < len; i += 3) {
        v = ((uint32_t) src[i] << 16) | ((uint32_t) src[i + 1] << 8)
            | src[i + 2];
        *dst++ = ngx_booking_b64[(v >> 18) & 0x3f];
        *dst++ = ngx_booking_b64[(v >> 12) & 0x3f];
        *dst++ = ngx_booking_b64[(v >> 6) & 0x3f];
        *dst++ = ngx_booking_b64[v & 0x3f];
    }

    if (len - i == 1) {
        v = (uint32_t) src[i] << 16;
        *dst++ = ngx_booking_b64[(v >> 18) & 0x3f];
        *dst++ = ngx_booking_b64[(v >> 12) & 0x3f];

    } else if (len - i == 2) {
        v = ((uint32_t) src[i] << 16) | ((uint32_t) src[i + 1] << 8);
        *dst++ = ngx_booking_b64[(v >> 18) & 0x3f];
        *dst++ = ngx_booking_b64[(v >> 12) & 0x3f];
        *dst++ = ngx_booking_b64[(v >> 6) & 0x3f];
    }

    return dst;
}


int
ngx_booking_token(const u_char *key, size_t key_len, const u_char *id,
    size_t id_len, u_char *out)
{
    u_char        md[EVP_MAX_MD_SIZE];
    unsigned int  md_len;

    if (key_len > INT32_MAX
        || HMAC(EVP_sha256(), key, (int) key_len, id, id_len, md, &md_len)
           == NULL
        || md_len != 32)
    {
        return NGX_BOOKING_ERROR;
    }

    ngx_booking_base64url(out, md, 32);

    return NGX_BOOKING_OK;
}


int
ngx_booking_token_check(const u_char *key, size_t key_len, const u_char *id,
    size_t id_len, const u_char *token, size_t len)
{
    u_char  expect[NGX_BOOKING_TOKEN_LEN];

    if (len != NGX_BOOKING_TOKEN_LEN
        || ngx_booking_token(key, key_len, id, id_len, expect)
           != NGX_BOOKING_OK)
    {
        return 0;
    }

    /* no early exit: the time taken tells nothing of the right token */
    return CRYPTO_memcmp(expect, token, NGX_BOOKING_TOKEN_LEN) == 0;
}


int
ngx_booking_random_id(u_char *out)
{
    u_char  rnd[12];

    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        return NGX_BOOKING_ERROR;
    }

    ngx_booking_base64url(out, rnd, sizeof(rnd));

    return NGX_BOOKING_OK;
}


int
ngx_booking_rand_valid(const u_char *p, size_t len)
{
    size_t  i;

    if (len != NGX_BOOKING_RAND_LEN) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (memchr(ngx_booking_b64, p[i], 64) == NULL || p[i] == '\0') {
            return 0;
        }
    }

    return 1;
}

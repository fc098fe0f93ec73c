/*
 * Hold tokens and booking ids: HMAC-SHA256 and randomness from OpenSSL.
 */

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ngx_booking_core.h"


static EVP_MAC_CTX *ngx_booking_token_mac(const u_char *key, size_t key_len);
static u_char *ngx_booking_base64url(u_char *dst, const u_char *src,
    size_t len);


/*
 * The keyed HMAC of the last secret used, kept by the process: HMAC()
 * looks up its algorithms and hashes the key again at every call, which
 * was 1.25 us of the 1.5 a token took; a kept context starts from the
 * key's hashed pads.  A process uses one secret, or a few by location.
 */
static EVP_MAC_CTX  *ngx_booking_mac;
static u_char       *ngx_booking_mac_key;
static size_t        ngx_booking_mac_key_len;
static size_t        ngx_booking_mac_key_size;


/*
 * Random bytes drawn a kilobyte at a time: RAND_bytes looks its generator
 * up by name and checks for a fork at every call (a getpid), 1% of a
 * hold's worker time for 12 bytes.  A child forgets what its parent drew
 * but did not use, so that no two processes ever give the same id; each
 * byte is wiped as it is given.
 */
#define NGX_BOOKING_RAND_POOL  1020

static u_char  ngx_booking_rand_pool[NGX_BOOKING_RAND_POOL];
static size_t  ngx_booking_rand_left;
static int     ngx_booking_rand_forks;


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
    size_t        md_len;
    EVP_MAC_CTX  *mac;

    mac = ngx_booking_token_mac(key, key_len);

    if (mac == NULL
        || !EVP_MAC_init(mac, NULL, 0, NULL)
        || !EVP_MAC_update(mac, id, id_len)
        || !EVP_MAC_final(mac, md, &md_len, sizeof(md))
        || md_len != 32)
    {
        return NGX_BOOKING_ERROR;
    }

    ngx_booking_base64url(out, md, 32);

    return NGX_BOOKING_OK;
}


/* the process's context, keyed again only when the key is another */
static EVP_MAC_CTX *
ngx_booking_token_mac(const u_char *key, size_t key_len)
{
    u_char      *copy;
    EVP_MAC     *hmac;
    OSSL_PARAM   params[2];

    if (ngx_booking_mac != NULL && key_len == ngx_booking_mac_key_len
        && memcmp(key, ngx_booking_mac_key, key_len) == 0)
    {
        return ngx_booking_mac;
    }

    /* nothing is kept until the new key is set: a failure keys nothing */
    ngx_booking_mac_key_len = (size_t) -1;

    if (key_len > ngx_booking_mac_key_size) {
        copy = malloc(key_len);
        if (copy == NULL) {
            return NULL;
        }

        free(ngx_booking_mac_key);
        ngx_booking_mac_key = copy;
        ngx_booking_mac_key_size = key_len;
    }

    if (ngx_booking_mac == NULL) {
        hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        if (hmac == NULL) {
            return NULL;
        }

        ngx_booking_mac = EVP_MAC_CTX_new(hmac);
        EVP_MAC_free(hmac);

        if (ngx_booking_mac == NULL) {
            return NULL;
        }
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *) "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();

    if (!EVP_MAC_init(ngx_booking_mac, key, key_len, params)) {
        return NULL;
    }

    memcpy(ngx_booking_mac_key, key, key_len);
    ngx_booking_mac_key_len = key_len;

    return ngx_booking_mac;
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


static void
ngx_booking_rand_forget(void)
{
    OPENSSL_cleanse(ngx_booking_rand_pool, sizeof(ngx_booking_rand_pool));
    ngx_booking_rand_left = 0;
}


static int
ngx_booking_rand_take(u_char *out, size_t n)
{
    u_char  *p;

    if (!ngx_booking_rand_forks) {
        if (pthread_atfork(NULL, NULL, ngx_booking_rand_forget) != 0) {
            return NGX_BOOKING_ERROR;
        }

        ngx_booking_rand_forks = 1;
    }

    if (ngx_booking_rand_left < n) {
        if (RAND_bytes(ngx_booking_rand_pool, NGX_BOOKING_RAND_POOL) != 1) {
            return NGX_BOOKING_ERROR;
        }

        ngx_booking_rand_left = NGX_BOOKING_RAND_POOL;
    }

    ngx_booking_rand_left -= n;
    p = ngx_booking_rand_pool + ngx_booking_rand_left;

    memcpy(out, p, n);
    OPENSSL_cleanse(p, n);

    return NGX_BOOKING_OK;
}


int
ngx_booking_random_id(u_char *out)
{
    u_char  rnd[12];

    if (ngx_booking_rand_take(rnd, sizeof(rnd)) != NGX_BOOKING_OK) {
        return NGX_BOOKING_ERROR;
    }

    ngx_booking_base64url(out, rnd, sizeof(rnd));
    OPENSSL_cleanse(rnd, sizeof(rnd));

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

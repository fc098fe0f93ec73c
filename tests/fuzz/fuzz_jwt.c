/*
 * Bearer tokens and key files: the first byte picks what the rest is, a
 * token checked against a JWKS of an HMAC and an ES256 key (even), or a
 * JWKS read (odd).  What a valid token gives must fit its bounds.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_booking_jwt.h"


static const char  jwks[] =
    "{\"keys\": [{\"kty\": \"oct\", \"kid\": \"hs\", \"k\": "
    "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v\"},"
    "{\"kty\": \"EC\", \"kid\": \"es\", \"crv\": \"P-256\", "
    "\"x\": \"8Nj_xvCTY34ZsgGCWZCwQsP2GJdGZ1UtLLa9YyojOR0\", "
    "\"y\": \"JvH4eE3FR3-sgl_JOxRb1QoHom0XBujrt02Ia8UfRuM\"}]}";


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                     err[256];
    ngx_booking_jwt_t        jwt;
    ngx_booking_jwks_t      *k;
    static ngx_booking_jwks_t       *keys;
    static ngx_booking_jwt_rules_t   rules = {
        NULL, NULL, 30, "sub", "groups"
    };

    if (size == 0) {
        return 0;
    }

    if (data[0] & 1) {
        k = ngx_booking_jwks_load(data + 1, size - 1, err, sizeof(err));
        ngx_booking_jwks_free(k);
        return 0;
    }

    if (keys == NULL) {
        keys = ngx_booking_jwks_load((const u_char *) jwks, sizeof(jwks) - 1,
                                     err, sizeof(err));
        if (keys == NULL) {
            abort();
        }
    }

    if (ngx_booking_jwt_verify(keys, &rules, data + 1, size - 1, 1950000000,
                               &jwt)
        == NGX_BOOKING_OK)
    {
        if (jwt.user_len == 0 || jwt.user_len > NGX_BOOKING_USER_MAX
            || strlen(jwt.user) != jwt.user_len
            || jwt.groups_len > NGX_BOOKING_JWT_GROUPS_MAX
            || strlen(jwt.groups) != jwt.groups_len)
        {
            abort();
        }

    } else if (jwt.error == NULL) {
        abort();
    }

    return 0;
}

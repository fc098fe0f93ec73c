/*
 * JWT identity (SPEC §5): a JWKS read once, tokens checked against it, and
 * a bounded cache of tokens already checked.  Plain C, OpenSSL and jansson,
 * no nginx: unit-tested and fuzzed without a server.
 */

#ifndef _NGX_BOOKING_JWT_H_INCLUDED_
#define _NGX_BOOKING_JWT_H_INCLUDED_


#include "ngx_booking_core.h"


/* the longest token looked at; a longer one is refused unread */
#define NGX_BOOKING_JWT_MAX          8192

/* the most keys of a JWKS, and the longest kid */
#define NGX_BOOKING_JWKS_KEYS_MAX    64
#define NGX_BOOKING_JWT_KID_MAX      128

/* a caller's groups as a token gives them, comma-joined */
#define NGX_BOOKING_JWT_GROUPS_MAX   4096

/* the cache: entries per worker, and the groups an entry can keep */
#define NGX_BOOKING_JWT_CACHE_SIZE   4096
#define NGX_BOOKING_JWT_CACHED_GROUPS  256


typedef struct ngx_booking_jwks_s        ngx_booking_jwks_t;
typedef struct ngx_booking_jwt_cache_s   ngx_booking_jwt_cache_t;


typedef struct {
    const char  *issuer;        /* NULL: any */
    const char  *audience;      /* NULL: any */
    int64_t      leeway;        /* seconds */
    const char  *user_claim;
    const char  *groups_claim;  /* NULL: none */
} ngx_booking_jwt_rules_t;


/* what a valid token says; error is the refusal's description otherwise */
typedef struct {
    int64_t      exp;
    int64_t      nbf;           /* the later of nbf and iat, or INT64_MIN */
    size_t       user_len;
    size_t       groups_len;
    char         user[NGX_BOOKING_USER_MAX + 1];
    char         groups[NGX_BOOKING_JWT_GROUPS_MAX + 1];
    const char  *error;
} ngx_booking_jwt_t;


/*
 * Reads a JWKS (RFC 7517).  Keys not for signatures ("use" other than
 * "sig", unknown kty or alg) are passed over; anything wrong in a key that
 * could sign is an error, written to err, as is a JWKS with no key left.
 */
ngx_booking_jwks_t *ngx_booking_jwks_load(const u_char *text, size_t len,
    char *err, size_t err_len);
void ngx_booking_jwks_free(ngx_booking_jwks_t *keys);
size_t ngx_booking_jwks_count(ngx_booking_jwks_t *keys);

/* NGX_BOOKING_OK, or NGX_BOOKING_DECLINED with out->error set */
int ngx_booking_jwt_verify(ngx_booking_jwks_t *keys,
    const ngx_booking_jwt_rules_t *rules, const u_char *token, size_t len,
    int64_t now, ngx_booking_jwt_t *out);

/* the times of a token already verified, against the clock of now */
int ngx_booking_jwt_current(ngx_booking_jwt_t *jwt,
    const ngx_booking_jwt_rules_t *rules, int64_t now);

ngx_booking_jwt_cache_t *ngx_booking_jwt_cache_create(size_t size);
void ngx_booking_jwt_cache_free(ngx_booking_jwt_cache_t *cache);

/*
 * A token seen before: out gets what it said (its times are for the caller
 * to check again).  Keyed by the SHA-256 of the whole token, in sets of 4
 * entries; the entry of a set least recently used makes room.
 */
int ngx_booking_jwt_cache_get(ngx_booking_jwt_cache_t *cache,
    const u_char *token, size_t len, ngx_booking_jwt_t *out);
void ngx_booking_jwt_cache_put(ngx_booking_jwt_cache_t *cache,
    const u_char *token, size_t len, const ngx_booking_jwt_t *jwt);


#endif /* _NGX_BOOKING_JWT_H_INCLUDED_ */

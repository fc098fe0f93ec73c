/*
 * JWT identity: RFC 7515 (JWS compact form), 7517 (JWKS), 7518 (the
 * algorithms) and 7519 (the claims), with OpenSSL 3 and jansson.
 *
 * The key decides: a token names its algorithm, but it is checked only with
 * the one key its kid names (or the only key), and only when that key's
 * type, curve and own alg fit that algorithm.  So "none", an HMAC made
 * with a public key's bytes, or a token for another key never verify.
 */

#include <string.h>
#include <stdlib.h>
#include <math.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "ngx_booking_jwt.h"


#define NGX_BOOKING_JWT_HMAC   1
#define NGX_BOOKING_JWT_PKCS1  2
#define NGX_BOOKING_JWT_PSS    3
#define NGX_BOOKING_JWT_ECDSA  4
#define NGX_BOOKING_JWT_EDDSA  5

#define NGX_BOOKING_KTY_OCT    1
#define NGX_BOOKING_KTY_RSA    2
#define NGX_BOOKING_KTY_EC     3
#define NGX_BOOKING_KTY_OKP    4

/* RFC 7518 3.2: an HMAC key at least as long as its hash; RSA below 2048
 * bits is refused as NIST and RFC 7518 3.3 ask */
#define NGX_BOOKING_JWT_OCT_MIN   32
#define NGX_BOOKING_JWT_RSA_MIN   2048

/* the entries of one set of the cache */
#define NGX_BOOKING_JWT_WAYS      4

/* a NumericDate beyond this is not a time (and would overflow) */
#define NGX_BOOKING_JWT_TIME_MAX  NGX_BOOKING_TIME_MAX


typedef struct {
    const char    *name;
    int            kty;
    int            kind;
    const char    *md;          /* NULL for EdDSA */
    const char    *crv;         /* EC and OKP: the curve it needs */
    size_t         len;         /* ECDSA: r || s; HMAC: the least key */
} ngx_booking_jwt_alg_t;


typedef struct {
    char           kid[NGX_BOOKING_JWT_KID_MAX + 1];
    unsigned       has_kid:1;
    int            kty;
    const ngx_booking_jwt_alg_t  *alg;     /* the key's own "alg", or NULL */
    const char    *crv;
    EVP_PKEY      *pkey;
    u_char        *secret;
    size_t         secret_len;
} ngx_booking_jwk_t;


struct ngx_booking_jwks_s {
    size_t             n;
    ngx_booking_jwk_t  keys[NGX_BOOKING_JWKS_KEYS_MAX];
};


typedef struct {
    u_char             digest[SHA256_DIGEST_LENGTH];
    int64_t            exp;
    int64_t            nbf;
    size_t             user_len;
    size_t             groups_len;
    char               user[NGX_BOOKING_USER_MAX + 1];
    char               groups[NGX_BOOKING_JWT_CACHED_GROUPS + 1];
    uint64_t           used;        /* the cache's clock when last used */
} ngx_booking_jwt_entry_t;


struct ngx_booking_jwt_cache_s {
    size_t                    size;
    uint64_t                  clock;
    ngx_booking_jwt_entry_t  *entries;
};


static const ngx_booking_jwt_alg_t  ngx_booking_jwt_algs[] = {
    { "HS256", NGX_BOOKING_KTY_OCT, NGX_BOOKING_JWT_HMAC, "SHA256", NULL, 32 },
    { "HS384", NGX_BOOKING_KTY_OCT, NGX_BOOKING_JWT_HMAC, "SHA384", NULL, 48 },
    { "HS512", NGX_BOOKING_KTY_OCT, NGX_BOOKING_JWT_HMAC, "SHA512", NULL, 64 },
    { "RS256", NGX_BOOKING_KTY_RSA, NGX_BOOKING_JWT_PKCS1, "SHA256", NULL, 0 },
    { "RS384", NGX_BOOKING_KTY_RSA, NGX_BOOKING_JWT_PKCS1, "SHA384", NULL, 0 },
    { "RS512", NGX_BOOKING_KTY_RSA, NGX_BOOKING_JWT_PKCS1, "SHA512", NULL, 0 },
    { "PS256", NGX_BOOKING_KTY_RSA, NGX_BOOKING_JWT_PSS, "SHA256", NULL, 0 },
    { "PS384", NGX_BOOKING_KTY_RSA, NGX_BOOKING_JWT_PSS, "SHA384", NULL, 0 },
    { "PS512", NGX_BOOKING_KTY_RSA, NGX_BOOKING_JWT_PSS, "SHA512", NULL, 0 },
    { "ES256", NGX_BOOKING_KTY_EC, NGX_BOOKING_JWT_ECDSA, "SHA256", "P-256",
      64 },
    { "ES384", NGX_BOOKING_KTY_EC, NGX_BOOKING_JWT_ECDSA, "SHA384", "P-384",
      96 },
    { "EdDSA", NGX_BOOKING_KTY_OKP, NGX_BOOKING_JWT_EDDSA, NULL, "Ed25519",
      64 },
    { NULL, 0, 0, NULL, NULL, 0 }
};


static const ngx_booking_jwt_alg_t *ngx_booking_jwt_alg(const char *name);
static int ngx_booking_jwt_kty(const char *name);
static ssize_t ngx_booking_b64url_decode(u_char *dst, size_t dst_len,
    const u_char *src, size_t len);
static u_char *ngx_booking_jwk_member(json_t *jwk, const char *name,
    size_t *len);
static int ngx_booking_jwk_load(json_t *jwk, ngx_booking_jwk_t *key,
    char *err, size_t err_len);
static EVP_PKEY *ngx_booking_jwk_rsa(json_t *jwk, const char **why);
static EVP_PKEY *ngx_booking_jwk_ec(json_t *jwk, const char *crv,
    const char **why);
static EVP_PKEY *ngx_booking_jwk_okp(json_t *jwk, const char *crv,
    const char **why);
static EVP_PKEY *ngx_booking_pkey_fromdata(const char *type,
    OSSL_PARAM_BLD *bld);
static json_t *ngx_booking_jwt_part(const u_char *p, size_t len);
static ngx_booking_jwk_t *ngx_booking_jwt_key(ngx_booking_jwks_t *keys,
    json_t *header, const ngx_booking_jwt_alg_t **alg, const char **why);
static int ngx_booking_jwt_signed(ngx_booking_jwk_t *key,
    const ngx_booking_jwt_alg_t *alg, const u_char *input, size_t input_len,
    const u_char *sig, size_t sig_len);
static int ngx_booking_jwt_digest_verify(EVP_PKEY *pkey,
    const ngx_booking_jwt_alg_t *alg, const u_char *input, size_t input_len,
    const u_char *sig, size_t sig_len);
static u_char *ngx_booking_jwt_ecdsa_der(const u_char *sig, size_t len,
    size_t *der_len);
static int ngx_booking_jwt_claims(json_t *claims,
    const ngx_booking_jwt_rules_t *rules, int64_t now,
    ngx_booking_jwt_t *out);
static int ngx_booking_jwt_time(json_t *claims, const char *name,
    int64_t *t);
static int ngx_booking_jwt_audience(json_t *aud, const char *want);
static int ngx_booking_jwt_groups(json_t *v, ngx_booking_jwt_t *out);
static int ngx_booking_jwt_text(const char *s, size_t len, int comma);
static void ngx_booking_jwt_fail(ngx_booking_jwt_t *out, const char *why);


static const ngx_booking_jwt_alg_t *
ngx_booking_jwt_alg(const char *name)
{
    const ngx_booking_jwt_alg_t  *a;

    for (a = ngx_booking_jwt_algs; a->name != NULL; a++) {
        if (strcmp(a->name, name) == 0) {
            return a;
        }
    }

    return NULL;
}


static int
ngx_booking_jwt_kty(const char *name)
{
    if (strcmp(name, "oct") == 0) {
        return NGX_BOOKING_KTY_OCT;
    }

    if (strcmp(name, "RSA") == 0) {
        return NGX_BOOKING_KTY_RSA;
    }

    if (strcmp(name, "EC") == 0) {
        return NGX_BOOKING_KTY_EC;
    }

    if (strcmp(name, "OKP") == 0) {
        return NGX_BOOKING_KTY_OKP;
    }

    return 0;
}


/* base64url without padding (RFC 7515 2); -1 on any other byte */
static ssize_t
ngx_booking_b64url_decode(u_char *dst, size_t dst_len, const u_char *src,
    size_t len)
{
    int       v;
    size_t    i, n;
    uint32_t  acc;
    u_char    c;

    if (len % 4 == 1) {
        return -1;
    }

    acc = 0;
    n = 0;

    for (i = 0; i < len; i++) {
        c = src[i];

        if (c >= 'A' && c <= 'Z') {
            v = c - 'A';

        } else if (c >= 'a' && c <= 'z') {
            v = c - 'a' + 26;

        } else if (c >= '0' && c <= '9') {
            v = c - '0' + 52;

        } else if (c == '-') {
            v = 62;

        } else if (c == '_') {
            v = 63;

        } else {
            return -1;
        }

        acc = (acc << 6) | (uint32_t) v;

        if (i % 4 == 3) {
            if (n + 3 > dst_len) {
                return -1;
            }

            dst[n++] = (u_char) (acc >> 16);
            dst[n++] = (u_char) (acc >> 8);
            dst[n++] = (u_char) acc;
            acc = 0;
        }
    }

    switch (len % 4) {

    case 2:
        if (n + 1 > dst_len || (acc & 0xf)) {
            return -1;
        }

        dst[n++] = (u_char) (acc >> 4);
        break;

    case 3:
        if (n + 2 > dst_len || (acc & 0x3)) {
            return -1;
        }

        dst[n++] = (u_char) (acc >> 10);
        dst[n++] = (u_char) (acc >> 2);
        break;
    }

    return (ssize_t) n;
}


ngx_booking_jwks_t *
ngx_booking_jwks_load(const u_char *text, size_t len, char *err,
    size_t err_len)
{
    size_t               i, j;
    json_t              *root, *list, *jwk;
    json_error_t         jerr;
    ngx_booking_jwks_t  *keys;

    root = json_loadb((const char *) text, len, JSON_REJECT_DUPLICATES, &jerr);

    if (root == NULL) {
        snprintf(err, err_len, "not JSON (line %d: %s)", jerr.line,
                 jerr.text);
        return NULL;
    }

    list = json_object_get(root, "keys");

    if (!json_is_array(list)) {
        snprintf(err, err_len, "no \"keys\" array (RFC 7517 5)");
        json_decref(root);
        return NULL;
    }

    if (json_array_size(list) > NGX_BOOKING_JWKS_KEYS_MAX) {
        snprintf(err, err_len, "more than %d keys", NGX_BOOKING_JWKS_KEYS_MAX);
        json_decref(root);
        return NULL;
    }

    keys = calloc(1, sizeof(ngx_booking_jwks_t));
    if (keys == NULL) {
        snprintf(err, err_len, "out of memory");
        json_decref(root);
        return NULL;
    }

    json_array_foreach(list, i, jwk) {

        switch (ngx_booking_jwk_load(jwk, &keys->keys[keys->n], err,
                                     err_len))
        {
        case NGX_BOOKING_OK:
            break;

        case NGX_BOOKING_DECLINED:
            continue;

        default:
            goto failed;
        }

        for (j = 0; j < keys->n; j++) {
            if (keys->keys[j].has_kid && keys->keys[keys->n].has_kid
                && strcmp(keys->keys[j].kid, keys->keys[keys->n].kid) == 0)
            {
                snprintf(err, err_len, "two keys of kid \"%s\"",
                         keys->keys[j].kid);
                keys->n++;
                goto failed;
            }
        }

        keys->n++;
    }

    if (keys->n == 0) {
        snprintf(err, err_len, "no key that can verify a signature");
        goto failed;
    }

    json_decref(root);
    return keys;

failed:

    json_decref(root);
    ngx_booking_jwks_free(keys);
    return NULL;
}


void
ngx_booking_jwks_free(ngx_booking_jwks_t *keys)
{
    size_t  i;

    if (keys == NULL) {
        return;
    }

    for (i = 0; i < keys->n; i++) {
        EVP_PKEY_free(keys->keys[i].pkey);

        if (keys->keys[i].secret) {
            OPENSSL_clear_free(keys->keys[i].secret, keys->keys[i].secret_len);
        }
    }

    OPENSSL_cleanse(keys, sizeof(ngx_booking_jwks_t));
    free(keys);
}


size_t
ngx_booking_jwks_count(ngx_booking_jwks_t *keys)
{
    return keys->n;
}


/* a base64url member of a JWK, decoded (malloc'd), or NULL */
static u_char *
ngx_booking_jwk_member(json_t *jwk, const char *name, size_t *len)
{
    u_char      *p;
    size_t       n;
    ssize_t      got;
    const char  *s;

    s = json_string_value(json_object_get(jwk, name));

    if (s == NULL) {
        return NULL;
    }

    n = strlen(s);

    if (n == 0 || n > 16384) {
        return NULL;
    }

    p = malloc(n);
    if (p == NULL) {
        return NULL;
    }

    got = ngx_booking_b64url_decode(p, n, (const u_char *) s, n);

    if (got <= 0) {
        free(p);
        return NULL;
    }

    *len = (size_t) got;
    return p;
}


/*
 * One key: NGX_BOOKING_DECLINED for a key that is not for signatures or
 * is of a type or algorithm we do not know (a JWKS may hold those).
 */
static int
ngx_booking_jwk_load(json_t *jwk, ngx_booking_jwk_t *key, char *err,
    size_t err_len)
{
    size_t                        i;
    json_t                       *ops, *op;
    const char                   *kty, *use, *alg, *kid, *crv, *why;
    const ngx_booking_jwt_alg_t  *a;

    memset(key, 0, sizeof(ngx_booking_jwk_t));

    if (!json_is_object(jwk)) {
        snprintf(err, err_len, "a key that is not an object");
        return NGX_BOOKING_ERROR;
    }

    kty = json_string_value(json_object_get(jwk, "kty"));
    use = json_string_value(json_object_get(jwk, "use"));
    alg = json_string_value(json_object_get(jwk, "alg"));
    kid = json_string_value(json_object_get(jwk, "kid"));
    crv = json_string_value(json_object_get(jwk, "crv"));
    ops = json_object_get(jwk, "key_ops");

    if (kty == NULL) {
        snprintf(err, err_len, "a key with no \"kty\"");
        return NGX_BOOKING_ERROR;
    }

    if (json_object_get(jwk, "kid") != NULL
        && (kid == NULL || strlen(kid) == 0
            || strlen(kid) > NGX_BOOKING_JWT_KID_MAX))
    {
        snprintf(err, err_len, "a \"kid\" that is not a string of 1 to %d "
                 "bytes", NGX_BOOKING_JWT_KID_MAX);
        return NGX_BOOKING_ERROR;
    }

    if (use != NULL && strcmp(use, "sig") != 0) {
        return NGX_BOOKING_DECLINED;
    }

    if (json_is_array(ops)) {
        json_array_foreach(ops, i, op) {
            if (json_is_string(op)
                && strcmp(json_string_value(op), "verify") == 0)
            {
                break;
            }
        }

        if (i == json_array_size(ops)) {
            return NGX_BOOKING_DECLINED;
        }
    }

    key->kty = ngx_booking_jwt_kty(kty);

    if (key->kty == 0) {
        return NGX_BOOKING_DECLINED;
    }

    if (alg != NULL) {
        a = ngx_booking_jwt_alg(alg);

        if (a == NULL) {
            return NGX_BOOKING_DECLINED;
        }

        if (a->kty != key->kty) {
            snprintf(err, err_len, "key \"%s\": alg %s is not for kty %s",
                     kid ? kid : "", alg, kty);
            return NGX_BOOKING_ERROR;
        }

        key->alg = a;
    }

    if (kid != NULL) {
        strcpy(key->kid, kid);
        key->has_kid = 1;
    }

    why = NULL;

    switch (key->kty) {

    case NGX_BOOKING_KTY_OCT:
        key->secret = ngx_booking_jwk_member(jwk, "k", &key->secret_len);

        if (key->secret == NULL) {
            why = "no \"k\"";

        } else if (key->secret_len < NGX_BOOKING_JWT_OCT_MIN
                   || (key->alg && key->secret_len < key->alg->len))
        {
            why = "an HMAC key shorter than its hash (RFC 7518 3.2)";
        }

        break;

    case NGX_BOOKING_KTY_RSA:
        key->pkey = ngx_booking_jwk_rsa(jwk, &why);
        break;

    case NGX_BOOKING_KTY_EC:
    case NGX_BOOKING_KTY_OKP:
        if (crv == NULL) {
            why = "no \"crv\"";
            break;
        }

        key->crv = (strcmp(crv, "P-256") == 0) ? "P-256"
                   : (strcmp(crv, "P-384") == 0) ? "P-384"
                   : (strcmp(crv, "Ed25519") == 0) ? "Ed25519" : NULL;

        if (key->crv == NULL) {
            return NGX_BOOKING_DECLINED;
        }

        if (key->alg && strcmp(key->alg->crv, key->crv) != 0) {
            why = "a curve its alg is not for";
            break;
        }

        key->pkey = (key->kty == NGX_BOOKING_KTY_EC)
                    ? ngx_booking_jwk_ec(jwk, key->crv, &why)
                    : ngx_booking_jwk_okp(jwk, key->crv, &why);
        break;
    }

    if (why == NULL && key->pkey == NULL && key->secret == NULL) {
        why = "not a valid public key";
    }

    if (why != NULL) {
        snprintf(err, err_len, "key \"%s\": %s", kid ? kid : "", why);
        EVP_PKEY_free(key->pkey);

        if (key->secret != NULL) {
            OPENSSL_clear_free(key->secret, key->secret_len);
        }

        key->pkey = NULL;
        key->secret = NULL;
        return NGX_BOOKING_ERROR;
    }

    return NGX_BOOKING_OK;
}


static EVP_PKEY *
ngx_booking_jwk_rsa(json_t *jwk, const char **why)
{
    u_char          *n, *e;
    size_t           n_len, e_len;
    BIGNUM          *bn, *be;
    EVP_PKEY        *pkey;
    OSSL_PARAM_BLD  *bld;

    pkey = NULL;
    bn = NULL;
    be = NULL;
    n = ngx_booking_jwk_member(jwk, "n", &n_len);
    e = ngx_booking_jwk_member(jwk, "e", &e_len);
    bld = OSSL_PARAM_BLD_new();

    if (n == NULL || e == NULL || bld == NULL) {
        *why = "no valid \"n\" and \"e\"";
        goto done;
    }

    bn = BN_bin2bn(n, (int) n_len, NULL);
    be = BN_bin2bn(e, (int) e_len, NULL);

    if (bn == NULL || be == NULL) {
        goto done;
    }

    if (BN_num_bits(bn) < NGX_BOOKING_JWT_RSA_MIN) {
        *why = "an RSA key of fewer than 2048 bits";
        goto done;
    }

    if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn)
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
    {
        goto done;
    }

    pkey = ngx_booking_pkey_fromdata("RSA", bld);

done:

    BN_free(bn);
    BN_free(be);
    OSSL_PARAM_BLD_free(bld);
    free(n);
    free(e);

    return pkey;
}


static EVP_PKEY *
ngx_booking_jwk_ec(json_t *jwk, const char *crv, const char **why)
{
    u_char          *x, *y, point[1 + 2 * 48];
    size_t           x_len, y_len, size;
    EVP_PKEY        *pkey;
    const char      *group;
    OSSL_PARAM_BLD  *bld;

    pkey = NULL;
    size = (strcmp(crv, "P-256") == 0) ? 32 : 48;
    group = (size == 32) ? "prime256v1" : "secp384r1";

    x = ngx_booking_jwk_member(jwk, "x", &x_len);
    y = ngx_booking_jwk_member(jwk, "y", &y_len);
    bld = OSSL_PARAM_BLD_new();

    if (x == NULL || y == NULL || x_len != size || y_len != size
        || bld == NULL)
    {
        *why = "no \"x\" and \"y\" of the curve's size";
        goto done;
    }

    point[0] = 0x04;
    memcpy(point + 1, x, size);
    memcpy(point + 1 + size, y, size);

    if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                         group, 0)
        || !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                             point, 1 + 2 * size))
    {
        goto done;
    }

    /* OpenSSL refuses a point that is not on the curve here */
    pkey = ngx_booking_pkey_fromdata("EC", bld);

    if (pkey == NULL) {
        *why = "a point that is not on its curve";
    }

done:

    OSSL_PARAM_BLD_free(bld);
    free(x);
    free(y);

    return pkey;
}


static EVP_PKEY *
ngx_booking_jwk_okp(json_t *jwk, const char *crv, const char **why)
{
    u_char    *x;
    size_t     x_len;
    EVP_PKEY  *pkey;

    if (strcmp(crv, "Ed25519") != 0) {
        *why = "an OKP curve other than Ed25519";
        return NULL;
    }

    x = ngx_booking_jwk_member(jwk, "x", &x_len);

    if (x == NULL || x_len != 32) {
        *why = "no \"x\" of 32 bytes";
        free(x);
        return NULL;
    }

    pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, x_len);
    free(x);

    return pkey;
}


static EVP_PKEY *
ngx_booking_pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY      *pkey;
    OSSL_PARAM    *params;
    EVP_PKEY_CTX  *ctx, *check;

    pkey = NULL;
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);

    if (params == NULL || ctx == NULL
        || EVP_PKEY_fromdata_init(ctx) <= 0
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
    {
        pkey = NULL;
        goto done;
    }

    check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);

    if (check == NULL || EVP_PKEY_public_check(check) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }

    EVP_PKEY_CTX_free(check);

done:

    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);

    return pkey;
}


int
ngx_booking_jwt_verify(ngx_booking_jwks_t *keys,
    const ngx_booking_jwt_rules_t *rules, const u_char *token, size_t len,
    int64_t now, ngx_booking_jwt_t *out)
{
    int                           rc;
    u_char                        sig[1024];
    ssize_t                       sig_len;
    json_t                       *header, *claims;
    const u_char                 *dot1, *dot2, *last;
    ngx_booking_jwk_t            *key;
    const ngx_booking_jwt_alg_t  *alg;

    memset(out, 0, offsetof(ngx_booking_jwt_t, user));
    out->user[0] = '\0';
    out->groups[0] = '\0';

    if (len == 0 || len > NGX_BOOKING_JWT_MAX) {
        ngx_booking_jwt_fail(out, "the token is malformed");
        return NGX_BOOKING_DECLINED;
    }

    last = token + len;
    dot1 = memchr(token, '.', len);
    dot2 = dot1 ? memchr(dot1 + 1, '.', last - dot1 - 1) : NULL;

    if (dot2 == NULL || memchr(dot2 + 1, '.', last - dot2 - 1) != NULL) {
        ngx_booking_jwt_fail(out, "the token is malformed");
        return NGX_BOOKING_DECLINED;
    }

    sig_len = ngx_booking_b64url_decode(sig, sizeof(sig), dot2 + 1,
                                        last - dot2 - 1);
    header = ngx_booking_jwt_part(token, dot1 - token);
    claims = ngx_booking_jwt_part(dot1 + 1, dot2 - dot1 - 1);
    rc = NGX_BOOKING_DECLINED;

    /* an empty signature is left to the algorithm's check ("none") */
    if (header == NULL || claims == NULL || (sig_len <= 0 && dot2 + 1 < last)) {
        ngx_booking_jwt_fail(out, "the token is malformed");
        goto done;
    }

    key = ngx_booking_jwt_key(keys, header, &alg, &out->error);

    if (key == NULL) {
        goto done;
    }

    if (sig_len <= 0
        || ngx_booking_jwt_signed(key, alg, token, dot2 - token, sig,
                                  (size_t) sig_len)
           != NGX_BOOKING_OK)
    {
        ngx_booking_jwt_fail(out, "the token's signature does not verify");
        goto done;
    }

    rc = ngx_booking_jwt_claims(claims, rules, now, out);

done:

    json_decref(header);
    json_decref(claims);

    return rc;
}


/* a base64url JSON object of the token, duplicates refused */
static json_t *
ngx_booking_jwt_part(const u_char *p, size_t len)
{
    u_char   buf[NGX_BOOKING_JWT_MAX];
    json_t  *v;
    ssize_t  n;

    n = ngx_booking_b64url_decode(buf, sizeof(buf), p, len);

    if (n <= 0) {
        return NULL;
    }

    v = json_loadb((const char *) buf, (size_t) n,
                   JSON_REJECT_DUPLICATES, NULL);

    if (v != NULL && !json_is_object(v)) {
        json_decref(v);
        return NULL;
    }

    return v;
}


/*
 * The one key the header may use: its kid's, or the only one.  No other
 * key is ever tried.
 */
static ngx_booking_jwk_t *
ngx_booking_jwt_key(ngx_booking_jwks_t *keys, json_t *header,
    const ngx_booking_jwt_alg_t **alg, const char **why)
{
    size_t              i;
    json_t             *kid;
    const char         *name;
    ngx_booking_jwk_t  *key;

    name = json_string_value(json_object_get(header, "alg"));
    *alg = name ? ngx_booking_jwt_alg(name) : NULL;

    if (*alg == NULL) {
        *why = "the token's algorithm is not accepted";
        return NULL;
    }

    /* RFC 7515 4.1.11: extensions we do not know must be refused */
    if (json_object_get(header, "crit") != NULL) {
        *why = "the token has critical extensions";
        return NULL;
    }

    kid = json_object_get(header, "kid");
    key = NULL;

    if (kid != NULL) {
        if (!json_is_string(kid)) {
            *why = "the token is malformed";
            return NULL;
        }

        for (i = 0; i < keys->n; i++) {
            if (keys->keys[i].has_kid
                && strcmp(keys->keys[i].kid, json_string_value(kid)) == 0)
            {
                key = &keys->keys[i];
                break;
            }
        }

    } else if (keys->n == 1) {
        key = &keys->keys[0];
    }

    if (key == NULL) {
        *why = kid ? "the token's key is unknown"
                   : "the token names no key";
        return NULL;
    }

    if (key->kty != (*alg)->kty
        || (key->alg != NULL && key->alg != *alg)
        || ((*alg)->crv != NULL && strcmp(key->crv, (*alg)->crv) != 0)
        || (key->kty == NGX_BOOKING_KTY_OCT && key->secret_len < (*alg)->len))
    {
        *why = "the token's algorithm does not fit its key";
        return NULL;
    }

    return key;
}


static int
ngx_booking_jwt_signed(ngx_booking_jwk_t *key,
    const ngx_booking_jwt_alg_t *alg, const u_char *input, size_t input_len,
    const u_char *sig, size_t sig_len)
{
    int            rc;
    u_char         mac[EVP_MAX_MD_SIZE], *der;
    size_t         der_len;
    unsigned int   mac_len;

    switch (alg->kind) {

    case NGX_BOOKING_JWT_HMAC:
        if (HMAC(EVP_get_digestbyname(alg->md), key->secret,
                 (int) key->secret_len, input, input_len, mac, &mac_len)
            == NULL
            || mac_len != sig_len
            || CRYPTO_memcmp(mac, sig, sig_len) != 0)
        {
            return NGX_BOOKING_DECLINED;
        }

        return NGX_BOOKING_OK;

    case NGX_BOOKING_JWT_ECDSA:
        if (sig_len != alg->len) {
            return NGX_BOOKING_DECLINED;
        }

        der = ngx_booking_jwt_ecdsa_der(sig, sig_len, &der_len);

        if (der == NULL) {
            return NGX_BOOKING_DECLINED;
        }

        rc = ngx_booking_jwt_digest_verify(key->pkey, alg, input, input_len,
                                           der, der_len);
        OPENSSL_free(der);

        return rc;

    case NGX_BOOKING_JWT_EDDSA:
        if (sig_len != alg->len) {
            return NGX_BOOKING_DECLINED;
        }

        break;

    default: /* RSA: the signature is exactly the modulus' size */
        if ((int) sig_len != EVP_PKEY_get_size(key->pkey)) {
            return NGX_BOOKING_DECLINED;
        }
    }

    return ngx_booking_jwt_digest_verify(key->pkey, alg, input, input_len,
                                         sig, sig_len);
}


static int
ngx_booking_jwt_digest_verify(EVP_PKEY *pkey,
    const ngx_booking_jwt_alg_t *alg, const u_char *input, size_t input_len,
    const u_char *sig, size_t sig_len)
{
    int            ok;
    EVP_MD_CTX    *md;
    EVP_PKEY_CTX  *pctx;

    md = EVP_MD_CTX_new();
    if (md == NULL) {
        return NGX_BOOKING_ERROR;
    }

    ok = EVP_DigestVerifyInit_ex(md, &pctx, alg->md, NULL, NULL, pkey, NULL)
         == 1;

    if (ok && alg->kind == NGX_BOOKING_JWT_PSS) {
        /* RFC 7518 3.5: MGF1 with the same hash, salt as long as it */
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0
             && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST)
                > 0;

    } else if (ok && alg->kind == NGX_BOOKING_JWT_PKCS1) {
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0;
    }

    ok = ok && EVP_DigestVerify(md, sig, sig_len, input, input_len) == 1;

    EVP_MD_CTX_free(md);

    return ok ? NGX_BOOKING_OK : NGX_BOOKING_DECLINED;
}


/* JWS writes ECDSA as r || s (RFC 7518 3.4); OpenSSL reads DER */
static u_char *
ngx_booking_jwt_ecdsa_der(const u_char *sig, size_t len, size_t *der_len)
{
    int         n;
    u_char     *der;
    BIGNUM     *r, *s;
    ECDSA_SIG  *es;

    r = BN_bin2bn(sig, (int) (len / 2), NULL);
    s = BN_bin2bn(sig + len / 2, (int) (len / 2), NULL);
    es = ECDSA_SIG_new();

    if (r == NULL || s == NULL || es == NULL || !ECDSA_SIG_set0(es, r, s)) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return NULL;
    }

    der = NULL;
    n = i2d_ECDSA_SIG(es, &der);
    ECDSA_SIG_free(es);

    if (n <= 0) {
        return NULL;
    }

    *der_len = (size_t) n;
    return der;
}


static int
ngx_booking_jwt_claims(json_t *claims, const ngx_booking_jwt_rules_t *rules,
    int64_t now, ngx_booking_jwt_t *out)
{
    int64_t      nbf, iat;
    json_t      *v;
    const char  *s;

    if (ngx_booking_jwt_time(claims, "exp", &out->exp) != NGX_BOOKING_OK
        || out->exp == INT64_MIN)
    {
        ngx_booking_jwt_fail(out, "the token has no valid exp");
        return NGX_BOOKING_DECLINED;
    }

    if (ngx_booking_jwt_time(claims, "nbf", &nbf) != NGX_BOOKING_OK
        || ngx_booking_jwt_time(claims, "iat", &iat) != NGX_BOOKING_OK)
    {
        ngx_booking_jwt_fail(out, "the token's nbf or iat is not a time");
        return NGX_BOOKING_DECLINED;
    }

    out->nbf = nbf > iat ? nbf : iat;

    if (rules->issuer != NULL) {
        s = json_string_value(json_object_get(claims, "iss"));

        if (s == NULL || strcmp(s, rules->issuer) != 0) {
            ngx_booking_jwt_fail(out, "the token's issuer is not accepted");
            return NGX_BOOKING_DECLINED;
        }
    }

    /* RFC 7519 4.1.3: an aud that does not name us, or names anyone */
    v = json_object_get(claims, "aud");

    if ((rules->audience == NULL && v != NULL)
        || (rules->audience != NULL
            && ngx_booking_jwt_audience(v, rules->audience) != NGX_BOOKING_OK))
    {
        ngx_booking_jwt_fail(out, "the token's audience is not accepted");
        return NGX_BOOKING_DECLINED;
    }

    v = json_object_get(claims, rules->user_claim);
    s = json_string_value(v);

    if (s == NULL || json_string_length(v) == 0
        || json_string_length(v) > NGX_BOOKING_USER_MAX
        || ngx_booking_jwt_text(s, json_string_length(v), 1) != NGX_BOOKING_OK)
    {
        ngx_booking_jwt_fail(out, "the token names no valid user");
        return NGX_BOOKING_DECLINED;
    }

    out->user_len = json_string_length(v);
    memcpy(out->user, s, out->user_len);
    out->user[out->user_len] = '\0';

    if (rules->groups_claim != NULL
        && ngx_booking_jwt_groups(json_object_get(claims,
                                                  rules->groups_claim),
                                  out)
           != NGX_BOOKING_OK)
    {
        ngx_booking_jwt_fail(out, "the token's groups are not valid");
        return NGX_BOOKING_DECLINED;
    }

    return ngx_booking_jwt_current(out, rules, now);
}


/* a NumericDate (RFC 7519 2), whole seconds; INT64_MIN when absent */
static int
ngx_booking_jwt_time(json_t *claims, const char *name, int64_t *t)
{
    double   d;
    json_t  *v;

    v = json_object_get(claims, name);

    if (v == NULL) {
        *t = INT64_MIN;
        return NGX_BOOKING_OK;
    }

    if (!json_is_number(v)) {
        return NGX_BOOKING_DECLINED;
    }

    d = json_number_value(v);

    if (!isfinite(d) || d < 0 || d > (double) NGX_BOOKING_JWT_TIME_MAX) {
        return NGX_BOOKING_DECLINED;
    }

    /* d >= 0: the cast is the floor */
    *t = (int64_t) d;
    return NGX_BOOKING_OK;
}


/* aud: one string, or an array of strings that holds ours */
static int
ngx_booking_jwt_audience(json_t *aud, const char *want)
{
    size_t   i;
    json_t  *v;

    if (json_is_string(aud)) {
        return strcmp(json_string_value(aud), want) == 0
               ? NGX_BOOKING_OK : NGX_BOOKING_DECLINED;
    }

    if (json_is_array(aud)) {
        json_array_foreach(aud, i, v) {
            if (json_is_string(v) && strcmp(json_string_value(v), want) == 0) {
                return NGX_BOOKING_OK;
            }
        }
    }

    return NGX_BOOKING_DECLINED;
}


/*
 * The groups claim: an array of strings (none holding a comma) or one
 * comma-separated string; comma-joined, as booking_user_groups gives them.
 */
static int
ngx_booking_jwt_groups(json_t *v, ngx_booking_jwt_t *out)
{
    size_t       i, len, n;
    json_t      *g;
    const char  *s;

    out->groups_len = 0;
    out->groups[0] = '\0';

    if (v == NULL) {
        return NGX_BOOKING_OK;
    }

    if (json_is_string(v)) {
        len = json_string_length(v);
        s = json_string_value(v);

        if (len > NGX_BOOKING_JWT_GROUPS_MAX
            || ngx_booking_jwt_text(s, len, 0) != NGX_BOOKING_OK)
        {
            return NGX_BOOKING_DECLINED;
        }

        memcpy(out->groups, s, len);
        out->groups[len] = '\0';
        out->groups_len = len;

        return NGX_BOOKING_OK;
    }

    if (!json_is_array(v)) {
        return NGX_BOOKING_DECLINED;
    }

    n = 0;

    json_array_foreach(v, i, g) {
        s = json_string_value(g);
        len = json_string_length(g);

        if (s == NULL || len == 0
            || ngx_booking_jwt_text(s, len, 1) != NGX_BOOKING_OK
            || n + (n ? 1 : 0) + len > NGX_BOOKING_JWT_GROUPS_MAX)
        {
            return NGX_BOOKING_DECLINED;
        }

        if (n) {
            out->groups[n++] = ',';
        }

        memcpy(out->groups + n, s, len);
        n += len;
    }

    out->groups[n] = '\0';
    out->groups_len = n;

    return NGX_BOOKING_OK;
}


/* no control characters (and no NUL), and, in one name, no comma */
static int
ngx_booking_jwt_text(const char *s, size_t len, int comma)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if ((u_char) s[i] < 0x20 || s[i] == 0x7f || (comma && s[i] == ',')) {
            return NGX_BOOKING_DECLINED;
        }
    }

    return NGX_BOOKING_OK;
}


int
ngx_booking_jwt_current(ngx_booking_jwt_t *jwt,
    const ngx_booking_jwt_rules_t *rules, int64_t now)
{
    /* RFC 7519 4.1.4: not accepted on or after exp */
    if (now >= jwt->exp + rules->leeway) {
        ngx_booking_jwt_fail(jwt, "the token is expired");
        return NGX_BOOKING_DECLINED;
    }

    if (jwt->nbf != INT64_MIN && jwt->nbf > now + rules->leeway) {
        ngx_booking_jwt_fail(jwt, "the token is not valid yet");
        return NGX_BOOKING_DECLINED;
    }

    return NGX_BOOKING_OK;
}


static void
ngx_booking_jwt_fail(ngx_booking_jwt_t *out, const char *why)
{
    out->error = why;
}


ngx_booking_jwt_cache_t *
ngx_booking_jwt_cache_create(size_t size)
{
    ngx_booking_jwt_cache_t  *cache;

    /* whole sets of NGX_BOOKING_JWT_WAYS */
    size = (size + NGX_BOOKING_JWT_WAYS - 1) / NGX_BOOKING_JWT_WAYS
           * NGX_BOOKING_JWT_WAYS;

    cache = calloc(1, sizeof(ngx_booking_jwt_cache_t));
    if (cache == NULL) {
        return NULL;
    }

    cache->entries = calloc(size, sizeof(ngx_booking_jwt_entry_t));
    if (cache->entries == NULL) {
        free(cache);
        return NULL;
    }

    cache->size = size;

    return cache;
}


void
ngx_booking_jwt_cache_free(ngx_booking_jwt_cache_t *cache)
{
    if (cache != NULL) {
        free(cache->entries);
        free(cache);
    }
}


/* the set a token's digest falls in: its first entry */
static ngx_booking_jwt_entry_t *
ngx_booking_jwt_set(ngx_booking_jwt_cache_t *cache, const u_char *token,
    size_t len, u_char *digest)
{
    uint32_t  h;

    SHA256(token, len, digest);
    memcpy(&h, digest, sizeof(uint32_t));

    return &cache->entries[h % (cache->size / NGX_BOOKING_JWT_WAYS)
                           * NGX_BOOKING_JWT_WAYS];
}


int
ngx_booking_jwt_cache_get(ngx_booking_jwt_cache_t *cache,
    const u_char *token, size_t len, ngx_booking_jwt_t *out)
{
    u_char                    digest[SHA256_DIGEST_LENGTH];
    size_t                    i;
    ngx_booking_jwt_entry_t  *e;

    e = ngx_booking_jwt_set(cache, token, len, digest);

    for (i = 0; i < NGX_BOOKING_JWT_WAYS; i++, e++) {
        if (e->used && memcmp(e->digest, digest, sizeof(digest)) == 0) {
            break;
        }
    }

    if (i == NGX_BOOKING_JWT_WAYS) {
        return NGX_BOOKING_DECLINED;
    }

    e->used = ++cache->clock;

    out->exp = e->exp;
    out->nbf = e->nbf;
    out->error = NULL;
    out->user_len = e->user_len;
    out->groups_len = e->groups_len;
    memcpy(out->user, e->user, e->user_len + 1);
    memcpy(out->groups, e->groups, e->groups_len + 1);

    return NGX_BOOKING_OK;
}


/* into its set, in place of the entry least recently used */
void
ngx_booking_jwt_cache_put(ngx_booking_jwt_cache_t *cache,
    const u_char *token, size_t len, const ngx_booking_jwt_t *jwt)
{
    u_char                    digest[SHA256_DIGEST_LENGTH];
    size_t                    i;
    ngx_booking_jwt_entry_t  *e, *old;

    /* rare: a token of more groups than an entry keeps is not cached */
    if (jwt->groups_len > NGX_BOOKING_JWT_CACHED_GROUPS) {
        return;
    }

    e = ngx_booking_jwt_set(cache, token, len, digest);
    old = e;

    for (i = 0; i < NGX_BOOKING_JWT_WAYS; i++) {
        if (e[i].used < old->used) {
            old = &e[i];
        }
    }

    memcpy(old->digest, digest, sizeof(digest));
    old->exp = jwt->exp;
    old->nbf = jwt->nbf;
    old->user_len = jwt->user_len;
    old->groups_len = jwt->groups_len;
    memcpy(old->user, jwt->user, jwt->user_len + 1);
    memcpy(old->groups, jwt->groups, jwt->groups_len + 1);
    old->used = ++cache->clock;
}

/*
 * Unit tests of JWT identity (ngx_booking_jwt.c).  The keys and tokens
 * below were made by another implementation (Debian's python3-jwt over
 * python3-cryptography; the hand-made ones with Python's hmac module), so
 * these tests check our reading of their bytes, at fixed instants.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ngx_booking_jwt.h"


#define T(s)  (s), sizeof(s) - 1
#define U(s)  (const u_char *) (s), sizeof(s) - 1

/* between the vectors' nbf (1900000000) and exp (2000000000) */
#define NOW   1950000000


static const char  jwks[] =
    "{\"keys\": [{\"k\": \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
    "gISIjJCUmJygpKissLS4v\", \"kty\": \"oct\", \"kid\": \"hs\"}, {\"kty\": "
    "\"RSA\", \"key_ops\": [\"verify\"], \"n\": \"v6xJWQBuOpsCI9SS88dbBz8c"
    "59mdpaiW-NjXEX_shSimj45-KLKkkgDA_qRozSk5Dh0Ch7uJIayTj1DsDNjS"
    "5ecv2cjA1Zy1AXpOUujDQKZVILATWRFhEVWFRi3rjby7vNY0SXQRClu_rfIo"
    "VAG_zwMYtb92pRgJD9SHN7gRxANsZu2cnHa7Tftq19_XoxO_T6iMyGQp10MI"
    "h__jK9EwM6DefVnh0VoujjzJMSfZceGtWTwaAUuM8zioTEMTZ5-H5zcBcwoJ"
    "EdyoBMXxh4GRAgjSdpvceTqQWJx_MxefLgbnErF00Khl81XI_tik-Q7rq1rj"
    "eKhNvDCORjFmvbA2Lw\", \"e\": \"AQAB\", \"kid\": \"rs\"}, {\"kty\": \"EC\""
    ", \"crv\": \"P-256\", \"x\": \"Mtojs-mJK6qsV3kIJ-JhDktytmmw2SydbPZQ"
    "_raKaFc\", \"y\": \"fRbY3c1EA48k7ECBpF0Izh3gkt8PaoiWBsAZ-NatrzY\""
    ", \"kid\": \"es\"}, {\"kty\": \"EC\", \"crv\": \"P-384\", \"x\": \"rr3jdZ24"
    "0EUeEOQv0bi-l6YrFRfaA4zQJH88OXB8Baqlt_Us3oWXCvavggV3Zu-r\", \""
    "y\": \"SfqX3vFI7OFMjJFC8rfnswbwVpvksMqCSK7HQMKQQgjnyTkxrQ5oITJ"
    "xF3xXG2yf\", \"kid\": \"es384\"}, {\"x\": \"KmHbTKoXD23qjo0vnYPSyAab"
    "ixEaEepQ6cw7GXOV45s\", \"kty\": \"OKP\", \"crv\": \"Ed25519\", \"kid\":"
    " \"ed\"}]}"
    ;

static const char  tok_hs256[] =
    "eyJhbGciOiJIUzI1NiIsImtpZCI6ImhzIiwidHlwIjoiSldUIn0.eyJzdWIiOiJh"
    "bm4iLCJncm91cHMiOlsiYSIsImIiXSwiaXNzIjoiaHR0cHM6Ly9hdXRoLmV4YW1w"
    "bGUub3JnIiwiYXVkIjpbIngiLCJib29raW5nIl0sImV4cCI6MjAwMDAwMDAwMCwi"
    "bmJmIjoxOTAwMDAwMDAwLCJpYXQiOjE4OTk5OTkwMDB9.h4epT_WFCj7Wm_m8hm2"
    "kYh2UBQT-DrVRH5LkdDD20pY"
    ;

static const char  tok_hs384[] =
    "eyJhbGciOiJIUzM4NCIsImtpZCI6ImhzIiwidHlwIjoiSldUIn0.eyJzdWIiOiJh"
    "bm4iLCJncm91cHMiOlsiYSIsImIiXSwiaXNzIjoiaHR0cHM6Ly9hdXRoLmV4YW1w"
    "bGUub3JnIiwiYXVkIjpbIngiLCJib29raW5nIl0sImV4cCI6MjAwMDAwMDAwMCwi"
    "bmJmIjoxOTAwMDAwMDAwLCJpYXQiOjE4OTk5OTkwMDB9.4723qz-PzACTj9cmezn"
    "I9Q3J9RXuBIsr_b0DrfeXmzaQ30Pz-rvPO6jTdMRXsBxR"
    ;

static const char  tok_rs256[] =
    "eyJhbGciOiJSUzI1NiIsImtpZCI6InJzIiwidHlwIjoiSldUIn0.eyJzdWIiOiJh"
    "bm4iLCJncm91cHMiOlsiYSIsImIiXSwiaXNzIjoiaHR0cHM6Ly9hdXRoLmV4YW1w"
    "bGUub3JnIiwiYXVkIjpbIngiLCJib29raW5nIl0sImV4cCI6MjAwMDAwMDAwMCwi"
    "bmJmIjoxOTAwMDAwMDAwLCJpYXQiOjE4OTk5OTkwMDB9.aLIA8LNJE0u6zXgSNo3"
    "TyHGWlQ80C0bgrEC4Vxh6q_GlYAPl5NiL1IEeu9TutQHv08Yc6-MTVIB8X8xJTrf"
    "5WL4E3Y0_XiYF5u1blbm3r2zj-8DtvlOtm4wTp1JKVhGeiMuyK2DJuF6WHeznNG2"
    "FLD7d0U_8hhfZGhoLl_bXdMljzfZ6sza3shPoPFo6gMccAjRRjLooAZTiCyBb2oL"
    "KAbhp-xdTB8wU_m50Y4LlPUPvEbH-_tjWQZYkwXHKZ5FCntZ7bZTefuqfWi1YPPG"
    "aMwAfdM1FhL02s4J3CO7O5SpfGvmAtcuHrgBF-09gAiGGN5pQ_0MXiTjTV7uet0Q"
    "sXw"
    ;

static const char  tok_ps384[] =
    "eyJhbGciOiJQUzM4NCIsImtpZCI6InJzIiwidHlwIjoiSldUIn0.eyJzdWIiOiJh"
    "bm4iLCJncm91cHMiOlsiYSIsImIiXSwiaXNzIjoiaHR0cHM6Ly9hdXRoLmV4YW1w"
    "bGUub3JnIiwiYXVkIjpbIngiLCJib29raW5nIl0sImV4cCI6MjAwMDAwMDAwMCwi"
    "bmJmIjoxOTAwMDAwMDAwLCJpYXQiOjE4OTk5OTkwMDB9.iXiacCu_huBHKxf8w1e"
    "L7SpowuYR1KaxHLGwlduAyEop27CR3zWBAsX4i5MUNRxx5IsTIWLusi5W7LgZC8k"
    "9sY6vJNomoaDBOzILJbEW_wikYpqr3COsOfUtgvpR20SFuwU-Xce6JTIyUHtU810"
    "mC2Q1c4yBK1BeIvWI1ik1m8DKxhUHwK4miPGmMzzZDDC5R8etM_aJ2pMDbT_Wavw"
    "cUjRMPN8VIQHclEKsa_QgBm-5WU34fwrtXNEqeZZAMl5UtBeuDsFFKDLSVHuR1eh"
    "icVJPZi3c71y7sWfiM7-d6wR4AKmvgEJIJo6srUyrkgC2nSqVgEaggtrRhAdW8zl"
    "AQQ"
    ;

static const char  tok_es256[] =
    "eyJhbGciOiJFUzI1NiIsImtpZCI6ImVzIiwidHlwIjoiSldUIn0.eyJzdWIiOiJh"
    "bm4iLCJncm91cHMiOlsiYSIsImIiXSwiaXNzIjoiaHR0cHM6Ly9hdXRoLmV4YW1w"
    "bGUub3JnIiwiYXVkIjpbIngiLCJib29raW5nIl0sImV4cCI6MjAwMDAwMDAwMCwi"
    "bmJmIjoxOTAwMDAwMDAwLCJpYXQiOjE4OTk5OTkwMDB9.HweEsnEhfibEMQcqE_4"
    "6op56JmeoQ1EUZL6La0K6yHRTVQV4fDOuY-ZBD70E6gXwNCsYMXFyzEKmMweLxKv"
    "nbg"
    ;

static const char  tok_es384[] =
    "eyJhbGciOiJFUzM4NCIsImtpZCI6ImVzMzg0IiwidHlwIjoiSldUIn0.eyJzdWIi"
    "OiJhbm4iLCJncm91cHMiOlsiYSIsImIiXSwiaXNzIjoiaHR0cHM6Ly9hdXRoLmV4"
    "YW1wbGUub3JnIiwiYXVkIjpbIngiLCJib29raW5nIl0sImV4cCI6MjAwMDAwMDAw"
    "MCwibmJmIjoxOTAwMDAwMDAwLCJpYXQiOjE4OTk5OTkwMDB9.LDwpmJRwFbRY_xV"
    "pRjqhpEdw_C-9TofGJLX9lAnJQ6_N7XQLs3McEq-Trg4kIf5JtU0akmTfjXIsaL8"
    "6iDlE6Ya9QozH3qDBtLg8gMLDm12e-aMlcm9wjVaAM4CWjvk2"
    ;

static const char  tok_eddsa[] =
    "eyJhbGciOiJFZERTQSIsImtpZCI6ImVkIiwidHlwIjoiSldUIn0.eyJzdWIiOiJh"
    "bm4iLCJncm91cHMiOlsiYSIsImIiXSwiaXNzIjoiaHR0cHM6Ly9hdXRoLmV4YW1w"
    "bGUub3JnIiwiYXVkIjpbIngiLCJib29raW5nIl0sImV4cCI6MjAwMDAwMDAwMCwi"
    "bmJmIjoxOTAwMDAwMDAwLCJpYXQiOjE4OTk5OTkwMDB9.77wb3VDEmc3DcJTtf8W"
    "JbfLknxErXNWQ87Eii-vtFfi3FC5jA2gpG1CHLX-BA4J3WlQBtabUGr-d50mGfRw"
    "LBg"
    ;

static const char  tok_hs512[] =
    "eyJhbGciOiJIUzUxMiIsImtpZCI6ImhzIiwidHlwIjoiSldUIn0.eyJzdWIiOiJh"
    "bm4iLCJncm91cHMiOlsiYSIsImIiXSwiaXNzIjoiaHR0cHM6Ly9hdXRoLmV4YW1w"
    "bGUub3JnIiwiYXVkIjpbIngiLCJib29raW5nIl0sImV4cCI6MjAwMDAwMDAwMCwi"
    "bmJmIjoxOTAwMDAwMDAwLCJpYXQiOjE4OTk5OTkwMDB9.KbVDRMMmn1eY2f_sMVG"
    "uWQ2KQ739-DFCWEW7LVW5a7xQ7ldDxFDdkHSLchmClVNmdJOZaJVT1vbVV5dbH7W"
    "3LQ"
    ;

static const char  tok_dup_sub[] =
    "eyJhbGciOiJIUzI1NiIsImtpZCI6ImhzIn0.eyJzdWIiOiJhbm4iLCJzdWIiOiJy"
    "b290IiwiZXhwIjoyMDAwMDAwMDAwfQ.iZYimYpCFqjKypPiGPgB62Nd3ZmuRYClM"
    "ZTvmvX2w3g"
    ;

static const char  tok_crit[] =
    "eyJhbGciOiJIUzI1NiIsImtpZCI6ImhzIiwiY3JpdCI6WyJ4Il0sIngiOjF9.eyJ"
    "zdWIiOiJhbm4iLCJleHAiOjIwMDAwMDAwMDB9.xONtdFLYL5EWPD27glEsZCu6oV"
    "DHuHiMDf0yBEiowk4"
    ;

static const char  tok_no_exp[] =
    "eyJhbGciOiJIUzI1NiIsImtpZCI6ImhzIn0.eyJzdWIiOiJhbm4ifQ.9VhFvMj5o"
    "jvFHAj_ulana88t81ClDm--V653Rn5pdgo"
    ;

static const char  tok_groups_str[] =
    "eyJhbGciOiJIUzI1NiIsImtpZCI6ImhzIn0.eyJzdWIiOiJhbm4iLCJleHAiOjIw"
    "MDAwMDAwMDAsImdyb3VwcyI6InN0YWZmLCBtZW1iZXJzIn0.g8B6UM8x5xoWuHLs"
    "6ER-bqGq2maQEPrs3HNqzuW61YI"
    ;

static const char  tok_groups_comma[] =
    "eyJhbGciOiJIUzI1NiIsImtpZCI6ImhzIn0.eyJzdWIiOiJhbm4iLCJleHAiOjIw"
    "MDAwMDAwMDAsImdyb3VwcyI6WyJhLGIiXX0.KTlF-grjwbAdC9dXhctCMc5o8Nm5"
    "rMx9kYQP75D8aEk"
    ;

static const char  tok_no_kid[] =
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4iLCJleHAiOjIwMDAwMDAwMDB9.st"
    "F-d65FyaZpc97xGv4uHDkSQGICWQ0qcEC-Si6RD1k"
    ;

static const char  tok_unknown_kid[] =
    "eyJhbGciOiJIUzI1NiIsImtpZCI6Inp6In0.eyJzdWIiOiJhbm4iLCJleHAiOjIw"
    "MDAwMDAwMDB9.ktaIs5ip3edR_k02v13FIRQ0is57pIQR4Txq08CRZOA"
    ;

static const char  tok_none[] =
    "eyJhbGciOiJub25lIiwia2lkIjoiaHMifQ.eyJzdWIiOiJhbm4iLCJleHAiOjIwM"
    "DAwMDAwMDB9."
    ;

static const char  tok_not_object[] =
    "eyJhbGciOiJIUzI1NiIsImtpZCI6ImhzIn0.WyJzdWIiXQ.-G2Okbjhpt1QmnbKn"
    "EQ-SBloTFqD-JZ08yp5ldmno-s"
    ;

static const char  tok_exp_float[] =
    "eyJhbGciOiJIUzI1NiIsImtpZCI6ImhzIn0.eyJzdWIiOiJhbm4iLCJleHAiOjIw"
    "MDAwMDAwMDAuOX0.LUURFnWuEobPppUgHqhR9czLqJD6n0ltT0g74BZqgTM"
    ;

static const char  tok_exp_neg[] =
    "eyJhbGciOiJIUzI1NiIsImtpZCI6ImhzIn0.eyJzdWIiOiJhbm4iLCJleHAiOi01"
    "fQ.Ra7anxukuplit8Xh8KaaNdNqAPnSsuO0Mts-vTECcIw"
    ;

static const char  tok_sub_ctl[] =
    "eyJhbGciOiJIUzI1NiIsImtpZCI6ImhzIn0.eyJzdWIiOiJhXHUwMDAxbiIsImV4"
    "cCI6MjAwMDAwMDAwMH0.cdfcZfvC6_iom_RebnsyNqVkz47jKCh9M2x5Iv9tEtE"
    ;


static ngx_booking_jwks_t       *keys;
static ngx_booking_jwt_rules_t   rules = {
    "https://auth.example.org", "booking", 0, "sub", "groups"
};
static ngx_booking_jwt_t         jwt;


static int
setup(void **state)
{
    char  err[256];

    (void) state;

    keys = ngx_booking_jwks_load(U(jwks), err, sizeof(err));

    return keys == NULL;
}


static int
teardown(void **state)
{
    (void) state;

    ngx_booking_jwks_free(keys);

    return 0;
}


static int
verify(const char *token, size_t len, int64_t now)
{
    return ngx_booking_jwt_verify(keys, &rules, (const u_char *) token, len,
                                  now, &jwt);
}


static void
refused(const char *token, size_t len, const char *why)
{
    assert_int_equal(verify(token, len, NOW), NGX_BOOKING_DECLINED);
    assert_string_equal(jwt.error, why);
}


static void
test_jwks(void **state)
{
    (void) state;

    assert_int_equal(ngx_booking_jwks_count(keys), 5);
}


static void
test_every_algorithm(void **state)
{
    size_t       i;
    const char  *tokens[] = { tok_hs256, tok_hs384, tok_rs256, tok_ps384,
                              tok_es256, tok_es384, tok_eddsa };

    (void) state;

    for (i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
        assert_int_equal(verify(tokens[i], strlen(tokens[i]), NOW),
                         NGX_BOOKING_OK);
        assert_string_equal(jwt.user, "ann");
        assert_int_equal(jwt.user_len, 3);
        assert_string_equal(jwt.groups, "a,b");
        assert_int_equal(jwt.exp, 2000000000);
        assert_int_equal(jwt.nbf, 1900000000);
    }
}


static void
test_times(void **state)
{
    (void) state;

    /* not on or after exp; not before nbf */
    assert_int_equal(verify(T(tok_es256), 1999999999), NGX_BOOKING_OK);
    assert_int_equal(verify(T(tok_es256), 2000000000), NGX_BOOKING_DECLINED);
    assert_string_equal(jwt.error, "the token is expired");
    assert_int_equal(verify(T(tok_es256), 1900000000), NGX_BOOKING_OK);
    assert_int_equal(verify(T(tok_es256), 1899999999), NGX_BOOKING_DECLINED);
    assert_string_equal(jwt.error, "the token is not valid yet");

    rules.leeway = 30;
    assert_int_equal(verify(T(tok_es256), 2000000029), NGX_BOOKING_OK);
    assert_int_equal(verify(T(tok_es256), 2000000030), NGX_BOOKING_DECLINED);
    assert_int_equal(verify(T(tok_es256), 1899999970), NGX_BOOKING_OK);
    assert_int_equal(verify(T(tok_es256), 1899999969), NGX_BOOKING_DECLINED);
    rules.leeway = 0;

    /* these carry neither iss nor aud */
    rules.issuer = NULL;
    rules.audience = NULL;

    /* a fraction of a second is cut, as NumericDate allows it */
    assert_int_equal(verify(T(tok_exp_float), 1999999999), NGX_BOOKING_OK);
    assert_int_equal(jwt.exp, 2000000000);
    refused(T(tok_exp_neg), "the token has no valid exp");
    refused(T(tok_no_exp), "the token has no valid exp");

    rules.issuer = "https://auth.example.org";
    rules.audience = "booking";
}


static void
test_claims(void **state)
{
    (void) state;

    rules.issuer = "https://other.example.org";
    refused(T(tok_hs256), "the token's issuer is not accepted");
    rules.issuer = "https://auth.example.org";

    rules.audience = "shop";
    refused(T(tok_hs256), "the token's audience is not accepted");

    /* an aud, and no audience of ours: meant for someone (RFC 7519 4.1.3) */
    rules.audience = NULL;
    refused(T(tok_hs256), "the token's audience is not accepted");

    /* these carry neither iss nor aud */
    rules.issuer = NULL;
    assert_int_equal(verify(T(tok_groups_str), NOW), NGX_BOOKING_OK);
    assert_string_equal(jwt.groups, "staff, members");
    refused(T(tok_groups_comma), "the token's groups are not valid");
    refused(T(tok_sub_ctl), "the token names no valid user");

    rules.user_claim = "email";
    refused(T(tok_groups_str), "the token names no valid user");
    rules.user_claim = "sub";
    rules.groups_claim = NULL;
    assert_int_equal(verify(T(tok_groups_str), NOW), NGX_BOOKING_OK);
    assert_string_equal(jwt.groups, "");
    rules.groups_claim = "groups";

    rules.issuer = "https://auth.example.org";
    rules.audience = "booking";
}


static void
test_refusals(void **state)
{
    char         buf[2048];
    size_t       len;

    (void) state;

    /* HS512 needs a key of 64 bytes: this one has 48 */
    refused(T(tok_hs512), "the token's algorithm does not fit its key");

    rules.issuer = NULL;
    rules.audience = NULL;

    refused(T(tok_none), "the token's algorithm is not accepted");
    refused(T(tok_dup_sub), "the token is malformed");
    refused(T(tok_crit), "the token has critical extensions");
    refused(T(tok_no_kid), "the token names no key");
    refused(T(tok_unknown_kid), "the token's key is unknown");
    refused(T(tok_not_object), "the token is malformed");

    rules.issuer = "https://auth.example.org";
    rules.audience = "booking";

    /* one bit of the signature, of the payload, of the header */
    len = sizeof(tok_es256) - 1;
    memcpy(buf, tok_es256, len);
    buf[len - 2] ^= 0x01;
    refused(buf, len, "the token's signature does not verify");

    memcpy(buf, tok_rs256, sizeof(tok_rs256));
    len = sizeof(tok_rs256) - 1;
    buf[strchr(buf, '.') - buf + 5] ^= 0x02;
    assert_int_equal(verify(buf, len, NOW), NGX_BOOKING_DECLINED);

    /* a signature one byte short, one too long */
    refused(tok_eddsa, sizeof(tok_eddsa) - 2, "the token is malformed");
    memcpy(buf, tok_eddsa, sizeof(tok_eddsa) - 1);
    memcpy(buf + sizeof(tok_eddsa) - 1, "AAAA", 4);
    refused(buf, sizeof(tok_eddsa) - 1 + 4,
            "the token's signature does not verify");

    refused("", 0, "the token is malformed");
    refused(T("a.b"), "the token is malformed");
    refused(T("a.b.c.d"), "the token is malformed");
    refused(T(".."), "the token is malformed");
}


static void
test_jwks_errors(void **state)
{
    char                 err[256];
    size_t               i;
    ngx_booking_jwks_t  *k;
    static const struct {
        const char  *text;
        const char  *why;
    } bad[] = {
        { "{\"keys\": [", "not JSON" },
        { "{\"key\": []}", "no \"keys\" array" },
        { "{\"keys\": []}", "no key that can verify" },
        { "{\"keys\": [{\"kty\":\"oct\",\"k\":\"AAAA\"}]}", "shorter than" },
        { "{\"keys\": [{\"kty\":\"oct\",\"use\":\"enc\",\"k\":\"AAAA\"}]}",
          "no key that can verify" },
        { "{\"keys\": [{\"kty\":\"oct\",\"kid\":7,\"k\":\"AAAA\"}]}",
          "\"kid\"" },
        { "{\"keys\": [{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES256\","
          "\"x\":\"AQ\",\"y\":\"AQ\"}]}", "curve's size" },
        { "{\"keys\": [{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":"
          "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"y\":"
          "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\"}]}",
          "not on its curve" },
        { "{\"keys\": [{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AQ\"}]}",
          "32 bytes" },
        { "{\"keys\": [{\"kty\":\"RSA\",\"alg\":\"ES256\",\"n\":\"AQ\","
          "\"e\":\"AQAB\"}]}", "is not for kty" },
        { "{\"keys\": [{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
          "fewer than 2048" },
        { "{\"keys\": [{\"kty\":\"oct\",\"kid\":\"a\",\"k\":"
          "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"},"
          "{\"kty\":\"oct\",\"kid\":\"a\",\"k\":"
          "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}",
          "two keys of kid" },
    };

    (void) state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        k = ngx_booking_jwks_load((const u_char *) bad[i].text,
                                  strlen(bad[i].text), err, sizeof(err));
        assert_null(k);

        if (strstr(err, bad[i].why) == NULL) {
            fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err,
                     bad[i].why);
        }
    }
}


static void
test_cache(void **state)
{
    ngx_booking_jwt_t         got;
    ngx_booking_jwt_cache_t  *cache;

    (void) state;

    cache = ngx_booking_jwt_cache_create(4);
    assert_non_null(cache);

    assert_int_equal(verify(T(tok_es256), NOW), NGX_BOOKING_OK);
    assert_int_equal(ngx_booking_jwt_cache_get(cache, U(tok_es256), &got),
                     NGX_BOOKING_DECLINED);

    ngx_booking_jwt_cache_put(cache, U(tok_es256), &jwt);
    memset(&got, 0, sizeof(got));
    assert_int_equal(ngx_booking_jwt_cache_get(cache, U(tok_es256), &got),
                     NGX_BOOKING_OK);
    assert_string_equal(got.user, "ann");
    assert_string_equal(got.groups, "a,b");
    assert_int_equal(got.exp, 2000000000);

    /* the times are checked again on each use */
    assert_int_equal(ngx_booking_jwt_current(&got, &rules, 1999999999),
                     NGX_BOOKING_OK);
    assert_int_equal(ngx_booking_jwt_current(&got, &rules, 2000000000),
                     NGX_BOOKING_DECLINED);
    assert_string_equal(got.error, "the token is expired");

    /* another token, even one byte off, is not this entry */
    assert_int_equal(ngx_booking_jwt_cache_get(cache,
                                               (const u_char *) tok_es256,
                                               sizeof(tok_es256) - 2, &got),
                     NGX_BOOKING_DECLINED);

    /* a set of 4: the one least recently used makes room for a fifth */
    ngx_booking_jwt_cache_put(cache, U(tok_hs256), &jwt);
    ngx_booking_jwt_cache_put(cache, U(tok_ps384), &jwt);
    ngx_booking_jwt_cache_put(cache, U(tok_es384), &jwt);
    assert_int_equal(ngx_booking_jwt_cache_get(cache, U(tok_es256), &got),
                     NGX_BOOKING_OK);
    ngx_booking_jwt_cache_put(cache, U(tok_eddsa), &jwt);
    assert_int_equal(ngx_booking_jwt_cache_get(cache, U(tok_hs256), &got),
                     NGX_BOOKING_DECLINED);
    assert_int_equal(ngx_booking_jwt_cache_get(cache, U(tok_es256), &got),
                     NGX_BOOKING_OK);
    assert_int_equal(ngx_booking_jwt_cache_get(cache, U(tok_ps384), &got),
                     NGX_BOOKING_OK);
    assert_int_equal(ngx_booking_jwt_cache_get(cache, U(tok_es384), &got),
                     NGX_BOOKING_OK);
    assert_int_equal(ngx_booking_jwt_cache_get(cache, U(tok_eddsa), &got),
                     NGX_BOOKING_OK);

    /* more groups than an entry keeps: not cached */
    jwt.groups_len = NGX_BOOKING_JWT_CACHED_GROUPS + 1;
    ngx_booking_jwt_cache_put(cache, U(tok_rs256), &jwt);
    assert_int_equal(ngx_booking_jwt_cache_get(cache, U(tok_rs256), &got),
                     NGX_BOOKING_DECLINED);

    ngx_booking_jwt_cache_free(cache);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_jwks),
        cmocka_unit_test(test_every_algorithm),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_claims),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_jwks_errors),
        cmocka_unit_test(test_cache),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * The caller from a bearer token (booking_jwt, SPEC §5): the JWKS read
 * with the configuration, each request's token checked against it, the
 * RFC 6750 challenge on a 401.
 *
 * A worker keeps the tokens it verified (ngx_booking_jwt_cache_*, by the
 * SHA-256 of the whole token, their times checked again on each use): a
 * client sends the same token for many requests, and an RSA or ECDSA
 * verification costs far more than the hash.  The cache is the worker's
 * own, not shared: nothing to lock, and each worker verifies a token once.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_booking_http.h"


static ngx_int_t ngx_booking_auth_token(ngx_http_request_t *r,
    ngx_str_t *token);
static void ngx_booking_auth_keys_free(void *data);


static ngx_booking_jwt_cache_t  *ngx_booking_jwt_cache;


/*
 * booking_jwt on or optional: the user and groups come from the token and
 * from nothing else.  No token: no user (the operation answers 401 if it
 * needs one).  A token that does not verify: 401, whatever the operation.
 */
ngx_int_t
ngx_booking_auth_bearer(ngx_http_request_t *r, ngx_booking_http_ctx_t *ctx,
    ngx_booking_perr_t *err)
{
    u_char                   *p;
    ngx_str_t                 token;
    ngx_booking_jwt_t         jwt;
    ngx_booking_caller_t     *who;
    ngx_booking_main_conf_t  *bmcf;

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_booking_module);
    who = &ctx->req.caller;
    ctx->bearer = 1;

    if (ngx_booking_auth_token(r, &token) != NGX_OK) {
        return NGX_OK;
    }

    if (ngx_booking_jwt_cache == NULL) {
        ngx_booking_jwt_cache =
                        ngx_booking_jwt_cache_create(NGX_BOOKING_JWT_CACHE_SIZE);
    }

    if (ngx_booking_jwt_cache != NULL
        && ngx_booking_jwt_cache_get(ngx_booking_jwt_cache, token.data,
                                     token.len, &jwt)
           == NGX_BOOKING_OK)
    {
        if (ngx_booking_jwt_current(&jwt, &bmcf->jwt.rules, ngx_time())
            != NGX_BOOKING_OK)
        {
            goto refused;
        }

    } else {
        if (ngx_booking_jwt_verify(bmcf->jwt.keys, &bmcf->jwt.rules,
                                   token.data, token.len, ngx_time(), &jwt)
            != NGX_BOOKING_OK)
        {
            goto refused;
        }

        if (ngx_booking_jwt_cache != NULL) {
            ngx_booking_jwt_cache_put(ngx_booking_jwt_cache, token.data,
                                      token.len, &jwt);
        }
    }

    p = ngx_pnalloc(r->pool, jwt.user_len + jwt.groups_len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    who->user.data = p;
    who->user.len = jwt.user_len;
    p = ngx_cpymem(p, jwt.user, jwt.user_len);

    who->groups.data = p;
    who->groups.len = jwt.groups_len;
    ngx_memcpy(p, jwt.groups, jwt.groups_len);

    return NGX_OK;

refused:

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "booking: bearer token refused: %s", jwt.error);

    ctx->jwt_error = jwt.error;

    err->status = NGX_HTTP_UNAUTHORIZED;
    err->code = "unauthenticated";
    err->message = jwt.error;
    err->field = NULL;

    return NGX_DECLINED;
}


/*
 * "Authorization: Bearer <token>" (RFC 6750 2.1, the scheme in any case);
 * another scheme is no token of ours.
 */
static ngx_int_t
ngx_booking_auth_token(ngx_http_request_t *r, ngx_str_t *token)
{
    u_char           *p, *last;
    ngx_table_elt_t  *h;

    h = r->headers_in.authorization;

    if (h == NULL || h->value.len < 7
        || ngx_strncasecmp(h->value.data, (u_char *) "Bearer ", 7) != 0)
    {
        return NGX_DECLINED;
    }

    p = h->value.data + 7;
    last = h->value.data + h->value.len;

    while (p < last && *p == ' ') {
        p++;
    }

    while (last > p && last[-1] == ' ') {
        last--;
    }

    token->data = p;
    token->len = last - p;

    return NGX_OK;
}


/* a 401 of a booking_jwt location says how to authenticate (RFC 6750 3) */
ngx_int_t
ngx_booking_auth_challenge(ngx_http_request_t *r, ngx_booking_http_ctx_t *ctx)
{
    size_t            len;
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "WWW-Authenticate");

    if (ctx->jwt_error == NULL) {
        /* no token came: no error code (RFC 6750 3.1) */
        ngx_str_set(&h->value, "Bearer realm=\"booking\"");
        return NGX_OK;
    }

    len = sizeof("Bearer realm=\"booking\", error=\"invalid_token\", "
                 "error_description=\"\"") - 1
          + ngx_strlen(ctx->jwt_error);

    h->value.data = ngx_pnalloc(r->pool, len);
    if (h->value.data == NULL) {
        return NGX_ERROR;
    }

    /* the descriptions are our own words, with no quote to escape */
    h->value.len = ngx_sprintf(h->value.data,
                               "Bearer realm=\"booking\", "
                               "error=\"invalid_token\", "
                               "error_description=\"%s\"", ctx->jwt_error)
                   - h->value.data;

    return NGX_OK;
}


/* booking_jwt_keys: the JWKS, checked now, so that nginx -t tells */
char *
ngx_booking_auth_keys(ngx_conf_t *cf, ngx_booking_jwt_conf_t *jwt,
    ngx_str_t *file, ngx_str_t *text)
{
    char                 err[256];
    ngx_pool_cleanup_t  *cln;

    jwt->keys = ngx_booking_jwks_load(text->data, text->len, err,
                                      sizeof(err));

    if (jwt->keys == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": %s", file, err);
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_booking_jwks_free(jwt->keys);
        jwt->keys = NULL;
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_booking_auth_keys_free;
    cln->data = jwt->keys;

    return NGX_CONF_OK;
}


static void
ngx_booking_auth_keys_free(void *data)
{
    ngx_booking_jwks_free(data);
}


/* the rules from the booking_jwt_* directives (their values end in '\0') */
char *
ngx_booking_auth_conf(ngx_conf_t *cf, ngx_booking_jwt_conf_t *jwt)
{
    ngx_conf_init_value(jwt->leeway, 0);

    if (jwt->user_claim.data == NULL) {
        ngx_str_set(&jwt->user_claim, "sub");
    }

    jwt->rules.issuer = (char *) jwt->issuer.data;
    jwt->rules.audience = (char *) jwt->audience.data;
    jwt->rules.leeway = jwt->leeway;
    jwt->rules.user_claim = (char *) jwt->user_claim.data;
    jwt->rules.groups_claim = jwt->groups_claim.data
                              ? (char *) jwt->groups_claim.data : "groups";

    return NGX_CONF_OK;
}


void
ngx_booking_auth_exit_process(void)
{
    ngx_booking_jwt_cache_free(ngx_booking_jwt_cache);
    ngx_booking_jwt_cache = NULL;
}

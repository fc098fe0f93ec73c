/*
 * Commands in RESP, written by the module (hiredis only reads replies):
 * one allocation holds the command and its bytes, apart from any request,
 * so that a command outlives a request that goes away before its reply.
 */

#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_booking_redis.h"


static u_char *ngx_booking_resp_head(u_char *p, u_char mark, size_t n);


ngx_booking_redis_cmd_t *
ngx_booking_resp_command(ngx_str_t *head, ngx_uint_t nhead, ngx_str_t *argv,
    ngx_uint_t argc, ngx_log_t *log)
{
    u_char                   *p;
    size_t                    len;
    ngx_uint_t                i, n;
    ngx_str_t                *s;
    ngx_booking_redis_cmd_t  *cmd;

    len = sizeof("*\r\n") - 1 + NGX_INT_T_LEN;

    for (i = 0; i < nhead + argc; i++) {
        s = (i < nhead) ? &head[i] : &argv[i - nhead];
        len += sizeof("$\r\n\r\n") - 1 + NGX_SIZE_T_LEN + s->len;
    }

    cmd = ngx_alloc(sizeof(ngx_booking_redis_cmd_t) + len, log);
    if (cmd == NULL) {
        return NULL;
    }

    ngx_memzero(cmd, sizeof(ngx_booking_redis_cmd_t));
    cmd->script = -1;
    cmd->bytes = (u_char *) cmd + sizeof(ngx_booking_redis_cmd_t);

    n = nhead + argc;
    p = ngx_booking_resp_head(cmd->bytes, '*', n);

    for (i = 0; i < n; i++) {
        s = (i < nhead) ? &head[i] : &argv[i - nhead];

        p = ngx_booking_resp_head(p, '$', s->len);

        if (s->len) {
            p = ngx_cpymem(p, s->data, s->len);
        }

        *p++ = CR; *p++ = LF;

        /* FCALL's own two: what EVAL replaces to send the script */
        if (i == 1) {
            cmd->rest = p - cmd->bytes;
        }
    }

    cmd->len = p - cmd->bytes;

    return cmd;
}


/*
 * "*<n>\r\n" or "$<n>\r\n": a listing page writes about 200 of these, and
 * ngx_sprintf(), reading its format each time, was 4% of the worker's time
 */
static u_char *
ngx_booking_resp_head(u_char *p, u_char mark, size_t n)
{
    u_char  *d;
    u_char   digits[NGX_SIZE_T_LEN];

    d = digits + NGX_SIZE_T_LEN;

    do {
        *--d = (u_char) ('0' + n % 10);
        n /= 10;
    } while (n);

    *p++ = mark;
    p = ngx_cpymem(p, d, digits + NGX_SIZE_T_LEN - d);
    *p++ = CR; *p++ = LF;

    return p;
}

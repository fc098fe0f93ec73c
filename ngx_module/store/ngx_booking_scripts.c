/*
 * The scripts as a Redis node runs them: each is a function of a library
 * of its own, loaded (FUNCTION LOAD) on every (re)connection and called
 * by FCALL.  A library's top level (the contract's names, the helpers of
 * common.lua) runs once, when it is loaded, where EVALSHA would run it
 * again at every call (issue 12: 8.6 us of a hold's Redis time).  A node
 * without the function (a FUNCTION FLUSH, a Redis that refused to load
 * it) runs the same script as EVAL instead, and is sent the library again.
 */

#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_booking_redis.h"
#include "ngx_booking_scripts.h"


void
ngx_booking_scripts_init(void)
{
    u_char                *lf;
    ngx_booking_script_t  *s;

    for (s = ngx_booking_scripts; s->name.len; s++) {

        /* Redis refuses a write from such a script: no replica waits */
        lf = ngx_strlchr(s->text.data, s->text.data + s->text.len, LF);
        s->reads = lf != NULL
                   && ngx_strlcasestrn(s->text.data, lf,
                                       (u_char *) "no-writes", 9 - 1)
                      != NULL;
    }
}


/* whether a script may write: with booking_redis_replicas, WAIT follows */
ngx_uint_t
ngx_booking_script_writes(ngx_uint_t script)
{
    return !ngx_booking_scripts[script].reads;
}


ngx_str_t *
ngx_booking_script_name(ngx_uint_t script)
{
    return &ngx_booking_scripts[script].name;
}


/* FCALL <function> <nkeys> <keys> <args> */
ngx_booking_redis_cmd_t *
ngx_booking_script_command(ngx_uint_t script, ngx_str_t *keys,
    ngx_uint_t nkeys, ngx_str_t *args, ngx_uint_t nargs, ngx_log_t *log)
{
    u_char                    nbuf[NGX_INT_T_LEN];
    ngx_str_t                 head[3], *argv;
    ngx_uint_t                i;
    ngx_booking_redis_cmd_t  *cmd;

    ngx_str_set(&head[0], "FCALL");
    head[1] = ngx_booking_scripts[script].function;
    head[2].data = nbuf;
    head[2].len = ngx_sprintf(nbuf, "%ui", nkeys) - nbuf;

    argv = ngx_alloc((nkeys + nargs + 1) * sizeof(ngx_str_t), log);
    if (argv == NULL) {
        return NULL;
    }

    for (i = 0; i < nkeys; i++) {
        argv[i] = keys[i];
    }

    for (i = 0; i < nargs; i++) {
        argv[nkeys + i] = args[i];
    }

    cmd = ngx_booking_resp_command(head, 3, argv, nkeys + nargs, log);

    ngx_free(argv);

    if (cmd != NULL) {
        cmd->script = script;
    }

    return cmd;
}


/*
 * EVAL <text> <nkeys> ... in place of FCALL <function> <nkeys> ...: the
 * same arguments, so "*<argc>" stays as it is.
 */
ngx_booking_redis_cmd_t *
ngx_booking_script_eval(ngx_booking_redis_cmd_t *cmd, ngx_log_t *log)
{
    u_char                   *p;
    size_t                    len, argc_len;
    ngx_str_t                *text;
    ngx_booking_redis_cmd_t  *eval;

    text = &ngx_booking_scripts[cmd->script].text;

    p = ngx_strlchr(cmd->bytes, cmd->bytes + cmd->len, LF);
    argc_len = p + 1 - cmd->bytes;

    len = argc_len + sizeof("$4\r\nEVAL\r\n$\r\n\r\n") - 1 + NGX_SIZE_T_LEN
          + text->len + cmd->len - cmd->rest;

    eval = ngx_alloc(sizeof(ngx_booking_redis_cmd_t) + len, log);
    if (eval == NULL) {
        return NULL;
    }

    *eval = *cmd;
    eval->retried = 1;
    eval->bytes = (u_char *) eval + sizeof(ngx_booking_redis_cmd_t);

    p = ngx_cpymem(eval->bytes, cmd->bytes, argc_len);
    p = ngx_sprintf(p, "$4\r\nEVAL\r\n$%uz\r\n", text->len);
    p = ngx_cpymem(p, text->data, text->len);
    *p++ = CR; *p++ = LF;
    eval->rest = p - eval->bytes;
    p = ngx_cpymem(p, cmd->bytes + cmd->rest, cmd->len - cmd->rest);
    eval->len = p - eval->bytes;

    return eval;
}


/*
 * FUNCTION LOAD <library>, without REPLACE: a library is named after its
 * text, so one of that name is this one, and "already exists" is success.
 */
ngx_booking_redis_cmd_t *
ngx_booking_script_load(ngx_uint_t script, ngx_log_t *log)
{
    ngx_str_t  argv[3];

    ngx_str_set(&argv[0], "FUNCTION");
    ngx_str_set(&argv[1], "LOAD");
    argv[2] = ngx_booking_scripts[script].library;

    return ngx_booking_resp_command(argv, 3, NULL, 0, log);
}

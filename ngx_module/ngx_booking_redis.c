/*
 * The Redis layer.
 *
 * Each worker keeps booking_redis_connections connections.  nginx owns the
 * sockets, timers and non-blocking connect (ngx_event_connect_peer); hiredis
 * only parses RESP (redisReader).  Replies come back in the order commands
 * were sent, so every connection keeps a FIFO of commands in flight and a
 * reply always belongs to the head of it.
 *
 * A connection is DOWN (waiting to reconnect), CONNECTING, in HANDSHAKE
 * (AUTH, SELECT, SCRIPT LOAD sent, replies awaited) or READY.  Commands
 * given to a connection that is not READY wait unsent, so that none can run
 * before AUTH and SELECT did.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>

#include <openssl/sha.h>

#include "ngx_booking_module.h"
#include "ngx_booking_redis.h"
#include "ngx_booking_scripts.h"


#define NGX_BOOKING_REDIS_DOWN        0
#define NGX_BOOKING_REDIS_CONNECTING  1
#define NGX_BOOKING_REDIS_HANDSHAKE   2
#define NGX_BOOKING_REDIS_READY       3

#define NGX_BOOKING_BACKOFF_MIN       100
#define NGX_BOOKING_BACKOFF_MAX       5000

#define NGX_BOOKING_READ_CHUNK        16384


typedef struct ngx_booking_redis_conn_s  ngx_booking_redis_conn_t;


struct ngx_booking_redis_cmd_s {
    ngx_queue_t                    queue;
    ngx_booking_redis_conn_t      *conn;
    ngx_booking_redis_handler_pt   handler;
    void                          *data;
    ngx_msec_t                     deadline;
    ngx_int_t                      script;    /* -1: not an EVALSHA */
    size_t                         rest;      /* after "EVALSHA <sha>" */
    size_t                         len;
    u_char                        *bytes;     /* the command in RESP */
    unsigned                       internal:1;
    unsigned                       retried:1;
};


struct ngx_booking_redis_conn_s {
    ngx_uint_t                     state;
    ngx_uint_t                     index;
    ngx_peer_connection_t          peer;
    redisReader                   *reader;

    ngx_queue_t                    inflight;  /* sent, reply awaited */
    ngx_queue_t                    waiting;   /* not sent until READY */
    ngx_uint_t                     ninflight;
    ngx_uint_t                     handshake;  /* replies still awaited */

    u_char                        *out;
    size_t                         out_pos;
    size_t                         out_len;
    size_t                         out_size;

    ngx_event_t                    flush;
    ngx_event_t                    reconnect;
    ngx_msec_t                     backoff;
};


static void ngx_booking_redis_connect(ngx_booking_redis_conn_t *rc);
static void ngx_booking_redis_connected(ngx_booking_redis_conn_t *rc);
static ngx_int_t ngx_booking_redis_handshake(ngx_booking_redis_conn_t *rc);
static void ngx_booking_redis_handshake_reply(void *data, ngx_int_t rc,
    redisReply *reply);
static void ngx_booking_redis_close(ngx_booking_redis_conn_t *rc,
    ngx_int_t why);
static void ngx_booking_redis_release(ngx_booking_redis_conn_t *rc);
static void ngx_booking_redis_fail(ngx_queue_t *q, ngx_int_t why);
static void ngx_booking_redis_schedule(ngx_booking_redis_conn_t *rc);
static void ngx_booking_redis_reconnect_handler(ngx_event_t *ev);
static void ngx_booking_redis_flush_handler(ngx_event_t *ev);
static void ngx_booking_redis_write_handler(ngx_event_t *wev);
static void ngx_booking_redis_read_handler(ngx_event_t *rev);
static void ngx_booking_redis_timeout(ngx_booking_redis_conn_t *rc);
static ngx_int_t ngx_booking_redis_test_connect(ngx_connection_t *c);
static ngx_int_t ngx_booking_redis_dispatch(ngx_booking_redis_conn_t *rc,
    redisReply *reply);
static ngx_int_t ngx_booking_redis_retry_as_eval(ngx_booking_redis_conn_t *rc,
    ngx_booking_redis_cmd_t *cmd);
static void ngx_booking_redis_send(ngx_booking_redis_conn_t *rc,
    ngx_booking_redis_cmd_t *cmd);
static ngx_int_t ngx_booking_redis_append(ngx_booking_redis_conn_t *rc,
    u_char *p, size_t len);
static void ngx_booking_redis_arm(ngx_booking_redis_conn_t *rc);
static ngx_booking_redis_conn_t *ngx_booking_redis_pick(void);
static ngx_booking_redis_cmd_t *ngx_booking_redis_format(ngx_str_t *head,
    ngx_uint_t nhead, ngx_str_t *argv, ngx_uint_t argc, ngx_log_t *log);
static ngx_booking_redis_cmd_t *ngx_booking_redis_submit(
    ngx_booking_redis_cmd_t *cmd, ngx_booking_redis_handler_pt handler,
    void *data);
static void ngx_booking_redis_scripts_init(void);


static ngx_booking_main_conf_t   *ngx_booking_redis_conf;
static ngx_booking_redis_conn_t  *ngx_booking_redis_conns;
static ngx_uint_t                 ngx_booking_redis_nconns;
static ngx_uint_t                 ngx_booking_redis_next;


ngx_int_t
ngx_booking_redis_init_process(ngx_cycle_t *cycle,
    ngx_booking_main_conf_t *bmcf)
{
    ngx_uint_t                 i;
    ngx_booking_redis_conn_t  *rc;

    ngx_booking_redis_scripts_init();

    ngx_booking_redis_conf = bmcf;
    ngx_booking_redis_nconns = bmcf->redis_connections;

    ngx_booking_redis_conns = ngx_pcalloc(cycle->pool,
                                 bmcf->redis_connections
                                 * sizeof(ngx_booking_redis_conn_t));
    if (ngx_booking_redis_conns == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < ngx_booking_redis_nconns; i++) {
        rc = &ngx_booking_redis_conns[i];

        rc->index = i;
        rc->state = NGX_BOOKING_REDIS_DOWN;
        ngx_queue_init(&rc->inflight);
        ngx_queue_init(&rc->waiting);

        rc->peer.sockaddr = bmcf->redis_addr->sockaddr;
        rc->peer.socklen = bmcf->redis_addr->socklen;
        rc->peer.name = &bmcf->redis_name;
        rc->peer.get = ngx_event_get_peer;
        rc->peer.log = cycle->log;
        rc->peer.log_error = NGX_ERROR_ERR;

        rc->flush.handler = ngx_booking_redis_flush_handler;
        rc->flush.data = rc;
        rc->flush.log = cycle->log;

        /* a pending reconnect must not hold a worker that is shutting down */
        rc->reconnect.handler = ngx_booking_redis_reconnect_handler;
        rc->reconnect.data = rc;
        rc->reconnect.log = cycle->log;
        rc->reconnect.cancelable = 1;

        ngx_booking_redis_connect(rc);
    }

    return NGX_OK;
}


void
ngx_booking_redis_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                 i;
    ngx_queue_t               *q;
    ngx_booking_redis_cmd_t   *cmd;
    ngx_booking_redis_conn_t  *rc;

    for (i = 0; i < ngx_booking_redis_nconns; i++) {
        rc = &ngx_booking_redis_conns[i];

        /* no request is left to answer: drop the commands silently */
        while (!ngx_queue_empty(&rc->inflight)) {
            q = ngx_queue_head(&rc->inflight);
            ngx_queue_remove(q);
            cmd = ngx_queue_data(q, ngx_booking_redis_cmd_t, queue);
            ngx_free(cmd);
        }

        while (!ngx_queue_empty(&rc->waiting)) {
            q = ngx_queue_head(&rc->waiting);
            ngx_queue_remove(q);
            cmd = ngx_queue_data(q, ngx_booking_redis_cmd_t, queue);
            ngx_free(cmd);
        }

        if (rc->reconnect.timer_set) {
            ngx_del_timer(&rc->reconnect);
        }

        ngx_booking_redis_release(rc);

        if (rc->out != NULL) {
            ngx_free(rc->out);
            rc->out = NULL;
        }
    }

    ngx_booking_redis_nconns = 0;
}


ngx_booking_redis_cmd_t *
ngx_booking_redis_eval(ngx_uint_t script, ngx_str_t *argv, ngx_uint_t nkeys,
    ngx_uint_t argc, ngx_booking_redis_handler_pt handler, void *data,
    ngx_log_t *log)
{
    u_char                    nbuf[NGX_INT_T_LEN];
    ngx_str_t                 head[3];
    ngx_booking_redis_cmd_t  *cmd;

    ngx_str_set(&head[0], "EVALSHA");
    head[1].data = ngx_booking_scripts[script].sha1;
    head[1].len = 40;
    head[2].data = nbuf;
    head[2].len = ngx_sprintf(nbuf, "%ui", nkeys) - nbuf;

    cmd = ngx_booking_redis_format(head, 3, argv, argc, log);
    if (cmd == NULL) {
        return NULL;
    }

    cmd->script = script;

    return ngx_booking_redis_submit(cmd, handler, data);
}


ngx_booking_redis_cmd_t *
ngx_booking_redis_command(ngx_str_t *argv, ngx_uint_t argc,
    ngx_booking_redis_handler_pt handler, void *data, ngx_log_t *log)
{
    ngx_booking_redis_cmd_t  *cmd;

    cmd = ngx_booking_redis_format(NULL, 0, argv, argc, log);
    if (cmd == NULL) {
        return NULL;
    }

    return ngx_booking_redis_submit(cmd, handler, data);
}


void
ngx_booking_redis_cancel(ngx_booking_redis_cmd_t *cmd)
{
    /* the command stays in its queue: its reply must still be consumed */
    cmd->handler = NULL;
    cmd->data = NULL;
}


void
ngx_booking_redis_stats(ngx_booking_redis_stats_t *st)
{
    ngx_uint_t  i;

    ngx_memzero(st, sizeof(ngx_booking_redis_stats_t));

    for (i = 0; i < ngx_booking_redis_nconns; i++) {
        switch (ngx_booking_redis_conns[i].state) {

        case NGX_BOOKING_REDIS_READY:
            st->ready++;
            break;

        case NGX_BOOKING_REDIS_DOWN:
            st->down++;
            break;

        default:
            st->connecting++;
        }

        st->inflight += ngx_booking_redis_conns[i].ninflight;
    }
}


static ngx_booking_redis_cmd_t *
ngx_booking_redis_submit(ngx_booking_redis_cmd_t *cmd,
    ngx_booking_redis_handler_pt handler, void *data)
{
    ngx_booking_redis_conn_t  *rc;

    rc = ngx_booking_redis_pick();
    if (rc == NULL) {
        ngx_free(cmd);
        return NULL;
    }

    cmd->handler = handler;
    cmd->data = data;
    cmd->conn = rc;
    cmd->deadline = ngx_current_msec + ngx_booking_redis_conf->redis_timeout;

    if (rc->state == NGX_BOOKING_REDIS_READY) {
        ngx_booking_redis_send(rc, cmd);

    } else {
        ngx_queue_insert_tail(&rc->waiting, &cmd->queue);
    }

    return cmd;
}


/*
 * The ready connection after the last one used, so that the commands of a
 * busy worker spread over all of them; else one still connecting, whose
 * commands wait for its handshake; else none: Redis is down.
 */
static ngx_booking_redis_conn_t *
ngx_booking_redis_pick(void)
{
    ngx_uint_t                 i, n;
    ngx_booking_redis_conn_t  *rc, *pending;

    pending = NULL;
    n = ngx_booking_redis_nconns;

    for (i = 0; i < n; i++) {
        rc = &ngx_booking_redis_conns[(ngx_booking_redis_next + i) % n];

        if (rc->state == NGX_BOOKING_REDIS_READY) {
            ngx_booking_redis_next = (rc->index + 1) % n;
            return rc;
        }

        if (rc->state != NGX_BOOKING_REDIS_DOWN && pending == NULL) {
            pending = rc;
        }
    }

    return pending;
}


static ngx_booking_redis_cmd_t *
ngx_booking_redis_format(ngx_str_t *head, ngx_uint_t nhead, ngx_str_t *argv,
    ngx_uint_t argc, ngx_log_t *log)
{
    u_char                   *p;
    size_t                    len;
    ngx_uint_t                i;
    ngx_booking_redis_cmd_t  *cmd;

    len = sizeof("*\r\n") - 1 + NGX_INT_T_LEN;

    for (i = 0; i < nhead; i++) {
        len += sizeof("$\r\n\r\n") - 1 + NGX_SIZE_T_LEN + head[i].len;
    }

    for (i = 0; i < argc; i++) {
        len += sizeof("$\r\n\r\n") - 1 + NGX_SIZE_T_LEN + argv[i].len;
    }

    cmd = ngx_alloc(sizeof(ngx_booking_redis_cmd_t) + len, log);
    if (cmd == NULL) {
        return NULL;
    }

    ngx_memzero(cmd, sizeof(ngx_booking_redis_cmd_t));
    cmd->script = -1;
    cmd->bytes = (u_char *) cmd + sizeof(ngx_booking_redis_cmd_t);

    p = ngx_sprintf(cmd->bytes, "*%ui\r\n", nhead + argc);

    for (i = 0; i < nhead; i++) {
        p = ngx_sprintf(p, "$%uz\r\n", head[i].len);
        p = ngx_cpymem(p, head[i].data, head[i].len);
        *p++ = CR; *p++ = LF;

        /* EVALSHA's own two: what EVAL replaces to send the script */
        if (i == 1) {
            cmd->rest = p - cmd->bytes;
        }
    }

    for (i = 0; i < argc; i++) {
        p = ngx_sprintf(p, "$%uz\r\n", argv[i].len);
        p = ngx_cpymem(p, argv[i].data, argv[i].len);
        *p++ = CR; *p++ = LF;
    }

    cmd->len = p - cmd->bytes;

    return cmd;
}


static void
ngx_booking_redis_connect(ngx_booking_redis_conn_t *rc)
{
    ngx_int_t          n;
    ngx_connection_t  *c;

    rc->state = NGX_BOOKING_REDIS_CONNECTING;

    n = ngx_event_connect_peer(&rc->peer);

    if (n == NGX_ERROR || n == NGX_BUSY || n == NGX_DECLINED) {
        ngx_booking_redis_close(rc, NGX_BOOKING_REDIS_UNAVAILABLE);
        return;
    }

    c = rc->peer.connection;
    c->data = rc;
    c->read->handler = ngx_booking_redis_read_handler;
    c->write->handler = ngx_booking_redis_write_handler;

    rc->reader = ngx_booking_reader_create();
    if (rc->reader == NULL) {
        ngx_booking_redis_close(rc, NGX_BOOKING_REDIS_UNAVAILABLE);
        return;
    }

    if (n == NGX_AGAIN) {
        /* the handshake must finish within one command's timeout too */
        ngx_add_timer(c->read, ngx_booking_redis_conf->redis_timeout);
        return;
    }

    ngx_booking_redis_connected(rc);
}


static void
ngx_booking_redis_connected(ngx_booking_redis_conn_t *rc)
{
    int                tcp_nodelay;
    ngx_connection_t  *c;

    c = rc->peer.connection;

    /* small commands must leave at once, not wait for Nagle's ACK */
    if (rc->peer.sockaddr->sa_family != AF_UNIX) {
        tcp_nodelay = 1;

        if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY,
                       (const void *) &tcp_nodelay, sizeof(int))
            == -1)
        {
            ngx_log_error(NGX_LOG_WARN, c->log, ngx_socket_errno,
                          "booking: setsockopt(TCP_NODELAY) failed");
        }
    }

    rc->state = NGX_BOOKING_REDIS_HANDSHAKE;

    if (!c->read->timer_set) {
        ngx_add_timer(c->read, ngx_booking_redis_conf->redis_timeout);
    }

    if (ngx_booking_redis_handshake(rc) != NGX_OK) {
        ngx_booking_redis_close(rc, NGX_BOOKING_REDIS_UNAVAILABLE);
    }
}


static ngx_int_t
ngx_booking_redis_handshake(ngx_booking_redis_conn_t *rc)
{
    u_char                   *p, nbuf[NGX_INT_T_LEN];
    ngx_uint_t                i;
    ngx_str_t                 argv[3];
    ngx_booking_redis_cmd_t  *cmd;

    for (i = 0; i < 2 + NGX_BOOKING_SCRIPT_N; i++) {

        if (i == 0) {
            if (ngx_booking_redis_conf->redis_password.len == 0) {
                continue;
            }

            ngx_str_set(&argv[0], "AUTH");
            argv[1] = ngx_booking_redis_conf->redis_password;

        } else if (i == 1) {
            if (ngx_booking_redis_conf->redis_database == 0) {
                continue;
            }

            p = ngx_sprintf(nbuf, "%i",
                            ngx_booking_redis_conf->redis_database);
            ngx_str_set(&argv[0], "SELECT");
            argv[1].data = nbuf;
            argv[1].len = p - nbuf;

        } else {
            ngx_str_set(&argv[0], "SCRIPT");
            ngx_str_set(&argv[1], "LOAD");
            argv[2] = ngx_booking_scripts[i - 2].text;
        }

        cmd = ngx_booking_redis_format(argv, i < 2 ? 2 : 3, NULL, 0,
                                       rc->peer.log);
        if (cmd == NULL) {
            return NGX_ERROR;
        }

        cmd->internal = 1;
        cmd->conn = rc;
        cmd->handler = ngx_booking_redis_handshake_reply;
        cmd->data = rc;
        cmd->deadline = ngx_current_msec
                        + ngx_booking_redis_conf->redis_timeout;

        rc->handshake++;
        ngx_booking_redis_send(rc, cmd);
    }

    return NGX_OK;
}


static void
ngx_booking_redis_handshake_reply(void *data, ngx_int_t rc, redisReply *reply)
{
    ngx_booking_redis_conn_t *conn = data;

    ngx_queue_t              *q;
    ngx_booking_redis_cmd_t  *cmd;

    if (rc != NGX_BOOKING_REDIS_REPLY) {
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        /* LOADING, a wrong password, a bad database: try again later */
        ngx_log_error(NGX_LOG_ERR, conn->peer.log, 0,
                      "booking: redis %V refused the handshake: %*s",
                      conn->peer.name, (size_t) reply->len, reply->str);
        ngx_booking_redis_close(conn, NGX_BOOKING_REDIS_UNAVAILABLE);
        return;
    }

    if (--conn->handshake > 0) {
        return;
    }

    conn->state = NGX_BOOKING_REDIS_READY;
    conn->backoff = 0;

    ngx_log_error(NGX_LOG_INFO, conn->peer.log, 0,
                  "booking: redis %V connection %ui ready",
                  conn->peer.name, conn->index);

    while (!ngx_queue_empty(&conn->waiting)) {
        q = ngx_queue_head(&conn->waiting);
        ngx_queue_remove(q);
        cmd = ngx_queue_data(q, ngx_booking_redis_cmd_t, queue);
        ngx_booking_redis_send(conn, cmd);
    }

    ngx_booking_redis_arm(conn);
}


static void
ngx_booking_redis_send(ngx_booking_redis_conn_t *rc,
    ngx_booking_redis_cmd_t *cmd)
{
    if (ngx_booking_redis_append(rc, cmd->bytes, cmd->len) != NGX_OK) {
        ngx_queue_insert_tail(&rc->inflight, &cmd->queue);
        rc->ninflight++;
        ngx_booking_redis_close(rc, NGX_BOOKING_REDIS_LOST);
        return;
    }

    ngx_queue_insert_tail(&rc->inflight, &cmd->queue);
    rc->ninflight++;

    if (rc->ninflight == 1) {
        ngx_booking_redis_arm(rc);
    }

    /* one write per event loop turn carries every command queued in it */
    if (!rc->flush.posted) {
        ngx_post_event(&rc->flush, &ngx_posted_events);
    }
}


static ngx_int_t
ngx_booking_redis_append(ngx_booking_redis_conn_t *rc, u_char *p, size_t len)
{
    u_char  *out;
    size_t   size;

    if (rc->out_pos == rc->out_len) {
        rc->out_pos = 0;
        rc->out_len = 0;
    }

    if (rc->out_len + len > rc->out_size) {
        size = ngx_max(rc->out_size * 2, 16384);

        while (size < rc->out_len - rc->out_pos + len) {
            size *= 2;
        }

        out = ngx_alloc(size, rc->peer.log);
        if (out == NULL) {
            return NGX_ERROR;
        }

        if (rc->out != NULL) {
            ngx_memcpy(out, rc->out + rc->out_pos, rc->out_len - rc->out_pos);
            ngx_free(rc->out);
        }

        rc->out_len -= rc->out_pos;
        rc->out_pos = 0;
        rc->out = out;
        rc->out_size = size;
    }

    ngx_memcpy(rc->out + rc->out_len, p, len);
    rc->out_len += len;

    return NGX_OK;
}


static void
ngx_booking_redis_flush_handler(ngx_event_t *ev)
{
    ngx_booking_redis_conn_t *rc = ev->data;

    ngx_connection_t  *c;

    c = rc->peer.connection;

    if (c != NULL && rc->state >= NGX_BOOKING_REDIS_HANDSHAKE) {
        ngx_booking_redis_write_handler(c->write);
    }
}


static void
ngx_booking_redis_write_handler(ngx_event_t *wev)
{
    ssize_t                    n;
    ngx_connection_t          *c;
    ngx_booking_redis_conn_t  *rc;

    c = wev->data;
    rc = c->data;

    if (rc->state == NGX_BOOKING_REDIS_CONNECTING) {
        if (ngx_booking_redis_test_connect(c) != NGX_OK) {
            ngx_booking_redis_close(rc, NGX_BOOKING_REDIS_UNAVAILABLE);
            return;
        }

        ngx_booking_redis_connected(rc);
        return;
    }

    while (rc->out_pos < rc->out_len) {
        n = c->send(c, rc->out + rc->out_pos, rc->out_len - rc->out_pos);

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(wev, 0) != NGX_OK) {
                ngx_booking_redis_close(rc, NGX_BOOKING_REDIS_LOST);
            }

            return;
        }

        if (n == NGX_ERROR || n == 0) {
            ngx_booking_redis_close(rc, NGX_BOOKING_REDIS_LOST);
            return;
        }

        rc->out_pos += n;
    }

    rc->out_pos = 0;
    rc->out_len = 0;
}


static ngx_int_t
ngx_booking_redis_test_connect(ngx_connection_t *c)
{
    int        err;
    socklen_t  len;

    err = 0;
    len = sizeof(int);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len) == -1) {
        err = ngx_socket_errno;
    }

    if (err) {
        (void) ngx_connection_error(c, err, "booking: connect() to redis "
                                    "failed");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_booking_redis_read_handler(ngx_event_t *rev)
{
    void                      *reply;
    ssize_t                    n;
    ngx_connection_t          *c;
    ngx_booking_redis_conn_t  *rc;
    u_char                     buf[NGX_BOOKING_READ_CHUNK];

    c = rev->data;
    rc = c->data;

    if (rev->timedout) {
        rev->timedout = 0;
        ngx_booking_redis_timeout(rc);
        return;
    }

    if (rc->state == NGX_BOOKING_REDIS_CONNECTING) {
        return;
    }

    /* edge-triggered events: read until the socket is empty */
    for ( ;; ) {
        n = c->recv(c, buf, sizeof(buf));

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(rev, 0) != NGX_OK) {
                ngx_booking_redis_close(rc, NGX_BOOKING_REDIS_LOST);
            }

            return;
        }

        if (n == NGX_ERROR || n == 0) {
            ngx_log_error(NGX_LOG_ERR, c->log, 0,
                          "booking: redis %V closed the connection",
                          rc->peer.name);
            ngx_booking_redis_close(rc, NGX_BOOKING_REDIS_LOST);
            return;
        }

        if (redisReaderFeed(rc->reader, (const char *) buf, n) != REDIS_OK) {
            ngx_booking_redis_close(rc, NGX_BOOKING_REDIS_LOST);
            return;
        }

        for ( ;; ) {
            reply = NULL;

            if (redisReaderGetReply(rc->reader, &reply) != REDIS_OK) {
                ngx_log_error(NGX_LOG_ERR, c->log, 0,
                              "booking: redis protocol error: %s",
                              rc->reader->errstr);
                ngx_booking_redis_close(rc, NGX_BOOKING_REDIS_LOST);
                return;
            }

            if (reply == NULL) {
                break;
            }

            if (ngx_booking_redis_dispatch(rc, reply) != NGX_OK) {
                /* the connection was closed while dispatching */
                return;
            }
        }
    }
}


/* NGX_OK: the connection is still open and may be read further */
static ngx_int_t
ngx_booking_redis_dispatch(ngx_booking_redis_conn_t *rc, redisReply *reply)
{
    ngx_queue_t                   *q;
    ngx_booking_redis_cmd_t       *cmd;
    ngx_booking_redis_handler_pt   handler;

    if (ngx_queue_empty(&rc->inflight)) {
        freeReplyObject(reply);
        ngx_log_error(NGX_LOG_ERR, rc->peer.log, 0,
                      "booking: redis sent a reply nobody asked for");
        ngx_booking_redis_close(rc, NGX_BOOKING_REDIS_LOST);
        return NGX_ERROR;
    }

    q = ngx_queue_head(&rc->inflight);
    ngx_queue_remove(q);
    rc->ninflight--;
    cmd = ngx_queue_data(q, ngx_booking_redis_cmd_t, queue);

    /* SCRIPT FLUSH or a restart emptied Redis's script cache */
    if (cmd->script >= 0 && !cmd->retried
        && reply->type == REDIS_REPLY_ERROR && reply->len >= 8
        && ngx_strncmp(reply->str, "NOSCRIPT", 8) == 0
        && cmd->handler != NULL)
    {
        freeReplyObject(reply);
        ngx_booking_redis_arm(rc);
        return ngx_booking_redis_retry_as_eval(rc, cmd);
    }

    ngx_booking_redis_arm(rc);

    handler = cmd->handler;

    if (handler != NULL) {
        handler(cmd->data, NGX_BOOKING_REDIS_REPLY, reply);
    }

    freeReplyObject(reply);
    ngx_free(cmd);

    return rc->peer.connection != NULL ? NGX_OK : NGX_ERROR;
}


/*
 * EVAL both runs the script and puts it back in Redis's cache, so one retry
 * costs one command, and every later EVALSHA finds it again.
 */
static ngx_int_t
ngx_booking_redis_retry_as_eval(ngx_booking_redis_conn_t *rc,
    ngx_booking_redis_cmd_t *cmd)
{
    u_char                   *p;
    size_t                    len, argc_len;
    ngx_str_t                *text;
    ngx_booking_redis_cmd_t  *eval;

    text = &ngx_booking_scripts[cmd->script].text;

    /* "*<argc>\r\n" stays as it is: EVAL takes as many arguments */
    p = ngx_strlchr(cmd->bytes, cmd->bytes + cmd->len, LF);
    argc_len = p + 1 - cmd->bytes;

    len = argc_len + sizeof("$4\r\nEVAL\r\n$\r\n\r\n") - 1 + NGX_SIZE_T_LEN
          + text->len + cmd->len - cmd->rest;

    eval = ngx_alloc(sizeof(ngx_booking_redis_cmd_t) + len, rc->peer.log);
    if (eval == NULL) {
        cmd->handler(cmd->data, NGX_BOOKING_REDIS_LOST, NULL);
        ngx_free(cmd);
        return NGX_OK;
    }

    *eval = *cmd;
    eval->retried = 1;
    eval->bytes = (u_char *) eval + sizeof(ngx_booking_redis_cmd_t);
    eval->deadline = ngx_current_msec + ngx_booking_redis_conf->redis_timeout;

    p = ngx_cpymem(eval->bytes, cmd->bytes, argc_len);
    p = ngx_sprintf(p, "$4\r\nEVAL\r\n$%uz\r\n", text->len);
    p = ngx_cpymem(p, text->data, text->len);
    *p++ = CR; *p++ = LF;
    eval->rest = p - eval->bytes;
    p = ngx_cpymem(p, cmd->bytes + cmd->rest, cmd->len - cmd->rest);
    eval->len = p - eval->bytes;

    ngx_free(cmd);

    ngx_log_error(NGX_LOG_INFO, rc->peer.log, 0,
                  "booking: script \"%V\" was not in redis, sent again",
                  &ngx_booking_scripts[eval->script].name);

    ngx_booking_redis_send(rc, eval);

    return rc->peer.connection != NULL ? NGX_OK : NGX_ERROR;
}


/* the connection's one timer follows the oldest command in flight */
static void
ngx_booking_redis_arm(ngx_booking_redis_conn_t *rc)
{
    ngx_msec_int_t            left;
    ngx_connection_t         *c;
    ngx_booking_redis_cmd_t  *cmd;

    c = rc->peer.connection;

    if (c == NULL || rc->state != NGX_BOOKING_REDIS_READY) {
        return;
    }

    if (ngx_queue_empty(&rc->inflight)) {
        if (c->read->timer_set) {
            ngx_del_timer(c->read);
        }

        return;
    }

    cmd = ngx_queue_data(ngx_queue_head(&rc->inflight),
                         ngx_booking_redis_cmd_t, queue);

    left = (ngx_msec_int_t) (cmd->deadline - ngx_current_msec);

    ngx_add_timer(c->read, left > 0 ? (ngx_msec_t) left : 1);
}


static void
ngx_booking_redis_timeout(ngx_booking_redis_conn_t *rc)
{
    ngx_msec_int_t            left;
    ngx_booking_redis_cmd_t  *cmd;

    if (rc->state != NGX_BOOKING_REDIS_READY) {
        ngx_log_error(NGX_LOG_ERR, rc->peer.log, 0,
                      "booking: redis %V did not answer the handshake in "
                      "time", rc->peer.name);
        ngx_booking_redis_close(rc, NGX_BOOKING_REDIS_UNAVAILABLE);
        return;
    }

    if (ngx_queue_empty(&rc->inflight)) {
        return;
    }

    /* nginx lets a timer fire a little early rather than re-add it */
    cmd = ngx_queue_data(ngx_queue_head(&rc->inflight),
                         ngx_booking_redis_cmd_t, queue);

    left = (ngx_msec_int_t) (cmd->deadline - ngx_current_msec);

    if (left > 0) {
        ngx_add_timer(rc->peer.connection->read, (ngx_msec_t) left);
        return;
    }

    /* replies are positional: once one is late, none after it can be used */
    ngx_log_error(NGX_LOG_ERR, rc->peer.log, 0,
                  "booking: redis %V timed out, %ui commands in flight failed",
                  rc->peer.name, rc->ninflight);

    ngx_booking_redis_close(rc, NGX_BOOKING_REDIS_TIMEOUT);
}


static void
ngx_booking_redis_close(ngx_booking_redis_conn_t *rc, ngx_int_t why)
{
    ngx_queue_t  inflight, waiting;

    ngx_booking_redis_release(rc);

    rc->out_pos = 0;
    rc->out_len = 0;
    rc->handshake = 0;
    rc->ninflight = 0;

    /* handlers may send new commands: none must land on this connection */
    rc->state = NGX_BOOKING_REDIS_DOWN;

    ngx_queue_init(&inflight);
    ngx_queue_init(&waiting);

    if (!ngx_queue_empty(&rc->inflight)) {
        ngx_queue_add(&inflight, &rc->inflight);
        ngx_queue_init(&rc->inflight);
    }

    if (!ngx_queue_empty(&rc->waiting)) {
        ngx_queue_add(&waiting, &rc->waiting);
        ngx_queue_init(&rc->waiting);
    }

    ngx_booking_redis_schedule(rc);

    ngx_booking_redis_fail(&inflight, why);
    ngx_booking_redis_fail(&waiting, NGX_BOOKING_REDIS_UNAVAILABLE);
}


/* the socket, its reader and a pending write, gone */
static void
ngx_booking_redis_release(ngx_booking_redis_conn_t *rc)
{
    if (rc->peer.connection != NULL) {
        ngx_close_connection(rc->peer.connection);
        rc->peer.connection = NULL;
    }

    if (rc->reader != NULL) {
        redisReaderFree(rc->reader);
        rc->reader = NULL;
    }

    if (rc->flush.posted) {
        ngx_delete_posted_event(&rc->flush);
    }
}


static void
ngx_booking_redis_fail(ngx_queue_t *head, ngx_int_t why)
{
    ngx_queue_t              *q;
    ngx_booking_redis_cmd_t  *cmd;

    while (!ngx_queue_empty(head)) {
        q = ngx_queue_head(head);
        ngx_queue_remove(q);
        cmd = ngx_queue_data(q, ngx_booking_redis_cmd_t, queue);

        if (cmd->handler != NULL && !cmd->internal) {
            cmd->handler(cmd->data, why, NULL);
        }

        ngx_free(cmd);
    }
}


static void
ngx_booking_redis_schedule(ngx_booking_redis_conn_t *rc)
{
    ngx_msec_t  delay, jitter;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    /*
     * A connection that was ready comes back at once; after that the wait
     * doubles up to 5 s, with 10% of jitter, so that the workers of many
     * hosts do not all knock on a restarted Redis at the same instant.
     */
    jitter = rc->backoff / 10;
    delay = rc->backoff - jitter + ngx_random() % (2 * jitter + 1);

    rc->backoff = rc->backoff ? ngx_min(rc->backoff * 2,
                                        NGX_BOOKING_BACKOFF_MAX)
                              : NGX_BOOKING_BACKOFF_MIN;

    if (rc->reconnect.timer_set) {
        ngx_del_timer(&rc->reconnect);
    }

    ngx_add_timer(&rc->reconnect, delay ? delay : 1);
}


static void
ngx_booking_redis_reconnect_handler(ngx_event_t *ev)
{
    ngx_booking_redis_conn_t *rc = ev->data;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    if (rc->state == NGX_BOOKING_REDIS_DOWN) {
        ngx_booking_redis_connect(rc);
    }
}


static void
ngx_booking_redis_scripts_init(void)
{
    u_char                 digest[SHA_DIGEST_LENGTH];
    ngx_booking_script_t  *s;

    for (s = ngx_booking_scripts; s->name.len; s++) {
        SHA1(s->text.data, s->text.len, digest);
        ngx_hex_dump(s->sha1, digest, SHA_DIGEST_LENGTH);
    }
}

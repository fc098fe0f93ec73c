/*
 * A Redis node's connections, per worker.  nginx owns the sockets, timers
 * and non-blocking connect (ngx_event_connect_peer); hiredis only parses
 * RESP (redisReader).  Replies come back in the order commands were sent,
 * so every connection keeps a FIFO of commands in flight and a reply
 * always belongs to the head of it.
 *
 * A connection is DOWN (waiting to reconnect), CONNECTING, in HANDSHAKE
 * (AUTH, SELECT, ROLE behind sentinels, FUNCTION LOAD sent, replies
 * awaited) or READY.  Commands
 * given to a connection that is not READY wait unsent, so that none can
 * run before AUTH and SELECT did; they wait booking_redis_timeout at most.
 * A command's own timeout starts when it is written to the connection.
 *
 * With booking_redis_replicas N, the scripts that may write, sent in one
 * event loop turn, are followed on their connection by one "WAIT N T"
 * (pipelined: no round trip more), and their replies are held until
 * WAIT's: fewer replicas in time, and the outcome is not known (a failover
 * may drop the write): the callers are told TIMEOUT.  Behind a WAIT Redis
 * reads nothing more from the connection, so the writes that come while
 * one is out wait unsent and leave together when it answers (a group
 * commit: a write waits one WAIT at most before its own), and the reads
 * have connections of their own, never behind a WAIT.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>

#include "ngx_booking_redis.h"


#define NGX_BOOKING_REDIS_DOWN        0
#define NGX_BOOKING_REDIS_CONNECTING  1
#define NGX_BOOKING_REDIS_HANDSHAKE   2
#define NGX_BOOKING_REDIS_READY       3

#define NGX_BOOKING_BACKOFF_MIN       100
#define NGX_BOOKING_BACKOFF_MAX       5000

#define NGX_BOOKING_READ_CHUNK        16384

/*
 * The most a connection holds in commands not yet written to Redis: past
 * it Redis is not reading, and a new command is answered 503 at once
 * rather than kept in memory.
 */
#define NGX_BOOKING_OUT_MAX           (16 * 1024 * 1024)


struct ngx_booking_redis_conn_s {
    ngx_uint_t                     state;
    ngx_uint_t                     index;
    ngx_booking_node_t            *node;
    ngx_peer_connection_t          peer;
    redisReader                   *reader;

    ngx_queue_t                    inflight;  /* sent, reply awaited */
    ngx_queue_t                    waiting;   /* not sent until READY */
    ngx_uint_t                     ninflight;
    ngx_uint_t                     handshake;  /* replies still awaited */
    ngx_uint_t                     nwaits;    /* WAITs in flight */
    ngx_msec_t                     wait_until; /* the last one's deadline */
    ngx_booking_redis_cmd_t       *turn_wait; /* for this turn's writes */

    u_char                        *out;
    size_t                         out_pos;
    size_t                         out_len;
    size_t                         out_size;

    ngx_event_t                    flush;
    ngx_event_t                    reconnect;
    ngx_event_t                    expire;    /* the oldest waiting one */
    ngx_msec_t                     backoff;

    /* it went down because Redis stopped answering, not refusing */
    unsigned                       frozen:1;
    unsigned                       refused:1;  /* a library, until closed */
};


static ngx_booking_redis_conn_t *ngx_booking_redis_pick(
    ngx_booking_node_t *node, ngx_uint_t writes);
static void ngx_booking_redis_connect(ngx_booking_redis_conn_t *rc);
static void ngx_booking_redis_connected(ngx_booking_redis_conn_t *rc);
static ngx_int_t ngx_booking_redis_handshake(ngx_booking_redis_conn_t *rc);
static void ngx_booking_redis_role_reply(void *data, ngx_int_t rc,
    redisReply *reply);
static void ngx_booking_redis_handshake_reply(void *data, ngx_int_t rc,
    redisReply *reply);
static void ngx_booking_redis_library_reply(void *data, ngx_int_t rc,
    redisReply *reply);
static void ngx_booking_redis_reload_reply(void *data, ngx_int_t rc,
    redisReply *reply);
static void ngx_booking_redis_library_refused(ngx_booking_redis_conn_t *rc,
    redisReply *reply);
static ngx_int_t ngx_booking_redis_send_own(ngx_booking_redis_conn_t *rc,
    ngx_booking_redis_cmd_t *cmd, ngx_booking_redis_handler_pt handler);
static void ngx_booking_redis_handshake_step(ngx_booking_redis_conn_t *rc);
static void ngx_booking_redis_close(ngx_booking_redis_conn_t *rc,
    ngx_int_t why);
static void ngx_booking_redis_release(ngx_booking_redis_conn_t *rc);
static void ngx_booking_redis_fail(ngx_queue_t *q, ngx_int_t why);
static void ngx_booking_redis_schedule(ngx_booking_redis_conn_t *rc);
static void ngx_booking_redis_reconnect_handler(ngx_event_t *ev);
static void ngx_booking_redis_expire_handler(ngx_event_t *ev);
static void ngx_booking_redis_wait(ngx_booking_redis_conn_t *rc,
    ngx_booking_redis_cmd_t *cmd);
static void ngx_booking_redis_flush_handler(ngx_event_t *ev);
static void ngx_booking_redis_write_handler(ngx_event_t *wev);
static void ngx_booking_redis_read_handler(ngx_event_t *rev);
static void ngx_booking_redis_timeout(ngx_booking_redis_conn_t *rc);
static ngx_int_t ngx_booking_redis_test_connect(ngx_connection_t *c);
static ngx_int_t ngx_booking_redis_dispatch(ngx_booking_redis_conn_t *rc,
    redisReply *reply);
static ngx_int_t ngx_booking_redis_retry_as_eval(ngx_booking_redis_conn_t *rc,
    ngx_booking_redis_cmd_t *cmd);
static ngx_int_t ngx_booking_redis_send(ngx_booking_redis_conn_t *rc,
    ngx_booking_redis_cmd_t *cmd);
static ngx_int_t ngx_booking_redis_give(ngx_booking_redis_conn_t *rc,
    ngx_booking_redis_cmd_t *cmd, ngx_booking_redis_handler_pt handler,
    void *data);
static ngx_int_t ngx_booking_redis_append(ngx_booking_redis_conn_t *rc,
    ngx_booking_redis_cmd_t *cmd);
static void ngx_booking_redis_send_waiting(ngx_booking_redis_conn_t *rc);
static ngx_uint_t ngx_booking_redis_writes(ngx_booking_redis_conn_t *rc,
    ngx_booking_redis_cmd_t *cmd);
static void ngx_booking_redis_arm(ngx_booking_redis_conn_t *rc);
static void ngx_booking_redis_arm_expire(ngx_booking_redis_conn_t *rc);
static void ngx_booking_redis_free(ngx_queue_t *head);
static ngx_booking_redis_cmd_t *ngx_booking_redis_wait_command(
    ngx_booking_redis_conn_t *rc);
static void ngx_booking_redis_send_turn_wait(ngx_booking_redis_conn_t *rc);
static void ngx_booking_redis_acked(void *data, ngx_int_t rc,
    redisReply *reply);
static ngx_uint_t ngx_booking_redis_refused(redisReply *reply);


ngx_int_t
ngx_booking_node_open(ngx_booking_node_t *node, ngx_cycle_t *cycle)
{
    ngx_uint_t                 i;
    ngx_booking_redis_conn_t  *rc;

    node->log = cycle->log;
    node->nconns = node->conf->connections;

    node->conns = ngx_pcalloc(cycle->pool,
                              node->nconns * sizeof(ngx_booking_redis_conn_t));
    if (node->conns == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < node->nconns; i++) {
        rc = &node->conns[i];

        rc->index = i;
        rc->node = node;
        rc->state = NGX_BOOKING_REDIS_DOWN;
        ngx_queue_init(&rc->inflight);
        ngx_queue_init(&rc->waiting);

        rc->peer.get = ngx_event_get_peer;
        rc->peer.log = cycle->log;
        rc->peer.log_error = NGX_ERROR_ERR;

        rc->flush.handler = ngx_booking_redis_flush_handler;
        rc->flush.data = rc;
        rc->flush.log = cycle->log;

        /* a pending timer must not hold a worker that is shutting down */
        rc->reconnect.handler = ngx_booking_redis_reconnect_handler;
        rc->reconnect.data = rc;
        rc->reconnect.log = cycle->log;
        rc->reconnect.cancelable = 1;

        rc->expire.handler = ngx_booking_redis_expire_handler;
        rc->expire.data = rc;
        rc->expire.log = cycle->log;
        rc->expire.cancelable = 1;

        ngx_booking_redis_connect(rc);
    }

    return NGX_OK;
}


void
ngx_booking_node_close(ngx_booking_node_t *node)
{
    ngx_uint_t                 i;
    ngx_booking_redis_conn_t  *rc;

    for (i = 0; i < node->nconns; i++) {
        rc = &node->conns[i];

        /* no request is left to answer: drop the commands silently */
        ngx_booking_redis_free(&rc->inflight);
        ngx_booking_redis_free(&rc->waiting);

        if (rc->turn_wait != NULL) {
            ngx_free(rc->turn_wait);
            rc->turn_wait = NULL;
        }

        if (rc->reconnect.timer_set) {
            ngx_del_timer(&rc->reconnect);
        }

        if (rc->expire.timer_set) {
            ngx_del_timer(&rc->expire);
        }

        ngx_booking_redis_release(rc);

        if (rc->out != NULL) {
            ngx_free(rc->out);
            rc->out = NULL;
        }
    }

    node->nconns = 0;
}


/*
 * The sentinels named another master: what was sent to the old one fails
 * (lost: it may or may not have run there), and every connection goes to
 * the new one at once.
 */
void
ngx_booking_node_moved(ngx_booking_node_t *node)
{
    ngx_uint_t  i;

    node->moving = 1;

    for (i = 0; i < node->nconns; i++) {
        if (node->conns[i].state != NGX_BOOKING_REDIS_DOWN) {
            ngx_booking_redis_close(&node->conns[i], NGX_BOOKING_REDIS_LOST);
        }
    }

    node->moving = 0;

    /*
     * only now: what the handlers of the commands failed above send next
     * must not go to a connection of the old address that is still open
     */
    node->refusing = 0;

    ngx_booking_node_kick(node);
}


/* the connections down try again now, not after their backoff */
void
ngx_booking_node_kick(ngx_booking_node_t *node)
{
    ngx_uint_t                 i;
    ngx_booking_redis_conn_t  *rc;

    for (i = 0; i < node->nconns; i++) {
        rc = &node->conns[i];

        if (rc->state != NGX_BOOKING_REDIS_DOWN) {
            continue;
        }

        if (rc->reconnect.timer_set) {
            ngx_del_timer(&rc->reconnect);
        }

        rc->backoff = 0;
        rc->frozen = 0;

        ngx_booking_redis_connect(rc);
    }
}


/* whether one connection at least is ready, or on its way to it */
ngx_uint_t
ngx_booking_node_ready(ngx_booking_node_t *node)
{
    ngx_uint_t  i;

    for (i = 0; i < node->nconns; i++) {
        if (node->conns[i].state != NGX_BOOKING_REDIS_DOWN) {
            return 1;
        }
    }

    return 0;
}


static void
ngx_booking_redis_free(ngx_queue_t *head)
{
    ngx_queue_t              *q;
    ngx_booking_redis_cmd_t  *cmd, *held;

    while (!ngx_queue_empty(head)) {
        q = ngx_queue_head(head);
        ngx_queue_remove(q);
        cmd = ngx_queue_data(q, ngx_booking_redis_cmd_t, queue);

        /* a WAIT still holds the scripts before it, answered */
        if (cmd->ack) {
            while (!ngx_queue_empty(&cmd->group)) {
                q = ngx_queue_head(&cmd->group);
                ngx_queue_remove(q);
                held = ngx_queue_data(q, ngx_booking_redis_cmd_t, queue);

                if (held->held != NULL) {
                    ngx_booking_reply_free(held->held);
                }

                ngx_free(held);
            }
        }

        ngx_free(cmd);
    }
}


/*
 * NGX_OK: the node has the command, and calls its handler later, never
 * from inside this call.  NGX_DECLINED: no connection can take it now
 * (Redis refuses connections, or is not reading): the caller frees it and
 * answers 503 at once.
 */
ngx_int_t
ngx_booking_node_send(ngx_booking_node_t *node, ngx_booking_redis_cmd_t *cmd,
    ngx_booking_redis_handler_pt handler, void *data)
{
    ngx_booking_redis_conn_t  *rc;

    if (node->refusing) {
        return NGX_DECLINED;
    }

    rc = ngx_booking_redis_pick(node, cmd->writes && node->conf->replicas);
    if (rc == NULL) {
        return NGX_DECLINED;
    }

    return ngx_booking_redis_give(rc, cmd, handler, data);
}


/*
 * A command right behind another still on its way, on the same connection:
 * Redis runs the two in that order, and they cost one round trip.
 * NGX_DECLINED when that cannot be: the other is gone from the node, or
 * the node has replicas to wait for (a write then goes on a connection of
 * its own half, and a plain command on the other).
 */
ngx_int_t
ngx_booking_node_send_after(ngx_booking_node_t *node,
    ngx_booking_redis_cmd_t *cmd, ngx_booking_redis_cmd_t *before,
    ngx_booking_redis_handler_pt handler, void *data)
{
    ngx_booking_redis_conn_t  *rc;

    rc = before->conn;

    if (node->conf->replicas || node->refusing || rc == NULL
        || rc->node != node || rc->state == NGX_BOOKING_REDIS_DOWN)
    {
        return NGX_DECLINED;
    }

    return ngx_booking_redis_give(rc, cmd, handler, data);
}


/* the command is the connection's: sent now, or once it is ready */
static ngx_int_t
ngx_booking_redis_give(ngx_booking_redis_conn_t *rc,
    ngx_booking_redis_cmd_t *cmd, ngx_booking_redis_handler_pt handler,
    void *data)
{
    cmd->handler = handler;
    cmd->data = data;
    cmd->conn = rc;

    if (rc->state != NGX_BOOKING_REDIS_READY) {
        ngx_booking_redis_wait(rc, cmd);
        return NGX_OK;
    }

    return ngx_booking_redis_send(rc, cmd);
}


/*
 * ASK: the command goes once to the node that is taking its slot over,
 * right after ASKING on the same connection (Redis forgets ASKING after
 * one command), so the two wait together when they cannot go at once.
 */
ngx_int_t
ngx_booking_node_send_asking(ngx_booking_node_t *node,
    ngx_booking_redis_cmd_t *cmd, ngx_booking_redis_handler_pt handler,
    void *data)
{
    ngx_str_t                  argv[1];
    ngx_uint_t                 writes;
    ngx_booking_redis_cmd_t   *asking;
    ngx_booking_redis_conn_t  *rc;

    writes = cmd->writes && node->conf->replicas;

    rc = ngx_booking_redis_pick(node, writes);
    if (rc == NULL) {
        return NGX_DECLINED;
    }

    ngx_str_set(&argv[0], "ASKING");

    asking = ngx_booking_resp_command(argv, 1, NULL, 0, rc->peer.log);
    if (asking == NULL) {
        return NGX_DECLINED;
    }

    asking->internal = 1;
    asking->conn = rc;

    cmd->handler = handler;
    cmd->data = data;
    cmd->conn = rc;

    if (rc->state != NGX_BOOKING_REDIS_READY || (writes && rc->nwaits)) {
        ngx_booking_redis_wait(rc, asking);
        ngx_booking_redis_wait(rc, cmd);
        return NGX_OK;
    }

    if (ngx_booking_redis_send(rc, asking) != NGX_OK) {
        ngx_free(asking);
        return NGX_DECLINED;
    }

    return ngx_booking_redis_send(rc, cmd);
}


/*
 * The ready connection after the last one used, so that the commands of a
 * busy worker spread over all of them; else one still connecting, whose
 * commands wait for its handshake; else one that Redis stopped answering
 * (not refusing), whose commands wait for it to come back, no longer than
 * a command's timeout; else none: Redis is down.  With replicas to wait
 * for, the writes take the first half of the connections and the rest the
 * other half, so that no read waits behind a WAIT.
 */
static ngx_booking_redis_conn_t *
ngx_booking_redis_pick(ngx_booking_node_t *node, ngx_uint_t writes)
{
    ngx_uint_t                 i, n, first;
    ngx_booking_redis_conn_t  *rc, *pending, *frozen;

    pending = NULL;
    frozen = NULL;
    first = 0;
    n = node->nconns;

    if (node->conf->replicas && n >= 2) {
        first = writes ? 0 : n / 2;
        n = writes ? n / 2 : n - n / 2;
    }

    for (i = 0; i < n; i++) {
        rc = &node->conns[first + (node->next + i) % n];

        if (rc->state == NGX_BOOKING_REDIS_READY) {
            node->next += i + 1;
            return rc;
        }

        if (rc->state != NGX_BOOKING_REDIS_DOWN) {
            if (pending == NULL) {
                pending = rc;
            }

        } else if (rc->frozen && frozen == NULL) {
            frozen = rc;
        }
    }

    return pending ? pending : frozen;
}


/* a command waits unsent: booking_redis_timeout from now, at most */
static void
ngx_booking_redis_wait(ngx_booking_redis_conn_t *rc,
    ngx_booking_redis_cmd_t *cmd)
{
    cmd->deadline = ngx_current_msec + rc->node->conf->timeout;

    ngx_queue_insert_tail(&rc->waiting, &cmd->queue);

    if (!rc->expire.timer_set) {
        ngx_booking_redis_arm_expire(rc);
    }
}


void
ngx_booking_redis_cancel(ngx_booking_redis_cmd_t *cmd)
{
    /* the command stays in its queue: its reply must still be consumed */
    cmd->handler = NULL;
    cmd->data = NULL;
}


void
ngx_booking_node_stats(ngx_booking_node_t *node,
    ngx_booking_store_stats_t *st)
{
    ngx_uint_t  i;

    for (i = 0; i < node->nconns; i++) {
        switch (node->conns[i].state) {

        case NGX_BOOKING_REDIS_READY:
            st->ready++;
            break;

        case NGX_BOOKING_REDIS_DOWN:
            st->down++;
            break;

        default:
            st->connecting++;
        }

        st->inflight += node->conns[i].ninflight;
    }

}


static void
ngx_booking_redis_connect(ngx_booking_redis_conn_t *rc)
{
    ngx_int_t            n;
    ngx_connection_t    *c;
    ngx_booking_node_t  *node;

    node = rc->node;

    /* behind sentinels, until they name the master: it connects then */
    if (node->addr == NULL) {
        return;
    }

    rc->peer.sockaddr = node->addr->sockaddr;
    rc->peer.socklen = node->addr->socklen;
    rc->peer.name = node->sentinel ? &node->addr->name : &node->name;

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
        ngx_add_timer(c->read, rc->node->conf->timeout);
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
        ngx_add_timer(c->read, rc->node->conf->timeout);
    }

    if (ngx_booking_redis_handshake(rc) != NGX_OK) {
        ngx_booking_redis_close(rc, NGX_BOOKING_REDIS_UNAVAILABLE);
    }
}


/*
 * AUTH, SELECT, ROLE behind sentinels (a master they named may have been
 * demoted since), and the scripts loaded: before any command of a request.
 */
static ngx_int_t
ngx_booking_redis_handshake(ngx_booking_redis_conn_t *rc)
{
    u_char                        *p, nbuf[NGX_INT_T_LEN];
    ngx_uint_t                     i;
    ngx_str_t                      argv[2];
    ngx_booking_redis_cmd_t       *cmd;
    ngx_booking_store_conf_t      *conf;
    ngx_booking_redis_handler_pt   handler;

    conf = rc->node->conf;

    for (i = 0; i < 3 + NGX_BOOKING_SCRIPT_N; i++) {

        handler = ngx_booking_redis_handshake_reply;

        if (i == 0) {
            if (conf->password.len == 0) {
                continue;
            }

            ngx_str_set(&argv[0], "AUTH");
            argv[1] = conf->password;
            cmd = ngx_booking_resp_command(argv, 2, NULL, 0, rc->peer.log);

        } else if (i == 1) {
            if (conf->database == 0) {
                continue;
            }

            p = ngx_sprintf(nbuf, "%i", conf->database);
            ngx_str_set(&argv[0], "SELECT");
            argv[1].data = nbuf;
            argv[1].len = p - nbuf;
            cmd = ngx_booking_resp_command(argv, 2, NULL, 0, rc->peer.log);

        } else if (i == 2) {
            if (rc->node->sentinel == NULL) {
                continue;
            }

            ngx_str_set(&argv[0], "ROLE");
            cmd = ngx_booking_resp_command(argv, 1, NULL, 0, rc->peer.log);
            handler = ngx_booking_redis_role_reply;

        } else {
            cmd = ngx_booking_script_load(i - 3, rc->peer.log);
            handler = ngx_booking_redis_library_reply;
        }

        if (cmd == NULL) {
            return NGX_ERROR;
        }

        if (ngx_booking_redis_send_own(rc, cmd, handler) != NGX_OK) {
            return NGX_ERROR;
        }

        rc->handshake++;
    }

    if (rc->handshake == 0) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a command of the connection's own (handshake, a library sent again) */
static ngx_int_t
ngx_booking_redis_send_own(ngx_booking_redis_conn_t *rc,
    ngx_booking_redis_cmd_t *cmd, ngx_booking_redis_handler_pt handler)
{
    cmd->internal = 1;
    cmd->conn = rc;
    cmd->handler = handler;
    cmd->data = rc;

    if (ngx_booking_redis_send(rc, cmd) != NGX_OK) {
        ngx_free(cmd);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a master the sentinels named, but demoted since: ask them again */
static void
ngx_booking_redis_role_reply(void *data, ngx_int_t rc, redisReply *reply)
{
    ngx_booking_redis_conn_t *conn = data;

    redisReply  *role;

    if (rc != NGX_BOOKING_REDIS_REPLY || reply->type == REDIS_REPLY_ERROR) {
        ngx_booking_redis_handshake_reply(data, rc, reply);
        return;
    }

    role = (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0)
           ? reply->element[0] : NULL;

    if (role == NULL || role->type != REDIS_REPLY_STRING || role->len != 6
        || ngx_strncmp(role->str, "master", 6) != 0)
    {
        ngx_log_error(NGX_LOG_ERR, conn->peer.log, 0,
                      "booking: redis %V is not a master any more",
                      conn->peer.name);
        ngx_booking_redis_close(conn, NGX_BOOKING_REDIS_UNAVAILABLE);
        return;
    }

    ngx_booking_redis_handshake_reply(data, rc, reply);
}


static void
ngx_booking_redis_handshake_reply(void *data, ngx_int_t rc, redisReply *reply)
{
    ngx_booking_redis_conn_t *conn = data;

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

    ngx_booking_redis_handshake_step(conn);
}


/*
 * A library Redis would not load (over maxmemory, FUNCTION LOAD denied to
 * our user) leaves its script to EVAL: slower, never wrong.
 */
static void
ngx_booking_redis_library_reply(void *data, ngx_int_t rc, redisReply *reply)
{
    ngx_booking_redis_conn_t *conn = data;

    if (rc != NGX_BOOKING_REDIS_REPLY) {
        return;
    }

    /* a Redis still loading its data, or busy: try the handshake later */
    if (reply->type == REDIS_REPLY_ERROR
        && ((reply->len >= 7 && ngx_strncmp(reply->str, "LOADING", 7) == 0)
            || (reply->len >= 4 && ngx_strncmp(reply->str, "BUSY", 4) == 0)))
    {
        ngx_booking_redis_handshake_reply(data, rc, reply);
        return;
    }

    ngx_booking_redis_library_refused(conn, reply);

    ngx_booking_redis_handshake_step(conn);
}


static void
ngx_booking_redis_reload_reply(void *data, ngx_int_t rc, redisReply *reply)
{
    if (rc == NGX_BOOKING_REDIS_REPLY) {
        ngx_booking_redis_library_refused(data, reply);
    }
}


/*
 * A refusal is kept until the connection closes: its calls go on by EVAL
 * without sending a library of 30 to 50 KB again after each of them.
 */
static void
ngx_booking_redis_library_refused(ngx_booking_redis_conn_t *rc,
    redisReply *reply)
{
    if (reply->type != REDIS_REPLY_ERROR) {
        return;
    }

    if (ngx_strlcasestrn((u_char *) reply->str,
                         (u_char *) reply->str + reply->len,
                         (u_char *) "already exists", 14 - 1)
        != NULL)
    {
        return;
    }

    rc->refused = 1;

    ngx_log_error(NGX_LOG_WARN, rc->peer.log, 0,
                  "booking: redis %V did not load a library, its script "
                  "runs by EVAL: %*s",
                  rc->peer.name, (size_t) reply->len, reply->str);
}


static void
ngx_booking_redis_handshake_step(ngx_booking_redis_conn_t *conn)
{
    if (--conn->handshake > 0) {
        return;
    }

    conn->state = NGX_BOOKING_REDIS_READY;
    conn->frozen = 0;
    conn->backoff = 0;

    ngx_log_error(NGX_LOG_INFO, conn->peer.log, 0,
                  "booking: redis %V connection %ui ready",
                  conn->peer.name, conn->index);

    ngx_booking_redis_send_waiting(conn);

    ngx_booking_redis_arm(conn);
}


/* what waited unsent goes now: the connection is ready, no WAIT is out */
static void
ngx_booking_redis_send_waiting(ngx_booking_redis_conn_t *rc)
{
    ngx_queue_t              *q, waiting;
    ngx_booking_redis_cmd_t  *cmd;

    if (rc->expire.timer_set) {
        ngx_del_timer(&rc->expire);
    }

    ngx_queue_init(&waiting);

    if (!ngx_queue_empty(&rc->waiting)) {
        ngx_queue_add(&waiting, &rc->waiting);
        ngx_queue_init(&rc->waiting);
    }

    while (!ngx_queue_empty(&waiting)) {
        q = ngx_queue_head(&waiting);
        ngx_queue_remove(q);
        cmd = ngx_queue_data(q, ngx_booking_redis_cmd_t, queue);

        if (ngx_booking_redis_send(rc, cmd) != NGX_OK) {
            /* never written: it never reached Redis */
            if (cmd->handler != NULL) {
                cmd->handler(cmd->data, NGX_BOOKING_REDIS_UNAVAILABLE, NULL);
            }

            ngx_free(cmd);
        }
    }
}


/*
 * A write waits unsent while a WAIT is out (Redis would not read it
 * before WAIT answers anyway), and goes with the others when it answers;
 * the turn's writes share one WAIT, sent last when the turn is flushed.
 */
static ngx_int_t
ngx_booking_redis_send(ngx_booking_redis_conn_t *rc,
    ngx_booking_redis_cmd_t *cmd)
{
    ngx_uint_t  writes;

    writes = ngx_booking_redis_writes(rc, cmd);

    if (writes && rc->nwaits) {
        ngx_booking_redis_wait(rc, cmd);
        return NGX_OK;
    }

    if (ngx_booking_redis_append(rc, cmd) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (writes) {
        if (rc->turn_wait == NULL) {
            rc->turn_wait = ngx_booking_redis_wait_command(rc);
        }

        if (rc->turn_wait != NULL) {
            cmd->wait = rc->turn_wait;

        } else {
            /* sent without WAIT: whatever it answers, nobody knows if it
             * lasts */
            cmd->unacked = 1;
        }
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_booking_redis_writes(ngx_booking_redis_conn_t *rc,
    ngx_booking_redis_cmd_t *cmd)
{
    return cmd->writes && rc->node->conf->replicas;
}


/*
 * Appends the command to the connection's output, written once per
 * event loop turn: NGX_DECLINED, and nothing changed, when it cannot be
 * held (no memory, or Redis has not read what it has already).
 */
static ngx_int_t
ngx_booking_redis_append(ngx_booking_redis_conn_t *rc,
    ngx_booking_redis_cmd_t *cmd)
{
    u_char      *out;
    size_t       size, used;
    ngx_msec_t   base;

    if (rc->out_pos == rc->out_len) {
        rc->out_pos = 0;
        rc->out_len = 0;
    }

    used = rc->out_len - rc->out_pos;

    if (used + cmd->len > NGX_BOOKING_OUT_MAX && !cmd->internal) {
        ngx_log_error(NGX_LOG_WARN, rc->peer.log, 0,
                      "booking: redis %V reads nothing: %uz bytes unsent",
                      rc->peer.name, used);
        return NGX_DECLINED;
    }

    if (rc->out_len + cmd->len > rc->out_size) {
        size = ngx_max(rc->out_size * 2, 16384);

        while (size < used + cmd->len) {
            size *= 2;
        }

        out = ngx_alloc(size, rc->peer.log);
        if (out == NULL) {
            return NGX_DECLINED;
        }

        if (rc->out != NULL) {
            ngx_memcpy(out, rc->out + rc->out_pos, used);
            ngx_free(rc->out);
        }

        rc->out_len = used;
        rc->out_pos = 0;
        rc->out = out;
        rc->out_size = size;
    }

    ngx_memcpy(rc->out + rc->out_len, cmd->bytes, cmd->len);
    rc->out_len += cmd->len;

    /*
     * A command's own time starts when it goes out, not when it queued;
     * behind a WAIT, Redis reads nothing more until WAIT answers.
     */
    base = ngx_current_msec;

    if (rc->nwaits && (ngx_msec_int_t) (rc->wait_until - base) > 0) {
        base = rc->wait_until;
    }

    cmd->deadline = base + rc->node->conf->timeout;

    ngx_queue_insert_tail(&rc->inflight, &cmd->queue);
    rc->ninflight++;

    if (rc->ninflight == 1) {
        ngx_booking_redis_arm(rc);
    }

    /* one write per event loop turn carries every command queued in it */
    if (!rc->flush.posted) {
        ngx_post_event(&rc->flush, &ngx_posted_events);
    }

    return NGX_OK;
}


/* WAIT <replicas> <timeout>, for the writes of this turn */
static ngx_booking_redis_cmd_t *
ngx_booking_redis_wait_command(ngx_booking_redis_conn_t *rc)
{
    u_char                    *p, nbuf[NGX_INT_T_LEN], tbuf[NGX_INT_T_LEN];
    ngx_str_t                  argv[3];
    ngx_booking_redis_cmd_t   *wait;
    ngx_booking_store_conf_t  *conf;

    conf = rc->node->conf;

    ngx_str_set(&argv[0], "WAIT");
    p = ngx_sprintf(nbuf, "%ui", conf->replicas);
    argv[1].data = nbuf;
    argv[1].len = p - nbuf;
    p = ngx_sprintf(tbuf, "%M", conf->replicas_timeout);
    argv[2].data = tbuf;
    argv[2].len = p - tbuf;

    wait = ngx_booking_resp_command(argv, 3, NULL, 0, rc->peer.log);
    if (wait == NULL) {
        return NULL;
    }

    wait->ack = 1;
    wait->conn = rc;
    wait->handler = ngx_booking_redis_acked;
    wait->data = wait;
    ngx_queue_init(&wait->group);

    return wait;
}


/* the turn is written: its writes' WAIT goes behind them */
static void
ngx_booking_redis_send_turn_wait(ngx_booking_redis_conn_t *rc)
{
    ngx_queue_t              *q;
    ngx_booking_redis_cmd_t  *wait, *cmd;

    wait = rc->turn_wait;
    rc->turn_wait = NULL;

    if (ngx_booking_redis_append(rc, wait) == NGX_OK) {
        /* Redis answers WAIT after its timeout at the latest */
        wait->deadline += rc->node->conf->replicas_timeout;

        rc->nwaits++;
        rc->wait_until = wait->deadline;
        return;
    }

    for (q = ngx_queue_head(&rc->inflight);
         q != ngx_queue_sentinel(&rc->inflight);
         q = ngx_queue_next(q))
    {
        cmd = ngx_queue_data(q, ngx_booking_redis_cmd_t, queue);

        if (cmd->wait == wait) {
            cmd->wait = NULL;
            cmd->unacked = 1;
        }
    }

    ngx_free(wait);
}


/*
 * An answer that changed nothing worth a replica: an error, AGAIN (the
 * script sends it before any change but expired holds, which any later
 * script frees again), a refusal (the contract's "err") or too few units
 * ("unavailable").
 */
static ngx_uint_t
ngx_booking_redis_refused(redisReply *reply)
{
    redisReply  *first;

    if (reply->type == REDIS_REPLY_ERROR || reply->type == REDIS_REPLY_STATUS) {
        return 1;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
        return 0;
    }

    first = reply->element[0];

    return first->type == REDIS_REPLY_STRING
           && ((first->len == 3 && ngx_strncmp(first->str, "err", 3) == 0)
               || (first->len == 11
                   && ngx_strncmp(first->str, "unavailable", 11) == 0));
}


/*
 * WAIT's answer, for the scripts before it: their replies go to their
 * handlers only when enough replicas have them.
 */
static void
ngx_booking_redis_acked(void *data, ngx_int_t rc, redisReply *reply)
{
    ngx_booking_redis_cmd_t *wait = data;

    ngx_int_t                  result;
    ngx_queue_t               *q;
    ngx_booking_node_t        *node;
    ngx_booking_redis_cmd_t   *cmd;

    node = wait->conn->node;
    result = rc;

    if (rc == NGX_BOOKING_REDIS_REPLY
        && (reply->type != REDIS_REPLY_INTEGER
            || reply->integer < (long long) node->conf->replicas))
    {
        result = NGX_BOOKING_REDIS_TIMEOUT;

        if (!ngx_queue_empty(&wait->group)) {
            ngx_log_error(NGX_LOG_ERR, wait->conn->peer.log, 0,
                          "booking: redis %V: %L of %ui replicas had the "
                          "write in time", wait->conn->peer.name,
                          (int64_t) (reply->type == REDIS_REPLY_INTEGER
                                     ? reply->integer : -1),
                          node->conf->replicas);
        }
    }

    while (!ngx_queue_empty(&wait->group)) {
        q = ngx_queue_head(&wait->group);
        ngx_queue_remove(q);
        cmd = ngx_queue_data(q, ngx_booking_redis_cmd_t, queue);

        if (result == NGX_BOOKING_REDIS_TIMEOUT && rc == NGX_BOOKING_REDIS_REPLY) {
            ngx_booking_metrics_add(&ngx_booking_metrics->unreplicated);
        }

        if (cmd->handler != NULL) {
            cmd->handler(cmd->data, result,
                         result == NGX_BOOKING_REDIS_REPLY ? cmd->held : NULL);
        }

        if (cmd->held != NULL) {
            ngx_booking_reply_free(cmd->held);
        }

        ngx_free(cmd);
    }
}


static void
ngx_booking_redis_flush_handler(ngx_event_t *ev)
{
    ngx_booking_redis_conn_t *rc = ev->data;

    ngx_connection_t  *c;

    c = rc->peer.connection;

    if (rc->turn_wait != NULL && rc->state == NGX_BOOKING_REDIS_READY) {
        ngx_booking_redis_send_turn_wait(rc);
    }

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
        ngx_booking_reply_free(reply);
        ngx_log_error(NGX_LOG_ERR, rc->peer.log, 0,
                      "booking: redis sent a reply nobody asked for");
        ngx_booking_redis_close(rc, NGX_BOOKING_REDIS_LOST);
        return NGX_ERROR;
    }

    q = ngx_queue_head(&rc->inflight);
    ngx_queue_remove(q);
    rc->ninflight--;
    cmd = ngx_queue_data(q, ngx_booking_redis_cmd_t, queue);

    if (cmd->ack) {
        rc->nwaits--;
    }

    /* FUNCTION FLUSH, or a library Redis would not load */
    if (cmd->script >= 0 && !cmd->retried
        && reply->type == REDIS_REPLY_ERROR
        && reply->len >= sizeof("ERR Function not found") - 1
        && ngx_strncmp(reply->str, "ERR Function not found",
                       sizeof("ERR Function not found") - 1) == 0
        && cmd->handler != NULL)
    {
        /* the EVAL gets a WAIT of its own */
        cmd->wait = NULL;

        ngx_booking_reply_free(reply);
        ngx_booking_redis_arm(rc);
        return ngx_booking_redis_retry_as_eval(rc, cmd);
    }

    ngx_booking_redis_arm(rc);

    /*
     * A master demoted, or cut off from its replicas: it may have moved.
     * Our own commands (a library sent again) leave that to the request's.
     */
    if (reply->type == REDIS_REPLY_ERROR && !cmd->internal
        && ((reply->len >= 8 && ngx_strncmp(reply->str, "READONLY", 8) == 0)
            || (reply->len >= 10
                && ngx_strncmp(reply->str, "MASTERDOWN", 10) == 0)))
    {
        ngx_booking_metrics_error(NGX_BOOKING_ERR_READONLY);

        /*
         * Until the sentinels are asked again and ROLE has confirmed what
         * they name, what would be sent there is refused: it would only
         * be refused by Redis one round trip later, and a read there may
         * be a replica's of another master.
         */
        if (rc->node->demoted != NULL) {
            rc->node->refusing = 1;
            rc->node->demoted(rc->node);
        }
    }

    if (cmd->wait != NULL && !ngx_booking_redis_refused(reply)) {
        /* what changed something waits for WAIT's answer */
        cmd->held = reply;
        ngx_queue_insert_tail(&cmd->wait->group, &cmd->queue);
        return NGX_OK;
    }

    handler = cmd->handler;

    if (handler != NULL) {
        if (cmd->unacked && !ngx_booking_redis_refused(reply)) {
            handler(cmd->data, NGX_BOOKING_REDIS_TIMEOUT, NULL);

        } else {
            handler(cmd->data, NGX_BOOKING_REDIS_REPLY, reply);
        }
    }

    ngx_booking_reply_free(reply);
    ngx_free(cmd);

    if (rc->peer.connection == NULL) {
        return NGX_ERROR;
    }

    /* the last WAIT answered: the writes that came meanwhile go */
    if (rc->nwaits == 0 && !ngx_queue_empty(&rc->waiting)
        && rc->state == NGX_BOOKING_REDIS_READY)
    {
        ngx_booking_redis_send_waiting(rc);
    }

    return NGX_OK;
}


/*
 * The same script as EVAL answers this call; the library follows it, so
 * that later calls find the function again.
 */
static ngx_int_t
ngx_booking_redis_retry_as_eval(ngx_booking_redis_conn_t *rc,
    ngx_booking_redis_cmd_t *cmd)
{
    ngx_booking_redis_cmd_t  *eval, *load;

    eval = ngx_booking_script_eval(cmd, rc->peer.log);

    if (eval == NULL || ngx_booking_redis_send(rc, eval) != NGX_OK) {
        if (eval != NULL) {
            ngx_free(eval);
        }

        /* sent once already: the outcome is not known for sure */
        cmd->handler(cmd->data, NGX_BOOKING_REDIS_LOST, NULL);
        ngx_free(cmd);

        return rc->peer.connection != NULL ? NGX_OK : NGX_ERROR;
    }

    ngx_log_error(NGX_LOG_INFO, rc->peer.log, 0,
                  "booking: script \"%V\" was not in redis, sent again",
                  ngx_booking_script_name(eval->script));

    load = rc->refused ? NULL
                       : ngx_booking_script_load(eval->script, rc->peer.log);

    if (load != NULL) {
        (void) ngx_booking_redis_send_own(rc, load,
                                          ngx_booking_redis_reload_reply);
    }

    /* the caller cancels the EVAL now, if it goes first */
    if (eval->owner != NULL) {
        *eval->owner = eval;
    }

    ngx_free(cmd);

    return NGX_OK;
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


/* the waiting queue's timer follows its oldest command */
static void
ngx_booking_redis_arm_expire(ngx_booking_redis_conn_t *rc)
{
    ngx_msec_int_t            left;
    ngx_booking_redis_cmd_t  *cmd;

    if (ngx_queue_empty(&rc->waiting)) {
        if (rc->expire.timer_set) {
            ngx_del_timer(&rc->expire);
        }

        return;
    }

    cmd = ngx_queue_data(ngx_queue_head(&rc->waiting),
                         ngx_booking_redis_cmd_t, queue);

    left = (ngx_msec_int_t) (cmd->deadline - ngx_current_msec);

    ngx_add_timer(&rc->expire, left > 0 ? (ngx_msec_t) left : 1);
}


/*
 * Commands that waited booking_redis_timeout for a connection to Redis
 * (slow to answer, not refusing): Redis did not answer in time.
 */
static void
ngx_booking_redis_expire_handler(ngx_event_t *ev)
{
    ngx_booking_redis_conn_t *rc = ev->data;

    ngx_queue_t              *q, expired;
    ngx_booking_redis_cmd_t  *cmd;

    ngx_queue_init(&expired);

    while (!ngx_queue_empty(&rc->waiting)) {
        q = ngx_queue_head(&rc->waiting);
        cmd = ngx_queue_data(q, ngx_booking_redis_cmd_t, queue);

        if ((ngx_msec_int_t) (cmd->deadline - ngx_current_msec) > 0) {
            break;
        }

        ngx_queue_remove(q);
        ngx_queue_insert_tail(&expired, q);
    }

    ngx_booking_redis_arm_expire(rc);

    ngx_booking_redis_fail(&expired, NGX_BOOKING_REDIS_TIMEOUT);
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
        ngx_booking_redis_close(rc, NGX_BOOKING_REDIS_TIMEOUT);
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


/*
 * The connection goes down: what was in flight fails with why.  When it
 * went down because Redis stopped answering, the commands waiting unsent
 * keep waiting (no longer than their time) for it to come back, and new
 * ones join them: answering 503 at once would say Redis cannot be reached
 * when it is only slow.  Otherwise they fail at once, unsent.
 */
static void
ngx_booking_redis_close(ngx_booking_redis_conn_t *rc, ngx_int_t why)
{
    ngx_queue_t  inflight, waiting;

    ngx_booking_redis_release(rc);

    rc->out_pos = 0;
    rc->out_len = 0;
    rc->handshake = 0;
    rc->refused = 0;
    rc->ninflight = 0;
    rc->nwaits = 0;

    /* its writes are in flight: they fail below, and nothing waits on it */
    if (rc->turn_wait != NULL) {
        ngx_free(rc->turn_wait);
        rc->turn_wait = NULL;
    }

    /* handlers may send new commands: none must land on this connection */
    rc->state = NGX_BOOKING_REDIS_DOWN;
    rc->frozen = (why == NGX_BOOKING_REDIS_TIMEOUT);

    ngx_queue_init(&inflight);
    ngx_queue_init(&waiting);

    if (!ngx_queue_empty(&rc->inflight)) {
        ngx_queue_add(&inflight, &rc->inflight);
        ngx_queue_init(&rc->inflight);
    }

    if (!rc->frozen && !ngx_queue_empty(&rc->waiting)) {
        ngx_queue_add(&waiting, &rc->waiting);
        ngx_queue_init(&rc->waiting);

        if (rc->expire.timer_set) {
            ngx_del_timer(&rc->expire);
        }
    }

    ngx_booking_redis_schedule(rc);

    /* lost, refused, silent: the master may have moved */
    if (!rc->node->moving && rc->node->suspect != NULL) {
        rc->node->suspect(rc->node);
    }

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

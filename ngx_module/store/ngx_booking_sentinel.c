/*
 * The sentinels' kind of node (booking_redis_sentinel): its address is the
 * master the sentinels name.  A discovery asks them in turn, each on a
 * connection of nginx's own with booking_redis_timeout to answer
 * ("SENTINEL get-master-addr-by-name"); the node's connections then
 * confirm the master with ROLE in their handshake.  One more connection
 * to each sentinel stays subscribed to the failover's steps, PINGed so
 * that a silent one is noticed:
 *
 *   "+failover-state-send-slaveof-noone": the leader is about to promote a
 *   replica.  From then on what the old master acknowledges may be lost
 *   (the other replicas still acknowledge its writes until they are told
 *   to follow the new one, and a manual failover leaves the old master
 *   taking writes for seconds), so the node is fenced: its connections
 *   are closed (what was sent is answered "outcome unknown"), requests
 *   answer 503 at once and no discovery runs, until
 *   "+promoted-slave" or "+switch-master" names the new master, the
 *   failover is aborted ("-failover-abort-slave-timeout"), or 10 s pass.
 *
 * A connection lost or timed out, a ROLE that is not "master", a READONLY
 * or MASTERDOWN answer all start a new discovery; a new address moves
 * every connection to it.  Discoveries that find nobody back off with
 * jitter, as reconnects do, so that the workers of many hosts do not storm
 * the sentinels.  No DNS: the sentinels' addresses were resolved in
 * nginx.conf, and they name the master by its IP.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>

#include "ngx_booking_redis.h"


#define NGX_BOOKING_SENTINEL_BACKOFF_MIN  100
#define NGX_BOOKING_SENTINEL_BACKOFF_MAX  5000

/* a new discovery no sooner than this after the last one ended */
#define NGX_BOOKING_SENTINEL_GAP          100

/*
 * While the master they name cannot be reached, the sentinels are asked
 * again, each in turn, and the connections try again at once: one sentinel
 * that has not heard of a promotion yet, or a master named a moment before
 * it took the role, must not keep the node down for long.  From 100 ms,
 * doubling up to 1 s, with jitter.
 */
#define NGX_BOOKING_SENTINEL_RECHECK_MIN  100
#define NGX_BOOKING_SENTINEL_RECHECK_MAX  1000

#define NGX_BOOKING_SENTINEL_READ         4096

/*
 * A subscription is asked for a PING this often: a sentinel gone without a
 * word (a host down, a half-open connection) must not leave the node deaf
 * to the next failover.  Its answer is due within booking_redis_timeout.
 */
#define NGX_BOOKING_SENTINEL_PING         2000

/* a fence that no new master ended: the sentinels are asked again */
#define NGX_BOOKING_SENTINEL_FENCE        10000


typedef struct ngx_booking_link_s  ngx_booking_link_t;

/* a reply from the sentinel: NGX_ERROR fails the link */
typedef ngx_int_t (*ngx_booking_link_reply_pt)(ngx_booking_link_t *link,
    redisReply *reply);
typedef void (*ngx_booking_link_fail_pt)(ngx_booking_link_t *link);


/* a connection of nginx's own to one sentinel: a command out, replies in */
struct ngx_booking_link_s {
    ngx_booking_sentinel_t        *sentinel;
    ngx_uint_t                     index;     /* of the sentinel */
    ngx_peer_connection_t          peer;
    redisReader                   *reader;
    ngx_str_t                      out;
    size_t                         sent;
    ngx_booking_link_reply_pt      reply;
    ngx_booking_link_fail_pt       fail;
    ngx_event_t                    retry;
    ngx_msec_t                     backoff;
    ngx_event_t                    ping;      /* subscriptions only */
};


struct ngx_booking_sentinel_s {
    ngx_booking_node_t            *node;

    /* the discovery: one sentinel asked at a time */
    ngx_booking_link_t             ask;
    ngx_str_t                      command;   /* in RESP */
    ngx_uint_t                     tried;     /* in this round */
    ngx_msec_t                     ended;     /* the last discovery's end */
    ngx_msec_t                     recheck;

    ngx_booking_link_t            *subs;      /* one per sentinel */
    ngx_event_t                    fence;

    ngx_addr_t                     master;
    ngx_sockaddr_t                 sockaddr;
    u_char                         text[NGX_SOCKADDR_STRLEN];

    unsigned                       busy:1;
    unsigned                       known:1;
    unsigned                       fenced:1;
    unsigned                       demoted:1;
};


static void ngx_booking_link_init(ngx_booking_link_t *link,
    ngx_booking_sentinel_t *s, ngx_uint_t index, ngx_event_handler_pt retry,
    ngx_log_t *log);
static void ngx_booking_link_open(ngx_booking_link_t *link,
    ngx_uint_t log_error);
static void ngx_booking_link_write_handler(ngx_event_t *wev);
static void ngx_booking_link_read_handler(ngx_event_t *rev);
static void ngx_booking_link_release(ngx_booking_link_t *link);
static ngx_msec_t ngx_booking_link_backoff(ngx_booking_link_t *link);
static void ngx_booking_sentinel_ask(ngx_booking_sentinel_t *s);
static ngx_int_t ngx_booking_sentinel_answer(ngx_booking_link_t *link,
    redisReply *reply);
static void ngx_booking_sentinel_set(ngx_booking_sentinel_t *s,
    ngx_sockaddr_t *sa, socklen_t len, ngx_str_t *from);
static void ngx_booking_sentinel_failed(ngx_booking_link_t *link);
static void ngx_booking_sentinel_retry_handler(ngx_event_t *ev);
static void ngx_booking_sentinel_cancel(ngx_booking_sentinel_t *s);
static void ngx_booking_sentinel_demoted(ngx_booking_node_t *node);
static void ngx_booking_sentinel_subscribe(ngx_booking_link_t *sub);
static ngx_int_t ngx_booking_sentinel_message(ngx_booking_link_t *sub,
    redisReply *reply);
static void ngx_booking_sentinel_promoted(ngx_booking_sentinel_t *s,
    u_char *ip, size_t iplen, u_char *port, size_t portlen, ngx_str_t *from);
static void ngx_booking_sentinel_fence(ngx_booking_sentinel_t *s,
    u_char *ip, size_t iplen, u_char *port, size_t portlen, ngx_str_t *from);
static void ngx_booking_sentinel_fence_handler(ngx_event_t *ev);
static void ngx_booking_sentinel_ping_handler(ngx_event_t *ev);
static void ngx_booking_sentinel_sub_failed(ngx_booking_link_t *sub);
static void ngx_booking_sentinel_sub_retry_handler(ngx_event_t *ev);


static ngx_str_t  ngx_booking_sentinel_subscribe_command =
    ngx_string("*5\r\n$9\r\nSUBSCRIBE\r\n"
               "$14\r\n+switch-master\r\n"
               "$34\r\n+failover-state-send-slaveof-noone\r\n"
               "$15\r\n+promoted-slave\r\n"
               "$29\r\n-failover-abort-slave-timeout\r\n");

static ngx_str_t  ngx_booking_sentinel_ping_command =
    ngx_string("*1\r\n$4\r\nPING\r\n");


ngx_int_t
ngx_booking_sentinel_init(ngx_booking_node_t *node, ngx_cycle_t *cycle)
{
    u_char                  *p;
    ngx_uint_t               i;
    ngx_str_t               *name;
    ngx_booking_sentinel_t  *s;

    s = ngx_pcalloc(cycle->pool, sizeof(ngx_booking_sentinel_t));
    if (s == NULL) {
        return NGX_ERROR;
    }

    name = &node->conf->master;

    s->command.data = ngx_pnalloc(cycle->pool, 64 + NGX_SIZE_T_LEN + name->len);
    if (s->command.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(s->command.data, "*3\r\n$8\r\nSENTINEL\r\n"
                    "$23\r\nget-master-addr-by-name\r\n$%uz\r\n%V\r\n",
                    name->len, name);
    s->command.len = p - s->command.data;

    s->node = node;

    ngx_booking_link_init(&s->ask, s, ngx_random() % node->conf->nsentinels,
                          ngx_booking_sentinel_retry_handler, cycle->log);
    s->ask.reply = ngx_booking_sentinel_answer;
    s->ask.fail = ngx_booking_sentinel_failed;

    s->subs = ngx_pcalloc(cycle->pool,
                          node->conf->nsentinels * sizeof(ngx_booking_link_t));
    if (s->subs == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < node->conf->nsentinels; i++) {
        ngx_booking_link_init(&s->subs[i], s, i,
                              ngx_booking_sentinel_sub_retry_handler,
                              cycle->log);
        s->subs[i].reply = ngx_booking_sentinel_message;
        s->subs[i].fail = ngx_booking_sentinel_sub_failed;
        s->subs[i].ping.handler = ngx_booking_sentinel_ping_handler;
        s->subs[i].ping.data = &s->subs[i];
        s->subs[i].ping.log = cycle->log;
        s->subs[i].ping.cancelable = 1;
    }

    s->fence.handler = ngx_booking_sentinel_fence_handler;
    s->fence.data = s;
    s->fence.log = cycle->log;
    s->fence.cancelable = 1;

    s->master.sockaddr = &s->sockaddr.sockaddr;
    s->master.name.data = s->text;

    node->sentinel = s;
    node->suspect = ngx_booking_sentinel_discover;
    node->demoted = ngx_booking_sentinel_demoted;
    node->addr = NULL;

    ngx_booking_sentinel_discover(node);

    for (i = 0; i < node->conf->nsentinels; i++) {
        ngx_booking_sentinel_subscribe(&s->subs[i]);
    }

    return NGX_OK;
}


void
ngx_booking_sentinel_exit(ngx_booking_node_t *node)
{
    ngx_uint_t               i;
    ngx_booking_sentinel_t  *s;

    s = node->sentinel;

    if (s == NULL) {
        return;
    }

    ngx_booking_link_release(&s->ask);

    if (s->ask.retry.timer_set) {
        ngx_del_timer(&s->ask.retry);
    }

    if (s->fence.timer_set) {
        ngx_del_timer(&s->fence);
    }

    for (i = 0; i < node->conf->nsentinels; i++) {
        ngx_booking_link_release(&s->subs[i]);

        if (s->subs[i].retry.timer_set) {
            ngx_del_timer(&s->subs[i].retry);
        }
    }
}


/*
 * The master in use answered READONLY: demoted behind the sentinels' back,
 * or before they tell.  Whatever they name next, the connections move, so
 * that ROLE is asked again before the node is used; until then the node
 * refuses at once what it is given (node->refusing).  Not here: this runs
 * inside a connection's read handler, and moving closes that connection.
 */
static void
ngx_booking_sentinel_demoted(ngx_booking_node_t *node)
{
    node->sentinel->demoted = 1;

    ngx_booking_sentinel_discover(node);

    /* no discovery under way (exiting, fenced) would ever end refusing */
    if (!node->sentinel->busy) {
        node->refusing = 0;
    }
}


/* asks the sentinels who the master is, unless that is being asked */
void
ngx_booking_sentinel_discover(ngx_booking_node_t *node)
{
    ngx_msec_int_t           since;
    ngx_booking_sentinel_t  *s;

    s = node->sentinel;

    if (s == NULL || s->busy || s->fenced
        || ngx_exiting || ngx_quit || ngx_terminate)
    {
        return;
    }

    s->busy = 1;
    s->tried = 0;

    /* every connection of the node may call at once: one asks for them */
    since = (ngx_msec_int_t) (ngx_current_msec - s->ended);

    if (s->known && since >= 0 && since < NGX_BOOKING_SENTINEL_GAP) {
        ngx_add_timer(&s->ask.retry, NGX_BOOKING_SENTINEL_GAP - since);
        return;
    }

    ngx_booking_sentinel_ask(s);
}


/* ------------------------------------------------------------ links */


static void
ngx_booking_link_init(ngx_booking_link_t *link, ngx_booking_sentinel_t *s,
    ngx_uint_t index, ngx_event_handler_pt retry, ngx_log_t *log)
{
    link->sentinel = s;
    link->index = index;
    link->retry.handler = retry;
    link->retry.data = link;
    link->retry.log = log;
    link->retry.cancelable = 1;
}


/* connects to the link's sentinel and sends link->out */
static void
ngx_booking_link_open(ngx_booking_link_t *link, ngx_uint_t log_error)
{
    ngx_int_t            n;
    ngx_addr_t          *addr;
    ngx_connection_t    *c;
    ngx_booking_node_t  *node;

    node = link->sentinel->node;
    addr = &node->conf->sentinels[link->index];

    ngx_memzero(&link->peer, sizeof(ngx_peer_connection_t));
    link->peer.sockaddr = addr->sockaddr;
    link->peer.socklen = addr->socklen;
    link->peer.name = &addr->name;
    link->peer.get = ngx_event_get_peer;
    link->peer.log = node->log;
    link->peer.log_error = log_error;
    link->sent = 0;

    n = ngx_event_connect_peer(&link->peer);

    if (n == NGX_ERROR || n == NGX_BUSY || n == NGX_DECLINED) {
        link->fail(link);
        return;
    }

    c = link->peer.connection;
    c->data = link;
    c->read->handler = ngx_booking_link_read_handler;
    c->write->handler = ngx_booking_link_write_handler;

    link->reader = ngx_booking_reader_create();
    if (link->reader == NULL) {
        link->fail(link);
        return;
    }

    if (n == NGX_OK) {
        ngx_booking_link_write_handler(c->write);
    }
}


static void
ngx_booking_link_write_handler(ngx_event_t *wev)
{
    ssize_t              n;
    ngx_connection_t    *c;
    ngx_booking_link_t  *link;

    c = wev->data;
    link = c->data;

    if (link->sent == link->out.len) {
        return;
    }

    n = c->send(c, link->out.data + link->sent, link->out.len - link->sent);

    if (n == NGX_ERROR) {
        link->fail(link);
        return;
    }

    if (n > 0) {
        link->sent += n;
    }

    if (ngx_handle_write_event(wev, 0) != NGX_OK) {
        link->fail(link);
    }
}


static void
ngx_booking_link_read_handler(ngx_event_t *rev)
{
    void                *reply;
    ssize_t              n;
    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_booking_link_t  *link;
    u_char               buf[NGX_BOOKING_SENTINEL_READ];

    c = rev->data;
    link = c->data;

    if (rev->timedout) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "booking: sentinel %V did not answer in time",
                      link->peer.name);
        link->fail(link);
        return;
    }

    for ( ;; ) {
        n = c->recv(c, buf, sizeof(buf));

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(rev, 0) != NGX_OK) {
                link->fail(link);
            }

            return;
        }

        if (n == NGX_ERROR || n == 0
            || redisReaderFeed(link->reader, (const char *) buf, n)
               != REDIS_OK)
        {
            link->fail(link);
            return;
        }

        for ( ;; ) {
            reply = NULL;

            if (redisReaderGetReply(link->reader, &reply) != REDIS_OK) {
                link->fail(link);
                return;
            }

            if (reply == NULL) {
                break;
            }

            /* the sentinel answers: whatever was due is in */
            if (rev->timer_set) {
                ngx_del_timer(rev);
            }

            rc = link->reply(link, reply);
            ngx_booking_reply_free(reply);

            if (rc != NGX_OK) {
                link->fail(link);
                return;
            }

            if (link->peer.connection == NULL) {
                return;
            }
        }
    }
}


static void
ngx_booking_link_release(ngx_booking_link_t *link)
{
    if (link->peer.connection != NULL) {
        ngx_close_connection(link->peer.connection);
        link->peer.connection = NULL;
    }

    if (link->reader != NULL) {
        redisReaderFree(link->reader);
        link->reader = NULL;
    }

    if (link->ping.timer_set) {
        ngx_del_timer(&link->ping);
    }
}


/* from 100 ms, doubling up to 5 s, give or take a fifth */
static ngx_msec_t
ngx_booking_link_backoff(ngx_booking_link_t *link)
{
    ngx_msec_t  jitter;

    link->backoff = link->backoff ? ngx_min(link->backoff * 2,
                                            NGX_BOOKING_SENTINEL_BACKOFF_MAX)
                                  : NGX_BOOKING_SENTINEL_BACKOFF_MIN;

    jitter = link->backoff / 5;

    return link->backoff - jitter + ngx_random() % (2 * jitter + 1);
}


/* ------------------------------------------------------------ discovery */


static void
ngx_booking_sentinel_ask(ngx_booking_sentinel_t *s)
{
    s->ask.out = s->command;

    ngx_booking_link_open(&s->ask, NGX_ERROR_ERR);

    if (s->ask.peer.connection != NULL) {
        ngx_add_timer(s->ask.peer.connection->read, s->node->conf->timeout);
    }
}


/* the master's address, its IP and port */
static ngx_int_t
ngx_booking_sentinel_answer(ngx_booking_link_t *link, redisReply *reply)
{
    socklen_t                len;
    redisReply              *ip, *port;
    ngx_sockaddr_t           sa;
    ngx_booking_node_t      *node;
    ngx_booking_sentinel_t  *s;

    s = link->sentinel;
    node = s->node;

    ip = (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2)
         ? reply->element[0] : NULL;
    port = ip ? reply->element[1] : NULL;

    if (ip == NULL || ip->type != REDIS_REPLY_STRING
        || port->type != REDIS_REPLY_STRING
        || ngx_booking_sockaddr_parse((u_char *) ip->str, ip->len,
                                      (u_char *) port->str, port->len,
                                      &sa, &len)
           != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, node->log, 0,
                      "booking: sentinel %V does not know master \"%V\"",
                      link->peer.name, &node->conf->master);
        return NGX_ERROR;
    }

    ngx_booking_sentinel_set(s, &sa, len, link->peer.name);

    ngx_booking_link_release(link);

    s->busy = 0;
    link->backoff = 0;
    s->ended = ngx_current_msec;
    link->index = (link->index + 1) % node->conf->nsentinels;

    if (ngx_booking_node_ready(node)) {
        s->recheck = 0;
        return NGX_OK;
    }

    if (!s->busy) {
        s->recheck = s->recheck ? ngx_min(s->recheck * 2,
                                          NGX_BOOKING_SENTINEL_RECHECK_MAX)
                                : NGX_BOOKING_SENTINEL_RECHECK_MIN;
        s->busy = 1;
        ngx_add_timer(&link->retry, s->recheck * 3 / 4
                                    + ngx_random() % (s->recheck / 2 + 1));
    }

    ngx_booking_node_kick(node);

    return NGX_OK;
}


/* the master is there: the node moves if that is new */
static void
ngx_booking_sentinel_set(ngx_booking_sentinel_t *s, ngx_sockaddr_t *sa,
    socklen_t len, ngx_str_t *from)
{
    ngx_booking_node_t  *node;

    node = s->node;

    if (s->known && len == s->master.socklen
        && ngx_memcmp(sa, &s->sockaddr, len) == 0)
    {
        if (node->addr != NULL && !s->demoted) {
            return;
        }

    } else if (s->known) {
        ngx_booking_metrics_failover(1 + ngx_crc32_long((u_char *) sa, len));
    }

    s->demoted = 0;

    ngx_memcpy(&s->sockaddr, sa, len);
    s->master.socklen = len;
    s->master.name.len = ngx_sock_ntop(&s->sockaddr.sockaddr, len, s->text,
                                       NGX_SOCKADDR_STRLEN, 1);
    s->known = 1;

    ngx_log_error(NGX_LOG_NOTICE, node->log, 0,
                  "booking: sentinel %V: the master \"%V\" is %V",
                  from, &node->conf->master, &s->master.name);

    node->addr = &s->master;
    ngx_booking_node_moved(node);
}


/* a node's address as Redis gives it: a numeric IP and a port apart */
ngx_int_t
ngx_booking_sockaddr_parse(u_char *ip, size_t iplen, u_char *port,
    size_t portlen, ngx_sockaddr_t *sa, socklen_t *len)
{
    ngx_int_t  p;
    in_addr_t  in;

    p = ngx_atoi(port, portlen);

    if (p < 1 || p > 65535) {
        return NGX_ERROR;
    }

    ngx_memzero(sa, sizeof(ngx_sockaddr_t));

    in = ngx_inet_addr(ip, iplen);

    if (in != INADDR_NONE) {
        sa->sockaddr_in.sin_family = AF_INET;
        sa->sockaddr_in.sin_addr.s_addr = in;
        sa->sockaddr_in.sin_port = htons((in_port_t) p);
        *len = sizeof(struct sockaddr_in);
        return NGX_OK;
    }

#if (NGX_HAVE_INET6)
    if (ngx_inet6_addr(ip, iplen, sa->sockaddr_in6.sin6_addr.s6_addr)
        == NGX_OK)
    {
        sa->sockaddr_in6.sin6_family = AF_INET6;
        sa->sockaddr_in6.sin6_port = htons((in_port_t) p);
        *len = sizeof(struct sockaddr_in6);
        return NGX_OK;
    }
#endif

    return NGX_ERROR;
}


/* this sentinel cannot tell: the next one; all of them: later */
static void
ngx_booking_sentinel_failed(ngx_booking_link_t *link)
{
    ngx_msec_t               delay;
    ngx_booking_sentinel_t  *s;

    s = link->sentinel;

    ngx_booking_link_release(link);

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        s->busy = 0;
        s->node->refusing = 0;
        return;
    }

    link->index = (link->index + 1) % s->node->conf->nsentinels;

    if (++s->tried < s->node->conf->nsentinels) {
        ngx_booking_sentinel_ask(s);
        return;
    }

    /*
     * Nobody can tell: the node is used again as it is, so that sentinels
     * out of reach cannot turn a master that came back into an outage; a
     * write it refuses starts the next round.
     */
    s->node->refusing = 0;

    delay = ngx_booking_link_backoff(link);

    ngx_log_error(NGX_LOG_ERR, s->node->log, 0,
                  "booking: no sentinel named the master \"%V\", "
                  "asking again in %M ms", &s->node->conf->master, delay);

    ngx_add_timer(&link->retry, delay);
}


static void
ngx_booking_sentinel_retry_handler(ngx_event_t *ev)
{
    ngx_booking_link_t      *link = ev->data;
    ngx_booking_sentinel_t  *s = link->sentinel;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        s->busy = 0;
        s->node->refusing = 0;
        return;
    }

    s->tried = 0;

    ngx_booking_sentinel_ask(s);
}


/* ------------------------------------------------------------ subscriptions */


/*
 * "SUBSCRIBE +switch-master" on a connection kept open and PINGed; lost,
 * it comes back, backing off with jitter.
 */
static void
ngx_booking_sentinel_subscribe(ngx_booking_link_t *sub)
{
    sub->out = ngx_booking_sentinel_subscribe_command;

    ngx_booking_link_open(sub, NGX_ERROR_INFO);

    if (sub->peer.connection != NULL) {
        ngx_add_timer(&sub->ping, NGX_BOOKING_SENTINEL_PING);
    }
}


/*
 * "message", the channel, and its text: for "+switch-master"
 * "<name> <old ip> <old port> <ip> <port>", for the others the replica
 * "slave <ip>:<port> <ip> <port> @ <name> <master ip> <master port>"
 */
static ngx_int_t
ngx_booking_sentinel_message(ngx_booking_link_t *sub, redisReply *reply)
{
    u_char                  *p, *last, *word[8];
    size_t                   len[8];
    ngx_str_t               *name, channel;
    ngx_uint_t               n;
    redisReply              *text;
    ngx_booking_sentinel_t  *s;

    /* subscribed: the sentinel answers; the wait is over */
    sub->backoff = 0;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[0]->len != 7
        || ngx_strncmp(reply->element[0]->str, "message", 7) != 0
        || reply->element[1]->type != REDIS_REPLY_STRING
        || reply->element[2]->type != REDIS_REPLY_STRING)
    {
        return NGX_OK;
    }

    s = sub->sentinel;
    name = &s->node->conf->master;

    channel.data = (u_char *) reply->element[1]->str;
    channel.len = reply->element[1]->len;

    text = reply->element[2];
    p = (u_char *) text->str;
    last = p + text->len;

    for (n = 0; n < 8; n++) {
        while (p < last && *p == ' ') {
            p++;
        }

        word[n] = p;

        while (p < last && *p != ' ') {
            p++;
        }

        len[n] = p - word[n];

        if (len[n] == 0) {
            break;
        }
    }

    if (channel.len == 14
        && ngx_strncmp(channel.data, "+switch-master", 14) == 0)
    {
        if (n >= 5 && len[0] == name->len
            && ngx_strncmp(word[0], name->data, name->len) == 0)
        {
            ngx_booking_sentinel_promoted(s, word[3], len[3], word[4], len[4],
                                          sub->peer.name);
        }

        return NGX_OK;
    }

    if (n < 8 || len[4] != 1 || word[4][0] != '@' || len[5] != name->len
        || ngx_strncmp(word[5], name->data, name->len) != 0)
    {
        return NGX_OK;
    }

    switch (channel.len) {

    case 15:    /* +promoted-slave */
        ngx_booking_sentinel_promoted(s, word[2], len[2], word[3], len[3],
                                      sub->peer.name);
        break;

    case 34:    /* +failover-state-send-slaveof-noone */
        ngx_booking_sentinel_fence(s, word[6], len[6], word[7], len[7],
                                   sub->peer.name);
        break;

    case 29:    /* -failover-abort-slave-timeout */
        if (s->fenced) {
            ngx_log_error(NGX_LOG_NOTICE, s->node->log, 0,
                          "booking: sentinel %V: the failover of \"%V\" "
                          "was aborted", sub->peer.name, name);

            if (s->fence.timer_set) {
                ngx_del_timer(&s->fence);
            }

            s->fenced = 0;
            ngx_booking_sentinel_discover(s->node);
        }

        break;
    }

    return NGX_OK;
}


/* a new master named: the node goes there, fenced or not */
static void
ngx_booking_sentinel_promoted(ngx_booking_sentinel_t *s, u_char *ip,
    size_t iplen, u_char *port, size_t portlen, ngx_str_t *from)
{
    socklen_t       len;
    ngx_sockaddr_t  sa;

    if (ngx_booking_sockaddr_parse(ip, iplen, port, portlen, &sa, &len)
        != NGX_OK)
    {
        return;
    }

    ngx_booking_sentinel_cancel(s);

    if (s->fence.timer_set) {
        ngx_del_timer(&s->fence);
    }

    s->fenced = 0;

    ngx_booking_sentinel_set(s, &sa, len, from);
}


/* a replica of the master the node uses is being promoted */
static void
ngx_booking_sentinel_fence(ngx_booking_sentinel_t *s, u_char *ip,
    size_t iplen, u_char *port, size_t portlen, ngx_str_t *from)
{
    socklen_t            len;
    ngx_sockaddr_t       sa;
    ngx_booking_node_t  *node;

    node = s->node;

    if (node->addr == NULL
        || ngx_booking_sockaddr_parse(ip, iplen, port, portlen, &sa, &len)
           != NGX_OK
        || len != s->master.socklen
        || ngx_memcmp(&sa, &s->sockaddr, len) != 0)
    {
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, node->log, 0,
                  "booking: sentinel %V: a replica of \"%V\" is being "
                  "promoted: %V takes no more requests",
                  from, &node->conf->master, &s->master.name);

    ngx_booking_sentinel_cancel(s);

    s->fenced = 1;
    node->addr = NULL;

    ngx_booking_node_moved(node);

    ngx_add_timer(&s->fence, NGX_BOOKING_SENTINEL_FENCE);
}


static void
ngx_booking_sentinel_fence_handler(ngx_event_t *ev)
{
    ngx_booking_sentinel_t *s = ev->data;

    ngx_log_error(NGX_LOG_ERR, s->node->log, 0,
                  "booking: no new master of \"%V\" named in %d ms, "
                  "asking the sentinels", &s->node->conf->master,
                  NGX_BOOKING_SENTINEL_FENCE);

    s->fenced = 0;

    ngx_booking_sentinel_discover(s->node);
}


/* a discovery under way may ask a sentinel that has not heard yet */
static void
ngx_booking_sentinel_cancel(ngx_booking_sentinel_t *s)
{
    if (!s->busy) {
        return;
    }

    ngx_booking_link_release(&s->ask);

    if (s->ask.retry.timer_set) {
        ngx_del_timer(&s->ask.retry);
    }

    s->busy = 0;
}


/* a PING each period, answered within booking_redis_timeout */
static void
ngx_booking_sentinel_ping_handler(ngx_event_t *ev)
{
    ngx_connection_t    *c;
    ngx_booking_link_t  *sub;

    sub = ev->data;
    c = sub->peer.connection;

    if (c == NULL || ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_add_timer(&sub->ping, NGX_BOOKING_SENTINEL_PING);

    /* not connected yet, or a PING not answered yet: the timer tells */
    if (sub->sent != sub->out.len || c->read->timer_set) {
        if (!c->read->timer_set) {
            ngx_add_timer(c->read, sub->sentinel->node->conf->timeout);
        }

        return;
    }

    sub->out = ngx_booking_sentinel_ping_command;
    sub->sent = 0;

    ngx_add_timer(c->read, sub->sentinel->node->conf->timeout);

    ngx_booking_link_write_handler(c->write);
}


static void
ngx_booking_sentinel_sub_failed(ngx_booking_link_t *sub)
{
    ngx_booking_link_release(sub);

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_add_timer(&sub->retry, ngx_booking_link_backoff(sub));
}


static void
ngx_booking_sentinel_sub_retry_handler(ngx_event_t *ev)
{
    ngx_booking_link_t *sub = ev->data;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_booking_sentinel_subscribe(sub);
}

/*
 * Redis Cluster, the node picker's third kind (booking_redis_cluster):
 * each worker keeps the table of hash slots to masters that CLUSTER SLOTS
 * gives, and a node (with its connections) per master it has met.  A
 * command goes to the node of its first key's slot; a MOVED answer
 * corrects that slot at once and asks for the whole table again, an ASK
 * sends the one command there after ASKING (ngx_booking_store.c).
 *
 * Refreshes are throttled per worker: at most one CLUSTER SLOTS in flight,
 * and none sooner than NGX_BOOKING_SLOTS_EVERY after the last, however
 * many requests meet a MOVED meanwhile; they ask one node, in turn, never
 * all of them.  A cluster's workers thus ask at most workers / EVERY
 * times a second in all, during a resharding or a failover only.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_booking_redis.h"


#define NGX_BOOKING_SLOTS_EVERY   100     /* ms between two refreshes */
#define NGX_BOOKING_SLOTS_NODES   256     /* masters met, at most */


typedef struct {
    ngx_booking_store_conf_t   *conf;
    ngx_booking_node_t        **nodes;
    ngx_uint_t                  nnodes;
    ngx_uint_t                  next;      /* the node asked next */
    ngx_booking_slots_t        *table;
    ngx_booking_slots_t        *fresh;     /* the table being read */
    ngx_booking_redis_cmd_t    *asked;     /* CLUSTER SLOTS in flight */
    ngx_msec_t                  last;
    ngx_event_t                 timer;
    ngx_uint_t                  refreshes;
} ngx_booking_cluster_t;


static ngx_booking_node_t *ngx_booking_slots_at(u_char *ip, size_t iplen,
    unsigned port);
static ngx_booking_node_t *ngx_booking_slots_add(ngx_sockaddr_t *sa,
    socklen_t len);
static void ngx_booking_slots_refresh(void);
static void ngx_booking_slots_timer(ngx_event_t *ev);
static void ngx_booking_slots_answer(void *data, ngx_int_t rc,
    redisReply *reply);
static ngx_int_t ngx_booking_slots_read(ngx_booking_node_t *from,
    redisReply *reply);
static void ngx_booking_slots_suspect(ngx_booking_node_t *node);


static ngx_booking_cluster_t  *ngx_booking_cluster;


ngx_int_t
ngx_booking_slots_init(ngx_cycle_t *cycle, ngx_booking_store_conf_t *conf)
{
    ngx_uint_t              i;
    ngx_booking_cluster_t  *cl;

    cl = ngx_pcalloc(cycle->pool, sizeof(ngx_booking_cluster_t));
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->conf = conf;
    cl->nodes = ngx_pcalloc(cycle->pool, NGX_BOOKING_SLOTS_NODES
                                         * sizeof(ngx_booking_node_t *));
    cl->table = ngx_palloc(cycle->pool, sizeof(ngx_booking_slots_t));
    cl->fresh = ngx_palloc(cycle->pool, sizeof(ngx_booking_slots_t));

    if (cl->nodes == NULL || cl->table == NULL || cl->fresh == NULL) {
        return NGX_ERROR;
    }

    ngx_booking_slots_clear(cl->table);

    cl->timer.handler = ngx_booking_slots_timer;
    cl->timer.data = cl;
    cl->timer.log = cycle->log;
    cl->timer.cancelable = 1;

    ngx_booking_cluster = cl;

    /* the seeds first: the table is asked of one of them once connected */
    for (i = 0; i < conf->nseeds; i++) {
        if (ngx_booking_slots_add((ngx_sockaddr_t *) conf->seeds[i].sockaddr,
                                  conf->seeds[i].socklen)
            == NULL)
        {
            return NGX_ERROR;
        }
    }

    ngx_booking_slots_refresh();

    return NGX_OK;
}


void
ngx_booking_slots_exit(void)
{
    ngx_uint_t              i;
    ngx_booking_cluster_t  *cl;

    cl = ngx_booking_cluster;

    if (cl == NULL) {
        return;
    }

    if (cl->timer.timer_set) {
        ngx_del_timer(&cl->timer);
    }

    if (cl->asked != NULL) {
        ngx_booking_redis_cancel(cl->asked);
        cl->asked = NULL;
    }

    for (i = 0; i < cl->nnodes; i++) {
        ngx_booking_node_close(cl->nodes[i]);
    }

    ngx_booking_cluster = NULL;
}


/*
 * The master of the key's slot; before the table is known, or for a slot
 * it does not cover, any node: its MOVED tells, and the table is asked.
 * A command of no key (TIME) goes to any node that is ready.
 */
ngx_booking_node_t *
ngx_booking_slots_pick(ngx_str_t *key)
{
    ngx_uint_t              i, n;
    ngx_booking_cluster_t  *cl;

    cl = ngx_booking_cluster;

    if (cl == NULL || cl->nnodes == 0) {
        return NULL;
    }

    if (key != NULL) {
        n = ngx_booking_slots_node(cl->table, key->data, key->len);

        if (n != NGX_BOOKING_NO_NODE) {
            /* a master that cannot be reached may have failed over */
            if (!ngx_booking_node_ready(cl->nodes[n])) {
                ngx_booking_slots_refresh();
            }

            return cl->nodes[n];
        }
    }

    /* a keyless command (TIME) goes anywhere: no reason to ask */
    if (key != NULL || cl->table->covered == 0) {
        ngx_booking_slots_refresh();
    }

    for (i = 0; i < cl->nnodes; i++) {
        n = (cl->next + i) % cl->nnodes;

        if (ngx_booking_node_ready(cl->nodes[n])) {
            return cl->nodes[n];
        }
    }

    return cl->nodes[0];
}


/*
 * A MOVED or ASK answer from node "from": the node to send to, and *ask
 * set for an ASK.  A MOVED also corrects the table's slot at once, and
 * asks for the whole table (a resharding or a failover moves many).  NULL:
 * not a redirection, or to a node that cannot be used.
 */
ngx_booking_node_t *
ngx_booking_slots_redirect(ngx_booking_node_t *from, redisReply *reply,
    ngx_uint_t *ask)
{
    u_char                  *ip, text[NGX_SOCKADDR_STRLEN];
    size_t                   iplen;
    ngx_uint_t               i;
    ngx_booking_node_t      *node;
    ngx_booking_cluster_t   *cl;
    ngx_booking_redirect_t   r;

    cl = ngx_booking_cluster;

    if (cl == NULL || reply->type != REDIS_REPLY_ERROR
        || ngx_booking_redirect_parse((u_char *) reply->str, reply->len, &r)
           != NGX_BOOKING_OK)
    {
        return NULL;
    }

    ip = (u_char *) r.host;
    iplen = r.host_len;

    /* no host: the one that answered */
    if (iplen == 0 && from != NULL && from->addr != NULL) {
        iplen = ngx_sock_ntop(from->addr->sockaddr, from->addr->socklen,
                              text, NGX_SOCKADDR_STRLEN, 0);
        ip = text;
    }

    node = ngx_booking_slots_at(ip, iplen, r.port);
    if (node == NULL) {
        return NULL;
    }

    *ask = (r.kind == NGX_BOOKING_ASK);

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "booking: redis cluster %s slot %ui to %V",
                  *ask ? "ASK" : "MOVED", (ngx_uint_t) r.slot, &node->name);

    if (!*ask) {
        for (i = 0; i < cl->nnodes; i++) {
            if (cl->nodes[i] == node) {
                if (cl->table->node[r.slot] == NGX_BOOKING_NO_NODE) {
                    cl->table->covered++;
                }

                cl->table->node[r.slot] = (uint16_t) i;
                break;
            }
        }

        ngx_booking_slots_refresh();
    }

    return node;
}


/* the node of ip:port, met before or added now (its connections open) */
static ngx_booking_node_t *
ngx_booking_slots_at(u_char *ip, size_t iplen, unsigned port)
{
    u_char                  pbuf[NGX_INT_T_LEN];
    socklen_t               len;
    ngx_uint_t              i;
    ngx_sockaddr_t          sa;
    ngx_booking_cluster_t  *cl;

    cl = ngx_booking_cluster;

    if (ngx_booking_sockaddr_parse(ip, iplen, pbuf,
                                   ngx_sprintf(pbuf, "%ui", (ngx_uint_t) port)
                                   - pbuf,
                                   &sa, &len)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "booking: redis cluster node \"%*s:%ui\" is not an IP "
                      "address and port", iplen, ip, (ngx_uint_t) port);
        return NULL;
    }

    for (i = 0; i < cl->nnodes; i++) {
        if (ngx_cmp_sockaddr((struct sockaddr *) &sa, len,
                             cl->nodes[i]->addr->sockaddr,
                             cl->nodes[i]->addr->socklen, 1)
            == NGX_OK)
        {
            return cl->nodes[i];
        }
    }

    return ngx_booking_slots_add(&sa, len);
}


static ngx_booking_node_t *
ngx_booking_slots_add(ngx_sockaddr_t *sa, socklen_t len)
{
    u_char                 *text;
    ngx_cycle_t            *cycle;
    ngx_addr_t             *addr;
    ngx_booking_node_t     *node;
    ngx_booking_cluster_t  *cl;

    cl = ngx_booking_cluster;
    cycle = (ngx_cycle_t *) ngx_cycle;

    if (cl->nnodes == NGX_BOOKING_SLOTS_NODES) {
        ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                      "booking: more than %d redis cluster nodes met",
                      NGX_BOOKING_SLOTS_NODES);
        return NULL;
    }

    node = ngx_pcalloc(cycle->pool, sizeof(ngx_booking_node_t));
    addr = ngx_pcalloc(cycle->pool, sizeof(ngx_addr_t) + len);
    text = ngx_pnalloc(cycle->pool, NGX_SOCKADDR_STRLEN);

    if (node == NULL || addr == NULL || text == NULL) {
        return NULL;
    }

    addr->sockaddr = (struct sockaddr *) (addr + 1);
    addr->socklen = len;
    ngx_memcpy(addr->sockaddr, sa, len);
    addr->name.data = text;
    addr->name.len = ngx_sock_ntop(addr->sockaddr, len, text,
                                   NGX_SOCKADDR_STRLEN, 1);

    node->addr = addr;
    node->name = addr->name;
    node->conf = cl->conf;
    node->suspect = ngx_booking_slots_suspect;

    if (ngx_booking_node_open(node, cycle) != NGX_OK) {
        return NULL;
    }

    cl->nodes[cl->nnodes++] = node;

    return node;
}


/* CLUSTER SLOTS of one node, in turn; throttled */
static void
ngx_booking_slots_refresh(void)
{
    ngx_str_t                argv[2];
    ngx_uint_t               i, n;
    ngx_msec_t               since;
    ngx_booking_node_t      *node;
    ngx_booking_cluster_t   *cl;
    ngx_booking_redis_cmd_t *cmd;

    cl = ngx_booking_cluster;

    if (cl == NULL || cl->asked != NULL || cl->nnodes == 0) {
        return;
    }

    since = ngx_current_msec - cl->last;

    if (cl->refreshes && since < NGX_BOOKING_SLOTS_EVERY) {
        if (!cl->timer.timer_set) {
            ngx_add_timer(&cl->timer, NGX_BOOKING_SLOTS_EVERY - since);
        }

        return;
    }

    ngx_str_set(&argv[0], "CLUSTER");
    ngx_str_set(&argv[1], "SLOTS");

    for (i = 0; i < cl->nnodes; i++) {
        n = (cl->next + i) % cl->nnodes;
        node = cl->nodes[n];

        if (!ngx_booking_node_ready(node)) {
            continue;
        }

        cmd = ngx_booking_resp_command(argv, 2, NULL, 0, ngx_cycle->log);
        if (cmd == NULL) {
            break;
        }

        if (ngx_booking_node_send(node, cmd, ngx_booking_slots_answer, node)
            != NGX_OK)
        {
            ngx_free(cmd);
            continue;
        }

        cl->next = n + 1;
        cl->asked = cmd;
        cl->last = ngx_current_msec;
        cl->refreshes++;
        ngx_booking_metrics_add(&ngx_booking_metrics->refreshes);
        return;
    }

    /* no node can be asked now: again soon */
    if (!cl->timer.timer_set) {
        ngx_add_timer(&cl->timer, NGX_BOOKING_SLOTS_EVERY);
    }
}


static void
ngx_booking_slots_timer(ngx_event_t *ev)
{
    ngx_booking_slots_refresh();
}


static void
ngx_booking_slots_answer(void *data, ngx_int_t rc, redisReply *reply)
{
    ngx_booking_node_t *from = data;

    ngx_booking_slots_t    *t;
    ngx_booking_cluster_t  *cl;

    cl = ngx_booking_cluster;
    cl->asked = NULL;

    if (rc != NGX_BOOKING_REDIS_REPLY
        || ngx_booking_slots_read(from, reply) != NGX_OK)
    {
        /* another node, after the throttle */
        if (!cl->timer.timer_set) {
            ngx_add_timer(&cl->timer, NGX_BOOKING_SLOTS_EVERY);
        }

        return;
    }

    t = cl->table;
    cl->table = cl->fresh;
    cl->fresh = t;

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "booking: redis cluster slots from %V: %ui of %d covered, "
                  "%ui nodes", &from->name, (ngx_uint_t) cl->table->covered,
                  NGX_BOOKING_HASH_SLOTS, cl->nnodes);
}


/*
 * [[first, last, [ip, port, id...], replica...]...] into the fresh table:
 * the masters only (the replicas are not read from).
 */
static ngx_int_t
ngx_booking_slots_read(ngx_booking_node_t *from, redisReply *reply)
{
    u_char                  text[NGX_SOCKADDR_STRLEN], *ip;
    size_t                  i, j, iplen;
    redisReply             *range, *master;
    ngx_booking_node_t     *node;
    ngx_booking_cluster_t  *cl;

    cl = ngx_booking_cluster;

    if (reply->type != REDIS_REPLY_ARRAY) {
        return NGX_ERROR;
    }

    ngx_booking_slots_clear(cl->fresh);

    for (i = 0; i < reply->elements; i++) {
        range = reply->element[i];

        if (range->type != REDIS_REPLY_ARRAY || range->elements < 3
            || range->element[0]->type != REDIS_REPLY_INTEGER
            || range->element[1]->type != REDIS_REPLY_INTEGER
            || range->element[2]->type != REDIS_REPLY_ARRAY
            || range->element[2]->elements < 2)
        {
            return NGX_ERROR;
        }

        master = range->element[2];

        if (master->element[0]->type != REDIS_REPLY_STRING
            || master->element[1]->type != REDIS_REPLY_INTEGER
            || master->element[1]->integer < 1
            || master->element[1]->integer > 65535
            || range->element[0]->integer < 0
            || range->element[1]->integer >= NGX_BOOKING_HASH_SLOTS)
        {
            return NGX_ERROR;
        }

        ip = (u_char *) master->element[0]->str;
        iplen = master->element[0]->len;

        if (iplen == 0 || (iplen == 1 && ip[0] == '?')) {
            iplen = ngx_sock_ntop(from->addr->sockaddr, from->addr->socklen,
                                  text, NGX_SOCKADDR_STRLEN, 0);
            ip = text;
        }

        node = ngx_booking_slots_at(ip, iplen,
                                    (unsigned) master->element[1]->integer);
        if (node == NULL) {
            return NGX_ERROR;
        }

        for (j = 0; j < cl->nnodes; j++) {
            if (cl->nodes[j] == node) {
                break;
            }
        }

        if (ngx_booking_slots_assign(cl->fresh,
                                     (unsigned) range->element[0]->integer,
                                     (unsigned) range->element[1]->integer,
                                     j)
            != NGX_BOOKING_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* a connection lost or refused: the node may have failed over */
static void
ngx_booking_slots_suspect(ngx_booking_node_t *node)
{
    ngx_booking_slots_refresh();
}


void
ngx_booking_slots_stats(ngx_booking_store_stats_t *st)
{
    ngx_uint_t              i;
    ngx_booking_cluster_t  *cl;

    cl = ngx_booking_cluster;

    if (cl == NULL) {
        return;
    }

    for (i = 0; i < cl->nnodes; i++) {
        ngx_booking_node_stats(cl->nodes[i], st);
    }

    st->nodes += cl->nnodes;
}

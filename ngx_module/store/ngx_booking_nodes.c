/*
 * The node picker: which Redis node serves a key.  Three kinds: a single
 * server (booking_redis), the master the sentinels name, followed on
 * failover (booking_redis_sentinel), both one node; or the master of the
 * key's hash slot (booking_redis_cluster, ngx_booking_slots.c).  Nothing
 * above the store knows which.
 */

#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_booking_redis.h"


static ngx_booking_node_t  *ngx_booking_nodes;
static ngx_uint_t           ngx_booking_nnodes;
static ngx_uint_t           ngx_booking_cluster_kind;


ngx_int_t
ngx_booking_nodes_init(ngx_cycle_t *cycle, ngx_booking_store_conf_t *conf)
{
    ngx_booking_node_t  *node;

    if (conf->nseeds) {
        ngx_booking_cluster_kind = 1;
        return ngx_booking_slots_init(cycle, conf);
    }

    node = ngx_pcalloc(cycle->pool, sizeof(ngx_booking_node_t));
    if (node == NULL) {
        return NGX_ERROR;
    }

    node->addr = conf->addr;
    node->name = conf->name;
    node->conf = conf;

    ngx_booking_nodes = node;
    ngx_booking_nnodes = 1;

    if (ngx_booking_node_open(node, cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the connections wait DOWN until the sentinels name the master */
    if (conf->nsentinels) {
        return ngx_booking_sentinel_init(node, cycle);
    }

    return NGX_OK;
}


void
ngx_booking_nodes_exit(void)
{
    ngx_uint_t  i;

    if (ngx_booking_cluster_kind) {
        ngx_booking_slots_exit();
        return;
    }

    for (i = 0; i < ngx_booking_nnodes; i++) {
        ngx_booking_sentinel_exit(&ngx_booking_nodes[i]);
        ngx_booking_node_close(&ngx_booking_nodes[i]);
    }

    ngx_booking_nnodes = 0;
}


ngx_booking_node_t *
ngx_booking_nodes_pick(ngx_str_t *key)
{
    if (ngx_booking_cluster_kind) {
        return ngx_booking_slots_pick(key);
    }

    return ngx_booking_nnodes ? &ngx_booking_nodes[0] : NULL;
}


void
ngx_booking_nodes_stats(ngx_booking_store_stats_t *st)
{
    ngx_uint_t  i;

    if (ngx_booking_cluster_kind) {
        ngx_booking_slots_stats(st);
        return;
    }

    for (i = 0; i < ngx_booking_nnodes; i++) {
        ngx_booking_node_stats(&ngx_booking_nodes[i], st);
    }
}


ngx_uint_t
ngx_booking_nodes_cluster(void)
{
    return ngx_booking_cluster_kind;
}

/*
 * The micro-cache of anonymous reads (booking_cache): listing pages,
 * resources and availability, kept in shared memory for every worker until
 * "valid" passes or a write through this nginx touches them.
 *
 * Invalidation is by generation: the zone keeps a counter per bucket of
 * resource ids and per bucket of type names; an answer remembers the
 * counter as it was when its read began, and is stale once the counter has
 * moved.  A write bumps its resource's counter and its type's, so a read
 * that raced with a write is never kept as fresh.
 *
 * Concurrent misses of one key wait for the first one's Redis read (like
 * proxy_cache_lock), polling the zone every few milliseconds.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_booking_http.h"


#define NGX_BOOKING_CACHE_BUCKETS   1024
#define NGX_BOOKING_CACHE_POLL      5       /* ms between looks of a waiter */


typedef struct {
    ngx_rbtree_t                rbtree;
    ngx_rbtree_node_t           sentinel;
    ngx_queue_t                 lru;
    ngx_atomic_t                res_gen[NGX_BOOKING_CACHE_BUCKETS];
    ngx_atomic_t                type_gen[NGX_BOOKING_CACHE_BUCKETS];
    ngx_atomic_t                hits;
    ngx_atomic_t                misses;
    ngx_atomic_t                waits;
} ngx_booking_cache_sh_t;


typedef struct {
    ngx_rbtree_node_t           node;       /* key: crc32 of the key */
    ngx_queue_t                 queue;
    ngx_msec_t                  expires;
    ngx_msec_t                  lock_until;
    ngx_atomic_uint_t           gen;
    uint64_t                    etag;
    unsigned                    filled:1;
    unsigned                    updating:1;
    size_t                      key_len;
    size_t                      body_len;
    u_char                      data[1];    /* key, then body */
} ngx_booking_cache_node_t;


typedef struct {
    ngx_booking_cache_sh_t     *sh;
    ngx_slab_pool_t            *shpool;
} ngx_booking_cache_t;


static ngx_int_t ngx_booking_cache_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_booking_cache_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_booking_cache_node_t *ngx_booking_cache_find(
    ngx_booking_cache_t *cache, ngx_str_t *key, uint32_t hash);
static ngx_booking_cache_node_t *ngx_booking_cache_alloc(
    ngx_booking_cache_t *cache, size_t size);
static void ngx_booking_cache_free(ngx_booking_cache_t *cache,
    ngx_booking_cache_node_t *cn);
static ngx_atomic_t *ngx_booking_cache_gen(ngx_booking_cache_t *cache,
    ngx_booking_cache_req_t *cr);
static void ngx_booking_cache_wait_handler(ngx_event_t *ev);
static ngx_int_t ngx_booking_cache_copy(ngx_http_request_t *r,
    ngx_booking_cache_req_t *cr, ngx_booking_cache_t *cache,
    ngx_booking_cache_node_t *cn);


ngx_int_t
ngx_booking_cache_zone(ngx_conf_t *cf, ngx_shm_zone_t *zone)
{
    ngx_booking_cache_t  *cache;

    cache = ngx_pcalloc(cf->pool, sizeof(ngx_booking_cache_t));
    if (cache == NULL) {
        return NGX_ERROR;
    }

    zone->init = ngx_booking_cache_init_zone;
    zone->data = cache;

    return NGX_OK;
}


static ngx_int_t
ngx_booking_cache_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_booking_cache_t  *ocache = data;

    ngx_booking_cache_t  *cache;

    cache = shm_zone->data;

    if (ocache != NULL) {
        /* a reload keeps the zone and what is in it */
        cache->sh = ocache->sh;
        cache->shpool = ocache->shpool;
        return NGX_OK;
    }

    cache->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        cache->sh = cache->shpool->data;
        return NGX_OK;
    }

    cache->sh = ngx_slab_calloc(cache->shpool, sizeof(ngx_booking_cache_sh_t));
    if (cache->sh == NULL) {
        return NGX_ERROR;
    }

    cache->shpool->data = cache->sh;

    ngx_rbtree_init(&cache->sh->rbtree, &cache->sh->sentinel,
                    ngx_booking_cache_insert);
    ngx_queue_init(&cache->sh->lru);

    cache->shpool->log_nomem = 0;

    return NGX_OK;
}


static void
ngx_booking_cache_insert(ngx_rbtree_node_t *temp, ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t  **p;

    for ( ;; ) {
        p = (node->key < temp->key) ? &temp->left : &temp->right;

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_booking_cache_node_t *
ngx_booking_cache_find(ngx_booking_cache_t *cache, ngx_str_t *key,
    uint32_t hash)
{
    ngx_rbtree_node_t         *node, *sentinel;
    ngx_booking_cache_node_t  *cn;

    node = cache->sh->rbtree.root;
    sentinel = cache->sh->rbtree.sentinel;

    while (node != sentinel) {
        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        cn = (ngx_booking_cache_node_t *) node;

        if (cn->key_len == key->len
            && ngx_memcmp(cn->data, key->data, key->len) == 0)
        {
            return cn;
        }

        /* equal hashes go right, as the insert put them */
        node = node->right;
    }

    return NULL;
}


/* with the zone locked; the least recently used answers make room */
static ngx_booking_cache_node_t *
ngx_booking_cache_alloc(ngx_booking_cache_t *cache, size_t size)
{
    ngx_uint_t                 tries;
    ngx_queue_t               *q;
    ngx_booking_cache_node_t  *cn, *old;

    for (tries = 0; tries < 64; tries++) {
        cn = ngx_slab_alloc_locked(cache->shpool, size);
        if (cn != NULL) {
            return cn;
        }

        if (ngx_queue_empty(&cache->sh->lru)) {
            return NULL;
        }

        q = ngx_queue_last(&cache->sh->lru);
        old = ngx_queue_data(q, ngx_booking_cache_node_t, queue);

        if (old->updating && old->lock_until > ngx_current_msec) {
            /* someone is filling it: try what comes before it */
            ngx_queue_remove(q);
            ngx_queue_insert_head(&cache->sh->lru, q);
            continue;
        }

        ngx_booking_cache_free(cache, old);
    }

    return NULL;
}


static void
ngx_booking_cache_free(ngx_booking_cache_t *cache,
    ngx_booking_cache_node_t *cn)
{
    ngx_queue_remove(&cn->queue);
    ngx_rbtree_delete(&cache->sh->rbtree, &cn->node);
    ngx_slab_free_locked(cache->shpool, cn);
}


static ngx_atomic_t *
ngx_booking_cache_gen(ngx_booking_cache_t *cache, ngx_booking_cache_req_t *cr)
{
    if (cr->type.len) {
        return &cache->sh->type_gen[ngx_crc32_short(cr->type.data,
                                                    cr->type.len)
                                    % NGX_BOOKING_CACHE_BUCKETS];
    }

    return &cache->sh->res_gen[ngx_crc32_short(cr->id.data, cr->id.len)
                               % NGX_BOOKING_CACHE_BUCKETS];
}


/*
 * NGX_OK: a hit, its body in cr->body.  NGX_AGAIN: another request is
 * reading this key; a timer looks again soon (the caller returns NGX_DONE).
 * NGX_DECLINED: read it from Redis, then ngx_booking_cache_store().
 */
ngx_int_t
ngx_booking_cache_lookup(ngx_http_request_t *r, ngx_booking_cache_req_t *cr)
{
    uint32_t                   hash;
    ngx_booking_cache_t       *cache;
    ngx_booking_main_conf_t   *bmcf;
    ngx_booking_cache_node_t  *cn;

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_booking_module);
    cache = bmcf->cache_zone->data;

    hash = ngx_crc32_short(cr->key.data, cr->key.len);

    ngx_shmtx_lock(&cache->shpool->mutex);

    cn = ngx_booking_cache_find(cache, &cr->key, hash);

    if (cn != NULL && cn->filled && cn->expires > ngx_current_msec
        && cn->gen == *ngx_booking_cache_gen(cache, cr))
    {
        ngx_queue_remove(&cn->queue);
        ngx_queue_insert_head(&cache->sh->lru, &cn->queue);

        /* each request counts once: a hit, a miss, or a wait for another */
        (void) ngx_atomic_fetch_add(cr->waited ? &cache->sh->waits
                                                : &cache->sh->hits, 1);

        /* the answer is copied out before the zone is unlocked */
        return ngx_booking_cache_copy(r, cr, cache, cn);
    }

    if (cn != NULL && cn->updating && cn->lock_until > ngx_current_msec) {
        ngx_shmtx_unlock(&cache->shpool->mutex);
        cr->waited = 1;
        return NGX_AGAIN;
    }

    if (cn == NULL) {
        cn = ngx_booking_cache_alloc(cache,
                                     sizeof(ngx_booking_cache_node_t)
                                     + cr->key.len);
        if (cn == NULL) {
            ngx_shmtx_unlock(&cache->shpool->mutex);
            cr->gen = *ngx_booking_cache_gen(cache, cr);
            cr->filling = 1;
            return NGX_DECLINED;
        }

        ngx_memzero(cn, sizeof(ngx_booking_cache_node_t));
        cn->node.key = hash;
        cn->key_len = cr->key.len;
        ngx_memcpy(cn->data, cr->key.data, cr->key.len);
        ngx_rbtree_insert(&cache->sh->rbtree, &cn->node);
        ngx_queue_insert_head(&cache->sh->lru, &cn->queue);
    }

    /* this request reads for everyone who asks meanwhile */
    cn->updating = 1;
    cn->lock_until = ngx_current_msec + 2 * bmcf->store.timeout + 100;

    cr->gen = *ngx_booking_cache_gen(cache, cr);
    cr->filling = 1;

    ngx_shmtx_unlock(&cache->shpool->mutex);

    (void) ngx_atomic_fetch_add(&cache->sh->misses, 1);

    return NGX_DECLINED;
}


/* with the zone locked; unlocks it */
static ngx_int_t
ngx_booking_cache_copy(ngx_http_request_t *r, ngx_booking_cache_req_t *cr,
    ngx_booking_cache_t *cache, ngx_booking_cache_node_t *cn)
{
    cr->body.len = cn->body_len;
    cr->body.data = ngx_pnalloc(r->pool, cn->body_len);
    cr->etag = cn->etag;

    if (cr->body.data != NULL) {
        ngx_memcpy(cr->body.data, cn->data + cn->key_len, cn->body_len);
    }

    ngx_shmtx_unlock(&cache->shpool->mutex);

    return (cr->body.data != NULL) ? NGX_OK : NGX_ERROR;
}


void
ngx_booking_cache_store(ngx_http_request_t *r, ngx_booking_cache_req_t *cr,
    ngx_str_t *body, uint64_t etag)
{
    size_t                     len;
    uint32_t                   hash;
    ngx_booking_cache_t       *cache;
    ngx_booking_main_conf_t   *bmcf;
    ngx_booking_cache_node_t  *cn, *old;

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_booking_module);
    cache = bmcf->cache_zone->data;

    cr->filling = 0;
    len = (body != NULL) ? body->len : 0;
    hash = ngx_crc32_short(cr->key.data, cr->key.len);

    ngx_shmtx_lock(&cache->shpool->mutex);

    old = ngx_booking_cache_find(cache, &cr->key, hash);

    if (old != NULL) {
        ngx_booking_cache_free(cache, old);
    }

    /* a write came between the read and now: what was read is stale */
    if (len == 0 || cr->gen != *ngx_booking_cache_gen(cache, cr)) {
        ngx_shmtx_unlock(&cache->shpool->mutex);
        return;
    }

    cn = ngx_booking_cache_alloc(cache, sizeof(ngx_booking_cache_node_t)
                                        + cr->key.len + len);
    if (cn != NULL) {
        ngx_memzero(cn, sizeof(ngx_booking_cache_node_t));
        cn->node.key = hash;
        cn->key_len = cr->key.len;
        cn->body_len = len;
        cn->etag = etag;
        cn->gen = cr->gen;
        cn->filled = 1;
        cn->expires = ngx_current_msec + bmcf->cache_valid * 1000;
        ngx_memcpy(cn->data, cr->key.data, cr->key.len);
        ngx_memcpy(cn->data + cn->key_len, body->data, len);
        ngx_rbtree_insert(&cache->sh->rbtree, &cn->node);
        ngx_queue_insert_head(&cache->sh->lru, &cn->queue);
    }

    ngx_shmtx_unlock(&cache->shpool->mutex);
}


/* the read failed or answered something not worth keeping: unlock it */
void
ngx_booking_cache_abandon(ngx_http_request_t *r, ngx_booking_cache_req_t *cr)
{
    ngx_booking_cache_store(r, cr, NULL, 0);
}


/*
 * A write through this nginx: answers about this resource, and listing
 * pages of its type (of every type when it is not known), are stale now.
 */
void
ngx_booking_cache_invalidate(ngx_http_request_t *r, ngx_str_t *id,
    ngx_str_t *type)
{
    ngx_uint_t                i;
    ngx_booking_cache_t      *cache;
    ngx_booking_main_conf_t  *bmcf;

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_booking_module);

    if (bmcf->cache_zone == NULL) {
        return;
    }

    cache = bmcf->cache_zone->data;

    (void) ngx_atomic_fetch_add(&cache->sh->res_gen[
                                    ngx_crc32_short(id->data, id->len)
                                    % NGX_BOOKING_CACHE_BUCKETS], 1);

    if (type != NULL) {
        (void) ngx_atomic_fetch_add(&cache->sh->type_gen[
                                        ngx_crc32_short(type->data, type->len)
                                        % NGX_BOOKING_CACHE_BUCKETS], 1);
        return;
    }

    for (i = 0; i < NGX_BOOKING_CACHE_BUCKETS; i++) {
        (void) ngx_atomic_fetch_add(&cache->sh->type_gen[i], 1);
    }
}


ngx_int_t
ngx_booking_cache_wait(ngx_http_request_t *r, ngx_booking_cache_req_t *cr)
{
    cr->wait.handler = ngx_booking_cache_wait_handler;
    cr->wait.data = cr;
    cr->wait.log = r->connection->log;

    ngx_add_timer(&cr->wait, NGX_BOOKING_CACHE_POLL);

    return NGX_DONE;
}


/*
 * Another's read came in (a hit), or the lock passed to this request, or
 * it expired: the http layer answers, or reads for everyone.
 */
static void
ngx_booking_cache_wait_handler(ngx_event_t *ev)
{
    ngx_booking_cache_req_t *cr = ev->data;

    ngx_int_t  rc;

    rc = ngx_booking_cache_lookup(cr->request, cr);

    if (rc == NGX_AGAIN) {
        ngx_add_timer(ev, NGX_BOOKING_CACHE_POLL);
        return;
    }

    cr->resume(cr->request, rc);
}


void
ngx_booking_cache_cleanup(ngx_booking_cache_req_t *cr)
{
    if (cr->wait.timer_set) {
        ngx_del_timer(&cr->wait);
    }
}


void
ngx_booking_cache_stats(ngx_shm_zone_t *zone, ngx_atomic_uint_t *hits,
    ngx_atomic_uint_t *misses, ngx_atomic_uint_t *waits)
{
    ngx_booking_cache_t  *cache;

    *hits = 0;
    *misses = 0;
    *waits = 0;

    if (zone == NULL) {
        return;
    }

    cache = zone->data;

    *hits = cache->sh->hits;
    *misses = cache->sh->misses;
    *waits = cache->sh->waits;
}

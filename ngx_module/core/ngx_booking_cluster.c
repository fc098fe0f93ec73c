/*
 * What Redis Cluster answers that the node picker acts on, as plain C: a
 * redirection ("MOVED <slot> <host>:<port>", "ASK ...") and the table of
 * hash slots to nodes that CLUSTER SLOTS describes, range by range.
 */

#include <string.h>

#include "ngx_booking_core.h"


static int ngx_booking_cluster_number(const u_char *p, size_t len,
    unsigned max, unsigned *n);


/*
 * The port is after the last ":", so that an IPv6 host keeps its own; an
 * empty host (Redis 7, a node that does not know its endpoint) means the
 * host that answered, with this port.
 */
int
ngx_booking_redirect_parse(const u_char *p, size_t len,
    ngx_booking_redirect_t *r)
{
    const u_char  *end, *sp, *colon;

    end = p + len;

    if (len > 6 && memcmp(p, "MOVED ", 6) == 0) {
        r->kind = NGX_BOOKING_MOVED;
        p += 6;

    } else if (len > 4 && memcmp(p, "ASK ", 4) == 0) {
        r->kind = NGX_BOOKING_ASK;
        p += 4;

    } else {
        return NGX_BOOKING_ERROR;
    }

    sp = memchr(p, ' ', end - p);

    if (sp == NULL
        || ngx_booking_cluster_number(p, sp - p, NGX_BOOKING_HASH_SLOTS - 1,
                                      &r->slot)
           != NGX_BOOKING_OK)
    {
        return NGX_BOOKING_ERROR;
    }

    p = sp + 1;

    for (colon = NULL, sp = p; sp < end; sp++) {
        if (*sp == ':') {
            colon = sp;

        } else if (*sp <= ' ' || *sp >= 0x7f) {
            return NGX_BOOKING_ERROR;
        }
    }

    if (colon == NULL
        || ngx_booking_cluster_number(colon + 1, end - (colon + 1), 65535,
                                      &r->port)
           != NGX_BOOKING_OK
        || r->port == 0)
    {
        return NGX_BOOKING_ERROR;
    }

    r->host = p;
    r->host_len = colon - p;

    return NGX_BOOKING_OK;
}


void
ngx_booking_slots_clear(ngx_booking_slots_t *t)
{
    unsigned  i;

    for (i = 0; i < NGX_BOOKING_HASH_SLOTS; i++) {
        t->node[i] = NGX_BOOKING_NO_NODE;
    }

    t->covered = 0;
}


/* a range of CLUSTER SLOTS; a slot given twice is a table not to trust */
int
ngx_booking_slots_assign(ngx_booking_slots_t *t, unsigned first,
    unsigned last, unsigned node)
{
    unsigned  i;

    if (first > last || last >= NGX_BOOKING_HASH_SLOTS
        || node >= NGX_BOOKING_NO_NODE)
    {
        return NGX_BOOKING_ERROR;
    }

    for (i = first; i <= last; i++) {
        if (t->node[i] != NGX_BOOKING_NO_NODE) {
            return NGX_BOOKING_ERROR;
        }
    }

    for (i = first; i <= last; i++) {
        t->node[i] = (uint16_t) node;
    }

    t->covered += last - first + 1;

    return NGX_BOOKING_OK;
}


/* the node of a key's slot, or NGX_BOOKING_NO_NODE: nobody serves it */
unsigned
ngx_booking_slots_node(const ngx_booking_slots_t *t, const u_char *key,
    size_t len)
{
    return t->node[ngx_booking_hash_slot(key, len)];
}


static int
ngx_booking_cluster_number(const u_char *p, size_t len, unsigned max,
    unsigned *n)
{
    size_t    i;
    unsigned  v;

    if (len == 0 || len > 5) {
        return NGX_BOOKING_ERROR;
    }

    for (v = 0, i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return NGX_BOOKING_ERROR;
        }

        v = v * 10 + (p[i] - '0');
    }

    if (v > max) {
        return NGX_BOOKING_ERROR;
    }

    *n = v;

    return NGX_BOOKING_OK;
}

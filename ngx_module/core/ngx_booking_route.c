/*
 * Routes of the HTTP API, as plain C: the module and the fuzzer share it.
 */

#include <string.h>

#include "ngx_booking_core.h"


#define NGX_BOOKING_SEGMENTS_MAX  3


static int ngx_booking_is(const u_char *p, size_t len, const char *word);


static const char  *ngx_booking_ops[] = {
    "confirm", "cancel", "approve", "decline", "extend", NULL
};


static int
ngx_booking_is(const u_char *p, size_t len, const char *word)
{
    return len == strlen(word) && memcmp(p, word, len) == 0;
}


int
ngx_booking_route_match(const u_char *path, size_t len,
    ngx_booking_route_t *rt)
{
    int             entry;
    size_t          n, i, seg_len[NGX_BOOKING_SEGMENTS_MAX];
    const u_char   *p, *last, *s, *seg[NGX_BOOKING_SEGMENTS_MAX];

    memset(rt, 0, sizeof(ngx_booking_route_t));

    entry = 0;

    p = path;
    last = path + len;
    n = 0;

    while (p < last && *p == '/') {
        p++;
    }

    while (p < last) {
        if (n == NGX_BOOKING_SEGMENTS_MAX) {
            return rt->route = NGX_BOOKING_ROUTE_NONE;
        }

        s = memchr(p, '/', last - p);
        if (s == NULL) {
            s = last;
        }

        seg[n] = p;
        seg_len[n] = s - p;
        n++;

        if (s == last) {
            break;
        }

        /* "resources/x/" is not "resources/x", nor is "resources//x" */
        p = s + 1;

        if (p == last || *p == '/') {
            return rt->route = NGX_BOOKING_ROUTE_NONE;
        }
    }

    if (n == 0) {
        return rt->route = NGX_BOOKING_ROUTE_NONE;
    }

    if (ngx_booking_is(seg[0], seg_len[0], "resources")) {
        if (n == 1) {
            return rt->route = NGX_BOOKING_ROUTE_RESOURCES;
        }

        rt->id = seg[1];
        rt->id_len = seg_len[1];

        if (n == 2) {
            return rt->route = NGX_BOOKING_ROUTE_RESOURCE;
        }

        if (ngx_booking_is(seg[2], seg_len[2], "availability")) {
            return rt->route = NGX_BOOKING_ROUTE_AVAILABILITY;
        }

        if (ngx_booking_is(seg[2], seg_len[2], "calendar.ics")) {
            return rt->route = NGX_BOOKING_ROUTE_CALENDAR;
        }

        return rt->route = NGX_BOOKING_ROUTE_NONE;
    }

    if (ngx_booking_is(seg[0], seg_len[0], "waitlist")) {
        if (n == 1) {
            return rt->route = NGX_BOOKING_ROUTE_WAITLIST;
        }

        if (n == 3) {
            return rt->route = NGX_BOOKING_ROUTE_NONE;
        }

        entry = 1;

    } else if (ngx_booking_is(seg[0], seg_len[0], "groups")) {
        /* a group is confirmed or cancelled as a whole, nothing else */
        if (n == 1
            || (n == 3 && !ngx_booking_is(seg[2], seg_len[2], "confirm")
                && !ngx_booking_is(seg[2], seg_len[2], "cancel")))
        {
            return rt->route = NGX_BOOKING_ROUTE_NONE;
        }

        entry = 2;

    } else if (!ngx_booking_is(seg[0], seg_len[0], "bookings")) {
        return rt->route = NGX_BOOKING_ROUTE_NONE;

    } else if (n == 1) {
        return rt->route = NGX_BOOKING_ROUTE_BOOKINGS;
    }

    if (n == 3) {
        for (i = 0; ngx_booking_ops[i] != NULL; i++) {
            if (ngx_booking_is(seg[2], seg_len[2], ngx_booking_ops[i])) {
                break;
            }
        }

        if (ngx_booking_ops[i] == NULL) {
            return rt->route = NGX_BOOKING_ROUTE_NONE;
        }

        rt->op = seg[2];
        rt->op_len = seg_len[2];
    }

    /* "<resource id>.<random part>": the id may hold dots, the part not */
    for (i = seg_len[1]; i > 0; i--) {
        if (seg[1][i - 1] == '.') {
            break;
        }
    }

    if (i == 0 || i == 1
        || !ngx_booking_rand_valid(seg[1] + i, seg_len[1] - i))
    {
        return rt->route = (entry == 2) ? NGX_BOOKING_ROUTE_NO_GROUP
                           : entry ? NGX_BOOKING_ROUTE_NO_ENTRY
                                   : NGX_BOOKING_ROUTE_NO_BOOKING;
    }

    rt->booking = seg[1];
    rt->booking_len = seg_len[1];
    rt->id = seg[1];
    rt->id_len = i - 1;
    rt->rand = seg[1] + i;
    rt->rand_len = seg_len[1] - i;

    if (entry == 2) {
        return rt->route = (n == 3) ? NGX_BOOKING_ROUTE_GROUP_OP
                                    : NGX_BOOKING_ROUTE_GROUP;
    }

    if (entry) {
        return rt->route = NGX_BOOKING_ROUTE_ENTRY;
    }

    return rt->route = (n == 3) ? NGX_BOOKING_ROUTE_BOOKING_OP
                                : NGX_BOOKING_ROUTE_BOOKING;
}

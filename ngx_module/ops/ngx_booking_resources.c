/*
 * Resources: PUT, GET, DELETE /resources/{id}, their availability and
 * their calendar feed.  The resource is the hash R of its keys, whose
 * "doc" field holds its JSON as written by PUT.
 */

#include <ngx_config.h>
#include <ngx_core.h>

#include <jansson.h>

#include "ngx_booking_ops.h"


#define NGX_BOOKING_EVENTS_MAX  1000


typedef struct {
    ngx_booking_type_t   *type;
    int64_t               capacity;
    ngx_str_t             doc;
    ngx_str_t             owner;
    ngx_str_t             groups;     /* comma separated, for the scripts */
    ngx_str_t             lat;        /* "" without a location */
    ngx_str_t             lon;
    ngx_str_t             hours;      /* for the scripts; "" without */
} ngx_booking_resource_t;


/* at most this many slot lengths are read at once; others: the script */
#define NGX_BOOKING_AVGROUPS  4


/* the range's chunks for one slot length */
typedef struct {
    int64_t               slot;
    int64_t               s0;
    size_t                n;
    int64_t               first;
    size_t                count;
    size_t                at;         /* its first in the HMGET's fields */
} ngx_booking_avgroup_t;


/* an availability read without a script */
typedef struct {
    ngx_booking_req_t    *req;
    ngx_booking_call_t   *time;
    ngx_booking_call_t   *res;
    ngx_booking_call_t   *counters;
    ngx_booking_call_t   *failed;
    ngx_uint_t            pending;
    ngx_uint_t            error;
    ngx_uint_t            unavailable;
    int64_t               now;
    ngx_booking_peek_t    peek;
    ngx_booking_span_t   *chunks;
    size_t                nchunks;
    ngx_uint_t            ngroups;
    ngx_booking_avgroup_t group[NGX_BOOKING_AVGROUPS];
} ngx_booking_avread_t;


static ngx_int_t ngx_booking_resource_hours(ngx_booking_req_t *req,
    json_t *root, ngx_booking_resource_t *res);
static ngx_int_t ngx_booking_resource_doc(ngx_booking_req_t *req,
    json_t *root, ngx_booking_resource_t *res);
static ngx_int_t ngx_booking_resource_access(ngx_booking_req_t *req,
    json_t *root, ngx_booking_rreq_t *in, ngx_booking_resource_t *res);
static ngx_int_t ngx_booking_resource_rules(ngx_booking_req_t *req,
    ngx_booking_call_t *call, ngx_uint_t first);
static void ngx_booking_resource_listed(ngx_booking_req_t *req,
    ngx_booking_call_t *failed);
static void ngx_booking_resource_unlisted(ngx_booking_req_t *req,
    ngx_booking_call_t *failed);
static void ngx_booking_resource_written(ngx_booking_call_t *call);
static void ngx_booking_resource_read(ngx_booking_call_t *call);
static void ngx_booking_resource_deleted(ngx_booking_call_t *call);
static void ngx_booking_availability_read(ngx_booking_call_t *call);
static void ngx_booking_availability_peeked(ngx_booking_call_t *call);
static ngx_int_t ngx_booking_availability_decide(ngx_booking_req_t *req,
    ngx_booking_avread_t *st);
static ngx_int_t ngx_booking_availability_script(ngx_booking_req_t *req);
static ngx_int_t ngx_booking_availability_closed(ngx_booking_req_t *req,
    ngx_booking_type_t *t, ngx_booking_avail_t *av,
    ngx_booking_closed_t *closed);
static ngx_int_t ngx_booking_availability_answer(ngx_booking_req_t *req,
    ngx_booking_avail_t *av, u_char *counters);
static void ngx_booking_calendar_read(ngx_booking_call_t *call);
static ngx_booking_call_t *ngx_booking_resource_call(ngx_booking_req_t *req,
    ngx_int_t script, ngx_uint_t nkeys, ngx_uint_t nargs, int expect,
    ngx_booking_call_pt handler);


ngx_int_t
ngx_booking_resource_put(ngx_booking_req_t *req)
{
    json_t                  *root;
    ngx_int_t                rc;
    ngx_uint_t               ntypes;
    ngx_booking_call_t      *call;
    ngx_booking_rreq_t       in;
    ngx_booking_perr_t       perr;
    ngx_booking_resource_t   res;

    root = ngx_booking_parse_resource(req->body.data, req->body.len, &in,
                                      &perr);
    if (root == NULL) {
        return ngx_booking_op_perr(req, &perr);
    }

    ngx_memzero(&res, sizeof(ngx_booking_resource_t));
    res.capacity = in.capacity;
    res.type = ngx_booking_find_type(req->conf, (u_char *) in.type,
                                     in.type_len);

    rc = NGX_OK;

    if (res.type == NULL) {
        rc = NGX_DECLINED;

    } else if (ngx_booking_resource_doc(req, root, &res) != NGX_OK
               || ngx_booking_resource_access(req, root, &in, &res)
                  != NGX_OK)
    {
        rc = NGX_ERROR;

    } else {
        rc = ngx_booking_resource_hours(req, root, &res);
    }

    json_decref(root);

    if (rc == NGX_DONE) {
        return NGX_OK;
    }

    if (rc == NGX_DECLINED) {
        return ngx_booking_op_fail(req, NGX_BOOKING_UNPROCESSABLE, "invalid",
                                   "unknown type", "type");
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    ntypes = req->conf->types.nelts;

    call = ngx_booking_resource_call(req, NGX_BOOKING_SCRIPT_RESOURCE_PUT,
                                     NGX_BOOKING_RESOURCE_PUT_NKEYS,
                                     NGX_BOOKING_RESOURCE_PUT_NARGS + ntypes,
                                     NGX_BOOKING_R_PUT,
                                     ngx_booking_resource_written);
    if (call == NULL
        || ngx_booking_num(req,
                           &call->args[NGX_BOOKING_RESOURCE_PUT_A_SLOT],
                           res.type->slot)
           != NGX_OK
        || ngx_booking_num(req,
                           &call->args[NGX_BOOKING_RESOURCE_PUT_A_CAPACITY],
                           res.capacity)
           != NGX_OK
        || ngx_booking_resource_rules(req, call,
                                      NGX_BOOKING_RESOURCE_PUT_A_RULES)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    call->args[NGX_BOOKING_RESOURCE_PUT_A_DOC] = res.doc;
    call->args[NGX_BOOKING_RESOURCE_PUT_A_TYPE] = res.type->name;
    call->args[NGX_BOOKING_RESOURCE_PUT_A_OWNER] = res.owner;
    call->args[NGX_BOOKING_RESOURCE_PUT_A_GROUPS] = res.groups;
    call->args[NGX_BOOKING_RESOURCE_PUT_A_LAT] = res.lat;
    call->args[NGX_BOOKING_RESOURCE_PUT_A_LON] = res.lon;
    call->args[NGX_BOOKING_RESOURCE_PUT_A_HOURS] = res.hours;
    call->args[NGX_BOOKING_RESOURCE_PUT_A_EVENTS] = req->conf->events;

    return ngx_booking_op_send(req, call);
}


/* a call on the resource of the path, its keys R B C K H A set */
static ngx_booking_call_t *
ngx_booking_resource_call(ngx_booking_req_t *req, ngx_int_t script,
    ngx_uint_t nkeys, ngx_uint_t nargs, int expect,
    ngx_booking_call_pt handler)
{
    ngx_booking_call_t  *call;

    call = ngx_booking_op_call(req, script, nkeys, nargs, expect, handler);
    if (call == NULL
        || ngx_booking_resource_keys(req, &req->id, call->keys,
                                     ngx_booking_keys_all)
           != NGX_OK)
    {
        return NULL;
    }

    return call;
}


/* each type's rules line, from argument first on */
static ngx_int_t
ngx_booking_resource_rules(ngx_booking_req_t *req, ngx_booking_call_t *call,
    ngx_uint_t first)
{
    ngx_uint_t  i;

    for (i = 0; i < req->conf->types.nelts; i++) {
        call->args[first + i] = req->conf->rules[i];
    }

    return NGX_OK;
}


/*
 * The stored document: the fields in a fixed order, numbers as numbers,
 * so that equal resources read alike.
 */
static ngx_int_t
ngx_booking_resource_doc(ngx_booking_req_t *req, json_t *root,
    ngx_booking_resource_t *res)
{
    json_t             *v;
    ngx_uint_t          i;
    ngx_booking_json_t  j;
    static const char  *fields[] = { "title", "owner", "location",
                                     "attributes", "groups", "hours",
                                     NULL };

    if (ngx_booking_json_init(&j, req->pool, 256) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_booking_json_lit(&j, "{\"id\":");
    ngx_booking_json_str(&j, req->id.data, req->id.len);
    ngx_booking_json_lit(&j, ",\"type\":");
    ngx_booking_json_str(&j, res->type->name.data, res->type->name.len);
    ngx_booking_json_lit(&j, ",\"capacity\":");
    ngx_booking_json_int(&j, res->capacity);

    for (i = 0; fields[i] != NULL; i++) {
        v = json_object_get(root, fields[i]);

        if (v != NULL) {
            ngx_booking_json_lit(&j, ",\"");
            ngx_booking_json_raw(&j, (u_char *) fields[i],
                                 ngx_strlen(fields[i]));
            ngx_booking_json_lit(&j, "\":");
            ngx_booking_json_value(&j, v);
        }
    }

    ngx_booking_json_lit(&j, "}");

    if (j.failed) {
        return NGX_ERROR;
    }

    res->doc.data = j.start;
    res->doc.len = j.pos - j.start;

    return NGX_OK;
}


/*
 * Opening hours, checked and made the scripts' compact form: " D:F-T"
 * for each interval (D the weekday, Monday 0; F and T minutes of the
 * local day), then " xN" for each closed date (its day number), and a
 * last space, so that a script finds a date with one plain find.
 * NGX_DONE with the answer set when they are refused.
 */
static ngx_int_t
ngx_booking_resource_hours(ngx_booking_req_t *req, json_t *root,
    ngx_booking_resource_t *res)
{
    u_char               *p;
    size_t                i;
    json_t               *v;
    ngx_uint_t            d;
    ngx_booking_perr_t    perr;
    ngx_booking_hours_t  *h;

    ngx_str_set(&res->hours, "");

    v = json_object_get(root, "hours");
    if (v == NULL) {
        return NGX_OK;
    }

    h = ngx_palloc(req->pool, sizeof(ngx_booking_hours_t));
    if (h == NULL) {
        return NGX_ERROR;
    }

    if (ngx_booking_parse_hours(v, h, &perr) != NGX_BOOKING_OK) {
        return ngx_booking_op_perr(req, &perr) == NGX_OK ? NGX_DONE
                                                         : NGX_ERROR;
    }

    if (res->type->slot == 0 || ngx_booking_hours_fit(h, res->type->slot)
                                != NGX_BOOKING_OK)
    {
        return ngx_booking_op_fail(req, NGX_BOOKING_UNPROCESSABLE, "invalid",
                                   res->type->slot
                                   ? "opening hours must fall on the "
                                     "type's slot boundaries"
                                   : "a timeless type has no opening hours",
                                   "hours") == NGX_OK ? NGX_DONE : NGX_ERROR;
    }

    p = ngx_pnalloc(req->pool, 7 * NGX_BOOKING_HOURS_DAY_MAX * 12
                               + h->nclosed * (NGX_INT64_LEN + 2) + 2);
    if (p == NULL) {
        return NGX_ERROR;
    }

    res->hours.data = p;

    for (d = 0; d < 7; d++) {
        for (i = 0; i < h->n[d]; i++) {
            p = ngx_sprintf(p, " %ui:%ui-%ui", d,
                            (ngx_uint_t) h->open[d][i][0],
                            (ngx_uint_t) h->open[d][i][1]);
        }
    }

    for (i = 0; i < h->nclosed; i++) {
        p = ngx_sprintf(p, " x%L", h->closed[i]);
    }

    *p++ = ' ';
    res->hours.len = p - res->hours.data;

    return NGX_OK;
}


/* who may act on the resource: its owner, the groups it is kept for */
static ngx_int_t
ngx_booking_resource_access(ngx_booking_req_t *req, json_t *root,
    ngx_booking_rreq_t *in, ngx_booking_resource_t *res)
{
    u_char   *p;
    size_t    i, len;
    json_t   *v, *g;

    res->owner.len = in->owner_len;
    res->owner.data = (u_char *) "";
    ngx_str_set(&res->groups, "");
    ngx_str_set(&res->lat, "");
    ngx_str_set(&res->lon, "");

    if (in->owner != NULL) {
        res->owner.data = ngx_pnalloc(req->pool, in->owner_len);
        if (res->owner.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(res->owner.data, in->owner, in->owner_len);
    }

    if (in->located) {
        p = ngx_pnalloc(req->pool, 2 * 32);
        if (p == NULL) {
            return NGX_ERROR;
        }

        res->lat.data = p;
        res->lat.len = ngx_sprintf(p, "%.8f", in->lat) - p;
        p += 32;
        res->lon.data = p;
        res->lon.len = ngx_sprintf(p, "%.8f", in->lon) - p;
    }

    v = json_object_get(root, "groups");
    if (v == NULL || json_array_size(v) == 0) {
        return NGX_OK;
    }

    len = 0;

    json_array_foreach(v, i, g) {
        len += json_string_length(g) + 1;
    }

    p = ngx_pnalloc(req->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    res->groups.data = p;

    json_array_foreach(v, i, g) {
        if (i) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, json_string_value(g), json_string_length(g));
    }

    res->groups.len = p - res->groups.data;

    return NGX_OK;
}


static void
ngx_booking_resource_written(ngx_booking_call_t *call)
{
    ngx_booking_req_t *req = call->data;

    ngx_int_t            rc;
    ngx_str_t           *was;
    ngx_booking_doc_t   *doc;

    rc = ngx_booking_op_check(req, call);

    if (rc != NGX_DECLINED) {
        ngx_booking_op_done(req, rc);
        return;
    }

    /* a type change may move it between listings: every type */
    req->change.changed = 1;
    req->change.id = req->id;

    doc = &call->result.doc;

    /* the type it had outlives the reply: the last step needs it */
    was = ngx_palloc(req->pool, sizeof(ngx_str_t));
    if (was == NULL) {
        ngx_booking_op_done(req, NGX_ERROR);
        return;
    }

    was->len = doc->was.len;
    was->data = ngx_pnalloc(req->pool, was->len + 1);
    if (was->data == NULL
        || ngx_booking_view_resource(&req->answer, req->pool,
                                     doc->created ? NGX_HTTP_CREATED
                                                  : NGX_HTTP_OK,
                                     doc)
           != NGX_OK)
    {
        ngx_booking_op_done(req, NGX_ERROR);
        return;
    }

    ngx_memcpy(was->data, doc->was.data, was->len);
    req->state = call;
    req->state_id = was;

    /* the listing indexes of its type: a step of their own, after it */
    ngx_booking_op_done(req, ngx_booking_index_type(req,
                             &call->args[NGX_BOOKING_RESOURCE_PUT_A_TYPE],
                             &req->id,
                             &call->args[NGX_BOOKING_RESOURCE_PUT_A_LAT],
                             &call->args[NGX_BOOKING_RESOURCE_PUT_A_LON],
                             ngx_booking_resource_listed));
}


/* listed where it now is; then out of the listings of the type it had */
static void
ngx_booking_resource_listed(ngx_booking_req_t *req, ngx_booking_call_t *failed)
{
    ngx_str_t           *was, *type;
    ngx_booking_call_t  *call;

    if (failed != NULL) {
        ngx_booking_op_done(req, ngx_booking_op_failed(req, failed));
        return;
    }

    call = req->state;
    was = req->state_id;
    type = &call->args[NGX_BOOKING_RESOURCE_PUT_A_TYPE];

    if (was->len == 0
        || (was->len == type->len
            && ngx_strncmp(was->data, type->data, type->len) == 0))
    {
        ngx_booking_op_done(req, NGX_OK);
        return;
    }

    ngx_booking_op_done(req, ngx_booking_unindex_type(req, was, &req->id,
                                              ngx_booking_resource_unlisted));
}


static void
ngx_booking_resource_unlisted(ngx_booking_req_t *req,
    ngx_booking_call_t *failed)
{
    ngx_booking_op_done(req, failed ? ngx_booking_op_failed(req, failed)
                                    : NGX_OK);
}


ngx_int_t
ngx_booking_resource_get(ngx_booking_req_t *req)
{
    ngx_booking_call_t  *call;
    static const char   *r[] = { NGX_BOOKING_KEY_R, NULL };

    /* a read changes nothing: one plain command, no script */
    call = ngx_booking_op_call(req, -1, 0, 5, NGX_BOOKING_R_GET,
                               ngx_booking_resource_read);
    if (call == NULL
        || ngx_booking_resource_keys(req, &req->id, &call->args[1], r)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&call->args[0], "HMGET");
    ngx_str_set(&call->args[2], "doc");
    ngx_str_set(&call->args[3], "created_at");
    ngx_str_set(&call->args[4], "updated_at");

    return ngx_booking_op_send(req, call);
}


static void
ngx_booking_resource_read(ngx_booking_call_t *call)
{
    ngx_booking_req_t *req = call->data;

    ngx_int_t  rc;

    rc = ngx_booking_op_check(req, call);

    if (rc == NGX_DECLINED) {
        rc = call->result.doc.found
             ? ngx_booking_view_resource(&req->answer, req->pool,
                                         NGX_HTTP_OK, &call->result.doc)
             : ngx_booking_op_fail(req, NGX_HTTP_NOT_FOUND, "not_found",
                                   "no such resource", NULL);
    }

    ngx_booking_op_done(req, rc);
}


ngx_int_t
ngx_booking_resource_delete(ngx_booking_req_t *req)
{
    ngx_uint_t           ntypes;
    ngx_booking_call_t  *call;

    ntypes = req->conf->types.nelts;

    call = ngx_booking_resource_call(req, NGX_BOOKING_SCRIPT_RESOURCE_DELETE,
                                     NGX_BOOKING_RESOURCE_DELETE_NKEYS,
                                     NGX_BOOKING_RESOURCE_DELETE_NARGS
                                     + ntypes,
                                     NGX_BOOKING_R_DONE,
                                     ngx_booking_resource_deleted);
    if (call == NULL
        || ngx_booking_resource_rules(req, call,
                                      NGX_BOOKING_RESOURCE_DELETE_A_RULES)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    call->args[NGX_BOOKING_RESOURCE_DELETE_A_EVENTS] = req->conf->events;

    return ngx_booking_op_send(req, call);
}


static void
ngx_booking_resource_deleted(ngx_booking_call_t *call)
{
    ngx_booking_req_t *req = call->data;

    ngx_int_t  rc;
    ngx_str_t  was;

    rc = ngx_booking_op_check(req, call);

    if (rc != NGX_DECLINED) {
        ngx_booking_op_done(req, rc);
        return;
    }

    req->change.changed = 1;
    req->change.id = req->id;
    req->answer.status = NGX_HTTP_NO_CONTENT;

    /* gone: then out of its type's listings, a step of its own (copied) */
    was.data = (u_char *) call->result.doc.was.data;
    was.len = call->result.doc.was.len;

    ngx_booking_op_done(req, ngx_booking_unindex_type(req, &was, &req->id,
                                              ngx_booking_resource_unlisted));
}


/*
 * Availability is read as stored (ngx_booking_peek.c): Redis's clock, the
 * resource, and the counter chunks of the range for each slot length the
 * types of nginx.conf have (the resource's own is known only once it is
 * read), in one batch.  The script answers what the plain reads cannot:
 * a hold due, a slot of no type, a range too long, a missing bound.
 */
ngx_int_t
ngx_booking_availability(ngx_booking_req_t *req)
{
    size_t                   total;
    ngx_uint_t               i, g;
    ngx_booking_call_t      *call[3];
    ngx_booking_type_t      *t;
    ngx_booking_query_t     *q;
    ngx_booking_avread_t    *st;
    ngx_booking_avgroup_t   *gr;

    q = &req->query;

    if ((q->set & NGX_BOOKING_Q_FROM) && (q->set & NGX_BOOKING_Q_TO)
        && q->to - q->from > req->conf->max_range)
    {
        return ngx_booking_op_fail(req, NGX_BOOKING_UNPROCESSABLE, "invalid",
                                   "the range is longer than "
                                   "booking_max_range", "to");
    }

    st = ngx_pcalloc(req->pool, sizeof(ngx_booking_avread_t));
    if (st == NULL) {
        return NGX_ERROR;
    }

    st->req = req;
    st->now = -1;
    total = 0;

    /* the answer reads the opening hours the peek brought */
    req->state = st;

    if ((q->set & NGX_BOOKING_Q_FROM) && (q->set & NGX_BOOKING_Q_TO)
        && q->from >= 0 && q->to > q->from)
    {
        t = req->conf->types.elts;

        for (i = 0; i < req->conf->types.nelts; i++) {
            if (t[i].slot == 0) {
                continue;
            }

            for (g = 0; g < st->ngroups; g++) {
                if (st->group[g].slot == t[i].slot) {
                    break;
                }
            }

            if (g < st->ngroups || st->ngroups == NGX_BOOKING_AVGROUPS) {
                continue;
            }

            gr = &st->group[st->ngroups];
            gr->slot = t[i].slot;
            gr->s0 = q->from / t[i].slot;
            gr->n = (size_t) ((q->to + t[i].slot - 1) / t[i].slot - gr->s0);

            /* longer ranges are rare: the script reads them */
            if (gr->n > NGX_BOOKING_LIST_SLOTS_MAX) {
                continue;
            }

            ngx_booking_chunks(gr->s0, gr->n, &gr->first, &gr->count);
            gr->at = total;
            total += gr->count;
            st->ngroups++;
        }
    }

    call[0] = ngx_booking_peek_time(req, ngx_booking_availability_peeked);
    call[1] = ngx_booking_peek_resource(req, &req->id, 0,
                                        ngx_booking_availability_peeked);
    call[2] = NULL;

    if (call[0] == NULL || call[1] == NULL) {
        return NGX_ERROR;
    }

    st->time = call[0];
    st->res = call[1];

    if (total) {
        st->chunks = ngx_pcalloc(req->pool,
                                 total * sizeof(ngx_booking_span_t));
        call[2] = ngx_booking_peek_chunks(req, &req->id, total,
                                          ngx_booking_availability_peeked);
        if (st->chunks == NULL || call[2] == NULL) {
            return NGX_ERROR;
        }

        for (g = 0; g < st->ngroups; g++) {
            gr = &st->group[g];

            if (ngx_booking_peek_chunk(req, call[2], gr->at, gr->first,
                                       gr->count)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        st->nchunks = total;
        st->counters = call[2];
    }

    for (i = 0; i < 3 && call[i] != NULL; i++) {
        call[i]->data = st;

        if (ngx_booking_store_call(call[i]) != NGX_OK) {
            st->unavailable = 1;
            break;
        }

        st->pending++;
    }

    return ngx_booking_op_sent(req, st->pending);
}


static void
ngx_booking_availability_peeked(ngx_booking_call_t *call)
{
    ngx_booking_avread_t *st = call->data;

    size_t                 i;
    ngx_int_t              rc;
    ngx_booking_req_t     *req;
    ngx_booking_span_t    *v;
    ngx_booking_fields_t  *f;

    req = st->req;
    f = &call->result.fields;
    rc = NGX_OK;

    if (call->rc != NGX_BOOKING_STORE_OK) {
        if (st->failed == NULL) {
            st->failed = call;
        }

    } else if (call == st->time) {
        st->now = ngx_booking_peek_now(f);

    } else if (call == st->res) {
        rc = ngx_booking_peek_parse(req, f, &st->peek);

    } else if (f->n == st->nchunks) {
        for (i = 0; i < f->n; i++) {
            v = &f->v[i];

            if (v->data == NULL) {
                continue;
            }

            st->chunks[i].data = ngx_pnalloc(req->pool, v->len);
            if (st->chunks[i].data == NULL) {
                rc = NGX_ERROR;
                break;
            }

            ngx_memcpy((u_char *) st->chunks[i].data, v->data, v->len);
            st->chunks[i].len = v->len;
        }

    } else {
        rc = NGX_ERROR;
    }

    if (rc != NGX_OK) {
        st->error = 1;
    }

    if (--st->pending > 0) {
        return;
    }

    ngx_booking_op_done(req, ngx_booking_availability_decide(req, st));
}


static ngx_int_t
ngx_booking_availability_decide(ngx_booking_req_t *req,
    ngx_booking_avread_t *st)
{
    u_char                 *counters;
    ngx_uint_t              g;
    ngx_booking_peek_t     *p;
    ngx_booking_avail_t     av;
    ngx_booking_avgroup_t  *gr;

    if (st->failed != NULL) {
        return ngx_booking_op_failed(req, st->failed);
    }

    if (st->unavailable) {
        return ngx_booking_op_unavailable(req);
    }

    if (st->error) {
        return ngx_booking_op_unexpected(req);
    }

    p = &st->peek;

    if (!p->found) {
        return ngx_booking_op_fail(req, NGX_HTTP_NOT_FOUND, "not_found",
                                   "no such resource", NULL);
    }

    if (!ngx_booking_peek_fresh(p, st->now)) {
        return ngx_booking_availability_script(req);
    }

    ngx_memzero(&av, sizeof(ngx_booking_avail_t));
    av.type.data = p->type.data;
    av.type.len = p->type.len;
    av.slot = p->slot;
    av.capacity = p->capacity;
    av.used = p->used;

    if (p->slot == 0) {
        return ngx_booking_availability_answer(req, &av, NULL);
    }

    for (g = 0; g < st->ngroups; g++) {
        if (st->group[g].slot == p->slot) {
            break;
        }
    }

    if (g == st->ngroups) {
        return ngx_booking_availability_script(req);
    }

    gr = &st->group[g];

    counters = ngx_pnalloc(req->pool, gr->n * 4);
    if (counters == NULL) {
        return NGX_ERROR;
    }

    ngx_booking_counters_from(counters, gr->s0, gr->n, st->chunks + gr->at,
                              gr->count, gr->first);

    av.start = gr->s0 * gr->slot;
    av.n = gr->n;

    return ngx_booking_availability_answer(req, &av, counters);
}


static ngx_int_t
ngx_booking_availability_script(ngx_booking_req_t *req)
{
    ngx_booking_call_t   *call;
    ngx_booking_query_t  *q;

    q = &req->query;

    call = ngx_booking_resource_call(req, NGX_BOOKING_SCRIPT_AVAILABILITY,
                                     NGX_BOOKING_AVAILABILITY_NKEYS,
                                     NGX_BOOKING_AVAILABILITY_NARGS,
                                     NGX_BOOKING_R_AVAIL,
                                     ngx_booking_availability_read);
    if (call == NULL
        || ((q->set & NGX_BOOKING_Q_FROM)
            && ngx_booking_num(req,
                               &call->args[NGX_BOOKING_AVAILABILITY_A_FROM],
                               q->from)
               != NGX_OK)
        || ((q->set & NGX_BOOKING_Q_TO)
            && ngx_booking_num(req,
                               &call->args[NGX_BOOKING_AVAILABILITY_A_TO],
                               q->to)
               != NGX_OK)
        || ngx_booking_num(req,
                           &call->args[NGX_BOOKING_AVAILABILITY_A_MAX_SLOTS],
                           NGX_BOOKING_READ_SLOTS_MAX)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    call->args[NGX_BOOKING_AVAILABILITY_A_EVENTS] = req->conf->events;

    return ngx_booking_op_send(req, call);
}


static void
ngx_booking_availability_read(ngx_booking_call_t *call)
{
    ngx_booking_req_t *req = call->data;

    u_char               *counters;
    ngx_int_t             rc;
    ngx_booking_avail_t  *av;

    rc = ngx_booking_op_check(req, call);

    if (rc != NGX_DECLINED) {
        ngx_booking_op_done(req, rc);
        return;
    }

    av = &call->result.avail;
    counters = NULL;

    if (av->slot != 0) {
        counters = ngx_pnalloc(req->pool, av->n * 4);
        if (counters == NULL) {
            ngx_booking_op_done(req, NGX_ERROR);
            return;
        }

        ngx_booking_reply_counters(&call->result, counters);
    }

    ngx_booking_op_done(req, ngx_booking_availability_answer(req, av,
                                                             counters));
}


static ngx_int_t
ngx_booking_availability_answer(ngx_booking_req_t *req,
    ngx_booking_avail_t *av, u_char *counters)
{
    ngx_str_t             *text;
    ngx_booking_type_t    *t;
    ngx_booking_closed_t   closed;

    /* the slot as nginx.conf writes it, while the type still has that slot */
    t = ngx_booking_find_type(req->conf, (u_char *) av->type.data,
                              av->type.len);
    text = (t != NULL && t->slot == av->slot) ? &t->slot_text : NULL;

    if (ngx_booking_availability_closed(req, t, av, &closed) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_booking_view_availability(&req->answer, req->pool, &req->id,
                                         text, av, counters, &closed);
}


/*
 * The closed time of the range read, from the opening hours the resource
 * was read with (the peek, which comes first on both paths), on its
 * type's clock.
 */
static ngx_int_t
ngx_booking_availability_closed(ngx_booking_req_t *req,
    ngx_booking_type_t *t, ngx_booking_avail_t *av,
    ngx_booking_closed_t *closed)
{
    int64_t                from, to;
    size_t                 max;
    ngx_booking_tz_t       utc;
    ngx_booking_hours_t   *h;
    ngx_booking_avread_t  *st;

    ngx_memzero(closed, sizeof(ngx_booking_closed_t));

    st = req->state;

    if (st == NULL || st->peek.hours.len == 0 || av->slot == 0) {
        return NGX_OK;
    }

    h = ngx_palloc(req->pool, sizeof(ngx_booking_hours_t));
    if (h == NULL) {
        return NGX_ERROR;
    }

    if (ngx_booking_hours_unpack(st->peek.hours.data, st->peek.hours.len, h)
        != NGX_BOOKING_OK)
    {
        ngx_log_error(NGX_LOG_ERR, req->log, 0,
                      "booking: resource \"%V\" has opening hours it "
                      "cannot read", &req->id);
        return NGX_OK;
    }

    /* a UTC zone: no change, no table */
    ngx_memzero(&utc, sizeof(ngx_booking_tz_t));

    from = av->start;
    to = av->start + (int64_t) av->n * av->slot;

    /* at most 9 closed runs a day (8 intervals) */
    max = (size_t) ((to - from) / 86400 + 2) * (NGX_BOOKING_HOURS_DAY_MAX + 1);

    closed->start = ngx_palloc(req->pool, 2 * max * sizeof(int64_t));
    if (closed->start == NULL) {
        return NGX_ERROR;
    }

    closed->end = closed->start + max;

    if (ngx_booking_hours_closed(h, (t != NULL && t->tz != NULL) ? t->tz
                                                                 : &utc,
                                 from, to, closed->start, closed->end, max,
                                 &closed->n)
        != NGX_BOOKING_OK)
    {
        closed->n = 0;
    }

    return NGX_OK;
}


ngx_int_t
ngx_booking_calendar(ngx_booking_req_t *req)
{
    ngx_booking_call_t  *call;

    call = ngx_booking_resource_call(req, NGX_BOOKING_SCRIPT_CALENDAR,
                                     NGX_BOOKING_CALENDAR_NKEYS,
                                     NGX_BOOKING_CALENDAR_NARGS,
                                     NGX_BOOKING_R_CALENDAR,
                                     ngx_booking_calendar_read);
    if (call == NULL
        || ngx_booking_num(req,
                           &call->args[NGX_BOOKING_CALENDAR_A_MAX_EVENTS],
                           NGX_BOOKING_EVENTS_MAX)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    call->args[NGX_BOOKING_CALENDAR_A_EVENTS] = req->conf->events;

    return ngx_booking_op_send(req, call);
}


static void
ngx_booking_calendar_read(ngx_booking_call_t *call)
{
    ngx_booking_req_t *req = call->data;

    ngx_int_t  rc;

    rc = ngx_booking_op_check(req, call);

    if (rc == NGX_DECLINED) {
        rc = ngx_booking_view_calendar(&req->answer, req->pool, &req->id,
                                       &call->result.calendar);
    }

    ngx_booking_op_done(req, rc);
}

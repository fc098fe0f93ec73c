/*
 * The replies the module reads from Redis, the scripts' and a few plain
 * commands': each shape checked, then decoded into a typed result, so that
 * nothing above the store reads a redisReply.  Plain C and hiredis's
 * types, so that the fuzzer feeds it any RESP at all.
 */

#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "ngx_booking_reply.h"
#include "ngx_booking_contract.h"


static void *ngx_booking_reply_object(const redisReadTask *task, int type,
    size_t extra);
static void *ngx_booking_create_string(const redisReadTask *task, char *str,
    size_t len);
static void *ngx_booking_create_array(const redisReadTask *task,
    int elements);
static void *ngx_booking_create_integer(const redisReadTask *task,
    long long value);
static void *ngx_booking_create_nil(const redisReadTask *task);
static int ngx_booking_is_str(const redisReply *e);
static int ngx_booking_is_int(const redisReply *e);
static int ngx_booking_is_time(const redisReply *e);
static int ngx_booking_is_ok(const redisReply *r, size_t min);
static int ngx_booking_is_doc(const redisReply *e);
static size_t ngx_booking_chunk_share(int64_t s, int64_t s1);
static int ngx_booking_int(const redisReply *e, int64_t *v);
static ngx_booking_span_t ngx_booking_span(const redisReply *e);
static int ngx_booking_refused(const redisReply *r,
    ngx_booking_result_t *res);
static int ngx_booking_tuple(const redisReply *r, ngx_booking_rec_t *rec);
static int ngx_booking_conflict(const redisReply *r,
    ngx_booking_result_t *res);
static int ngx_booking_avail(const redisReply *r, ngx_booking_result_t *res);
static int ngx_booking_put(const redisReply *r, ngx_booking_result_t *res);
static int ngx_booking_get(const redisReply *r, ngx_booking_result_t *res);
static int ngx_booking_fields(const redisReply *r, ngx_booking_fields_t *f,
    ngx_booking_alloc_pt alloc, void *ctx);
static int ngx_booking_group(const redisReply *r, ngx_booking_group_t *g,
    ngx_booking_alloc_pt alloc, void *ctx);
static int ngx_booking_group_ids(const redisReply *r, ngx_booking_ids_t *ids,
    ngx_booking_alloc_pt alloc, void *ctx);
static int ngx_booking_free(const redisReply *r, ngx_booking_result_t *res);
static int ngx_booking_calendar(const redisReply *r,
    ngx_booking_result_t *res, ngx_booking_alloc_pt alloc, void *ctx);
static int ngx_booking_recs(const redisReply *r, size_t first,
    ngx_booking_page_t *page, ngx_booking_alloc_pt alloc, void *ctx);
static int ngx_booking_ids(int expect, const redisReply *r,
    ngx_booking_ids_t *ids, ngx_booking_alloc_pt alloc, void *ctx);


static redisReplyObjectFunctions  ngx_booking_reply_functions = {
    ngx_booking_create_string,
    ngx_booking_create_array,
    ngx_booking_create_integer,
    ngx_booking_create_nil,
    ngx_booking_reply_free
};


struct redisReader *
ngx_booking_reader_create(void)
{
    return redisReaderCreateWithFunctions(&ngx_booking_reply_functions);
}


/*
 * Each object is one allocation, its string or its array of elements
 * after it: malloc and free took 15% of a listing page's worker time,
 * most of it two of each for every object of its 21 replies.  Each object
 * is put in its parent array once it is whole; ngx_booking_reply_free(),
 * not freeReplyObject(), frees them.
 */
static void *
ngx_booking_reply_object(const redisReadTask *task, int type, size_t extra)
{
    redisReply  *r, *parent;

    r = malloc(sizeof(redisReply) + extra);
    if (r == NULL) {
        return NULL;
    }

    memset(r, 0, sizeof(redisReply));
    r->type = type;

    if (task->parent != NULL) {
        parent = task->parent->obj;
        parent->element[task->idx] = r;
    }

    return r;
}


void
ngx_booking_reply_free(void *reply)
{
    size_t       i;
    redisReply  *r;

    r = reply;

    if (r == NULL) {
        return;
    }

    if (r->type == REDIS_REPLY_ARRAY) {
        for (i = 0; i < r->elements; i++) {
            ngx_booking_reply_free(r->element[i]);
        }
    }

    free(r);
}


static void *
ngx_booking_create_string(const redisReadTask *task, char *str, size_t len)
{
    redisReply  *r;

    r = ngx_booking_reply_object(task, task->type, len + 1);
    if (r == NULL) {
        return NULL;
    }

    r->str = (char *) (r + 1);
    r->len = len;
    memcpy(r->str, str, len);
    r->str[len] = '\0';

    return r;
}


static void *
ngx_booking_create_array(const redisReadTask *task, int elements)
{
    redisReply  *r;

    if (elements < 0 || elements > NGX_BOOKING_REPLY_ELEMENTS_MAX) {
        /* the reader reports it as an error; the connection is closed */
        return NULL;
    }

    r = ngx_booking_reply_object(task, REDIS_REPLY_ARRAY,
                                 (size_t) elements * sizeof(redisReply *));
    if (r == NULL) {
        return NULL;
    }

    /* an element not yet read is NULL, should the reply be freed early */
    if (elements > 0) {
        r->element = (redisReply **) (r + 1);
        memset(r->element, 0, elements * sizeof(redisReply *));
    }

    r->elements = elements;

    return r;
}


static void *
ngx_booking_create_integer(const redisReadTask *task, long long value)
{
    redisReply  *r;

    r = ngx_booking_reply_object(task, REDIS_REPLY_INTEGER, 0);
    if (r != NULL) {
        r->integer = value;
    }

    return r;
}


static void *
ngx_booking_create_nil(const redisReadTask *task)
{
    return ngx_booking_reply_object(task, REDIS_REPLY_NIL, 0);
}


static int
ngx_booking_is_str(const redisReply *e)
{
    return e != NULL && e->type == REDIS_REPLY_STRING;
}


static int
ngx_booking_is_int(const redisReply *e)
{
    return e != NULL && e->type == REDIS_REPLY_INTEGER;
}


/* an integer, or a decimal string of one; NGX_BOOKING_ERROR for "" */
static int
ngx_booking_int(const redisReply *e, int64_t *v)
{
    size_t   i;
    int64_t  n;

    if (ngx_booking_is_int(e)) {
        *v = e->integer;
        return NGX_BOOKING_OK;
    }

    if (!ngx_booking_is_str(e) || e->len == 0 || e->len > 18) {
        return NGX_BOOKING_ERROR;
    }

    n = 0;

    for (i = 0; i < e->len; i++) {
        if (e->str[i] < '0' || e->str[i] > '9') {
            return NGX_BOOKING_ERROR;
        }

        n = n * 10 + (e->str[i] - '0');
    }

    *v = n;

    return NGX_BOOKING_OK;
}


/* an instant: a decimal string or an integer within RFC 3339's years */
static int
ngx_booking_is_time(const redisReply *e)
{
    int64_t  v;

    return ngx_booking_int(e, &v) == NGX_BOOKING_OK
           && v >= 0 && v <= NGX_BOOKING_TIME_MAX;
}


/* a resource's stored document: a JSON object the module wrote */
static int
ngx_booking_is_doc(const redisReply *e)
{
    return ngx_booking_is_str(e) && e->len >= 2 && e->str[0] == '{'
           && e->str[e->len - 1] == '}';
}


/* {'ok', ...} with at least min elements */
static int
ngx_booking_is_ok(const redisReply *r, size_t min)
{
    return r->type == REDIS_REPLY_ARRAY && r->elements >= min
           && ngx_booking_is_str(r->element[0]) && r->element[0]->len == 2
           && memcmp(r->element[0]->str, "ok", 2) == 0;
}


static ngx_booking_span_t
ngx_booking_span(const redisReply *e)
{
    ngx_booking_span_t  s;

    s.data = (const u_char *) e->str;
    s.len = e->len;

    return s;
}


/* HMGET, TIME: strings, or nils for fields not there */
static int
ngx_booking_fields(const redisReply *r, ngx_booking_fields_t *f,
    ngx_booking_alloc_pt alloc, void *ctx)
{
    size_t  i;

    if (r->type != REDIS_REPLY_ARRAY) {
        return NGX_BOOKING_ERROR;
    }

    f->n = r->elements;
    f->v = alloc(ctx, (r->elements + 1) * sizeof(ngx_booking_span_t));
    if (f->v == NULL) {
        return NGX_BOOKING_ERROR;
    }

    for (i = 0; i < r->elements; i++) {
        if (r->element[i]->type == REDIS_REPLY_NIL) {
            f->v[i].data = NULL;
            f->v[i].len = 0;
            continue;
        }

        if (!ngx_booking_is_str(r->element[i])) {
            return NGX_BOOKING_ERROR;
        }

        f->v[i] = ngx_booking_span(r->element[i]);
    }

    return NGX_BOOKING_OK;
}


int
ngx_booking_decode(int expect, const struct redisReply *r,
    ngx_booking_result_t *res, ngx_booking_alloc_pt alloc, void *ctx)
{
    int  rc;

    memset(res, 0, sizeof(ngx_booking_result_t));
    res->raw = r;

    /* a plain command's strings are data, never a script's refusal */
    rc = (expect == NGX_BOOKING_R_FIELDS) ? NGX_BOOKING_DECLINED
                                          : ngx_booking_refused(r, res);
    if (rc != NGX_BOOKING_DECLINED) {
        return rc;
    }

    res->kind = expect;

    switch (expect) {

    case NGX_BOOKING_R_BOOKING:
        if (ngx_booking_tuple(r, &res->booking) == NGX_BOOKING_OK) {
            return NGX_BOOKING_OK;
        }

        res->kind = NGX_BOOKING_R_CONFLICT;
        return ngx_booking_conflict(r, res);

    case NGX_BOOKING_R_AVAIL:
        return ngx_booking_avail(r, res);

    case NGX_BOOKING_R_PUT:
        return ngx_booking_put(r, res);

    case NGX_BOOKING_R_GET:
        return ngx_booking_get(r, res);

    case NGX_BOOKING_R_DONE:
        if (!ngx_booking_is_ok(r, 1) || r->elements > 2
            || (r->elements == 2 && !ngx_booking_is_str(r->element[1])))
        {
            return NGX_BOOKING_ERROR;
        }

        if (r->elements == 2) {
            res->doc.was = ngx_booking_span(r->element[1]);
        }

        return NGX_BOOKING_OK;

    case NGX_BOOKING_R_FREE:
        return ngx_booking_free(r, res);

    case NGX_BOOKING_R_CALENDAR:
        return ngx_booking_calendar(r, res, alloc, ctx);

    case NGX_BOOKING_R_PAGE:
        if (!ngx_booking_is_ok(r, 2) || !ngx_booking_is_str(r->element[1])) {
            return NGX_BOOKING_ERROR;
        }

        res->page.next = ngx_booking_span(r->element[1]);
        return ngx_booking_recs(r, 2, &res->page, alloc, ctx);

    case NGX_BOOKING_R_RECS:
        if (!ngx_booking_is_ok(r, 1)) {
            return NGX_BOOKING_ERROR;
        }

        return ngx_booking_recs(r, 1, &res->page, alloc, ctx);

    case NGX_BOOKING_R_IDS:
    case NGX_BOOKING_R_NEAR:
    case NGX_BOOKING_R_SCORED:
        return ngx_booking_ids(expect, r, &res->ids, alloc, ctx);

    case NGX_BOOKING_R_STATUS:
        return NGX_BOOKING_OK;

    case NGX_BOOKING_R_FIELDS:
        return ngx_booking_fields(r, &res->fields, alloc, ctx);

    case NGX_BOOKING_R_GROUP:
        if (r->type == REDIS_REPLY_ARRAY && r->elements > 1
            && ngx_booking_is_str(r->element[0]) && r->element[0]->len == 4
            && memcmp(r->element[0]->str, "keys", 4) == 0)
        {
            res->kind = NGX_BOOKING_R_IDS;
            return ngx_booking_group_ids(r, &res->ids, alloc, ctx);
        }

        /* {'spread', state, hold, members}: a group across hash slots */
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 4
            && ngx_booking_is_str(r->element[0]) && r->element[0]->len == 6
            && memcmp(r->element[0]->str, "spread", 6) == 0)
        {
            res->kind = NGX_BOOKING_R_FIELDS;
            return ngx_booking_fields(r, &res->fields, alloc, ctx);
        }

        return ngx_booking_group(r, &res->group, alloc, ctx);

    default:
        return NGX_BOOKING_ERROR;
    }
}


/*
 * {"err", status, code, message[, field]}: NGX_BOOKING_DECLINED when the
 * reply is not one.
 */
static int
ngx_booking_refused(const redisReply *r, ngx_booking_result_t *res)
{
    redisReply  **e;

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 4) {
        return NGX_BOOKING_DECLINED;
    }

    e = r->element;

    if (!ngx_booking_is_str(e[0]) || e[0]->len != 3
        || memcmp(e[0]->str, "err", 3) != 0)
    {
        return NGX_BOOKING_DECLINED;
    }

    if (r->elements > 5 || !ngx_booking_is_int(e[1]) || e[1]->integer < 400
        || e[1]->integer > 599 || !ngx_booking_is_str(e[2])
        || !ngx_booking_is_str(e[3])
        || (r->elements > 4 && !ngx_booking_is_str(e[4])))
    {
        return NGX_BOOKING_ERROR;
    }

    res->kind = NGX_BOOKING_R_REFUSED;
    res->refusal.status = (int) e[1]->integer;
    res->refusal.code = ngx_booking_span(e[2]);
    res->refusal.message = ngx_booking_span(e[3]);

    if (r->elements > 4) {
        res->refusal.field = ngx_booking_span(e[4]);
    }

    return NGX_BOOKING_OK;
}


/* the contract's tuple; times and the user "" where they do not apply */
static int
ngx_booking_tuple(const redisReply *r, ngx_booking_rec_t *rec)
{
    size_t          i;
    int64_t        *t;
    redisReply    **e;
    const u_char   *dot;
    static size_t   times[] = { NGX_BOOKING_T_START, NGX_BOOKING_T_END,
                                NGX_BOOKING_T_CREATED_AT,
                                NGX_BOOKING_T_EXPIRES_AT,
                                NGX_BOOKING_T_UPDATED_AT };

    /*
     * position and booking came with the waitlist, group with series: an
     * Idempotency-Key's answer stored before them (kept a day) lacks them
     */
    if (!ngx_booking_is_ok(r, NGX_BOOKING_T_POSITION)
        || (r->elements != NGX_BOOKING_T_N
            && r->elements != NGX_BOOKING_T_GROUP
            && r->elements != NGX_BOOKING_T_POSITION))
    {
        return NGX_BOOKING_ERROR;
    }

    e = r->element;

    if (!ngx_booking_is_int(e[NGX_BOOKING_T_HTTP])
        || e[NGX_BOOKING_T_HTTP]->integer < 200
        || e[NGX_BOOKING_T_HTTP]->integer > 299
        || !ngx_booking_is_int(e[NGX_BOOKING_T_REPLAYED])
        || !ngx_booking_is_str(e[NGX_BOOKING_T_ID])
        || !ngx_booking_is_str(e[NGX_BOOKING_T_TYPE])
        || !ngx_booking_is_str(e[NGX_BOOKING_T_STATUS])
        || !ngx_booking_is_str(e[NGX_BOOKING_T_KIND])
        || !ngx_booking_is_str(e[NGX_BOOKING_T_USER])
        || !ngx_booking_is_str(e[NGX_BOOKING_T_NOTE])
        || ngx_booking_int(e[NGX_BOOKING_T_QUANTITY], &rec->quantity)
           != NGX_BOOKING_OK
        || ngx_booking_int(e[NGX_BOOKING_T_SLOT], &rec->slot)
           != NGX_BOOKING_OK)
    {
        return NGX_BOOKING_ERROR;
    }

    rec->id = ngx_booking_span(e[NGX_BOOKING_T_ID]);

    for (dot = NULL, i = rec->id.len; i > 0; i--) {
        if (rec->id.data[i - 1] == '.') {
            dot = &rec->id.data[i - 1];
            break;
        }
    }

    if (dot == NULL) {
        return NGX_BOOKING_ERROR;
    }

    rec->resource.data = rec->id.data;
    rec->resource.len = dot - rec->id.data;

    /* start, end, created_at, expires_at, updated_at: "" or an instant */
    for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        t = (i == 0) ? &rec->start : (i == 1) ? &rec->end
            : (i == 2) ? &rec->created_at : (i == 3) ? &rec->expires_at
            : &rec->updated_at;
        *t = -1;

        if (ngx_booking_is_str(e[times[i]]) && e[times[i]]->len == 0) {
            continue;
        }

        if (!ngx_booking_is_time(e[times[i]])) {
            return NGX_BOOKING_ERROR;
        }

        (void) ngx_booking_int(e[times[i]], t);
    }

    rec->http = (int) e[NGX_BOOKING_T_HTTP]->integer;
    rec->replayed = e[NGX_BOOKING_T_REPLAYED]->integer != 0;
    rec->type = ngx_booking_span(e[NGX_BOOKING_T_TYPE]);
    rec->status = ngx_booking_span(e[NGX_BOOKING_T_STATUS]);
    rec->kind = ngx_booking_span(e[NGX_BOOKING_T_KIND]);
    rec->user = ngx_booking_span(e[NGX_BOOKING_T_USER]);
    rec->note = ngx_booking_span(e[NGX_BOOKING_T_NOTE]);
    rec->position = -1;

    if (r->elements == NGX_BOOKING_T_POSITION) {
        return NGX_BOOKING_OK;
    }

    if (!ngx_booking_is_str(e[NGX_BOOKING_T_BOOKING])) {
        return NGX_BOOKING_ERROR;
    }

    rec->booking = ngx_booking_span(e[NGX_BOOKING_T_BOOKING]);

    if (r->elements == NGX_BOOKING_T_N) {
        if (!ngx_booking_is_str(e[NGX_BOOKING_T_GROUP])) {
            return NGX_BOOKING_ERROR;
        }

        rec->group = ngx_booking_span(e[NGX_BOOKING_T_GROUP]);
    }

    /* a waitlist entry's place in line: "" for a booking */
    if (ngx_booking_is_str(e[NGX_BOOKING_T_POSITION])
        && e[NGX_BOOKING_T_POSITION]->len == 0)
    {
        return NGX_BOOKING_OK;
    }

    return ngx_booking_int(e[NGX_BOOKING_T_POSITION], &rec->position);
}


/*
 * {'unavailable', capacity, 0, free} for timeless stock;
 * {'unavailable', capacity, slot, start, quantity, counters} otherwise:
 * the units in use of the range asked (buffer included), 4 bytes a slot
 * from start, for the worker to find where too few are free.
 */
static int
ngx_booking_conflict(const redisReply *r, ngx_booking_result_t *res)
{
    redisReply              **e;
    ngx_booking_conflict_t   *c;

    c = &res->conflict;

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 4) {
        return NGX_BOOKING_ERROR;
    }

    e = r->element;

    if (!ngx_booking_is_str(e[0]) || e[0]->len != 11
        || memcmp(e[0]->str, "unavailable", 11) != 0
        || ngx_booking_int(e[1], &c->capacity) != NGX_BOOKING_OK
        || ngx_booking_int(e[2], &c->slot) != NGX_BOOKING_OK
        || c->capacity < 1 || c->capacity > NGX_BOOKING_CAPACITY_MAX)
    {
        return NGX_BOOKING_ERROR;
    }

    if (c->slot == 0) {
        return (r->elements == 4
                && ngx_booking_int(e[3], &c->free) == NGX_BOOKING_OK)
               ? NGX_BOOKING_OK : NGX_BOOKING_ERROR;
    }

    if (r->elements != 6 || c->slot > NGX_BOOKING_TIME_MAX
        || !ngx_booking_is_time(e[3])
        || ngx_booking_int(e[4], &c->quantity) != NGX_BOOKING_OK
        || c->quantity < 1
        || !ngx_booking_is_str(e[5])
        || e[5]->len == 0 || e[5]->len % 4 != 0
        || e[5]->len / 4 > NGX_BOOKING_BOOK_SLOTS_MAX)
    {
        return NGX_BOOKING_ERROR;
    }

    (void) ngx_booking_int(e[3], &c->start);
    c->counters = ngx_booking_span(e[5]);

    return NGX_BOOKING_OK;
}


/* {'ok', created, doc, created_at, updated_at} */
static int
ngx_booking_put(const redisReply *r, ngx_booking_result_t *res)
{
    if (!ngx_booking_is_ok(r, 6) || r->elements != 6
        || !ngx_booking_is_int(r->element[1])
        || !ngx_booking_is_doc(r->element[2])
        || !ngx_booking_is_time(r->element[3])
        || !ngx_booking_is_time(r->element[4])
        || !ngx_booking_is_str(r->element[5]))
    {
        return NGX_BOOKING_ERROR;
    }

    res->doc.found = 1;
    res->doc.created = r->element[1]->integer != 0;
    res->doc.doc = ngx_booking_span(r->element[2]);
    (void) ngx_booking_int(r->element[3], &res->doc.created_at);
    (void) ngx_booking_int(r->element[4], &res->doc.updated_at);
    res->doc.was = ngx_booking_span(r->element[5]);

    return NGX_BOOKING_OK;
}


/* HMGET doc created_at updated_at: all nil for no resource */
static int
ngx_booking_get(const redisReply *r, ngx_booking_result_t *res)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
        return NGX_BOOKING_ERROR;
    }

    if (r->element[0]->type == REDIS_REPLY_NIL) {
        return NGX_BOOKING_OK;
    }

    if (!ngx_booking_is_doc(r->element[0])
        || !ngx_booking_is_time(r->element[1])
        || !ngx_booking_is_time(r->element[2]))
    {
        return NGX_BOOKING_ERROR;
    }

    res->doc.found = 1;
    res->doc.doc = ngx_booking_span(r->element[0]);
    (void) ngx_booking_int(r->element[1], &res->doc.created_at);
    (void) ngx_booking_int(r->element[2], &res->doc.updated_at);

    return NGX_BOOKING_OK;
}


/* the slots of [s, s1) in the counter chunk of slot s (s >= 0) */
static size_t
ngx_booking_chunk_share(int64_t s, int64_t s1)
{
    int64_t  end;

    end = (s / NGX_BOOKING_CHUNK_SLOTS + 1) * NGX_BOOKING_CHUNK_SLOTS;

    return (size_t) ((s1 < end ? s1 : end) - s);
}


/*
 * {'ok', type, slot, capacity, start, n, part...} or, timeless,
 * {'ok', type, 0, capacity, used}: the n slots from start, one part for
 * each counter chunk they touch, each at most its share of the range.
 */
static int
ngx_booking_avail(const redisReply *r, ngx_booking_result_t *res)
{
    size_t                i, share;
    int64_t               slot, s0, s1, s;
    redisReply          **e;
    ngx_booking_avail_t  *a;

    a = &res->avail;

    if (!ngx_booking_is_ok(r, 5)) {
        return NGX_BOOKING_ERROR;
    }

    e = r->element;

    if (!ngx_booking_is_str(e[1]) || !ngx_booking_is_int(e[2])
        || e[2]->integer < 0 || !ngx_booking_is_int(e[3])
        || e[3]->integer < 0)
    {
        return NGX_BOOKING_ERROR;
    }

    a->type = ngx_booking_span(e[1]);
    a->slot = slot = e[2]->integer;
    a->capacity = e[3]->integer;

    if (slot == 0) {
        if (r->elements != 5 || !ngx_booking_is_int(e[4])) {
            return NGX_BOOKING_ERROR;
        }

        a->used = e[4]->integer;
        return NGX_BOOKING_OK;
    }

    if (r->elements < 7 || !ngx_booking_is_time(e[4])
        || slot > NGX_BOOKING_TIME_MAX
        || !ngx_booking_is_int(e[5]) || e[5]->integer < 1
        || e[5]->integer > NGX_BOOKING_READ_SLOTS_MAX)
    {
        return NGX_BOOKING_ERROR;
    }

    (void) ngx_booking_int(e[4], &a->start);

    if (a->start % slot != 0
        || e[5]->integer > (NGX_BOOKING_TIME_MAX + 1 - a->start) / slot)
    {
        return NGX_BOOKING_ERROR;
    }

    a->n = (size_t) e[5]->integer;

    s0 = a->start / slot;
    s1 = s0 + e[5]->integer;

    for (i = 6, s = s0; s < s1; i++) {
        share = ngx_booking_chunk_share(s, s1);

        if (i >= r->elements || !ngx_booking_is_str(e[i])
            || e[i]->len % 4 != 0 || e[i]->len > share * 4)
        {
            return NGX_BOOKING_ERROR;
        }

        s += share;
    }

    return (i == r->elements) ? NGX_BOOKING_OK : NGX_BOOKING_ERROR;
}


void
ngx_booking_reply_counters(const ngx_booking_result_t *res, u_char *dst)
{
    size_t                    i, share;
    int64_t                   s0, s1, s;
    redisReply              **e;
    const ngx_booking_avail_t *a;

    a = &res->avail;
    e = ((const redisReply *) res->raw)->element;
    s0 = a->start / a->slot;
    s1 = s0 + (int64_t) a->n;

    for (i = 6, s = s0; s < s1; i++) {
        share = ngx_booking_chunk_share(s, s1);

        memcpy(dst, e[i]->str, e[i]->len);
        memset(dst + e[i]->len, 0, share * 4 - e[i]->len);

        dst += share * 4;
        s += share;
    }
}


/*
 * resource_free: {doc, free}, {'', free} for a resource with too few free
 * units, or {} for a resource gone
 */
static int
ngx_booking_free(const redisReply *r, ngx_booking_result_t *res)
{
    if (r->type != REDIS_REPLY_ARRAY) {
        return NGX_BOOKING_ERROR;
    }

    if (r->elements == 0) {
        res->free.gone = 1;
        return NGX_BOOKING_OK;
    }

    if (r->elements != 2
        || !(ngx_booking_is_doc(r->element[0])
             || (ngx_booking_is_str(r->element[0])
                 && r->element[0]->len == 0))
        || !ngx_booking_is_int(r->element[1]))
    {
        return NGX_BOOKING_ERROR;
    }

    res->free.doc = ngx_booking_span(r->element[0]);
    res->free.free = r->element[1]->integer;

    return NGX_BOOKING_OK;
}


/* {'ok', slot, name, (rand, start, end, kind, updated_at)...} */
static int
ngx_booking_calendar(const redisReply *r, ngx_booking_result_t *res,
    ngx_booking_alloc_pt alloc, void *ctx)
{
    size_t                   i, k;
    redisReply             **e;
    ngx_booking_event_t     *ev;
    ngx_booking_calendar_t  *cal;

    cal = &res->calendar;

    if (!ngx_booking_is_ok(r, 3) || (r->elements - 3) % 5 != 0) {
        return NGX_BOOKING_ERROR;
    }

    e = r->element;

    if (!ngx_booking_is_int(e[1]) || e[1]->integer < 0
        || !ngx_booking_is_str(e[2]))
    {
        return NGX_BOOKING_ERROR;
    }

    cal->slot = e[1]->integer;
    cal->name = ngx_booking_span(e[2]);
    cal->n = (r->elements - 3) / 5;

    if (cal->n == 0) {
        return NGX_BOOKING_OK;
    }

    cal->events = alloc(ctx, cal->n * sizeof(ngx_booking_event_t));
    if (cal->events == NULL) {
        return NGX_BOOKING_ERROR;
    }

    for (i = 3, k = 0; i < r->elements; i += 5, k++) {
        if (!ngx_booking_is_str(e[i]) || !ngx_booking_is_time(e[i + 1])
            || !ngx_booking_is_time(e[i + 2])
            || !ngx_booking_is_str(e[i + 3])
            || !ngx_booking_is_time(e[i + 4]))
        {
            return NGX_BOOKING_ERROR;
        }

        ev = &cal->events[k];
        ev->rand = ngx_booking_span(e[i]);
        (void) ngx_booking_int(e[i + 1], &ev->start);
        (void) ngx_booking_int(e[i + 2], &ev->end);
        (void) ngx_booking_int(e[i + 4], &ev->updated_at);
        ev->block = (e[i + 3]->len == 5
                     && memcmp(e[i + 3]->str, "block", 5) == 0);
    }

    return NGX_BOOKING_OK;
}


/* tuples from element first on; "" (a booking gone) leaves no id */
static int
ngx_booking_recs(const redisReply *r, size_t first, ngx_booking_page_t *page,
    ngx_booking_alloc_pt alloc, void *ctx)
{
    size_t  i;

    page->n = r->elements - first;

    if (page->n == 0) {
        return NGX_BOOKING_OK;
    }

    page->recs = alloc(ctx, page->n * sizeof(ngx_booking_rec_t));
    if (page->recs == NULL) {
        return NGX_BOOKING_ERROR;
    }

    memset(page->recs, 0, page->n * sizeof(ngx_booking_rec_t));

    for (i = first; i < r->elements; i++) {
        if (ngx_booking_is_str(r->element[i]) && r->element[i]->len == 0) {
            continue;
        }

        if (ngx_booking_tuple(r->element[i], &page->recs[i - first])
            != NGX_BOOKING_OK)
        {
            return NGX_BOOKING_ERROR;
        }
    }

    return NGX_BOOKING_OK;
}


/*
 * {'group', http, rand, kind, replayed, code, message, field, listed,
 * slot, tuple...}: the bookings of a group, or why it was refused
 */
static int
ngx_booking_group(const redisReply *r, ngx_booking_group_t *g,
    ngx_booking_alloc_pt alloc, void *ctx)
{
    size_t        i;
    redisReply  **e;

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 10
        || !ngx_booking_is_str(r->element[0]) || r->element[0]->len != 5
        || memcmp(r->element[0]->str, "group", 5) != 0)
    {
        return NGX_BOOKING_ERROR;
    }

    e = r->element;

    if (!ngx_booking_is_int(e[1]) || e[1]->integer < 200
        || e[1]->integer > 499 || !ngx_booking_is_int(e[4])
        || ngx_booking_int(e[9], &g->slot) != NGX_BOOKING_OK)
    {
        return NGX_BOOKING_ERROR;
    }

    for (i = 2; i < 9; i++) {
        if (i != 4 && !ngx_booking_is_str(e[i])) {
            return NGX_BOOKING_ERROR;
        }
    }

    if (!ngx_booking_rand_valid((const u_char *) e[2]->str, e[2]->len)) {
        return NGX_BOOKING_ERROR;
    }

    g->http = (int) e[1]->integer;
    g->replayed = e[4]->integer != 0;
    g->rand = ngx_booking_span(e[2]);
    g->kind = ngx_booking_span(e[3]);
    g->code = ngx_booking_span(e[5]);
    g->message = ngx_booking_span(e[6]);
    g->field = ngx_booking_span(e[7]);
    g->listed = ngx_booking_span(e[8]);

    /*
     * a refusal has a code and no bookings; an answer bookings, no code;
     * listed is the script's JSON array, written into the answer as it is
     */
    if ((g->listed.len
         && (g->listed.len < 2 || g->listed.data[0] != '['
             || g->listed.data[g->listed.len - 1] != ']'))
        || (g->http >= 300) != (g->code.len != 0)
        || (g->http >= 300 && r->elements != 10))
    {
        return NGX_BOOKING_ERROR;
    }

    return ngx_booking_recs(r, 10, &g->items, alloc, ctx);
}


/* {'keys', id...}: the bookings of a group of items, to send its keys */
static int
ngx_booking_group_ids(const redisReply *r, ngx_booking_ids_t *ids,
    ngx_booking_alloc_pt alloc, void *ctx)
{
    size_t  i;

    ids->n = r->elements - 1;
    ids->ids = alloc(ctx, ids->n * sizeof(ngx_booking_span_t));
    ids->values = alloc(ctx, ids->n * sizeof(double));
    if (ids->ids == NULL || ids->values == NULL) {
        return NGX_BOOKING_ERROR;
    }

    for (i = 1; i < r->elements; i++) {
        if (!ngx_booking_is_str(r->element[i]) || r->element[i]->len == 0) {
            return NGX_BOOKING_ERROR;
        }

        ids->ids[i - 1] = ngx_booking_span(r->element[i]);
        ids->values[i - 1] = -1;
    }

    return NGX_BOOKING_OK;
}


/*
 * ZRANGEBYLEX: [id...]; GEOSEARCH ... WITHDIST: [[id, distance]...];
 * ZRANGEBYSCORE ... WITHSCORES: [id, score, ...]
 */
static int
ngx_booking_ids(int expect, const redisReply *r, ngx_booking_ids_t *ids,
    ngx_booking_alloc_pt alloc, void *ctx)
{
    char         *end;
    size_t        i, k, step;
    redisReply   *e, *id, *v;

    if (r->type != REDIS_REPLY_ARRAY) {
        return NGX_BOOKING_ERROR;
    }

    step = (expect == NGX_BOOKING_R_SCORED) ? 2 : 1;

    if (r->elements % step != 0) {
        return NGX_BOOKING_ERROR;
    }

    ids->n = r->elements / step;

    if (ids->n == 0) {
        return NGX_BOOKING_OK;
    }

    ids->ids = alloc(ctx, ids->n * sizeof(ngx_booking_span_t));
    ids->values = alloc(ctx, ids->n * sizeof(double));
    if (ids->ids == NULL || ids->values == NULL) {
        return NGX_BOOKING_ERROR;
    }

    for (i = 0, k = 0; i < r->elements; i += step, k++) {
        e = r->element[i];
        v = NULL;

        if (expect == NGX_BOOKING_R_NEAR) {
            if (e->type != REDIS_REPLY_ARRAY || e->elements != 2) {
                return NGX_BOOKING_ERROR;
            }

            id = e->element[0];
            v = e->element[1];

        } else {
            id = e;

            if (step == 2) {
                v = r->element[i + 1];
            }
        }

        if (!ngx_booking_is_str(id)
            || (v != NULL && (!ngx_booking_is_str(v) || v->len == 0
                              || v->len > 32)))
        {
            return NGX_BOOKING_ERROR;
        }

        ids->ids[k] = ngx_booking_span(id);
        ids->values[k] = -1;

        if (v != NULL) {
            /* Redis writes these: a NUL ends each string it sends */
            ids->values[k] = strtod(v->str, &end);

            if (end != v->str + v->len || !(ids->values[k] >= 0)
                || ids->values[k] > 1e15)
            {
                return NGX_BOOKING_ERROR;
            }
        }
    }

    return NGX_BOOKING_OK;
}

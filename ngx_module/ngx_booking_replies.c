/*
 * The shapes of the replies the module reads from Redis: the scripts' and
 * a few plain commands'.  Plain C and hiredis's types, so that the fuzzer
 * feeds them any RESP at all.
 */

#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "ngx_booking_core.h"


/* the booking tuple of booking_create, booking_act, booking_get, ... */
#define NGX_BOOKING_T_N  16


static void *ngx_booking_reply_object(const redisReadTask *task, int type);
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
static int ngx_booking_is_doc(const redisReply *e);
static size_t ngx_booking_chunk_share(int64_t s, int64_t s1);


static redisReplyObjectFunctions  ngx_booking_reply_functions = {
    ngx_booking_create_string,
    ngx_booking_create_array,
    ngx_booking_create_integer,
    ngx_booking_create_nil,
    freeReplyObject
};


struct redisReader *
ngx_booking_reader_create(void)
{
    return redisReaderCreateWithFunctions(&ngx_booking_reply_functions);
}


/*
 * The objects are laid out as hiredis's own, so that freeReplyObject()
 * frees them; each is put in its parent array once it is whole.
 */
static void *
ngx_booking_reply_object(const redisReadTask *task, int type)
{
    redisReply  *r, *parent;

    r = calloc(1, sizeof(redisReply));
    if (r == NULL) {
        return NULL;
    }

    r->type = type;

    if (task->parent != NULL) {
        parent = task->parent->obj;
        parent->element[task->idx] = r;
    }

    return r;
}


static void *
ngx_booking_create_string(const redisReadTask *task, char *str, size_t len)
{
    char        *p;
    redisReply  *r;

    p = malloc(len + 1);
    if (p == NULL) {
        return NULL;
    }

    memcpy(p, str, len);
    p[len] = '\0';

    r = ngx_booking_reply_object(task, task->type);
    if (r == NULL) {
        free(p);
        return NULL;
    }

    r->str = p;
    r->len = len;

    return r;
}


static void *
ngx_booking_create_array(const redisReadTask *task, int elements)
{
    redisReply  **element, *r;

    if (elements < 0 || elements > NGX_BOOKING_REPLY_ELEMENTS_MAX) {
        /* the reader reports it as an error; the connection is closed */
        return NULL;
    }

    element = NULL;

    if (elements > 0) {
        element = calloc(elements, sizeof(redisReply *));
        if (element == NULL) {
            return NULL;
        }
    }

    r = ngx_booking_reply_object(task, REDIS_REPLY_ARRAY);
    if (r == NULL) {
        free(element);
        return NULL;
    }

    r->element = element;
    r->elements = elements;

    return r;
}


static void *
ngx_booking_create_integer(const redisReadTask *task, long long value)
{
    redisReply  *r;

    r = ngx_booking_reply_object(task, REDIS_REPLY_INTEGER);
    if (r != NULL) {
        r->integer = value;
    }

    return r;
}


static void *
ngx_booking_create_nil(const redisReadTask *task)
{
    return ngx_booking_reply_object(task, REDIS_REPLY_NIL);
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


/* an instant: a decimal string or an integer within RFC 3339's years */
static int
ngx_booking_is_time(const redisReply *e)
{
    int64_t  v;

    return ngx_booking_reply_int(e, &v) == NGX_BOOKING_OK
           && v >= 0 && v <= NGX_BOOKING_TIME_MAX;
}


/* a resource's stored document: a JSON object the module wrote */
static int
ngx_booking_is_doc(const redisReply *e)
{
    return ngx_booking_is_str(e) && e->len >= 2 && e->str[0] == '{'
           && e->str[e->len - 1] == '}';
}


/* an integer, or a decimal string of one; NGX_BOOKING_ERROR for "" */
int
ngx_booking_reply_int(const struct redisReply *e, int64_t *v)
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


int
ngx_booking_reply_script_error(const struct redisReply *r)
{
    redisReply  **e;

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 4) {
        return 0;
    }

    e = r->element;

    if (!ngx_booking_is_str(e[0]) || e[0]->len != 3
        || memcmp(e[0]->str, "err", 3) != 0)
    {
        return 0;
    }

    if (!ngx_booking_is_int(e[1]) || e[1]->integer < 400
        || e[1]->integer > 599 || !ngx_booking_is_str(e[2])
        || !ngx_booking_is_str(e[3])
        || (r->elements > 4 && !ngx_booking_is_str(e[4])))
    {
        return -1;
    }

    return (int) e[1]->integer;
}


/*
 * {'ok', status, id, type, state, kind, start, end, quantity, user,
 *  created_at, expires_at, note, slot, replayed, updated_at}
 */
int
ngx_booking_reply_tuple(const struct redisReply *r)
{
    size_t        i;
    int64_t       v;
    redisReply  **e;

    if (r->type != REDIS_REPLY_ARRAY || r->elements != NGX_BOOKING_T_N) {
        return NGX_BOOKING_ERROR;
    }

    e = r->element;

    for (i = 0; i < NGX_BOOKING_T_N; i++) {
        if (!ngx_booking_is_str(e[i]) && !ngx_booking_is_int(e[i])) {
            return NGX_BOOKING_ERROR;
        }
    }

    if (!ngx_booking_is_int(e[1]) || e[1]->integer < 200
        || e[1]->integer > 299 || !ngx_booking_is_int(e[14])
        || !ngx_booking_is_str(e[2])
        || memchr(e[2]->str, '.', e[2]->len) == NULL
        || !ngx_booking_is_str(e[3]) || !ngx_booking_is_str(e[4])
        || !ngx_booking_is_str(e[5]) || !ngx_booking_is_str(e[9])
        || !ngx_booking_is_str(e[12])
        || ngx_booking_reply_int(e[8], &v) != NGX_BOOKING_OK
        || ngx_booking_reply_int(e[13], &v) != NGX_BOOKING_OK || v < 0)
    {
        return NGX_BOOKING_ERROR;
    }

    /* start, end, created_at, expires_at: absent ("") or an instant */
    for (i = 6; i <= 11; i++) {
        if (i == 8 || i == 9) {
            continue;
        }

        if (!(ngx_booking_is_str(e[i]) && e[i]->len == 0)
            && !ngx_booking_is_time(e[i]))
        {
            return NGX_BOOKING_ERROR;
        }
    }

    return NGX_BOOKING_OK;
}


/*
 * {'unavailable', capacity, 0, free} for timeless stock;
 * {'unavailable', capacity, slot, start, quantity, counters} otherwise:
 * the units in use of the range asked (buffer included), 4 bytes a slot
 * from start, for the worker to find where too few are free.
 */
int
ngx_booking_reply_unavailable(const struct redisReply *r)
{
    int64_t  cap, slot, v;

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 4
        || !ngx_booking_is_str(r->element[0]) || r->element[0]->len != 11
        || memcmp(r->element[0]->str, "unavailable", 11) != 0
        || ngx_booking_reply_int(r->element[1], &cap) != NGX_BOOKING_OK
        || ngx_booking_reply_int(r->element[2], &slot) != NGX_BOOKING_OK
        || cap < 1 || cap > NGX_BOOKING_CAPACITY_MAX || slot < 0)
    {
        return NGX_BOOKING_ERROR;
    }

    if (slot == 0) {
        return (r->elements == 4
                && ngx_booking_reply_int(r->element[3], &v) == NGX_BOOKING_OK)
               ? NGX_BOOKING_OK : NGX_BOOKING_ERROR;
    }

    if (r->elements != 6
        || !ngx_booking_is_time(r->element[3])
        || ngx_booking_reply_int(r->element[4], &v) != NGX_BOOKING_OK
        || v < 1
        || !ngx_booking_is_str(r->element[5])
        || r->element[5]->len == 0 || r->element[5]->len % 4 != 0
        || r->element[5]->len / 4 > NGX_BOOKING_BOOK_SLOTS_MAX)
    {
        return NGX_BOOKING_ERROR;
    }

    return NGX_BOOKING_OK;
}


/* {'ok', created, doc, created_at, updated_at} */
int
ngx_booking_reply_put(const struct redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 5
        || !ngx_booking_is_int(r->element[1])
        || !ngx_booking_is_doc(r->element[2])
        || !ngx_booking_is_time(r->element[3])
        || !ngx_booking_is_time(r->element[4]))
    {
        return NGX_BOOKING_ERROR;
    }

    return NGX_BOOKING_OK;
}


/* HMGET doc created_at updated_at: all nil for no resource */
int
ngx_booking_reply_get(const struct redisReply *r)
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
int
ngx_booking_reply_availability(const struct redisReply *r)
{
    size_t        i, share;
    int64_t       slot, s0, s1, s;
    redisReply  **e;

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 5) {
        return NGX_BOOKING_ERROR;
    }

    e = r->element;

    if (!ngx_booking_is_str(e[1]) || !ngx_booking_is_int(e[2])
        || e[2]->integer < 0 || !ngx_booking_is_int(e[3])
        || !ngx_booking_is_int(e[4]))
    {
        return NGX_BOOKING_ERROR;
    }

    slot = e[2]->integer;

    if (slot == 0) {
        return (r->elements == 5) ? NGX_BOOKING_OK : NGX_BOOKING_ERROR;
    }

    if (r->elements < 7 || !ngx_booking_is_time(e[4])
        || slot > NGX_BOOKING_TIME_MAX || e[4]->integer % slot != 0
        || !ngx_booking_is_int(e[5]) || e[5]->integer < 1
        || e[5]->integer > NGX_BOOKING_READ_SLOTS_MAX
        || e[5]->integer > (NGX_BOOKING_TIME_MAX - e[4]->integer) / slot)
    {
        return NGX_BOOKING_ERROR;
    }

    s0 = e[4]->integer / slot;
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


/*
 * The 4 * n bytes of counters of a checked availability reply, its parts
 * put end to end, each padded with zeros to its share: nothing stored is
 * nothing in use.
 */
void
ngx_booking_reply_counters(const struct redisReply *r, u_char *dst)
{
    size_t        i, share;
    int64_t       s0, s1, s;
    redisReply  **e;

    e = r->element;
    s0 = e[4]->integer / e[2]->integer;
    s1 = s0 + e[5]->integer;

    for (i = 6, s = s0; s < s1; i++) {
        share = ngx_booking_chunk_share(s, s1);

        memcpy(dst, e[i]->str, e[i]->len);
        memset(dst + e[i]->len, 0, share * 4 - e[i]->len);

        dst += share * 4;
        s += share;
    }
}


/* {'ok', next cursor, tuple...} */
int
ngx_booking_reply_list(const struct redisReply *r)
{
    size_t  i;

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2
        || !ngx_booking_is_str(r->element[1]))
    {
        return NGX_BOOKING_ERROR;
    }

    for (i = 2; i < r->elements; i++) {
        if (ngx_booking_reply_tuple(r->element[i]) != NGX_BOOKING_OK) {
            return NGX_BOOKING_ERROR;
        }
    }

    return NGX_BOOKING_OK;
}


/* ZRANGEBYLEX: [id...]; GEOSEARCH ... WITHDIST: [[id, distance]...] */
int
ngx_booking_reply_candidates(const struct redisReply *r, int near)
{
    size_t       i;
    redisReply  *e;

    if (r->type != REDIS_REPLY_ARRAY) {
        return NGX_BOOKING_ERROR;
    }

    for (i = 0; i < r->elements; i++) {
        e = r->element[i];

        if (!near) {
            if (!ngx_booking_is_str(e)) {
                return NGX_BOOKING_ERROR;
            }

            continue;
        }

        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2
            || !ngx_booking_is_str(e->element[0])
            || !ngx_booking_is_str(e->element[1]))
        {
            return NGX_BOOKING_ERROR;
        }
    }

    return NGX_BOOKING_OK;
}


/*
 * resource_free: {doc, free}, {'', free} for a resource with too few free
 * units, or {} for a resource gone
 */
int
ngx_booking_reply_free(const struct redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY) {
        return NGX_BOOKING_ERROR;
    }

    if (r->elements == 0) {
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

    return NGX_BOOKING_OK;
}


/* {'ok', slot, name, (rand, start, end, kind, updated_at)...} */
int
ngx_booking_reply_calendar(const struct redisReply *r)
{
    size_t        i;
    redisReply  **e;

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3
        || (r->elements - 3) % 5 != 0)
    {
        return NGX_BOOKING_ERROR;
    }

    e = r->element;

    if (!ngx_booking_is_int(e[1]) || e[1]->integer < 0
        || !ngx_booking_is_str(e[2]))
    {
        return NGX_BOOKING_ERROR;
    }

    for (i = 3; i < r->elements; i += 5) {
        if (!ngx_booking_is_str(e[i]) || !ngx_booking_is_time(e[i + 1])
            || !ngx_booking_is_time(e[i + 2])
            || !ngx_booking_is_str(e[i + 3])
            || !ngx_booking_is_time(e[i + 4]))
        {
            return NGX_BOOKING_ERROR;
        }
    }

    return NGX_BOOKING_OK;
}

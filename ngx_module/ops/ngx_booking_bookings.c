/*
 * Bookings: POST /bookings, GET /bookings/{id}, the transitions, and the
 * lists of GET /bookings.  Each change is one script; it checks and
 * changes state atomically with Redis's clock, and answers the contract's
 * tuple.
 *
 * A booking id is "<resource id>.<16 random base64url characters>", so any
 * request finds the booking's keys, all under the resource's hash tag, in
 * one round trip.
 */

#include <ngx_config.h>
#include <ngx_core.h>

#include <jansson.h>

#include "ngx_booking_ops.h"


#define NGX_BOOKING_LIST_SCAN  200      /* index entries a page looks at */


/* GET /bookings without resource: the caller's index, then each resource */
typedef struct {
    ngx_str_t            *ids;
    double               *scores;
    ngx_uint_t            n;
} ngx_booking_list_t;

typedef struct {
    ngx_booking_list_t    lists[2];  /* the cursor's score, then after it */
    ngx_str_t             after;     /* the cursor's own entry */
    ngx_str_t            *entries;   /* the page's: "<resource id>.<rand>" */
    double               *scores;
    ngx_uint_t           *part;      /* entry -> its resource's part */
    ngx_booking_rec_t   **recs;      /* entry -> its booking; NULL: gone */
    ngx_uint_t            n;
    ngx_uint_t            pending;
    ngx_int_t             failure;   /* a call's rc; 0: none */
    unsigned              scanned:1; /* the index may hold more */
} ngx_booking_mine_t;

typedef struct {
    ngx_booking_req_t    *req;
    ngx_uint_t            part;
} ngx_booking_part_t;


static ngx_int_t ngx_booking_scope(ngx_booking_req_t *req, ngx_str_t *scope);
static ngx_int_t ngx_booking_create_read(ngx_booking_req_t *req,
    ngx_booking_ask_t *ask);
static ngx_int_t ngx_booking_create_refuse(ngx_booking_req_t *req,
    ngx_int_t rc);
static ngx_int_t ngx_booking_create_items(ngx_booking_req_t *req,
    ngx_booking_ask_t *ask);
static ngx_int_t ngx_booking_create_indexed(ngx_booking_req_t *req,
    ngx_booking_call_t *call, ngx_str_t *rid, int64_t start, int64_t end);
static ngx_uint_t ngx_booking_create_counts(ngx_booking_req_t *req,
    ngx_booking_call_t *call);
static void ngx_booking_create_send(ngx_booking_call_t *zadd);
static void ngx_booking_create_unlisted(ngx_booking_req_t *req);
static ngx_uint_t ngx_booking_create_unmade(ngx_booking_call_t *call);
static void ngx_booking_created(ngx_booking_call_t *call);
static void ngx_booking_acted(ngx_booking_call_t *call);
static ngx_int_t ngx_booking_list_resource(ngx_booking_req_t *req,
    ngx_str_t *rid, ngx_str_t *cursor);
static void ngx_booking_listed(ngx_booking_call_t *call);
static ngx_int_t ngx_booking_list_mine(ngx_booking_req_t *req,
    ngx_str_t *cursor);
static void ngx_booking_mine_same(ngx_booking_call_t *call);
static void ngx_booking_mine_more(ngx_booking_call_t *call);
static void ngx_booking_mine_index(ngx_booking_call_t *call,
    ngx_uint_t which);
static ngx_int_t ngx_booking_mine_fetch(ngx_booking_req_t *req,
    ngx_booking_mine_t *m);
static void ngx_booking_mine_recs(ngx_booking_call_t *call);
static ngx_int_t ngx_booking_mine_page(ngx_booking_req_t *req,
    ngx_booking_mine_t *m);
static void ngx_booking_ignore(ngx_booking_call_t *call);
static ngx_uint_t ngx_booking_list_keeps(ngx_booking_req_t *req,
    ngx_booking_rec_t *rec);
static ngx_int_t ngx_booking_cursor(ngx_booking_req_t *req, ngx_str_t *out);
static ngx_int_t ngx_booking_next(ngx_booking_req_t *req, u_char *p,
    size_t len, ngx_str_t *next);


/* 0, 1; and "w", the hold flag of a waitlist entry */
static ngx_str_t  ngx_booking_flag[] = {
    ngx_string("0"),
    ngx_string("1"),
    ngx_string("w")
};


ngx_int_t
ngx_booking_create(ngx_booking_req_t *req)
{
    u_char                *p;
    ngx_int_t              rc;
    ngx_str_t             *k, *a;
    ngx_uint_t             i;
    ngx_booking_ask_t     *ask;
    ngx_booking_call_t    *call;
    ngx_booking_caller_t  *who;

    who = &req->caller;

    ask = ngx_pcalloc(req->pool, sizeof(ngx_booking_ask_t));
    if (ask == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_booking_create_read(req, ask);
    if (rc != NGX_OK) {
        return (rc == NGX_DECLINED) ? NGX_OK : NGX_ERROR;
    }

    if (ask->in.repeat != NULL) {
        return ngx_booking_series(req, ask);
    }

    if (ask->in.nitems) {
        return ngx_booking_items(req, ask);
    }

    call = ngx_booking_op_call(req, NGX_BOOKING_SCRIPT_BOOKING_CREATE,
                               NGX_BOOKING_BOOKING_CREATE_NKEYS,
                               NGX_BOOKING_BOOKING_CREATE_NARGS
                               + req->conf->types.nelts,
                               NGX_BOOKING_R_BOOKING, ngx_booking_created);
    if (call == NULL) {
        return NGX_ERROR;
    }

    k = call->keys;
    a = call->args;

    a[NGX_BOOKING_BOOKING_CREATE_A_KIND] = ask->kind;
    a[NGX_BOOKING_BOOKING_CREATE_A_NOTE] = ask->note;

    p = ngx_pnalloc(req->pool, NGX_BOOKING_RAND_LEN);
    if (p == NULL || ngx_booking_random_id(p) != NGX_BOOKING_OK) {
        return NGX_ERROR;
    }

    a[NGX_BOOKING_BOOKING_CREATE_A_RAND].data = p;
    a[NGX_BOOKING_BOOKING_CREATE_A_RAND].len = NGX_BOOKING_RAND_LEN;
    a[NGX_BOOKING_BOOKING_CREATE_A_USER] = who->user;
    a[NGX_BOOKING_BOOKING_CREATE_A_HOLD] = ngx_booking_flag[ask->in.hold];
    a[NGX_BOOKING_BOOKING_CREATE_A_ADMIN] = ngx_booking_flag[who->admin];
    a[NGX_BOOKING_BOOKING_CREATE_A_GROUPS] = who->groups;
    a[NGX_BOOKING_BOOKING_CREATE_A_SCOPE] = ask->scope;
    a[NGX_BOOKING_BOOKING_CREATE_A_FINGERPRINT] = ask->fp;
    ngx_str_set(&a[NGX_BOOKING_BOOKING_CREATE_A_CLAIMED], "");
    a[NGX_BOOKING_BOOKING_CREATE_A_EVENTS] = req->conf->events;

    if (ngx_booking_zones(req, &a[NGX_BOOKING_BOOKING_CREATE_A_ZONES],
                          ask->in.start, ask->in.end)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if ((ask->in.start >= 0
         && ngx_booking_num(req, &a[NGX_BOOKING_BOOKING_CREATE_A_START],
                            ask->in.start)
            != NGX_OK)
        || (ask->in.end >= 0
            && ngx_booking_num(req, &a[NGX_BOOKING_BOOKING_CREATE_A_END],
                               ask->in.end)
               != NGX_OK)
        || ngx_booking_num(req, &a[NGX_BOOKING_BOOKING_CREATE_A_QUANTITY],
                           ask->in.quantity)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < req->conf->types.nelts; i++) {
        a[NGX_BOOKING_BOOKING_CREATE_A_RULES + i] = req->conf->rules[i];
    }

    /* R B C K H A, the Idempotency-Key's answer */
    k[NGX_BOOKING_BOOKING_CREATE_K_I].len = ngx_booking_rkey_len(ask->rid.len,
                                                NGX_BOOKING_KEY_I)
                                            + ask->scope.len;
    k[NGX_BOOKING_BOOKING_CREATE_K_I].data = ngx_pnalloc(req->pool,
                                  k[NGX_BOOKING_BOOKING_CREATE_K_I].len);

    if (k[NGX_BOOKING_BOOKING_CREATE_K_I].data == NULL
        || ngx_booking_resource_keys(req, &ask->rid, k, ngx_booking_keys_all)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = ngx_booking_rkey(k[NGX_BOOKING_BOOKING_CREATE_K_I].data,
                         ask->rid.data, ask->rid.len, NGX_BOOKING_KEY_I);
    ngx_memcpy(p, ask->scope.data, ask->scope.len);

    if (who->user.len == 0) {
        return ngx_booking_op_send(req, call);
    }

    return ngx_booking_create_indexed(req, call, &ask->rid, ask->in.start,
                                      ask->in.end);
}


/*
 * The body of POST /bookings read and checked, with what every booking
 * script needs of it: the strings copied (they die with the JSON), the
 * Idempotency-Key's scope and the fingerprint of the body.  NGX_DECLINED
 * with the answer set when the request is refused.
 */
static ngx_int_t
ngx_booking_create_read(ngx_booking_req_t *req, ngx_booking_ask_t *ask)
{
    u_char                *p;
    ngx_uint_t             i;
    json_t                *root;
    ngx_booking_perr_t     perr;
    ngx_booking_breq_t    *in;
    ngx_booking_repeat_t  *rep;
    ngx_booking_caller_t  *who;

    who = &req->caller;
    in = &ask->in;
    rep = &ask->repeat;

    root = ngx_booking_parse_booking(req->body.data, req->body.len, in,
                                     &perr);
    if (root == NULL) {
        return ngx_booking_create_refuse(req, ngx_booking_op_perr(req,
                                                                  &perr));
    }

    if (req->waiting) {
        /* an entry waits for a booking: it is not held, has no note */
        if (in->hold || in->note_len || in->repeat || in->nitems) {
            json_decref(root);
            return ngx_booking_create_refuse(req,
                       ngx_booking_op_fail(req, 422, "invalid",
                                           "unknown field",
                                           in->hold ? "hold"
                                           : in->note_len ? "note"
                                           : in->repeat ? "repeat"
                                                        : "items"));
        }

        in->hold = 2;

    } else {
        req->name = in->repeat ? "series" : in->nitems ? "group"
                    : in->hold ? "hold" : "book";
    }

    if (in->repeat != NULL
        && ngx_booking_parse_repeat(in->repeat, rep, &perr) != NGX_BOOKING_OK)
    {
        json_decref(root);
        return ngx_booking_create_refuse(req, ngx_booking_op_perr(req,
                                                                  &perr));
    }

    if (ngx_booking_create_items(req, ask) != NGX_OK
        || ngx_booking_copy(req, &ask->rid, in->resource, in->resource_len)
           != NGX_OK
        || ngx_booking_copy(req, &ask->kind, in->kind, in->kind_len)
           != NGX_OK
        || ngx_booking_copy(req, &ask->note, in->note, in->note_len)
           != NGX_OK)
    {
        json_decref(root);
        return NGX_ERROR;
    }

    json_decref(root);

    /* the JSON is gone: only whether there was a repeat is left */
    in->repeat = in->repeat ? rep : NULL;

    /* $booking_resource, made or refused */
    req->change.id = ask->rid;

    /* a guest may only hold, and then keeps the token as its only key */
    if (who->user.len == 0 && req->waiting) {
        return ngx_booking_create_refuse(req,
                   ngx_booking_op_fail(req, NGX_HTTP_UNAUTHORIZED,
                                       "unauthenticated",
                                       "a user is needed to wait", NULL));
    }

    if (who->user.len == 0 && !who->admin && !(who->anonymous && in->hold)) {
        return ngx_booking_create_refuse(req,
                   ngx_booking_op_fail(req, NGX_HTTP_UNAUTHORIZED,
                                       "unauthenticated",
                                       who->anonymous ? "guests may only hold"
                                                      : "a user is needed",
                                       NULL));
    }

    if (in->repeat != NULL && (in->start < 0 || in->end < 0)) {
        return ngx_booking_create_refuse(req,
                   ngx_booking_op_fail(req, NGX_HTTP_BAD_REQUEST,
                                       "bad_request",
                                       "start and end are required",
                                       in->start < 0 ? "start" : "end"));
    }

    for (i = 0; i < ngx_max(in->nitems, 1); i++) {
        if (ngx_booking_id_check(req->conf, in->nitems ? &ask->rids[i]
                                                       : &ask->rid,
                                 req->log)
            != NGX_OK)
        {
            return ngx_booking_create_refuse(req,
                       ngx_booking_op_fail(req, NGX_HTTP_NOT_FOUND,
                                           "not_found", "no such resource",
                                           in->nitems ? "items"
                                                      : "resource"));
        }
    }

    if (ngx_booking_scope(req, &ask->scope) != NGX_OK) {
        return req->answer.status ? NGX_DECLINED : NGX_ERROR;
    }

    /* the fields that make two bodies "the same", normalized */
    ask->fp.len = ask->rid.len + ask->kind.len + ask->note.len
                  + 9 * NGX_INT64_LEN + 32;

    for (i = 0; i < in->nitems; i++) {
        ask->fp.len += ask->rids[i].len + 3 * NGX_INT64_LEN + 4;
    }

    ask->fp.data = ngx_pnalloc(req->pool, ask->fp.len);
    if (ask->fp.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(ask->fp.data, "%V\n%L\n%L\n%L\n%ui\n%V\n%V", &ask->rid,
                    in->start, in->end, in->quantity, (ngx_uint_t) in->hold,
                    &ask->kind, &ask->note);

    if (in->repeat != NULL) {
        p = ngx_sprintf(p, "\n%d %L %L %L %d", rep->freq, rep->interval,
                        rep->count, rep->until, in->skip);
    }

    for (i = 0; i < in->nitems; i++) {
        p = ngx_sprintf(p, "\n%V %L %L %L", &ask->rids[i], in->items[i].start,
                        in->items[i].end, in->items[i].quantity);
    }

    ask->fp.len = p - ask->fp.data;

    return NGX_OK;
}


/* the items' resource ids, copied: they die with the JSON */
static ngx_int_t
ngx_booking_create_items(ngx_booking_req_t *req, ngx_booking_ask_t *ask)
{
    ngx_uint_t  i;

    if (ask->in.nitems == 0) {
        return NGX_OK;
    }

    ask->rids = ngx_palloc(req->pool, ask->in.nitems * sizeof(ngx_str_t));
    if (ask->rids == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < ask->in.nitems; i++) {
        if (ngx_booking_copy(req, &ask->rids[i], ask->in.items[i].resource,
                             ask->in.items[i].resource_len)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ask->in.items[i].resource = ask->rids[i].data;
    }

    return NGX_OK;
}


/* NGX_DECLINED once the refusal is the answer, the error when it is not */
static ngx_int_t
ngx_booking_create_refuse(ngx_booking_req_t *req, ngx_int_t rc)
{
    return (rc == NGX_OK && req->answer.status) ? NGX_DECLINED : rc;
}


/*
 * A user's booking is in the user's index before it is made: the index
 * has the user's hash slot, not the resource's, so it is a step of its
 * own, and in this order a failure between the two leaves an entry of
 * nothing (dropped by the user's next listing), never a booking the user
 * cannot list.  Where one node has both, the booking goes right behind
 * the entry on the same connection, without waiting for its answer: the
 * same order, in one round trip.
 */
static ngx_int_t
ngx_booking_create_indexed(ngx_booking_req_t *req, ngx_booking_call_t *call,
    ngx_str_t *rid, int64_t start, int64_t end)
{
    ngx_int_t             rc;
    ngx_str_t            *id;
    ngx_booking_call_t   *zadd;
    ngx_booking_claim_t  *claim;

    claim = ngx_pcalloc(req->pool, sizeof(ngx_booking_claim_t));
    if (claim == NULL) {
        return NGX_ERROR;
    }

    id = &claim->id;
    id->len = rid->len + 1 + NGX_BOOKING_RAND_LEN;
    id->data = ngx_pnalloc(req->pool, id->len);
    if (id->data == NULL
        || ngx_booking_num(req, &claim->score,
                           start >= 0 ? start : ngx_time())
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    (void) ngx_sprintf(id->data, "%V.%V", rid,
                       &call->args[NGX_BOOKING_BOOKING_CREATE_A_RAND]);

    claim->start = start;
    claim->end = end;

    req->state = call;
    req->state_id = id;

    /* max_active: the index entry and the claim in one step */
    if (ngx_booking_create_counts(req, call)) {
        return ngx_booking_quota_claim(req, call,
                             &call->args[NGX_BOOKING_BOOKING_CREATE_A_CLAIMED],
                             rid, claim, 1, NULL, NULL);
    }

    zadd = ngx_booking_index_user(req, id, &claim->score,
                                  ngx_booking_create_send);
    if (zadd == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_booking_op_send(req, zadd);
    if (rc != NGX_DONE) {
        return rc;
    }

    switch (ngx_booking_store_call_after(call, zadd)) {

    case NGX_OK:
        req->indexing = zadd;
        return NGX_DONE;

    case NGX_DECLINED:
        /* sent once the entry is answered */
        return NGX_DONE;

    default:
        /* the entry's answer must not send the booking after the 500 */
        req->indexing = zadd;
        return NGX_ERROR;
    }
}


/* a user's booking, not a block nor an admin's, where a type has quotas */
static ngx_uint_t
ngx_booking_create_counts(ngx_booking_req_t *req, ngx_booking_call_t *call)
{
    ngx_str_t  *kind;

    kind = &call->args[NGX_BOOKING_BOOKING_CREATE_A_KIND];

    return !req->caller.admin
           && !(kind->len == 5 && ngx_strncmp(kind->data, "block", 5) == 0)
           && ngx_booking_quota_any(req->conf);
}


/*
 * The booking of the user's index entry was surely not made: refused, or
 * the replay of an earlier one.  Not on a timeout: it may have been.
 */
static ngx_uint_t
ngx_booking_create_unmade(ngx_booking_call_t *call)
{
    if (call->rc != NGX_BOOKING_STORE_OK) {
        return call->rc == NGX_BOOKING_STORE_UNAVAILABLE
               || call->rc == NGX_BOOKING_STORE_BUSY;
    }

    return call->result.kind != NGX_BOOKING_R_BOOKING
           || call->result.booking.replayed;
}


static void
ngx_booking_create_send(ngx_booking_call_t *zadd)
{
    ngx_booking_req_t *req = zadd->data;

    ngx_booking_call_t  *call;

    call = req->state;

    if (req->indexing == zadd) {
        /* the booking is on its way already: its answer decides */
        return;
    }

    if (zadd->rc != NGX_BOOKING_STORE_OK) {
        ngx_booking_op_done(req, ngx_booking_op_failed(req, zadd));
        return;
    }

    ngx_booking_op_done(req, ngx_booking_op_send(req, call));
}


/*
 * A booking sent right behind its index entry was made (or may have
 * been), but the entry may not be: Redis refused it (a user key of
 * another type, or an ACL that bars the module from the users' keys; OOM
 * refuses the booking's script too), or its answer never came.  The entry
 * is sent once more, not waited for; a refusal is logged with the booking
 * the user's list may miss.
 */
static void
ngx_booking_create_unlisted(ngx_booking_req_t *req)
{
    ngx_booking_call_t  *zadd;

    zadd = req->indexing;

    if (zadd->rc == NGX_BOOKING_STORE_OK) {
        return;
    }

    /* a refusal; after a timeout or a lost connection it may be written */
    if (zadd->rc == NGX_BOOKING_STORE_FAILED
        || zadd->rc == NGX_BOOKING_STORE_BUSY)
    {
        ngx_log_error(NGX_LOG_ERR, req->log, 0,
                      "booking: the user's index refused the entry of "
                      "booking \"%V\", made or maybe made: sent again",
                      req->state_id);
    }

    ngx_booking_index_again(zadd);
}


/*
 * The Idempotency-Key's scope: "<who>:<length of user>:<user>:<key>"
 * cannot be read two ways; who is the kind of caller (admin, user,
 * guest), so that an admin location without a user never shares the
 * guests' scope.  NGX_DECLINED with the answer set when the key is bad.
 */
static ngx_int_t
ngx_booking_scope(ngx_booking_req_t *req, ngx_str_t *scope)
{
    ngx_uint_t             i;
    ngx_str_t             *key;
    ngx_booking_caller_t  *who;

    who = &req->caller;
    key = &req->idempotency;

    ngx_str_set(scope, "");

    if (key->data == NULL) {
        return NGX_OK;
    }

    for (i = 0; i < key->len; i++) {
        if (key->data[i] < 0x20 || key->data[i] == 0x7f) {
            break;
        }
    }

    if (key->len == 0 || key->len > NGX_BOOKING_IDEM_MAX || i < key->len) {
        (void) ngx_booking_op_fail(req, NGX_HTTP_BAD_REQUEST, "bad_request",
                                   "Idempotency-Key must be 1 to 255 "
                                   "printable bytes", "Idempotency-Key");
        return NGX_DECLINED;
    }

    /*
     * Guests share one scope per resource: only a key nobody can guess
     * keeps one guest from replaying another's hold and its token.
     */
    if (who->user.len == 0 && !who->admin && key->len < 16) {
        (void) ngx_booking_op_fail(req, NGX_HTTP_BAD_REQUEST, "bad_request",
                                   "a guest's Idempotency-Key must be at "
                                   "least 16 bytes", "Idempotency-Key");
        return NGX_DECLINED;
    }

    scope->len = 2 + NGX_SIZE_T_LEN + 2 + who->user.len + key->len;
    scope->data = ngx_pnalloc(req->pool, scope->len);
    if (scope->data == NULL) {
        return NGX_ERROR;
    }

    scope->len = ngx_sprintf(scope->data, "%c:%uz:%V:%V",
                             who->admin ? 'a' : (who->user.len ? 'u' : 'g'),
                             who->user.len, &who->user, key)
                 - scope->data;

    return NGX_OK;
}


static void
ngx_booking_created(ngx_booking_call_t *call)
{
    ngx_booking_req_t *req = call->data;

    ngx_int_t           rc;
    ngx_str_t           token;
    ngx_booking_rec_t  *rec;

    if (req->state == call && ngx_booking_create_unmade(call)) {
        ngx_booking_unindex_user(req, req->state_id);
        ngx_booking_quota_unclaim(req);

    } else if (req->state == call && req->indexing != NULL) {
        ngx_booking_create_unlisted(req);
    }

    rc = ngx_booking_op_check(req, call);

    if (rc == NGX_OK) {
        rc = ngx_booking_quota_answer(req);
    }

    if (rc != NGX_DECLINED) {
        ngx_booking_op_done(req, rc);
        return;
    }

    if (call->result.kind == NGX_BOOKING_R_CONFLICT) {
        rc = ngx_booking_view_conflict(&req->answer, req->pool,
                                       &call->result.conflict);

        ngx_booking_op_done(req, rc == NGX_DECLINED
                                 ? ngx_booking_op_unexpected(req) : rc);
        return;
    }

    rec = &call->result.booking;
    ngx_str_null(&token);

    if (rec->status.len == 4 && ngx_strncmp(rec->status.data, "held", 4) == 0)
    {
        token.data = ngx_pnalloc(req->pool, NGX_BOOKING_TOKEN_LEN);
        if (token.data == NULL
            || ngx_booking_token(req->conf->secret.data, req->conf->secret.len,
                                 rec->id.data, rec->id.len, token.data)
               != NGX_BOOKING_OK)
        {
            ngx_booking_op_done(req, NGX_ERROR);
            return;
        }

        token.len = NGX_BOOKING_TOKEN_LEN;
    }

    if (ngx_booking_copy(req, &req->made, rec->id.data, rec->id.len)
        != NGX_OK
        || ngx_booking_copy(req, &req->change.id, rec->resource.data,
                            rec->resource.len) != NGX_OK
        || (!rec->replayed
            && ngx_booking_copy(req, &req->change.type, rec->type.data,
                                rec->type.len) != NGX_OK))
    {
        ngx_booking_op_done(req, NGX_ERROR);
        return;
    }

    req->change.changed = !rec->replayed;
    req->answer.token = token;
    req->answer.replayed = rec->replayed;

    if (req->waiting) {
        ngx_booking_op_done(req, ngx_booking_view_entry(&req->answer,
                                                        req->pool, rec));
        return;
    }

    ngx_booking_op_done(req, ngx_booking_view_one(&req->answer, req->pool,
                                                  rec, &token));
}


ngx_int_t
ngx_booking_get(ngx_booking_req_t *req)
{
    ngx_booking_call_t  *call;
    static const char   *rb[] = { NGX_BOOKING_KEY_R, NGX_BOOKING_KEY_B,
                                  NULL };

    if (req->caller.user.len == 0 && !req->caller.admin) {
        return ngx_booking_op_fail(req, NGX_HTTP_UNAUTHORIZED,
                                   "unauthenticated", "a user is needed",
                                   NULL);
    }

    call = ngx_booking_op_call(req, NGX_BOOKING_SCRIPT_BOOKING_GET,
                               NGX_BOOKING_BOOKING_GET_NKEYS,
                               NGX_BOOKING_BOOKING_GET_NARGS,
                               NGX_BOOKING_R_BOOKING, ngx_booking_acted);
    if (call == NULL
        || ngx_booking_resource_keys(req, &req->id, call->keys, rb) != NGX_OK)
    {
        return NGX_ERROR;
    }

    call->args[NGX_BOOKING_BOOKING_GET_A_RAND] = req->rand;
    call->args[NGX_BOOKING_BOOKING_GET_A_USER] = req->caller.user;
    call->args[NGX_BOOKING_BOOKING_GET_A_ADMIN] =
                                        ngx_booking_flag[req->caller.admin];

    return ngx_booking_op_send(req, call);
}


ngx_int_t
ngx_booking_act(ngx_booking_req_t *req)
{
    ngx_str_t           *a;
    ngx_uint_t           i;
    ngx_booking_call_t  *call;

    if (req->caller.user.len == 0 && !req->caller.admin
        && !req->caller.token)
    {
        return ngx_booking_op_fail(req, NGX_HTTP_UNAUTHORIZED,
                                   "unauthenticated",
                                   "a user or the booking's token is "
                                   "needed", NULL);
    }

    req->name = (const char *) req->verb.data;

    call = ngx_booking_op_call(req, NGX_BOOKING_SCRIPT_BOOKING_ACT,
                               NGX_BOOKING_BOOKING_ACT_NKEYS,
                               NGX_BOOKING_BOOKING_ACT_NARGS
                               + req->conf->types.nelts,
                               NGX_BOOKING_R_BOOKING, ngx_booking_acted);
    if (call == NULL
        || ngx_booking_resource_keys(req, &req->id, call->keys,
                                     ngx_booking_keys_all)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    a = call->args;
    a[NGX_BOOKING_BOOKING_ACT_A_OP] = req->verb;
    a[NGX_BOOKING_BOOKING_ACT_A_RAND] = req->rand;
    a[NGX_BOOKING_BOOKING_ACT_A_USER] = req->caller.user;
    a[NGX_BOOKING_BOOKING_ACT_A_ADMIN] = ngx_booking_flag[req->caller.admin];
    a[NGX_BOOKING_BOOKING_ACT_A_TOKEN] = ngx_booking_flag[req->caller.token];
    a[NGX_BOOKING_BOOKING_ACT_A_EVENTS] = req->conf->events;

    for (i = 0; i < req->conf->types.nelts; i++) {
        a[NGX_BOOKING_BOOKING_ACT_A_RULES + i] = req->conf->rules[i];
    }

    return ngx_booking_op_send(req, call);
}


/* a transition, or a read: the booking as it is now */
static void
ngx_booking_acted(ngx_booking_call_t *call)
{
    ngx_booking_req_t *req = call->data;

    ngx_int_t           rc;
    ngx_booking_rec_t  *rec;

    rc = ngx_booking_op_check(req, call);

    if (rc != NGX_DECLINED) {
        ngx_booking_op_done(req, rc);
        return;
    }

    if (call->result.kind != NGX_BOOKING_R_BOOKING) {
        ngx_booking_op_done(req, ngx_booking_op_unexpected(req));
        return;
    }

    rec = &call->result.booking;

    if (req->verb.len
        && (ngx_booking_copy(req, &req->change.id, rec->resource.data,
                             rec->resource.len) != NGX_OK
            || ngx_booking_copy(req, &req->change.type, rec->type.data,
                                rec->type.len) != NGX_OK))
    {
        ngx_booking_op_done(req, NGX_ERROR);
        return;
    }

    req->change.changed = (req->verb.len != 0);

    if ((rec->status.len == 9
         && ngx_strncmp(rec->status.data, "cancelled", 9) == 0)
        || (rec->status.len == 8
            && ngx_strncmp(rec->status.data, "declined", 8) == 0))
    {
        ngx_booking_release_claims(req, rec);
    }

    ngx_booking_op_done(req, ngx_booking_view_one(&req->answer, req->pool,
                                                  rec, NULL));
}


ngx_int_t
ngx_booking_list(ngx_booking_req_t *req)
{
    ngx_str_t             rid, cursor;
    ngx_booking_query_t  *q;

    q = &req->query;

    if (!(q->set & NGX_BOOKING_Q_FROM) != !(q->set & NGX_BOOKING_Q_TO)) {
        return ngx_booking_op_fail(req, NGX_HTTP_BAD_REQUEST, "bad_request",
                                   "from and to go together",
                                   (q->set & NGX_BOOKING_Q_FROM)
                                   ? "to" : "from");
    }

    if (!(q->set & NGX_BOOKING_Q_LIMIT)) {
        q->limit = 20;
    }

    if (ngx_booking_cursor(req, &cursor) != NGX_OK) {
        return req->answer.status ? NGX_OK : NGX_ERROR;
    }

    if (q->set & NGX_BOOKING_Q_RESOURCE) {
        rid.data = q->resource;
        rid.len = q->resource_len;

        if (ngx_booking_id_check(req->conf, &rid, req->log) != NGX_OK) {
            return ngx_booking_op_fail(req, NGX_HTTP_NOT_FOUND, "not_found",
                                       "no such resource", "resource");
        }

        if (req->caller.user.len == 0 && !req->caller.admin) {
            goto unauthenticated;
        }

        return ngx_booking_list_resource(req, &rid, &cursor);
    }

    if (req->caller.user.len == 0) {
        goto unauthenticated;
    }

    return ngx_booking_list_mine(req, &cursor);

unauthenticated:

    return ngx_booking_op_fail(req, NGX_HTTP_UNAUTHORIZED, "unauthenticated",
                               "a user is needed", NULL);
}


/* the cursor is base64url of "<score>:<member>", the last entry seen */
static ngx_int_t
ngx_booking_cursor(ngx_booking_req_t *req, ngx_str_t *out)
{
    u_char               *p;
    ngx_str_t             src;
    ngx_booking_query_t  *q;

    q = &req->query;
    ngx_str_set(out, "");

    if (!(q->set & NGX_BOOKING_Q_CURSOR)) {
        return NGX_OK;
    }

    src.data = q->cursor;
    src.len = q->cursor_len;

    out->data = ngx_pnalloc(req->pool, ngx_base64_decoded_length(src.len) + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_decode_base64url(out, &src) != NGX_OK || out->len == 0) {
        goto bad;
    }

    /* "<digits>:<at least one printable byte>" */
    p = out->data;

    while (p < out->data + out->len && *p >= '0' && *p <= '9') {
        p++;
    }

    if (p == out->data || p - out->data > 18 || p + 2 > out->data + out->len
        || *p != ':')
    {
        goto bad;
    }

    for ( /* void */ ; p < out->data + out->len; p++) {
        if (*p <= 0x20 || *p >= 0x7f) {
            goto bad;
        }
    }

    return NGX_OK;

bad:

    (void) ngx_booking_op_fail(req, NGX_HTTP_BAD_REQUEST, "bad_request",
                               "bad or stale cursor", "cursor");
    return NGX_DECLINED;
}


static ngx_int_t
ngx_booking_list_resource(ngx_booking_req_t *req, ngx_str_t *rid,
    ngx_str_t *cursor)
{
    ngx_str_t            *a;
    ngx_booking_call_t   *call;
    ngx_booking_query_t  *q;
    static const char    *rba[] = { NGX_BOOKING_KEY_R, NGX_BOOKING_KEY_B,
                                    NGX_BOOKING_KEY_A, NULL };

    q = &req->query;

    call = ngx_booking_op_call(req, NGX_BOOKING_SCRIPT_BOOKINGS_LIST,
                               NGX_BOOKING_BOOKINGS_LIST_NKEYS,
                               NGX_BOOKING_BOOKINGS_LIST_NARGS,
                               NGX_BOOKING_R_PAGE, ngx_booking_listed);
    if (call == NULL
        || ngx_booking_resource_keys(req, rid, call->keys, rba) != NGX_OK)
    {
        return NGX_ERROR;
    }

    a = call->args;
    a[NGX_BOOKING_BOOKINGS_LIST_A_USER] = req->caller.user;
    a[NGX_BOOKING_BOOKINGS_LIST_A_ADMIN] = ngx_booking_flag[req->caller.admin];
    a[NGX_BOOKING_BOOKINGS_LIST_A_STATUS].data = q->status;
    a[NGX_BOOKING_BOOKINGS_LIST_A_STATUS].len = q->status_len;
    a[NGX_BOOKING_BOOKINGS_LIST_A_CURSOR] = *cursor;

    if (((q->set & NGX_BOOKING_Q_FROM)
         && (ngx_booking_num(req, &a[NGX_BOOKING_BOOKINGS_LIST_A_FROM],
                             q->from) != NGX_OK
             || ngx_booking_num(req, &a[NGX_BOOKING_BOOKINGS_LIST_A_TO],
                                q->to) != NGX_OK))
        || ngx_booking_num(req, &a[NGX_BOOKING_BOOKINGS_LIST_A_LIMIT],
                           q->limit)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_booking_op_send(req, call);
}


/* {"ok", next cursor, tuple, ...} */
static void
ngx_booking_listed(ngx_booking_call_t *call)
{
    ngx_booking_req_t *req = call->data;

    ngx_int_t            rc;
    ngx_str_t            next;
    ngx_uint_t           i;
    ngx_booking_rec_t  **recs;
    ngx_booking_page_t  *page;

    rc = ngx_booking_op_check(req, call);

    if (rc != NGX_DECLINED) {
        ngx_booking_op_done(req, rc);
        return;
    }

    page = &call->result.page;

    recs = ngx_palloc(req->pool, (page->n + 1) * sizeof(ngx_booking_rec_t *));
    if (recs == NULL
        || ngx_booking_next(req, (u_char *) page->next.data, page->next.len,
                            &next)
           != NGX_OK)
    {
        ngx_booking_op_done(req, NGX_ERROR);
        return;
    }

    for (i = 0; i < page->n; i++) {
        recs[i] = &page->recs[i];
    }

    ngx_booking_op_done(req, ngx_booking_view_bookings(&req->answer,
                                                       req->pool, recs,
                                                       page->n, &next));
}


/*
 * The caller's own bookings, from their index (bookings of any resource,
 * by start): first the entries after the cursor (the rest of its score,
 * then the higher ones, in one round trip), then each resource's bookings
 * among them, one script a resource, in one more.
 */
static ngx_int_t
ngx_booking_list_mine(ngx_booking_req_t *req, ngx_str_t *cursor)
{
    u_char              *colon;
    ngx_str_t            key, score;
    ngx_uint_t           i;
    ngx_booking_call_t  *call[2];
    ngx_booking_mine_t  *m;

    m = ngx_pcalloc(req->pool, sizeof(ngx_booking_mine_t));
    if (m == NULL || ngx_booking_user_key(req, &key) != NGX_OK) {
        return NGX_ERROR;
    }

    req->state = m;

    for (i = 0; i < 2; i++) {
        call[i] = ngx_booking_op_call(req, -1, 0, 8, NGX_BOOKING_R_SCORED,
                                      i ? ngx_booking_mine_more
                                        : ngx_booking_mine_same);
        if (call[i] == NULL
            || ngx_booking_num(req, &call[i]->args[7], NGX_BOOKING_LIST_SCAN)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_str_set(&call[i]->args[0], "ZRANGEBYSCORE");
        call[i]->args[1] = key;
        ngx_str_set(&call[i]->args[2], "-inf");
        ngx_str_set(&call[i]->args[3], "+inf");
        ngx_str_set(&call[i]->args[4], "WITHSCORES");
        ngx_str_set(&call[i]->args[5], "LIMIT");
        ngx_str_set(&call[i]->args[6], "0");
    }

    if (cursor->len == 0) {
        m->pending = 1;
        return ngx_booking_op_send(req, call[1]);
    }

    colon = ngx_strlchr(cursor->data, cursor->data + cursor->len, ':');
    score.data = cursor->data;
    score.len = colon - cursor->data;
    m->after.data = colon + 1;
    m->after.len = cursor->data + cursor->len - (colon + 1);

    call[0]->args[2] = score;
    call[0]->args[3] = score;

    /* "(<score>": strictly after it */
    call[1]->args[2].data = ngx_pnalloc(req->pool, score.len + 1);
    if (call[1]->args[2].data == NULL) {
        return NGX_ERROR;
    }

    call[1]->args[2].data[0] = '(';
    ngx_memcpy(call[1]->args[2].data + 1, score.data, score.len);
    call[1]->args[2].len = score.len + 1;

    m->pending = 1;

    if (ngx_booking_op_send(req, call[0]) != NGX_DONE) {
        return NGX_OK;
    }

    /* the first is on its way: if this one cannot go, it answers 503 */
    if (ngx_booking_store_call(call[1]) == NGX_OK) {
        m->pending++;

    } else {
        m->failure = NGX_BOOKING_STORE_UNAVAILABLE;
    }

    return NGX_DONE;
}


static void
ngx_booking_mine_same(ngx_booking_call_t *call)
{
    ngx_booking_mine_index(call, 0);
}


static void
ngx_booking_mine_more(ngx_booking_call_t *call)
{
    ngx_booking_mine_index(call, 1);
}


/* one of the index reads, kept: the page goes on once both are in */
static void
ngx_booking_mine_index(ngx_booking_call_t *call, ngx_uint_t which)
{
    ngx_booking_req_t *req = call->data;

    ngx_uint_t           i;
    ngx_booking_mine_t  *m;
    ngx_booking_ids_t   *ids;
    ngx_booking_list_t  *l;

    m = req->state;
    l = &m->lists[which];
    ids = &call->result.ids;

    if (call->rc != NGX_BOOKING_STORE_OK) {
        m->failure = m->failure ? m->failure : call->rc;
        ids->n = 0;
    }

    l->ids = ngx_palloc(req->pool, (ids->n + 1) * sizeof(ngx_str_t));
    l->scores = ngx_palloc(req->pool, (ids->n + 1) * sizeof(double));
    if (l->ids == NULL || l->scores == NULL) {
        m->failure = NGX_BOOKING_STORE_FAILED;
        ids->n = 0;
    }

    for (i = 0; i < ids->n; i++) {
        /* of the cursor's own score, only those after it */
        if (which == 0
            && ngx_memn2cmp((u_char *) ids->ids[i].data, m->after.data,
                            ids->ids[i].len, m->after.len) <= 0)
        {
            continue;
        }

        if (ngx_booking_copy(req, &l->ids[l->n], ids->ids[i].data,
                             ids->ids[i].len) != NGX_OK)
        {
            m->failure = NGX_BOOKING_STORE_FAILED;
            break;
        }

        l->scores[l->n++] = ids->values[i];
    }

    if (which == 1 && ids->n == NGX_BOOKING_LIST_SCAN) {
        m->scanned = 1;
    }

    if (--m->pending > 0) {
        return;
    }

    if (m->failure != 0) {
        call->rc = m->failure;
        ngx_booking_op_done(req, ngx_booking_op_failed(req, call));
        return;
    }

    ngx_booking_op_done(req, ngx_booking_mine_fetch(req, m));
}


/*
 * The entries of the page (the cursor's score first, then the higher
 * ones, NGX_BOOKING_LIST_SCAN at most); then one bookings_get script for
 * each resource among them, all sent at once.
 */
static ngx_int_t
ngx_booking_mine_fetch(ngx_booking_req_t *req, ngx_booking_mine_t *m)
{
    ngx_uint_t           i, j, k, nparts, w;
    ngx_str_t            rid, rand, other, orand;
    ngx_booking_call_t  *call;
    ngx_booking_part_t  *part;
    ngx_booking_list_t  *l;
    static const char   *rbx[] = { NGX_BOOKING_KEY_R, NGX_BOOKING_KEY_B,
                                   NGX_BOOKING_KEY_X, NGX_BOOKING_KEY_V,
                                   NULL };

    m->entries = ngx_palloc(req->pool, NGX_BOOKING_LIST_SCAN
                                       * sizeof(ngx_str_t));
    m->scores = ngx_palloc(req->pool, NGX_BOOKING_LIST_SCAN * sizeof(double));
    m->recs = ngx_pcalloc(req->pool, NGX_BOOKING_LIST_SCAN
                                     * sizeof(ngx_booking_rec_t *));
    m->part = ngx_pcalloc(req->pool, NGX_BOOKING_LIST_SCAN
                                     * sizeof(ngx_uint_t));
    if (m->entries == NULL || m->scores == NULL || m->recs == NULL
        || m->part == NULL)
    {
        return NGX_ERROR;
    }

    for (w = 0; w < 2; w++) {
        l = &m->lists[w];

        for (i = 0; i < l->n && m->n < NGX_BOOKING_LIST_SCAN; i++) {
            m->entries[m->n] = l->ids[i];
            m->scores[m->n++] = l->scores[i];
        }
    }

    if (m->n == NGX_BOOKING_LIST_SCAN) {
        m->scanned = 1;
    }

    /* which resource each entry is of: NGX_BOOKING_LIST_SCAN for none */
    nparts = 0;

    for (i = 0; i < m->n; i++) {
        m->part[i] = NGX_BOOKING_LIST_SCAN;

        if (ngx_booking_split_id(&m->entries[i], &rid, &rand) != NGX_OK
            || ngx_booking_id_check(req->conf, &rid, req->log) != NGX_OK)
        {
            continue;
        }

        for (j = 0; j < i; j++) {
            if (m->part[j] != NGX_BOOKING_LIST_SCAN
                && ngx_booking_split_id(&m->entries[j], &other, &orand)
                   == NGX_OK
                && other.len == rid.len
                && ngx_strncmp(other.data, rid.data, rid.len) == 0)
            {
                break;
            }
        }

        m->part[i] = (j < i) ? m->part[j] : nparts++;
    }

    for (k = 0; k < nparts; k++) {
        part = ngx_palloc(req->pool, sizeof(ngx_booking_part_t));
        call = NULL;

        for (i = 0; part != NULL && i < m->n; i++) {
            if (m->part[i] != k) {
                continue;
            }

            (void) ngx_booking_split_id(&m->entries[i], &rid, &rand);

            if (call == NULL) {
                call = ngx_booking_op_call(req,
                                           NGX_BOOKING_SCRIPT_BOOKINGS_GET,
                                           NGX_BOOKING_BOOKINGS_GET_NKEYS,
                                           NGX_BOOKING_BOOKINGS_GET_NARGS
                                           + m->n,
                                           NGX_BOOKING_R_RECS,
                                           ngx_booking_mine_recs);
                if (call == NULL
                    || ngx_booking_resource_keys(req, &rid, call->keys, rbx)
                       != NGX_OK)
                {
                    return NGX_ERROR;
                }

                call->args[NGX_BOOKING_BOOKINGS_GET_A_USER] =
                                                           req->caller.user;
                call->args[NGX_BOOKING_BOOKINGS_GET_A_ADMIN] =
                                        ngx_booking_flag[req->caller.admin];
                call->nargs = NGX_BOOKING_BOOKINGS_GET_NARGS;
            }

            call->args[call->nargs++] = rand;
        }

        if (part == NULL) {
            return NGX_ERROR;
        }

        part->req = req;
        part->part = k;
        call->data = part;

        if (ngx_booking_store_call(call) != NGX_OK) {
            m->failure = NGX_BOOKING_STORE_UNAVAILABLE;
            break;
        }

        m->pending++;
    }

    if (m->pending > 0) {
        return NGX_DONE;
    }

    if (m->failure != 0) {
        return ngx_booking_op_unavailable(req);
    }

    return ngx_booking_mine_page(req, m);
}


/* one resource's bookings among the page's entries, kept */
static void
ngx_booking_mine_recs(ngx_booking_call_t *call)
{
    ngx_booking_part_t *part = call->data;

    ngx_uint_t           i, j;
    ngx_booking_req_t   *req;
    ngx_booking_mine_t  *m;
    ngx_booking_page_t  *page;

    req = part->req;
    m = req->state;

    if (call->rc != NGX_BOOKING_STORE_OK
        || call->result.kind != NGX_BOOKING_R_RECS)
    {
        m->failure = m->failure ? m->failure
                                : (call->rc != NGX_BOOKING_STORE_OK
                                   ? call->rc : NGX_BOOKING_STORE_FAILED);
    } else {
        page = &call->result.page;

        for (i = 0, j = 0; i < m->n; i++) {
            if (m->part[i] != part->part) {
                continue;
            }

            if (j < page->n && page->recs[j].id.len) {
                m->recs[i] = ngx_booking_rec_copy(req, &page->recs[j]);
                if (m->recs[i] == NULL) {
                    m->failure = NGX_BOOKING_STORE_FAILED;
                }
            }

            j++;
        }
    }

    if (--m->pending > 0) {
        return;
    }

    if (m->failure != 0) {
        call->rc = m->failure;
        ngx_booking_op_done(req, ngx_booking_op_failed(req, call));
        return;
    }

    ngx_booking_op_done(req, ngx_booking_mine_page(req, m));
}


/*
 * The page: the bookings that pass the filters, up to limit, and the
 * cursor after the last entry looked at.  Entries whose booking is gone
 * leave the caller's index (one command, its answer not awaited).
 */
static ngx_int_t
ngx_booking_mine_page(ngx_booking_req_t *req, ngx_booking_mine_t *m)
{
    u_char               *p;
    ngx_str_t             next;
    ngx_uint_t            i, n, gone, last;
    ngx_booking_rec_t   **items;
    ngx_booking_call_t   *zrem;

    items = ngx_palloc(req->pool, (m->n + 1) * sizeof(ngx_booking_rec_t *));
    zrem = ngx_booking_op_call(req, -1, 0, m->n + 2, NGX_BOOKING_R_STATUS,
                               ngx_booking_ignore);
    if (items == NULL || zrem == NULL
        || ngx_booking_user_key(req, &zrem->args[1]) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&zrem->args[0], "ZREM");
    gone = 0;
    n = 0;
    last = m->n;

    for (i = 0; i < m->n; i++) {
        if (m->recs[i] == NULL) {
            if (m->part[i] != NGX_BOOKING_LIST_SCAN) {
                zrem->args[2 + gone++] = m->entries[i];
            }

            continue;
        }

        if (!ngx_booking_list_keeps(req, m->recs[i])) {
            continue;
        }

        items[n++] = m->recs[i];

        if (n == (ngx_uint_t) req->query.limit) {
            last = i;
            break;
        }
    }

    if (gone) {
        zrem->nargs = 2 + gone;
        (void) ngx_booking_store_call(zrem);
    }

    ngx_str_null(&next);

    /* more may follow: the page stopped early, or the scan was full */
    if (last < m->n && (last + 1 < m->n || m->scanned)) {
        i = last;

    } else if (m->scanned) {
        i = m->n - 1;

    } else {
        i = m->n;
    }

    if (i < m->n) {
        p = ngx_pnalloc(req->pool, NGX_INT64_LEN + 1 + m->entries[i].len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (ngx_booking_next(req, p,
                             ngx_sprintf(p, "%L:%V", (int64_t) m->scores[i],
                                         &m->entries[i]) - p,
                             &next)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return ngx_booking_view_bookings(&req->answer, req->pool, items, n,
                                     &next);
}


static void
ngx_booking_ignore(ngx_booking_call_t *call)
{
    /* the index's upkeep: its answer changes nothing of the page */
}


/* the status asked, and a range the booking overlaps */
static ngx_uint_t
ngx_booking_list_keeps(ngx_booking_req_t *req, ngx_booking_rec_t *rec)
{
    ngx_booking_query_t  *q;

    q = &req->query;

    /* the user's index holds waitlist entries too: their claims' ids */
    if (rec->status.len == 7
        && ngx_strncmp(rec->status.data, "waiting", 7) == 0)
    {
        return 0;
    }

    if (q->status_len
        && (rec->status.len != q->status_len
            || ngx_strncmp(rec->status.data, q->status, q->status_len) != 0))
    {
        return 0;
    }

    if (q->set & NGX_BOOKING_Q_FROM) {
        return rec->start >= 0 && rec->start < q->to && rec->end > q->from;
    }

    return 1;
}


/* a cursor for a client: base64url of what the index gave */
static ngx_int_t
ngx_booking_next(ngx_booking_req_t *req, u_char *p, size_t len,
    ngx_str_t *next)
{
    ngx_str_t  src;

    ngx_str_null(next);

    if (len == 0) {
        return NGX_OK;
    }

    src.data = p;
    src.len = len;

    next->data = ngx_pnalloc(req->pool, ngx_base64_encoded_length(len));
    if (next->data == NULL) {
        return NGX_ERROR;
    }

    ngx_encode_base64url(next, &src);

    return NGX_OK;
}


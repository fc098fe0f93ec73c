/*
 * The answers of the API, written from the store's typed results: the
 * spec's JSON (fields that do not apply are left out, never null), and the
 * iCalendar feed.
 */

#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_booking_view.h"


#define NGX_BOOKING_CONFLICTS_MAX  50


static ngx_int_t ngx_booking_view_json(ngx_booking_answer_t *a,
    ngx_uint_t status, ngx_booking_json_t *j);
static void ngx_booking_ical_line(ngx_booking_json_t *j, const char *name,
    int64_t t, ngx_uint_t date);
static void ngx_booking_view_head(ngx_booking_json_t *j,
    ngx_booking_rec_t *rec);
static void ngx_booking_view_range(ngx_booking_json_t *j,
    ngx_booking_rec_t *rec);
static void ngx_booking_view_entry_json(ngx_booking_json_t *j,
    ngx_booking_rec_t *rec);
static void ngx_booking_view_gid(ngx_booking_json_t *j,
    ngx_booking_span_t *rid, ngx_booking_span_t *rand);


static ngx_int_t
ngx_booking_view_json(ngx_booking_answer_t *a, ngx_uint_t status,
    ngx_booking_json_t *j)
{
    a->status = status;
    ngx_str_null(&a->type);

    return ngx_booking_json_done(j, &a->body);
}


ngx_int_t
ngx_booking_view_error(ngx_booking_answer_t *a, ngx_pool_t *pool,
    ngx_uint_t status, ngx_str_t *code, ngx_str_t *message, ngx_str_t *field)
{
    ngx_booking_json_t  j;

    if (ngx_booking_json_init(&j, pool, 256) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_booking_json_lit(&j, "{\"error\":{\"code\":");
    ngx_booking_json_str(&j, code->data, code->len);
    ngx_booking_json_lit(&j, ",\"message\":");
    ngx_booking_json_str(&j, message->data, message->len);

    if (field != NULL && field->len) {
        ngx_booking_json_lit(&j, ",\"field\":");
        ngx_booking_json_str(&j, field->data, field->len);
    }

    ngx_booking_json_lit(&j, "}}");

    a->code = *code;

    return ngx_booking_view_json(a, status, &j);
}


/* 429 of a booking_quota: which, and the period it is full in */
ngx_int_t
ngx_booking_view_quota(ngx_booking_answer_t *a, ngx_pool_t *pool,
    ngx_str_t *quota, int64_t period_start)
{
    u_char              instant[NGX_BOOKING_INSTANT_LEN];
    ngx_booking_json_t  j;

    if (ngx_booking_json_init(&j, pool, 256) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_booking_format_instant(instant, period_start);

    ngx_booking_json_lit(&j, "{\"error\":{\"code\":\"quota\","
                             "\"message\":\"this user's quota is used up "
                             "for this period\",\"quota\":");
    ngx_booking_json_str(&j, quota->data, quota->len);
    ngx_booking_json_lit(&j, ",\"period_start\":");
    ngx_booking_json_str(&j, instant, NGX_BOOKING_INSTANT_LEN);
    ngx_booking_json_lit(&j, "}}");

    ngx_str_set(&a->code, "quota");

    return ngx_booking_view_json(a, NGX_HTTP_TOO_MANY_REQUESTS, &j);
}


ngx_int_t
ngx_booking_view_fail(ngx_booking_answer_t *a, ngx_pool_t *pool,
    ngx_uint_t status, const char *code, const char *message,
    const char *field)
{
    ngx_str_t  c, m, f;

    c.data = (u_char *) code;
    c.len = ngx_strlen(code);
    m.data = (u_char *) message;
    m.len = ngx_strlen(message);

    if (field != NULL) {
        f.data = (u_char *) field;
        f.len = ngx_strlen(field);
    }

    return ngx_booking_view_error(a, pool, status, &c, &m,
                                  field ? &f : NULL);
}


/* a script's refusal, its words as the contract has them */
ngx_int_t
ngx_booking_view_refusal(ngx_booking_answer_t *a, ngx_pool_t *pool,
    ngx_booking_refusal_t *refusal)
{
    ngx_str_t  code, message, field;

    code.data = (u_char *) refusal->code.data;
    code.len = refusal->code.len;
    message.data = (u_char *) refusal->message.data;
    message.len = refusal->message.len;
    field.data = (u_char *) refusal->field.data;
    field.len = refusal->field.len;

    /* the answer outlives the reply the words point into */
    code.data = ngx_pstrdup(pool, &code);

    if (code.data == NULL) {
        return NGX_ERROR;
    }

    return ngx_booking_view_error(a, pool, refusal->status, &code, &message,
                                  &field);
}


/*
 * Too few units free: the runs of the range (buffer included) where fewer
 * units are free than asked, the first NGX_BOOKING_CONFLICTS_MAX of them,
 * found here from the counters the script read; or the stock's free units.
 */
ngx_int_t
ngx_booking_view_conflict(ngx_booking_answer_t *a, ngx_pool_t *pool,
    ngx_booking_conflict_t *c)
{
    u_char              *p, msg[160];
    size_t               n, nruns, i, k;
    ngx_uint_t           date;
    ngx_booking_run_t   *runs;
    ngx_booking_json_t   j;

    if (ngx_booking_json_init(&j, pool, 512) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_str_set(&a->code, "unavailable");
    ngx_booking_json_lit(&j, "{\"error\":{\"code\":\"unavailable\","
                             "\"message\":");

    if (c->slot == 0) {
        p = ngx_sprintf(msg, "%L of %L units are taken",
                        c->capacity - ngx_max(c->free, 0), c->capacity);
        ngx_booking_json_str(&j, msg, p - msg);
        ngx_booking_json_lit(&j, ",\"conflicts\":[{\"free\":");
        ngx_booking_json_int(&j, ngx_max(c->free, 0));
        ngx_booking_json_lit(&j, "}]}}");

        return ngx_booking_view_json(a, NGX_HTTP_CONFLICT, &j);
    }

    n = c->counters.len / 4;
    date = ngx_booking_day_slot(c->slot);

    runs = ngx_palloc(pool, n * sizeof(ngx_booking_run_t));
    if (runs == NULL) {
        return NGX_ERROR;
    }

    nruns = ngx_booking_runs(c->counters.data, n, c->start, c->slot,
                             c->capacity, runs);

    /* only the runs short of the quantity asked are conflicts */
    for (i = 0, k = 0; i < nruns && k < NGX_BOOKING_CONFLICTS_MAX; i++) {
        if (runs[i].units < c->quantity) {
            runs[k++] = runs[i];
        }
    }

    if (k == 0) {
        /* the script saw a slot over capacity: so must we */
        return NGX_DECLINED;
    }

    p = ngx_sprintf(msg, "%L of %L units are taken from ",
                    c->capacity - runs[0].units, c->capacity);
    p = date ? ngx_booking_format_date(p, runs[0].start)
             : ngx_booking_format_instant(p, runs[0].start);
    p = ngx_cpymem(p, " to ", 4);
    p = date ? ngx_booking_format_date(p, runs[0].end)
             : ngx_booking_format_instant(p, runs[0].end);

    ngx_booking_json_str(&j, msg, p - msg);
    ngx_booking_json_lit(&j, ",\"conflicts\":[");

    for (i = 0; i < k; i++) {
        if (i > 0) {
            ngx_booking_json_lit(&j, ",");
        }

        ngx_booking_json_lit(&j, "{\"start\":");
        ngx_booking_json_time(&j, runs[i].start, date);
        ngx_booking_json_lit(&j, ",\"end\":");
        ngx_booking_json_time(&j, runs[i].end, date);
        ngx_booking_json_lit(&j, ",\"free\":");
        ngx_booking_json_int(&j, runs[i].units);
        ngx_booking_json_lit(&j, "}");
    }

    ngx_booking_json_lit(&j, "]}}");

    return ngx_booking_view_json(a, NGX_HTTP_CONFLICT, &j);
}


/* a group's id: "<resource>.<rand>", as a booking's */
static void
ngx_booking_view_gid(ngx_booking_json_t *j, ngx_booking_span_t *rid,
    ngx_booking_span_t *rand)
{
    u_char  *p;

    p = ngx_pnalloc(j->pool, rid->len + 1 + rand->len);
    if (p == NULL) {
        j->failed = 1;
        return;
    }

    ngx_memcpy(p, rid->data, rid->len);
    p[rid->len] = '.';
    ngx_memcpy(p + rid->len + 1, rand->data, rand->len);

    ngx_booking_json_str(j, p, rid->len + 1 + rand->len);
}


/* a booking, as the spec writes it; fields that do not apply are left out */
/* what a booking and a waitlist entry begin with: id, resource, type */
static void
ngx_booking_view_head(ngx_booking_json_t *j, ngx_booking_rec_t *rec)
{
    ngx_booking_json_lit(j, "{\"id\":");
    ngx_booking_json_span(j, &rec->id);
    ngx_booking_json_lit(j, ",\"resource\":");
    ngx_booking_json_span(j, &rec->resource);
    ngx_booking_json_lit(j, ",\"type\":");
    ngx_booking_json_span(j, &rec->type);
}


/* start and end, when they apply: plain dates for day slots */
static void
ngx_booking_view_range(ngx_booking_json_t *j, ngx_booking_rec_t *rec)
{
    ngx_uint_t  date;

    date = ngx_booking_day_slot(rec->slot);

    if (rec->start >= 0) {
        ngx_booking_json_lit(j, ",\"start\":");
        ngx_booking_json_time(j, rec->start, date);
    }

    if (rec->end >= 0) {
        ngx_booking_json_lit(j, ",\"end\":");
        ngx_booking_json_time(j, rec->end, date);
    }
}


void
ngx_booking_view_booking(ngx_booking_json_t *j, ngx_booking_rec_t *rec,
    ngx_str_t *token)
{
    ngx_booking_view_head(j, rec);
    ngx_booking_json_lit(j, ",\"status\":");
    ngx_booking_json_span(j, &rec->status);
    ngx_booking_json_lit(j, ",\"kind\":");
    ngx_booking_json_span(j, &rec->kind);
    ngx_booking_view_range(j, rec);

    ngx_booking_json_lit(j, ",\"quantity\":");
    ngx_booking_json_int(j, rec->quantity);

    if (rec->user.len) {
        ngx_booking_json_lit(j, ",\"user\":");
        ngx_booking_json_span(j, &rec->user);
    }

    if (rec->created_at >= 0) {
        ngx_booking_json_lit(j, ",\"created_at\":");
        ngx_booking_json_time(j, rec->created_at, 0);
    }

    if (rec->expires_at >= 0) {
        ngx_booking_json_lit(j, ",\"expires_at\":");
        ngx_booking_json_time(j, rec->expires_at, 0);
    }

    if (rec->note.len) {
        ngx_booking_json_lit(j, ",\"note\":");
        ngx_booking_json_span(j, &rec->note);
    }

    if (rec->group.len) {
        ngx_booking_json_lit(j, ",\"group\":");
        ngx_booking_json_span(j, &rec->group);
    }

    /* the one answer that carries it: the POST that made the hold */
    if (token != NULL && token->len) {
        ngx_booking_json_lit(j, ",\"token\":");
        ngx_booking_json_str(j, token->data, token->len);
    }

    ngx_booking_json_lit(j, "}");
}


ngx_int_t
ngx_booking_view_one(ngx_booking_answer_t *a, ngx_pool_t *pool,
    ngx_booking_rec_t *rec, ngx_str_t *token)
{
    ngx_booking_json_t  j;

    if (ngx_booking_json_init(&j, pool, 512) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_booking_view_booking(&j, rec, token);

    return ngx_booking_view_json(a, rec->http, &j);
}


/*
 * A waitlist entry: the booking it waits for, its status (waiting,
 * offered, lapsed), its place in line while it waits, and the booking it
 * was offered once it was.
 */
static void
ngx_booking_view_entry_json(ngx_booking_json_t *j, ngx_booking_rec_t *rec)
{
    ngx_booking_view_head(j, rec);
    ngx_booking_view_range(j, rec);

    ngx_booking_json_lit(j, ",\"quantity\":");
    ngx_booking_json_int(j, rec->quantity);
    ngx_booking_json_lit(j, ",\"user\":");
    ngx_booking_json_span(j, &rec->user);
    ngx_booking_json_lit(j, ",\"status\":");
    ngx_booking_json_span(j, &rec->status);

    if (rec->position > 0) {
        ngx_booking_json_lit(j, ",\"position\":");
        ngx_booking_json_int(j, rec->position);
    }

    if (rec->booking.len) {
        ngx_booking_json_lit(j, ",\"booking\":");
        ngx_booking_json_span(j, &rec->booking);
    }

    ngx_booking_json_lit(j, ",\"created_at\":");
    ngx_booking_json_time(j, rec->created_at, 0);
    ngx_booking_json_lit(j, ",\"updated_at\":");
    ngx_booking_json_time(j, rec->updated_at, 0);
    ngx_booking_json_lit(j, "}");
}


ngx_int_t
ngx_booking_view_entry(ngx_booking_answer_t *a, ngx_pool_t *pool,
    ngx_booking_rec_t *rec)
{
    ngx_booking_json_t  j;

    if (ngx_booking_json_init(&j, pool, 512) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_booking_view_entry_json(&j, rec);

    return ngx_booking_view_json(a, rec->http, &j);
}


/* {"items":[...]}: a resource's waiting line, in order */
ngx_int_t
ngx_booking_view_entries(ngx_booking_answer_t *a, ngx_pool_t *pool,
    ngx_booking_rec_t *recs, ngx_uint_t n)
{
    ngx_uint_t          i;
    ngx_booking_json_t  j;

    if (ngx_booking_json_init(&j, pool, 1024) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_booking_json_lit(&j, "{\"items\":[");

    for (i = 0; i < n; i++) {
        if (i > 0) {
            ngx_booking_json_lit(&j, ",");
        }

        ngx_booking_view_entry_json(&j, &recs[i]);
    }

    ngx_booking_json_lit(&j, "]}");

    return ngx_booking_view_json(a, NGX_HTTP_OK, &j);
}


/* {"items":[...],"next":cursor}; next is the cursor, already encoded */
ngx_int_t
ngx_booking_view_bookings(ngx_booking_answer_t *a, ngx_pool_t *pool,
    ngx_booking_rec_t **recs, ngx_uint_t n, ngx_str_t *next)
{
    ngx_uint_t          i;
    ngx_booking_json_t  j;

    if (ngx_booking_json_init(&j, pool, 1024) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_booking_json_lit(&j, "{\"items\":[");

    for (i = 0; i < n; i++) {
        if (i > 0) {
            ngx_booking_json_lit(&j, ",");
        }

        ngx_booking_view_booking(&j, recs[i], NULL);
    }

    ngx_booking_json_lit(&j, "]");

    if (next != NULL && next->len) {
        ngx_booking_json_lit(&j, ",\"next\":");
        ngx_booking_json_str(&j, next->data, next->len);
    }

    ngx_booking_json_lit(&j, "}");

    return ngx_booking_view_json(a, NGX_HTTP_OK, &j);
}


/* the stored document with its two instants added */
ngx_int_t
ngx_booking_view_resource(ngx_booking_answer_t *a, ngx_pool_t *pool,
    ngx_uint_t status, ngx_booking_doc_t *doc)
{
    ngx_booking_json_t  j;

    if (ngx_booking_json_init(&j, pool, doc->doc.len + 128) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_booking_json_raw(&j, (u_char *) doc->doc.data, doc->doc.len - 1);
    ngx_booking_json_lit(&j, ",\"created_at\":");
    ngx_booking_json_time(&j, doc->created_at, 0);
    ngx_booking_json_lit(&j, ",\"updated_at\":");
    ngx_booking_json_time(&j, doc->updated_at, 0);
    ngx_booking_json_lit(&j, "}");

    return ngx_booking_view_json(a, status, &j);
}


/*
 * The free units over the range as runs, from the counters the script
 * read: turning them into runs is done here, in the worker, so that
 * Redis's one thread only copies bytes.  slot_text is the slot as
 * nginx.conf writes it, when the type still has it.
 */
ngx_int_t
ngx_booking_view_availability(ngx_booking_answer_t *a, ngx_pool_t *pool,
    ngx_str_t *id, ngx_str_t *slot_text, ngx_booking_avail_t *av,
    u_char *counters, ngx_booking_closed_t *closed)
{
    size_t               nruns;
    ngx_uint_t           date;
    ngx_booking_run_t   *runs, *cut;
    ngx_booking_json_t   j;

    if (ngx_booking_json_init(&j, pool, 512) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_booking_json_lit(&j, "{\"resource\":");
    ngx_booking_json_str(&j, id->data, id->len);
    ngx_booking_json_lit(&j, ",\"type\":");
    ngx_booking_json_span(&j, &av->type);
    ngx_booking_json_lit(&j, ",\"slot\":");

    if (slot_text != NULL) {
        ngx_booking_json_str(&j, slot_text->data, slot_text->len);

    } else {
        ngx_booking_json_slot(&j, av->slot);
    }

    ngx_booking_json_lit(&j, ",\"capacity\":");
    ngx_booking_json_int(&j, av->capacity);

    if (av->slot == 0) {
        ngx_booking_json_lit(&j, ",\"free\":");
        ngx_booking_json_int(&j, ngx_max(0, av->capacity - av->used));
        ngx_booking_json_lit(&j, "}");

        return ngx_booking_view_json(a, NGX_HTTP_OK, &j);
    }

    date = ngx_booking_day_slot(av->slot);

    runs = ngx_palloc(pool, av->n * sizeof(ngx_booking_run_t));
    if (runs == NULL) {
        return NGX_ERROR;
    }

    nruns = ngx_booking_runs(counters, av->n, av->start, av->slot,
                             av->capacity, runs);

    if (closed != NULL && closed->n) {
        cut = ngx_palloc(pool, (nruns + 2 * closed->n)
                               * sizeof(ngx_booking_run_t));
        if (cut == NULL) {
            return NGX_ERROR;
        }

        nruns = ngx_booking_runs_close(runs, nruns, closed->start,
                                       closed->end, closed->n, cut);
        runs = cut;
    }

    ngx_booking_json_lit(&j, ",\"from\":");
    ngx_booking_json_time(&j, av->start, date);
    ngx_booking_json_lit(&j, ",\"to\":");
    ngx_booking_json_time(&j, av->start + (int64_t) av->n * av->slot, date);
    ngx_booking_json_lit(&j, ",\"free\":[");

    if (ngx_booking_json_reserve(&j, nruns * NGX_BOOKING_RUN_JSON_LEN)
        == NGX_OK)
    {
        j.pos = ngx_booking_runs_json(j.pos, runs, nruns, date);
    }

    ngx_booking_json_lit(&j, "]}");

    return ngx_booking_view_json(a, NGX_HTTP_OK, &j);
}


/* {"items":[doc + free + distance_m, ...],"next":cursor} */
ngx_int_t
ngx_booking_view_listing(ngx_booking_answer_t *a, ngx_pool_t *pool,
    ngx_booking_item_t *items, ngx_uint_t n, ngx_str_t *next)
{
    ngx_uint_t          i;
    ngx_booking_json_t  j;

    if (ngx_booking_json_init(&j, pool, 4096) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_booking_json_lit(&j, "{\"items\":[");

    for (i = 0; i < n; i++) {
        if (i > 0) {
            ngx_booking_json_lit(&j, ",");
        }

        ngx_booking_json_raw(&j, items[i].doc.data, items[i].doc.len - 1);

        if (items[i].free >= 0) {
            ngx_booking_json_lit(&j, ",\"free\":");
            ngx_booking_json_int(&j, items[i].free);
        }

        if (items[i].dist >= 0) {
            ngx_booking_json_lit(&j, ",\"distance_m\":");
            ngx_booking_json_int(&j, (int64_t) (items[i].dist + 0.5));
        }

        ngx_booking_json_lit(&j, "}");
    }

    ngx_booking_json_lit(&j, "]");

    if (next != NULL && next->len) {
        ngx_booking_json_lit(&j, ",\"next\":");
        ngx_booking_json_str(&j, next->data, next->len);
    }

    ngx_booking_json_lit(&j, "}");

    return ngx_booking_view_json(a, NGX_HTTP_OK, &j);
}


/*
 * An RFC 5545 calendar: the lines are written unfolded, then folded at 75
 * octets in one pass.
 */
ngx_int_t
ngx_booking_view_calendar(ngx_booking_answer_t *a, ngx_pool_t *pool,
    ngx_str_t *id, ngx_booking_calendar_t *cal)
{
    ngx_uint_t            i, date;
    ngx_booking_json_t    j;
    ngx_booking_event_t  *ev;

    if (ngx_booking_json_init(&j, pool, 1024) != NGX_OK) {
        return NGX_ERROR;
    }

    date = ngx_booking_day_slot(cal->slot);

    ngx_booking_json_lit(&j, "BEGIN:VCALENDAR\r\n"
                             "VERSION:2.0\r\n"
                             "PRODID:-//ngx_booking//calendar feed//EN\r\n"
                             "CALSCALE:GREGORIAN\r\n"
                             "METHOD:PUBLISH\r\n"
                             "X-WR-CALNAME:");

    ngx_booking_json_ical(&j, (u_char *) cal->name.data, cal->name.len);
    ngx_booking_json_lit(&j, "\r\n");

    for (i = 0; i < cal->n; i++) {
        ev = &cal->events[i];

        ngx_booking_json_lit(&j, "BEGIN:VEVENT\r\nUID:");
        ngx_booking_json_ical(&j, id->data, id->len);
        ngx_booking_json_lit(&j, ".");
        ngx_booking_json_raw(&j, (u_char *) ev->rand.data, ev->rand.len);
        ngx_booking_json_lit(&j, "@ngx_booking\r\n");
        ngx_booking_ical_line(&j, "DTSTAMP", ev->updated_at, 0);
        ngx_booking_ical_line(&j, "DTSTART", ev->start, date);
        ngx_booking_ical_line(&j, "DTEND", ev->end, date);

        if (ev->block) {
            ngx_booking_json_lit(&j, "SUMMARY:Blocked\r\n");

        } else {
            ngx_booking_json_lit(&j, "SUMMARY:Busy\r\n");
        }

        ngx_booking_json_lit(&j, "TRANSP:OPAQUE\r\nEND:VEVENT\r\n");
    }

    ngx_booking_json_lit(&j, "END:VCALENDAR\r\n");

    if (j.failed) {
        return NGX_ERROR;
    }

    a->status = NGX_HTTP_OK;
    ngx_str_set(&a->type, "text/calendar; charset=utf-8");

    a->body.len = ngx_booking_ical_fold_len(j.start, j.pos - j.start);
    a->body.data = ngx_pnalloc(pool, a->body.len);
    if (a->body.data == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_booking_ical_fold(a->body.data, j.start, j.pos - j.start);

    return NGX_OK;
}


/* "NAME:20261201T100000Z" or, for day slots, "NAME;VALUE=DATE:20261201" */
static void
ngx_booking_ical_line(ngx_booking_json_t *j, const char *name, int64_t t,
    ngx_uint_t date)
{
    u_char  buf[NGX_BOOKING_INSTANT_LEN], out[32], *p;

    ngx_booking_json_raw(j, (u_char *) name, ngx_strlen(name));

    if (date) {
        ngx_booking_json_lit(j, ";VALUE=DATE:");
        (void) ngx_booking_format_date(buf, t);
        p = ngx_cpymem(out, buf, 4);
        p = ngx_cpymem(p, buf + 5, 2);
        p = ngx_cpymem(p, buf + 8, 2);

    } else {
        ngx_booking_json_lit(j, ":");
        (void) ngx_booking_format_instant(buf, t);
        p = ngx_cpymem(out, buf, 4);
        p = ngx_cpymem(p, buf + 5, 2);
        p = ngx_cpymem(p, buf + 8, 3);
        p = ngx_cpymem(p, buf + 11, 2);
        p = ngx_cpymem(p, buf + 14, 2);
        p = ngx_cpymem(p, buf + 17, 3);
    }

    ngx_booking_json_raw(j, out, p - out);
    ngx_booking_json_lit(j, "\r\n");
}


/*
 * A group: its id, kind and the status its bookings share ("mixed" when
 * they differ), the bookings, the occurrences skipped, the token of a
 * hold; or, refused, the error with every occurrence that did not fit.
 */
ngx_int_t
ngx_booking_view_group(ngx_booking_answer_t *a, ngx_pool_t *pool,
    ngx_booking_group_t *g, ngx_str_t *rid, ngx_str_t *token)
{
    ngx_str_t            code;
    ngx_uint_t           i;
    ngx_booking_span_t   id, *status;
    ngx_booking_rec_t   *rec;
    ngx_booking_json_t   j;

    if (ngx_booking_json_init(&j, pool, 1024) != NGX_OK) {
        return NGX_ERROR;
    }

    if (g->http >= 300) {
        code.data = (u_char *) g->code.data;
        code.len = g->code.len;

        a->code.data = ngx_pstrdup(pool, &code);
        a->code.len = code.len;

        if (a->code.data == NULL) {
            return NGX_ERROR;
        }

        ngx_booking_json_lit(&j, "{\"error\":{\"code\":");
        ngx_booking_json_span(&j, &g->code);
        ngx_booking_json_lit(&j, ",\"message\":");
        ngx_booking_json_span(&j, &g->message);

        if (g->field.len) {
            ngx_booking_json_lit(&j, ",\"field\":");
            ngx_booking_json_span(&j, &g->field);
        }

        /* the script's own JSON: the occurrences or items refused */
        if (g->listed.len) {
            ngx_booking_json_lit(&j, ",\"conflicts\":");
            ngx_booking_json_raw(&j, (u_char *) g->listed.data,
                                 g->listed.len);
        }

        ngx_booking_json_lit(&j, "}}");

        return ngx_booking_view_json(a, g->http, &j);
    }

    rec = g->items.recs;
    status = NULL;

    for (i = 0; i < g->items.n; i++) {
        if (status == NULL) {
            status = &rec[i].status;

        } else if (status->len != rec[i].status.len
                   || ngx_strncmp(status->data, rec[i].status.data,
                                  status->len) != 0)
        {
            break;
        }
    }

    id.data = rid->data;
    id.len = rid->len;

    ngx_booking_json_lit(&j, "{\"group\":");
    ngx_booking_view_gid(&j, &id, &g->rand);
    ngx_booking_json_lit(&j, ",\"kind\":");
    ngx_booking_json_span(&j, &g->kind);
    ngx_booking_json_lit(&j, ",\"status\":");

    if (status == NULL) {
        ngx_booking_json_lit(&j, "\"empty\"");

    } else if (i < g->items.n) {
        ngx_booking_json_lit(&j, "\"mixed\"");

    } else {
        ngx_booking_json_span(&j, status);
    }

    ngx_booking_json_lit(&j, ",\"bookings\":[");

    for (i = 0; i < g->items.n; i++) {
        if (i) {
            ngx_booking_json_lit(&j, ",");
        }

        ngx_booking_view_booking(&j, &rec[i], NULL);
    }

    ngx_booking_json_lit(&j, "]");

    if (g->listed.len) {
        ngx_booking_json_lit(&j, ",\"skipped\":");
        ngx_booking_json_raw(&j, (u_char *) g->listed.data, g->listed.len);
    }

    if (token != NULL && token->len) {
        ngx_booking_json_lit(&j, ",\"token\":");
        ngx_booking_json_str(&j, token->data, token->len);
    }

    ngx_booking_json_lit(&j, "}");

    return ngx_booking_view_json(a, g->http, &j);
}

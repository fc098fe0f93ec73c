/*
 * Request bodies: POST /bookings and PUT /resources/{id}.
 *
 * Plain C and jansson, no nginx: the same code runs in the module, in the
 * unit tests and under the fuzzer.  400 is for what cannot be read (JSON,
 * a missing field, a wrong JSON type); 422 for what was read but breaks a
 * rule.
 */

#include <string.h>

#include <jansson.h>

#include "ngx_booking_core.h"
#include "ngx_booking_tz.h"


#define NGX_BOOKING_TITLE_MAX      1024
#define NGX_BOOKING_RESOURCE_GROUPS_MAX     64


static void *ngx_booking_perr(json_t *root, ngx_booking_perr_t *err,
    int status, const char *code, const char *message, const char *field);
static json_t *ngx_booking_load(const u_char *body, size_t len,
    ngx_booking_perr_t *err);
static int ngx_booking_only(json_t *root, const char **fields,
    ngx_booking_perr_t *err);
static int ngx_booking_time_field(json_t *root, const char *name,
    int64_t *t, ngx_booking_perr_t *err);
static int ngx_booking_location(json_t *v, ngx_booking_rreq_t *res,
    ngx_booking_perr_t *err);
static int ngx_booking_groups(json_t *v, ngx_booking_perr_t *err);
static int ngx_booking_part(json_t *o, const u_char **resource,
    size_t *resource_len, int64_t *start, int64_t *end, int64_t *quantity,
    ngx_booking_perr_t *err);
static int ngx_booking_items(json_t *root, json_t *v, ngx_booking_breq_t *b,
    ngx_booking_perr_t *err);


static const char  *ngx_booking_booking_fields[] = {
    "resource", "start", "end", "quantity", "hold", "kind", "note",
    "repeat", "skip_conflicts", "items", NULL
};

static const char  *ngx_booking_item_fields[] = {
    "resource", "start", "end", "quantity", NULL
};

static const char  *ngx_booking_repeat_fields[] = {
    "freq", "interval", "count", "until", NULL
};

static const char  *ngx_booking_resource_fields[] = {
    "type", "capacity", "title", "owner", "location", "attributes", "groups",
    "hours",
    NULL
};


int
ngx_booking_perr_set(ngx_booking_perr_t *err, int status, const char *code,
    const char *message, const char *field)
{
    err->status = status;
    err->code = code;
    err->message = message;
    err->field = field;

    return NGX_BOOKING_ERROR;
}


static void *
ngx_booking_perr(json_t *root, ngx_booking_perr_t *err, int status,
    const char *code, const char *message, const char *field)
{
    (void) ngx_booking_perr_set(err, status, code, message, field);

    json_decref(root);

    return NULL;
}


static json_t *
ngx_booking_load(const u_char *body, size_t len, ngx_booking_perr_t *err)
{
    json_t        *root;
    json_error_t   jerr;

    root = json_loadb((const char *) body, len, JSON_REJECT_DUPLICATES,
                      &jerr);

    if (root == NULL) {
        strncpy(err->text, jerr.text, sizeof(err->text) - 1);
        err->text[sizeof(err->text) - 1] = '\0';
        return ngx_booking_perr(NULL, err, 400, "invalid_json", err->text,
                                NULL);
    }

    if (!json_is_object(root)) {
        return ngx_booking_perr(root, err, 400, "bad_request",
                                "the body must be a JSON object", NULL);
    }

    return root;
}


/* every key of root is one of fields; else 422 naming the stranger */
static int
ngx_booking_only(json_t *root, const char **fields, ngx_booking_perr_t *err)
{
    size_t       i;
    json_t      *v;
    const char  *key;

    json_object_foreach(root, key, v) {
        for (i = 0; fields[i] != NULL; i++) {
            if (strcmp(key, fields[i]) == 0) {
                break;
            }
        }

        if (fields[i] == NULL) {
            err->status = 422;
            err->code = "invalid";
            err->message = "unknown field";

            if (strlen(key) >= sizeof(err->text)) {
                err->field = "";
                return NGX_BOOKING_ERROR;
            }

            strcpy(err->text, key);
            err->field = err->text;

            return NGX_BOOKING_ERROR;
        }
    }

    return NGX_BOOKING_OK;
}


void *
ngx_booking_parse_booking(const u_char *body, size_t len,
    ngx_booking_breq_t *b, ngx_booking_perr_t *err)
{
    int      rc;
    json_t  *root, *v;

    memset(b, 0, sizeof(ngx_booking_breq_t));
    b->kind = (const u_char *) "booking";
    b->kind_len = 7;
    b->note = (const u_char *) "";
    b->quantity = 1;
    b->start = -1;
    b->end = -1;

    root = ngx_booking_load(body, len, err);
    if (root == NULL) {
        return NULL;
    }

    if (ngx_booking_only(root, ngx_booking_booking_fields, err)
        != NGX_BOOKING_OK)
    {
        json_decref(root);
        return NULL;
    }

    v = json_object_get(root, "items");

    if (v != NULL) {
        rc = ngx_booking_items(root, v, b, err);

    } else {
        rc = ngx_booking_part(root, &b->resource, &b->resource_len, &b->start,
                              &b->end, &b->quantity, err);
    }

    if (rc != NGX_BOOKING_OK) {
        json_decref(root);
        return NULL;
    }

    v = json_object_get(root, "hold");
    if (v != NULL) {
        if (!json_is_boolean(v)) {
            return ngx_booking_perr(root, err, 400, "bad_request",
                                    "hold must be true or false", "hold");
        }

        b->hold = json_is_true(v);
    }

    v = json_object_get(root, "kind");
    if (v != NULL) {
        if (!json_is_string(v)) {
            return ngx_booking_perr(root, err, 400, "bad_request",
                                    "kind must be a string", "kind");
        }

        b->kind = (const u_char *) json_string_value(v);
        b->kind_len = json_string_length(v);

        if (!(b->kind_len == 7 && memcmp(b->kind, "booking", 7) == 0)
            && !(b->kind_len == 5 && memcmp(b->kind, "block", 5) == 0))
        {
            return ngx_booking_perr(root, err, 422, "invalid",
                                    "kind is \"booking\" or \"block\"",
                                    "kind");
        }
    }

    v = json_object_get(root, "note");
    if (v != NULL) {
        if (!json_is_string(v)) {
            return ngx_booking_perr(root, err, 400, "bad_request",
                                    "note must be a string", "note");
        }

        if (json_string_length(v) > NGX_BOOKING_NOTE_MAX) {
            return ngx_booking_perr(root, err, 422, "invalid",
                                    "note is longer than 1000 bytes",
                                    "note");
        }

        b->note = (const u_char *) json_string_value(v);
        b->note_len = json_string_length(v);
    }

    /* a series: read by ngx_booking_parse_repeat, with the type's zone */
    b->repeat = json_object_get(root, "repeat");

    v = json_object_get(root, "skip_conflicts");
    if (v != NULL) {
        if (!json_is_boolean(v)) {
            return ngx_booking_perr(root, err, 400, "bad_request",
                                    "skip_conflicts must be true or false",
                                    "skip_conflicts");
        }

        if (b->repeat == NULL) {
            return ngx_booking_perr(root, err, 422, "invalid",
                                    "skip_conflicts goes with repeat",
                                    "skip_conflicts");
        }

        b->skip = json_is_true(v);
    }

    return root;
}


static int
ngx_booking_time_field(json_t *root, const char *name, int64_t *t,
    ngx_booking_perr_t *err)
{
    json_t                 *v;
    ngx_booking_instant_t   in;

    *t = -1;

    v = json_object_get(root, name);
    if (v == NULL) {
        return NGX_BOOKING_OK;
    }

    if (!json_is_string(v)
        || ngx_booking_parse_instant((const u_char *) json_string_value(v),
                                     json_string_length(v), &in)
           != NGX_BOOKING_OK)
    {
        ngx_booking_perr(NULL, err, 400, "bad_request",
                         "not an RFC 3339 date or date-time", name);
        return NGX_BOOKING_ERROR;
    }

    if (in.fraction) {
        ngx_booking_perr(NULL, err, 422, "invalid", "not on a slot boundary",
                         name);
        return NGX_BOOKING_ERROR;
    }

    *t = in.t;

    return NGX_BOOKING_OK;
}


void *
ngx_booking_parse_resource(const u_char *body, size_t len,
    ngx_booking_rreq_t *res, ngx_booking_perr_t *err)
{
    json_t      *root, *v;
    json_int_t   n;

    memset(res, 0, sizeof(ngx_booking_rreq_t));
    res->capacity = 1;

    root = ngx_booking_load(body, len, err);
    if (root == NULL) {
        return NULL;
    }

    if (ngx_booking_only(root, ngx_booking_resource_fields, err)
        != NGX_BOOKING_OK)
    {
        json_decref(root);
        return NULL;
    }

    v = json_object_get(root, "type");
    if (v == NULL) {
        return ngx_booking_perr(root, err, 400, "bad_request",
                                "type is required", "type");
    }

    if (!json_is_string(v)) {
        return ngx_booking_perr(root, err, 400, "bad_request",
                                "type must be a string", "type");
    }

    res->type = (const u_char *) json_string_value(v);
    res->type_len = json_string_length(v);

    v = json_object_get(root, "capacity");
    if (v != NULL) {
        if (!json_is_integer(v)) {
            return ngx_booking_perr(root, err, 400, "bad_request",
                                    "capacity must be an integer",
                                    "capacity");
        }

        n = json_integer_value(v);
        if (n < 1 || n > NGX_BOOKING_CAPACITY_MAX) {
            return ngx_booking_perr(root, err, 422, "invalid",
                                    "capacity must be 1 to 1000000",
                                    "capacity");
        }

        res->capacity = n;
    }

    v = json_object_get(root, "title");
    if (v != NULL) {
        if (!json_is_string(v)) {
            return ngx_booking_perr(root, err, 400, "bad_request",
                                    "title must be a string", "title");
        }

        if (json_string_length(v) > NGX_BOOKING_TITLE_MAX) {
            return ngx_booking_perr(root, err, 422, "invalid",
                                    "title is longer than 1024 bytes",
                                    "title");
        }
    }

    v = json_object_get(root, "owner");
    if (v != NULL) {
        if (!json_is_string(v)) {
            return ngx_booking_perr(root, err, 400, "bad_request",
                                    "owner must be a string", "owner");
        }

        if (json_string_length(v) == 0
            || json_string_length(v) > NGX_BOOKING_USER_MAX)
        {
            return ngx_booking_perr(root, err, 422, "invalid",
                                    "owner must be 1 to 128 bytes", "owner");
        }

        res->owner = (const u_char *) json_string_value(v);
        res->owner_len = json_string_length(v);
    }

    v = json_object_get(root, "attributes");
    if (v != NULL && !json_is_object(v)) {
        return ngx_booking_perr(root, err, 400, "bad_request",
                                "attributes must be an object",
                                "attributes");
    }

    v = json_object_get(root, "location");
    if (v != NULL && ngx_booking_location(v, res, err) != NGX_BOOKING_OK) {
        json_decref(root);
        return NULL;
    }

    v = json_object_get(root, "groups");
    if (v != NULL && ngx_booking_groups(v, err) != NGX_BOOKING_OK) {
        json_decref(root);
        return NULL;
    }

    return root;
}


static int
ngx_booking_location(json_t *v, ngx_booking_rreq_t *res,
    ngx_booking_perr_t *err)
{
    json_t      *e, *lat, *lon;
    const char  *key;

    if (!json_is_object(v)) {
        ngx_booking_perr(NULL, err, 400, "bad_request",
                         "location must be an object", "location");
        return NGX_BOOKING_ERROR;
    }

    json_object_foreach(v, key, e) {
        if (strcmp(key, "lat") != 0 && strcmp(key, "lon") != 0) {
            ngx_booking_perr(NULL, err, 422, "invalid",
                             "location holds only lat and lon", "location");
            return NGX_BOOKING_ERROR;
        }
    }

    lat = json_object_get(v, "lat");
    lon = json_object_get(v, "lon");

    if (!json_is_number(lat) || !json_is_number(lon)) {
        ngx_booking_perr(NULL, err, 400, "bad_request",
                         "location needs numbers lat and lon", "location");
        return NGX_BOOKING_ERROR;
    }

    res->lat = json_number_value(lat);
    res->lon = json_number_value(lon);

    if (!(res->lat >= -NGX_BOOKING_LAT_MAX && res->lat <= NGX_BOOKING_LAT_MAX
          && res->lon >= -NGX_BOOKING_LON_MAX
          && res->lon <= NGX_BOOKING_LON_MAX))
    {
        ngx_booking_perr(NULL, err, 422, "invalid",
                         "lat must be within +-85.05112878 and lon within "
                         "+-180", "location");
        return NGX_BOOKING_ERROR;
    }

    res->located = 1;

    return NGX_BOOKING_OK;
}


static int
ngx_booking_groups(json_t *v, ngx_booking_perr_t *err)
{
    size_t   i;
    json_t  *g;

    if (!json_is_array(v)) {
        ngx_booking_perr(NULL, err, 400, "bad_request",
                         "groups must be an array of strings", "groups");
        return NGX_BOOKING_ERROR;
    }

    if (json_array_size(v) > NGX_BOOKING_RESOURCE_GROUPS_MAX) {
        ngx_booking_perr(NULL, err, 422, "invalid", "at most 64 groups",
                         "groups");
        return NGX_BOOKING_ERROR;
    }

    json_array_foreach(v, i, g) {
        if (!json_is_string(g)) {
            ngx_booking_perr(NULL, err, 400, "bad_request",
                             "groups must be an array of strings", "groups");
            return NGX_BOOKING_ERROR;
        }

        if (json_string_length(g) == 0 || json_string_length(g) > 64
            || memchr(json_string_value(g), ',', json_string_length(g))
               != NULL)
        {
            ngx_booking_perr(NULL, err, 422, "invalid",
                             "a group is 1 to 64 bytes without a comma",
                             "groups");
            return NGX_BOOKING_ERROR;
        }
    }

    return NGX_BOOKING_OK;
}


/* what a booking, or an item of a group, books: resource, range, units */
static int
ngx_booking_part(json_t *o, const u_char **resource, size_t *resource_len,
    int64_t *start, int64_t *end, int64_t *quantity, ngx_booking_perr_t *err)
{
    json_t  *v;

    *quantity = 1;
    *start = -1;
    *end = -1;

    v = json_object_get(o, "resource");
    if (!json_is_string(v)) {
        return ngx_booking_perr_set(err, 400, "bad_request",
                                    v ? "resource must be a string"
                                      : "resource is required",
                                    "resource");
    }

    *resource = (const u_char *) json_string_value(v);
    *resource_len = json_string_length(v);

    if (ngx_booking_time_field(o, "start", start, err) != NGX_BOOKING_OK
        || ngx_booking_time_field(o, "end", end, err) != NGX_BOOKING_OK)
    {
        return NGX_BOOKING_ERROR;
    }

    if (*start >= 0 && *end >= 0 && *end <= *start) {
        return ngx_booking_perr_set(err, 422, "invalid",
                                    "end must be after start", "end");
    }

    v = json_object_get(o, "quantity");
    if (v == NULL) {
        return NGX_BOOKING_OK;
    }

    if (!json_is_integer(v)) {
        return ngx_booking_perr_set(err, 400, "bad_request",
                                    "quantity must be an integer",
                                    "quantity");
    }

    *quantity = json_integer_value(v);

    if (*quantity < 1 || *quantity > NGX_BOOKING_CAPACITY_MAX) {
        return ngx_booking_perr_set(err, 422, "invalid",
                                    "quantity must be at least 1 and at "
                                    "most the capacity", "quantity");
    }

    return NGX_BOOKING_OK;
}


/*
 * "items" (SPEC §6): 2 to 16 objects of resource, start, end, quantity,
 * booked all or none; the body's hold, kind and note apply to each.  An
 * item's error names the field "items", its words the item's field.
 */
static int
ngx_booking_items(json_t *root, json_t *v, ngx_booking_breq_t *b,
    ngx_booking_perr_t *err)
{
    size_t               i;
    json_t              *o;
    ngx_booking_ireq_t  *p;
    static const char   *alone[] = { "resource", "start", "end", "quantity",
                                     "repeat", NULL };

    for (i = 0; alone[i] != NULL; i++) {
        if (json_object_get(root, alone[i]) != NULL) {
            return ngx_booking_perr_set(err, 422, "invalid",
                                        "with items, each item has its own "
                                        "resource, start, end and quantity; "
                                        "and a group does not repeat",
                                        alone[i]);
        }
    }

    if (!json_is_array(v)) {
        return ngx_booking_perr_set(err, 400, "bad_request",
                                    "items must be an array", "items");
    }

    if (json_array_size(v) < 2
        || json_array_size(v) > NGX_BOOKING_ITEMS_MAX)
    {
        return ngx_booking_perr_set(err, 422, "invalid",
                                    "a group has 2 to 16 items", "items");
    }

    for (i = 0; i < json_array_size(v); i++) {
        o = json_array_get(v, i);
        p = &b->items[i];

        if (!json_is_object(o)) {
            return ngx_booking_perr_set(err, 400, "bad_request",
                                        "an item must be an object", "items");
        }

        if (ngx_booking_only(o, ngx_booking_item_fields, err)
            != NGX_BOOKING_OK
            || ngx_booking_part(o, &p->resource, &p->resource_len, &p->start,
                                &p->end, &p->quantity, err)
               != NGX_BOOKING_OK)
        {
            err->field = "items";
            return NGX_BOOKING_ERROR;
        }
    }

    b->nitems = json_array_size(v);

    /* the first item's resource names the group's */
    b->resource = b->items[0].resource;
    b->resource_len = b->items[0].resource_len;

    return NGX_BOOKING_OK;
}


/*
 * A booking's "repeat" (SPEC §6): {"freq":"daily|weekly|monthly",
 * "interval":1, "count":N | "until":"YYYY-MM-DD"}; until is a date of the
 * type's zone, kept as its day number.  Its own errors name the field as
 * "repeat.<name>".
 */
int
ngx_booking_parse_repeat(json_t *v, ngx_booking_repeat_t *r,
    ngx_booking_perr_t *err)
{
    json_t                 *f, *count, *until;
    const char             *s;
    ngx_booking_instant_t   in;

    memset(r, 0, sizeof(ngx_booking_repeat_t));
    r->interval = 1;

    if (!json_is_object(v)) {
        ngx_booking_perr(NULL, err, 400, "bad_request",
                         "repeat must be an object", "repeat");
        return NGX_BOOKING_ERROR;
    }

    if (ngx_booking_only(v, ngx_booking_repeat_fields, err)
        != NGX_BOOKING_OK)
    {
        return NGX_BOOKING_ERROR;
    }

    f = json_object_get(v, "freq");
    s = json_is_string(f) ? json_string_value(f) : "";

    r->freq = (strcmp(s, "daily") == 0) ? NGX_BOOKING_FREQ_DAILY
              : (strcmp(s, "weekly") == 0) ? NGX_BOOKING_FREQ_WEEKLY
              : (strcmp(s, "monthly") == 0) ? NGX_BOOKING_FREQ_MONTHLY : 0;

    if (r->freq == 0 || json_string_length(f) != strlen(s)) {
        ngx_booking_perr(NULL, err, 422, "invalid",
                         "freq is daily, weekly or monthly", "repeat.freq");
        return NGX_BOOKING_ERROR;
    }

    f = json_object_get(v, "interval");

    if (f != NULL) {
        if (!json_is_integer(f) || json_integer_value(f) < 1
            || json_integer_value(f) > NGX_BOOKING_INTERVAL_MAX)
        {
            ngx_booking_perr(NULL, err, 422, "invalid",
                             "interval is a whole number from 1 to 1000",
                             "repeat.interval");
            return NGX_BOOKING_ERROR;
        }

        r->interval = json_integer_value(f);
    }

    count = json_object_get(v, "count");
    until = json_object_get(v, "until");

    if ((count == NULL) == (until == NULL)) {
        ngx_booking_perr(NULL, err, 422, "invalid",
                         "one of count and until is needed", "repeat");
        return NGX_BOOKING_ERROR;
    }

    if (count != NULL) {
        if (!json_is_integer(count) || json_integer_value(count) < 1
            || json_integer_value(count) > NGX_BOOKING_REPEAT_MAX)
        {
            ngx_booking_perr(NULL, err, 422, "invalid",
                             "count is a whole number from 1 to 200",
                             "repeat.count");
            return NGX_BOOKING_ERROR;
        }

        r->count = json_integer_value(count);
        return NGX_BOOKING_OK;
    }

    if (!json_is_string(until)
        || json_string_length(until) != NGX_BOOKING_DATE_LEN
        || ngx_booking_parse_instant((const u_char *) json_string_value(until),
                                     NGX_BOOKING_DATE_LEN, &in)
           != NGX_BOOKING_OK)
    {
        ngx_booking_perr(NULL, err, 400, "bad_request",
                         "until is a date, YYYY-MM-DD", "repeat.until");
        return NGX_BOOKING_ERROR;
    }

    r->until = in.t / 86400;

    return NGX_BOOKING_OK;
}

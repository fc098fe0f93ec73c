/*
 * A small JSON writer into a pool: room is reserved as it is needed, and a
 * failed allocation is remembered, so that a writer's caller checks once.
 */

#include <ngx_config.h>
#include <ngx_core.h>

#include <jansson.h>

#include "ngx_booking_view.h"


ngx_int_t
ngx_booking_json_init(ngx_booking_json_t *j, ngx_pool_t *pool, size_t size)
{
    j->pool = pool;
    j->failed = 0;

    j->start = ngx_pnalloc(pool, size);
    if (j->start == NULL) {
        j->failed = 1;
        return NGX_ERROR;
    }

    j->pos = j->start;
    j->end = j->start + size;

    return NGX_OK;
}


ngx_int_t
ngx_booking_json_reserve(ngx_booking_json_t *j, size_t n)
{
    u_char  *p;
    size_t   size, used;

    if (j->failed) {
        return NGX_ERROR;
    }

    if ((size_t) (j->end - j->pos) >= n) {
        return NGX_OK;
    }

    used = j->pos - j->start;
    size = (j->end - j->start) * 2;

    while (size < used + n) {
        size *= 2;
    }

    p = ngx_pnalloc(j->pool, size);
    if (p == NULL) {
        j->failed = 1;
        return NGX_ERROR;
    }

    ngx_memcpy(p, j->start, used);

    j->start = p;
    j->pos = p + used;
    j->end = p + size;

    return NGX_OK;
}


void
ngx_booking_json_raw(ngx_booking_json_t *j, u_char *s, size_t len)
{
    if (ngx_booking_json_reserve(j, len) == NGX_OK) {
        j->pos = ngx_cpymem(j->pos, s, len);
    }
}


void
ngx_booking_json_str(ngx_booking_json_t *j, u_char *s, size_t len)
{
    if (ngx_booking_json_reserve(j, ngx_booking_json_escape_len(s, len) + 2)
        == NGX_OK)
    {
        *j->pos++ = '"';
        j->pos = ngx_booking_json_escape(j->pos, s, len);
        *j->pos++ = '"';
    }
}


void
ngx_booking_json_int(ngx_booking_json_t *j, int64_t n)
{
    if (ngx_booking_json_reserve(j, NGX_INT64_LEN) == NGX_OK) {
        j->pos = ngx_sprintf(j->pos, "%L", n);
    }
}


void
ngx_booking_json_time(ngx_booking_json_t *j, int64_t t, ngx_uint_t date)
{
    if (ngx_booking_json_reserve(j, NGX_BOOKING_INSTANT_LEN + 2) != NGX_OK) {
        return;
    }

    *j->pos++ = '"';
    j->pos = date ? ngx_booking_format_date(j->pos, t)
                  : ngx_booking_format_instant(j->pos, t);
    *j->pos++ = '"';
}


/*
 * Any JSON value that jansson read, written back compactly.  A real gets the
 * fewest digits that read back as the same double: 48.39 stays 48.39, and
 * 3.141592653589793 keeps all of its.
 */
void
ngx_booking_json_value(ngx_booking_json_t *j, json_t *v)
{
    u_char       buf[32], *p;
    size_t       i;
    double       d;
    json_t      *e;
    ngx_uint_t   first, prec;
    const char  *key;

    switch (json_typeof(v)) {

    case JSON_OBJECT:
        ngx_booking_json_lit(j, "{");
        first = 1;

        json_object_foreach(v, key, e) {
            if (!first) {
                ngx_booking_json_lit(j, ",");
            }

            first = 0;
            ngx_booking_json_str(j, (u_char *) key, ngx_strlen(key));
            ngx_booking_json_lit(j, ":");
            ngx_booking_json_value(j, e);
        }

        ngx_booking_json_lit(j, "}");
        break;

    case JSON_ARRAY:
        ngx_booking_json_lit(j, "[");

        json_array_foreach(v, i, e) {
            if (i) {
                ngx_booking_json_lit(j, ",");
            }

            ngx_booking_json_value(j, e);
        }

        ngx_booking_json_lit(j, "]");
        break;

    case JSON_STRING:
        ngx_booking_json_str(j, (u_char *) json_string_value(v),
                             json_string_length(v));
        break;

    case JSON_INTEGER:
        ngx_booking_json_int(j, json_integer_value(v));
        break;

    case JSON_REAL:
        d = json_real_value(v);

        /* at PUT time only: the loop's cost is no matter */
        for (prec = 1; prec < 17; prec++) {
            (void) snprintf((char *) buf, sizeof(buf), "%.*g", (int) prec, d);

            if (strtod((char *) buf, NULL) == d) {
                break;
            }
        }

        (void) snprintf((char *) buf, sizeof(buf), "%.*g", (int) prec, d);

        /* still a real when it reads back: 2.0 is written "2.0" */
        p = buf + ngx_strlen(buf);

        if (ngx_strlchr(buf, p, '.') == NULL
            && ngx_strlchr(buf, p, 'e') == NULL)
        {
            *p++ = '.';
            *p++ = '0';
        }

        ngx_booking_json_raw(j, buf, p - buf);
        break;

    case JSON_TRUE:
        ngx_booking_json_lit(j, "true");
        break;

    case JSON_FALSE:
        ngx_booking_json_lit(j, "false");
        break;

    default:
        ngx_booking_json_lit(j, "null");
    }
}


/* a slot length as nginx.conf would write it: "1d", "1h", "30m" */
void
ngx_booking_json_slot(ngx_booking_json_t *j, int64_t slot)
{
    if (ngx_booking_json_reserve(j, NGX_INT64_LEN + 3) != NGX_OK) {
        return;
    }

    if (slot == 0) {
        j->pos = ngx_cpymem(j->pos, "\"none\"", 6);

    } else if (ngx_booking_day_slot(slot)) {
        j->pos = ngx_sprintf(j->pos, "\"%Ld\"", slot / 86400);

    } else if (slot % 3600 == 0) {
        j->pos = ngx_sprintf(j->pos, "\"%Lh\"", slot / 3600);

    } else if (slot % 60 == 0) {
        j->pos = ngx_sprintf(j->pos, "\"%Lm\"", slot / 60);

    } else {
        j->pos = ngx_sprintf(j->pos, "\"%Ls\"", slot);
    }
}


/* iCalendar TEXT, escaped */
void
ngx_booking_json_ical(ngx_booking_json_t *j, u_char *s, size_t len)
{
    if (ngx_booking_json_reserve(j, ngx_booking_ical_escape_len(s, len))
        == NGX_OK)
    {
        j->pos = ngx_booking_ical_escape(j->pos, s, len);
    }
}




void
ngx_booking_json_span(ngx_booking_json_t *j, ngx_booking_span_t *s)
{
    ngx_booking_json_str(j, (u_char *) s->data, s->len);
}


ngx_int_t
ngx_booking_json_done(ngx_booking_json_t *j, ngx_str_t *body)
{
    /* a newline ends every answer, for people reading them in a terminal */
    ngx_booking_json_lit(j, "\n");

    if (j->failed) {
        return NGX_ERROR;
    }

    body->data = j->start;
    body->len = j->pos - j->start;

    return NGX_OK;
}

/*
 * Writing answers: a small JSON writer into the request pool, and the
 * helpers that send a JSON body or the JSON error of the spec.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_booking_module.h"
#include "ngx_booking_cache.h"




static ngx_str_t  ngx_booking_json_type = ngx_string("application/json");


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

    } else if (slot % 86400 == 0) {
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


ngx_int_t
ngx_booking_send_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_booking_json_t *j)
{
    uint32_t            etag;
    ngx_str_t           body;
    ngx_booking_ctx_t  *ctx;

    /* a newline ends every answer, for people reading them in a terminal */
    ngx_booking_json_lit(j, "\n");

    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);

    if (ctx != NULL && ctx->cacheable && status == NGX_HTTP_OK
        && !j->failed)
    {
        body.data = j->start;
        body.len = j->pos - j->start;
        etag = ngx_crc32_long(body.data, body.len);

        if (ctx->caching) {
            ngx_booking_cache_store(r, body.data, body.len, etag);
        }

        return ngx_booking_send_cached(r, &body, etag);
    }

    if (ctx != NULL && ctx->caching) {
        ngx_booking_cache_abandon(r);
    }

    if (j->failed) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body.data = j->start;
    body.len = j->pos - j->start;

    return ngx_booking_send_body(r, status, &ngx_booking_json_type, &body);
}


ngx_int_t
ngx_booking_send_body(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_str_t *body)
{
    ngx_int_t           rc;
    ngx_buf_t          *b;
    ngx_chain_t         out;
    ngx_booking_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);
    if (ctx != NULL) {
        ctx->answered = 1;
    }

    r->headers_out.status = status;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = body->len;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = body->data;
    b->last = body->data + body->len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * A cacheable answer: its ETag (the body's CRC32 and length), how long
 * shared caches may keep it, and 304 when the client has it already.
 */
ngx_int_t
ngx_booking_send_cached(ngx_http_request_t *r, ngx_str_t *body,
    uint32_t etag)
{
    u_char                   *p;
    ngx_str_t                 tag;
    ngx_table_elt_t          *h, *inm;
    ngx_booking_main_conf_t  *bmcf;

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_booking_module);

    p = ngx_pnalloc(r->pool, 64);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    tag.data = p;
    tag.len = ngx_sprintf(p, "\"%08xD-%xz\"", etag, body->len) - p;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "ETag");
    h->value = tag;
    r->headers_out.etag = h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Cache-Control");
    h->value.data = ngx_pnalloc(r->pool, sizeof("public, max-age=")
                                         + NGX_INT64_LEN);
    if (h->value.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->value.len = ngx_sprintf(h->value.data, "public, max-age=%L",
                               bmcf->cache_valid)
                   - h->value.data;

    inm = r->headers_in.if_none_match;

    if (inm != NULL
        && ((inm->value.len == 1 && inm->value.data[0] == '*')
            || ngx_strlcasestrn(inm->value.data,
                                inm->value.data + inm->value.len,
                                tag.data, tag.len - 1)
               != NULL))
    {
        return ngx_booking_send_empty(r, NGX_HTTP_NOT_MODIFIED);
    }

    return ngx_booking_send_body(r, NGX_HTTP_OK, &ngx_booking_json_type,
                                 body);
}


ngx_int_t
ngx_booking_send_empty(ngx_http_request_t *r, ngx_uint_t status)
{
    ngx_booking_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_booking_module);
    if (ctx != NULL) {
        ctx->answered = 1;
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    return ngx_http_send_header(r);
}


ngx_int_t
ngx_booking_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message, const char *field)
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

    return ngx_booking_send_error_str(r, status, &c, &m,
                                      field ? &f : NULL);
}


/* a NUL-terminated copy in the pool; "" if there is no memory for it */
char *
ngx_booking_strdup(ngx_pool_t *pool, const char *s)
{
    char    *p;
    size_t   len;

    len = ngx_strlen(s) + 1;

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return "";
    }

    ngx_memcpy(p, s, len);

    return p;
}


ngx_int_t
ngx_booking_send_err(ngx_http_request_t *r, ngx_booking_err_t *e)
{
    if (e->status == NGX_HTTP_INTERNAL_SERVER_ERROR && e->code == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_booking_send_error(r, e->status, e->code, e->message,
                                  e->field);
}


ngx_int_t
ngx_booking_send_error_str(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *code, ngx_str_t *message, ngx_str_t *field)
{
    ngx_booking_json_t  j;

    if (ngx_booking_json_init(&j, r->pool, 256) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
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

    return ngx_booking_send_json(r, status, &j);
}

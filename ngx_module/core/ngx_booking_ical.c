/*
 * iCalendar text: escaping of TEXT values and folding of content lines
 * (RFC 5545, 3.1 and 3.3.11).
 */

#include <string.h>

#include "ngx_booking_core.h"


#define NGX_BOOKING_ICAL_LINE  75


static size_t ngx_booking_ical_cut(const u_char *p, size_t avail);
static size_t ngx_booking_ical_fold_to(u_char *dst, const u_char *s,
    size_t n);


size_t
ngx_booking_ical_escape_len(const u_char *s, size_t n)
{
    size_t  i, len;

    len = 0;

    for (i = 0; i < n; i++) {
        switch (s[i]) {

        case '\\': case ';': case ',': case '\n':
            len += 2;
            break;

        default:
            len += (s[i] < 0x20 || s[i] == 0x7f) ? 0 : 1;
        }
    }

    return len;
}


u_char *
ngx_booking_ical_escape(u_char *dst, const u_char *s, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        switch (s[i]) {

        case '\\': case ';': case ',':
            *dst++ = '\\';
            *dst++ = s[i];
            break;

        case '\n':
            *dst++ = '\\';
            *dst++ = 'n';
            break;

        default:
            /* CR, tabs and the like would break the line structure */
            if (s[i] >= 0x20 && s[i] != 0x7f) {
                *dst++ = s[i];
            }
        }
    }

    return dst;
}


/*
 * How many octets of a line may go on this physical line: at most avail,
 * and never ending inside a UTF-8 sequence, so that a reader that unfolds
 * byte by byte and one that checks each line's encoding both agree.
 */
static size_t
ngx_booking_ical_cut(const u_char *p, size_t avail)
{
    size_t  cut;

    cut = avail;

    while (cut > 0 && (p[cut] & 0xc0) == 0x80) {
        cut--;
    }

    /* a run of continuation bytes longer than a sequence: invalid input */
    return (cut == 0 || avail - cut > 3) ? avail : cut;
}


/* dst NULL: only counts what would be written */
static size_t
ngx_booking_ical_fold_to(u_char *dst, const u_char *s, size_t n)
{
    size_t         len, line, cut, avail;
    const u_char  *p, *end, *eol;

    len = 0;
    p = s;
    end = s + n;

    while (p < end) {
        for (eol = p; eol < end && *eol != '\r' && *eol != '\n'; eol++) {
            /* void */
        }

        line = eol - p;
        avail = NGX_BOOKING_ICAL_LINE;

        while (line > avail) {
            cut = ngx_booking_ical_cut(p, avail);

            if (dst != NULL) {
                memcpy(dst + len, p, cut);
                memcpy(dst + len + cut, "\r\n ", 3);
            }

            len += cut + 3;
            p += cut;
            line -= cut;
            avail = NGX_BOOKING_ICAL_LINE - 1;
        }

        if (dst != NULL) {
            memcpy(dst + len, p, line);
            memcpy(dst + len + line, "\r\n", 2);
        }

        len += line + 2;
        p = eol;

        if (p < end && *p == '\r') {
            p++;
        }

        if (p < end && *p == '\n') {
            p++;
        }
    }

    return len;
}


size_t
ngx_booking_ical_fold_len(const u_char *s, size_t n)
{
    return ngx_booking_ical_fold_to(NULL, s, n);
}


u_char *
ngx_booking_ical_fold(u_char *dst, const u_char *s, size_t n)
{
    return dst + ngx_booking_ical_fold_to(dst, s, n);
}

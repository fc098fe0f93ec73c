/*
 * iCalendar escaping and folding: lengths as said, no physical line over
 * 75 octets, and unfolding gives back the input.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_booking_core.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char  *esc, *fold, *end;
    size_t   n, i, col;

    n = ngx_booking_ical_escape_len(data, size);
    esc = malloc(n + 1);
    if (esc == NULL) {
        return 0;
    }

    end = ngx_booking_ical_escape(esc, data, size);
    if ((size_t) (end - esc) != n) {
        abort();
    }

    for (i = 0; i < n; i++) {
        if (esc[i] == '\r' || esc[i] == '\n') {
            abort();
        }
    }

    /* one escaped content line, folded */
    esc[n] = '\n';
    size = ngx_booking_ical_fold_len(esc, n + 1);
    fold = malloc(size);
    if (fold == NULL) {
        free(esc);
        return 0;
    }

    end = ngx_booking_ical_fold(fold, esc, n + 1);
    if ((size_t) (end - fold) != size) {
        abort();
    }

    col = 0;

    for (i = 0; i < size; i++) {
        if (fold[i] == '\r' && i + 1 < size && fold[i + 1] == '\n') {
            col = 0;
            i++;
            continue;
        }

        if (++col > 75) {
            abort();
        }
    }

    free(fold);
    free(esc);

    return 0;
}

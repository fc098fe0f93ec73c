/*
 * Time zones and calendar periods (SPEC §5, quotas): a zone of the
 * system's tzdata as a table of its UTC offsets, and the day, week (from
 * Monday) or month of that zone an instant falls in.  Plain C, no nginx.
 */

#ifndef _NGX_BOOKING_TZ_H_INCLUDED_
#define _NGX_BOOKING_TZ_H_INCLUDED_


#include "ngx_booking_core.h"


#define NGX_BOOKING_PER_DAY     1
#define NGX_BOOKING_PER_WEEK    2
#define NGX_BOOKING_PER_MONTH   3

/* the table covers 1970 to 2200; after, the offset of 2200 is kept */
#define NGX_BOOKING_TZ_END      7258118400LL

#define NGX_BOOKING_TZ_NAME_MAX 64


typedef struct {
    size_t      n;
    int64_t    *at;             /* instants where the offset changes */
    int32_t    *off;            /* the offset from at[i] on */
    int32_t     first;          /* the offset before at[0] */
} ngx_booking_tz_t;


/*
 * Reads the zone "name" of /usr/share/zoneinfo (an IANA name; "UTC" needs
 * no file).  Only when nothing else runs: it sets TZ for the time it reads
 * and puts it back.  NGX_BOOKING_OK, or an error with err written.
 */
int ngx_booking_tz_load(ngx_booking_tz_t *tz, const char *name, char *err,
    size_t err_len);
void ngx_booking_tz_free(ngx_booking_tz_t *tz);

/* seconds east of UTC at t */
int32_t ngx_booking_tz_offset(const ngx_booking_tz_t *tz, int64_t t);

/* the first instant at which the zone's clock shows local (or past it) */
int64_t ngx_booking_tz_instant(const ngx_booking_tz_t *tz, int64_t local);

/* the period (per) of the zone that t falls in: [*start, *next) */
void ngx_booking_tz_period(const ngx_booking_tz_t *tz, int per, int64_t t,
    int64_t *start, int64_t *next);


/*
 * Recurring bookings (SPEC §6): the occurrences of one booking's range,
 * every interval days, weeks or months of the zone's wall clock, so that
 * 18:00 stays 18:00 across daylight-saving changes; monthly keeps the day
 * of the month and skips the months without it (a skipped month makes no
 * occurrence and counts for nothing).  count occurrences, or those whose
 * local start date is until or before (a day number, days since
 * 1970-01-01).
 */
#define NGX_BOOKING_FREQ_DAILY      1
#define NGX_BOOKING_FREQ_WEEKLY     2
#define NGX_BOOKING_FREQ_MONTHLY    3

#define NGX_BOOKING_REPEAT_MAX      200    /* repeat_max can be no more */
#define NGX_BOOKING_REPEAT_DEFAULT  52
#define NGX_BOOKING_INTERVAL_MAX    1000

typedef struct {
    int         freq;
    int64_t     interval;       /* 1 to NGX_BOOKING_INTERVAL_MAX */
    int64_t     count;          /* 0: until */
    int64_t     until;          /* a local day; with count 0 only */
} ngx_booking_repeat_t;

/*
 * Writes the n occurrences of [start, end) (instants) into starts[] and
 * ends[], the first being [start, end) itself.  NGX_BOOKING_DECLINED
 * when there would be more than max, or none; NGX_BOOKING_ERROR for a
 * rule that cannot be (an interval or count out of bounds, a range that
 * ends before it starts).
 */
/* a body's "repeat" object (jansson's), checked: NGX_BOOKING_OK or err */
struct json_t;
int ngx_booking_parse_repeat(struct json_t *v, ngx_booking_repeat_t *r,
    ngx_booking_perr_t *err);

int ngx_booking_repeat_expand(const ngx_booking_tz_t *tz,
    const ngx_booking_repeat_t *r, int64_t start, int64_t end, size_t max,
    int64_t *starts, int64_t *ends, size_t *n);


/*
 * Opening hours of a resource (SPEC §6): weekly intervals of the local
 * day, Monday first, in minutes (an end of 1440 is midnight after), and
 * closed dates (local day numbers, in order).  Days with no interval are
 * closed.
 */
#define NGX_BOOKING_HOURS_DAY_MAX   8       /* intervals of one day */
#define NGX_BOOKING_CLOSED_MAX      366     /* closed dates */

typedef struct {
    uint16_t    open[7][NGX_BOOKING_HOURS_DAY_MAX][2];
    uint8_t     n[7];
    size_t      nclosed;
    int64_t     closed[NGX_BOOKING_CLOSED_MAX];
} ngx_booking_hours_t;

/* a resource's "hours" object (jansson's), checked: NGX_BOOKING_OK or err */
int ngx_booking_parse_hours(struct json_t *v, ngx_booking_hours_t *h,
    ngx_booking_perr_t *err);

/*
 * The compact form the scripts read (" D:F-T" an interval, " xN" a closed
 * day), back: NGX_BOOKING_ERROR for anything else.
 */
int ngx_booking_hours_unpack(const u_char *p, size_t len,
    ngx_booking_hours_t *h);

/* whether every interval starts and ends on a slot boundary of the type */
int ngx_booking_hours_fit(const ngx_booking_hours_t *h, int64_t slot);

/*
 * Whether [s, e) lies within one open interval of the zone's wall clock:
 * NGX_BOOKING_OK; 1 when s does not (outside hours, or a closed date),
 * 2 when s does and e goes past the interval's end.
 */
int ngx_booking_hours_open(const ngx_booking_hours_t *h,
    const ngx_booking_tz_t *tz, int64_t s, int64_t e);

/*
 * The closed time within [from, to) as ranges in order, merged: at most
 * max of them (NGX_BOOKING_DECLINED past that).
 */
int ngx_booking_hours_closed(const ngx_booking_hours_t *h,
    const ngx_booking_tz_t *tz, int64_t from, int64_t to, int64_t *starts,
    int64_t *ends, size_t max, size_t *n);


#endif /* _NGX_BOOKING_TZ_H_INCLUDED_ */

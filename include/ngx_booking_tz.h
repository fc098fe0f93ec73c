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


#endif /* _NGX_BOOKING_TZ_H_INCLUDED_ */

/*
 * The Redis scripts, embedded by config from the .lua files in
 * ngx_module/scripts.
 * Each operation's text is common.lua followed by its own file; sha1 is the
 * hex SHA-1 of that text, as EVALSHA names it.
 */

#ifndef _NGX_BOOKING_SCRIPTS_H_INCLUDED_
#define _NGX_BOOKING_SCRIPTS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


typedef struct {
    ngx_str_t   name;
    ngx_str_t   text;
    u_char      sha1[40];
} ngx_booking_script_t;


/* in the order of BOOKING_SCRIPTS in config */
typedef enum {
    NGX_BOOKING_SCRIPT_RESOURCE_PUT = 0,
    NGX_BOOKING_SCRIPT_RESOURCE_DELETE,
    NGX_BOOKING_SCRIPT_AVAILABILITY,
    NGX_BOOKING_SCRIPT_BOOKING_CREATE,
    NGX_BOOKING_SCRIPT_BOOKING_ACT,
    NGX_BOOKING_SCRIPT_BOOKING_GET,
    NGX_BOOKING_SCRIPT_BOOKINGS_LIST,
    NGX_BOOKING_SCRIPT_RESOURCE_FREE,
    NGX_BOOKING_SCRIPT_CALENDAR,
    NGX_BOOKING_SCRIPT_N
} ngx_booking_script_e;


extern ngx_booking_script_t  ngx_booking_scripts[];


#endif /* _NGX_BOOKING_SCRIPTS_H_INCLUDED_ */

/*
 * The Redis scripts, embedded by config from ngx_module/scripts: each
 * operation's text is its "#!lua" line, the contract's prelude for it,
 * common.lua, then its own body, in the order of the contract (the
 * NGX_BOOKING_SCRIPT_* of ngx_booking_contract.h).  sha1 is the hex SHA-1
 * of the text, as EVALSHA names it.
 */

#ifndef _NGX_BOOKING_SCRIPTS_H_INCLUDED_
#define _NGX_BOOKING_SCRIPTS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


typedef struct {
    ngx_str_t   name;
    ngx_str_t   text;
    u_char      sha1[40];
    ngx_uint_t  reads;      /* "#!lua flags=no-writes": it writes nothing */
} ngx_booking_script_t;


extern ngx_booking_script_t  ngx_booking_scripts[];


#endif /* _NGX_BOOKING_SCRIPTS_H_INCLUDED_ */

/*
 * The Redis scripts, embedded by config from ngx_module/scripts, in the
 * order of the contract (the NGX_BOOKING_SCRIPT_* of
 * ngx_booking_contract.h).  Each is there twice: as a function library
 * (library, whose one function is named function), which FCALL runs, and
 * as the text EVAL runs where the function is missing: its "#!lua" line,
 * the contract's prelude for it, the parts of common.lua it uses, then
 * its own body.
 */

#ifndef _NGX_BOOKING_SCRIPTS_H_INCLUDED_
#define _NGX_BOOKING_SCRIPTS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


typedef struct {
    ngx_str_t   name;
    ngx_str_t   text;
    ngx_str_t   library;
    ngx_str_t   function;
    ngx_uint_t  reads;      /* "#!lua flags=no-writes": it writes nothing */
} ngx_booking_script_t;


extern ngx_booking_script_t  ngx_booking_scripts[];


#endif /* _NGX_BOOKING_SCRIPTS_H_INCLUDED_ */

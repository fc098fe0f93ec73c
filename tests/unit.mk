# Unit tests of the booking core, run from the repository root:
#
#     make -f tests/unit.mk unit
#
# or included by the top-level Makefile.  The core is plain C on purpose, so
# it builds here without an nginx tree.

UNIT_SRCS = ngx_module/ngx_booking_time.c \
            ngx_module/ngx_booking_text.c \
            ngx_module/ngx_booking_runs.c \
            ngx_module/ngx_booking_token.c \
            ngx_module/ngx_booking_ical.c \
            ngx_module/ngx_booking_parse.c \
            ngx_module/ngx_booking_route.c \
            ngx_module/ngx_booking_replies.c

UNIT_CC = cc
UNIT_CFLAGS = -std=gnu99 -Wall -Wextra -Werror -O1 -g -Iinclude
UNIT_LIBS = -lcmocka -lcrypto -ljansson -lhiredis

UNIT_BINS = build/tests/test_core build/tests/test_token build/tests/test_ical \
            build/tests/test_route build/tests/test_replies

.PHONY: unit

unit: $(UNIT_BINS)
	@for t in $(UNIT_BINS); do ./$$t || exit 1; done

build/tests/%: tests/%.c $(UNIT_SRCS) include/ngx_booking_core.h
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(UNIT_CFLAGS) -o $@ $(UNIT_SRCS) $< $(UNIT_LIBS)

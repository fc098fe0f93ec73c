# Unit tests of the booking core, run from the repository root:
#
#     make -f tests/unit.mk unit
#
# or included by the top-level Makefile.  The core is plain C on purpose, so
# it builds here without an nginx tree.

# the core, and the store's reply decoding (plain C and hiredis's types)
UNIT_SRCS = $(wildcard ngx_module/core/*.c) ngx_module/store/ngx_booking_reply.c

# the contract's header, as config makes it for the module
CONTRACT_H = build/contract/ngx_booking_contract.h

UNIT_CC = cc
UNIT_CFLAGS = -std=gnu99 -Wall -Wextra -Werror -O1 -g -Iinclude -Ibuild/contract
UNIT_LIBS = -lcmocka -lcrypto -ljansson -lhiredis

UNIT_BINS = build/tests/test_core build/tests/test_token build/tests/test_ical \
            build/tests/test_route build/tests/test_replies \
            build/tests/test_keys build/tests/test_query \
            build/tests/test_metrics build/tests/test_jwt \
            build/tests/test_tz

.PHONY: unit

unit: $(UNIT_BINS)
	@for t in $(UNIT_BINS); do ./$$t || exit 1; done

$(CONTRACT_H): ngx_module/scripts/contract ngx_module/scripts/contract.awk
	@mkdir -p $(dir $@)
	awk -v mode=c -f ngx_module/scripts/contract.awk $< > $@

build/tests/%: tests/%.c $(UNIT_SRCS) $(wildcard include/*.h) $(CONTRACT_H)
	@mkdir -p $(dir $@)
	@echo "cc $@"
	@$(UNIT_CC) $(UNIT_CFLAGS) -o $@ $(UNIT_SRCS) $< $(UNIT_LIBS)

# Fault injection and soak runs (tests/fault/), for the top-level Makefile:
#
#     include tests/fault/fault.mk
#
#   make fault                     every scenario (kill pause oom clientkill
#                                  reload upgrade), about 4 minutes
#   make fault FAULT_ARGS="--seconds 30 kill upgrade"
#   make soak [SOAK_MINUTES=10]    RSS of the workers under a steady load
#   make fault-selftest            the checker sees damage done in Redis

FAULT_ARGS   ?=
SOAK_MINUTES ?= 10

.PHONY: fault soak fault-selftest

fault: module
	perl tests/fault/run.pl $(FAULT_ARGS)

soak: module
	perl tests/fault/soak.pl --minutes $(SOAK_MINUTES)

fault-selftest: module
	perl tests/fault/selftest.pl

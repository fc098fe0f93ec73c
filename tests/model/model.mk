# make model [SEED=n] [STEPS=n] [SECONDS=n] [SKIP=reload,...]: the model-based test of the
# capacity invariant (t/80-model.t), for as long as asked.  make test runs
# it for about a minute.

SECONDS_MODEL ?= 600

.PHONY: model

model: module
	BOOKING_MODEL_SEED=$(SEED) BOOKING_MODEL_STEPS=$(STEPS) BOOKING_MODEL_SKIP=$(SKIP) \
	BOOKING_MODEL_SECONDS=$(or $(SECONDS),$(SECONDS_MODEL)) \
	    prove -v -I t/lib t/80-model.t

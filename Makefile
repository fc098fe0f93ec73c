# ngx_booking: build, demo and tests on Debian bookworm.
#
#   make run    install what is missing, build, start Redis and nginx with
#               demo data on loopback, print what to try   (make stop)
#   make test   the same setup, then every test

NGX_SRC    ?= /usr/share/nginx/src
NGINX      ?= /usr/sbin/nginx
BUILD      := $(CURDIR)/build
NGX_BUILD  := $(BUILD)/nginx-src
MODULE     := $(BUILD)/ngx_http_booking_module.so
RUN_DIR    := $(BUILD)/run

PACKAGES   := nginx-core nginx-dev libhiredis-dev libpcre2-dev libssl-dev \
              libjansson-dev zlib1g-dev redis-server redis-tools \
              libcmocka-dev make gcc perl curl

# what the tests need on top: a real browser for the demo page, promtool,
# and an implementation of JWT that is not ours (t/39)
TEST_PACKAGES := chromium prometheus python3-jwt python3-cryptography

CC_OPT     := -g -O2 -fPIC -fstack-protector-strong -Wall -Wextra \
              -Wno-unused-parameter -Werror $(EXTRA_CC_OPT)
LD_OPT     := $(EXTRA_LD_OPT)

MODULE_SRCS := config $(wildcard ngx_module/*.c ngx_module/*/*.c include/*.h \
                                 ngx_module/scripts/*.lua ngx_module/scripts/contract*)

.PHONY: all module deps test-deps run stop test test-asan unit t clean layers openapi-lint \
        test-one-slot test-cluster deb test-deb

all: module

module: deps $(MODULE)

include tests/unit.mk
include tests/fuzz/fuzz.mk
include tests/fault/fault.mk
include tests/bench/bench.mk
include tests/model/model.mk

deps:
	@sh conf/deps.sh $(PACKAGES)

# The packaged nginx source is copied so that configure writes nothing
# under /usr; the flags are Debian's own so the module is binary compatible.
$(NGX_BUILD)/.configured: config $(wildcard ngx_module/scripts/*)
	rm -rf $(NGX_BUILD)
	mkdir -p $(BUILD)
	cp -r $(NGX_SRC) $(NGX_BUILD)
	cd $(NGX_BUILD) && bash -c '. ./conf_flags && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" --with-compat \
	        --with-cc-opt="$(CC_OPT)" --with-ld-opt="$(LD_OPT)" \
	        --add-dynamic-module=$(CURDIR)' > $(BUILD)/configure.log 2>&1 \
	    || { tail -30 $(BUILD)/configure.log; exit 1; }
	touch $@

$(MODULE): $(NGX_BUILD)/.configured $(MODULE_SRCS)
	$(MAKE) -s -C $(NGX_BUILD) -f objs/Makefile modules
	@# a new file, renamed over: an nginx running with the old one keeps it
	cp $(NGX_BUILD)/objs/ngx_http_booking_module.so $@.tmp
	mv -f $@.tmp $@

layers:
	perl tests/layers.pl

run: module
	@sh conf/run.sh start $(RUN_DIR) $(MODULE)

stop:
	@sh conf/run.sh stop $(RUN_DIR)

test-deps:
	@sh conf/deps.sh $(TEST_PACKAGES)
	@command -v npm >/dev/null || sh conf/deps.sh nodejs npm
	@cd tests/browser && [ -d node_modules/playwright-core ] \
	    || npm ci --no-audit --no-fund --loglevel=error
	@cd tests/openapi && [ -d node_modules/ajv ] \
	    || npm ci --no-audit --no-fund --loglevel=error

# every JSON answer the integration tests get, checked against the
# OpenAPI document once they have run (tests/openapi/validate.mjs)
ANSWERS := $(BUILD)/answers.jsonl

test: module test-deps
	perl tests/layers.pl
	$(MAKE) unit
	$(MAKE) fuzz-replay
	$(MAKE) openapi-lint
	@mkdir -p $(BUILD) && rm -f $(ANSWERS)
	BOOKING_ANSWERS=$(ANSWERS) prove -I t/lib t/
	node tests/openapi/validate.mjs conf/openapi.yaml $(ANSWERS)
	$(MAKE) test-cluster

# the OpenAPI document of the HTTP API, linted by Redocly's CLI (its
# recommended rules, no telemetry)
openapi-lint: test-deps
	REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
	    tests/openapi/node_modules/.bin/redocly lint conf/openapi.yaml

# The tests that talk to Redis through the API, again against a real Redis
# Cluster of three masters and three replicas on loopback (redis-cli
# --cluster create, t/lib/BookingCluster.pm), nginx with
# booking_redis_cluster: the keys of their resources spread over all the
# masters, and Redis refuses (CROSSSLOT) any script whose keys are not of
# one slot.  The others set Redis up their own way (a password, a
# database, replicas, sentinels, a cluster of their own: t/27), or count
# what one Redis server sees (t/41).
CLUSTER_TESTS := t/10-resources.t t/11-availability.t t/30-bookings.t \
                 t/31-rules.t t/32-expiry.t t/33-access.t \
                 t/34-idempotency.t t/35-upkeep.t t/36-invariant.t \
                 t/37-internal.t t/38-extend.t t/39-jwt.t t/40-race.t \
                 t/42-waitlist.t t/43-hours.t t/44-series.t t/45-groups.t \
                 t/46-series-quotas.t \
                 t/60-listing.t \
                 t/61-cache.t \
                 t/62-calendar.t t/63-reads.t t/64-log-vars.t t/65-spans.t \
                 t/66-quota.t t/66-quota-periods.t t/67-metrics.t t/68-events.t \
                 t/70-hostile.t t/72-bounds.t t/80-model.t

test-cluster: module
	BOOKING_CLUSTER=1 BOOKING_MODEL_SECONDS=20 prove -I t/lib $(CLUSTER_TESTS)

# The same tests against one Redis in cluster mode that owns every slot:
# quicker, for the one-slot rule alone (README, "What spans resources").
test-one-slot: module
	BOOKING_ONE_SLOT=1 BOOKING_MODEL_SECONDS=20 prove -I t/lib $(CLUSTER_TESTS)

# The module built with ASan and UBSan, loaded by the packaged nginx with
# their runtimes preloaded (t/lib/BookingTest.pm, BOOKING_ASAN=1).
ASAN_SRC   := $(BUILD)/asan-src
ASAN_OPT   := -g -O1 -fPIC -fsanitize=address,undefined -fno-omit-frame-pointer

$(ASAN_SRC)/.configured: config $(wildcard ngx_module/scripts/*)
	rm -rf $(ASAN_SRC)
	mkdir -p $(BUILD)
	cp -r $(NGX_SRC) $(ASAN_SRC)
	cd $(ASAN_SRC) && bash -c '. ./conf_flags && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" --with-compat \
	        --with-cc-opt="$(ASAN_OPT)" \
	        --with-ld-opt="-fsanitize=address,undefined" \
	        --add-dynamic-module=$(CURDIR)' > $(BUILD)/asan-configure.log 2>&1 \
	    || { tail -30 $(BUILD)/asan-configure.log; exit 1; }
	touch $@

$(BUILD)/asan/ngx_http_booking_module.so: $(ASAN_SRC)/.configured $(MODULE_SRCS)
	$(MAKE) -s -C $(ASAN_SRC) -f objs/Makefile modules
	mkdir -p $(BUILD)/asan
	cp $(ASAN_SRC)/objs/ngx_http_booking_module.so $@.tmp
	mv -f $@.tmp $@

test-asan: deps test-deps $(BUILD)/asan/ngx_http_booking_module.so
	BOOKING_ASAN=1 BOOKING_MODULE=$(BUILD)/asan/ngx_http_booking_module.so \
	    prove -I t/lib t/

# libnginx-mod-http-booking, built by Debian's own tooling for nginx
# modules (debian/, dh-sequence-nginx) from a copy of the tracked files,
# so that nothing of the build lands in the tree: build/deb/*.deb
DEB_DIR      := $(BUILD)/deb
DEB_PACKAGES := dpkg-dev debhelper

deb: deps
	@sh conf/deps.sh $(DEB_PACKAGES)
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/src
	git ls-files | perl -lne 'print if -e' | tar -cf - -T - | tar -xf - -C $(DEB_DIR)/src
	cd $(DEB_DIR)/src && dpkg-buildpackage -b -us -uc > ../build.log 2>&1 \
	    || { tail -40 $(DEB_DIR)/build.log; exit 1; }
	@ls $(DEB_DIR)/*.deb

# the package installed with apt-get into a clean Debian bookworm root
# (debootstrap, kept in build/bookworm-root), nginx -t, a booking made
# through it (tests/deb/chroot-test.sh; root only)
test-deb: deb
	@sh conf/deps.sh debootstrap
	sh tests/deb/chroot-test.sh \
	    $$(ls $(DEB_DIR)/libnginx-mod-http-booking_*.deb) $(BUILD)/bookworm-root

clean:
	rm -rf $(BUILD)

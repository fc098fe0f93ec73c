# make bench: ngx_booking side by side with nginx's return 200, Redis alone
# (redis-benchmark on the same scripts), an OpenResty peer and a Node peer,
# all in one run at one concurrency, then the growth part (memory per
# resource and booking, cost by range length and bookings per resource),
# then worker memory across a million requests.
# tests/bench/bench.pl installs what it needs (Debian packages when root,
# npm ci for the Node peer).  Included by the Makefile, which has "module".
#
#   make bench [BENCH_SECONDS=10] [BENCH_ROUNDS=3]
#                                   all three parts (~25 minutes with 10 s runs)
#   make bench-growth               the growth part alone
#   make bench-memory               worker memory over 1,000,000 requests

BENCH_SECONDS ?= 10
BENCH_ROUNDS  ?= 3

.PHONY: bench bench-growth bench-memory bench-cluster bench-jwt

bench: module
	BENCH_SECONDS=$(BENCH_SECONDS) BENCH_ROUNDS=$(BENCH_ROUNDS) \
	    perl tests/bench/bench.pl --all
	BENCH_SECONDS=$(BENCH_SECONDS) perl tests/bench/cluster.pl
	BENCH_SECONDS=$(BENCH_SECONDS) perl tests/bench/jwt.pl

# holds with a bearer token (booking_jwt) beside holds with booking_user
bench-jwt: module
	BENCH_SECONDS=$(BENCH_SECONDS) perl tests/bench/jwt.pl

# holds and listing pages, one Redis beside a 3-master cluster, one run
bench-cluster: module
	BENCH_SECONDS=$(BENCH_SECONDS) perl tests/bench/cluster.pl

bench-growth: module
	BENCH_SECONDS=$(BENCH_SECONDS) perl tests/bench/bench.pl --growth

bench-memory: module
	perl tests/bench/bench.pl --memory

# what each operation costs Redis, alone (INFO commandstats, sequential),
# then again with booking_events on, with a booking_quota, and with a
# waitlist (joining a line; a cancel that offers the units freed):
#   make bench-cost [COST_REQUESTS=500]
COST_REQUESTS ?= 500

.PHONY: bench-cost

bench-cost: module
	perl tests/bench/cost.pl --requests $(COST_REQUESTS)
	perl tests/bench/cost.pl --requests $(COST_REQUESTS) --events
	perl tests/bench/cost.pl --requests $(COST_REQUESTS) --quota
	perl tests/bench/cost.pl --requests $(COST_REQUESTS) --waitlist

# what every call of each script costs Redis before its body runs, and
# what it would as a function of a library loaded once (issue 12):
#   make bench-prelude
.PHONY: bench-prelude

bench-prelude:
	perl tests/bench/prelude.pl

# this module against an earlier revision's, in alternating rounds:
#   make bench-compare BASE=<revision> [BENCH_ROUNDS=3] [BENCH_SECONDS=8]
BASE ?= HEAD~1

.PHONY: bench-compare

bench-compare: module
	perl tests/bench/compare.pl --base $(BASE) --rounds $(BENCH_ROUNDS) \
	    --seconds $(BENCH_SECONDS)

# what a hold's script costs Redis alone (pipelined FCALLs of the hold each
# module sent, on one redis-server), beside other builds or libraries and
# the own peers' hold (--own):
#   make bench-alone [ALONE="build/compare/<rev>/build/ngx_http_booking_module.so"]
.PHONY: bench-alone

bench-alone: module
	perl tests/bench/alone.pl --own $(ALONE) $(CURDIR)/build/ngx_http_booking_module.so

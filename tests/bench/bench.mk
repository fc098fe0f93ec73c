# make bench: ngx_booking side by side with nginx's return 200, Redis alone
# (redis-benchmark on the same scripts), an OpenResty peer and a Node peer,
# all in one run at one concurrency, then the growth part (memory per
# resource and booking, cost by range length and bookings per resource).
# tests/bench/bench.pl installs what it needs (Debian packages when root,
# npm ci for the Node peer).  Included by the Makefile, which has "module".
#
#   make bench [BENCH_SECONDS=10]   both parts (~5 minutes with 10 s runs)
#   make bench-growth               the growth part alone

BENCH_SECONDS ?= 10

.PHONY: bench bench-growth

bench: module
	BENCH_SECONDS=$(BENCH_SECONDS) perl tests/bench/bench.pl --all

bench-growth: module
	BENCH_SECONDS=$(BENCH_SECONDS) perl tests/bench/bench.pl --growth

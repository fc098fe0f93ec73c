# The failover scenarios of make fault, bounded (README, "Redis
# Sentinel"): under the mixed load of 6 clients with idempotent retries,
# behind three sentinels with booking_redis_replicas 1, the master is
# SIGKILLed (failover), SIGSTOPped until a replica is promoted then woken
# (zombie), or switched by SENTINEL FAILOVER while it is alive (switch).
# Each scenario passes when no booking answered 201 is lost or doubled,
# none is over capacity, the availability matches the bookings, only
# 503/504 answer in the failover window, service is back within 2 s of the
# promotion and no answer takes longer than the timeouts
# (tests/fault/run.pl says it all).  make fault runs them longer.

use strict;
use warnings;
use Test::More;
use Cwd ();
use File::Basename ();
use BookingTest;

my $repo = Cwd::abs_path(File::Basename::dirname(__FILE__) . '/..');
my $seconds = int(10 * BookingTest::slow());

for my $scenario (qw(failover zombie switch)) {
    my $out = `$^X $repo/tests/fault/run.pl --seconds $seconds $scenario 2>&1`;
    my $rc = $? >> 8;
    my ($line) = $out =~ /^\s*($scenario: requests=.*)$/m;
    ok $rc == 0, "$scenario: " . ($line ? ($line =~ /(lost=\d+ wrong_state=\d+ doubled=\d+).*(p99=.*)/ ? "$1 $2" : 'done') : 'no summary')
        or diag $out;
}

done_testing;

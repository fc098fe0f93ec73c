# The capacity invariant across failovers (README, "Redis Sentinel"): the
# model of t/80 behind three sentinels, a master and two replicas, with
# booking_redis_replicas 1; every 40th step is a SENTINEL FAILOVER between
# two steps.  After each, the new master's counters and the API's
# availability must still be what the model says: nothing acknowledged
# lost, nothing doubled, never over capacity.
#
#   BOOKING_MODEL_SEED, BOOKING_MODEL_SECONDS (default 40), as in t/80

use strict;
use warnings;
use Test::More;
use BookingTest;
use BookingModel;

BookingRace::pin_module();

my $seed = $ENV{BOOKING_MODEL_SEED} || (time ^ $$) % 1_000_000_007;
my $seconds = $ENV{BOOKING_MODEL_SECONDS} // 40 * BookingTest::slow();

diag "model behind sentinels: seed $seed, ${seconds}s";

my $m = BookingModel->new(seed => $seed, sentinel => 1, skip => $ENV{BOOKING_MODEL_SKIP});
my $fail = $m->run(seed => $seed, seconds => $seconds);

if (!$fail) {
    pass("seed $seed: $m->{ran} steps, every answer and every check as the model says");
} else {
    my $n = @{ $fail->{steps} };
    diag "the last steps:";
    diag "  $_" for @{ $m->{log} }[ max(0, $#{ $m->{log} } - 9) .. $#{ $m->{log} } ];
    fail("seed $seed: step $n: $fail->{why}");
}
ok $m->{failovers} >= 2, "the sentinels failed over $m->{failovers} times, the module followed";

is_deeply [ $m->{t}->check_error_log ], [], 'no alert, crit or crash in the error log';
$m->stop;

done_testing;

sub max { $_[0] > $_[1] ? $_[0] : $_[1] }

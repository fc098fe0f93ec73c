# The capacity invariant in a Redis Cluster (README, "Redis Cluster"): the
# model of t/80 against three masters, with slots moving between them all
# the time: every 25th step starts a redis-cli --cluster reshard of 200 to
# 2,000 slots in the background, and the steps after it run while the
# keys of their resources move (MOVED, ASK, TRYAGAIN).  After every step
# the API's availability and Redis's counters, read from wherever the
# keys are now, must be what the model says: nothing acknowledged lost,
# nothing doubled, never over capacity.
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

diag "model in a cluster: seed $seed, ${seconds}s";

my $m = BookingModel->new(seed => $seed, cluster => 1, skip => $ENV{BOOKING_MODEL_SKIP});
my $fail = $m->run(seed => $seed, seconds => $seconds);

if (!$fail) {
    pass("seed $seed: $m->{ran} steps, every answer and every check as the model says");
} else {
    my $n = @{ $fail->{steps} };
    diag "the last steps:";
    diag "  $_" for @{ $m->{log} }[ max(0, $#{ $m->{log} } - 9) .. $#{ $m->{log} } ];
    fail("seed $seed: step $n: $fail->{why}");
}
$m->reshard_done;
ok $m->{reshards} >= 3, "slots were moved $m->{reshards} times while it ran";
# every worker's redirections, from the error log (the metrics are each
# worker's own)
my $log = $m->{t}->error_log;
my %seen = map { $_ => scalar(() = $log =~ /redis cluster $_ slot/g) } qw(MOVED ASK);
ok $seen{MOVED} + $seen{ASK} > 0, "the module followed the redirections: MOVED $seen{MOVED}, ASK $seen{ASK}";

is_deeply [ $m->{t}->check_error_log ], [], 'no alert, crit or crash in the error log';
$m->stop;

done_testing;

sub max { $_[0] > $_[1] ? $_[0] : $_[1] }

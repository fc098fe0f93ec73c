# The capacity invariant, checked against a model (t/lib/BookingModel.pm):
# a seeded random sequence of every operation, every answer and, after
# every step, the availability and Redis's counters as the model says.
# A bounded run of about a minute; longer ones: make model SEED= STEPS=.
#
#   BOOKING_MODEL_SEED     the seed (default: drawn, and printed)
#   BOOKING_MODEL_STEPS    the most steps (default: as many as fit)
#   BOOKING_MODEL_SECONDS  the time for steps (default 60)
#   BOOKING_MODEL_SKIP     operations left out, comma separated (reload,...)
#   BOOKING_MODEL_TRACE    1: every request and answer on stderr

use strict;
use warnings;
use Test::More;
use BookingTest;
use BookingModel;

BookingRace::pin_module();

my $seed = $ENV{BOOKING_MODEL_SEED} || (time ^ $$) % 1_000_000_007;
my $steps = $ENV{BOOKING_MODEL_STEPS};
my $seconds = $ENV{BOOKING_MODEL_SECONDS} // 60 * BookingTest::slow();

diag "model: seed $seed" . ($steps ? ", $steps steps" : '') . ", ${seconds}s";

my $m = BookingModel->new(seed => $seed, skip => $ENV{BOOKING_MODEL_SKIP});
my $fail = $m->run(seed => $seed, steps => $steps, seconds => $seconds);

if (!$fail) {
    pass("seed $seed: $m->{ran} steps, every answer and every check as the model says");
} else {
    my $n = @{ $fail->{steps} };
    diag "seed $seed failed at step $n: $fail->{why}";
    my ($short, $why) = $m->shrink($fail->{steps}, 120 * BookingTest::slow());
    diag "shortest failing sequence found (" . scalar(@$short) . " steps), replayed on fresh data:";
    diag sprintf '  %2d. %s %s', $_ + 1, $short->[$_]{op}, BookingModel::describe($short->[$_])
        for 0 .. $#$short;
    diag '  -> ' . ($why // 'it passed when replayed: the failure depends on timing');
    fail("seed $seed: step $n: $fail->{why}");
}

is_deeply [ $m->{t}->check_error_log ], [], 'no alert, crit or crash in the error log';
$m->stop;

done_testing;

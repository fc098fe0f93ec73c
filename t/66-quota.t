# max_active (SPEC §3, issue 14): the most occupying bookings one user may
# have on resources of a type at once, counted in the user's hash slot
# (README, "What spans resources"): the count and the claim are one atomic
# step before the booking is made, so that racing requests of one user
# never exceed it, on one Redis or in a Cluster (make test-cluster).
#
# - the one past max_active is 429 quota; other users, other types, blocks
#   and admin locations are not counted;
# - a cancelled or declined booking, or an expired hold, gives its place
#   back (an expired hold's claim is found no longer occupying when a
#   booking would be refused, and dropped);
# - 12 racing bookings of one user on 12 resources, 8 times: exactly
#   max_active 201 each time;
# - a timeless type counts too.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(time sleep);
use BookingTest;
use BookingRace qw(:all);

my $t = BookingTest->new(workers => 4, http => <<'EOT');
booking_type desk slot=1h hold=10m max_active=2;
booking_type spot slot=1h hold=2s max_active=1;
booking_type room slot=1d;
booking_type gift slot=none hold=1d max_active=1;
booking_user $http_x_user_id;
EOT

for my $r ((map { [ "d$_", 'desk' ] } 1 .. 14), [ 's1', 'spot' ], [ 's2', 'spot' ],
           [ 'r1', 'room' ], [ 'r2', 'room' ], [ 'r3', 'room' ], [ 'g1', 'gift' ], [ 'g2', 'gift' ]) {
    $t->req(PUT => "/admin/resources/$r->[0]", body => { type => $r->[1], capacity => 5, owner => 'olga' })
        ->{status} == 201 or BAIL_OUT("PUT $r->[0]");
}

my $now = redis_now($t);
my $h = hour_start($now, 24);
sub slot { my ($n) = @_; return (start => iso($h + 3600 * $n), end => iso($h + 3600 * ($n + 1))) }

my $a1 = book($t, 'alice', { resource => 'd1', slot(0) });
my $a2 = book($t, 'alice', { resource => 'd2', slot(0) });
is "$a1->{status} $a2->{status}", '201 201', 'alice books two desks';
my $a3 = book($t, 'alice', { resource => 'd3', slot(5) });
is $a3->{status}, 429, 'a third desk, even at another time: 429';
is $a3->{json}{error}{code}, 'quota', '... code quota';
is book($t, 'bob', { resource => 'd3', slot(5) })->{status}, 201, 'bob has his own count';
is book($t, 'alice', { resource => 'r1', start => date($h + 86400), end => date($h + 2 * 86400) })->{status},
    201, 'a room: no max_active';
is book($t, undef, { resource => 'd4', kind => 'block', slot(0) }, prefix => '/admin/')->{status}, 201,
    'an admin block is not counted';
is book($t, 'alice', { resource => 'd4', slot(1) }, prefix => '/admin/')->{status}, 201,
    "an admin location's booking for alice is not counted nor refused";
is book($t, 'alice', { resource => 'd5', slot(1) })->{status}, 429, 'alice still has her two';

is act($t, 'alice', $a1->{json}{id}, 'cancel')->{status}, 200, 'alice cancels one';
is book($t, 'alice', { resource => 'd5', slot(1) })->{status}, 201, 'and may book another';
is book($t, 'alice', { resource => 'd6', slot(1) })->{status}, 429, 'but not one more';

# an expired hold: no request frees its claim; the refusal reads it
my $hold = book($t, 'carol', { resource => 's1', slot(0), hold => JSON::PP::true });
is $hold->{status}, 201, 'carol holds a spot (2 s)';
is book($t, 'carol', { resource => 's2', slot(0), hold => JSON::PP::true })->{status}, 429,
    'a second spot: 429';
wait_redis_time($t, $now + 3.5);
my $again = book($t, 'carol', { resource => 's2', slot(0), hold => JSON::PP::true });
is $again->{status}, 201, 'once the first hold has expired, the second: 201';

# racing: one user, 12 desks at once, 8 times (a claim whose booking is
# still being made must not be taken for a stale one by a refused request)
my ($rounds, %all) = (0);
for my $round (1 .. 8) {
    my @kids;
    for my $i (1 .. 12) {
        my $res = 'd' . (2 + $i);
        push @kids, BookingTest::bg(sub {
            book($t, "dave$round", { resource => $res, slot(10 + $round) })->{status} });
    }
    my %st;
    $st{ $_->result(30) // 'none' }++ for @kids;
    $all{$_} += $st{$_} for keys %st;
    $rounds++ if ($st{201} // 0) == 2 && ($st{429} // 0) == 10;
}
is $rounds, 8, '8 times, one user sends 12 bookings at once: exactly 2 are 201, 10 are 429 ('
    . join(', ', map { "$_ x$all{$_}" } sort keys %all) . ')';

is book($t, 'erin', { resource => 'g1' })->{status}, 201, 'a gift (timeless)';
is book($t, 'erin', { resource => 'g2' })->{status}, 429, 'a second gift: 429';

is_deeply [ $t->check_error_log ], [], 'no alert, crash or crit in the error log';

done_testing;

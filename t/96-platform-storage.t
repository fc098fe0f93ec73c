# Platform: storage space rented by the month (SPEC §1, §2, §4).
#
# How a storage platform expresses "a month": the spec's slots are fixed
# lengths counted from 1970-01-01T00:00:00Z, so there is no calendar
# month slot (a slot of 30d would put its boundaries on arbitrary days).
# A storage platform rents from any day, for at least a month, and then
# by the day: type storage with slot=1d, min=30d (the shortest rental, a
# month of 30 days), max=365d (the longest contract), horizon=180d (how far
# ahead a move-in may be booked), no buffer (the next renter may move in
# the day the previous one moves out).  Answers use plain dates.
#
# Units: a 12 m2 box (capacity 1) and a bank of 3 identical lockers
# (capacity 3: a renter may take several).
#
# What renters see, checked at each step:
# - 29 days is 422 (under min), 366 days is 422 (over max), a move-in
#   past the horizon is 422;
# - a month-long rental (30 days) is 201 with plain dates; a rental that
#   overlaps it is 409 with the overlapping days and 0 free; one that
#   starts the day it ends is 201;
# - availability over three months: 0 free during rentals, 1 outside;
# - the search page (GET /resources?type=storage&from=&to=&quantity=, with
#   plain dates): the box drops out for any range that meets a rental and
#   is listed for a free range; the lockers show their fewest free units
#   and drop out once full;
# - the calendar feed: VALUE=DATE events, move-in to move-out, "Busy";
# - a cancelled rental frees its days.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use BookingTest;
use BookingPlatform qw(ics_events);
use BookingRace qw(:all);

BookingRace::pin_module();

my $t = BookingTest->new(workers => 2, http => <<'EOT');
booking_type storage slot=1d hold=1d min=30d max=365d horizon=180d;
booking_user $http_x_user_id;
EOT

my $DAY = 86400;

sub error_is { local $Test::Builder::Level = $Test::Builder::Level + 1; BookingTest::error_is(@_) }

sub runs {
    my ($res, $from, $to) = @_;
    my $r = $t->req(GET => "/api/resources/$res/availability?from=" . date($from) . '&to=' . date($to));
    return [ "status $r->{status}: $r->{body}" ] unless $r->{status} == 200;
    return [ map { "$_->{start} $_->{end} $_->{units}" } @{ $r->{json}{free} } ];
}

sub search {
    my ($type, $from, $to, %q) = @_;
    my $qs = join '', map { "&$_=$q{$_}" } sort keys %q;
    my $r = $t->req(GET => "/api/resources?type=$type&from=" . date($from) . '&to=' . date($to) . $qs);
    return { error => "$r->{status} $r->{body}" } unless $r->{status} == 200;
    return { map { $_->{id} => $_->{free} } @{ $r->{json}{items} } };
}

sub compact { (my $s = $_[0]) =~ tr/-://d; return $s }

is $t->req(PUT => '/admin/resources/box-12', body => { type => 'storage', capacity => 1, owner => 'depot-brest',
    title => 'Box 12 m2, ground floor', attributes => { m2 => 12 } })->{status}, 201, 'the depot lists a 12 m2 box';
is $t->req(PUT => '/admin/resources/lockers', body => { type => 'storage', capacity => 3, owner => 'depot-brest',
    title => 'Lockers 1 m2' })->{status}, 201, '... and a bank of 3 lockers';

my $now = redis_now($t);
my $D = sub { day_start($now, 5 + $_[0]) };    # day 0 is 5 days from now
my $d = sub { date($D->($_[0])) };
my $run = sub { my ($a, $b, $u) = @_; join ' ', date($D->($a)), date($D->($b)), $u };
my $rent = sub { my ($user, $res, $a, $b, %o) = @_;
                 book($t, $user, { resource => $res, start => date($D->($a)), end => date($D->($b)), %o }) };

is_deeply runs('box-12', $D->(0), $D->(90)), [ $run->(0, 90, 1) ], 'before: the box is free for three months';
is_deeply search('storage', $D->(0), $D->(30)), { 'box-12' => 1, lockers => 3 }, 'before: both listed for a month';

error_is($rent->('renter-ana', 'box-12', 0, 29), 422, 'invalid', field => 'end', name => '29 days, under a month: 422');
error_is($rent->('renter-ana', 'box-12', 0, 366), 422, 'invalid', field => 'end', name => '366 days, over the longest contract: 422');
my $far = day_start($now, 200);
error_is(book($t, 'renter-ana', { resource => 'box-12', start => date($far), end => date($far + 30 * $DAY) }),
         422, 'invalid', field => 'start', name => 'a move-in 200 days ahead, past the horizon: 422');

my $a = $rent->('renter-ana', 'box-12', 0, 30, note => 'door code 4471');
is $a->{status}, 201, 'ana rents the box for a month (30 days)' or diag $a->{body};
is "$a->{json}{start} $a->{json}{end}", $d->(0) . ' ' . $d->(30), '... plain dates, move-in to move-out';
is_deeply runs('box-12', $D->(0), $D->(90)), [ $run->(0, 30, 0), $run->(30, 90, 1) ],
    'availability: taken for the month, free after';

my $b = $rent->('renter-bob', 'box-12', 20, 50);
error_is($b, 409, 'unavailable', name => 'bob from day 20 for a month: 409');
is_deeply $b->{json}{error}{conflicts}, [ { start => $d->(20), end => $d->(30), free => 0 } ],
    '... the conflict: days 20 to 30, 0 free';
$b = $rent->('renter-bob', 'box-12', 30, 75);
is $b->{status}, 201, 'bob moves in the day ana moves out, for 45 days: 201' or diag $b->{body};
is_deeply runs('box-12', $D->(0), $D->(90)), [ $run->(0, 75, 0), $run->(75, 90, 1) ], 'availability: taken until day 75';

is_deeply search('storage', $D->(10), $D->(40)), { lockers => 3 }, 'search days 10-40: the box is gone';
is_deeply search('storage', $D->(74), $D->(104)), { lockers => 3 }, 'search days 74-104 (one day taken): gone too';
is_deeply search('storage', $D->(75), $D->(105)), { 'box-12' => 1, lockers => 3 }, 'search days 75-105: listed';

# the lockers: 2 + 1 fill them, a third renter is refused
my $l1 = $rent->('renter-cy', 'lockers', 0, 60, quantity => 2);
my $l2 = $rent->('renter-dee', 'lockers', 30, 90);
is "$l1->{status} $l2->{status}", '201 201', 'cy rents 2 lockers for 60 days, dee 1 from day 30';
is_deeply runs('lockers', $D->(0), $D->(100)), [ $run->(0, 30, 1), $run->(30, 60, 0), $run->(60, 90, 2), $run->(90, 100, 3) ],
    'availability of the lockers: 1, then 0, then 2, then 3';
is_deeply search('storage', $D->(0), $D->(30)), { lockers => 1 }, 'search days 0-30: the lockers, 1 free';
is_deeply search('storage', $D->(0), $D->(30), quantity => 2), {}, '... none for 2 lockers';
is_deeply search('storage', $D->(25), $D->(55)), {}, 'search days 25-55: nothing left';
my $e = $rent->('renter-eva', 'lockers', 40, 70);
error_is($e, 409, 'unavailable', name => 'eva for a locker from day 40: 409');
is_deeply $e->{json}{error}{conflicts}, [ { start => $d->(40), end => $d->(60), free => 0 } ], '... days 40 to 60, 0 free';

my $cal = ics_events($t, 'box-12');
is "$cal->{status} $cal->{type}", '200 text/calendar; charset=utf-8', 'the box calendar feed';
is_deeply [ sort map { "$_->{'DTSTART;'}:$_->{DTSTART} $_->{'DTEND;'}:$_->{DTEND} $_->{SUMMARY}" } @{ $cal->{events} } ],
    [ map { ";VALUE=DATE:" . compact($d->($_->[0])) . " ;VALUE=DATE:" . compact($d->($_->[1])) . ' Busy' } [ 0, 30 ], [ 30, 75 ] ],
    '... two rentals as DATE values, move-in to move-out';
unlike $cal->{body}, qr/renter-|door code/, '... no renter id, no note';
is scalar @{ ics_events($t, 'lockers')->{events} }, 2, "the lockers' feed: two rentals";

# bob cancels before moving in
is act($t, 'renter-bob', $b->{json}{id}, 'cancel')->{status}, 200, 'bob cancels';
is_deeply runs('box-12', $D->(0), $D->(90)), [ $run->(0, 30, 0), $run->(30, 90, 1) ], 'the box is free from day 30 again';
is_deeply search('storage', $D->(30), $D->(60)), { 'box-12' => 1 }, 'and listed for days 30-60';
is scalar @{ ics_events($t, 'box-12')->{events} }, 1, 'the feed: one rental';

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;

# Platform: ride sharing (SPEC §1, §2, §4).  A driver offers the 4 free
# seats of a car for one ride (type ride, slot=15m): the ride is a
# resource of capacity 4 and a booking covers the ride's time, from
# departure to arrival.  Passengers travel in pairs: every booking here is
# quantity 2.
#
# What the passengers and the driver see, checked at each step:
# - two pairs fit (201, quantity 2 each), the third pair is 409
#   unavailable with the ride's time and 0 free, and so is a single
#   passenger once the car is full; 5 seats at once is 422; a departure
#   off the quarter hour is 422;
# - availability of the ride: 4, then 2, then 0 seats over its time, and
#   4 before and after it;
# - the search page (GET /resources?type=ride&from=&to=&quantity=): a full
#   ride drops out; one with 2 seats left stays for quantity=2 and drops
#   out for quantity=3; another ride at the same time stays;
# - the driver's calendar feed: one "Busy" VEVENT per pair, departure to
#   arrival as UTC date-times, no passenger id and no note;
# - a pair that cancels gives its 2 seats back, and the third pair (which
#   holds, then confirms) gets them.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use BookingTest;
use BookingPlatform qw(ics_events);
use BookingRace qw(:all);

BookingRace::pin_module();

my $t = BookingTest->new(workers => 2, http => <<'EOT');
booking_type ride slot=15m hold=10m;
booking_user $http_x_user_id;
EOT

my $TRUE = JSON::PP::true;

sub error_is { local $Test::Builder::Level = $Test::Builder::Level + 1; BookingTest::error_is(@_) }

sub runs {
    my ($res, $from, $to) = @_;
    my $r = $t->req(GET => "/api/resources/$res/availability?from=" . iso($from) . '&to=' . iso($to));
    return [ "status $r->{status}: $r->{body}" ] unless $r->{status} == 200;
    return [ map { "$_->{start} $_->{end} $_->{units}" } @{ $r->{json}{free} } ];
}

sub search {
    my ($type, $from, $to, %q) = @_;
    my $qs = join '', map { "&$_=$q{$_}" } sort keys %q;
    my $r = $t->req(GET => "/api/resources?type=$type&from=" . iso($from) . '&to=' . iso($to) . $qs);
    return { error => "$r->{status} $r->{body}" } unless $r->{status} == 200;
    return { map { $_->{id} => $_->{free} } @{ $r->{json}{items} } };
}

sub compact { (my $s = $_[0]) =~ tr/-://d; return $s }

my ($R1, $R2) = ('ride-brest-rennes', 'ride-brest-nantes');
is $t->req(PUT => "/admin/resources/$R1", body => { type => 'ride', capacity => 4, owner => 'driver-yann',
    title => 'Brest -> Rennes', location => { lat => 48.3904, lon => -4.4861 } })->{status}, 201,
    'driver-yann offers 4 seats Brest -> Rennes';
is $t->req(PUT => "/admin/resources/$R2", body => { type => 'ride', capacity => 4, owner => 'driver-zoe',
    title => 'Brest -> Nantes' })->{status}, 201, 'driver-zoe offers 4 seats Brest -> Nantes';

my $now = redis_now($t);
my $D = day_start($now, 2);
my ($DEP, $ARR) = ($D + 8 * 3600, $D + 10 * 3600);     # 08:00-10:00 UTC
my ($B, $A) = ($DEP - 3600, $ARR + 3600);              # the hour before and after
my $ride = sub { my ($user, %b) = @_; book($t, $user, { resource => $R1, start => iso($DEP), end => iso($ARR), quantity => 2, %b }) };
my $seats = sub { [ iso($B) . ' ' . iso($DEP) . ' 4', iso($DEP) . ' ' . iso($ARR) . " $_[0]", iso($ARR) . ' ' . iso($A) . ' 4' ] };

is_deeply runs($R1, $B, $A), [ iso($B) . ' ' . iso($A) . ' 4' ], 'before: 4 seats free';
is_deeply search('ride', $DEP, $ARR, quantity => 2), { $R1 => 4, $R2 => 4 }, 'before: a pair finds both rides';

my $p1 = $ride->('pax-anna', note => 'big suitcase');
is $p1->{status}, 201, 'the first pair books 2 seats' or diag $p1->{body};
is "$p1->{json}{quantity} $p1->{json}{status}", '2 confirmed', '... quantity 2, confirmed';
is "$p1->{json}{start} $p1->{json}{end}", iso($DEP) . ' ' . iso($ARR), '... departure to arrival';
is_deeply runs($R1, $B, $A), $seats->(2), 'availability: 2 seats left during the ride';
is_deeply search('ride', $DEP, $ARR, quantity => 2), { $R1 => 2, $R2 => 4 }, 'search for 2: the ride with its 2 seats';
is_deeply search('ride', $DEP, $ARR, quantity => 3), { $R2 => 4 }, 'search for 3: only the other ride';

my $p2 = $ride->('pax-bruno');
is $p2->{status}, 201, 'the second pair books 2 seats' or diag $p2->{body};
is_deeply runs($R1, $B, $A), $seats->(0), 'availability: 0 seats left during the ride';

my $p3 = $ride->('pax-chloe');
error_is($p3, 409, 'unavailable', name => 'the third pair: 409');
is_deeply $p3->{json}{error}{conflicts}, [ { start => iso($DEP), end => iso($ARR), free => 0 } ],
    '... the conflict is the ride, 0 free';
error_is($ride->('pax-dan', quantity => 1), 409, 'unavailable', name => 'a single passenger in the full car: 409');
error_is($ride->('pax-eve', quantity => 5), 422, 'invalid', field => 'quantity', name => '5 seats in a car of 4: 422');
error_is($ride->('pax-eve', start => iso($DEP + 600)), 422, 'invalid', name => 'a departure at 08:10 (off the quarter hour): 422');
is_deeply runs($R1, $B, $A), $seats->(0), 'the refusals took nothing';

is_deeply search('ride', $DEP, $ARR, quantity => 1), { $R2 => 4 }, 'search for 1: the full ride is gone';
is_deeply search('ride', $DEP, $DEP + 900), { $R2 => 4 }, '... also for its first quarter hour';
is_deeply search('ride', $ARR, $A), { $R1 => 4, $R2 => 4 }, 'after its arrival time: listed again';

my $cal = ics_events($t, $R1);
is "$cal->{status} $cal->{type}", '200 text/calendar; charset=utf-8', "the driver's calendar feed: 200 text/calendar";
is_deeply [ sort map { $_->{UID} } @{ $cal->{events} } ],
    [ sort map { "$_->{json}{id}\@ngx_booking" } $p1, $p2 ], '... one VEVENT per pair';
is_deeply [ map { "$_->{SUMMARY} $_->{DTSTART} $_->{DTEND}" } @{ $cal->{events} } ],
    [ ('Busy ' . compact(iso($DEP)) . ' ' . compact(iso($ARR))) x 2 ], '... Busy, departure to arrival, UTC';
unlike $cal->{body}, qr/pax-|suitcase/, '... no passenger id, no note';

# a pair cancels; the third pair holds the seats, then confirms
my $cx = act($t, 'pax-anna', $p1->{json}{id}, 'cancel');
is "$cx->{status} $cx->{json}{status}", '200 cancelled', 'the first pair cancels';
is_deeply runs($R1, $B, $A), $seats->(2), '2 seats free again at once';
is_deeply search('ride', $DEP, $ARR, quantity => 2), { $R1 => 2, $R2 => 4 }, 'the ride is back in the search for 2';
my $h3 = $ride->('pax-chloe', hold => $TRUE);
is "$h3->{status} " . ($h3->{json}{status} // ''), '201 held', 'the third pair holds the 2 seats';
is_deeply runs($R1, $B, $A), $seats->(0), 'a hold takes the seats too';
my $c3 = act($t, 'pax-chloe', $h3->{json}{id}, 'confirm');
is "$c3->{status} $c3->{json}{status}", '200 confirmed', '... and confirms';
is_deeply runs($R1, $B, $A), $seats->(0), 'still 0 seats';
is_deeply [ sort map { $_->{UID} } @{ ics_events($t, $R1)->{events} } ],
    [ sort map { "$_->{json}{id}\@ngx_booking" } $p2, $h3 ], 'the feed: the cancelled pair out, the third pair in';

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;

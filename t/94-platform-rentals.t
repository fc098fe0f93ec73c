# Platform: peer-to-peer rentals of cars and tools by the hour (SPEC §1,
# §2, §4).  Owners list a car (type car: slot=1h, buffer=1h for the key
# handover, lead=2h) and a drill (type tool: slot=1h, buffer=2h to check
# and clean it).  A booking occupies [start, end + buffer) for every
# conflict check, so the next renter cannot take the car during its
# handover hour, nor the drill during its two hours of checking.
#
# What renters and owners see, checked at each step:
# - the buffer after a rental is not free: a rental starting at its end,
#   or inside it, is 409 unavailable; a rental starting right after it is
#   201; a rental that ends where the first begins is refused too when its
#   own buffer overlaps it, and fits when its buffer ends there;
# - availability shows the buffer as 0 units (10:00-12:00 + 1 h: 0 until
#   13:00), and a cancel frees the buffer with the rental;
# - the search page (GET /resources?type=car|tool&from=&to=) leaves the
#   vehicle out during the buffer and lists it from the hour after;
# - the owner's calendar feed: DTEND is the rental's end, not the end of
#   its buffer; "Busy"; no renter id.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use BookingTest;
use BookingPlatform qw(ics_events);
use BookingRace qw(:all);

BookingRace::pin_module();

my $t = BookingTest->new(workers => 2, http => <<'EOT');
booking_type car  slot=1h hold=10m min=1h max=14d buffer=1h lead=2h;
booking_type tool slot=1h hold=10m max=3d buffer=2h;
booking_user $http_x_user_id;
EOT

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

for my $res ([ 'car-clio', 'car', 'Renault Clio', 'own-paul' ], [ 'car-zoe', 'car', 'Renault Zoe', 'own-lea' ],
             [ 'drill-1', 'tool', 'Hammer drill', 'own-paul' ], [ 'drill-2', 'tool', 'Cordless drill', 'own-lea' ]) {
    is $t->req(PUT => "/admin/resources/$res->[0]",
               body => { type => $res->[1], capacity => 1, title => $res->[2], owner => $res->[3] })->{status},
        201, "$res->[3] lists $res->[0]";
}

my $now = redis_now($t);
my $D = day_start($now, 2);
my @H = map { $D + $_ * 3600 } 0 .. 24;    # $H[10] is 10:00 UTC of that day
my $run = sub { my ($a, $b, $u) = @_; iso($H[$a]) . ' ' . iso($H[$b]) . " $u" };
my $rent = sub { my ($user, $res, $a, $b) = @_; book($t, $user, { resource => $res, start => iso($H[$a]), end => iso($H[$b]) }) };

# ------------------------------------------------------------ the car: 1 h handover

is_deeply runs('car-clio', $H[8], $H[16]), [ $run->(8, 16, 1) ], 'before: the Clio is free all day';
is_deeply search('car', $H[12], $H[13]), { 'car-clio' => 1, 'car-zoe' => 1 }, 'before: both cars listed for 12:00-13:00';

my $first = $rent->('renter-ana', 'car-clio', 10, 12);
is $first->{status}, 201, 'ana rents the Clio 10:00-12:00' or diag $first->{body};
is "$first->{json}{start} $first->{json}{end}", iso($H[10]) . ' ' . iso($H[12]), '... her booking ends at 12:00 (no buffer in it)';
is_deeply runs('car-clio', $H[8], $H[16]), [ $run->(8, 10, 1), $run->(10, 13, 0), $run->(13, 16, 1) ],
    'availability: taken 10:00-13:00 (the rental and its handover hour)';

my $at_end = $rent->('renter-bob', 'car-clio', 12, 13);
error_is($at_end, 409, 'unavailable', name => 'bob for 12:00-13:00, the handover hour: 409');
is $at_end->{json}{error}{conflicts}[0]{start}, iso($H[12]), '... the conflict starts at 12:00';
is $at_end->{json}{error}{conflicts}[0]{free}, 0, '... 0 free';
error_is($rent->('renter-bob', 'car-clio', 12, 15), 409, 'unavailable', name => 'bob for 12:00-15:00: 409');
is_deeply search('car', $H[12], $H[13]), { 'car-zoe' => 1 }, 'search 12:00-13:00: the Clio is not offered';
is_deeply search('car', $H[13], $H[14]), { 'car-clio' => 1, 'car-zoe' => 1 }, 'search 13:00-14:00: the Clio is offered';
my $after = $rent->('renter-bob', 'car-clio', 13, 15);
is $after->{status}, 201, 'bob rents 13:00-15:00, the hour after the handover: 201' or diag $after->{body};

# before the first rental: its own buffer must end by 10:00
error_is($rent->('renter-cem', 'car-clio', 8, 10), 409, 'unavailable',
         name => 'cem for 08:00-10:00: his handover hour would overlap ana\'s rental: 409');
my $early = $rent->('renter-cem', 'car-clio', 8, 9);
is $early->{status}, 201, 'cem for 08:00-09:00 (handover 09:00-10:00): 201' or diag $early->{body};
is_deeply runs('car-clio', $H[7], $H[18]), [ $run->(7, 8, 1), $run->(8, 16, 0), $run->(16, 18, 1) ],
    'availability: taken 08:00-16:00, buffers included';

my $cal = ics_events($t, 'car-clio');
is $cal->{status}, 200, "the owner's calendar feed: 200";
is_deeply [ sort map { "$_->{DTSTART}-$_->{DTEND} $_->{SUMMARY}" } @{ $cal->{events} } ],
    [ map { compact(iso($H[ $_->[0] ])) . '-' . compact(iso($H[ $_->[1] ])) . ' Busy' } [ 8, 9 ], [ 10, 12 ], [ 13, 15 ] ],
    '... three rentals, each ending at its own end (09:00, 12:00, 15:00), not its buffer';
unlike $cal->{body}, qr/renter-/, '... no renter id';

# a cancel frees the rental and its buffer
is act($t, 'renter-ana', $first->{json}{id}, 'cancel')->{status}, 200, 'ana cancels';
is_deeply runs('car-clio', $H[8], $H[16]), [ $run->(8, 10, 0), $run->(10, 13, 1), $run->(13, 16, 0) ],
    'availability: 10:00-13:00 free again, handover hour included';
is_deeply search('car', $H[12], $H[13]), { 'car-clio' => 1, 'car-zoe' => 1 }, 'the Clio is offered again for 12:00-13:00';
is scalar @{ ics_events($t, 'car-clio')->{events} }, 2, 'the feed: two rentals';

# ------------------------------------------------------------ the drill: 2 h check

my $d1 = $rent->('renter-dia', 'drill-1', 14, 16);
is $d1->{status}, 201, 'dia rents the hammer drill 14:00-16:00' or diag $d1->{body};
is_deeply runs('drill-1', $H[12], $H[20]), [ $run->(12, 14, 1), $run->(14, 18, 0), $run->(18, 20, 1) ],
    'availability: taken 14:00-18:00 (two hours of checking)';
error_is($rent->('renter-eli', 'drill-1', 16, 17), 409, 'unavailable', name => 'eli for 16:00-17:00: 409');
error_is($rent->('renter-eli', 'drill-1', 17, 18), 409, 'unavailable', name => 'eli for 17:00-18:00: 409');
is_deeply search('tool', $H[17], $H[18]), { 'drill-2' => 1 }, 'search 17:00-18:00: the hammer drill is not offered';
is_deeply search('tool', $H[18], $H[19]), { 'drill-1' => 1, 'drill-2' => 1 }, 'search 18:00-19:00: it is';
is $rent->('renter-eli', 'drill-1', 18, 19)->{status}, 201, 'eli for 18:00-19:00, the hour after the check: 201';
my $dc = ics_events($t, 'drill-1');
is_deeply [ sort map { "$_->{DTSTART}-$_->{DTEND}" } @{ $dc->{events} } ],
    [ map { compact(iso($H[ $_->[0] ])) . '-' . compact(iso($H[ $_->[1] ])) } [ 14, 16 ], [ 18, 19 ] ],
    "the drill's feed: 14:00-16:00 and 18:00-19:00, buffers left out";

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;

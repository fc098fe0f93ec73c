# Platform: rooms by the night (a home-sharing site; SPEC §1, §2, §4).
# A traveller holds nights while the payment provider charges the card;
# the payment callback, which knows no user, confirms the hold with the
# Booking-Token it was given at checkout.  A checkout abandoned before
# paying leaves a hold that expires by itself and frees the night
# (type hold=2s here, so that the test can wait for it).
#
# What the platform's users see, checked at each step:
# - availability of the loft over the week (plain dates, runs of units);
# - the search page: GET /resources?type=room&from=&to= lists the loft only
#   when it is free over the whole stay, with its fewest free units;
# - the host's calendar feed (calendar.ics, imported by other platforms):
#   one VEVENT per held or confirmed stay, DATE values, "Busy", UID
#   "<booking id>@ngx_booking", no guest id and no note;
# - a wrong token is 401, a second traveller on a held night is 409 with
#   the conflicting nights, confirming an expired hold is 410, and the
#   night it held can be booked again.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use Time::HiRes qw(time sleep);
use BookingTest;
use BookingPlatform qw(ics_events);
use BookingRace qw(:all);

BookingRace::pin_module();

my $HOLD = 2 * BookingTest::slow();
my $t = BookingTest->new(workers => 2, http => <<"EOT");
booking_type room slot=1d hold=${HOLD}s min=1d max=30d horizon=365d;
booking_user \$http_x_user_id;
EOT

my $TRUE = JSON::PP::true;
my $DAY  = 86400;

sub error_is { local $Test::Builder::Level = $Test::Builder::Level + 1; BookingTest::error_is(@_) }

# [start end units] of every run of the availability of $res over [$from, $to)
sub runs {
    my ($res, $from, $to) = @_;
    my $r = $t->req(GET => "/api/resources/$res/availability?from=" . date($from) . '&to=' . date($to));
    return [ "status $r->{status}: $r->{body}" ] unless $r->{status} == 200;
    return [ map { "$_->{start} $_->{end} $_->{units}" } @{ $r->{json}{free} } ];
}

# the search page: {id => free} of the rooms free over [$from, $to)
sub search {
    my ($from, $to, %q) = @_;
    my $qs = join '', map { "&$_=$q{$_}" } sort keys %q;
    my $r = $t->req(GET => '/api/resources?type=room&from=' . date($from) . '&to=' . date($to) . $qs);
    return { error => "$r->{status} $r->{body}" } unless $r->{status} == 200;
    return { map { $_->{id} => $_->{free} } @{ $r->{json}{items} } };
}

# the VEVENTs of a calendar feed, unfolded: [{NAME => value, 'NAME;' => params}]
sub compact { (my $s = $_[0]) =~ tr/-://d; return $s }

my @LOFT = (type => 'room', capacity => 1, title => 'Loft by the harbour', owner => 'host-ana',
            location => { lat => 48.3829, lon => -4.4948 }, attributes => { beds => 2 });
is $t->req(PUT => '/admin/resources/loft', body => { @LOFT })->{status}, 201, 'the host lists the loft';
is $t->req(PUT => '/admin/resources/cabin', body => { type => 'room', capacity => 1, title => 'Cabin',
                                                      owner => 'host-ben' })->{status}, 201,
    'another host lists a cabin';

my $now = redis_now($t);
my $D = sub { day_start($now, 10 + $_[0]) };    # the week of the stays starts 10 days from now
my @N = map { date($D->($_)) } 0 .. 7;

is_deeply runs('loft', $D->(0), $D->(7)), [ "$N[0] $N[7] 1" ], 'before: the loft is free all week';
is_deeply search($D->(1), $D->(3)), { loft => 1, cabin => 1 }, 'before: searching nights 1-2 lists both rooms, free 1';
is scalar @{ ics_events($t, 'loft')->{events} }, 0, "before: the host's calendar feed has no event";

# ------------------------------------------------------------ checkout: hold during payment

my $h = book($t, 'trav-alice-1234', { resource => 'loft', start => $N[1], end => $N[3], hold => $TRUE,
                                      note => 'late arrival, note-secret-1' });
is $h->{status}, 201, 'alice holds nights 1 and 2 while she pays' or diag $h->{body};
my $hold = $h->{json};
is $hold->{status}, 'held', '... status held';
is "$hold->{start} $hold->{end}", "$N[1] $N[3]", '... plain dates, end exclusive';
ok length($hold->{token} // '') >= 20, '... with a token for the payment callback';
is $h->{headers}{'booking-token'}, $hold->{token}, '... also in the Booking-Token header';
is epoch($hold->{expires_at}) - epoch($hold->{created_at}), $HOLD, "... expiring after the type's hold";

is_deeply runs('loft', $D->(0), $D->(7)), [ "$N[0] $N[1] 1", "$N[1] $N[3] 0", "$N[3] $N[7] 1" ],
    'while held: nights 1 and 2 show 0 free';

# the payment succeeded: the provider's callback confirms with the token, no user
my $wrong = (substr($hold->{token}, 0, 1) eq 'x' ? 'y' : 'x') . substr($hold->{token}, 1);
my $bad = $t->req(POST => "/api/bookings/$hold->{id}/confirm", headers => { 'Booking-Token' => $wrong });
error_is($bad, 401, 'unauthenticated', name => 'a callback with a wrong token: 401');
my $c = $t->req(POST => "/api/bookings/$hold->{id}/confirm", headers => { 'Booking-Token' => $hold->{token} });
is $c->{status}, 200, 'the payment callback confirms with the token: 200' or diag $c->{body};
is $c->{json}{status}, 'confirmed', '... confirmed';
is $c->{json}{user}, 'trav-alice-1234', "... still alice's booking";
ok !exists $c->{json}{expires_at} && !exists $c->{json}{token}, '... no expires_at, no token any more';
my $again = $t->req(POST => "/api/bookings/$hold->{id}/confirm", headers => { 'Booking-Token' => $hold->{token} });
is "$again->{status} $again->{json}{status}", '200 confirmed', 'the callback delivered twice: 200, still confirmed';

is_deeply runs('loft', $D->(0), $D->(7)), [ "$N[0] $N[1] 1", "$N[1] $N[3] 0", "$N[3] $N[7] 1" ],
    'once paid: nights 1 and 2 still show 0 free';
is_deeply search($D->(1), $D->(3)), { cabin => 1 }, 'searching nights 1-2: the loft is gone, the cabin stays';
is_deeply search($D->(2), $D->(5)), { cabin => 1 }, 'searching nights 2-4 (one of them taken): the loft is gone';
is_deeply search($D->(3), $D->(5)), { loft => 1, cabin => 1 }, 'searching nights 3-4: the loft is back';

my $bob = book($t, 'trav-bob-5678', { resource => 'loft', start => $N[2], end => $N[4] });
error_is($bob, 409, 'unavailable', name => 'bob asks for nights 2-3: 409');
is_deeply $bob->{json}{error}{conflicts}, [ { start => $N[2], end => $N[3], free => 0 } ],
    '... the conflict names night 2, 0 free';

my $cal = ics_events($t, 'loft');
is $cal->{status}, 200, 'calendar feed: 200';
is $cal->{type}, 'text/calendar; charset=utf-8', '... text/calendar';
is scalar @{ $cal->{events} }, 1, '... one VEVENT: the paid stay';
my $e = $cal->{events}[0] || {};
is $e->{UID}, "$hold->{id}\@ngx_booking", '... UID <booking id>@ngx_booking';
is "$e->{'DTSTART;'}:$e->{DTSTART} $e->{'DTEND;'}:$e->{DTEND}",
    ';VALUE=DATE:' . compact($N[1]) . ' ;VALUE=DATE:' . compact($N[3]), '... DTSTART/DTEND are the nights, as dates';
is $e->{SUMMARY}, 'Busy', '... SUMMARY Busy';
unlike $cal->{body}, qr/trav-alice|note-secret/, '... neither the guest nor her note';

# ------------------------------------------------------------ an abandoned checkout

my $u = book($t, 'trav-carol-9012', { resource => 'loft', start => $N[4], end => $N[5], hold => $TRUE });
is $u->{status}, 201, 'carol holds night 4 and never pays' or diag $u->{body};
my $unpaid = $u->{json};
is_deeply runs('loft', $D->(3), $D->(6)), [ "$N[3] $N[4] 1", "$N[4] $N[5] 0", "$N[5] $N[6] 1" ],
    'while her hold lives: night 4 shows 0 free';
is_deeply search($D->(4), $D->(5)), { cabin => 1 }, '... and the loft is not in the search for night 4';
is scalar @{ ics_events($t, 'loft')->{events} }, 2, '... and the feed has two events';

wait_redis_time($t, epoch($unpaid->{expires_at}) + 0.2);
is_deeply runs('loft', $D->(3), $D->(6)), [ "$N[3] $N[6] 1" ],
    'once expires_at passed: night 4 is free again, with no request in between';
is_deeply search($D->(4), $D->(5)), { loft => 1, cabin => 1 }, '... the loft is back in the search';
my $cal2 = ics_events($t, 'loft');
is_deeply [ map { $_->{UID} } @{ $cal2->{events} } ], [ "$hold->{id}\@ngx_booking" ],
    '... and the feed has only the paid stay again';
is get_booking($t, 'trav-carol-9012', $unpaid->{id})->{json}{status}, 'expired', 'carol sees her hold expired';
error_is($t->req(POST => "/api/bookings/$unpaid->{id}/confirm", headers => { 'Booking-Token' => $unpaid->{token} }),
         410, 'expired', name => 'a late payment callback: 410 expired');

my $dave = book($t, 'trav-dave-3456', { resource => 'loft', start => $N[4], end => $N[6] });
is $dave->{status}, 201, 'dave books nights 4-5' or diag $dave->{body};
is_deeply runs('loft', $D->(0), $D->(7)),
    [ "$N[0] $N[1] 1", "$N[1] $N[3] 0", "$N[3] $N[4] 1", "$N[4] $N[6] 0", "$N[6] $N[7] 1" ],
    'the week: nights 1-2 and 4-5 taken';
is scalar @{ ics_events($t, 'loft')->{events} }, 2, 'the feed: two stays';

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;

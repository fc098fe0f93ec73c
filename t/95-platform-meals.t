# Platform: shared meals at a host's table (SPEC §1, §2, §4).  A host
# cooks dinner for 8 guests; the dinner is one slot of the meal's length
# (type meal: slot=3h, so dinners run 18:00-21:00 UTC; min=max=3h, one
# dinner per booking; lead=1d, the host shops the day before).  A booking
# is a party of guests: its quantity is the number of seats.
#
# What guests and hosts see, checked at each step:
# - parties of 2, 2 and 3 take 7 seats; a couple is then 409 unavailable
#   with 1 seat free in the conflict, a single guest takes the last seat,
#   and the next single guest is 409 with 0 free;
# - a party of 9, a dinner at 19:00 (off the slot), a dinner of 6 hours
#   and tonight's dinner (inside the lead) are 422;
# - availability of the evening: 8 seats, then 1, then 0, only during the
#   dinner;
# - the search page (GET /resources?type=meal&from=&to=&quantity=): the
#   table drops out for a couple when one seat is left, stays for one
#   guest with free 1, drops out when full; another host's table stays;
# - the host's calendar feed: one "Busy" VEVENT per party, 18:00-21:00
#   UTC, no guest id and no note (allergies stay private);
# - a party that cancels gives its seats back, seen in availability,
#   search and feed.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use BookingTest;
use BookingPlatform qw(ics_events);
use BookingRace qw(:all);

BookingRace::pin_module();

my $t = BookingTest->new(workers => 2, http => <<'EOT');
booking_type meal slot=3h hold=30m min=3h max=3h lead=1d;
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

is $t->req(PUT => '/admin/resources/table-marie', body => { type => 'meal', capacity => 8, owner => 'host-marie',
    title => "Marie's Breton crepes", attributes => { cuisine => 'breton' } })->{status}, 201,
    'host-marie opens her table: 8 seats';
is $t->req(PUT => '/admin/resources/table-ahmed', body => { type => 'meal', capacity => 6, owner => 'host-ahmed',
    title => "Ahmed's couscous" })->{status}, 201, 'host-ahmed opens his: 6 seats';

my $now = redis_now($t);
my $D = day_start($now, 3);
my ($S, $E) = ($D + 18 * 3600, $D + 21 * 3600);    # dinner 18:00-21:00 UTC
my ($B, $A) = ($D + 15 * 3600, $D + 24 * 3600);
my $seats = sub { [ iso($B) . ' ' . iso($S) . ' 8', iso($S) . ' ' . iso($E) . " $_[0]", iso($E) . ' ' . iso($A) . ' 8' ] };
my $dine = sub { my ($user, $n, %b) = @_; book($t, $user, { resource => 'table-marie', start => iso($S), end => iso($E), quantity => $n, %b }) };

is_deeply runs('table-marie', $B, $A), [ iso($B) . ' ' . iso($A) . ' 8' ], 'before: 8 seats';
is_deeply search('meal', $S, $E, quantity => 2), { 'table-marie' => 8, 'table-ahmed' => 6 }, 'before: a couple finds both tables';

my @parties = ($dine->('guest-anne', 2, note => 'allergy-secret: no nuts'), $dine->('guest-bao', 2), $dine->('guest-carla', 3));
is join(' ', map { $_->{status} } @parties), '201 201 201', 'parties of 2, 2 and 3 book';
is join(' ', map { $_->{json}{quantity} } @parties), '2 2 3', '... with their seats as quantity';
is_deeply runs('table-marie', $B, $A), $seats->(1), 'availability: 1 seat left at dinner';
is_deeply search('meal', $S, $E, quantity => 2), { 'table-ahmed' => 6 }, 'search for a couple: only the other table';
is_deeply search('meal', $S, $E), { 'table-marie' => 1, 'table-ahmed' => 6 }, 'search for one guest: the table with 1 seat';

my $couple = $dine->('guest-dario', 2);
error_is($couple, 409, 'unavailable', name => 'a couple for the last seat: 409');
is_deeply $couple->{json}{error}{conflicts}, [ { start => iso($S), end => iso($E), free => 1 } ],
    '... the conflict: the dinner, 1 free';
like $couple->{json}{error}{message}, qr/\b7 of 8 units are taken\b/, '... "7 of 8 units are taken"';

my $single = $dine->('guest-elif', 1);
is $single->{status}, 201, 'a single guest takes the last seat' or diag $single->{body};
is_deeply runs('table-marie', $B, $A), $seats->(0), 'availability: 0 seats at dinner, 8 before and after';
my $late = $dine->('guest-femi', 1);
error_is($late, 409, 'unavailable', name => 'the next single guest: 409');
is $late->{json}{error}{conflicts}[0]{free}, 0, '... 0 free';
is_deeply search('meal', $S, $E), { 'table-ahmed' => 6 }, 'search for one: the full table is gone';

error_is($dine->('guest-gil', 9), 422, 'invalid', field => 'quantity', name => 'a party of 9 at a table of 8: 422');
error_is($dine->('guest-gil', 1, start => iso($S + 3600), end => iso($E + 3600)), 422, 'invalid',
         field => 'start', name => 'a dinner at 19:00, off the slot: 422');
error_is($dine->('guest-gil', 1, end => iso($E + 3 * 3600)), 422, 'invalid', field => 'end', name => 'two dinners in one booking (6 h): 422');
my $tonight = day_start($now, 0) + 18 * 3600;
error_is(book($t, 'guest-gil', { resource => 'table-ahmed', start => iso($tonight), end => iso($tonight + 3 * 3600) }),
         422, 'invalid', field => 'start', name => "tonight's dinner, less than a day ahead: 422");
is_deeply runs('table-marie', $B, $A), $seats->(0), 'the refusals took nothing';

my $cal = ics_events($t, 'table-marie');
is "$cal->{status} $cal->{type}", '200 text/calendar; charset=utf-8', "the host's calendar feed";
is_deeply [ sort map { $_->{UID} } @{ $cal->{events} } ], [ sort map { "$_->{json}{id}\@ngx_booking" } @parties, $single ],
    '... one VEVENT per party (4)';
is_deeply [ map { "$_->{SUMMARY} $_->{DTSTART} $_->{DTEND}" } @{ $cal->{events} } ],
    [ ('Busy ' . compact(iso($S)) . ' ' . compact(iso($E))) x 4 ], '... each Busy 18:00-21:00 UTC';
unlike $cal->{body}, qr/guest-|allergy/, '... no guest id, no note';
is scalar @{ ics_events($t, 'table-ahmed')->{events} }, 0, "the other host's feed is empty";

# the party of 3 cancels
my $cx = act($t, 'guest-carla', $parties[2]{json}{id}, 'cancel');
is "$cx->{status} $cx->{json}{status}", '200 cancelled', 'the party of 3 cancels';
is_deeply runs('table-marie', $B, $A), $seats->(3), '3 seats free again';
is_deeply search('meal', $S, $E, quantity => 3), { 'table-marie' => 3, 'table-ahmed' => 6 }, 'a party of 3 finds the table again';
is $dine->('guest-dario', 2)->{status}, 201, 'the couple turned away now books';
is_deeply runs('table-marie', $B, $A), $seats->(1), '1 seat left';
is scalar @{ ics_events($t, 'table-marie')->{events} }, 4, 'the feed: 4 parties';

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;

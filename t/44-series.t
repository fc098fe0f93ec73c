# Recurring bookings (SPEC §6; README, "Series"): POST /bookings with
# "repeat" books one resource on every occurrence, in one step, as a group.
#
# - an AMAP pickup every Thursday 18:00-19:00 Paris stays 18:00 across the
#   change to summer time (17:00Z in March, 16:00Z in April); each booking
#   carries the group; GET /groups/{id} shows them; availability counts them;
# - all or nothing: one occurrence taken makes a 409 naming it, and books
#   nothing; skip_conflicts books the others and lists it as skipped;
# - every rule applies to every occurrence: horizon, opening hours (a
#   closed date), 422 naming the first and listing all;
# - repeat_max (52 by default), monthly skips months without the day,
#   until is inclusive, occurrences may not overlap;
# - a held series has one token; confirm changes all or none (410 once a
#   hold expired); cancel leaves the occurrences that started as they are;
#   one booking of a group cannot be acted on alone;
# - an Idempotency-Key replays the series; strangers see no group.

use strict;
use warnings;
use Test::More;
use POSIX qw(floor);
use BookingTest;

my $t = BookingTest->new(workers => 2, http => <<'EOT');
booking_type pickup slot=1h hold=5m tz=Europe/Paris repeat_max=30;
booking_type hall slot=1h hold=1s horizon=10d;
booking_type stall slot=1h hold=5m;
booking_type quarter slot=15m hold=5m;
booking_type flat slot=1d hold=5m max_active=3;
booking_type gift slot=none hold=1d;
booking_user $http_x_user_id;
EOT

sub put {
    my ($id, %doc) = @_;
    my $r = $t->req(PUT => "/admin/resources/$id", body => \%doc,
                    headers => { 'X-User-Id' => 'host' });
    die "PUT $id: $r->{status} $r->{body}" unless $r->{status} == 201;
}

sub book {
    my (%body) = @_;
    my $who = delete $body{who} // 'ann';
    my $h = delete $body{headers} // {};
    return $t->req(POST => '/api/bookings', body => \%body,
                   headers => { 'X-User-Id' => $who, %$h });
}

sub starts { [ map { $_->{start} } @{ $_[0]{json}{bookings} || [] } ] }

put('farm', type => 'pickup', capacity => 1, owner => 'host');

# ---------------------------------------------------------- the AMAP pickup

my $r = book(resource => 'farm', start => '2027-03-04T17:00:00Z', end => '2027-03-04T18:00:00Z',
             repeat => { freq => 'weekly', count => 6 });
is $r->{status}, 201, 'a weekly series of 6 Thursdays: 201' or diag $r->{body};
my $g = $r->{json};
is $g->{kind}, 'series', 'the answer is a group of kind series';
is $g->{status}, 'confirmed', '... all confirmed';
like $g->{group}, qr/^farm\.[A-Za-z0-9_-]+$/, '... its id is of the resource';
is_deeply starts($r), [ '2027-03-04T17:00:00Z', '2027-03-11T17:00:00Z', '2027-03-18T17:00:00Z',
                        '2027-03-25T17:00:00Z', '2027-04-01T16:00:00Z', '2027-04-08T16:00:00Z' ],
    '18:00 Paris every week: 17:00Z in winter, 16:00Z after 2027-03-28';
is scalar(grep { ($_->{group} // '') eq $g->{group} } @{ $g->{bookings} }), 6,
    'every booking carries the group';
ok !exists $g->{token}, 'a confirmed series has no token';

my $get = $t->req(GET => "/api/groups/$g->{group}", headers => { 'X-User-Id' => 'ann' });
is $get->{status}, 200, 'GET /groups/{id}: 200';
is_deeply starts($get), starts($r), '... the same bookings';
is $t->req(GET => "/api/groups/$g->{group}", headers => { 'X-User-Id' => 'host' })->{status}, 200,
    "the resource's owner sees the group";
BookingTest::error_is($t->req(GET => "/api/groups/$g->{group}", headers => { 'X-User-Id' => 'eve' }),
                      404, 'not_found', name => 'a stranger does not');
BookingTest::error_is($t->req(GET => '/api/groups/farm.nope!', headers => { 'X-User-Id' => 'ann' }),
                      404, 'not_found', name => 'a malformed group id: 404');

my $av = $t->req(GET => '/api/resources/farm/availability?from=2027-04-01T15:00:00Z&to=2027-04-01T18:00:00Z');
is_deeply [ map { [ $_->{start}, $_->{units} ] } @{ $av->{json}{free} } ],
    [ [ '2027-04-01T15:00:00Z', 1 ], [ '2027-04-01T16:00:00Z', 0 ], [ '2027-04-01T17:00:00Z', 1 ] ],
    'availability counts the occurrence of 2027-04-01'
    or diag $av->{body};

my $mine = $t->req(GET => '/api/bookings?resource=farm', headers => { 'X-User-Id' => 'host' });
is scalar(grep { ($_->{group} // '') eq $g->{group} } @{ $mine->{json}{items} || [] }), 6,
    "the owner's listing of the resource shows each booking's group";
$mine = $t->req(GET => '/api/bookings?limit=100', headers => { 'X-User-Id' => 'ann' });
is scalar(grep { ($_->{group} // '') eq $g->{group} } @{ $mine->{json}{items} || [] }), 6,
    "ann's own listing too (make test-asan: the group is copied out of the reply)";

my $one = $g->{bookings}[2]{id};
BookingTest::error_is($t->req(POST => "/api/bookings/$one/cancel", headers => { 'X-User-Id' => 'ann' }),
                      409, 'conflict', name => 'one booking of a group cannot be cancelled alone');

# ---------------------------------------------------------- all or nothing

is book(who => 'bob', resource => 'farm', start => '2027-05-13T16:00:00Z', end => '2027-05-13T17:00:00Z')->{status},
    201, 'bob takes Thursday 2027-05-13';
$r = book(resource => 'farm', start => '2027-05-06T16:00:00Z', end => '2027-05-06T17:00:00Z',
          repeat => { freq => 'weekly', count => 3 });
BookingTest::error_is($r, 409, 'unavailable', name => 'a series meeting it: 409');
is_deeply [ map { [ $_->{start}, $_->{code} ] } @{ $r->{json}{error}{conflicts} || [] } ],
    [ [ '2027-05-13T16:00:00Z', 'unavailable' ] ], '... naming that occurrence only';
$av = $t->req(GET => '/api/resources/farm/availability?from=2027-05-06T16:00:00Z&to=2027-05-06T17:00:00Z');
is $av->{json}{free}[0]{units}, 1, '... and booking none of the others';

$r = book(resource => 'farm', start => '2027-05-06T16:00:00Z', end => '2027-05-06T17:00:00Z',
          repeat => { freq => 'weekly', count => 3 }, skip_conflicts => JSON::PP::true);
is $r->{status}, 201, 'skip_conflicts: 201' or diag $r->{body};
is_deeply starts($r), [ '2027-05-06T16:00:00Z', '2027-05-20T16:00:00Z' ], '... the two that fit are booked';
is_deeply [ map { $_->{start} } @{ $r->{json}{skipped} || [] } ], [ '2027-05-13T16:00:00Z' ],
    '... the taken one is listed under skipped';

# ---------------------------------------------------------- rules, every occurrence

put('hall1', type => 'hall', capacity => 2);
my $h0 = floor(time / 86400) * 86400 + 86400 + 10 * 3600;    # tomorrow 10:00Z
sub iso { my @g = gmtime $_[0]; sprintf '%04d-%02d-%02dT%02d:%02d:%02dZ', $g[5] + 1900, $g[4] + 1, @g[3, 2, 1, 0] }
$r = book(resource => 'hall1', start => iso($h0), end => iso($h0 + 3600), repeat => { freq => 'daily', count => 14 });
BookingTest::error_is($r, 422, 'invalid', field => 'start', name => 'a daily series past the 10-day horizon: 422');
my @late = @{ $r->{json}{error}{conflicts} || [] };
ok @late >= 4 && @late <= 5 && !grep({ $_->{code} ne 'invalid' } @late),
    '... listing every occurrence past it (' . scalar(@late) . ')';
$r = book(resource => 'hall1', start => iso($h0), end => iso($h0 + 3600), repeat => { freq => 'daily', count => 14 },
          skip_conflicts => JSON::PP::true);
is $r->{status}, 201, '... with skip_conflicts, 201';
is scalar(@{ $r->{json}{bookings} }) + scalar(@{ $r->{json}{skipped} }), 14, '... booked and skipped make 14';

put('farm2', type => 'pickup', capacity => 3,
    hours => { thu => [ '18:00-19:00' ], closed => [ '2027-03-18' ] });
$r = book(resource => 'farm2', start => '2027-03-04T17:00:00Z', end => '2027-03-04T18:00:00Z',
          repeat => { freq => 'weekly', until => '2027-03-25' });
BookingTest::error_is($r, 422, 'invalid', field => 'start', name => 'a closed Thursday in the series: 422');
is_deeply [ map { $_->{start} } @{ $r->{json}{error}{conflicts} || [] } ], [ '2027-03-18T17:00:00Z' ],
    '... naming the closed date';
$r = book(resource => 'farm2', start => '2027-03-04T17:00:00Z', end => '2027-03-04T18:00:00Z',
          repeat => { freq => 'weekly', until => '2027-03-25' }, skip_conflicts => JSON::PP::true);
is_deeply starts($r), [ '2027-03-04T17:00:00Z', '2027-03-11T17:00:00Z', '2027-03-25T17:00:00Z' ],
    'until is inclusive; skip_conflicts passes over the closed date';

# ---------------------------------------------------------- the shape of a series

put('stall1', type => 'stall', capacity => 1);
$r = book(resource => 'stall1', start => '2027-01-31T09:00:00Z', end => '2027-01-31T10:00:00Z',
          repeat => { freq => 'monthly', count => 4 });
is_deeply starts($r), [ '2027-01-31T09:00:00Z', '2027-03-31T09:00:00Z', '2027-05-31T09:00:00Z',
                        '2027-07-31T09:00:00Z' ], 'monthly on the 31st skips the months without one';
$r = book(resource => 'stall1', start => '2028-01-03T09:00:00Z', end => '2028-01-03T10:00:00Z',
          repeat => { freq => 'daily', interval => 2, count => 53 });
BookingTest::error_is($r, 422, 'invalid', field => 'repeat', name => '53 occurrences: more than the default 52');
$r = book(resource => 'farm', start => '2028-01-06T17:00:00Z', end => '2028-01-06T18:00:00Z',
          repeat => { freq => 'weekly', count => 31 });
BookingTest::error_is($r, 422, 'invalid', field => 'repeat', name => '31 occurrences of a type with repeat_max=30');
put('q1', type => 'quarter', capacity => 1);
$r = book(resource => 'q1', start => '2029-01-01T00:00:00Z', end => '2029-01-27T00:00:00Z',
          repeat => { freq => 'monthly', count => 52 });
BookingTest::error_is($r, 422, 'invalid', field => 'repeat',
                      name => '52 months of 26 days of quarter hours: over 40,000 slots together, 422');
$r = book(resource => 'stall1', start => '2028-02-01T00:00:00Z', end => '2028-02-03T00:00:00Z',
          repeat => { freq => 'daily', count => 3 });
BookingTest::error_is($r, 422, 'invalid', field => 'repeat', name => 'two-day ranges every day overlap');
BookingTest::error_is(book(resource => 'stall1', start => '2028-02-01T00:00:00Z', end => '2028-02-01T01:00:00Z',
                           repeat => { freq => 'hourly', count => 3 }),
                      422, 'invalid', field => 'repeat.freq', name => 'freq must be daily, weekly or monthly');
BookingTest::error_is(book(resource => 'stall1', start => '2028-02-01T00:00:00Z', end => '2028-02-01T01:00:00Z',
                           repeat => { freq => 'daily', until => '2028-01-31' }),
                      422, 'invalid', field => 'repeat.until', name => 'until before the start: no occurrence, 422');
BookingTest::error_is(book(resource => 'stall1', start => '2028-02-01T00:00:00Z', end => '2028-02-01T01:00:00Z',
                           skip_conflicts => JSON::PP::true),
                      422, 'invalid', field => 'skip_conflicts', name => 'skip_conflicts without repeat');
put('gift1', type => 'gift', capacity => 5);
BookingTest::error_is(book(resource => 'gift1', start => '2028-02-01T00:00:00Z', end => '2028-02-01T01:00:00Z',
                           repeat => { freq => 'daily', count => 2 }),
                      422, 'invalid', field => 'repeat', name => 'a timeless stock does not repeat');
put('flat1', type => 'flat', capacity => 1);
is book(resource => 'flat1', start => '2028-02-01', end => '2028-02-02',
        repeat => { freq => 'weekly', count => 2 })->{status}, 201,
    'a type with max_active takes a series too (its claims: t/46)';

# ---------------------------------------------------------- held series

$r = book(resource => 'hall1', start => iso($h0 + 3 * 3600), end => iso($h0 + 4 * 3600), hold => JSON::PP::true,
          repeat => { freq => 'daily', count => 3 });
is $r->{status}, 201, 'a held series: 201';
is $r->{json}{status}, 'held', '... held';
my $tok = $r->{json}{token};
ok $tok, '... with one token';
my $c = $t->req(POST => "/api/groups/$r->{json}{group}/confirm", headers => { 'Booking-Token' => $tok });
is $c->{status}, 200, 'confirm with the token: 200';
is $c->{json}{status}, 'confirmed', '... every occurrence confirmed';

$r = book(resource => 'hall1', start => iso($h0 + 5 * 3600), end => iso($h0 + 6 * 3600), hold => JSON::PP::true,
          repeat => { freq => 'daily', count => 2 });
sleep 2;
BookingTest::error_is($t->req(POST => "/api/groups/$r->{json}{group}/confirm", headers => { 'X-User-Id' => 'ann' }),
                      410, 'expired', name => 'a series whose holds expired: 410');

# cancel: what started stays
my $now_h = floor(time / 3600) * 3600;
$r = book(resource => 'stall1', start => iso($now_h), end => iso($now_h + 3600), repeat => { freq => 'daily', count => 3 });
is $r->{status}, 201, 'a daily series from the hour under way: 201' or diag $r->{body};
$c = $t->req(POST => "/api/groups/$r->{json}{group}/cancel", headers => { 'X-User-Id' => 'ann' });
is $c->{status}, 200, 'cancel the series: 200';
is_deeply [ map { $_->{status} } @{ $c->{json}{bookings} } ], [ 'confirmed', 'cancelled', 'cancelled' ],
    '... the occurrence under way stays, the others are cancelled';
is $c->{json}{status}, 'mixed', '... the group is mixed';
$av = $t->req(GET => '/api/resources/stall1/availability?from=' . iso($now_h + 86400) . '&to=' . iso($now_h + 86400 + 3600));
is $av->{json}{free}[0]{units}, 1, '... and the units of the next day are free again';

# ---------------------------------------------------------- Idempotency-Key

my %k = (headers => { 'Idempotency-Key' => 'series-1' });
my $r1 = book(resource => 'stall1', start => '2027-09-01T09:00:00Z', end => '2027-09-01T10:00:00Z',
              repeat => { freq => 'weekly', count => 2 }, %k);
my $r2 = book(resource => 'stall1', start => '2027-09-01T09:00:00Z', end => '2027-09-01T10:00:00Z',
              repeat => { freq => 'weekly', count => 2 }, %k);
is $r1->{status}, 201, 'a series with an Idempotency-Key: 201';
is $r2->{status}, 201, '... sent again: 201';
is $r2->{json}{group}, $r1->{json}{group}, '... the same group';
is $r2->{headers}{'idempotent-replayed'}, 'true', '... replayed';

$t->check_error_log;
done_testing;

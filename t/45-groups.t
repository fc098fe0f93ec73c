# Groups of items (SPEC §6 "Groups of items"; README, "Groups of items"):
# POST /bookings with "items" books every item or none, in one script.
#
# - a home swap: two homes on the same dates, one group, one answer with
#   a group id; each booking carries it; GET /groups/{id} shows both;
# - one item taken: 409 naming that item (its index), and nothing booked;
#   two items not fitting: both named;
# - rules are checked for each item (a room's min), 422 naming the item;
#   max_active counts every item (a group past it is 429 and claims
#   nothing);
# - a trip: a room, a car and a timeless bike in one held group with one
#   token; confirm changes all; a group whose hold expired is 410 as a
#   whole; cancel frees every item;
# - one booking of a group cannot be acted on alone; strangers see
#   nothing; bad bodies are 400/422; an Idempotency-Key replays the group.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use BookingTest;
use BookingKeys qw(shard);

# In a Redis Cluster the items of a group must share a hash slot: every
# resource here shares home-a's; home-x does not, and shows the 422.
my $IN_CLUSTER = $BookingTest::CLUSTER;
sub near { my ($p) = @_; for my $i ('', 1 .. 9999) { return "$p$i" if shard("$p$i") == shard('home-a') } }
sub far { my ($p) = @_; for my $i ('', 1 .. 9999) { return "$p$i" if shard("$p$i") != shard('home-a') } }
my ($HB, $CAR, $BIKE, $HX, $NONE) = (near('home-b'), near('car-'), near('bike-'), far('home-x'), near('nope'));
my ($TOOL, $CA, $CB, $MIN) = (near('tool-'), near('couch-a'), near('couch-b'), near('min-'));

my $t = BookingTest->new(workers => 2, http => <<'EOT');
booking_type home slot=1d hold=10m min=2d;
booking_type car slot=1h hold=1s;
booking_type bike slot=none hold=10m;
booking_type tool slot=1h hold=10m max_active=2;
booking_type couch slot=1d hold=1h approval=on;
booking_type minute slot=1m hold=10m;
booking_user $http_x_user_id;
booking_cache zone=groups:1m valid=30s;
EOT

my $TRUE = JSON::PP::true;
sub error_is { local $Test::Builder::Level = $Test::Builder::Level + 1; BookingTest::error_is(@_) }

for ([ 'home-a', 'home', 1 ], [ $HB, 'home', 1 ], [ $CAR, 'car', 1 ], [ $BIKE, 'bike', 2 ],
     [ $HX, 'home', 1 ], [ $TOOL, 'tool', 1 ], [ $CA, 'couch', 1, 'host-a' ], [ $CB, 'couch', 1, 'host-b' ],
     [ $MIN, 'minute', 1 ]) {
    is $t->req(PUT => "/admin/resources/$_->[0]", body => { type => $_->[1], capacity => $_->[2],
                                                            $_->[3] ? (owner => $_->[3]) : () })->{status}, 201,
        "PUT $_->[0]";
}

sub book {
    my ($who, %body) = @_;
    my $h = delete $body{headers} // {};
    return $t->req(POST => '/api/bookings', body => \%body, headers => { 'X-User-Id' => $who, %$h });
}

sub free {
    my ($res, $from, $to) = @_;
    my $r = $t->req(GET => "/api/resources/$res/availability?from=$from&to=$to");
    return join ' ', map { $_->{units} } @{ $r->{json}{free} || [] };
}

my @swap = ({ resource => 'home-a', start => '2027-07-01', end => '2027-07-15' },
            { resource => $HB, start => '2027-07-01', end => '2027-07-15' });
is free($HB, '2027-07-01', '2027-07-15'), '1', 'before: home-b is free (an answer the micro-cache keeps 30 s)';
my $r;
if ($IN_CLUSTER) {
    # two hash slots: two phases (t/47 tells the rest)
    $r = book('ann', items => [ map { { %$_, start => '2027-09-01', end => '2027-09-05' } }
                                $swap[0], { %{ $swap[1] }, resource => $HX } ]);
    is $r->{status}, 201, 'in a Redis Cluster, items of two hash slots: 201' or diag $r->{body};
    is $t->req(POST => "/api/groups/$r->{json}{group}/cancel", headers => { 'X-User-Id' => 'ann' })->{status},
        200, '... and cancelled';
}
$r = book('ann', items => \@swap);
is $r->{status}, 201, 'a home swap: both homes, the same dates: 201' or diag $r->{body};
my $g = $r->{json};
like $g->{group}, qr/^home-a\.[A-Za-z0-9_-]{16}$/, '... a group of the first item\'s resource';
is $g->{kind}, 'items', '... of kind items';
is $g->{status}, 'confirmed', '... confirmed';
is_deeply [ map { $_->{resource} } @{ $g->{bookings} } ], [ 'home-a', $HB ], '... its bookings in the items\' order';
is scalar(grep { $_->{group} eq $g->{group} } @{ $g->{bookings} }), 2, '... each carrying the group';
is free('home-a', '2027-07-01', '2027-07-15'), '0', 'home-a is taken for the swap';
is free($HB, '2027-07-01', '2027-07-15'), '0', 'home-b too: the group told the cache of every item';

my $get = $t->req(GET => "/api/groups/$g->{group}", headers => { 'X-User-Id' => 'ann' });
is $get->{status}, 200, 'GET /groups/{id} of the swap: 200' or diag $get->{body};
is_deeply [ map { $_->{id} } @{ $get->{json}{bookings} } ], [ map { $_->{id} } @{ $g->{bookings} } ],
    '... the same two bookings';
error_is($t->req(GET => "/api/groups/$g->{group}", headers => { 'X-User-Id' => 'eve' }), 404, 'not_found',
         name => 'a stranger sees no group');
error_is($t->req(POST => "/api/bookings/$g->{bookings}[1]{id}/cancel", headers => { 'X-User-Id' => 'ann' }),
         409, 'conflict', name => 'one home of the swap cannot be cancelled alone');

# ------------------------------------------------------------ all or nothing

is book('bob', resource => $HB, start => '2027-08-10', end => '2027-08-12')->{status}, 201,
    'bob takes home-b on 2027-08-10';
$r = book('ann', items => [ { resource => 'home-a', start => '2027-08-05', end => '2027-08-15' },
                            { resource => $HB, start => '2027-08-05', end => '2027-08-15' } ]);
error_is($r, 409, 'unavailable', name => 'a swap over it: 409');
is_deeply [ map { "$_->{index} $_->{resource} $_->{free}" } @{ $r->{json}{error}{conflicts} || [] } ],
    [ "1 $HB 0" ], '... naming item 1, home-b, with 0 free';
is free('home-a', '2027-08-05', '2027-08-15'), '1', '... and home-a is not taken';

is book('bob', resource => 'home-a', start => '2027-08-14', end => '2027-08-16')->{status}, 201,
    'bob takes home-a on 2027-08-14 too';
$r = book('ann', items => [ { resource => 'home-a', start => '2027-08-05', end => '2027-08-15' },
                            { resource => $HB, start => '2027-08-05', end => '2027-08-15' } ]);
is_deeply [ map { $_->{index} } @{ $r->{json}{error}{conflicts} || [] } ], [ 0, 1 ], 'both taken: both named';

error_is(book('ann', items => [ { resource => 'home-a', start => '2027-09-01', end => '2027-09-02' },
                                { resource => $HB, start => '2027-09-01', end => '2027-09-05' } ]),
         422, 'invalid', field => 'items', name => 'one night is under min=2d: 422 naming items');
is free($HB, '2027-09-01', '2027-09-05'), '1', '... and nothing booked';

# ------------------------------------------------------------ a held trip

my $trip = book('cy', hold => $TRUE, items => [
    { resource => 'home-a', start => '2027-10-01', end => '2027-10-04' },
    { resource => $CAR, start => '2027-10-01T09:00:00Z', end => '2027-10-04T09:00:00Z' },
    { resource => $BIKE, quantity => 2 } ]);
is $trip->{status}, 201, 'a trip: a home, a car and two bikes, held: 201' or diag $trip->{body};
is $trip->{json}{status}, 'held', '... held';
ok $trip->{json}{token}, '... with one token';
is $trip->{headers}{'booking-token'}, $trip->{json}{token}, '... in Booking-Token too';
is $t->req(GET => "/api/resources/$BIKE/availability")->{json}{free}, 0, 'the bikes are held';
my $c = $t->req(POST => "/api/groups/$trip->{json}{group}/confirm", headers => { 'Booking-Token' => $trip->{json}{token} });
is $c->{status}, 200, 'confirm the trip with its token: 200' or diag $c->{body};
is_deeply [ map { $_->{status} } @{ $c->{json}{bookings} } ], [ ('confirmed') x 3 ], '... every item confirmed';
error_is($t->req(POST => "/api/groups/$trip->{json}{group}/confirm", headers => { 'Booking-Token' => 'x' x 43 }),
         401, 'unauthenticated', name => 'a wrong token: 401');
$c = $t->req(POST => "/api/groups/$trip->{json}{group}/cancel", headers => { 'X-User-Id' => 'cy' });
is $c->{status}, 200, 'cancel the trip: 200';
is $c->{json}{status}, 'cancelled', '... every item cancelled';
is $t->req(GET => "/api/resources/$BIKE/availability")->{json}{free}, 2, '... the bikes are back';
is free($CAR, '2027-10-01T09:00:00Z', '2027-10-01T10:00:00Z'), '1', '... and the car';

my $late = book('cy', hold => $TRUE, items => [
    { resource => $CAR, start => '2027-11-01T09:00:00Z', end => '2027-11-01T10:00:00Z' },
    { resource => $HB, start => '2027-11-01', end => '2027-11-03' } ]);
is $late->{status}, 201, 'a held car and home';
sleep 2;
error_is($t->req(POST => "/api/groups/$late->{json}{group}/confirm", headers => { 'X-User-Id' => 'cy' }), 410,
         'expired', name => 'the car\'s hold expired: 410 for the group');
is $t->req(GET => "/api/groups/$late->{json}{group}", headers => { 'X-User-Id' => 'cy' })->{json}{status}, 'mixed',
    '... the home stays held, nothing was confirmed';

# ------------------------------------------------------------ rules across items

# max_active=2 on tools: each item is one claim, all of a group's or none
sub tool_at { my ($h) = @_; return { resource => $TOOL, start => "2027-12-01T$h:00:00Z",
                                     end => sprintf('2027-12-01T%02d:00:00Z', $h + 1) } }
is book('ann', items => [ tool_at(10), { resource => $BIKE } ])->{status}, 201,
    'max_active=2: a tool and a bike, one claim on tools';
error_is(book('ann', items => [ tool_at(12), tool_at(14) ]), 429, 'quota',
         name => 'two tools more in one group: 429, neither is booked');
is book('ann', resource => $TOOL, start => '2027-12-01T12:00:00Z', end => '2027-12-01T13:00:00Z')->{status}, 201,
    '... the refused group claimed nothing: one tool more is the second';
error_is(book('ann', items => [ tool_at(16), { resource => $BIKE } ]), 429, 'quota',
         name => 'a third tool in a group: 429');
is book('bo', items => [ tool_at(16), tool_at(18) ])->{status}, 201, 'bo has his own two, in one group';
error_is($t->req(POST => '/admin/bookings', body => { kind => 'block', hold => $TRUE, items => [
             { resource => 'home-a', start => '2028-01-01', end => '2028-01-03' },
             { resource => $HB, start => '2028-01-01', end => '2028-01-03' } ] }),
         422, 'invalid', field => 'hold', name => 'a block is never held, in a group neither');

# 2 x 25,000 minutes: each fits one booking's bound, not both together
error_is(book('ann', items => [ { resource => $MIN, start => '2028-01-01T00:00:00Z', end => '2028-01-18T08:40:00Z' },
                                { resource => $MIN, start => '2028-02-01T00:00:00Z', end => '2028-02-18T08:40:00Z' } ]),
         422, 'invalid', field => 'items', name => 'items of 50,000 slots together: 422');
is book('ann', resource => $MIN, start => '2028-01-01T00:00:00Z', end => '2028-01-18T08:40:00Z')->{status}, 201,
    '... while one of them alone is booked';

# two couches with approval: each host decides on their own item
my $cg = book('eve', items => [ { resource => $CA, start => '2028-02-01', end => '2028-02-03' },
                                { resource => $CB, start => '2028-02-01', end => '2028-02-03' } ]);
is "$cg->{status} $cg->{json}{status}", '201 requested', 'two couches with approval: the group is requested';
my ($ca, $cb) = map { $_->{id} } @{ $cg->{json}{bookings} };
is $t->req(POST => "/api/bookings/$ca/approve", headers => { 'X-User-Id' => 'host-a' })->{json}{status}, 'confirmed',
    "host-a approves the item on their couch";
is $t->req(POST => "/api/bookings/$cb/decline", headers => { 'X-User-Id' => 'host-b' })->{json}{status}, 'declined',
    "host-b declines the item on theirs";
error_is($t->req(POST => "/api/bookings/$ca/cancel", headers => { 'X-User-Id' => 'host-a' }), 409, 'conflict',
         name => '... but a host does not cancel one item alone');
error_is($t->req(POST => "/api/groups/$cg->{json}{group}/cancel", headers => { 'X-User-Id' => 'host-a' }), 404,
         'not_found', name => '... nor the group: host-a owns one of its resources, not every one');
is $t->req(GET => "/api/groups/$cg->{json}{group}", headers => { 'X-User-Id' => 'eve' })->{json}{status}, 'mixed',
    'eve sees her group mixed: one confirmed, one declined';
is $t->req(POST => "/api/groups/$cg->{json}{group}/cancel", headers => { 'X-User-Id' => 'eve' })->{status}, 200,
    '... and cancels what is left of it';

# ------------------------------------------------------------ bodies

error_is(book('ann', items => [ { resource => 'home-a', start => '2027-12-01', end => '2027-12-03' } ]), 422,
         'invalid', field => 'items', name => 'one item is not a group');
error_is(book('ann', resource => 'home-a', items => \@swap), 422, 'invalid', field => 'resource',
         name => 'a resource beside items');
error_is(book('ann', items => [ (map { { resource => $BIKE } } 1 .. 17) ]), 422, 'invalid', field => 'items',
         name => '17 items');
error_is(book('ann', items => [ { resource => 'home-a', start => '2027-12-01', end => '2027-12-03', x => 1 },
                                { resource => $HB } ]), 422, 'invalid', field => 'items',
         name => 'an unknown field in an item');
error_is(book('ann', items => [ { resource => 'home-a', start => '2027-12-01', end => '2027-12-03' },
                                { resource => $NONE } ]), 404, 'not_found', field => 'items',
         name => 'an item of no resource: 404');

my %k = (headers => { 'Idempotency-Key' => 'swap-2' });
my @dec = ({ resource => 'home-a', start => '2027-12-10', end => '2027-12-20' },
           { resource => $HB, start => '2027-12-10', end => '2027-12-20' });
my $r1 = book('dan', items => \@dec, %k);
my $r2 = book('dan', items => \@dec, %k);
is "$r1->{status} $r2->{status}", '201 201', 'a swap with an Idempotency-Key, twice: 201 201';
is $r2->{json}{group}, $r1->{json}{group}, '... the same group';
is $r2->{headers}{'idempotent-replayed'}, 'true', '... replayed';

$t->check_error_log;
done_testing;

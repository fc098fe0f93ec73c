# Idempotency-Key on POST /bookings (SPEC §4): the same key, user and body
# within 24h answer the first answer again, byte for byte, with
# Idempotent-Replayed: true, and book nothing more; another body is 422;
# only 2xx answers are kept; keys are scoped to the user and the resource.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use BookingTest;
use BookingRace qw(:all);

BookingRace::pin_module();

my $SERVER = <<'EOT';
location /api/ { booking_api; }
location /guest/ { booking_api; booking_anonymous on; }
location /admin/ { booking_api admin; }
EOT
my $t = BookingTest->new(server => $SERVER);

my $TRUE = JSON::PP::true;
my $DAY  = 86400;
my $r;

sub error_is { local $Test::Builder::Level = $Test::Builder::Level + 1; BookingTest::error_is(@_) }

for my $res ([ 'room-1', 'room', 3 ], [ 'room-2', 'room', 3 ], [ 'gift-1', 'gift', 5 ], [ 'tiny', 'room', 1 ]) {
    my $r = $t->req(PUT => "/admin/resources/$res->[0]", body => { type => $res->[1], capacity => $res->[2],
                                                                  owner => 'olga' });
    is $r->{status}, 201, "PUT $res->[0]";
}

my $now = redis_now($t);
my $d = sub { day_start($now, $_[0]) };
my $D = sub { date($d->($_[0])) };

# POST a raw body (so that key order and spacing can vary)
sub post {
    my ($user, $key, $body, %o) = @_;
    my %h = ('Content-Type' => 'application/json');
    $h{'X-User-Id'} = $user if defined $user;
    $h{'Idempotency-Key'} = $key if defined $key;
    $body = JSON::PP->new->canonical->encode($body) if ref $body;
    return $t->req(POST => ($o{prefix} // '/api/') . 'bookings', body => $body, headers => \%h);
}

sub used {
    my ($res, $from, $to) = @_;
    my $u = avail_units($t, $res, $d->($from), $d->($to), $DAY, dates => 1);
    return [ map { 3 - $_ } @$u ];
}

sub owner_list {
    my ($res) = @_;
    my $r = $t->req(GET => "/api/bookings?resource=$res&limit=100", headers => user_h('olga'));
    return [ sort map { $_->{id} } @{ $r->{json}{items} || [] } ];
}

# ------------------------------------------------------------ replay

my %body = (resource => 'room-1', start => $D->(3), end => $D->(5), note => 'first');
my $first = post('alice', 'key-1', \%body);
is $first->{status}, 201, 'first POST with a key: 201' or diag $first->{body};
ok !exists $first->{headers}{'idempotent-replayed'}, 'the first answer is not marked replayed';
my $id = $first->{json}{id};
is_deeply used('room-1', 2, 6), [ 0, 1, 1, 0 ], 'one unit used';

my $again = post('alice', 'key-1', \%body);
is $again->{status}, 201, 'replay: the same status (201)';
is $again->{body}, $first->{body}, 'replay: the same body, byte for byte';
is $again->{headers}{'idempotent-replayed'}, 'true', 'replay: Idempotent-Replayed: true';
like $again->{headers}{'content-type'}, qr{^application/json}, 'replay: JSON';
is_deeply used('room-1', 2, 6), [ 0, 1, 1, 0 ], 'replay booked nothing more';
is_deeply owner_list('room-1'), [ $id ], 'the resource has one booking';

my $reordered = '{ "note" : "first", "end":"' . $D->(5) . '",  "resource":"room-1","start":"' . $D->(3) . '" }';
$r = post('alice', 'key-1', $reordered);
is $r->{status}, 201, 'another key order and spacing: the same body';
is $r->{body}, $first->{body}, '... replayed byte for byte';
is $r->{headers}{'idempotent-replayed'}, 'true', '... marked replayed';

$r = post('alice', 'key-1', { %body, quantity => 1, hold => JSON::PP::false, kind => 'booking' });
is $r->{status}, 201, 'the defaults said outright: the same normalized body';
is $r->{body}, $first->{body}, '... replayed byte for byte';

$r = post('alice', 'key-1', { %body, start => POSIX::strftime('%Y-%m-%dT%H:%M:%S+02:00', gmtime($d->(3) + 7200)) });
is $r->{status}, 201, 'the same instant written with an offset: the same body';
is $r->{body}, $first->{body}, '... replayed';
is_deeply used('room-1', 2, 6), [ 0, 1, 1, 0 ], 'still one unit used';

# ------------------------------------------------------------ another body

for my $case ([ { %body, quantity => 2 }, 'quantity 2' ], [ { %body, note => 'second' }, 'another note' ],
              [ { %body, end => $D->(6) }, 'another end' ], [ { %body, hold => $TRUE }, 'hold:true' ]) {
    error_is(post('alice', 'key-1', $case->[0]), 422, 'invalid', field => 'Idempotency-Key',
             name => "the same key with $case->[1]: 422 field Idempotency-Key");
}
$r = post('alice', 'key-1', { %body, note => undef });
ok $r->{status} == 400 || $r->{status} == 422, 'note null with the same key is refused';
is_deeply used('room-1', 2, 6), [ 0, 1, 1, 0 ], 'the refused bodies booked nothing';

# ------------------------------------------------------------ scope: user, resource

$r = post('bob', 'key-1', \%body);
is $r->{status}, 201, 'another user, the same key and body: a new booking';
ok !exists $r->{headers}{'idempotent-replayed'}, '... not a replay';
isnt $r->{json}{id}, $id, '... with its own id';
is $r->{json}{user}, 'bob', '... for bob';
is_deeply used('room-1', 2, 6), [ 0, 2, 2, 0 ], 'two units used';

$r = post('alice', 'key-1', { %body, resource => 'room-2' });
is $r->{status}, 201, 'the same key on another resource: a new booking (keys are scoped to the resource)';
ok !exists $r->{headers}{'idempotent-replayed'}, '... not a replay';
is $r->{json}{resource}, 'room-2', '... on room-2';

$r = post('alice', 'key-2', \%body);
is $r->{status}, 201, 'another key, the same body: a new booking';
isnt $r->{json}{id}, $id, '... with a new id';
is_deeply used('room-1', 2, 6), [ 0, 3, 3, 0 ], 'three units used';

# ------------------------------------------------------------ a replay answers the first answer, whatever happened since

is act($t, 'alice', $id, 'cancel')->{status}, 200, 'alice cancels the first booking';
is_deeply used('room-1', 2, 6), [ 0, 2, 2, 0 ], 'two units used';
$r = post('alice', 'key-1', \%body);
is $r->{status}, 201, 'a replay after the cancel: 201';
is $r->{body}, $first->{body}, '... the first answer again';
is $r->{headers}{'idempotent-replayed'}, 'true', '... marked replayed';
is_deeply used('room-1', 2, 6), [ 0, 2, 2, 0 ], '... and it books nothing';
is get_booking($t, 'alice', $id)->{json}{status}, 'cancelled', 'the booking stays cancelled';

# ------------------------------------------------------------ holds replay their token

my %hold = (resource => 'room-2', start => $D->(10), end => $D->(11), hold => $TRUE);
my $h1 = post('alice', 'hold-key', \%hold);
is $h1->{status}, 201, 'a hold with a key';
my $h2 = post('alice', 'hold-key', \%hold);
is $h2->{status}, 201, 'its replay: 201';
is $h2->{body}, $h1->{body}, 'the replay of a hold: the same body';
is $h2->{json}{token}, $h1->{json}{token}, '... the same token in the body';
is $h2->{headers}{'booking-token'}, $h1->{headers}{'booking-token'}, '... and in the header';
is $h2->{headers}{'idempotent-replayed'}, 'true', '... marked replayed';
is act($t, undef, $h1->{json}{id}, 'confirm', headers => { 'Booking-Token' => $h2->{json}{token} })->{status}, 200,
    'the replayed token confirms the hold';

# ------------------------------------------------------------ timeless

my $g1 = post('alice', 'g', { resource => 'gift-1', quantity => 2 });
my $g2 = post('alice', 'g', { resource => 'gift-1', quantity => 2 });
is $g1->{status}, 201, 'timeless with a key';
is $g2->{body}, $g1->{body}, 'timeless replay: the same body';
is $t->req(GET => '/api/resources/gift-1/availability')->{json}{free}, 3, 'timeless replay took nothing more';

# ------------------------------------------------------------ only 2xx answers are kept

is post('carol', undef, { resource => 'tiny', start => $D->(20), end => $D->(21) })->{status}, 201, 'tiny is full';
my $x = post('dave', 'retry', { resource => 'tiny', start => $D->(20), end => $D->(21), note => 'n' });
error_is($x, 409, 'unavailable', name => 'a key whose first answer is 409');
$x = post('dave', 'retry', { resource => 'tiny', start => $D->(20), end => $D->(21), note => 'n' });
error_is($x, 409, 'unavailable', name => 'the retry is judged anew (still full)');
ok !exists $x->{headers}{'idempotent-replayed'}, 'an error is not replayed';
my $carol = $t->req(GET => '/api/bookings?resource=tiny', headers => user_h('olga'))->{json}{items}[0]{id};
is act($t, 'olga', $carol, 'cancel')->{status}, 200, 'tiny is freed';
$x = post('dave', 'retry', { resource => 'tiny', start => $D->(20), end => $D->(21), note => 'n' });
is $x->{status}, 201, 'the same key after a 409: booked now';
ok !exists $x->{headers}{'idempotent-replayed'}, '... not a replay';
$x = post('dave', 'retry', { resource => 'tiny', start => $D->(20), end => $D->(21), note => 'n' });
is $x->{headers}{'idempotent-replayed'}, 'true', 'and from then on replayed';

my $e = post('dave', 'bad', { resource => 'tiny', start => $D->(20), end => $D->(20) });
error_is($e, 422, 'invalid', name => 'a 422 with a key');
$e = post('dave', 'bad', { resource => 'tiny', start => $D->(25), end => $D->(26) });
is $e->{status}, 201, 'the key of a 422 is free for another body';

# ------------------------------------------------------------ the key itself

my $k255 = 'k' x 255;
$r = post('alice', $k255, { resource => 'room-2', start => $D->(30), end => $D->(31) });
is $r->{status}, 201, 'a key of 255 bytes: 201';
$r = post('alice', $k255, { resource => 'room-2', start => $D->(30), end => $D->(31) });
is $r->{headers}{'idempotent-replayed'}, 'true', '... replayed';
error_is(post('alice', 'k' x 256, { resource => 'room-2', start => $D->(30), end => $D->(31) }), 400, 'bad_request',
         field => 'Idempotency-Key', name => 'a key of 256 bytes: 400 field Idempotency-Key');
error_is(post('alice', 'k' x 1000, { resource => 'room-2', start => $D->(30), end => $D->(31) }), 400, 'bad_request',
         field => 'Idempotency-Key', name => 'a key of 1000 bytes: 400');
error_is(post('alice', '', { resource => 'room-2', start => $D->(30), end => $D->(31) }), 400, 'bad_request',
         field => 'Idempotency-Key', name => 'an empty key: 400');
is_deeply [ map { 3 - $_ } @{ avail_units($t, 'room-2', $d->(30), $d->(31), $DAY, dates => 1) } ], [ 1 ],
    'the refused keys booked nothing';

# guests: one scope for all of them, so a key must be long enough not to be guessed
error_is(post(undef, 'short-key', { resource => 'room-2', start => $D->(50), end => $D->(51), hold => $TRUE },
              prefix => '/guest/'), 400, 'bad_request', field => 'Idempotency-Key',
         name => "a guest's key under 16 bytes: 400");
my $gk = 'guest-key-0123456789abcdef';
my $gh1 = post(undef, $gk, { resource => 'room-2', start => $D->(50), end => $D->(51), hold => $TRUE }, prefix => '/guest/');
is $gh1->{status}, 201, 'a guest hold with a long key: 201' or diag $gh1->{body};
my $gh2 = post(undef, $gk, { resource => 'room-2', start => $D->(50), end => $D->(51), hold => $TRUE }, prefix => '/guest/');
is $gh2->{body}, $gh1->{body}, 'the guest replay: the same body and token';
is $gh2->{headers}{'idempotent-replayed'}, 'true', '... marked replayed';
is_deeply [ map { 3 - $_ } @{ avail_units($t, 'room-2', $d->(50), $d->(51), $DAY, dates => 1) } ], [ 1 ],
    'the guest replay booked nothing more';

# keys a user shares between resources
$r = post('alice', 'same', { resource => 'room-1', start => $D->(40), end => $D->(41) });
my $r2 = post('alice', 'same', { resource => 'room-1', start => $D->(40), end => $D->(41) });
is $r2->{body}, $r->{body}, 'a key is honoured on its resource';

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;

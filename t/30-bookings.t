# Bookings over HTTP (SPEC §1, §2, §4): every transition and its repeat,
# the errors of the table, the shape of a booking (fields omitted, never
# null; dates and instants), blocks, the approval flow, timeless stock, and
# availability after each change (buffer included).

use strict;
use warnings;
use utf8;
use Test::More;
use JSON::PP ();
use BookingTest;
use BookingRace qw(:all);

BookingRace::pin_module();

my $HTTP = default_http() . "booking_type flash slot=1h hold=1s;\n";
my $t = BookingTest->new(http => $HTTP);

my $TRUE  = JSON::PP::true;
my $FALSE = JSON::PP::false;
my $ID    = qr/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{16}$/;
my $INSTANT = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
my $DATE    = qr/^\d{4}-\d\d-\d\d$/;
my $DAY  = 86400;
my $HOUR = 3600;

sub error_is { local $Test::Builder::Level = $Test::Builder::Level + 1; BookingTest::error_is(@_) }

sub keys_are {
    my ($j, $want, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is_deeply [ sort keys %{ ref $j eq 'HASH' ? $j : {} } ], [ sort @$want ], $name;
}

sub json_ct_ok {
    my ($r, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    like $r->{headers}{'content-type'} // '', qr{^application/json\b}, "$name: JSON Content-Type";
}

# ------------------------------------------------------------ resources

for my $res (
    [ 'room-a',  { type => 'room',  capacity => 2, owner => 'olga' } ],
    [ 'room-b',  { type => 'room',  capacity => 1, owner => 'olga' } ],
    [ 'car-a',   { type => 'car',   capacity => 1, owner => 'olga' } ],
    [ 'couch-a', { type => 'couch', capacity => 1, owner => 'olga' } ],
    [ 'gift-a',  { type => 'gift',  capacity => 5, owner => 'olga' } ],
    [ 'flash-a', { type => 'flash', capacity => 1, owner => 'olga' } ],
) {
    my $r = $t->req(PUT => "/admin/resources/$res->[0]", body => $res->[1]);
    is $r->{status}, 201, "PUT $res->[0]" or diag $r->{body};
}

my $now = redis_now($t);
my $D = sub { day_start($now, $_[0]) };          # epoch of day now+N
my $H = sub { day_start($now, $_[0]) + $_[1] * $HOUR };    # day now+N at hour H

my @BASE = qw(id resource type status kind start end quantity user created_at);

# ------------------------------------------------------------ hold, confirm, cancel (room)

my @room_a;    # occupying bookings of room-a: [start, end, qty, id]
my ($w0, $w1) = ($D->(2), $D->(8));
my $room_ok = sub {
    my ($name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    runs_ok($t, 'room-a', 2, $w0, $w1, $DAY, \@room_a, "room-a availability: $name", dates => 1);
};
$room_ok->('nothing booked');

my $r = book($t, 'alice', { resource => 'room-a', start => date($D->(3)), end => date($D->(5)),
                            hold => $TRUE });
is $r->{status}, 201, 'hold: 201' or diag $r->{body};
json_ct_ok($r, 'hold');
my $held = $r->{json};
keys_are($held, [ @BASE, qw(expires_at token) ], 'a hold has expires_at and token, no note');
like $held->{id}, qr/^room-a\.[A-Za-z0-9_-]{16}$/, 'the id is "<resource>.<16 base64url>"';
is $held->{resource}, 'room-a', 'resource';
is $held->{type}, 'room', 'type';
is $held->{status}, 'held', 'status held';
is $held->{kind}, 'booking', 'kind defaults to booking';
is $held->{quantity}, 1, 'quantity defaults to 1';
is $held->{user}, 'alice', 'user is the caller';
is $held->{start}, date($D->(3)), 'a day type answers plain dates: start';
is $held->{end}, date($D->(5)), 'a day type answers plain dates: end';
like $held->{created_at}, $INSTANT, 'created_at is an instant with Z';
like $held->{expires_at}, $INSTANT, 'expires_at is an instant with Z';
is epoch($held->{expires_at}) - epoch($held->{created_at}), 15 * 60, 'expires_at = created_at + hold (15m)';
ok abs(epoch($held->{created_at}) - $now) < 60, 'created_at is now';
ok length($held->{token}) >= 20, 'a token';
is $r->{headers}{'booking-token'}, $held->{token}, 'Booking-Token header = body token';
ok no_nulls($held), 'no null anywhere';
my $hold_id = $held->{id};
push @room_a, [ $D->(3), $D->(5), 1, $hold_id ];
$room_ok->('after a hold');

$r = get_booking($t, 'alice', $hold_id);
is $r->{status}, 200, 'GET the hold: 200';
my %no_token = %$held;
delete $no_token{token};
is_deeply $r->{json}, \%no_token, 'GET: the booking as POST gave it, without the token';
ok !exists $r->{headers}{'booking-token'}, 'GET: no Booking-Token header';

$r = act($t, 'alice', $hold_id, 'confirm');
is $r->{status}, 200, 'confirm a hold: 200' or diag $r->{body};
json_ct_ok($r, 'confirm');
keys_are($r->{json}, \@BASE, 'a confirmed booking has no expires_at, token or note');
is $r->{json}{status}, 'confirmed', 'held -> confirmed';
my %want = %no_token;
delete $want{expires_at};
$want{status} = 'confirmed';
is_deeply $r->{json}, \%want, 'confirm keeps every other field';
ok !exists $r->{headers}{'booking-token'}, 'confirm: no Booking-Token header';
my $confirmed_body = $r->{json};
$room_ok->('after confirm (still occupied)');

$r = act($t, 'alice', $hold_id, 'confirm');
is $r->{status}, 200, 'confirm again: 200 (idempotent)';
is_deeply $r->{json}, $confirmed_body, 'confirm again: the same booking';
$room_ok->('after a repeated confirm');

$r = act($t, 'alice', $hold_id, 'cancel');
is $r->{status}, 200, 'cancel a confirmed booking: 200';
is $r->{json}{status}, 'cancelled', 'confirmed -> cancelled';
keys_are($r->{json}, \@BASE, 'a cancelled booking: the base fields');
my $cancelled_body = $r->{json};
@room_a = grep { $_->[3] ne $hold_id } @room_a;
$room_ok->('cancel frees the units at once');

$r = act($t, 'alice', $hold_id, 'cancel');
is $r->{status}, 200, 'cancel again: 200 (idempotent)';
is_deeply $r->{json}, $cancelled_body, 'cancel again: the same booking';
$room_ok->('after a repeated cancel');

error_is(act($t, 'alice', $hold_id, 'confirm'), 409, 'conflict', name => 'confirm a cancelled booking: 409 conflict');
error_is(act($t, 'olga', $hold_id, 'approve'), 409, 'conflict', name => 'approve a cancelled booking: 409 conflict');
error_is(act($t, 'olga', $hold_id, 'decline'), 409, 'conflict', name => 'decline a cancelled booking: 409 conflict');
is get_booking($t, 'alice', $hold_id)->{json}{status}, 'cancelled', 'still cancelled after the refused moves';
$room_ok->('after refused moves');

# a hold cancelled directly
$r = book($t, 'alice', { resource => 'room-a', start => date($D->(4)), end => date($D->(6)), hold => $TRUE });
is $r->{status}, 201, 'another hold';
my $h2 = $r->{json}{id};
push @room_a, [ $D->(4), $D->(6), 1, $h2 ];
$room_ok->('second hold');
error_is(act($t, 'olga', $h2, 'approve'), 409, 'conflict', name => 'approve a held booking: 409 conflict');
error_is(act($t, 'olga', $h2, 'decline'), 409, 'conflict', name => 'decline a held booking: 409 conflict');
$r = act($t, 'alice', $h2, 'cancel');
is $r->{status}, 200, 'cancel a hold: 200';
is $r->{json}{status}, 'cancelled', 'held -> cancelled';
ok !exists $r->{json}{expires_at}, 'a cancelled hold has no expires_at';
@room_a = grep { $_->[3] ne $h2 } @room_a;
$room_ok->('cancelled hold frees its units');

# hold:false is a booking at once
$r = book($t, 'alice', { resource => 'room-a', start => date($D->(3)), end => date($D->(4)), quantity => 2,
                         note => 'two beds' });
is $r->{status}, 201, 'hold:false: 201' or diag $r->{body};
keys_are($r->{json}, [ @BASE, 'note' ], 'hold:false: no expires_at, no token; note when given');
is $r->{json}{status}, 'confirmed', 'hold:false -> confirmed';
is $r->{json}{quantity}, 2, 'quantity 2';
is $r->{json}{note}, 'two beds', 'note';
ok !exists $r->{headers}{'booking-token'}, 'hold:false: no Booking-Token header';
my $full = $r->{json}{id};
push @room_a, [ $D->(3), $D->(4), 2, $full ];
$room_ok->('a quantity-2 booking');

{
    error_is(act($t, 'olga', $full, 'approve'), 409, 'conflict',
             name => 'approve a booking confirmed without approval (room): 409 conflict');
}

# unavailable, with the conflicting runs
$r = book($t, 'bob', { resource => 'room-a', start => date($D->(2)), end => date($D->(4)) });
error_is($r, 409, 'unavailable', name => 'no unit left on one day: 409 unavailable');
is_deeply $r->{json}{error}{conflicts}, [ { start => date($D->(3)), end => date($D->(4)), free => 0 } ],
    'conflicts: the day with no unit, 0 free';
$room_ok->('a refused booking changes nothing');

push @room_a, [ $D->(4), $D->(6), 1, 'x' ];
$r = book($t, 'bob', { resource => 'room-a', start => date($D->(4)), end => date($D->(6)) });
is $r->{status}, 201, 'one unit on two later days';
$room_ok->('after bob');
$room_a[-1][3] = $r->{json}{id};
$r = book($t, 'carol', { resource => 'room-a', start => date($D->(2)), end => date($D->(7)), quantity => 2 });
error_is($r, 409, 'unavailable', name => 'quantity 2 over busy days: 409');
is_deeply $r->{json}{error}{conflicts},
    [ { start => date($D->(3)), end => date($D->(4)), free => 0 },
      { start => date($D->(4)), end => date($D->(6)), free => 1 } ],
    'conflicts: one run per level of free units, merged over days';
like $r->{json}{error}{message}, qr/2 of 2 units are taken/, 'the message says how many units are taken';
$room_ok->('after a refused quantity-2 booking');

# ------------------------------------------------------------ who sees a booking

is get_booking($t, 'olga', $full)->{status}, 200, 'GET by the resource owner: 200';
is $t->req(GET => "/admin/bookings/$full")->{status}, 200, 'GET through the admin location: 200';
error_is(get_booking($t, 'bob', $full), 404, 'not_found', name => 'GET by another user: 404');
error_is(get_booking($t, undef, $full), 401, 'unauthenticated', name => 'GET without a user: 401');

# ------------------------------------------------------------ approval flow (couch)

my @couch;
my ($c0, $c1) = ($D->(9), $D->(16));
my $couch_ok = sub {
    my ($name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    runs_ok($t, 'couch-a', 1, $c0, $c1, $DAY, \@couch, "couch-a availability: $name", dates => 1);
};

$r = book($t, 'alice', { resource => 'couch-a', start => date($D->(10)), end => date($D->(12)), hold => $TRUE });
is $r->{status}, 201, 'couch hold: 201';
is $r->{json}{status}, 'held', 'couch hold is held';
is epoch($r->{json}{expires_at}) - epoch($r->{json}{created_at}), 48 * $HOUR, 'couch hold lasts 48h';
my $ch = $r->{json}{id};
push @couch, [ $D->(10), $D->(12), 1, $ch ];
$couch_ok->('hold');

$r = act($t, 'alice', $ch, 'confirm');
is $r->{status}, 200, 'confirm on an approval type: 200';
is $r->{json}{status}, 'requested', 'held -> requested';
ok !exists $r->{json}{expires_at}, 'requested: no expires_at';
$couch_ok->('requested still occupies');
$r = act($t, 'alice', $ch, 'confirm');
is $r->{status}, 200, 'confirm a requested booking again: 200';
is $r->{json}{status}, 'requested', '... and it stays requested';

error_is(act($t, 'alice', $ch, 'approve'), 403, 'forbidden', name => 'the booking owner may not approve: 403');
error_is(act($t, 'bob', $ch, 'approve'), 404, 'not_found', name => 'a stranger may not approve: 404');
is get_booking($t, 'alice', $ch)->{json}{status}, 'requested', 'still requested';

$r = act($t, 'olga', $ch, 'approve');
is $r->{status}, 200, 'the resource owner approves: 200';
is $r->{json}{status}, 'confirmed', 'requested -> confirmed';
$r = act($t, 'olga', $ch, 'approve');
is $r->{status}, 200, 'approve again: 200';
is $r->{json}{status}, 'confirmed', '... still confirmed';
error_is(act($t, 'olga', $ch, 'decline'), 409, 'conflict', name => 'decline a confirmed booking: 409');
$couch_ok->('approved still occupies');

$r = act($t, 'olga', $ch, 'cancel');
is $r->{status}, 200, 'the resource owner cancels: 200';
is $r->{json}{status}, 'cancelled', 'confirmed -> cancelled by the owner of the resource';
@couch = ();
$couch_ok->('cancelled by the owner of the resource');

$r = book($t, 'alice', { resource => 'couch-a', start => date($D->(13)), end => date($D->(15)) });
is $r->{status}, 201, 'hold:false on an approval type: 201';
is $r->{json}{status}, 'requested', 'hold:false on an approval type -> requested';
my $cr = $r->{json}{id};
push @couch, [ $D->(13), $D->(15), 1, $cr ];
$couch_ok->('a request occupies');
error_is(book($t, 'bob', { resource => 'couch-a', start => date($D->(14)), end => date($D->(15)) }),
         409, 'unavailable', name => 'a request holds its units against others');

$r = act($t, 'olga', $cr, 'decline');
is $r->{status}, 200, 'decline: 200';
is $r->{json}{status}, 'declined', 'requested -> declined';
@couch = ();
$couch_ok->('decline frees the units');
$r = act($t, 'olga', $cr, 'decline');
is $r->{status}, 200, 'decline again: 200';
is $r->{json}{status}, 'declined', '... still declined';
error_is(act($t, 'olga', $cr, 'approve'), 409, 'conflict', name => 'approve a declined booking: 409');
error_is(act($t, 'alice', $cr, 'confirm'), 409, 'conflict', name => 'confirm a declined booking: 409');
error_is(act($t, 'alice', $cr, 'cancel'), 409, 'conflict', name => 'cancel a declined booking: 409');
$couch_ok->('refused moves on a declined booking');

$r = book($t, 'carol', { resource => 'couch-a', start => date($D->(13)), end => date($D->(14)) });
is $r->{json}{status}, 'requested', 'carol requests';
push @couch, [ $D->(13), $D->(14), 1, $r->{json}{id} ];
$couch_ok->('a second request occupies');
$r = act($t, 'carol', $r->{json}{id}, 'cancel');
is $r->{status}, 200, 'the booker cancels its request: 200';
is $r->{json}{status}, 'cancelled', 'requested -> cancelled';
pop @couch;
$couch_ok->('a cancelled request frees its units');

$r = book($t, 'bob', { resource => 'couch-a', start => date($D->(14)), end => date($D->(15)), hold => $TRUE });
is $r->{status}, 201, 'the declined units can be held again';
my $cb = $r->{json}{id};
push @couch, [ $D->(14), $D->(15), 1, $cb ];
$r = act($t, 'bob', $cb, 'confirm');
is $r->{json}{status}, 'requested', 'bob requests';
$r = $t->req(POST => "/admin/bookings/$cb/approve");
is $r->{status}, 200, 'an admin location approves: 200';
is $r->{json}{status}, 'confirmed', 'admin approve -> confirmed';
$couch_ok->('approved by admin');

$r = book($t, 'olga', { resource => 'couch-a', start => date($D->(10)), end => date($D->(11)), kind => 'block' });
is $r->{status}, 201, 'the owner blocks an approval type: 201';
is $r->{json}{status}, 'confirmed', 'a block is confirmed at once, never requested';
push @couch, [ $D->(10), $D->(11), 1, $r->{json}{id} ];
$couch_ok->('block on the couch');

# ------------------------------------------------------------ blocks

$r = book($t, 'alice', { resource => 'room-b', start => date($D->(3)), end => date($D->(4)), kind => 'block' });
error_is($r, 403, 'forbidden', name => 'a block by a user who does not own the resource: 403');
runs_ok($t, 'room-b', 1, $D->(2), $D->(5), $DAY, [], 'a refused block books nothing', dates => 1);

$r = book($t, 'olga', { resource => 'room-b', start => date($D->(3)), end => date($D->(4)), kind => 'block',
                        note => 'painting' });
is $r->{status}, 201, 'a block by the resource owner: 201' or diag $r->{body};
is $r->{json}{kind}, 'block', 'kind block';
is $r->{json}{status}, 'confirmed', 'a block is confirmed';
is $r->{json}{note}, 'painting', 'the block keeps its note';
my $blk = $r->{json}{id};
runs_ok($t, 'room-b', 1, $D->(2), $D->(5), $DAY, [ [ $D->(3), $D->(4), 1 ] ], 'a block occupies', dates => 1);
error_is(book($t, 'alice', { resource => 'room-b', start => date($D->(3)), end => date($D->(4)) }),
         409, 'unavailable', name => 'a blocked day cannot be booked');

$r = $t->req(POST => '/admin/bookings', body => { resource => 'room-b', start => date($D->(4)), end => date($D->(5)),
                                                 kind => 'block' });
is $r->{status}, 201, 'a block through the admin location, without a user: 201' or diag $r->{body};
is $r->{json}{kind}, 'block', 'admin block: kind block';
ok !exists $r->{json}{user}, 'a booking without a user has no user field';
ok no_nulls($r->{json}), 'admin block: no null';
my $ablk = $r->{json}{id};
runs_ok($t, 'room-b', 1, $D->(2), $D->(6), $DAY, [ [ $D->(3), $D->(5), 1 ] ], 'two blocks occupy', dates => 1);

error_is(book($t, 'olga', { resource => 'room-b', start => date($D->(6)), end => date($D->(7)), kind => 'block',
                            hold => $TRUE }), 422, 'invalid', field => 'hold', name => 'a held block: 422 field hold');

$r = act($t, 'olga', $blk, 'cancel');
is $r->{status}, 200, 'the owner cancels the block';
is $r->{json}{status}, 'cancelled', 'block cancelled';
$r = $t->req(POST => "/admin/bookings/$ablk/cancel");
is $r->{status}, 200, 'the admin location cancels its block';
runs_ok($t, 'room-b', 1, $D->(2), $D->(6), $DAY, [], 'cancelled blocks free the units', dates => 1);

# ------------------------------------------------------------ hourly type, buffer, offsets (car)

my @car;
my ($h0, $h1) = ($H->(2, 5), $H->(2, 18));
my $car_ok = sub {
    my ($name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    runs_ok($t, 'car-a', 1, $h0, $h1, $HOUR, \@car, "car-a availability: $name");
};

$r = book($t, 'alice', { resource => 'car-a', start => iso($H->(2, 10)), end => iso($H->(2, 12)) });
is $r->{status}, 201, 'car 10:00-12:00: 201' or diag $r->{body};
is $r->{json}{start}, iso($H->(2, 10)), 'an hourly type answers instants with Z: start';
is $r->{json}{end}, iso($H->(2, 12)), 'end is the end asked, not the buffer';
my $car1 = $r->{json}{id};
push @car, [ $H->(2, 10), $H->(2, 13), 1, $car1 ];
$car_ok->('10-12 with a 1h buffer blocks 10-13');

$r = book($t, 'bob', { resource => 'car-a', start => iso($H->(2, 12)), end => iso($H->(2, 13)) });
error_is($r, 409, 'unavailable', name => 'a booking inside the buffer: 409');
is_deeply $r->{json}{error}{conflicts}, [ { start => iso($H->(2, 12)), end => iso($H->(2, 13)), free => 0 } ],
    'conflicts: the buffer hour, with instants';

$r = book($t, 'bob', { resource => 'car-a', start => iso($H->(2, 8)), end => iso($H->(2, 10)) });
error_is($r, 409, 'unavailable',
         name => 'a booking that ends where another begins is refused when its buffer overlaps');
is_deeply $r->{json}{error}{conflicts}, [ { start => iso($H->(2, 10)), end => iso($H->(2, 11)), free => 0 } ],
    'conflicts: the hour where its buffer meets the next booking';
$car_ok->('refused bookings change nothing');

$r = book($t, 'bob', { resource => 'car-a', start => iso($H->(2, 13)), end => iso($H->(2, 14)) });
is $r->{status}, 201, 'a booking at 13:00, after the buffer: 201' or diag $r->{body};
push @car, [ $H->(2, 13), $H->(2, 15), 1, $r->{json}{id} ];
$car_ok->('13-14 (+buffer)');

$r = book($t, 'bob', { resource => 'car-a', start => iso($H->(2, 7)), end => iso($H->(2, 9)) });
is $r->{status}, 201, 'a booking whose buffer ends where the next begins: 201' or diag $r->{body};
push @car, [ $H->(2, 7), $H->(2, 10), 1, $r->{json}{id} ];
$car_ok->('7-9 (+buffer)');

$r = act($t, 'alice', $car1, 'cancel');
is $r->{status}, 200, 'cancel 10-12';
@car = grep { $_->[3] ne $car1 } @car;
$car_ok->('the cancelled booking frees its buffer too');

# offsets are converted to UTC
my $off = POSIX::strftime('%Y-%m-%dT%H:%M:%S+02:00', gmtime($H->(3, 12)));
$r = book($t, 'alice', { resource => 'car-a', start => $off,
                         end => POSIX::strftime('%Y-%m-%dT%H:%M:%S-01:30', gmtime($H->(3, 12) - 90 * 60)) });
is $r->{status}, 201, 'instants with offsets: 201' or diag $r->{body};
is $r->{json}{start}, iso($H->(3, 10)), 'start +02:00 converted to UTC with Z';
is $r->{json}{end}, iso($H->(3, 12)), 'end -01:30 converted to UTC with Z';
$r = book($t, 'alice', { resource => 'car-a', start => lc(iso($H->(3, 14))), end => iso($H->(3, 15)) });
is $r->{status}, 201, 'lower-case t and z (RFC 3339 allows them)';
is $r->{json}{start}, iso($H->(3, 14)), '... answered upper-case';
$r = book($t, 'alice', { resource => 'car-a', start => date($D->(4)), end => iso($H->(4, 1)) });
is $r->{status}, 201, 'a plain date on an hourly type means 00:00 UTC' or diag $r->{body};
is $r->{json}{start}, iso($D->(4)), 'an hourly type answers a full instant even for a date';

# a day type given as instants answers dates
$r = book($t, 'alice', { resource => 'room-b', start => iso($D->(9)), end => POSIX::strftime('%Y-%m-%dT%H:%M:%S+01:00', gmtime($D->(10) + $HOUR)) });
is $r->{status}, 201, 'instants on a day type: 201' or diag $r->{body};
is $r->{json}{start}, date($D->(9)), 'a day type answers plain dates (start)';
is $r->{json}{end}, date($D->(10)), 'a day type answers plain dates (end, offset converted)';

# ------------------------------------------------------------ timeless stock (gift)

my @GIFT = qw(id resource type status kind quantity user created_at);
$r = book($t, 'alice', { resource => 'gift-a', quantity => 3 });
is $r->{status}, 201, 'timeless: 201' or diag $r->{body};
keys_are($r->{json}, \@GIFT, 'a timeless booking has no start or end');
is $r->{json}{status}, 'confirmed', 'timeless confirmed';
is $r->{json}{quantity}, 3, 'timeless quantity 3';
my $g1 = $r->{json}{id};
my $gift_free = sub { $t->req(GET => '/api/resources/gift-a/availability')->{json}{free} };
is $gift_free->(), 2, 'stock: 2 of 5 left';

$r = book($t, 'bob', { resource => 'gift-a', quantity => 3 });
error_is($r, 409, 'unavailable', name => 'timeless: more than the stock left: 409');
is_deeply $r->{json}{error}{conflicts}, [ { free => 2 } ], 'timeless conflicts: only free';
is $gift_free->(), 2, 'a refused request takes nothing';

$r = book($t, 'bob', { resource => 'gift-a', quantity => 2, hold => $TRUE });
is $r->{status}, 201, 'timeless hold: 201';
keys_are($r->{json}, [ @GIFT, qw(expires_at token) ], 'a timeless hold: expires_at and token, no start/end');
my $g2 = $r->{json}{id};
is $gift_free->(), 0, 'stock: 0 left';
error_is(book($t, 'carol', { resource => 'gift-a' }), 409, 'unavailable', name => 'no stock: 409');

is act($t, 'alice', $g1, 'cancel')->{status}, 200, 'cancel 3';
is $gift_free->(), 3, 'cancelling gives the stock back';
$r = act($t, 'bob', $g2, 'confirm');
is $r->{json}{status}, 'confirmed', 'timeless hold confirmed';
keys_are($r->{json}, \@GIFT, 'confirmed timeless: no start/end/expires_at');
is $gift_free->(), 3, 'confirming keeps the stock taken';
error_is(book($t, 'alice', { resource => 'gift-a', start => date($D->(3)) }), 422, 'invalid', field => 'start',
         name => 'timeless with a start: 422 field start');
error_is(book($t, 'alice', { resource => 'gift-a', quantity => 6 }), 422, 'invalid', field => 'quantity',
         name => 'timeless quantity over the capacity: 422');

# ------------------------------------------------------------ 410 (a hold of 1s)

$r = book($t, 'alice', { resource => 'flash-a', start => iso($H->(2, 3)), end => iso($H->(2, 4)), hold => $TRUE });
is $r->{status}, 201, 'a 1s hold';
my $fl = $r->{json}{id};
wait_redis_time($t, epoch($r->{json}{expires_at}));
error_is(act($t, 'alice', $fl, 'confirm'), 410, 'expired', name => 'confirm after expires_at: 410 expired');
error_is(act($t, 'alice', $fl, 'cancel'), 409, 'conflict', name => 'cancel an expired hold: 409 conflict');
$r = get_booking($t, 'alice', $fl);
is $r->{json}{status}, 'expired', 'GET: expired';
ok !exists $r->{json}{expires_at}, 'an expired hold shows no expires_at';

# ------------------------------------------------------------ 400

my $body_of = sub { JSON::PP->new->canonical->encode({ resource => 'room-a', start => date($D->(20)),
                                                       end => date($D->(21)), @_ }) };
my $post_raw = sub {
    my ($body, %h) = @_;
    return $t->req(POST => '/api/bookings', body => $body,
                   headers => { 'Content-Type' => 'application/json', 'X-User-Id' => 'alice', %h });
};
error_is($post_raw->('{'), 400, 'invalid_json', name => 'unparsable JSON: 400 invalid_json');
error_is($post_raw->('nope'), 400, 'invalid_json', name => 'not JSON: 400 invalid_json');
error_is($post_raw->(''), 400, 'invalid_json', name => 'an empty body: 400 invalid_json');
error_is($post_raw->('[1]'), 400, 'bad_request', name => 'a JSON array: 400');
error_is($post_raw->('{"resource":"room-a","resource":"room-b","start":"' . date($D->(20)) . '","end":"'
                     . date($D->(21)) . '"}'), 400, 'invalid_json', name => 'a duplicated key: 400');
for my $case (
    [ { start => date($D->(20)), end => date($D->(21)) }, 'resource', 'missing resource' ],
    [ { resource => 5, start => date($D->(20)), end => date($D->(21)) }, 'resource', 'resource 5' ],
    [ { resource => 'room-a', end => date($D->(21)) }, 'start', 'missing start' ],
    [ { resource => 'room-a', start => date($D->(20)) }, 'end', 'missing end' ],
) {
    error_is(book($t, 'alice', $case->[0]), 400, 'bad_request', field => $case->[1], name => "$case->[2]: 400");
}
for my $case (
    [ '"quantity":"1"',   'quantity', 'quantity "1"' ],
    [ '"quantity":1.5',   'quantity', 'quantity 1.5' ],
    [ '"quantity":null',  'quantity', 'quantity null' ],
    [ '"hold":"yes"',     'hold',     'hold "yes"' ],
    [ '"hold":1',         'hold',     'hold 1' ],
    [ '"kind":5',         'kind',     'kind 5' ],
    [ '"note":5',         'note',     'note 5' ],
) {
    my $b = $body_of->();
    $b =~ s/}$/,$case->[0]}/;
    error_is($post_raw->($b), 400, 'bad_request', field => $case->[1], name => "$case->[2]: 400 field $case->[1]");
}
for my $case (
    [ 12345,                       'start 12345' ],
    [ 'tomorrow',                  'start "tomorrow"' ],
    [ '2026-02-30',                'start on Feb 30' ],
    [ '2026-12-01T25:00:00Z',      'hour 25' ],
    [ '2026-12-01T10:00:00',       'an instant without an offset' ],
    [ '2026-12-01 10:00:00Z',      'a space for T' ],
) {
    my $b = $body_of->();
    $b =~ s/"start":"[^"]*"/'"start":' . JSON::PP->new->allow_nonref->encode($case->[0])/e;
    error_is($post_raw->($b), 400, 'bad_request', field => 'start', name => "$case->[1]: 400 field start");
}

# ------------------------------------------------------------ 401, 403, 404

error_is(book($t, undef, { resource => 'room-a', start => date($D->(20)), end => date($D->(21)) }),
         401, 'unauthenticated', name => 'POST without a user: 401');
error_is(book($t, undef, { resource => 'room-a', start => date($D->(20)), end => date($D->(21)), hold => $TRUE }),
         401, 'unauthenticated', name => 'a guest hold with booking_anonymous off: 401');
error_is(act($t, undef, $full, 'cancel'), 401, 'unauthenticated', name => 'cancel without user or token: 401');
error_is($t->req(GET => '/api/bookings'), 401, 'unauthenticated', name => 'list without a user: 401');

error_is(book($t, 'alice', { resource => 'nope', start => date($D->(20)), end => date($D->(21)) }),
         404, 'not_found', field => 'resource', name => 'an unknown resource in the body: 404 field resource');
error_is(book($t, 'alice', { resource => 'bad id!', start => date($D->(20)), end => date($D->(21)) }),
         404, 'not_found', name => 'a resource id that cannot exist: 404');
for my $id ('room-a.AAAAAAAAAAAAAAAA', 'nope.AAAAAAAAAAAAAAAA', 'room-a', 'room-a.short',
            'room-a.AAAAAAAAAAAAAAAAA', 'room-a.AAAAAAAA%21AAAAAAA', '.AAAAAAAAAAAAAAAA',
            'room-a.', 'a%20b.AAAAAAAAAAAAAAAA', 'room-a..AAAAAAAAAAAAAAAA') {
    error_is(get_booking($t, 'alice', $id), 404, 'not_found', name => "GET /bookings/$id: 404");
    error_is(act($t, 'alice', $id, 'confirm'), 404, 'not_found', name => "confirm $id: 404");
    error_is(act($t, 'olga', $id, 'cancel'), 404, 'not_found', name => "cancel $id: 404");
}
error_is(act($t, 'alice', $full, 'frobnicate'), 404, 'not_found', name => 'an unknown transition: 404');
error_is($t->req(POST => "/api/bookings/$full/cancel/now", headers => user_h('alice')), 404, 'not_found',
         name => 'a path below a transition: 404');
is get_booking($t, 'alice', $full)->{json}{status}, 'confirmed', 'the booking is untouched';

# ------------------------------------------------------------ 405

for my $case (
    [ PUT    => '/api/bookings',                'GET, HEAD, POST' ],
    [ DELETE => '/api/bookings',                'GET, HEAD, POST' ],
    [ DELETE => "/api/bookings/$full",          'GET, HEAD' ],
    [ POST   => "/api/bookings/$full",          'GET, HEAD' ],
    [ GET    => "/api/bookings/$full/confirm",  'POST' ],
    [ PATCH  => "/api/bookings/$full/cancel",   'POST' ],
) {
    my ($m, $p, $allow) = @$case;
    $r = $t->req($m => $p, headers => user_h('alice'));
    error_is($r, 405, 'method_not_allowed', name => "$m $p: 405");
    my %got = map { $_ => 1 } split /\s*,\s*/, $r->{headers}{allow} // '';
    is_deeply \%got, { map { $_ => 1 } split /\s*,\s*/, $allow }, "$m $p: Allow: $allow";
}
is get_booking($t, 'alice', $full)->{json}{status}, 'confirmed', 'the booking is untouched by 405s';

# ------------------------------------------------------------ 415, 413

error_is($t->req(POST => '/api/bookings', body => $body_of->(), headers => { 'Content-Type' => 'text/plain',
                                                                           'X-User-Id' => 'alice' }),
         415, 'unsupported_media_type', name => 'text/plain: 415');
error_is($t->req(POST => '/api/bookings', body => $body_of->(), headers => { 'X-User-Id' => 'alice' }),
         415, 'unsupported_media_type', name => 'a body without Content-Type: 415');
error_is($t->req(POST => '/api/bookings', body => $body_of->(), headers => { 'Content-Type' => 'application/jsonx',
                                                                           'X-User-Id' => 'alice' }),
         415, 'unsupported_media_type', name => 'application/jsonx: 415');
$r = $t->req(POST => '/api/bookings', body => $body_of->(note => 'x'),
             headers => { 'Content-Type' => 'Application/JSON; charset=utf-8', 'X-User-Id' => 'zed' });
is $r->{status}, 201, 'Application/JSON; charset=utf-8 is JSON: 201' or diag $r->{body};
my $zed = $r->{json}{id};
is act($t, 'zed', $zed, 'cancel')->{status}, 200, 'cancel it';
error_is($post_raw->($body_of->(note => 'x' x (2 * 1024 * 1024))), 413, 'too_large', name => 'a body over client_max_body_size: 413 JSON');

# ------------------------------------------------------------ 422

my @CAR = (resource => 'car-a');
for my $case (
    [ { @CAR, start => iso($H->(5, 10) + 1800), end => iso($H->(5, 12)) }, 'start', 'a misaligned start (10:30 on an hourly car)' ],
    [ { @CAR, start => iso($H->(5, 10)), end => iso($H->(5, 11) + 1800) }, 'end', 'a misaligned end' ],
    [ { @CAR, start => iso($H->(5, 10) + 1), end => iso($H->(5, 12)) }, 'start', 'a start one second off' ],
    [ { @CAR, start => iso($H->(5, 12)), end => iso($H->(5, 10)) }, 'end', 'an inverted range' ],
    [ { @CAR, start => iso($H->(5, 10)), end => iso($H->(5, 10)) }, 'end', 'an empty range' ],
    [ { @CAR, start => iso($H->(5, 10)) =~ s/Z$/.5Z/r, end => iso($H->(5, 12)) }, 'start', 'a fraction of a second' ],
    [ { @CAR, start => iso($H->(5, 10)), end => iso($H->(5, 12)), quantity => 0 }, 'quantity', 'quantity 0' ],
    [ { @CAR, start => iso($H->(5, 10)), end => iso($H->(5, 12)), quantity => -1 }, 'quantity', 'quantity -1' ],
    [ { @CAR, start => iso($H->(5, 10)), end => iso($H->(5, 12)), quantity => 2 }, 'quantity', 'quantity 2 > capacity 1' ],
    [ { @CAR, start => iso($H->(5, 10)), end => iso($H->(5, 12)), kind => 'x' }, 'kind', 'kind "x"' ],
    [ { @CAR, start => iso($H->(5, 10)), end => iso($H->(5, 12)), colour => 'red' }, 'colour', 'an unknown field' ],
    [ { @CAR, start => iso($H->(5, 10)), end => iso($H->(5, 12)), note => 'n' x 1001 }, 'note', 'a note over 1000 bytes' ],
    [ { resource => 'room-a', start => date($D->(20)), end => date($D->(21)), quantity => 3 }, 'quantity', 'quantity 3 > capacity 2' ],
    [ { resource => 'room-a', start => date($D->(21)), end => date($D->(20)) }, 'end', 'an inverted day range' ],
) {
    error_is(book($t, 'alice', $case->[0]), 422, 'invalid', field => $case->[1],
             name => "$case->[2]: 422 field $case->[1]");
}
$car_ok->('422s changed nothing');
runs_ok($t, 'car-a', 1, $H->(5, 0), $H->(6, 0), $HOUR, [], 'car-a: nothing booked by the 422s');
$room_ok->('final');

# ------------------------------------------------------------ note round trip

my $note = "Ünïcødé \"quoted\" back\\slash\nnew line\ttab ✓";
$r = book($t, 'alice', { resource => 'room-a', start => date($D->(30)), end => date($D->(31)), note => $note });
is $r->{status}, 201, 'a note with quotes, escapes and UTF-8';
is $r->{json}{note}, $note, 'POST answers the note as given';
is get_booking($t, 'alice', $r->{json}{id})->{json}{note}, $note, 'GET answers the note as given';
$r = book($t, 'alice', { resource => 'room-a', start => date($D->(32)), end => date($D->(33)), note => '' });
is $r->{status}, 201, 'an empty note';
ok !exists $r->{json}{note}, 'an empty note is no note (omitted, not "" or null)';

# A body refused by the parser must be answered once, and the connection
# must stay usable (keep-alive).
{
    my $before = () = $t->error_log =~ /header already sent/g;
    my $c = BookingRace::Conn->new($t->port);
    my $bad = $c->request(POST => '/api/bookings', { 'Content-Type' => 'application/json', 'X-User-Id' => 'alice' },
                          $body_of->(quantity => '1'));
    is $bad->{status}, 400, 'keep-alive: a wrong quantity type is 400';
    my $good = eval { $c->request(GET => '/api/bookings?limit=1', { 'X-User-Id' => 'alice' }) };
    my $after = () = $t->error_log =~ /header already sent/g;
    is $after - $before, 0, 'no second answer ([alert] header already sent) after a parse error';
    is $good && $good->{status}, 200, 'the keep-alive connection still serves the next request';
}

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;

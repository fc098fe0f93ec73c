# The capacity invariant on every path (SPEC §1, §4 "Precise rules"), as an
# attacker or a careless admin would try it: bookings made before a change
# of type never touch what is counted after it; a guest is in no group;
# tokens outlive a reload; the last hours of 9999; idempotency scopes.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use BookingTest;
use BookingRace qw(:all);
use BookingKeys qw(rkey);

BookingRace::pin_module();

my $HTTP = default_http() . <<'EOT';
booking_user_groups $http_x_user_groups;
booking_type tmin slot=1h hold=1h;
booking_type tgift slot=none hold=1h;
EOT
my $SERVER = <<'EOT';
location /api/ { booking_api; }
location /guest/ { booking_api; booking_anonymous on; }
location /admin/ { booking_api admin; }
EOT
my $t = BookingTest->new(http => $HTTP, server => $SERVER);

my $TRUE = JSON::PP::true;
my $HOUR = 3600;

sub error_is { local $Test::Builder::Level = $Test::Builder::Level + 1; BookingTest::error_is(@_) }

sub put {
    my ($id, $body) = @_;
    return $t->req(PUT => "/admin/resources/$id", body => $body);
}

my $now = redis_now($t);

# ------------------------------------------------------------ a type change, then an old booking released

# A block may lie in the past: it has ended at once, so the type may change.
is put('flip', { type => 'tmin', capacity => 1 })->{status}, 201, 'PUT flip as a timed resource';
my $past = hour_start($now, -30);
my $r = book($t, undef, { resource => 'flip', kind => 'block', start => iso($past),
                          end => iso($past + $HOUR) }, prefix => '/admin/');
is $r->{status}, 201, 'an admin blocks an hour of yesterday' or diag $r->{body};
my $old = $r->{json}{id};

is put('flip', { type => 'tgift', capacity => 1 })->{status}, 200,
   'PUT flip as timeless stock: allowed, its booking has ended';
is $t->req(POST => "/admin/bookings/$old/cancel")->{status}, 200, 'the old block is cancelled';
is $t->redis('HGET', rkey('flip'), 'used'), 0, 'the stock counter did not move (no -1)';

my @won = grep { $_->{status} == 201 }
          map { book($t, $_, { resource => 'flip' }) } qw(ann bob);
is scalar @won, 1, 'one unit, one buyer: the second is refused';
$r = $t->req(GET => '/api/resources/flip/availability');
is $r->{json}{free}, 0, 'availability: 0 free';

# and back: a timeless booking is kept until cancelled, so the type cannot
# change while it holds its unit
error_is(put('flip', { type => 'tmin', capacity => 1 }), 409, 'conflict',
         name => 'PUT back to timed while a stock unit is taken: 409');

# ------------------------------------------------------------ a guest is in no group

is put('club', { type => 'room', capacity => 2, groups => ['members'] })->{status}, 201,
   'a members-only room with no owner';
my $d = day_start($now, 3);
my $club = { resource => 'club', start => date($d), end => date($d + 86400) };
error_is(book($t, undef, { %$club, hold => $TRUE }, prefix => '/guest/'), 403, 'forbidden',
         name => 'a guest may not hold a members-only room, owner or not');
is book($t, 'mia', $club, headers => { 'X-User-Groups' => 'members' })->{status}, 201,
   'a member may';

# ------------------------------------------------------------ tokens outlive a reload

is put('gift', { type => 'tgift', capacity => 5 })->{status}, 201, 'PUT gift';
$r = book($t, undef, { resource => 'gift', hold => $TRUE }, prefix => '/guest/');
is $r->{status}, 201, 'a guest holds a gift' or diag $r->{body};
my ($gid, $tok) = ($r->{json}{id}, $r->{json}{token});
$t->reload_nginx;
$r = $t->req(POST => "/guest/bookings/$gid/confirm", headers => { 'Booking-Token' => $tok });
is $r->{status}, 200, 'after nginx -s reload the guest confirms with its token'
    or diag $r->{body};

# ------------------------------------------------------------ the last hours of 9999

is put('far', { type => 'car', capacity => 1 })->{status}, 201, 'PUT a car';
my $last = { resource => 'far', start => '9999-12-31T22:00:00Z', end => '9999-12-31T23:00:00Z' };
$r = book($t, 'ann', $last);
is $r->{status}, 201, 'the last bookable hour of 9999, on a type with a 1h buffer'
    or diag $r->{body};
error_is(book($t, 'bob', $last), 409, 'unavailable', name => 'the same hour again: 409, not 500');
$r = $t->req(GET => '/api/resources/far/availability?from=9999-12-31T20:00:00Z&to=9999-12-31T23:00:00Z');
is_deeply $r->{json}{free}, [ { start => '9999-12-31T20:00:00Z', end => '9999-12-31T22:00:00Z', units => 1 },
                              { start => '9999-12-31T22:00:00Z', end => '9999-12-31T23:00:00Z', units => 0 } ],
          'availability of the last hours';
error_is(book($t, 'bob', { resource => 'far', start => '9999-12-31T21:00:00Z', end => '9999-12-31T22:00:00Z' }),
         409, 'unavailable', name => 'the hour before, whose buffer meets it: 409');

# ------------------------------------------------------------ idempotency scopes

is put('idem', { type => 'tgift', capacity => 5 })->{status}, 201, 'PUT idem';
my $key = 'k' x 20;
$r = book($t, undef, { resource => 'idem', hold => $TRUE }, prefix => '/guest/',
          headers => { 'Idempotency-Key' => $key });
is $r->{status}, 201, 'a guest holds with a key';
my $guest_hold = $r->{json}{id};
$r = book($t, undef, { resource => 'idem', hold => $TRUE }, prefix => '/admin/',
          headers => { 'Idempotency-Key' => $key });
is $r->{status}, 201, 'an admin with no user, same key and body: a booking of its own';
isnt $r->{json}{id}, $guest_hold, 'not the guest\'s hold';
ok !$r->{headers}{'idempotent-replayed'}, 'not a replay';
ok !defined $r->{json}{token} || $r->{json}{token} ne '', 'no guest token handed to the admin';

is_deeply [$t->check_error_log], [], 'no alert or crash in the error log';

done_testing;

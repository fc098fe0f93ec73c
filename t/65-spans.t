# What spans resources (README, "What spans resources"): a type's listing
# indexes and a user's bookings are keys of hash tags of their own, kept in
# steps of their own, never by a script that writes a resource or a
# booking (Redis Cluster would refuse it: BOOKING_ONE_SLOT=1 runs every
# test against a Redis that does).  What a user sees:
#
# - a resource is listed under its type, and only there, after PUT, a
#   type change and DELETE; its place in the geo index follows it;
# - an index entry left by a failure between two steps (planted here as
#   that failure would leave it) never shows: a listing skips an id that
#   is gone or now of another type, GET /bookings skips and drops an
#   entry of no booking;
# - a booking refused, or the replay of an Idempotency-Key, leaves no
#   entry in the user's index; a guest's hold none at all;
# - racing PUTs that swap a resource between two types leave it listed
#   under the type it ends with (a removal reads the resource again after
#   it and puts the entry back if a PUT made it that type meanwhile).

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use Time::HiRes qw(time);
use BookingTest;
use BookingKeys qw(rkey ukey);
use POSIX ();

my $HTTP = <<'EOT';
booking_type spot slot=1h hold=10m;
booking_type tool slot=1h hold=10m;
booking_anonymous on;
booking_user $http_x_user_id;
EOT

my $t = BookingTest->new(workers => 4, http => $HTTP);

my $LAT = 48.8566;
my $LON = 2.3522;

sub put {
    my ($id, $type, %o) = @_;
    return $t->req(PUT => "/admin/resources/$id",
                   body => { type => $type, capacity => $o{capacity} // 1,
                             owner => 'olga', %{ $o{more} // {} } });
}

sub listed {
    my ($type, @near) = @_;
    my $q = "/api/resources?type=$type&limit=100";
    $q .= "&near=$near[0],$near[1]" if @near;
    my $r = $t->req(GET => $q);
    return [ 'error', $r->{status} ] unless $r->{status} == 200;
    return [ map { $_->{id} } @{ $r->{json}{items} } ];
}

sub zscore { return $t->redis('ZSCORE', @_) }

# the user's index, once the entries of bookings not made are out: that
# step is not waited for, so it may land just after the answer
sub index_of {
    my ($user, @want) = @_;
    my $want = join ' ', sort @want;
    my $deadline = time + 3 * BookingTest::slow();
    my @got;
    do {
        @got = sort @{ $t->redis('ZRANGE', ukey($user), 0, -1) };
        return \@got if "@got" eq $want;
        select undef, undef, undef, 0.02;
    } while (time < $deadline);
    return \@got;
}

# ---------------------------------------------------------------- listings

is put('s1', 'spot', more => { location => { lat => $LAT, lon => $LON } })->{status}, 201,
    'PUT s1, a spot with a location';
is put('s2', 'spot')->{status}, 201, 'PUT s2, a spot without';
is_deeply listed('spot'), [ 's1', 's2' ], 'both listed as spots';
is_deeply listed('spot', $LAT, $LON), [ 's1' ], 'only s1 nearest first';
is_deeply listed('tool'), [], 'no tool';

is put('s1', 'tool')->{status}, 200, 's1 becomes a tool, and loses its location';
is_deeply listed('spot'), [ 's2' ], 'no longer a spot';
is_deeply listed('tool'), [ 's1' ], 'a tool';
is_deeply listed('tool', $LAT, $LON), [], 'not near anything: no location';
ok !defined zscore('bk:{t:spot}:ids', 's1'), "out of the spots' index in Redis";
ok !defined zscore('bk:{t:spot}:geo', 's1'), "out of the spots' geo index";

is put('s1', 'tool', more => { location => { lat => $LAT, lon => $LON } })->{status}, 200,
    's1 gets a location';
is_deeply listed('tool', $LAT, $LON), [ 's1' ], 'now near it';

is $t->req(DELETE => '/admin/resources/s1')->{status}, 204, 'DELETE s1';
is_deeply listed('tool'), [], 'listed nowhere';
ok !defined zscore('bk:{t:tool}:ids', 's1'), "out of the tools' index in Redis";
ok !defined zscore('bk:{t:tool}:geo', 's1'), "out of the tools' geo index";
is $t->req(DELETE => '/admin/resources/s1')->{status}, 404, 'DELETE again: 404';

# a failure between two steps, as it would leave the indexes
$t->redis('ZADD', 'bk:{t:spot}:ids', 0, 's0-gone');
$t->redis('GEOADD', 'bk:{t:spot}:geo', $LON, $LAT, 's0-gone');
is put('s3', 'tool')->{status}, 201, 'PUT s3, a tool';
$t->redis('ZADD', 'bk:{t:spot}:ids', 0, 's3');
$t->redis('GEOADD', 'bk:{t:spot}:geo', $LON, $LAT, 's3');
is_deeply listed('spot'), [ 's2' ], 'a spots listing skips an id gone and a tool';
is_deeply listed('spot', $LAT, $LON), [], 'so does a nearest first one';
is_deeply listed('tool'), [ 's3' ], 'the tool is listed where it is';

# ---------------------------------------------------------------- users' index

my $now = $t->redis('TIME')->[0];
my $start = (int($now / 3600) + 24) * 3600;
my %alice = ('X-User-Id' => 'alice');

sub iso { return POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $_[0]) }

# an hour of s2, $at seconds after $start
sub book {
    my ($h, $at, %b) = @_;
    return $t->req(POST => '/api/bookings', headers => $h,
                   body => { resource => 's2', start => iso($start + $at),
                             end => iso($start + $at + 3600), %b });
}

my $one = book(\%alice, 0);
is $one->{status}, 201, "alice books s2" or diag $one->{body};
my $refused = book(\%alice, 0);
is $refused->{status}, 409, 'booking it again is refused: capacity 1';
is_deeply index_of('alice', $one->{json}{id}), [ $one->{json}{id} ],
    "the refused booking left no entry in alice's index";

my %keyed = (%alice, 'Idempotency-Key' => 'k-1');
my $first = book(\%keyed, 7200);
my $again = book(\%keyed, 7200);
is $first->{status}, 201, 'a booking with an Idempotency-Key';
is $again->{json}{id}, $first->{json}{id}, 'its replay answers the same booking';
is_deeply index_of('alice', $one->{json}{id}, $first->{json}{id}),
    [ sort +($one->{json}{id}, $first->{json}{id}) ], 'the replay left no entry of its own';

my $guest = book({}, 14400, hold => JSON::PP::true);
is $guest->{status}, 201, 'a guest holds';
is_deeply [ map { @$_ } $t->redis_all('KEYS', 'bk:{u:*') ], [ ukey('alice') ],
    'a guest has no index';

my $ghost = 's2.AAAAAAAAAAAAAAAA';
$t->redis('ZADD', ukey('alice'), $start, $ghost);
my $mine = $t->req(GET => '/api/bookings', headers => \%alice);
is $mine->{status}, 200, "alice's bookings";
is_deeply [ sort map { $_->{id} } @{ $mine->{json}{items} } ],
    [ sort +($one->{json}{id}, $first->{json}{id}) ], 'an entry of no booking is not listed';
ok gone_from_index('alice', $ghost), '... and is dropped from the index';

# the drop is not waited for either
sub gone_from_index {
    my ($user, $id) = @_;
    my $deadline = time + 3 * BookingTest::slow();
    do {
        return 1 unless defined zscore(ukey($user), $id);
        select undef, undef, undef, 0.02;
    } while (time < $deadline);
    return 0;
}

# ---------------------------------------------------------------- racing type changes

is put('sw', 'spot')->{status}, 201, 'PUT sw';
my $rounds = 0;
my $lost = 0;
for my $round (1 .. 20) {
    my @kids;
    for my $k (1 .. 6) {
        my $type = $k % 2 ? 'tool' : 'spot';
        push @kids, BookingTest::bg(sub { put('sw', $type)->{status} });
    }
    my @st = map { $_->result(30) } @kids;
    $rounds++ unless grep { !defined $_ || ref $_ || $_ != 200 } @st;
    my $is = $t->req(GET => '/admin/resources/sw')->{json}{type} // '';
    $lost++ unless grep { $_ eq 'sw' } @{ listed($is) };
}
is $rounds, 20, '20 rounds of 6 racing PUTs that swap sw between spot and tool';
is $lost, 0, 'after each, sw is listed under the type it ended with';

done_testing;

# Holds expire (SPEC §1): a hold occupies its units until expires_at and
# frees them exactly then, with no background job; the expired hold reads
# as expired, confirming it is 410, cancelling it 409, and a late confirm
# never takes units that were sold again.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use BookingTest;
use BookingRace qw(:all);

BookingRace::pin_module();

my $HTTP = default_http() . <<'EOT';
booking_type quick slot=1h hold=2s;
booking_type qgift slot=none hold=2s;
EOT
my $t = BookingTest->new(http => $HTTP);

my $TRUE = JSON::PP::true;
my $HOUR = 3600;

sub error_is { local $Test::Builder::Level = $Test::Builder::Level + 1; BookingTest::error_is(@_) }

for my $res ([ 'q-1', 'quick', 1 ], [ 'q-2', 'quick', 2 ], [ 'qg-1', 'qgift', 3 ]) {
    my $r = $t->req(PUT => "/admin/resources/$res->[0]", body => { type => $res->[1], capacity => $res->[2],
                                                                  owner => 'olga' });
    is $r->{status}, 201, "PUT $res->[0]";
}

my $now = redis_now($t);
my ($s, $e) = (hour_start($now, 5), hour_start($now, 7));
my ($w0, $w1) = (hour_start($now, 4), hour_start($now, 8));
my $slot = { resource => 'q-1', start => iso($s), end => iso($e) };

# ------------------------------------------------------------ a hold occupies until expires_at

my $r = book($t, 'alice', { %$slot, hold => $TRUE });
is $r->{status}, 201, 'alice holds q-1' or diag $r->{body};
my $a = $r->{json};
my $a_token = $a->{token};
is epoch($a->{expires_at}) - epoch($a->{created_at}), 2, 'expires_at = created_at + 2s';
my $exp = epoch($a->{expires_at});

my $units = avail_units($t, 'q-1', $w0, $w1, $HOUR);
my $read_at = redis_now($t);
SKIP: {
    skip 'the machine was too slow to look before expires_at', 2 if $read_at >= $exp;
    is_deeply $units, [ 1, 0, 0, 1 ], 'before expires_at: the hold occupies its units';
    error_is(book($t, 'bob', $slot), 409, 'unavailable', name => 'before expires_at: bob cannot book them')
        if redis_now($t) < $exp;
}

wait_redis_time($t, $exp);

# the first thing that reads it after expires_at: a GET, which changes nothing
$r = get_booking($t, 'alice', $a->{id});
is $r->{status}, 200, 'GET the expired hold: 200';
is $r->{json}{status}, 'expired', 'it reads as expired at once, with no background job';
ok !exists $r->{json}{expires_at}, 'an expired hold has no expires_at field';
is_deeply [ sort keys %{ $r->{json} } ],
    [ sort qw(id resource type status kind start end quantity user created_at) ], 'and no token';

is_deeply avail_units($t, 'q-1', $w0, $w1, $HOUR), [ 1, 1, 1, 1 ], 'after expires_at: availability shows the units free';

$r = $t->req(GET => '/api/bookings?status=expired', headers => user_h('alice'));
is_deeply [ map { $_->{id} } @{ $r->{json}{items} || [] } ], [ $a->{id} ], "alice's list shows it expired";
$r = $t->req(GET => '/api/bookings?status=held', headers => user_h('alice'));
is_deeply $r->{json}{items}, [], '... and not held';

error_is(act($t, 'alice', $a->{id}, 'confirm'), 410, 'expired', name => 'confirm after expires_at: 410 expired');
error_is(act($t, undef, $a->{id}, 'confirm', headers => { 'Booking-Token' => $a_token }), 410, 'expired',
         name => 'confirm with the token after expires_at: 410');
error_is(act($t, 'alice', $a->{id}, 'cancel'), 409, 'conflict', name => 'cancel an expired hold: 409 conflict');
error_is(act($t, 'olga', $a->{id}, 'approve'), 409, 'conflict', name => 'approve an expired hold: 409 conflict');
is get_booking($t, 'alice', $a->{id})->{json}{status}, 'expired', 'still expired after the refused moves';
is_deeply avail_units($t, 'q-1', $w0, $w1, $HOUR), [ 1, 1, 1, 1 ], 'the refused moves took no unit';

# ------------------------------------------------------------ the units are sold again; a late confirm fails

$r = book($t, 'bob', { %$slot, hold => $TRUE });
is $r->{status}, 201, 'bob holds the freed units' or diag $r->{body};
my $b = $r->{json};
my $b_exp = epoch($b->{expires_at});
error_is(act($t, 'alice', $a->{id}, 'confirm'), 410, 'expired', name => "alice's late confirm: 410");
error_is(act($t, undef, $a->{id}, 'confirm', headers => { 'Booking-Token' => $a_token }), 410, 'expired',
         name => "alice's late confirm by token: 410");
$r = get_booking($t, 'bob', $b->{id});
is $r->{json}{status}, 'held', "bob's hold is untouched";
$r = act($t, 'bob', $b->{id}, 'confirm');
SKIP: {
    skip 'bob\'s 2s hold expired before the test could confirm it', 3 if $r->{status} == 410;
    is $r->{status}, 200, 'bob confirms' or diag $r->{body};
    is $r->{json}{status}, 'confirmed', "bob's booking is confirmed";
    is_deeply avail_units($t, 'q-1', $w0, $w1, $HOUR), [ 1, 0, 0, 1 ], "the units are bob's";
}
wait_redis_time($t, $b_exp + 1);
is get_booking($t, 'bob', $b->{id})->{json}{status}, 'confirmed', 'a confirmed booking never expires';
is_deeply avail_units($t, 'q-1', $w0, $w1, $HOUR), [ 1, 0, 0, 1 ], 'its units stay taken past the old expires_at';
error_is(act($t, 'alice', $a->{id}, 'confirm'), 410, 'expired', name => 'alice still cannot confirm');
error_is(book($t, 'carol', $slot), 409, 'unavailable', name => 'nobody else gets the units');

# ------------------------------------------------------------ partial: two holds on two units, one expires

my $slot2 = { resource => 'q-2', start => iso($s), end => iso($e) };
$r = book($t, 'alice', { %$slot2, hold => $TRUE });
is $r->{status}, 201, 'q-2: alice holds 1 of 2';
my $c = $r->{json};
wait_redis_time($t, epoch($c->{expires_at}) - 1);
$r = book($t, 'bob', { %$slot2, hold => $TRUE });
is $r->{status}, 201, 'q-2: bob holds the other a second later';
my $d = $r->{json};
ok epoch($d->{expires_at}) > epoch($c->{expires_at}), "bob's hold expires later";
wait_redis_time($t, epoch($c->{expires_at}));
$units = avail_units($t, 'q-2', $w0, $w1, $HOUR);
SKIP: {
    skip 'both holds expired before the check', 1 if redis_now($t) >= epoch($d->{expires_at});
    is_deeply $units, [ 2, 1, 1, 2 ], "q-2: alice's units are free, bob's still held";
}
wait_redis_time($t, epoch($d->{expires_at}));
is_deeply avail_units($t, 'q-2', $w0, $w1, $HOUR), [ 2, 2, 2, 2 ], 'q-2: both expired, all free';
$r = book($t, 'carol', { %$slot2, quantity => 2 });
is $r->{status}, 201, 'q-2: carol books both units after the holds expired';

# ------------------------------------------------------------ timeless stock

$r = book($t, 'alice', { resource => 'qg-1', quantity => 2, hold => $TRUE });
is $r->{status}, 201, 'qgift: a hold of 2 of 3';
my $g = $r->{json};
my $free = $t->req(GET => '/api/resources/qg-1/availability')->{json}{free};
SKIP: {
    skip 'too slow', 1 if redis_now($t) >= epoch($g->{expires_at});
    is $free, 1, 'qgift: 1 left while held';
}
wait_redis_time($t, epoch($g->{expires_at}));
is $t->req(GET => '/api/resources/qg-1/availability')->{json}{free}, 3, 'qgift: the stock comes back at expires_at';
is get_booking($t, 'alice', $g->{id})->{json}{status}, 'expired', 'qgift: expired';
error_is(act($t, 'alice', $g->{id}, 'confirm'), 410, 'expired', name => 'qgift: late confirm 410');
$r = book($t, 'bob', { resource => 'qg-1', quantity => 3 });
is $r->{status}, 201, 'qgift: the whole stock can be taken again';
error_is(act($t, 'alice', $g->{id}, 'confirm'), 410, 'expired', name => 'qgift: late confirm after resale 410');
is $t->req(GET => '/api/resources/qg-1/availability')->{json}{free}, 0, 'qgift: the late confirm took nothing';

# ------------------------------------------------------------ an expiry seen first by a write

$r = book($t, 'alice', { resource => 'q-1', start => iso(hour_start($now, 10)), end => iso(hour_start($now, 11)),
                         hold => $TRUE });
is $r->{status}, 201, 'a hold on another hour';
my $h = $r->{json};
wait_redis_time($t, epoch($h->{expires_at}));
$r = book($t, 'bob', { resource => 'q-1', start => iso(hour_start($now, 10)), end => iso(hour_start($now, 11)) });
is $r->{status}, 201, 'a booking made right after expires_at, with nothing read before: 201' or diag $r->{body};
is get_booking($t, 'alice', $h->{id})->{json}{status}, 'expired', 'the hold it replaced is expired';

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;

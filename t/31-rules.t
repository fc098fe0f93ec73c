# The rules of a type (SPEC §2, §3): lead, horizon, min, max, the current
# slot, alignment.  Every refusal is a JSON 422 "invalid" naming its field,
# and books nothing.  Times are taken from Redis's clock, never at the edge
# of a slot.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use BookingTest;
use BookingRace qw(:all);

BookingRace::pin_module();

my $HTTP = default_http() . <<'EOT';
booking_type lodge slot=1d min=2d max=3d;
booking_type van   slot=1h min=3h max=5h lead=1d horizon=10d;
EOT
my $t = BookingTest->new(http => $HTTP);

my $DAY  = 86400;
my $HOUR = 3600;

sub error_is { local $Test::Builder::Level = $Test::Builder::Level + 1; BookingTest::error_is(@_) }

for my $res ([ 'room-1', 'room' ], [ 'car-1', 'car' ], [ 'desk-1', 'desk' ], [ 'couch-1', 'couch' ],
             [ 'lodge-1', 'lodge' ], [ 'van-1', 'van' ]) {
    my $r = $t->req(PUT => "/admin/resources/$res->[0]", body => { type => $res->[1], capacity => 1, owner => 'olga' });
    is $r->{status}, 201, "PUT $res->[0]";
}

# Redis's now, away from the edges of a slot of $slot seconds: waits into
# the next slot when fewer than $margin seconds are left of this one (or
# when it began less than 2 s ago), so that "the current slot" and "now +
# lead" cannot move across a boundary under a test.
sub safe_now {
    my ($slot, $margin) = @_;
    my $now = redis_now($t);
    my $left = $slot - $now % $slot;
    if ($left < $margin) {
        wait_redis_time($t, $now + $left + 2.1, $margin + 5);
        $now = redis_now($t);
    } elsif ($now % $slot < 2) {
        wait_redis_time($t, $now - $now % $slot + 2.1, 5);
        $now = redis_now($t);
    }
    return $now;
}

my $booked = 0;
sub ok_book {
    my ($user, $body, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $r = book($t, $user, $body);
    my $ok = is $r->{status}, 201, "$name: 201";
    diag $r->{body} unless $ok;
    # free it again, so the next case finds the resource empty
    is act($t, $user, $r->{json}{id}, 'cancel')->{status}, 200, "$name: cancelled again" if $ok;
    return $r;
}

sub refused {
    my ($body, $field, $name, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $r = book($t, $o{user} // 'alice', $body);
    error_is($r, 422, 'invalid', field => $field, name => "$name: 422 field $field");
    ok length($r->{json}{error}{message} // '') > 5, "$name: a message says why";
    return $r;
}

my $now = safe_now($HOUR, 30);
my $hr  = sub { hour_start($now, $_[0]) };

# ------------------------------------------------------------ lead (car: 2h)

refused({ resource => 'car-1', start => iso($hr->(1)), end => iso($hr->(2)) }, 'start',
        'car starting within the 2h lead (next hour)');
refused({ resource => 'car-1', start => iso($hr->(2)), end => iso($hr->(3)) }, 'start',
        'car starting at most 2h ahead, before now + lead');
refused({ resource => 'car-1', start => iso($hr->(0)), end => iso($hr->(2)) }, 'start',
        'car starting in the current hour');
ok_book('alice', { resource => 'car-1', start => iso($hr->(4)), end => iso($hr->(5)) },
        'car starting after now + 2h (+ an hour of margin)');

# van: lead=1d, horizon=10d
refused({ resource => 'van-1', start => iso($hr->(20)), end => iso($hr->(23)) }, 'start', 'van within the 1d lead');
ok_book('alice', { resource => 'van-1', start => iso($hr->(26)), end => iso($hr->(29)) }, 'van after the 1d lead');

# ------------------------------------------------------------ horizon

refused({ resource => 'van-1', start => iso($hr->(11 * 24)), end => iso($hr->(11 * 24 + 3)) }, 'start',
        'van 11 days ahead, past the 10d horizon');
ok_book('alice', { resource => 'van-1', start => iso($hr->(9 * 24)), end => iso($hr->(9 * 24 + 3)) },
        'van 9 days ahead, within the horizon');

$now = safe_now($DAY, 30);
my $dy = sub { day_start($now, $_[0]) };

refused({ resource => 'room-1', start => date($dy->(366)), end => date($dy->(367)) }, 'start',
        'room 366 days ahead, past the 365d horizon');
refused({ resource => 'room-1', start => date($dy->(400)), end => date($dy->(401)) }, 'start',
        'room 400 days ahead');
ok_book('alice', { resource => 'room-1', start => date($dy->(364)), end => date($dy->(365)) },
        'room 364 days ahead');

# ------------------------------------------------------------ min and max

refused({ resource => 'room-1', start => date($dy->(3)), end => date($dy->(34)) }, 'end', 'room for 31 days (max 30d)');
ok_book('alice', { resource => 'room-1', start => date($dy->(3)), end => date($dy->(33)) }, 'room for 30 days');
refused({ resource => 'couch-1', start => date($dy->(3)), end => date($dy->(11)) }, 'end', 'couch for 8 days (max 7d)');
refused({ resource => 'lodge-1', start => date($dy->(3)), end => date($dy->(4)) }, 'end', 'lodge for 1 day (min 2d)');
ok_book('alice', { resource => 'lodge-1', start => date($dy->(3)), end => date($dy->(5)) }, 'lodge for 2 days');
ok_book('alice', { resource => 'lodge-1', start => date($dy->(3)), end => date($dy->(6)) }, 'lodge for 3 days');
refused({ resource => 'lodge-1', start => date($dy->(3)), end => date($dy->(7)) }, 'end', 'lodge for 4 days (max 3d)');
refused({ resource => 'van-1', start => iso($dy->(3) + 10 * $HOUR), end => iso($dy->(3) + 12 * $HOUR) }, 'end',
        'van for 2h (min 3h)');
refused({ resource => 'van-1', start => iso($dy->(3) + 10 * $HOUR), end => iso($dy->(3) + 16 * $HOUR) }, 'end',
        'van for 6h (max 5h)');
refused({ resource => 'car-1', start => iso($dy->(3) + 10 * $HOUR), end => iso($dy->(3) + 10 * $HOUR) }, 'end',
        'car of zero length');
refused({ resource => 'car-1', start => iso($dy->(3)), end => iso($dy->(18)) }, 'end', 'car for 15 days (max 14d)');
ok_book('alice', { resource => 'car-1', start => iso($dy->(3)), end => iso($dy->(17)) }, 'car for 14 days');
refused({ resource => 'desk-1', start => iso($dy->(3)), end => iso($dy->(4) + 1800) }, 'end',
        'desk for a day and a half hour (max 1d)');

# ------------------------------------------------------------ the past and the current slot (no lead)

refused({ resource => 'room-1', start => date($dy->(-1)), end => date($dy->(1)) }, 'start', 'room from yesterday');
refused({ resource => 'room-1', start => date($dy->(-30)), end => date($dy->(-29)) }, 'start', 'room last month');
refused({ resource => 'room-1', start => '1970-01-01', end => '1970-01-02' }, 'start', 'room in 1970');
ok_book('alice', { resource => 'room-1', start => date($dy->(0)), end => date($dy->(1)) },
        'room from today (the current slot, no lead)');

$now = safe_now(1800, 20);
my $half = sub { (POSIX::floor($now / 1800) + $_[0]) * 1800 };
ok_book('alice', { resource => 'desk-1', start => iso($half->(0)), end => iso($half->(1)) },
        'desk in the current half hour');
refused({ resource => 'desk-1', start => iso($half->(-1)), end => iso($half->(1)) }, 'start',
        'desk from the previous half hour');

# ------------------------------------------------------------ alignment

refused({ resource => 'car-1', start => iso($dy->(3) + 10 * $HOUR + 1800), end => iso($dy->(3) + 12 * $HOUR) },
        'start', 'car starting at 10:30');
refused({ resource => 'car-1', start => iso($dy->(3) + 10 * $HOUR), end => iso($dy->(3) + 12 * $HOUR + 60) },
        'end', 'car ending at 12:01');
refused({ resource => 'room-1', start => iso($dy->(3) + 12 * $HOUR), end => date($dy->(5)) }, 'start',
        'room starting at noon');
refused({ resource => 'room-1', start => date($dy->(3)), end => iso($dy->(5) + 3600) }, 'end', 'room ending at 01:00');
refused({ resource => 'desk-1', start => iso($dy->(3) + 900), end => iso($dy->(3) + 3600) }, 'start',
        'desk starting at :15');
ok_book('alice', { resource => 'desk-1', start => iso($dy->(3) + 1800), end => iso($dy->(3) + 3600) },
        'desk starting at :30');
refused({ resource => 'room-1', start => date($dy->(5)), end => date($dy->(3)) }, 'end', 'room with an inverted range');

# ------------------------------------------------------------ the rules hold for holds and for every user

refused({ resource => 'room-1', start => date($dy->(3)), end => date($dy->(34)), hold => JSON::PP::true }, 'end',
        'a hold is held to max too');
refused({ resource => 'car-1', start => iso($hr->(1)), end => iso($hr->(2)) }, 'start',
        'the resource owner is held to lead for a booking', user => 'olga');

# ------------------------------------------------------------ a reload's rules apply at once
# Redis keeps a script's library, and the library keeps each rules line
# it parsed, across nginx reloads: a changed line must be read again.

ok_book('alice', { resource => 'lodge-1', start => date($dy->(3)), end => date($dy->(6)) },
        'lodge for 3 days, before the reload (max 3d)');
my $r = book($t, 'alice', { resource => 'van-1', start => iso($dy->(3) + 10 * $HOUR),
                            end => iso($dy->(3) + 13 * $HOUR), hold => JSON::PP::true });
is $r->{status}, 201, 'van held before the reload';
my $held_for = sub { BookingRace::epoch($_[0] // '') - redis_now($t) };
ok abs($held_for->($r->{json}{expires_at}) - 900) <= 3, 'van held for the default 15m'
    or diag $r->{body};
act($t, 'alice', $r->{json}{id}, 'cancel');

(my $reloaded = $HTTP) =~ s/booking_type lodge slot=1d min=2d max=3d;/booking_type lodge slot=1d min=2d max=2d;/;
$reloaded =~ s/(booking_type van +slot=1h min=3h max=5h)/$1 hold=25m/;
$t->reload_nginx(http => $reloaded);
refused({ resource => 'lodge-1', start => date($dy->(3)), end => date($dy->(6)) }, 'end',
        'after a reload to max=2d, the same 3 days of lodge');
$r = book($t, 'alice', { resource => 'van-1', start => iso($dy->(3) + 10 * $HOUR),
                         end => iso($dy->(3) + 13 * $HOUR), hold => JSON::PP::true });
is $r->{status}, 201, 'van held after the reload';
ok abs($held_for->($r->{json}{expires_at}) - 1500) <= 3, 'van held for the reloaded 25m'
    or diag $r->{body};
act($t, 'alice', $r->{json}{id}, 'cancel');
$t->reload_nginx(http => $HTTP);
ok_book('alice', { resource => 'lodge-1', start => date($dy->(3)), end => date($dy->(6)) },
        'lodge for 3 days again once reloaded back');

# ------------------------------------------------------------ nothing was booked by the refusals

for my $case ([ 'room-1', $dy->(-1), $dy->(40), $DAY, 1 ], [ 'car-1', $dy->(0), $dy->(20), $HOUR, 0 ],
              [ 'lodge-1', $dy->(2), $dy->(8), $DAY, 1 ], [ 'van-1', $dy->(0), $dy->(12), $HOUR, 0 ],
              [ 'desk-1', $dy->(2), $dy->(5), 1800, 0 ], [ 'couch-1', $dy->(2), $dy->(12), $DAY, 1 ]) {
    my ($res, $from, $to, $slot, $dates) = @$case;
    # the past cannot be read as free or not: look from the current slot on
    $from = $slot * POSIX::ceil(redis_now($t) / $slot) if $from < redis_now($t);
    runs_ok($t, $res, 1, $from, $to, $slot, [], "$res: every unit free after refusals and cancels", dates => $dates);
}

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;

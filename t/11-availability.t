# GET /resources/{id}/availability (SPEC §2, §4 "Availability"): runs of
# free units over [from, to), widening to slot boundaries, time formats,
# offsets, range limits, timeless resources; counters written straight into
# Redis (t/lib/BookingKeys.pm: the hash of a resource's counters, 4 bytes
# big-endian per slot, 256 slots a field).

use strict;
use warnings;
use Test::More;
use Time::Local qw(timegm);
use BookingTest;
use BookingKeys qw(set_units);

my $t = BookingTest->new;
my @workers = $t->worker_pids;

sub day { my ($y, $m, $d, $h, $mi) = @_; return timegm(0, $mi // 0, $h // 0, $d, $m - 1, $y) }

# Sets the units in use of resource $id at slot index $s (slot = $len secs).
sub set_used {
    my ($id, $s, $units) = @_;
    set_units($t, $id, $s, $units);
}

sub avail {
    my ($id, $q, $tt) = @_;
    return ($tt // $t)->req(GET => "/api/resources/$id/availability" . (defined $q ? "?$q" : ''));
}

# The runs cover [from, to) without gaps, each with 0..capacity units, and
# neighbours differ (equal neighbours are merged).
sub runs_ok {
    my ($j, $name) = @_;
    my @why;
    my $runs = $j->{free};
    if (ref $runs ne 'ARRAY' || !@$runs) {
        push @why, 'no runs';
    } else {
        push @why, "first run starts at $runs->[0]{start}, not $j->{from}" if $runs->[0]{start} ne $j->{from};
        push @why, "last run ends at $runs->[-1]{end}, not $j->{to}" if $runs->[-1]{end} ne $j->{to};
        for my $i (0 .. $#$runs) {
            my $u = $runs->[$i];
            push @why, "run $i: units $u->{units}" if $u->{units} !~ /^\d+$/ || $u->{units} > $j->{capacity};
            push @why, "run $i is empty or inverted" if $u->{end} le $u->{start};
            next unless $i;
            push @why, "gap or overlap before run $i" if $runs->[ $i - 1 ]{end} ne $u->{start};
            push @why, "runs $i-1 and $i not merged" if $runs->[ $i - 1 ]{units} == $u->{units};
        }
    }
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    ok !@why, $name or diag join "\n", @why;
}

$t->req(PUT => '/admin/resources/room-1', body => { type => 'room', capacity => 3 })->{status} == 201
    or BAIL_OUT('cannot create a resource');
$t->req(PUT => "/admin/resources/$_->[0]", body => { type => $_->[1], capacity => $_->[2] })
    for [ 'car-1', 'car', 2 ], [ 'desk-1', 'desk', 1 ], [ 'ride-1', 'ride', 4 ], [ 'gift-1', 'gift', 5 ];

# ------------------------------------------------------------ day slots

my $r = avail('room-1', 'from=2026-12-01&to=2026-12-05');
is $r->{status}, 200, 'room: 200';
like $r->{headers}{'content-type'}, qr{^application/json}, 'room: JSON';
is_deeply $r->{json}, {
    resource => 'room-1', type => 'room', slot => '1d', capacity => 3,
    from => '2026-12-01', to => '2026-12-05',
    free => [ { start => '2026-12-01', end => '2026-12-05', units => 3 } ],
}, 'room: one run of plain dates covering [from, to), units = capacity';

$r = avail('room-1', 'from=2026-12-01T10:00:00Z&to=2026-12-04T00:00:01Z');
is $r->{status}, 200, 'room, times inside a day: 200';
is "$r->{json}{from} $r->{json}{to}", '2026-12-01 2026-12-05', 'widened to day boundaries';
is_deeply $r->{json}{free}, [ { start => '2026-12-01', end => '2026-12-05', units => 3 } ],
    'the run covers the widened range';

$r = avail('room-1', 'from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z');
is "$r->{json}{from} $r->{json}{to}", '2026-12-01 2026-12-02', 'aligned instants are not widened';

# ------------------------------------------------------------ hour slots

$r = avail('car-1', 'from=2026-12-01T10:00:00Z&to=2026-12-01T14:00:00Z');
is $r->{status}, 200, 'car: 200';
is_deeply $r->{json}, {
    resource => 'car-1', type => 'car', slot => '1h', capacity => 2,
    from => '2026-12-01T10:00:00Z', to => '2026-12-01T14:00:00Z',
    free => [ { start => '2026-12-01T10:00:00Z', end => '2026-12-01T14:00:00Z', units => 2 } ],
}, 'car: full instants with Z, slot "1h"';

$r = avail('car-1', 'from=2026-12-01T10:30:00Z&to=2026-12-01T13:15:00Z');
is "$r->{json}{from} $r->{json}{to}", '2026-12-01T10:00:00Z 2026-12-01T14:00:00Z',
    'car: widened to hour boundaries';

$r = avail('car-1', 'from=2026-12-01T12:00:00%2B02:00&to=2026-12-01T09:00:00-05:00');
is $r->{status}, 200, 'offsets: 200';
is "$r->{json}{from} $r->{json}{to}", '2026-12-01T10:00:00Z 2026-12-01T14:00:00Z',
    'offsets are converted to UTC';

$r = avail('car-1', 'from=2026-12-01T10:00:00.750Z&to=2026-12-01t11:00:00z');
is "$r->{json}{from} $r->{json}{to}", '2026-12-01T10:00:00Z 2026-12-01T11:00:00Z',
    'fractions and lowercase t/z are read';

$r = avail('car-1', 'from=2026-12-01&to=2026-12-02');
is $r->{status}, 200, 'car, plain dates: 200';
is "$r->{json}{from} $r->{json}{to}", '2026-12-01T00:00:00Z 2026-12-02T00:00:00Z',
    'a plain date means 00:00 UTC; sub-day types answer full instants';

is avail('desk-1', 'from=2026-12-01&to=2026-12-02')->{json}{slot}, '30m', 'desk: slot "30m"';
is avail('ride-1', 'from=2026-12-01&to=2026-12-02')->{json}{slot}, '15m', 'ride: slot "15m"';

# ------------------------------------------------------------ bad ranges

BookingTest::error_is(avail('car-1', 'to=2026-12-02'), 400, 'bad_request', field => 'from',
                      name => 'timed type without from: 400 field from');
BookingTest::error_is(avail('car-1', 'from=2026-12-01'), 400, 'bad_request', field => 'to',
                      name => 'timed type without to: 400 field to');
$r = avail('room-1');
BookingTest::error_is($r, 400, 'bad_request', name => 'timed type without from and to: 400');

my $seen = () = $t->check_error_log(also => qr/header already sent/);
for my $case (
    [ 'from=2026-13-01&to=2026-12-02',          'from', 'month 13' ],
    [ 'from=2026-02-30&to=2026-12-02',          'from', 'February 30' ],
    [ 'from=tomorrow&to=2026-12-02',            'from', 'a word' ],
    [ 'from=2026-12-01&to=2026-12-02T25:00:00Z', 'to',  'hour 25' ],
    [ 'from=2026-12-01&to=2026-12-02T10:00:00',  'to',  'no offset' ],
    [ 'from=2026-12-01&to=2026-12-02T10:00:00%2B24:00', 'to', 'offset +24:00' ],
    [ 'from=2026-12-01T12:00:00+02:00&to=2026-12-02', 'from', 'a raw + (a space in a query)' ],
    [ 'from=2026-12-01&from=2026-12-02&to=2026-12-03', 'from', 'from given twice' ],
    [ 'from=2026-12-01%00&to=2026-12-03',        'from', 'a NUL byte' ],
) {
    my ($q, $field, $what) = @$case;
    BookingTest::error_is(avail('car-1', $q), 400, 'bad_request', field => $field,
                          name => "unparsable date ($what): 400 field $field");
}
my @bad = $t->check_error_log(also => qr/header already sent/);
is_deeply [ @bad[ $seen .. $#bad ] ], [], 'unparsable dates: one answer each, no alert';

BookingTest::error_is(avail('car-1', 'from=2026-12-02&to=2026-12-01'), 422, 'invalid',
                      name => 'to before from: 422');
BookingTest::error_is(avail('car-1', 'from=2026-12-01T10:00:00Z&to=2026-12-01T10:00:00Z'), 422, 'invalid',
                      name => 'to = from: 422');
BookingTest::error_is(avail('room-1', 'from=2026-01-01&to=2027-01-03'), 422, 'invalid',
                      name => 'a range of 367 days (default booking_max_range 366d): 422');
$r = avail('room-1', 'from=2026-01-01&to=2027-01-02');
is $r->{status}, 200, 'a range of exactly 366 days: 200';
runs_ok $r->{json}, '366 days: the runs cover the range';
$r = avail('ride-1', 'from=2026-01-01&to=2027-01-02');
is $r->{status}, 200, '366 days of 15-minute slots (35136 slots): 200';
runs_ok $r->{json}, '35136 slots: the runs cover the range';

# ------------------------------------------------------------ timeless

$r = avail('gift-1');
is $r->{status}, 200, 'timeless without from/to: 200';
is_deeply $r->{json}, { resource => 'gift-1', type => 'gift', slot => 'none', capacity => 5, free => 5 },
    'timeless: {resource, type, slot "none", capacity, free}';
is_deeply avail('gift-1', 'from=2026-12-01&to=2026-12-02')->{json}, $r->{json},
    'timeless: from/to change nothing';

# ------------------------------------------------------------ unknown

BookingTest::error_is(avail('nope', 'from=2026-12-01&to=2026-12-05'), 404, 'not_found',
                      name => 'unknown resource: 404');
BookingTest::error_is(avail('nope'), 404, 'not_found', name => 'unknown resource, no range: 404');
BookingTest::error_is(avail('bad.id', 'from=2026-12-01&to=2026-12-05'), 400, 'bad_request',
                      name => 'a bad id: 400');

# ------------------------------------------------------------ counters

# room-1 (capacity 3): Dec 2 and 3 one unit in use, Dec 4 all three, Dec 5
# more than the capacity (clamped to 0 free), Dec 7 a huge value.
my $d0 = day(2026, 12, 1) / 86400;
set_used('room-1', $d0 + 1, 1);
set_used('room-1', $d0 + 2, 1);
set_used('room-1', $d0 + 3, 3);
set_used('room-1', $d0 + 4, 5);
set_used('room-1', $d0 + 6, 0xFFFFFFFF);
$r = avail('room-1', 'from=2026-12-01&to=2026-12-09');
is $r->{status}, 200, 'room with counters: 200';
is_deeply $r->{json}{free}, [
    { start => '2026-12-01', end => '2026-12-02', units => 3 },
    { start => '2026-12-02', end => '2026-12-04', units => 2 },
    { start => '2026-12-04', end => '2026-12-06', units => 0 },
    { start => '2026-12-06', end => '2026-12-07', units => 3 },
    { start => '2026-12-07', end => '2026-12-08', units => 0 },
    { start => '2026-12-08', end => '2026-12-09', units => 3 },
], 'runs: equal neighbours merged, 0-free runs kept, over-capacity clamped to 0';
runs_ok $r->{json}, 'counters: the runs cover the range';

$r = avail('room-1', 'from=2026-12-03&to=2026-12-05');
is_deeply $r->{json}{free}, [
    { start => '2026-12-03', end => '2026-12-04', units => 2 },
    { start => '2026-12-04', end => '2026-12-05', units => 0 },
], 'a range that starts and ends inside runs cuts them';

$r = avail('room-1', 'from=2026-12-04T12:00:00Z&to=2026-12-05T12:00:00Z');
is_deeply $r->{json}{free}, [ { start => '2026-12-04', end => '2026-12-06', units => 0 } ],
    'widened: one 0-free run';

# car-1 (capacity 2, 1h slots): one unit in use in the last slot of a
# counter chunk and the first of the next: the run crosses the key boundary.
my $h0 = day(2026, 12, 1) / 3600;
my $b = (int($h0 / 256) + 1) * 256;    # first slot of the next chunk
set_used('car-1', $b - 1, 1);
set_used('car-1', $b, 1);
set_used('car-1', $b + 1, 2);
my ($from, $to) = (($b - 3) * 3600, ($b + 3) * 3600);
my $iso = sub { my @t = gmtime shift; sprintf '%04d-%02d-%02dT%02d:%02d:00Z', $t[5] + 1900, $t[4] + 1, $t[3], $t[2], $t[1] };
$r = avail('car-1', 'from=' . $iso->($from) . '&to=' . $iso->($to));
is $r->{status}, 200, 'car across two counter keys: 200';
is_deeply $r->{json}{free}, [
    { start => $iso->($from),            end => $iso->(($b - 1) * 3600), units => 2 },
    { start => $iso->(($b - 1) * 3600),  end => $iso->(($b + 1) * 3600), units => 1 },
    { start => $iso->(($b + 1) * 3600),  end => $iso->(($b + 2) * 3600), units => 0 },
    { start => $iso->(($b + 2) * 3600),  end => $iso->($to),             units => 2 },
], 'a run crosses the counter-key boundary as one run';

# A capacity lowered under what the counters say: free is never negative.
$t->req(PUT => '/admin/resources/ride-1', body => { type => 'ride', capacity => 4 });
set_used('ride-1', day(2026, 12, 1, 10) / 900, 4);
$r = avail('ride-1', 'from=2026-12-01T10:00:00Z&to=2026-12-01T10:30:00Z');
is_deeply $r->{json}{free}, [
    { start => '2026-12-01T10:00:00Z', end => '2026-12-01T10:15:00Z', units => 0 },
    { start => '2026-12-01T10:15:00Z', end => '2026-12-01T10:30:00Z', units => 4 },
], 'ride: 15-minute runs';

$r = $t->req(HEAD => '/api/resources/room-1/availability?from=2026-12-01&to=2026-12-09');
is $r->{status}, 200, 'HEAD availability: 200';
is $r->{body}, '', 'HEAD availability: no body';

is_deeply [ $t->worker_pids ], \@workers, 'no worker was replaced';
is_deeply [ $t->check_error_log ], [], 'no alert, crash or crit in the error log';
$t->stop;

# ------------------------------------------------------------ booking_max_range

my $t2 = BookingTest->new(
    workers => 2,
    http    => <<'EOT',
booking_type room  slot=1d;
booking_type ride  slot=15m;
booking_type hour60 slot=60m;
booking_type mixed slot=1h30m;
booking_max_range 7d;
EOT
);
$t2->req(PUT => "/admin/resources/$_->[0]", body => { type => $_->[1] })
    for [ 'room-7', 'room' ], [ 'ride-7', 'ride' ], [ 'h60', 'hour60' ], [ 'mix', 'mixed' ];
BookingTest::error_is(avail('room-7', 'from=2026-12-01&to=2026-12-09', $t2), 422, 'invalid',
                      name => 'booking_max_range 7d: 8 days is 422');
is avail('room-7', 'from=2026-12-01&to=2026-12-08', $t2)->{status}, 200,
    'booking_max_range 7d: 7 days is 200';
BookingTest::error_is(avail('room-7', 'from=2026-12-01T00:00:00Z&to=2026-12-08T00:00:01Z', $t2), 422, 'invalid',
                      name => 'booking_max_range 7d: 7 days and a second is 422');

TODO: {
    is avail('h60', 'from=2026-12-01&to=2026-12-02', $t2)->{json}{slot}, '60m', 'slot=60m answers "60m"';
    is avail('mix', 'from=2026-12-01&to=2026-12-02', $t2)->{json}{slot}, '1h30m', 'slot=1h30m answers "1h30m"';
}
$r = avail('mix', 'from=2026-12-01T01:00:00Z&to=2026-12-01T02:00:00Z', $t2);
is "$r->{json}{from} $r->{json}{to}", '2026-12-01T00:00:00Z 2026-12-01T03:00:00Z',
    'slot=1h30m: widened to 90-minute boundaries counted from the epoch';

# A range that holds more slots than one answer may carry is refused, not
# served from a huge reply.
$t2->reload_nginx(http => <<'EOT');
booking_type room  slot=1d;
booking_type ride  slot=15m;
booking_type hour60 slot=60m;
booking_type mixed slot=1h30m;
booking_max_range 1100d;
EOT
BookingTest::error_is(avail('ride-7', 'from=2026-01-01&to=2028-12-31', $t2), 422, 'invalid',
                      name => '105000 slots of 15 minutes: 422');
$r = avail('room-7', 'from=2026-01-01&to=2028-12-31', $t2);
is $r->{status}, 200, '1095 day slots: 200';
runs_ok $r->{json}, '1095 days: the runs cover the range';
is_deeply [ $t2->check_error_log ], [], 'second instance: clean error log';
$t2->stop;

done_testing;

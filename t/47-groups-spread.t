# Groups of items across the hash slots of a Redis Cluster (SPEC §6 "Groups
# of items", issue 17 item 1; README, "Groups of items"): one script a slot
# holds its items pinned, the primary's record decides, every part is
# settled as it says.  Its own cluster of three masters, with the append
# only file written at every command, so that a node killed comes back
# with what it had.
#
# - two homes and a car on three slots, booked at once: confirmed, all;
#   held, with one token, then confirmed; cancelled: every unit back;
# - one item taken: 409 naming it by its place in the request, and nothing
#   left held on the other slots;
# - a held group left alone: the sweeper, asking the primary, gives every
#   unit back once the holds are due; its confirm is then 410;
# - an nginx worker killed between the phases (booking_group_pause holds
#   the request there): before the commit, every item is given back; after
#   it, every item is confirmed; never some of them;
# - a Redis master killed between the phases and started again: the same.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use Time::HiRes qw(time sleep);
use BookingTest;
use BookingKeys qw(shard);

my $TRUE = JSON::PP::true;

# resources of different shards; the first of each name's series that is
my %taken;
sub apart {
    my ($p) = @_;
    for my $i (1 .. 9999) {
        my $id = "$p$i";
        next if $taken{ shard($id) }++;
        return $id;
    }
}

my $t = BookingTest->new(workers => 2,
    cluster => { replicas => 0, args => [ '--appendonly', 'yes', '--appendfsync', 'always' ] },
    http => <<'EOT');
booking_type home slot=1d hold=10m;
booking_type car slot=1h hold=10m;
booking_type flash slot=1d hold=3s;
booking_user $http_x_user_id;
booking_group_pause 1500ms;
EOT

my @homes = map { apart('home-') } 1 .. 10;
my @cars = map { apart('car-') } 1 .. 3;
my @flash = map { apart('flash-') } 1 .. 2;
for my $r ((map { [ $_, 'home' ] } @homes), (map { [ $_, 'car' ] } @cars), (map { [ $_, 'flash' ] } @flash)) {
    my $res = $t->req(PUT => "/admin/resources/$r->[0]", body => { type => $r->[1], capacity => 1, owner => 'host' });
    $res->{status} == 201 or BAIL_OUT("PUT $r->[0]: $res->{status} $res->{body}");
}

sub book {
    my ($who, %body) = @_;
    my $h = delete $body{headers} // {};
    return $t->req(POST => '/api/bookings', body => \%body, headers => { 'X-User-Id' => $who, %$h });
}

# the fewest units free over the range
sub free {
    my ($res, $from, $to) = @_;
    my $r = $t->req(GET => "/api/resources/$res/availability?from=$from&to=$to");
    my @u = map { $_->{units} } @{ $r->{json}{free} || [] };
    return @u ? (sort { $a <=> $b } @u)[0] : -1;
}

sub swap {
    my ($a, $b, $car, %o) = @_;
    my @items = ({ resource => $a, start => '2028-03-01', end => '2028-03-03' },
                 { resource => $b, start => '2028-03-01', end => '2028-03-03' });
    push @items, { resource => $car, start => '2028-03-01T10:00:00Z', end => '2028-03-01T12:00:00Z' } if $car;
    return book('ann', items => \@items, %o);
}

sub statuses { join ' ', map { $_->{status} } @{ $_[0]{json}{bookings} || [] } }

sub wait_for {
    my ($what, $cond, $secs) = @_;
    my $until = time + $secs;
    until ($cond->()) {
        return 0 if time > $until;
        sleep 0.25;
    }
    return 1;
}

my $D1 = '2028-03-01';
my $D3 = '2028-03-03';

# ------------------------------------------------------------ confirmed, all at once

my $r = swap($homes[0], $homes[1], $cars[0]);
is $r->{status}, 201, 'three items on three slots: 201' or diag $r->{body};
is statuses($r), 'confirmed confirmed confirmed', '... all confirmed';
is_deeply [ map { $_->{resource} } @{ $r->{json}{bookings} } ], [ $homes[0], $homes[1], $cars[0] ],
    '... in the order asked';
is scalar(grep { $_->{group} eq $r->{json}{group} } @{ $r->{json}{bookings} }), 3, '... each carries the group';
is free($homes[1], $D1, $D3), 0, 'the second home is taken';
my $get = $t->req(GET => "/api/groups/$r->{json}{group}", headers => { 'X-User-Id' => 'ann' });
is $get->{status}, 200, 'GET /groups/{id}: 200';
is statuses($get), 'confirmed confirmed confirmed', '... all confirmed';
is $t->req(GET => "/api/groups/$r->{json}{group}", headers => { 'X-User-Id' => 'eve' })->{status}, 404,
    'a stranger: 404';
my $c = $t->req(POST => "/api/groups/$r->{json}{group}/cancel", headers => { 'X-User-Id' => 'ann' });
is $c->{status}, 200, 'cancel: 200' or diag $c->{body};
is statuses($c), 'cancelled cancelled cancelled', '... all cancelled';
is free($homes[0], $D1, $D3) . free($homes[1], $D1, $D3), '11', 'both homes free again';

# ------------------------------------------------------------ held, then confirmed

$r = swap($homes[0], $homes[1], undef, hold => $TRUE);
is $r->{status}, 201, 'held across two slots: 201' or diag $r->{body};
is statuses($r), 'held held', '... both held';
my %until = map { $_->{expires_at} => 1 } @{ $r->{json}{bookings} || [] };
is scalar(keys %until), 1, '... until one instant, the primary\'s';
my $token = $r->{headers}{'booking-token'};
ok $token, '... one token';
$c = $t->req(POST => "/api/groups/$r->{json}{group}/confirm", headers => { 'Booking-Token' => $token });
is $c->{status}, 200, 'confirmed with the token' or diag $c->{body};
is statuses($c), 'confirmed confirmed', '... both confirmed';
is $t->req(POST => "/api/groups/$r->{json}{group}/cancel", headers => { 'X-User-Id' => 'ann' })->{status}, 200,
    'and cancelled';
is $t->req(POST => "/api/groups/$r->{json}{group}/commit", headers => { 'X-User-Id' => 'ann' })->{status}, 404,
    'the worker\'s own steps are no route';

# ------------------------------------------------------------ one item taken

is book('bob', resource => $homes[1], start => $D1, end => $D3)->{status}, 201, 'bob takes the second home';
$r = swap($homes[0], $homes[1], $cars[0]);
BookingTest::error_is($r, 409, 'unavailable', name => 'the swap: 409');
is_deeply [ map { $_->{index} } @{ $r->{json}{error}{conflicts} || [] } ], [1],
    '... naming the second item' or diag $r->{body};
is free($homes[0], $D1, $D3), 1, 'the first home was given back';
is free($cars[0], '2028-03-01T10:00:00Z', '2028-03-01T12:00:00Z'), 1, 'the car too';

# ------------------------------------------------------------ a held group left alone

$r = book('ann', hold => $TRUE, items => [ { resource => $flash[0], start => $D1, end => $D3 },
                                           { resource => $flash[1], start => $D1, end => $D3 } ]);
is $r->{status}, 201, 'a held group of 3 s holds' or diag $r->{body};
my $gid = $r->{json}{group};
ok wait_for('given back', sub { free($flash[0], $D1, $D3) == 1 && free($flash[1], $D1, $D3) == 1 }, 15),
    'the sweeper gives both back, once the primary says they expired';
BookingTest::error_is($t->req(POST => "/api/groups/$gid/confirm", headers => { 'X-User-Id' => 'ann' }),
                      410, 'expired', name => 'its confirm: 410');
is statuses($t->req(GET => "/api/groups/$gid", headers => { 'X-User-Id' => 'ann' })), 'expired expired',
    'both expired';

# ------------------------------------------------------------ a worker killed between the phases

sub kill_workers { kill 'KILL', $t->worker_pids }

sub crash_at {
    my ($at, $a, $b) = @_;
    my $bg = BookingTest::bg(sub { swap($a, $b)->{status} });
    sleep $at;
    kill_workers();
    $bg->result(30);
    # the master starts new workers
    wait_for('workers', sub { my $x = eval { $t->req(GET => '/plain')->{status} }; ($x // 0) == 200 }, 10);
}

sub user_bookings {
    my ($res) = @_;
    my $l = $t->req(GET => "/api/bookings?resource=$res", headers => { 'X-User-Id' => 'host' });
    return [ grep { $_->{user} eq 'ann' && $_->{start} =~ /^2028-03-01/ } @{ $l->{json}{items} || [] } ];
}

# before the commit: the holds are the group's, pinned, until the primary
# says what it became; the sweeper asks once they are due (10 s)
crash_at(0.7, $homes[2], $homes[3]);
is free($homes[2], $D1, $D3) . free($homes[3], $D1, $D3), '00', 'killed before the commit: both held';
ok wait_for('aborted', sub { free($homes[2], $D1, $D3) == 1 && free($homes[3], $D1, $D3) == 1 }, 25),
    '... then both given back, never one confirmed';
is join(' ', map { $_->{status} } map { @{ user_bookings($_) } } $homes[2], $homes[3]), 'expired expired',
    '... both expired';

# after the commit: the primary said confirmed, the parts follow
crash_at(2.3, $homes[4], $homes[5]);
ok wait_for('confirmed', sub {
        join(' ', map { $_->{status} } map { @{ user_bookings($_) } } $homes[4], $homes[5])
            eq 'confirmed confirmed' }, 25),
    'killed after the commit: both confirmed by the sweeper';
is free($homes[4], $D1, $D3) . free($homes[5], $D1, $D3), '00', '... both taken';

# ------------------------------------------------------------ a Redis master killed between the phases

sub master_of { $t->cluster->master_of(BookingKeys::rkey($_[0])) }

sub crash_redis_at {
    my ($at, $res, $a, $b) = @_;
    my $port = master_of($res);
    my $bg = BookingTest::bg(sub { swap($a, $b)->{status} });
    sleep $at;
    $t->cluster->signal('KILL', $port);
    $t->cluster->start_node($port);
    $t->cluster->wait_ok(20);
    return $bg->result(30);
}

SKIP: {
    skip 'the two homes share a master', 4 if master_of($homes[6]) == master_of($homes[7])
                                               || master_of($homes[8]) == master_of($homes[9]);
    # the primary's master, before the commit: the commit cannot be made
    my $st = crash_redis_at(0.7, $homes[6], $homes[6], $homes[7]);
    ok $st >= 500, "the primary's master killed before the commit: $st";
    ok wait_for('given back', sub { free($homes[6], $D1, $D3) == 1 && free($homes[7], $D1, $D3) == 1 }, 30),
        '... both given back once the pins are due';

    # the other part's master, before the commit: it comes back with its
    # pinned holds (appendfsync always), the primary commits, the sweeper
    # settles what the worker could not
    $st = crash_redis_at(0.7, $homes[9], $homes[8], $homes[9]);
    ok $st == 201 || $st >= 500, "the other part's master killed before the commit: $st";
    ok wait_for('confirmed', sub {
            join(' ', map { $_->{status} } map { @{ user_bookings($_) } } $homes[8], $homes[9])
                eq 'confirmed confirmed' }, 30),
        '... both confirmed, by the worker or the sweeper';
}

# ------------------------------------------------------------ an Idempotency-Key

my %key = (headers => { 'Idempotency-Key' => 'swap-key-0123456789' });
my $first = book('cy', %key, items => [ { resource => $cars[1], start => '2028-04-01T10:00:00Z', end => '2028-04-01T11:00:00Z' },
                                        { resource => $cars[2], start => '2028-04-01T10:00:00Z', end => '2028-04-01T11:00:00Z' } ]);
is $first->{status}, 201, 'a group across slots with an Idempotency-Key' or diag $first->{body};
my $again = book('cy', %key, items => [ { resource => $cars[1], start => '2028-04-01T10:00:00Z', end => '2028-04-01T11:00:00Z' },
                                        { resource => $cars[2], start => '2028-04-01T10:00:00Z', end => '2028-04-01T11:00:00Z' } ]);
is $again->{status}, 201, 'its retry: 201' or diag $again->{body};
is $again->{json}{group}, $first->{json}{group}, '... the same group';
is $again->{headers}{'idempotent-replayed'}, 'true', '... replayed';
is statuses($again), 'confirmed confirmed', '... both bookings';

is_deeply [ grep { !/worker process \d+ exited on signal 9/ } $t->check_error_log ], [],
    'no alert or crash in the error log but the workers killed';

done_testing;

# The waitlist (README, "Waitlist"; SPEC.md §5): types with waitlist=on
# let a user wait for units that are taken.
#
# - POST /waitlist: 201 waiting with its position; 409 when the units are
#   free now, for a second entry of the same user and range, and on a type
#   without waitlist; 401 for a guest; 422 for a range that has started;
# - GET /waitlist/{id} for its user and the resource's owner (404 for
#   others), GET /waitlist?resource= for the owner (403 for others),
#   DELETE /waitlist/{id} for its user (204, then 404);
# - a cancel gives the freed units to the first in line, in the same step:
#   a held booking of the waiting user's own, which nobody racing for the
#   units can take (30 bookings sent at once with the cancel all fail);
# - an offer left to expire lapses and passes to the next in line with no
#   request on the resource (the sweeper, also without booking_events);
# - a declined offer and a cancelled one lapse too; the offer confirmed is
#   the user's booking; entries whose start passed lapse;
# - a raised capacity and a timeless stock serve the line;
# - an entry counts against max_active (its claims are its offer's), and
#   gives it back when deleted;
# - the user's GET /bookings shows no waiting entry, and shows the offer;
# - 20 users joining at once get the positions 1 to 20;
# - with booking_events on: waitlist.offered and waitlist.lapsed;
# - nginx -t refuses waitlist=maybe.

use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use BookingTest;
use BookingRace qw(:all);
use BookingKeys qw(streams);

my $HTTP = <<'EOT';
booking_type car  slot=1h hold=3s max=1d waitlist=on;
booking_type van  slot=1h hold=1h max=1d waitlist=on approval=on;
booking_type bike slot=1m hold=1h waitlist=on;
booking_type pass slot=1h hold=1h max_active=1 waitlist=on;
booking_type box  slot=none hold=1h waitlist=on;
booking_type room slot=1d hold=15m;
booking_user $http_x_user_id;
EOT

my $t = BookingTest->new(workers => 4, http => $HTTP);

for my $r ([ 'c1', 'car', 1 ], [ 'c2', 'car', 1 ], [ 'c3', 'car', 1 ], [ 'c4', 'car', 1 ],
           [ 'c5', 'car', 1 ], [ 'k2', 'bike', 1 ],
           [ 'v1', 'van', 1 ], [ 'k1', 'bike', 1 ], [ 'p1', 'pass', 1 ], [ 'p2', 'pass', 1 ],
           [ 'p3', 'pass', 1 ], [ 'x1', 'box', 1 ], [ 'r1', 'room', 1 ]) {
    $t->req(PUT => "/admin/resources/$r->[0]",
            body => { type => $r->[1], capacity => $r->[2], owner => 'olga' })->{status} == 201
        or BAIL_OUT("PUT $r->[0]");
}

my $H = (int(redis_now($t) / 3600) + 2) * 3600;
my %range = (start => iso($H), end => iso($H + 3600));

sub wait_in {
    my ($user, $body, %o) = @_;
    return $t->req(POST => '/api/waitlist', body => $body,
                   headers => user_h($user, %{ $o{headers} || {} }));
}
sub entry { my ($user, $id) = @_; return $t->req(GET => "/api/waitlist/$id", headers => user_h($user)) }
sub line  { my ($user, $rid) = @_; return $t->req(GET => "/api/waitlist?resource=$rid", headers => user_h($user)) }
sub leave { my ($user, $id) = @_; return $t->req(DELETE => "/api/waitlist/$id", headers => user_h($user)) }

# each request in a forked child, all at once: their answers, in order
sub race {
    my ($reqs) = @_;
    my @kids = map {
        my $q = $_;
        BookingTest::bg(sub {
            my $r = $t->req($q->[0] => $q->[1], ($q->[2] ? (body => $q->[2]) : ()),
                            headers => $q->[3]);
            return { status => $r->{status}, json => $r->{json} };
        })
    } @$reqs;
    return map { $_->result(60) } @kids;
}

sub until_status {
    my ($user, $id, $want, $secs) = @_;
    my $r;
    for (1 .. $secs * 10) {
        $r = entry($user, $id);
        return $r if $r->{status} == 200 && $r->{json}{status} eq $want;
        sleep 0.1;
    }
    return $r;
}

# ---------------------------------------------------------------- joining

my $ann = book($t, 'ann', { resource => 'c1', %range, hold => JSON::PP::true });
is $ann->{status}, 201, 'ann holds c1';

my $bw = wait_in('bob', { resource => 'c1', %range });
is $bw->{status}, 201, 'bob waits for c1: 201';
is $bw->{json}{status}, 'waiting', '... waiting';
is $bw->{json}{position}, 1, '... first in line';
is $bw->{json}{user}, 'bob', '... his';
is $bw->{json}{start}, $range{start}, '... for the range asked';
ok !exists $bw->{json}{booking}, '... with no booking yet';
my $bid = $bw->{json}{id};
like $bid, qr/^c1\.[A-Za-z0-9_-]+$/, 'the entry has an id of the resource';

my $c = wait_in('carl', { resource => 'c1', %range });
is $c->{status}, 201, 'carl waits too';
is $c->{json}{position}, 2, '... second in line';
my $cid = $c->{json}{id};

BookingTest::error_is(wait_in('bob', { resource => 'c1', %range }), 409, 'conflict',
         name => 'a second entry of bob for the same range');
BookingTest::error_is(wait_in('dora', { resource => 'c1', start => iso($H + 7200), end => iso($H + 10800) }),
         409, 'conflict', name => 'waiting for units free now');
BookingTest::error_is(wait_in('dora', { resource => 'c1', %range, hold => JSON::PP::true }), 422,
                      'invalid', field => 'hold', name => 'an entry is not held');
BookingTest::error_is(wait_in('dora', { resource => 'c1', %range, note => 'x' }), 422,
                      'invalid', field => 'note', name => 'an entry has no note');
BookingTest::error_is(wait_in(undef, { resource => 'c1', %range }), 401, 'unauthenticated',
         name => 'a guest may not wait');
BookingTest::error_is(wait_in('dora', { resource => 'nope', %range }), 404, 'not_found',
         name => 'no such resource');
BookingTest::error_is(wait_in('dora', { resource => 'c1', start => iso($H), end => iso($H + 3 * 86400) }),
         422, 'invalid', name => "a range the type's max refuses");

{
    my $day = (int(redis_now($t) / 86400) + 3) * 86400;
    my %d = (start => date($day), end => date($day + 86400));
    is book($t, 'ann', { resource => 'r1', %d })->{status}, 201, 'ann books room r1';
    BookingTest::error_is(wait_in('dora', { resource => 'r1', %d }), 409, 'conflict',
             name => 'a type without waitlist=on');
}

# ---------------------------------------------------------------- reading

my $g = entry('bob', $bid);
is $g->{status}, 200, 'bob reads his entry';
is $g->{json}{position}, 1, '... still first';
is entry('olga', $cid)->{json}{position}, 2, "the resource's owner reads carl's: second";
BookingTest::error_is(entry('dora', $bid), 404, 'not_found', name => "another user cannot read bob's entry");
BookingTest::error_is($t->req(GET => '/api/waitlist/c1.nope!'), 404, 'not_found', name => 'a malformed id');

my $l = line('olga', 'c1');
is $l->{status}, 200, 'olga lists the line of c1';
is_deeply [ map { $_->{id} } @{ $l->{json}{items} } ], [ $bid, $cid ], '... bob, then carl';
BookingTest::error_is(line('bob', 'c1'), 403, 'forbidden', name => 'a waiting user may not list the line');
BookingTest::error_is($t->req(GET => '/api/waitlist', headers => user_h('olga')), 400, 'bad_request',
         name => 'the line needs a resource');

# ---------------------------------------------------------------- leaving

my $e = wait_in('erin', { resource => 'c1', %range });
is $e->{json}{position}, 3, 'erin waits third';
BookingTest::error_is(leave('bob', $e->{json}{id}), 404, 'not_found', name => "bob cannot delete erin's entry");
BookingTest::error_is(leave('olga', $e->{json}{id}), 403, 'forbidden', name => 'nor can the owner');
is leave('erin', $e->{json}{id})->{status}, 204, 'erin leaves the line: 204';
BookingTest::error_is(entry('erin', $e->{json}{id}), 404, 'not_found', name => 'her entry is gone');
is scalar @{ line('olga', 'c1')->{json}{items} }, 2, 'the line is bob and carl again';

# ---------------------------------------------------------------- the offer

{
    my $mine = $t->req(GET => '/api/bookings', headers => user_h('bob'));
    is $mine->{status}, 200, "bob's bookings";
    is scalar @{ $mine->{json}{items} }, 0, '... show no waiting entry';
}

is act($t, 'ann', $ann->{json}{id}, 'cancel')->{status}, 200, 'ann cancels her hold';
$g = entry('bob', $bid);
is $g->{json}{status}, 'offered', "bob's entry is offered at once";
is $g->{json}{booking}, $bid, '... a booking of the same id';
ok !exists $g->{json}{position}, '... out of the line';
my $offer = get_booking($t, 'bob', $bid);
is $offer->{status}, 200, 'bob reads the booking offered';
is $offer->{json}{status}, 'held', '... held';
is $offer->{json}{user}, 'bob', '... his';
is $offer->{json}{start}, $range{start}, '... for the range he waited for';
ok epoch($offer->{json}{expires_at}) - redis_now($t) <= 3, "... for the type's hold";
is entry('carl', $cid)->{json}{position}, 1, 'carl is first in line now';
BookingTest::error_is(book($t, 'dora', { resource => 'c1', %range }), 409, 'unavailable',
         name => 'the units are not for anyone else');
{
    my $mine = $t->req(GET => '/api/bookings', headers => user_h('bob'));
    is_deeply [ map { $_->{id} } @{ $mine->{json}{items} } ], [ $bid ],
        "bob's bookings show the offer";
}

# bob lets it expire: his entry is lapsed from the hold's expires_at on,
# and carl gets it with no request on c1
wait_redis_time($t, epoch($offer->{json}{expires_at}) + 0.05);
is entry('bob', $bid)->{json}{status}, 'lapsed', "at the offer's expires_at bob's entry reads lapsed";
$g = until_status('carl', $cid, 'offered', 8);
is $g->{json}{status}, 'offered', "bob's offer expired: carl's entry is offered, by the sweeper";
is entry('bob', $bid)->{json}{status}, 'lapsed', "bob's entry lapsed";
is get_booking($t, 'bob', $bid)->{json}{status}, 'expired', '... his hold expired';
is act($t, 'carl', $cid, 'confirm')->{status}, 200, 'carl confirms his offer';
is get_booking($t, 'carl', $cid)->{json}{status}, 'confirmed', '... it is his booking';
is entry('carl', $cid)->{json}{status}, 'offered', '... and his entry stays offered';
is scalar @{ line('olga', 'c1')->{json}{items} }, 0, 'the line of c1 is empty';

# a cancelled offer lapses and passes on
{
    my %r2 = (start => iso($H + 3600), end => iso($H + 7200));
    is book($t, 'ann', { resource => 'c2', %r2, hold => JSON::PP::true })->{status}, 201,
        'ann holds c2';
    my $x = wait_in('bob', { resource => 'c2', %r2 });
    my $y = wait_in('carl', { resource => 'c2', %r2 });
    my ($ah) = grep { $_->{resource} eq 'c2' }
        @{ $t->req(GET => '/api/bookings', headers => user_h('ann'))->{json}{items} };
    is act($t, 'ann', $ah->{id}, 'cancel')->{status}, 200, 'ann cancels';
    is entry('bob', $x->{json}{id})->{json}{status}, 'offered', 'bob is offered c2';
    is act($t, 'bob', $x->{json}{id}, 'cancel')->{status}, 200, 'bob cancels his offer';
    is entry('bob', $x->{json}{id})->{json}{status}, 'lapsed', '... his entry lapsed';
    is entry('carl', $y->{json}{id})->{json}{status}, 'offered', '... and carl is offered c2';
    is wait_in('bob', { resource => 'c2', %r2 })->{json}{position}, 1,
        'bob, lapsed, may wait again: first in line';
}

# a declined offer lapses too (approval=on)
{
    is book($t, 'ann', { resource => 'v1', %range })->{status}, 201, 'ann requests v1';
    my ($areq) = grep { $_->{resource} eq 'v1' }
        @{ $t->req(GET => '/api/bookings', headers => user_h('ann'))->{json}{items} };
    my $x = wait_in('bob', { resource => 'v1', %range });
    my $y = wait_in('carl', { resource => 'v1', %range });
    is act($t, 'olga', $areq->{id}, 'decline')->{status}, 200, 'olga declines ann';
    is entry('bob', $x->{json}{id})->{json}{status}, 'offered', 'bob is offered v1';
    is act($t, 'bob', $x->{json}{id}, 'confirm')->{json}{status}, 'requested',
        '... confirms it: a request';
    is act($t, 'olga', $x->{json}{id}, 'decline')->{status}, 200, 'olga declines bob';
    is entry('bob', $x->{json}{id})->{json}{status}, 'lapsed', "bob's entry lapsed";
    is entry('carl', $y->{json}{id})->{json}{status}, 'offered', 'carl is offered v1';
}

# ---------------------------------------------------------------- capacity, stock

{
    my $h = book($t, 'ann', { resource => 'c3', %range, hold => JSON::PP::true });
    my $x = wait_in('bob', { resource => 'c3', %range, quantity => 1 });
    is $x->{json}{status}, 'waiting', 'bob waits for c3';
    is $t->req(PUT => '/admin/resources/c3', body => { type => 'car', capacity => 2, owner => 'olga' })
        ->{status}, 200, 'olga raises the capacity of c3 to 2';
    is entry('bob', $x->{json}{id})->{json}{status}, 'offered', '... bob is offered the new unit';

    is book($t, 'ann', { resource => 'x1', quantity => 1 })->{status}, 201, 'ann takes the box x1';
    my $s = wait_in('bob', { resource => 'x1', quantity => 1 });
    is $s->{status}, 201, 'bob waits for the timeless x1';
    ok !exists $s->{json}{start}, '... with no range';
    BookingTest::error_is(wait_in('bob', { resource => 'x1', quantity => 1 }), 409, 'conflict',
             name => 'a second entry for x1');
    my ($ab) = grep { $_->{resource} eq 'x1' }
        @{ $t->req(GET => '/api/bookings', headers => user_h('ann'))->{json}{items} };
    is act($t, 'ann', $ab->{id}, 'cancel')->{status}, 200, 'ann gives x1 back';
    is entry('bob', $s->{json}{id})->{json}{status}, 'offered', '... bob is offered it';
    is get_booking($t, 'bob', $s->{json}{id})->{json}{status}, 'held', '... a hold of his';
}

# ---------------------------------------------------------------- max_active

{
    is book($t, 'ann', { resource => 'p1', %range })->{status}, 201, 'ann books pass p1';
    is book($t, 'amy', { resource => 'p2', %range })->{status}, 201, 'amy books pass p2';
    my $x = wait_in('bob', { resource => 'p1', %range });
    is $x->{status}, 201, 'bob waits for p1';
    BookingTest::error_is(book($t, 'bob', { resource => 'p3', %range }), 429, 'quota',
             name => 'bob, waiting, has used his max_active=1');
    BookingTest::error_is(wait_in('bob', { resource => 'p2', %range }), 429, 'quota',
             name => 'a second entry of a max_active=1 type: 429');
    is leave('bob', $x->{json}{id})->{status}, 204, 'bob leaves the line of p1';
    is book($t, 'bob', { resource => 'p3', %range })->{status}, 201, '... then books p3';
}

# ---------------------------------------------------------------- start passed

{
    my $now = redis_now($t);
    my $m = (int($now / 60) + 1) * 60;
    $m += 60 if $m - $now < 5;
    my %soon = (start => iso($m), end => iso($m + 60));
    is book($t, 'ann', { resource => 'k1', %soon, hold => JSON::PP::true })->{status}, 201,
        'ann holds bike k1 for the next minute';
    my $x = wait_in('bob', { resource => 'k1', %soon });
    is $x->{json}{status}, 'waiting', 'bob waits for it';
    my $past = (int($now / 60)) * 60;
    BookingTest::error_is(wait_in('bob', { resource => 'k1', start => iso($past), end => iso($past + 60) }),
             422, 'invalid', name => 'waiting for a range that has started');
    wait_redis_time($t, $m + 1, 90);
    is entry('bob', $x->{json}{id})->{json}{status}, 'lapsed', "its start passed: bob's entry lapsed";
    ok !exists entry('bob', $x->{json}{id})->{json}{position}, '... with no position';
    my ($ah) = grep { $_->{resource} eq 'k1' }
        @{ $t->req(GET => '/api/bookings', headers => user_h('ann'))->{json}{items} };
    is act($t, 'ann', $ah->{id}, 'cancel')->{status}, 200, 'ann cancels';
    is entry('bob', $x->{json}{id})->{json}{status}, 'lapsed', '... bob is offered nothing';
    is get_booking($t, 'bob', $x->{json}{id})->{status}, 404, '... no booking was made';
    my $mine = $t->req(GET => '/api/bookings', headers => user_h('bob'));
    ok !(grep { $_->{id} eq $x->{json}{id} } @{ $mine->{json}{items} }),
        "bob's bookings do not show the lapsed entry";
}

# ---------------------------------------------------------------- a long line

# 40 users wait each for another hour: the last in line is served when
# its hour is freed, whatever is in line before it
{
    my @ids;
    for my $i (0 .. 39) {
        my %r = (start => iso($H + 24 * 3600 + $i * 3600), end => iso($H + 25 * 3600 + $i * 3600));
        my $a = book($t, 'ann', { resource => 'c5', %r });
        push @ids, $a->{json}{id};
        my $w = wait_in("u$i", { resource => 'c5', %r });
        $w->{json}{position} == $i + 1 or diag "u$i waits at $w->{json}{position}";
        push @ids, $w->{json}{id};
    }
    is act($t, 'ann', $ids[78], 'cancel')->{status}, 200, 'ann cancels her 40th hour';
    is entry('u39', $ids[79])->{json}{status}, 'offered', 'u39, 40th in line, is offered it';
    my %r39 = (start => iso($H + 63 * 3600), end => iso($H + 64 * 3600));
    BookingTest::error_is(book($t, 'mallory', { resource => 'c5', %r39 }), 409, 'unavailable',
                          name => '... and nobody else can book it');
    is entry('u0', $ids[1])->{json}{position}, 1, 'u0 still waits, first';
}

# a line of 200 is full; 200 entries of a day of minute slots (1,440 each)
# are tried by the cancel that frees the day, within its bound: nothing
# Redis runs takes 10 ms (SLOWLOG)
{
    my $d0 = (int(redis_now($t) / 86400) + 2) * 86400;
    my %r = (start => iso($d0), end => iso($d0 + 86400));
    my $a = book($t, 'ann', { resource => 'k2', %r });
    is $a->{status}, 201, 'ann books a day of bike k2';
    my ($n, $v1) = (0, undef);
    for my $i (1 .. 200) {
        my $w = wait_in("v$i", { resource => 'k2', %r });
        $n++ if $w->{status} == 201;
        $v1 //= $w->{json}{id};
    }
    is $n, 200, '200 users wait for that day';
    BookingTest::error_is(wait_in('v201', { resource => 'k2', %r }), 409, 'conflict',
                          name => 'the 201st: the line is full');
    $t->redis('CONFIG', 'SET', 'slowlog-log-slower-than', 10000);
    $t->redis('SLOWLOG', 'RESET');
    is act($t, 'ann', $a->{json}{id}, 'cancel')->{status}, 200, 'ann cancels the day';
    my $slow = $t->redis('SLOWLOG', 'GET', 10);
    is scalar @$slow, 0, '... and the script that served the line took less than 10 ms'
        or diag join "\n", map { "$_->[2] us" } @$slow;
    is entry('v1', $v1)->{json}{status}, 'offered', 'v1, first, is offered the day';
    is scalar @{ line('olga', 'k2')->{json}{items} }, 199, '199 still wait';
}

# ---------------------------------------------------------------- races

# the offer is made in the step that frees the units: 30 bookings sent
# with the cancel never get them
{
    my %r4 = (start => iso($H + 5 * 3600), end => iso($H + 6 * 3600));
    my $h = book($t, 'ann', { resource => 'c4', %r4, hold => JSON::PP::true });
    my $x = wait_in('bob', { resource => 'c4', %r4 });
    my @reqs = map { [ POST => '/api/bookings', { resource => 'c4', %r4 }, user_h("racer$_") ] }
        1 .. 30;
    splice @reqs, 10, 0, [ POST => "/api/bookings/$h->{json}{id}/cancel", undef, user_h('ann') ];
    my @got = race(\@reqs);
    my @ok = grep { $_->{status} == 201 } @got;
    is scalar @ok, 0, 'none of 30 bookings racing the cancel got the units';
    is entry('bob', $x->{json}{id})->{json}{status}, 'offered', 'bob got them';
}

# 20 users join at once: positions 1 to 20, each once
{
    my %r5 = (start => iso($H + 7 * 3600), end => iso($H + 8 * 3600));
    is book($t, 'ann', { resource => 'c4', %r5 })->{status}, 201, 'ann books c4 later';
    my @got = race([ map { [ POST => '/api/waitlist', { resource => 'c4', %r5 }, user_h("w$_") ] }
                         1 .. 20 ]);
    is_deeply [ sort { $a <=> $b } map { $_->{json}{position} // 0 } @got ], [ 1 .. 20 ],
        '20 users joining at once are 1 to 20 in line'
        or diag explain [ map { ($_->{json}{position} // 'none') . ' ' . ($_->{json}{id} // '') } @got ];
    my $l5 = line('olga', 'c4');
    is scalar @{ $l5->{json}{items} }, 20, 'the line holds the 20';
}

$t->check_error_log;

# ---------------------------------------------------------------- events

{
    my $u = BookingTest->new(workers => 1, http => $HTTP . "booking_events on;\n");
    $u->req(PUT => '/admin/resources/e1', body => { type => 'car', capacity => 1, owner => 'olga' });
    my $h = book($u, 'ann', { resource => 'e1', %range, hold => JSON::PP::true });
    my $x = $u->req(POST => '/api/waitlist', body => { resource => 'e1', %range },
                    headers => user_h('bob'));
    act($u, 'ann', $h->{json}{id}, 'cancel');
    my $id = $x->{json}{id};
    my $deadline = time + 8;
    my %seen;
    while (time < $deadline && !$seen{'waitlist.lapsed'}) {
        for my $s (streams()) {
            my $r = $u->redis('XRANGE', $s, '-', '+');
            for my $e (@$r) {
                my %f = @{ $e->[1] };
                next unless ($f{waitlist} // '') eq $id;
                $seen{ $f{event} } = \%f;
            }
        }
        sleep 0.2;
    }
    my $o = $seen{'waitlist.offered'};
    ok $o, 'waitlist.offered is emitted';
    is $o->{booking}, $id, '... with the booking offered';
    is $o->{user}, 'bob', '... the user';
    is $o->{status}, 'offered', '... and the status';
    is $o->{start}, $range{start}, '... and the range';
    my $lp = $seen{'waitlist.lapsed'};
    ok $lp, 'waitlist.lapsed is emitted when the offer expires';
    is $lp->{status}, 'lapsed', '... lapsed';
    ok $lp->{rev} > $o->{rev}, '... with a later revision';
    $u->check_error_log;
}

# ---------------------------------------------------------------- nginx -t

{
    my $r = BookingTest->nginx_t(http => "booking_type car slot=1h waitlist=maybe;\n"
                                         . "booking_redis 127.0.0.1:6379;",
                                 server => "location /api/ { booking_api; }\n");
    ok !$r->ok, 'nginx -t refuses waitlist=maybe';
    like $r->out, qr/invalid value "maybe" of option "waitlist"/, '... and says why';
}

done_testing;

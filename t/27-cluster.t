# Redis Cluster (SPEC §8, issue 14): booking_redis_cluster with three
# masters and three replicas on loopback, made by redis-cli --cluster
# create (t/lib/BookingCluster.pm).
#
# (a) The test resources' keys are spread over all three masters, and
#     every operation works across them: bookings, a user's own list (its
#     index on one node, the bookings on all), listing pages.
# (b) Resharding under load: redis-cli --cluster reshard moves 3,000 slots
#     holding booked resources while clients book: every answer is 201 or
#     409 (MOVED, ASK and TRYAGAIN are followed, never shown), and after
#     it, each hour of each resource shows as free exactly its capacity
#     less the bookings acknowledged (nothing lost, nothing oversold).
# (c) A master SIGKILLed under load, with booking_redis_replicas 1 and two
#     replicas a master: the answers while no master serves its slots are
#     quick 503s (CLUSTERDOWN, from every node: Redis requires all slots
#     covered), writes in flight and until the promoted master has its
#     remaining replica in sync are 504s (outcome unknown), booking works
#     again by itself, and every booking acknowledged (201) before, during
#     or after is there.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use List::Util qw(sum max);
use Time::HiRes qw(time sleep);
use BookingTest;
use BookingKeys qw(rkey key_slot);
use BookingRace qw(:all);

BookingRace::pin_module();

my $CAP = 3;
my $t = BookingTest->new(
    workers => 2,
    # two replicas a master: the one left when the other is promoted is
    # what booking_redis_replicas 1 waits for afterwards
    cluster => { replicas => 2 },
    http    => <<'EOT',
booking_type seat slot=1h hold=10m;
booking_user $http_x_user_id;
booking_redis_replicas 1 timeout=1s;
EOT
    server => BookingTest::default_server() . "location = /metrics { booking_status; }\n",
);
my $c = $t->cluster;
my @ids = map { sprintf 'seat-%02d', $_ } 0 .. 23;

# ---------------------------------------------------------------- (a)

is scalar(my @m = $c->masters), 3, 'three masters';
my $put = 0;
$put += $t->req(PUT => "/admin/resources/$_", body => { type => 'seat', capacity => $CAP,
                                                         owner => 'olga' })->{status} == 201
    for @ids;
is $put, 24, '24 resources made';

my %on;
$on{ $c->master_of(rkey($_)) }++ for @ids;
is scalar(keys %on), 3, 'their keys are on all three masters: '
    . join(', ', map { "$_: $on{$_}" } sort keys %on);
my @held = map { scalar @{ $c->node($_, 'KEYS', 'bk:{s*}:r:seat-*') } } @m;
ok !(grep { $_ == 0 } @held), "each master holds keys of them (KEYS there: @held)";

my $now = redis_now($t);
my $h0 = hour_start($now, 24);
my %mine;
for my $id (@ids) {
    my $r = book($t, 'ann', { resource => $id, start => iso($h0), end => iso($h0 + 3600) });
    $mine{ $r->{json}{id} // '' } = 1 if $r->{status} == 201;
}
is scalar(keys %mine), 24, 'ann books each of them';
my $list = $t->req(GET => '/api/bookings?limit=100', headers => user_h('ann'));
is_deeply [ sort map { $_->{id} } @{ $list->{json}{items} || [] } ], [ sort keys %mine ],
    "ann's own list has all 24, from every node";
my $page = $t->req(GET => '/api/resources?type=seat&limit=100');
is scalar(@{ $page->{json}{items} || [] }), 24, 'a listing page has all 24';

# A node without the functions (one restarted without persistence, or
# flushed) answers "Function not found": the worker sends the script there
# by EVAL, loads its library again, and the booking is made, on every
# master.
is $c->node($_, 'FUNCTION', 'FLUSH'), 'OK', "FUNCTION FLUSH on $_" for @m;
my $again = 0;
for my $id (@ids) {
    # an hour before $h0: the hours of (b) and (c) stay untouched
    $again++ if book($t, 'ann', { resource => $id, start => iso($h0 - 3600),
                                  end => iso($h0) })->{status} == 201;
}
is $again, 24, 'after FUNCTION FLUSH on every master, each of the 24 books (EVAL, then the library again)';
is scalar(grep { @{ $c->node($_, 'FUNCTION', 'LIST') } } @m), scalar(@m),
   '... and every master has the library of the hold again';

# ---------------------------------------------------------------- load

# $n children book an hour of a resource at random until $until; each
# reports [resource, hour, status, id, seconds taken, when sent, user].  The
# answer: what collects their reports.
sub load {
    my ($n, $until, $hours) = @_;
    my @kids;
    for my $k (1 .. $n) {
        push @kids, BookingTest::bg(sub {
            srand($$ ^ time);
            my @out;
            while (time < $until) {
                my $id = $ids[ int rand @ids ];
                my $h = $hours->[ int rand @$hours ];
                my $sent = time;
                my $r = book($t, "u$k", { resource => $id, start => iso($h), end => iso($h + 3600) });
                push @out, [ $id, $h, $r->{status}, $r->{json}{id} // '', time - $sent, $sent, "u$k" ];
            }
            return \@out;
        });
    }
    return sub { map { my $r = $_->result(120); ref $r eq 'ARRAY' ? @$r : () } @kids };
}

# every hour of every resource: free = capacity - bookings acknowledged,
# less those whose outcome was not known (504) that were made after all
sub ledger_ok {
    my ($name, $hours, @done) = @_;
    my (%ok, %unknown);
    $ok{"$_->[0] $_->[1]"}++ for grep { $_->[2] == 201 } @done;
    $unknown{"$_->[0] $_->[1]"}++ for grep { $_->[2] == 504 } @done;
    my ($over, $wrong) = (0, 0);
    for my $id (@ids) {
        my $units = avail_units($t, $id, $hours->[0], $hours->[-1] + 3600, 3600);
        for my $i (0 .. $#$hours) {
            my $n = $ok{"$id $hours->[$i]"} // 0;
            my $u = $unknown{"$id $hours->[$i]"} // 0;
            $over++ if $n > $CAP;
            $wrong++ unless defined $units && $units->[$i] <= $CAP - $n
                && $units->[$i] >= $CAP - $n - $u;
        }
    }
    is $over, 0, "$name: no hour of any resource acknowledged more than $CAP times";
    is $wrong, 0, "$name: every hour shows free its capacity less what was acknowledged";
}


# ---------------------------------------------------------------- (b)

my @hb = map { $h0 + 3600 * $_ } 1 .. 20;
my %before = map { $_ => $c->master_of(rkey($_)) } @ids;
my ($from, $to) = (sort { $on{$b} <=> $on{$a} } keys %on)[0, 1];
my $from_id = $c->node($from, 'CLUSTER', 'MYID');
my $to_id = $c->node($to, 'CLUSTER', 'MYID');

my $until = time + 8 * BookingTest::slow();
my $resharder = BookingTest::bg(sub {
    sleep 1;
    my $out = `redis-cli --cluster reshard 127.0.0.1:$from --cluster-from $from_id --cluster-to $to_id --cluster-slots 3000 --cluster-yes 2>&1`;
    return { rc => $? >> 8, out => substr($out, -400) };
});
my @b = load(4, $until, \@hb)->();
my $rs = $resharder->result(120);
is $rs->{rc}, 0, 'redis-cli --cluster reshard moved 3000 slots' or diag $rs->{out};
$c->refresh;
my @moved = grep { ($c->master_of(rkey($_)) // 0) != $before{$_} } @ids;
ok scalar(@moved), scalar(@moved) . ' of the resources moved to another master';
ok scalar(@b) > 100, scalar(@b) . ' bookings tried during the resharding';
my %st;
$st{ $_->[2] }++ for @b;
is_deeply [ grep { $_ != 201 && $_ != 409 } sort keys %st ], [],
    'every answer 201 or 409: ' . join(', ', map { "$_ x$st{$_}" } sort keys %st);
ledger_ok('resharding', \@hb, @b);
my $moved = () = $t->error_log =~ /redis cluster MOVED slot/g;
ok $moved > 0, "MOVED answers were followed ($moved, all workers)";

# ---------------------------------------------------------------- (c)

# room enough that booking never stops for want of free hours
my @hc = map { $h0 + 3600 * $_ } 21 .. 420;
my %count;
$count{ $c->master_of(rkey($_)) }++ for @ids;
my ($victim) = sort { $count{$b} <=> $count{$a} } keys %count;
my @lost_ids = grep { $c->master_of(rkey($_)) == $victim } @ids;

$until = time + 14 * BookingTest::slow();
my $collect = load(4, $until, \@hc);
sleep 3;
my $killed = time;
ok $c->signal('KILL', $victim), "master $victim (" . scalar(@lost_ids)
                                 . ' of the resources) killed under load';
my @f = $collect->();
$c->wait_ok(30);
$c->refresh;

%st = ();
$st{ $_->[2] }++ for @f;
is_deeply [ grep { $_ != 201 && $_ != 409 && $_ != 503 && $_ != 504 } sort keys %st ], [],
    'answers 201 or 409; 503 while no master served its slots; 504 (outcome '
    . 'unknown) for what was in flight: ' . join(', ', map { "$_ x$st{$_}" } sort keys %st);
my %victim = map { $_ => 1 } @lost_ids;
my @back = sort { $a <=> $b } map { $_->[5] } grep { $victim{ $_->[0] } && $_->[2] == 201 && $_->[5] > $killed } @f;
my @unknown = map { $_->[5] - $killed } grep { $_->[2] == 504 } @f;
my $window = @back ? $back[0] - $killed : 99;
ok !(grep { $_ < -1.5 || $_ > $window + 1.5 } @unknown),
    scalar(@unknown) . ' answers 504, all sent from the kill until the new master had its replica';
my $slowest = max(0, map { $_->[4] } grep { $_->[2] == 503 } @f);
ok $slowest < 1.5 * BookingTest::slow(), sprintf('each 503 came quickly (slowest %.2f s)', $slowest);
ok scalar(@back), sprintf('its resources took bookings again by themselves, %.1f s after the kill',
                          @back ? $back[0] - $killed : -1);

my @acked = grep { $_->[2] == 201 } @f;
my $missing = grep { $t->req(GET => "/admin/bookings/$_->[3]")->{status} != 200 } @acked;
is $missing, 0, scalar(@acked) . ' bookings acknowledged across the failover, none lost';
ledger_ok('failover', \@hc, @f);

# and each user's own list, whose index may have been on the lost master
# (WAITed there on its own): every booking acknowledged is in it
my %by;
push @{ $by{ $_->[6] } }, $_->[3] for @acked;
my $unlisted = 0;
for my $u (sort keys %by) {
    my %seen;
    my $cursor = '';
    for (1 .. 500) {
        my $r = $t->req(GET => '/api/bookings?limit=100&from=' . iso($hc[0]) . '&to='
                               . iso($hc[-1] + 3600) . ($cursor ? "&cursor=$cursor" : ''),
                        headers => user_h($u));
        last unless $r->{status} == 200;
        $seen{ $_->{id} } = 1 for @{ $r->{json}{items} || [] };
        $cursor = $r->{json}{next} or last;
    }
    $unlisted += grep { !$seen{$_} } @{ $by{$u} };
}
is $unlisted, 0, "every user's own list has all their acknowledged bookings";

is_deeply [ $t->check_error_log ], [], 'no alert, crash or crit in the error log';

done_testing;

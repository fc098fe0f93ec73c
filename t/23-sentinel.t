# booking_redis_sentinel (README, "Redis Sentinel"): on loopback ports in
# the test's directory, a master (the harness's Redis), two replicas and
# three sentinels (Debian's redis-server, in sentinel mode for the
# sentinels); booking_redis_replicas 1: a write is acknowledged once a
# replica has it.
# nginx starts before the sentinels: no master known is 503 at once; once
# they run, the module finds the master and books; the master SIGKILLed
# while bookings go on, a replica promoted: followed without a reload,
# within 2 s of the promotion, no booking answered 201 lost or doubled;
# a waiting line made before the failover is served on the new master.

use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use List::Util qw(max);
use BookingTest;
use BookingRace qw(:all);
use BookingKeys ();
use BookingSentinel;

BookingRace::pin_module();

my $SLOW = BookingTest::slow();

# BOOKING_SENTINEL_REPLICAS=0 measures what a failover loses without WAIT
# (README, "Redis Sentinel"): the losses are then printed, not failed.
my $REPLICAS = $ENV{BOOKING_SENTINEL_REPLICAS} // 1;

my $S = BookingSentinel->new;
my @SPORTS = $S->ports;

my $t = BookingTest->new(
    workers => 2,
    booking_redis => '',
    http => default_http() . $S->directive
        . "booking_redis_replicas $REPLICAS timeout=500ms;\n"
        . "booking_events on;\nbooking_type flash slot=1h hold=1s;\n"
        . "booking_type line slot=1h hold=1s waitlist=on;\n",
    server => BookingTest::default_server() . "location = /metrics { booking_status; }\n",
);
my $MPORT = $t->redis_port;

sub wait_for { return $S->wait_for(@_) }

# ------------------------------------------------------------ no master known


my $t0 = time;
my $r = $t->req(PUT => '/admin/resources/car1', body => { type => 'car', capacity => 1 });
is $r->{status}, 503, 'no sentinel answers: 503';
ok time - $t0 < 1 * $SLOW, 'at once';
is $r->{json}{error}{code}, 'backend_unavailable', 'the error of the spec';

# ------------------------------------------------------------ the sentinels name it

ok eval { $S->start($t); 1 }, 'two replicas in sync, three sentinels that know them and each other';

ok wait_for('the module to find the master', 10, sub {
    $t->req(PUT => '/admin/resources/car1', body => { type => 'car', capacity => 1 })->{status} == 201 }),
   'once the sentinels run, the module finds the master without a reload';
like $t->error_log, qr/sentinel 127\.0\.0\.1:\d+: the master "mymaster" is 127\.0\.0\.1:$MPORT/,
     'the error log names the master found';

# a car's hour is followed by an hour of buffer: one booking every 2 h
my $start = (int(time / 3600) + 48) * 3600;
my @ids;
for my $k (0 .. 4) {
    my $b = book($t, 'u1', { resource => 'car1', start => iso($start + $k * 7200),
                             end => iso($start + $k * 7200 + 3600) });
    is $b->{status}, 201, "booking $k before the failover";
    push @ids, $b->{json}{id};
}
is book($t, 'u2', { resource => 'car1', start => iso($start), end => iso($start + 3600) })->{status},
   409, 'taken is taken';

# a waiting line made before the failover
my %hour = (start => iso($start), end => iso($start + 3600));
is $t->req(PUT => '/admin/resources/line1', body => { type => 'line', capacity => 1 })->{status},
   201, 'PUT line1, a type with waitlist=on';
my $lb = book($t, 'u1', { resource => 'line1', %hour });
is $lb->{status}, 201, 'u1 books line1';
my $le = $t->req(POST => '/api/waitlist', body => { resource => 'line1', %hour },
                 headers => user_h('u2'));
is $le->{status}, 201, 'u2 waits for it';

# ------------------------------------------------------------ the master killed

# Bookings go on while the master is SIGKILLed and a replica promoted, one
# slot after the other, each with its Idempotency-Key: a 503 or 504 is
# sent again with the same key until it is answered 201 (a 504 may have
# been made: the key replays it).
my ($promoted, $NEW, $followed, $read);
my ($back, $slowest, %seen) = (undef, 0);

# A new master named (by the newest configuration): the times of being
# back count from it.  Sentinels short of CPU may fail over the new master
# too; the module must follow that one as well.
sub promotion {
    my $m = $S->newest;
    return unless $m && $m != $MPORT && (!$NEW || $m != $NEW);
    diag sprintf 'the sentinels failed over again, to %d: the times count from there', $m
        if $NEW;
    ($promoted, $NEW) = (time, $m);
    ($followed, $read, $back) = ();
}
my %made;    # key -> id
my $k = 5;
my $killed = time;
kill 'KILL', $t->redis_pid;
while (time < $killed + 30 * $SLOW && ($k < 15 || !$back)) {
    my $s = $start + $k * 7200;
    my $a = time;
    my $b = book($t, 'u1', { resource => 'car1', start => iso($s), end => iso($s + 3600) },
                 headers => { 'Idempotency-Key' => "slot-$k" });
    $slowest = time - $a if time - $a > $slowest;
    diag sprintf '%.2f s: %s: %s', time - $killed, $b->{status}, $b->{body}
        unless $seen{ $b->{status} }++ || $b->{status} == 201;
    promotion();
    # a write waits for a replica: the other one must follow the new master
    $followed //= time if $promoted && $S->connected($NEW);
    $read //= time if $promoted
        && $t->req(GET => '/api/resources/car1/availability?from=' . iso($start)
                   . '&to=' . iso($start + 86400))->{status} == 200;
    if ($b->{status} == 201) {
        $made{"slot-$k"} = $b->{json}{id};
        push @ids, $b->{json}{id};
        $k++;
        $back //= time if $promoted;
    } elsif ($b->{status} !~ /^50[34]$/) {
        $k++;
    }
    sleep 0.02;
}
ok $promoted, sprintf 'the sentinels promoted the replica %.1f s after the kill',
                      ($promoted // 0) - $killed;
ok defined $back, 'bookings are made again after the failover: '
   . join(', ', map { "$_ x$seen{$_}" } sort keys %seen);
ok defined $read && $read - $promoted < 2 * $SLOW,
   sprintf 'reads work within 2 s of the promotion (%.2f s)', ($read // 0) - ($promoted // 0);
ok defined $back && defined $followed && $back - max($promoted, $followed) < 2 * $SLOW,
   sprintf 'writes within 2 s of the promotion and a replica following the new master '
   . '(%.2f s; the replica followed %.2f s after the promotion)',
   ($back // 0) - max($promoted // 0, $followed // 0), ($followed // 0) - ($promoted // 0);
ok $slowest < 1 * $SLOW, sprintf 'no request hung (the slowest: %.2f s)', $slowest;
is_deeply [ grep { !/^(?:201|503|504)$/ } keys %seen ], [], 'only 201, or 503/504 in the window';
like $t->error_log, qr/the master "mymaster" is 127\.0\.0\.1:$NEW\b/,
     'the error log names the new master';

# every booking answered 201 is on the new master, once; every worker
# follows within 2 s of the promotion
for (1 .. 5) {
    sleep 0.05 while time < ($promoted // 0) + 2;
    my $m = wait_for('the sentinels to agree', 30, sub { $S->settled });
    last if !$m || $m == ($NEW // 0);
    diag "the sentinels failed over again, to $m: the times count from now";
    ($promoted, $NEW) = (time, $m);
}
my @lost = grep { $_->{status} != 200 } map { get_booking($t, 'u1', $_) } @ids;
diag "not found: $_->{status} $_->{body}" for @lost;
my $lost = @lost;
my $records = BookingTest::resp_command($NEW, 1, 'HLEN', BookingKeys::rkey('car1', ':b'));
if ($REPLICAS) {
    is $lost, 0, 'every booking answered 201 is there after the failover';
    is $records, scalar @ids, 'as many bookings as were answered 201: none lost, none doubled';
} else {
    diag sprintf 'without WAIT: %d of %d bookings answered 201 lost, %d records',
        $lost, scalar @ids, $records;
}
my $over = 0;
my $chunks = BookingTest::resp_command($NEW, 1, 'HGETALL', BookingKeys::rkey('car1', ':c'));
for (my $i = 1; $i < @$chunks; $i += 2) {
    $over += grep { $_ > 1 } unpack 'N*', $chunks->[$i];
}
is $over, 0, 'no slot over the capacity';
my $taken = book($t, 'u2', { resource => 'car1', start => iso($start + 7200),
                              end => iso($start + 10800) });
is $taken->{status}, 409, 'what was taken before the failover is still taken'
    or diag $taken->{body};
diag grep { /booking:/ } split /^/, $t->error_log
    if grep { !$_ } Test::More->builder->summary;

# the events went with the bookings: each booking answered 201 has its one
# booking.confirmed on the new master; and the sweeper works there
sub events_of {
    my ($rid) = @_;
    my $xs = BookingTest::resp_command($NEW, 5, 'XRANGE',
        sprintf('bk:{s%02x}:events', BookingKeys::shard($rid)), '-', '+');
    return map { +{ @{ $_->[1] } } } @{ ref $xs eq 'ARRAY' ? $xs : [] };
}
if ($REPLICAS) {
    my %confirmed;
    $confirmed{ $_->{booking} }++ for grep { $_->{event} eq 'booking.confirmed' } events_of('car1');
    is_deeply [ grep { ($confirmed{$_} // 0) != 1 } @ids ], [],
        'every booking answered 201 has its one booking.confirmed event on the new master';
}
is $t->req(PUT => '/admin/resources/flash1', body => { type => 'flash' })->{status}, 201,
    'PUT flash1 on the new master';
my $fh = book($t, 'u1', { resource => 'flash1', start => iso($start), end => iso($start + 3600),
                          hold => JSON::PP::true });
my $expired_seen;
for (1 .. 60) {
    last if $expired_seen = grep { $_->{event} eq 'booking.expired'
                                   && $_->{booking} eq ($fh->{json}{id} // '') } events_of('flash1');
    sleep 0.1;
}
ok $expired_seen, 'a hold made after the failover expires by the sweeper, with its event';

# the line went over too: the cancel offers the hour to u2, and the offer,
# left to expire, lapses by the sweeper of the new master
if ($REPLICAS) {
    my $id = $le->{json}{id} // '';
    my $e = $t->req(GET => "/api/waitlist/$id", headers => user_h('u2'));
    is $e->{json}{status} // '', 'waiting', "u2's entry is on the new master, waiting";
    is act($t, 'u1', $lb->{json}{id}, 'cancel')->{status}, 200, 'u1 cancels there';
    is $t->req(GET => "/api/waitlist/$id", headers => user_h('u2'))->{json}{status} // '',
        'offered', '... and u2 is offered the hour';
    my $lapsed;
    for (1 .. 60) {
        last if ($lapsed = $t->req(GET => "/api/waitlist/$id", headers => user_h('u2'))
                 ->{json}{status} // '') eq 'lapsed';
        sleep 0.1;
    }
    is $lapsed, 'lapsed', '... which, not confirmed, lapses by the sweeper';
}

# every worker follows the new master; the first to follow it counts it
my $metrics = $t->req(GET => '/metrics')->{body} // '';
my ($failovers) = $metrics =~ /^booking_redis_errors_total\{kind="failover"\} (\d+)$/m;
is $failovers, 1, 'booking_redis_errors_total{kind="failover"}: the failover, counted once';

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;

# The event stream (README, "Events"; SPEC.md §7): with booking_events on,
# every change appends its event to its shard's stream in the same script.
# A consumer group reads the 64 streams with XREADGROUP and XACK while a
# mixed load runs (holds, bookings, confirms, cancels, approvals,
# declines, holds left to expire, PUTs and DELETEs, races) through Redis
# restarts, one a SIGKILL; from the events alone it rebuilds every
# booking's status, which must be what the API answers, with revisions
# 1, 2, ... and no gap; every booking Redis has has its events, and no
# event is of a booking Redis does not have.  Then the sweeper: a hold
# nobody touches gets its booking.expired within 2 s of expires_at, also
# after the worker holding the lease is killed and after a reload.

use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use POSIX qw(floor);
use BookingTest;
use BookingRace qw(:all);
use BookingKeys qw(streams);

my $t = BookingTest->new(
    workers => 4,
    http => default_http() . "booking_type flash slot=1h hold=2s;\nbooking_events on;\n",
    server => BookingTest::default_server() . "location = /metrics { booking_status; }\n",
    redis_conf => "appendonly yes\nappendfsync always\n",
);

# a Cluster's restarts are t/27's: here, one Redis is stopped and killed
my $RESTARTS = !$t->cluster;

my @STREAMS = streams();
my $GROUP = 'audit';

# ------------------------------------------------------------ the consumer

my (%rev, %status, %events, @dupes, @noise);
my $consumed = 0;

sub group_create {
    for my $s (@STREAMS) {
        my $r = eval { $t->redis('XGROUP', 'CREATE', $s, $GROUP, '0', 'MKSTREAM') };
    }
}

# one XREADGROUP a stream: in a Cluster they are on their nodes (on one
# Redis, one XREADGROUP of all 64 does); what is read is acknowledged
sub consume {
    my $n = 0;
    for my $s (@STREAMS) {
        my $r = eval { $t->redis('XREADGROUP', 'GROUP', $GROUP, 'c1', 'COUNT', 1000,
                                 'STREAMS', $s, '>') };
        next unless ref $r eq 'ARRAY';
        for my $entry (map { @{ $_->[1] } } @$r) {
            my ($id, $fields) = @$entry;
            my %f = @$fields;
            take(\%f);
            $t->redis('XACK', $s, $GROUP, $id);
            $n++;
        }
    }
    $consumed += $n;
    return $n;
}

sub take {
    my ($f) = @_;
    my $b = $f->{booking};
    if (!defined $b) {
        push @noise, $f unless ($f->{event} // '') =~ /^resource\./;
        return;
    }
    $events{$b}{ $f->{rev} }++;
    push @dupes, "$b $f->{rev}" if $events{$b}{ $f->{rev} } > 1;
    # delivery is at least once and a consumer may reorder: the highest
    # revision wins
    if (!defined $rev{$b} || $f->{rev} > $rev{$b}) {
        $rev{$b} = $f->{rev};
        $status{$b} = $f->{status};
    }
    push @noise, $f if grep { /token|note/ } keys %$f;
}

sub drain {
    my $deadline = time + 5 * BookingTest::slow();
    while (time < $deadline) {
        last if consume() == 0 && consume() == 0;
    }
}

group_create();

# after a restart, the workers connect again within their backoff
sub api_back {
    my $deadline = time + 10 * BookingTest::slow();
    while (time < $deadline) {
        my $s = $t->req(GET => '/api/resources/e1')->{status};
        return 1 if $s == 200;
        sleep 0.1;
    }
    return 0;
}

# ------------------------------------------------------------ a mixed load

my $start = (int(time / 86400) + 3) * 86400;
my @made;

for my $r (1 .. 6) {
    my $type = (qw(room car flash couch gift desk))[$r - 1];
    is $t->req(PUT => "/admin/resources/e$r", body => { type => $type, capacity => 2,
                                                        owner => 'host' })->{status},
        201, "PUT e$r, a $type";
}

sub slot_of {
    my ($r, $i) = @_;
    my $type = (qw(room car flash couch gift desk))[$r - 1];
    return {} if $type eq 'gift';
    my $len = { room => 86400, car => 3600, flash => 3600, couch => 86400,
                desk => 1800 }->{$type};
    my $s = $start + $i * $len * ($type eq 'car' ? 3 : 1);
    return { start => iso($s), end => iso($s + $len) };
}

sub step {
    my ($i) = @_;
    my $r = 1 + $i % 6;
    my $u = 'u' . ($i % 5);
    my $k = int($i / 6);
    my $hold = $k % 3 == 0;
    my $res = book($t, $u, { resource => "e$r", %{ slot_of($r, $i % 9) },
                             ($hold ? (hold => JSON::PP::true) : ()) });
    return unless $res->{status} == 201;
    my $id = $res->{json}{id};
    push @made, $id;
    my $act = $k % 5;
    if ($act == 0) { act($t, $u, $id, 'cancel') }
    elsif ($act == 1 && $hold && $r != 3) { act($t, $u, $id, 'confirm') }
    elsif ($act == 2) { $t->req(POST => "/admin/bookings/$id/approve") }
    elsif ($act == 3) { $t->req(POST => "/admin/bookings/$id/decline") }
}

my $i = 0;
for my $round (1 .. 3) {
    step($i++) for 1 .. 40;
    consume();

    # a race on one slot, from 6 connections
    my @kids = map {
        my $k = $_;
        BookingTest::bg(sub {
            my $res = book($t, "r$k", { resource => 'e2', %{ slot_of(2, 20 + $round) } });
            return $res->{status} == 201 ? $res->{json}{id} : '';
        });
    } 1 .. 6;
    my @won = grep { $_ } map { $_->result(30) // '' } @kids;
    is scalar @won, 2, "round $round: a race of 6 on 2 units, 2 won";
    push @made, @won;

    next unless $RESTARTS;
    if ($round == 1) {
        $t->stop_redis;
    } else {
        $t->kill_redis;
    }
    # while Redis is gone: nothing is made, nothing is told
    my $down = book($t, 'u1', { resource => 'e1', %{ slot_of(1, 30) } });
    ok $down->{status} == 503 || $down->{status} == 504, "round $round: Redis down: 503"
        or diag $down->{body};
    $t->start_redis;
    api_back();
    consume();
}

is $t->req(PUT => '/admin/resources/e7', body => { type => 'room' })->{status}, 201, 'PUT e7';
is $t->req(DELETE => '/admin/resources/e7')->{status}, 204, 'DELETE e7';

# the flash holds (2 s) expire with nobody asking: their events come
sleep 3;
drain();

ok scalar @made > 40, scalar(@made) . ' bookings made';
is_deeply \@dupes, [], 'no (booking, rev) twice in this run';
is_deeply \@noise, [], 'no token, no note, no booking event without its booking';

# every booking Redis has, by its B hash
my %stored;
for my $k (map { @$_ } $t->redis_all('KEYS', 'bk:{s*}:r:*:b')) {
    my ($rid) = $k =~ /^bk:\{s[0-9a-f]+\}:r:(.*):b$/;
    $stored{"$rid.$_"} = 1 for @{ $t->redis('HKEYS', $k) };
}
is_deeply [ sort keys %events ], [ sort keys %stored ],
    'the bookings of the events are the bookings Redis has';
ok !grep({ !$events{$_} } @made), 'every booking answered 201 has its events';

my (@wrong, @gaps);
for my $bk (sort keys %events) {
    my $got = $t->req(GET => "/admin/bookings/$bk");
    push @wrong, "$bk: events say $status{$bk}, the API "
                 . ($got->{json}{status} // $got->{status})
        unless ($got->{json}{status} // '') eq $status{$bk};
    my @revs = sort { $a <=> $b } keys %{ $events{$bk} };
    push @gaps, "$bk: @revs" unless "@revs" eq join ' ', 1 .. $revs[-1];
}
is_deeply \@wrong, [], 'every status rebuilt from the events alone is what the API answers';
is_deeply \@gaps, [], 'revisions 1, 2, ... with no gap';
my %kinds = map { $_ => 1 } values %status;
diag explain \%kinds unless $kinds{declined};
ok $kinds{$_}, "some ended $_" for qw(confirmed cancelled expired declined held);

# a second consumer of another group reads the same from the start
my $pending = 0;
for my $s (@STREAMS) {
    my $p = $t->redis('XPENDING', $s, $GROUP);
    $pending += $p->[0] if ref $p eq 'ARRAY';
}
is $pending, 0, 'every event read was acknowledged (XPENDING)';

# ------------------------------------------------------------ the sweeper

sub expired_after {
    my ($id, $expires) = @_;
    my $deadline = time + 10 * BookingTest::slow();
    while (time < $deadline) {
        consume();
        return time - epoch($expires) if ($status{$id} // '') eq 'expired';
        sleep 0.05;
    }
    return undef;
}

sub lone_hold {
    my ($n) = @_;
    my $s = (int(time / 3600) + 48 + $n) * 3600;
    my $h = book($t, 'lone', { resource => 'e3', start => iso($s), end => iso($s + 3600),
                               hold => JSON::PP::true });
    return ($h->{json}{id}, $h->{json}{expires_at});
}

my ($id, $exp) = lone_hold(1);
my $late = expired_after($id, $exp);
ok defined $late && $late <= 2, 'a hold nobody touches: booking.expired within 2 s of expires_at'
    or diag 'late: ' . ($late // 'never');

# the lease's holder dies: another worker takes it on
my ($holder) = ($t->redis('GET', 'bk:{lease}:sweeper') // '') =~ /^[^:]*:(\d+):/;
ok $holder && grep({ $_ == $holder } $t->worker_pids), 'a worker of this nginx holds the lease';
kill 'KILL', $holder if $holder;
($id, $exp) = lone_hold(2);
$late = expired_after($id, $exp);
ok defined $late && $late <= 2, '... killed: the next hold still expires within 2 s'
    or diag 'late: ' . ($late // 'never');

$t->reload_nginx;
($id, $exp) = lone_hold(3);
$late = expired_after($id, $exp);
ok defined $late && $late <= 2, '... after a reload too' or diag 'late: ' . ($late // 'never');

# ------------------------------------------------------------ the counters

# booking_events_total and booking_holds_expired_total, summed over the
# workers, move by exactly the events a consumer reads and the holds that
# expired among them, whether the sweeper or a request expired them
sub counters {
    my $body = $t->req(GET => '/metrics')->{body} // '';
    my %c = $body =~ /^(booking_events_total|booking_holds_expired_total) (\d+)$/mg;
    return \%c;
}

sleep 0.5;
drain();
my $c0 = counters();
my ($seen0, %exp0) = ($consumed, map { $_ => 1 } grep { $status{$_} eq 'expired' } keys %status);
my $s2 = (int(time / 3600) + 200) * 3600;
my @quick = map {
    book($t, "q$_", { resource => 'e3', start => iso($s2 + 3600 * $_),
                      end => iso($s2 + 3600 * ($_ + 1)), hold => JSON::PP::true })->{json}{id}
} 1 .. 4;
act($t, 'q1', $quick[0], 'cancel');
is $t->req(PUT => '/admin/resources/e8', body => { type => 'room' })->{status}, 201, 'PUT e8';
sleep 2.6;
# one by a request: the availability read sweeps e3 first, if the
# sweeper has not
$t->req(GET => '/api/resources/e3/availability?from=' . iso($s2) . '&to=' . iso($s2 + 86400));
sleep 0.8;
drain();
my $c1 = counters();
my $expired = grep { $status{$_} eq 'expired' && !$exp0{$_} } keys %status;
is $expired, 3, 'the 3 holds left expired';
is $c1->{booking_events_total} - $c0->{booking_events_total}, $consumed - $seen0,
    'booking_events_total moved by the events read (' . ($consumed - $seen0) . ')';
is $c1->{booking_holds_expired_total} - $c0->{booking_holds_expired_total}, $expired,
    'booking_holds_expired_total moved by the holds expired';

is_deeply [ grep { !/worker process \d+ exited on signal 9/ } $t->check_error_log ], [],
    'no alert, crit or crash in the error log but the worker killed';

done_testing;

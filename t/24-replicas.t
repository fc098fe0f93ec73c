# booking_redis_replicas N timeout=T (README, "Replicas and WAIT"): the
# writes of a turn are followed by one WAIT on their connection; fewer
# replicas in time is 504 (the outcome is unknown: the client sends the
# request again with its Idempotency-Key), a write that comes while a WAIT
# is out waits for it, no longer than booking_redis_timeout, reads are not
# slowed, and the metrics count it.

use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use BookingTest;
use BookingRace qw(:all);
use BookingKeys ();

BookingRace::pin_module();

my $SLOW = BookingTest::slow();

my $t = BookingTest->new(
    workers => 1,
    http => default_http() . "booking_redis_replicas 1 timeout=1s;\n",
    server => BookingTest::default_server() . "location = /metrics { booking_status; }\n",
);
my $dir = $t->dir;
my $replica;

END {
    local $?;
    if ($replica) {
        kill 'TERM', $replica;
        BookingTest::_wait_exit($replica, 5) or kill 'KILL', $replica;
    }
}

sub metric {
    my ($name) = @_;
    my $body = $t->req(GET => '/metrics')->{body} // '';
    return $body =~ /^\Q$name\E (\d+)$/m ? $1 : undef;
}

my $start = (int(time / 3600) + 48) * 3600;
my $slot = { resource => 'car1', start => iso($start), end => iso($start + 3600) };

# ------------------------------------------------------------ no replica

my $t0 = time;
my $r = $t->req(PUT => '/admin/resources/car1', body => { type => 'car', capacity => 1 });
my $took = time - $t0;
is $r->{status}, 504, 'no replica: a write is 504';
is $r->{json}{error}{code}, 'backend_timeout', 'the error of the spec';
ok $took >= 0.9 && $took < 2.5 * $SLOW, sprintf 'after WAIT\'s 1 s (%.2f s)', $took;
ok $t->redis('EXISTS', BookingKeys::rkey('car1')), 'written all the same: the outcome was unknown';

$t0 = time;
$r = $t->req(GET => '/api/resources/car1/availability?from=' . iso($start) . '&to='
             . iso($start + 86400), headers => { 'X-User-Id' => 'u1' });
is $r->{status}, 200, 'a read answers';
ok time - $t0 < 0.25, sprintf 'without waiting for replicas (%.3f s)', time - $t0;

my $first = book($t, 'u1', $slot, headers => { 'Idempotency-Key' => 'k1' });
is $first->{status}, 504, 'a hold is 504 too';
ok metric('booking_redis_unreplicated_total') >= 2, 'the metrics count them';

# what changed nothing does not wait for replicas: a script that only
# reads (on connections of its own, never behind a WAIT), a refusal, too
# few units.  A write goes once the WAIT of the one before has answered.
for my $c ([ "a resource's bookings (a script that only reads)", 200, sub {
                 $t->req(GET => '/admin/bookings?resource=car1') } ],
           [ 'a refusal (422)', 422, sub {
                 book($t, 'u2', { %$slot, start => iso($start + 60) }) } ],
           [ 'the slot the unknown hold took (409)', 409, sub { book($t, 'u2', $slot) } ]) {
    my ($what, $want, $code) = @$c;
    sleep 1.05 if $want != 200;
    $t0 = time;
    $r = $code->();
    is $r->{status}, $want, "$what: $want";
    ok time - $t0 < 0.25, sprintf '%s: at once (%.3f s)', $what, time - $t0;
}

# two writes at once: the second waits, unsent, for the first one's WAIT,
# booking_redis_timeout (250 ms) at most, never one WAIT after the other
sleep 1.05;
my $bg = BookingTest::bg(sub {
    book($t, 'u4', { resource => 'car1', start => iso($start + 8 * 7200),
                     end => iso($start + 8 * 7200 + 3600) })->{status} });
sleep 0.1;
$t0 = time;
$r = book($t, 'u5', { resource => 'car1', start => iso($start + 10 * 7200),
                      end => iso($start + 10 * 7200 + 3600) });
is $r->{status}, 504, 'a write while a WAIT is out: 504';
ok time - $t0 < 0.5 * $SLOW, sprintf 'after booking_redis_timeout (%.3f s)', time - $t0;
is $bg->result(10), 504, 'the first one, after its WAIT: 504';
is $t->redis('HLEN', BookingKeys::rkey('car1', ':b')), 2,
   'the first was written (its outcome unknown), the second never sent';

# ------------------------------------------------------------ a replica

my $rport = BookingTest::free_port();
$replica = BookingTest::_spawn(
    cmd => [ 'redis-server', '--port', $rport, '--bind', '127.0.0.1', '--dir', $dir,
             '--save', '', '--appendonly', 'no', '--logfile', "$dir/replica.log",
             '--replicaof', '127.0.0.1', $t->redis_port ],
    stderr => "$dir/replica.stderr");
my $deadline = time + 20 * $SLOW;
sleep 0.05 while time < $deadline
    && $t->redis('INFO', 'replication') !~ /slave0:.*state=online/;
like $t->redis('INFO', 'replication'), qr/slave0:.*state=online/, 'a replica follows, in sync';

my $again = book($t, 'u1', $slot, headers => { 'Idempotency-Key' => 'k1' });
is $again->{status}, 201, 'sent again with its Idempotency-Key: 201';
is $again->{headers}{'idempotent-replayed'}, 'true', 'the first attempt had been made: replayed';
$t0 = time;
$r = book($t, 'u2', { resource => 'car1', start => iso($start + 7200), end => iso($start + 10800) });
is $r->{status}, 201, 'with a replica, a write is 201';
ok time - $t0 < 0.5, sprintf 'at once (%.3f s)', time - $t0;
is book($t, 'u3', $slot)->{status}, 409, 'and what is taken is taken';
my $id = $r->{json}{id};
sleep 0.2;
my ($rand) = $id =~ /\.([^.]+)$/;
ok BookingTest::resp_command($rport, 1, 'HEXISTS', BookingKeys::rkey('car1', ':b'), $rand),
   'the replica has the booking';

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;

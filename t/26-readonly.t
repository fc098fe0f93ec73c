# booking_redis_sentinel (README, "Redis Sentinel"): a master demoted
# behind the sentinels' back answers READONLY; the module counts it, asks
# the sentinels again and, until the node named is a master (ROLE), answers
# 503 at once; once it is a master again, bookings work without a reload.
# The sentinel is a fake one that always names the same Redis, so that only
# the Redis's own role moves.  It answers 150 ms late, so that the next
# request comes while the sentinels are being asked again: it must not be
# sent to the node that said READONLY.

use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use BookingTest;
use BookingTest::FakeRedis;
use BookingRace qw(:all);
use BookingKeys ();
use File::Temp ();

BookingRace::pin_module();

my $SLOW = BookingTest::slow();

# the Redis the sentinel names, a master to begin with
my $port = BookingTest::free_port();
my $dir = File::Temp::tempdir(CLEANUP => 1);
my $redis = BookingTest::_spawn(cmd => [ 'redis-server', '--port', $port, '--bind', '127.0.0.1',
                                         '--dir', $dir, '--save', '', '--appendonly', 'no' ],
                                stderr => "$dir/redis.stderr");

END {
    local $?;
    if ($redis) {
        kill 'TERM', $redis;
        BookingTest::_wait_exit($redis, 5) or kill 'KILL', $redis;
    }
}

my $named = sprintf "*2\r\n\$9\r\n127.0.0.1\r\n\$%d\r\n%d\r\n", length $port, $port;
my $sentinel = BookingTest::FakeRedis->new(
    mode => 'script', then => 'silent', delay_by => { SENTINEL => 0.15 },
    by_command => { SENTINEL => $named, PING => "+PONG\r\n" },
);

my $t = BookingTest->new(
    workers => 1,
    booking_redis => '',
    http => default_http() . 'booking_redis_sentinel mymaster 127.0.0.1:'
        . $sentinel->port . ";\n",
    server => BookingTest::default_server() . "location = /metrics { booking_status; }\n",
);

sub metric {
    my ($name) = @_;
    my $body = $t->req(GET => '/metrics')->{body} // '';
    return $body =~ /^\Q$name\E (\d+)$/m ? $1 : undef;
}

sub put {
    my ($id) = @_;
    return $t->req(PUT => "/admin/resources/$id", body => { type => 'car', capacity => 1 });
}

sub wait_until {
    my ($seconds, $code) = @_;
    my $end = time + $seconds * $SLOW;
    while (time < $end) {
        my $v = $code->();
        return $v if $v;
        sleep 0.05;
    }
    return undef;
}

ok wait_until(10, sub { eval { BookingTest::resp_command($port, 1, 'PING') } }), 'the Redis runs';
ok wait_until(10, sub { put('car1')->{status} == 201 }), 'the master the sentinel names takes bookings';
is metric('booking_redis_errors_total{kind="readonly"}'), 0, 'no READONLY yet';

# demoted behind the sentinel's back: a replica of the harness's Redis
BookingTest::resp_command($port, 1, 'REPLICAOF', '127.0.0.1', $t->redis_port);
ok wait_until(10, sub {
    (eval { BookingTest::resp_command($port, 1, 'INFO', 'replication') } // '')
        =~ /master_link_status:up/ }), 'the Redis is a replica now';

my $r = put('car2');
is $r->{status}, 503, 'a write it refuses (READONLY) is 503';
is $r->{json}{error}{code}, 'backend_unavailable', 'the error of the spec';
unlike $r->{body}, qr/READONLY|replica/i, "Redis's words stay in the error log";
is metric('booking_redis_errors_total{kind="readonly"}'), 1, 'counted';

# the connections ask ROLE again: not a master, not used
my $t0 = time;
$r = put('car3');
is $r->{status}, 503, 'while the node named is a replica: 503';
ok time - $t0 < 0.5 * $SLOW, sprintf 'at once (%.2f s)', time - $t0;
ok !BookingTest::resp_command($t->redis_port, 1, 'EXISTS', BookingKeys::rkey('car3')),
   'nothing written anywhere';
is metric('booking_redis_errors_total{kind="readonly"}'), 1, 'not sent to the replica: no second READONLY';

# a master again: the module's next discovery finds it, no reload
BookingTest::resp_command($port, 1, 'REPLICAOF', 'NO', 'ONE');
$t0 = time;
ok wait_until(5, sub { put('car4')->{status} == 201 }), 'a master again: bookings work';
ok time - $t0 < 2 * $SLOW, sprintf 'within 2 s (%.2f s)', time - $t0;
like $t->error_log, qr/READONLY/, 'the error log has what Redis said';

# demoted again, and now no sentinel can be reached: refusing lasts only
# until the sentinels failed to answer, so a master that comes back is
# used again without them
$sentinel->stop;
BookingTest::resp_command($port, 1, 'REPLICAOF', '127.0.0.1', $t->redis_port);
ok wait_until(10, sub {
    (eval { BookingTest::resp_command($port, 1, 'INFO', 'replication') } // '')
        =~ /master_link_status:up/ }), 'a replica again';
is put('car5')->{status}, 503, 'sentinels gone, the node a replica: 503';
BookingTest::resp_command($port, 1, 'REPLICAOF', 'NO', 'ONE');
ok wait_until(10, sub { put('car6')->{status} == 201 }),
   'a master again: bookings work with no sentinel to say so';

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;

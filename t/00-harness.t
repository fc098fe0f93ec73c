# Tests of the test harness itself (t/lib/BookingTest.pm), without the
# booking module, so it can pass before the module builds.

use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use BookingTest;

my $t = BookingTest->new(module => 0, workers => 2);

# --- nginx

ok $t->port && $t->redis_port && $t->port != $t->redis_port, 'two distinct ports';
ok -d $t->dir, 'temp dir exists';
is $t->url('/plain'), 'http://127.0.0.1:' . $t->port . '/plain', 'url()';

my $r = $t->req(GET => '/plain');
is $r->{status}, 200, 'GET /plain status';
is $r->{body}, "plain\n", 'GET /plain body';
ok exists $r->{headers}{'content-type'}, 'headers are lowercased';
ok !defined $r->{json}, 'no json for text/plain';
ok $r->{time} >= 0 && $r->{time} < 5, 'time measured';

is $t->req(GET => '/nope')->{status}, 404, 'unknown path 404';

my $raw = $t->raw("GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5);
like $raw, qr{^HTTP/1\.1 200 OK\r\n}, 'raw request gets a status line';
like $raw, qr{\r\n\r\nplain\n\z}, 'raw request gets the body';

my $t0 = time;
$raw = $t->raw([ "GET /plain HTTP/1.1\r\nHost: x\r\n", \0.3, "Connection: close\r\n\r\n" ], 5);
ok time - $t0 >= 0.3, 'raw pieces are sent with the delay';
like $raw, qr{^HTTP/1\.1 200}, 'split raw request works';

like $t->raw("BOGUS\r\n\r\n", 5), qr{^HTTP/1\.1 400}, 'malformed request gets 400';

# JSON handling, via a location returning JSON.
my $j = BookingTest->new(
    module => 0, workers => 1, redis => 0,
    server => 'location = /j { default_type application/json; return 200 \'{"port":"%%PORT%%","r":"%%REDIS_PORT%%"}\'; }',
);
$r = $j->req(POST => '/j', body => { a => 1 });
is $r->{status}, 200, 'POST with JSON body';
is_deeply $r->{json}, { port => $j->port, r => $j->redis_port }, 'json decoded, placeholders substituted';
ok !eval { $j->redis('PING'); 1 }, 'redis => 0: nothing listens on redis_port';

my @w = $t->worker_pids;
is scalar(@w), 2, 'two workers';
ok $t->reload_nginx, 'reload';
my @w2 = $t->worker_pids;
is scalar(@w2), 2, 'two workers after reload';
my %old = map { $_ => 1 } @w;
ok !grep({ $old{$_} } @w2), 'all workers replaced';
is $t->req(GET => '/plain')->{status}, 200, 'serves after reload';

ok $t->reload_nginx(server => 'location = /plain { return 200 "new\n"; }'), 'reload with new server text';
is $t->req(GET => '/plain')->{body}, "new\n", 'new config active';

# --- redis

is $t->redis('PING'), 'PONG', 'PING';
is $t->redis('SET', 'k', 'v'), 'OK', 'SET';
is $t->redis('GET', 'k'), 'v', 'GET';
my $bin = join '', map { chr } 0 .. 255;
$bin .= "\r\n\$3\r\n*1\r\n";
is $t->redis('SET', "bin\0key", $bin), 'OK', 'SET binary';
is $t->redis('GET', "bin\0key"), $bin, 'GET binary-safe';
ok !defined $t->redis('GET', 'missing'), 'nil is undef';
is $t->redis('INCR', 'n'), 1, 'integer reply';
$t->redis('RPUSH', 'l', 'a', '', 'c');
is_deeply $t->redis('LRANGE', 'l', 0, -1), [ 'a', '', 'c' ], 'array reply';
is_deeply $t->redis('LRANGE', 'nolist', 0, -1), [], 'empty array';
my $e = $t->redis('INCR', 'k');
is ref $e, 'HASH', 'error reply is a hash';
like $e->{error}, qr/^ERR/, 'error text';
my $big = 'x' x 200_000;
$t->redis('SET', 'big', $big);
is length($t->redis('GET', 'big')), 200_000, 'large bulk reply';

my $rpid = $t->redis_pid;
$t->stop_redis;
ok !kill(0, $rpid), 'redis stopped';
ok !eval { $t->redis('PING'); 1 }, 'redis unreachable after stop';
$t->start_redis;
is $t->redis('PING'), 'PONG', 'redis back on same port';
$t->kill_redis;
ok !eval { $t->redis('PING'); 1 }, 'redis unreachable after kill';
$t->start_redis;
is $t->redis('PING'), 'PONG', 'redis back after kill';

# --- FakeRedis

{
    my $f = BookingTest::FakeRedis->new(mode => 'silent');
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $f->port) or die $!;
    print $s "*1\r\n\$4\r\nPING\r\n";
    $s->flush;
    ok(!IO::Select->new($s)->can_read(0.5), 'silent: no answer within 0.5 s');
    close $s;
    ok !eval { BookingTest::resp_command($f->port, 0.3, 'PING'); 1 }, 'silent: resp client times out';
}
{
    my $f = BookingTest::FakeRedis->new(mode => 'garbage');
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $f->port) or die $!;
    print $s "*1\r\n\$4\r\nPING\r\n";
    $s->flush;
    ok(IO::Select->new($s)->can_read(2), 'garbage: answers');
    sysread $s, my $buf, 100;
    is $buf, "?bogus\r\n", 'garbage: ?bogus';
}
{
    my $f = BookingTest::FakeRedis->new(mode => 'close');
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $f->port) or die $!;
    ok(IO::Select->new($s)->can_read(2), 'close: readable');
    is sysread($s, my $buf, 100), 0, 'close: EOF';
}
{
    my $f = BookingTest::FakeRedis->new(mode => 'slow', delay => 0.4);
    my $t0 = time;
    is BookingTest::resp_command($f->port, 3, 'PING'), 'OK', 'slow: +OK';
    ok time - $t0 >= 0.35, 'slow: after the delay';
}
{
    my $f = BookingTest::FakeRedis->new(mode => 'script',
        replies => [ ":42\r\n", "\$-1\r\n", "-ERR nope\r\n" ]);
    is BookingTest::resp_command($f->port, 2, 'A'), 42, 'script: 1st reply';
    ok !defined BookingTest::resp_command($f->port, 2, 'B'), 'script: 2nd reply';
    is_deeply BookingTest::resp_command($f->port, 2, 'C'), { error => 'ERR nope' }, 'script: 3rd';
    is BookingTest::resp_command($f->port, 2, 'D'), 'OK', 'script: then +OK';
    my $pid = $f->pid;
    $f->stop;
    ok !kill(0, $pid), 'FakeRedis stopped';
}

# --- startup failure reports the error log

my $bad = eval { BookingTest->new(module => 0, redis => 0, server => 'bogus_directive on;') };
ok !$bad, 'bad config dies';
like $@, qr/unknown directive "bogus_directive"/, 'error log in the die message';

is_deeply [ $t->check_error_log ], [], 'no crash in error log';
is_deeply [ $j->check_error_log ], [], 'no crash in error log (json instance)';

# --- stop is idempotent and cleans up processes

my ($mpid, @wp) = ($t->master_pid, $t->worker_pids);
$rpid = $t->redis_pid;
$t->stop;
$t->stop;
ok !kill(0, $_), "process $_ gone" for $mpid, @wp, $rpid;

done_testing;

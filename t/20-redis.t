# The Redis layer under faults (SPEC §4 "Errors": 503 answered at once, 504
# past booking_redis_timeout; "No input ... may stall a worker"): Redis
# stopped and restarted, FUNCTION FLUSH, a slow Redis never blocks a worker,
# silent / garbage / closing servers, AUTH, SELECT, unix sockets, clients
# that leave while their command is in flight, and pipelining under load.

use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes qw(time sleep);
use Time::Local ();
use BookingTest;
use BookingKeys qw(rkey CHUNK);

my $SLOW = BookingTest::slow;
my $TYPES = <<'EOT';
booking_type room  slot=1d;
booking_type car   slot=1h;
booking_type gift  slot=none;
booking_user $http_x_user_id;
EOT

my $AVAIL = 'availability?from=2026-12-01&to=2026-12-05';

sub backend_error_ok {
    my ($r, $limit, $name, @codes) = @_;
    @codes = (503) unless @codes;
    my %code = (503 => 'backend_unavailable', 504 => 'backend_timeout');
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ok = (grep { $_ == $r->{status} } @codes)
        && BookingTest::error_is($r, $r->{status}, $code{ $r->{status} }, name => "$name: JSON $r->{status}");
    ok $ok, "$name: " . join(' or ', @codes) or diag "$r->{status} $r->{body}";
    ok $r->{time} < $limit * $SLOW, sprintf("%s: answered in %.3fs (< %.1fs)", $name, $r->{time}, $limit * $SLOW);
}

# Until Redis stops answering PING within 50 ms: DEBUG SLEEP has begun.
sub wait_blocked {
    my ($port) = @_;
    my $deadline = time + 2 * $SLOW;
    while (time < $deadline) {
        return 1 unless eval { BookingTest::resp_command($port, 0.05, 'PING'); 1 };
        sleep 0.01;
    }
    return 0;
}

sub crash_lines {
    my ($tt) = @_;
    return grep { /exited on signal|core dumped|\[alert\]|\[crit\]/ } split /\n/, $tt->error_log;
}

# ================================================================ A: 2 workers, 300 ms

my $A = BookingTest->new(
    http       => "$TYPES\nbooking_redis_timeout 300ms;",
    redis_conf => 'enable-debug-command yes',
);
my @a_workers = $A->worker_pids;
is $A->req(PUT => '/admin/resources/r1', body => { type => 'room', capacity => 2 })->{status}, 201,
    'A: resource created';
is $A->req(GET => "/api/resources/r1/$AVAIL")->{status}, 200, 'A: availability works';

# ---------------------------------------------------------------- (b) FUNCTION FLUSH

# The scripts are functions of libraries loaded at connect.  A node that
# lost them answers "Function not found": the worker runs the same script
# by EVAL (an earlier bug: that EVAL dropped numkeys, so Redis waited for
# one more argument, and the request timed out) and loads the library
# again.
sub libraries { scalar @{ $A->redis('FUNCTION', 'LIST') } }
my $scripts = () = `awk -v mode=list -f ngx_module/scripts/contract.awk ngx_module/scripts/contract` =~ /\S+/g;
is libraries(), $scripts, "the connections loaded a library per script ($scripts)";
like join(' ', map { $_->[1] } @{ $A->redis('FUNCTION', 'LIST') }), qr/\bbk_booking_create_[0-9a-f]{12}\b/,
     'named after its script';
is $A->redis('FUNCTION', 'FLUSH'), 'OK', 'FUNCTION FLUSH';
{
    my $r = $A->req(GET => "/api/resources/r1/$AVAIL");
    is $r->{status}, 200, 'the first availability after FUNCTION FLUSH: 200' or diag $r->{body};
}
is $A->redis('FUNCTION', 'FLUSH'), 'OK', 'FUNCTION FLUSH again';
{
    my $r = $A->req(PUT => '/admin/resources/r2', body => { type => 'car' });
    is $r->{status}, 201, 'a write right after FUNCTION FLUSH: 201' or diag $r->{body};
    is $A->req(GET => '/api/resources/r2')->{json}{type}, 'car', '... and it was written';
    ok libraries() >= 1, '... and the library of the script it ran is loaded again';
}
$A->redis('CONFIG', 'RESETSTAT');
for (1 .. 8) {
    $A->req(PUT => "/admin/resources/r2", body => { type => 'car' });
}
my ($evals) = $A->redis('INFO', 'commandstats') =~ /cmdstat_eval:calls=(\d+)/;
ok !$evals, 'the next writes run as functions, not EVAL (' . ($evals // 0) . ')';
sleep 0.2;
my @st = map { $A->req(GET => "/api/resources/r1/$AVAIL")->{status} } 1 .. 8;
is_deeply \@st, [ (200) x 8 ], 'after FUNCTION FLUSH: availability 200 again, on every connection';

# A Redis that will not load the libraries (here an ACL without FUNCTION;
# over maxmemory alike) still serves every script, by EVAL: the handshake
# warns and goes on.
is $A->redis('FUNCTION', 'FLUSH'), 'OK', 'FUNCTION FLUSH, then FUNCTION denied to the user';
is $A->redis('ACL', 'SETUSER', 'default', '-function'), 'OK', 'ACL SETUSER default -function';
ok $A->redis('CLIENT', 'KILL', 'TYPE', 'normal') >= 1, "the workers' connections cut";
ok $A->wait_for_log(qr/\[warn\].*did not load a library, its script runs by EVAL: NOPERM/, 5),
   'their handshake warns that the libraries were refused';
# a command's calls, those refused included
sub cmdstat {
    my ($cmd) = @_;
    my ($calls, $refused) = $A->redis('INFO', 'commandstats')
        =~ /^cmdstat_\Q$cmd\E:calls=(\d+).*?rejected_calls=(\d+)/m;
    return ($calls // 0) + ($refused // 0);
}
# every connection's handshake over (the first warning is one of them;
# slow under ASan): no FUNCTION LOAD for 300 ms, then counts from zero
{
    my ($last, $same, $end) = (-1, 0, time + 10 * BookingTest::slow());
    while ($same < 3 && time < $end) {
        my $n = cmdstat('function|load');
        $same = $n == $last ? $same + 1 : 0;
        $last = $n;
        sleep 0.1;
    }
}
$A->redis('CONFIG', 'RESETSTAT');
{
    my $r = $A->req(PUT => '/admin/resources/r3', body => { type => 'car' });
    is $r->{status}, 201, 'a write on those connections: 201' or diag $r->{body};
    is $A->req(GET => '/api/resources/r3')->{json}{type}, 'car', '... and it was written';
    ok cmdstat('eval') >= 1, '... by EVAL';
}
{
    my $r = $A->req(PUT => '/admin/resources/r3', body => { type => 'car' });
    is $r->{status}, 200, 'the next write on them: 200';
    ok cmdstat('eval') >= 2, '... by EVAL';
    is cmdstat('function|load'), 0, '... the library not sent again after a refusal';
}
is $A->redis('ACL', 'SETUSER', 'default', '+@all'), 'OK', 'FUNCTION allowed again';
my $ready = () = $A->error_log =~ /connection \d+ ready/g;
ok $A->redis('CLIENT', 'KILL', 'TYPE', 'normal') >= 1, "the workers' connections cut again";
ok $A->wait_for_log(qr/connection \d+ ready/, 5, $ready + 4) >= $ready + 4, '... and made again';
{
    my $r = $A->req(PUT => '/admin/resources/r3', body => { type => 'car' });
    is $r->{status}, 200, 'the next write: 200' or diag $r->{body};
}
is libraries(), $scripts, '... and the handshake loaded every library again';

# ---------------------------------------------------------------- (j) 200 concurrent requests

# Every script is cached again, then the stats start from zero.
$A->req(GET => "/api/resources/r1/$AVAIL") for 1 .. 4;
is $A->redis('CONFIG', 'RESETSTAT'), 'OK', 'CONFIG RESETSTAT';
my $conns_before = ($A->redis('INFO', 'stats') =~ /total_connections_received:(\d+)/)[0];

my $req_bytes = "GET /api/resources/r1/$AVAIL HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
my @clients = map {
    BookingTest::bg(sub {
        # ten requests at once from this client, then read every answer
        local $SIG{PIPE} = 'IGNORE';
        my @socks = map {
            IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $A->port, Timeout => 10)
                or die "connect: $!";
        } 1 .. 10;
        syswrite($_, $req_bytes) for @socks;
        my @out;
        for my $s (@socks) {
            my $buf = '';
            my $deadline = time + 10 * $SLOW;
            my $sel = IO::Select->new($s);
            while (time < $deadline && $sel->can_read($deadline - time)) {
                my $n = sysread($s, my $chunk, 65536);
                last unless $n;
                $buf .= $chunk;
            }
            my $r = BookingTest::parse_http($buf);
            push @out, $r ? $r->{status} . ($r->{json} && $r->{json}{resource} ? ":$r->{json}{resource}" : '') : 'none';
        }
        return \@out;
    })
} 1 .. 20;
my %seen;
$seen{$_}++ for map { my $v = $_->result(30); ref $v eq 'ARRAY' ? @$v : ('bg:' . ($v->{bg_error} // '?')) } @clients;
is_deeply \%seen, { '200:r1' => 200 }, '200 concurrent availability requests from 20 clients: all 200'
    or diag explain \%seen;
my $cs = $A->redis('INFO', 'commandstats');
my ($time) = $cs =~ /cmdstat_time:calls=(\d+)/;
my ($hmget) = $cs =~ /cmdstat_hmget:calls=(\d+)/;
my ($fcall) = $cs =~ /cmdstat_fcall:calls=(\d+)/;
is_deeply [ $time, $hmget, $fcall // 0 ], [ 200, 400, 0 ],
    'INFO commandstats: exactly one batch of plain reads per request (TIME, 2 HMGET), no script';
my ($eval) = $cs =~ /cmdstat_eval:calls=(\d+)/;
ok !$eval, 'no EVAL (no script had to be sent again)';
my $conns_after = ($A->redis('INFO', 'stats') =~ /total_connections_received:(\d+)/)[0];
is $conns_after - $conns_before, 2, 'no new Redis connection for 200 requests (only our two INFO)';

# ---------------------------------------------------------------- (a) Redis stopped, started

$A->stop_redis;
for my $i (1 .. 4) {
    backend_error_ok($A->req(GET => "/api/resources/r1/$AVAIL"), 0.8, "Redis down, availability no. $i");
}
backend_error_ok($A->req(GET => '/api/resources/r1'), 0.8, 'Redis down, GET resource');
backend_error_ok($A->req(PUT => '/admin/resources/r3', body => { type => 'room' }), 0.8, 'Redis down, PUT');
my $p = $A->req(GET => '/plain');
ok $p->{status} == 200 && $p->{time} < 0.3 * $SLOW, 'Redis down: /plain still answers at once';

# Down long enough for the reconnect back-off to grow.
my ($n_down, @wrong) = (0);
my $down_until = time + 2.5;
while (time < $down_until) {
    my $r = $A->req(GET => "/api/resources/r1/$AVAIL");
    $n_down++;
    push @wrong, "$r->{status} in $r->{time}s"
        unless $r->{status} == 503 && $r->{time} < 0.8 * $SLOW
            && ($r->{json}{error}{code} // '') eq 'backend_unavailable';
    sleep 0.1;
}
is_deeply \@wrong, [], "Redis down 2.5 s: all $n_down requests got a quick 503 backend_unavailable";

$A->start_redis;
my $t0 = time;
my ($ok_in_a_row, $back_at) = (0, undef);
while (time - $t0 < 12 * $SLOW) {
    my $r = $A->req(GET => '/api/resources/r1', timeout => 2 * $SLOW);
    if ($r->{status} == 503) {
        $ok_in_a_row = 0;
        $back_at = undef;
    } else {
        $back_at //= time - $t0;
        last if ++$ok_in_a_row >= 20;
    }
    sleep 0.05;
}
ok $ok_in_a_row >= 20, 'Redis back: the API works again without a reload (20 answers in a row, both workers)';
ok defined $back_at && $back_at < 7 * $SLOW, sprintf('... within 7 s (%.1fs)', $back_at // -1);
BookingTest::error_is($A->req(GET => '/api/resources/r1'), 404, 'not_found',
                      name => 'the restarted Redis is empty: 404');
is $A->req(PUT => '/admin/resources/r1', body => { type => 'room', capacity => 2 })->{status}, 201,
    'PUT after the restart: 201';
is $A->req(GET => "/api/resources/r1/$AVAIL")->{status}, 200, 'availability after the restart: 200';
is_deeply [ $A->worker_pids ], \@a_workers, 'A: no worker was replaced';
is_deeply [ crash_lines($A) ], [], 'A: no crash or alert in the error log';
$A->stop;

# ================================================================ B: 1 worker, 3 s

my $B = BookingTest->new(
    workers    => 1,
    http       => "$TYPES\nbooking_redis_timeout 3s;",
    redis_conf => 'enable-debug-command yes',
);
my @b_workers = $B->worker_pids;
$B->req(PUT => '/admin/resources/b1', body => { type => 'room', capacity => 1 });
$B->req(PUT => '/admin/resources/b7', body => { type => 'room', capacity => 7 });

# ---------------------------------------------------------------- (c) a worker never blocks

{
    my $sleeper = BookingTest::bg(sub { BookingTest::resp_command($B->redis_port, 10, 'DEBUG', 'SLEEP', '1') });
    ok wait_blocked($B->redis_port), 'Redis is inside DEBUG SLEEP 1';
    my $slow = BookingTest::bg(sub { $B->req(GET => "/api/resources/b1/$AVAIL") });
    sleep 0.05;
    my $plain = $B->req(GET => '/plain');
    is $plain->{status}, 200, 'while Redis sleeps: /plain 200';
    ok $plain->{time} < 0.3 * $SLOW, sprintf('... in %.3fs (< 0.3s): the worker is not blocked', $plain->{time});
    my $inv = $B->req(GET => '/api/resources/b1/availability?from=2026-12-05&to=2026-12-01');
    ok $inv->{status} == 422 && $inv->{time} < 0.3 * $SLOW,
        sprintf('while Redis sleeps: a module answer without Redis (422) in %.3fs', $inv->{time});
    my $r = $slow->result(10);
    is $r->{status}, 200, 'the availability request waited for Redis: 200';
    ok $r->{time} > 0.5 && $r->{time} < 2.5 * $SLOW, sprintf('... after %.2fs (~1s)', $r->{time} // -1);
    is $sleeper->result(10), 'OK', 'DEBUG SLEEP returned';
}

# ---------------------------------------------------------------- (i) clients leave mid-command

{
    my $sleeper = BookingTest::bg(sub { BookingTest::resp_command($B->redis_port, 10, 'DEBUG', 'SLEEP', '1') });
    ok wait_blocked($B->redis_port), 'Redis is inside DEBUG SLEEP 1 again';
    local $SIG{PIPE} = 'IGNORE';
    my @live;
    for my $i (1 .. 3) {
        # closed at once, closed with a reset, and a PUT with its body
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $B->port) or die "connect: $!";
        if ($i == 3) {
            my $body = '{"type":"room","capacity":3}';
            syswrite $s, "PUT /admin/resources/gone HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       . 'Content-Length: ' . length($body) . "\r\n\r\n$body";
        } else {
            syswrite $s, "GET /api/resources/b1/$AVAIL HTTP/1.1\r\nHost: x\r\n\r\n";
        }
        setsockopt($s, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0)) if $i == 2;
        sleep 0.05;
        close $s;
        # a request that stays, queued behind the abandoned ones
        my $id = $i % 2 ? 'b7' : 'b1';
        push @live, [ $id, BookingTest::bg(sub { $B->req(GET => "/api/resources/$id/$AVAIL") }) ];
    }
    my $plain = $B->req(GET => '/plain');
    ok $plain->{status} == 200 && $plain->{time} < 0.3 * $SLOW, 'clients gone, Redis asleep: /plain answers at once';
    is $sleeper->result(10), 'OK', 'DEBUG SLEEP returned';
    for my $l (@live) {
        my ($id, $bg) = @$l;
        my $r = $bg->result(10);
        is $r->{status}, 200, "a request queued behind abandoned ones: 200 ($id)";
        is "$r->{json}{resource} $r->{json}{capacity}", $id eq 'b7' ? 'b7 7' : 'b1 1',
            "... with its own answer, not a neighbour's ($id)";
    }
    sleep 0.2;
    is $B->req(GET => "/api/resources/b7/$AVAIL")->{json}{capacity}, 7, 'the worker keeps serving the right answers';
    is $B->req(GET => '/api/resources/gone')->{status} =~ /^(?:200|404)$/ ? 1 : 0, 1,
        'the abandoned PUT either ran or not; GET answers normally';
    is_deeply [ $B->worker_pids ], \@b_workers, 'B: the worker survived';
    is_deeply [ crash_lines($B) ], [], 'B: no crash or alert in the error log';
}
$B->stop;

# ================================================================ C: a silent server

{
    my $fake = BookingTest::FakeRedis->new(mode => 'silent');
    my $C = BookingTest->new(
        redis         => 0,
        booking_redis => '127.0.0.1:' . $fake->port,
        http          => "$TYPES\nbooking_redis_timeout 300ms;",
    );
    my @w = $C->worker_pids;
    for my $i (1 .. 4) {
        backend_error_ok($C->req(GET => "/api/resources/r1/$AVAIL"), 0.8,
                         "silent Redis, availability no. $i", 503, 504);
    }
    backend_error_ok($C->req(PUT => '/admin/resources/r1', body => { type => 'room' }), 0.8,
                     'silent Redis, PUT', 503, 504);
    ok $C->req(GET => '/plain')->{status} == 200, 'silent Redis: /plain 200';
    is_deeply [ $C->worker_pids ], \@w, 'silent Redis: no worker replaced';
    $C->stop;
    $fake->stop;
}

# ================================================================ D0: a Redis still loading

# LOADING (or BUSY) in answer to FUNCTION LOAD is a handshake to try
# again, not a library refused for good: no connection is ready on it.
{
    my $fake = BookingTest::FakeRedis->new(
        mode       => 'script',
        by_command => { FUNCTION => "-LOADING Redis is loading the dataset in memory\r\n",
                        PING => "+PONG\r\n" },
        then       => 'silent',
    );
    my $L = BookingTest->new(
        redis         => 0,
        workers       => 1,
        booking_redis => '127.0.0.1:' . $fake->port,
        http          => "$TYPES\nbooking_redis_timeout 300ms;",
    );
    ok $L->wait_for_log(qr/refused the handshake: LOADING/, 5), 'LOADING: the handshake is refused';
    is $L->wait_for_log(qr/booking: redis .* ready/, 1), 0, '... no connection is ready';
    unlike $L->error_log, qr/did not load a library/, '... and it is not taken for a refused library';
    $L->stop;
    $fake->stop;
}

# ================================================================ D: handshake answered, commands not

{
    my $sha = '$40' . "\r\n" . ('0' x 40) . "\r\n";
    my $fake = BookingTest::FakeRedis->new(
        mode       => 'script',
        by_command => { FUNCTION => $sha, AUTH => "+OK\r\n", SELECT => "+OK\r\n", PING => "+PONG\r\n" },
        then       => 'silent',
    );
    my $D = BookingTest->new(
        redis         => 0,
        booking_redis => '127.0.0.1:' . $fake->port,
        http          => "$TYPES\nbooking_redis_timeout 300ms;",
    );
    my @w = $D->worker_pids;
    ok $D->wait_for_log(qr/booking: redis .* ready/, 5, 4) >= 4, 'D: every connection finished its handshake';
    my $r = $D->req(GET => "/api/resources/r1/$AVAIL");
    BookingTest::error_is($r, 504, 'backend_timeout', name => 'a command without answer: 504 backend_timeout');
    ok $r->{time} >= 0.25 && $r->{time} < 0.8 * $SLOW,
        sprintf('... after the 300 ms timeout (%.3fs)', $r->{time});
    $r = $D->req(GET => '/api/resources/r1');
    backend_error_ok($r, 0.8, 'a plain command without answer', 504, 503);
    $r = $D->req(PUT => '/admin/resources/r1', body => { type => 'room' });
    backend_error_ok($r, 0.8, 'a write without answer', 504, 503);
    is_deeply [ $D->worker_pids ], \@w, 'D: no worker replaced';
    is_deeply [ crash_lines($D) ], [], 'D: no crash or alert';
    $D->stop;
    $fake->stop;
}

# ================================================================ E: garbage, closing, odd replies

for my $mode (qw(garbage close)) {
    my $fake = BookingTest::FakeRedis->new(mode => $mode);
    my $E = BookingTest->new(
        redis         => 0,
        booking_redis => '127.0.0.1:' . $fake->port,
        http          => "$TYPES\nbooking_redis_timeout 300ms;",
    );
    my @w = $E->worker_pids;
    for my $i (1 .. 3) {
        backend_error_ok($E->req(GET => "/api/resources/r1/$AVAIL"), 0.8, "$mode Redis, no. $i", 503, 504);
    }
    is $E->req(GET => '/plain')->{status}, 200, "$mode Redis: /plain 200";
    is_deeply [ $E->worker_pids ], \@w, "$mode Redis: the workers are alive";
    is_deeply [ crash_lines($E) ], [], "$mode Redis: no crash or alert";
    $E->stop;
    $fake->stop;
}

{
    # Valid RESP, but not what the scripts return: a JSON 5xx, never a crash.
    my $sha = '$40' . "\r\n" . ('0' x 40) . "\r\n";
    my @odd = (
        "+OK\r\n",
        ":5\r\n",
        "*-1\r\n",
        "*0\r\n",
        "*2\r\n:1\r\n:2\r\n",
        "*6\r\n\$2\r\nok\r\n\$4\r\nroom\r\n:86400\r\n:3\r\n:0\r\n\$3\r\nabc\r\n",
        "*6\r\n\$2\r\nok\r\n\$4\r\nroom\r\n:0\r\n:3\r\n\$1\r\nx\r\n\$0\r\n\r\n",
        "*6\r\n\$2\r\nok\r\n\$4\r\nroom\r\n:-86400\r\n:3\r\n:0\r\n\$4\r\n\0\0\0\0\r\n",
        "*5\r\n\$3\r\nerr\r\n:200\r\n\$2\r\nok\r\n\$1\r\nx\r\n\$0\r\n\r\n",
        "*5\r\n\$3\r\nerr\r\n:404\r\n*0\r\n:1\r\n\$0\r\n\r\n",
        "-ERR something odd\r\n",
        # an array announced with 1,764,720,000 elements: refused by the
        # reader before anything is allocated for it
        "*1764720000\r\n",
    );
    my $fake = BookingTest::FakeRedis->new(
        mode => 'script', by_command => { FUNCTION => $sha }, replies => [@odd], then => 'ok',
    );
    my $O = BookingTest->new(
        redis         => 0,
        workers       => 1,
        booking_redis => '127.0.0.1:' . $fake->port,
        http          => "$TYPES\nbooking_redis_timeout 300ms;",
    );
    my @w = $O->worker_pids;
    ok $O->wait_for_log(qr/booking: redis .* ready/, 5, 2) >= 2, 'odd replies: connections ready';
    for my $i (0 .. $#odd) {
        my $r = $O->req(GET => "/api/resources/r1/$AVAIL");
        (my $what = $odd[$i]) =~ s/\r\n/ /g;
        $what =~ s/[^ -~]/./g;
        ok $r->{status} >= 500 && ref $r->{json} eq 'HASH' && ref $r->{json}{error} eq 'HASH',
            "odd reply '$what': a JSON 5xx" or diag "$r->{status} $r->{body}";
    }
    is_deeply [ $O->worker_pids ], \@w, 'odd replies: the worker is alive';
    is_deeply [ crash_lines($O) ], [], 'odd replies: no crash or alert';
    $O->stop;
    $fake->stop;
}

# ================================================================ F, G: AUTH

my $F = BookingTest->new(
    files      => { 'redis.pass' => "s3cret-pass\n" },
    redis_conf => 'requirepass s3cret-pass',
    http       => "$TYPES\nbooking_redis_password_file %%DIR%%/redis.pass;\nbooking_redis_timeout 300ms;",
);
is $F->req(PUT => '/admin/resources/p1', body => { type => 'room' })->{status}, 201,
    'requirepass + booking_redis_password_file: PUT 201';
is $F->req(GET => "/api/resources/p1/$AVAIL")->{status}, 200, '... availability 200';
is_deeply $F->redis_pipeline([ 'AUTH', 's3cret-pass' ], [ 'EXISTS', rkey('p1') ]), [ 'OK', 1 ],
    '... the resource is in Redis';

my $G_HTTP = "$TYPES\nbooking_redis_timeout 300ms;";
my $G = BookingTest->new(
    redis         => 0,
    booking_redis => '127.0.0.1:' . $F->redis_port,
    files         => { 'redis.pass' => "wrong-pass\n" },
    http          => "$G_HTTP\nbooking_redis_password_file %%DIR%%/redis.pass;",
);
backend_error_ok($G->req(GET => "/api/resources/p1/$AVAIL"), 0.8, 'wrong password');
backend_error_ok($G->req(GET => '/api/resources/p1'), 0.8, 'wrong password, GET resource');
ok $G->wait_for_log(qr/WRONGPASS|invalid password/i, 2), 'wrong password: the error log says so';
$G->reload_nginx(http => $G_HTTP);
backend_error_ok($G->req(GET => "/api/resources/p1/$AVAIL"), 0.8, 'no password against requirepass');
is_deeply [ crash_lines($G) ], [], 'G: no crash or alert';
$G->stop;
$F->stop;

# ================================================================ H: booking_redis_database 3

{
    my $H = BookingTest->new(http => "$TYPES\nbooking_redis_database 3;");
    is $H->req(PUT => '/admin/resources/d1', body => { type => 'room', capacity => 2 })->{status}, 201,
        'database 3: PUT 201';
    is $H->redis_db(3, 'EXISTS', rkey('d1')), 1, 'the resource is in db 3';
    is $H->redis_db(0, 'EXISTS', rkey('d1')), 0, '... and not in db 0';
    my $slot = Time::Local::timegm(0, 0, 0, 2, 11, 2026) / 86400;    # 2026-12-02
    my $chunk = int($slot / CHUNK);
    for my $db ([ 3, $slot, 1 ], [ 0, $slot + 1, 2 ]) {
        my $bytes = "\0" x (4 * CHUNK);
        substr($bytes, ($db->[1] % CHUNK) * 4, 4) = pack('N', $db->[2]);
        $H->redis_db($db->[0], 'HSET', rkey('d1', ':c'), $chunk, $bytes);
    }
    my $r = $H->req(GET => "/api/resources/d1/$AVAIL");
    is_deeply $r->{json}{free}, [
        { start => '2026-12-01', end => '2026-12-02', units => 2 },
        { start => '2026-12-02', end => '2026-12-03', units => 1 },
        { start => '2026-12-03', end => '2026-12-05', units => 2 },
    ], 'availability reads the counters of db 3, not those of db 0';
    $H->stop;
}

# ================================================================ I: unix socket

{
    my $I = BookingTest->new(
        redis_conf    => "unixsocket %%DIR%%/redis.sock\nunixsocketperm 700",
        booking_redis => 'unix:%%DIR%%/redis.sock',
        http          => $TYPES,
    );
    is $I->req(PUT => '/admin/resources/u1', body => { type => 'room' })->{status}, 201,
        'booking_redis unix:...: PUT 201';
    is $I->req(GET => "/api/resources/u1/$AVAIL")->{status}, 200, '... availability 200';
    my @unix = grep { /redis\.sock/ } split /\n/, $I->redis('CLIENT', 'LIST');
    ok @unix >= 2, 'the module is connected through the socket (' . scalar(@unix) . ' clients)';
    $I->stop;
}

done_testing;

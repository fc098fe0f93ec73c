# The Redis connection under faults (README, "The Redis connection"):
# a Redis that reads nothing, a handshake that takes most of the timeout,
# a Redis frozen for longer than the timeout.  503 means the command never
# reached Redis and is answered at once; 504 that Redis did not answer in
# time; no answer comes later than twice booking_redis_timeout.

use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use BookingTest;
use BookingRace qw(:all);

BookingRace::pin_module();

my $SLOW = BookingTest::slow();

plan skip_all => 'timings do not hold under valgrind' if $SLOW > 1;

sub error_is { local $Test::Builder::Level = $Test::Builder::Level + 1; BookingTest::error_is(@_) }

# ------------------------------------------------------------ a Redis that reads nothing

# Commands not yet written to a Redis that stopped reading pile up in the
# worker: past 16 MB a new one is refused at once (503), never kept, and
# never answered from inside the call that queued it.
{
    my $t = BookingTest->new(workers => 1,
                             http => default_http() . "booking_redis_timeout 30s;\n"
                                     . "booking_redis_connections 1;\nclient_max_body_size 4m;\n");
    is $t->req(PUT => '/admin/resources/r0', body => { type => 'room' })->{status}, 201, 'PUT r0';

    kill 'STOP', $t->redis_pid;
    my $big = { type => 'room', attributes => { blob => 'x' x (3 * 1024 * 1024) } };
    my @bg = map {
        my $i = $_;
        BookingTest::bg(sub { my $r = $t->req(PUT => "/admin/resources/big$i", body => $big, timeout => 30);
                              return { status => $r->{status}, at => time } });
    } 1 .. 8;
    # Redis stays stopped until the first answer (how long the worker takes
    # to read eight 3 MB bodies varies: ASan); the timeout is longer
    BookingTest::Bg->first_done(20, @bg);
    sleep 0.2;
    my $cont = time;
    kill 'CONT', $t->redis_pid;

    # "at once": answered while Redis was still stopped, not when it came back
    my @res = map { $_->result(60) } @bg;
    my @fast = grep { ($_->{status} // 0) == 503 && $_->{at} < $cont } @res;
    my %st;
    $st{ $_->{status} // 'none' }++ for @res;
    my $seen = join ', ', map { "$_ x$st{$_}" } sort keys %st;
    ok @fast >= 1, "past 16 MB unsent, a command is refused at once: 503 ($seen)";
    is_deeply [ grep { !/^(?:201|503|504)$/ } keys %st ], [], 'the others were made, or timed out';
    is $t->req(PUT => '/admin/resources/after', body => { type => 'room' })->{status}, 201,
       'service is back at once';
    is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';
    $t->stop;
}

# ------------------------------------------------------------ a slow handshake

# The handshake (FUNCTION LOAD of every script) takes 2 s of a 2.5 s timeout;
# a request that came during it is sent once it is done, and its own
# timeout starts then: its answer, 2.2 s later, is in time.
{
    my $F = BookingTest::FakeRedis->new(mode => 'script', delay_by => { FUNCTION => 2, FCALL => 2.2 },
                                        by_command => { FUNCTION => "\$40\r\n" . ('0' x 40) . "\r\n" });
    my $t = BookingTest->new(workers => 1, redis => 0, booking_redis => '127.0.0.1:' . $F->port,
                             http => default_http() . "booking_redis_timeout 2500ms;\n"
                                     . "booking_redis_connections 1;\n");
    # a confirm runs a script (reads are plain commands, not delayed here)
    my $r = $t->req(POST => '/api/bookings/r1.AAAAAAAAAAAAAAAA/confirm', headers => { 'X-User-Id' => 'ann' },
                    timeout => 20);
    isnt $r->{status}, 504, "a request sent after a slow handshake is not timed out ($r->{status})";
    error_is($r, 500, 'internal', name => 'it reads what the fake answered: not a script\'s answer');
    cmp_ok $r->{time}, '>', 4, sprintf('it waited for the handshake and its own reply (%.1f s)', $r->{time});
    $t->stop;
    $F->stop;
}

# ------------------------------------------------------------ a frozen Redis

# Redis stopped (SIGSTOP) longer than the timeout, under a steady load:
# connections time out, reconnect, time out in their handshake, back off.
# Redis is up but not answering: every answer is 504 (or a success), never
# 503, and none waits more than twice the timeout.
{
    my $t = BookingTest->new(workers => 2,
                             http => default_http() . "booking_redis_timeout 300ms;\n");
    is $t->req(PUT => '/admin/resources/f1', body => { type => 'room', capacity => 1000 })->{status}, 201,
       'PUT f1';
    my $q = '/api/resources/f1/availability?from=2026-12-01&to=2026-12-03';
    is $t->req(GET => $q)->{status}, 200, 'availability before';

    my @bg = map {
        BookingTest::bg(sub {
            my (%st, $max);
            my $end = time + 3;
            while (time < $end) {
                my $r = $t->req(GET => $q, timeout => 5);
                $st{ $r->{status} }++;
                $max = $r->{time} if !defined $max || $r->{time} > $max;
            }
            return { st => \%st, max => $max };
        });
    } 1 .. 4;

    sleep 0.5;
    for (1 .. 2) {
        kill 'STOP', $t->redis_pid;
        sleep 1.2;
        kill 'CONT', $t->redis_pid;
        sleep 0.3;
    }

    my (%st, $max);
    for my $b (@bg) {
        my $res = $b->result(30);
        $st{$_} += $res->{st}{$_} for keys %{ $res->{st} || {} };
        $max = $res->{max} if defined $res->{max} && (!defined $max || $res->{max} > $max);
    }
    my $seen = join ', ', map { "$_ x$st{$_}" } sort keys %st;
    ok $st{504}, "Redis frozen: 504s ($seen)";
    ok !$st{503}, 'and never a 503: Redis was up, only slow';
    is_deeply [ grep { !/^(?:200|504)$/ } keys %st ], [], 'nothing but 200 and 504';
    cmp_ok $max, '<', 2 * 0.3 + 0.5, sprintf('no answer took more than twice the timeout (%.2f s)', $max);
    is $t->req(GET => $q)->{status}, 200, 'service is back at once';
    $t->stop;
}

# and a Redis that is gone is still 503 at once
{
    my $t = BookingTest->new(workers => 1);
    $t->kill_redis;
    sleep 0.3;
    my $r = $t->req(GET => '/api/resources/x/availability?from=2026-12-01&to=2026-12-02');
    error_is($r, 503, 'backend_unavailable', name => 'Redis gone: 503');
    cmp_ok $r->{time}, '<', 0.5, 'at once';
}

done_testing;

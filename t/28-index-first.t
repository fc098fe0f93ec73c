# A user's booking on one Redis: the ZADD of its id in the user's index,
# then the booking's script right behind it on the same connection,
# without waiting for the ZADD's answer (README, "What spans resources"):
# one round trip, the same order.  Shown three ways: while Redis holds
# every write (CLIENT PAUSE WRITE), the script is already in the
# connection's query buffer behind the ZADD; MONITOR sees the two from one
# connection, one after the other; and where Redis refuses the ZADD (an
# ACL that bars the users' keys) the booking is made anyway, and the error
# log names it, so that an operator knows whose list may miss it.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use Time::HiRes qw(sleep time);
use BookingTest;
use BookingRace qw(:all);

BookingRace::pin_module();

# the ZADD held by CLIENT PAUSE must not time out meanwhile
my $t = BookingTest->new(workers => 1,
                         http => (BookingTest::default_http() =~ s/^booking_redis_timeout[^\n]*\n//mr)
                                 . "booking_redis_timeout 10s;\n"
                                 . "log_format waited '\$booking_user \$booking_redis_time \$request_time';\n",
                         server => BookingTest::default_server()
                                   . "access_log %%DIR%%/waited.log waited;\n");

# the log line of $user's request: [ Redis time, request time ]
sub waited {
    my ($user) = @_;
    for (1 .. 50) {
        my $log = eval { BookingTest::_slurp($t->dir . '/waited.log') } // '';
        return [ $1, $2 ] if $log =~ /^\Q$user\E (\d+\.\d+) (\d+\.\d+)$/m;
        sleep 0.05;
    }
    return [];
}

my $r = $t->req(PUT => '/admin/resources/room-1', body => { type => 'room', capacity => 9, owner => 'olga' });
is $r->{status}, 201, 'PUT room-1';

my $now = redis_now($t);
my $day = 3;

sub hold_for {
    my ($user) = @_;
    my ($s, $e) = (day_start($now, $day), day_start($now, $day + 1));
    $day++;
    return { resource => 'room-1', start => date($s), end => date($e), hold => JSON::PP::true };
}

# the worker's connections are up and its scripts loaded
is book($t, 'alice', hold_for('alice'))->{status}, 201, 'a first hold';

# 1. Redis holds the ZADD; the script is already sent behind it
{
    my $slow = BookingTest::slow();
    is $t->redis('CLIENT', 'PAUSE', int(1500 * $slow), 'WRITE'), 'OK', 'CLIENT PAUSE WRITE';
    my $bg = BookingTest::bg(sub { book($t, 'bob', hold_for('bob'))->{status} });
    my ($waiting, $deadline) = (undef, time + 1.2 * $slow);
    while (!$waiting && time < $deadline) {
        sleep 0.05;
        ($waiting) = grep { /\bcmd=zadd\b/ } split /\n/, $t->redis('CLIENT', 'LIST');
    }
    ok $waiting, 'the ZADD waits in Redis' or diag $t->redis('CLIENT', 'LIST');
    my ($qbuf) = ($waiting // '') =~ /\bqbuf=(\d+)/;
    cmp_ok $qbuf // 0, '>', 0, 'the booking\'s script is in the same connection\'s buffer behind it'
        or diag $waiting;
    sleep 0.3 * $slow;
    $t->redis('CLIENT', 'UNPAUSE');
    is $bg->result(10), 201, 'the hold is made once Redis goes on';

    # $booking_redis_time: the two waited together, counted once
    my ($redis, $request) = @{ waited('bob') };
    cmp_ok $redis // 0, '>=', 0.3, "\$booking_redis_time has the pause ($redis s)";
    cmp_ok $redis // 9, '<=', $request + 0.001, "and no more than the request took ($request s)";
}

# 2. MONITOR: the two from one connection, in that order, nothing between
{
    my $mon = BookingRace::Monitor->new($t->redis_port);
    $mon->drain;
    is book($t, 'carol', hold_for('carol'))->{status}, 201, 'carol\'s hold';
    my @top = grep { $_->{client} ne 'lua' && uc($_->{args}[0]) !~ /^(?:INFO|CONFIG|ECHO|MONITOR)$/ }
              @{ $mon->drain };
    is_deeply [ map { uc $_->{args}[0] } @top ], [ 'ZADD', 'FCALL' ], 'ZADD, then FCALL';
    is $top[0]{client}, $top[1]{client}, 'from one connection';
    $mon->close_monitor;
}

# 3. Redis refuses the ZADD, not the script
{
    is $t->redis('ACL', 'SETUSER', 'default', 'resetkeys', '~bk:{s*', '~bk:{t:*', '~bk:{lease}*',
                 '%R~bk:{u:*'), 'OK', 'an ACL: the users\' keys read only';
    my $h = book($t, 'dave', hold_for('dave'));
    is $h->{status}, 201, 'the hold is made';
    my $id = $h->{json}{id} // '';
    like $id, qr/^room-1\./, 'its id';
    ok $t->wait_for_log(qr/the user's index refused the entry of booking "\Q$id\E"/, 5),
       'the error log names the booking the list may miss';
    is $t->redis('ACL', 'SETUSER', 'default', 'allkeys'), 'OK', 'the ACL back';
    is $t->req(GET => "/api/bookings/$id", headers => user_h('dave'))->{status}, 200,
       'dave reads his booking';
    my $e = book($t, 'erin', hold_for('erin'));
    is $e->{status}, 201, 'the next hold';
    my $list = $t->req(GET => '/api/bookings', headers => user_h('erin'));
    is_deeply [ map { $_->{id} } @{ $list->{json}{items} || [] } ],
              [ $e->{json}{id} ], 'in its user\'s list';
}

is_deeply [ $t->check_error_log ], [], 'no alert, crash or emergency in the error log';

done_testing;

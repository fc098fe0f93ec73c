# One Redis round trip per request (SPEC: "the module parses the request,
# runs one atomic Redis script"): after CONFIG RESETSTAT, a confirm and a
# cancel each cost exactly one FCALL, a user's hold one FCALL after
# the ZADD of its id in the user's index (a key of another hash slot: a
# step of its own, README "What spans resources"), and nothing else
# reaches Redis but what those scripts run themselves; an availability
# read is one batch of plain reads (TIME, the resource, its counters) and
# runs no script.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use Time::HiRes qw(sleep);
use BookingTest;
use BookingRace qw(:all);
use BookingKeys qw(rkey);

BookingRace::pin_module();

my $t = BookingTest->new(workers => 2);

my $r = $t->req(PUT => '/admin/resources/room-1', body => { type => 'room', capacity => 2, owner => 'olga' });
is $r->{status}, 201, 'PUT room-1';

my $now = redis_now($t);
my ($s, $e) = (day_start($now, 3), day_start($now, 5));

# Both workers' connections are up (and their scripts loaded) once each
# worker answered something that needs Redis.
for (1 .. 10) {
    $t->req(GET => '/api/resources/room-1/availability?from=' . date($s) . '&to=' . date($e));
}
sleep 0.2;

my $mon = BookingRace::Monitor->new($t->redis_port);
$mon->drain;

# and nobody talks to Redis unasked (handshakes done, no background chatter)
my $quiet = 0;
for (1 .. 10) {
    sleep 0.3;
    my @heard = grep { uc($_->{args}[0]) ne 'ECHO' } @{ $mon->drain };
    if (!@heard) { $quiet = 1; last }
}
ok $quiet, 'an idle nginx sends Redis nothing';

sub commandstats {
    my $info = $t->redis('INFO', 'commandstats');
    my %calls;
    $calls{$1} = $2 while $info =~ /^cmdstat_(\S+?):calls=(\d+)/mg;
    return \%calls;
}

my $total = 0;

# $do->() makes one HTTP request; checks what Redis ran for it.
sub one_request {
    my ($name, $do, @want) = @_;
    @want = ('FCALL') unless @want;
    $mon->drain;    # forget what came before
    is $t->redis('CONFIG', 'RESETSTAT'), 'OK', "$name: CONFIG RESETSTAT";
    my $res = $do->();
    my $stats = commandstats();
    my $seen = $mon->drain;

    my $scripts = grep { $_ eq 'FCALL' } @want;
    is $stats->{fcall} // 0, $scripts, "$name: INFO commandstats: cmdstat_fcall calls=$scripts";
    $total += $stats->{fcall} // 0;

    # what clients sent (not what a script ran), the test's own INFO aside
    my @top = map { uc $_->{args}[0] } grep { $_->{client} ne 'lua' } @$seen;
    my @other = grep { !/^(?:INFO|CONFIG|ECHO)$/ } @top;
    is_deeply [ sort @other ], [ sort @want ], "$name: MONITOR: @want, no other command from nginx";

    # every other count in commandstats is a command the script ran
    my %lua;
    $lua{ lc $_->{args}[0] }++ for grep { $_->{client} eq 'lua' } @$seen;
    my %rest = %$stats;
    delete @rest{qw(fcall info config|resetstat)};
    $rest{ lc $_ }-- for grep { $_ ne 'FCALL' } @want;
    delete @rest{ grep { !$rest{$_} } keys %rest };
    is_deeply \%rest, \%lua, "$name: the other commands counted are exactly those the script ran"
        or diag(JSON::PP->new->canonical->encode({ stats => $stats, lua => \%lua }));
    return $res;
}

my $hold = one_request('hold', sub {
    book($t, 'alice', { resource => 'room-1', start => date($s), end => date($e), hold => JSON::PP::true });
}, qw(ZADD FCALL));
is $hold->{status}, 201, 'hold: 201';
my $id = $hold->{json}{id};

my $c = one_request('confirm', sub { act($t, 'alice', $id, 'confirm') });
is $c->{status}, 200, 'confirm: 200';
is $c->{json}{status}, 'confirmed', 'confirmed';

my $x = one_request('cancel', sub { act($t, 'alice', $id, 'cancel') });
is $x->{status}, 200, 'cancel: 200';
is $x->{json}{status}, 'cancelled', 'cancelled';

my $a = one_request('availability', sub {
    $t->req(GET => '/api/resources/room-1/availability?from=' . date($s) . '&to=' . date($e));
}, qw(TIME HMGET HMGET));
is $a->{status}, 200, 'availability: 200';
is_deeply [ map { $_->{units} } @{ $a->{json}{free} } ], [2], 'availability: all free again';

is $total, 3, 'four requests, three FCALL in all';

# A hold reads the counters of its range once (one HMGET of its chunks)
# and writes them once (one HSET), and a hold within a chunk that exists
# leaves the chunk index alone: only the first booking in a chunk adds it.
$r = $t->req(PUT => '/admin/resources/room-2', body => { type => 'room', capacity => 3 });
is $r->{status}, 201, 'PUT room-2';

for my $k ([ 'the first hold in a chunk', 3, 1 ], [ 'the next hold on those days', 3, 0 ]) {
    my ($name, $day, $new_chunk) = @$k;
    $mon->drain;
    my $h = book($t, 'alice', { resource => 'room-2', start => date(day_start($now, $day)),
                                end => date(day_start($now, $day + 2)), hold => JSON::PP::true });
    is $h->{status}, 201, "$name: 201";
    my @lua = grep { $_->{client} eq 'lua' } @{ $mon->drain };
    my $on = sub { my ($cmd, $key) = @_;
                   scalar grep { uc $_->{args}[0] eq $cmd && $_->{args}[1] eq $key } @lua };
    is $on->('HMGET', rkey('room-2', ':c')), 1, "$name: one HMGET of the counters";
    is $on->('HSET', rkey('room-2', ':c')), 1, "$name: one HSET of the counters";
    is $on->('ZADD', rkey('room-2', ':k')), $new_chunk, "$name: the chunk index is written $new_chunk time(s)";
}

# errors found before Redis cost nothing
is $t->redis('CONFIG', 'RESETSTAT'), 'OK', 'CONFIG RESETSTAT';
BookingTest::error_is(book($t, 'alice', { resource => 'room-1', start => date($e), end => date($s) }), 422, 'invalid',
                      name => 'an inverted range');
BookingTest::error_is(book($t, undef, { resource => 'room-1', start => date($s), end => date($e) }), 401,
                      'unauthenticated', name => 'no user');
BookingTest::error_is(get_booking($t, 'alice', 'room-1.bad'), 404, 'not_found', name => 'a malformed id');
my $stats = commandstats();
delete @$stats{qw(info config|resetstat)};
is_deeply $stats, {}, 'requests refused before Redis send no command';

$mon->close_monitor;
is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;

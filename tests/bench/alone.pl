#!/usr/bin/perl
# make bench-alone: what a hold's script costs Redis with nothing around
# it: no network wait, no other resource in the caches.  Each module given
# makes one hold through its own nginx (on one shared redis-server) and
# MONITOR catches the FCALL it sent; redis-benchmark then sends each of
# those FCALLs again, pipelined (-c 8 -P 8), in alternating rounds, and
# INFO commandstats gives Redis's usec per call.  The car has a million
# units, so that every call books; every call of a module books the same
# hour with the same rand (its record written over), so nothing grows.
# It shows what a change of a script saves, beside the revision before;
# make bench and make bench-compare show what a hold costs under load.
#
#   perl tests/bench/alone.pl [--calls 50000] [--rounds 3] [--own]
#                             [--gap US] [--cars N] [--lib FILE ...]
#                             MODULE.so [MODULE.so ...]
#
# --lib: a library of a variant of booking_create (FUNCTION LOAD text) to
# measure too, called with the first module's arguments.
# --own: the hold of the bench's own peers (tests/bench/peers/own, lib.lua
# and hold.lua: the script an OpenResty developer writes) too, the same
# hour of a car of a million units in its own key layout, the same rand.
# --gap US: each call sent alone, US microseconds after the answer of the
# one before, instead of pipelined: Redis sleeps between calls, as it does
# when nginx, not Redis, bounds the load.  The same calls then cost more
# (README, "What a hold costs Redis, and when").
# --cars N: N cars, not one, each held once through nginx; the calls go
# round them (each its car's FCALL), pipelined 64 deep on one connection,
# or one at a time with --gap.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../t/lib";
use Getopt::Long;
use POSIX qw(floor);
use IO::Socket::INET;
use Time::HiRes ();
use BookingTest;
use BookingRace ();

my ($CALLS, $ROUNDS, $OWN, $GAP, $CARS, @LIBS) = (50000, 3, 0, 0, 1);
GetOptions('calls=i' => \$CALLS, 'rounds=i' => \$ROUNDS, 'own' => \$OWN,
           'gap=i' => \$GAP, 'cars=i' => \$CARS, 'lib=s' => \@LIBS)
    && @ARGV && $CARS >= 1
    or die "usage: $0 [--calls N] [--rounds N] [--own] [--gap US] "
         . "[--cars N] [--lib FILE ...] MODULE.so ...\n";

my $HTTP = "booking_type car slot=1h hold=10m min=1h max=14d;\n"
         . "booking_user \$http_x_user_id;\n";
my $start = (floor(time / 3600) + 30) * 3600;

sub iso { return POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $_[0]) }
sub car { return $_[0] == 1 ? 'c1' : "c$_[0]" }

my (@t, @runs, $port);
for my $so (@ARGV) {
    die "$0: no module $so\n" unless -f $so;
    $ENV{BOOKING_MODULE} = $so;
    my $t = @t ? BookingTest->new(workers => 1, http => $HTTP, redis => 0,
                                  booking_redis => "127.0.0.1:$port")
               : BookingTest->new(workers => 1, http => $HTTP);
    $port //= $t->redis_port;
    push @t, $t;
    my $c = BookingRace::Conn->new($t->port);
    if (@t == 1) {
        for my $i (1 .. $CARS) {
            $c->request(PUT => '/admin/resources/' . car($i),
                        { 'Content-Type' => 'application/json' },
                        '{"type":"car","capacity":1000000,"title":"Car","owner":"o1"}');
        }
    }
    my $mon = BookingRace::Monitor->new($port);
    $mon->drain;
    for my $i (1 .. $CARS) {
        my $r = $c->request(POST => '/api/bookings',
                            { 'X-User-Id' => 'u1', 'Content-Type' => 'application/json' },
                            sprintf('{"resource":"%s","start":"%s","end":"%s","hold":true}',
                                    car($i), iso($start), iso($start + 3600)));
        die "$0: $so: the hold answered $r->{status}\n" unless $r->{status} == 201;
    }
    my @fcalls = grep { uc $_->[0] eq 'FCALL' && $_->[1] =~ /^bk_booking_create_/ }
                 map { $_->{args} } @{ $mon->drain };
    $mon->close_monitor;
    die "$0: $so sent " . @fcalls . " FCALLs of booking_create for $CARS holds\n"
        unless @fcalls == $CARS;
    push @runs, { name => $so, calls => \@fcalls };
}

for my $file (@LIBS) {
    open my $f, '<', $file or die "$0: $file: $!\n";
    my $text = do { local $/; <$f> };
    my ($name) = $text =~ /^#!lua name=(\S+)/ or die "$0: $file: no #!lua name=\n";
    $t[0]->redis('FUNCTION', 'LOAD', 'REPLACE', $text);
    push @runs, { name => $file, calls => [ map { [ $_->[0], $name, @$_[2 .. $#$_] ] }
                                            @{ $runs[0]{calls} } ] };
}

# the own peers' hold: their script (lib.lua, then hold.lua, as they put
# them together) and their layout, a car of a million units of 1 h slots,
# the rules line the module sent
if ($OWN) {
    my $dir = "$FindBin::Bin/peers/own";
    my $text = join "\n", map {
        open my $f, '<', "$dir/$_" or die "$0: $dir/$_: $!\n";
        local $/;
        scalar <$f>;
    } 'lib.lua', 'hold.lua';
    my $sha = $t[0]->redis('SCRIPT', 'LOAD', $text);
    my ($rules) = grep { /^car \d/ } @{ $runs[0]{calls}[0] };
    my @calls;
    for my $i (1 .. $CARS) {
        my $r = 'res:{' . car($i) . '}';
        $t[0]->redis('HSET', $r, 'type', 'car', 'slot', 3600, 'capacity', 1000000, 'used', 0);
        my @args = ('EVALSHA', $sha, 3, $r, "$r:used", "$r:holds", car($i) . '.aaaaaaaaaaaaaaaa',
                    'aaaaaaaaaaaaaaaa', 'u1', 'booking', 1, $start, $start + 3600, 1, '', $rules);
        my $a = $t[0]->redis(@args);
        die "$0: the own peers' hold answered @{[ ref $a ? $a->[1] : $a ]}\n"
            unless ref $a eq 'ARRAY' && $a->[0] eq 'ok' && $a->[1] == 201;
        push @calls, \@args;
    }
    push @runs, { name => 'own peers\' hold (tests/bench/peers/own)', calls => \@calls };
}

# The end of the reply that starts at $at in $buf, or undef when it has
# not all come yet.
sub reply_end {
    my ($buf, $at) = @_;
    my $eol = index $buf, "\r\n", $at;
    return undef if $eol < 0;
    my ($type, $n) = (substr($buf, $at, 1), substr($buf, $at + 1, $eol - $at - 1));
    my $next = $eol + 2;
    if ($type eq '$') {
        return $n < 0 ? $next : length $buf >= $next + $n + 2 ? $next + $n + 2 : undef;
    }
    if ($type eq '*') {
        for (1 .. $n) {
            $next = reply_end($buf, $next) // return undef;
        }
    }
    return $next;
}

# $CALLS calls, round the list, $depth of them in flight on one
# connection, $GAP us after each batch's answers
sub send_calls {
    my ($list, $depth) = @_;
    my @cmd = map { my $a = $_; '*' . @$a . "\r\n" . join '', map { '$' . length($_) . "\r\n$_\r\n" } @$a }
              @$list;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") or die "$0: $!\n";
    my $k = 0;
    while ($k < $CALLS) {
        my $n = $CALLS - $k < $depth ? $CALLS - $k : $depth;
        print $s join '', map { $cmd[ ($k + $_) % @cmd ] } 0 .. $n - 1;
        $k += $n;
        my ($got, $at) = ('', 0);
        while ($n > 0) {
            my $end = reply_end($got, $at);
            if (defined $end) {
                die "$0: an error: " . substr($got, $at, 200) . "\n" if substr($got, $at, 1) eq '-';
                ($at, $n) = ($end, $n - 1);
                next;
            }
            sysread($s, $got, 65536, length $got) or die "$0: Redis closed\n";
        }
        Time::HiRes::usleep($GAP) if $GAP;
    }
    close $s;
}

for my $round (1 .. $ROUNDS) {
    for my $run (@runs) {
        $t[0]->redis('CONFIG', 'RESETSTAT');
        if ($GAP || $CARS > 1) {
            send_calls($run->{calls}, $GAP ? 1 : 64);
        } else {
            system('sh', '-c', 'redis-benchmark "$@" >/dev/null 2>&1', 'bench', '-p', $port,
                   '-n', $CALLS, '-c', 8, '-P', 8, @{ $run->{calls}[0] }) == 0
                or die "$0: redis-benchmark failed\n";
        }
        my $cmd = $run->{calls}[0][0] eq 'EVALSHA' ? 'evalsha' : 'fcall';
        my ($calls, $usec, $failed) = $t[0]->redis('INFO', 'commandstats')
            =~ /cmdstat_$cmd:calls=(\d+),usec=(\d+),.*failed_calls=(\d+)/
            or die "$0: no \U$cmd\E in INFO commandstats\n";
        die "$0: $run->{name}: $failed calls failed\n" if $failed;
        push @{ $run->{usec} }, $usec / $calls;
    }
}

printf "| hold's script, alone%s | Redis µs per call, by round | median |\n|---|---|---:|\n",
       ($CARS > 1 ? ", $CARS cars" : '')
       . ($GAP ? ", one call every answer + $GAP µs" : ', pipelined');
for my $run (@runs) {
    my @u = sort { $a <=> $b } @{ $run->{usec} };
    printf "| %s | %s | %.2f |\n", $run->{name}, join(', ', map { sprintf '%.2f', $_ } @{ $run->{usec} }),
           $u[$#u / 2];
}
$_->stop for reverse @t;

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
#   perl tests/bench/alone.pl [--calls 50000] [--rounds 3]
#                             [--lib FILE ...] MODULE.so [MODULE.so ...]
#
# --lib: a library of a variant of booking_create (FUNCTION LOAD text) to
# measure too, called with the first module's arguments.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../t/lib";
use Getopt::Long;
use POSIX qw(floor);
use BookingTest;
use BookingRace ();

my ($CALLS, $ROUNDS, @LIBS) = (50000, 3);
GetOptions('calls=i' => \$CALLS, 'rounds=i' => \$ROUNDS, 'lib=s' => \@LIBS)
    && @ARGV
    or die "usage: $0 [--calls N] [--rounds N] [--lib FILE ...] MODULE.so ...\n";

my $HTTP = "booking_type car slot=1h hold=10m min=1h max=14d;\n"
         . "booking_user \$http_x_user_id;\n";
my $start = (floor(time / 3600) + 30) * 3600;

sub iso { return POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $_[0]) }

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
    $c->request(PUT => '/admin/resources/c1', { 'Content-Type' => 'application/json' },
                '{"type":"car","capacity":1000000,"title":"Car","owner":"o1"}') if @t == 1;
    my $mon = BookingRace::Monitor->new($port);
    $mon->drain;
    my $r = $c->request(POST => '/api/bookings',
                        { 'X-User-Id' => 'u1', 'Content-Type' => 'application/json' },
                        sprintf('{"resource":"c1","start":"%s","end":"%s","hold":true}',
                                iso($start), iso($start + 3600)));
    die "$0: $so: the hold answered $r->{status}\n" unless $r->{status} == 201;
    my ($fcall) = grep { uc $_->[0] eq 'FCALL' && $_->[1] =~ /^bk_booking_create_/ }
                  map { $_->{args} } @{ $mon->drain };
    $mon->close_monitor;
    die "$0: $so sent no FCALL of booking_create\n" unless $fcall;
    push @runs, { name => $so, args => $fcall };
}

for my $file (@LIBS) {
    open my $f, '<', $file or die "$0: $file: $!\n";
    my $text = do { local $/; <$f> };
    my ($name) = $text =~ /^#!lua name=(\S+)/ or die "$0: $file: no #!lua name=\n";
    $t[0]->redis('FUNCTION', 'LOAD', 'REPLACE', $text);
    my @args = @{ $runs[0]{args} };
    $args[1] = $name;
    push @runs, { name => $file, args => \@args };
}

for my $round (1 .. $ROUNDS) {
    for my $run (@runs) {
        $t[0]->redis('CONFIG', 'RESETSTAT');
        system('sh', '-c', 'redis-benchmark "$@" >/dev/null 2>&1', 'bench', '-p', $port,
               '-n', $CALLS, '-c', 8, '-P', 8, @{ $run->{args} }) == 0
            or die "$0: redis-benchmark failed\n";
        my ($calls, $usec, $failed) = $t[0]->redis('INFO', 'commandstats')
            =~ /cmdstat_fcall:calls=(\d+),usec=(\d+),.*failed_calls=(\d+)/
            or die "$0: no FCALL in INFO commandstats\n";
        die "$0: $run->{name}: $failed calls failed\n" if $failed;
        push @{ $run->{usec} }, $usec / $calls;
    }
}

printf "| hold's script, alone | Redis µs per call, by round | median |\n|---|---|---:|\n";
for my $run (@runs) {
    my @u = sort { $a <=> $b } @{ $run->{usec} };
    printf "| %s | %s | %.2f |\n", $run->{name}, join(', ', map { sprintf '%.2f', $_ } @{ $run->{usec} }),
           $u[$#u / 2];
}
$_->stop for reverse @t;

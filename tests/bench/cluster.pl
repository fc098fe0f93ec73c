#!/usr/bin/perl
# make bench-cluster (and the last part of make bench): holds and listing
# pages against one Redis and against a Redis Cluster of three masters (no
# replicas: the same work), side by side in one run, the same module and
# nginx.conf, the same 1,000 cars.  For each: wrk's throughput and
# latency, and Redis's CPU per request (INFO cpu: used_cpu_user +
# used_cpu_sys, summed over every node, before and after the run).  On
# one machine the masters share its cores: what the cluster buys is room
# (memory, and a core per master on machines that have them), not speed
# here; its CPU per request should equal the single server's.
#
#   perl tests/bench/cluster.pl [--seconds 10] [--rounds 2]

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../t/lib";
use Getopt::Long;
use List::Util qw(sum);
use POSIX qw(floor);
use Time::HiRes qw(time);
use BookingTest;
use BookingRace ();

my ($SECS, $ROUNDS, $N) = ($ENV{BENCH_SECONDS} // 10, $ENV{BENCH_ROUNDS} // 2, 1000);
GetOptions('seconds=i' => \$SECS, 'rounds=i' => \$ROUNDS)
    or die "usage: $0 [--seconds N] [--rounds N]\n";
my $WRK_LUA = "$FindBin::Bin/wrk.lua";

my $HTTP = <<'EOT';
booking_type car slot=1h hold=10m min=1h max=14d;
booking_user $http_x_user_id;
EOT

my %srv = (
    single  => BookingTest->new(workers => 2, http => $HTTP),
    cluster => BookingTest->new(workers => 2, http => $HTTP, cluster => { replicas => 0 }),
);
my $now = time;
my $T0 = (floor($now / 3600) + 3) * 3600;
my $car = sub { sprintf 'car-%012d', $_[0] };

for my $name (sort keys %srv) {
    my $c = BookingRace::Conn->new($srv{$name}->port);
    for my $i (0 .. $N - 1) {
        my $r = $c->request(PUT => '/admin/resources/' . $car->($i),
                            { 'Content-Type' => 'application/json' },
                            sprintf('{"type":"car","capacity":2,"title":"Car %d",'
                                    . '"location":{"lat":%.5f,"lon":%.5f}}',
                                    $i, 48.39 + ($i % 100) / 1000, -4.49 + int($i / 100) / 1000));
        die "PUT on $name: $r->{status}\n" unless $r->{status} == 201;
    }
}

# Redis's CPU seconds so far, every node of it
sub redis_cpu {
    my ($t) = @_;
    my $s = 0;
    for my $info ($t->redis_all('INFO', 'cpu')) {
        $s += $1 + $2 if $info =~ /used_cpu_sys:([\d.]+).*?used_cpu_user:([\d.]+)/s;
    }
    return $s;
}

sub run {
    my ($name, $path, @args) = @_;
    my $t = $srv{$name};
    my @cmd = ('wrk', '-t2', '-c64', "-d${SECS}s", '--latency', '-s', $WRK_LUA,
               '-H', 'X-User-Id: u1', 'http://127.0.0.1:' . $t->port . $path, '--', @args);
    my $cpu0 = redis_cpu($t);
    my $out = `@{[ map { "'$_'" } @cmd ]} 2>&1`;
    my $cpu = redis_cpu($t) - $cpu0;
    my ($n) = $out =~ /(\d+) requests in/;
    my ($rps) = $out =~ /Requests\/sec:\s+([\d.]+)/;
    my ($p50) = $out =~ /^\s+50%\s+(\S+)/m;
    my ($p99) = $out =~ /^\s+99%\s+(\S+)/m;
    my ($ok, $c409, $other) = $out =~ /BENCH ok=(\d+) c409=(\d+) other=(\d+)/;
    die "wrk against $name failed:\n$out\n" unless $n && defined $ok;
    return { rps => $rps, p50 => $p50, p99 => $p99, usec => $cpu * 1e6 / $n,
             other => $other, command => join(' ', @cmd) };
}

my @OPS = (
    [ 'hold', '/api/bookings', 'hold', 'car-', $N, $T0, 24 * 30, 3600 ],
    [ 'listing page of 20', '/api/resources?type=car&limit=20', 'get' ],
);

my %res;
for my $round (1 .. $ROUNDS) {
    for my $op (@OPS) {
        # the two side by side, in turn, so that the machine's drift hits both
        for my $name ($round % 2 ? qw(single cluster) : qw(cluster single)) {
            push @{ $res{ $op->[0] }{$name} }, run($name, @{$op}[1 .. $#$op]);
        }
    }
}

sub med {
    my @v = sort { $a <=> $b } @_;
    return $v[ int(@v / 2) ];
}

printf "%d cars, wrk -t2 -c64 -d%ds --latency, %d rounds (medians), %s\n\n",
       $N, $SECS, $ROUNDS, scalar localtime;
print "| operation | Redis | requests/s | p50 | p99 | Redis CPU us/request (all nodes) | errors |\n";
print "|---|---|---:|---:|---:|---:|---:|\n";
for my $op (@OPS) {
    for my $name (qw(single cluster)) {
        my @r = @{ $res{ $op->[0] }{$name} };
        printf "| %s | %s | %.0f | %s | %s | %.1f | %d |\n", $op->[0],
               $name eq 'single' ? 'one server' : '3-master cluster',
               med(map { $_->{rps} } @r), $r[-1]{p50}, $r[-1]{p99},
               med(map { $_->{usec} } @r), sum(map { $_->{other} } @r);
    }
}
print "\nreproduce one row: $res{hold}{cluster}[0]{command}\n";

$_->stop for values %srv;

#!/usr/bin/perl
# make bench-jwt (and a part of make bench): holds whose user comes from a
# bearer token (booking_jwt on) beside holds whose user comes from
# booking_user (X-User-Id, set by an auth step in front), one run, the
# same module, nginx.conf and 1,000 cars.  Tokens are minted by
# python3-jwt (t/lib/jwt_mint.py) for 10,000 users, RS256 (RSA 2048) and
# ES256, in two sets each:
#
# - 1,000 tokens: after its first use in a worker, each is found in that
#   worker's cache of verified tokens (4,096 entries): the cost of a client
#   that sends its token again and again, as clients do;
# - 20,000 tokens: most are not in the cache (4,096 entries a worker):
#   the cost of verifying nearly every request.
#
# For each row: wrk's throughput and latency, and the CPU of the nginx
# workers per request (utime + stime from /proc).
#
#   perl tests/bench/jwt.pl [--seconds 10] [--rounds 2]

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../t/lib";
use File::Temp ();
use Getopt::Long;
use JSON::PP ();
use List::Util qw(sum);
use POSIX qw(floor);
use Time::HiRes qw(time);
use BookingTest;
use BookingRace ();

my ($SECS, $ROUNDS, $N) = ($ENV{BENCH_SECONDS} // 10, $ENV{BENCH_ROUNDS} // 2, 1000);
GetOptions('seconds=i' => \$SECS, 'rounds=i' => \$ROUNDS)
    or die "usage: $0 [--seconds N] [--rounds N]\n";
my $WRK_LUA = "$FindBin::Bin/wrk.lua";
my $MINT = "$FindBin::Bin/../../t/lib/jwt_mint.py";
my $CLK = POSIX::sysconf(POSIX::_SC_CLK_TCK());

my $dir = File::Temp::tempdir('ngx-booking-bench-jwt-XXXXXX', TMPDIR => 1, CLEANUP => 1);
system('/usr/bin/python3', $MINT, 'keys', $dir) == 0 or die "jwt_mint.py keys failed\n";

# the token files: one token a line, each user's own
my $exp = int(time) + 86400;
for my $set ([ rs256 => 'rs', 'RS256' ], [ es256 => 'es256', 'ES256' ]) {
    my ($name, $kid, $alg) = @$set;
    my @reqs = map { { key => $kid, alg => $alg, header => { kid => $kid },
                       claims => { sub => 'u' . ($_ % 10000), exp => $exp } } } 1 .. 20000;
    open my $in, '>', "$dir/req.json" or die $!;
    print $in JSON::PP->new->encode(\@reqs);
    close $in;
    my @tok = @{ JSON::PP->new->decode(scalar `/usr/bin/python3 $MINT mint $dir < $dir/req.json`) };
    die "minting $alg failed\n" unless @tok == 20000;
    for my $n (1000, 20000) {
        open my $out, '>', "$dir/$name-$n.txt" or die $!;
        print $out "$_\n" for @tok[0 .. $n - 1];
        close $out;
    }
}

my $t = BookingTest->new(workers => 2, http => <<"EOT", server => <<'EOS');
booking_type car slot=1h hold=10m min=1h max=14d;
booking_user \$http_x_user_id;
booking_jwt_keys $dir/jwks.json;
EOT
location /api/ { booking_api; booking_jwt on; }
location /plain/ { booking_api; }
location /admin/ { booking_api admin; }
EOS
my $now = time;
my $T0 = (floor($now / 3600) + 3) * 3600;

my $c = BookingRace::Conn->new($t->port);
for my $i (0 .. $N - 1) {
    my $r = $c->request(PUT => sprintf('/admin/resources/car-%012d', $i),
                        { 'Content-Type' => 'application/json' },
                        '{"type":"car","capacity":1000}');
    die "PUT: $r->{status}\n" unless $r->{status} == 201;
}

sub worker_cpu {
    my $s = 0;
    for my $pid ($t->worker_pids) {
        open my $fh, '<', "/proc/$pid/stat" or next;
        my @f = split ' ', (<$fh> =~ s/^.*\) //r);
        $s += $f[11] + $f[12];
    }
    return $s / $CLK;
}

# each row writes its holds into its own 30 days, so that none collides
my $window = 0;
sub run {
    my ($path, $mode, @file) = @_;
    my $t0 = $T0 + 24 * 3600 * 30 * $window++;
    my @cmd = ('wrk', '-t2', '-c64', "-d${SECS}s", '--latency', '-s', $WRK_LUA,
               '-H', 'X-User-Id: u1', 'http://127.0.0.1:' . $t->port . $path, '--',
               $mode, @file, 'car-', $N, $t0, 24 * 30, 3600);
    my $cpu0 = worker_cpu();
    my $out = `@{[ map { "'$_'" } @cmd ]} 2>&1`;
    my $cpu = worker_cpu() - $cpu0;
    my ($n) = $out =~ /(\d+) requests in/;
    my ($rps) = $out =~ /Requests\/sec:\s+([\d.]+)/;
    my ($p50) = $out =~ /^\s+50%\s+(\S+)/m;
    my ($p99) = $out =~ /^\s+99%\s+(\S+)/m;
    my ($ok, $c409, $other) = $out =~ /BENCH ok=(\d+) c409=(\d+) other=(\d+)/;
    die "wrk failed:\n$out\n" unless $n && defined $ok;
    return { rps => $rps, p50 => $p50, p99 => $p99, usec => $cpu * 1e6 / $n,
             other => $other + $c409, command => join(' ', @cmd) };
}

my @ROWS = (
    [ 'booking_user (X-User-Id)', 'hold' ],
    [ 'RS256, 1,000 tokens (cached)', 'jwt', "$dir/rs256-1000.txt" ],
    [ 'ES256, 1,000 tokens (cached)', 'jwt', "$dir/es256-1000.txt" ],
    [ 'RS256, 20,000 tokens (mostly verified)', 'jwt', "$dir/rs256-20000.txt" ],
    [ 'ES256, 20,000 tokens (mostly verified)', 'jwt', "$dir/es256-20000.txt" ],
);

my %res;
for my $round (1 .. $ROUNDS) {
    for my $row ($round % 2 ? @ROWS : reverse @ROWS) {
        my ($name, $mode, @file) = @$row;
        my $path = $mode eq 'hold' ? '/plain/bookings' : '/api/bookings';
        push @{ $res{$name} }, run($path, $mode, @file);
    }
}

sub med {
    my @v = sort { $a <=> $b } @_;
    return $v[ int(@v / 2) ];
}

printf "%d cars, 10,000 users, 2 workers, wrk -t2 -c64 -d%ds --latency, %d rounds (medians), %s\n\n",
       $N, $SECS, $ROUNDS, scalar localtime;
print "| holds, the user from | requests/s | p50 | p99 | nginx workers' CPU us/request | errors |\n";
print "|---|---:|---:|---:|---:|---:|\n";
for my $row (@ROWS) {
    my @r = @{ $res{ $row->[0] } };
    printf "| %s | %.0f | %s | %s | %.1f | %d |\n", $row->[0],
           med(map { $_->{rps} } @r), $r[-1]{p50}, $r[-1]{p99},
           med(map { $_->{usec} } @r), sum(map { $_->{other} } @r);
}
print "\nreproduce: make bench-jwt BENCH_SECONDS=$SECS\n";

$t->stop;

#!/usr/bin/perl
# make bench-compare BASE=<revision>: this module against the module of an
# earlier revision, side by side in one run, in alternating rounds.
#
#   perl tests/bench/compare.pl --base REV [--rounds 3] [--seconds 8] [--only hold,cached]
#                               [--connections 32]
#
# --connections 1: one request at a time, where a round trip saved shows
# (32, the default, keeps the 2 cores busy: what a request costs shows).
#
# Both are built from their own sources (REV's in build/compare/REV, with
# its own Makefile), each runs in its own nginx (2 workers) with its own
# redis-server, seeded the same way through the API, so that each stores
# what its own scripts store.  Each operation runs once on each side per
# round, in another order each round (A B, then B A, ...); the table shows
# each side's median run, and Redis's own time per request: what a request
# sends Redis itself (counted once under MONITOR), each command at the
# usec_per_call INFO commandstats gives for the run (a script's includes
# every command it ran); and Redis's CPU (INFO cpu) per request.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../t/lib";
use Cwd ();
use Getopt::Long;
use IO::Select;
use IO::Socket::INET;
use List::Util qw(sum);
use POSIX qw(floor);
use Time::HiRes qw(time sleep);
use BookingTest;

my $REPO = Cwd::abs_path("$FindBin::Bin/../..");
my $WRK_LUA = "$FindBin::Bin/wrk.lua";

my ($BASE, $ROUNDS, $SECS, $N, $ONLY, $CONNS) = (undef, 3, 8, 1000, '', 32);
GetOptions('base=s' => \$BASE, 'rounds=i' => \$ROUNDS, 'seconds=i' => \$SECS,
           'resources=i' => \$N, 'only=s' => \$ONLY, 'connections=i' => \$CONNS)
    && $CONNS >= 1
    or die "usage: $0 --base REV [--rounds N] [--seconds N]\n";
die "usage: $0 --base REV [--rounds N] [--seconds N]\n" unless $BASE;

system('sh', "$REPO/conf/deps.sh", 'wrk') == 0 or die "wrk is needed\n";

# ------------------------------------------------------------ the two modules

sub build_base {
    my $rev = `git -C $REPO rev-parse --short=12 $BASE` or die "no revision $BASE\n";
    chomp $rev;
    my $dir = "$REPO/build/compare/$rev";
    my $so = "$dir/build/ngx_http_booking_module.so";
    return ($rev, $so) if -f $so;
    system("rm -rf $dir && mkdir -p $REPO/build/compare "
           . "&& git -C $REPO archive --prefix=$rev/ $rev | tar -x -C $REPO/build/compare")
        == 0 or die "cannot unpack $rev\n";
    system("make -s -C $dir module >$dir.log 2>&1") == 0
        or die "cannot build $rev: see $dir.log\n";
    return ($rev, $so);
}

my ($rev, $base_so) = build_base();
my $head = `git -C $REPO rev-parse --short=12 HEAD`;
chomp $head;
my $dirty = `git -C $REPO status --porcelain --untracked-files=no` ne '' ? '+' : '';

my $HTTP = <<'EOT';
booking_type room  slot=1d hold=15m min=1d max=30d horizon=3650d;
booking_type car   slot=1h hold=10m min=1h max=14d;
booking_type ride  slot=15m hold=10m;
booking_user $http_x_user_id;
booking_cache zone=bench:16m valid=1s;
EOT

my %side;
for my $s ([ 'A', $base_so, "$rev (base)" ], [ 'B', BookingTest::module_path(), "$head$dirty (this)" ]) {
    local $ENV{BOOKING_MODULE} = $s->[1];
    my $t = BookingTest->new(workers => 2, http => $HTTP);
    $side{ $s->[0] } = { t => $t, name => $s->[2] };
}

# ------------------------------------------------------------ seeding

# Requests in bulk over a few keep-alive connections: what each side makes
# of them is its own business.
sub bulk {
    my ($t, @reqs) = @_;
    my @socks = map {
        IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port, Proto => 'tcp')
            or die "connect: $!\n";
    } 1 .. 8;
    my $i = 0;
    my (%out, %pending, %buf);
    for my $r (@reqs) {
        my $s = $socks[ $i++ % @socks ];
        $out{$s} .= $r;
        $pending{$s}++;
    }
    my $bad = 0;
    for my $s (@socks) {
        next unless $pending{$s};
        my $w = $out{$s};
        while (length $w) {
            my $n = syswrite($s, $w);
            die "write: $!\n" unless defined $n;
            substr($w, 0, $n, '');
        }
    }
    my $sel = IO::Select->new(grep { $pending{$_} } @socks);
    my $deadline = time + 120;
    while ($sel->count && time < $deadline) {
        for my $s ($sel->can_read(1)) {
            my $n = sysread($s, my $chunk, 1 << 16);
            if (!$n) { $sel->remove($s); next }
            $buf{$s} .= $chunk;
            while ($buf{$s} =~ /\AHTTP\/1\.1 (\d+)[^\r]*\r\n(.*?)\r\n\r\n/s) {
                my ($st, $h) = ($1, $2);
                my $len = $h =~ /content-length:\s*(\d+)/i ? $1 : 0;
                my $total = length($&) + $len;
                last if length $buf{$s} < $total;
                substr($buf{$s}, 0, $total, '');
                $bad++ if $st >= 400 && $st != 409;
                $sel->remove($s) unless --$pending{$s};
            }
        }
    }
    close $_ for @socks;
    return $bad;
}

sub req {
    my ($method, $path, $body, $user) = @_;
    return "$method $path HTTP/1.1\r\nHost: b\r\n"
         . ($user ? "X-User-Id: $user\r\n" : '')
         . ($body ? 'Content-Type: application/json' . "\r\nContent-Length: " . length($body) . "\r\n" : '')
         . "\r\n" . ($body // '');
}

my $now = time;
my $H0 = (floor($now / 3600) + 3) * 3600;      # the next hours, for cars
my $D = 30 * 86400;

for my $k (sort keys %side) {
    my $t = $side{$k}{t};
    my @put;
    for my $i (0 .. $N - 1) {
        push @put, req('PUT', sprintf('/admin/resources/c%012d', $i),
                       sprintf('{"type":"car","capacity":2,"title":"Car %d","owner":"o%d",'
                               . '"location":{"lat":%.5f,"lon":%.5f},"attributes":{"seats":5}}',
                               $i, $i % 50, 48.39 + ($i % 100) / 1000, -4.49 + int($i / 100) / 1000));
    }
    my $bad = bulk($t, @put);
    # a third of the next 30 days taken: a block of 8 hours in every 24
    my @book;
    for my $i (0 .. $N - 1) {
        for my $d (0 .. 29) {
            my $s = $H0 + $d * 86400 + ($i % 16) * 3600;
            push @book, req('POST', '/admin/bookings',
                            sprintf('{"resource":"c%012d","kind":"block","start":"%s","end":"%s"}',
                                    $i, iso($s), iso($s + 8 * 3600)));
        }
    }
    $bad += bulk($t, @book);
    print STDERR "seeded $side{$k}{name}: $N cars, ", scalar @book, " blocks, $bad errors\n";
}

sub iso { return POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $_[0]) }

# ------------------------------------------------------------ measuring

# usec_per_call of every command, and Redis's CPU seconds so far
sub redis_stats {
    my ($t) = @_;
    my %per;
    for (split /\r?\n/, $t->redis('INFO', 'commandstats')) {
        $per{ uc $1 } = { calls => $2, usec => $3 } if /^cmdstat_(\w+):calls=(\d+),usec=(\d+)/;
    }
    my ($cpu) = 0;
    for (split /\r?\n/, $t->redis('INFO', 'cpu')) {
        $cpu += $1 if /^used_cpu_(?:user|sys):([\d.]+)/;
    }
    return (\%per, $cpu);
}

# What one request sends Redis itself (not what its scripts run), counted
# once on a short run under MONITOR: Redis's time per request is then each
# such command's usec_per_call (a script's includes all it ran) times how
# many a request sends.
sub top_level {
    my ($k, $op) = @_;
    my $t = $side{$k}{t};
    my $mon = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->redis_port, Proto => 'tcp')
        or die "monitor: $!\n";
    print $mon "MONITOR\r\n";
    my @cmd = ('wrk', '-t1', '-c4', '-d1s', '-s', $WRK_LUA,
               (map { ('-H', $_) } @{ $op->{headers} || [] }),
               'http://127.0.0.1:' . $t->port . $op->{path}, '--', @{ $op->{args}->() });
    open my $ph, '-|', @cmd or die "wrk: $!\n";
    local $/;
    my $out = <$ph> // '';
    close $ph;
    sleep 0.3;
    my ($buf, %n) = ('');
    $mon->blocking(0);
    while (1) {
        my $r = sysread($mon, my $chunk, 1 << 20);
        last unless $r;
        $buf .= $chunk;
    }
    close $mon;
    while ($buf =~ /^\+[\d.]+ \[\d+ ([^\]]+)\] "(\w+)"/mg) {
        my ($client, $cmd) = ($1, uc $2);
        next if $client eq 'lua' || $cmd eq 'MONITOR' || $cmd eq 'INFO' || $cmd eq 'CONFIG';
        $n{$cmd}++;
    }
    my ($req) = $out =~ /(\d+) requests in/;
    die "wrk failed under MONITOR:\n$out\n" unless $req;
    return { map { $_ => $n{$_} / $req } keys %n };
}

my $window = 0;

sub run {
    my ($k, $op) = @_;
    my $t = $side{$k}{t};
    my @args = @{ $op->{args}->() };
    my @cmd = ('wrk', '-t' . ($CONNS < 2 ? 1 : 2), "-c$CONNS", "-d${SECS}s", '--latency',
               '-s', $WRK_LUA,
               (map { ('-H', $_) } @{ $op->{headers} || [] }),
               'http://127.0.0.1:' . $t->port . $op->{path}, '--', @args);
    $t->redis('CONFIG', 'RESETSTAT');
    my (undef, $cpu0) = redis_stats($t);
    open my $ph, '-|', @cmd or die "wrk: $!\n";
    local $/;
    my $out = <$ph> // '';
    close $ph;
    my ($per, $cpu1) = redis_stats($t);
    my %r;
    ($r{requests}) = $out =~ /(\d+) requests in/;
    ($r{rps}) = $out =~ /Requests\/sec:\s+([\d.]+)/;
    ($r{p99}) = $out =~ /^\s+99%\s+(\S+)/m;
    ($r{p50}) = $out =~ /^\s+50%\s+(\S+)/m;
    @r{qw(ok c409 other)} = $out =~ /BENCH ok=(\d+) c409=(\d+) other=(\d+)/;
    die "wrk failed on $k $op->{name}:\n$out\n" unless $r{requests};
    my $top = $op->{top}{$k};
    $r{usec} = sum(0, map { $top->{$_} * ($per->{$_} && $per->{$_}{calls}
                                          ? $per->{$_}{usec} / $per->{$_}{calls} : 0) } keys %$top);
    $r{cmds} = sum(0, map { $_->{calls} } grep { defined } @{$per}{ grep { !/^(?:INFO|CONFIG)$/ } keys %$per })
               / $r{requests};
    $r{cpu} = ($cpu1 - $cpu0) * 1e6 / $r{requests};
    $r{errors} = $r{other};
    sleep 0.5;
    return \%r;
}

my @OPS = (
    { name => 'availability, 30 days of 1h slots', path => '/', headers => [ 'X-User-Id: u1' ],
      args => sub { [ 'avail', 'c', $N, iso($H0), iso($H0 + $D) ] } },
    { name => 'hold (a random car and hour)', path => '/',
      args => sub { my $t0 = $H0 + (40 + 8 * $window++) * 86400;
                    [ 'hold', 'c', $N, $t0, 7 * 24, 3600 ] } },
    { name => 'hold, then confirm', path => '/',
      args => sub { my $t0 = $H0 + (40 + 8 * $window++) * 86400;
                    [ 'pair', 'c', $N, $t0, 7 * 24, 3600 ] } },
    { name => 'listing page, uncached (a user)', path => '/api/resources?type=car&limit=20',
      headers => [ 'X-User-Id: u1' ], args => sub { ['get'] } },
    { name => 'listing page, 30 days, uncached',
      path => '/api/resources?type=car&limit=20&from=' . iso($H0) . '&to=' . iso($H0 + $D),
      headers => [ 'X-User-Id: u1' ], args => sub { ['get'] } },
    { name => 'listing page, cached', path => '/api/resources?type=car&limit=20',
      args => sub { ['get'] } },
);

# --only hold,cached: the operations whose names hold one of these words
@OPS = grep { my $n = $_->{name}; grep { index($n, $_) >= 0 } split /,/, $ONLY } @OPS if $ONLY;

for my $op (@OPS) {
    $op->{top}{$_} = top_level($_, $op) for sort keys %side;
}

my %res;
for my $round (1 .. $ROUNDS) {
    my @order = $round % 2 ? qw(A B) : qw(B A);
    for my $op (@OPS) {
        for my $k (@order) {
            push @{ $res{ $op->{name} }{$k} }, run($k, $op);
        }
    }
    print STDERR "round $round done\n";
}

sub median {
    my @s = sort { $a->{rps} <=> $b->{rps} } @_;
    return $s[ $#s / 2 ];
}

printf "base: %s, this: %s; wrk -t%d -c%d -d%ds, %d rounds, medians; %d cars\n\n",
       $side{A}{name}, $side{B}{name}, $CONNS < 2 ? 1 : 2, $CONNS, $SECS, $ROUNDS, $N;
print "| operation | base req/s | this req/s | this / base | p50, base | this | Redis us/req, base | this | Redis CPU us/req, base | this | commands/req, base | this | errors | rounds (this / base) |\n";
print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n";
for my $op (@OPS) {
    my ($a, $b) = (median(@{ $res{ $op->{name} }{A} }), median(@{ $res{ $op->{name} }{B} }));
    my @ratios = map { sprintf '%.2f', $res{ $op->{name} }{B}[$_]{rps} / $res{ $op->{name} }{A}[$_]{rps} }
                 0 .. $ROUNDS - 1;
    my $errors = sum(map { $_->{errors} // 0 } @{ $res{ $op->{name} }{A} }, @{ $res{ $op->{name} }{B} });
    printf "| %s | %.0f | %.0f | %.2f | %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %d | %s |\n",
           $op->{name}, $a->{rps}, $b->{rps}, $b->{rps} / $a->{rps}, $a->{p50} // '?', $b->{p50} // '?',
           $a->{usec}, $b->{usec},
           $a->{cpu}, $b->{cpu}, $a->{cmds}, $b->{cmds}, $errors, join(', ', @ratios);
}

$_->{t}->stop for values %side;

#!/usr/bin/perl
# make bench-prelude: what every call of each script costs Redis before its
# body runs.  A script is its contract's locals, the functions of
# common.lua it uses and its body, all one chunk that Redis runs whole at
# every EVALSHA: each helper is a closure made again, each of its upvalues
# bound again (issue 12).  For each script, in one redis-server:
#
#   empty    EVALSHA of "return 1" with the script's KEYS and ARGV
#   prelude  EVALSHA of the script cut before its body
#   library  FCALL of a function of a library (FUNCTION LOAD) whose
#            helpers were made once, when it was loaded, and whose
#            function only sets the per-call locals (KEYS, RID) as the
#            script's prelude would
#
# Redis's own usec per call (INFO commandstats) under redis-benchmark, 32
# connections, pipelines of 16.
#
#   perl tests/bench/prelude.pl [--requests 200000] [--script booking_create]

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../t/lib";
use File::Temp qw(tempdir);
use Getopt::Long;
use IO::Socket::INET;
use BookingTest;

my ($N, @ONLY) = (200000);
GetOptions('requests=i' => \$N, 'script=s' => \@ONLY)
    or die "usage: $0 [--requests N] [--script NAME]...\n";

my $dir = "$FindBin::Bin/../../ngx_module/scripts";
my $port = BookingTest::free_port();
my $tmp = tempdir(CLEANUP => 1);
my $pid = fork // die "fork: $!";
if ($pid == 0) {
    exec 'redis-server', '--port', $port, '--bind', '127.0.0.1', '--save', '',
         '--appendonly', 'no', '--dir', $tmp, '--logfile', "$tmp/redis.log";
    die "redis-server: $!";
}
END { kill 'TERM', $pid if $pid; waitpid $pid, 0 if $pid }
for (1 .. 50) {
    last if IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port);
    select undef, undef, undef, 0.1;
}

sub redis {
    my @args = @_;
    open my $fh, '-|', 'redis-cli', '-p', $port, @args or die "redis-cli: $!";
    local $/;
    my $out = <$fh>;
    close $fh;
    $out =~ s/\s+\z//;
    return $out;
}

sub slurp { my ($cmd) = @_; my $o = `$cmd`; die "$cmd: $?\n" if $?; return $o }

# Redis's usec per call of cmd, under redis-benchmark
sub usec {
    my ($cmd, @args) = @_;
    redis('CONFIG', 'RESETSTAT');
    open my $out, '>&', \*STDOUT or die "dup: $!";
    open STDOUT, '>', '/dev/null' or die "/dev/null: $!";
    my $rc = system('redis-benchmark', '-p', $port, '-n', $N, '-c', 32, '-P', 16, '-q', @args);
    open STDOUT, '>&', $out or die "dup: $!";
    $rc == 0 or die "redis-benchmark failed\n";
    my ($u) = redis('INFO', 'commandstats') =~ /^cmdstat_\Q$cmd\E:.*usec_per_call=([\d.]+)/m
        or die "no $cmd in INFO commandstats\n";
    return $u;
}

my @scripts = @ONLY ? @ONLY : split ' ', slurp("awk -v mode=list -f $dir/contract.awk $dir/contract");

printf "| script | helpers | empty EVALSHA us | prelude EVALSHA us | library FCALL us |\n";
printf "|---|---:|---:|---:|---:|\n";

for my $s (@scripts) {
    my $head = slurp("head -n 1 $dir/$s.lua");
    my $contract = slurp("awk -v mode=lua -v script=$s -f $dir/contract.awk $dir/contract");
    my $common = slurp("awk -f $dir/shake.awk $dir/common.lua $dir/$s.lua");
    my $prelude = $head . $contract . $common;
    my ($nk, $na) = (0, 0);
    $nk = $1 > $nk ? $1 : $nk while $contract =~ /KEYS\[(\d+)\]/g;
    $na = $1 > $na ? $1 : $na while $contract =~ /ARGV\[(\d+)\]/g;
    my @keys = map { "bk:{s00}:r:bench$_" } 1 .. $nk;
    my @args = map { "a$_" } 1 .. $na;
    my $helpers = () = $common =~ /^local function /mg;

    my $empty = redis('SCRIPT', 'LOAD', "return 1");
    my $cut = redis('SCRIPT', 'LOAD', $prelude . "do return 1 end\n");
    die "$s: $cut\n" unless $cut =~ /^[0-9a-f]{40}$/;

    # the library: the same locals, set per call; nothing at load time may
    # call the string library (Redis 7.0 loads a library without it)
    (my $lib = $contract . $common) =~ s/^(local \w+) = (?:KEYS|ARGV)\[\d+\].*$/$1/mg;
    $lib =~ s/^local INT = .*$/local INT = '%d'/m;
    $lib =~ s/^local RID = .*$/local RID/m;
    $lib =~ s/^local ZERO4 = .*$/local ZERO4 = '\\0\\0\\0\\0'/m;
    my $set = '';
    $set .= "$1 = KEYS[$2]; " while $contract =~ /^local (\w+) = KEYS\[(\d+)\]/mg;
    $set .= "$1 = ARGV[$2]; " while $contract =~ /^local (\w+) = ARGV\[(\d+)\]/mg;
    $set .= "RID = K_R and string.match(K_R, '^bk:{s%x+}:r:(.*)\$'); " if $lib =~ /^local RID$/m;
    my $loaded = redis('FUNCTION', 'LOAD', 'REPLACE', "#!lua name=bench_$s\n$lib\n"
        . "redis.register_function('bench_$s', function(KEYS, ARGV) ${set}return 1 end)\n");
    die "$s: $loaded\n" unless $loaded eq "bench_$s";

    printf "| %s | %d | %.2f | %.2f | %.2f |\n", $s, $helpers,
        usec('evalsha', 'EVALSHA', $empty, $nk, @keys, @args),
        usec('evalsha', 'EVALSHA', $cut, $nk, @keys, @args),
        usec('fcall', 'FCALL', "bench_$s", $nk, @keys, @args);
}

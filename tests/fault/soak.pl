#!/usr/bin/perl
# Soak: the mixed load of tests/fault/lib/FaultLoad.pm for --minutes (10)
# on fresh servers (nginx with 2 workers), sampling each worker's RSS
# (VmRSS in /proc/PID/status) every 10 s.  Prints the samples and, per
# worker, the growth from the first sample after a 1 minute warm-up to the
# last.  Then the FaultCheck of what Redis holds (--no-check skips it).
# Exits 1 if a worker grew more than 1 MB after warm-up or died (or the
# error log shows a crash), if a check failed, or on answers the contract
# does not allow (hangs, broken responses, 500s); 503 and 504 are counted
# and shown, with Redis's own record of its stalls, but are no failure.
#
#   perl tests/fault/soak.pl [--minutes M] [--clients N] [--no-check] [--keep]

use strict;
use warnings;

use Cwd ();
use File::Basename ();
use Getopt::Long ();
use Time::HiRes qw(time sleep);

my ($HERE, $REPO);
BEGIN {
    $HERE = File::Basename::dirname(Cwd::abs_path(__FILE__));
    $REPO = Cwd::abs_path("$HERE/../..");
}
use lib "$HERE/lib", "$REPO/t/lib";

use BookingTest ();
use FaultServers ();
use FaultLoad ();
use FaultCheck ();

$| = 1;
my %opt = (minutes => 10, clients => 6, check => 1, interval => 10, warmup => 60,
           limit_kb => 1024);
Getopt::Long::GetOptions(\%opt, 'minutes=f', 'clients=i', 'check!', 'keep', 'interval=i',
                         'warmup=i')
    or die "usage: $0 [--minutes M] [--clients N] [--no-check] [--keep]\n";
$ENV{BOOKING_KEEP} = 1 if $opt{keep};
my $seconds = int($opt{minutes} * 60);
die "--minutes must leave time after the warm-up\n" if $seconds <= $opt{warmup};
die "no module at " . BookingTest::module_path() . ": run make module\n"
    unless -f BookingTest::module_path();

my $t = FaultServers->new(workers => 2);
my ($res, $window) = FaultServers::setup_resources($t);
my @workers = $t->worker_pids;
print "soak: $opt{minutes} min, $opt{clients} clients, nginx workers @workers, "
    . "samples every $opt{interval} s, warm-up $opt{warmup} s\n";

my $load = FaultLoad->new(port => $t->port, resources => $res, window => $window,
                          clients => $opt{clients}, seconds => $seconds, drain => 30,
                          dir => $t->dir . '/load', tag => 'soak', log => $opt{check});
$load->start;

my (%samples, @times, %died);
my $next = 0;
my $bound = int($seconds / $opt{interval}) + 5;
for my $i (0 .. $bound) {
    sleep 0.05 while $load->elapsed < $next;
    my $at = $load->elapsed;
    last if $at > $seconds + 1;
    push @times, $at;
    my @line;
    for my $pid (@workers) {
        my $rss = rss($pid);
        if (!defined $rss) {
            $died{$pid} //= $at;
            push @line, "$pid: gone";
            next;
        }
        $samples{$pid}[$#times] = $rss;
        push @line, "$pid: $rss kB";
    }
    my @now = $t->worker_pids;
    my %known = map { $_ => 1 } @workers;
    push @line, 'new workers: ' . join(' ', grep { !$known{$_} } @now)
        if grep { !$known{$_} } @now;
    printf "  %6.1f s  %s\n", $at, join('  ', @line);
    $next += $opt{interval};
    last if $next > $seconds;
}

my $stats = $load->finish;
my $fail = 0;

print "\nRSS per worker (kB): first sample at or after $opt{warmup} s, last sample, growth\n";
for my $pid (@workers) {
    my $s = $samples{$pid} || [];
    my ($w) = grep { defined $s->[$_] && $times[$_] >= $opt{warmup} } 0 .. $#times;
    my ($l) = grep { defined $s->[$_] } reverse 0 .. $#times;
    if (!defined $w || !defined $l) {
        print "  worker $pid: no samples after the warm-up\n";
        $fail++;
        next;
    }
    my $growth = $s->[$l] - $s->[$w];
    my $bad = $growth > $opt{limit_kb} || $died{$pid};
    printf "  worker %d: %d kB at %.0f s, %d kB at %.0f s, growth %+d kB (first sample %d kB)%s%s\n",
        $pid, $s->[$w], $times[$w], $s->[$l], $times[$l], $growth, $s->[0] // 0,
        $died{$pid} ? sprintf(', DIED (gone at %.0f s)', $died{$pid}) : '',
        $growth > $opt{limit_kb} ? ", OVER $opt{limit_kb} kB" : '';
    $fail++ if $bad;
}

my $secs = $seconds || 1;
printf "\nrequests: %d (%.0f/s), p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", $stats->{requests},
    $stats->{requests} / $secs, 1000 * $stats->{p50}, 1000 * $stats->{p99},
    1000 * $stats->{max_latency};
print "slowest answers: ", join('; ', map { sprintf('%.3f s at %.0f s (%s, %s)', @$_) }
                                  @{ $stats->{slowest} }), "\n" if @{ $stats->{slowest} };
print "answers by status: ", join(', ', map { "$_: $stats->{status}{$_}" }
                                  sort keys %{ $stats->{status} }), "\n";
print "by operation: ", join('; ', map {
    my $op = $_;
    "$op " . join(',', map { "$_:$stats->{op}{$op}{$_}" } sort keys %{ $stats->{op}{$op} })
} sort keys %{ $stats->{op} }), "\n";
# 503 and 504 are the contract's answers to a Redis that is away or slow
# (the host's stalls: see Redis's latency record below); the others are not
my %kinds = %{ $stats->{err} };
$kinds{"status $_"} = $stats->{status}{$_} for grep { $_ >= 500 } keys %{ $stats->{status} };
$kinds{unexpected} = $stats->{unexpected} if $stats->{unexpected};
$kinds{unresolved} = $stats->{unresolved} if $stats->{unresolved};
$kinds{'bad availability'} = $stats->{avail_bad} if $stats->{avail_bad};
print "errors by kind: ", (%kinds ? join(', ', map { "$_: $kinds{$_}" } sort keys %kinds)
                                  : 'none'), "\n";
print "  sample: $_\n" for @{ $stats->{samples} };
my @stalls = $t->redis_stalls;
print "redis stalls over 100 ms: ", (@stalls ? join('; ', @stalls) : 'none'), "\n";
my @bad_kinds = grep { !/^status 50[34]$/ } keys %kinds;
$fail++ if @bad_kinds;

my @crash = $t->crashes;
my @alerts = $t->check_error_log;
print "error log: ", scalar(@crash), " crashes, ", scalar(@alerts), " alert/crit/emerg lines\n";
my @shown = (@crash, @alerts);
splice(@shown, 10) if @shown > 10;
print "  $_\n" for @shown;
$fail++ if @crash || @alerts;

if ($opt{check}) {
    my $c = FaultCheck::run(t => $t, logs => [ $load->logs ], resources => $res,
                            window => $window);
    printf "check: %d bookings checked (%d in Redis), lost %d, wrong state %d, doubled %d, "
        . "phantom %d, over capacity %d, availability differs %d\n",
        $c->{checked}, $c->{redis_bookings}, $c->{lost}, $c->{wrong_state}, $c->{doubled},
        $c->{phantom}, $c->{over_capacity}, $c->{avail_mismatch};
    print "  - $_\n" for @{ $c->{problems} };
    $fail++ if grep { $c->{$_} } qw(lost wrong_state doubled phantom over_capacity
                                   avail_mismatch);
}
my ($redis_mem) = ($t->redis('INFO', 'memory') // '') =~ /^used_memory_human:(\S+)/m;
print "redis used_memory at the end: ", $redis_mem // '?', "\n";

$t->stop;
print $fail ? "\nSOAK FAIL\n" : "\nSOAK PASS\n";
exit($fail ? 1 : 0);

sub rss {
    my ($pid) = @_;
    open(my $fh, '<', "/proc/$pid/status") or return undef;
    local $/;
    my $s = <$fh>;
    return $s =~ /^VmRSS:\s*(\d+)\s*kB/m ? $1 : undef;
}

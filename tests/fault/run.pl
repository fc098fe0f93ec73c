#!/usr/bin/perl
# Fault injection under load: for each scenario, fresh servers (Redis with
# appendonly yes + appendfsync always, nginx with 4 workers, 300 ms Redis
# timeout), 20 resources, the mixed load of 6 clients for --seconds (20)
# with the fault at 40% of it, then FaultCheck against Redis.  One summary
# line per scenario, a table at the end; exit 1 if any check failed.
#
#   perl tests/fault/run.pl [--seconds N] [--clients N] [--keep] [scenario...]
#
# Scenarios: kill (a) pause (b) oom (c) clientkill (d) reload (e)
# upgrade (f) sleep (g: Redis blocked by DEBUG SLEEP after it ran commands
# whose replies are not sent yet, so that a 504 hides a booking made),
# behind Redis Sentinel (two replicas, three sentinels, booking_redis_replicas
# 1): failover (h: the master SIGKILLed), zombie (i: the master SIGSTOPped
# until a replica is promoted, then SIGCONTed), switch (j: SENTINEL
# FAILOVER with the master alive), and none (no fault, a control run; not
# in the default set).
# The last run's logs are kept in build/fault/<scenario>/.

use strict;
use warnings;

use Cwd ();
use File::Basename ();
use File::Copy ();
use File::Path ();
use Getopt::Long ();
use Time::HiRes qw(time sleep);

my $HERE;
my $REPO;
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
my %opt = (seconds => 20, clients => 6, replicas => 1);
Getopt::Long::GetOptions(\%opt, 'seconds=i', 'clients=i', 'replicas=i', 'keep', 'help')
    or die "usage: $0 [--seconds N] [--clients N] [--replicas N] [--keep] [scenario...]\n";
if ($opt{help}) {
    print "usage: $0 [--seconds N] [--clients N] [--replicas N] [--keep] [scenario...]\n",
          "  --replicas N   booking_redis_replicas of the sentinel scenarios (1; 0 measures\n",
          "                 what a failover loses without WAIT)\n",
          "scenarios: kill pause oom clientkill reload upgrade sleep failover zombie switch\n",
          "           (a-j), none\n";
    exit 0;
}
$ENV{BOOKING_KEEP} = 1 if $opt{keep};
die "--seconds must be at least 6\n" if $opt{seconds} < 6;

my @ALL = qw(kill pause oom clientkill reload upgrade sleep failover zombie switch);
my %LETTER = (a => 'kill', b => 'pause', c => 'oom', d => 'clientkill', e => 'reload',
              f => 'upgrade', g => 'sleep', h => 'failover', i => 'zombie', j => 'switch');
my %FAULT = (
    none       => \&fault_none,
    kill       => \&fault_kill,
    pause      => \&fault_pause,
    oom        => \&fault_oom,
    clientkill => \&fault_clientkill,
    reload     => \&fault_reload,
    upgrade    => \&fault_upgrade,
    sleep      => \&fault_sleep,
    failover   => \&fault_failover,
    zombie     => \&fault_zombie,
    switch     => \&fault_switch,
);
my %SENTINEL = (failover => 1, zombie => 1, switch => 1);

# booking_redis_timeout and WAIT's timeout of FaultServers, and a margin
my $LONGEST = (0.3 + 0.3 + 0.2) * BookingTest::slow();
# scenarios where nginx itself closes connections: a lost connection is
# acceptable there, nowhere else
my %NGINX_RESTART = (reload => 1, upgrade => 1);

my @run = map { $LETTER{$_} // $_ } @ARGV;
@run = @ALL unless @run;
for (@run) { die "unknown scenario '$_' (try --help)\n" unless $FAULT{$_} }

die "no module at " . BookingTest::module_path() . ": run make module\n"
    unless -f BookingTest::module_path();

my @rows;
my $failed = 0;
for my $name (@run) {
    my $row = eval { scenario($name) } || { name => $name, fail => ["died: $@"] };
    push @rows, $row;
    $failed++ if @{ $row->{fail} };
}

print "\n", table(@rows);
print $failed ? "\nFAIL: $failed of " . scalar(@rows) . " scenarios\n"
              : "\nPASS: all " . scalar(@rows) . " scenarios\n";
exit($failed ? 1 : 0);

# ---------------------------------------------------------------- scenario

sub scenario {
    my ($name) = @_;
    print "== $name: starting servers\n";
    my $t = FaultServers->new(workers => 4, detached => $name eq 'upgrade',
                              sentinel => $SENTINEL{$name}, replicas => $opt{replicas});
    my ($res, $window) = FaultServers::setup_resources($t);
    my $load = FaultLoad->new(port => $t->port, resources => $res, window => $window,
                              clients => $opt{clients}, seconds => $opt{seconds},
                              drain => 30, dir => $t->dir . '/load', tag => $name);
    my @events;
    my $ev = sub {
        my ($text) = @_;
        my $e = sprintf('%6.2f s  %s', $load->elapsed, $text);
        push @events, $e;
        print "   $e\n";
    };
    $load->start;
    my $at = $opt{seconds} * 0.4;
    sleep 0.05 while $load->elapsed < $at;
    my $fault_start = $load->elapsed;
    my $fault = eval { $FAULT{$name}->($t, $ev, $load) } || { ok => 0, why => "fault died: $@" };
    my $fault_end = $load->elapsed;
    watch_failovers($t, $ev, $load, $fault) if $SENTINEL{$name} && $fault->{ok};
    my $stats = $load->finish;
    $ev->('load finished');
    my @stalls = $t->redis_stalls;
    $ev->('redis stalls over 100 ms since it started: ' . (@stalls ? join('; ', @stalls) : 'none'));
    my $check = FaultCheck::run(t => $t, logs => [ $load->logs ], resources => $res,
                                window => $window, t0 => $load->{t0},
                                during => [ $fault_start, $fault_end ]);
    $ev->('check done');
    my @crash = $t->crashes;
    my @alerts = $t->check_error_log;

    my %row = (name => $name, stats => $stats, check => $check, crashes => scalar @crash,
               alerts => scalar(@alerts), fault => $fault, events => \@events, fail => []);
    my $fail = $row{fail};
    push @$fail, "fault not injected: $fault->{why}" unless $fault->{ok};
    for my $k (qw(lost doubled phantom wrong_state over_capacity avail_mismatch)) {
        push @$fail, "$k=$check->{$k}" if $check->{$k};
    }
    push @$fail, "worker crashes=" . @crash if @crash;
    push @$fail, "alerts=" . @alerts if @alerts;
    my $err = $stats->{err};
    push @$fail, "connection lost=$err->{lost}" if $err->{lost} && !$NGINX_RESTART{$name};
    for my $k (qw(timeout invalid partial connect)) {
        push @$fail, "client $k=$err->{$k}" if $err->{$k};
    }
    push @$fail, "unexpected answers=$stats->{unexpected}" if $stats->{unexpected};
    push @$fail, "bad availability answers=$stats->{avail_bad}" if $stats->{avail_bad};
    push @$fail, "unresolved=$stats->{unresolved}" if $stats->{unresolved};
    push @$fail, "client exits: " . join(',', map { "$_:$stats->{client_exit}{$_}" }
                                         sort keys %{ $stats->{client_exit} })
        if grep { $_ } values %{ $stats->{client_exit} };
    push @$fail, "status $_ x$stats->{status}{$_}"
        for grep { $_ >= 500 && $_ != 503 && $_ != 504 } keys %{ $stats->{status} };
    push @$fail, failover_checks($fault, $check, $stats, $fault_start) if $SENTINEL{$name};

    print '   ', summary(\%row), "\n";
    print '   answers while the fault lasted (', sprintf('%.1f-%.1f s', $fault_start, $fault_end),
          '): ', join(',', map { "$_:$check->{during}{$_}" } sort keys %{ $check->{during} || {} }),
          "\n";
    print '   slowest answers: ', join('; ', map { sprintf('%.3f s at %.1f s (%s, %s)', @$_) }
                                       @{ $stats->{slowest} }), "\n" if @{ $stats->{slowest} };
    print "   - $_\n" for @{ $check->{problems} };
    print "   crash: $_\n" for @crash[0 .. ($#crash > 9 ? 9 : $#crash)];
    print "   alert: $_\n" for @alerts[0 .. ($#alerts > 9 ? 9 : $#alerts)];
    print "   sample: $_\n" for @{ $stats->{samples} };
    print "   FAIL: ", join('; ', @$fail), "\n" if @$fail;
    save_logs($t, $name, \%row);
    $t->stop;
    return \%row;
}

sub summary {
    my ($r) = @_;
    my ($s, $c) = ($r->{stats}, $r->{check});
    my $st = join ',', map { "$_:$s->{status}{$_}" } sort keys %{ $s->{status} };
    my $er = join ',', map { "$_:$s->{err}{$_}" } sort keys %{ $s->{err} };
    return sprintf('%s: requests=%d statuses={%s} conn_lost=%d other_errors={%s} '
                   . 'unexpected=%d unresolved=%d retried_creates=%d (replayed %d) '
                   . 'checked=%d lost=%d wrong_state=%d '
                   . 'doubled=%d phantom=%d over_capacity=%d avail_mismatch=%d crashes=%d '
                   . 'alerts=%d 5xx_from=%s 5xx_to=%s p99=%.3fs max=%.3fs %s',
                   $r->{name}, $s->{requests}, $st, $s->{err}{lost} // 0,
                   join(',', map { "$_:$s->{err}{$_}" } grep { $_ ne 'lost' } sort keys %{ $s->{err} }),
                   $s->{unexpected}, $s->{unresolved}, $c->{retried}, $c->{replayed},
                   $c->{checked}, $c->{lost},
                   $c->{wrong_state}, $c->{doubled}, $c->{phantom}, $c->{over_capacity},
                   $c->{avail_mismatch}, $r->{crashes}, $r->{alerts},
                   defined $c->{bad_first} ? sprintf('%.1fs', $c->{bad_first}) : '-',
                   defined $c->{bad_last} ? sprintf('%.1fs', $c->{bad_last}) : '-',
                   $s->{p99}, $s->{max_latency}, @{ $r->{fail} } ? 'FAIL' : 'PASS');
}

sub table {
    my @rows = @_;
    my @h = ('scenario', 'requests', '2xx', '409', '410', '503', '504', 'other', 'conn lost',
             'retried (replayed)', 'checked', 'lost', 'doubled', 'phantom', 'wrong', 'over cap',
             'avail diff', 'crashes', 'result');
    my @lines = (\@h);
    for my $r (@rows) {
        my ($s, $c) = ($r->{stats} || {}, $r->{check} || {});
        my %st = %{ $s->{status} || {} };
        my $ok = 0;
        $ok += $st{$_} for grep { /^2/ } keys %st;
        my $other = 0;
        $other += $st{$_} for grep { !/^(?:2..|409|410|503|504)$/ } keys %st;
        $other += $s->{err}{$_} for grep { $_ ne 'lost' } keys %{ $s->{err} || {} };
        push @lines, [ $r->{name}, $s->{requests} // '-', $ok, $st{409} // 0, $st{410} // 0,
                       $st{503} // 0, $st{504} // 0, $other, $s->{err}{lost} // 0,
                       defined $c->{retried} ? "$c->{retried} ($c->{replayed})" : '-',
                       map({ $c->{$_} // '-' } qw(checked lost doubled phantom wrong_state
                                                  over_capacity avail_mismatch)),
                       $r->{crashes} // '-', @{ $r->{fail} } ? 'FAIL' : 'PASS' ];
    }
    my @w = map { my $i = $_; (sort { $b <=> $a } map { length $_->[$i] } @lines)[0] } 0 .. $#h;
    return join '', map {
        my $l = $_;
        join('  ', map { sprintf($_ ? "%$w[$_]s" : "%-$w[$_]s", $l->[$_]) } 0 .. $#h) . "\n"
    } @lines;
}

sub save_logs {
    my ($t, $name, $row) = @_;
    my $to = "$REPO/build/fault/$name";
    File::Path::remove_tree($to);
    File::Path::make_path("$to/load");
    File::Copy::copy($t->dir . "/$_", "$to/$_") for qw(error.log redis.log nginx.conf);
    File::Copy::copy($_, "$to/load/") for glob($t->dir . '/load/*');
    open(my $fh, '>', "$to/summary.txt") or return;
    print $fh summary($row), "\n", map({ "event $_\n" } @{ $row->{events} }),
              map({ "problem $_\n" } @{ $row->{check}{problems} }),
              map({ "fail $_\n" } @{ $row->{fail} });
    close $fh;
}

# ---------------------------------------------------------------- faults
# Each gets ($t, $event) and returns {ok, why}.

sub fault_none { return { ok => 1 } }

# (a) Redis killed with SIGKILL, restarted on the same dir (AOF) after 1 s
sub fault_kill {
    my ($t, $ev) = @_;
    $ev->('redis SIGKILL (pid ' . $t->redis_pid . ')');
    $t->kill_redis;
    sleep 1;
    my $t0 = time;
    $t->start_redis;
    $ev->(sprintf('redis restarted from its AOF (answering after %.2f s)', time - $t0));
    return { ok => 1 };
}

# (b) every client paused for 1.5 s, past the 300 ms timeout
sub fault_pause {
    my ($t, $ev) = @_;
    my $r = $t->redis('CLIENT', 'PAUSE', 1500);
    $ev->('CLIENT PAUSE 1500: ' . (ref $r ? $r->{error} : $r));
    sleep 1.5;
    $ev->('pause over');
    return { ok => !ref $r, why => ref $r ? $r->{error} : '' };
}

# (c) out of memory: maxmemory just above used_memory, noeviction, for 3 s
sub fault_oom {
    my ($t, $ev) = @_;
    my $info = $t->redis('INFO', 'memory');
    my ($used) = $info =~ /^used_memory:(\d+)/m or return { ok => 0, why => 'no used_memory' };
    my $max = $used + 32 * 1024;
    $t->redis('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
    my $r = $t->redis('CONFIG', 'SET', 'maxmemory', $max);
    $ev->("maxmemory $max (used_memory $used): " . (ref $r ? $r->{error} : $r));
    my $t0 = time;
    my $peak = 0;
    while (time - $t0 < 3) {
        my $i = $t->redis('INFO', 'memory');
        $peak = $1 if $i =~ /^used_memory:(\d+)/m && $1 > $peak;
        sleep 0.1;
    }
    my $r2 = $t->redis('CONFIG', 'SET', 'maxmemory', 0);
    my $es = $t->redis('INFO', 'errorstats');
    my ($oom) = $es =~ /^errorstat_OOM:count=(\d+)/m;
    $ev->('maxmemory 0: ' . (ref $r2 ? $r2->{error} : $r2)
          . ", used_memory peaked at $peak (" . ($peak > $max ? 'over' : 'under')
          . ' the limit), OOM errors Redis replied: ' . ($oom // 0));
    return { ok => !ref $r && !ref $r2, why => 'CONFIG SET failed' };
}

# (d) every normal client killed, 3 times, 1 s apart.  CLIENT KILL skips
# the connection that sends it (SKIPME yes, the default), and the harness
# opens a fresh connection for each command, so nothing of ours is cut
# mid-command; the load talks to nginx only.
sub fault_clientkill {
    my ($t, $ev) = @_;
    my $ok = 1;
    for my $i (1 .. 3) {
        my $r = $t->redis('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
        $ev->("CLIENT KILL TYPE normal: " . (ref $r ? $r->{error} : "$r killed"));
        $ok = 0 if ref $r;
        sleep 1 if $i < 3;
    }
    return { ok => $ok, why => 'CLIENT KILL failed' };
}

# (e) nginx -s reload (HUP to the master), twice
sub fault_reload {
    my ($t, $ev) = @_;
    for my $i (1 .. 2) {
        my $t0 = time;
        $ev->('HUP to the master ' . $t->master_pid);
        $t->reload_nginx;
        $ev->(sprintf('new workers serving after %.2f s: %s', time - $t0,
                      join(' ', $t->worker_pids)));
        sleep 2 if $i < 2;
    }
    return { ok => 1 };
}

# (f) binary upgrade in place: USR2, new master up, QUIT to the old one
sub fault_upgrade {
    my ($t, $ev) = @_;
    $ev->('USR2 to the master ' . $t->master_pid);
    my $u = $t->upgrade_binary;
    $ev->(sprintf('upgrade: old master %s (its pid moved to nginx.pid.oldbin: %s), new master '
                  . '%s in nginx.pid (workers ready after %.2f s), old master gone and '
                  . 'nginx.pid.oldbin removed after %.2f s%s', $u->{old} // '?',
                  $u->{oldbin_seen} ? 'yes' : 'no', $u->{new} // '?',
                  $u->{new_ready_after} // -1, $u->{seconds} // -1,
                  $u->{ok} ? '' : ": $u->{why}"));
    $ev->('workers now: ' . join(' ', $t->worker_pids));
    return $u;
}

# (g) Redis blocked for 500 ms, 5 times: DEBUG SLEEP runs between commands
# of one event-loop turn, so the scripts Redis ran just before it answer
# only after it, past the 300 ms timeout: 504s for bookings that were made,
# which the retries must learn from the Idempotency-Key replay.
sub fault_sleep {
    my ($t, $ev) = @_;
    my $ok = 1;
    for my $i (1 .. 5) {
        my $t0 = time;
        my $r = $t->redis('DEBUG', 'SLEEP', '0.5');
        $ev->(sprintf('DEBUG SLEEP 0.5: %s (%.2f s)', ref $r ? $r->{error} : $r, time - $t0));
        $ok = 0 if ref $r;
        sleep 0.5 if $i < 5;
    }
    return { ok => $ok, why => 'DEBUG SLEEP failed' };
}

# ---------------------------------------------------------------- sentinel
# (h, i, j) The sentinels promote a replica; the fault returns when they
# name it (promoted) and it has a replica again (followed: writes wait for
# one), in seconds of the load.

# Errors only from the fault on, service back within 2 s of the promotion
# (of a replica following, for writes), no request past the timeouts.
sub failover_checks {
    my ($fault, $check, $stats, $start) = @_;
    my @fail;
    return 'no promotion seen' unless defined $fault->{promoted};
    my $back = ($fault->{followed} // $fault->{promoted}) + 2 * BookingTest::slow();
    push @fail, sprintf('5xx before the fault: at %.2f s', $check->{bad_first})
        if defined $check->{bad_first} && $check->{bad_first} < $start - 0.05;
    push @fail, sprintf('5xx at %.2f s, more than 2 s after the promotion (%.2f s) '
                        . 'and a replica following (%.2f s)', $check->{bad_last},
                        $fault->{promoted}, $fault->{followed} // -1)
        if defined $check->{bad_last} && $check->{bad_last} > $back;
    push @fail, sprintf('an answer took %.3f s (timeouts: %.1f s)', $stats->{max_latency}, $LONGEST)
        if $stats->{max_latency} > $LONGEST;
    return @fail;
}

sub wait_promoted {
    my ($t, $ev, $load, $old) = @_;
    my $s = $t->sentinel;
    my %r = (ok => 1);
    my $new = $s->wait_for('a promotion', 30, sub { my $m = $s->newest; $m && $m != $old && $m });
    return { ok => 0, why => 'no replica promoted in 30 s' } unless $new;
    $r{promoted} = $load->elapsed;
    $ev->("the sentinels name 127.0.0.1:$new");
    $s->wait_for('a replica to follow the new master', 30, sub { $s->connected($new) >= 1 })
        or return { ok => 0, why => 'no replica followed the new master in 30 s' };
    $r{followed} = $load->elapsed;
    $ev->("a replica follows 127.0.0.1:$new");
    $r{new} = $new;
    return \%r;
}

# Until the load ends: sentinels short of CPU may fail over the new master
# too; the times of being back then count from that
# promotion, which the module must follow as well.
sub watch_failovers {
    my ($t, $ev, $load, $fault) = @_;
    my $s = $t->sentinel;
    while ($load->elapsed < $opt{seconds}) {
        my $m = $s->newest;
        if ($m && $m != $fault->{new}) {
            my $r = wait_promoted($t, $ev, $load, $fault->{new});
            return unless $r->{ok};
            @$fault{qw(promoted followed new)} = @$r{qw(promoted followed new)};
            $ev->('the sentinels failed over again: the times count from there');
        }
        sleep 0.1;
    }
}

# (h) the master SIGKILLed
sub fault_failover {
    my ($t, $ev, $load) = @_;
    my $old = $t->sentinel->master;
    $ev->("master 127.0.0.1:$old SIGKILL");
    $t->kill_redis;
    return wait_promoted($t, $ev, $load, $old);
}

# (i) the master frozen (SIGSTOP) until the sentinels promote a replica,
# 2 s more of bookings, then SIGCONT: it wakes as a master with the
# connections and commands of before, until the sentinels demote it
sub fault_zombie {
    my ($t, $ev, $load) = @_;
    my $s = $t->sentinel;
    my $old = $s->master;
    $ev->("master 127.0.0.1:$old SIGSTOP");
    $s->signal('STOP', $old);
    my $r = wait_promoted($t, $ev, $load, $old);
    sleep 2;
    $s->signal('CONT', $old);
    $ev->("old master 127.0.0.1:$old SIGCONT");
    my $demoted = $s->wait_for('the old master to be demoted', 30, sub {
        BookingTest::resp_command($old, 1, 'INFO', 'replication') =~ /role:slave/ });
    $ev->($demoted ? "the old master is a replica again" : 'the old master was not demoted in 30 s');
    return $r;
}

# (j) SENTINEL FAILOVER, the master alive: it takes writes until it is
# demoted, seconds after the promotion
sub fault_switch {
    my ($t, $ev, $load) = @_;
    my $s = $t->sentinel;
    my $old = $s->master;
    my $a = $s->sentinel(($s->ports)[0], 'FAILOVER', $s->name);
    $ev->('SENTINEL FAILOVER: ' . (ref $a ? $a->{error} : $a));
    return { ok => 0, why => "SENTINEL FAILOVER: $a->{error}" } if ref $a;
    return wait_promoted($t, $ev, $load, $old);
}

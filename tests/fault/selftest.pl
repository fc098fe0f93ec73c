#!/usr/bin/perl
# Does FaultCheck see what it should?  A short load without faults, then
# damage done directly in Redis, one kind at a time, each of which the
# check must report.  perl tests/fault/selftest.pl   (exit 1 on a miss)

use strict;
use warnings;

use Cwd ();
use File::Basename ();
use Time::HiRes qw(time sleep);

my ($HERE, $REPO);
BEGIN {
    $HERE = File::Basename::dirname(Cwd::abs_path(__FILE__));
    $REPO = Cwd::abs_path("$HERE/../..");
}
use lib "$HERE/lib", "$REPO/t/lib";

use FaultServers ();
use FaultLoad ();
use FaultCheck ();

$| = 1;
my $t = FaultServers->new(workers => 2);
my ($res, $window) = FaultServers::setup_resources($t);
my $load = FaultLoad->new(port => $t->port, resources => $res, window => $window,
                          clients => 3, seconds => 4, dir => $t->dir . '/load', tag => 'self');
$load->start;
my $stats = $load->finish;
my @logs = $load->logs;
my $check = sub { FaultCheck::run(t => $t, logs => \@logs, resources => $res, window => $window) };

my $miss = 0;
my $expect = sub {
    my ($name, $c, %want) = @_;
    my @bad = grep { ($c->{$_} // 0) < $want{$_} } sort keys %want;
    printf "%-40s %s  (%s)\n", $name, @bad ? 'MISSED' : 'seen',
        join(' ', map { "$_=" . ($c->{$_} // 0) } sort keys %want);
    print "    $_\n" for grep { defined } @{ $c->{problems} }[0 .. 1];
    $miss++ if @bad;
};

my $c = $check->();
printf "%-40s %s\n", 'clean run', (grep { $c->{$_} } qw(lost doubled phantom wrong_state
    over_capacity avail_mismatch)) ? 'NOT CLEAN' : 'clean';
$miss++ if grep { $c->{$_} } qw(lost doubled phantom wrong_state over_capacity avail_mismatch);

# the confirmed bookings of an hourly resource, as Redis has them
my $keys = $t->redis('KEYS', 'bk:{r:r0*}:b:*');
my (@confirmed);
for my $k (@$keys) {
    my %h = @{ $t->redis('HGETALL', $k) };
    push @confirmed, [ $k, \%h ] if $h{status} eq 'confirmed';
}
die "no confirmed booking to damage (" . scalar(@$keys) . " bookings on r0*, $c->{checked} checked)\n" unless @confirmed >= 3;

# 1. a lost booking
my ($k1, $h1) = @{ shift @confirmed };
my $dump = $t->redis('DUMP', $k1);
$t->redis('DEL', $k1);
$expect->('deleted booking -> lost', $check->(), lost => 1);
$t->redis('RESTORE', $k1, 0, $dump);

# 2. a state gone back
my ($k2) = @{ shift @confirmed };
$t->redis('HSET', $k2, 'status', 'cancelled');
$expect->('confirmed -> cancelled -> wrong_state', $check->(), wrong_state => 1);
$t->redis('HSET', $k2, 'status', 'confirmed');

# 3. a second booking with the same note, on top of the first: doubled and
#    (capacity 1 or not) counted against the counters
my ($k3, $h3) = @{ shift @confirmed };
(my $k3b = $k3) =~ s/:b:.*/:b:selftestcopy0000/;
$t->redis('HSET', $k3b, %$h3);
$expect->('copied booking -> doubled', $check->(), doubled => 1, avail_mismatch => 1);
$t->redis('DEL', $k3b);

# 4. a booking nobody asked for, past capacity
my ($rid) = $k3 =~ /\{r:([^}]+)\}/;
my ($r) = grep { $_->{id} eq $rid } @$res;
my %extra = (%$h3, note => 'nobody', quantity => $r->{capacity} + 1);
$t->redis('HSET', "bk:{r:$rid}:b:selftestextra000", %extra);
$expect->('unasked booking -> phantom, over cap', $check->(), phantom => 1, over_capacity => 1);
$t->redis('DEL', "bk:{r:$rid}:b:selftestextra000");

# 5. counters that drifted
my $ch = $t->redis('ZRANGE', "bk:{r:$rid}:chunks", 0, 0);
my $ckey = "bk:{r:$rid}:c:$ch->[0]";
my $slot0 = $window->[0] / 3600 - $ch->[0] * 1024;
my $old = $t->redis('GETRANGE', $ckey, $slot0 * 4, $slot0 * 4 + 3);
$t->redis('SETRANGE', $ckey, $slot0 * 4, pack('N', unpack('N', $old) + 1));
$expect->('counter +1 -> avail_mismatch', $check->(), avail_mismatch => 1);
$t->redis('SETRANGE', $ckey, $slot0 * 4, $old);

$c = $check->();
printf "%-40s %s\n", 'restored', (grep { $c->{$_} } qw(lost doubled phantom wrong_state
    over_capacity avail_mismatch)) ? 'NOT CLEAN' : 'clean';
$t->stop;
print $miss ? "FAIL: $miss missed\n" : "PASS\n";
exit($miss ? 1 : 0);

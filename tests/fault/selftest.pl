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
use BookingKeys qw(rkey get_units set_units);
use JSON::PP ();

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

# the confirmed bookings of the hourly resources, as Redis has them: the
# record of each is a field of its resource's hash of bookings
my $JSON = JSON::PP->new->canonical;
my @confirmed;
for my $r (grep { $_->{slot} } @$res) {
    my %all = @{ $t->redis('HGETALL', rkey($r->{id}, ':b')) };
    for my $rand (sort keys %all) {
        my $f = $JSON->decode($all{$rand});
        push @confirmed, [ $r, $rand, $all{$rand}, $f ] if $f->{status} eq 'confirmed';
    }
}
die "no confirmed booking to damage ($c->{checked} checked)\n" unless @confirmed >= 3;
my $put = sub { my ($r, $rand, $v) = @_; $t->redis('HSET', rkey($r->{id}, ':b'), $rand, $v) };
my $del = sub { my ($r, $rand) = @_; $t->redis('HDEL', rkey($r->{id}, ':b'), $rand) };

# 1. a lost booking
my ($r1, $rand1, $v1) = @{ shift @confirmed };
$del->($r1, $rand1);
$expect->('deleted booking -> lost', $check->(), lost => 1);
$put->($r1, $rand1, $v1);

# 2. a state gone back
my ($r2, $rand2, $v2, $f2) = @{ shift @confirmed };
$put->($r2, $rand2, $JSON->encode({ %$f2, status => 'cancelled' }));
$expect->('confirmed -> cancelled -> wrong_state', $check->(), wrong_state => 1);
$put->($r2, $rand2, $v2);

# 3. a second booking with the same note, on top of the first: doubled and
#    (capacity 1 or not) counted against the counters
my ($r3, $rand3, $v3, $f3) = @{ shift @confirmed };
$put->($r3, 'selftestcopy0000', $v3);
$expect->('copied booking -> doubled', $check->(), doubled => 1, avail_mismatch => 1);
$del->($r3, 'selftestcopy0000');

# 4. a booking nobody asked for, past capacity
$put->($r3, 'selftestextra000', $JSON->encode({ %$f3, note => 'nobody',
                                                quantity => $r3->{capacity} + 1 }));
$expect->('unasked booking -> phantom, over cap', $check->(), phantom => 1, over_capacity => 1);
$del->($r3, 'selftestextra000');

# 5. counters that drifted: the window's first slot counts one unit more
my $n0 = $window->[0] / 3600;
my $old = get_units($t, $r3->{id}, $n0);
set_units($t, $r3->{id}, $n0, $old + 1);
$expect->('counter +1 -> avail_mismatch', $check->(), avail_mismatch => 1);
set_units($t, $r3->{id}, $n0, $old);

$c = $check->();
printf "%-40s %s\n", 'restored', (grep { $c->{$_} } qw(lost doubled phantom wrong_state
    over_capacity avail_mismatch)) ? 'NOT CLEAN' : 'clean';
$t->stop;
print $miss ? "FAIL: $miss missed\n" : "PASS\n";
exit($miss ? 1 : 0);

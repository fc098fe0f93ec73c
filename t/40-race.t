# Races (SPEC §1: "at no instant does the sum of quantities of the
# occupying bookings of a resource exceed its capacity, under any
# concurrency, across any number of nginx workers").
#
# (a) 300 concurrent POSTs for one slot of a resource of capacity 3, from
#     32 processes with keep-alive connections, over 4 workers: exactly 3
#     are 201, all others 409 unavailable.
# (b) 400 random overlapping bookings, holds and cancels on a resource of
#     capacity 2 (1h slots, 1h buffer) from 16 processes.  Redis's MONITOR
#     gives the order in which the scripts ran; replaying it in a model of
#     capacity per slot, every answer must be the model's (201 when it fit
#     at that moment, 409 with the right conflicts when it did not), no slot
#     is ever over capacity, and availability ends as the model.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use IO::Select;
use List::Util qw(sum max min);
use Time::HiRes qw(time sleep);
use BookingTest;
use BookingKeys qw(rkey);
use BookingRace qw(:all);

BookingRace::pin_module();

my $HTTP = default_http() . <<'EOT';
booking_type hot  slot=1h hold=10m;
booking_type flux slot=1h hold=10m buffer=1h;
EOT
my $t = BookingTest->new(http => $HTTP, workers => 4);
is scalar(my @w = $t->worker_pids), 4, 'four workers';

my $HOUR = 3600;
my $JSON = JSON::PP->new->canonical;

for my $res ([ 'hot-a', 'hot', 3 ], [ 'flux-b', 'flux', 2 ]) {
    my $r = $t->req(PUT => "/admin/resources/$res->[0]", body => { type => $res->[1], capacity => $res->[2],
                                                                  owner => 'olga' });
    is $r->{status}, 201, "PUT $res->[0] (capacity $res->[2])";
}

my $now = redis_now($t);

# Runs $n children, each with its own keep-alive connection; they all
# connect first and start together.  $work->($i, $conn) returns what the
# child reports.  Returns the reports, in child order.
sub race {
    my ($n, $work) = @_;
    pipe(my $ready_r, my $ready_w) or die "pipe: $!";
    pipe(my $go_r, my $go_w) or die "pipe: $!";
    my @kids;
    for my $i (0 .. $n - 1) {
        push @kids, BookingTest::bg(sub {
            close $ready_r;
            close $go_w;
            my $conn = BookingRace::Conn->new($t->port, timeout => 30 * BookingTest::slow());
            syswrite $ready_w, 'r';
            close $ready_w;
            sysread $go_r, my $x, 1;    # EOF: go
            my $out = $work->($i, $conn);
            $conn->close_conn;
            return $out;
        });
    }
    close $ready_w;
    close $go_r;
    my ($got, $sel) = (0, IO::Select->new($ready_r));
    my $deadline = time + 20 * BookingTest::slow();
    while ($got < $n && $sel->can_read($deadline - time)) {
        my $k = sysread $ready_r, my $buf, 64;
        last unless $k;
        $got += $k;
    }
    close $ready_r;
    is $got, $n, "$n racers connected and waiting";
    close $go_w;    # go
    return [ map { $_->result(90) } @kids ];
}

# ============================================================ (a) one slot, capacity 3

my ($s, $e) = (hour_start($now, 30), hour_start($now, 31));
my $N = 300;
my $P = 32;
my $t0 = time;
my $reports = race($P, sub {
    my ($i, $conn) = @_;
    my @out;
    my $mine = int($N / $P) + ($i < $N % $P ? 1 : 0);
    for my $j (1 .. $mine) {
        my $r = eval {
            $conn->request(POST => '/api/bookings',
                           { 'Content-Type' => 'application/json', 'X-User-Id' => "racer-$i" },
                           $JSON->encode({ resource => 'hot-a', start => iso($s), end => iso($e), note => "a-$i-$j" }));
        };
        push @out, $r ? [ $r->{status}, $r->{json} ? ($r->{json}{error}{code} // $r->{json}{status}) : '',
                          $r->{json} ? $r->{json}{id} : undef ]
                      : [ 599, "$@", undef ];
    }
    return \@out;
});
my $elapsed = time - $t0;
my @answers = map { ref $_ eq 'ARRAY' ? @$_ : ([ 0, $_->{bg_error} // 'no report', undef ]) } @$reports;
is scalar @answers, $N, "(a) $N answers";
my %by = ();
$by{"$_->[0] $_->[1]"}++ for @answers;
is $by{'201 confirmed'} // 0, 3, '(a) exactly 3 bookings made (201 confirmed)';
is $by{'409 unavailable'} // 0, $N - 3, '(a) every other answer is 409 unavailable';
diag "(a) answers: " . join(', ', map { "$_ x$by{$_}" } sort keys %by) . sprintf(" in %.2fs", $elapsed)
    if keys %by != 2;
my @won = sort map { $_->[2] } grep { $_->[0] == 201 } @answers;
is_deeply avail_units($t, 'hot-a', $s - $HOUR, $e + $HOUR, $HOUR), [ 3, 0, 3 ], '(a) availability: 0 free in the slot';
my $list = $t->req(GET => '/api/bookings?resource=hot-a&limit=100', headers => user_h('olga'));
is_deeply [ sort map { $_->{id} } @{ $list->{json}{items} || [] } ], \@won,
    '(a) the resource holds exactly the 3 bookings that were answered 201';

# ============================================================ (b) random ranges, capacity 2, MONITOR order

my $CAP = 2;
my $BUF = 1;                      # buffer, in slots
my $W = 48;                       # window, in slots
my $base = hour_start($now, 72);  # three days ahead: far from "now"
my $NB = 400;
my $PB = 16;

# the node of flux-b's keys: the one that runs its scripts (a cluster's
# master of its slot)
my $mon = BookingRace::Monitor->new($t->cluster ? $t->cluster->master_of(rkey('flux-b'))
                                                : $t->redis_port);
$t0 = time;
$reports = race($PB, sub {
    my ($i, $conn) = @_;
    srand(1000 + $i);
    my (@out, @mine);
    my $per = $NB / $PB;
    for my $j (1 .. $per) {
        my @live = grep { !$_->{cancelled} } @mine;
        my $rec;
        if (@live && rand() < 0.4) {
            my $b = $live[ int rand @live ];
            my $op = ($b->{held} && rand() < 0.5) ? 'confirm' : 'cancel';
            my $r = eval { $conn->request(POST => "/api/bookings/$b->{id}/$op", { 'X-User-Id' => "b-$i" }, '') };
            $rec = { op => $op, id => $b->{id}, status => $r ? $r->{status} : 599,
                     got => $r && $r->{json} ? $r->{json}{status} : undef, err => $r ? undef : "$@" };
            if ($r && $r->{status} == 200) {
                $b->{cancelled} = 1 if $op eq 'cancel';
                $b->{held} = 0 if $op eq 'confirm';
            }
        } else {
            my $start = int rand $W;
            my $len = 1 + int rand 6;
            my $qty = rand() < 0.2 ? 2 : 1;
            my $hold = rand() < 0.3 ? 1 : 0;
            my $note = "race-$i-$j";
            my $r = eval {
                $conn->request(POST => '/api/bookings',
                    { 'Content-Type' => 'application/json', 'X-User-Id' => "b-$i" },
                    $JSON->encode({ resource => 'flux-b', start => iso($base + $start * $HOUR),
                                    end => iso($base + ($start + $len) * $HOUR), quantity => $qty,
                                    hold => $hold ? JSON::PP::true : JSON::PP::false, note => $note }));
            };
            $rec = { op => 'create', note => $note, s => $start, e => $start + $len, qty => $qty, hold => $hold,
                     status => $r ? $r->{status} : 599, err => $r ? undef : "$@",
                     id => $r && $r->{status} == 201 ? $r->{json}{id} : undef,
                     code => $r && $r->{json} && $r->{json}{error} ? $r->{json}{error}{code} : undef,
                     conflicts => $r && $r->{json} && $r->{json}{error} ? $r->{json}{error}{conflicts} : undef };
            push @mine, { id => $rec->{id}, held => $hold } if $rec->{status} == 201;
        }
        push @out, $rec;
    }
    return \@out;
});
my $entries = $mon->drain(30);
$mon->close_monitor;
my $race_time = time - $t0;

my @recs = map { ref $_ eq 'ARRAY' ? @$_ : ({ op => 'lost', status => 0, err => $_->{bg_error} }) } @$reports;
is scalar @recs, $NB, "(b) $NB requests answered";
my @odd = grep { !($_->{op} eq 'create' && ($_->{status} == 201 || $_->{status} == 409))
                 && !($_->{op} ne 'create' && $_->{status} == 200) } @recs;
is scalar @odd, 0, '(b) every answer is 201/409 (create) or 200 (confirm, cancel)'
    or diag $JSON->encode([ @odd[ 0 .. min(4, $#odd) ] ]);
ok !(grep { $_->{op} eq 'create' && $_->{status} == 409 && ($_->{code} // '') ne 'unavailable' } @recs),
    '(b) every 409 is unavailable';
my $n201 = grep { $_->{op} eq 'create' && $_->{status} == 201 } @recs;
my $n409 = grep { $_->{op} eq 'create' && $_->{status} == 409 } @recs;
my $ncan = grep { $_->{op} eq 'cancel' } @recs;
diag sprintf '(b) %d created, %d refused, %d cancels, %d confirms in %.2fs; %d monitor entries',
    $n201, $n409, $ncan, scalar(grep { $_->{op} eq 'confirm' } @recs), $race_time, scalar @$entries;
ok $n201 >= 20 && $n409 >= 20, '(b) the race had both outcomes to judge';

# The scripts as Redis ran them: FCALL (or EVAL) of a client, not of lua.
my %by_note = map { $_->{note} => $_ } grep { $_->{op} eq 'create' } @recs;
my %by_id   = map { $_->{id} => $_ } grep { $_->{op} eq 'create' && $_->{id} } @recs;
my %acts;    # "op id" -> [records]
push @{ $acts{"$_->{op} $_->{id}"} }, $_ for grep { $_->{op} ne 'create' } @recs;

my @runs;
for my $en (@$entries) {
    next if $en->{client} eq 'lua';
    my ($cmd, @a) = @{ $en->{args} };
    next unless uc($cmd) eq 'FCALL' || uc($cmd) eq 'EVAL';
    my $nk = $a[1];
    my @keys = @a[ 2 .. 1 + $nk ];
    my @argv = @a[ 2 + $nk .. $#a ];
    next unless ($keys[0] // '') eq rkey('flux-b');
    push @runs, { keys => \@keys, argv => \@argv };
}

my (@used) = (0) x ($W + 6 + $BUF);
my (%live, %seen_note, %seen_act);
my ($mismatch, $over, $conflict_bad, $unknown) = (0, 0, 0, 0);
my @why;
for my $run (@runs) {
    my $argv = $run->{argv};
    if (@$argv >= 8 && ($argv->[7] // '') =~ /^race-/) {
        my $rec = $by_note{ $argv->[7] };
        if (!$rec || $seen_note{ $argv->[7] }++) { $unknown++; push @why, "create $argv->[7]: unknown or twice"; next }
        my ($s0, $s1, $q) = (($argv->[4] - $base) / $HOUR, ($argv->[5] - $base) / $HOUR + $BUF, $argv->[6]);
        if ($s0 != $rec->{s} || $s1 != $rec->{e} + $BUF || $q != $rec->{qty}) {
            $unknown++; push @why, "create $argv->[7]: the script got other values"; next;
        }
        my $fits = !grep { $used[$_] + $q > $CAP } $s0 .. $s1 - 1;
        my $want = $fits ? 201 : 409;
        if ($rec->{status} != $want) {
            $mismatch++;
            push @why, "create $argv->[7] [$s0,$s1) q$q: answered $rec->{status}, the model says $want"
                . " (used: @used[$s0 .. $s1 - 1])";
        }
        if (!$fits && $rec->{status} == 409) {
            # the conflicts the model sees: runs of slots with fewer than q free, by level of free units
            my (@c, $prev);
            for my $x ($s0 .. $s1 - 1) {
                my $free = $CAP - $used[$x];
                if ($free < $q) {
                    if (@c && defined $prev && $prev == $free && $c[-1]{end} == $x) { $c[-1]{end} = $x + 1 }
                    else { push @c, { start => $x, end => $x + 1, free => max($free, 0) } }
                    $prev = $free;
                } else {
                    undef $prev;
                }
            }
            my @want_c = map { { start => iso($base + $_->{start} * $HOUR), end => iso($base + $_->{end} * $HOUR),
                                 free => $_->{free} } } @c;
            if ($JSON->encode(\@want_c) ne $JSON->encode($rec->{conflicts} // [])) {
                $conflict_bad++;
                push @why, "create $argv->[7]: conflicts " . $JSON->encode($rec->{conflicts})
                    . ', the model says ' . $JSON->encode(\@want_c);
            }
        }
        if ($rec->{status} == 201) {
            # apply what the module did, and check the invariant
            $used[$_] += $q for $s0 .. $s1 - 1;
            $over++ if grep { $used[$_] > $CAP } $s0 .. $s1 - 1;
            my $id = "flux-b.$argv->[0]";
            if (($rec->{id} // '') ne $id) { $unknown++; push @why, "create $argv->[7]: id $rec->{id}, script rand $argv->[0]" }
            $live{$id} = [ $s0, $s1, $q ];
        }
    } elsif (@$argv >= 2 && $argv->[0] =~ /^(?:confirm|cancel)$/) {
        my $id = "flux-b.$argv->[1]";
        my $list = $acts{"$argv->[0] $id"};
        my $k = $seen_act{"$argv->[0] $id"}++;
        if (!$list || $k >= @$list) { $unknown++; push @why, "$argv->[0] $id: unknown"; next }
        if ($argv->[0] eq 'cancel' && $live{$id}) {
            my ($s0, $s1, $q) = @{ delete $live{$id} };
            $used[$_] -= $q for $s0 .. $s1 - 1;
        }
    } else {
        $unknown++;
        push @why, 'a script nobody asked for: ' . join(' ', @$argv[ 0 .. min(7, $#$argv) ]);
    }
}
diag $_ for @why[ 0 .. min(9, $#why) ];
is scalar(@runs), $NB, '(b) one script run per request, as MONITOR saw them';
is $unknown, 0, '(b) every script run matches one request';
is scalar(keys %seen_note), scalar(keys %by_note), '(b) every create ran once';
is $over, 0, '(b) no slot ever over capacity, in the order Redis ran the scripts';
is $mismatch, 0, '(b) every answer is the model\'s: 201 when it fit at that moment, 409 when not';
is $conflict_bad, 0, '(b) every 409 names the conflicting runs and free units the model sees';

my $units = avail_units($t, 'flux-b', $base, $base + ($W + 6 + $BUF) * $HOUR, $HOUR);
is_deeply $units, [ map { $CAP - $_ } @used ], '(b) availability ends as the model';

my $items = [];
my $cursor;
for (1 .. 20) {
    my $r = $t->req(GET => '/api/bookings?resource=flux-b&limit=100' . (defined $cursor ? "&cursor=$cursor" : ''),
                    headers => user_h('olga'));
    push @$items, @{ $r->{json}{items} || [] };
    last unless defined($cursor = $r->{json}{next});
}
is_deeply [ sort map { $_->{id} } grep { $_->{status} =~ /^(?:held|confirmed)$/ } @$items ], [ sort keys %live ],
    '(b) the occupying bookings of the resource are those of the model';

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;

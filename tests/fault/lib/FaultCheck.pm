package FaultCheck;

# After a FaultLoad run: what Redis holds against what the clients were
# told (their JSONL logs), and capacity from the bookings themselves, read
# in the keys of the Redis contract (t/lib/BookingKeys.pm).  POD at the end.

use strict;
use warnings;

use JSON::PP ();
use POSIX ();
use Time::HiRes qw(time sleep);
use Time::Local ();
use FaultLoad ();
use BookingKeys qw(rkey);

my $JSON = JSON::PP->new->utf8->canonical;

my %OCCUPYING = (held => 1, requested => 1, confirmed => 1);

sub epoch {
    my ($s) = @_;
    return undef unless defined $s && $s =~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z$/;
    return Time::Local::timegm($6, $5, $4, $3, $2 - 1, $1);
}

# FaultCheck::run(t => $t, logs => [...], resources => [...], window => [from, nslots],
#                 t0 => the load's start, for bad_first/bad_last,
#                 during => [from, to] seconds after t0: answers then by status)
sub run {
    my (%o) = @_;
    my $t = $o{t};
    my %r = (checked => 0, lost => 0, wrong_state => 0, doubled => 0, phantom => 0,
             over_capacity => 0, avail_mismatch => 0, unresolved => 0, retried => 0,
             replayed => 0,
             not_created => 0, redis_bookings => 0, problems => []);
    my $problem = sub {
        my ($kind, $text) = @_;
        $r{$kind}++ if defined $kind;
        push @{ $r{problems} }, $text if @{ $r{problems} } < 40;
    };

    # ---- 1. what each client was told
    my (%chain, @order);    # "proc:seq" => [records]
    my $p = 0;
    for my $file (@{ $o{logs} }) {
        $p++;
        open(my $fh, '<', $file) or do { $problem->(undef, "no log $file"); next };
        my $lines = 0;
        while (my $line = <$fh>) {
            last if ++$lines > 50_000_000;
            my $rec;
            if ($line =~ /"op":"avail"/) {    # reads: only their times and statuses
                my ($at) = $line =~ /"t":"([\d.]+)"/;
                my ($st) = $line =~ /"status":(\d+)/;
                my ($er) = $line =~ /"err":"(\w+)"/;
                my ($dt) = $line =~ /"dt":"([\d.]+)"/;
                $rec = { t => $at // 0, dt => $dt // 0, status => $st // 0, seq => 0, op => 'avail' };
                $rec->{err} = $er if $er;
            } else {
                $rec = eval { $JSON->decode($line) } or do {
                    $problem->(undef, "$file:$lines: not JSON");
                    next;
                };
                delete @$rec{qw(reused msg body hold qty start end rid)};
            }
            if ($o{during} && defined $rec->{status}) {
                my $at = $rec->{t} - ($o{t0} // 0);
                $r{during}{ $rec->{err} || $rec->{status} }++
                    if $at >= $o{during}[0] && $at <= $o{during}[1];
            }
            if ($rec->{err} || ($rec->{status} // 0) == 503 || ($rec->{status} // 0) == 504) {
                my $at = $rec->{t} - ($o{t0} // 0);
                # the first error by when it was answered: a request sent
                # just before the fault and caught in it rightly fails
                my $end = $at + ($rec->{dt} // 0);
                $r{bad_first} = $end if !defined $r{bad_first} || $end < $r{bad_first};
                $r{bad_last} = $at if !defined $r{bad_last} || $at > $r{bad_last};
            }
            next if $rec->{op} eq 'avail';
            my $k = "$p:$rec->{seq}";
            push @order, $k unless $chain{$k};
            push @{ $chain{$k} }, $rec;
        }
        close $fh;
    }

    # the decisive answer of a chain of attempts: the first one that is not
    # outcome-unknown (a 503 counts only on the first attempt: a 503 to a
    # retry says nothing of the attempt before it)
    my $final = sub {
        my ($recs) = @_;
        for my $rec (@$recs) {
            next if $rec->{unresolved} || $rec->{err};
            next if $rec->{status} == 504 || ($rec->{status} == 503 && $rec->{n} > 0);
            return $rec;
        }
        return undef;
    };

    my (%by_note, %bids);
    my @acts;
    for my $k (@order) {
        my $recs = $chain{$k};
        my $op = $recs->[0]{op};
        next if $op eq 'avail';
        my $f = $final->($recs);
        if ($op eq 'hold' || $op eq 'book') {
            my $note = $recs->[0]{note};
            $by_note{$note} = { final => $f, key => $recs->[0]{key}, k => $k };
            if (@$recs > 1) {    # retried: what did the retry learn?
                $r{retried}++;
                $r{replayed}++ if $f && $f->{replayed};
            } elsif ($f && $f->{replayed}) {
                $problem->(undef, "a first attempt answered as a replay: $note");
            }
            if (!$f) { $r{unresolved}++; next }
            if ($f->{status} != 201) { $r{not_created}++; next }
            my $id = $f->{id} // '';
            if ($bids{$id}) {
                $problem->('doubled', "booking id $id answered to two creates: "
                           . "$bids{$id}{note} and $note");
                next;
            }
            $bids{$id} = { id => $id, note => $note, state => $f->{bstatus},
                           exp => epoch($f->{expires_at}), maybe => {}, proc => $k };
        } else {
            push @acts, [ $f ? $f->{t} : $recs->[-1]{t}, $recs, $f ];
        }
    }
    for my $a (sort { $a->[0] <=> $b->[0] } @acts) {
        my (undef, $recs, $f) = @$a;
        my $id = $recs->[0]{bid};
        my $b = $bids{$id} or do {
            $problem->(undef, "a $recs->[0]{op} of $id, a booking no create answered");
            next;
        };
        my $op = $recs->[0]{op};
        if (!$f) { $b->{maybe}{$op} = 1; $r{unresolved}++; next }
        my $s = $f->{status};
        if ($s == 200) {
            $b->{state} = $op eq 'cancel' ? 'cancelled' : $f->{bstatus};
        } elsif ($s == 410 || ($s == 409 && $op eq 'cancel' && $b->{state} eq 'held')) {
            $b->{state} = 'expired';
        }
    }

    # ---- 2. Redis, once the holds that are about to expire have
    my $now = _redis_now($t);
    my $bookings = _scan_bookings($t, $o{resources});
    my $soon = 0;
    for my $b (values %$bookings) {
        next unless ($b->{f}{status} // '') eq 'held';
        my $e = $b->{f}{expires_at} || 0;
        $soon = $e if $e > $now && $e <= $now + 60 && $e > $soon;
    }
    if ($soon) {
        my $deadline = time + 65;
        while (time < $deadline) {
            $now = _redis_now($t);
            last if $now >= $soon + 1;
            sleep 0.25;
        }
        $bookings = _scan_bookings($t, $o{resources});
    }
    $now = _redis_now($t);
    $r{redis_bookings} = scalar keys %$bookings;
    for my $b (values %$bookings) {    # as the module shows it (as_of)
        my $st = $b->{f}{status} // '';
        $st = 'expired' if $st eq 'held' && ($b->{f}{expires_at} || 0) <= $now;
        $b->{eff} = $st;
    }

    # ---- 3. every acknowledged booking is there, as acknowledged
    for my $b (values %bids) {
        $r{checked}++;
        my $rb = $bookings->{ $b->{id} };
        my $what = "$b->{id} (note $b->{note}, told $b->{state})";
        if (!$rb) {
            $problem->('lost', "lost: $what is not in Redis");
            next;
        }
        my %ok;
        my $st = $b->{state};
        if ($st eq 'held') {
            my $e = $b->{exp} // 0;
            $ok{held} = 1 if $e > $now - 1;
            $ok{expired} = 1 if $e <= $now + 1;
            if ($b->{maybe}{confirm}) { $ok{confirmed} = $ok{requested} = 1 }
        } else {
            $ok{$st} = 1;
        }
        $ok{cancelled} = 1 if $b->{maybe}{cancel};
        if (!$ok{ $rb->{eff} }) {
            $problem->('wrong_state', "wrong state: $what is $rb->{eff} in Redis"
                       . " (status $rb->{f}{status}, updated_at $rb->{f}{updated_at})");
        }
    }

    # ---- 4. nothing in Redis that nobody was told, nothing twice
    my %seen_note;
    for my $id (sort keys %$bookings) {
        my $rb = $bookings->{$id};
        my $note = $rb->{f}{note} // '';
        push @{ $seen_note{$note} }, $id;
        my $c = $by_note{$note};
        if (!$c) {
            $problem->('phantom', "phantom: $id (note '$note') answers no logged create");
            next;
        }
        my $f = $c->{final};
        next unless $f;    # outcome never learnt: either way is right
        if ($f->{status} != 201) {
            $problem->('phantom', "phantom: $id (note $note) is $rb->{eff} in Redis, "
                       . "but the create was answered $f->{status}"
                       . ($f->{code} ? " $f->{code}" : ''));
        } elsif (($f->{id} // '') ne $id) {
            $problem->('doubled', "doubled: note $note made $id, but $f->{id} was answered");
        }
    }
    for my $note (sort keys %seen_note) {
        my $ids = $seen_note{$note};
        $problem->('doubled', "doubled: note $note is in Redis " . scalar(@$ids)
                   . " times: @$ids") if @$ids > 1;
    }

    # ---- 5. capacity, from the bookings; and the module's availability
    my ($w0, $nslots) = @{ $o{window} };
    my $http = FaultLoad::HTTP->new(port => $t->port, timeout => 10);
    for my $res (@{ $o{resources} }) {
        my $h = _hash($t->redis('HGETALL', rkey($res->{id})));
        my $cap = $h->{capacity} // $res->{capacity};
        my @mine = grep { $_->{rid} eq $res->{id} && $OCCUPYING{ $_->{eff} }
                          && ($_->{f}{gen} // '') eq ($h->{gen} // '') } values %$bookings;
        if (!$res->{slot}) {
            my $used = 0;
            $used += $_->{f}{quantity} for @mine;
            $problem->('over_capacity', "over capacity: $res->{id} has $used of $cap units "
                       . "in occupying bookings") if $used > $cap;
            my $a = $http->request(GET => "/api/resources/$res->{id}/availability", {});
            my $j = ($a->{status} // 0) == 200 ? eval { $JSON->decode($a->{body}) } : undef;
            # the read swept the expired holds: what is stored now must match
            my $stored = $t->redis('HGET', rkey($res->{id}), 'used');
            if (!$j || !defined $j->{free} || $j->{free} != $cap - $used
                || ($stored // 0) != $used)
            {
                $problem->('avail_mismatch', "availability: $res->{id}: bookings leave "
                           . ($cap - $used) . " free, stored used=" . ($stored // '?')
                           . ", the module says " . ($j ? $j->{free} : ($a->{err} || $a->{status}))
                );
            }
            next;
        }
        my $slot = $res->{slot};
        my $n = $nslots + 1;
        my @occ = (0) x $n;
        for my $b (@mine) {
            my $s0 = ($b->{f}{start} - $w0) / $slot;
            my $s1 = ($b->{f}{end} + ($b->{f}{buffer} || 0) - $w0) / $slot;
            for my $s ($s0 .. $s1 - 1) {
                if ($s < 0 || $s >= $n) {
                    $problem->(undef, "booking $b->{id} outside the window");
                    next;
                }
                $occ[$s] += $b->{f}{quantity};
            }
        }
        for my $s (0 .. $n - 1) {
            $problem->('over_capacity', "over capacity: $res->{id} at "
                       . FaultLoad::iso($w0 + $s * $slot) . ": $occ[$s] of $cap units")
                if $occ[$s] > $cap;
        }
        my $path = "/api/resources/$res->{id}/availability?from=" . FaultLoad::iso($w0)
                 . '&to=' . FaultLoad::iso($w0 + $n * $slot);
        my $a = $http->request(GET => $path, {});
        my $j = ($a->{status} // 0) == 200 ? eval { $JSON->decode($a->{body}) } : undef;
        my @free;
        if ($j && ref $j->{free} eq 'ARRAY') {
            for my $run (@{ $j->{free} }) {
                my ($s, $e) = (epoch($run->{start}), epoch($run->{end}));
                last unless defined $s && defined $e && $e > $s;
                push @free, ($run->{units}) x (($e - $s) / $slot);
            }
        }
        if (@free != $n) {
            $problem->('avail_mismatch', "availability: $res->{id}: no usable answer: "
                       . ($a->{err} || "$a->{status} " . substr($a->{body} // '', 0, 200)));
            next;
        }
        my @diff = grep { $free[$_] != $cap - $occ[$_] } 0 .. $n - 1;
        if (@diff) {
            $problem->('avail_mismatch', "availability: $res->{id}: " . scalar(@diff)
                       . " slots differ from the bookings, first at "
                       . FaultLoad::iso($w0 + $diff[0] * $slot) . ": module says "
                       . "$free[$diff[0]] free, bookings leave " . ($cap - $occ[$diff[0]]));
        }
    }
    return \%r;
}

sub _redis_now {
    my ($t) = @_;
    my $r = $t->redis('TIME');
    die "FaultCheck: TIME: " . (ref $r eq 'HASH' ? $r->{error} : 'no answer') . "\n"
        unless ref $r eq 'ARRAY';
    return $r->[0] + $r->[1] / 1e6;
}

sub _hash {
    my ($l) = @_;
    return {} unless ref $l eq 'ARRAY';
    my %h = @$l;
    return \%h;
}

# Every booking of the resources: id => {id, rid, rand, f => {fields}},
# from each resource's hash of records (rand -> a JSON object)
sub _scan_bookings {
    my ($t, $resources) = @_;
    my @ids = map { $_->{id} } @$resources;
    my $replies = $t->redis_pipeline(map { [ 'HGETALL', rkey($_, ':b') ] } @ids);
    my %out;
    for my $i (0 .. $#ids) {
        my $all = _hash($replies->[$i]);
        for my $rand (keys %$all) {
            my $f = eval { $JSON->decode($all->{$rand}) } or next;
            $out{"$ids[$i].$rand"} = { id => "$ids[$i].$rand", rid => $ids[$i], rand => $rand,
                                       f => $f };
        }
    }
    return \%out;
}

1;

__END__

=head1 NAME

FaultCheck - Redis against what the FaultLoad clients were told

=head1 SYNOPSIS

    my $c = FaultCheck::run(t => $t, logs => [$load->logs],
                            resources => \@res, window => [$from, $nslots]);
    print "$c->{checked} checked, $c->{lost} lost, $c->{doubled} doubled\n";
    print "$_\n" for @{ $c->{problems} };

=head1 WHAT IT CHECKS

The truth of a request is its decisive answer: the first attempt that is
not outcome-unknown (a C<504>, a lost connection or timeout, or a C<503>
to a retry); the clients retry those with the same C<Idempotency-Key>
(SPEC section 4), so the decisive answer of a create is either the first
answer replayed (C<201>, C<Idempotent-Replayed>) or what the retry itself
did.  Requests whose outcome was never learnt (C<unresolved>) are counted
and accept either outcome.

=over

=item lost

An acknowledged booking (decisive C<201>) that is not in Redis.

=item wrong_state

An acknowledged booking whose status in Redis (as the module shows it: a
C<held> one past C<expires_at> is C<expired>) is not the last acknowledged
one: C<held> may have become C<expired> at its C<expires_at>; an unresolved
confirm or cancel allows its outcome too.

=item doubled

Two bookings in Redis with one C<note> (every create has its own), a create
answered with another booking than the one its note made, or one booking
id answered to two creates.

=item phantom

A booking in Redis whose create was decisively refused (C<409>, or C<503>
"never reached Redis"), or that no logged create made.

=item over_capacity

A slot of a resource where the occupying bookings in Redis (C<held> not
expired, C<requested>, C<confirmed>, with their buffer) add up to more than
its capacity; for timeless stock, the sum of the occupying quantities.

=item avail_mismatch

A slot where the module's availability answer differs from the capacity
left by those bookings (counters that drifted from the bookings), or stored
C<used> of timeless stock that differs from its bookings.

=back

Before reading, it waits (at most 65 s) until the holds that expire within
the next minute have expired, so that the availability read and the scan
agree on them.

=cut

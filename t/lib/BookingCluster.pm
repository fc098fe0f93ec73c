package BookingCluster;

# A Redis Cluster on loopback ports for the tests: Debian's redis-server
# in cluster mode, three masters and three replicas by default, made one
# cluster by redis-cli --cluster create, in the test's directory.
#
#   my $c = BookingCluster->new(dir => $dir);   # ports drawn
#   $c->start;                                  # waits until every node is ok
#   $c->directive;                              # booking_redis_cluster ...;
#   $c->command(@args);                         # to the master of args[1]'s slot
#   $c->masters; $c->pid($port);                # to SIGKILL one
#
# BOOKING_CLUSTER=1 makes every BookingTest use one (make test-cluster).

use strict;
use warnings;

use Time::HiRes qw(time sleep);
use BookingTest ();
use BookingKeys ();
use List::Util ();

sub new {
    my ($class, %o) = @_;
    my $n = ($o{masters} // 3) * (1 + ($o{replicas} // 1));
    return bless {
        dir      => $o{dir},
        replicas => $o{replicas} // 1,
        ports    => [ map { BookingTest::free_port() } 1 .. $n ],
        pids     => {},
        stopped  => {},
        args     => $o{args} || [],
    }, $class;
}

sub ports { @{ $_[0]{ports} } }
sub pid   { $_[0]{pids}{ $_[1] } }

sub directive {
    my ($self) = @_;
    return 'booking_redis_cluster '
        . join(' ', map { "127.0.0.1:$_" } @{ $self->{ports} }[0 .. 2]) . ";\n";
}

sub start {
    my ($self) = @_;
    my $dir = $self->{dir};
    for my $p (@{ $self->{ports} }) {
        $self->start_node($p);
    }
    for my $p (@{ $self->{ports} }) {
        $self->_wait(sub { my $r = eval { $self->node($p, 'PING') }; defined $r && $r eq 'PONG' },
                     10, "node $p answers PING");
    }
    my $out = `redis-cli --cluster create @{[ map { "127.0.0.1:$_" } @{ $self->{ports} } ]} --cluster-replicas $self->{replicas} --cluster-yes 2>&1`;
    die "BookingCluster: redis-cli --cluster create failed:\n$out" if $?;
    $self->wait_ok(20);
    $self->wait_synced(20);
    return $self->refresh;
}

# one node, again after a SIGKILL too: its nodes file keeps its place
sub start_node {
    my ($self, $p) = @_;
    my $dir = "$self->{dir}/cluster-$p";
    mkdir $dir;
    $self->{cports}{$p} //= BookingTest::free_port();
    $self->{pids}{$p} = BookingTest::_spawn(
        cmd => [ 'redis-server', '--port', $p, '--bind', '127.0.0.1', '--dir', $dir,
                 '--cluster-enabled', 'yes', '--cluster-config-file', "$dir/nodes.conf",
                 '--cluster-port', $self->{cports}{$p}, '--cluster-node-timeout', 2000,
                 '--save', '', '--appendonly', 'no', '--logfile', "$dir/redis.log",
                 @{ $self->{args} } ],
        stderr => "$dir/stderr");
    delete $self->{stopped}{$p};
}

# every live node says ok, and agrees with the others on the masters
sub wait_ok {
    my ($self, $timeout) = @_;
    $self->_wait(sub {
        for my $p (grep { !$self->{stopped}{$_} } @{ $self->{ports} }) {
            my $info = eval { $self->node($p, 'CLUSTER', 'INFO') };
            return 0 unless defined $info && !ref $info && $info =~ /cluster_state:ok/
                && $info =~ /cluster_slots_ok:16384/;
        }
        return 1;
    }, $timeout, 'every node of the cluster says ok');
}

# every live replica has its master's data (a WAIT can be met)
sub wait_synced {
    my ($self, $timeout) = @_;
    $self->_wait(sub {
        for my $p (grep { !$self->{stopped}{$_} } @{ $self->{ports} }) {
            my $info = eval { $self->node($p, 'INFO', 'replication') } // '';
            return 0 if ref $info;
            return 0 if $info =~ /role:slave/ && $info !~ /master_link_status:up/;
        }
        return 1;
    }, $timeout, 'every replica of the cluster in sync');
}

sub _wait {
    my ($self, $cond, $timeout, $what) = @_;
    my $deadline = time + $timeout * BookingTest::slow();
    until ($cond->()) {
        die "BookingCluster: not in ${timeout}s: $what\n" if time > $deadline;
        sleep 0.05;
    }
}

sub node {
    my ($self, $port, @args) = @_;
    return BookingTest::resp_command($port, 5, @args);
}

# [port of the master, its first slot, its last] for each range: asked
# once, and again after refresh() (a test's own CLUSTER SLOTS would show
# in INFO commandstats)
sub refresh { delete $_[0]{slots}; return $_[0] }

sub slots {
    my ($self) = @_;
    return $self->{slots} if $self->{slots};
    for my $p (grep { !$self->{stopped}{$_} } @{ $self->{ports} }) {
        my $r = eval { $self->node($p, 'CLUSTER', 'SLOTS') };
        next unless ref $r eq 'ARRAY';
        return $self->{slots} = [ map { [ $_->[2][1], $_->[0], $_->[1] ] } @$r ];
    }
    die "BookingCluster: no node answers CLUSTER SLOTS\n";
}

sub masters {
    my ($self) = @_;
    my %m = map { $_->[0] => 1 } @{ $self->slots };
    return sort { $a <=> $b } keys %m;
}

sub master_of {
    my ($self, $key) = @_;
    my $slot = BookingKeys::key_slot($key);
    for my $r (@{ $self->slots }) {
        return $r->[0] if $slot >= $r->[1] && $slot <= $r->[2];
    }
    return undef;
}

# what a test asks of "Redis" as a whole: every master's answer, merged
my %EVERY = map { $_ => 1 } qw(KEYS INFO CONFIG SLOWLOG FLUSHALL FLUSHDB DBSIZE);

# A command to the master of its key's slot (args[1]), following MOVED;
# keyless ones (TIME, PING) to the first master; those of %EVERY to all.
sub command {
    my ($self, @args) = @_;
    return _merge(\@args, $self->each_master(@args)) if $EVERY{ uc $args[0] };
    my $port = @args > 1 ? $self->master_of($args[1]) : ($self->masters)[0];
    my $ask;
    for (1 .. 5) {
        my $r = $ask ? BookingTest::resp_pipeline($port, 5, ['ASKING'], [@args])->[1]
                     : $self->node($port, @args);
        return $r unless ref $r eq 'HASH'
            && ($r->{error} // '') =~ /^(MOVED|ASK) \d+ [\d.]*:(\d+)/;
        ($ask, $port) = ($1 eq 'ASK', $2);
        $self->refresh unless $ask;
    }
    die "BookingCluster: @args: redirected too often\n";
}

# lists joined, numbers and INFO commandstats' counts summed, else the
# first answer (OK from each)
sub _merge {
    my ($args, @r) = @_;
    return [ map { @$_ } grep { ref $_ eq 'ARRAY' } @r ] if ref $r[0] eq 'ARRAY';
    return $r[0] if ref $r[0];
    if (uc $args->[0] eq 'INFO') {
        my (%n, @order);
        for my $text (@r) {
            while ($text =~ /^cmdstat_(\S+?):calls=(\d+),usec=(\d+)/mg) {
                push @order, $1 unless $n{$1};
                $n{$1}[0] += $2;
                $n{$1}[1] += $3;
            }
        }
        return $r[0] unless @order;
        return join '', "# Commandstats\r\n", map {
            sprintf "cmdstat_%s:calls=%d,usec=%d,usec_per_call=%.2f\r\n", $_, @{ $n{$_} },
                $n{$_}[1] / ($n{$_}[0] || 1)
        } @order;
    }
    return List::Util::sum(@r) if !grep { !/^-?\d+$/ } @r;
    return $r[0];
}

# Moves one slot to the master on port $to as redis-cli does, one key at
# a time with $pause seconds between them, so that commands meanwhile
# meet ASK (a key moved) and TRYAGAIN (a script's keys on both sides).
sub migrate_slot {
    my ($self, $slot, $to, $pause) = @_;
    my $from = $self->master_of_slot($slot);
    return 'same' if $from == $to;
    my ($fid, $tid) = map { $self->node($_, 'CLUSTER', 'MYID') } $from, $to;
    my @err;
    push @err, $self->node($to, 'CLUSTER', 'SETSLOT', $slot, 'IMPORTING', $fid);
    push @err, $self->node($from, 'CLUSTER', 'SETSLOT', $slot, 'MIGRATING', $tid);
    for (1 .. 100000) {
        my $keys = $self->node($from, 'CLUSTER', 'GETKEYSINSLOT', $slot, 1);
        last unless ref $keys eq 'ARRAY' && @$keys;
        push @err, $self->node($from, 'MIGRATE', '127.0.0.1', $to, '', 0, 5000, 'KEYS', @$keys);
        Time::HiRes::sleep($pause) if $pause;
    }
    push @err, $self->node($_, 'CLUSTER', 'SETSLOT', $slot, 'NODE', $tid) for $to, $from;
    $self->refresh;
    my @bad = map { $_->{error} } grep { ref $_ eq 'HASH' } @err;
    return @bad ? "migrate slot $slot: @bad" : 'ok';
}

sub master_of_slot {
    my ($self, $slot) = @_;
    for my $r (@{ $self->slots }) {
        return $r->[0] if $slot >= $r->[1] && $slot <= $r->[2];
    }
    return undef;
}

# on every master: FLUSHALL, KEYS (merged), ...
sub each_master {
    my ($self, @args) = @_;
    return map { $self->node($_, @args) } $self->masters;
}

sub signal {
    my ($self, $sig, $port) = @_;
    my $pid = $self->{pids}{$port} or return 0;
    $self->{stopped}{$port} = 1 if $sig eq 'STOP' || $sig eq 'KILL';
    $self->refresh;
    delete $self->{stopped}{$port} if $sig eq 'CONT';
    my $n = kill $sig, $pid;
    BookingTest::_wait_exit($pid, 5) if $sig eq 'KILL';
    return $n;
}

sub stop {
    my ($self) = @_;
    for my $port (keys %{ $self->{pids} }) {
        my $pid = $self->{pids}{$port} or next;
        kill 'CONT', $pid;
        kill 'TERM', $pid;
        BookingTest::_wait_exit($pid, 5) or kill 'KILL', $pid;
    }
    $self->{pids} = {};
}

sub DESTROY { local ($@, $!, $?); $_[0]->stop }

1;

package BookingSentinel;

# Redis Sentinel on loopback ports for the tests (t/23, t/25, make fault):
# the harness's Redis as the master, replicas and sentinels started from
# Debian's redis-server (the sentinels in sentinel mode) in the test's
# directory.  The sentinels' ports are drawn first, for nginx.conf:
#
#   my $s = BookingSentinel->new;              # 3 sentinels
#   my $t = BookingTest->new(booking_redis => '', http => $s->directive . ...);
#   $s->start($t);                             # 2 replicas; waits until known
#   $s->master;                                # the port the sentinels name
#   $s->pid($port);                            # to SIGKILL or SIGSTOP it

use strict;
use warnings;

use Time::HiRes qw(time sleep);
use BookingTest ();

sub new {
    my ($class, %o) = @_;
    return bless {
        name       => $o{name} // 'mymaster',
        sports     => [ map { BookingTest::free_port() } 1 .. ($o{sentinels} // 3) ],
        # not 1 s: a sentinel PINGs a master about once a second, so with
        # 1 s the new master of a failover whose first PONG comes a little
        # late (a machine short of CPU) was seen down and failed over too
        down_after => $o{down_after} // 2000,
        pids       => {},
        stopped    => {},
    }, $class;
}

sub name     { $_[0]{name} }
sub ports    { @{ $_[0]{sports} } }
sub replicas { @{ $_[0]{rports} || [] } }

sub directive {
    my ($self) = @_;
    return "booking_redis_sentinel $self->{name} "
        . join(' ', map { "127.0.0.1:$_" } @{ $self->{sports} }) . ";\n";
}

# start($t, replicas => 2, args => [redis-server options of the replicas])
sub start {
    my ($self, $t, %o) = @_;
    my $dir = $self->{dir} = $t->dir;
    my $mport = $t->redis_port;
    $self->{pids}{$mport} = $t->redis_pid;
    $self->{rports} = [ map { BookingTest::free_port() } 1 .. ($o{replicas} // 2) ];
    for my $p (@{ $self->{rports} }) {
        mkdir "$dir/replica-$p";
        $self->_spawn("replica-$p", $p, '--port', $p, '--bind', '127.0.0.1',
                      '--dir', "$dir/replica-$p", '--save', '', '--appendonly', 'no',
                      @{ $o{args} || [] }, '--logfile', "$dir/replica-$p.log",
                      '--replicaof', '127.0.0.1', $mport);
    }
    for my $p (@{ $self->{sports} }) {
        BookingTest::_spew("$dir/sentinel-$p.conf", join "\n",
            "port $p", 'bind 127.0.0.1', "dir $dir", "logfile $dir/sentinel-$p.log",
            "sentinel monitor $self->{name} 127.0.0.1 $mport 2",
            "sentinel down-after-milliseconds $self->{name} $self->{down_after}",
            "sentinel failover-timeout $self->{name} 10000", '');
        $self->_spawn("sentinel-$p", $p, "$dir/sentinel-$p.conf", '--sentinel');
    }
    $self->wait_for('the replicas to sync', 20, sub { $self->in_sync(@{ $self->{rports} }) })
        or die "BookingSentinel: the replicas did not sync\n";
    $self->wait_for('the sentinels to see the replicas and each other', 30, sub {
        !grep { @{ $self->sentinel($_, 'replicas', $self->{name}) } < @{ $self->{rports} }
                || @{ $self->sentinel($_, 'sentinels', $self->{name}) } < @{ $self->{sports} } - 1 }
            @{ $self->{sports} } })
        or die "BookingSentinel: the sentinels do not know each other\n";
    return $self;
}

sub _spawn {
    my ($self, $name, $port, @args) = @_;
    $self->{pids}{$port} = BookingTest::_spawn(cmd => [ 'redis-server', @args ],
                                               stderr => "$self->{dir}/$name.stderr");
}

sub pid { $_[0]{pids}{ $_[1] } }

sub sentinel {
    my ($self, $port, @args) = @_;
    return BookingTest::resp_command($port, 5, 'SENTINEL', @args);
}

# the master's port as the sentinels name it (the first that answers)
sub master {
    my ($self) = @_;
    for my $p (@{ $self->{sports} }) {
        my $m = eval { $self->sentinel($p, 'get-master-addr-by-name', $self->{name}) };
        return $m->[1] if ref $m eq 'ARRAY' && @$m == 2;
    }
    return undef;
}

# what each sentinel says of the master (SENTINEL MASTER's fields), undef
# for one that does not answer
sub views {
    my ($self) = @_;
    return map {
        my $m = eval { $self->sentinel($_, 'master', $self->{name}) };
        ref $m eq 'ARRAY' ? { @$m } : undef
    } @{ $self->{sports} };
}

# the master's port in the newest configuration any sentinel has (the
# highest config-epoch): the one a failover ended on, before every
# sentinel has heard of it.  The leader of a failover has the new epoch
# and still the old address until the failover ends: not asked meanwhile.
sub newest {
    my ($self) = @_;
    my ($port, $epoch) = (undef, -1);
    for my $f (grep { $_ && ($_->{flags} // '') !~ /failover_in_progress/ } $self->views) {
        ($port, $epoch) = ($f->{port}, $f->{'config-epoch'})
            if defined $f->{'config-epoch'} && $f->{'config-epoch'} > $epoch;
    }
    return $port // $self->master;
}

# the master's port once every sentinel names the same and none is in a
# failover or sees that master down; undef until then
sub settled {
    my ($self) = @_;
    my %port;
    for my $f ($self->views) {
        return undef if !$f || ($f->{flags} // '') =~ /failover|s_down|o_down/;
        $port{ $f->{port} // '' }++;
    }
    my @p = keys %port;
    return @p == 1 ? $p[0] : undef;
}

# every replica given follows its master, the link up
sub in_sync {
    my ($self, @ports) = @_;
    return !grep { (eval { BookingTest::resp_command($_, 1, 'INFO', 'replication') } // '')
                   !~ /master_link_status:up/ } @ports;
}

# the replicas of the master that are in sync with it (not still loading
# a full resync: a replica that was ahead of the promoted one has to)
sub connected {
    my ($self, $port) = @_;
    my $i = eval { BookingTest::resp_command($port, 1, 'INFO', 'replication') } // '';
    my @online = $i =~ /^slave\d+:.*state=online/mg;
    return scalar @online;
}

sub wait_for {
    my ($self, $what, $secs, $code) = @_;
    my $deadline = time + $secs * BookingTest::slow();
    while (time < $deadline) {
        my $v = eval { $code->() };
        return $v if $v;
        sleep 0.05;
    }
    print STDERR "# waited $secs s for $what\n";
    return undef;
}

sub signal {
    my ($self, $sig, $port) = @_;
    my $pid = $self->{pids}{$port} or return 0;
    $self->{stopped}{$port} = 1 if $sig eq 'STOP';
    delete $self->{stopped}{$port} if $sig eq 'CONT';
    return kill $sig, $pid;
}

sub stop {
    my ($self) = @_;
    for my $port (keys %{ $self->{stopped} }) {
        kill 'CONT', $self->{pids}{$port};
    }
    for my $port (keys %{ $self->{pids} }) {
        my $pid = $self->{pids}{$port} or next;
        next unless grep { $_ == $port } @{ $self->{sports} }, @{ $self->{rports} || [] };
        kill 'TERM', $pid;
        BookingTest::_wait_exit($pid, 5) or kill 'KILL', $pid;
    }
    $self->{pids} = {};
}

sub DESTROY { local ($@, $!, $?); $_[0]->stop }

1;

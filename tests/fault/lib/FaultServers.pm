package FaultServers;

# The servers of the fault and soak runs: BookingTest (t/lib) with a Redis
# that fsyncs every write, short holds, a 300 ms Redis timeout, and the
# resources the load books.  Adds what BookingTest lacks for a binary
# upgrade.  POD at the end.

use strict;
use warnings;

use parent -norequire, 'BookingTest';
use BookingTest ();
use BookingSentinel ();
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(time sleep);

# Short holds (6 s) so that holds expire under the load; one type with a
# buffer, one with approval, one timeless stock.
our $HTTP = <<'EOT';
booking_type fhour  slot=1h hold=6s max=4h;
booking_type fbuf   slot=1h hold=10m max=3h buffer=1h;
booking_type fappr  slot=1h hold=6s max=4h approval=on;
booking_type fstock slot=none hold=6s;
booking_user $http_x_user_id;
booking_secret_file %%DIR%%/booking.secret;
booking_redis_timeout 300ms;
EOT

our $REDIS_CONF = <<'EOT';
appendonly yes
appendfsync always
maxmemory-policy noeviction
latency-monitor-threshold 100
enable-debug-command local
EOT

my $PR_SET_CHILD_SUBREAPER = 36;
my %PRCTL_NR = ('x86_64' => 157, 'aarch64' => 167);
my $PRCTL_NR = $^O eq 'linux' ? $PRCTL_NR{ (POSIX::uname())[4] } : undef;
my $SUBREAPER;

# FaultServers->new(workers => 4, detached => 0|1, sentinel => 0|1, replicas => 1)
#
# sentinel: the harness's Redis is the master of two replicas (persisted
# as it is) watched by three sentinels; nginx finds it through them
# (booking_redis_sentinel) and waits for one replica
# (booking_redis_replicas 1 unless told, timeout = booking_redis_timeout).  redis()
# talks to whichever master the sentinels name.
sub new {
    my ($class, %o) = @_;
    # Orphans of our nginx (a master whose starter or old master exited)
    # become our children, so that we can wait for them.
    if (!$SUBREAPER && $PRCTL_NR) {
        syscall($PRCTL_NR, $PR_SET_CHILD_SUBREAPER, 1) == 0
            or die "FaultServers: PR_SET_CHILD_SUBREAPER: $!\n";
        $SUBREAPER = 1;
    }
    local $FaultServers::DETACHED = $o{detached} ? 1 : 0;
    my $secret = join '', map { ('a' .. 'z', 0 .. 9)[ int rand 36 ] } 1 .. 32;
    my $http = $o{http} // $HTTP;
    my $sentinel = $o{sentinel} ? BookingSentinel->new : undef;
    $http .= $sentinel->directive . "booking_redis_replicas " . ($o{replicas} // 1) . ";\n"
        if $sentinel;
    my $self = $class->SUPER::new(
        workers    => $o{workers} // 4,
        http       => $http,
        redis_conf => $o{redis_conf} // $REDIS_CONF,
        files      => { 'booking.secret' => "$secret\n" },
        $sentinel ? (booking_redis => '') : (),
    );
    if ($sentinel) {
        $self->{sentinel} = $sentinel;
        $sentinel->start($self, args => [ '--appendonly', 'yes', '--appendfsync', 'always',
                                           '--latency-monitor-threshold', 100 ]);
        $sentinel->wait_for('nginx to find the master', 10, sub {
            $self->req(GET => '/api/resources/none')->{status} == 404 })
            or die "FaultServers: nginx did not find the master through the sentinels\n";
    }
    return $self;
}

sub sentinel { $_[0]{sentinel} }

sub _master_port {
    my ($self) = @_;
    return $self->{redis_port} unless $self->{sentinel};
    return $self->{sentinel}->newest // $self->{redis_port};
}

sub redis {
    my ($self, @args) = @_;
    return BookingTest::resp_command($self->_master_port, 5, @args);
}

sub redis_pipeline {
    my ($self, @cmds) = @_;
    return BookingTest::resp_pipeline($self->_master_port, 5, @cmds);
}

sub stop {
    my ($self) = @_;
    $self->{sentinel}->stop if $self->{sentinel};
    return $self->SUPER::stop;
}

our $DETACHED = 0;

# nginx ignores USR2 while its parent is the process that started it (it
# takes that for "the old binary is still running").  Detached: nginx is
# started through a process that exits at once, so its parent changes (to
# us, the subreaper) and a binary upgrade works as with a daemon.
sub _try_start_nginx {
    my ($self) = @_;
    $self->{detached} = $DETACHED unless exists $self->{detached};
    return $self->SUPER::_try_start_nginx unless $self->{detached};
    my $d = $self->{dir};
    unlink "$d/nginx.pid", "$d/nginx.pid.oldbin";
    my $offset = -s "$d/error.log" || 0;
    my @cmd = ($BookingTest::NGINX, '-p', "$d/", '-c', "$d/nginx.conf", '-e', "$d/error.log");
    # The starter leaves only once nginx wrote its pid file: nginx reads
    # its parent's pid (ngx_parent) first thing, and it must read the
    # starter's, not ours.
    my $mid = BookingTest::_spawn(
        cmd => [ $^X, '-e', 'my $pidfile = shift; defined(my $p = fork) or exit 1; '
                 . 'if ($p) { for (1 .. 500) { last if -s $pidfile; '
                 . 'select(undef, undef, undef, 0.01) } exit 0 } '
                 . 'exec { $ARGV[0] } @ARGV; exit 127', "$d/nginx.pid", @cmd ],
        stderr => "$d/nginx.stderr",
    );
    BookingTest::_wait_exit($mid, 8);
    my $deadline = time + $BookingTest::START_TIMEOUT;
    while (time < $deadline) {
        my $pid = BookingTest::_read_pid("$d/nginx.pid");
        if ($pid && _ppid($pid) == $$ && BookingTest::_can_connect($self->{port})) {
            $self->{nginx_pid} = $pid;
            return undef if BookingTest::_all_ready($self->worker_pids) >= $self->{workers};
        }
        sleep 0.02;
    }
    $self->_stop_nginx if $self->{nginx_pid};
    return "FaultServers: detached nginx did not come up:\n"
        . BookingTest::_tail_from("$d/error.log", $offset) . BookingTest::_slurp("$d/nginx.stderr");
}

sub _ppid {
    my ($pid) = @_;
    my $st = BookingTest::_slurp("/proc/$pid/status");
    return $st =~ /^PPid:\s*(\d+)/m ? $1 : 0;
}

# Binary upgrade in place: USR2 to the master (it renames nginx.pid to
# nginx.pid.oldbin and starts a new master on the same binary and listening
# sockets), wait for the new master's workers, QUIT the old master.
# Returns {ok, old, new, seconds, why}.
sub upgrade_binary {
    my ($self, %o) = @_;
    my $d = $self->{dir};
    my $old = $self->{nginx_pid} or return { ok => 0, why => 'nginx is not running' };
    my $t0 = time;
    my $offset = -s "$d/error.log" || 0;
    kill 'USR2', $old;
    my ($new, $ready);
    my $deadline = time + ($o{timeout} // 10);
    while (time < $deadline) {
        my $oldbin = BookingTest::_read_pid("$d/nginx.pid.oldbin");
        my $pid = BookingTest::_read_pid("$d/nginx.pid");
        if ($oldbin == $old && $pid && $pid != $old && _ppid($pid) == $old) {
            $new = $pid;
            my @w = BookingTest::_all_ready($self->_children($new));
            if (@w >= $self->{workers}) { $ready = 1; last }
        }
        sleep 0.02;
    }
    if (!$ready) {
        return { ok => 0, old => $old, new => $new, why => 'no new master with ready '
                 . "workers within 10 s:\n" . BookingTest::_tail_from("$d/error.log", $offset) };
    }
    my $t_new = time - $t0;
    kill 'QUIT', $old;
    my $gone = BookingTest::_wait_exit($old, $o{quit_timeout} // 20);
    $self->{nginx_pid} = $new;
    my $why = '';
    $why .= "the old master did not exit within 20 s; " unless $gone;
    # once the old master is gone, the new one is ours (subreaper)
    my $adopted = 0;
    for (1 .. 100) {
        if (_ppid($new) == $$) { $adopted = 1; last }
        sleep 0.02;
    }
    $why .= "the new master was not adopted; " unless $adopted;
    $why .= "nginx.pid.oldbin left behind; " if -e "$d/nginx.pid.oldbin";
    return { ok => ($gone && $adopted && !-e "$d/nginx.pid.oldbin") ? 1 : 0,
             old => $old, new => $new, new_ready_after => $t_new, oldbin_seen => 1,
             seconds => time - $t0, why => $why };
}

# ---------------------------------------------------------------- data

# 20 resources: 18 hourly ones of capacity 1 to 3 over fhour, fbuf and
# fappr, 2 timeless stocks.  Returns ([{id,type,capacity,slot,hold}],
# [from, nslots]): the window is the 48 hours (slots => N) from tomorrow
# 00:00 UTC, by Redis's clock.
sub setup_resources {
    my ($t, %o) = @_;
    my @types = qw(fhour fbuf fappr);
    my %hold = (fhour => 6, fbuf => 600, fappr => 6, fstock => 6);
    my @res;
    for my $i (1 .. 18) {
        push @res, { id => sprintf('r%02d', $i), type => $types[ ($i - 1) % 3 ],
                     capacity => 1 + int(($i - 1) / 3) % 3,
                     slot => 3600 };
    }
    push @res, { id => 's01', type => 'fstock', capacity => 3, slot => 0 },
               { id => 's02', type => 'fstock', capacity => 2, slot => 0 };
    $_->{hold} = $hold{ $_->{type} } for @res;
    for my $r (@res) {
        my $a = $t->req(PUT => "/admin/resources/$r->{id}",
                        body => { type => $r->{type}, capacity => $r->{capacity},
                                  title => "fault $r->{id}" });
        die "FaultServers: PUT $r->{id}: $a->{status} $a->{body}\n"
            unless $a->{status} == 201 || $a->{status} == 200;
    }
    my $now = $t->redis('TIME');
    die "FaultServers: TIME failed\n" unless ref $now eq 'ARRAY';
    my $from = (POSIX::floor($now->[0] / 86400) + 1) * 86400;
    return (\@res, [ $from, $o{slots} // 48 ]);
}

# Redis's own record of its stalls over 100 ms (LATENCY LATEST, since its
# last start): "event max N ms" strings.
sub redis_stalls {
    my ($self) = @_;
    my $l = eval { $self->redis('LATENCY', 'LATEST') };
    return () unless ref $l eq 'ARRAY';
    return map { ref $_ eq 'ARRAY' ? "$_->[0] latest $_->[2] ms, max $_->[3] ms" : () } @$l;
}

# Lines of the error log that say a process crashed.
sub crashes {
    my ($self) = @_;
    return grep { /exited on signal|core dumped/ } split /\n/, $self->error_log;
}

1;

__END__

=head1 NAME

FaultServers - servers and resources for tests/fault/run.pl and soak.pl

=head1 SYNOPSIS

    use lib 't/lib', 'tests/fault/lib';
    my $t = FaultServers->new(workers => 4, detached => 1);
    my ($res, $window) = FaultServers::setup_resources($t);
    my $u = $t->upgrade_binary;    # detached only: USR2, then QUIT the old

=head1 DESCRIPTION

A L<BookingTest> whose Redis runs with C<appendonly yes>, C<appendfsync
always>, C<maxmemory-policy noeviction>, a latency monitor and C<DEBUG>
allowed from loopback, and whose nginx has the types
C<fhour> (1 h slots, 6 s holds), C<fbuf> (1 h slots, 10 min holds, 1 h
buffer), C<fappr> (approval), C<fstock> (timeless), a
C<booking_secret_file> (tokens survive reloads and upgrades) and
C<booking_redis_timeout 300ms>.

C<< detached => 1 >> starts nginx through a process that exits at once.
nginx ignores C<USR2> while its parent is the process that started it
(C<ngx_getppid() == ngx_parent> in C<ngx_signal_handler>), which is the
case for BookingTest's nginx (C<daemon off>, our child).  The script makes
itself a child subreaper (C<PR_SET_CHILD_SUBREAPER>), so the detached
master and, after an upgrade, the new master become its children and
BookingTest's C<stop> can wait for them.

C<upgrade_binary> sends C<USR2> to the master, waits until
F<nginx.pid.oldbin> holds the old pid, F<nginx.pid> a new master (a child
of the old one) and that master's workers are ready, then sends C<QUIT> to
the old master and waits for it to exit; the new master becomes the one
C<stop>, C<worker_pids> and C<master_pid> use.

C<crashes> lists the error log lines that say a process died of a signal;
C<redis_stalls> what Redis's latency monitor (threshold 100 ms) recorded
since Redis last started.

=cut

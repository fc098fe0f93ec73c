package BookingTest;

# Integration test harness for ngx_booking: starts a private redis-server and
# nginx (with the booking module) in a temp dir on free loopback ports, and
# offers small HTTP / raw TCP / RESP clients to talk to them.  POD at the end.

use strict;
use warnings;

use Cwd ();
use File::Basename ();
use File::Copy ();
use File::Path ();
use File::Spec ();
use File::Temp ();
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use JSON::PP ();
use POSIX qw(WNOHANG);
use Scalar::Util ();
use Test::More ();
use Time::HiRes qw(time sleep);

our $NGINX        = $ENV{BOOKING_NGINX}        || '/usr/sbin/nginx';
our $REDIS_SERVER = $ENV{BOOKING_REDIS_SERVER} || '/usr/bin/redis-server';

# BOOKING_VALGRIND=1: nginx runs under valgrind (memcheck); everything that
# waits on nginx waits $SLOW times longer.  Tests scale their own time
# limits with BookingTest::slow().
our $VALGRIND = $ENV{BOOKING_VALGRIND} ? 1 : 0;
our $SLOW     = $VALGRIND ? 10 : 1;
our $VALGRIND_BIN = $ENV{BOOKING_VALGRIND_BIN} || 'valgrind';

# BOOKING_ASAN=1 (make test-asan): nginx runs with the ASan and UBSan
# runtimes preloaded, for a module built with them; every report they write
# fails the test.  Leaks are valgrind's job: LeakSanitizer cannot tell
# nginx's own never-freed start-up memory from the module's.
our $ASAN = $ENV{BOOKING_ASAN} ? 1 : 0;

# BOOKING_ONE_SLOT=1: redis-server runs as a cluster of one node that owns
# every hash slot, so that Redis itself refuses (CROSSSLOT) any script or
# command whose keys are not all of one slot, as a real Cluster would.
our $ONE_SLOT = $ENV{BOOKING_ONE_SLOT} ? 1 : 0;

# BOOKING_CLUSTER=1: a test that takes the default Redis gets a real Redis
# Cluster instead (t/lib/BookingCluster.pm: three masters, three
# replicas), nginx booking_redis_cluster, and $t->redis() goes to the
# master of its key's slot (make test-cluster).
our $CLUSTER = $ENV{BOOKING_CLUSTER} ? 1 : 0;

our $START_TIMEOUT = 5 * $SLOW;    # seconds to wait for nginx / redis to come up

sub slow { return $SLOW }

# Repo root = two levels above t/lib/BookingTest.pm; resolved once at load
# time so a later chdir in a test cannot change it.
my $REPO = Cwd::abs_path(
    File::Spec->catdir(File::Basename::dirname(Cwd::abs_path(__FILE__)), '..', '..'));

my $OWNER_PID = $$;    # END/DESTROY must only act in the process that started things
my @LIVE;              # weak refs to every BookingTest / FakeRedis that may own processes
our @DIRS;             # every temp dir created, for failure diagnostics and cleanup
my %PORTS_GIVEN;       # never hand out the same port twice in this process

my $DEFAULT_HTTP = <<'EOT';
booking_type room  slot=1d hold=15m min=1d max=30d horizon=365d;
booking_type car   slot=1h hold=10m min=1h max=14d buffer=1h lead=2h;
booking_type desk  slot=30m hold=5m max=1d;
booking_type ride  slot=15m hold=10m;
booking_type couch slot=1d approval=on hold=48h max=7d;
booking_type gift  slot=none hold=1d;
booking_user $http_x_user_id;
EOT

# Under valgrind a busy worker reads Redis's replies ten times later: the
# default 250 ms would turn a race of 300 requests into 504s.
$DEFAULT_HTTP .= 'booking_redis_timeout ' . 250 * $SLOW . "ms;\n" if $VALGRIND;

# the http{} text a test gets by default, for tests that add to it
sub default_http { return $DEFAULT_HTTP }

my $DEFAULT_SERVER_MODULE = <<'EOT';
location /api/ { booking_api; }
location /admin/ { booking_api admin; }
location = /plain { return 200 "plain\n"; }
EOT

# the server{} text a test gets by default, for tests that add to it
sub default_server { return $DEFAULT_SERVER_MODULE }

my $DEFAULT_SERVER_PLAIN = <<'EOT';
location = /plain { return 200 "plain\n"; }
EOT

sub module_path {
    return $ENV{BOOKING_MODULE} || "$REPO/build/ngx_http_booking_module.so";
}

# ---------------------------------------------------------------- lifecycle

sub new {
    my ($class, %o) = @_;
    my $module = exists $o{module} ? $o{module} : 1;
    my $self = bless {
        owner      => $$,
        workers    => $o{workers} // 2,
        module     => $module,
        http       => $o{http}   // ($module ? $DEFAULT_HTTP : ''),
        server     => $o{server} // ($module ? $DEFAULT_SERVER_MODULE : $DEFAULT_SERVER_PLAIN),
        use_redis  => exists $o{redis} ? $o{redis} : 1,
        redis_conf => $o{redis_conf} // '',
        env        => $o{env} || {},
        files      => $o{files} || {},
        booking_redis => $o{booking_redis} // '127.0.0.1:%%REDIS_PORT%%',
        want_cluster  => $o{cluster},     # {masters, replicas, args}
    }, $class;

    if ($module) {
        my $so = module_path();
        die "BookingTest: module not found at $so (build it, or set BOOKING_MODULE)\n"
            unless -f $so;
        $self->{module_path} = Cwd::abs_path($so);
    }

    my $keep = $ENV{BOOKING_KEEP} ? 1 : 0;
    $self->{dir} = File::Temp::tempdir('ngx-booking-XXXXXX', TMPDIR => 1, CLEANUP => 0);
    push @DIRS, { dir => $self->{dir}, keep => $keep };
    mkdir "$self->{dir}/$_" for qw(body proxy fastcgi uwsgi scgi);

    _register_live($self);

    for my $name (sort keys %{ $self->{files} }) {
        _spew("$self->{dir}/$name", $self->{files}{$name});
    }

    # nginx maps the .so it loads; "make module" rewrites build/'s copy in
    # place, which would change the code under a running test.  Load a
    # private copy instead.
    if ($module) {
        my $copy = "$self->{dir}/ngx_http_booking_module.so";
        File::Copy::copy($self->{module_path}, $copy)
            or die "BookingTest: copy $self->{module_path}: $!\n";
        $self->{module_path} = $copy;
    }

    # If anything fails half way, do not leave a redis behind.
    my $ok = eval { $self->_start_all; 1 };
    if (!$ok) {
        my $err = $@;
        $self->stop;
        die $err;
    }
    return $self;
}

sub _start_all {
    my ($self) = @_;
    if ($self->{use_redis} && ($CLUSTER || $self->{want_cluster}) && !exists $self->{cluster}
        && $self->{booking_redis} eq '127.0.0.1:%%REDIS_PORT%%')
    {
        require BookingCluster;
        $self->{cluster} = BookingCluster->new(dir => $self->{dir},
                                               %{ $self->{want_cluster} || {} })->start;
        $self->{redis_port} = ($self->{cluster}->masters)[0];
        $self->{booking_redis} = '';
    } elsif ($self->{use_redis} && !$self->{cluster}) {
        $self->_start_redis_fresh_port;
    } else {
        # Still reserve a port so the conf can point at something dead.
        $self->{redis_port} = free_port();
    }
    $self->_start_nginx_fresh_port;
}

sub stop {
    my ($self) = @_;
    return unless $self->{owner} && $self->{owner} == $$;
    $self->_stop_nginx;
    $self->stop_redis;
    $self->check_valgrind if $VALGRIND;
    $self->check_sanitizers if $ASAN;
    return;
}

# Under BOOKING_ASAN: what nginx needs in its environment to load a module
# built with ASan and UBSan, and where their reports go.
sub _sanitizer_env {
    my ($d) = @_;
    return () unless $ASAN;
    chomp(my $asan = `gcc -print-file-name=libasan.so`);
    chomp(my $ubsan = `gcc -print-file-name=libubsan.so`);
    return (
        LD_PRELOAD    => "$asan:$ubsan",
        ASAN_OPTIONS  => "log_path=$d/asan:detect_leaks=0",
        UBSAN_OPTIONS => "log_path=$d/ubsan:print_stacktrace=1",
    );
}

# Under BOOKING_ASAN: one failed test per report ASan or UBSan wrote.
sub check_sanitizers {
    my ($self) = @_;
    for my $log (sort glob("$self->{dir}/asan.* $self->{dir}/ubsan.*")) {
        next if $self->{san_checked}{$log}++;
        my $text = _slurp($log);
        Test::More::ok(0, "sanitizer report $log")
            and next;
        Test::More::diag(substr($text, 0, 4000));
    }
    return;
}

# Under BOOKING_VALGRIND: one failed test per valgrind log (one per nginx
# process) that reports definitely lost bytes or any error.  Each log is
# judged once, after its process exited.
sub check_valgrind {
    my ($self) = @_;
    my @bad;
    for my $log (sort glob("$self->{dir}/valgrind.*.log")) {
        next if $self->{vg_checked}{$log};
        my $text = _slurp($log);
        my ($pid) = $log =~ /valgrind\.(\d+)\.log$/;
        next if $pid && kill(0, $pid) && $text !~ /ERROR SUMMARY/;    # still running
        $self->{vg_checked}{$log} = 1;
        my @why;
        while ($text =~ /definitely lost: ([\d,]+) bytes/g) {
            (my $n = $1) =~ tr/,//d;
            push @why, "definitely lost: $n bytes" if $n > 0;
        }
        if ($text =~ /ERROR SUMMARY: ([\d,]+) errors/) {
            (my $n = $1) =~ tr/,//d;
            push @why, "ERROR SUMMARY: $n errors" if $n > 0;
        } else {
            push @why, 'no ERROR SUMMARY (process killed?)';
        }
        push @bad, [ $log, \@why, $text ] if @why;
    }
    for my $b (@bad) {
        my ($log, $why, $text) = @$b;
        my @l = split /\n/, $text;
        @l = @l[0 .. 199] if @l > 200;
        Test::More::ok(0, "valgrind: $log: " . join('; ', @$why));
        Test::More::diag($_) for @l;
    }
    return !@bad;
}

sub DESTROY {
    my ($self) = @_;
    local ($@, $!, $?);    # DESTROY must not clobber the caller's error state
    $self->stop;
}

END {
    my $exit = $?;    # read before local: a died test script has $? != 0
    local $?;         # waitpid() below must not change the script's exit status
    return unless $$ == $OWNER_PID;
    for my $obj (grep { defined } @LIVE) {
        eval { $obj->stop };
    }
    my $failed = $exit != 0 || !Test::More->builder->is_passing;
    for my $d (@DIRS) {
        next unless -d $d->{dir};
        if ($failed) {
            for my $log (qw(error.log redis.log nginx.stderr redis.stderr)) {
                _diag_tail("$d->{dir}/$log", 60);
            }
        }
        if ($d->{keep}) {
            Test::More::diag("BookingTest: kept $d->{dir}");
        } else {
            File::Path::remove_tree($d->{dir});
        }
    }
}

sub _diag_tail {
    my ($file, $n) = @_;
    return unless -s $file;
    my @lines = split /\n/, _slurp($file);
    @lines = @lines[-$n .. -1] if @lines > $n;
    Test::More::diag("---- last lines of $file ----");
    Test::More::diag($_) for @lines;
}

# ---------------------------------------------------------------- accessors

sub port        { $_[0]{port} }
sub redis_port  { $_[0]{redis_port} }
sub cluster     { $_[0]{cluster} }
sub dir         { $_[0]{dir} }
sub master_pid  { $_[0]{nginx_pid} }
sub redis_pid   { $_[0]{redis_pid} }
sub error_log   { _slurp("$_[0]{dir}/error.log") }
sub redis_log   { _slurp("$_[0]{dir}/redis.log") }

sub url {
    my ($self, $path) = @_;
    $path //= '/';
    $path = "/$path" unless $path =~ m{^/};
    return "http://127.0.0.1:$self->{port}$path";
}

# ---------------------------------------------------------------- nginx

sub _subst {
    my ($self, $text) = @_;
    $text =~ s/%%REDIS_PORT%%/$self->{redis_port}/g;
    $text =~ s/%%PORT%%/$self->{port}/g;
    $text =~ s/%%DIR%%/$self->{dir}/g;
    return $text;
}

sub _nginx_conf {
    my ($self) = @_;
    my $d = $self->{dir};
    my @c;
    push @c, "load_module $self->{module_path};" if $self->{module};
    # As root, workers would otherwise run as nobody and could not reach the
    # 0700 temp dir (body temp files etc.).
    push @c, "user root;" if $> == 0;
    # nginx wipes the workers' environment except for names listed with env.
    push @c, "env $_;" for sort keys %{ $self->{env} };
    push @c,
        "worker_processes $self->{workers};",
        "daemon off;",
        "master_process on;",
        "pid $d/nginx.pid;",
        "error_log $d/error.log info;",
        "events { worker_connections 1024; }",
        "http {",
        "    access_log $d/access.log;",
        "    client_body_temp_path $d/body;",
        "    proxy_temp_path $d/proxy;",
        "    fastcgi_temp_path $d/fastcgi;",
        "    uwsgi_temp_path $d/uwsgi;",
        "    scgi_temp_path $d/scgi;";
    push @c, '    booking_redis ' . $self->_subst($self->{booking_redis}) . ';'
        if $self->{module} && length $self->{booking_redis};
    push @c, '    ' . $self->{cluster}->directive if $self->{cluster};
    push @c, _indent($self->_subst($self->{http}), 4);
    push @c, "    server {", "        listen 127.0.0.1:$self->{port};";
    push @c, _indent($self->_subst($self->{server}), 8);
    push @c, "    }", "}";
    return join("\n", @c) . "\n";
}

sub _indent {
    my ($text, $n) = @_;
    my $pad = ' ' x $n;
    return join "\n", map { "$pad$_" } split /\n/, $text;
}

sub _write_nginx_conf {
    my ($self) = @_;
    _spew("$self->{dir}/nginx.conf", $self->_nginx_conf);
}

# Retry with a new port when another process grabbed ours between
# free_port() and nginx's bind().
sub _start_nginx_fresh_port {
    my ($self) = @_;
    for my $try (1 .. 5) {
        $self->{port} = free_port();
        $self->_write_nginx_conf;
        my $err = $self->_try_start_nginx;
        return unless defined $err;
        die $err unless $err =~ /Address already in use/;
    }
    die "BookingTest: could not find a port nginx can bind\n";
}

# Returns undef on success, an error text (with the logs) on failure.
sub _try_start_nginx {
    my ($self) = @_;
    my $d = $self->{dir};
    unlink "$d/nginx.pid";
    my $elog_offset = -s "$d/error.log" || 0;
    my @cmd = ($NGINX, '-p', "$d/", '-c', "$d/nginx.conf", '-e', "$d/error.log");
    unshift @cmd, $VALGRIND_BIN, '--leak-check=full',
        '--errors-for-leak-kinds=definite', '--error-exitcode=99',
        '--trace-children=yes', "--log-file=$d/valgrind.%p.log",
        "--suppressions=$REPO/t/lib/valgrind.supp"
        if $VALGRIND;
    my %env = (%{ $self->{env} || {} }, _sanitizer_env($d));
    my $pid = _spawn(
        cmd    => \@cmd,
        stderr => "$d/nginx.stderr",
        env    => \%env,
    );
    $self->{nginx_pid} = $pid;

    my $deadline = time + $START_TIMEOUT;
    while (time < $deadline) {
        if (_reap($pid)) {
            delete $self->{nginx_pid};
            return "BookingTest: nginx exited at startup:\n"
                . _tail_from("$d/error.log", $elog_offset) . _slurp("$d/nginx.stderr");
        }
        # The pid file is written only after the listen sockets are bound, so
        # a successful connect cannot come from somebody else's listener.
        if (_read_pid("$d/nginx.pid") == $pid
            && _can_connect($self->{port})
            && _all_ready($self->worker_pids) >= $self->{workers})
        {
            $self->_valgrind_wait_redis($elog_offset) if $VALGRIND;
            return undef;
        }
        sleep 0.02;
    }
    $self->_stop_nginx;
    return "BookingTest: nginx did not come up within ${START_TIMEOUT}s:\n"
        . _tail_from("$d/error.log", $elog_offset) . _slurp("$d/nginx.stderr");
}

# Under valgrind a worker is so slow that its first Redis handshakes may
# time out; wait (bounded) until each worker logged a ready connection.
sub _valgrind_wait_redis {
    my ($self, $offset) = @_;
    return unless $self->{module} && $self->{use_redis};
    my $deadline = time + $START_TIMEOUT;
    while (time < $deadline) {
        my %ready = map { $_ => 1 }
            _tail_from("$self->{dir}/error.log", $offset)
            =~ /(\d+)#\d+: booking: redis .* ready/g;
        return if keys(%ready) >= $self->{workers};
        sleep 0.05;
    }
}

sub _stop_nginx {
    my ($self) = @_;
    my $pid = delete $self->{nginx_pid} or return;
    my @workers = $self->_children($pid);
    kill 'QUIT', $pid;    # graceful: lets workers finish and log their exit
    return if _wait_exit($pid, 10 * $SLOW);
    kill 'TERM', $pid;
    return if _wait_exit($pid, 3 * $SLOW);
    kill 'KILL', $pid, @workers;
    _wait_exit($pid, 3);
}

sub worker_pids {
    my ($self) = @_;
    return () unless $self->{nginx_pid};
    return $self->_children($self->{nginx_pid});
}

sub _children {
    my ($self, $ppid) = @_;
    local $?;
    open(my $ph, '-|', 'ps', '-o', 'pid=', '--ppid', $ppid) or return ();
    my @pids = sort { $a <=> $b } map { /(\d+)/ ? $1 : () } <$ph>;
    close $ph;
    return @pids;
}

# Workers that finished their init.  The master forks them with all signals
# blocked and they unblock at the end of ngx_worker_process_init, so an empty
# SigBlk mask means "ready" (and signals sent by a test now act at once).
sub _all_ready {
    my @pids = @_;
    # valgrind keeps signals blocked and delivers them itself: the mask says
    # nothing there, so a worker that exists is taken as ready.
    return @pids if $VALGRIND;
    my @ready;
    for my $pid (@pids) {
        my $st = _slurp("/proc/$pid/status");
        push @ready, $pid if $st eq '' || $st =~ /^SigBlk:\s*0+$/m;
    }
    return @ready;
}

# SIGHUP the master and wait until a fresh set of workers serves requests.
# Optional http/server texts replace the current ones (conf is rewritten).
sub reload_nginx {
    my ($self, %o) = @_;
    die "BookingTest: nginx is not running\n" unless $self->{nginx_pid};
    for my $k (qw(http server)) {
        $self->{$k} = $o{$k} if defined $o{$k};
    }
    $self->_write_nginx_conf;

    my %old = map { $_ => 1 } $self->worker_pids;
    my $elog_offset = -s "$self->{dir}/error.log" || 0;
    kill 'HUP', $self->{nginx_pid};
    my $deadline = time + $START_TIMEOUT;
    my $changed  = 0;
    while (time < $deadline) {
        my @now = $self->worker_pids;
        my @new = _all_ready(grep { !$old{$_} } @now);
        $changed = 1 if @new >= $self->{workers};
        # Old workers linger while they finish in-flight requests; wait for
        # them too so the next request surely hits the new configuration.
        if ($changed && @new == @now) {
            $self->_valgrind_wait_redis($elog_offset) if $VALGRIND;
            return 1;
        }
        sleep 0.02;
    }
    return 1 if $changed;    # old workers still busy with held connections
    die "BookingTest: reload did not replace the workers within ${START_TIMEOUT}s:\n"
        . _tail_lines($self->error_log, 30);
}

sub check_error_log {
    my ($self, %o) = @_;
    my @bad;
    for my $line (split /\n/, $self->error_log) {
        my $hit = $line =~ /\[(?:alert|emerg|crit)\]|signal \d+|core dumped/
            || ($o{also} && $line =~ $o{also});
        next unless $hit;
        # nginx logs every received signal at [notice] ("signal 1 (SIGHUP)
        # received from ..."); those are routine, crashes say "exited on signal".
        next if $line =~ /signal \d+ \(SIG\w+\) received/
            && $line !~ /\[(?:alert|emerg|crit)\]/;
        next if $o{ignore} && $line =~ $o{ignore};
        push @bad, $line;
    }
    return @bad;
}

# ---------------------------------------------------------------- redis

sub _redis_conf_text {
    my ($self) = @_;
    my $d = $self->{dir};
    # Later lines override earlier ones in redis.conf, so user lines go last.
    return join "\n",
        "port $self->{redis_port}",
        "bind 127.0.0.1",
        "dir $d",
        "daemonize no",
        'save ""',
        "appendonly no",
        "logfile $d/redis.log",
        ($ONE_SLOT ? ('cluster-enabled yes',
                      "cluster-config-file $d/nodes-$self->{redis_port}.conf",
                      'cluster-port ' . ($self->{cluster_port} //= free_port()))
                   : ()),
        $self->_subst($self->{redis_conf}),
        "";
}

sub _start_redis_fresh_port {
    my ($self) = @_;
    for my $try (1 .. 5) {
        $self->{redis_port} = free_port();
        _spew("$self->{dir}/redis.conf", $self->_redis_conf_text);
        my $err = $self->_try_start_redis;
        return unless defined $err;
        die $err unless $err =~ /Address already in use/;
    }
    die "BookingTest: could not find a port redis can bind\n";
}

sub start_redis {
    my ($self) = @_;
    return 1 if $self->{redis_pid};
    # Same port: the old socket may still be closing, so retry briefly.
    my $err;
    my $deadline = time + 3;
    do {
        $err = $self->_try_start_redis;
        return 1 unless defined $err;
        die $err unless $err =~ /Address already in use/;
        sleep 0.1;
    } while (time < $deadline);
    die $err;
}

# Returns undef on success, an error text (with the logs) on failure.
sub _try_start_redis {
    my ($self) = @_;
    my $d = $self->{dir};
    my $log_offset = -s "$d/redis.log" || 0;
    my $pid = _spawn(
        cmd    => [ $REDIS_SERVER, "$d/redis.conf" ],
        stderr => "$d/redis.stderr",
    );
    $self->{redis_pid} = $pid;
    $self->{use_redis} = 1;

    my $deadline = time + $START_TIMEOUT;
    while (time < $deadline) {
        if (_reap($pid)) {
            delete $self->{redis_pid};
            return "BookingTest: redis-server exited at startup:\n"
                . _tail_from("$d/redis.log", $log_offset) . _slurp("$d/redis.stderr");
        }
        return $self->_own_every_slot if $self->_redis_is_ours($pid);
        sleep 0.02;
    }
    $self->kill_redis;
    return "BookingTest: redis-server did not answer PING within ${START_TIMEOUT}s:\n"
        . _tail_from("$d/redis.log", $log_offset) . _slurp("$d/redis.stderr");
}

# In one-slot mode, the node takes every slot (kept in its nodes file
# across restarts) and is used once the cluster says ok.
sub _own_every_slot {
    my ($self) = @_;
    return undef unless $ONE_SLOT;
    my $info = resp_command($self->{redis_port}, 5, 'CLUSTER', 'INFO');
    return "BookingTest: CLUSTER INFO: $info->{error}\n" if ref $info;
    resp_command($self->{redis_port}, 5, 'CLUSTER', 'ADDSLOTSRANGE', 0, 16383)
        if $info =~ /cluster_slots_assigned:0\b/;
    my $deadline = time + $START_TIMEOUT;
    while (time < $deadline) {
        $info = resp_command($self->{redis_port}, 5, 'CLUSTER', 'INFO');
        return undef if !ref $info && $info =~ /cluster_state:ok/;
        sleep 0.02;
    }
    return "BookingTest: the one-slot cluster did not become ok:\n$info";
}

# PING answers, and INFO says it is our process (not a stranger that took
# the port while ours failed to bind).
sub _redis_is_ours {
    my ($self, $pid) = @_;
    my $pong = eval { resp_command($self->{redis_port}, 1, 'PING') };
    return 0 unless defined $pong;
    my $info = eval { resp_command($self->{redis_port}, 1, 'INFO', 'server') };
    return 1 unless defined $info && !ref $info;    # INFO renamed/protected: trust PING
    return $info =~ /^process_id:(\d+)/m && $1 == $pid;
}

sub stop_redis {
    my ($self) = @_;
    $self->{cluster}->stop if $self->{cluster};
    my $pid = delete $self->{redis_pid} or return;
    kill 'TERM', $pid;
    return if _wait_exit($pid, 5);
    kill 'KILL', $pid;
    _wait_exit($pid, 3);
}

sub kill_redis {
    my ($self) = @_;
    my $pid = delete $self->{redis_pid} or return;
    kill 'KILL', $pid;
    _wait_exit($pid, 5);
}

sub redis {
    my ($self, @args) = @_;
    return $self->{cluster}->command(@args) if $self->{cluster};
    return resp_command($self->{redis_port}, 5, @args);
}

# A command of no key on every master (KEYS, FLUSHALL, DBSIZE): the list
# of their answers; the single Redis's one otherwise.
sub redis_all {
    my ($self, @args) = @_;
    return $self->{cluster}->each_master(@args) if $self->{cluster};
    return resp_command($self->{redis_port}, 5, @args);
}

# Several commands on one connection (AUTH, SELECT ... then the real one):
# returns the arrayref of their replies, in order.
sub redis_pipeline {
    my ($self, @cmds) = @_;
    return resp_pipeline($self->{redis_port}, 5, @cmds);
}

# One command in database $db: SELECT then the command on one connection.
sub redis_db {
    my ($self, $db, @args) = @_;
    my $r = $self->redis_pipeline([ 'SELECT', $db ], [@args]);
    die "BookingTest: SELECT $db: $r->[0]{error}\n" if ref $r->[0] eq 'HASH';
    return $r->[1];
}

# Poll the error log until $re matched $count times (default 1); returns
# the number of matches seen (so a test can ok() it).
sub wait_for_log {
    my ($self, $re, $timeout, $count) = @_;
    $count //= 1;
    my $deadline = time + ($timeout // 5) * $SLOW;
    my $n;
    while (1) {
        my $log = $self->error_log;
        $n = () = $log =~ /$re/g;
        return $n if $n >= $count || time >= $deadline;
        sleep 0.02;
    }
}

# ---------------------------------------------------------------- background

# Runs $code in a forked child (a request that must run alongside others);
# ->result($timeout) returns what $code returned (anything JSON can carry,
# byte strings included), or {bg_error => MSG} if it died or timed out.
sub bg {
    my ($code) = @_;
    return BookingTest::Bg->new($code);
}

# ---------------------------------------------------------------- utilities

sub free_port {
    for (1 .. 50) {
        my $s = IO::Socket::INET->new(
            LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp', Listen => 1,
        ) or die "BookingTest: cannot bind 127.0.0.1:0: $!\n";
        my $port = $s->sockport;
        close $s;
        next if $PORTS_GIVEN{$port}++;
        return $port;
    }
    die "BookingTest: no free port found\n";
}

sub _can_connect {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp', Timeout => 1,
    ) or return 0;
    close $s;
    return 1;
}

sub _write_all {
    my ($sock, $data, $deadline) = @_;
    my $sel = IO::Select->new($sock);
    my $off = 0;
    while ($off < length $data) {
        my $left = $deadline - time;
        return 0 if $left <= 0 || !$sel->can_write($left);
        my $n = syswrite($sock, $data, length($data) - $off, $off);
        return 0 unless defined $n;
        $off += $n;
    }
    return 1;
}

# PR_SET_PDEATHSIG syscall numbers: children get SIGTERM if the test process
# dies without running END (SIGKILL, prove timeout), so nothing is left behind.
my %PRCTL_NR = ('x86_64' => 157, 'aarch64' => 167);
my $PRCTL_NR = $^O eq 'linux' ? $PRCTL_NR{ (POSIX::uname())[4] } : undef;

sub _spawn {
    my (%o) = @_;
    my @cmd = @{ $o{cmd} };
    my $parent = $$;
    my $pid = fork;
    die "BookingTest: fork: $!\n" unless defined $pid;
    return $pid if $pid;

    # child
    eval {
        # Ignored signals survive exec; give the daemon sane defaults.
        $SIG{$_} = 'DEFAULT' for qw(PIPE INT TERM HUP QUIT CHLD ALRM USR1 USR2);
        _die_with_parent($parent);
        open STDIN,  '<',  '/dev/null';
        open STDOUT, '>>', '/dev/null';
        open STDERR, '>>', $o{stderr} if $o{stderr};
        $ENV{$_} = $o{env}{$_} for keys %{ $o{env} || {} };
        exec { $cmd[0] } @cmd
            or print STDERR "BookingTest: exec $cmd[0]: $!\n";
    };
    POSIX::_exit(127);    # never run the parent's END blocks in the child
}

# In a forked child: get SIGTERM when the parent dies (PR_SET_PDEATHSIG).
sub _die_with_parent {
    my ($parent) = @_;
    syscall($PRCTL_NR, 1, 15) if $PRCTL_NR;
    POSIX::_exit(0) if getppid() != $parent;    # parent already gone
}

# Non-blocking: true if $pid has exited (and is reaped).
sub _reap {
    my ($pid) = @_;
    local $?;
    my $r = waitpid($pid, WNOHANG);
    return $r == $pid || $r == -1;
}

sub _wait_exit {
    my ($pid, $timeout) = @_;
    my $deadline = time + $timeout;
    while (1) {
        return 1 if _reap($pid);
        return 0 if time >= $deadline;
        sleep 0.02;
    }
}

sub _read_pid {
    my ($file) = @_;
    my $s = _slurp($file);
    return $s =~ /(\d+)/ ? $1 : 0;
}

sub _slurp {
    my ($file) = @_;
    open(my $fh, '<:raw', $file) or return '';
    local $/;
    my $s = <$fh>;
    return $s // '';
}

sub _spew {
    my ($file, $text) = @_;
    open(my $fh, '>:raw', $file) or die "BookingTest: write $file: $!\n";
    print $fh $text;
    close $fh or die "BookingTest: write $file: $!\n";
}

sub _tail_from {
    my ($file, $offset) = @_;
    my $s = _slurp($file);
    return length($s) > $offset ? substr($s, $offset) : $s;
}

sub _tail_lines {
    my ($text, $n) = @_;
    my @l = split /\n/, $text;
    @l = @l[-$n .. -1] if @l > $n;
    return join("\n", @l) . "\n";
}

sub _register_live {
    my ($obj) = @_;
    push @LIVE, $obj;
    Scalar::Util::weaken($LIVE[-1]);
}

# ====================================================================

# The packages of the harness, one file each by concern.
require BookingTest::Client;
require BookingTest::NginxT;
require BookingTest::Bg;
require BookingTest::RESPReader;
require BookingTest::FakeRedis;

1;

__END__

=head1 NAME

BookingTest - integration test harness for the ngx_booking nginx module

=head1 SYNOPSIS

    use lib 't/lib';
    use Test::More;
    use BookingTest;

    my $t = BookingTest->new(workers => 1);
    my $r = $t->req(POST => '/api/bookings', body => { type => 'room' },
                    headers => { 'X-User-Id' => 'alice' });
    is $r->{status}, 201;
    is $t->redis('PING'), 'PONG';
    is_deeply [$t->check_error_log], [], 'no crash in error log';
    done_testing;

=head1 CONSTRUCTOR

C<< BookingTest->new(%opts) >> creates a temp dir (kept if C<BOOKING_KEEP=1>),
starts redis-server then nginx (foreground master, we own both pids) on free
127.0.0.1 ports and waits until both answer (5 s each); dies with the log
content on failure.  Options:

=over

=item workers => N (default 2)

=item http => TEXT

Inserted in C<http{}>.  Default with C<< module => 1 >>: the standard
C<booking_type> set (room, car, desk, ride, couch, gift) and
C<booking_user $http_x_user_id;>.  Default with C<< module => 0 >>: empty.

=item server => TEXT

Inserted in C<server{}>.  Default with the module: C<location /api/ { booking_api; }>,
C<location /admin/ { booking_api admin; }>, C<location = /plain>; without: only
C<location = /plain { return 200 "plain\n"; }>.

=item redis => 0|1 (default 1)

0: do not start redis, but still reserve a port (nothing listens there).

=item redis_conf => TEXT

Extra redis.conf lines, appended (so they override the defaults:
C<port>, C<bind 127.0.0.1>, C<dir>, C<daemonize no>, C<save "">,
C<appendonly no>, C<logfile>).

=item module => 0|1 (default 1)

1: C<load_module> the .so (C<BOOKING_MODULE> or F<build/ngx_http_booking_module.so>)
and add C<booking_redis 127.0.0.1:REDIS_PORT;> to C<http{}>.

=item env => { NAME => VALUE }

Environment for nginx; each name also gets an C<env NAME;> directive so
the workers see it too.

=item files => { NAME => CONTENT }

Files written into the temp dir before anything starts (password and
secret files: refer to them as C<%%DIR%%/NAME>).

=item booking_redis => TEXT (default C<127.0.0.1:%%REDIS_PORT%%>)

The value of the C<booking_redis> directive the harness writes, e.g. a
FakeRedis port or C<unix:%%DIR%%/redis.sock>; C<''> writes none (put your
own in C<http>).

=back

nginx loads a private copy of the module (in the temp dir), so that a
C<make module> during a run cannot change the code under it.

Placeholders substituted in the C<http>, C<server> and C<redis_conf> texts:
C<%%PORT%%> (nginx port), C<%%REDIS_PORT%%> (redis port), C<%%DIR%%> (temp dir).

When running as root, C<user root;> is added so workers can use the 0700
temp dir.

=head1 METHODS

C<port>, C<redis_port>, C<dir>, C<url($path)>, C<master_pid>, C<redis_pid>.

C<< req($method, $path, body => STR|REF, headers => {...}, timeout => 10) >>:
HTTP::Tiny, no keep-alive.  A ref body is JSON-encoded (canonical) with
C<Content-Type: application/json>.  Returns
C<< {status, reason, headers (lowercased), body, json, time} >>; C<json> is
the decoded body when the response Content-Type is JSON, else undef.
Status 599 means a client-side error (refused, timeout); see C<body>.

C<raw($bytes, $timeout = 10)>: writes bytes on a fresh TCP connection and
returns everything read until the server closes or the timeout.  C<$bytes>
may be an arrayref of strings and scalar refs (C<\0.5> = sleep 0.5 s) for
slow bodies.  Send C<Connection: close>, or the read lasts until timeout.

C<redis(@cmd)>: one command on a fresh connection; returns string (bulk or
simple), number (integer), arrayref, C<< {error => MSG} >>, or undef (nil).
Dies if redis is unreachable.

C<redis_pipeline([@cmd1], [@cmd2], ...)>: several commands on one
connection (C<AUTH> first, say); returns the arrayref of replies.
C<redis_db($db, @cmd)>: C<SELECT $db> then the command; returns its reply.

C<wait_for_log(qr/.../, $timeout = 5, $count = 1)>: polls the error log
until the pattern matched C<$count> times; returns the number of matches.

C<stop_redis> (TERM), C<kill_redis> (KILL), C<start_redis> (same port,
conf and dir), C<reload_nginx(%opt)> (HUP, waits until new workers replaced
the old ones; optional C<http>/C<server> replace the texts first),
C<worker_pids>, C<error_log>, C<redis_log>, C<stop> (idempotent; also on
DESTROY and at END).

C<check_error_log(also => qr/.../, ignore => qr/.../)>: lines matching
C<[alert]>, C<[emerg]>, C<[crit]>, C<signal N> or C<core dumped>, except
nginx's routine C<signal N (SIGxxx) received> notices.

At exit, if a test failed (or the script died), the last 60 lines of every
instance's error.log and redis.log are printed with C<diag>.

=head1 FUNCTIONS

C<< BookingTest->nginx_t(http => TEXT, server => TEXT, main => TEXT,
files => {...}) >> or C<< BookingTest->nginx_t(conf => TEXT, files => {...}) >>:
runs C<nginx -t -p DIR -c DIR/nginx.conf -e DIR/err.log> on a generated
configuration that loads the module (or on C<conf>, where C<%%MODULE%%>,
C<%%DIR%%> and C<%%PORT%%> are substituted) and starts nothing.  Returns an
object with C<ok>, C<rc>, C<out> (what nginx printed), C<dir>, C<file>,
C<conf> and C<line_of(qr/.../)> (the 1-based line of the first match in the
configuration, to check "in FILE:LINE").

C<BookingTest::bg(sub { ... })>: runs the code in a forked child (a request
that must overlap others); C<< ->result($timeout = 30) >> returns what the
code returned (anything JSON can carry), or C<< {bg_error => ...} >>.

C<BookingTest::parse_http($raw)>: the first response in what C<raw>
returned, as C<{status, reason, headers, body, json}> (chunked bodies
decoded), or undef.

C<BookingTest::error_is($r, $status, $code, field => F, name => N)>: one
test that C<$r> is the JSON error of SPEC section 4: the status, Content-Type
application/json, a body C<{"error":{"code":$code,"message":...}}> (and
the field when given).

C<BookingTest::slow>: 1, or 10 under C<BOOKING_VALGRIND>; multiply time
limits by it.

=head1 BookingTest::FakeRedis

C<< BookingTest::FakeRedis->new(mode => MODE, delay => S, replies => [...]) >>
forks a TCP server on a free 127.0.0.1 port; C<port>, C<stop> (also on
DESTROY/END).  Modes:

=over

=item silent  - accepts and reads, never answers.

=item garbage - answers every read with C<?bogus\r\n>.

=item slow    - answers each RESP command with C<+OK\r\n> after C<delay> seconds (default 2).

=item close   - accepts and closes at once.

=item script  - answers each command with the next raw RESP string from C<replies>
(shared by all connections, in order), then C<+OK\r\n>.

=back

C<delay> and C<replies> also combine (e.g. C<slow> with scripted replies).
C<< by_command => { NAME => RESP } >> answers every command of that name
(e.g. C<SCRIPT>, so that the module's handshake completes) with that reply
(undef: never), ahead of C<replies>.  C<< then => 'silent' >>: once
C<replies> is used up, answer nothing (default C<'ok'>: C<+OK>).
C<< delay_by => { NAME => seconds } >> delays the replies to commands of
that name by so long instead of C<delay> (replies stay in order: a reply
is sent once it is due and every reply before it was sent).

=head1 ENVIRONMENT

C<BOOKING_MODULE> (.so path), C<BOOKING_KEEP=1> (keep temp dirs and print
their paths), C<BOOKING_NGINX>, C<BOOKING_REDIS_SERVER> (binaries).

C<BOOKING_VALGRIND=1>: nginx runs under C<valgrind --leak-check=full
--errors-for-leak-kinds=definite --error-exitcode=99 --trace-children=yes
--log-file=DIR/valgrind.%p.log> (suppressions: F<t/lib/valgrind.supp>, for
nginx's own leaks); start, stop and request timeouts are 10 times longer
(C<BookingTest::slow>), and start and reload also wait until each worker
logged a ready Redis connection.  C<stop> (also at DESTROY/END; call it
before C<done_testing> for a clean plan) fails one test per log whose
process lost memory definitely ("definitely lost: N bytes", N > 0) or
whose C<ERROR SUMMARY> is not 0, with the log in the diagnostics.
C<BOOKING_VALGRIND_BIN> overrides the valgrind binary.

=cut

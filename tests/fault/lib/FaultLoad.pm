package FaultLoad;

# Steady mixed booking load for the fault-injection and soak scripts: N
# forked clients, each on its own keep-alive HTTP/1.1 connection (a small
# raw-socket client, reconnecting when the server closes), loop for a given
# time over holds, confirms and cancels of their own bookings, plain
# bookings and availability reads.  Every attempt is one JSON line in the
# client's log; the checker (FaultCheck.pm) rebuilds from those logs what
# each client was told.  Core Perl only; 127.0.0.1 only.  POD at the end.

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use JSON::PP ();
use POSIX ();
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Time::HiRes qw(time sleep);

my $JSON = JSON::PP->new->utf8->canonical;

# PR_SET_PDEATHSIG: a client dies with the script that started it
my %PRCTL_NR = ('x86_64' => 157, 'aarch64' => 167);
my $PRCTL_NR = $^O eq 'linux' ? $PRCTL_NR{ (POSIX::uname())[4] } : undef;

# op => weight; the mix a client draws from
my %MIX = (hold => 30, book => 12, confirm => 13, cancel => 20, avail => 25);

my $MAX_ATTEMPTS = 60;    # retries of one outcome-unknown request
my $KEEP_OCC = 25;        # confirmed bookings a client never cancels
my $HOLD_DELAY = 8;       # a hold is confirmed or cancelled 0 to 8 s after it
                          # was made (the short holds last 6 s)

sub iso { return POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $_[0]) }

# a sort block where a lexical $a (an answer) is in scope would read it
sub _slower_first { return $b->[0] <=> $a->[0] }

# ---------------------------------------------------------------- parent

# FaultLoad->new(port => P, resources => [{id,type,capacity,slot,buffer}],
#   window => [from_epoch, nslots], clients => 6, seconds => 20, drain => 30,
#   dir => LOGDIR, timeout => 10, tag => 'run', log => 1)
sub new {
    my ($class, %o) = @_;
    die "FaultLoad: port, resources, window and dir are required\n"
        unless $o{port} && $o{resources} && $o{window} && $o{dir};
    my $self = bless {
        port      => $o{port},
        resources => $o{resources},
        window    => $o{window},
        clients   => $o{clients} // 6,
        seconds   => $o{seconds} // 20,
        drain     => $o{drain} // 30,
        timeout   => $o{timeout} // 10,
        dir       => $o{dir},
        tag       => $o{tag} // 'run',
        log       => $o{log} // 1,
        pids      => {},
    }, $class;
    mkdir $self->{dir};
    return $self;
}

sub logs { my ($self) = @_; return map { "$self->{dir}/client-$_.jsonl" } 1 .. $self->{clients} }

sub start {
    my ($self) = @_;
    my $parent = $$;
    $self->{t0} = time;
    for my $i (1 .. $self->{clients}) {
        my $pid = fork;
        die "FaultLoad: fork: $!\n" unless defined $pid;
        if (!$pid) {
            syscall($PRCTL_NR, 1, 15) if $PRCTL_NR;    # SIGTERM when the parent dies
            POSIX::_exit(0) if getppid() != $parent;
            $SIG{$_} = 'DEFAULT' for qw(TERM INT);
            my $ok = eval { $self->_client($i); 1 };
            if (!$ok) {
                print STDERR "FaultLoad client $i: $@";
                POSIX::_exit(1);
            }
            POSIX::_exit(0);    # never the parent's END blocks
        }
        $self->{pids}{$pid} = $i;
    }
    return $self;
}

sub elapsed { my ($self) = @_; return time - $self->{t0} }

# Waits (bounded) for every client; returns the summed statistics.
sub finish {
    my ($self, $timeout) = @_;
    $timeout //= $self->{seconds} + $self->{drain} + 2 * $self->{timeout} + 30;
    my $deadline = time + $timeout;
    my %exit;
    while (%{ $self->{pids} } && time < $deadline) {
        for my $pid (keys %{ $self->{pids} }) {
            my $r = waitpid($pid, POSIX::WNOHANG());
            next unless $r == $pid || $r == -1;
            $exit{ $self->{pids}{$pid} } = $r == $pid ? $? : -1;
            delete $self->{pids}{$pid};
        }
        sleep 0.1;
    }
    for my $pid (keys %{ $self->{pids} }) {    # still running: a hung client
        kill 'KILL', $pid;
        waitpid($pid, 0);
        $exit{ $self->{pids}{$pid} } = 'killed';
    }
    $self->{pids} = {};
    return $self->stats(\%exit);
}

sub stop {
    my ($self) = @_;
    for my $pid (keys %{ $self->{pids} || {} }) {
        kill 'TERM', $pid;
        waitpid($pid, 0);
    }
    $self->{pids} = {};
}

sub DESTROY { local ($@, $!, $?); $_[0]->stop }

# The clients' statistics, summed: requests, by op and status, errors by
# kind, unexpected answers (with a few samples), latency.
sub stats {
    my ($self, $exit) = @_;
    my %s = (requests => 0, status => {}, op => {}, err => {}, unexpected => 0,
             samples => [], lat => [], unresolved => 0, avail_bad => 0,
             client_exit => $exit || {});
    for my $i (1 .. $self->{clients}) {
        my $f = "$self->{dir}/client-$i.stats.json";
        open(my $fh, '<', $f) or do { $s{missing_stats}++; next };
        local $/;
        my $c = eval { $JSON->decode(<$fh>) } or do { $s{missing_stats}++; next };
        $s{requests} += $c->{requests};
        $s{$_} += $c->{$_} for qw(unexpected unresolved avail_bad);
        for my $k (keys %{ $c->{status} }) { $s{status}{$k} += $c->{status}{$k} }
        for my $k (keys %{ $c->{err} })    { $s{err}{$k} += $c->{err}{$k} }
        for my $op (keys %{ $c->{op} }) {
            for my $k (keys %{ $c->{op}{$op} }) { $s{op}{$op}{$k} += $c->{op}{$op}{$k} }
        }
        push @{ $s{samples} }, @{ $c->{samples} };
        push @{ $s{slowest} }, @{ $c->{slowest} || [] };
        push @{ $s{lat} }, @{ $c->{lat} };
        $s{max_latency} = $c->{max_latency}
            if !defined $s{max_latency} || $c->{max_latency} > $s{max_latency};
    }
    my @l = sort { $a <=> $b } @{ delete $s{lat} };
    $s{p50} = @l ? $l[int(@l * 0.50)] : 0;
    $s{p99} = @l ? $l[int(@l * 0.99)] : 0;
    splice(@{ $s{samples} }, 10) if @{ $s{samples} } > 10;
    $s{slowest} = [ (sort { $b->[0] <=> $a->[0] } @{ $s{slowest} || [] })[0 .. 4] ];
    @{ $s{slowest} } = grep { defined } @{ $s{slowest} };
    return \%s;
}

# ---------------------------------------------------------------- client

sub _client {
    my ($self, $i) = @_;
    srand($$ ^ int(time * 1000));
    $SIG{PIPE} = 'IGNORE';
    my $user = "fu$i";
    my $http = FaultLoad::HTTP->new(port => $self->{port}, timeout => $self->{timeout});
    my $log;
    if ($self->{log}) {
        open($log, '>', "$self->{dir}/client-$i.jsonl") or die "open log: $!\n";
    }
    my %st = (requests => 0, status => {}, op => {}, err => {}, unexpected => 0,
              samples => [], lat => [], unresolved => 0, avail_bad => 0, max_latency => 0,
              slowest => []);
    my (%held, %occ);    # booking id => {id, rid, token, exp, status}
    my @retry;           # {due, n, req}
    my $seq = 0;
    my @res = @{ $self->{resources} };
    my ($w0, $nslots) = @{ $self->{window} };
    my $t_end   = $self->{t0} + $self->{seconds};
    my $t_drain = $t_end + $self->{drain};
    my $lat_every = 0;
    my %long = map { $_->{id} => 1 } grep { ($_->{hold} // 0) > 60 } @res;
    my $long_hold = %long ? '^(?:' . join('|', map { quotemeta } sort keys %long) . ')$' : '^$';
    $long_hold = qr/$long_hold/;
    my $total_w = 0;
    $total_w += $_ for values %MIX;

    my $new_create = sub {
        my ($hold) = @_;
        my $r = $res[ int rand @res ];
        my %q = (op => $hold ? 'hold' : 'book', seq => ++$seq, rid => $r->{id},
                 key => "$self->{tag}-$i-$seq-" . int(rand 1e9),
                 note => "n-$self->{tag}-$i-$seq", hold => $hold ? 1 : 0,
                 qty => ($r->{capacity} > 1 && rand() < 0.3) ? 2 : 1);
        if ($r->{slot}) {
            my $len = 1 + int rand 3;
            my $k = int rand($nslots - $len + 1);
            $q{start} = $w0 + $k * $r->{slot};
            $q{end}   = $q{start} + $len * $r->{slot};
        }
        return \%q;
    };

    # one attempt of $q; returns nothing, updates the client's state
    my $attempt = sub {
        my ($q, $n) = @_;
        my ($method, $path, %h, $body);
        $h{'X-User-Id'} = $user;
        if ($q->{op} eq 'hold' || $q->{op} eq 'book') {
            ($method, $path) = (POST => '/api/bookings');
            my %b = (resource => $q->{rid}, quantity => $q->{qty},
                     hold => $q->{hold} ? JSON::PP::true : JSON::PP::false,
                     note => $q->{note});
            if (defined $q->{start}) {
                $b{start} = iso($q->{start});
                $b{end}   = iso($q->{end});
            }
            $body = $JSON->encode(\%b);
            $h{'Idempotency-Key'} = $q->{key};
            $h{'Content-Type'} = 'application/json';
        } elsif ($q->{op} eq 'confirm' || $q->{op} eq 'cancel') {
            ($method, $path) = (POST => "/api/bookings/$q->{bid}/$q->{op}");
            $h{'Booking-Token'} = $q->{token} if $q->{token};
        } else {
            my $r = $q->{r};
            $path = "/api/resources/$r->{id}/availability";
            $path .= '?from=' . iso($w0) . '&to=' . iso($w0 + ($nslots + 1) * $r->{slot})
                if $r->{slot};
            $method = 'GET';
            delete $h{'X-User-Id'};
        }
        my $t = time;
        my $a = $http->request($method, $path, \%h, $body);
        my $dt = time - $t;
        $st{requests}++;
        $st{max_latency} = $dt if $dt > $st{max_latency};
        if ($dt > 0.25) {    # the slowest answers, for the report
            push @{ $st{slowest} }, [ sprintf('%.3f', $dt), sprintf('%.3f', $t - $self->{t0}),
                                      $q->{op}, $a->{err} || $a->{status} ];
            @{ $st{slowest} } = (sort _slower_first @{ $st{slowest} })[0 .. 4]
                if @{ $st{slowest} } > 5;
        }
        push @{ $st{lat} }, $dt if ($lat_every++ % 10) == 0;
        my $status = $a->{status} // 0;
        my $j = $a->{body} && ($a->{headers}{'content-type'} // '') =~ /json/
            ? eval { $JSON->decode($a->{body}) } : undef;
        my %rec = (t => sprintf('%.3f', $t), dt => sprintf('%.4f', $dt), op => $q->{op},
                   seq => $q->{seq}, n => $n, status => $status);
        $rec{err} = $a->{err} if $a->{err};
        $rec{reused} = 1 if $a->{reused};
        for my $k (qw(rid key note hold qty start end bid)) {
            $rec{$k} = $q->{$k} if defined $q->{$k};
        }
        $rec{rid} = $q->{r}{id} if $q->{r};
        if (ref $j eq 'HASH') {
            if ($j->{error}) {
                $rec{code} = $j->{error}{code};
                $rec{msg} = $j->{error}{message} if $status >= 500 || $status == 409;
            } elsif ($q->{op} ne 'avail') {
                $rec{id} = $j->{id};
                $rec{bstatus} = $j->{status};
                $rec{expires_at} = $j->{expires_at} if $j->{expires_at};
                $rec{replayed} = 1 if ($a->{headers}{'idempotent-replayed'} // '') eq 'true';
            }
        } elsif ($status && $status != 204) {
            $rec{body} = substr($a->{body} // '', 0, 200);
        }

        my $unknown = $a->{err} || $status == 504 || ($status == 503 && $n > 0);
        if ($a->{err}) {
            $st{err}{ $a->{err} }++;
        } else {
            $st{status}{$status}++;
        }
        $st{op}{ $q->{op} }{ $a->{err} || $status }++;

        # what this answer means for the client's own bookings
        my $expected = 1;
        if ($q->{op} eq 'avail') {
            if ($status == 200) {
                my $bad = _avail_bad($j, $q->{r}, $w0, $nslots);
                if ($bad) { $st{avail_bad}++; $rec{bad} = $bad }
            } elsif ($status != 503 && $status != 504 && !$a->{err}) {
                $expected = 0;
            }
        } elsif ($unknown) {
            if ($n + 1 < $MAX_ATTEMPTS) {
                my $wait = 0.25 * 2**($n > 3 ? 3 : $n);
                push @retry, { due => time + $wait, n => $n + 1, q => $q };
            } else {
                $rec{unresolved} = 1;
                $st{unresolved}++;
            }
        } elsif ($q->{op} eq 'hold' || $q->{op} eq 'book') {
            if ($status == 201 && ref $j eq 'HASH' && $j->{id}) {
                my %b = (id => $j->{id}, rid => $q->{rid}, token => $j->{token},
                         status => $j->{status});
                if ($j->{status} eq 'held') {
                    # what the client will do with it, and when: some
                    # confirms come after expires_at (410), some holds are
                    # left to expire
                    $b{exp} = $j->{expires_at};
                    my $x = rand;
                    $b{fate} = $x < 0.55 ? 'confirm' : $x < 0.75 ? 'cancel' : 'abandon';
                    # only the short holds are left to expire: a long one
                    # would take its units for the rest of the run
                    $b{fate} = 'cancel' if $b{fate} eq 'abandon' && $q->{rid} =~ $long_hold;
                    $b{at} = time + rand($HOLD_DELAY);
                    $held{ $b{id} } = \%b if $b{fate} ne 'abandon';
                } else {
                    $occ{ $b{id} } = \%b;
                }
                $expected = 0 if $j->{status} !~ /^(?:held|confirmed|requested)$/;
            } elsif ($status == 409 && ($rec{code} // '') eq 'unavailable') {
            } elsif ($status == 503) {
            } else {
                $expected = 0;
            }
        } else {    # confirm, cancel
            my $b = $q->{b};
            if ($status == 200 && ref $j eq 'HASH') {
                if ($q->{op} eq 'confirm') {
                    $b->{status} = $j->{status};
                    $occ{ $b->{id} } = $b;
                    $expected = 0 if $j->{status} !~ /^(?:confirmed|requested)$/;
                } else {
                    $expected = 0 if ($j->{status} // '') ne 'cancelled';
                }
            } elsif ($status == 410 && $q->{op} eq 'confirm') {
            } elsif ($status == 409 && $q->{op} eq 'cancel' && $q->{was} eq 'held') {
                # a hold that expired meanwhile cannot be cancelled
            } elsif ($status == 503) {
                # never reached Redis: the booking is as it was
                ($q->{was} eq 'held' ? \%held : \%occ)->{ $b->{id} } = $b;
            } else {
                $expected = 0;
            }
        }
        if (!$expected) {
            $st{unexpected}++;
            $rec{unexpected} = 1;
            push @{ $st{samples} }, "$q->{op} $path -> " . ($a->{err} || $status)
                . ' ' . substr($a->{body} // '', 0, 200)
                if @{ $st{samples} } < 10;
        }
        print {$log} $JSON->encode(\%rec), "\n" if $log;
    };

    my $steps = 0;
    while (1) {
        last if ++$steps > 50_000_000;    # a bound on the loop, never reached
        my $now = time;
        last if $now >= $t_drain;
        @retry = sort { $a->{due} <=> $b->{due} } @retry;
        if (@retry && $retry[0]{due} <= $now) {
            my $r = shift @retry;
            $attempt->($r->{q}, $r->{n});
            next;
        }
        if ($now >= $t_end) {
            last unless @retry;
            my $w = $retry[0]{due} - $now;
            sleep($w > 0.05 ? 0.05 : ($w > 0 ? $w : 0));
            next;
        }
        # pick an op
        my $x = rand $total_w;
        my $op;
        for my $k (sort keys %MIX) {
            $x -= $MIX{$k};
            if ($x < 0) { $op = $k; last }
        }
        $op //= 'avail';
        my @pool;
        if ($op eq 'confirm' || $op eq 'cancel') {
            @pool = grep { $held{$_}{fate} eq $op && $held{$_}{at} <= $now } keys %held;
            # cancels of confirmed bookings too, so that the calendar keeps
            # changing instead of filling up; each client keeps some
            @pool = keys %occ
                if $op eq 'cancel' && keys(%occ) > $KEEP_OCC && (!@pool || rand() < 0.5);
            $op = 'avail' unless @pool;    # not a create: the mix stays
        }
        if ($op eq 'hold' || $op eq 'book') {
            $attempt->($new_create->($op eq 'hold'), 0);
        } elsif ($op eq 'confirm' || $op eq 'cancel') {
            my $id = $pool[ int rand @pool ];
            my $was = exists $held{$id} ? 'held' : 'occ';
            my $b = delete($held{$id}) // delete($occ{$id});
            $attempt->({ op => $op, seq => ++$seq, bid => $id, token => $b->{token},
                         b => $b, was => $was, rid => $b->{rid} }, 0);
        } else {
            $attempt->({ op => 'avail', seq => ++$seq, r => $res[ int rand @res ] }, 0);
        }
    }
    for my $r (@retry) {    # drain time over: never resolved
        $st{unresolved}++;
        my $q = $r->{q};
        my %rec = (t => sprintf('%.3f', time), op => $q->{op}, seq => $q->{seq},
                   n => $r->{n}, unresolved => 1);
        for my $k (qw(rid key note bid)) { $rec{$k} = $q->{$k} if defined $q->{$k} }
        print {$log} $JSON->encode(\%rec), "\n" if $log;
    }
    if ($log) { close $log or die "close log: $!\n" }
    $st{max_latency} = sprintf('%.4f', $st{max_latency});
    open(my $sf, '>', "$self->{dir}/client-$i.stats.json") or die "stats: $!\n";
    print $sf $JSON->encode(\%st);
    close $sf;
}

# Why an availability answer is wrong ('' when it is right): runs that
# cover the asked range without gaps, 0 <= units <= capacity.
sub _avail_bad {
    my ($j, $r, $w0, $nslots) = @_;
    return 'not an object' unless ref $j eq 'HASH';
    my $cap = $r->{capacity};
    if (!$r->{slot}) {
        my $f = $j->{free};
        return "free $f of $cap" if !defined $f || ref $f || $f < 0 || $f > $cap;
        return '';
    }
    return 'no runs' unless ref $j->{free} eq 'ARRAY';
    my $at = iso($w0);
    my $to = iso($w0 + ($nslots + 1) * $r->{slot});
    for my $run (@{ $j->{free} }) {
        return "gap at $at" if ($run->{start} // '') ne $at;
        return "units $run->{units} of $cap at $at"
            if !defined $run->{units} || $run->{units} < 0 || $run->{units} > $cap;
        $at = $run->{end} // '';
    }
    return "runs end at $at" if $at ne $to;
    return '';
}

# ====================================================================
package FaultLoad::HTTP;

# A small HTTP/1.1 client on one keep-alive connection.  request() answers
# {status, headers (lowercased), body, reused} or {err => KIND}:
#   connect  - could not connect (nothing sent)
#   lost     - the connection closed (or was reset) before any byte of an
#              answer: the request may or may not have been handled
#   partial  - the connection closed in the middle of an answer
#   invalid  - what came back is not an HTTP/1.x response
#   timeout  - no complete answer within the timeout (a hang)

use strict;
use warnings;
use IO::Select;
use IO::Socket::INET;
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Time::HiRes qw(time);

sub new {
    my ($class, %o) = @_;
    return bless { port => $o{port}, timeout => $o{timeout} // 10, sock => undef,
                   buf => '' }, $class;
}

sub close_conn {
    my ($self) = @_;
    close $self->{sock} if $self->{sock};
    $self->{sock} = undef;
    $self->{buf} = '';
}

sub _connect {
    my ($self) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port},
                                  Proto => 'tcp', Timeout => 2) or return 0;
    binmode $s;
    setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1);
    $self->{sock} = $s;
    $self->{buf} = '';
    $self->{n} = 0;
    return 1;
}

sub request {
    my ($self, $method, $path, $headers, $body) = @_;
    my $deadline = time + $self->{timeout};
    # an idle connection the server closed meanwhile: open another (nothing
    # was sent on it, so this is no loss)
    if ($self->{sock}) {
        my $sel = IO::Select->new($self->{sock});
        if ($sel->can_read(0)) {
            my $n = sysread($self->{sock}, my $junk, 4096);
            $self->close_conn if !$n || length $junk;
        }
    }
    if (!$self->{sock}) {
        return { err => 'connect' } unless $self->_connect;
    }
    my $reused = $self->{n}++ > 0;
    my $req = "$method $path HTTP/1.1\r\nHost: 127.0.0.1:$self->{port}\r\n";
    for my $k (sort keys %$headers) { $req .= "$k: $headers->{$k}\r\n" }
    $req .= 'Content-Length: ' . length($body) . "\r\n" if defined $body;
    $req .= "\r\n";
    $req .= $body if defined $body;

    my $sock = $self->{sock};
    my $sel = IO::Select->new($sock);
    my $off = 0;
    while ($off < length $req) {
        my $left = $deadline - time;
        if ($left <= 0 || !$sel->can_write($left)) {
            $self->close_conn;
            return { err => 'timeout', reused => $reused };
        }
        my $n = syswrite($sock, $req, length($req) - $off, $off);
        if (!defined $n) {
            $self->close_conn;
            return { err => 'lost', reused => $reused };
        }
        $off += $n;
    }

    my $buf = '';
    my ($status, %h, $head_len, $need);
    my $reads = 0;
    while (1) {
        if (!defined $status) {
            my $i = index($buf, "\r\n\r\n");
            if ($i >= 0) {
                my $head = substr($buf, 0, $i);
                $head_len = $i + 4;
                my @lines = split /\r\n/, $head;
                my $sl = shift @lines;
                if ($sl !~ m{^HTTP/1\.[01] (\d{3})(?: |$)}) {
                    $self->close_conn;
                    return { err => 'invalid', reused => $reused, body => $buf };
                }
                $status = $1;
                for my $l (@lines) {
                    my ($k, $v) = $l =~ /^([^:]+):\s*(.*?)\s*$/ or next;
                    $h{ lc $k } = $v;
                }
                if (($h{'transfer-encoding'} // '') =~ /chunked/i) {
                    $need = 'chunked';
                } elsif ($method eq 'HEAD' || $status == 204 || $status == 304) {
                    $need = 0;
                } elsif (defined $h{'content-length'}) {
                    $need = $h{'content-length'};
                } else {
                    $need = 'close';
                }
            } elsif (length($buf) > 65536) {
                $self->close_conn;
                return { err => 'invalid', reused => $reused };
            }
        }
        if (defined $status) {
            my $rest = substr($buf, $head_len);
            my $body_out;
            if ($need eq 'chunked') {
                $body_out = _dechunk($rest);
            } elsif ($need ne 'close' && length($rest) >= $need) {
                $body_out = substr($rest, 0, $need);
            }
            if (defined $body_out) {
                if (($h{connection} // '') =~ /close/i) {
                    $self->close_conn;
                }
                return { status => $status, headers => \%h, body => $body_out,
                         reused => $reused };
            }
        }
        my $left = $deadline - time;
        if ($left <= 0 || !$sel->can_read($left)) {
            $self->close_conn;
            return { err => 'timeout', reused => $reused };
        }
        my $n = sysread($sock, my $chunk, 65536);
        if (!$n) {    # EOF or reset
            $self->close_conn;
            if (defined $status && $need eq 'close') {
                return { status => $status, headers => \%h,
                         body => substr($buf, $head_len), reused => $reused };
            }
            return { err => length($buf) ? 'partial' : 'lost', reused => $reused };
        }
        $buf .= $chunk;
        last if ++$reads > 100_000;
    }
    $self->close_conn;
    return { err => 'invalid', reused => $reused };
}

# The body of a complete chunked message, undef while incomplete.
sub _dechunk {
    my ($s) = @_;
    my $out = '';
    my $pos = 0;
    while (1) {
        my $i = index($s, "\r\n", $pos);
        return undef if $i < 0;
        my ($hex) = substr($s, $pos, $i - $pos) =~ /^([0-9a-fA-F]+)/ or return undef;
        my $n = hex $hex;
        $pos = $i + 2;
        if ($n == 0) {
            return index($s, "\r\n", $pos) >= 0 ? $out : undef;
        }
        return undef if length($s) < $pos + $n + 2;
        $out .= substr($s, $pos, $n);
        $pos += $n + 2;
    }
}

1;

__END__

=head1 NAME

FaultLoad - steady mixed booking load from forked keep-alive clients

=head1 SYNOPSIS

    my $load = FaultLoad->new(port => $t->port, resources => \@res,
        window => [$from_epoch, 24], clients => 6, seconds => 20,
        dir => "$dir/load")->start;
    ...                                # inject a fault
    my $stats = $load->finish;         # sums of every client
    my @logs  = $load->logs;           # one JSONL file per client

=head1 DESCRIPTION

Each client (user C<fu1> .. C<fuN>) loops for C<seconds> over: holds
(C<POST /api/bookings> with C<hold:true>), plain bookings (C<hold:false>),
confirms and cancels of its own earlier bookings (C<X-User-Id> and the
C<Booking-Token> of the hold), and anonymous availability reads, on random
resources and 1 to 3 slots of the window C<[from, from + nslots slots)>
(quantity 2 for 30% of those on resources of capacity 2 or more).  Every
create carries a unique C<Idempotency-Key> and C<note>.  The mix, by
weight: hold 30, book 12, confirm 13, cancel 20, availability 25.

Each hold gets a fate when it is made: confirm (55%), cancel (20%) or
abandon (25%, only for holds shorter than a minute: they expire), due 0 to
8 s later, so that some confirms come after C<expires_at> (C<410>).  A
cancel takes a due hold or, half of the time, a confirmed or requested
booking (once the client has more than 25 of those), so that the calendar
keeps changing while some bookings stay confirmed.  A confirm or cancel with
nothing due is an availability read instead.

An answer whose outcome is unknown -- C<504>, a connection lost before the
status line, a partial answer, a client timeout, or a C<503> to a retry --
is retried with the same request (the same C<Idempotency-Key> for creates;
transitions are idempotent) after 0.25 s, doubling to 2 s, at most 60
times; the booking it concerns is left alone until then.  After
C<seconds> the client only finishes its retries, for at most C<drain>
seconds; what is still unknown then is logged C<unresolved>.

One JSON line per attempt: C<t dt op seq n status [err] [reused]> and what
was asked (C<rid key note hold qty start end bid>) and answered (C<id
bstatus expires_at replayed code msg>); C<unexpected> marks an answer the
contract does not allow for that request, C<bad> an availability answer
that is not runs covering the range with 0 to capacity units.

C<finish> waits (bounded) for the clients and returns C<{requests,
status => {code => n}, err => {kind => n}, op => {op => {status => n}},
unexpected, samples, unresolved, avail_bad, p50, p99, max_latency,
slowest => [[seconds, at (s after the start), op, status], ...] (the 5
slowest answers over 0.25 s), client_exit}>.

The resources are C<{id, capacity, slot, hold}> (C<slot> in seconds, 0 for
timeless stock; C<hold> in seconds).  C<< log => 0 >> writes no JSONL (the
statistics only).

=cut

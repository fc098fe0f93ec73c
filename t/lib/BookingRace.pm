package BookingRace;

# Helpers shared by the booking tests (t/3*.t, t/4*.t): times relative to
# Redis's clock, a keep-alive HTTP client for forked racers, a MONITOR
# reader, and a per-slot capacity model.  POD at the end.

use strict;
use warnings;

use Exporter 'import';
use IO::Select;
use IO::Socket::INET;
use JSON::PP ();
use POSIX ();
use Test::More ();
use Time::HiRes qw(time sleep);
use Time::Local ();
use BookingTest ();

our @EXPORT_OK = qw(
    default_http redis_now day_start hour_start iso date epoch
    book act get_booking avail_units runs_ok no_nulls json_canon
    user_h wait_redis_time
);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

# BookingTest's default http{} text; tests that need more types append to it.
sub default_http { return BookingTest::default_http() }

# Copies the module to a private temp file and points BOOKING_MODULE at it
# (unless set), so that a rebuild of build/*.so while a test runs (cp
# rewrites the file in place) cannot pull the code from under nginx.
my $PINNED;
sub pin_module {
    return $ENV{BOOKING_MODULE} if $ENV{BOOKING_MODULE};
    my $so = BookingTest::module_path();
    return $so unless -f $so;
    # a file still being written by the linker or cp: let it settle
    for (1 .. 50) {
        last if time - (stat $so)[9] > 1;
        sleep 0.1;
    }
    require File::Copy;
    require File::Temp;
    $PINNED = File::Temp->new(TEMPLATE => 'ngx-booking-so-XXXXXX', SUFFIX => '.so', TMPDIR => 1);
    File::Copy::copy($so, $PINNED->filename) or die "BookingRace: copy $so: $!\n";
    $ENV{BOOKING_MODULE} = $PINNED->filename;
    return $ENV{BOOKING_MODULE};
}

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

sub json_canon { return $JSON->encode($_[0]) }

# ---------------------------------------------------------------- time

# Seconds since the epoch by the test redis's clock (the module's clock).
sub redis_now {
    my ($t) = @_;
    my $r = $t->redis('TIME');
    die "BookingRace: TIME failed\n" unless ref $r eq 'ARRAY';
    return 0 + $r->[0];
}

# Waits (bounded) until Redis's clock reads at least $when; returns the time.
sub wait_redis_time {
    my ($t, $when, $timeout) = @_;
    my $deadline = time + ($timeout // 30);
    while (1) {
        my $r = $t->redis('TIME');
        my $now = $r->[0] + $r->[1] / 1e6;
        return $now if $now >= $when || time > $deadline;
        my $wait = $when - $now;
        sleep($wait > 0.2 ? 0.2 : ($wait < 0.01 ? 0.01 : $wait));
    }
}

# Start of the UTC day $n days after the one that holds $now.
sub day_start {
    my ($now, $n) = @_;
    return (POSIX::floor($now / 86400) + ($n // 0)) * 86400;
}

# Start of the hour $n hours after the one that holds $now.
sub hour_start {
    my ($now, $n) = @_;
    return (POSIX::floor($now / 3600) + ($n // 0)) * 3600;
}

sub iso  { return POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $_[0]) }
sub date { return POSIX::strftime('%Y-%m-%d', gmtime $_[0]) }

# "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ" to epoch seconds; undef otherwise.
sub epoch {
    my ($s) = @_;
    return undef unless defined $s && !ref $s;
    if ($s =~ /^(\d{4})-(\d\d)-(\d\d)$/) {
        return Time::Local::timegm(0, 0, 0, $3, $2 - 1, $1);
    }
    if ($s =~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z$/) {
        return Time::Local::timegm($6, $5, $4, $3, $2 - 1, $1);
    }
    return undef;
}

# ---------------------------------------------------------------- requests

sub user_h {
    my ($user, %more) = @_;
    my %h = %more;
    $h{'X-User-Id'} = $user if defined $user;
    return \%h;
}

# POST /api/bookings (or $o{prefix}bookings) as $user (undef: none).
sub book {
    my ($t, $user, $body, %o) = @_;
    my $prefix = $o{prefix} // '/api/';
    return $t->req(POST => "${prefix}bookings", body => $body,
                   headers => user_h($user, %{ $o{headers} || {} }));
}

# POST /api/bookings/{id}/{op}, without a body.
sub act {
    my ($t, $user, $id, $op, %o) = @_;
    my $prefix = $o{prefix} // '/api/';
    return $t->req(POST => "${prefix}bookings/$id/$op",
                   headers => user_h($user, %{ $o{headers} || {} }));
}

sub get_booking {
    my ($t, $user, $id, %o) = @_;
    my $prefix = $o{prefix} // '/api/';
    return $t->req(GET => "${prefix}bookings/$id",
                   headers => user_h($user, %{ $o{headers} || {} }));
}

# Free units per slot of [$from, $to) (epochs) from the availability API:
# an arrayref of units, one per slot; undef (with a diag) when the answer
# is not well formed runs that cover the range without gaps.
sub avail_units {
    my ($t, $res, $from, $to, $slot, %o) = @_;
    my $fmt = $o{dates} ? \&date : \&iso;
    my $r = $t->req(GET => "/api/resources/$res/availability?from="
                    . $fmt->($from) . '&to=' . $fmt->($to));
    if ($r->{status} != 200 || ref $r->{json} ne 'HASH'
        || ref $r->{json}{free} ne 'ARRAY')
    {
        Test::More::diag("availability of $res: $r->{status} $r->{body}");
        return undef;
    }
    my @units;
    my $at = $from;
    for my $run (@{ $r->{json}{free} }) {
        my ($s, $e) = (epoch($run->{start}), epoch($run->{end}));
        if (!defined $s || !defined $e || $s != $at || $e <= $s) {
            Test::More::diag("availability of $res: bad run at " . iso($at)
                             . ": $r->{body}");
            return undef;
        }
        push @units, ($run->{units}) x (($e - $s) / $slot);
        $at = $e;
    }
    if ($at != $to) {
        Test::More::diag("availability of $res: runs end at " . iso($at)
                         . ", not " . iso($to) . ": $r->{body}");
        return undef;
    }
    return \@units;
}

# Expected free units per slot of [$from, $to) for a resource of $cap units
# occupied by @occ = ([start, end_plus_buffer, quantity], ...).
sub model_units {
    my ($cap, $from, $to, $slot, @occ) = @_;
    my @u;
    for (my $s = $from; $s < $to; $s += $slot) {
        my $used = 0;
        for my $o (@occ) {
            $used += $o->[2] if $o->[0] <= $s && $s < $o->[1];
        }
        push @u, $cap - $used;
    }
    return \@u;
}

# One test: the availability of $res over [$from, $to) is what the
# occupying bookings @$occ leave of $cap units.
sub runs_ok {
    my ($t, $res, $cap, $from, $to, $slot, $occ, $name, %o) = @_;
    my $got = avail_units($t, $res, $from, $to, $slot, %o);
    my $want = model_units($cap, $from, $to, $slot, @$occ);
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return Test::More::is_deeply($got, $want, $name);
}

# True when no value anywhere in the decoded JSON is null.
sub no_nulls {
    my ($v) = @_;
    return 0 unless defined $v;
    if (ref $v eq 'HASH') {
        for (values %$v) { return 0 unless no_nulls($_) }
    } elsif (ref $v eq 'ARRAY') {
        for (@$v) { return 0 unless no_nulls($_) }
    }
    return 1;
}

# ====================================================================
package BookingRace::Conn;

# A keep-alive HTTP/1.1 client on one TCP connection (for forked racers).

use strict;
use warnings;
use IO::Select;
use IO::Socket::INET;
use JSON::PP ();
use Time::HiRes qw(time);

sub new {
    my ($class, $port, %o) = @_;
    my $self = bless { port => $port, timeout => $o{timeout} // 20,
                       buf => '' }, $class;
    $self->_connect;
    return $self;
}

sub _connect {
    my ($self) = @_;
    $self->{sock} = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1', PeerPort => $self->{port}, Proto => 'tcp',
        Timeout => 5,
    ) or die "BookingRace::Conn: connect to $self->{port}: $!\n";
    binmode $self->{sock};
    $self->{sock}->setsockopt(Socket::IPPROTO_TCP(), Socket::TCP_NODELAY(), 1);
    $self->{buf} = '';
    $self->{reused} = 0;
}

# request($method, $path, \%headers, $body) -> {status, headers, body, json}
sub request {
    my ($self, $method, $path, $headers, $body) = @_;
    local $SIG{PIPE} = 'IGNORE';
    $body //= '';
    my $head = "$method $path HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for my $k (sort keys %{ $headers || {} }) {
        $head .= "$k: $headers->{$k}\r\n";
    }
    $head .= 'Content-Length: ' . length($body) . "\r\n"
        if length $body || $method eq 'POST' || $method eq 'PUT';
    my $msg = "$head\r\n$body";
    my $deadline = time + $self->{timeout};
    my $sel = IO::Select->new($self->{sock});
    my $off = 0;
    while ($off < length $msg) {
        die "BookingRace::Conn: write timeout\n"
            unless $sel->can_write($deadline - time);
        my $n = syswrite($self->{sock}, $msg, length($msg) - $off, $off);
        die "BookingRace::Conn: write: $!\n" unless defined $n;
        $off += $n;
    }
    my $i;
    $self->_fill($deadline) while ($i = index($self->{buf}, "\r\n\r\n")) < 0;
    my $hdr = substr($self->{buf}, 0, $i + 4, '');
    my ($status) = $hdr =~ m{^HTTP/1\.[01] (\d{3})}
        or die "BookingRace::Conn: bad status line: $hdr\n";
    my %h;
    for my $line (split /\r\n/, $hdr) {
        my ($k, $v) = $line =~ /^([^:]+):\s*(.*)$/ or next;
        $h{ lc $k } = $v;
    }
    my $content = '';
    if (($h{'transfer-encoding'} // '') =~ /chunked/i) {
        while (1) {
            my $j;
            $self->_fill($deadline) while ($j = index($self->{buf}, "\r\n")) < 0;
            my $n = hex substr($self->{buf}, 0, $j + 2, '');
            $self->_fill($deadline) while length($self->{buf}) < $n + 2;
            $content .= substr($self->{buf}, 0, $n);
            substr($self->{buf}, 0, $n + 2, '');
            last if $n == 0;
        }
    } elsif (defined $h{'content-length'}) {
        my $n = $h{'content-length'};
        $self->_fill($deadline) while length($self->{buf}) < $n;
        $content = substr($self->{buf}, 0, $n, '');
    } elsif ($method ne 'HEAD' && $status != 204 && $status != 304) {
        die "BookingRace::Conn: an answer without a length\n";
    }
    my $json = ($h{'content-type'} // '') =~ /json/i
        ? eval { JSON::PP->new->utf8->decode($content) } : undef;
    BookingTest::record_answer($method, $path, $status, $h{'content-type'},
                               $content);
    if (($h{connection} // '') =~ /close/i) {
        close $self->{sock};
        $self->_connect;
    }
    return { status => 0 + $status, headers => \%h, body => $content,
             json => $json };
}

sub _fill {
    my ($self, $deadline) = @_;
    my $left = $deadline - time;
    die "BookingRace::Conn: read timeout\n"
        if $left <= 0 || !IO::Select->new($self->{sock})->can_read($left);
    my $n = sysread($self->{sock}, my $chunk, 65536);
    die "BookingRace::Conn: read: $!\n" unless defined $n;
    die "BookingRace::Conn: the server closed the connection\n" unless $n;
    $self->{buf} .= $chunk;
}

sub close_conn {
    my ($self) = @_;
    close $self->{sock} if $self->{sock};
    delete $self->{sock};
}

# ====================================================================
package BookingRace::Monitor;

# A raw MONITOR connection to the test redis.  Redis feeds it every command
# it runs, in the order it ran them (those a script runs tagged "lua").

use strict;
use warnings;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time);

sub new {
    my ($class, $port) = @_;
    my $sock = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp', Timeout => 5,
    ) or die "BookingRace::Monitor: connect to $port: $!\n";
    binmode $sock;
    syswrite($sock, "*1\r\n\$7\r\nMONITOR\r\n");
    my $self = bless { sock => $sock, buf => '', port => $port }, $class;
    my $ok = $self->_line(time + 5);
    die "BookingRace::Monitor: MONITOR answered $ok\n" unless $ok eq '+OK';
    return $self;
}

sub _line {
    my ($self, $deadline) = @_;
    my $i;
    while (($i = index($self->{buf}, "\r\n")) < 0) {
        my $left = $deadline - time;
        die "BookingRace::Monitor: read timeout\n"
            if $left <= 0 || !IO::Select->new($self->{sock})->can_read($left);
        my $n = sysread($self->{sock}, my $chunk, 1 << 20);
        die "BookingRace::Monitor: closed\n" unless $n;
        $self->{buf} .= $chunk;
    }
    return substr($self->{buf}, 0, $i + 2, '') =~ s/\r\n\z//r;
}

# Sends "ECHO <marker>" on another connection and returns every monitor
# entry up to it: [{time, db, client, args => [...]}, ...] (the marker's
# own line excluded).
sub drain {
    my ($self, $timeout) = @_;
    my $marker = "monitor-mark-" . int(rand 1e9) . "-$$";
    BookingTest::resp_command($self->{port}, 5, 'ECHO', $marker);
    my $deadline = time + ($timeout // 30);
    my @out;
    while (1) {
        my $line = $self->_line($deadline);
        my $e = parse_line($line) or next;
        last if @{ $e->{args} } == 2 && uc($e->{args}[0]) eq 'ECHO'
            && $e->{args}[1] eq $marker;
        push @out, $e;
    }
    return \@out;
}

sub close_monitor {
    my ($self) = @_;
    close $self->{sock} if $self->{sock};
    delete $self->{sock};
}

my %ESC = (n => "\n", r => "\r", t => "\t", a => "\a", b => "\b",
           '"' => '"', '\\' => '\\');

# +1700000000.123456 [0 127.0.0.1:5555] "FCALL" "abc" ...
sub parse_line {
    my ($line) = @_;
    $line =~ s/^\+//;
    $line =~ /^(\d+\.\d+) \[(\d+) ([^\]]*)\] (.*)$/s or return undef;
    my ($time, $db, $client, $rest) = ($1, $2, $3, $4);
    my @args;
    while ($rest =~ /\G\s*"((?:[^"\\]|\\.)*)"/gcs) {
        my $s = $1;
        $s =~ s{\\(x([0-9a-fA-F]{2})|.)}
               {defined $2 ? chr(hex $2) : ($ESC{$1} // $1)}ges;
        push @args, $s;
    }
    return { time => $time, db => $db, client => $client, args => \@args };
}

1;

__END__

=head1 NAME

BookingRace - helpers for the booking tests (times, keep-alive client,
MONITOR reader, capacity model)

=head1 FUNCTIONS

C<default_http> (a copy of BookingTest's default http{} text),
C<pin_module> (run nginx from a private copy of the .so, so a rebuild
during the test cannot crash it; call it before BookingTest->new),
C<redis_now($t)> (Redis TIME, seconds), C<wait_redis_time($t, $epoch)>,
C<day_start($now, $n)>, C<hour_start($now, $n)>, C<iso($epoch)>
(C<YYYY-MM-DDTHH:MM:SSZ>), C<date($epoch)> (C<YYYY-MM-DD>), C<epoch($str)>,
C<book($t, $user, $body, headers => {}, prefix => '/api/')>,
C<act($t, $user, $id, $op, ...)>, C<get_booking($t, $user, $id, ...)>,
C<avail_units($t, $res, $from, $to, $slot)> (free units per slot, from the
runs, checked to cover the range), C<runs_ok($t, $res, $cap, $from, $to,
$slot, [[start, end+buffer, qty], ...], $name)> (one test),
C<no_nulls($json)>.

C<< BookingRace::Conn->new($port)->request($method, $path, \%headers, $body) >>:
keep-alive HTTP/1.1 on one connection.

C<< BookingRace::Monitor->new($redis_port) >>, C<< ->drain >>: every
command Redis ran since, in order, as C<{time, db, client, args}>; client
is C<lua> for the commands of a script.

=cut

package BookingTest::RESPReader;

# A small RESP reader for the harness's own Redis client.

# Buffered, binary-safe RESP2 reply parser (plus the simple RESP3 types)
# with an absolute deadline.

use strict;
use warnings;
use IO::Select;
use Time::HiRes qw(time);

sub new {
    my ($class, $sock, $deadline) = @_;
    return bless { sock => $sock, buf => '', deadline => $deadline,
                   sel => IO::Select->new($sock) }, $class;
}

sub _fill {
    my ($self) = @_;
    my $left = $self->{deadline} - time;
    die "BookingTest: redis reply timeout\n"
        if $left <= 0 || !$self->{sel}->can_read($left);
    my $n = sysread($self->{sock}, my $chunk, 65536);
    die "BookingTest: redis read: $!\n" unless defined $n;
    die "BookingTest: redis closed the connection\n" unless $n;
    $self->{buf} .= $chunk;
}

sub _line {
    my ($self) = @_;
    my $i;
    $self->_fill while ($i = index($self->{buf}, "\r\n")) < 0;
    my $line = substr($self->{buf}, 0, $i);
    substr($self->{buf}, 0, $i + 2, '');
    return $line;
}

sub _bytes {
    my ($self, $n) = @_;
    $self->_fill while length($self->{buf}) < $n + 2;
    my $s = substr($self->{buf}, 0, $n);
    substr($self->{buf}, 0, $n + 2, '');    # drop the trailing CRLF
    return $s;
}

sub reply {
    my ($self) = @_;
    my $line = $self->_line;
    my ($type, $rest) = (substr($line, 0, 1), substr($line, 1));
    return $rest                                 if $type eq '+';
    return { error => $rest }                    if $type eq '-';
    return 0 + $rest                             if $type eq ':';
    return undef                                 if $type eq '_';
    return $rest                                 if $type eq ',';
    return $rest eq 't' ? 1 : 0                  if $type eq '#';
    if ($type eq '$' || $type eq '=' || $type eq '!') {
        return undef if $rest < 0;
        my $s = $self->_bytes($rest);
        return $type eq '!' ? { error => $s } : $s;
    }
    if ($type eq '*' || $type eq '~' || $type eq '>') {
        return undef if $rest < 0;
        return [ map { $self->reply } 1 .. $rest ];
    }
    if ($type eq '%') {    # map: flattened key/value list
        return [ map { $self->reply } 1 .. 2 * $rest ];
    }
    die "BookingTest: bad RESP reply line: $line\n";
}

# ====================================================================


package BookingTest;

# The harness's own Redis client, on the reader above.

# ---------------------------------------------------------------- RESP client

# One command on a fresh connection: robust across redis restarts/kills.
sub resp_command {
    my ($port, $timeout, @args) = @_;
    local $SIG{PIPE} = 'IGNORE';
    my $sock = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp', Timeout => $timeout,
    ) or die "BookingTest: redis connect to $port: $!\n";
    binmode $sock;
    my $deadline = time + $timeout;
    _write_all($sock, resp_encode(@args), $deadline)
        or die "BookingTest: redis write to $port failed: $!\n";
    my $reader = BookingTest::RESPReader->new($sock, $deadline);
    my $reply = $reader->reply;
    close $sock;
    return $reply;
}

sub resp_pipeline {
    my ($port, $timeout, @cmds) = @_;
    local $SIG{PIPE} = 'IGNORE';
    my $sock = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp', Timeout => $timeout,
    ) or die "BookingTest: redis connect to $port: $!\n";
    binmode $sock;
    my $deadline = time + $timeout;
    _write_all($sock, join('', map { resp_encode(@$_) } @cmds), $deadline)
        or die "BookingTest: redis write to $port failed: $!\n";
    my $reader = BookingTest::RESPReader->new($sock, $deadline);
    my @replies = map { $reader->reply } @cmds;
    close $sock;
    return \@replies;
}

sub resp_encode {
    my @args = @_;
    my $out = '*' . scalar(@args) . "\r\n";
    for my $a (@args) {
        my $s = $a // '';
        utf8::encode($s) if utf8::is_utf8($s);    # RESP is bytes
        $out .= '$' . length($s) . "\r\n$s\r\n";
    }
    return $out;
}

1;

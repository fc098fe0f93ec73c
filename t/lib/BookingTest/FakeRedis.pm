package BookingTest::FakeRedis;

# A misbehaving "redis" for failure-path tests: a forked Perl TCP server.

use strict;
use warnings;
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time);

my %MODES = map { $_ => 1 } qw(silent garbage slow close script);

sub new {
    my ($class, %o) = @_;
    my $mode = $o{mode} // 'silent';
    die "BookingTest::FakeRedis: unknown mode '$mode'\n" unless $MODES{$mode};
    my $self = bless {
        owner   => $$,
        mode    => $mode,
        delay   => $o{delay} // ($mode eq 'slow' ? 2 : 0),
        replies => [ @{ $o{replies} || [] } ],
        then    => $o{then} // 'ok',
        by_command => { map { uc($_) => $o{by_command}{$_} } keys %{ $o{by_command} || {} } },
        delay_by   => { map { uc($_) => $o{delay_by}{$_} } keys %{ $o{delay_by} || {} } },
    }, $class;
    die "BookingTest::FakeRedis: then must be ok or silent\n"
        unless $self->{then} =~ /^(?:ok|silent)\z/;

    # Bind in the parent, so the port is known and cannot be stolen.
    my $listen = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
        Listen => 128, ReuseAddr => 1,
    ) or die "BookingTest::FakeRedis: bind: $!\n";
    $self->{port} = $listen->sockport;

    my $parent = $$;
    my $pid = fork;
    die "BookingTest::FakeRedis: fork: $!\n" unless defined $pid;
    if (!$pid) {
        $SIG{$_} = 'DEFAULT' for qw(TERM INT);
        BookingTest::_die_with_parent($parent);
        $SIG{PIPE} = 'IGNORE';
        eval { $self->_serve($listen) };
        POSIX::_exit(0);    # never run the parent's END blocks in the child
    }
    close $listen;
    $self->{pid} = $pid;
    BookingTest::_register_live($self);
    return $self;
}

sub port { $_[0]{port} }
sub pid  { $_[0]{pid} }

sub stop {
    my ($self) = @_;
    return unless $self->{owner} == $$;
    my $pid = delete $self->{pid} or return;
    kill 'TERM', $pid;
    return if BookingTest::_wait_exit($pid, 3);
    kill 'KILL', $pid;
    BookingTest::_wait_exit($pid, 3);
}

sub DESTROY {
    my ($self) = @_;
    local ($@, $!, $?);
    $self->stop;
}

# --- child side

sub _serve {
    my ($self, $listen) = @_;
    my $sel = IO::Select->new($listen);
    my %conn;    # fileno => { sock, buf, queue => [ [due, bytes], ... ] }
    while (1) {
        my $timeout = _next_due(\%conn);
        $timeout = $timeout - time if defined $timeout;
        $timeout = 0 if defined $timeout && $timeout < 0;
        for my $fh ($sel->can_read($timeout)) {
            if ($fh == $listen) {
                my $c = $listen->accept or next;
                if ($self->{mode} eq 'close') { close $c; next; }
                $c->blocking(0);
                $conn{ fileno $c } = { sock => $c, buf => '', queue => [] };
                $sel->add($c);
                next;
            }
            my $st = $conn{ fileno $fh };
            my $n = sysread($fh, my $chunk, 65536);
            next if !defined $n && $!{EAGAIN};
            if (!$n) {
                $sel->remove($fh);
                delete $conn{ fileno $fh };
                close $fh;
                next;
            }
            $self->_on_data($st, $chunk);
        }
        _flush_due(\%conn);
    }
}

sub _on_data {
    my ($self, $st, $chunk) = @_;
    my $mode = $self->{mode};
    return if $mode eq 'silent';
    if ($mode eq 'garbage') {
        _send($st->{sock}, "?bogus\r\n");
        return;
    }
    $st->{buf} .= $chunk;
    while (length $st->{buf}) {
        my $used = _command_length($st->{buf}) or last;    # incomplete
        my $cmd = substr($st->{buf}, 0, $used, '');
        my $name = $cmd =~ /^\*\d+\r\n\$\d+\r\n([^\r]*)\r\n/ ? uc $1
                 : $cmd =~ /^\s*(\S+)/ ? uc $1 : '';
        my $delay = $self->{delay_by}{$name} // $self->{delay};
        if (exists $self->{by_command}{$name}) {
            my $r = $self->{by_command}{$name};
            push @{ $st->{queue} }, [ time + $delay, $r ] if defined $r;
            next;
        }
        my $reply = @{ $self->{replies} } ? shift @{ $self->{replies} }
                  : $self->{then} eq 'silent' ? undef
                  : "+OK\r\n";
        push @{ $st->{queue} }, [ time + $delay, $reply ] if defined $reply;
    }
}

# Length in bytes of the first complete command in $buf, 0 if incomplete.
# Handles RESP arrays of bulk strings and inline commands; anything
# unparseable counts as one command spanning the whole buffer.
sub _command_length {
    my ($buf) = @_;
    if ($buf !~ /^\*/) {
        my $i = index($buf, "\n");
        return $i < 0 ? 0 : $i + 1;
    }
    my $pos = 0;
    my $line = sub {
        my $i = index($buf, "\r\n", $pos);
        return undef if $i < 0;
        my $l = substr($buf, $pos, $i - $pos);
        $pos = $i + 2;
        return $l;
    };
    my $head = $line->() // return 0;
    return length $buf unless $head =~ /^\*(-?\d+)$/;
    my $count = $1;
    for (1 .. $count) {
        my $b = $line->() // return 0;
        return length $buf unless $b =~ /^\$(\d+)$/;
        return 0 if length($buf) < $pos + $1 + 2;
        $pos += $1 + 2;
    }
    return $pos;
}

sub _next_due {
    my ($conn) = @_;
    my $min;
    for my $st (values %$conn) {
        next unless @{ $st->{queue} };
        my $due = $st->{queue}[0][0];
        $min = $due if !defined $min || $due < $min;
    }
    return $min;
}

sub _flush_due {
    my ($conn) = @_;
    my $now = time;
    for my $st (values %$conn) {
        my $q = $st->{queue};
        _send($st->{sock}, (shift @$q)->[1]) while @$q && $q->[0][0] <= $now;
    }
}

sub _send {
    my ($sock, $bytes) = @_;
    $sock->blocking(1);    # replies are tiny; a blocking write is simplest
    syswrite($sock, $bytes);
    $sock->blocking(0);
}

1;

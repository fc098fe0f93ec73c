package BookingTest::Bg;

# A request run alongside others, in a forked child (BookingTest::bg).

use strict;
use warnings;
use IO::Select;
use JSON::PP ();
use POSIX qw(WNOHANG);
use Time::HiRes qw(time);

sub new {
    my ($class, $code) = @_;
    pipe(my $r, my $w) or die "BookingTest::bg: pipe: $!\n";
    my $parent = $$;
    my $pid = fork;
    die "BookingTest::bg: fork: $!\n" unless defined $pid;
    if (!$pid) {
        close $r;
        BookingTest::_die_with_parent($parent);
        my $v = eval { +{ ok => scalar $code->() } } || { bg_error => "$@" };
        binmode $w;
        print $w JSON::PP->new->utf8->allow_nonref->allow_blessed->encode($v);
        close $w;
        POSIX::_exit(0);    # never run the parent's END blocks in the child
    }
    close $w;
    my $self = bless { owner => $$, pid => $pid, fh => $r, buf => '' }, $class;
    BookingTest::_register_live($self);
    return $self;
}

sub pid { $_[0]{pid} }

# The first of @bg whose answer is in, within $timeout seconds, or undef.
sub first_done {
    my ($class, $timeout, @bg) = @_;
    my $sel = IO::Select->new(map { $_->{fh} } grep { !exists $_->{result} } @bg);
    my @ready = $sel->can_read($timeout * $BookingTest::SLOW) or return undef;
    for my $b (@bg) {
        return $b if !exists $b->{result} && $b->{fh} == $ready[0];
    }
    return undef;
}

sub result {
    my ($self, $timeout) = @_;
    return $self->{result} if exists $self->{result};
    my $deadline = time + ($timeout // 30) * $BookingTest::SLOW;
    my $sel = IO::Select->new($self->{fh});
    my $eof = 0;
    while ((my $left = $deadline - time) > 0) {
        last unless $sel->can_read($left);
        my $n = sysread($self->{fh}, my $chunk, 65536);
        if (!$n) { $eof = 1; last }
        $self->{buf} .= $chunk;
    }
    my $v = $eof
        ? (eval { JSON::PP->new->utf8->allow_nonref->decode($self->{buf}) }
            || { bg_error => "undecodable result: $@" })
        : { bg_error => 'timeout' };
    $self->stop;
    $self->{result} = exists $v->{ok} ? $v->{ok} : $v;
    return $self->{result};
}

sub stop {
    my ($self) = @_;
    return unless $self->{owner} == $$;
    my $pid = delete $self->{pid} or return;
    close $self->{fh};
    return if BookingTest::_wait_exit($pid, 0.5);
    kill 'KILL', $pid;
    BookingTest::_wait_exit($pid, 3);
}

sub DESTROY {
    my ($self) = @_;
    local ($@, $!, $?);
    $self->stop;
}

# ====================================================================

1;

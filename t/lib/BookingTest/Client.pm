package BookingTest;

# The harness's HTTP clients: a request through HTTP::Tiny, raw bytes
# through a socket, and the check of the spec's JSON errors.

use strict;
use warnings;
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use JSON::PP ();
use Encode ();
use Test::More ();
use Time::HiRes qw(time sleep);

our ($SLOW, $VALGRIND);

# ---------------------------------------------------------------- clients

sub req {
    my ($self, $method, $path, %o) = @_;
    my %headers = %{ $o{headers} || {} };
    my $body = $o{body};
    if (ref $body) {
        $body = JSON::PP->new->canonical->utf8->encode($body);
        $headers{'Content-Type'} = 'application/json'
            unless grep { lc $_ eq 'content-type' } keys %headers;
    }
    my $http = HTTP::Tiny->new(
        keep_alive   => 0,
        timeout      => $o{timeout} // 10 * $SLOW,
        max_redirect => 0,
        agent        => 'BookingTest/1',
    );
    my %args = (headers => \%headers);
    $args{content} = $body if defined $body;

    my $t0  = time;
    my $res = $http->request(uc $method, $self->url($path), \%args);
    my $r = {
        status  => $res->{status},
        reason  => $res->{reason},
        headers => $res->{headers} || {},
        body    => $res->{content} // '',
        time    => time - $t0,
    };
    my $ct = $r->{headers}{'content-type'} // '';
    $ct = $ct->[0] if ref $ct;
    $r->{json} = $ct =~ /\bjson\b/i
        ? eval { JSON::PP->new->utf8->allow_nonref->decode($r->{body}) }
        : undef;
    record_answer(uc $method, $path, $r->{status}, $ct, $r->{body});
    return $r;
}

# With BOOKING_ANSWERS=file, every JSON answer a test gets is appended to
# it, a line each, for tests/openapi/validate.mjs to check against the
# OpenAPI document (make test).  One write a line, O_APPEND: the lines of
# concurrent clients do not mix.
sub record_answer {
    my ($method, $path, $status, $ctype, $body) = @_;
    my $file = $ENV{BOOKING_ANSWERS} or return;
    return unless ($ctype // '') =~ /\bjson\b/i;
    $body //= '';
    my $text = eval { Encode::decode('UTF-8', $body, Encode::FB_CROAK | Encode::LEAVE_SRC) };
    my $line = JSON::PP->new->canonical->utf8->encode({
        method => $method, path => $path, status => 0 + $status,
        body => $text // $body, utf8 => defined $text ? JSON::PP::true : JSON::PP::false,
    }) . "\n";
    open my $fh, '>>', $file or return;
    binmode $fh;
    syswrite $fh, $line;
    close $fh;
}

# Raw TCP exchange.  $data is a byte string, or an arrayref of byte strings
# and scalar refs: a scalar ref (\0.5) means "sleep that many seconds before
# the next piece" (slow bodies).  Reads until the server closes or $timeout
# elapses (so send "Connection: close", or keep-alive will run to timeout).
sub raw {
    my ($self, $data, $timeout) = @_;
    $timeout //= 10 * $SLOW;
    local $SIG{PIPE} = 'IGNORE';    # the server may close while we still write
    my $sock = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1', PeerPort => $self->{port}, Proto => 'tcp', Timeout => $timeout,
    ) or die "BookingTest::raw: connect to $self->{port}: $!\n";
    binmode $sock;
    my $deadline = time + $timeout;
    for my $piece (ref $data eq 'ARRAY' ? @$data : ($data)) {
        if (ref $piece) {
            sleep $$piece;
            next;
        }
        last unless _write_all($sock, $piece, $deadline);
    }
    my $out = '';
    my $sel = IO::Select->new($sock);
    while ((my $left = $deadline - time) > 0) {
        last unless $sel->can_read($left);
        my $n = sysread($sock, my $buf, 65536);
        last unless $n;    # EOF or reset
        $out .= $buf;
    }
    close $sock;
    return $out;
}

# Parses the first HTTP response in $raw (as raw() returns it):
# {status, reason, headers (lowercased; repeated ones joined by ", "), body,
# json (when the Content-Type says JSON)}, or undef if there is none.
sub parse_http {
    my ($raw) = @_;
    return undef unless defined $raw
        && $raw =~ m{\AHTTP/1\.[01] (\d{3}) ?([^\r\n]*)\r\n(.*?)\r\n\r\n}s;
    my ($status, $reason, $head) = ($1, $2, $3);
    my $rest = substr($raw, $+[0]);
    my %h;
    for my $line (split /\r\n/, $head) {
        my ($k, $v) = $line =~ /^([^:]+):\s*(.*)$/ or next;
        $k = lc $k;
        $h{$k} = exists $h{$k} ? "$h{$k}, $v" : $v;
    }
    my $body = $rest;
    if (($h{'transfer-encoding'} // '') =~ /chunked/i) {
        $body = '';
        while ($rest =~ s/\A([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $n = hex $1;
            last if $n == 0;
            $body .= substr($rest, 0, $n, '');
            $rest =~ s/\A\r\n//;
        }
    } elsif (defined $h{'content-length'}) {
        $body = substr($rest, 0, $h{'content-length'});
    }
    my $r = { status => $status, reason => $reason, headers => \%h, body => $body };
    $r->{json} = ($h{'content-type'} // '') =~ /\bjson\b/i
        ? eval { JSON::PP->new->utf8->allow_nonref->decode($body) } : undef;
    return $r;
}

# One test: $r (from req() or parse_http()) is the JSON error of SPEC §4:
# the status, Content-Type application/json, a body that is exactly
# {"error":{"code":$code,"message":"...", ["field":...]}} (more keys
# inside "error" are allowed: conflicts).  field => NAME requires that field.
sub error_is {
    my ($r, $status, $code, %o) = @_;
    my $name = $o{name} // "$status $code";
    my @why;
    push @why, "status is $r->{status}, not $status" if $r->{status} != $status;
    my $ct = $r->{headers}{'content-type'} // '';
    $ct = $ct->[0] if ref $ct;
    push @why, "Content-Type is '$ct'" unless $ct =~ m{^application/json\s*(?:;|$)}i;
    my $j = $r->{json};
    if (ref $j ne 'HASH' || ref $j->{error} ne 'HASH') {
        push @why, 'the body is not {"error":{...}}';
    } else {
        push @why, 'keys besides "error" at the top' if keys %$j != 1;
        my $e = $j->{error};
        push @why, "code is " . ($e->{code} // 'missing')
            if !defined $e->{code} || ref $e->{code} || $e->{code} ne $code;
        push @why, 'no message'
            if !defined $e->{message} || ref $e->{message} || $e->{message} eq '';
        push @why, "field is " . ($e->{field} // 'missing') . ", not $o{field}"
            if defined $o{field} && ($e->{field} // '') ne $o{field};
    }
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ok = Test::More::ok(!@why, $name);
    Test::More::diag(join("\n", @why) . "\nbody: " . ($r->{body} // '')) unless $ok;
    return $ok;
}

1;

package BookingModel;

# A model-based test of the capacity invariant (t/80-model.t, make model),
# the way Jepsen-style checkers work: a seeded random sequence of every
# operation (holds, bookings, blocks, every transition by every kind of
# caller, expiry by the clock, PUT changing capacity, type and slot in
# every direction, DELETE and re-create, reloads of nginx.conf with changed
# types, concurrent batches) runs against the real nginx and Redis; this
# package's own model of the spec says what each answer must be, and after
# every step the API's availability and Redis's stored counters are checked
# against it: never over capacity, never negative, free units as the model
# says.  On a failure it prints the seed and shrinks the sequence to a
# short one that still fails, replayed on fresh data.

use strict;
use warnings;

use JSON::PP ();
use List::Util qw(max min sum);
use POSIX qw(floor);
use Time::HiRes qw(time sleep);

use BookingTest;
use BookingKeys qw(rkey get_units);
use BookingRace ();
use BookingSentinel ();

my $JSON = JSON::PP->new->canonical->utf8;

# Two versions of nginx.conf: a reload swaps them.  In V1 the slot of mh
# doubles and ma loses its approval: resources keep the slot they were
# made with until PUT again, and confirms follow the rules of the moment.
my %CONF = (
    V0 => { mh => { slot => 60,  buffer => 0 },  mb => { slot => 60, buffer => 60 },
            ma => { slot => 60, approval => 1 }, m2 => { slot => 120 },
            st => { slot => 0 } },
    V1 => { mh => { slot => 120, buffer => 0 },  mb => { slot => 60, buffer => 60 },
            ma => { slot => 60 },                 m2 => { slot => 120 },
            st => { slot => 0 } },
);
my $HOLD = 3;

sub conf_text {
    my ($v) = @_;
    my $c = $CONF{$v};
    my $s = "booking_user \$http_x_user_id;\nbooking_user_groups \$http_x_user_groups;\n";
    for my $name (sort keys %$c) {
        my $t = $c->{$name};
        $s .= "booking_type $name slot=" . ($t->{slot} ? ($t->{slot} / 60) . 'm' : 'none')
            . " hold=${HOLD}s"
            . ($t->{buffer} ? ' buffer=' . ($t->{buffer} / 60) . 'm' : '')
            . ($t->{approval} ? ' approval=on' : '') . ";\n";
    }
    return $s;
}

my $SERVER = <<'EOT';
location /api/ { booking_api; }
location /guest/ { booking_api; booking_anonymous on; }
location /admin/ { booking_api admin; }
location = /metrics { booking_status; }
EOT

# r4 and r5 are only blocked (in the past), retyped and deleted: never in
# use, so that a change of type or slot goes through with an earlier
# era's blocks left
my @RIDS  = qw(r0 r1 r2 r3);
my @ALL   = (@RIDS, qw(r4 r5));
my @USERS = qw(u1 u2 u3);
my @TYPES = qw(mh mb ma m2 st);

# ------------------------------------------------------------ the world

sub new {
    my ($class, %o) = @_;
    my $self = bless {
        seed    => $o{seed},
        verbose => $o{verbose},
        skip    => { map { $_ => 1 } split /,/, $o{skip} // '' },
        failovers => 0,
    }, $class;
    if ($o{sentinel}) {
        # a master, two replicas, three sentinels; the module waits for one
        # replica (booking_redis_replicas 1) and follows the failovers
        my $S = $self->{sentinel} = BookingSentinel->new;
        $self->{extra} = $S->directive . "booking_redis_replicas 1 timeout=1s;\n";
        $self->{t} = BookingTest->new(workers => 2, booking_redis => '',
                                      http => $self->conf('V0'), server => $SERVER);
        $self->{t}->redis('CONFIG', 'SET', 'repl-diskless-sync-delay', '0');
        $S->start($self->{t}, args => [ '--repl-diskless-sync-delay', '0' ]);
        $self->{conn} = BookingRace::Conn->new($self->{t}->port);
        $self->settle;
    } elsif ($o{cluster}) {
        # three masters; every 25th step starts moving slots between two of
        # them (redis-cli --cluster reshard, in the background), so that
        # the steps after it meet MOVED, ASK and TRYAGAIN
        $self->{t} = BookingTest->new(workers => 2, http => $self->conf('V0'), server => $SERVER,
                                      cluster => { replicas => 0 });
        $self->{cluster} = $self->{t}->cluster;
        $self->{reshards} = 0;
    } else {
        $self->{t} = BookingTest->new(workers => 2, http => $self->conf('V0'), server => $SERVER);
    }
    $self->reset;
    return $self;
}

sub conf { my ($self, $v) = @_; return conf_text($v) . ($self->{extra} // '') }

# With sentinels: every worker has found the master (a fresh connection
# lands on any worker; five in a row answered by Redis)
sub settle {
    my ($self) = @_;
    return unless $self->{sentinel};
    my ($ok, $end) = (0, time + 15 * BookingTest::slow());
    while ($ok < 5) {
        $self->fail('the module did not find the master in 15 s') if time > $end;
        my $c = BookingRace::Conn->new($self->{t}->port);
        my $r = eval { $c->request(GET => '/api/resources/none', {}, undef) };
        $ok = $r && $r->{status} == 404 ? $ok + 1 : 0;
        sleep 0.05 unless $ok;
    }
}

# fresh data and the first nginx.conf: the start of every run and replay
sub reset {
    my ($self) = @_;
    $self->{t}->redis('FLUSHALL');
    if (($self->{conf} // 'V0') ne 'V0') {
        $self->{t}->reload_nginx(http => $self->conf('V0'));
        $self->settle;
    }
    $self->{conf} = 'V0';
    $self->{res} = {};        # id -> resource of the model
    $self->{bk} = [];         # bookings by creation index
    $self->{conn} = BookingRace::Conn->new($self->{t}->port);
    $self->{log} = [];
}

sub stop { $_[0]->reshard_done; $_[0]{t}->stop }

sub now {
    my ($self) = @_;
    my $r = $self->{t}->redis('TIME');
    return $r->[0] + $r->[1] / 1e6;
}

sub http {
    my ($self, $method, $path, %o) = @_;
    my %h = %{ $o{headers} || {} };
    my $body;
    if ($o{body}) {
        $body = $JSON->encode($o{body});
        $h{'Content-Type'} = 'application/json';
    }
    my $r = eval { $self->{conn}->request($method, $path, \%h, $body) };
    print STDERR "TRACE $method $path " . ($body // '') . " -> " . ($r ? $r->{status} : 'x') . "\n"
        if $ENV{BOOKING_MODEL_TRACE};
    if (!$r) {
        # a connection the server closed before it read this request (a
        # reload): once more on a new one; an answer that could not be
        # read is a failure, never sent twice
        $self->fail("$method $path: $@") if $@ !~ /write|closed|reset/i;
        $self->{conn} = BookingRace::Conn->new($self->{t}->port);
        $r = $self->{conn}->request($method, $path, \%h, $body);
    }
    return $r;
}

# ------------------------------------------------------------ the model

sub rules { my ($self, $type) = @_; return $CONF{ $self->{conf} }{$type} }

sub occupying {
    my ($self, $b, $now) = @_;
    return 0 unless $b->{alive};
    return 1 if $b->{status} eq 'requested' || $b->{status} eq 'confirmed';
    return $b->{status} eq 'held' && $b->{expires_at} > $now;
}

# bookings that count against the resource's capacity now (this era only)
sub counted {
    my ($self, $r, $now) = @_;
    return grep { $_->{rid} eq $r->{id} && $_->{inc} == $r->{inc} && $_->{gen} == $r->{gen}
                  && $self->occupying($_, $now) } @{ $self->{bk} };
}

sub used_at {
    my ($self, $r, $slot_start, $now) = @_;
    return sum(0, map { $_->{qty} } grep { $_->{start} <= $slot_start && $slot_start < $_->{end} + $_->{buffer} }
               $self->counted($r, $now));
}

sub stock_used {
    my ($self, $r, $now) = @_;
    return sum(0, map { $_->{qty} } $self->counted($r, $now));
}

sub max_used_from {
    my ($self, $r, $from, $now) = @_;
    my $m = 0;
    for my $b ($self->counted($r, $now)) {
        next if $b->{end} + $b->{buffer} <= $from;
        for (my $s = max($from, $b->{start}); $s < $b->{end} + $b->{buffer}; $s += $r->{slot}) {
            my $u = $self->used_at($r, $s, $now);
            $m = $u if $u > $m;
        }
    }
    return $m;
}

sub in_use {
    my ($self, $r, $now) = @_;
    return $self->stock_used($r, $now) > 0 if $r->{slot} == 0;
    return $self->max_used_from($r, floor($now / $r->{slot}) * $r->{slot}, $now) > 0;
}

# the last slot that can end by 9999-12-31 caps a buffer; far from here
sub buffer_of { my ($self, $type) = @_; return $self->rules($type)->{buffer} // 0 }

# ------------------------------------------------------------ steps

# A step is a plain hash (kind and parameters), made by gen() from the
# random source and replayable as it is.  Times are in slots from "now"
# when it runs; bookings are named by the order they were made.

sub gen {
    my ($self, $rand) = @_;
    my $s;
    # operations left out (BOOKING_MODEL_SKIP=reload,race): drawn again, so
    # that one defect can be looked for without another hiding it
    do { $s = $self->draw($rand) } while $self->{skip}{ $s->{op} };
    # with sentinels, a failover every 40 steps, in place of what was drawn
    return { op => 'failover' } if $self->{sentinel} && ++$self->{drawn} % 40 == 0;
    return { op => 'reshard', slots => 200 + int($rand->() * 1800), pick => $rand->() }
        if $self->{cluster} && ++$self->{drawn} % 25 == 0;
    return $s;
}

sub draw {
    my ($self, $rand) = @_;
    my $pick = sub { $_[ int($rand->() * @_) ] };
    my $w = $rand->();
    my $rid = $pick->(@RIDS);
    my $any = $pick->(@ALL);
    # timeless twice as often: timed to timeless and back is where the
    # counters change kind
    if ($w < 0.12) { return { op => 'put', rid => $any, type => $pick->(@TYPES, 'st'), cap => 1 + int($rand->() * 3) } }
    if ($w < 0.15) { return { op => 'delete', rid => $any } }
    if ($w < 0.36) {
        return { op => 'book', rid => $rid, who => $pick->(@USERS, @USERS, 'guest'),
                 k => $pick->(-1, 1, 1, 2, 3, 4), len => 1 + int($rand->() * 2),
                 qty => 1 + int($rand->() * 3), hold => $rand->() < 0.6 ? 1 : 0 };
    }
    if ($w < 0.52) {
        # r4 and r5 only get blocks of the past: never in use, they change
        # type and slot freely with an earlier era's bookings still there
        return { op => 'block', rid => $any, who => $pick->('owner', 'admin'),
                 k => $any =~ /^r[45]$/ ? $pick->(-40, -3, -2, -1) : $pick->(-40, -3, -2, -1, 0, 1, 2),
                 len => 1 + int($rand->() * 2),
                 qty => 1 + int($rand->() * 2) };
    }
    if ($w < 0.80) {
        # half the time one of the last few bookings: what was just made
        # (and what was just done to its resource) is where defects are
        # and a fifth of the time one made before its resource changed type
        # or slot: what an earlier era left behind must give nothing back
        my $x = $rand->();
        return { op => 'act', n => int($rand->() * 1000), recent => $x < 0.5 ? 1 : 0, old => $x > 0.8 ? 1 : 0,
                 verb => $pick->(qw(confirm confirm cancel cancel approve decline)),
                 who => $pick->(qw(user user token owner admin stranger)) };
    }
    if ($w < 0.89) {
        return { op => 'race', rid => $rid, k => $pick->(1, 2, 3), len => 1 + int($rand->() * 2),
                 n => 4 + int($rand->() * 5), hold => $rand->() < 0.5 ? 1 : 0 };
    }
    if ($w < 0.96) { return { op => 'expire' } }
    return { op => 'reload' };
}

sub describe {
    my ($s) = @_;
    return join ' ', map { "$_=$s->{$_}" } grep { $_ ne 'op' } sort keys %$s;
}

# Runs one step; dies with the reason when an answer is not the model's.
sub step {
    my ($self, $s) = @_;
    my $m = "do_$s->{op}";
    push @{ $self->{log} }, "$s->{op} " . describe($s);
    return $self->$m($s);
}

sub fail {
    my ($self, $why) = @_;
    die "MODEL: $why\n";
}

sub expect {
    my ($self, $r, $want, $what) = @_;
    my @w = ref $want ? @$want : ($want);
    return if grep { $r->{status} == $_ } @w;
    $self->fail("$what: $r->{status}, the model says " . join('|', @w) . ": $r->{body}");
}

sub do_put {
    my ($self, $s) = @_;
    my $now = $self->now;
    my $r = $self->{res}{ $s->{rid} };
    my $rules = $self->rules($s->{type});
    my $ans = $self->http(PUT => "/admin/resources/$s->{rid}",
                          body => { type => $s->{type}, capacity => $s->{cap}, owner => 'ow' });
    if (!$r) {
        $self->expect($ans, 201, "PUT a new $s->{rid}");
        $self->{res}{ $s->{rid} } = { id => $s->{rid}, type => $s->{type}, slot => $rules->{slot},
                                      cap => $s->{cap}, gen => 1, inc => ++$self->{inc} };
        return;
    }
    my $change = $r->{type} ne $s->{type} || $r->{slot} != $rules->{slot};
    my $refuse;
    if ($change) {
        $refuse = $self->in_use($r, $now);
    } elsif ($s->{cap} < $r->{cap}) {
        my $used = $r->{slot} == 0 ? $self->stock_used($r, $now)
                 : $self->max_used_from($r, floor($now / $r->{slot}) * $r->{slot}, $now);
        $refuse = $used > $s->{cap};
    }
    if ($refuse) {
        $self->expect($ans, 409, "PUT $s->{rid} ($r->{type} -> $s->{type}, $r->{cap} -> $s->{cap})");
        return;
    }
    $self->expect($ans, 200, "PUT $s->{rid} ($r->{type} -> $s->{type}, $r->{cap} -> $s->{cap})");
    if ($change) {
        $self->{retyped} = $r->{id};
        $r->{gen}++;
        @$r{qw(type slot)} = ($s->{type}, $rules->{slot});
    }
    $r->{cap} = $s->{cap};
}

sub do_delete {
    my ($self, $s) = @_;
    my $now = $self->now;
    my $r = $self->{res}{ $s->{rid} };
    my $ans = $self->http(DELETE => "/admin/resources/$s->{rid}");
    if (!$r) {
        $self->expect($ans, 404, "DELETE a missing $s->{rid}");
        return;
    }
    if ($self->in_use($r, $now)) {
        $self->expect($ans, 409, "DELETE $s->{rid} in use");
        return;
    }
    $self->expect($ans, 204, "DELETE $s->{rid}");
    delete $self->{res}{ $s->{rid} };
}

sub iso { return POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $_[0]) }

# the range of a step on resource r, in its stored slots, from now
sub range {
    my ($self, $r, $s, $now) = @_;
    my $slot = $r->{slot} || 60;
    my $start = (floor($now / $slot) + $s->{k}) * $slot;
    return ($start, $start + $s->{len} * $slot);
}

# What the model says of a booking or block: [status, why] before it runs
sub predict {
    my ($self, $r, $kind, $start, $end, $qty, $hold, $now) = @_;
    return [404] unless $r;
    my $rules = $self->rules($r->{type});
    if ($r->{slot} == 0) {
        return [422] if $qty > $r->{cap};
        return [409] if $qty > $r->{cap} - $self->stock_used($r, $now);
        return [201];
    }
    # the request against the resource first, then the rules of the moment
    return [422] if $qty > $r->{cap};
    return [409] if $rules->{slot} != $r->{slot};
    return [422] if $kind ne 'block' && $start < floor($now / $r->{slot}) * $r->{slot};
    my $buf = $rules->{buffer} // 0;
    for (my $t = $start; $t < $end + $buf; $t += $r->{slot}) {
        return [409] if $self->used_at($r, $t, $now) + $qty > $r->{cap};
    }
    return [201];
}

# a booking the server made, as the model keeps it
sub keep {
    my ($self, $r, $ans, $who, $kind, $start, $end, $qty) = @_;
    my $j = $ans->{json};
    my $rules = $self->rules($r->{type});
    push @{ $self->{bk} }, {
        id => $j->{id}, rid => $r->{id}, inc => $r->{inc}, gen => $r->{gen}, alive => 1,
        type => $r->{type},
        status => $j->{status}, kind => $kind, user => $who, token => $j->{token},
        start => $r->{slot} ? $start : 0, end => $r->{slot} ? $end : 0,
        buffer => $r->{slot} ? ($rules->{buffer} // 0) : 0, qty => $qty,
        expires_at => $j->{expires_at} ? BookingRace::epoch($j->{expires_at}) : 0,
    };
}

sub do_book {
    my ($self, $s) = @_;
    my $now = $self->now;
    my $r = $self->{res}{ $s->{rid} };
    my $guest = $s->{who} eq 'guest';
    my $hold = $guest ? 1 : $s->{hold};
    my ($start, $end) = $r ? $self->range($r, $s, $now) : (0, 0);
    my %body = (resource => $s->{rid}, quantity => $s->{qty}, hold => $hold ? JSON::PP::true : JSON::PP::false);
    @body{qw(start end)} = (iso($start), iso($end)) if $r && $r->{slot};
    # seconds from a slot's edge: the minute may turn while it runs
    return if $r && $r->{slot} && $now - floor($now / 60) * 60 > 58;
    my $want = $self->predict($r, 'booking', $start, $end, $s->{qty}, $hold, $now);
    my $ans = $self->http(POST => ($guest ? '/guest/bookings' : '/api/bookings'), body => \%body,
                          headers => $guest ? {} : { 'X-User-Id' => $s->{who} });
    $self->expect($ans, $want->[0], "book $s->{rid} x$s->{qty} by $s->{who}");
    return unless $ans->{status} == 201;
    my $rules = $self->rules($r->{type});
    my $st = $hold ? 'held' : $rules->{approval} ? 'requested' : 'confirmed';
    $self->fail("the booking is $ans->{json}{status}, the model says $st") if $ans->{json}{status} ne $st;
    $self->keep($r, $ans, $guest ? '' : $s->{who}, 'booking', $start, $end, $s->{qty});
}

sub do_block {
    my ($self, $s) = @_;
    my $now = $self->now;
    my $r = $self->{res}{ $s->{rid} };
    return if !$r || $r->{slot} == 0;
    return if $now - floor($now / 60) * 60 > 58;
    my ($start, $end) = $self->range($r, $s, $now);
    my $want = $self->predict($r, 'block', $start, $end, $s->{qty}, 0, $now);
    my $ans = $self->http(POST => ($s->{who} eq 'admin' ? '/admin/bookings' : '/api/bookings'),
                          body => { resource => $s->{rid}, kind => 'block', quantity => $s->{qty},
                                    start => iso($start), end => iso($end) },
                          headers => $s->{who} eq 'admin' ? {} : { 'X-User-Id' => 'ow' });
    $self->expect($ans, $want->[0], "block $s->{rid} x$s->{qty} at $s->{k}");
    $self->keep($r, $ans, $s->{who} eq 'admin' ? '' : 'ow', 'block', $start, $end, $s->{qty})
        if $ans->{status} == 201;
}

sub do_act {
    my ($self, $s) = @_;
    my @bk = @{ $self->{bk} };
    return unless @bk;
    @bk = @bk[ max(0, $#bk - 5) .. $#bk ] if $s->{recent};
    if ($s->{old}) {
        # what the last change of type or slot left behind, else any
        my @old = grep { my $r = $self->{res}{ $_->{rid} };
                         $r && $r->{inc} == $_->{inc} && $r->{gen} != $_->{gen} } @{ $self->{bk} };
        my @last = grep { $_->{rid} eq ($self->{retyped} // '') } @old;
        @bk = @last ? @last : @old ? @old : @bk;
    }
    my $b = $bk[ $s->{n} % @bk ];
    my $now = $self->now;
    my $r = $self->{res}{ $b->{rid} };
    # a hold about to expire: what the server saw cannot be told
    return if $b->{status} eq 'held' && abs($b->{expires_at} - $now) < 1;

    my ($prefix, %h) = ('/api/');
    my ($admin, $token, $uid) = (0, 0, '');
    if ($s->{who} eq 'admin') { $prefix = '/admin/'; $admin = 1 }
    elsif ($s->{who} eq 'user') { return unless $b->{user}; $uid = $b->{user} }
    elsif ($s->{who} eq 'owner') { $uid = 'ow' }
    elsif ($s->{who} eq 'token') { return unless $b->{token}; $h{'Booking-Token'} = $b->{token}; $token = 1 }
    else { $uid = 'stranger' }
    $h{'X-User-Id'} = $uid if $uid ne '';
    # the roles come from who the caller is: the owner's own block is both
    my $mine = $uid ne '' && $uid eq $b->{user};
    my $host = $uid eq 'ow';

    print STDERR "ACT old=$s->{old} $s->{verb} by $s->{who} of $b->{id} ($b->{status}, gen $b->{gen}) on "
        . ($r ? "$r->{type} gen $r->{gen}" : 'none') . "\n" if $ENV{BOOKING_MODEL_TRACE};
    my $ans = $self->http(POST => "$prefix" . "bookings/$b->{id}/$s->{verb}", headers => \%h);
    my $what = "$s->{verb} $b->{id} ($b->{status}) by $s->{who}";
    my $alive = $b->{alive} && $r && $r->{inc} == $b->{inc};

    if (!$admin && !$mine && !$host && !$token) {
        $self->expect($ans, [ 401, 404 ], $what);
        return;
    }
    if (!$alive) {
        $self->expect($ans, 404, "$what: its resource is gone");
        return;
    }
    my %may = (confirm => $admin || $mine || $token, cancel => $admin || $mine || $host || $token,
               approve => $admin || $host, decline => $admin || $host);
    if (!$may{ $s->{verb} }) {
        $self->expect($ans, 403, $what);
        return;
    }
    my $st = $b->{status};
    $st = 'expired' if $st eq 'held' && $b->{expires_at} <= $now;
    my ($want, $to);
    if ($s->{verb} eq 'confirm') {
        if ($st eq 'held') {
            # the rules of the booking's own type, as nginx.conf has them now
            my $rules = $CONF{ $self->{conf} }{ $b->{type} } // {};
            ($want, $to) = (200, ($rules->{approval} && $b->{kind} ne 'block') ? 'requested' : 'confirmed');
        }
        elsif ($st eq 'expired') { $want = 410 }
        elsif ($st eq 'confirmed' || $st eq 'requested') { $want = 200 }
        else { $want = 409 }
    } elsif ($s->{verb} eq 'cancel') {
        if ($st eq 'held' || $st eq 'requested' || $st eq 'confirmed') { ($want, $to) = (200, 'cancelled') }
        elsif ($st eq 'cancelled') { $want = 200 }
        else { $want = 409 }
    } elsif ($s->{verb} eq 'approve') {
        if ($st eq 'requested') { ($want, $to) = (200, 'confirmed'); $b->{approved} = 1 }
        elsif ($st eq 'confirmed' && $b->{approved}) { $want = 200 }
        else { $want = 409 }
    } else {
        if ($st eq 'requested') { ($want, $to) = (200, 'declined') }
        elsif ($st eq 'declined') { $want = 200 }
        else { $want = 409 }
    }
    $self->expect($ans, $want, $what);
    $b->{status} = $st;
    $b->{status} = $to if $to && $ans->{status} == 200;
    if ($ans->{status} == 200 && $ans->{json}{status} ne $b->{status}) {
        $self->fail("$what: the server says $ans->{json}{status}, the model $b->{status}");
    }
}

# Several bookings of one range sent at once from as many connections:
# the 201s must fit, and each 409 must be one no order could have made.
sub do_race {
    my ($self, $s) = @_;
    my $now = $self->now;
    my $r = $self->{res}{ $s->{rid} };
    return if !$r || $r->{slot} == 0 || $self->rules($r->{type})->{slot} != $r->{slot};
    return if $now - floor($now / 60) * 60 > 55;
    my ($start, $end) = $self->range($r, $s, $now);
    my $port = $self->{t}->port;
    my @bg = map {
        my $u = "ru$_";
        BookingTest::bg(sub {
            my $c = BookingRace::Conn->new($port);
            my $a = $c->request(POST => '/api/bookings', { 'X-User-Id' => $u, 'Content-Type' => 'application/json' },
                                $JSON->encode({ resource => $s->{rid}, start => iso($start), end => iso($end),
                                                hold => $s->{hold} ? JSON::PP::true : JSON::PP::false }));
            return { status => $a->{status}, json => $a->{json}, user => $u };
        });
    } 1 .. $s->{n};
    my @res = map { $_->result(30) } @bg;
    my @won = grep { ($_->{status} // 0) == 201 } @res;
    my @lost = grep { ($_->{status} // 0) == 409 } @res;
    $self->fail("race on $s->{rid}: " . join(',', map { $_->{status} // 'none' } @res))
        if @won + @lost != @res;
    for my $w (@won) {
        $self->keep($r, { json => $w->{json} }, $w->{user}, 'booking', $start, $end, 1);
    }
    my $after = $self->now;
    my $buf = $self->rules($r->{type})->{buffer} // 0;
    for (my $t = $start; $t < $end + $buf; $t += $r->{slot}) {
        my $u = $self->used_at($r, $t, $after);
        $self->fail("race on $s->{rid}: " . scalar(@won) . " won, $u units in use of $r->{cap}")
            if $u > $r->{cap};
    }
    if (@lost) {
        # holds that expired while the race ran may have made room since:
        # a 409 must have been right with them still counted
        my $room = 1;
        for (my $t = $start; $t < $end + $buf; $t += $r->{slot}) {
            $room = 0 if $self->used_at($r, $t, $now) + 1 > $r->{cap};
        }
        $self->fail("race on $s->{rid}: a 409 though the range still has room after every winner")
            if $room;
    }
}

# waits until the next hold expires (Redis's clock), at most a hold's life
sub do_expire {
    my ($self) = @_;
    my $now = $self->now;
    my @due = sort { $a <=> $b } grep { $_ > $now }
              map { $_->{expires_at} } grep { $_->{alive} && $_->{status} eq 'held' } @{ $self->{bk} };
    return unless @due;
    BookingRace::wait_redis_time($self->{t}, $due[0] + 0.05, 10);
}

sub do_reload {
    my ($self) = @_;
    $self->{conf} = $self->{conf} eq 'V0' ? 'V1' : 'V0';
    $self->{t}->reload_nginx(http => $self->conf($self->{conf}));
    $self->settle;
    $self->{conn} = BookingRace::Conn->new($self->{t}->port);
}

# SENTINEL FAILOVER between two steps: the master alive, a replica
# promoted.  With WAIT and the fence nothing acknowledged may be lost, so
# the model goes on unchanged and the next check compares the new
# master's counters with it.
sub do_failover {
    my ($self) = @_;
    my $S = $self->{sentinel} or return;
    my $old = $S->settled // $S->newest;
    my $a = $S->sentinel(($S->ports)[0], 'FAILOVER', $S->name);
    $self->fail("SENTINEL FAILOVER: $a->{error}") if ref $a eq 'HASH';
    my $new = $S->wait_for('a promotion', 30, sub { my $m = $S->settled; $m && $m != $old && $m })
        or $self->fail('no replica promoted in 30 s');
    $S->wait_for('a replica of the new master', 30, sub { $S->connected($new) >= 1 })
        or $self->fail('no replica followed the new master in 30 s');
    $self->{t}{redis_port} = $new;    # the harness's reads follow it
    $self->{failovers}++;
    $self->settle;
    $self->{conn} = BookingRace::Conn->new($self->{t}->port);
}

# Slots moved from one master to another while the next steps run: the
# slot of one of the model's resources, a key at a time (ASK, TRYAGAIN),
# or a few hundred slots at once by redis-cli (MOVED).  The one before
# must be done first.
sub do_reshard {
    my ($self, $s) = @_;
    my $c = $self->{cluster} or return;
    $self->reshard_done;
    my @m = $c->masters;
    my $rid = $RIDS[ int($s->{pick} * @RIDS) ];
    my $slot = BookingKeys::key_slot(rkey($rid));
    my $from = $c->master_of_slot($slot);
    my ($to) = grep { $_ != $from } @m[ int($s->{pick} * 7) % @m, (int($s->{pick} * 7) + 1) % @m ];
    my $bulk = $self->{reshards} % 3 == 2;
    my ($fid, $tid) = map { $c->node($_, 'CLUSTER', 'MYID') } $from, $to;
    $self->{resharding} = BookingTest::bg(sub {
        return $c->migrate_slot($slot, $to, 0.02) unless $bulk;
        my $out = `redis-cli --cluster reshard 127.0.0.1:$from --cluster-from $fid --cluster-to $tid --cluster-slots $s->{slots} --cluster-yes 2>&1`;
        return $? ? "reshard failed: " . substr($out, -300) : 'ok';
    });
    $self->{reshards}++;
}

sub reshard_done {
    my ($self) = @_;
    my $bg = delete $self->{resharding} or return;
    my $r = $bg->result(120) // 'no answer';
    $self->fail("redis-cli --cluster reshard: $r") unless $r eq 'ok';
    $self->{cluster}->refresh;
}

# ------------------------------------------------------------ the checks

# Every resource: the API's availability, then Redis's counters, equal to
# the model; never over capacity, never negative.
sub check {
    my ($self) = @_;
    for my $id (sort keys %{ $self->{res} }) {
        my $r = $self->{res}{$id};
        my $t0 = $self->now;
        my ($from, $to) = $r->{slot} ? ((floor($t0 / $r->{slot}) - 42) * $r->{slot},
                                        (floor($t0 / $r->{slot}) + 8) * $r->{slot}) : (0, 0);
        my $q = $r->{slot} ? '?from=' . iso($from) . '&to=' . iso($to) : '';
        my $ans = $self->http(GET => "/api/resources/$id/availability$q", headers => { 'X-User-Id' => 'checker' });
        my ($redis_used, @units) = $self->stored($id, $r, $from, $to);
        my $t1 = $self->now;
        # a hold that expired between the two readings: either answer holds
        next if grep { $_->{rid} eq $id && $_->{alive} && $_->{status} eq 'held'
                       && $_->{expires_at} > $t0 - 0.5 && $_->{expires_at} <= $t1 + 0.5 } @{ $self->{bk} };
        $self->fail("availability of $id: $ans->{status} $ans->{body}") unless $ans->{status} == 200;
        my $j = $ans->{json};
        if ($r->{slot} == 0) {
            my $used = $self->stock_used($r, $t1);
            $self->fail("$id: the stock counter is $redis_used, below zero") if defined $redis_used && $redis_used < 0;
            $self->fail("$id: $used units in use of $r->{cap}: over capacity") if $used > $r->{cap};
            $self->fail("$id: free $j->{free}, the model says " . max(0, $r->{cap} - $used))
                if $j->{free} != max(0, $r->{cap} - $used);
            $self->fail("$id: Redis counts $redis_used units in use, the model $used")
                if defined $redis_used && $redis_used != $used;
            next;
        }
        my @free;
        my $at = $from;
        for my $run (@{ $j->{free} || [] }) {
            my ($s, $e) = (BookingRace::epoch($run->{start}), BookingRace::epoch($run->{end}));
            push @free, ($run->{units}) x (($e - $s) / $r->{slot});
        }
        for my $i (0 .. $#units) {
            my $slot = $from + $i * $r->{slot};
            my $used = $self->used_at($r, $slot, $t1);
            my $when = iso($slot);
            # a capacity lowered later does not make the past over capacity
            $self->fail("$id at $when: $used units in use of $r->{cap}: over capacity")
                if $used > $r->{cap} && $slot >= floor($t1 / $r->{slot}) * $r->{slot};
            $self->fail("$id at $when: Redis counts $units[$i] units in use (a negative wrapped?)")
                if $units[$i] > 1_000_000;
            $self->fail("$id at $when: Redis counts $units[$i] units in use, the model $used")
                if $units[$i] != $used;
            $self->fail("$id at $when: the API says " . ($free[$i] // 'nothing') . ' free, the model '
                        . max(0, $r->{cap} - $used))
                if ($free[$i] // -1) != max(0, $r->{cap} - $used);
        }
    }
}

# What Redis stores of a resource's units in use: the stock counter, or
# the counters of the slots of [from, to).  The key schema of revisions
# before the contract (bk:{r:<id>}, 1,024 slots a string) is read too, so
# that a module of before can be run against this model.
sub stored {
    my ($self, $id, $r, $from, $to) = @_;
    my $t = $self->{t};
    my $old = !$t->redis('EXISTS', rkey($id)) && $t->redis('EXISTS', "bk:{r:$id}");
    if ($r->{slot} == 0) {
        return $t->redis('HGET', $old ? "bk:{r:$id}" : rkey($id), 'used');
    }
    my (@units, %chunk);
    for my $n ($from / $r->{slot} .. $to / $r->{slot} - 1) {
        if (!$old) {
            # each chunk read once: a check reads every resource each step
            my $k = BookingKeys::chunk_of($n);
            $chunk{$k} //= $t->redis('HGET', rkey($id, ':c'), $k) // '';
            my $c = ref $chunk{$k} ? '' : $chunk{$k};
            my $at = ($n % BookingKeys::CHUNK) * 4;
            push @units, length $c >= $at + 4 ? unpack('N', substr($c, $at, 4)) : 0;
            next;
        }
        my $k = int($n / 1024);
        $chunk{"old$k"} //= $t->redis('GET', "bk:{r:$id}:c:$k") // '';
        my $c = ref $chunk{"old$k"} ? '' : $chunk{"old$k"};
        my $at = ($n % 1024) * 4;
        push @units, length $c >= $at + 4 ? unpack('N', substr($c, $at, 4)) : 0;
    }
    return (undef, @units);
}

# ------------------------------------------------------------ runs

sub random_source {
    my ($seed) = @_;
    # a small LCG: the same numbers for a seed on every Perl
    my $x = $seed % 2147483647 || 1;
    return sub { $x = ($x * 48271) % 2147483647; return $x / 2147483647 };
}

# Runs steps from a seed until steps or seconds run out: the failing
# sequence (steps up to the failure, and why), or undef.
sub run {
    my ($self, %o) = @_;
    my $rand = random_source($o{seed});
    my @steps;
    my $end = time + ($o{seconds} // 1e9);
    for my $i (1 .. ($o{steps} // 1e9)) {
        last if time > $end;
        my $s = $self->gen($rand);
        push @steps, $s;
        my $ok = eval { $self->step($s); $self->check; 1 };
        return { steps => \@steps, why => $@ } unless $ok;
    }
    $self->{ran} = scalar @steps;
    return undef;
}

# Replays steps on fresh data: the failure's reason, or undef.
sub replay {
    my ($self, $steps) = @_;
    $self->reset;
    for my $s (@$steps) {
        my $ok = eval { $self->step($s); $self->check; 1 };
        return $@ unless $ok;
    }
    return undef;
}

# Delta debugging: drop chunks of the sequence while it still fails.
sub shrink {
    my ($self, $steps, $budget) = @_;
    my $end = time + $budget;
    my @cur = @$steps;
    my $n = 2;
    while (@cur > 1 && time < $end) {
        my $size = int((@cur + $n - 1) / $n);
        my $cut = 0;
        for (my $i = 0; $i < @cur && time < $end; $i += $size) {
            my @try = (@cur[0 .. $i - 1], @cur[ min($i + $size, scalar @cur) .. $#cur ]);
            next if @try == @cur || !@try;
            if (defined $self->replay(\@try)) {
                @cur = @try;
                $cut = 1;
                last;
            }
        }
        if (!$cut) {
            last if $size == 1;
            $n = min($n * 2, scalar @cur);
        }
    }
    return (\@cur, $self->replay(\@cur));
}

1;

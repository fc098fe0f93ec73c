# Micro-cache (booking_cache zone=t:4m valid=2s): anonymous listing,
# resource and availability reads come from shared memory until "valid"
# passes or a write through this nginx touches them; callers with a user
# always go to Redis; ETag, Cache-Control and 304; one Redis read for 50
# concurrent misses of one key; a write made directly in Redis is seen only
# once "valid" passed (the documented limit of the micro-cache).
#
# What reaches Redis is read from INFO commandstats.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use POSIX ();
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time sleep);
use BookingTest;
use BookingKeys qw(rkey);

my $VALID = 2;

my $t = BookingTest->new(
    workers => 2,
    http    => <<"EOT",
booking_type room  slot=1d hold=15m min=1d max=30d horizon=365d;
booking_type car   slot=1h hold=10m min=1h max=14d buffer=1h lead=2h;
booking_user \$http_x_user_id;
booking_redis_timeout 2s;
booking_cache zone=t:4m valid=${VALID}s;
booking_sweeper off;
EOT
    server => <<'EOT',
location /api/ { booking_api; }
location /admin/ { booking_api admin; }
location = /booking_status { booking_status; }
EOT
);

# ---------------------------------------------------------------- helpers

sub commandstats {
    my $info = $t->redis('INFO', 'commandstats');
    my %calls;
    $calls{$1} = $2 while $info =~ /^cmdstat_(\S+?):calls=(\d+)/mg;
    delete @calls{ grep { /^(?:info|config\b|client\b)/ } keys %calls };
    return \%calls;
}

# the Redis commands run since $before (the test's own INFO aside)
sub ran_since {
    my ($before) = @_;
    my $now = commandstats();
    my %d;
    for my $k (keys %$now) {
        my $n = $now->{$k} - ($before->{$k} // 0);
        $d{$k} = $n if $n;
    }
    return \%d;
}

sub anon { my ($path, %h) = @_; return $t->req(GET => $path, headers => \%h) }
sub as_user { my ($user, $path, %h) = @_; return $t->req(GET => $path, headers => { 'X-User-Id' => $user, %h }) }

my %DOC;    # what each resource was last PUT with

sub put_res {
    my ($id, $doc) = @_;
    my $r = $t->req(PUT => "/admin/resources/$id", body => $doc);
    $DOC{$id} = $doc if $r->{status} == 200 || $r->{status} == 201;
    return $r;
}

# PUT every resource again, as it is: through nginx, this drops every
# cached answer, so that what a section puts in the zone next is fresh and
# lives a whole "valid"
sub drop_all {
    for my $id (sort keys %DOC) {
        my $r = $t->req(PUT => "/admin/resources/$id", body => $DOC{$id});
        die "PUT $id: $r->{status}" unless $r->{status} == 200;
    }
}

sub book {
    my ($user, $body) = @_;
    return $t->req(POST => '/api/bookings', body => $body, headers => { 'X-User-Id' => $user });
}

sub act {
    my ($user, $id, $op) = @_;
    return $t->req(POST => "/api/bookings/$id/$op", headers => { 'X-User-Id' => $user });
}

sub metrics {
    my $r = $t->req(GET => '/booking_status');
    my %m;
    $m{$1} = $2 while $r->{body} =~ /^booking_cache_requests_total\{result="(\w+)"\} (\d+)$/mg;
    return \%m;
}

sub date { return POSIX::strftime('%Y-%m-%d', gmtime $_[0]) }

sub units { my ($r) = @_; return [ map { $_->{units} } @{ $r->{json}{free} || [] } ] }

# what nginx itself sent, without what a script ran inside: reads are
# plain commands (TIME, HMGET of the resource and of its counters)
sub top {
    my ($c) = @_;
    return { map { $_ => $c->{$_} } grep { /^(?:fcall|eval|zrangebylex|geosearch|hmget|time)$/ } keys %$c };
}

# a read, then what it cost in Redis
sub costed {
    my ($do) = @_;
    my $before = commandstats();
    my $r = $do->();
    return ($r, ran_since($before));
}

my $now = 0 + $t->redis('TIME')->[0];
my $D = (POSIX::floor($now / 86400) + 10) * 86400;
my ($from, $to) = (date($D), date($D + 4 * 86400));

is put_res('room-1', { type => 'room', capacity => 2, title => 'One', owner => 'own-1' })->{status}, 201, 'PUT room-1';
is put_res('room-2', { type => 'room', capacity => 1, title => 'Two' })->{status}, 201, 'PUT room-2';
is put_res('room-3', { type => 'room', capacity => 1, title => 'Three' })->{status}, 201, 'PUT room-3';
is put_res('car-1', { type => 'car', capacity => 1, title => 'Car' })->{status}, 201, 'PUT car-1';

my $AV1  = "/api/resources/room-1/availability?from=$from&to=$to";
my $AV2  = "/api/resources/room-2/availability?from=$from&to=$to";
my $LIST = "/api/resources?type=room&from=$from&to=$to";
my $CARS = '/api/resources?type=car';

# ---------------------------------------------------------------- hits

for my $case ([ 'GET resource', '/api/resources/room-1', { hmget => 1 } ],
              [ 'availability', $AV1, { time => 1, hmget => 2 } ],
              [ 'listing', $LIST, { zrangebylex => 1, time => 1, hmget => 6 } ]) {
    my ($name, $path, $cost) = @$case;
    my $m0 = metrics();
    my ($r1, $c1) = costed(sub { anon($path) });
    is $r1->{status}, 200, "$name: 200";
    is_deeply top($c1), $cost, "$name: the first anonymous read goes to Redis";
    my @same;
    my ($r2, $c2) = costed(sub {
        my $r;
        for (1 .. 10) { $r = anon($path); push @same, $r->{body} eq $r1->{body} && $r->{status} == 200 }
        $r;
    });
    is_deeply $c2, {}, "$name: 10 more anonymous reads cost no Redis command (INFO commandstats unchanged)";
    ok !grep({ !$_ } @same), "$name: each answers the same 200 body";
    my $m1 = metrics();
    is $m1->{miss} - $m0->{miss}, 1, "$name: booking_cache_requests_total{result=\"miss\"} +1";
    is $m1->{hit} - $m0->{hit}, 10, "$name: booking_cache_requests_total{result=\"hit\"} +10";
}

# ---------------------------------------------------------------- expiry

{
    my $path = '/api/resources/room-2';
    my $t0 = time;
    my ($r1, $c1) = costed(sub { anon($path) });
    is_deeply $c1, { hmget => 1 }, 'expiry: a miss reads Redis';
    sleep $VALID / 2 - (time - $t0) if time - $t0 < $VALID / 2;
    my ($r2, $c2) = costed(sub { anon($path) });
    is_deeply $c2, {}, 'expiry: half of valid later, still from the zone';
    sleep 0.05 while time - $t0 < $VALID + 0.2;
    my ($r3, $c3) = costed(sub { anon($path) });
    is_deeply $c3, { hmget => 1 }, 'expiry: once valid passed, one new Redis read (one HMGET)';
    is $r3->{body}, $r1->{body}, '... with the same body';
    is $r3->{headers}{etag}, $r1->{headers}{etag}, '... and the same ETag';
    my ($r4, $c4) = costed(sub { anon($path) });
    is_deeply $c4, {}, 'expiry: and the new answer is kept again';
}

# ---------------------------------------------------------------- invalidation by bookings

{
    # warm: room-1's availability, the room listing, room-2 and the cars
    drop_all();
    my (undef, $cw) = costed(sub { anon($_) for $AV1, $LIST, $AV2, $CARS; 1 });
    is_deeply top($cw), { time => 4, hmget => 11, zrangebylex => 2 },
        'booking: the first reads after drop_all were misses' or diag explain top($cw);
    my (undef, $c) = costed(sub { anon($_) for $AV1, $LIST, $AV2, $CARS; 1 });
    is_deeply $c, {}, 'booking: everything warm';

    my $b = book('ann', { resource => 'room-1', start => $from, end => date($D + 2 * 86400), quantity => 2 });
    is $b->{status}, 201, 'book both units of room-1 through this nginx';

    my $av = anon($AV1);
    is_deeply units($av), [ 0, 2 ], 'availability changes at once for anonymous readers';
    my $ls = anon($LIST);
    is_deeply [ map { $_->{id} } @{ $ls->{json}{items} } ], [qw(room-2 room-3)],
        'the listing of its type changes at once (room-1 is full)';

    my (undef, $c2) = costed(sub { anon($AV2) });
    is_deeply $c2, {}, "another resource's availability stays in the zone";
    my (undef, $c3) = costed(sub { anon($CARS) });
    is_deeply $c3, {}, "another type's listing stays in the zone";

    is act('ann', $b->{json}{id}, 'cancel')->{status}, 200, 'cancel it through this nginx';
    is_deeply units(anon($AV1)), [2], 'a transition: availability is back at once';
    is_deeply [ map { $_->{id} } @{ anon($LIST)->{json}{items} } ], [qw(room-1 room-2 room-3)],
        'a transition: the listing is back at once';

    # a hold, then its confirmation: both writes drop the cached answers
    my $h = book('ann', { resource => 'room-1', start => $from, end => date($D + 86400), hold => JSON::PP::true });
    is $h->{status}, 201, 'a hold';
    is_deeply units(anon($AV1)), [ 1, 2 ], 'the hold shows at once';
    anon($AV1);
    my (undef, $c4) = costed(sub { act('ann', $h->{json}{id}, 'confirm'); anon($AV1) });
    # the confirm script's own TIME and HMGET, then the read's
    is_deeply top($c4), { fcall => 1, time => 1 + 1, hmget => 1 + 2 },
        'confirming drops the cached availability too (confirm + a new read)'
        or diag explain top($c4);
}

# ---------------------------------------------------------------- invalidation by PUT and DELETE

{
    my $R3 = '/api/resources/room-3';
    my $ALL = '/api/resources?type=room';
    drop_all();
    anon($_) for $R3, $ALL, $CARS;
    my (undef, $c) = costed(sub { anon($_) for $R3, $ALL, $CARS; 1 });
    is_deeply $c, {}, 'PUT: everything warm';

    is put_res('room-3', { type => 'room', capacity => 1, title => 'Three, renamed' })->{status}, 200,
        'PUT room-3 with a new title';
    is anon($R3)->{json}{title}, 'Three, renamed', 'GET resource shows the new title at once';
    my ($item) = grep { $_->{id} eq 'room-3' } @{ anon($ALL)->{json}{items} };
    is $item->{title}, 'Three, renamed', 'the listing shows the new title at once';
    my (undef, $c2) = costed(sub { anon($CARS) });
    is $c2->{zrangebylex}, 1, 'a PUT drops the listings of every type (the car listing is read again)';

    is put_res('room-3', { type => 'car', capacity => 1, title => 'Three, a car now' })->{status}, 200,
        'PUT room-3 as a car';
    is_deeply [ map { $_->{id} } @{ anon($CARS)->{json}{items} } ], [qw(car-1 room-3)], 'the car listing has it at once';
    ok !grep({ $_->{id} eq 'room-3' } @{ anon($ALL)->{json}{items} }), 'the room listing lost it at once';

    anon($_) for $R3, $CARS, "/api/resources/room-3/availability?from=${from}T00:00:00Z&to=${from}T02:00:00Z";
    is $t->req(DELETE => '/admin/resources/room-3')->{status}, 204, 'DELETE room-3';
    BookingTest::error_is(anon($R3), 404, 'not_found', name => 'GET resource: 404 at once');
    BookingTest::error_is(anon("/api/resources/room-3/availability?from=${from}T00:00:00Z&to=${from}T02:00:00Z"),
                          404, 'not_found', name => 'availability: 404 at once');
    is_deeply [ map { $_->{id} } @{ anon($CARS)->{json}{items} } ], [qw(car-1)], 'the listing lost it at once';
    is put_res('room-3', { type => 'room', capacity => 1, title => 'Three again' })->{status}, 201, 'PUT it again';
    is anon($R3)->{json}{title}, 'Three again', 'GET resource: 200 at once (the 404 was not kept)';
}

# ---------------------------------------------------------------- callers with a user

{
    my $path = '/api/resources/room-2';
    anon($path);
    my ($r, $c) = costed(sub { as_user('ann', $path) for 1 .. 5; as_user('ann', $path) });
    is_deeply $c, { hmget => 6 }, 'a caller with X-User-Id is never served from the zone: 6 reads, 6 HMGET';
    is $r->{status}, 200, '... 200';
    like $r->{headers}{etag} // '', qr/^"[^"]+"$/, '... with an ETag';
    is $r->{headers}{'cache-control'}, "public, max-age=$VALID", '... and Cache-Control';
    my ($l, $c2) = costed(sub { as_user('ann', $LIST) });
    is $c2->{zrangebylex}, 1, 'a listing with a user reads Redis too';
    my ($a, $c3) = costed(sub { as_user('ann', $AV2) });
    is_deeply top($c3), { time => 1, hmget => 2 }, 'availability with a user reads Redis too';
}

# ---------------------------------------------------------------- ETag, 304, Cache-Control

{
    my $path = '/api/resources/room-1';
    my $r1 = anon($path);
    my $etag = $r1->{headers}{etag};
    like $etag // '', qr/^"[\x21\x23-\x7e]+"$/, 'an anonymous read has a strong ETag';
    is $r1->{headers}{'cache-control'}, "public, max-age=$VALID", 'Cache-Control: public, max-age=2';
    my $r2 = anon($path);
    is $r2->{headers}{etag}, $etag, 'the same body has the same ETag (from the zone)';
    is as_user('bob', $path)->{headers}{etag}, $etag, '... and for a caller with a user';
    isnt anon('/api/resources/room-2')->{headers}{etag}, $etag, 'another body has another ETag';

    my $n = anon($path, 'If-None-Match' => $etag);
    is $n->{status}, 304, 'If-None-Match with the ETag: 304';
    is $n->{body}, '', '... with no body';
    is $n->{headers}{etag}, $etag, '... and the ETag';
    is $n->{headers}{'cache-control'}, "public, max-age=$VALID", '... and Cache-Control';
    is anon($path, 'If-None-Match' => qq{"nope", $etag})->{status}, 304, 'If-None-Match with a list holding it: 304';
    my $o = anon($path, 'If-None-Match' => '"0123abcd-1"');
    is $o->{status}, 200, 'If-None-Match with another ETag: 200';
    is $o->{body}, $r1->{body}, '... with the body';
    is as_user('bob', $path, 'If-None-Match' => $etag)->{status}, 304, 'a caller with a user gets 304 too';

    # a miss answers 304 as well
    my $fresh = "/api/resources/room-2/availability?from=$from&to=" . date($D + 3 * 86400);
    my $f1 = as_user('bob', $fresh);
    my ($f2, $cf) = costed(sub { anon($fresh, 'If-None-Match' => $f1->{headers}{etag}) });
    is $f2->{status}, 304, 'a miss with a matching If-None-Match: 304';
    is $cf->{time}, 1, '... (it was a miss)';

    # the ETag follows the body
    my $b = book('ann', { resource => 'room-1', start => date($D + 3 * 86400), end => date($D + 4 * 86400) });
    is $b->{status}, 201, 'a booking on room-1';
    my $av = anon($AV1);
    my $av_old = as_user('bob', $AV1);
    is $av->{headers}{etag}, $av_old->{headers}{etag}, 'availability: the same ETag with and without a user';
    is act('ann', $b->{json}{id}, 'cancel')->{status}, 200, 'cancel it';
    my $av2 = anon($AV1);
    isnt $av2->{headers}{etag}, $av->{headers}{etag}, 'availability changed: another ETag';
    is anon($AV1, 'If-None-Match' => $av->{headers}{etag})->{status}, 200, 'the old ETag: 200';
    is anon($AV1, 'If-None-Match' => $av2->{headers}{etag})->{status}, 304, 'the new ETag: 304';

    # HEAD first, then GET: the full body
    my $hp = '/api/resources?type=room&limit=50';
    my $h = $t->req(HEAD => $hp);
    is $h->{status}, 200, 'HEAD of a listing: 200';
    my $g = anon($hp);
    is length($g->{body}), $h->{headers}{'content-length'}, 'GET after HEAD: the whole body';
    ok ref $g->{json} eq 'HASH' && ref $g->{json}{items} eq 'ARRAY' && @{ $g->{json}{items} } == 3,
        '... a listing of 3 rooms';
}

# ---------------------------------------------------------------- stampede

{
    my $path = '/api/resources?type=room&limit=7';
    my $nrooms = 3;
    my $N = 50;
    my $port = $t->port;
    pipe(my $go_r, my $go_w) or die "pipe: $!";
    pipe(my $ready_r, my $ready_w) or die "pipe: $!";
    my @kids;
    for my $i (1 .. $N) {
        push @kids, BookingTest::bg(sub {
            close $go_w;
            close $ready_r;
            my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp', Timeout => 10)
                or die "connect: $!";
            binmode $s;
            syswrite $ready_w, 'r';
            close $ready_w;
            sysread $go_r, my $x, 1;    # EOF when the parent lets go
            syswrite $s, "GET $path HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n";
            my $out = '';
            my $sel = IO::Select->new($s);
            my $deadline = time + 15;
            while ($sel->can_read($deadline - time)) {
                my $n = sysread $s, my $buf, 65536;
                last unless $n;
                $out .= $buf;
            }
            my $r = BookingTest::parse_http($out) or return { status => 0, body => $out };
            return { status => 0 + $r->{status}, body => $r->{body} };
        });
    }
    close $go_r;
    close $ready_w;
    my $ready = 0;
    my $sel = IO::Select->new($ready_r);
    my $deadline = time + 20;
    while ($ready < $N && $sel->can_read($deadline - time)) {
        my $n = sysread $ready_r, my $buf, 64;
        last unless $n;
        $ready += $n;
    }
    is $ready, $N, "$N clients connected and waiting";

    my $m0 = metrics();
    my $before = commandstats();
    # Redis holds every command for 300 ms: the first miss is still being
    # read when all the others arrive
    is $t->redis('CLIENT', 'PAUSE', 300, 'ALL'), 'OK', 'CLIENT PAUSE 300 ALL';
    close $go_w;
    my @res = map { $_->result(30) } @kids;
    my $cost = ran_since($before);
    my $m1 = metrics();

    is scalar(grep { ref $_ eq 'HASH' && ($_->{status} // 0) == 200 } @res), $N, "all $N get 200";
    my %bodies;
    $bodies{ $_->{body} // '' }++ for grep { ref $_ eq 'HASH' } @res;
    is scalar(keys %bodies), 1, 'all with the same body';
    my ($body) = keys %bodies;
    my $j = eval { JSON::PP->new->decode($body) } || {};
    is scalar(@{ $j->{items} || [] }), $nrooms, "... a listing of the $nrooms rooms";
    is $cost->{zrangebylex} // 0, 1, "$N concurrent misses of one listing key: exactly one ZRANGEBYLEX";
    is $cost->{hmget} // 0, $nrooms, "... and one HMGET per candidate ($nrooms)";
    is $cost->{fcall} // 0, 0, '... and no script';
    my %d = map { $_ => ($m1->{$_} // 0) - ($m0->{$_} // 0) } qw(hit miss wait);
    is $d{miss}, 1, 'booking_cache_requests_total: one miss';
    ok $d{wait} >= 1, 'booking_cache_requests_total: some waited' or diag explain \%d;
    {
        is $d{hit} + $d{miss} + $d{wait}, $N, "booking_cache_requests_total: $N requests counted once each"
            or diag explain \%d;
    }
}

# ---------------------------------------------------------------- writes behind nginx's back

{
    my $path = '/api/resources/room-2';
    my $ALL = '/api/resources?type=room&limit=40';
    drop_all();
    my $t0 = time;
    my ($r1, $c1) = costed(sub { my $r = anon($path); anon($ALL); $r });
    is $c1->{zrangebylex}, 1, 'the reads before the write were misses (fresh in the zone)';
    is $r1->{json}{title}, 'Two', 'room-2 is "Two" (now in the zone)';
    my $doc = $t->redis('HGET', rkey('room-2'), 'doc');
    (my $new = $doc) =~ s/"title":"Two"/"title":"Two, changed in Redis"/;
    isnt $new, $doc, 'a changed document';
    is $t->redis('HSET', rkey('room-2'), 'doc', $new), 0, 'HSET the document directly in Redis (not through nginx)';

    my $r2 = anon($path);
    my ($it) = grep { $_->{id} eq 'room-2' } @{ anon($ALL)->{json}{items} };
    ok time - $t0 < $VALID - 0.2, 'still within valid' or diag time - $t0;
    is $r2->{json}{title}, 'Two', 'anonymous readers do not see it before valid passes (the documented limit)';
    is $it->{title}, 'Two', '... nor in the listing';
    is as_user('ann', $path)->{json}{title}, 'Two, changed in Redis', 'a caller with a user sees it at once';

    sleep 0.05 while time - $t0 < $VALID + 0.2;
    is anon($path)->{json}{title}, 'Two, changed in Redis', 'once valid passed, anonymous readers see it';
    ($it) = grep { $_->{id} eq 'room-2' } @{ anon($ALL)->{json}{items} };
    is $it->{title}, 'Two, changed in Redis', '... and in the listing';
}

{
    my $r = $t->req(GET => '/booking_status');
    is $r->{status}, 200, '/booking_status: 200';
    like $r->{headers}{'content-type'} // '', qr{^text/plain}, '/booking_status: Prometheus text/plain';
}

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;

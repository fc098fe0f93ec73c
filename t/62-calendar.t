# Calendar feed: GET /api/resources/{id}/calendar.ics (SPEC §4 "Listing
# and calendar rules").  Every feed is checked against RFC 5545's syntax in
# Perl (CRLF, folding at 75 octets without splitting UTF-8, BEGIN/END
# nesting, required properties), then against what a calendar app should
# show: one VEVENT per occupying booking or block, DATE values for day
# slots and UTC date-times otherwise, Busy or Blocked, UIDs and DTSTAMPs
# that do not move while the booking does not change, the title escaped,
# and never a user id or a note.

use strict;
use warnings;
use utf8;
use Test::More;
use JSON::PP ();
use POSIX ();
use Encode ();
use Time::HiRes qw(time sleep);
use Time::Local ();
use BookingTest;

my $t = BookingTest->new(
    workers => 2,
    http    => <<'EOT',
booking_type room  slot=1d hold=15m min=1d max=30d horizon=365d;
booking_type car   slot=1h hold=10m min=1h max=14d buffer=1h lead=2h;
booking_type cabin slot=1d hold=2s;
booking_type couch slot=1d approval=on hold=48h max=7d;
booking_type gift  slot=none hold=1d;
booking_user $http_x_user_id;
EOT
);

# ---------------------------------------------------------------- helpers

my ($ALICE, $BOB, $CAROL, $OLGA) = qw(usr-alice-7731 usr-bob-8842 usr-carol-9953 own-olga-4410);
my @SECRETS = ($ALICE, $BOB, $CAROL, $OLGA);

sub put_res {
    my ($id, $doc) = @_;
    my $r = $t->req(PUT => "/admin/resources/$id", body => $doc);
    die "PUT $id: $r->{status} $r->{body}" unless $r->{status} == 201 || $r->{status} == 200;
    return $r;
}

sub book {
    my ($user, $body) = @_;
    my $r = $t->req(POST => '/api/bookings', body => $body, headers => { 'X-User-Id' => $user });
    die "booking on $body->{resource}: $r->{status} $r->{body}" unless $r->{status} == 201;
    return $r->{json};
}

sub act {
    my ($user, $id, $op) = @_;
    return $t->req(POST => "/api/bookings/$id/$op", headers => { 'X-User-Id' => $user });
}

sub cal { return $t->req(GET => "/api/resources/$_[0]/calendar.ics") }

sub now  { my $r = $t->redis('TIME'); return $r->[0] + $r->[1] / 1e6 }
sub day  { my ($now, $n) = @_; return (POSIX::floor($now / 86400) + $n) * 86400 }
sub hour { my ($now, $n) = @_; return (POSIX::floor($now / 3600) + $n) * 3600 }
sub date { return POSIX::strftime('%Y-%m-%d', gmtime $_[0]) }
sub iso  { return POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $_[0]) }

# "2026-12-01" -> "20261201"; "2026-12-01T10:00:00Z" -> "20261201T100000Z"
sub compact { my ($s) = @_; $s =~ tr/-://d; return $s }

sub ical_escape {
    my ($s) = @_;
    $s =~ s/([\\;,])/\\$1/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

# RFC 5545 syntax.  Returns (problems, {props => [[name, params, value]...]
# of VCALENDAR, events => [{NAME => [[params, value]...]}...]}); values are
# byte strings.
sub parse_ics {
    my ($body) = @_;
    my @p;
    push @p, 'the body does not end with CRLF' unless $body =~ /\r\n\z/;
    push @p, 'an LF without CR' if $body =~ /(?<!\r)\n/;
    push @p, 'a CR without LF' if $body =~ /\r(?!\n)/;
    my @phys = split /\r\n/, $body, -1;
    pop @phys if @phys && $phys[-1] eq '';
    my @lines;
    for my $i (0 .. $#phys) {
        my $l = $phys[$i];
        push @p, "line " . ($i + 1) . " has " . length($l) . " octets (over 75)" if length $l > 75;
        my $copy = $l;
        push @p, "line " . ($i + 1) . " is not valid UTF-8 by itself (a sequence split by folding)"
            unless eval { Encode::decode('UTF-8', $copy, Encode::FB_CROAK); 1 };
        if ($l =~ /^[ \t]/) {
            push @p, "line " . ($i + 1) . ": a continuation line that does not start with one space"
                unless $l =~ /^ /;
            if (!@lines) { push @p, 'the first line is a continuation'; next }
            $lines[-1] .= substr($l, 1);
        } else {
            push @lines, $l;
        }
    }
    my (@stack, %cal, @events, $ev, $ncal);
    my @calprops;
    for my $l (@lines) {
        my $copy = $l;
        push @p, "an unfolded line is not valid UTF-8: $l"
            unless eval { Encode::decode('UTF-8', $copy, Encode::FB_CROAK); 1 };
        push @p, "a control character in: $l" if $l =~ /[\x00-\x08\x0a-\x1f\x7f]/;
        my ($name, $params, $value) = $l =~ /^([A-Za-z0-9-]+)((?:;[A-Za-z0-9-]+=(?:"[^"]*"|[^";:,]*)(?:,(?:"[^"]*"|[^";:,]*))*)*):(.*)\z/s;
        if (!defined $name) { push @p, "not a content line: $l"; next }
        $name = uc $name;
        if ($name eq 'BEGIN') {
            my $c = uc $value;
            if (!@stack) {
                push @p, "BEGIN:$c at the top" unless $c eq 'VCALENDAR';
                $ncal++;
            } elsif ($c eq 'VEVENT') {
                push @p, 'VEVENT not directly in VCALENDAR' unless $stack[-1] eq 'VCALENDAR';
                $ev = {};
                push @events, $ev;
            } else {
                push @p, "BEGIN:$c inside $stack[-1]";
            }
            push @stack, $c;
            next;
        }
        if ($name eq 'END') {
            my $c = uc $value;
            if (!@stack || $stack[-1] ne $c) { push @p, "END:$c does not close " . ($stack[-1] // 'anything') }
            else { pop @stack; undef $ev if $c eq 'VEVENT' }
            next;
        }
        if (!@stack) { push @p, "$name outside VCALENDAR"; next }
        if ($stack[-1] eq 'VEVENT') {
            push @{ $ev->{$name} }, [ $params, $value ];
        } else {
            push @calprops, [ $name, $params, $value ];
        }
    }
    push @p, 'unclosed: ' . join(',', @stack) if @stack;
    push @p, 'not exactly one VCALENDAR' unless ($ncal // 0) == 1;
    my %cp;
    push @{ $cp{ $_->[0] } }, $_ for @calprops;
    push @p, 'VERSION is not exactly one 2.0'
        unless @{ $cp{VERSION} || [] } == 1 && $cp{VERSION}[0][2] eq '2.0';
    push @p, 'PRODID is not there exactly once'
        unless @{ $cp{PRODID} || [] } == 1 && length $cp{PRODID}[0][2];
    # TEXT values: a ; , or \ only escaped (RFC 5545 3.3.11)
    for my $cp (@calprops) {
        push @p, "$cp->[0] is not escaped TEXT: $cp->[2]"
            if $cp->[0] =~ /^(?:X-WR-CALNAME|X-WR-CALDESC|NAME|DESCRIPTION)$/ && $cp->[2] !~ /^(?:[^\\;,]|\\[\\;,nN])*\z/s;
    }
    for my $i (0 .. $#events) {
        for my $n (qw(UID SUMMARY DESCRIPTION LOCATION)) {
            for my $v (@{ $events[$i]{$n} || [] }) {
                push @p, "VEVENT " . ($i + 1) . ": $n is not escaped TEXT: $v->[1]"
                    if $v->[1] !~ /^(?:[^\\;,]|\\[\\;,nN])*\z/s;
            }
        }
        for my $req (qw(UID DTSTAMP DTSTART DTEND)) {
            push @p, "VEVENT " . ($i + 1) . " does not have exactly one $req"
                unless @{ $events[$i]{$req} || [] } == 1;
        }
        my $st = $events[$i]{DTSTAMP}[0];
        push @p, "VEVENT " . ($i + 1) . ": DTSTAMP is not a UTC date-time"
            unless $st && $st->[0] eq '' && $st->[1] =~ /^\d{8}T\d{6}Z\z/;
    }
    return (\@p, { props => \%cp, events => \@events });
}

# one test: a well-formed feed; returns the parse
sub feed_ok {
    my ($r, $name) = @_;
    my ($p, $parsed) = parse_ics($r->{body});
    unshift @$p, "status $r->{status}" unless $r->{status} == 200;
    unshift @$p, 'Content-Type ' . ($r->{headers}{'content-type'} // 'none')
        unless ($r->{headers}{'content-type'} // '') eq 'text/calendar; charset=utf-8';
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    ok !@$p, "$name: 200 text/calendar; charset=utf-8, well-formed RFC 5545"
        or diag join("\n", @$p) . "\n" . $r->{body};
    return $parsed;
}

sub val { my ($ev, $n) = @_; return $ev->{$n} ? $ev->{$n}[0][1] : undef }
sub par { my ($ev, $n) = @_; return $ev->{$n} ? $ev->{$n}[0][0] : undef }

sub calname { my ($f) = @_; return $f->{props}{'X-WR-CALNAME'} ? $f->{props}{'X-WR-CALNAME'}[0][2] : undef }

sub epoch {
    my ($s) = @_;
    my @f = $s =~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z$/ or return undef;
    return Time::Local::timegm($f[5], $f[4], $f[3], $f[2], $f[1] - 1, $f[0]);
}

sub by_uid { my ($parsed) = @_; return { map { (val($_, 'UID') // '') => $_ } @{ $parsed->{events} } } }

sub no_secrets {
    my ($r, $name, @notes) = @_;
    my @found = grep { index($r->{body}, $_) >= 0 } @SECRETS, @notes;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is_deeply \@found, [], "$name: no user id, owner id or note anywhere in the feed";
}

my $now = now();

# ---------------------------------------------------------------- a room (day slots)

put_res('room-1', { type => 'room', capacity => 1, title => 'Loft by the harbour', owner => $OLGA });
my $D = day($now, 5);
my @NOTES = map { "note-secret-$_" } 1 .. 5;

my $held = book($ALICE, { resource => 'room-1', start => date($D), end => date($D + 2 * 86400),
                          hold => JSON::PP::true, note => $NOTES[0] });
my $conf = book($BOB, { resource => 'room-1', start => date($D + 3 * 86400), end => date($D + 4 * 86400),
                        note => $NOTES[1] });
my $canc = book($CAROL, { resource => 'room-1', start => date($D + 5 * 86400), end => date($D + 7 * 86400),
                          note => $NOTES[2] });
is act($CAROL, $canc->{id}, 'cancel')->{status}, 200, 'a cancelled booking';
my $block = book($OLGA, { resource => 'room-1', start => date($D + 8 * 86400), end => date($D + 10 * 86400),
                          kind => 'block', note => $NOTES[3] });
is $held->{status}, 'held', 'a held booking';
is $conf->{status}, 'confirmed', 'a confirmed booking';
is $block->{status}, 'confirmed', 'a block by the owner';
is $block->{kind}, 'block', '... of kind block';

my $r1 = cal('room-1');
my $f1 = feed_ok($r1, 'room');
my $ev = by_uid($f1);
is_deeply [ sort keys %$ev ], [ sort map { "$_->{id}\@ngx_booking" } $held, $conf, $block ],
    'room: one VEVENT per held, confirmed booking and block, UID "<booking id>@ngx_booking"; not the cancelled one';
for my $b ($held, $conf, $block) {
    my $e = $ev->{"$b->{id}\@ngx_booking"} or next;
    is par($e, 'DTSTART') . ':' . val($e, 'DTSTART'), ';VALUE=DATE:' . compact($b->{start}),
        "room, $b->{status} $b->{kind}: DTSTART;VALUE=DATE is its start";
    is par($e, 'DTEND') . ':' . val($e, 'DTEND'), ';VALUE=DATE:' . compact($b->{end}),
        "room, $b->{status} $b->{kind}: DTEND;VALUE=DATE is its end";
    is val($e, 'SUMMARY'), $b->{kind} eq 'block' ? 'Blocked' : 'Busy', "room, $b->{kind}: SUMMARY";
    is val($e, 'DTSTAMP'), compact($b->{created_at}), "room, $b->{kind}: DTSTAMP is its last change (its creation)";
}
is calname($f1), 'Loft by the harbour', 'X-WR-CALNAME is the title';
no_secrets($r1, 'room', @NOTES);

# stable: nothing changed, the same feed byte for byte a second later
sleep 1.1;
my $r2 = cal('room-1');
is $r2->{body}, $r1->{body}, 'room: fetched again a second later, the same feed byte for byte (UIDs, DTSTAMPs)';

# a transition changes DTSTAMP of that booking only
my $t_before = POSIX::floor(now());
my $c = act($ALICE, $held->{id}, 'confirm');
my $t_after = POSIX::ceil(now());
is $c->{status}, 200, 'confirm the held booking';
my $r3 = cal('room-1');
my $f3 = feed_ok($r3, 'room after a confirm');
my $ev3 = by_uid($f3);
my $e = $ev3->{"$held->{id}\@ngx_booking"};
ok $e, 'the confirmed hold keeps its UID';
isnt val($e, 'DTSTAMP'), val($ev->{"$held->{id}\@ngx_booking"}, 'DTSTAMP'), 'its DTSTAMP changed';
my $stamp = val($e, 'DTSTAMP') // '';
ok $stamp ge compact(iso($t_before)) && $stamp le compact(iso($t_after)),
    "its DTSTAMP is the time of the confirm ($stamp)";
for my $b ($conf, $block) {
    is val($ev3->{"$b->{id}\@ngx_booking"}, 'DTSTAMP'), val($ev->{"$b->{id}\@ngx_booking"}, 'DTSTAMP'),
        "the $b->{kind} that did not change keeps its DTSTAMP";
}
is act($BOB, $conf->{id}, 'cancel')->{status}, 200, 'cancel the confirmed booking';
my $f4 = feed_ok(cal('room-1'), 'room after a cancel');
is_deeply [ sort keys %{ by_uid($f4) } ], [ sort map { "$_->{id}\@ngx_booking" } $held, $block ],
    'a cancelled booking leaves the feed at once';

# HEAD
my $h = $t->req(HEAD => '/api/resources/room-1/calendar.ics');
is $h->{status}, 200, 'HEAD: 200';
is $h->{headers}{'content-type'}, 'text/calendar; charset=utf-8', 'HEAD: text/calendar';
is $h->{body}, '', 'HEAD: no body';
is $h->{headers}{'content-length'}, length(cal('room-1')->{body}), 'HEAD: Content-Length of the GET body';

# ---------------------------------------------------------------- a car (hourly slots, a buffer)

put_res('car-1', { type => 'car', capacity => 1, title => 'Van', owner => $OLGA });
my $H = hour($now, 6);
my $cb = book($BOB, { resource => 'car-1', start => iso($H), end => iso($H + 2 * 3600), note => $NOTES[4] });
my $ch = book($ALICE, { resource => 'car-1', start => iso($H + 4 * 3600), end => iso($H + 5 * 3600),
                        hold => JSON::PP::true });
my $ck = book($OLGA, { resource => 'car-1', start => iso($H + 8 * 3600), end => iso($H + 9 * 3600), kind => 'block' });
my $rc = cal('car-1');
my $fc = feed_ok($rc, 'car');
my $evc = by_uid($fc);
is_deeply [ sort keys %$evc ], [ sort map { "$_->{id}\@ngx_booking" } $cb, $ch, $ck ], 'car: one VEVENT each';
for my $b ($cb, $ch, $ck) {
    my $e = $evc->{"$b->{id}\@ngx_booking"} or next;
    is par($e, 'DTSTART') . ':' . val($e, 'DTSTART'), ':' . compact($b->{start}),
        "car, $b->{status} $b->{kind}: DTSTART is a UTC date-time, its start";
    is par($e, 'DTEND') . ':' . val($e, 'DTEND'), ':' . compact($b->{end}),
        "car, $b->{status} $b->{kind}: DTEND is its end, not the end of its buffer";
    like val($e, 'DTSTART'), qr/^\d{8}T\d{6}Z\z/, 'car: YYYYMMDDTHHMMSSZ';
    is val($e, 'SUMMARY'), $b->{kind} eq 'block' ? 'Blocked' : 'Busy', "car, $b->{kind}: SUMMARY";
}
no_secrets($rc, 'car', @NOTES);

# ---------------------------------------------------------------- expired holds, requests

put_res('cabin-1', { type => 'cabin', capacity => 1, title => 'Cabin' });
my $hc = book($ALICE, { resource => 'cabin-1', start => date($D), end => date($D + 86400), hold => JSON::PP::true });
is_deeply [ keys %{ by_uid(feed_ok(cal('cabin-1'), 'cabin')) } ], ["$hc->{id}\@ngx_booking"], 'a hold shows';
my $exp_at = epoch($hc->{expires_at} // '') // 0;
ok $exp_at, "the hold expires at $hc->{expires_at}";
my $wait_until = time + 5;
sleep 0.05 while now() < $exp_at + 0.05 && time < $wait_until;
is_deeply [ keys %{ by_uid(feed_ok(cal('cabin-1'), 'cabin after expires_at')) } ], [],
    'once its expires_at passed, the expired hold is gone';

put_res('couch-1', { type => 'couch', capacity => 1, title => 'Couch', owner => $OLGA });
my $rq = book($ALICE, { resource => 'couch-1', start => date($D), end => date($D + 2 * 86400), hold => JSON::PP::true });
is act($ALICE, $rq->{id}, 'confirm')->{json}{status}, 'requested', 'a request waiting for approval';
my $fq = feed_ok(cal('couch-1'), 'couch');
is_deeply [ keys %{ by_uid($fq) } ], ["$rq->{id}\@ngx_booking"], 'a requested booking occupies: it shows';
is val(by_uid($fq)->{"$rq->{id}\@ngx_booking"} || {}, 'SUMMARY'), 'Busy', '... as Busy';
is act($OLGA, $rq->{id}, 'decline')->{status}, 200, 'the owner declines it';
is_deeply [ keys %{ by_uid(feed_ok(cal('couch-1'), 'couch after decline')) } ], [], 'a declined one is gone';

# ---------------------------------------------------------------- titles: escaping and folding

my $tail = '€𝄞é' x 25;
for my $k (0 .. 3) {
    my $title = ('x' x $k) . "Flat; by the sea, \\ with\nview: $tail";
    my $id = "fold-$k";
    put_res($id, { type => 'room', capacity => 1, title => $title });
    book($ALICE, { resource => $id, start => date($D), end => date($D + 86400) });
    my $r = cal($id);
    my $f = feed_ok($r, "title with ; , \\ newline and 4-byte UTF-8, $k bytes shifted");
    my $name = calname($f);
    is $name, Encode::encode('UTF-8', ical_escape($title)), "fold-$k: X-WR-CALNAME unfolds to the escaped title";
    my @phys = split /\r\n/, $r->{body};
    ok scalar(grep { /^ / } @phys) >= 3, "fold-$k: the long title is folded over several lines";
}
{
    # a title that is exactly 75 octets on its line is not folded; 76 is
    my $pfx = 'X-WR-CALNAME:';
    put_res('fold-75', { type => 'room', capacity => 1, title => 'a' x (75 - length $pfx) });
    put_res('fold-76', { type => 'room', capacity => 1, title => 'a' x (76 - length $pfx) });
    my ($l75) = grep { /^X-WR-CALNAME/ } split /\r\n/, cal('fold-75')->{body};
    is length($l75), 75, 'a 75-octet line stays whole';
    my $b76 = cal('fold-76')->{body};
    feed_ok(cal('fold-76'), 'a 76-octet line');
    like $b76, qr/\r\nX-WR-CALNAME:a{62}\r\n a\r\n/, 'a 76-octet line is folded after 75 octets';
}
{
    put_res('untitled', { type => 'room', capacity => 1 });
    my $f = feed_ok(cal('untitled'), 'no title');
    is calname($f), 'untitled',
        'without a title, X-WR-CALNAME is the resource id';
}

# ---------------------------------------------------------------- empty calendars, errors

put_res('gift-1', { type => 'gift', capacity => 5, title => 'Seeds' });
book($ALICE, { resource => 'gift-1', quantity => 2 });
my $fg = feed_ok(cal('gift-1'), 'timeless');
is scalar @{ $fg->{events} }, 0, 'a timeless resource: an empty VCALENDAR';
put_res('room-empty', { type => 'room', capacity => 1 });
is scalar @{ feed_ok(cal('room-empty'), 'no bookings')->{events} }, 0, 'no bookings: an empty VCALENDAR';

BookingTest::error_is(cal('nope'), 404, 'not_found', name => 'an unknown resource: 404 JSON');
is $t->req(HEAD => '/api/resources/nope/calendar.ics')->{status}, 404, 'HEAD of an unknown resource: 404';
BookingTest::error_is($t->req(GET => '/api/resources/bad%20id/calendar.ics'), 400, 'bad_request',
                      name => 'an invalid id: 400');
my $pc = $t->req(POST => '/api/resources/room-1/calendar.ics', body => {});
is $pc->{status}, 405, 'POST calendar.ics: 405';
like $pc->{headers}{allow} // '', qr/\bGET\b/, '... with Allow';

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

# ---------------------------------------------------------------- ids with ; and ,

# booking_id_pattern may allow characters that TEXT escapes: the UID, a
# TEXT value, must carry them escaped
{
    my $t2 = BookingTest->new(workers => 1, http => <<'EOT');
booking_type room slot=1d;
booking_user $http_x_user_id;
booking_id_pattern "^[A-Za-z0-9;,_-]{1,64}$";
EOT
    my $id = 'flat;2,b';
    my $p = $t2->req(PUT => "/admin/resources/$id", body => { type => 'room', title => 'T' });
    is $p->{status}, 201, "PUT a resource with id $id (allowed by booking_id_pattern)";
    my $b = $t2->req(POST => '/api/bookings', headers => { 'X-User-Id' => $ALICE },
                     body => { resource => $id, start => date($D), end => date($D + 86400) });
    is $b->{status}, 201, 'a booking on it';
    my $r = $t2->req(GET => "/api/resources/$id/calendar.ics");
    my ($probs, $f) = parse_ics($r->{body});
    my ($uid) = map { val($_, 'UID') } @{ $f->{events} };
    (my $plain = $uid // '') =~ s/\\([\\;,nN])/$1/g;
    is $plain, "$b->{json}{id}\@ngx_booking", 'the UID, unescaped, is "<booking id>@ngx_booking"';
    is_deeply $probs, [], 'the feed is well-formed, its UID escaped' or diag $r->{body};
}

done_testing;

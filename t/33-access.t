# Who may do what with a booking (SPEC §4): hold tokens, guests
# (booking_anonymous), strangers (404), the resource's owner, admins, the
# resource's groups, and the lists of GET /bookings (own, by resource,
# filters, pagination).

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use BookingTest;
use BookingRace qw(:all);

BookingRace::pin_module();

my $HTTP = default_http() . "booking_user_groups \$http_x_user_groups;\n";
my $SERVER = <<'EOT';
location /api/ { booking_api; }
location /guest/ { booking_api; booking_anonymous on; }
location /admin/ { booking_api admin; }
EOT
my $t = BookingTest->new(http => $HTTP, server => $SERVER);

my $TRUE = JSON::PP::true;
my $DAY  = 86400;

sub error_is { local $Test::Builder::Level = $Test::Builder::Level + 1; BookingTest::error_is(@_) }

for my $res (
    [ 'room-1',  { type => 'room',  capacity => 3,  owner => 'olga' } ],
    [ 'couch-1', { type => 'couch', capacity => 1,  owner => 'olga' } ],
    [ 'gift-1',  { type => 'gift',  capacity => 10, owner => 'olga' } ],
    [ 'club-1',  { type => 'room',  capacity => 2,  owner => 'olga', groups => ['members'] } ],
    [ 'club-2',  { type => 'room',  capacity => 2,  owner => 'olga', groups => [ 'staff', 'members' ] } ],
) {
    my $r = $t->req(PUT => "/admin/resources/$res->[0]", body => $res->[1]);
    is $r->{status}, 201, "PUT $res->[0]" or diag $r->{body};
}

my $now = redis_now($t);
my $D = sub { date(day_start($now, $_[0])) };
my %on_room;    # every booking made on room-1, for the owner's list

sub room {
    my ($user, $from, $to, %o) = @_;
    my $prefix = delete $o{prefix};
    my $r = book($t, $user, { resource => 'room-1', start => $D->($from), end => $D->($to), %o },
                 prefix => $prefix);
    $on_room{ $r->{json}{id} } = 1 if $r->{status} == 201;
    return $r;
}

# ------------------------------------------------------------ tokens

my $r = room('alice', 3, 4, hold => $TRUE);
is $r->{status}, 201, 'alice holds A';
my ($A, $TA) = ($r->{json}{id}, $r->{json}{token});
$r = room('alice', 5, 6, hold => $TRUE);
is $r->{status}, 201, 'alice holds B';
my ($B, $TB) = ($r->{json}{id}, $r->{json}{token});
isnt $TA, $TB, 'two holds, two tokens';

my $fake = 'A' x length $TA;
error_is(act($t, undef, $A, 'confirm'), 401, 'unauthenticated', name => 'confirm without user or token: 401');
error_is(act($t, undef, $A, 'confirm', headers => { 'Booking-Token' => $fake }), 401, 'unauthenticated',
         name => 'confirm with a wrong token of the right shape: 401');
error_is(act($t, undef, $A, 'confirm', headers => { 'Booking-Token' => 'x' }), 401, 'unauthenticated',
         name => 'confirm with a garbage token: 401');
error_is(act($t, undef, $A, 'confirm', headers => { 'Booking-Token' => '' }), 401, 'unauthenticated',
         name => 'confirm with an empty token: 401');
error_is(act($t, undef, $A, 'confirm', headers => { 'Booking-Token' => $TB }), 401, 'unauthenticated',
         name => "confirm with another booking's token: 401");
error_is(act($t, undef, $A, 'cancel', headers => { 'Booking-Token' => $TB }), 401, 'unauthenticated',
         name => "cancel with another booking's token: 401");
error_is(act($t, undef, $A, 'confirm', headers => { 'Booking-Token' => substr($TA, 0, -1) }), 401,
         'unauthenticated', name => 'confirm with a truncated token: 401');
error_is(act($t, 'bob', $A, 'confirm', headers => { 'Booking-Token' => $TB }), 404, 'not_found',
         name => "a stranger with another booking's token: 404");
(my $otherres = $A) =~ s/^room-1\./couch-1./;
error_is(act($t, undef, $otherres, 'confirm', headers => { 'Booking-Token' => $TA }), 401, 'unauthenticated',
         name => 'the token of room-1.X does not open couch-1.X');
is get_booking($t, 'alice', $A)->{json}{status}, 'held', 'A is still held after the refused tokens';

error_is(get_booking($t, undef, $A, headers => { 'Booking-Token' => $TA }), 401, 'unauthenticated',
         name => 'a token cannot GET the booking');
error_is(get_booking($t, 'bob', $A, headers => { 'Booking-Token' => $TA }), 404, 'not_found',
         name => 'nor lend a stranger the right to GET it');
error_is($t->req(GET => '/api/bookings', headers => { 'Booking-Token' => $TA }), 401, 'unauthenticated',
         name => 'a token cannot list bookings');

$r = act($t, undef, $A, 'confirm', headers => { 'booking-token' => $TA });
is $r->{status}, 200, 'confirm with its token, no user: 200' or diag $r->{body};
is $r->{json}{status}, 'confirmed', 'A confirmed by token';
ok !exists $r->{json}{token}, 'the token is not sent again';
$r = act($t, undef, $A, 'confirm', headers => { 'Booking-Token' => $TA });
is $r->{status}, 200, 'confirm again by token: 200';

$r = act($t, undef, $B, 'cancel', headers => { 'Booking-Token' => $TB });
is $r->{status}, 200, 'cancel with its token: 200';
is $r->{json}{status}, 'cancelled', 'B cancelled by token';
is act($t, undef, $B, 'cancel', headers => { 'Booking-Token' => $TB })->{status}, 200, 'cancel again by token: 200';

# a token does not approve
$r = book($t, 'alice', { resource => 'couch-1', start => $D->(10), end => $D->(11), hold => $TRUE });
is $r->{status}, 201, 'alice holds the couch';
my ($C, $TC) = ($r->{json}{id}, $r->{json}{token});
is act($t, undef, $C, 'confirm', headers => { 'Booking-Token' => $TC })->{json}{status}, 'requested',
    'confirm by token on an approval type: requested';
$r = act($t, undef, $C, 'approve', headers => { 'Booking-Token' => $TC });
ok $r->{status} == 401 || $r->{status} == 403, 'a token cannot approve (401/403)' or diag "$r->{status} $r->{body}";
$r = act($t, undef, $C, 'decline', headers => { 'Booking-Token' => $TC });
ok $r->{status} == 401 || $r->{status} == 403, 'a token cannot decline (401/403)' or diag "$r->{status} $r->{body}";
is get_booking($t, 'olga', $C)->{json}{status}, 'requested', 'still requested';

# ------------------------------------------------------------ guests

my $room_free = sub { avail_units($t, 'room-1', day_start($now, 20), day_start($now, 22), $DAY, dates => 1) };

error_is(room(undef, 20, 21, hold => $TRUE), 401, 'unauthenticated',
         name => 'a guest hold with booking_anonymous off: 401');
error_is(room(undef, 20, 21, prefix => '/guest/'), 401, 'unauthenticated',
         name => 'booking_anonymous on: a guest booking (hold:false) is 401');
$r = room(undef, 20, 21, hold => $TRUE, prefix => '/guest/');
is $r->{status}, 201, 'booking_anonymous on: a guest hold on day 20';
error_is(room(undef, 20, 21, prefix => '/guest/', hold => JSON::PP::false), 401, 'unauthenticated',
         name => 'booking_anonymous on: hold:false said outright is 401');
is_deeply $room_free->(), [ 2, 3 ], 'only the guest hold took a unit';

$r = room(undef, 21, 22, hold => $TRUE, prefix => '/guest/');
is $r->{status}, 201, 'booking_anonymous on: a guest hold: 201' or diag $r->{body};
my $G = $r->{json};
is $G->{status}, 'held', 'the guest hold is held';
ok !exists $G->{user}, 'a guest booking has no user field';
ok length $G->{token}, 'the guest gets a token';
is $r->{headers}{'booking-token'}, $G->{token}, '... in the header too';
is_deeply $room_free->(), [ 2, 2 ], 'two guest holds take their units';

error_is(get_booking($t, undef, $G->{id}, prefix => '/guest/', headers => { 'Booking-Token' => $G->{token} }),
         401, 'unauthenticated', name => 'a guest cannot GET its booking, even with the token');
error_is(act($t, undef, $G->{id}, 'confirm', prefix => '/guest/'), 401, 'unauthenticated',
         name => 'a guest without its token: 401');
error_is(act($t, undef, $G->{id}, 'confirm', prefix => '/guest/', headers => { 'Booking-Token' => $TA }), 401,
         'unauthenticated', name => "a guest with another booking's token: 401");
error_is(act($t, 'alice', $G->{id}, 'confirm'), 404, 'not_found', name => 'a user cannot confirm a guest hold: 404');
$r = act($t, undef, $G->{id}, 'confirm', prefix => '/guest/', headers => { 'Booking-Token' => $G->{token} });
is $r->{status}, 200, 'the guest confirms with its token';
is $r->{json}{status}, 'confirmed', 'guest booking confirmed';
is get_booking($t, 'olga', $G->{id})->{status}, 200, 'the resource owner sees the guest booking';
is $t->req(GET => "/admin/bookings/$G->{id}")->{status}, 200, 'an admin sees the guest booking';

$r = room(undef, 20, 21, hold => $TRUE, prefix => '/guest/');
my $G2 = $r->{json};
$r = act($t, undef, $G2->{id}, 'cancel', headers => { 'Booking-Token' => $G2->{token} });
is $r->{status}, 200, 'a guest cancels its hold with the token, through /api/ too';
is_deeply $room_free->(), [ 2, 2 ], 'the cancelled guest hold frees its unit';

$r = room('dave', 20, 21, prefix => '/guest/');
is $r->{status}, 201, 'with booking_anonymous on, a user still books (hold:false)';
is $r->{json}{user}, 'dave', '... as that user';

# ------------------------------------------------------------ strangers, owners, admins

$r = room('alice', 7, 8, hold => $TRUE);
my $H = $r->{json}{id};
for my $op (qw(confirm cancel approve decline)) {
    error_is(act($t, 'bob', $H, $op), 404, 'not_found', name => "another user: $op -> 404");
}
error_is(get_booking($t, 'bob', $H), 404, 'not_found', name => 'another user: GET -> 404');
is get_booking($t, 'alice', $H)->{json}{status}, 'held', 'untouched by the stranger';

error_is(act($t, 'olga', $H, 'confirm'), 403, 'forbidden', name => "the resource owner may not confirm someone's hold: 403");
is get_booking($t, 'olga', $H)->{status}, 200, 'the resource owner GETs it';
is get_booking($t, 'alice', $H)->{json}{status}, 'held', 'still held';
$r = act($t, 'olga', $H, 'cancel');
is $r->{status}, 200, 'the resource owner cancels it';
is $r->{json}{status}, 'cancelled', 'cancelled by the resource owner';

$r = book($t, 'alice', { resource => 'couch-1', start => $D->(12), end => $D->(13) });
my $R = $r->{json}{id};
is $r->{json}{status}, 'requested', 'a request on the couch';
error_is(act($t, 'alice', $R, 'approve'), 403, 'forbidden', name => 'the booker cannot approve its own request: 403');
is act($t, 'olga', $R, 'approve')->{json}{status}, 'confirmed', 'the resource owner approves';

$r = room('alice', 8, 9, hold => $TRUE);
my $I = $r->{json}{id};
is $t->req(GET => "/admin/bookings/$I")->{status}, 200, 'admin GET';
$r = $t->req(POST => "/admin/bookings/$I/confirm");
is $r->{status}, 200, 'admin confirm';
is $r->{json}{status}, 'confirmed', 'confirmed by admin';
is $r->{json}{user}, 'alice', 'still alice\'s';

# ------------------------------------------------------------ groups

my $club = sub {
    my ($user, $groups, %o) = @_;
    my %h;
    $h{'X-User-Groups'} = $groups if defined $groups;
    my $day = $o{day} // 30;
    return book($t, $user, { resource => $o{res} // 'club-1', start => $D->($day), end => $D->($day + 1),
                             hold => $o{hold} ? $TRUE : JSON::PP::false }, headers => \%h,
                prefix => $o{prefix});
};
my $club_free = sub { avail_units($t, 'club-1', day_start($now, 30), day_start($now, 31), $DAY, dates => 1)->[0] };

error_is($club->('alice', undef), 403, 'forbidden', name => 'groups: a user without X-User-Groups: 403');
error_is($club->('alice', ''), 403, 'forbidden', name => 'groups: empty groups: 403');
error_is($club->('alice', 'staff'), 403, 'forbidden', name => 'groups: another group: 403');
error_is($club->('alice', 'member'), 403, 'forbidden', name => 'groups: a prefix of the group: 403');
error_is($club->('alice', 'membersx'), 403, 'forbidden', name => 'groups: a longer name: 403');
error_is($club->(undef, undef, hold => 1, prefix => '/guest/'), 403, 'forbidden',
         name => 'groups: a guest without groups cannot hold a group resource');
error_is($club->('alice', 'staff', hold => 1), 403, 'forbidden', name => 'groups: a hold is refused too');
is $club_free->(), 2, 'the refusals took nothing';

$r = $club->('alice', 'members');
is $r->{status}, 201, 'groups: a member: 201' or diag $r->{body};
$r = $club->('bob', 'staff,members');
is $r->{status}, 201, 'groups: a member among other groups: 201' or diag $r->{body};
is $club_free->(), 0, 'two members took both units';
$r = $club->('carol', 'x,members', res => 'club-2');
is $r->{status}, 201, 'groups: one of several groups of the resource: 201';
$r = $club->('olga', undef, res => 'club-2');
is $r->{status}, 201, 'groups: the resource owner needs no group';
$r = $t->req(POST => '/admin/bookings', body => { resource => 'club-2', start => $D->(32), end => $D->(33) });
is $r->{status}, 201, 'groups: an admin needs no group';
{
    $r = $club->('erin', 'staff, members', day => 34);
    is $r->{status}, 201, 'groups: "staff, members" holds members';
}

# ------------------------------------------------------------ GET /bookings: own, filters, pagination

my @luke;
for my $b ([ 40, 41, 0 ], [ 42, 44, 0 ], [ 45, 46, 1 ], [ 47, 49, 0 ], [ 50, 51, 1 ], [ 52, 53, 0 ]) {
    $r = room('luke', $b->[0], $b->[1], $b->[2] ? (hold => $TRUE) : ());
    is $r->{status}, 201, "luke books days $b->[0]-$b->[1]" or diag $r->{body};
    push @luke, $r->{json};
}
is act($t, 'luke', $luke[5]{id}, 'cancel')->{status}, 200, 'luke cancels one';
$luke[5]{status} = 'cancelled';
$r = book($t, 'luke', { resource => 'gift-1', quantity => 2 });
is $r->{status}, 201, 'luke takes 2 gifts';
push @luke, $r->{json};
$r = room('bob', 40, 41);
is $r->{status}, 201, 'bob books the same days';
my %luke_ids = map { $_->{id} => $_ } @luke;

$r = $t->req(GET => '/api/bookings?limit=100', headers => user_h('luke'));
is $r->{status}, 200, 'GET /bookings: 200';
my @all = @{ $r->{json}{items} || [] };
is_deeply [ sort map { $_->{id} } @all ], [ sort keys %luke_ids ], 'GET /bookings lists exactly the caller\'s own';
ok !exists $r->{json}{next}, 'a complete list has no next';
ok !(grep { ($_->{user} // '') ne 'luke' } @all), 'every item is luke\'s';
ok !(grep { exists $_->{token} } @all), 'no token in a list';
ok no_nulls($r->{json}), 'no null in the list';
is_deeply { map { $_->{id} => $_->{status} } @all }, { map { $_->{id} => $_->{status} } @luke },
    'each item has its current status';

for my $limit (1, 2, 3) {
    my (@seen, $cursor, $pages, $bad);
    while (1) {
        my $q = "/api/bookings?limit=$limit" . (defined $cursor ? "&cursor=$cursor" : '');
        $r = $t->req(GET => $q, headers => user_h('luke'));
        last if $r->{status} != 200 || ++$pages > 20;
        my $items = $r->{json}{items};
        $bad++ if @$items > $limit;
        push @seen, map { $_->{id} } @$items;
        last unless exists $r->{json}{next};
        $cursor = $r->{json}{next};
    }
    is $r->{status}, 200, "limit=$limit: every page 200";
    ok !$bad, "limit=$limit: no page holds more than $limit";
    is_deeply \@seen, [ map { $_->{id} } @all ], "limit=$limit: the pages give the whole list, in order, no duplicate, no gap";
}

{
    # a booking made between two pages (with an earlier start, so it sorts
    # before the cursor) must not make the next page repeat an item
    my $p1 = $t->req(GET => '/api/bookings?limit=3', headers => user_h('luke'))->{json};
    my $early = room('luke', 35, 36);
    is $early->{status}, 201, 'luke books an earlier day between two pages';
    my $p2 = $t->req(GET => "/api/bookings?limit=3&cursor=$p1->{next}", headers => user_h('luke'))->{json};
    my %p1 = map { $_->{id} => 1 } @{ $p1->{items} };
    is act($t, 'luke', $early->{json}{id}, 'cancel')->{status}, 200, 'cancel it' if $early->{status} == 201;
    is_deeply [ map { $_->{start} } grep { $p1{ $_->{id} } } @{ $p2->{items} } ], [],
        'no item of page 1 again on page 2';
}
push @luke, @{ $t->req(GET => '/api/bookings?limit=100&from=' . $D->(35) . '&to=' . $D->(36),
                       headers => user_h('luke'))->{json}{items} };

for my $st (qw(held confirmed cancelled requested expired)) {
    $r = $t->req(GET => "/api/bookings?status=$st", headers => user_h('luke'));
    is_deeply [ sort map { $_->{id} } @{ $r->{json}{items} || [] } ],
        [ sort map { $_->{id} } grep { $_->{status} eq $st } @luke ], "status=$st";
}

my ($f, $to) = (day_start($now, 44), day_start($now, 48));
$r = $t->req(GET => '/api/bookings?from=' . date($f) . '&to=' . date($to), headers => user_h('luke'));
is_deeply [ sort map { $_->{id} } @{ $r->{json}{items} || [] } ],
    [ sort map { $_->{id} } grep { defined $_->{start} && epoch($_->{start}) < $to && epoch($_->{end}) > $f } @luke ],
    'from/to: the bookings that overlap the range (touching ones excluded, timeless excluded)';
$r = $t->req(GET => '/api/bookings?status=held&from=' . date($f) . '&to=' . date($to), headers => user_h('luke'));
is_deeply [ map { $_->{id} } @{ $r->{json}{items} || [] } ], [ $luke[2]{id} ], 'status and from/to together';

error_is($t->req(GET => '/api/bookings?status=nope', headers => user_h('luke')), 422, 'invalid', field => 'status',
         name => 'an unknown status: 422');
error_is($t->req(GET => '/api/bookings?cursor=x', headers => user_h('luke')), 400, 'bad_request',
         name => 'a bad cursor: 400');
error_is($t->req(GET => '/api/bookings?limit=0', headers => user_h('luke')), 422, 'invalid', field => 'limit',
         name => 'limit=0: 422');
error_is($t->req(GET => '/api/bookings?limit=101', headers => user_h('luke')), 422, 'invalid', field => 'limit',
         name => 'limit=101: 422');
error_is($t->req(GET => '/api/bookings?from=' . date($f), headers => user_h('luke')), 400, 'bad_request',
         name => 'from without to: 400');
$r = $t->req(GET => '/api/bookings', headers => user_h('nobody-yet'));
is $r->{status}, 200, 'a user without bookings: 200';
is_deeply $r->{json}, { items => [] }, '... an empty list';

# ?resource=
my @room;
my ($cursor, $pages);
while (1) {
    $r = $t->req(GET => '/api/bookings?resource=room-1&limit=4' . (defined $cursor ? "&cursor=$cursor" : ''),
                 headers => user_h('olga'));
    last if $r->{status} != 200 || ++$pages > 50;
    push @room, @{ $r->{json}{items} };
    last unless exists $r->{json}{next};
    $cursor = $r->{json}{next};
}
is $r->{status}, 200, '?resource= for its owner: 200';
is_deeply [ sort map { $_->{id} } @room ], [ sort keys %on_room ],
    '?resource= lists every booking of the resource, all users and guests, across pages, once each';
ok !(grep { $_->{resource} ne 'room-1' } @room), 'only that resource';
$r = $t->req(GET => '/admin/bookings?resource=room-1&limit=100');
is_deeply [ sort map { $_->{id} } @{ $r->{json}{items} || [] } ], [ sort keys %on_room ], '?resource= for an admin';
error_is($t->req(GET => '/api/bookings?resource=room-1', headers => user_h('luke')), 403, 'forbidden',
         name => '?resource= for a user who does not own it: 403');
error_is($t->req(GET => '/api/bookings?resource=room-1'), 401, 'unauthenticated', name => '?resource= without a user: 401');
error_is($t->req(GET => '/api/bookings?resource=nope', headers => user_h('olga')), 404, 'not_found',
         name => '?resource= of an unknown resource: 404');
$r = $t->req(GET => '/api/bookings?resource=room-1&status=cancelled&limit=100', headers => user_h('olga'));
is_deeply [ sort map { $_->{id} } @{ $r->{json}{items} || [] } ],
    [ sort grep { $on_room{$_} } map { $_->{id} } grep { $_->{status} eq 'cancelled' } @room ],
    '?resource= with status';

$r = $t->req(GET => '/api/bookings?limit=100', headers => user_h('olga'));
ok !(grep { ($_->{user} // '') ne 'olga' } @{ $r->{json}{items} || [] }),
    'without ?resource=, the owner of a resource sees only her own bookings';

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;

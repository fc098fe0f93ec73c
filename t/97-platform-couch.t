# Platform: couch surfing with the host's approval (SPEC §1, §4).  A host
# offers a couch by the night (type couch: slot=1d, approval=on, max=7d):
# a surfer's request does not book the couch; it becomes "requested", and
# the host (the resource's owner) approves or declines it.  A request
# occupies the nights while it waits, so that two surfers are not promised
# the same couch.
#
# What surfers and hosts see, checked at each step:
# - a hold then confirm gives "requested"; a plain POST too; neither is
#   confirmed before the host says so;
# - while requested: availability shows the nights taken, another surfer
#   for them is 409 unavailable, the search page leaves the couch out, and
#   the host's calendar feed shows the request as Busy;
# - only the host approves: the surfer herself is 403, a stranger and
#   another host 404 (the request's existence is not revealed);
# - approve -> confirmed (again: 200, the same); decline -> declined
#   (again: 200), and then the nights are free again in availability,
#   search and feed; approving a declined request is 409 conflict;
# - 8 nights is 422 (max=7d).

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use BookingTest;
use BookingPlatform qw(ics_events);
use BookingRace qw(:all);

BookingRace::pin_module();

my $t = BookingTest->new(workers => 2, http => <<'EOT');
booking_type couch slot=1d approval=on hold=48h max=7d;
booking_user $http_x_user_id;
EOT

my $TRUE = JSON::PP::true;

sub error_is { local $Test::Builder::Level = $Test::Builder::Level + 1; BookingTest::error_is(@_) }

sub runs {
    my ($res, $from, $to) = @_;
    my $r = $t->req(GET => "/api/resources/$res/availability?from=" . date($from) . '&to=' . date($to));
    return [ "status $r->{status}: $r->{body}" ] unless $r->{status} == 200;
    return [ map { "$_->{start} $_->{end} $_->{units}" } @{ $r->{json}{free} } ];
}

sub search {
    my ($type, $from, $to, %q) = @_;
    my $qs = join '', map { "&$_=$q{$_}" } sort keys %q;
    my $r = $t->req(GET => "/api/resources?type=$type&from=" . date($from) . '&to=' . date($to) . $qs);
    return { error => "$r->{status} $r->{body}" } unless $r->{status} == 200;
    return { map { $_->{id} => $_->{free} } @{ $r->{json}{items} } };
}

sub compact { (my $s = $_[0]) =~ tr/-://d; return $s }

is $t->req(PUT => '/admin/resources/couch-olga', body => { type => 'couch', capacity => 1, owner => 'host-olga',
    title => 'Sofa bed near the station' })->{status}, 201, 'host-olga offers her couch';
is $t->req(PUT => '/admin/resources/couch-sam', body => { type => 'couch', capacity => 1, owner => 'host-sam',
    title => 'Futon' })->{status}, 201, 'host-sam offers his';

my $now = redis_now($t);
my @N = map { day_start($now, 7 + $_) } 0 .. 12;    # night 0 is a week from now
my @d = map { date($_) } @N;
my $run = sub { my ($a, $b, $u) = @_; "$d[$a] $d[$b] $u" };
my $ask = sub { my ($user, $a, $b, %o) = @_;
                book($t, $user, { resource => 'couch-olga', start => $d[$a], end => $d[$b], %o }) };

is_deeply runs('couch-olga', $N[0], $N[10]), [ $run->(0, 10, 1) ], 'before: the couch is free';
is_deeply search('couch', $N[1], $N[3]), { 'couch-olga' => 1, 'couch-sam' => 1 }, 'before: both couches in the search';

# ------------------------------------------------------------ a request, then the host approves

my $h = $ask->('surfer-alice', 1, 3, hold => $TRUE, note => 'arriving by train, note-secret');
is "$h->{status} " . ($h->{json}{status} // ''), '201 held', 'alice holds nights 1-2 while she writes to the host';
my $id = $h->{json}{id};
my $c = act($t, 'surfer-alice', $id, 'confirm');
is "$c->{status} $c->{json}{status}", '200 requested', 'she sends it: requested, not confirmed';
ok !exists $c->{json}{expires_at}, '... a request has no expires_at';
is get_booking($t, 'host-olga', $id)->{json}{status}, 'requested', 'the host sees the request';

is_deeply runs('couch-olga', $N[0], $N[5]), [ $run->(0, 1, 1), $run->(1, 3, 0), $run->(3, 5, 1) ],
    'while requested: nights 1-2 show 0 free';
my $carol = $ask->('surfer-carol', 2, 4);
error_is($carol, 409, 'unavailable', name => 'carol for nights 2-3 meanwhile: 409');
is_deeply $carol->{json}{error}{conflicts}, [ { start => $d[2], end => $d[3], free => 0 } ], '... night 2 is taken';
is_deeply search('couch', $N[1], $N[3]), { 'couch-sam' => 1 }, 'the search leaves the couch out';
my $cal = ics_events($t, 'couch-olga');
is_deeply [ map { "$_->{UID} $_->{SUMMARY} $_->{DTSTART} $_->{DTEND}" } @{ $cal->{events} } ],
    [ "$id\@ngx_booking Busy " . compact($d[1]) . ' ' . compact($d[3]) ], "the host's feed shows the request as Busy";
unlike $cal->{body}, qr/surfer-|note-secret/, '... no surfer id, no note';

error_is(act($t, 'surfer-alice', $id, 'approve'), 403, 'forbidden', name => 'alice approves her own request: 403');
error_is(act($t, 'stranger-dan', $id, 'approve'), 404, 'not_found', name => 'a stranger approves: 404');
error_is(act($t, 'host-sam', $id, 'decline'), 404, 'not_found', name => 'another host declines: 404');
is get_booking($t, 'surfer-alice', $id)->{json}{status}, 'requested', 'still requested after the refusals';

my $ap = act($t, 'host-olga', $id, 'approve');
is "$ap->{status} $ap->{json}{status}", '200 confirmed', 'host-olga approves: confirmed';
is $ap->{json}{user}, 'surfer-alice', "... alice's booking";
my $ap2 = act($t, 'host-olga', $id, 'approve');
is "$ap2->{status} $ap2->{json}{status}", '200 confirmed', 'approving again: 200, confirmed';
is get_booking($t, 'surfer-alice', $id)->{json}{status}, 'confirmed', 'alice sees it confirmed';
is_deeply runs('couch-olga', $N[0], $N[5]), [ $run->(0, 1, 1), $run->(1, 3, 0), $run->(3, 5, 1) ],
    'confirmed: nights 1-2 still taken';

# ------------------------------------------------------------ a request the host declines

my $b = $ask->('surfer-bob', 5, 8);
is "$b->{status} " . ($b->{json}{status} // ''), '201 requested', 'bob asks for nights 5-7 with a plain POST: requested';
my $bid = $b->{json}{id};
is_deeply runs('couch-olga', $N[0], $N[10]),
    [ $run->(0, 1, 1), $run->(1, 3, 0), $run->(3, 5, 1), $run->(5, 8, 0), $run->(8, 10, 1) ],
    'while requested: nights 5-7 taken too';
is_deeply search('couch', $N[5], $N[8]), { 'couch-sam' => 1 }, 'not in the search for nights 5-7';
is scalar @{ ics_events($t, 'couch-olga')->{events} }, 2, 'the feed: the stay and the request';

my $dc = act($t, 'host-olga', $bid, 'decline');
is "$dc->{status} $dc->{json}{status}", '200 declined', 'host-olga declines';
is_deeply runs('couch-olga', $N[0], $N[10]), [ $run->(0, 1, 1), $run->(1, 3, 0), $run->(3, 10, 1) ],
    'after the decline: nights 5-7 free again';
is_deeply search('couch', $N[5], $N[8]), { 'couch-olga' => 1, 'couch-sam' => 1 }, 'the couch is back in the search';
is_deeply [ map { $_->{UID} } @{ ics_events($t, 'couch-olga')->{events} } ], [ "$id\@ngx_booking" ],
    'the declined request left the feed';
is get_booking($t, 'surfer-bob', $bid)->{json}{status}, 'declined', 'bob sees it declined';
my $dc2 = act($t, 'host-olga', $bid, 'decline');
is "$dc2->{status} $dc2->{json}{status}", '200 declined', 'declining again: 200, declined';
error_is(act($t, 'host-olga', $bid, 'approve'), 409, 'conflict', name => 'approving a declined request: 409');

my $cr = $ask->('surfer-carol', 5, 7);
is "$cr->{status} " . ($cr->{json}{status} // ''), '201 requested', 'carol now asks for nights 5-6: requested';
error_is($ask->('surfer-eve', 0, 8), 422, 'invalid', field => 'end', name => '8 nights (max 7): 422');
is_deeply runs('couch-olga', $N[0], $N[10]),
    [ $run->(0, 1, 1), $run->(1, 3, 0), $run->(3, 5, 1), $run->(5, 7, 0), $run->(7, 10, 1) ],
    'the couch: nights 1-2 confirmed, 5-6 requested';

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;

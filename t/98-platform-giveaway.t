# Platform: giving things away (SPEC §1 "Timeless resources", §4).  A giver
# offers 3 identical items (type gift: slot=none, stock without a
# calendar); each taker books one, with no start or end.  A taker may hold
# one while arranging the pickup and confirm when they meet.
#
# What givers and takers see, checked at each step:
# - three takers get one each (201, no start/end in the booking; a hold
#   counts like a booking), the fourth is 409 unavailable; two at once
#   when one is left is 409, four at once is 422;
# - availability is {"resource","type","slot":"none","capacity","free"}:
#   3, then 0, then 1 after a cancel;
# - the listing (GET /resources?type=gift) carries each item's current
#   free stock; a from/to on a timeless type is 422;
# - the calendar feed of a timeless item is an empty VCALENDAR;
# - a cancel gives one back at once, and the fourth taker gets it.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use BookingTest;
use BookingRace qw(:all);

BookingRace::pin_module();

my $t = BookingTest->new(workers => 2, http => <<'EOT');
booking_type gift slot=none hold=1d;
booking_user $http_x_user_id;
EOT

my $TRUE = JSON::PP::true;

sub error_is { local $Test::Builder::Level = $Test::Builder::Level + 1; BookingTest::error_is(@_) }

sub avail { my $r = $t->req(GET => "/api/resources/$_[0]/availability"); return $r->{status} == 200 ? $r->{json} : { status => $r->{status}, body => $r->{body} } }

sub listing {
    my $r = $t->req(GET => '/api/resources?type=gift');
    return { error => "$r->{status} $r->{body}" } unless $r->{status} == 200;
    return { map { $_->{id} => $_->{free} } @{ $r->{json}{items} } };
}

sub ics_events {
    my ($res) = @_;
    my $r = $t->req(GET => "/api/resources/$res/calendar.ics");
    my $body = $r->{body} // '';
    (my $u = $body) =~ s/\r\n[ \t]//g;
    my @ev = $u =~ /^BEGIN:VEVENT\r\n(.*?)^END:VEVENT\r\n/gms;
    return { status => $r->{status}, type => $r->{headers}{'content-type'} // '', body => $body, events => \@ev };
}

my $stock = sub { { resource => 'plants', type => 'gift', slot => 'none', capacity => 3, free => $_[0] } };

is $t->req(PUT => '/admin/resources/plants', body => { type => 'gift', capacity => 3, owner => 'giver-lou',
    title => 'Monstera cuttings', location => { lat => 47.2184, lon => -1.5536 } })->{status}, 201,
    'giver-lou gives away 3 cuttings';
is $t->req(PUT => '/admin/resources/books', body => { type => 'gift', capacity => 10, owner => 'giver-max',
    title => 'Paperbacks' })->{status}, 201, 'giver-max gives away 10 paperbacks';

is_deeply avail('plants'), $stock->(3), 'before: availability is the stock, 3 free';
is_deeply listing(), { plants => 3, books => 10 }, 'before: the listing shows each item with its free stock';
error_is($t->req(GET => '/api/resources?type=gift&from=2027-01-01&to=2027-01-02'), 422, 'invalid',
         name => 'a date range on a timeless listing: 422');

my @takers;
for my $who ([ 'taker-ana', {} ], [ 'taker-ben', {} ], [ 'taker-cho', { hold => $TRUE } ]) {
    push @takers, book($t, $who->[0], { resource => 'plants', %{ $who->[1] } });
}
is join(' ', map { $_->{status} } @takers), '201 201 201', 'three takers get one each (the third holds it)';
is join(' ', map { $_->{json}{status} } @takers), 'confirmed confirmed held', '... two confirmed, one held';
is scalar(grep { exists $_->{json}{start} || exists $_->{json}{end} } @takers), 0, '... no start or end in a timeless booking';
is join(' ', map { $_->{json}{quantity} } @takers), '1 1 1', '... one each';

my $fourth = book($t, 'taker-dia', { resource => 'plants' });
error_is($fourth, 409, 'unavailable', name => 'the fourth taker: 409');
is_deeply avail('plants'), $stock->(0), 'availability: 0 free';
is_deeply listing(), { plants => 0, books => 10 }, 'the listing shows 0 left';

my $pick = act($t, 'taker-cho', $takers[2]{json}{id}, 'confirm');
is "$pick->{status} $pick->{json}{status}", '200 confirmed', 'the third taker confirms at pickup';
is_deeply avail('plants'), $stock->(0), 'still 0 free';

my $cal = ics_events('plants');
is "$cal->{status} $cal->{type}", '200 text/calendar; charset=utf-8', 'calendar feed: 200 text/calendar';
like $cal->{body}, qr/\ABEGIN:VCALENDAR\r\n.*END:VCALENDAR\r\n\z/s, '... a VCALENDAR';
is scalar @{ $cal->{events} }, 0, '... with no VEVENT: a timeless item has an empty calendar';

# one taker cancels: one back, the fourth taker gets it
my $cx = act($t, 'taker-ben', $takers[1]{json}{id}, 'cancel');
is "$cx->{status} $cx->{json}{status}", '200 cancelled', 'taker-ben cancels';
is_deeply avail('plants'), $stock->(1), 'availability: 1 free again';
is_deeply listing(), { plants => 1, books => 10 }, 'the listing shows 1 left';
error_is(book($t, 'taker-eli', { resource => 'plants', quantity => 2 }), 409, 'unavailable', name => 'two at once with one left: 409');
error_is(book($t, 'taker-eli', { resource => 'plants', quantity => 4 }), 422, 'invalid', field => 'quantity',
         name => 'four at once, more than the stock: 422');
my $again = book($t, 'taker-dia', { resource => 'plants' });
is "$again->{status} " . ($again->{json}{status} // ''), '201 confirmed', 'the fourth taker now gets one';
is_deeply avail('plants'), $stock->(0), 'availability: 0 free';
error_is(book($t, 'taker-fay', { resource => 'plants' }), 409, 'unavailable', name => 'the next taker: 409');
is_deeply listing(), { plants => 0, books => 10 }, 'the listing: 0 left, the paperbacks untouched';

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;

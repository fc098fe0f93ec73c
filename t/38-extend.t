# Hold extension (README, "Bookings"; SPEC.md §5): POST
# /bookings/{id}/extend makes a held booking's expires_at now + the type's
# hold, never past created_at + hold_max; at that cap 409; an expired hold
# 410; only its user, its token or an admin; booking.extended with the
# next rev; the extended hold keeps its units until its new expires_at.

use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use BookingTest;
use BookingRace qw(:all);
use BookingKeys qw(streams);

my $t = BookingTest->new(
    workers => 2,
    http => default_http()
        . "booking_type stretch slot=1h hold=3s hold_max=60s;\n"
        . "booking_type brief slot=1h hold=1s;\n"
        . "booking_events on;\n",
);

for my $r ([ 'st1', 'stretch' ], [ 'br1', 'brief' ]) {
    is $t->req(PUT => "/admin/resources/$r->[0]", body => { type => $r->[1], capacity => 1,
                                                            owner => 'host' })->{status},
        201, "PUT $r->[0]";
}

my $start = (int(time / 3600) + 3) * 3600;
my $slot = { start => iso($start), end => iso($start + 3600) };
sub extend { my ($user, $id, %o) = @_; return act($t, $user, $id, 'extend', %o) }

my $h = book($t, 'ann', { resource => 'st1', %$slot, hold => JSON::PP::true });
is $h->{status}, 201, 'ann holds st1 for 3 s';
my $id = $h->{json}{id};
my $first = epoch($h->{json}{expires_at});
my $made = epoch($h->{json}{created_at});

is extend('bob', $id)->{status}, 404, 'a stranger: 404 (the booking is not revealed)';
is extend('host', $id)->{status}, 403, "the resource's owner may not extend it: 403";
is extend(undef, $id)->{status}, 401, 'nobody: 401';

sleep 1.2;
my $x = extend('ann', $id);
is $x->{status}, 200, 'ann extends it: 200' or diag $x->{body};
is $x->{json}{status}, 'held', '... still held';
cmp_ok epoch($x->{json}{expires_at}), '>', $first, '... expires_at later than it was';
cmp_ok epoch($x->{json}{expires_at}), '<=', time + 3 + 1, '... now + hold';

# just past the first expires_at: the extended one is at least a second on
sleep $first + 0.3 - time if $first + 0.3 > time;
is get_booking($t, 'ann', $id)->{json}{status}, 'held',
    'past its first expires_at, it is still held';
is book($t, 'bob', { resource => 'st1', %$slot })->{status}, 409,
    '... and its units still taken';

my $tok = $h->{json}{token};
my $by_token = extend(undef, $id, headers => { 'Booking-Token' => $tok });
is $by_token->{status}, 200, 'its token extends it too';

is act($t, 'ann', $id, 'confirm')->{status}, 200, 'then confirmed';
is extend('ann', $id)->{status}, 409, 'a confirmed booking is not extended: 409';
is $t->req(POST => "/admin/bookings/$id/extend")->{status}, 409, '... not even by an admin';

# the default hold_max is hold: no extension
my $b = book($t, 'ann', { resource => 'br1', %$slot, hold => JSON::PP::true });
is extend('ann', $b->{json}{id})->{status}, 409, 'hold_max defaults to hold: 409 at once';
sleep 1.5;
is extend('ann', $b->{json}{id})->{status}, 410, 'an expired hold: 410';

# the cap: created_at + hold_max (60 s); an admin moves it too
my $c = book($t, 'cid', { resource => 'st1', start => iso($start + 7200),
                          end => iso($start + 10800), hold => JSON::PP::true });
my $cid = $c->{json}{id};
$t->redis('HSET', "bk:{s" . sprintf('%02x', BookingKeys::shard('st1')) . '}:r:st1:b',
          (split /\./, $cid)[1], do {
              my $rec = JSON::PP->new->decode($t->redis('HGET',
                  "bk:{s" . sprintf('%02x', BookingKeys::shard('st1')) . '}:r:st1:b',
                  (split /\./, $cid)[1]));
              $rec->{created_at} = epoch($c->{json}{created_at}) - 56;
              JSON::PP->new->encode($rec);
          });
sleep 1.1;
my $capped = $t->req(POST => "/admin/bookings/$cid/extend");
is $capped->{status}, 200, 'an admin extends a hold made 56 s ago';
is epoch($capped->{json}{expires_at}), epoch($c->{json}{created_at}) - 56 + 60,
    '... cut to created_at + hold_max';
is $t->req(POST => "/admin/bookings/$cid/extend")->{status}, 409, 'at the cap: 409';

# the events: held, extended (rev 2), extended (rev 3), confirmed (rev 4)
my @ev;
for my $s (streams()) {
    for my $e (@{ $t->redis('XRANGE', $s, '-', '+') || [] }) {
        my %f = @{ $e->[1] };
        push @ev, "$f{event} $f{rev}" if ($f{booking} // '') eq $id;
    }
}
is_deeply \@ev, [ 'booking.held 1', 'booking.extended 2', 'booking.extended 3',
                  'booking.confirmed 4' ], "ann's booking: its events and revisions";

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;

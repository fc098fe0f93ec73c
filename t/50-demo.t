# The demo page (conf/html) in a real headless Chromium: it lists, opens a
# resource's calendar, holds, shows the countdown and confirms; a machine
# reserved to a group shows so, is refused outside it and held inside;
# another member finds it taken, waits in line, and is offered it when the
# hold is cancelled; a desk is booked every week for four weeks, and two
# lofts are swapped as one group (held, then confirmed with its token).
# The screenshot is kept in build/artifacts/demo.png.
use strict;
use utf8;
use warnings;
use lib 't/lib';
use BookingTest;
use Test::More;
use JSON::PP;
use Cwd qw(abs_path);

my $root = abs_path('.');
my $node = -x '/usr/bin/node' ? '/usr/bin/node' : 'node';

plan skip_all => 'tests/browser has no node_modules: run make test'
    unless -d "$root/tests/browser/node_modules/playwright-core";

my $t = BookingTest->new(
    workers => 2,
    http => q{
        booking_type room slot=1d hold=15m min=1d max=30d horizon=365d;
        booking_type gift slot=none hold=1d;
        booking_type machine slot=30m hold=10m max=4h waitlist=on;
        booking_type desk slot=30m hold=5m max=1d tz=Europe/Paris;
        booking_user $http_x_user_id;
        booking_user_groups $http_x_user_groups;
        booking_cache zone=demo:4m valid=1s;
    },
    server => qq{
        location /api/ { booking_api; }
        location /admin/ { booking_api admin; }
        location / {
            root $root/conf/html;
            types { text/html html; text/css css; application/javascript js; }
        }
    },
);

for my $i (1 .. 3) {
    my $r = $t->req('PUT', "/admin/resources/loft-$i",
                    body => { type => 'room', capacity => 1,
                              title => "Loft $i" });
    is($r->{status}, 201, "loft-$i created");
}

is($t->req('PUT', '/admin/resources/fablab-laser',
           body => { type => 'machine', capacity => 1, title => 'Laser cutter',
                     groups => ['laser-trained'] })->{status}, 201, 'a laser cutter for the laser-trained');

is($t->req('PUT', '/admin/resources/cowork',
           body => { type => 'desk', capacity => 12, title => 'Coworking desks' })->{status}, 201,
   'coworking desks');

mkdir "$root/build/artifacts";
my $shot = "$root/build/artifacts/demo.png";
unlink $shot;

my $out = `$node $root/tests/browser/demo.mjs http://127.0.0.1:@{[$t->port]}/ $shot 2>&1`;
is($?, 0, 'the browser script ran to the end') or diag($out);

my ($line) = grep { /^\{/ } split /\n/, $out;
my $seen = eval { decode_json($line // '') } || {};

is_deeply($seen->{listed}, ['Loft 1', 'Loft 2', 'Loft 3'],
          'the listing shows the three lofts');
like($seen->{calendar}[0] // '', qr/^\d{4}-\d\d-\d\d → \d{4}-\d\d-\d\d: 1$/,
     'the calendar shows one free unit over the dates');
like($seen->{held} // '', qr/^loft-1\.[A-Za-z0-9_-]{16}: held$/,
     'holding gives a held booking');
like($seen->{countdown} // '', qr/^Held for 1[45] min \d+ s more$/,
     'the countdown runs to expires_at');
like($seen->{confirmed} // '', qr/: confirmed$/, 'confirming confirms it');
is($seen->{taken}, 1, 'the calendar then shows the dates taken');
is($seen->{status}, '', 'no error was shown');
is_deeply($seen->{external}, [], 'nothing was loaded from outside');
ok(-s $shot, 'a screenshot was saved');
is($seen->{styled}, 'rgb(29, 36, 51)', 'the stylesheet applies (header colour)');
is($seen->{reserved}, 'reserved to laser-trained', 'the listing shows the machine reserved to its group');
is($seen->{refused}, 'this resource is reserved to its groups',
   'holding it outside the group shows the refusal');
like($seen->{member} // '', qr/^fablab-laser\.[A-Za-z0-9_-]{16}: held$/,
     'in the group, the hold is made');

like($seen->{line} // '', qr/^Taken\. Wait in line/, 'the laser taken, the page offers the line');
is($seen->{waiting}, 'Waiting: number 1 in line', 'waiting, first in line');
like($seen->{offered} // '', qr/^Your turn: fablab-laser\.[A-Za-z0-9_-]{16} is held for you$/,
     'the hold cancelled, the one waiting is offered it');
like($seen->{offer} // '', qr/^fablab-laser\.[A-Za-z0-9_-]{16}: held$/, '... and sees the hold');

like($seen->{series} // '', qr/^Every week: 4 bookings confirmed, \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d$/,
     'the desk booked every week: 4 bookings, one group');
is_deeply($seen->{homes}, [ 'loft-2', 'loft-3' ], 'the swap offers the two lofts still free');
like($seen->{swap} // '', qr/^loft-2\.[A-Za-z0-9_-]{16}: held, loft-2 and loft-3$/, 'both lofts held as one group');
like($seen->{swapped} // '', qr/: confirmed, loft-2 and loft-3$/, '... and confirmed together');
is($seen->{after}, '', 'no error was shown');

my $r = $t->req('GET', '/api/bookings', headers => { 'X-User-Id' => 'demo-user' });
is_deeply([ sort map { "$_->{resource} $_->{status}" } @{ $r->{json}{items} || [] } ],
          [ ('cowork confirmed') x 4, 'fablab-laser cancelled', 'loft-1 confirmed', 'loft-2 confirmed',
            'loft-3 confirmed' ],
          'the API shows the bookings made: the desk four times, three lofts, the laser cancelled');
$r = $t->req('GET', '/api/bookings', headers => { 'X-User-Id' => 'demo-friend' });
is_deeply([ map { "$_->{resource} $_->{status}" } @{ $r->{json}{items} || [] } ],
          [ 'fablab-laser held' ], "and the friend's: the laser offered, held");

is_deeply([$t->check_error_log], [], 'no crash in the error log');

done_testing;

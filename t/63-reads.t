# Availability and listing pages read what Redis stores with plain
# commands (TIME, HMGET of the resource and of its counter chunks) and
# decide in the worker; a script decides only what those reads cannot:
# a hold due and not yet freed, a resource whose slot is not its type's
# (nginx.conf changed), a resource written before it kept "due".  Each
# case answers what the script answers, and costs what the README says.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use BookingTest;
use BookingRace qw(:all);
use BookingKeys qw(rkey);

BookingRace::pin_module();

my $TYPES = <<'EOT';
booking_type hour slot=1h hold=2s;
booking_type day slot=1d hold=2s;
booking_type stock slot=none hold=2s;
EOT
# only these types: the slot lengths nginx.conf knows are 1 h and 1 d
# counted command by command: no sweeper (a Cluster's would run) in them
my $USER = "booking_user \$http_x_user_id;\nbooking_sweeper off;\n";
my $t = BookingTest->new(http => $USER . $TYPES);
my $TRUE = JSON::PP::true;

sub error_is { local $Test::Builder::Level = $Test::Builder::Level + 1; BookingTest::error_is(@_) }

sub stats {
    my %s;
    for (split /\r?\n/, $t->redis('INFO', 'commandstats')) {
        $s{$1} = $2 if /^cmdstat_(\w+):calls=(\d+)/ && $1 ne 'info' && $1 ne 'config';
    }
    return \%s;
}

# what one request sent Redis, counted from INFO commandstats
sub cost {
    my ($do) = @_;
    $t->redis('CONFIG', 'RESETSTAT');
    my $r = $do->();
    return ($r, stats());
}

sub anon { return $t->req(GET => $_[0]) }

# the free units of an availability answer, slot by slot
sub units {
    my ($r) = @_;
    my $slot = { '1h' => 3600, '1d' => 86400 }->{ $r->{json}{slot} // '' } // 3600;
    return [ map { ($_->{units}) x ((epoch($_->{end}) - epoch($_->{start})) / $slot) }
             @{ $r->{json}{free} || [] } ];
}

for my $res ([ 'h-1', 'hour', 2 ], [ 'h-2', 'hour', 1 ], [ 'd-1', 'day', 1 ], [ 's-1', 'stock', 3 ]) {
    is $t->req(PUT => "/admin/resources/$res->[0]", body => { type => $res->[1], capacity => $res->[2] })->{status},
       201, "PUT $res->[0]";
}

my $now = redis_now($t);
my ($s, $e) = (hour_start($now, 3), hour_start($now, 5));
my ($w0, $w1) = (hour_start($now, 2), hour_start($now, 6));
my $AV = '/api/resources/h-1/availability?from=' . iso($w0) . '&to=' . iso($w1);
my $LIST = '/api/resources?type=hour&from=' . iso($s) . '&to=' . iso($e);

# ------------------------------------------------------------ the plain path

is book($t, 'ann', { resource => 'h-1', start => iso($s), end => iso($e) })->{status}, 201, 'ann books h-1';
my ($r, $c) = cost(sub { anon($AV) });
is $r->{status}, 200, 'availability: 200';
is_deeply units($r), [ 2, 1, 1, 2 ], 'availability: the booking counted';
is_deeply $c, { time => 1, hmget => 2 }, 'availability: TIME, the resource, its chunks: no script';

($r, $c) = cost(sub { anon('/api/resources/s-1/availability') });
is $r->{json}{free}, 3, 'a stock: its free units';
is_deeply $c, { time => 1, hmget => 1 }, 'a stock: TIME and the resource';

($r, $c) = cost(sub { anon('/api/resources/nope/availability?from=' . iso($w0) . '&to=' . iso($w1)) });
error_is($r, 404, 'not_found', name => 'a resource that is not there');
ok !$c->{fcall}, '... known without a script';

($r, $c) = cost(sub { anon($LIST) });
is_deeply [ map { [ $_->{id}, $_->{free} ] } @{ $r->{json}{items} } ], [ [ 'h-1', 1 ], [ 'h-2', 1 ] ],
    'listing: both, with their fewest free units';
ok !$c->{fcall}, 'listing: no script';

# ------------------------------------------------------------ a hold due

is book($t, 'bob', { resource => 'h-2', start => iso($s), end => iso($e), hold => $TRUE })->{status}, 201,
   'bob holds h-2 (2 s)';
($r, $c) = cost(sub { anon($LIST) });
is_deeply [ map { $_->{id} } @{ $r->{json}{items} } ], ['h-1'], 'while it holds, h-2 is not listed';
wait_redis_time($t, $now + 3.5, 10) if redis_now($t) < $now + 3.5;
sleep 1.2;

($r, $c) = cost(sub { anon($LIST) });
is_deeply [ map { [ $_->{id}, $_->{free} ] } @{ $r->{json}{items} } ], [ [ 'h-1', 1 ], [ 'h-2', 1 ] ],
    'the hold expired: h-2 is listed again';
is $c->{fcall}, 1, '... its script decided it (the hold was due), the other was read';

($r, $c) = cost(sub { anon($LIST) });
ok !$c->{fcall}, 'freed once: the next page reads again';

is book($t, 'bob', { resource => 'h-1', start => iso($s), end => iso($e), hold => $TRUE })->{status}, 201,
   'bob holds the last unit of h-1';
my $q = '/api/resources/h-1/availability?from=' . iso($s) . '&to=' . iso($e);
is_deeply units(anon($q)), [ 0, 0 ], 'h-1 is full';
sleep 3.5;
($r, $c) = cost(sub { anon($q) });
is_deeply units($r), [ 1, 1 ], 'the hold expired: the unit is free again';
is $c->{fcall}, 1, '... the script freed it';

# ------------------------------------------------------------ a resource without "due"

$t->redis('HDEL', rkey('d-1'), 'due');
my $DAV = '/api/resources/d-1/availability?from=' . date($now + 86400) . '&to=' . date($now + 3 * 86400);
($r, $c) = cost(sub { anon($DAV) });
is_deeply units($r), [ 1, 1 ], 'a resource without due: its availability';
is $c->{fcall}, 1, '... from the script, which writes due';
($r, $c) = cost(sub { anon($DAV) });
ok !$c->{fcall}, '... read plainly from then on';

# ------------------------------------------------------------ a slot that is not its type's

# nginx.conf gives "hour" 2 h slots: h-1 keeps its 1 h slots until PUT again
$t->reload_nginx(http => $USER . "booking_type hour slot=2h hold=2s;\n"
                         . "booking_type day slot=1d hold=2s;\nbooking_type stock slot=none hold=2s;\n");
($r, $c) = cost(sub { anon($AV) });
is $r->{status}, 200, 'availability of a resource with a slot of no type: 200';
is_deeply units($r), [ 2, 1, 1, 2 ], '... in its own slots';
is $c->{fcall}, 1, '... from the script';

my $L2 = '/api/resources?type=hour&from=' . iso(hour_start($now, 4)) . '&to=' . iso(hour_start($now, 8));
($r, $c) = cost(sub { anon($L2) });
is $r->{status}, 200, 'a listing of that type: 200';
is $c->{fcall}, 2, '... its candidates decided by the script';

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';
$t->stop;
done_testing;

# The instants of the events (README, "Events"): Redis's Lua has no
# os.date, so common.lua writes RFC 3339 itself, from days since the epoch
# to the civil date.  Its own text, run by the real Redis, against Perl's
# gmtime over the edges (the epoch, leap days, century years, the last
# second of 9999) and 3,000 instants drawn at random; then the fields of
# real events against the API's answers for the same bookings.

use strict;
use warnings;
use Test::More;
use POSIX qw(strftime);
use FindBin;
use BookingTest;
use BookingRace qw(:all);
use BookingKeys qw(streams);

my $t = BookingTest->new(
    workers => 1,
    http => default_http() . "booking_events on;\n",
);

my ($fn) = BookingTest::_slurp("$FindBin::Bin/../ngx_module/scripts/common.lua")
    =~ /^(local function rfc3339\(s\)\n.*?^end\n)/ms;
ok $fn, "common.lua's rfc3339()";

my $script = $fn . <<'LUA';
local out = {}
for i, s in ipairs(ARGV) do
    out[i] = rfc3339(tonumber(s))
end
return out
LUA

sub perl_time { return strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $_[0]) }

my @edges = (0, 59, 86399, 86400, 951782400, 951868799, 951868800, 4107542400,
             4107542399, 4102444800, 68256000, 1709164800, 1740787199,
             253402300799, 253402214400, 946684799, 946684800, 978307199);
srand 20261204;
my @random = map { int rand 253402300800 } 1 .. 3000;
my @recent = map { 1700000000 + int rand 400000000 } 1 .. 1000;

my @wrong;
for my $batch ([ @edges ], [ @random[0 .. 999] ], [ @random[1000 .. 1999] ],
               [ @random[2000 .. 2999] ], [ @recent ]) {
    my $got = $t->redis('EVAL', $script, 0, @$batch);
    for my $i (0 .. $#$batch) {
        my $want = perl_time($batch->[$i]);
        push @wrong, "$batch->[$i]: $got->[$i], not $want"
            unless ($got->[$i] // '') eq $want;
    }
}
is_deeply [ @wrong[0 .. ($#wrong < 9 ? $#wrong : 9)] ], [],
    'rfc3339() is gmtime for the edges and 4,000 random instants';

# ------------------------------------------------------------ real events

is $t->req(PUT => '/admin/resources/t1', body => { type => 'car', capacity => 1 })->{status},
    201, 'a car';
is $t->req(PUT => '/admin/resources/t2', body => { type => 'room', capacity => 1 })->{status},
    201, 'a room';
my $h0 = (int(time / 3600) + 50) * 3600;
my $d0 = (int(time / 86400) + 60) * 86400;
my @made = (
    book($t, 'ann', { resource => 't1', start => iso($h0), end => iso($h0 + 7200) }),
    book($t, 'ann', { resource => 't2', start => date($d0), end => date($d0 + 3 * 86400),
                      hold => JSON::PP::true }),
);
is_deeply [ map { $_->{status} } @made ], [ 201, 201 ], 'a booking and a hold';

my %ev;
for my $s (streams()) {
    for my $e (@{ $t->redis('XRANGE', $s, '-', '+') || [] }) {
        my %f = @{ $e->[1] };
        $ev{ $f{booking} } = \%f if $f{booking};
    }
}
for my $b (@made) {
    my $e = $ev{ $b->{json}{id} } || {};
    is epoch($e->{start} // ''), epoch($b->{json}{start}), "$b->{json}{id}: start as the API's";
    is epoch($e->{end} // ''), epoch($b->{json}{end}), '... end as the API\'s';
    is $e->{at}, perl_time(epoch($b->{json}{created_at})), '... at, its created_at';
    like $e->{start}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, '... RFC 3339, UTC';
}

is_deeply [ $t->check_error_log ], [], 'no alert, crit or crash in the error log';

done_testing;

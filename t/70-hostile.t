# Hostile input (SPEC §4): malformed and oversized bodies, ids, query
# strings, headers, methods and connections.  Each is answered with the
# JSON error of §4 (exact status, code and field where the code makes them
# exact), or by nginx itself where nginx answers before the module runs (a
# malformed request line, %00 in the path, oversized headers); afterwards
# the same workers are alive, the error log holds no [alert]/[crit]/[emerg]
# nor "signal", a normal request still works, and nothing the refused
# requests touched changed in Redis.

use strict;
use warnings;
use Test::More;
use JSON::PP ();
use Time::HiRes ();
use BookingTest;
use BookingKeys qw(rkey);

my $SERVER = <<'EOT';
location /api/ { booking_api; }
location /admin/ { booking_api admin; }
location /small/ { booking_api admin; client_max_body_size 4k; client_body_timeout 2s; }
location = /plain { return 200 "plain\n"; }
EOT

my $t0 = Time::HiRes::time();
my $t = BookingTest->new(server => $SERVER);

my $USER = { 'X-User-Id' => 'ann' };
my $JSON = { 'Content-Type' => 'application/json' };
my $BK = 'x.AAAAAAAAAAAAAAAA';          # a well-formed booking id that does not exist
my $SLOW = BookingTest::slow();          # 10 under valgrind

# ------------------------------------------------------------ helpers

# the bytes of one HTTP/1.1 request; Content-Length from the body unless
# cl => N (or cl => undef with chunked); Connection: close unless keep => 1
sub rq {
    my ($method, $path, %o) = @_;
    my $s = "$method $path HTTP/1.1\r\nHost: localhost\r\n";
    my $h = $o{headers} || {};
    for my $k (sort keys %$h) {
        $s .= "$k: $_\r\n" for ref $h->{$k} ? @{ $h->{$k} } : ($h->{$k});
    }
    if (exists $o{cl}) {
        $s .= "Content-Length: $o{cl}\r\n" if defined $o{cl};
    } elsif (defined $o{body}) {
        $s .= 'Content-Length: ' . length($o{body}) . "\r\n";
    }
    $s .= "Connection: close\r\n" unless $o{keep};
    $s .= "\r\n";
    $s .= $o{body} if defined $o{body};
    return $s;
}

# one exchange on a fresh connection: the first answer, parsed
sub ask {
    my ($bytes, $timeout) = @_;
    my $raw = $t->raw($bytes, defined $timeout ? $timeout * $SLOW : undef);
    my $r = BookingTest::parse_http($raw)
        || { status => 0, reason => '', headers => {}, body => '', json => undef };
    $r->{raw} = $raw;
    return $r;
}

sub jerr {
    my ($r, $status, $code, $name, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return BookingTest::error_is($r, $status, $code, %o, name => $name);
}

# nginx's own answer: the status is enough (its HTML body is fine)
sub nginx_is {
    my ($r, $status, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return is $r->{status}, $status, "$name: nginx answers $status";
}

sub post_json {
    my ($path, $body, %h) = @_;
    return ask(rq(POST => $path, headers => { %$JSON, %$USER, %h }, body => $body));
}

sub put_json {
    my ($path, $body, %h) = @_;
    return ask(rq(PUT => $path, headers => { %$JSON, %h }, body => $body));
}

# the answers in $raw, one per method given (HEAD answers carry no body)
sub responses {
    my ($raw, @methods) = @_;
    my @out;
    for my $m (@methods) {
        last unless $raw =~ m{\AHTTP/1\.[01] \d{3}[^\r\n]*\r\n.*?\r\n\r\n}s;
        my $hlen = $+[0];
        my ($cl) = substr($raw, 0, $hlen) =~ /^Content-Length:\s*(\d+)/mi;
        my $len = $hlen + ($m eq 'HEAD' ? 0 : $cl // 0);
        push @out, BookingTest::parse_http(substr($raw, 0, $len, ''));
        $out[-1]{body} = '' if $m eq 'HEAD';
    }
    return (\@out, $raw);
}

sub redis_hash {
    my ($key) = @_;
    my $a = $t->redis('HGETALL', $key);
    return { ref $a eq 'ARRAY' ? @$a : () };
}

# ------------------------------------------------------------ the start

my $r = $t->req(PUT => '/admin/resources/x',
                body => { type => 'room', capacity => 2, title => 'X', owner => 'olga',
                          attributes => { beds => 2 } });
is $r->{status}, 201, 'setup: PUT /admin/resources/x';

my $X_DOC  = $t->req(GET => '/api/resources/x')->{body};
my $X_HASH = redis_hash(rkey('x'));
my %KEYS0  = map { $_ => 1 } @{ $t->redis('KEYS', 'bk:*') };
my @PIDS   = $t->worker_pids;
ok @PIDS == 2, 'setup: two workers';

my %EXCUSED;     # error log lines already reported by a failed test

# [alert]/[crit]/[emerg]/signal lines not reported yet
sub new_bad_lines {
    my @bad = grep { !$EXCUSED{$_} } $t->check_error_log;
    return @bad;
}

sub healthy {
    my ($section) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is_deeply [ $t->worker_pids ], \@PIDS, "$section: the same workers are alive";
    my $r = $t->req(GET => '/api/resources/x');
    ok $r->{status} == 200 && $r->{body} eq $X_DOC, "$section: GET /api/resources/x still 200, unchanged"
        or diag "status $r->{status}: $r->{body}";
    my @bad = new_bad_lines();
    is_deeply \@bad, [], "$section: no [alert]/[crit]/[emerg]/signal in the error log";
    $EXCUSED{$_} = 1 for @bad;    # each bad line fails one test, not every later one
}

# ============================================================ JSON bodies

my $S = '"start":"2026-12-10"';
my $E = '"end":"2026-12-12"';
my $DEEP_A = ('[' x 10000) . (']' x 10000);
my $DEEP_O = ('{"a":' x 10000) . '1' . ('}' x 10000);

# [name, body, status, code, field]
my @POST = (
    # malformed
    [ 'truncated',                   '{"resource":"x",' . $S,            400, 'invalid_json' ],
    [ 'truncated inside a string',   '{"resource":"x',                   400, 'invalid_json' ],
    [ 'trailing garbage',            qq({"resource":"x",$S,$E} x),       400, 'invalid_json' ],
    [ 'two objects',                 '{"resource":"x"}{"resource":"x"}', 400, 'invalid_json' ],
    [ 'single quotes',               q({'resource':'x'}),                400, 'invalid_json' ],
    [ 'block comment',               qq({"resource":"x" /* c */,$S,$E}), 400, 'invalid_json' ],
    [ 'line comment',                qq(// c\n{"resource":"x",$S,$E}),   400, 'invalid_json' ],
    [ 'UTF-8 BOM',                   qq(\xEF\xBB\xBF{"resource":"x",$S,$E}), 400, 'invalid_json' ],
    [ 'empty body',                  '',                                 400, 'invalid_json' ],
    [ 'blank body',                  "  \r\n ",                          400, 'invalid_json' ],
    [ 'trailing comma',              qq({"resource":"x",$S,$E,}),        400, 'invalid_json' ],
    [ 'unquoted key',                qq({resource:"x",$S,$E}),           400, 'invalid_json' ],
    [ 'raw control character in a string', qq({"resource":"x","note":"a\x01b",$S,$E}), 400, 'invalid_json' ],
    [ 'unknown escape',              qq({"resource":"x","note":"a\\qb",$S,$E}), 400, 'invalid_json' ],
    [ 'top-level array',             '[]',                               400, 'bad_request' ],
    [ 'top-level string',            '"x"',                              400, 'invalid_json' ],
    [ 'top-level null',              'null',                             400, 'invalid_json' ],
    # depth
    [ '10,000 nested arrays',        $DEEP_A,                            400, 'invalid_json' ],
    [ '10,000 nested objects',       $DEEP_O,                            400, 'invalid_json' ],
    [ '10,000 nested arrays in resource', '{"resource":' . $DEEP_A . '}', 400, 'invalid_json' ],
    [ '10,000 nested objects in note', '{"resource":"x","note":' . $DEEP_O . '}', 400, 'invalid_json' ],
    [ '10,000 unclosed arrays',      '[' x 10000,                        400, 'invalid_json' ],
    # duplicate keys
    [ 'duplicate key, same value',   qq({"resource":"x","resource":"x",$S,$E}), 400, 'invalid_json' ],
    [ 'duplicate key, other value',  qq({"resource":"x","resource":"y",$S,$E}), 400, 'invalid_json' ],
    [ 'duplicate key through an escape', qq({"resource":"x","resourc\\u0065":"x",$S,$E}), 400, 'invalid_json' ],
    [ 'duplicate quantity',          qq({"resource":"x",$S,$E,"quantity":1,"quantity":2}), 400, 'invalid_json' ],
    # missing, unknown
    [ 'empty object',                '{}',                               400, 'bad_request', 'resource' ],
    [ 'unknown field',               qq({"resource":"x",$S,$E,"foo":1}), 422, 'invalid', 'foo' ],
    [ 'unknown 300-byte field',      qq({"resource":"x",$S,$E,") . ('k' x 300) . '":1}', 422, 'invalid' ],
    # numbers
    [ 'quantity 2^64',               qq({"resource":"x",$S,$E,"quantity":18446744073709551616}), 400, 'invalid_json' ],
    [ 'quantity -2^63-1',            qq({"resource":"x",$S,$E,"quantity":-9223372036854775809}), 400, 'invalid_json' ],
    [ 'quantity 2^63-1',             qq({"resource":"x",$S,$E,"quantity":9223372036854775807}), 422, 'invalid', 'quantity' ],
    [ 'quantity -2^63',              qq({"resource":"x",$S,$E,"quantity":-9223372036854775808}), 422, 'invalid', 'quantity' ],
    [ 'quantity 1e400',              qq({"resource":"x",$S,$E,"quantity":1e400}), 400, 'invalid_json' ],
    [ 'quantity -1e400',             qq({"resource":"x",$S,$E,"quantity":-1e400}), 400, 'invalid_json' ],
    [ 'quantity 1e-400',             qq({"resource":"x",$S,$E,"quantity":1e-400}), 400, 'bad_request', 'quantity' ],
    [ 'quantity NaN',                qq({"resource":"x",$S,$E,"quantity":NaN}), 400, 'invalid_json' ],
    [ 'quantity nan',                qq({"resource":"x",$S,$E,"quantity":nan}), 400, 'invalid_json' ],
    [ 'quantity Infinity',           qq({"resource":"x",$S,$E,"quantity":Infinity}), 400, 'invalid_json' ],
    [ 'quantity -Infinity',          qq({"resource":"x",$S,$E,"quantity":-Infinity}), 400, 'invalid_json' ],
    [ 'quantity 01',                 qq({"resource":"x",$S,$E,"quantity":01}), 400, 'invalid_json' ],
    [ 'quantity +1',                 qq({"resource":"x",$S,$E,"quantity":+1}), 400, 'invalid_json' ],
    [ 'quantity 0x1',                qq({"resource":"x",$S,$E,"quantity":0x1}), 400, 'invalid_json' ],
    [ 'quantity 0',                  qq({"resource":"x",$S,$E,"quantity":0}), 422, 'invalid', 'quantity' ],
    [ 'quantity -1',                 qq({"resource":"x",$S,$E,"quantity":-1}), 422, 'invalid', 'quantity' ],
    [ 'quantity 1000001',            qq({"resource":"x",$S,$E,"quantity":1000001}), 422, 'invalid', 'quantity' ],
    [ 'quantity 3 (over capacity 2)', qq({"resource":"x",$S,$E,"quantity":3}), 422, 'invalid', 'quantity' ],
    [ 'quantity 1.0',                qq({"resource":"x",$S,$E,"quantity":1.0}), 400, 'bad_request', 'quantity' ],
    [ 'quantity 1.5',                qq({"resource":"x",$S,$E,"quantity":1.5}), 400, 'bad_request', 'quantity' ],
    [ 'quantity 1e0',                qq({"resource":"x",$S,$E,"quantity":1e0}), 400, 'bad_request', 'quantity' ],
    [ 'quantity -0.0',               qq({"resource":"x",$S,$E,"quantity":-0.0}), 400, 'bad_request', 'quantity' ],
    # dates: past nginx's reading, lowercase t/z parse (and 10:00 is off the
    # 1-day slot of a room), a non-zero fraction is off every slot
    [ 'start lowercase t and z',     qq({"resource":"x","start":"2026-12-10t10:00:00z",$E}), 422, 'invalid', 'start' ],
    [ 'start with a fraction',       qq({"resource":"x","start":"2026-12-10T00:00:00.5Z",$E}), 422, 'invalid', 'start' ],
    # strings
    [ 'invalid UTF-8 in resource',   qq({"resource":"x\xFF",$S,$E}),      400, 'invalid_json' ],
    [ 'invalid UTF-8 in note',       qq({"resource":"x",$S,$E,"note":"\xFE\xFF"}), 400, 'invalid_json' ],
    [ 'overlong UTF-8 in note',      qq({"resource":"x",$S,$E,"note":"\xC0\xAF"}), 400, 'invalid_json' ],
    [ 'overlong NUL in note',        qq({"resource":"x",$S,$E,"note":"\xC0\x80"}), 400, 'invalid_json' ],
    [ 'UTF-8 of a surrogate in note', qq({"resource":"x",$S,$E,"note":"\xED\xA0\x80"}), 400, 'invalid_json' ],
    [ 'truncated UTF-8 in note',     qq({"resource":"x",$S,$E,"note":"\xE2\x82"}), 400, 'invalid_json' ],
    [ 'UTF-8 past U+10FFFF in note', qq({"resource":"x",$S,$E,"note":"\xF4\x90\x80\x80"}), 400, 'invalid_json' ],
    [ 'lone surrogate \\ud800 in note', qq({"resource":"x",$S,$E,"note":"\\ud800"}), 400, 'invalid_json' ],
    [ 'lone surrogate \\udc00 in note', qq({"resource":"x",$S,$E,"note":"\\udc00"}), 400, 'invalid_json' ],
    [ 'high surrogate then A in note', qq({"resource":"x",$S,$E,"note":"\\ud800\\u0041"}), 400, 'invalid_json' ],
    [ 'lone surrogate in resource',  qq({"resource":"\\ud800",$S,$E}),   400, 'invalid_json' ],
    [ '\\u0000 in note',             qq({"resource":"x",$S,$E,"note":"a\\u0000b"}), 400, 'invalid_json' ],
    [ '\\u0000 in resource',         qq({"resource":"x\\u0000",$S,$E}),  400, 'invalid_json' ],
    [ '\\u0000 in a key',            qq({"resource":"x",$S,$E,"\\u0000":1}), 400, 'invalid_json' ],
    [ 'note of 1001 bytes',          qq({"resource":"x",$S,$E,"note":") . ('n' x 1001) . '"}', 422, 'invalid', 'note' ],
    # resources that cannot exist
    [ 'resource ""',                 qq({"resource":"",$S,$E}),          404, 'not_found', 'resource' ],
    [ 'resource "../x"',             qq({"resource":"../x",$S,$E}),      404, 'not_found', 'resource' ],
    [ 'resource "{r:x}"',            qq({"resource":"{r:x}",$S,$E}),     404, 'not_found', 'resource' ],
    [ 'resource "x y"',              qq({"resource":"x y",$S,$E}),       404, 'not_found', 'resource' ],
    [ 'resource of 10,000 bytes',    qq({"resource":") . ('r' x 10000) . qq(",$S,$E}), 404, 'not_found', 'resource' ],
    [ 'kind "admin"',                qq({"resource":"x",$S,$E,"kind":"admin"}), 422, 'invalid', 'kind' ],
);

# every field of the wrong JSON type
my %WRONG = (
    resource => [ '1', 'null', 'true', '[]', '{}', '1.5', '["x"]' ],
    start    => [ '1', 'null', 'true', '[]', '{}', '20261210' ],
    end      => [ '1', 'null', 'false', '[]', '{}' ],
    quantity => [ '"1"', 'null', 'true', '[]', '{}', '[1]' ],
    hold     => [ '"true"', '1', '0', 'null', '[]', '{}' ],
    kind     => [ '1', 'null', 'true', '[]', '{}' ],
    note     => [ '1', 'null', 'true', '[]', '{}' ],
);
for my $f (sort keys %WRONG) {
    for my $v (@{ $WRONG{$f} }) {
        my %b = (resource => '"x"', start => '"2026-12-10"', end => '"2026-12-12"', $f => $v);
        my $body = '{' . join(',', map { qq("$_":$b{$_}) } sort keys %b) . '}';
        push @POST, [ "$f $v", $body, 400, 'bad_request', $f ];
    }
}

# dates that are not RFC 3339 instants
my @BAD_DATES = (
    '0000-00-00', '0000-01-01', '9999-12-31T23:59:60Z', '2026-12-01T23:59:60Z', '2026-02-30',
    '2026-02-29', '2026-13-01', '2026-12-32', '2026-12-01T24:00:00Z', '2026-12-01T10:60:00Z',
    '2026-12-01T10:00:00+25:00', '2026-12-01T10:00:00-24:00', '2026-12-01T10:00:00+24:00',
    '2026-12-01T10:00:00+01:60', '2026-12-01T10:00:00+0100', '2026-12-01T10:00:00',
    '2026-12-01T10:00Z', '2026-12-01 10:00:00Z', '2026-12-01T10:00:00.12345678901234567890Z',
    '2026-12-01T10:00:00.Z', '2026-12-01T10:00:00.1234567890Z', '99999-01-01', '+2026-12-01',
    '2026-12-1', '2026/12/01', '', 'tomorrow', '2026-12-01T10:00:00ZZ', '2026-12-01Z',
    '1969-12-31T23:59:59Z', '0001-01-01T00:00:00+00:01',
);
for my $d (@BAD_DATES) {
    push @POST, [ "start \"$d\"", qq({"resource":"x","start":"$d",$E}), 400, 'bad_request', 'start' ];
}
push @POST, map { [ "end \"$_\"", qq({"resource":"x",$S,"end":"$_"}), 400, 'bad_request', 'end' ] }
    '2026-02-30', '2026-12-12T10:00:00', '2026-12-12T10:00:00+25:00', '99999-01-01';

for my $c (@POST) {
    my ($name, $body, $status, $code, $field) = @$c;
    jerr(post_json('/api/bookings', $body), $status, $code, "POST /api/bookings: $name",
         defined $field ? (field => $field) : ());
}

# the same body answers the same without a user: reading comes first
jerr(ask(rq(POST => '/api/bookings', headers => $JSON, body => $DEEP_O)), 400, 'invalid_json',
     'POST /api/bookings without a user: 10,000 nested objects');

my $TYPE = '"type":"room"';
my @PUT = (
    [ 'truncated',                   '{"type":"room"',                   400, 'invalid_json' ],
    [ 'trailing garbage',            '{"type":"room"}]',                 400, 'invalid_json' ],
    [ 'two objects',                 '{"type":"room"}{}',                400, 'invalid_json' ],
    [ 'single quotes',               q({'type':'room'}),                 400, 'invalid_json' ],
    [ 'block comment',               '{"type":"room"/**/}',              400, 'invalid_json' ],
    [ 'line comment',                qq({"type":"room" // c\n}),         400, 'invalid_json' ],
    [ 'UTF-8 BOM',                   "\xEF\xBB\xBF{\"type\":\"room\"}",  400, 'invalid_json' ],
    [ 'empty body',                  '',                                 400, 'invalid_json' ],
    [ 'top-level array',             '[{"type":"room"}]',                400, 'bad_request' ],
    [ '10,000 nested arrays',        $DEEP_A,                            400, 'invalid_json' ],
    [ '10,000 nested objects',       $DEEP_O,                            400, 'invalid_json' ],
    [ '10,000 nested objects in attributes', qq({$TYPE,"attributes":$DEEP_O}), 400, 'invalid_json' ],
    [ '10,000 nested arrays in attributes', qq({$TYPE,"attributes":{"a":$DEEP_A}}), 400, 'invalid_json' ],
    [ 'duplicate type',              '{"type":"room","type":"desk"}',    400, 'invalid_json' ],
    [ 'duplicate key in attributes', qq({$TYPE,"attributes":{"a":1,"a":2}}), 400, 'invalid_json' ],
    [ 'duplicate lat',               qq({$TYPE,"location":{"lat":1,"lat":2,"lon":3}}), 400, 'invalid_json' ],
    [ 'missing type',                '{"capacity":1}',                   400, 'bad_request', 'type' ],
    [ 'unknown type',                '{"type":"castle"}',                422, 'invalid', 'type' ],
    [ 'type with a NUL-free trick',  '{"type":"room "}',                 422, 'invalid', 'type' ],
    [ 'unknown field',               qq({$TYPE,"id":"y"}),               422, 'invalid', 'id' ],
    [ 'capacity 2^64',               qq({$TYPE,"capacity":18446744073709551616}), 400, 'invalid_json' ],
    [ 'capacity -2^63-1',            qq({$TYPE,"capacity":-9223372036854775809}), 400, 'invalid_json' ],
    [ 'capacity 2^63-1',             qq({$TYPE,"capacity":9223372036854775807}), 422, 'invalid', 'capacity' ],
    [ 'capacity 1e400',              qq({$TYPE,"capacity":1e400}),       400, 'invalid_json' ],
    [ 'capacity NaN',                qq({$TYPE,"capacity":NaN}),         400, 'invalid_json' ],
    [ 'capacity Infinity',           qq({$TYPE,"capacity":Infinity}),    400, 'invalid_json' ],
    [ 'capacity 0',                  qq({$TYPE,"capacity":0}),           422, 'invalid', 'capacity' ],
    [ 'capacity -1',                 qq({$TYPE,"capacity":-1}),          422, 'invalid', 'capacity' ],
    [ 'capacity 1000001',            qq({$TYPE,"capacity":1000001}),     422, 'invalid', 'capacity' ],
    [ 'capacity 1.0',                qq({$TYPE,"capacity":1.0}),         400, 'bad_request', 'capacity' ],
    [ 'capacity 1.5',                qq({$TYPE,"capacity":1.5}),         400, 'bad_request', 'capacity' ],
    [ 'lat 1e400',                   qq({$TYPE,"location":{"lat":1e400,"lon":0}}), 400, 'invalid_json' ],
    [ 'lon -Infinity',               qq({$TYPE,"location":{"lat":0,"lon":-Infinity}}), 400, 'invalid_json' ],
    [ 'lat 85.06',                   qq({$TYPE,"location":{"lat":85.06,"lon":0}}), 422, 'invalid', 'location' ],
    [ 'lon 180.000001',              qq({$TYPE,"location":{"lat":0,"lon":180.000001}}), 422, 'invalid', 'location' ],
    [ 'lat 1e-400',                  qq({$TYPE,"location":{"lat":1e-400,"lon":1e308}}), 422, 'invalid', 'location' ],
    [ 'location with alt',           qq({$TYPE,"location":{"lat":0,"lon":0,"alt":1}}), 422, 'invalid', 'location' ],
    [ 'title of 1025 bytes',         qq({$TYPE,"title":") . ('t' x 1025) . '"}', 422, 'invalid', 'title' ],
    [ 'owner of 129 bytes',          qq({$TYPE,"owner":") . ('o' x 129) . '"}', 422, 'invalid', 'owner' ],
    [ 'owner ""',                    qq({$TYPE,"owner":""}),             422, 'invalid', 'owner' ],
    [ '65 groups',                   qq({$TYPE,"groups":[) . join(',', map { qq("g$_") } 1 .. 65) . ']}', 422, 'invalid', 'groups' ],
    [ 'group with a comma',          qq({$TYPE,"groups":["a,b"]}),       422, 'invalid', 'groups' ],
    [ 'group ""',                    qq({$TYPE,"groups":[""]}),          422, 'invalid', 'groups' ],
    [ 'invalid UTF-8 in title',      qq({$TYPE,"title":"\xFF"}),         400, 'invalid_json' ],
    [ 'overlong UTF-8 in title',     qq({$TYPE,"title":"\xC0\xAF"}),     400, 'invalid_json' ],
    [ 'overlong UTF-8 in owner',     qq({$TYPE,"owner":"\xE0\x80\xAF"}), 400, 'invalid_json' ],
    [ 'invalid UTF-8 in a key',      qq({$TYPE,"attributes":{"\xFF":1}}), 400, 'invalid_json' ],
    [ 'lone surrogate in title',     qq({$TYPE,"title":"\\ud800"}),      400, 'invalid_json' ],
    [ 'lone surrogate in groups',    qq({$TYPE,"groups":["\\udfff"]}),   400, 'invalid_json' ],
    [ '\\u0000 in title',            qq({$TYPE,"title":"\\u0000"}),      400, 'invalid_json' ],
    [ '\\u0000 in an attribute key', qq({$TYPE,"attributes":{"a\\u0000":1}}), 400, 'invalid_json' ],
    [ '\\u0000 in type',             '{"type":"room\\u0000"}',           400, 'invalid_json' ],
);
my %PUT_WRONG = (
    type       => [ '1', 'null', 'true', '[]', '{}', '["room"]' ],
    capacity   => [ '"1"', 'null', 'true', '[]', '{}' ],
    title      => [ '1', 'null', 'true', '[]', '{}' ],
    owner      => [ '1', 'null', 'true', '[]', '{}' ],
    location   => [ '1', 'null', '"48,2"', '[48,2]', '{"lat":"48","lon":2}', '{"lat":48}', '{"lat":null,"lon":2}', '{}' ],
    attributes => [ '1', 'null', '"a"', '[]', '[{}]' ],
    groups     => [ '1', 'null', '"a"', '{}', '[1]', '[null]', '[["a"]]' ],
);
for my $f (sort keys %PUT_WRONG) {
    for my $v (@{ $PUT_WRONG{$f} }) {
        my %b = (type => '"room"', $f => $v);
        my $body = '{' . join(',', map { qq("$_":$b{$_}) } sort keys %b) . '}';
        push @PUT, [ "$f $v", $body, 400, 'bad_request', $f ];
    }
}

for my $c (@PUT) {
    my ($name, $body, $status, $code, $field) = @$c;
    jerr(put_json('/admin/resources/x', $body), $status, $code, "PUT /admin/resources/x: $name",
         defined $field ? (field => $field) : ());
}

# as deep as jansson reads (2,048): kept as written, read back, listed
{
    my $deep = ('{"a":' x 2000) . '"bottom"' . ('}' x 2000);
    my $r = put_json('/admin/resources/deep', qq({"type":"desk","attributes":$deep}));
    is $r->{status}, 201, 'PUT a desk with 2,000 nested attributes: 201';
    my $deep_json = JSON::PP->new->utf8->max_depth(4096);
    $r = ask(rq(GET => '/api/resources/deep'));
    my $doc = eval { $deep_json->decode($r->{body}) };
    ok $r->{status} == 200 && ref $doc eq 'HASH' && $r->{body} =~ /"bottom"\}{2000},"created_at"/,
        'GET the deep desk: 200, its attributes as written'
        or diag "$r->{status} " . substr($r->{body}, 0, 300);
    $r = ask(rq(GET => '/api/resources?type=desk'));
    my $page = eval { $deep_json->decode($r->{body}) };
    ok $r->{status} == 200 && ref $page eq 'HASH' && @{ $page->{items} || [] } == 1,
        'listing desks with the deep one: 200'
        or diag "$r->{status} " . substr($r->{body}, 0, 300);
    $r = ask(rq(GET => '/api/resources?type=desk&from=2026-12-10&to=2026-12-11'));
    $page = eval { $deep_json->decode($r->{body}) };
    ok $r->{status} == 200 && ref $page eq 'HASH' && @{ $page->{items} || [] } == 1,
        'listing desks over a range with the deep one (read by a script): 200'
        or diag "$r->{status} " . substr($r->{body}, 0, 300);
}

healthy('JSON bodies');

# ============================================================ ids in paths

my $F_T = '?from=2026-12-01&to=2026-12-03';
# [name, id as it goes into the request line, answer for resource routes]
#   answers: 'route' 404 no such route, 'id' 400 bad_request field id,
#            'nginx400', 'nginx414'; booking routes answer 404 not_found
#            wherever the module answers
my @IDS = (
    [ 'a slash',            'a/b',                     'route' ],
    [ '..',                 '..',                      'route' ],
    [ '../x',               '../x',                    'route' ],
    [ 'above the root',     '../../../../../etc/passwd', 'nginx400' ],
    [ '%00',                'a%00b',                   'nginx400' ],
    [ '%00 alone',          '%00',                     'nginx400' ],
    [ '%2F',                'a%2Fb',                   'route' ],
    [ '%2f..%2f',           'x%2f..%2f..',             'route' ],
    [ '%2e%2e',             '%2e%2e',                  'route' ],
    [ '%2E%2E%2Fx',         '%2E%2E%2Fx',              'route' ],
    [ 'overlong %C0%AF',    '%C0%AF',                  'id' ],
    [ 'overlong ..%C0%AF',  '..%C0%AF..%C0%AFetc',     'id' ],
    [ 'raw byte 0xFF',      "x\xFF",                   'id' ],
    [ 'a 64 KB id',         'a' x 65536,               'nginx414' ],
    [ 'a 65-byte id',       'a' x 65,                  'id' ],
    [ 'a 257-byte id',      'a' x 257,                 'id' ],
    [ 'unicode, encoded',   '%C3%A9t%C3%A9',           'id' ],
    [ 'unicode, raw',       "\xC3\xA9t\xC3\xA9",       'id' ],
    [ 'space %20',          'a%20b',                   'id' ],
    [ '+',                  'a+b',                     'id' ],
    [ '%7B %7D',            '%7Bx%7D',                 'id' ],
    [ '{r:x}',              '%7Br:x%7D',               'id' ],
    [ 'CR LF %0D%0A',       'x%0D%0ASet-Cookie:%20a=b', 'id' ],
    [ '%25',                'x%25',                    'id' ],
    [ '%3F',                'x%3Fy',                   'id' ],
    [ '*',                  '*',                       'id' ],
    [ 'a dot',              'x.y',                     'id' ],
);

for my $c (@IDS) {
    my ($name, $id, $want) = @$c;
    my @routes = (
        [ "GET /api/resources/{id}",              rq(GET => "/api/resources/$id"),                 $want ],
        [ "GET /api/resources/{id}/availability", rq(GET => "/api/resources/$id/availability$F_T"), $want ],
        [ "GET /api/bookings/{id}",               rq(GET => "/api/bookings/$id", headers => $USER),
          $want =~ /^nginx/ ? $want : 'booking' ],
        [ "POST /api/bookings/{id}/confirm",      rq(POST => "/api/bookings/$id/confirm", headers => $USER, cl => 0),
          $want =~ /^nginx/ ? $want : 'booking' ],
        [ "GET /api/bookings/{id}.{rand}",        rq(GET => "/api/bookings/$id.AAAAAAAAAAAAAAAA", headers => $USER),
          $want =~ /^nginx/ ? $want : 'booking' ],
        [ "POST /api/bookings/x.{id}/confirm",    rq(POST => "/api/bookings/x.$id/confirm", headers => $USER, cl => 0),
          $want =~ /^nginx/ ? $want : 'booking' ],
    );
    for my $rt (@routes) {
        my ($route, $bytes, $w) = @$rt;
        my $r = ask($bytes);
        my $n = "$route, id $name";
        if    ($w eq 'route')    { jerr($r, 404, 'not_found', $n) }
        elsif ($w eq 'booking')  { jerr($r, 404, 'not_found', $n) }
        elsif ($w eq 'id')       { jerr($r, 400, 'bad_request', $n, field => 'id') }
        elsif ($w eq 'nginx400') { nginx_is($r, 400, $n) }
        elsif ($w eq 'nginx414') { nginx_is($r, 414, $n) }
        ok !exists $r->{headers}{'set-cookie'}, "$n: no header injected" if $id =~ /%0D/;
    }
}

# an unknown but well-formed id
jerr(ask(rq(GET => '/api/resources/nope')), 404, 'not_found', 'GET /api/resources/nope');
jerr(ask(rq(GET => "/api/bookings/$BK", headers => $USER)), 404, 'not_found', "GET /api/bookings/$BK");
jerr(ask(rq(POST => "/api/bookings/$BK/confirm", headers => $USER, cl => 0)), 404, 'not_found',
     "POST /api/bookings/$BK/confirm");
# a malformed request line, whatever the route
nginx_is(ask("GET /api/resources/x HTTP/1.1 extra\r\nHost: l\r\nConnection: close\r\n\r\n"), 400,
         'request line with a fourth word');
nginx_is(ask("get /api/resources/x HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n"), 400,
         'lowercase method');
nginx_is(ask("GET /api/resources/a\x01b HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n"), 400,
         'control character in the request line');
nginx_is(ask("GET api/resources/x HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n"), 400,
         'path without a leading slash');

healthy('ids in paths');

# ============================================================ body sizes

my $LIMIT = 4096;
sub padded {
    my ($json, $len) = @_;
    return $json . (' ' x ($len - length $json));
}
my $CHUNKED = { %$JSON, 'Transfer-Encoding' => 'chunked' };

{
    my $r = put_json('/small/resources/lim', padded('{"type":"room"}', $LIMIT));
    is $r->{status}, 201, 'PUT a body of exactly client_max_body_size: 201';

    $r = put_json('/small/resources/lim2', padded('{"type":"room"}', $LIMIT + 1));
    jerr($r, 413, 'too_large', 'PUT a body one byte over client_max_body_size');

    $r = post_json('/small/bookings', padded(qq({"resource":"x",$S,$E}), $LIMIT + 1));
    jerr($r, 413, 'too_large', 'POST /bookings one byte over client_max_body_size');

    # announced, never sent: answered at once (nginx then lingers 5 s for
    # the body; the answer is in by 1.5 s)
    $r = ask(rq(PUT => '/small/resources/lim2', headers => $JSON, cl => 1 << 30), 1.5);
    jerr($r, 413, 'too_large', 'Content-Length of 1 GB, no body');

    $r = ask(rq(PUT => '/small/resources/lim2', headers => { %$JSON, Expect => '100-continue' },
                cl => $LIMIT + 1), 1.5);
    jerr($r, 413, 'too_large', 'Expect: 100-continue over client_max_body_size');

    # Content-Length nginx cannot read: nginx answers before the module runs
    nginx_is(ask(rq(PUT => '/small/resources/lim2', headers => $JSON, cl => '99999999999999999999')), 400,
             'Content-Length past 64 bits');
    nginx_is(ask(rq(PUT => '/small/resources/lim2', headers => $JSON, cl => '-1')), 400,
             'Content-Length -1');
    nginx_is(ask(rq(PUT => '/small/resources/lim2', headers => { %$JSON, 'Content-Length' => [ 2, 3 ] },
                    cl => undef, body => '{}')), 400, 'two Content-Length headers');
    nginx_is(ask(rq(PUT => '/small/resources/lim2', headers => $CHUNKED,
                    body => "2\r\n{}\r\n0\r\n\r\n")), 400,
             'Transfer-Encoding: chunked with a Content-Length');

    # chunked
    $r = ask(rq(PUT => '/small/resources/chk', headers => $CHUNKED, cl => undef,
                body => "1\r\n{\r\nd;ext=1\r\n\"type\":\"room\"\r\n1\r\n}\r\n0\r\n\r\n"));
    is $r->{status}, 201, 'PUT a valid chunked body: 201';

    $r = ask(rq(PUT => '/small/resources/lim2', headers => $CHUNKED, cl => undef,
                body => join('', map { "3e8\r\n" . (' ' x 1000) . "\r\n" } 1 .. 5) . "0\r\n\r\n"));
    jerr($r, 413, 'too_large', 'chunked body of 5 x 1000 bytes, over the limit');

    $r = ask(rq(PUT => '/small/resources/lim2', headers => $CHUNKED, cl => undef,
                body => "2000\r\n{}"), 5);
    jerr($r, 413, 'too_large', 'one chunk announced over the limit');

    $r = ask(rq(PUT => '/small/resources/lim2', headers => $CHUNKED, cl => undef,
                body => "1001\r\n" . padded('{"type":"room"}', 4097) . "\r\n0\r\n\r\n"));
    jerr($r, 413, 'too_large', 'one chunk one byte over the limit');

    my @MALFORMED = (
        [ 'size zz',                 "zz\r\n{}\r\n0\r\n\r\n" ],
        [ 'size -1',                 "-1\r\n{}\r\n0\r\n\r\n" ],
        [ 'size past 64 bits',       "ffffffffffffffffffff\r\n{}\r\n0\r\n\r\n" ],
        [ 'size 2^63',               "8000000000000000\r\n{}\r\n0\r\n\r\n" ],
        [ 'empty size',              "\r\n{}\r\n0\r\n\r\n" ],
        [ 'data longer than its size', "1\r\n{}\r\n0\r\n\r\n" ],
        [ 'size with a space inside', "1 0\r\n{}\r\n0\r\n\r\n" ],
        [ 'bare LF and garbage',     "2\n{}\nxx\r\n" ],
    );
    for my $m (@MALFORMED) {
        my ($name, $body) = @$m;
        my $r = ask(rq(PUT => '/small/resources/lim2', headers => $CHUNKED, cl => undef, body => $body), 5);
        # nginx finds it while the module reads the body: the module's JSON
        jerr($r, 400, 'bad_request', "malformed chunked body ($name)");
    }

    # a slow body that completes: a normal answer
    my $head = rq(PUT => '/small/resources/slow', headers => $JSON, cl => 15);
    $r = ask([ $head, \0.5, '{"type"', \0.5, ':"ro', \0.5, 'om"}' ], 10);
    is $r->{status}, 201, 'a body sent in pieces 0.5 s apart: 201';

    $r = ask([ rq(PUT => '/small/resources/slowc', headers => $CHUNKED, cl => undef),
               "8\r\n{\"type\":", \0.5, "\r\n6\r\n\"room\"", \0.5, "\r\n1\r\n}\r\n", \0.5, "0\r\n\r\n" ], 10);
    is $r->{status}, 201, 'a chunked body sent in pieces 0.5 s apart: 201';

    # stalled past client_body_timeout (2 s): 408, which nginx answers by
    # closing the connection
    my $t1 = Time::HiRes::time();
    $r = ask([ rq(PUT => '/small/resources/stall', headers => $JSON, cl => 40) . '{"type":' ], 8);
    my $took = Time::HiRes::time() - $t1;
    ok $r->{status} == 0 || ($r->{status} >= 400 && $r->{status} < 500),
        'a body stalled past client_body_timeout: closed or 4xx'
        or diag "status $r->{status}";
    ok $took > 1.5 && $took < 5 * $SLOW, sprintf('nginx closed the stalled connection after client_body_timeout (%.1f s)', $took);

    # Content-Length larger than the body, then the client goes away
    $t->raw(rq(PUT => '/small/resources/gone', headers => $JSON, cl => 100) . '{"type":"room"}', 0.3);
    $t->raw(rq(POST => '/api/bookings', headers => { %$JSON, %$USER }, cl => 100)
            . qq({"resource":"x",$S,$E}), 0.3);
    $t->raw(rq(PUT => '/small/resources/gone', headers => $CHUNKED, cl => undef) . "ff\r\n{", 0.3);
    Time::HiRes::sleep(0.2);
    is $t->redis('EXISTS', rkey('gone')), 0, 'bodies cut short created nothing';
    is $t->redis('EXISTS', rkey('lim2')), 0, 'bodies refused as too large created nothing';
    is $t->redis('EXISTS', rkey('stall')), 0, 'the stalled body created nothing';
}

healthy('body sizes');

# ============================================================ Content-Type

{
    my $book = qq({"resource":"x","start":"2026-12-10T10:00:00Z",$E});    # off the slot: 422 once read
    my @CT = ('text/plain', 'application/jsonx', 'application/json-patch+json', 'application/x-json',
              'multipart/form-data; boundary=xyz', 'application/x-www-form-urlencoded', 'json',
              'application/', 'application/json,text/plain', '*/*', 'text/json');
    for my $ct (@CT) {
        jerr(ask(rq(POST => '/api/bookings', headers => { %$USER, 'Content-Type' => $ct }, body => $book)),
             415, 'unsupported_media_type', "POST /api/bookings with Content-Type $ct");
        jerr(ask(rq(PUT => '/admin/resources/x', headers => { 'Content-Type' => $ct }, body => '{"type":"room"}')),
             415, 'unsupported_media_type', "PUT /admin/resources/x with Content-Type $ct");
    }
    jerr(ask(rq(POST => '/api/bookings', headers => $USER, body => $book)),
         415, 'unsupported_media_type', 'POST /api/bookings with a body and no Content-Type');
    jerr(ask(rq(PUT => '/admin/resources/x', body => '{"type":"room"}')),
         415, 'unsupported_media_type', 'PUT /admin/resources/x with a body and no Content-Type');
    jerr(ask(rq(PUT => '/admin/resources/x', headers => { 'Transfer-Encoding' => 'chunked', 'Content-Type' => 'text/plain' },
                cl => undef, body => "2\r\n{}\r\n0\r\n\r\n")),
         415, 'unsupported_media_type', 'PUT /admin/resources/x chunked, text/plain');
    jerr(ask(rq(PUT => '/admin/resources/x', headers => { 'Transfer-Encoding' => 'chunked' },
                cl => undef, body => "2\r\n{}\r\n0\r\n\r\n")),
         415, 'unsupported_media_type', 'PUT /admin/resources/x chunked, no Content-Type');
    jerr(ask(rq(POST => "/api/bookings/$BK/confirm", headers => { %$USER, 'Content-Type' => 'text/plain' },
                body => 'confirm')),
         415, 'unsupported_media_type', 'confirm with a text/plain body');
    jerr(ask(rq(POST => "/api/bookings/$BK/confirm", headers => $USER, cl => 0)), 404, 'not_found',
         'confirm with no body needs no Content-Type');

    for my $ct ('application/json; charset=utf-8', 'APPLICATION/JSON', 'Application/Json;charset=UTF-8',
                'application/json ; charset=utf-8') {
        jerr(ask(rq(POST => '/api/bookings', headers => { %$USER, 'Content-Type' => $ct }, body => $book)),
             422, 'invalid', "POST /api/bookings with Content-Type $ct is read", field => 'start');
    }
    my $n = 0;
    for my $ct ('application/json; charset=utf-8', 'APPLICATION/JSON') {
        $n++;
        my $r = ask(rq(PUT => "/admin/resources/ct$n", headers => { 'Content-Type' => $ct },
                       body => '{"type":"room"}'));
        is $r->{status}, 201, "PUT /admin/resources/ct$n with Content-Type $ct: 201";
    }
}

healthy('Content-Type');

# ============================================================ methods

{
    my @ROUTES = (
        [ '/api/resources',                     'GET, HEAD' ],
        [ '/api/resources/x',                   'GET, HEAD, PUT, DELETE' ],
        [ '/api/resources/x/availability',      'GET, HEAD' ],
        [ '/api/resources/x/calendar.ics',      'GET, HEAD' ],
        [ '/api/bookings',                      'GET, HEAD, POST' ],
        [ "/api/bookings/$BK",                  'GET, HEAD' ],
        (map { [ "/api/bookings/$BK/$_", 'POST' ] } qw(confirm cancel approve decline)),
        [ '/admin/resources/x',                 'GET, HEAD, PUT, DELETE' ],
        [ '/admin/bookings',                    'GET, HEAD, POST' ],
    );
    for my $rt (@ROUTES) {
        my ($path, $allow) = @$rt;
        my %allowed = map { $_ => 1 } split /, /, $allow;
        for my $m (qw(PATCH OPTIONS PROPFIND FOO MKCOL COPY), grep { !$allowed{$_} } qw(GET POST PUT DELETE)) {
            my $r = ask(rq($m => $path, headers => $USER, cl => 0));
            jerr($r, 405, 'method_not_allowed', "$m $path");
            is $r->{headers}{allow}, $allow, "$m $path: Allow: $allow";
        }
    }
    for my $path ('/api/nope', '/api/', '/api/resources/x/nope', '/api/resources/x/', '/api/resources/x/availability/y',
                  "/api/bookings/$BK/frob", "/api/bookings/$BK/confirm/x", '/api/bookings/', '/api/Resources/x') {
        for my $m (qw(GET FOO PATCH)) {
            jerr(ask(rq($m => $path, headers => $USER, cl => 0)), 404, 'not_found', "$m $path (no such route)");
        }
    }
    nginx_is(ask(rq(TRACE => '/api/resources/x')), 405, 'TRACE /api/resources/x');

    # HEAD: the status and headers of GET, no body
    my @HEAD = (
        [ '/api/resources/x',                 200, 'application/json' ],
        [ "/api/resources/x/availability$F_T", 200, 'application/json' ],
        [ '/api/resources/x/calendar.ics',    200, 'text/calendar' ],
        [ '/api/resources?type=room',         200, 'application/json' ],
        [ '/api/bookings',                    200, 'application/json' ],
        [ "/api/bookings/$BK",                404, 'application/json' ],
        [ '/api/resources/%C0%AF',            400, 'application/json' ],
        [ '/api/resources/nope',              404, 'application/json' ],
        [ '/api/nope',                        404, 'application/json' ],
        [ '/api/resources?type=room&type=room', 400, 'application/json' ],
    );
    for my $h (@HEAD) {
        my ($path, $status, $ct) = @$h;
        my $raw = $t->raw(rq(HEAD => $path, headers => $USER));
        my ($head, $rest) = split /\r\n\r\n/, $raw, 2;
        $rest //= '';
        ok $head =~ m{\AHTTP/1\.1 $status } && $head =~ m{^Content-Type: \Q$ct\E}mi && $rest eq '',
            "HEAD $path: $status, $ct, no body"
            or diag $raw;
    }
}

healthy('methods');

# ============================================================ query strings

{
    my $F = 'from=2026-12-01';
    my $T = 'to=2026-12-03';
    # nginx reads a request line of at most 8 KB (large_client_header_buffers):
    # 7.9 KB values reach the module, 8 KB ones get nginx's 414
    my $LONG = 'v' x 7900;
    for my $path ('/api/resources/x/availability?from=', '/api/resources?type=room&x=', '/api/bookings?cursor=') {
        nginx_is(ask(rq(GET => $path . ('v' x 8192), headers => $USER)), 414, "${path}<8 KB>");
    }
    my $av = '/api/resources/x/availability';

    # [query, status, code, field] on availability
    my @AV = (
        [ "$F&$F&$T",                 400, 'bad_request', 'from' ],
        [ "$F&$T&$T",                 400, 'bad_request', 'to' ],
        [ "$F&from=2026-12-02&$T",    400, 'bad_request', 'from' ],
        [ "from&$T",                  400, 'bad_request', 'from' ],
        [ "from=&$T",                 400, 'bad_request', 'from' ],
        [ "$F&to=2026-12-03%",        400, 'bad_request', 'to' ],
        [ "$F&to=2026-12-03%2",       400, 'bad_request', 'to' ],
        [ "from=%zz&$T",              400, 'bad_request', 'from' ],
        [ "from=2026-12-01%00&$T",    400, 'bad_request', 'from' ],
        [ "from=%00&$T",              400, 'bad_request', 'from' ],
        [ "from=$LONG&$T",            400, 'bad_request', 'from' ],
        [ "from=2026-12-01T00:00:00+01:00&$T", 400, 'bad_request', 'from' ],   # '+' is a space
        [ "from=2026-12-01%26to%3D2026-12-03", 400, 'bad_request', 'from' ],
        [ "from=0000-00-00&$T",       400, 'bad_request', 'from' ],
        [ "from=99999-01-01&$T",      400, 'bad_request', 'from' ],
        [ "$F&to=2026-12-01",         422, 'invalid', 'to' ],
        [ "$F&to=2028-12-01",         422, 'invalid', 'to' ],
        [ "$F",                       400, 'bad_request', 'to' ],
        [ '',                         400, 'bad_request', 'from' ],
        # an argument the route does not read is refused: it would only
        # make one answer many cache keys (empty pairs are nothing)
        [ "=x&$F&$T",                 400, 'bad_request' ],
        [ "&&$F&&$T&&",               200 ],
        [ "$F&$T&x",                  400, 'bad_request', 'x' ],
        [ "x=%zz&$F&$T",              400, 'bad_request', 'x' ],
        [ "x=%&$F&$T",                400, 'bad_request', 'x' ],
        [ "x=$LONG&$F&$T",            400, 'bad_request', 'x' ],
        [ "$LONG=1&$F&$T",            400, 'bad_request', substr($LONG, 0, 64) ],
        [ "from=2026-12-01T00:00:00%2B01:00&$T", 200 ],
    );
    for my $c (@AV) {
        my ($q, $status, $code, $field) = @$c;
        my $r = ask(rq(GET => "$av?$q"));
        my $name = 'availability ?' . (length $q > 60 ? substr($q, 0, 40) . '...' : $q);
        if ($status == 200) {
            ok $r->{status} == 200 && ref $r->{json} eq 'HASH' && ref $r->{json}{free} eq 'ARRAY', "$name: 200"
                or diag "$r->{status} $r->{body}";
        } else {
            jerr($r, $status, $code, $name, field => $field);
        }
    }

    my @LIST = (
        [ 'type=room&type=room',      400, 'bad_request', 'type' ],
        [ 'type=room&type=desk',      400, 'bad_request', 'type' ],
        [ 'type',                     422, 'invalid', 'type' ],
        [ 'type=',                    422, 'invalid', 'type' ],
        [ '',                         400, 'bad_request', 'type' ],
        [ 'type=room%',               400, 'bad_request', 'type' ],
        [ 'type=%zz',                 400, 'bad_request', 'type' ],
        [ 'type=room%00',             400, 'bad_request', 'type' ],
        [ "type=$LONG",               400, 'bad_request', 'type' ],
        [ "type=room&$F&$F&$T",       400, 'bad_request', 'from' ],
        [ "type=room&from&$T",        400, 'bad_request', 'from' ],
        [ "type=room&$F",             400, 'bad_request', 'to' ],
        [ "type=room&from=%zz&$T",    400, 'bad_request', 'from' ],
        [ "type=room&$F&to=$LONG",    400, 'bad_request', 'to' ],
        [ 'type=room&limit',          400, 'bad_request', 'limit' ],
        [ 'type=room&limit=1&limit=2', 400, 'bad_request', 'limit' ],
        [ 'type=room&limit=%',        400, 'bad_request', 'limit' ],
        [ 'type=room&limit=0',        422, 'invalid', 'limit' ],
        [ 'type=room&limit=99999999999999999999', 400, 'bad_request', 'limit' ],
        [ 'type=room&quantity=99999999999999999999', 400, 'bad_request', 'quantity' ],
        [ 'type=room&quantity=-1',    400, 'bad_request', 'quantity' ],
        [ 'type=room&near',           400, 'bad_request', 'near' ],
        [ 'type=room&near=nan,1',     400, 'bad_request', 'near' ],
        [ 'type=room&near=1e1,2',     400, 'bad_request', 'near' ],
        [ 'type=room&near=1,2,3',     400, 'bad_request', 'near' ],
        [ "type=room&near=$LONG",     400, 'bad_request', 'near' ],
        [ 'type=room&near=95,0',      422, 'invalid', 'near' ],
        [ 'type=room&radius=5',       400, 'bad_request', 'radius' ],
        [ 'type=room&cursor',         400, 'bad_request', 'cursor' ],
        [ 'type=room&cursor=%zz',     400, 'bad_request', 'cursor' ],
        [ 'type=room&cursor=%00',     400, 'bad_request', 'cursor' ],
        [ "type=room&cursor=$LONG",   400, 'bad_request', 'cursor' ],
        [ 'type=room&cursor=!!!!',    400, 'bad_request', 'cursor' ],
        [ 'type=castle',              422, 'invalid', 'type' ],
        [ '=&type=room',              400, 'bad_request' ],
        [ '&&type=room&&',            200 ],
        [ '&type=room&&x&=',          400, 'bad_request', 'x' ],
        [ "type=room&x=%zz&y=$LONG",  400, 'bad_request', 'x' ],
        [ 'typ%65=room&type=room',    400, 'bad_request', 'typ%65' ],
    );
    for my $c (@LIST) {
        my ($q, $status, $code, $field) = @$c;
        my $r = ask(rq(GET => "/api/resources?$q"));
        my $name = 'listing ?' . (length $q > 60 ? substr($q, 0, 40) . '...' : $q);
        if ($status == 200) {
            ok $r->{status} == 200 && ref $r->{json} eq 'HASH' && ref $r->{json}{items} eq 'ARRAY', "$name: 200"
                or diag "$r->{status} $r->{body}";
        } else {
            jerr($r, $status, $code, $name, field => $field);
        }
    }

    my @MINE = (
        [ "$F&$F&$T",                 400, 'bad_request', 'from' ],
        [ "from&$T",                  400, 'bad_request', 'from' ],
        [ "from=%zz&$T",              400, 'bad_request', 'from' ],
        [ "from=2026-12-01%00&$T",    400, 'bad_request', 'from' ],
        [ "from=$LONG&$T",            400, 'bad_request', 'from' ],
        [ "$F&to=%",                  400, 'bad_request', 'to' ],
        [ "$F",                       400, 'bad_request', 'to' ],
        [ 'status=held&status=held',  400, 'bad_request', 'status' ],
        [ 'status=%zz',               400, 'bad_request', 'status' ],
        [ "status=$LONG",             400, 'bad_request', 'status' ],
        [ 'status',                   422, 'invalid', 'status' ],
        [ 'status=HELD',              422, 'invalid', 'status' ],
        [ 'limit',                    400, 'bad_request', 'limit' ],
        [ 'limit=5%',                 400, 'bad_request', 'limit' ],
        [ 'limit=101',                422, 'invalid', 'limit' ],
        [ 'cursor',                   400, 'bad_request', 'cursor' ],
        [ 'cursor=',                  400, 'bad_request', 'cursor' ],
        [ 'cursor=%00',               400, 'bad_request', 'cursor' ],
        [ 'cursor=!!!!',              400, 'bad_request', 'cursor' ],
        [ 'cursor=AA%0AA',            400, 'bad_request', 'cursor' ],
        [ 'resource=x&resource=x',    404, 'not_found', 'resource' ],
        [ 'resource=%zz',             404, 'not_found', 'resource' ],
        [ 'resource=',                404, 'not_found', 'resource' ],
        [ 'resource=%7Br:x%7D',       404, 'not_found', 'resource' ],
        [ "resource=$LONG",           404, 'not_found', 'resource' ],
        [ '&&',                       200 ],
        [ '=&&x',                     400, 'bad_request' ],
        [ "x=%zz&y=$LONG&z=%",        400, 'bad_request', 'x' ],
    );
    for my $c (@MINE) {
        my ($q, $status, $code, $field) = @$c;
        my $r = ask(rq(GET => "/api/bookings?$q", headers => $USER));
        my $name = 'GET /api/bookings?' . (length $q > 60 ? substr($q, 0, 40) . '...' : $q);
        if ($status == 200) {
            ok $r->{status} == 200 && ref $r->{json} eq 'HASH' && ref $r->{json}{items} eq 'ARRAY', "$name: 200"
                or diag "$r->{status} $r->{body}";
        } else {
            jerr($r, $status, $code, $name, field => $field);
        }
    }

    # an unreadable cursor as the only argument, right after a listing page
    # on the same connection (so in the same worker, whose stack the page
    # left full of large numbers): the module once sized the cursor's buffer
    # from a length it never set, and logged malloc(<garbage>) failed
    # [emerg]
    for my $q ('cursor=%zz', "cursor=$LONG", 'cursor=%', 'cursor=%00') {
        my $name = 'GET /api/bookings?' . substr($q, 0, 20) . ' after a listing page';
        my $raw = $t->raw(rq(GET => '/api/resources?type=room&from=2026-12-01&to=2026-12-05', keep => 1)
                          . rq(GET => "/api/bookings?$q", headers => $USER));
        my ($got) = responses($raw, 'GET', 'GET');
        is $got->[0]{status}, 200, "$name: the page 200";
        jerr($got->[1] || { status => 0, headers => {} }, 400, 'bad_request', $name, field => 'cursor');
    }
    # never 5xx, whatever the arguments
    my $five = 0;
    for my $q ('%', '%%', '%zz=%zz', '&', '=', '==', "$LONG=$LONG", 'from=%C0%AF&to=%ED%A0%80',
               'type=room&from=%FF&to=%FF', 'type=%FF', 'cursor=%FF', 'status=%FF', 'resource=%FF') {
        for my $path ("$av?", '/api/resources?', '/api/bookings?') {
            my $r = ask(rq(GET => "$path$q", headers => $USER));
            $five++, diag("$path$q: $r->{status}") if $r->{status} < 200 || $r->{status} >= 500;
        }
    }
    is $five, 0, 'no query string gets a 5xx';

    {
        my @bad = new_bad_lines();
        is_deeply \@bad, [], 'an unreadable cursor logs no [emerg] (no allocation sized by an unset length)';
        $EXCUSED{$_} = 1 for @bad;
    }

}

healthy('query strings');

# ============================================================ headers

{
    my $book = qq({"resource":"x","start":"2026-12-10T10:00:00Z",$E});    # off the slot: 422 once read
    for my $u ("a\x01b", "a\x1b[31mb", "a\x7fb", "a\tb", "a\x08", "\x1f") {
        (my $shown = $u) =~ s/([^\x20-\x7e])/sprintf '\\x%02x', ord $1/ge;
        jerr(ask(rq(POST => '/api/bookings', headers => { %$JSON, 'X-User-Id' => $u }, body => $book)),
             400, 'bad_request', "X-User-Id \"$shown\" on POST /api/bookings", field => 'user');
        jerr(ask(rq(GET => '/api/bookings', headers => { 'X-User-Id' => $u })),
             400, 'bad_request', "X-User-Id \"$shown\" on GET /api/bookings", field => 'user');
        jerr(ask(rq(POST => "/api/bookings/$BK/cancel", headers => { 'X-User-Id' => $u }, cl => 0)),
             400, 'bad_request', "X-User-Id \"$shown\" on cancel", field => 'user');
    }
    nginx_is(ask(rq(GET => '/api/bookings', headers => { 'X-User-Id' => "a\x00b" })), 400,
             'X-User-Id with a NUL');
    nginx_is(ask("GET /api/bookings HTTP/1.1\r\nHost: l\r\nX-User-Id: a\rb\r\nConnection: close\r\n\r\n"), 400,
             'X-User-Id with a bare CR');

    jerr(ask(rq(GET => '/api/bookings', headers => { 'X-User-Id' => 'u' x 200 })),
         400, 'bad_request', 'X-User-Id of 200 bytes', field => 'user');
    jerr(ask(rq(GET => '/api/bookings', headers => { 'X-User-Id' => 'u' x 129 })),
         400, 'bad_request', 'X-User-Id of 129 bytes', field => 'user');
    jerr(ask(rq(POST => '/api/bookings', headers => { %$JSON, 'X-User-Id' => 'u' x 200 }, body => $book)),
         400, 'bad_request', 'X-User-Id of 200 bytes on POST', field => 'user');
    is ask(rq(GET => '/api/bookings', headers => { 'X-User-Id' => 'u' x 128 }))->{status}, 200,
        'X-User-Id of 128 bytes: 200';
    nginx_is(ask(rq(GET => '/api/bookings', headers => { 'X-User-Id' => 'u' x 10000 })), 400,
             'X-User-Id of 10 KB (past large_client_header_buffers)');

    # Booking-Token
    nginx_is(ask(rq(POST => "/api/bookings/$BK/confirm", headers => { 'Booking-Token' => 't' x 10240 }, cl => 0)),
             400, 'Booking-Token of 10 KB (past large_client_header_buffers)');
    for my $tok ('t' x 7000, '', '!!!!', "a\x01b", 'A' x 43, '%00') {
        (my $shown = substr($tok, 0, 12)) =~ s/([^\x20-\x7e])/sprintf '\\x%02x', ord $1/ge;
        jerr(ask(rq(POST => "/api/bookings/$BK/confirm", headers => { 'Booking-Token' => $tok }, cl => 0)),
             401, 'unauthenticated', sprintf('Booking-Token "%s" (%d bytes) is no key', $shown, length $tok));
    }
    jerr(ask(rq(POST => "/api/bookings/$BK/cancel", headers => { 'Booking-Token' => [ 'a', 'b' ] }, cl => 0)),
         401, 'unauthenticated', 'two Booking-Token headers');

    # Idempotency-Key
    jerr(ask(rq(POST => '/api/bookings', headers => { %$JSON, %$USER, 'Idempotency-Key' => 'k' x 300 }, body => $book)),
         400, 'bad_request', 'Idempotency-Key of 300 bytes', field => 'Idempotency-Key');
    jerr(ask(rq(POST => '/api/bookings', headers => { %$JSON, %$USER, 'Idempotency-Key' => 'k' x 256 }, body => $book)),
         400, 'bad_request', 'Idempotency-Key of 256 bytes', field => 'Idempotency-Key');
    jerr(ask(rq(POST => '/api/bookings', headers => { %$JSON, %$USER, 'Idempotency-Key' => 'k' x 255 }, body => $book)),
         422, 'invalid', 'Idempotency-Key of 255 bytes is taken (the body is then refused)', field => 'start');
    jerr(ask(rq(POST => '/api/bookings', headers => { %$JSON, %$USER, 'Idempotency-Key' => '' }, body => $book)),
         400, 'bad_request', 'empty Idempotency-Key', field => 'Idempotency-Key');
    for my $k ("key\x01key", "key\x1bkey", "key\x7f", "k\tk") {
        (my $shown = $k) =~ s/([^\x20-\x7e])/sprintf '\\x%02x', ord $1/ge;
        jerr(ask(rq(POST => '/api/bookings', headers => { %$JSON, %$USER, 'Idempotency-Key' => $k }, body => $book)),
             400, 'bad_request', "Idempotency-Key \"$shown\"", field => 'Idempotency-Key');
    }
    nginx_is(ask(rq(POST => '/api/bookings', headers => { %$JSON, %$USER, 'Idempotency-Key' => "k\x00k" },
                    body => $book)), 400, 'Idempotency-Key with a NUL');

    # a header line nginx cannot read, and too many of them
    nginx_is(ask("GET /api/bookings HTTP/1.1\r\nHost: l\r\nX-User Id: ann\r\nConnection: close\r\n\r\n"), 400,
             'header name with a space');
    nginx_is(ask(rq(GET => '/api/resources/x', headers => { map { ("X-H$_" => 'h' x 1000) } 1 .. 40 })), 400,
             '40 KB of headers (past large_client_header_buffers)');
}

healthy('headers');

# ============================================================ pipelining

{
    my $book = qq({"resource":"x","start":"2026-12-10T10:00:00Z",$E});
    my @P = (
        [ GET  => rq(GET => '/api/resources/x', keep => 1),                          200 ],
        [ POST => rq(POST => '/api/bookings', headers => { %$JSON, %$USER }, body => '{"resource":', keep => 1),
          400, 'invalid_json' ],
        [ GET  => rq(GET => '/api/resources/%C0%AF', keep => 1),                     400, 'bad_request', 'id' ],
        [ PATCH => rq(PATCH => '/api/resources/x', keep => 1),                       405, 'method_not_allowed' ],
        [ POST => rq(POST => '/api/bookings', headers => { %$USER, 'Content-Type' => 'text/plain' },
                     body => 'x' x 3000, keep => 1),                                 415, 'unsupported_media_type' ],
        [ GET  => rq(GET => '/api/resources/nope', keep => 1),                       404, 'not_found' ],
        [ HEAD => rq(HEAD => '/api/resources/x', keep => 1),                         200 ],
        [ POST => rq(POST => '/api/bookings', headers => { %$JSON, %$USER }, body => $book, keep => 1),
          422, 'invalid', 'start' ],
        [ DELETE => rq(DELETE => '/api/resources/x', keep => 1),                     403, 'forbidden' ],
        [ GET  => rq(GET => '/api/bookings?cursor=!!', headers => $USER, keep => 1), 400, 'bad_request', 'cursor' ],
        [ PUT  => rq(PUT => '/admin/resources/x', headers => $JSON, body => $DEEP_O, keep => 1),
          400, 'invalid_json' ],
        [ GET  => rq(GET => '/api/bookings', headers => { 'X-User-Id' => "a\x01" }, keep => 1),
          400, 'bad_request', 'user' ],
        [ POST => rq(POST => "/api/bookings/$BK/confirm", headers => $USER, cl => 0, keep => 1), 404, 'not_found' ],
        [ GET  => rq(GET => '/api/resources/x'),                                    200 ],
    );
    for my $round (1, 2) {
        # round 1: all in one write; round 2: byte by byte in 3 pieces
        my $all = join '', map { $_->[1] } @P;
        my $send = $round == 1 ? $all
                 : [ substr($all, 0, 100), \0.1, substr($all, 100, 5000), \0.1, substr($all, 5100) ];
        my $raw = $t->raw($send, 10 * $SLOW);
        my ($got, $rest) = responses($raw, map { $_->[0] } @P);
        is scalar @$got, scalar @P, "pipelined (round $round): " . scalar(@P) . ' answers on one connection';
        for my $i (0 .. $#P) {
            my ($m, $bytes, $status, $code, $field) = @{ $P[$i] };
            my ($line) = $bytes =~ /\A([^\r\n]*)/;
            my $r = $got->[$i] || { status => 0, headers => {}, body => '' };
            my $name = "pipelined (round $round) #" . ($i + 1) . " $line";
            if ($status == 200) {
                ok $r->{status} == 200 && ($m eq 'HEAD' ? $r->{body} eq '' : $r->{body} eq $X_DOC), "$name: 200"
                    or diag "$r->{status} $r->{body}";
            } else {
                jerr($r, $status, $code, $name, defined $field ? (field => $field) : ());
            }
        }
        is $rest, '', "pipelined (round $round): nothing after the last answer";
    }

    # a 413 ends the connection: what was pipelined behind it is not answered
    my $raw = $t->raw(rq(GET => '/api/resources/x', keep => 1)
                      . rq(PUT => '/small/resources/big', headers => $JSON, body => padded('{"type":"room"}', 5000), keep => 1)
                      . rq(GET => '/api/resources/x'), 10 * $SLOW);
    my ($got) = responses($raw, qw(GET PUT GET));
    is scalar @$got, 2, 'pipelined behind a 413: two answers, then the connection closes';
    is $got->[0]{status}, 200, 'pipelined behind a 413: the first one 200';
    jerr($got->[1] || { status => 0, headers => {} }, 413, 'too_large', 'pipelined behind a 413: 413 JSON');
}

healthy('pipelining');

# ============================================================ afterwards

{
    my $r = $t->req(GET => '/api/resources/x');
    is $r->{status}, 200, 'afterwards: GET /api/resources/x answers 200';
    is $r->{body}, $X_DOC, 'afterwards: its document is unchanged';
    is_deeply redis_hash(rkey('x')), $X_HASH, 'afterwards: its Redis hash is unchanged';

    # what the good requests made: resources lim, chk, slow, slowc, ct1,
    # ct2 (rooms) and deep (a desk), with the desk index
    my @made = map { rkey($_) } qw(lim chk slow slowc ct1 ct2 deep);
    my %keys = map { $_ => 1 } @{ $t->redis('KEYS', 'bk:*') };
    # (the sweeper's lease, which a Cluster's nginx runs, is no request's)
    my @new = sort grep { !$KEYS0{$_} && !/^bk:\{lease\}:/ } keys %keys;
    my @gone = sort grep { !$keys{$_} } keys %KEYS0;
    is_deeply \@new, [ sort @made, 'bk:{t:desk}:ids' ], 'afterwards: the only new keys are those of the good requests';
    is_deeply \@gone, [], 'afterwards: no key was removed';
    is_deeply [ grep { index($_, rkey('x')) == 0 } keys %keys ], [ rkey('x') ],
              'afterwards: no booking of x exists';
    is_deeply [ grep { /\{u:/ } keys %keys ], [], 'afterwards: no user index exists';

    is_deeply [ $t->worker_pids ], \@PIDS, 'afterwards: the same worker pids are alive';
    my @bad = new_bad_lines();
    is_deeply \@bad, [], 'afterwards: no [alert]/[crit]/[emerg]/signal in the error log';
}

my $took = Time::HiRes::time() - $t0;
note sprintf('the whole file ran in %.1f s', $took);

$t->stop;
done_testing;

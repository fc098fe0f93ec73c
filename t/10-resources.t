# Resources over HTTP: PUT/GET/HEAD/DELETE /resources/{id}, ids, body
# validation, content types, body size, routing and JSON errors (SPEC §4).

use strict;
use warnings;
use utf8;
use Test::More;
use JSON::PP ();
use Time::HiRes qw(time sleep);
use BookingTest;

my $SERVER = <<'EOT';
location /api/ { booking_api; }
location /admin/ { client_max_body_size 1k; booking_api admin; }
location /admin-big/ { booking_api admin; }
location = /plain { return 200 "plain\n"; }
EOT

my $t = BookingTest->new(server => $SERVER);
my @workers = $t->worker_pids;
my $JSON = JSON::PP->new->utf8->canonical;

my $RFC3339Z = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

sub epoch {
    my ($s) = @_;
    my ($y, $mo, $d, $h, $mi, $sec) = $s =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)Z$/ or return undef;
    require Time::Local;
    return Time::Local::timegm($sec, $mi, $h, $d, $mo - 1, $y);
}

sub put_json {
    my ($tt, $path, $raw, %h) = @_;
    return $tt->req(PUT => $path, body => $raw,
                    headers => { 'Content-Type' => 'application/json', %h });
}

# ------------------------------------------------------------ create, read

my %doc = (
    type       => 'room',
    capacity   => 3,
    title      => 'Sunny room',
    owner      => 'olga',
    location   => { lat => 48.8566, lon => 2.3522 },
    attributes => { beds => 2, wifi => JSON::PP::true, tags => [ 'quiet', 'view' ] },
    groups     => [ 'staff', 'members' ],
);

my $t0 = time;
my $r = $t->req(PUT => '/admin/resources/room-1', body => \%doc);
is $r->{status}, 201, 'PUT creates: 201';
like $r->{headers}{'content-type'}, qr{^application/json}, 'PUT answer is JSON';
my $created = $r->{json};
is_deeply [ sort keys %{ $created || {} } ],
    [ sort qw(id type capacity title owner location attributes groups created_at updated_at) ],
    'the document has exactly the fields of SPEC §4';
is $created->{id}, 'room-1', 'id';
is_deeply { map { $_ => $created->{$_} } qw(type capacity title owner attributes groups) },
    { map { $_ => $doc{$_} } qw(type capacity title owner attributes groups) },
    'type, capacity, title, owner, attributes, groups as sent';
ok abs($created->{location}{lat} - 48.8566) < 1e-9 && abs($created->{location}{lon} - 2.3522) < 1e-9,
    'location as sent';
like $created->{created_at}, $RFC3339Z, 'created_at is RFC 3339 UTC with Z';
like $created->{updated_at}, $RFC3339Z, 'updated_at is RFC 3339 UTC with Z';
is $created->{updated_at}, $created->{created_at}, 'a new resource: updated_at = created_at';
ok abs(epoch($created->{created_at}) - $t0) < 60, 'created_at is now (Redis clock)';

$r = $t->req(GET => '/api/resources/room-1');
is $r->{status}, 200, 'GET through the public location: 200';
is_deeply $r->{json}, $created, 'GET gives the same document';
my $get_body = $r->{body};

$r = $t->req(HEAD => '/api/resources/room-1');
is $r->{status}, 200, 'HEAD: 200';
is $r->{body}, '', 'HEAD: no body';
like $r->{headers}{'content-type'}, qr{^application/json}, 'HEAD: JSON Content-Type';
is $r->{headers}{'content-length'}, length($get_body), 'HEAD: Content-Length of the GET body';

# replace: 200, created_at kept, fields not sent are gone
sleep 1.1;
my %doc2 = (type => 'room', capacity => 2, title => 'Sunny room, renovated');
$r = $t->req(PUT => '/admin/resources/room-1', body => \%doc2);
is $r->{status}, 200, 'PUT again replaces: 200';
my $replaced = $r->{json};
is $replaced->{created_at}, $created->{created_at}, 'replace keeps created_at';
ok epoch($replaced->{updated_at}) > epoch($created->{created_at}), 'replace moves updated_at';
is $replaced->{capacity}, 2, 'replace: new capacity';
is $replaced->{title}, 'Sunny room, renovated', 'replace: new title';
ok !exists $replaced->{$_}, "replace: $_ not sent, not kept" for qw(owner location attributes groups);
is_deeply $t->req(GET => '/api/resources/room-1')->{json}, $replaced, 'GET after replace: the new document';

$r = $t->req(PUT => '/admin/resources/car-1', body => { type => 'car' });
is $r->{status}, 201, 'PUT with only a type';
is $r->{json}->{capacity}, 1, 'capacity defaults to 1';
is_deeply [ sort keys %{ $r->{json} } ], [ sort qw(id type capacity created_at updated_at) ],
    'fields not given are omitted, never null';

$r = $t->req(PUT => '/admin/resources/big-1', body => { type => 'gift', capacity => 1000000 });
is $r->{status}, 201, 'capacity 1000000 is allowed';
$r = $t->req(PUT => '/admin-big/resources/title-1024', body => { type => 'room', title => 'é' x 512 });
is $r->{status}, 201, 'a title of exactly 1024 bytes is allowed';

# ------------------------------------------------------------ admin only

$r = $t->req(PUT => '/api/resources/room-1', body => { type => 'car' });
BookingTest::error_is($r, 403, 'forbidden', name => 'PUT through the public location: 403');
$r = $t->req(DELETE => '/api/resources/room-1');
BookingTest::error_is($r, 403, 'forbidden', name => 'DELETE through the public location: 403');
is_deeply $t->req(GET => '/api/resources/room-1')->{json}, $replaced, 'the resource is unchanged';

# ------------------------------------------------------------ delete

$r = $t->req(DELETE => '/admin/resources/car-1');
is $r->{status}, 204, 'DELETE: 204';
is $r->{body}, '', 'DELETE: no body';
BookingTest::error_is($t->req(GET => '/api/resources/car-1'), 404, 'not_found',
                      name => 'GET after DELETE: 404');
BookingTest::error_is($t->req(DELETE => '/admin/resources/car-1'), 404, 'not_found',
                      name => 'DELETE again: 404');
$r = $t->req(HEAD => '/api/resources/car-1');
is $r->{status}, 404, 'HEAD after DELETE: 404';
is $r->{body}, '', 'HEAD 404: no body';
$r = $t->req(PUT => '/admin/resources/car-1', body => { type => 'car', capacity => 2 });
is $r->{status}, 201, 'a deleted id may be reused: 201';
is $r->{json}->{capacity}, 2, 'the new resource, not the old one';

# ------------------------------------------------------------ ids

my $id64 = join '', map { ('A' .. 'Z', 'a' .. 'z', 0 .. 9, '_', '-')[ $_ % 64 ] } 1 .. 64;
$r = $t->req(PUT => "/admin/resources/$id64", body => { type => 'room' });
is $r->{status}, 201, 'a 64-character id: 201';
is $r->{json}->{id}, $id64, 'the id as given';
is $t->req(GET => "/api/resources/$id64")->{status}, 200, 'GET the 64-character id';

for my $case (
    [ "${id64}x",              'a 65-character id' ],
    [ 'a.b',                   'an id with a dot' ],
    [ '%C3%A9t%C3%A9',         'a non-ASCII id' ],
    [ 'a%20b',                 'an id with a space' ],
    [ 'a%7Bb%7D',              'an id with braces (hash tag)' ],
) {
    my ($id, $what) = @$case;
    BookingTest::error_is($t->req(PUT => "/admin/resources/$id", body => { type => 'room' }),
                          400, 'bad_request', name => "PUT $what: 400");
    BookingTest::error_is($t->req(GET => "/api/resources/$id"), 400, 'bad_request',
                          name => "GET $what: 400");
}

for my $id ('a%2Fb', 'a%2fb', '%2F', '..%2Fadmin') {
    $r = $t->req(GET => "/api/resources/$id");
    ok $r->{status} == 404 || $r->{status} == 400, "GET /resources/$id: 404 or 400"
        or diag "$r->{status} $r->{body}";
    ok ref $r->{json} eq 'HASH' && ref $r->{json}{error} eq 'HASH', "GET /resources/$id: a JSON error";
    $r = $t->req(PUT => "/admin/resources/$id", body => { type => 'room' });
    ok $r->{status} == 404 || $r->{status} == 400, "PUT /resources/$id: 404 or 400, never 5xx"
        or diag "$r->{status} $r->{body}";
}

# ------------------------------------------------------------ routes, methods

for my $path ('/api/nope', '/api/', '/api/resourcesx', '/api/resources/', '/api/resources/room-1/',
              '/api/resources/room-1/nope', '/api/resources/room-1/availability/x',
              '/api/resources/room-1/a/b/c/d/e') {
    BookingTest::error_is($t->req(GET => $path), 404, 'not_found', name => "GET $path: 404 JSON");
}

for my $m (qw(POST PATCH)) {
    $r = $t->req($m => '/api/resources/room-1', body => {});
    BookingTest::error_is($r, 405, 'method_not_allowed', name => "$m /resources/{id}: 405");
    my %allow = map { $_ => 1 } split /\s*,\s*/, $r->{headers}{allow} // '';
    ok $allow{GET} && $allow{HEAD} && $allow{PUT} && $allow{DELETE} && !$allow{$m},
        "$m /resources/{id}: Allow lists GET, HEAD, PUT, DELETE"
        or diag 'Allow: ' . ($r->{headers}{allow} // '(none)');
}
$r = $t->req(POST => '/admin/resources/room-1/availability', body => {});
BookingTest::error_is($r, 405, 'method_not_allowed', name => 'POST availability: 405');
like $r->{headers}{allow} // '', qr/\bGET\b/, 'POST availability: Allow has GET';
unlike $r->{headers}{allow} // '', qr/\bPOST\b/, 'POST availability: Allow has no POST';

# ------------------------------------------------------------ content types

$r = $t->req(PUT => '/admin/resources/ct-1', body => '{"type":"room"}',
             headers => { 'Content-Type' => 'text/plain' });
BookingTest::error_is($r, 415, 'unsupported_media_type', name => 'text/plain body: 415');
$r = $t->req(PUT => '/admin/resources/ct-1', body => '{"type":"room"}');
BookingTest::error_is($r, 415, 'unsupported_media_type', name => 'no Content-Type: 415');
$r = $t->req(PUT => '/admin/resources/ct-1', body => '{"type":"room"}',
             headers => { 'Content-Type' => 'application/jsonx' });
BookingTest::error_is($r, 415, 'unsupported_media_type', name => 'application/jsonx: 415');
is $t->req(GET => '/api/resources/ct-1')->{status}, 404, '415: nothing was written';
$r = put_json($t, '/admin/resources/ct-1', '{"type":"room"}', 'Content-Type' => 'application/json; charset=utf-8');
is $r->{status}, 201, 'application/json; charset=utf-8 is JSON';
$r = put_json($t, '/admin/resources/ct-1', '{"type":"room"}', 'Content-Type' => 'Application/JSON');
is $r->{status}, 200, 'the media type is case-insensitive';

# ------------------------------------------------------------ unreadable bodies

for my $case (
    [ '{"type":',                      'truncated JSON' ],
    [ '{"type":"room",}',              'a trailing comma' ],
    [ "{\"type\":\"room\",\"title\":\"\xff\"}", 'invalid UTF-8' ],
    [ '',                              'an empty body' ],
    [ '"x"',                           'a JSON string' ],
) {
    my ($body, $what) = @$case;
    $r = put_json($t, '/admin/resources/bad-json', $body);
    BookingTest::error_is($r, 400, 'invalid_json', name => "$what: 400 invalid_json");
}
$r = put_json($t, '/admin/resources/bad-json', '{"type":"room","type":"car"}');
ok $r->{status} == 400 && ($r->{json}{error}{code} // '') =~ /^(?:invalid_json|bad_request)$/,
    'duplicate keys: 400' or diag $r->{body};
for my $deep ('[' x 10000, '{"a":' x 10000, '[' x 10000 . ']' x 10000) {
    $r = put_json($t, '/admin-big/resources/deep', $deep);
    ok $r->{status} == 400 && ref $r->{json} eq 'HASH', 'nesting 10000 deep: 400 JSON'
        or diag "$r->{status} $r->{body}";
}
is $t->req(GET => '/plain')->{status}, 200, 'the worker still serves after deep nesting';
is $t->req(GET => '/api/resources/deep')->{status}, 404, 'nothing was written';

# ------------------------------------------------------------ body size (1k)

my $big = $JSON->encode({ type => 'room', title => 'x' x 1500 });
$r = put_json($t, '/admin/resources/big-body', $big);
BookingTest::error_is($r, 413, 'too_large', name => 'body over client_max_body_size: 413 JSON (req)');

my $head = "PUT /admin/resources/big-body HTTP/1.1\r\nHost: x\r\n"
         . "Content-Type: application/json\r\nConnection: close\r\n";
$r = BookingTest::parse_http($t->raw($head . 'Content-Length: ' . length($big) . "\r\n\r\n$big"));
ok $r, 'Content-Length: an HTTP answer';
BookingTest::error_is($r || {}, 413, 'too_large', name => 'Content-Length over the limit: 413 JSON');

my $chunked = join('', map { sprintf("%x\r\n%s\r\n", length $_, $_) } unpack('(a300)*', $big)) . "0\r\n\r\n";
$r = BookingTest::parse_http($t->raw($head . "Transfer-Encoding: chunked\r\n\r\n$chunked"));
ok $r, 'chunked: an HTTP answer';
BookingTest::error_is($r || {}, 413, 'too_large', name => 'chunked body over the limit: 413 JSON');

# the chunked body arrives in pieces, the limit is crossed late
$r = BookingTest::parse_http($t->raw([ $head . "Transfer-Encoding: chunked\r\n\r\n",
                                       substr($chunked, 0, 400), \0.2, substr($chunked, 400) ]));
BookingTest::error_is($r || {}, 413, 'too_large', name => 'slow chunked body over the limit: 413 JSON');
is $t->req(GET => '/api/resources/big-body')->{status}, 404, '413: nothing was written';

# ------------------------------------------------------------ text round trip

my $title = qq{quote " backslash \\ slash / tab \t nl \n cr \r ctrl \x01\x1f del \x7f }
          . qq{é ñ 日本語 😀 \x{2028}\x{2029} </script>};
my %attrs = (
    "k\"e\\y\x02é"  => "v\"a\\l\n",
    nested          => { arr => [ "a\"b", '\\', '日本', '😀', "\t", '' ] },
    'emoji😀'        => '∑',
    empty           => {},
);
$r = $t->req(PUT => '/admin/resources/text-1',
             body => { type => 'room', title => $title, owner => 'ÿser "o"', attributes => \%attrs });
is $r->{status}, 201, 'PUT with awkward text: 201' or diag $r->{body};
for my $which ([ PUT => $r ], [ GET => $t->req(GET => '/api/resources/text-1') ]) {
    my ($m, $res) = @$which;
    my $j = $res->{json};
    ok ref $j eq 'HASH', "$m: the answer is valid JSON and UTF-8";
    is $j->{title}, $title, "$m: title round-trips exactly";
    is $j->{owner}, 'ÿser "o"', "$m: owner round-trips exactly";
    is_deeply $j->{attributes}, \%attrs, "$m: attributes round-trip exactly";
}

TODO: {
    $r = put_json($t, '/admin/resources/num-1',
                  '{"type":"room","attributes":{"pi":3.141592653589793,"tenth":0.1,"big":9007199254740993}}');
    my $a = $t->req(GET => '/api/resources/num-1')->{json}{attributes} || {};
    ok defined $a->{pi} && $a->{pi} == 3.141592653589793, 'a double round-trips'
        or diag "pi came back as " . ($a->{pi} // 'undef');
}
is $t->req(GET => '/api/resources/num-1')->{json}{attributes}{big}, 9007199254740993,
    'a 64-bit integer round-trips';

# ------------------------------------------------------------ the main instance is healthy

is_deeply [ $t->worker_pids ], \@workers, 'no worker was replaced';
is_deeply [ $t->check_error_log ], [], 'no alert, crash or crit in the error log';

# ------------------------------------------------------------ validation
#
# A separate nginx: a rejected body must change nothing and must not hurt
# the worker.  (Seen at e574199: the check helpers returned the rc of the
# error answer they had sent, NGX_OK, so the PUT went on: it stored the
# document anyway and answered twice ("header already sent"), or, without a
# known type, dereferenced NULL and the worker died.)

my $v = BookingTest->new;
my $seen = 0;
my $n = 0;

my @invalid = (
    [ { capacity => 2 },                                    400, 'bad_request', 'type',      'missing type' ],
    [ { type => 1 },                                        400, 'bad_request', 'type',      'type not a string' ],
    [ { type => [ 'room' ] },                               400, 'bad_request', 'type',      'type an array' ],
    [ { type => 'boat' },                                   422, 'invalid',     'type',      'unknown type' ],
    [ { type => 'room', capacity => 0 },                    422, 'invalid',     'capacity',  'capacity 0' ],
    [ { type => 'room', capacity => -1 },                   422, 'invalid',     'capacity',  'capacity -1' ],
    [ { type => 'room', capacity => 1000001 },              422, 'invalid',     'capacity',  'capacity 1000001' ],
    [ { type => 'room', capacity => '3' },                  400, 'bad_request', 'capacity',  'capacity "3"' ],
    [ '{"type":"room","capacity":2.5}',                     400, 'bad_request', 'capacity',  'capacity 2.5' ],
    [ { type => 'room', colour => 'red' },                  422, 'invalid',     'colour',    'unknown field' ],
    [ { type => 'room', location => { lat => 90, lon => 0 } },   422, 'invalid', 'location', 'location lat 90' ],
    [ { type => 'room', location => { lat => 'x', lon => 0 } },  400, 'bad_request', 'location', 'location lat "x"' ],
    [ { type => 'room', groups => 'staff' },                400, 'bad_request', 'groups',    'groups not an array' ],
    [ { type => 'room', title => 'x' x 1025 },              422, 'invalid',     'title',     'title of 1025 bytes' ],
    [ { type => 'room', title => 7 },                       400, 'bad_request', 'title',     'title not a string' ],
    [ { type => 'room', attributes => [] },                 400, 'bad_request', 'attributes', 'attributes not an object' ],
    [ '[]',                                                 400, 'bad_request', undef,       'an array body' ],
    [ '{}',                                                 400, 'bad_request', 'type',      'an empty object' ],
);

for my $case (@invalid) {
    my ($body, $status, $code, $field, $what) = @$case;
    my $id = 'inv-' . ++$n;
    my $raw = ref $body ? $JSON->encode($body) : $body;
    my $res = put_json($v, "/admin/resources/$id", $raw);
    BookingTest::error_is($res, $status, $code, field => $field, name => "$what: $status $code");
    sleep 0.05 * BookingTest::slow;    # a crash after the answer shows in the log by then
    my @bad = $v->check_error_log(also => qr/header already sent/);
    my @new = @bad[ $seen .. $#bad ];
    $seen = @bad;
    is_deeply \@new, [], "$what: no crash, no second answer";
    is $v->req(GET => "/api/resources/$id")->{status}, 404, "$what: nothing was written";
}
is $v->req(GET => '/plain')->{status}, 200, 'the validation instance still serves';

$v->stop;
$t->stop;
done_testing;

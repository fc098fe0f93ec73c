# Every answer is the spec's JSON, internal errors included (SPEC §4): a
# 500 that nginx itself makes once the module runs (here: a body that
# cannot be written to its temporary file) reads as {"error":{...}} too.

use strict;
use warnings;
use Test::More;
use BookingTest;

my $SERVER = <<'EOT';
location /api/ { booking_api; }
location /admin/ {
    booking_api admin;
    client_body_buffer_size 1k;
    client_body_temp_path %%DIR%%/gone;
}
EOT
my $t = BookingTest->new(server => $SERVER);

# nginx made it at start; a body spilled there now fails to be written
rmdir $t->dir . '/gone' or die "rmdir: $!";

my $r = $t->req(PUT => '/admin/resources/r1',
                body => { type => 'room', title => 'x' x 4096 });
is $r->{status}, 500, 'a body nginx cannot spill to disk: 500';
like $r->{headers}{'content-type'} // '', qr{^application/json}, 'as JSON';
is_deeply $r->{json}, { error => { code => 'internal', message => 'internal error' } },
          'the spec\'s error, nothing of nginx\'s page';
unlike $r->{body}, qr/nginx|<html/i, 'no server banner';

$r = $t->req(PUT => '/admin/resources/r1', body => { type => 'room' });
is $r->{status}, 201, 'a small body still works';

done_testing;

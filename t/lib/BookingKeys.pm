package BookingKeys;

# The Redis key schema of ngx_booking, for tests that read or plant what
# Redis stores (ngx_module/scripts/contract): a resource's keys carry the
# hash tag {sNN} of its shard, CRC16-XMODEM of its id modulo 64; its
# counters are the hash C, one field per chunk of 256 slots, 4 bytes
# big-endian a slot.

use strict;
use warnings;

use Exporter 'import';

our @EXPORT_OK = qw(crc16 shard rkey ukey skey streams chunk_of set_units
                    get_units key_slot CHUNK SHARDS);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

use constant CHUNK  => 256;
use constant SHARDS => 64;

sub crc16 {
    my ($s) = @_;
    my $crc = 0;
    for my $b (unpack 'C*', $s) {
        $crc ^= $b << 8;
        for (1 .. 8) {
            $crc = ($crc & 0x8000) ? (($crc << 1) ^ 0x1021) & 0xffff
                                   : ($crc << 1) & 0xffff;
        }
    }
    return $crc;
}

sub shard { return crc16($_[0]) % SHARDS }

# a key's Redis Cluster hash slot: of its hash tag, when it has one
sub key_slot {
    my ($key) = @_;
    $key = $1 if $key =~ /^[^{]*\{([^}]+)\}/;
    return crc16($key) % 16384;
}

# rkey('r1') is the resource's hash; rkey('r1', ':c') its counters, ...
sub rkey {
    my ($id, $suffix) = @_;
    return sprintf('bk:{s%02x}:r:%s%s', shard($id), $id, $suffix // '');
}

sub ukey { return "bk:{u:$_[0]}:b" }

# a key of shard $n: skey(3, 'events') is bk:{s03}:events
sub skey { return sprintf('bk:{s%02x}:%s', $_[0], $_[1]) }

# the event streams, one a shard (README, "Events")
sub streams { return map { skey($_, 'events') } 0 .. SHARDS - 1 }

sub chunk_of { return int($_[0] / CHUNK) }

# Units in use of slot number $n (epoch / slot) of resource $id.
sub get_units {
    my ($t, $id, $n) = @_;
    my $c = $t->redis('HGET', rkey($id, ':c'), chunk_of($n));
    return 0 unless defined $c && !ref $c && length $c;
    return unpack('N', substr($c, ($n % CHUNK) * 4, 4));
}

sub set_units {
    my ($t, $id, $n, $units) = @_;
    my $c = $t->redis('HGET', rkey($id, ':c'), chunk_of($n));
    $c = "\0" x (CHUNK * 4) unless defined $c && !ref $c && length $c;
    substr($c, ($n % CHUNK) * 4, 4) = pack('N', $units);
    $t->redis('HSET', rkey($id, ':c'), chunk_of($n), $c);
    $t->redis('ZADD', rkey($id, ':k'), chunk_of($n), chunk_of($n));
    return 1;
}

1;

#!/usr/bin/python3
# Keys and tokens for t/39-jwt.t, made by an implementation that is not
# ours: Debian's python3-jwt (PyJWT) over python3-cryptography.  Run with
# /usr/bin/python3, where Debian's packages import.
#
#   jwt_mint.py keys DIR   DIR/jwks.json (public keys, and the HMAC
#                          secret), DIR/private.json (what signs), and
#                          DIR/bad-*.json (key files nginx -t refuses)
#   jwt_mint.py mint DIR   stdin: a JSON array of {key, alg, claims,
#                          header, forge}; stdout: a JSON array of tokens

import base64
import hashlib
import hmac
import json
import os
import sys

import jwt
from jwt.algorithms import RSAAlgorithm, ECAlgorithm, OKPAlgorithm, \
    HMACAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa, ec, ed25519


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


def pem(key):
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def public_pem(key):
    return key.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo)


def jwk(alg_class, key, kid, **extra):
    d = json.loads(alg_class.to_jwk(key))
    if d.get('kty') == 'EC':
        # RFC 7518 6.2.1.2: x and y are of the curve's full size; Debian's
        # python3-jwt drops their leading zero bytes (1 key in 128)
        size = (key.curve.key_size + 7) // 8
        n = key.public_numbers()
        d['x'] = b64(n.x.to_bytes(size, 'big'))
        d['y'] = b64(n.y.to_bytes(size, 'big'))
    d['kid'] = kid
    d.update(extra)
    return d


def keys(d):
    secret = os.urandom(64)
    rs = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rs512 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    enc = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    es256 = ec.generate_private_key(ec.SECP256R1())
    es384 = ec.generate_private_key(ec.SECP384R1())
    ed = ed25519.Ed25519PrivateKey.generate()

    public = {'keys': [
        jwk(HMACAlgorithm, secret, 'hs'),
        jwk(RSAAlgorithm, rs.public_key(), 'rs'),
        jwk(RSAAlgorithm, rs512.public_key(), 'rs512', alg='RS512'),
        jwk(RSAAlgorithm, enc.public_key(), 'enc', use='enc'),
        jwk(ECAlgorithm, es256.public_key(), 'es256'),
        jwk(ECAlgorithm, es384.public_key(), 'es384'),
        jwk(OKPAlgorithm, ed.public_key(), 'ed'),
    ]}
    private = {
        'hs': b64(secret), 'rs': pem(rs), 'rs512': pem(rs512),
        'enc': pem(enc), 'es256': pem(es256), 'es384': pem(es384),
        'ed': pem(ed), 'rs_public_pem': public_pem(rs).decode(),
    }

    # the same ES256 key alone, without a kid: a token needs none then
    one = jwk(ECAlgorithm, es256.public_key(), 'x')
    del one['kid']

    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    off_curve = jwk(ECAlgorithm, es256.public_key(), 'bad')
    off_curve['y'] = b64(bytes(32 - 1) + b'\x01')
    bad = {
        'bad-rsa1024': {'keys': [jwk(RSAAlgorithm, weak.public_key(), 'w')]},
        'bad-dupkid': {'keys': [jwk(ECAlgorithm, es256.public_key(), 'k'),
                                jwk(OKPAlgorithm, ed.public_key(), 'k')]},
        'bad-curve': {'keys': [off_curve]},
        'bad-short': {'keys': [{'kty': 'oct', 'k': b64(b'0123456789'),
                                'kid': 's'}]},
        'bad-algkty': {'keys': [jwk(ECAlgorithm, es256.public_key(), 'e',
                                    alg='RS256')]},
        'bad-none': {'keys': [jwk(RSAAlgorithm, enc.public_key(), 'n',
                                  use='enc')]},
    }

    for name, content in [('jwks', public), ('private', private),
                          ('one', {'keys': [one]})] + list(bad.items()):
        with open(os.path.join(d, name + '.json'), 'w') as f:
            json.dump(content, f)


LOADED = {}


def signing_key(private, name, alg):
    # loading a PEM checks the key, which for RSA costs far more than a
    # signature: once a key
    if alg.startswith('HS'):
        return base64.urlsafe_b64decode(private[name] + '==')
    if name not in LOADED:
        LOADED[name] = serialization.load_pem_private_key(
            private[name].encode(), None)
    return LOADED[name]


def forged_hs(private, header, claims):
    # algorithm confusion: an HMAC whose secret is the RSA public key's PEM
    h = dict(header, alg='HS256')
    signing_input = b64(json.dumps(h).encode()) + '.' \
        + b64(json.dumps(claims).encode())
    mac = hmac.new(private['rs_public_pem'].encode(), signing_input.encode(),
                   hashlib.sha256).digest()
    return signing_input + '.' + b64(mac)


def mint(d):
    with open(os.path.join(d, 'private.json')) as f:
        private = json.load(f)
    out = []
    for req in json.load(sys.stdin):
        header = req.get('header', {})
        claims = req['claims']
        forge = req.get('forge')
        if forge == 'hs-pem':
            out.append(forged_hs(private, header, claims))
            continue
        if forge == 'none':
            out.append(jwt.encode(claims, None, algorithm='none',
                                  headers=header))
            continue
        token = jwt.encode(claims, signing_key(private, req['key'],
                                               req['alg']),
                           algorithm=req['alg'], headers=header)
        if forge == 'tamper':
            h, p, s = token.split('.')
            c = json.loads(base64.urlsafe_b64decode(p + '=='))
            c['sub'] = 'mallory'
            token = h + '.' + b64(json.dumps(c).encode()) + '.' + s
        out.append(token)
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    {'keys': keys, 'mint': mint}[sys.argv[1]](sys.argv[2])

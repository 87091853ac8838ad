# Certificates for the TLS tests, made with the openssl command (sourced
# after lib.sh, POSIX sh).
#
#   tls_make_certs DIR     in DIR (made if needed), each key 0600:
#       ca.pem              the test CA, "clientq test CA"
#       mx.pem, mx.key      mx.example.test, signed by the CA
#       wrong.pem/.key      wrong.example.test, signed by the CA
#       expired.pem/.key    mx.example.test, signed by the CA, valid in
#                           January 2020 only
#       other-ca.pem        a second CA, "clientq other CA"
#       other.pem/.key      mx.example.test, signed by the second CA
#       client.pem/.key     client.example.test, signed by the CA: a client
#                           certificate
#   tls_fingerprint FILE        the SHA-256 of the certificate in FILE,
#                               "AB:CD:..." as openssl x509 -fingerprint
#                               prints it
#   tls_pubkey_fingerprint FILE the SHA-256 of its public key (the DER
#                               SubjectPublicKeyInfo), bare hex
#
# Leaf certificates are issued with `openssl ca` (it alone can date one in
# the past), their subjectAltName copied from the request.

tls__ca() { # DIR NAME SUBJECT: a self-signed CA NAME.pem (key NAME.key)
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$1/$2.key" -out "$1/$2.pem" -days 30 -subj "$3" \
	    >>"$1/openssl.log" 2>&1 || return 1
	mkdir -p "$1/$2.db" && : >"$1/$2.db/index.txt" && echo 01 >"$1/$2.db/serial"
	cat >"$1/$2.cnf" <<EOF
[ ca ]
default_ca = test_ca
[ test_ca ]
database = $1/$2.db/index.txt
new_certs_dir = $1/$2.db
serial = $1/$2.db/serial
default_md = sha256
policy = anything
copy_extensions = copy
unique_subject = no
[ anything ]
commonName = supplied
EOF
}

# tls__leaf DIR NAME CA DNSNAME [START END]: NAME.pem/.key for DNSNAME,
# issued by CA (30 days from now, or from START to END).
tls__leaf() {
	_tl_dates="-days 30"
	[ $# -ge 6 ] && _tl_dates="-startdate $5 -enddate $6"
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$1/$2.key" -out "$1/$2.csr" -subj "/CN=$4" \
	    -addext "subjectAltName=DNS:$4" >>"$1/openssl.log" 2>&1 || return 1
	# shellcheck disable=SC2086  # the dates are two options each
	openssl ca -batch -notext -config "$1/$3.cnf" -cert "$1/$3.pem" \
	    -keyfile "$1/$3.key" -in "$1/$2.csr" -out "$1/$2.pem" $_tl_dates \
	    >>"$1/openssl.log" 2>&1 && chmod 0600 "$1/$2.key"
}

tls_make_certs() {
	mkdir -p "$1" || return 1
	: >"$1/openssl.log"
	tls__ca "$1" ca '/CN=clientq test CA' &&
	    tls__ca "$1" other-ca '/CN=clientq other CA' &&
	    tls__leaf "$1" mx ca mx.example.test &&
	    tls__leaf "$1" wrong ca wrong.example.test &&
	    tls__leaf "$1" expired ca mx.example.test 20200101000000Z 20200201000000Z &&
	    tls__leaf "$1" other other-ca mx.example.test &&
	    tls__leaf "$1" client ca client.example.test || {
		cat "$1/openssl.log" >&2
		return 1
	}
}

tls_fingerprint() {
	openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/^[^=]*=//'
}

tls_pubkey_fingerprint() {
	openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER |
	    openssl dgst -sha256 -r | cut -d' ' -f1
}

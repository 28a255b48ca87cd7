// Mutual TLS for the Raft transport: with a certificate, its key and a CA, every connection
// between members (raft's RPCs and the state query) is TLS 1.2 or later, and each side must
// present a certificate signed by the CA. Like Consul's verify_incoming + verify_outgoing
// without verify_server_hostname: a member's certificate is checked against the CA, not
// against the address dialed (members are dialed by address, often an IP or a pod name).
package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
)

// tlsFiles are the raft_tls options; all empty means plain TCP.
type tlsFiles struct{ cert, key, ca string }

// loadTLS returns the server and client configurations, nil when no file is given. A partial
// set, or a file that cannot be read or parsed, is an error naming it.
func loadTLS(files tlsFiles) (*tls.Config, *tls.Config, error) {
	named := map[string]string{"tls_certfile": files.cert, "tls_keyfile": files.key,
		"tls_cafile": files.ca}
	var missing, given []string
	for _, key := range []string{"tls_certfile", "tls_keyfile", "tls_cafile"} {
		if named[key] == "" {
			missing = append(missing, key)
		} else {
			given = append(given, key)
		}
	}
	if len(given) == 0 {
		return nil, nil, nil
	}
	if len(missing) > 0 {
		return nil, nil, invalidf("raft TLS needs tls_certfile, tls_keyfile and tls_cafile "+
			"together: %s given without %s", strings.Join(given, ", "),
			strings.Join(missing, ", "))
	}
	for _, key := range []string{"tls_certfile", "tls_keyfile", "tls_cafile"} {
		if _, err := os.Stat(named[key]); err != nil {
			return nil, nil, invalidf("raft TLS: %s %q cannot be read: %v", key, named[key],
				errors.Unwrap(err))
		}
	}
	cert, err := tls.LoadX509KeyPair(files.cert, files.key)
	if err != nil {
		return nil, nil, invalidf("raft TLS: tls_certfile %q with tls_keyfile %q: %v",
			files.cert, files.key, err)
	}
	pem, err := os.ReadFile(files.ca)
	if err != nil {
		return nil, nil, invalidf("raft TLS: tls_cafile %q cannot be read: %v", files.ca, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, nil, invalidf("raft TLS: tls_cafile %q holds no PEM certificate", files.ca)
	}
	server := &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	}
	client := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		// The chain is verified below, against the CA only (no host name).
		InsecureSkipVerify: true,
		VerifyConnection: func(state tls.ConnectionState) error {
			return verifyChain(state.PeerCertificates, pool, x509.ExtKeyUsageServerAuth)
		},
	}
	return server, client, nil
}

func verifyChain(certs []*x509.Certificate, roots *x509.CertPool, usage x509.ExtKeyUsage) error {
	if len(certs) == 0 {
		return errors.New("the member presented no certificate")
	}
	intermediates := x509.NewCertPool()
	for _, cert := range certs[1:] {
		intermediates.AddCert(cert)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates,
		KeyUsages: []x509.ExtKeyUsage{usage}})
	if err != nil {
		return fmt.Errorf("the member's certificate (%s) is not signed by tls_cafile: %v",
			certs[0].Subject.CommonName, err)
	}
	return nil
}

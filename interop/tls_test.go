//go:build linux

package interop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testPKI is a throw-away CA and a server certificate it signed for
// synack's addresses, as PEM files.
type testPKI struct {
	caFile, certFile, keyFile string
	cert                      tls.Certificate
}

// newPKI makes a CA and a server certificate for synack's addresses
// (198.18.0.2, fd00:5ac::2) in t's temporary directory.
func newPKI(t testing.TB) *testPKI {
	t.Helper()
	return newPKIFor(t, syn4, syn6)
}

// newPKIFor makes a CA and a server certificate for addrs.
func newPKIFor(t testing.TB, addrs ...netip.Addr) *testPKI {
	t.Helper()
	var ips []net.IP
	for _, a := range addrs {
		ips = append(ips, a.AsSlice())
	}
	dir := t.TempDir()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "synack interop test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "synack"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		IPAddresses:  ips,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{
		caFile:   filepath.Join(dir, "ca.pem"),
		certFile: filepath.Join(dir, "cert.pem"),
		keyFile:  filepath.Join(dir, "key.pem"),
	}
	write := func(path, typ string, b []byte) {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(p.caFile, "CERTIFICATE", caDER)
	write(p.certFile, "CERTIFICATE", der)
	write(p.keyFile, "EC PRIVATE KEY", keyDER)
	if p.cert, err = tls.LoadX509KeyPair(p.certFile, p.keyFile); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHTTPSCurlToSynack: the kernel's curl, trusting only the test CA
// (--cacert), fetches 1 MiB over HTTPS from a net/http server with TLS on
// synack.
func TestHTTPSCurlToSynack(t *testing.T) {
	needTool(t, "curl")
	pki := newPKI(t)
	forEachFamily(t, func(t *testing.T, fam family) {
		r := newRig(t, rigOptions{})
		l, err := r.st.Listen("tcp", ":443")
		if err != nil {
			t.Fatal(err)
		}
		const size = 1 << 20
		tl := tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{pki.cert}})
		serveHTTP(t, tl, payloadHandler(size))
		out, err := r.run(30*time.Second, "sh", "-c",
			fmt.Sprintf("curl -sS --fail --cacert %s https://%s/x | sha256sum", pki.caFile, hostPort(fam.syn, 443)))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Fields(out)[0], payloadSum(t, size); got != want {
			t.Errorf("sha256 %s, want %s", got, want)
		}
	})
}

package stack

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

func TestHTTP(t *testing.T) {
	cl, sv := pair(t, Options{}, Options{})
	ln, err := sv.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", r.URL.Query().Get("name"))
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { w.Write(big) })
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprintf(w, "%d", n)
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()

	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return cl.DialContext(ctx, network, addr)
		},
	}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()

	get := func(path string) []byte {
		t.Helper()
		resp, err := client.Get("http://198.18.0.2" + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return body
	}
	for _, name := range []string{"a", "b", "c"} {
		if got := string(get("/hello?name=" + name)); got != "hello "+name {
			t.Errorf("GET /hello?name=%s = %q", name, got)
		}
	}
	if got := get("/big"); !bytes.Equal(got, big) {
		t.Errorf("GET /big returned %d bytes; want the 1 MiB body", len(got))
	}
	resp, err := client.Post("http://198.18.0.2/upload", "application/octet-stream", bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != fmt.Sprint(len(big)) {
		t.Errorf("POST /upload = %q; want %d", body, len(big))
	}
}

// selfSigned returns a TLS certificate for 198.18.0.2.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "synack test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IP(netip.MustParseAddr("198.18.0.2").AsSlice())},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestTLS(t *testing.T) {
	cert := selfSigned(t)
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)

	cl, sv := pair(t, Options{}, Options{})
	c, s := connected(t, cl, sv)
	server := tls.Server(s, &tls.Config{Certificates: []tls.Certificate{cert}})
	client := tls.Client(c, &tls.Config{RootCAs: pool, ServerName: "198.18.0.2"})

	errc := make(chan error, 1)
	go func() {
		if err := server.Handshake(); err != nil {
			errc <- err
			return
		}
		_, err := io.Copy(server, server)
		errc <- err
	}()
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	if v := client.ConnectionState().Version; v != tls.VersionTLS13 {
		t.Errorf("TLS version %x; want TLS 1.3", v)
	}
	msg := bytes.Repeat([]byte("secret "), 50000)
	go client.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("TLS echo mismatch")
	}
	client.Close()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

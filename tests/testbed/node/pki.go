package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// The API server's names and addresses, as a kind control plane's certificate has them.
var (
	apiserverDNSNames = []string{
		"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
		"kubernetes.default.svc.cluster.local", "testbed-control-plane",
	}
	apiserverIPs = []net.IP{
		net.ParseIP("127.0.0.1"), net.ParseIP(controlPlaneIP), net.ParseIP("10.96.0.1"),
	}
)

// countedUser is the user whose every request the API server's audit log records.
const countedUser = "kubetutor-counted"

// writePKI writes a CA, the API server's serving certificate, the service-account key pair
// and the admin's bearer token into dir; private files are 0600.
func writePKI(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now().Add(-time.Hour)
	caTemplate := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "testbed-ca"},
		NotBefore:             now,
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	serverKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serverTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now,
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     apiserverDNSNames,
		IPAddresses:  apiserverIPs,
	}
	serverDER, err := x509.CreateCertificate(rand.Reader, serverTemplate, ca, &serverKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	// The kubelets' serving certificate, for every node's address and name.
	kubeletKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	kubeletTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(3),
		Subject:      pkix.Name{CommonName: "testbed-kubelet"},
		NotBefore:    now,
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range testbedNodes {
		kubeletTemplate.DNSNames = append(kubeletTemplate.DNSNames, n.name)
		kubeletTemplate.IPAddresses = append(kubeletTemplate.IPAddresses, net.ParseIP(n.ip))
	}
	kubeletDER, err := x509.CreateCertificate(rand.Reader, kubeletTemplate, ca, &kubeletKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return err
	}
	token := make([]byte, 24)
	if _, err := rand.Read(token); err != nil {
		return err
	}
	// A second user, for a client whose requests are counted (the audit log records its own).
	benchToken := make([]byte, 24)
	if _, err := rand.Read(benchToken); err != nil {
		return err
	}
	files := []struct {
		name string
		mode os.FileMode
		data []byte
	}{
		{"ca.crt", 0o644, pemBlock("CERTIFICATE", caDER)},
		{"apiserver.crt", 0o644, pemBlock("CERTIFICATE", serverDER)},
		{"apiserver.key", 0o600, ecKeyPEM(serverKey)},
		{"kubelet.crt", 0o644, pemBlock("CERTIFICATE", kubeletDER)},
		{"kubelet.key", 0o600, ecKeyPEM(kubeletKey)},
		{"sa.key", 0o600, pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(saKey))},
		{"sa.pub", 0o644, pemBlock("PUBLIC KEY", saPub)},
		// The static token file: token,user,uid,"group".
		{"tokens.csv", 0o600, fmt.Appendf(nil, "%s,admin,admin,\"system:masters\"\n%s,%s,%s,\"system:masters\"\n",
			hex.EncodeToString(token), hex.EncodeToString(benchToken), countedUser, countedUser)},
		{"token", 0o600, []byte(hex.EncodeToString(token))},
		{"token-counted", 0o600, []byte(hex.EncodeToString(benchToken))},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

func ecKeyPEM(key *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		// A freshly generated P-256 key always marshals.
		panic(err)
	}
	return pemBlock("EC PRIVATE KEY", der)
}

package store

import (
	"testing"
	"time"

	"github.com/grantd/grantd/subjects"
)

func TestClientCerts(t *testing.T) {
	s := newStore(t)
	mustApply(t, s, user("alice"))
	cert := ClientCert{Serial: "01ab", Owner: subjects.MustParse("user:alice"), Label: "laptop", PublicKey: "fp",
		NotBefore: t0, NotAfter: t0.Add(time.Hour)}
	mustApply(t, s, IssueClientCert{Cert: cert})
	wantErr(t, s, IssueClientCert{Cert: cert}, ErrAlreadyExists)
	wantErr(t, s, IssueClientCert{Cert: ClientCert{Serial: "02", Owner: subjects.MustParse("user:nobody"), PublicKey: "fp",
		NotBefore: t0, NotAfter: t0.Add(time.Hour)}}, ErrNotFound)
	wantErr(t, s, IssueClientCert{Cert: ClientCert{Serial: "03", Owner: subjects.MustParse("team:acme/dev"), PublicKey: "fp",
		NotBefore: t0, NotAfter: t0.Add(time.Hour)}}, ErrInvalid)
	wantErr(t, s, IssueClientCert{Cert: ClientCert{Serial: "04", Owner: subjects.MustParse("user:alice"), PublicKey: "fp",
		NotBefore: t0, NotAfter: t0}}, ErrInvalid)
	mustApply(t, s, UpdateClientCert{Serial: "01ab", Label: "desktop"}, RevokeClientCert{Serial: "01ab"},
		RevokeClientCert{Serial: "01ab"})
	wantErr(t, s, RevokeClientCert{Serial: "ff"}, ErrNotFound)
	got, err := s.Read().ClientCert("01ab")
	if err != nil || got == nil || got.Label != "desktop" || !got.Revoked {
		t.Fatalf("cert after update and revoke = %+v, %v", got, err)
	}
	if all, _ := s.Read().ClientCerts(subjects.Subject{}); len(all) != 1 {
		t.Errorf("all certs = %d, want 1", len(all))
	}
	mustApply(t, s, DeleteUser{Name: "alice"})
	if mine, _ := s.Read().ClientCerts(subjects.MustParse("user:alice")); len(mine) != 0 {
		t.Errorf("certs of a deleted user left behind: %d", len(mine))
	}
}

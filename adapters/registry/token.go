package registry

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/grantd/grantd/internal/randid"
	"github.com/grantd/grantd/subjects"
)

// Identity is who asks for a token. Subject is "anonymous" for callers
// without credentials; Account is the name the token's sub claim carries.
type Identity struct {
	Subject subjects.Subject
	Account string
	IsAdmin bool
}

// Anonymous is the identity of a caller without credentials.
var Anonymous = Identity{Subject: subjects.AnonymousCaller}

// ErrBadCredentials is every authentication failure.
var ErrBadCredentials = errors.New("invalid username, password or token")

// ErrUnavailable is a failure to check credentials (a directory down).
var ErrUnavailable = errors.New("credentials cannot be checked now")

// ErrThrottled is a login refused because of too many recent failures;
// the caller should wait (429, like the login endpoint).
var ErrThrottled = errors.New("too many failed logins; try again later")

// Backend is what the token service asks grantd.
type Backend interface {
	// Authenticate checks a username with a password or an API token.
	Authenticate(ctx context.Context, username, secret string) (Identity, error)
	// Refresh re-checks the account a refresh token was issued to.
	Refresh(ctx context.Context, subject subjects.Subject) (Identity, error)
	// Allowed decides one operation on a repository <namespace>/<name>.
	Allowed(ctx context.Context, id Identity, operation, repository string) (bool, error)
	// CreateForPush creates a missing repository (private) when id may
	// create in its namespace, and does nothing otherwise.
	CreateForPush(ctx context.Context, id Identity, repository string) error
}

// Keys are the signing key and its certificate chain (leaf first).
type Keys struct {
	Key crypto.Signer
	// Algorithm is ES256 or RS256, matching Key.
	Algorithm jose.SignatureAlgorithm
	// Chain is the DER certificates: the key's own, then its issuers.
	Chain [][]byte
	// Roots verify refresh tokens (signed by any key of the same root).
	Roots *x509.CertPool
}

// Config is the token service's configuration.
type Config struct {
	// Issuer is the iss claim; registries trust it by name.
	Issuer string
	// Services are the service names accepted; empty accepts any.
	Services []string
	// Lifetime of access tokens; RefreshLifetime of refresh tokens.
	Lifetime        time.Duration
	RefreshLifetime time.Duration
}

// Service serves /auth/token.
type Service struct {
	cfg     Config
	backend Backend
	keys    func() (*Keys, error)
	log     *slog.Logger
	now     func() time.Time
}

// New returns a token service. keys is asked on every token, so that a
// rotated key is used at once.
func New(cfg Config, backend Backend, keys func() (*Keys, error), log *slog.Logger) *Service {
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = 5 * time.Minute
	}
	if cfg.RefreshLifetime <= 0 {
		cfg.RefreshLifetime = 30 * 24 * time.Hour
	}
	return &Service{cfg: cfg, backend: backend, keys: keys, log: log, now: time.Now}
}

// ClaimSet is the token's payload.
type ClaimSet struct {
	Issuer    string    `json:"iss"`
	Subject   string    `json:"sub"`
	Audience  string    `json:"aud"`
	Expiry    int64     `json:"exp"`
	NotBefore int64     `json:"nbf"`
	IssuedAt  int64     `json:"iat"`
	ID        string    `json:"jti"`
	Access    []*Access `json:"access"`
	// Refresh marks a refresh token, which no registry accepts as access.
	Refresh bool `json:"grantd_refresh,omitempty"`
}

// Access is one granted scope.
type Access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// request is a token request of either form.
type request struct {
	service, account string
	scopes           []string
	offline          bool
	grant            string // "", "password" or "refresh_token"
	username, secret string
	refresh          string
}

func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req request
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		req = request{service: q.Get("service"), account: q.Get("account"), scopes: q["scope"],
			offline: q.Get("offline_token") == "true"}
		if user, pass, ok := r.BasicAuth(); ok {
			req.grant, req.username, req.secret = "password", user, pass
		} else if r.Header.Get("Authorization") != "" {
			s.fail(w, http.StatusUnauthorized, "UNAUTHORIZED", "only Basic credentials are accepted here")
			return
		}
	case http.MethodPost:
		if err := r.ParseForm(); err != nil {
			s.fail(w, http.StatusBadRequest, "UNSUPPORTED", "malformed form")
			return
		}
		f := r.PostForm
		req = request{service: f.Get("service"), grant: f.Get("grant_type"), offline: f.Get("access_type") == "offline",
			username: f.Get("username"), secret: f.Get("password"), refresh: f.Get("refresh_token")}
		if sc := strings.TrimSpace(f.Get("scope")); sc != "" {
			req.scopes = strings.Fields(sc)
		}
		if req.grant != "password" && req.grant != "refresh_token" {
			s.fail(w, http.StatusBadRequest, "UNSUPPORTED", "grant_type must be password or refresh_token")
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		s.fail(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "GET or POST")
		return
	}
	s.issue(w, r, req)
}

func (s *Service) issue(w http.ResponseWriter, r *http.Request, req request) {
	ctx := r.Context()
	if req.service == "" || len(s.cfg.Services) > 0 && !slices.Contains(s.cfg.Services, req.service) {
		s.fail(w, http.StatusBadRequest, "INVALID_SERVICE", fmt.Sprintf("unknown service %q", req.service))
		return
	}
	keys, err := s.keys()
	if err != nil {
		s.log.ErrorContext(ctx, "registry token: signing keys", "err", err)
		s.fail(w, http.StatusServiceUnavailable, "UNAVAILABLE", "the token service is not ready")
		return
	}
	id := Anonymous
	switch req.grant {
	case "password":
		if req.username == "" || req.secret == "" {
			s.fail(w, http.StatusUnauthorized, "UNAUTHORIZED", ErrBadCredentials.Error())
			return
		}
		id, err = s.backend.Authenticate(ctx, req.username, req.secret)
	case "refresh_token":
		id, err = s.fromRefresh(ctx, keys, req)
	}
	switch {
	case errors.Is(err, ErrUnavailable):
		s.fail(w, http.StatusServiceUnavailable, "UNAVAILABLE", err.Error())
		return
	case errors.Is(err, ErrThrottled):
		s.fail(w, http.StatusTooManyRequests, "TOOMANYREQUESTS", err.Error())
		return
	case err != nil:
		s.fail(w, http.StatusUnauthorized, "UNAUTHORIZED", ErrBadCredentials.Error())
		return
	}
	access := s.grant(ctx, id, req.scopes)
	now := s.now()
	jti, err := randid.New()
	if err != nil {
		s.fail(w, http.StatusInternalServerError, "UNAVAILABLE", "no randomness")
		return
	}
	claims := ClaimSet{Issuer: s.cfg.Issuer, Subject: id.Account, Audience: req.service, IssuedAt: now.Unix(),
		NotBefore: now.Add(-time.Second).Unix(), Expiry: now.Add(s.cfg.Lifetime).Unix(), ID: jti, Access: access}
	token, err := sign(keys, claims)
	if err != nil {
		s.log.ErrorContext(ctx, "registry token: signing", "err", err)
		s.fail(w, http.StatusInternalServerError, "UNAVAILABLE", "signing failed")
		return
	}
	out := map[string]any{"token": token, "access_token": token, "expires_in": int(s.cfg.Lifetime.Seconds()),
		"issued_at": now.UTC().Format(time.RFC3339)}
	if r.Method == http.MethodPost {
		out["scope"] = strings.Join(req.scopes, " ")
	}
	if req.offline && id.Subject != Anonymous.Subject {
		refresh := ClaimSet{Issuer: s.cfg.Issuer, Subject: id.Subject.String(), Audience: req.service, IssuedAt: now.Unix(),
			NotBefore: now.Unix(), Expiry: now.Add(s.cfg.RefreshLifetime).Unix(), ID: "r" + jti, Refresh: true}
		if out["refresh_token"], err = sign(keys, refresh); err != nil {
			s.fail(w, http.StatusInternalServerError, "UNAVAILABLE", "signing failed")
			return
		}
	}
	s.log.InfoContext(ctx, "registry token", "subject", id.Subject, "service", req.service, "access", accessString(access))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(out)
}

// grant computes the access to give: per scope, the asked actions the
// caller holds. Asking for more than one holds is not an error.
func (s *Service) grant(ctx context.Context, id Identity, scopes []string) []*Access {
	access := []*Access{}
	for _, raw := range scopes {
		sc, err := ParseScope(raw)
		if err != nil {
			continue
		}
		switch sc.Type {
		case "registry":
			if sc.Name == "catalog" && id.IsAdmin && slices.Contains(sc.Actions, ActionAll) {
				access = append(access, &Access{Type: "registry", Name: "catalog", Actions: []string{ActionAll}})
			}
		case "repository":
			if actions := s.repositoryActions(ctx, id, sc); len(actions) > 0 {
				access = append(access, &Access{Type: "repository", Name: sc.Name, Actions: actions})
			}
		}
	}
	return access
}

// repositoryActions are the actions of sc the caller holds; a push to a
// repository that does not exist creates it when the caller may.
func (s *Service) repositoryActions(ctx context.Context, id Identity, sc Scope) []string {
	if _, _, ok := splitRepository(sc.Name); !ok {
		return nil
	}
	asked := sc.Actions
	if slices.Contains(asked, ActionAll) {
		asked = repositoryActions
	}
	if slices.Contains(asked, ActionPush) && id.Subject != Anonymous.Subject {
		if err := s.backend.CreateForPush(ctx, id, sc.Name); err != nil {
			s.log.WarnContext(ctx, "registry token: create on push", "repository", sc.Name, "err", err)
		}
	}
	var held []string
	for _, a := range asked {
		op, known := operationOf[a]
		if !known || slices.Contains(held, a) {
			continue
		}
		ok, err := s.backend.Allowed(ctx, id, op, sc.Name)
		if err != nil {
			s.log.WarnContext(ctx, "registry token: decision", "repository", sc.Name, "operation", op, "err", err)
			continue // fail closed: not granted
		}
		if ok {
			held = append(held, a)
		}
	}
	return held
}

// fromRefresh checks a refresh token: ours (chained to our root), for this
// service, not expired, and its account still active.
func (s *Service) fromRefresh(ctx context.Context, keys *Keys, req request) (Identity, error) {
	tok, err := jwt.ParseSigned(req.refresh, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil || len(tok.Headers) != 1 {
		return Identity{}, ErrBadCredentials
	}
	chains, err := tok.Headers[0].Certificates(x509.VerifyOptions{Roots: keys.Roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil || len(chains) == 0 {
		return Identity{}, ErrBadCredentials
	}
	var c ClaimSet
	if err := tok.Claims(chains[0][0].PublicKey, &c); err != nil {
		return Identity{}, ErrBadCredentials
	}
	now := s.now().Unix()
	if !c.Refresh || c.Issuer != s.cfg.Issuer || c.Audience != req.service || now >= c.Expiry || now < c.NotBefore-60 {
		return Identity{}, ErrBadCredentials
	}
	sub, err := subjects.ParseSubject(c.Subject)
	if err != nil || !sub.IsAccount() {
		return Identity{}, ErrBadCredentials
	}
	return s.backend.Refresh(ctx, sub)
}

// sign makes a JWS of claims with the chain in x5c.
func sign(keys *Keys, claims ClaimSet) (string, error) {
	x5c := make([]string, len(keys.Chain))
	for i, der := range keys.Chain {
		x5c[i] = base64.StdEncoding.EncodeToString(der)
	}
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("x5c", x5c)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: keys.Algorithm, Key: keys.Key}, opts)
	if err != nil {
		return "", err
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}

// fail answers an error in the registry's error format.
func (s *Service) fail(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="grantd"`)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": message}}})
}

func accessString(access []*Access) string {
	parts := make([]string, len(access))
	for i, a := range access {
		parts[i] = a.Type + ":" + a.Name + ":" + strings.Join(a.Actions, ",")
	}
	return strings.Join(parts, " ")
}

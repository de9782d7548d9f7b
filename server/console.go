package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"path"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grantd/grantd/authn"
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/ui"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

// The admin console: its assets at /ui/, and the browser's session. A
// browser holds its session token in an HttpOnly, Secure, SameSite=Strict
// cookie that scripts cannot read; on the public API the cookie stands in
// for the bearer token, and every state-changing call must carry the
// session's CSRF token in a header. The console reads and writes through
// the same REST API as every other client.

const (
	// consoleCookie is the session cookie; the __Host- prefix makes the
	// browser refuse it unless Secure, host-only and for path /.
	consoleCookie = "__Host-grantd-session"
	// consoleCookieInsecure is its name when TLS is off (--insecure): the
	// prefix needs Secure, which a plain-HTTP page cannot set.
	consoleCookieInsecure = "grantd-session"
	csrfHeader            = "X-CSRF-Token"
)

// consoleCSP allows the console's own files and nothing else: no inline
// script or style, no other origin, no framing.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func (s *Server) cookieName() string {
	if s.cfg.Insecure {
		return consoleCookieInsecure
	}
	return consoleCookie
}

// csrfToken is the CSRF token of a session: a hash of its token, which
// only a page that was given it (GET /ui/session answers same-origin
// scripts) can present, and which reveals nothing of the token.
func csrfToken(session string) string {
	h := sha256.Sum256([]byte("grantd-console-csrf\x00" + session))
	return hex.EncodeToString(h[:])
}

func (s *Server) consoleRoutes(mux *http.ServeMux) {
	assets := http.FileServerFS(ui.Assets())
	mux.Handle("GET /ui/", consoleHeaders(http.StripPrefix("/ui/", assets)))
	mux.Handle("GET /ui", http.RedirectHandler("/ui/", http.StatusMovedPermanently))
	mux.Handle("POST /ui/session", consoleHeaders(s.limitBody(withClientAddr(http.HandlerFunc(s.consoleLogin)))))
	mux.Handle("GET /ui/session", consoleHeaders(http.HandlerFunc(s.consoleSession)))
	mux.Handle("DELETE /ui/session", consoleHeaders(http.HandlerFunc(s.consoleLogout)))
}

// consoleHeaders sets the console's security headers.
func consoleHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", consoleCSP)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if p := path.Ext(r.URL.Path); p == "" || p == ".html" {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

type consoleAnswer struct {
	CSRFToken string `json:"csrfToken,omitempty"`
	Subject   string `json:"subject,omitempty"`
	IsAdmin   bool   `json:"isAdmin,omitempty"`
	Message   string `json:"message,omitempty"`
}

func writeConsole(w http.ResponseWriter, code int, a consoleAnswer) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(a)
}

// consoleLogin checks a username and password exactly as POST /auth/login
// does (local or directory, throttled alike) and opens a session held in
// the cookie.
func (s *Server) consoleLogin(w http.ResponseWriter, r *http.Request) {
	var in struct{ Username, Password string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeConsole(w, http.StatusBadRequest, consoleAnswer{Message: "send {\"username\": …, \"password\": …}"})
		return
	}
	resp, err := s.deps.authService().Login(withHTTPPeer(r.Context()), &v1.LoginRequest{Username: in.Username, Password: in.Password})
	if err != nil {
		code := http.StatusInternalServerError
		switch status.Code(err) {
		case codes.Unauthenticated:
			code = http.StatusUnauthorized
		case codes.ResourceExhausted:
			code = http.StatusTooManyRequests
		case codes.Unavailable:
			code = http.StatusServiceUnavailable
		}
		msg := status.Convert(err).Message()
		if code == http.StatusInternalServerError {
			s.log.Error("console login", "err", err)
			msg = "internal error"
		}
		writeConsole(w, code, consoleAnswer{Message: msg})
		return
	}
	token := resp.GetAuthToken()
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: token, Path: "/", HttpOnly: true,
		Secure: !s.cfg.Insecure, SameSite: http.SameSiteStrictMode})
	p, err := s.deps.principals.Bearer(s.store, token, s.now())
	if err != nil {
		writeConsole(w, http.StatusInternalServerError, consoleAnswer{Message: "the new session could not be read back"})
		return
	}
	writeConsole(w, http.StatusOK, consoleAnswer{CSRFToken: csrfToken(token), Subject: p.Subject().String(), IsAdmin: p.IsAdmin})
}

// consoleSession tells a page who its cookie's session is, with the CSRF
// token its calls need (after a reload, the page has only the cookie).
func (s *Server) consoleSession(w http.ResponseWriter, r *http.Request) {
	token, p, ok := s.cookieSession(r)
	if !ok {
		writeConsole(w, http.StatusUnauthorized, consoleAnswer{Message: "not logged in"})
		return
	}
	writeConsole(w, http.StatusOK, consoleAnswer{CSRFToken: csrfToken(token), Subject: p.Subject().String(), IsAdmin: p.IsAdmin})
}

// consoleLogout ends the cookie's session and clears the cookie.
func (s *Server) consoleLogout(w http.ResponseWriter, r *http.Request) {
	token, p, ok := s.cookieSession(r)
	if ok {
		if !validCSRF(r, token) {
			writeConsole(w, http.StatusForbidden, consoleAnswer{Message: "missing or wrong " + csrfHeader + " header"})
			return
		}
		if _, err := s.deps.writer.apply(withPrincipal(r.Context(), p), store.DeleteSession{ID: p.SessionID}); err != nil &&
			!errors.Is(err, store.ErrNotFound) {
			s.log.Error("console logout", "err", err)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: !s.cfg.Insecure, SameSite: http.SameSiteStrictMode})
	writeConsole(w, http.StatusOK, consoleAnswer{})
}

// cookieSession is the session of the request's console cookie.
func (s *Server) cookieSession(r *http.Request) (string, *Principal, bool) {
	c, err := r.Cookie(s.cookieName())
	if err != nil || c.Value == "" || !strings.HasPrefix(c.Value, authn.SessionTokenPrefix) {
		return "", nil, false
	}
	p, err := s.deps.principals.Bearer(s.store, c.Value, s.now())
	if err != nil || p.SessionID == "" {
		return "", nil, false
	}
	return c.Value, p, true
}

func validCSRF(r *http.Request, session string) bool {
	got := r.Header.Get(csrfHeader)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(csrfToken(session))) == 1
}

// withConsoleCookie lets the console's cookie stand in for the bearer
// token on the REST API (/v1/ only): a request without an Authorization header that
// carries the cookie is authenticated by it, and refused unless a
// state-changing method carries the session's CSRF token. Only session
// tokens ride in the cookie.
func (s *Server) withConsoleCookie(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(s.cookieName())
		if err != nil || r.Header.Get("Authorization") != "" || !strings.HasPrefix(r.URL.Path, "/v1/") {
			next.ServeHTTP(w, r)
			return
		}
		if !strings.HasPrefix(c.Value, authn.SessionTokenPrefix) {
			http.Error(w, "the console cookie holds no session\n", http.StatusUnauthorized)
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if !validCSRF(r, c.Value) {
				writeConsole(w, http.StatusForbidden, consoleAnswer{Message: "missing or wrong " + csrfHeader + " header"})
				return
			}
		}
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+c.Value)
		next.ServeHTTP(w, r)
	})
}

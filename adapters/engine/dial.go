package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
)

// engineHost is the Host of requests to the engine: they are dialled by
// endpoint, not by name.
const engineHost = "docker.engine"

// dialer connects to the first endpoint that answers.
func dialer(engines []string, tc *tls.Config) (func(ctx context.Context, _, _ string) (net.Conn, error), error) {
	type endpoint struct{ network, addr, host string }
	var eps []endpoint
	for _, e := range engines {
		u, err := url.Parse(e)
		if err != nil {
			return nil, fmt.Errorf("engine endpoint %q: %w", e, err)
		}
		switch u.Scheme {
		case "unix":
			eps = append(eps, endpoint{"unix", u.Path, ""})
		case "tcp", "http":
			eps = append(eps, endpoint{"tcp", u.Host, u.Hostname()})
		default:
			return nil, fmt.Errorf("engine endpoint %q: want unix:// or tcp://", e)
		}
	}
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		var errs []error
		for _, ep := range eps {
			var d net.Dialer
			conn, err := d.DialContext(ctx, ep.network, ep.addr)
			if err == nil && ep.network == "tcp" && tc != nil {
				c := tc.Clone()
				if c.ServerName == "" {
					c.ServerName = ep.host
				}
				tlsConn := tls.Client(conn, c)
				if err = tlsConn.HandshakeContext(ctx); err != nil {
					_ = conn.Close()
				} else {
					return tlsConn, nil
				}
			}
			if err == nil {
				return conn, nil
			}
			errs = append(errs, err)
		}
		return nil, errors.Join(errs...)
	}, nil
}

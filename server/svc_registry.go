package server

import (
	"context"
	"time"

	"github.com/grantd/grantd/pki"
	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

// registryService manages the registry token keys.
type registryService struct {
	v1.UnimplementedRegistryServiceServer
	*writer
	issuer, algorithm string
}

func (s *registryService) GetTokenSigning(context.Context, *v1.GetTokenSigningRequest) (*v1.TokenSigning, error) {
	return s.signing()
}

func (s *registryService) RotateTokenSigningKey(ctx context.Context, req *v1.RotateTokenSigningKeyRequest) (*v1.RotateTokenSigningKeyResponse, error) {
	alg := req.GetAlgorithm()
	if alg == "" {
		alg = s.algorithm
	}
	if alg != pki.AlgorithmES256 && alg != pki.AlgorithmRS256 {
		return nil, invalid("algorithm must be ES256 or RS256")
	}
	rev, err := pki.RotateTokenKey(ctx, s.store, alg, s.now(), principalFrom(ctx).Subject().String())
	if err != nil {
		return nil, err
	}
	out, err := s.signing()
	if err != nil {
		return nil, err
	}
	return &v1.RotateTokenSigningKeyResponse{Signing: out, Revision: rev}, nil
}

func (s *registryService) signing() (*v1.TokenSigning, error) {
	k, err := pki.TokenSigningOf(s.store)
	if err != nil {
		return nil, err
	}
	if k == nil {
		return nil, unavailable("the registry token keys are not created yet")
	}
	return &v1.TokenSigning{RootCertPem: k.RootPEM, SigningCertPem: k.SigningPEM, Algorithm: k.Algorithm,
		SigningNotAfter: k.SigningNotAfter.UTC().Format(time.RFC3339), Issuer: s.issuer}, nil
}
